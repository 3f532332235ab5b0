/*
 * ATA/IDE disk: one drive (master) on a legacy channel, PIO only, LBA28 (and
 * CHS through a fixed 16-head, 63-sector geometry), backed by a blk image.
 * Device offsets 0-7 are the command block (0x1f0-0x1f7), ATA_CTRL_OFF is
 * the control block (0x3f6: alternate status / device control). The
 * interrupt line is level: high while INTRQ is pending and nIEN is clear.
 * Register offsets, bits, commands and latencies are public for the engine's
 * state machines and the tests; the model itself is reached only via hw_ops.
 *
 * Where the standard leaves room we follow QEMU's IDE (the reference):
 * - taskfile writes (offsets 1-6) are ignored while BSY or DRQ is set; a
 *   command written while BSY is ignored, while DRQ it is ignored but still
 *   clears INTRQ; while BSY every taskfile read returns the status;
 * - device 1 (DEV bit) is absent: its status, alternate status and error
 *   read 0 (the presence probe's answer), other registers are the shared
 *   taskfile, commands to it are ignored;
 * - data-port reads outside a PIO-in DRQ phase return 0 and writes outside
 *   a PIO-out DRQ phase are dropped, without moving the transfer;
 * - 32-bit data accesses move two words (a block ending on the first word
 *   ends the transfer: the second half reads 0 / is dropped); 8-bit data
 *   accesses move one word, reading its low byte / writing it with a zero
 *   high byte, as on an ISA bus with IOCS16 (QEMU ignores them instead);
 * - wider accesses to offsets 1-8 are split into byte accesses;
 * - status is DRDY|DSC idle, BSY|DRDY busy, BSY alone during reset,
 *   DRDY|ERR on errors; taskfile LBA and count track the transfer (next
 *   sector, sectors left) as each block is done;
 * - reading the status register acknowledges INTRQ whichever device is
 *   selected; a command starts by clearing the error register;
 * - the power-on and post-reset multiple setting is ATA_MAX_MULTIPLE
 *   (QEMU's 16); SET FEATURES 66h keeps modes across SRST, CCh reverts;
 *   INITIALIZE DEVICE PARAMETERS is accepted and changes nothing;
 * - a failing image read ends the command with UNC, a failing image
 *   write or flush with ABRT; with the write cache off, every block
 *   written is flushed before it completes.
 * Departures from QEMU, per the ATA spec: an LBA range past the end fails
 * the whole command up front with IDNF (QEMU: ABRT at the failing block);
 * nIEN gates the line (clearing nIEN with INTRQ pending raises it); SRST
 * keeps the drive BSY while held, selects device 0 at once, and raises no
 * interrupt when the reset completes; DMA transfer modes are refused;
 * IDENTIFY word 59 shows the current multiple setting (QEMU caches its
 * IDENTIFY data and keeps showing the first one).
 */
#ifndef DEVIRT_ATA_H
#define DEVIRT_ATA_H

#include "hw.h"
#include "../lib/blk.h"

/* Command block offsets (reads / writes where they differ). */
enum ata_reg {
	ATA_DATA = 0,
	ATA_ERROR = 1, ATA_FEATURES = 1,
	ATA_COUNT = 2,
	ATA_LBA_LO = 3, ATA_LBA_MID = 4, ATA_LBA_HI = 5,
	ATA_DEVICE = 6,
	ATA_STATUS = 7, ATA_COMMAND = 7,
};
/* Control block: read alternate status, write device control. */
#define ATA_CTRL_OFF   8

#define ATA_SR_BSY     0x80
#define ATA_SR_DRDY    0x40
#define ATA_SR_DF      0x20
#define ATA_SR_DSC     0x10
#define ATA_SR_DRQ     0x08
#define ATA_SR_ERR     0x01

#define ATA_ER_UNC     0x40   /* uncorrectable data (image read failed) */
#define ATA_ER_IDNF    0x10   /* address out of range */
#define ATA_ER_ABRT    0x04   /* command aborted */

#define ATA_DEV_LBA    0x40   /* device register: LBA addressing */
#define ATA_DEV_SLAVE  0x10   /* device register: DEV, selects device 1 */
#define ATA_DEV_OBS    0xa0   /* obsolete bits, always read as one */

#define ATA_CTL_NIEN   0x02   /* device control: INTRQ disabled */
#define ATA_CTL_SRST   0x04   /* device control: software reset */

#define ATA_CMD_READ            0x20
#define ATA_CMD_WRITE           0x30
#define ATA_CMD_DIAGNOSE        0x90
#define ATA_CMD_INIT_PARAMS     0x91
#define ATA_CMD_READ_MULTIPLE   0xc4
#define ATA_CMD_WRITE_MULTIPLE  0xc5
#define ATA_CMD_SET_MULTIPLE    0xc6
#define ATA_CMD_FLUSH           0xe7
#define ATA_CMD_IDENTIFY        0xec
#define ATA_CMD_SET_FEATURES    0xef

#define ATA_SF_WCACHE_ON        0x02
#define ATA_SF_XFER_MODE        0x03
#define ATA_SF_REVERT_OFF       0x66  /* keep settings across software reset */
#define ATA_SF_WCACHE_OFF       0x82
#define ATA_SF_LOOKAHEAD_OFF    0x55
#define ATA_SF_LOOKAHEAD_ON     0xaa
#define ATA_SF_REVERT_ON        0xcc  /* software reset restores defaults */

#define ATA_MAX_MULTIPLE        16    /* IDENTIFY word 47; also the power-on setting */

/* Latencies on the virtual clock (BSY time). */
#define ATA_CMD_NS     10000ull   /* command decode/seek overhead */
#define ATA_SECTOR_NS   5000ull   /* media time per sector read or written */
#define ATA_FLUSH_NS   50000ull   /* FLUSH CACHE */
#define ATA_RESET_NS  300000ull   /* SRST released -> DRDY */

/* Creates the drive on disk (owned by the caller, must outlive the device);
 * its INTRQ is interrupt line irq. Returns NULL when out of memory. */
struct hw *ata__create(const struct hw_env *env, const char *name, int irq, struct blk *disk);

#endif
