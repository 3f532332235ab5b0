/*
 * A replay rig: one machine with the engine attached, rebuilt the way a
 * recorded run's was (devices, disks from disk_base, exit cost, policy,
 * triggers, initial modes), and a cursor that re-drives the run's event
 * stream through it: accesses through machine__access (the choke point),
 * halts through machine__halt, injections through machine__irq_ack, stores
 * the guest made to ringblk's mapped register page into that page, and the
 * guest memory devices read (dma rows) preloaded before the exit at which
 * they were read. Guest RAM holds nothing else: the CPU's own writes were
 * never recorded, and no device reads anything the dma rows do not cover.
 *
 * Three ways to compare, one per use:
 *  strict   every event the rig emits must equal the recorded event of the
 *           same seq, field by field (wall clock aside): the replay of a
 *           run of ours, which is deterministic;
 *  loose    what the guest observes must equal a reference (the recorded
 *           values, or a baseline replay's): read values, with the
 *           poll-aware guest model of guest.c, and injected vectors; the
 *           timer (PIT) line is replayed from the recording rather than
 *           produced, since a switch moves virtual time and the timer's
 *           phase against the guest's accesses is not the switch's doing;
 *  conform  as loose, but a different value is counted (a conformance
 *           report) instead of ending the replay: an imported peer VMM's
 *           trace, whose devices are another implementation.
 */
#ifndef DEVIRT_RIG_H
#define DEVIRT_RIG_H

#include <stddef.h>
#include <stdint.h>
#include "rtrace.h"
#include "../engine/engine.h"
#include "../machine/machine.h"

enum rig_mode { RM_STRICT, RM_LOOSE, RM_CONFORM };

#define RIG_MAX_TRIG 16
#define RIG_MAX_OPEN 1024

/* A switch to request right after a recorded access. */
struct rig_req {
	size_t at;                /* event index of the access */
	int action;               /* enum eng_action */
	char device[16];          /* engine name: ata, com1, ringblk, all */
};

/* One difference a conform replay found (or a loose one's divergence). */
struct rig_diff {
	size_t at;                /* event index */
	uint64_t want, got;       /* reference and replayed values */
};

/* Observation callback for baselines: the value read at event index i
 * (after inserted polls), and how many later recorded reads the guest
 * model skipped after it (fewer polls than recorded). */
typedef void rig_obs_fn(void *ctx, size_t i, uint64_t value, size_t skipped);

struct rig_cfg {
	int mode;                 /* enum rig_mode */
	int bug;                  /* enum eng_bug for the engine */
	const uint64_t *ref;      /* loose: reference read values by event index (NULL: recorded) */
	const uint32_t *ref_skip; /* loose: reads the reference's guest skipped after index i */
	rig_obs_fn *obs;          /* may be NULL */
	void *obs_ctx;
	machine_trace_fn *trace;  /* sees every event first (the trace writer), may be NULL */
	void *trace_ctx;
	eng_sink_fn *sink;        /* engine records, may be NULL */
	void *sink_ctx;
	int keep_disks;           /* journal disk writes (exhaustive baselines and probes) */
};

struct rig {
	struct machine m;
	struct engine *e;
	struct engine_cfg ecfg;
	struct eng_trigger trig[RIG_MAX_TRIG];
	int ntrig;
	struct rtrace *rt;
	const uint32_t *nx;       /* nx[i]: index of the first exit (access or halt) at or after i */
	struct rig_cfg cfg;
	uint8_t *ram;
	uint64_t ram_size;
	struct blk disk[2];       /* ata, ringblk */
	int bar_fixed;            /* the recorded run trapped ringblk's page for good (--ringblk-trap) */
	int bar_trapped;          /* ringblk's page is trapped now (accesses exit) */
	int mode;                 /* current comparison (strict turns loose at the first request) */
	size_t dc, pc, hc;        /* driving, preload and strict-compare cursors */
	int muted;                /* events are not compared (checkpoint restore) */
	/* requests */
	struct rig_req *req;      /* sorted by at */
	int nreq, next_req, capreq;
	size_t mq[16];            /* mapped stores written to the page, not yet noticed */
	int mqh, mqn;
	int paged;                /* the last mapped store went to the page */
	uint32_t open[RIG_MAX_OPEN]; /* dma rows preloaded early (early.c), not yet reached */
	int nopen;
	/* exhaustive probes: return after a lone switch */
	int ret_action;           /* -1 none; else the action that takes the device back */
	char ret_device[16];
	uint64_t dwell, dwell_left;
	int ret_state;            /* 0 waiting for the switch, 1 dwelling, 2 requested */
	/* outcome */
	int diverged;
	size_t div_at;            /* event index at which it showed */
	char div[320];
	uint64_t served, polls, halts, skipped, reordered, coalesced;
	uint32_t vecdev[256];     /* device (string id) whose line brought each vector, as recorded */
	struct rig_diff *diffs;   /* conform: differences found */
	size_t ndiffs, capdiffs;
	/* disk journal hook (ckpt.c) */
	void *journal;
};

/* Builds the rig for rt (machine, disks, engine). nx is the next-exit table
 * (rig__next_exits). Returns 0 or -errno with a reason in err. */
int rig__init(struct rig *g, struct rtrace *rt, const uint32_t *nx, const struct rig_cfg *cfg,
	      char *err, size_t errlen);

/* Adds the run's triggers and starts its initially virtualized devices
 * (their events are the stream's first): after rig__init and after
 * g->cfg.trace / g->cfg.sink are set, if they are to see them. Returns 0
 * or -errno with a reason in err. */
int rig__start(struct rig *g, char *err, size_t errlen);

/* Frees the rig. */
void rig__destroy(struct rig *g);

/* Returns a malloc'd table: for each event index i, the index of the first
 * access or halt at or after i (rt->n when none). NULL when out of memory. */
uint32_t *rig__next_exits(const struct rtrace *rt);

/* Adds a request (kept sorted by at). Returns 0 or -ENOMEM. */
int rig__add_request(struct rig *g, size_t at, int action, const char *device);

/* Drives recorded events until the cursor reaches `until` (an event
 * index), the stream ends or a divergence (loose/strict) is found.
 * Returns 0, or -1 when diverged. */
int rig__run(struct rig *g, size_t until);

/* After the stream: checks the end (strict: nothing left unmatched, the
 * same verdict). Returns 0 or -1 (diverged). */
int rig__finish(struct rig *g);

/* Returns 1 if event index i starts a step: an exit or mapped store that
 * follows the previous exit's consequences (a safe place to checkpoint). */
int rig__boundary(const struct rig *g, size_t i);

/* Parses a run's policy ("midseq=.. block=.. wait_bound_ns=..
 * pause_bound_ns=..", 0 = default) into ec's fields. */
void rig__parse_policy(const char *policy, struct engine_cfg *ec);

/* Returns the engine name of a recorded device name (uart -> com1). */
const char *rig__engine_device(const char *dev);

/* Records a divergence at event index at (the first one wins). */
void rig__diverge(struct rig *g, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* guest.c: serves recorded access i the way the guest would (page or
 * exit, poll-aware). Returns 0 or -1 (diverged). */
int guest__access(struct rig *g, size_t i);

/* guest.c: performs one access as the guest does it now (an exit, or a
 * load/store on ringblk's mapped page); returns the value read. */
uint64_t guest__do(struct rig *g, const struct rev *r, uint64_t value);

/* guest.c: a recorded store to ringblk's mapped page. Returns 0 or -1. */
int guest__mapped(struct rig *g, size_t i);

/* guest.c: a recorded halt. Returns 0 or -1. */
int guest__halt(struct rig *g, size_t i);

/* irq.c: a recorded interrupt injection. Returns 0 or -1. */
int guest__inject(struct rig *g, size_t i);

/* guest.c: returns how long the guest model waits for a device, in
 * virtual ns: past the engine's wait and pause bounds a switch has given
 * up anyway. */
uint64_t guest__wait_bound(const struct rig *g);

/* guest.c: lets virtual time pass with the guest halted, up to t or until
 * an interrupt is pending. Returns 1 if one is. */
int guest__idle_until(struct rig *g, uint64_t t, uint64_t rip);

/* guest.c: performs a read of ringblk register off as the guest would now
 * (page load or exit). */
uint64_t guest__rb_read(struct rig *g, unsigned off);

#endif
