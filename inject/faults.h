/*
 * Device fault injection for one campaign run ([faults]), through the
 * machine's fault filters (machine/machine.h), so devices never know:
 *   irq_drop         a device's interrupt raise never reaches its target
 *   irq_delay        the raise arrives `delay` later (a pulse if the device
 *                    has lowered its line meanwhile)
 *   irq_duplicate    a second edge `duplicate_gap` after the first
 *   irq_spurious     an edge on a device's line while it asks for nothing
 *   error_status     a hardware error in what the guest reads: ATA status
 *                    ERR (and ABRT in the error register) at a command's
 *                    completion, UART LSR overrun/parity/framing, ringblk
 *                    STATUS FATAL (on trapped reads)
 *   slow_completion  ATA: the status reads busy and the completion interrupt
 *                    is held for `slow_by` after a command is issued;
 *                    uart/ringblk: their completion interrupt is held.
 * Each kind fires on its own opportunities (raises, exits, status reads,
 * commands) by rate, period, seq or vtime; each fault injected is a row in
 * the `fault` table (traces/store.h trace__fault).
 */
#ifndef DEVIRT_INJECT_FAULTS_H
#define DEVIRT_INJECT_FAULTS_H

#include <stdint.h>
#include "config.h"
#include "prng.h"
#include "../engine/engine.h"
#include "../traces/store.h"

#define FAULT_PENDING 8

struct faults;

/* A delivery the injector owes a line (delay, duplicate, slow). */
struct fault_pending {
	struct clock_event ev;
	struct faults *f;
	int line, kind, used;
};

struct faults {
	const struct campaign_cfg *c;
	struct machine *m;
	struct engine *e;
	struct trace *t;
	int active;
	struct prng rng;
	uint64_t opp[FK_N];          /* opportunities seen, per kind */
	int once[FK_N];              /* seq / vtime kinds: fired already */
	uint64_t injected[FK_N], total;
	uint8_t dev_level[16];       /* each line's level as its device drives it */
	uint64_t last_exits;         /* irq_spurious: one opportunity per exit */
	struct fault_pending pend[FAULT_PENDING];
	int ata_cmd;                 /* a command was issued, its completion not yet read */
	int ata_abrt;                /* an injected error holds until the next command */
	int slow;                    /* ATA slow completion in progress */
	int slow_held;               /* ... and the device raised its interrupt meanwhile */
	struct clock_event slow_ev;
};

/* Returns 1 if campaign c injects any fault. */
int faults__enabled(const struct campaign_cfg *c);

/* Installs the injector for one run on m (the engine e, for `during =
 * switch`, may be NULL), seeded by seed, recording into t (may be NULL).
 * Returns 0 or -ENOSPC (the machine's tick table is full). */
int faults__attach(struct faults *f, const struct campaign_cfg *c, uint64_t seed, struct machine *m,
		   struct engine *e, struct trace *t);

/* Removes the filters and disarms what is pending (the run ended). */
void faults__detach(struct faults *f);

#endif
