/*
 * The kernel-side observer: loads kexit.bpf.c (CO-RE, libbpf skeleton),
 * attaches it to KVM's tracepoints for one process, and collects what the
 * kernel saw of that process's exits while it runs, independently of the
 * monitor's own log (I8). The rows are stored in the kexit table.
 */
#ifndef DEVIRT_OBSERVER_H
#define DEVIRT_OBSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sqlite3.h>

enum krow_kind { KR_EXIT, KR_ENTRY, KR_PIO, KR_MMIO, KR_MMIO_PENDING, KR_UEXIT };

/* One kexit row: an event, or one element of a string port access. */
struct krow {
	uint64_t ktime_ns;
	uint64_t addr, value;
	uint32_t tid;
	uint32_t code;       /* KR_EXIT: exit reason; KR_UEXIT: KVM_EXIT_* (or errno < 0) */
	int32_t err;         /* KR_UEXIT: negative errno of the ioctl, 0 none */
	uint8_t kind;        /* enum krow_kind */
	uint8_t size;
	char dir;            /* 'r', 'w' or 0 */
	int8_t user;         /* I/O rows: 1 reached userspace, 0 handled in the kernel */
};

struct kobs;

/* Loads and attaches the observer for process tgid and starts draining its
 * ring buffer on a thread. Mounts tracefs at /sys/kernel/tracing if it is
 * not mounted. Returns 0, or -errno with a one-line reason in err:
 * -EPERM without the privilege to load BPF, -ENOSYS without BPF, BTF or
 * KVM's tracepoints (both: an environment problem, exit 3). */
int kobs__start(struct kobs **o, pid_t tgid, char *err, size_t errlen);

/* Detaches, drains what is left, and stops the thread. Idempotent. */
void kobs__stop(struct kobs *o);

/* Moves what the ring buffer holds into the rows now: once a run's
 * KVM_RUN has returned, all of its events are then rows (the programs
 * submit on the vCPU thread, before the ioctl returns). */
void kobs__flush(struct kobs *o);

/* Forgets the rows and restarts the event counters: the next rows belong
 * to the next run (campaigns observe one process over many runs). */
void kobs__clear(struct kobs *o);

/* The rows collected so far (valid until kobs__free); *n gets their count. */
const struct krow *kobs__rows(const struct kobs *o, size_t *n);

/* The pio and mmio rows that reached the monitor (the accesses it should
 * have logged). */
uint64_t kobs__io(const struct kobs *o);

/* Tracepoint hits of the process, and those lost to a full ring buffer,
 * since the start or the last kobs__clear. */
uint64_t kobs__events(const struct kobs *o);
uint64_t kobs__lost(const struct kobs *o);

/* CLOCK_MONOTONIC when observation started and stopped. */
uint64_t kobs__start_ns(const struct kobs *o);
uint64_t kobs__end_ns(const struct kobs *o);

/* Stores the rows as run's kexit rows and its observer row, in one
 * transaction; wall0_ns (non-zero) is the CLOCK_MONOTONIC time of the
 * run's wall_ns 0, to put kexit.wall_ns on the run's clock. target names
 * what was traced. Returns 0 or -errno with "database: reason" in err. */
int kobs__store(const struct kobs *o, sqlite3 *db, int64_t run, uint64_t wall0_ns, const char *target,
		char *err, size_t errlen);

/* Stops (if needed) and frees (NULL is fine). */
void kobs__free(struct kobs *o);

/* Name of a KVM_EXIT_* code ("KVM_EXIT_IO"), or NULL when unknown. */
const char *kobs__exit_name(uint32_t code);

#endif
