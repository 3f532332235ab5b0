/*
 * VM and vCPU creation and the Multiboot entry state. The vCPU gets the
 * host-supported CPUID (the guest enables long mode itself, which KVM allows
 * only when CPUID says so) and register sync (KVM_CAP_SYNC_REGS), so reading
 * RIP at every exit costs no extra ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "vm.h"

#define TSS_ADDR 0xfffbd000u   /* three pages KVM needs on Intel, out of RAM's way */

static int set_err(char *err, size_t errlen, const char *what)
{
	int e = errno;
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

/* Gives the vCPU every CPUID leaf KVM supports. Returns 0 or -errno. */
static int setup_cpuid(struct vm *vm)
{
	int n = 128;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = (uint32_t)n;
	int rc = ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
	if (rc == 0)
		rc = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c);
	rc = rc < 0 ? -errno : 0;
	free(c);
	return rc;
}

int vm__open(struct vm *vm, const char *dev, uint64_t ram_size, char *err, size_t errlen)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
	vm->kvm_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return set_err(err, errlen, dev);
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		snprintf(err, errlen, "%s: not a KVM device (API version mismatch)", dev);
		return -ENODEV;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) {
		snprintf(err, errlen, "%s: KVM lacks KVM_CAP_SYNC_REGS", dev);
		return -ENODEV;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return set_err(err, errlen, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, TSS_ADDR) < 0)
		return set_err(err, errlen, "KVM_SET_TSS_ADDR");

	vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return set_err(err, errlen, "mmap guest RAM");
	}
	vm->ram_size = ram_size;
	int rc = vm__set_slot(vm, 0, 0, ram_size, vm->ram);
	if (rc) {
		errno = -rc;
		return set_err(err, errlen, "KVM_SET_USER_MEMORY_REGION");
	}

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return set_err(err, errlen, "KVM_CREATE_VCPU");
	int sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return set_err(err, errlen, "KVM_GET_VCPU_MMAP_SIZE");
	vm->run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return set_err(err, errlen, "mmap kvm_run");
	}
	vm->run_size = (size_t)sz;
	rc = setup_cpuid(vm);
	if (rc) {
		errno = -rc;
		return set_err(err, errlen, "KVM_SET_CPUID2");
	}
	return 0;
}

void vm__close(struct vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

int vm__set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

/* A flat 4 GiB segment as the Multiboot spec requires. */
static struct kvm_segment flat(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
}

int vm__reset_cpu(struct vm *vm, uint32_t entry, uint32_t magic, uint32_t info)
{
	struct kvm_sregs s;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = flat(0x08, 0xb);         /* execute/read, accessed */
	s.ds = s.es = s.fs = s.gs = s.ss = flat(0x10, 0x3);  /* read/write, accessed */
	s.cr0 = 0x11;                   /* PE, ET; paging off */
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	struct kvm_regs r = { 0 };
	r.rip = entry;
	r.rax = magic;
	r.rbx = info;
	r.rflags = 0x2;                 /* IF clear */
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	return 0;
}

void vm__dump_regs(struct vm *vm)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "devirt: cannot read registers: %s\n", strerror(errno));
		return;
	}
	fprintf(stderr,
		"  rip=%016llx rsp=%016llx rflags=%08llx\n"
		"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		"  rsi=%016llx rdi=%016llx rbp=%016llx\n"
		"  cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx cs=%04x\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector);
}
