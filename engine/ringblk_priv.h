/*
 * Internals shared by the ringblk engine module's two files: ringblk.c
 * (the edev_ops: tracking, switch steps, blocking, mode) and ringblk_emu.c
 * (the emulated register page and the monitor's driver for the hardware).
 * Nothing outside engine/ringblk*.c includes this.
 */
#ifndef DEVIRT_ENGINE_RINGBLK_PRIV_H
#define DEVIRT_ENGINE_RINGBLK_PRIV_H

#include <stdint.h>
#include "edev.h"
#include "../devices/ringblk_regs.h"

#define SHADOW_Q  RINGBLK_MAX_QSIZE   /* entries of the driver's own rings */
#define REG_END   (RB_QS_STATUS + 4)  /* bytes of the page that hold registers */
#define IDENT_LEN RB_CTRL             /* MAGIC..MAX_QSIZE: constant registers */

/* Who serves the device, as the module sees it. */
enum rbm_mode {
	RBM_PASS,      /* pass-through (no switch, or after D4) */
	RBM_TRACK,     /* V3..V5: guest accesses reach the hardware, tracked */
	RBM_CAPTURE,   /* V5 takeover: the hardware finishes in-flight requests */
	RBM_EMU,       /* V6..D4: emulated, the driver owns the hardware */
};

/* The hardware's queue as last read back through its registers. */
struct rb_view {
	uint32_t ctrl, status, qsize, sq_tail, sq_head, cq_tail, cq_head, completed;
	uint64_t sq_base, cq_base;
};

/* The emulated device: devices/ringblk.h's register contract, re-implemented
 * over the monitor's driver instead of a disk. Fields mirror the model's
 * (what the device has seen, its own indices, the latched configuration). */
struct rb_emu {
	uint8_t page[RINGBLK_SIZE];
	uint8_t ident[IDENT_LEN];     /* MAGIC, VERSION, CAPACITY, MAX_QSIZE */
	uint32_t ctrl_seen, sq_tail_seen, cq_head_seen;
	uint32_t sq_head, cq_tail, completed, status;
	uint64_t sq_base, cq_base;
	uint32_t qsize;
	uint32_t ninflight;           /* fetched, handed to the driver, not completed */
	uint32_t nbacklog;            /* completed, waiting for room in the guest's CQ */
	struct ringblk_cqe backlog[RINGBLK_MAX_QSIZE];
};

/* The monitor's driver: shadow rings in monitor-private memory. */
struct rb_drv {
	uint64_t sq, cq;              /* shadow ring addresses (guest-physical) */
	uint32_t sq_tail, cq_head;    /* submitted to / consumed from the hardware */
	uint32_t nq;                  /* accepted, not yet on the shadow ring */
	struct ringblk_sqe q[SHADOW_Q];
	int irq;                      /* a completion interrupt not yet handled */
	struct clock_event ev;        /* zero-delay: handles interrupts off hw_irq */
};

struct rbm {
	struct edev_host h;
	int mode;                     /* enum rbm_mode */
	struct rb_view v;             /* tracking */
	unsigned capture_edges;       /* hardware edges to pass on during capture */
	int want_kick;                /* a step is waiting for the driver */
	struct rb_emu e;
	struct rb_drv d;
	/* Switch bookkeeping (block()): 0 nothing deferred, 1 doorbells
	 * deferred, 2 a configuration write deferred too. */
	int deferring;
	int in_block;                 /* block() forwarded the access now served */
	uint8_t ov[REG_END], ov_mask[REG_END];  /* deferred guest-owned bytes */
};

/* ringblk_emu.c */

/* Returns the 32/64-bit little-endian register at off of page. */
uint32_t rbe_rd32(const uint8_t *page, unsigned off);
uint64_t rbe_rd64(const uint8_t *page, unsigned off);

/* Returns 1 if a driver may write byte off of the register page of a
 * device whose CTRL it has seen as ctrl_seen (the model's rule: CTRL,
 * bases, QSIZE, doorbells; QS_* only while disabled). */
int rbe_writable(uint32_t ctrl_seen, uint64_t off);

/* Returns 1 if [gpa, gpa+len) overlaps the monitor-private memory. */
int rbe_in_priv(const struct rbm *s, uint64_t gpa, uint64_t len);

/* V5: loads the emulation from the hardware's registers (an idle queue). */
void rbe_load(struct rbm *s);

/* V6: points the hardware at the driver's shadow rings and enables it.
 * Returns 0, or -EIO if the hardware rejects them. */
int rbe_start(struct rbm *s);

/* Serves one guest access to the emulated page. */
void rbe_access(struct rbm *s, struct bus_access *a, uint64_t off);

/* Consumes the hardware's completions (the zero-delay event's work). */
void rbe_complete(struct rbm *s);

/* Returns 1 when nothing is in flight, queued or undelivered. */
int rbe_idle(const struct rbm *s);

/* D4: programs the guest's rings, indices and CTRL into the (idle) hardware. */
void rbe_restore_hw(struct rbm *s);

#endif
