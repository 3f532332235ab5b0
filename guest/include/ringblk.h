/*
 * Guest driver for ringblk (register contract in devices/ringblk_regs.h):
 * rings in guest memory, doorbells in the BAR, completions by interrupt
 * (IRQ 11) or by polling. Written as an OS would, unaware of whether the BAR
 * is mapped (pass-through) or trapped.
 */
#ifndef GUEST_RINGBLK_H
#define GUEST_RINGBLK_H

#include <stdint.h>
#include "../../devices/ringblk_regs.h"

/* Resets and enables the device with qsize-entry rings (power of two <= 256);
 * use_irq selects interrupt-driven completion. Returns 0, or -1 when the
 * device is absent or never becomes ready. */
int rb_init(uint32_t qsize, int use_irq);

/* Returns the device capacity in sectors (after rb_init). */
uint64_t rb_capacity(void);

/* Queues one request and rings the doorbell. Returns 0, or -1 if the
 * submission ring is full. */
int rb_submit(uint8_t op, uint16_t id, uint64_t lba, uint32_t nsect, uint64_t buf);

/* Copies up to max completions into out and returns them to the device.
 * Returns the number copied. */
int rb_reap(struct ringblk_cqe *out, int max);

/* Waits for the device: hlt until its interrupt (or, polling, a few
 * io_delays). Returns 0, or -1 once the wait budget is spent. */
int rb_wait(void);

/* Returns the number of waits so far (hlts or poll rounds). */
uint64_t rb_waits(void);

#endif
