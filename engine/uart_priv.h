/*
 * UART engine module internals, shared by uart.c (the edev ops: tracking,
 * blocking, steps, mode), uart_xfer.c (moving a 16550A's state between two
 * chips through their registers) and uart_drv.c (the emulated UART and the
 * monitor's driver for the real one). Not for other folders.
 */
#ifndef DEVIRT_ENGINE_UART_PRIV_H
#define DEVIRT_ENGINE_UART_PRIV_H

#include <stdint.h>
#include "edev.h"
#include "../devices/uart.h"

#define LSR_ERRS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define LSR_CHAR_ERRS (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define TXQ_LEN 256

/* The programmable mode: what D4 restores and mode() prints. fcr holds the
 * sticky bits a 16550A keeps (enable, DMA mode, trigger). */
struct umode {
	uint16_t dl;
	uint8_t lcr, fcr, ier, mcr, scr;
};

/* A 16550A's dynamic state as a driver can read it through registers. */
struct udyn {
	uint8_t err;                 /* sticky LSR error bits (OE PE FE BI) */
	uint8_t nrx;                 /* characters in the receive FIFO */
	uint8_t rx[UART_FIFO_LEN], rx_err[UART_FIFO_LEN];
	uint8_t thri;                /* THRE interrupt pending (not yet taken) */
	uint8_t cti;                 /* character timeout pending */
	uint8_t msr;                 /* modem status: inputs and delta bits */
	uint8_t rbr;                 /* what RBR returns while the FIFO is empty */
	uint8_t fifo_on;             /* IIR bits 7:6 say the FIFOs are on */
	uint8_t hidden0;             /* rx_err[0] is inferred: its LSR report was already read */
};

/* Where the module is (the core does not report aborts of a tracking
 * switch; snoop() notices). */
enum uphase { UP_PASS, UP_TRACK, UP_EMU };
/* What the tracker knows of the receive FIFO: empty; characters went in
 * while in pass-through, where the guest's reads (and so its pops) are not
 * seen, unverified since; holding (or possibly holding) data the guest is
 * receiving. */
enum urx { RX_EMPTY, RX_STALE, RX_DATA };
enum uline { LINE_DOWN, LINE_UP, LINE_UNKNOWN };

struct uart_eng {
	struct edev_host h;
	int phase;                   /* enum uphase */

	/* tracking (pass-through snoop and V3/V4) */
	struct umode g;              /* the guest's mode as written to the hardware */
	int rx;                      /* enum urx */
	uint64_t rx_t;               /* last push or pop seen (restarts the character timeout) */
	int rx_exact;                /* nothing unseen can have popped since rx_t */
	unsigned pushes, pops;       /* seen since the FIFO was last known empty */
	int counts_ok;               /* ... and nothing arrived unseen */
	unsigned maybe;              /* sent since then with a plug not yet ruled out */
	int err_possible;            /* a line error may be latched (overrun, break) */
	int line;                    /* enum uline: the hardware's line */
	int wire;                    /* -1 unknown, 1: TX comes back on RX (loopback plug), 0: not */
	int probe_wire;              /* a THR write into an empty FIFO awaits an LSR read */

	/* the emulated UART (V6..D4) */
	struct hw *emu;
	struct clock priv;           /* the emulation's own clock, kept at the run's time */
	struct clock_event emu_ev;   /* the run clock's copy of the emulation's next timer */
	int live;                    /* its line drives the guest's */
	int emu_level;               /* its line's level */
	struct umode eg;             /* the guest's mode as written to the emulation */
	struct umode last;           /* the emulation's mode at D4 */

	/* the monitor's driver */
	uint8_t txq[TXQ_LEN];
	unsigned txh, txn;
	struct clock_event svc_ev;   /* zero-delay: serve the hardware after its interrupt */
	uint16_t hw_dl;              /* line settings programmed into the hardware */
	uint8_t hw_lcr, hw_fcr;
	int drain_wait;              /* D2 returned EDEV_AGAIN: kick when the queue empties */

	/* devirtualization (D1) */
	int deferring;               /* a write was deferred in this D1 */
	uint64_t blk_t;              /* time of the last block(QUIESCE) forward */
	int blk_valid;
};

/* Register access (one byte, offsets of uart.h). */
uint8_t ureg_rd(struct hw *d, unsigned off);
void ureg_wr(struct hw *d, unsigned off, uint8_t v);

/* Returns the sticky FCR bits after writing v over old (as a 16550A keeps them). */
uint8_t ufcr_next(uint8_t old, uint8_t v);

/* Reads d's mode through side-effect-free registers (the divisor through
 * DLAB, which is restored); fcr is the caller's record of the write-only FCR. */
void uxfer_read_mode(struct hw *d, uint8_t fcr, struct umode *m);

/* Reads d's dynamic state (destructive: errors, FIFO, THRE interrupt and
 * modem deltas are consumed). DLAB is cleared meanwhile and restored. */
void uxfer_capture(struct hw *d, struct udyn *x);

/* Returns the 16550A's character timeout (four character times) in ns for
 * line control lcr and divisor dl. */
uint64_t uxfer_timeout_ns(uint8_t lcr, uint16_t dl);

/* Loads mode m and state x into the freshly created emulation; received
 * characters enter at time t_push on its clock, which then runs to now. */
void uxfer_emu_load(struct uart_eng *st, const struct umode *m, const struct udyn *x,
		    uint64_t t_push);

/* Restores mode m and state x into the hardware (D4) from the driver's
 * settings. */
void uxfer_hw_restore(struct uart_eng *st, const struct umode *m, const struct udyn *x);

/* Prepares the module's clock events (once, at create). */
void udrv_init(struct uart_eng *st);
/* Emulation: creates a fresh emulated UART (its line held from the guest).
 * Returns 0 or -ENOMEM. */
int udrv_emu_create(struct uart_eng *st);
/* Frees the emulation and stops its timers. */
void udrv_emu_destroy(struct uart_eng *st);
/* Brings the emulation's clock to the run's time (its due timers fire). */
void udrv_emu_sync(struct uart_eng *st);
/* Re-arms the run clock's copy of the emulation's next timer. */
void udrv_emu_rearm(struct uart_eng *st);
/* Lets the emulation's line drive the guest's again and drives it to the
 * emulation's level. */
void udrv_emu_go_live(struct uart_eng *st);
/* Reads the emulation's dynamic state without changing it (or the guest's
 * line): snapshot, capture, restore. */
void udrv_emu_probe(struct uart_eng *st, struct udyn *x);

/* Driver: programs the hardware for the monitor's use (V6); hw_mode is what
 * the hardware holds now. */
void udrv_start(struct uart_eng *st, const struct umode *hw_mode);
/* Driver: brings the hardware's line settings in line with the guest's,
 * writes queued bytes, moves received bytes into the emulation. */
void udrv_service(struct uart_eng *st);
/* Driver: stops its timers (D4). */
void udrv_stop(struct uart_eng *st);
/* Driver: the hardware raised its line; serves it from a zero-delay event. */
void udrv_note_irq(struct uart_eng *st);
/* Returns 1 while a hardware interrupt waits to be served. */
int udrv_busy(const struct uart_eng *st);

#endif
