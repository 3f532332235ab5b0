/*
 * A PIO driver for an ATA disk on a legacy IDE channel, written the way an
 * OS driver is: it knows nothing of virtualization. Presence probe, soft
 * reset, IDENTIFY, READ/WRITE SECTORS, READ/WRITE MULTIPLE, SET MULTIPLE,
 * SET FEATURES and FLUSH CACHE, LBA28, device 0 only.
 *
 * Two completion modes: polled (nIEN set, status polled with a budget of
 * ATA_POLL_BUDGET reads, each at least ~1 us on real buses) and interrupt
 * driven (nIEN clear, the CPU halts until the drive's IRQ; the handler
 * reads the status register to acknowledge it). Interrupt mode measures its
 * timeout in PIT ticks, so the caller must run the PIT (pit_init) with IRQ0
 * unmasked while it is on. Nothing waits without a bound.
 *
 * Every call returns 0 on success, the drive's error register (> 0, e.g.
 * ATA_ERR_ABRT, ATA_ERR_IDNF) when the drive reported ERR, or a negative
 * ATA_E* code.
 */
#ifndef GUEST_ATA_H
#define GUEST_ATA_H

#include <stdint.h>

#define ATA_PRIMARY_IO   0x1f0
#define ATA_PRIMARY_CTL  0x3f6
#define ATA_PRIMARY_IRQ  14

#define ATA_ETIMEOUT  (-1)   /* BSY, DRQ or the IRQ did not come in time */
#define ATA_ENODEV    (-2)   /* nothing (or no ATA disk) answers */
#define ATA_EINVAL    (-3)   /* bad argument */
#define ATA_EPROTO    (-4)   /* the drive broke the protocol (DF, no DRQ, ...) */

/* Error register bits. */
#define ATA_ERR_AMNF  0x01
#define ATA_ERR_ABRT  0x04
#define ATA_ERR_IDNF  0x10
#define ATA_ERR_UNC   0x40

#define ATA_POLL_BUDGET 1000000u

struct ata_dev {
	uint16_t io, ctl;        /* command and control block ports */
	int irq;
	int use_irq;             /* mode: 1 interrupt driven, 0 polled */
	uint32_t irq_timeout;    /* PIT ticks to wait for one IRQ */
	int ready;               /* IDENTIFY done: modes are known */
	uint32_t sectors;        /* LBA28 capacity (IDENTIFY words 60-61) */
	uint8_t max_multiple;    /* IDENTIFY word 47 */
	uint8_t multiple;        /* mode: sectors per block, 0 = disabled */
	char model[41], serial[21];
	uint8_t status;          /* last status read */
	uint8_t error;           /* error register at the last ERR */
	uint64_t irqs;           /* drive interrupts taken */
};

/* Finds a disk as device 0 of the channel at io/ctl, resets it and reads
 * its IDENTIFY data into d (polled mode). Returns 0 or an error. */
int ata_probe(struct ata_dev *d, uint16_t io, uint16_t ctl, int irq);

/* Soft reset (SRST) with the standard's delays, checks the signature, then
 * re-establishes the driver's modes (nIEN, multiple count). */
int ata_reset(struct ata_dev *d);

/* Reads the 256 IDENTIFY words into id (may be NULL) and parses capacity,
 * model, serial, maximum and current multiple count into d. */
int ata_identify(struct ata_dev *d, uint16_t *id);

/* Switches to interrupt mode (on, timeout in PIT ticks) or back to polled. */
int ata_set_irq_mode(struct ata_dev *d, int on, uint32_t timeout_ticks);

/* SET MULTIPLE MODE: n sectors per block (0 disables); on success d->multiple = n. */
int ata_set_multiple(struct ata_dev *d, uint8_t n);

/* SET FEATURES with subcommand feature and count. */
int ata_set_features(struct ata_dev *d, uint8_t feature, uint8_t count);

/* READ SECTORS: count sectors from lba into buf (any count, split into
 * commands of up to 256). The drive, not the driver, checks the capacity. */
int ata_read(struct ata_dev *d, uint32_t lba, uint32_t count, void *buf);

/* WRITE SECTORS: count sectors from buf to lba. */
int ata_write(struct ata_dev *d, uint32_t lba, uint32_t count, const void *buf);

/* READ MULTIPLE: as ata_read, d->multiple sectors per DRQ block. */
int ata_read_multiple(struct ata_dev *d, uint32_t lba, uint32_t count, void *buf);

/* WRITE MULTIPLE: as ata_write, d->multiple sectors per DRQ block. */
int ata_write_multiple(struct ata_dev *d, uint32_t lba, uint32_t count, const void *buf);

/* FLUSH CACHE. */
int ata_flush(struct ata_dev *d);

#endif
