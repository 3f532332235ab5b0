// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel-side observer of one process's KVM exits: CO-RE, attached to the
 * kvm tracepoints, filtered in the kernel by the traced process (tgid), and
 * streamed to userspace through a ring buffer (struct kev, kexit.h).
 *
 * kvm_exit and kvm_entry are plain tracepoints (their computed fields are
 * what we want); kvm_pio, kvm_mmio and kvm_userspace_exit are BTF-typed
 * (tp_btf), so that the data pointer of string port I/O and the MMIO value
 * can be read, not only the first element the plain tracepoint keeps.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kexit.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before the program is loaded. */
const volatile __u32 target_tgid = 0;

/* Events that found the ring buffer full: the recording is then incomplete. */
__u64 lost = 0;
__u64 seen = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20);
} events SEC(".maps");

/* Wakes the consumer only once this much is waiting: a wakeup per event
 * would put the consumer thread into every exit path (it doubled the
 * cost of an exit here); it polls on a timer anyway. */
#define WAKEUP_BYTES (256 << 10)

/* Flags for submitting a record: no wakeup until enough is waiting. */
static __always_inline __u64 wakeup(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Returns whether the current task belongs to the traced process. */
static __always_inline int traced(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/* String port I/O is assembled here and copied into the ring with its
 * length (bpf_ringbuf_output): reserving takes only constant sizes, and a
 * page per event would starve the ring. */
struct big_kev {
	unsigned char buf[sizeof(struct kev) + KEV_MAX_DATA];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct big_kev);
} scratch SEC(".maps");

/* Copies a value of up to 8 bytes from kernel memory; userspace keeps the
 * access's size. Reads 8 bytes (the verifier wants a constant size, and
 * clang folds a switch of constant sizes back into a variable one), then
 * fewer when the value sits at the end of a mapping. */
static __always_inline void read_val(__u64 *dst, const void *src)
{
	if (bpf_probe_read_kernel(dst, 8, src) && bpf_probe_read_kernel(dst, 4, src) &&
	    bpf_probe_read_kernel(dst, 2, src))
		bpf_probe_read_kernel(dst, 1, src);
}

/* Fills the common fields of a record of kind. */
static __always_inline void init(struct kev *e, unsigned int kind)
{
	e->ktime = bpf_ktime_get_ns();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->kind = kind;
	e->addr = e->val = 0;
	e->a = e->b = e->count = e->dlen = 0;
}

/* Reserves a fixed-size record of kind. Returns NULL when the ring is full
 * (counted in lost). */
static __always_inline struct kev *reserve(unsigned int kind)
{
	__sync_fetch_and_add(&seen, 1);
	struct kev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return NULL;
	}
	init(e, kind);
	return e;
}

SEC("tracepoint/kvm/kvm_exit")
int on_exit(struct trace_event_raw_kvm_exit *ctx)
{
	if (!traced())
		return 0;
	struct kev *e = reserve(KEV_EXIT);
	if (!e)
		return 0;
	e->a = ctx->exit_reason;
	e->b = ctx->isa;
	e->addr = ctx->guest_rip;
	e->val = ctx->info1;
	bpf_ringbuf_submit(e, wakeup());
	return 0;
}

SEC("tracepoint/kvm/kvm_entry")
int on_entry(struct trace_event_raw_kvm_entry *ctx)
{
	if (!traced())
		return 0;
	struct kev *e = reserve(KEV_ENTRY);
	if (!e)
		return 0;
	e->a = ctx->vcpu_id;
	e->addr = ctx->rip;
	bpf_ringbuf_submit(e, wakeup());
	return 0;
}

/* A string access (rep ins/outs): its data, up to a page, follows. */
static __always_inline void pio_string(unsigned int rw, unsigned int port, unsigned int size, unsigned int count,
				       const void *data)
{
	__u32 zero = 0;
	struct big_kev *b = bpf_map_lookup_elem(&scratch, &zero);
	__sync_fetch_and_add(&seen, 1);
	if (!b)
		return;
	struct kev *e = (struct kev *)b->buf;
	init(e, KEV_PIO);
	e->a = rw;
	e->b = size;
	e->count = count;
	e->addr = port;
	__u64 bytes = (__u64)size * count;
	if (bytes > KEV_MAX_DATA)
		bytes = KEV_MAX_DATA;
	bytes &= 2 * KEV_MAX_DATA - 1;
	if (bytes == 0)
		return;
	e->dlen = bytes;
	bpf_probe_read_kernel(b->buf + sizeof(struct kev), bytes, data);
	if (bpf_ringbuf_output(&events, b, sizeof(struct kev) + bytes, wakeup()))
		__sync_fetch_and_add(&lost, 1);
}

SEC("tp_btf/kvm_pio")
int BPF_PROG(on_pio, unsigned int rw, unsigned int port, unsigned int size, unsigned int count, const void *data)
{
	if (!traced())
		return 0;
	if (count > 1) {
		pio_string(rw, port, size, count, data);
		return 0;
	}
	struct kev *e = reserve(KEV_PIO);
	if (!e)
		return 0;
	e->a = rw;
	e->b = size;
	e->count = count;
	e->addr = port;
	read_val(&e->val, data);
	bpf_ringbuf_submit(e, wakeup());
	return 0;
}

SEC("tp_btf/kvm_mmio")
int BPF_PROG(on_mmio, int type, int len, u64 gpa, void *val)
{
	if (!traced())
		return 0;
	struct kev *e = reserve(KEV_MMIO);
	if (!e)
		return 0;
	e->a = type;
	e->b = len;
	e->addr = gpa;
	if (val)
		read_val(&e->val, val);
	bpf_ringbuf_submit(e, wakeup());
	return 0;
}

SEC("tp_btf/kvm_userspace_exit")
int BPF_PROG(on_uexit, __u32 reason, int errno)
{
	if (!traced())
		return 0;
	struct kev *e = reserve(KEV_UEXIT);
	if (!e)
		return 0;
	e->a = reason;
	e->b = (unsigned int)errno;
	bpf_ringbuf_submit(e, wakeup());
	return 0;
}
