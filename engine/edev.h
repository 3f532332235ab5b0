/*
 * The interface between the engine core (engine.c: switch orchestration,
 * policies, bounds, logging) and one device's engine module (ata.c, uart.c,
 * ringblk.c in this folder). A module holds the device's tracking state
 * machine, its emulation state machine and the monitor's own driver for the
 * hardware. It reaches the hardware only through h->hw->ops->read/write
 * (DESIGN rule 1) and the guest only through the calls in edev_host.
 *
 * Who calls what, and when (all on the vCPU thread, never re-entrantly):
 *   pass-through  snoop() after every direct write the monitor saw
 *   V3            step(EDEV_V3) once, then track() for each forwarded access
 *   V4            track_idle() after each access; block(EDEV_PH_WAIT) first
 *   V5            step(EDEV_V5, takeover) until it returns 0 (block(CAPTURE))
 *   V6            step(EDEV_V6) until 0; then emulate() for each access
 *   D1            emu_idle(); block(EDEV_PH_QUIESCE) for each access
 *   D2, D3, D4    step(EDEV_D2 / D3 / D4) until 0 (block(EDEV_PH_DRAIN))
 *   D7            the core writes the deferred accesses to the hardware
 *   always        hw_irq() while the device's line is routed to the monitor
 * step() returning EDEV_AGAIN means "in progress": the core calls it again
 * at the next safe point (after any exit or clock event) or when the module
 * calls h->kick(). Modules never call the core from inside hw_irq(); they
 * note the interrupt and arm a zero-delay clock event to handle it, since
 * hw_irq() may run inside the hardware model's own code.
 */
#ifndef DEVIRT_EDEV_H
#define DEVIRT_EDEV_H

#include <stddef.h>
#include <stdint.h>
#include "../devices/hw.h"
#include "../machine/bus.h"

/* Guest-physical memory the monitor keeps for its own drivers (rings,
 * bounce buffers); the Multiboot memory map marks it reserved. */
#define MONITOR_PRIV_BASE 0xf0000ull
#define MONITOR_PRIV_SIZE 0x10000ull

/* What the core lends a module. */
struct edev_host {
	struct hw *hw;                 /* the hardware (register interface only) */
	struct clock *clock;           /* the run's virtual clock, for driver timers */
	const struct gmem *mem;        /* guest memory (rings, DMA buffers) */
	uint64_t priv_base, priv_size; /* monitor-private guest-physical memory */
	/* Drives the guest's interrupt line from the emulation (V6..D4). */
	void (*guest_irq)(void *ctx, int level);
	/* Asks the core to re-run pending steps now (a driver finished). */
	void (*kick)(void *ctx);
	void *ctx;
};

/* EDEV_ABORT tells the module the switch was aborted (V4 back to
 * pass-through, D1 back to emulation): anything it held for the switch must
 * be let go. Its result is ignored. */
enum edev_step { EDEV_V3, EDEV_V5, EDEV_V6, EDEV_D2, EDEV_D3, EDEV_D4, EDEV_ABORT };
#define EDEV_AGAIN 1                   /* step in progress */

/* Phases in which block() is asked about a guest access. */
enum edev_phase {
	EDEV_PH_WAIT,     /* V4: tracking, waiting for the sequence to end */
	EDEV_PH_CAPTURE,  /* V5 in progress: the monitor uses the hardware */
	EDEV_PH_QUIESCE,  /* D1: emulation finishing the guest's sequence */
	EDEV_PH_DRAIN,    /* D2..D4 in progress */
};
enum edev_block { EDEV_BLOCK_BUSY, EDEV_BLOCK_DEFER };   /* the D1 policy */

/* block()'s answer for one guest access. */
enum edev_verdict {
	EDEV_FORWARD,     /* serve normally: hardware+track (WAIT, CAPTURE) or emulate (QUIESCE, DRAIN) */
	EDEV_BUSY,        /* a read answered busy / not ready (a->value set): an inserted
			   * poll. A write answered BUSY is deferred (never dropped). */
	EDEV_DEFER,       /* a write starting a new sequence: the core logs it and replays it later */
	EDEV_FLUSH,       /* end the pause: the core replays the deferred writes, in order, to
			   * whatever serves the device now, then serves this access
			   * normally (the module drops its own deferral state) */
};

/* Which mode mode() describes. */
enum edev_mode_src { EDEV_MODE_EMU, EDEV_MODE_HW };

struct edev_ops {
	const char *model;             /* the hw model served ("ata-disk", ...) */
	/* Creates the module's state. Returns NULL when out of memory. */
	void *(*create)(const struct edev_host *h);
	void (*destroy)(void *st);
	/* Pass-through: a direct write the monitor saw (port I/O always exits),
	 * for write-only mode registers the hardware cannot report. May be NULL. */
	void (*snoop)(void *st, uint64_t off, unsigned size, uint64_t val);
	/* An access forwarded to the hardware while tracking (a->value holds a
	 * read's result). */
	void (*track)(void *st, const struct bus_access *a, uint64_t off);
	/* Returns 1 when the guest is between I/O sequences (V4). */
	int (*track_idle)(void *st);
	/* Serves a guest access from the emulation (V6 until D4 ends). */
	void (*emulate)(void *st, struct bus_access *a, uint64_t off);
	/* Returns 1 when the emulation is quiescent (D1): no guest sequence in
	 * progress and its interrupt line at the level the hardware will have
	 * once the mode is restored. */
	int (*emu_idle)(void *st);
	/* Decides how an access is served during a switch (see enum). policy
	 * is the D1 block policy; a module without a busy signal defers. */
	int (*block)(void *st, struct bus_access *a, uint64_t off, int phase, int policy);
	/* Runs one V/D step. takeover is 1 when V5 must reconstruct an
	 * in-flight sequence (policy midseq=takeover). Returns 0 when done,
	 * EDEV_AGAIN while in progress, -EBUSY when V5 cannot take over here. */
	int (*step)(void *st, int step, int takeover);
	/* The hardware's interrupt line changed while routed to the monitor. */
	void (*hw_irq)(void *st, int level);
	/* Writes the device mode ("nien=0 mult=16 ...": same keys for both
	 * sources) of the emulation or, read back through registers, of the
	 * hardware. Returns buf. */
	char *(*mode)(void *st, int src, char *buf, size_t len);
	/* Optional: a number that changes whenever mode()'s text would. The
	 * core asks it after every trapped write and formats the text only
	 * when it moved (formatting on every write was a quarter of an
	 * exhaustive replay's time). */
	uint64_t (*mode_sig)(void *st, int src);
	/* Returns the state machine's state (tracking or emulation, whichever
	 * is live) as a static string. */
	const char *(*sm_state)(void *st);
	/* Reports the driver's queued requests and I/O outstanding on the
	 * hardware (I6). */
	void (*pending)(void *st, unsigned *queued, unsigned *outstanding);
	/* Checkpoints (engine__save/restore, for exhaustive replay), taken
	 * only at rest: all three or none (then the engine cannot be
	 * checkpointed). at_rest returns 1 when nothing is in flight (no
	 * emulation, driver work or armed timer); save writes the state into
	 * buf when len allows and returns the size it needs; restore puts a
	 * saved state into st, keeping what ties st to its own engine (host
	 * callbacks, clock events, heap buffers), and returns 0 or -errno. */
	int (*at_rest)(const void *st);
	size_t (*save)(const void *st, uint8_t *buf, size_t len);
	int (*restore)(void *st, const uint8_t *buf, size_t len);
};

extern const struct edev_ops edev_ata_ops, edev_uart_ops, edev_ringblk_ops;

#endif
