/*
 * ringblk: a modern MMIO block device. One 4 KiB register page (the BAR),
 * submission and completion rings in guest memory, doorbells, DMA, one
 * interrupt. The register page is plain memory owned by the model: in
 * pass-through the monitor maps that very page into the guest as a KVM
 * memory slot (guest register accesses do not exit) and the device notices
 * doorbells at its next poll; when trapped, accesses arrive through read and
 * write and take effect at once. Same model, same results, either way.
 *
 * Registers (little-endian, 32-bit unless noted):
 *   0x00 MAGIC "RBLK" (ro)      0x04 VERSION (ro)     0x08 CAPACITY sectors, 64-bit (ro)
 *   0x10 MAX_QSIZE (ro)         0x14 CTRL: bit0 ENABLE, bit1 IRQ_EN, bit31 RESET (self-clearing)
 *   0x18 STATUS (ro): bit0 READY, bit1 FATAL (bad ring configuration)
 *   0x20 SQ_BASE 64-bit         0x28 CQ_BASE 64-bit   0x30 QSIZE (power of two, 1..256)
 *   0x34 SQ_TAIL (doorbell)     0x38 SQ_HEAD (ro)     0x3c CQ_TAIL (ro)
 *   0x40 CQ_HEAD (doorbell)     0x44 COMPLETED (ro, requests completed since enable)
 * Indices are free-running 32-bit counters; entry = index % QSIZE.
 * ENABLE latches the ring configuration (bases, size); it must be cleared
 * (or RESET written) to change it.
 *
 * Queue-state restore (for a monitor or migration code moving an idle queue
 * onto the device, like vDPA set_vq_state; guest drivers never use it):
 *   CTRL bit2 RESTORE (self-clearing, reads 0)
 *   0x50 QS_SQ_HEAD  0x54 QS_CQ_TAIL  0x58 QS_COMPLETED  0x5c QS_STATUS
 * The QS_* registers are writable only while ENABLE is clear. ENABLE rising
 * with RESTORE set keeps the queue's indices instead of zeroing them: SQ_HEAD,
 * CQ_TAIL and COMPLETED take the QS_* values, and the doorbells count as
 * already seen at SQ_HEAD (submissions up to SQ_TAIL beyond it are fetched)
 * and CQ_HEAD; a QS_STATUS with FATAL set restores a FATAL queue. Indices
 * that a ring could not hold (CQ_TAIL - CQ_HEAD or SQ_TAIL - SQ_HEAD above
 * QSIZE) make the queue FATAL. ENABLE rising, with or without RESTORE,
 * clears the QS_* registers: they read 0 while the device is enabled. The
 * queue restored this way has nothing in flight: requests cannot be handed
 * over, only indices.
 */
#ifndef DEVIRT_RINGBLK_H
#define DEVIRT_RINGBLK_H

#include "hw.h"
#include "../lib/blk.h"

#include "ringblk_regs.h"

/* Creates the device over disk (owned by the caller). Returns NULL on
 * allocation failure. */
struct hw *ringblk__create(const struct hw_env *env, const char *name, int irq, struct blk *disk);

/* Returns the register page (RINGBLK_SIZE bytes, page-aligned): the memory a
 * monitor maps as the BAR for pass-through. */
void *ringblk__bar(struct hw *hw);

#endif
