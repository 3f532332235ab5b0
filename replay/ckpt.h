/*
 * Checkpoints of a replay rig, for exhaustive injection: what a machine
 * needs to continue from an event index as if it had replayed everything
 * before it, and the comparison that tells when an injected replay has
 * come back to the baseline.
 *
 * What a checkpoint holds, and why that is enough:
 *  - every device's hw_ops save blob (PIC and PIT included), identical
 *    blobs shared with the previous checkpoint (unused devices cost once);
 *  - the machine's own state: clock time and its armed events' order (ties
 *    fire in arm order), the event counters, line levels, run state;
 *  - the engine at rest (engine__save: counters, vtime triggers, what each
 *    module learnt by snooping); checkpoints are taken only where the
 *    baseline's engine is at rest, so routes and bus handlers are direct;
 *  - the disks: the baseline journals every sector it writes (redo), a
 *    probe journals the old content of what it overwrites (undo); a probe's
 *    disks are rolled forward to the checkpoint and its own writes undone
 *    after it;
 *  - of guest RAM, only what was preloaded early and is not yet read:
 *    devices read what the dma rows preload right before the exit that
 *    reads it, except ringblk submissions and their write data, preloaded
 *    from the doorbell on (early.c), which a restored probe must find in
 *    place; what devices wrote is read by nobody but the (unrecorded) CPU.
 *
 * "Back to the baseline" at a checkpoint of the baseline: the probe's
 * engine at rest, every device's blob equal to the baseline's (PIT aside:
 * probes replay the timer line from the recording), the same line levels
 * and run state, the disks equal where either wrote, and the clock either
 * equal or shifted by a constant d (inserted polls cost time) with every
 * differing 8-byte word of a blob differing by exactly d (a timestamp) and
 * no absolute-time trigger armed. A shifted machine's future is the
 * baseline's shifted by d: devices schedule relative to now.
 */
#ifndef DEVIRT_CKPT_H
#define DEVIRT_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include "rig.h"

struct blobref {
	unsigned refs;
	size_t len;
	uint8_t data[];
};

struct ckpt {
	size_t at;                /* event index (a step boundary) */
	size_t pc;                /* the preload cursor there */
	uint64_t now, next_order, seq, unhandled, counts[EXIT_KINDS];
	uint16_t line_levels, guest_levels;
	int state, bar_trapped;
	uint32_t exit_code;
	int nev;
	struct { clock_event_fn *fn; uint64_t when, order; } ev[CLOCK_MAX_EVENTS];
	int ndev;
	struct blobref *dev[MACHINE_MAX_DEVS];
	struct blobref *eng;      /* NULL: the engine was not at rest */
	size_t jlen;              /* journal entries written before `at` */
	uint32_t open[RIG_MAX_OPEN]; /* dma rows preloaded early (early.c): the only guest
				   * memory a checkpoint must hold (see ckpt.c) */
	int nopen;
};

/* A rig's disk journal. */
enum jmode { J_OFF, J_REDO, J_UNDO };
struct jentry {
	size_t at;                /* event index being served */
	uint64_t lba;
	uint32_t count;
	uint8_t disk;             /* 0 ata, 1 ringblk */
	size_t data;              /* offset of count sectors in bytes */
};
struct journal {
	struct rig *g;
	int mode;                 /* enum jmode */
	struct jentry *e;
	size_t n, cap;
	uint8_t *bytes;
	size_t blen, bcap;
	int failed;               /* out of memory: results unreliable */
};

/* Takes a checkpoint of g at its cursor (a boundary); blobs equal to
 * prev's (may be NULL) are shared. jlen is the baseline journal's length.
 * Returns 0 or -ENOMEM. */
int ckpt__take(struct rig *g, struct ckpt *c, const struct ckpt *prev, size_t jlen);

/* Releases c's blobs. */
void ckpt__free(struct ckpt *c);

/* Puts probe rig p in the state of checkpoint c (which must hold an
 * engine). Returns 0 or -errno. */
int ckpt__restore(struct rig *p, const struct ckpt *c);

/* Compares probe p, at c->at, with baseline checkpoint c. pj: the probe's
 * undo journal; bj: the baseline's redo journal; from: the baseline
 * journal length at the probe's start; final: c is the end of the run
 * (nothing left to replay: a switch still under way or a shift cannot
 * matter any more). Returns 1 when p is back to the baseline, else 0 with
 * the first difference in why (may be NULL). */
int ckpt__same(struct rig *p, const struct ckpt *c, const struct journal *pj, const struct journal *bj,
	       size_t from, int final, char *why, size_t whylen);

/* Starts journaling g's disk writes in mode. */
void journal__attach(struct journal *j, struct rig *g, int mode);

/* Frees the journal's memory (and detaches it). */
void journal__free(struct journal *j);

/* Applies baseline entries [*pos, upto) of bj to p's disks (not journaled)
 * and advances *pos. Returns 0 or -EIO. */
int journal__roll(struct rig *p, const struct journal *bj, size_t *pos, size_t upto);

/* Undoes the probe's writes (newest first) and empties its journal.
 * Returns 0 or -EIO. */
int journal__undo(struct journal *pj);

#endif
