/*
 * "Create the VM, load the guest, run until it reports": one call, used by
 * `devirt run`, the campaign runner and the integration tests alike.
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

#endif
