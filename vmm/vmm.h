/*
 * "Create the VM, load the guest, run until it reports": one call, used by
 * `devirt run` and the integration tests. A session (vmm__open) keeps one
 * VM for many runs, each starting from a snapshot taken when it was
 * created: the campaign runner's fast path.
 */
#ifndef DEVIRT_VMM_H
#define DEVIRT_VMM_H

#include <stdint.h>
#include "../machine/machine.h"
#include "../traces/store.h"
#include "../engine/engine.h"

struct vmm_cfg {
	const char *image;        /* path of the Multiboot ELF */
	const char *args;         /* guest arguments ("key=value ..."), may be NULL */
	const char *kvm_dev;      /* NULL: /dev/kvm */
	uint64_t mem;             /* guest RAM bytes; 0: 64 MiB */
	uint64_t vtimeout_ns;     /* virtual-time bound; 0: none */
	uint64_t wtimeout_ns;     /* wall-time bound; 0: none */
	uint64_t exit_cost_ns;    /* virtual time per exit; 0: 1 us */
	int console_fd;           /* guest console output; -1 discards */
	const char *disk;         /* ATA image; NULL: an anonymous temporary image */
	uint64_t disk_size;       /* size when the image is created; 0: 16 MiB */
	const char *ringblk_disk; /* ringblk image; NULL: anonymous temporary */
	uint64_t ringblk_disk_size;
	int ringblk_trap;         /* 1: leave the BAR unmapped so every access exits */
	machine_trace_fn *trace;  /* sees every logged event; may be NULL */
	void *trace_ctx;
	const char *db;           /* trace database; NULL: no trace */
	const struct trace_run *run_info; /* what the run row records (with db) */
	const struct engine_cfg *engine;  /* NULL: no engine, devices stay pass-through */
	const struct eng_trigger *triggers; /* --switch */
	int ntriggers;
	const char *const *virtualized;   /* devices that start virtualized (--mode) */
	int nvirtualized;
	/* Sessions: disk and ringblk_disk are bases that runs never write; each
	 * run works on a private copy holding the base's content. */
	int private_disks;
	/* Called when the machine, engine and trace of a run exist, before the
	 * guest starts (campaign triggers, fault injection); non-zero ends the
	 * run with VMM_BAD_INPUT and the reason in err. engine and trace may be
	 * NULL. detach is called when the guest has stopped, before the trace
	 * is finished. Both may be NULL. */
	int (*attach)(void *ctx, struct machine *m, struct engine *e, struct trace *t, char *err, size_t errlen);
	void (*detach)(void *ctx);
	void *attach_ctx;
};

struct vmm_result {
	int state;                /* enum run_state */
	uint32_t exit_code;       /* value the guest wrote to the exit port */
	uint64_t exits;           /* exits to the monitor: port I/O, MMIO, HLT */
	uint64_t events;          /* logged events: exits, injections, line changes */
	uint64_t counts[EXIT_KINDS]; /* per enum exit_kind */
	uint64_t unhandled;
	uint64_t ringblk_exits;   /* MMIO exits on ringblk's register page */
	uint64_t vtime_ns, wall_ns;
	uint64_t kvm_ns;          /* wall time spent inside KVM_RUN (kernel + guest) */
	uint64_t wall0_ns;        /* with db: CLOCK_MONOTONIC of the trace's wall_ns 0 */
	int64_t run_id;           /* the run's id in db, 0 without db */
	uint64_t switches_done, switches_aborted, switches_pending;
	char err[256];            /* reason when the status is not VMM_RAN, or crash details */
};

enum vmm_status {
	VMM_RAN = 0,              /* the guest ran; see result.state */
	VMM_BAD_INPUT = 2,        /* unreadable or invalid image, bad config */
	VMM_NO_ENV = 3,           /* no usable KVM */
	VMM_TRACE_FAILED = 4,     /* the guest ran but its trace could not be written */
};

/* Runs the guest to completion. Returns an enum vmm_status. */
int vmm__run(const struct vmm_cfg *cfg, struct vmm_result *res);

struct vmm;

/* Opens a session: the disks, the VM and the platform from cfg's machine
 * fields (kvm_dev, mem, exit_cost_ns, vtimeout_ns, console_fd, disks,
 * ringblk_trap, private_disks, image for its hash), then snapshots them.
 * Returns an enum vmm_status with the reason in res->err; *vp is NULL on
 * failure. */
int vmm__open(struct vmm **vp, const struct vmm_cfg *cfg, struct vmm_result *res);

/* Runs the guest once with cfg's run fields (image, args, wtimeout_ns,
 * trace hook, db, run_info, engine, triggers, virtualized, attach),
 * resetting the session to its snapshot first (memory, vCPU, devices,
 * clock, disks) if it has run before. Returns an enum vmm_status. */
int vmm__run_once(struct vmm *v, const struct vmm_cfg *cfg, struct vmm_result *res);

/* Resets the session to its snapshot now if it has run since (run_once
 * does it otherwise). Returns an enum vmm_status. */
int vmm__reset(struct vmm *v, struct vmm_result *res);

/* Closes a session (NULL is fine). */
void vmm__close(struct vmm *v);

#endif
