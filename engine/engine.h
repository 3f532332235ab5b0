/*
 * The virtualize/devirtualize engine (DESIGN V1-V6, D1-D7). It attaches to
 * a machine, owns one module (edev.h) per switchable device, and moves each
 * device between pass-through and emulation on request: by swapping the
 * device's bus handler (port I/O) or asking the monitor to unmap/map its
 * register slot (MMIO), and by routing its interrupt line to itself. Every
 * step, pause and deferred access is reported to a sink (the trace store);
 * every access it serves is annotated with path, state and mode.
 * KVM-free: the monitor, the replayer and the tests all drive it.
 */
#ifndef DEVIRT_ENGINE_H
#define DEVIRT_ENGINE_H

#include <stdint.h>
#include "edev.h"
#include "../machine/machine.h"

enum eng_action { EA_VIRTUALIZE, EA_DEVIRTUALIZE, EA_ROUNDTRIP };
enum eng_midseq { MIDSEQ_WAIT, MIDSEQ_TAKEOVER };

/* Where a device is. */
enum eng_state {
	ES_PASSTHROUGH,   /* direct; no engine involvement */
	ES_TRACKING,      /* V1-V4: trapped, forwarded, tracked */
	ES_CAPTURE,       /* V5-V6 in progress */
	ES_VIRTUALIZED,   /* emulated; the monitor's driver owns the hardware */
	ES_QUIESCING,     /* D1: emulation finishing the guest's sequence */
	ES_DRAINING,      /* D2-D4 in progress */
};

/* Test-only misbehaviour (DEVIRT_BUG), so that checkers can be shown to fail. */
enum eng_bug {
	BUG_NONE = 0, BUG_SKIP_DEFERRED_REPLAY, BUG_REPLAY_TWICE, BUG_DROP_IRQ,
	BUG_UNBOUNDED_PAUSE, BUG_FORGET_MODE, BUG_SKIP_DRAIN,
};

/* Records the engine reports (strings stay valid until engine__destroy). */
enum eng_rec_kind { ER_SWITCH, ER_STEP, ER_PAUSE, ER_DEFER, ER_REPLAYED };
struct eng_rec {
	int kind;
	uint64_t switch_id;
	const char *device;
	/* ER_SWITCH: the whole row, re-sent at each change (upsert) */
	const char *action, *policy, *outcome, *reason, *mode_before, *mode_after;
	uint64_t req_seq, req_vt, start_seq, start_vt, done_seq, done_vt;
	int has_start, has_done;
	uint64_t wall_ns;
	/* ER_STEP: step name, seq/vtime, detail */
	const char *step, *detail;
	uint64_t seq, vtime;
	/* ER_PAUSE: kind, window, bound, polls */
	const char *pause_kind;
	uint64_t start_seq2, start_vt2, end_seq, end_vt, bound_ns, polls;
	/* ER_DEFER: seq of the deferred access, ord; ER_REPLAYED: seq, replay_seq */
	uint64_t ord, replay_seq;
	uint64_t replay_pos;        /* ER_REPLAYED: position among all replays of the run */
};
typedef void eng_sink_fn(void *ctx, const struct eng_rec *r);

/* Asks the monitor to trap (1) or stop trapping (0) hw's MMIO registers:
 * remove or re-add the memory slot. Returns 0 or -errno. */
typedef int eng_trap_fn(void *ctx, struct hw *hw, int trapped);

struct engine_cfg {
	int midseq;                 /* enum eng_midseq */
	int block;                  /* enum edev_block */
	uint64_t wait_bound_ns;     /* V4/D1 wait bound; 0: default 20 ms */
	uint64_t pause_bound_ns;    /* busy/defer window bound; 0: default 5 ms */
	eng_trap_fn *trap;          /* NULL: MMIO already traps (no slot) */
	void *trap_ctx;
	eng_sink_fn *sink;          /* NULL: nothing reported */
	void *sink_ctx;
	int bug;                    /* enum eng_bug */
	/* Modules for ata, uart (COM1) and ringblk, in that order, replacing
	 * the built-in ones where non-NULL (tests, out-of-tree modules). */
	const struct edev_ops *modules[3];
};

/* One trigger (--switch WHEN:ACTION:DEVICE). */
enum eng_when { EW_SEQ, EW_VTIME, EW_EVERY };
struct eng_trigger {
	int when;                   /* enum eng_when */
	uint64_t arg;               /* seq, vtime ns, or period in exits */
	int action;                 /* enum eng_action */
	char device[16];            /* "ata", "uart", "ringblk" or "all" */
};

struct engine;

/* Attaches an engine to m (after machine__init, before the guest runs):
 * creates a module for every switchable device present. Returns 0 or
 * -errno (*ep NULL). */
int engine__create(struct engine **ep, struct machine *m, const struct engine_cfg *cfg);

/* Detaches and frees. */
void engine__destroy(struct engine *e);

/* Requests action on device ("all" for every device). Processed at the next
 * safe point. Returns 0, or -ENOENT for an unknown or absent device. */
int engine__request(struct engine *e, const char *device, int action);

/* Adds a trigger. Returns 0, -ENOENT (device), -ENOSPC or -ENOMEM. */
int engine__add_trigger(struct engine *e, const struct eng_trigger *t);

/* Starts device virtualized (before the guest runs; logged as a switch
 * with reason "initial"). Returns 0 or -errno. */
int engine__start_virtualized(struct engine *e, const char *device);

/* Returns the device's state (enum eng_state), or -ENOENT. */
int engine__state(struct engine *e, const char *device);

/* Counts switches by outcome so far. */
void engine__counts(struct engine *e, uint64_t *done, uint64_t *aborted, uint64_t *pending);

/* Checkpoints for the offline replayer (engine/checkpoint.c). Returns 1
 * when every device is in pass-through with no switch running, queued,
 * deferred or timed: the only state engine__save accepts. */
int engine__idle(struct engine *e);

/* Serialises an idle engine (counters, armed vtime triggers, what each
 * module learnt by snooping in pass-through) into buf. Returns the size
 * needed (nothing written when len is smaller), -EBUSY when not idle. */
long engine__save(struct engine *e, void *buf, size_t len);

/* Puts an idle engine, created on an identical machine with the same
 * triggers, into a state engine__save wrote. Returns 0, -EINVAL (not such
 * a state), -EBUSY (not idle), -ENOMEM or -ENOSPC (clock full). */
int engine__restore(struct engine *e, const void *buf, size_t len);

/* Parses "WHEN:ACTION:DEVICE". Returns 0 or -EINVAL with a reason in err. */
int engine__parse_trigger(const char *spec, struct eng_trigger *t, char *err, size_t errlen);

/* Parses a DEVIRT_BUG value ("" or NULL: none). Returns enum eng_bug or -EINVAL. */
int engine__parse_bug(const char *s);

/* Names. */
const char *engine__state_name(int state);
const char *engine__action_name(int action);

#endif
