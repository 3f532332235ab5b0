/*
 * Snapshots of a VM for the campaign runner: the state the session had
 * when it was opened, restored before every run so that a run on a reused
 * VM starts exactly where a run on a new VM would.
 *
 * Guest RAM: only resident pages can differ from the snapshot (RAM is
 * anonymous memory without swap here; a page nobody wrote since the
 * snapshot is either still the snapshot's or was never faulted in), so
 * mincore() gives the candidates and each is compared and copied back
 * (or zeroed). That catches writes by the guest, by device DMA and by the
 * monitor alike, which KVM's dirty log would not (it sees guest writes only).
 * The memory slot is then deleted and re-added: KVM drops every mapping and
 * shadow page of the last run, so no translation of it survives the reset.
 *
 * vCPU: before anything is read or written, KVM_RUN with immediate_exit
 * completes an exit still in progress (KVM finishes an emulated I/O
 * instruction on the next KVM_RUN and would otherwise overwrite the
 * restored registers), then registers, FPU/XSAVE, XCRs, MSRs, pending
 * events and debug registers are set back.
 *
 * Machine and devices: the struct machine (bus handlers, line routing,
 * hooks, ticks, counters) is copied back whole; the clock restarts from the
 * snapshot's time and the devices' hw_ops restore re-arm their own timers.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

#define PAGE 4096u

struct snapshot {
	/* RAM: the non-zero pages at snapshot time */
	uint64_t npages;
	uint32_t *slot_of;          /* page -> index into data + 1, 0: a zero page */
	uint8_t *data;
	uint8_t *resident;          /* mincore vector */
	/* vCPU */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave *xsave;    /* NULL: no XSAVE */
	size_t xsave_size;
	struct kvm_xcrs xcrs;
	int has_xcrs;
	struct kvm_vcpu_events events;
	int has_events;
	struct kvm_debugregs dregs;
	int has_dregs;
	struct kvm_msrs *msrs;
	/* machine and devices */
	struct machine m;
	void *dev_state[MACHINE_MAX_DEVS];
	size_t dev_len[MACHINE_MAX_DEVS];
};

/* Formats "what: strerror(errno)" into err. Returns -errno. */
static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno ? errno : EIO;
	snprintf(err, errlen, "snapshot: %s: %s", what, strerror(e));
	return -e;
}

/* Returns 1 if the page at p holds only zeros. */
static int zero_page(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (unsigned i = 0; i < PAGE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* Saves RAM's non-zero pages. Returns 0 or -errno. */
static int take_ram(struct snapshot *s, struct vm *vm, char *err, size_t errlen)
{
	s->npages = vm->ram_size / PAGE;
	s->slot_of = calloc(s->npages, sizeof(*s->slot_of));
	s->resident = malloc(s->npages);
	if (!s->slot_of || !s->resident)
		return errno = ENOMEM, fail(err, errlen, "RAM bookkeeping");
	if (mincore(vm->ram, vm->ram_size, s->resident) < 0)
		return fail(err, errlen, "mincore");
	uint64_t n = 0;
	for (uint64_t p = 0; p < s->npages; p++)
		if ((s->resident[p] & 1) && !zero_page(vm->ram + p * PAGE))
			s->slot_of[p] = (uint32_t)++n;
	s->data = malloc(n ? n * PAGE : 1);
	if (!s->data)
		return errno = ENOMEM, fail(err, errlen, "RAM copy");
	for (uint64_t p = 0; p < s->npages; p++)
		if (s->slot_of[p])
			memcpy(s->data + (uint64_t)(s->slot_of[p] - 1) * PAGE, vm->ram + p * PAGE, PAGE);
	return 0;
}

/* Reads the MSRs KVM can save into s->msrs. Returns 0 or -errno. */
static int take_msrs(struct snapshot *s, struct vm *vm, char *err, size_t errlen)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return fail(err, errlen, "KVM_GET_MSR_INDEX_LIST");
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	s->msrs = calloc(1, sizeof(*s->msrs) + probe.nmsrs * sizeof(struct kvm_msr_entry));
	if (!list || !s->msrs) {
		free(list);
		return errno = ENOMEM, fail(err, errlen, "MSR list");
	}
	list->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return fail(err, errlen, "KVM_GET_MSR_INDEX_LIST");
	}
	/* One by one: KVM stops a batch at the first MSR this vCPU lacks; an
	 * MSR is kept only if writing its value back works too, so that the
	 * restore's single batch cannot stop short. */
	uint32_t n = 0;
	for (uint32_t i = 0; i < list->nmsrs; i++) {
		struct { struct kvm_msrs h; struct kvm_msr_entry e; } one = {
			.h.nmsrs = 1, .e.index = list->indices[i] };
		if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, &one) == 1 && ioctl(vm->vcpu_fd, KVM_SET_MSRS, &one) == 1)
			s->msrs->entries[n++] = one.e;
	}
	s->msrs->nmsrs = n;
	free(list);
	return 0;
}

/* Saves the vCPU. Returns 0 or -errno. */
static int take_vcpu(struct snapshot *s, struct vm *vm, char *err, size_t errlen)
{
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &s->regs) < 0)
		return fail(err, errlen, "KVM_GET_REGS");
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s->sregs) < 0)
		return fail(err, errlen, "KVM_GET_SREGS");
	if (ioctl(vm->vcpu_fd, KVM_GET_FPU, &s->fpu) < 0)
		return fail(err, errlen, "KVM_GET_FPU");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
		int size = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		s->xsave_size = size > (int)sizeof(struct kvm_xsave) ? (size_t)size : sizeof(struct kvm_xsave);
		s->xsave = calloc(1, s->xsave_size);
		if (!s->xsave)
			return errno = ENOMEM, fail(err, errlen, "XSAVE area");
		unsigned long req = size > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
		if (ioctl(vm->vcpu_fd, req, s->xsave) < 0)
			return fail(err, errlen, "KVM_GET_XSAVE");
	}
	s->has_xcrs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	if (s->has_xcrs && ioctl(vm->vcpu_fd, KVM_GET_XCRS, &s->xcrs) < 0)
		return fail(err, errlen, "KVM_GET_XCRS");
	s->has_events = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_EVENTS) > 0;
	if (s->has_events && ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return fail(err, errlen, "KVM_GET_VCPU_EVENTS");
	s->has_dregs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0;
	if (s->has_dregs && ioctl(vm->vcpu_fd, KVM_GET_DEBUGREGS, &s->dregs) < 0)
		return fail(err, errlen, "KVM_GET_DEBUGREGS");
	return take_msrs(s, vm, err, errlen);
}

/* Saves every device's state. Returns 0 or -errno. */
static int take_devices(struct snapshot *s, struct machine *m, char *err, size_t errlen)
{
	for (int i = 0; i < m->ndevs; i++) {
		struct hw *hw = m->devs[i];
		if (!hw->ops->save)
			continue;
		size_t len = hw->ops->save(hw, NULL, 0);
		s->dev_state[i] = malloc(len ? len : 1);
		if (!s->dev_state[i])
			return errno = ENOMEM, fail(err, errlen, "device state");
		s->dev_len[i] = hw->ops->save(hw, s->dev_state[i], len);
		if (s->dev_len[i] != len) {
			snprintf(err, errlen, "snapshot: device %s saved %zu bytes, asked for %zu", hw->name,
				 s->dev_len[i], len);
			return -EIO;
		}
	}
	return 0;
}

int snapshot__take(struct snapshot **sp, struct vm *vm, struct machine *m, char *err, size_t errlen)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	*sp = NULL;
	if (!s)
		return errno = ENOMEM, fail(err, errlen, "snapshot");
	int rc = take_ram(s, vm, err, errlen);
	if (!rc)
		rc = take_vcpu(s, vm, err, errlen);
	if (!rc)
		rc = take_devices(s, m, err, errlen);
	if (rc) {
		snapshot__free(s);
		return rc;
	}
	s->m = *m;
	*sp = s;
	return 0;
}

/* Lets KVM finish an exit in progress without entering the guest. */
static int complete_exit(struct vm *vm, char *err, size_t errlen)
{
	vm->run->immediate_exit = 1;
	int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
	vm->run->immediate_exit = 0;
	if (rc < 0 && errno != EINTR)
		return fail(err, errlen, "KVM_RUN (completing the last exit)");
	return 0;
}

/* Restores the vCPU. Returns 0 or -errno. */
static int restore_vcpu(struct snapshot *s, struct vm *vm, char *err, size_t errlen)
{
	int rc = complete_exit(vm, err, errlen);
	if (rc)
		return rc;
	vm->run->kvm_dirty_regs = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &s->regs) < 0)
		return fail(err, errlen, "KVM_SET_REGS");
	if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &s->fpu) < 0)
		return fail(err, errlen, "KVM_SET_FPU");
	if (s->xsave && ioctl(vm->vcpu_fd, KVM_SET_XSAVE, s->xsave) < 0)
		return fail(err, errlen, "KVM_SET_XSAVE");
	if (s->has_xcrs && ioctl(vm->vcpu_fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return fail(err, errlen, "KVM_SET_XCRS");
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s->sregs) < 0)
		return fail(err, errlen, "KVM_SET_SREGS");
	if (s->msrs->nmsrs && ioctl(vm->vcpu_fd, KVM_SET_MSRS, s->msrs) != (int)s->msrs->nmsrs)
		return fail(err, errlen, "KVM_SET_MSRS");
	if (s->has_events && ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		return fail(err, errlen, "KVM_SET_VCPU_EVENTS");
	if (s->has_dregs && ioctl(vm->vcpu_fd, KVM_SET_DEBUGREGS, &s->dregs) < 0)
		return fail(err, errlen, "KVM_SET_DEBUGREGS");
	return 0;
}

/* Puts RAM back and re-creates its slot. Returns 0 or -errno. */
static int restore_ram(struct snapshot *s, struct vm *vm, char *err, size_t errlen)
{
	if (mincore(vm->ram, vm->ram_size, s->resident) < 0)
		return fail(err, errlen, "mincore");
	for (uint64_t p = 0; p < s->npages; p++) {
		uint8_t *page = vm->ram + p * PAGE;
		if (s->slot_of[p]) {
			const uint8_t *saved = s->data + (uint64_t)(s->slot_of[p] - 1) * PAGE;
			if ((s->resident[p] & 1) && memcmp(page, saved, PAGE))
				memcpy(page, saved, PAGE);
			else if (!(s->resident[p] & 1))
				memcpy(page, saved, PAGE);  /* cannot happen without swap; cheap to be sure */
		} else if ((s->resident[p] & 1) && !zero_page(page)) {
			memset(page, 0, PAGE);
		}
	}
	int rc = vm__set_slot(vm, 0, 0, 0, vm->ram);
	if (!rc)
		rc = vm__set_slot(vm, 0, 0, vm->ram_size, vm->ram);
	if (rc) {
		errno = -rc;
		return fail(err, errlen, "re-creating the RAM slot");
	}
	return 0;
}

/* Puts the machine and its devices back. Returns 0 or -errno. */
static int restore_machine(struct snapshot *s, struct machine *m, char *err, size_t errlen)
{
	*m = s->m;
	/* The snapshot's event list points at timers whose owners have moved
	 * on; the devices re-arm theirs from their saved state. */
	m->clock.nev = 0;
	for (int i = 0; i < m->ndevs; i++) {
		struct hw *hw = m->devs[i];
		if (!s->dev_state[i])
			continue;
		if (hw->ops->restore(hw, s->dev_state[i], s->dev_len[i])) {
			snprintf(err, errlen, "snapshot: device %s refused its saved state", hw->name);
			return -EINVAL;
		}
	}
	return 0;
}

int snapshot__restore(struct snapshot *s, struct vm *vm, struct machine *m, char *err, size_t errlen)
{
	int rc = restore_vcpu(s, vm, err, errlen);
	if (!rc)
		rc = restore_ram(s, vm, err, errlen);
	if (!rc)
		rc = restore_machine(s, m, err, errlen);
	return rc;
}

void snapshot__free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->slot_of);
	free(s->data);
	free(s->resident);
	free(s->xsave);
	free(s->msrs);
	for (int i = 0; i < MACHINE_MAX_DEVS; i++)
		free(s->dev_state[i]);
	free(s);
}
