/*
 * The KVM side of the monitor: /dev/kvm, the VM, its memory slots and the
 * one vCPU. This and the other vmm/ files are the only code that includes
 * <linux/kvm.h>; everything above talks to struct vm.
 */
#ifndef DEVIRT_VM_H
#define DEVIRT_VM_H

#include <stddef.h>
#include <stdint.h>

struct kvm_run;

struct vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *ram;
	uint64_t ram_size;
};

/* Opens dev (normally /dev/kvm), creates a VM with ram_size bytes of RAM in
 * slot 0 and one vCPU. Returns 0, or -errno with a reason in err. */
int vm__open(struct vm *vm, const char *dev, uint64_t ram_size, char *err, size_t errlen);

/* Releases everything vm__open made. Safe on a partly opened vm. */
void vm__close(struct vm *vm);

/* Maps host memory at gpa in the given slot (size 0 deletes the slot).
 * Returns 0 or -errno. */
int vm__set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host);

/* Puts the vCPU in the Multiboot entry state: 32-bit flat protected mode,
 * paging off, EAX = magic, EBX = info, EIP = entry. Returns 0 or -errno. */
int vm__reset_cpu(struct vm *vm, uint32_t entry, uint32_t magic, uint32_t info);

/* Prints the vCPU's registers to stderr (after a crash). */
void vm__dump_regs(struct vm *vm);

#endif
