/*
 * The record the kernel-side observer (kexit.bpf.c) streams to userspace
 * through its BPF ring buffer: one per KVM tracepoint hit by the traced
 * process. Shared by the BPF program and bpf/observer.c, so plain types
 * only.
 */
#ifndef DEVIRT_KEXIT_H
#define DEVIRT_KEXIT_H

enum kev_kind {
	KEV_EXIT = 1,   /* kvm_exit: a = exit reason, b = isa, addr = guest RIP, val = info1 */
	KEV_ENTRY,      /* kvm_entry: a = vCPU id, addr = guest RIP */
	KEV_PIO,        /* kvm_pio: a = 1 write / 0 read, b = size, count, addr = port, val = first value */
	KEV_MMIO,       /* kvm_mmio: a = 0 unsatisfied read / 1 read / 2 write, b = len, addr = gpa, val */
	KEV_UEXIT,      /* kvm_userspace_exit: a = KVM_EXIT_* reason, b = errno (negative: none) */
};

/* String port I/O (rep ins/outs) carries up to this many bytes of data:
 * KVM's pio_data is one page. */
#define KEV_MAX_DATA 4096

struct kev {
	unsigned long long ktime;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	unsigned long long addr;
	unsigned long long val;
	unsigned int kind;          /* enum kev_kind */
	unsigned int tid;           /* the vCPU thread */
	unsigned int a, b;
	unsigned int count;         /* KEV_PIO: elements (rep prefix) */
	unsigned int dlen;          /* bytes of data[] that follow (count > 1) */
	unsigned char data[];
};

#endif
