/*
 * ATA PIO driver (see ata.h for the contract). The protocol, per the ATA
 * standard's PIO data-in, data-out and non-data classes:
 *   - the taskfile is written only while BSY and DRQ are clear;
 *   - after the command, wait ~400 ns before trusting the status;
 *   - PIO-in: an interrupt (or BSY clearing) per block, then DRQ; after the
 *     last block the drive only drops DRQ, with no interrupt;
 *   - PIO-out: the first DRQ comes without an interrupt; each written block
 *     ends with an interrupt (DRQ again for the next block, or completion);
 *   - non-data: one interrupt at completion.
 * Polled mode keeps nIEN set, polls the alternate status (which leaves
 * INTRQ alone) and reads the status register once per step so that no
 * INTRQ stays pending. Interrupt mode halts until the IRQ handler, which
 * reads the status register (acknowledging INTRQ) and records it.
 */
#include "guest.h"
#include "ata.h"

#define REG_DATA      0
#define REG_ERROR     1
#define REG_FEATURES  1
#define REG_COUNT     2
#define REG_LBA0      3
#define REG_LBA1      4
#define REG_LBA2      5
#define REG_DEVICE    6
#define REG_STATUS    7
#define REG_COMMAND   7

#define SR_BSY   0x80
#define SR_DF    0x20
#define SR_DRQ   0x08
#define SR_ERR   0x01

#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define DEV_LBA  0xe0            /* obsolete bits set, LBA, device 0 */

#define CMD_READ            0x20
#define CMD_WRITE           0x30
#define CMD_READ_MULTIPLE   0xc4
#define CMD_WRITE_MULTIPLE  0xc5
#define CMD_SET_MULTIPLE    0xc6
#define CMD_FLUSH           0xe7
#define CMD_IDENTIFY        0xec
#define CMD_SET_FEATURES    0xef

#define LBA28_END  (1u << 28)

/* The device whose interrupts the handler serves (one channel). */
static struct ata_dev *irq_dev;
static volatile uint64_t irq_seq;
static volatile uint8_t irq_status;

static void ata_isr(int irq)
{
	(void)irq;
	if (!irq_dev)
		return;
	irq_status = inb(irq_dev->io + REG_STATUS);   /* acknowledges INTRQ */
	irq_dev->irqs++;
	irq_seq++;
}

/* One io_delay (~1 us) covers the 400 ns a drive takes to post a status. */
static void settle(void)
{
	io_delay();
}

/* Polls the alternate status until BSY clears. Returns it or ATA_ETIMEOUT. */
static int poll_not_busy(struct ata_dev *d)
{
	for (uint32_t i = 0; i < ATA_POLL_BUDGET; i++) {
		uint8_t st = inb(d->ctl);

		if (!(st & SR_BSY)) {
			d->status = st;
			return st;
		}
	}
	return ATA_ETIMEOUT;
}

/* Halts until the drive's next IRQ after sequence number seen. Returns the
 * status the handler read, or ATA_ETIMEOUT after d->irq_timeout PIT ticks. */
static int wait_irq(struct ata_dev *d, uint64_t seen)
{
	uint64_t start = pit_ticks();

	while (irq_seq == seen) {
		if (pit_ticks() - start > d->irq_timeout)
			return ATA_ETIMEOUT;
		/* sti's one-instruction shadow: no IRQ slips in before the hlt. */
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
	d->status = irq_status;
	return irq_status;
}

/* Waits for the end of a BSY phase. expect_irq: the protocol raises INTRQ
 * at its end. Returns the status or a negative error. */
static int wait_done(struct ata_dev *d, uint64_t seen, int expect_irq)
{
	int st;

	if (d->use_irq && expect_irq) {
		st = wait_irq(d, seen);
		if (st >= 0 && (st & SR_BSY))
			st = poll_not_busy(d);
		return st;
	}
	st = poll_not_busy(d);
	if (st >= 0 && !d->use_irq) {
		st = inb(d->io + REG_STATUS);          /* drops the INTRQ nIEN hid */
		d->status = (uint8_t)st;
	}
	return st;
}

/* Turns a status into a result: 0 when it shows DRQ as wanted and no error. */
static int check(struct ata_dev *d, int st, int want_drq)
{
	if (st < 0)
		return st;
	if (st & SR_ERR) {
		d->error = inb(d->io + REG_ERROR);
		return d->error ? d->error : ATA_EPROTO;
	}
	if (st & SR_DF)
		return ATA_EPROTO;
	if (!!(st & SR_DRQ) != !!want_drq)
		return ATA_EPROTO;
	return 0;
}

/* Loads the taskfile and writes the command; *seen is the IRQ sequence
 * number before it. Returns 0 or an error. */
static int issue(struct ata_dev *d, uint8_t cmd, uint32_t lba, uint8_t count,
		 uint8_t features, uint64_t *seen)
{
	int st = poll_not_busy(d);

	if (st < 0)
		return st;
	if (st & SR_DRQ)
		return ATA_EPROTO;                     /* a transfer nobody finished */
	outb(d->io + REG_DEVICE, (uint8_t)(DEV_LBA | ((lba >> 24) & 0x0f)));
	outb(d->io + REG_FEATURES, features);
	outb(d->io + REG_COUNT, count);
	outb(d->io + REG_LBA0, (uint8_t)lba);
	outb(d->io + REG_LBA1, (uint8_t)(lba >> 8));
	outb(d->io + REG_LBA2, (uint8_t)(lba >> 16));
	*seen = irq_seq;
	outb(d->io + REG_COMMAND, cmd);
	settle();
	return 0;
}

static int nondata(struct ata_dev *d, uint8_t cmd, uint8_t features, uint8_t count)
{
	uint64_t seen;
	int rc = issue(d, cmd, 0, count, features, &seen);

	return rc ? rc : check(d, wait_done(d, seen, 1), 0);
}

/* PIO data-in of count (1-256) sectors in blocks of per sectors. */
static int pio_in(struct ata_dev *d, uint8_t cmd, uint32_t lba, unsigned count,
		  unsigned per, uint8_t *buf)
{
	uint64_t seen;
	int rc = issue(d, cmd, lba, (uint8_t)count, 0, &seen);

	for (unsigned done = 0; !rc && done < count;) {
		unsigned n = count - done < per ? count - done : per;

		rc = check(d, wait_done(d, seen, 1), 1);
		if (rc)
			break;
		seen = irq_seq;
		insw(d->io + REG_DATA, buf + done * 512, n * 256);
		done += n;
	}
	return rc ? rc : check(d, poll_not_busy(d), 0);
}

/* PIO data-out of count (1-256) sectors in blocks of per sectors. */
static int pio_out(struct ata_dev *d, uint8_t cmd, uint32_t lba, unsigned count,
		   unsigned per, const uint8_t *buf)
{
	uint64_t seen;
	int rc = issue(d, cmd, lba, (uint8_t)count, 0, &seen);
	int st;

	if (rc)
		return rc;
	st = wait_done(d, seen, 0);                    /* first DRQ: no interrupt */
	if (st >= 0 && (st & SR_ERR) && d->use_irq)
		wait_irq(d, seen);                     /* an early error does interrupt */
	rc = check(d, st, 1);
	for (unsigned done = 0; !rc;) {
		unsigned n = count - done < per ? count - done : per;

		seen = irq_seq;
		outsw(d->io + REG_DATA, buf + done * 512, n * 256);
		done += n;
		rc = check(d, wait_done(d, seen, 1), done < count);
		if (done == count)
			break;
	}
	return rc;
}

/* Splits a request into commands of at most 256 sectors. */
static int rw(struct ata_dev *d, int write, int multi, uint32_t lba, uint32_t count, uint8_t *buf)
{
	unsigned per = multi && d->multiple ? d->multiple : 1;
	uint8_t cmd = write ? (multi ? CMD_WRITE_MULTIPLE : CMD_WRITE)
			    : (multi ? CMD_READ_MULTIPLE : CMD_READ);

	if (lba >= LBA28_END || count > LBA28_END - lba)
		return ATA_EINVAL;
	while (count) {
		unsigned n = count > 256 ? 256 : count;
		int rc = write ? pio_out(d, cmd, lba, n, per, buf) : pio_in(d, cmd, lba, n, per, buf);

		if (rc)
			return rc;
		lba += n;
		count -= n;
		buf += n * 512;
	}
	return 0;
}

int ata_read(struct ata_dev *d, uint32_t lba, uint32_t count, void *buf)
{
	return rw(d, 0, 0, lba, count, buf);
}

int ata_write(struct ata_dev *d, uint32_t lba, uint32_t count, const void *buf)
{
	return rw(d, 1, 0, lba, count, (uint8_t *)(uintptr_t)buf);
}

int ata_read_multiple(struct ata_dev *d, uint32_t lba, uint32_t count, void *buf)
{
	return rw(d, 0, 1, lba, count, buf);
}

int ata_write_multiple(struct ata_dev *d, uint32_t lba, uint32_t count, const void *buf)
{
	return rw(d, 1, 1, lba, count, (uint8_t *)(uintptr_t)buf);
}

int ata_flush(struct ata_dev *d)
{
	return nondata(d, CMD_FLUSH, 0, 0);
}

int ata_set_features(struct ata_dev *d, uint8_t feature, uint8_t count)
{
	return nondata(d, CMD_SET_FEATURES, feature, count);
}

int ata_set_multiple(struct ata_dev *d, uint8_t n)
{
	int rc = nondata(d, CMD_SET_MULTIPLE, 0, n);

	if (!rc)
		d->multiple = n;
	return rc;
}

/* Copies an IDENTIFY string (two characters per word, high byte first),
 * dropping the trailing blanks. */
static void id_string(char *dst, const uint16_t *w, unsigned nwords)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nwords; i++) {
		dst[n++] = (char)(w[i] >> 8);
		dst[n++] = (char)w[i];
	}
	while (n && dst[n - 1] == ' ')
		n--;
	dst[n] = 0;
}

int ata_identify(struct ata_dev *d, uint16_t *id)
{
	static uint16_t w[256];
	int rc = pio_in(d, CMD_IDENTIFY, 0, 1, 1, (uint8_t *)w);

	if (rc)
		return rc;
	if (w[0] & 0x8000)
		return ATA_ENODEV;                     /* an ATAPI device */
	d->sectors = w[60] | (uint32_t)w[61] << 16;
	d->max_multiple = (uint8_t)w[47];
	/* Word 59 seeds the mode once; later the driver knows what it set
	 * (and QEMU never updates its cached IDENTIFY data). */
	if (!d->ready)
		d->multiple = (w[59] & 0x100) ? (uint8_t)w[59] : 0;
	id_string(d->serial, w + 10, 10);
	id_string(d->model, w + 27, 20);
	d->ready = 1;
	if (id)
		memcpy(id, w, sizeof(w));
	return 0;
}

int ata_reset(struct ata_dev *d)
{
	int st;

	outb(d->ctl, CTL_NIEN | CTL_SRST);
	udelay(5);                                     /* SRST held >= 5 us */
	outb(d->ctl, CTL_NIEN);
	udelay(2000);                                  /* >= 2 ms before polling */
	st = poll_not_busy(d);
	if (st < 0)
		return st;
	/* The ATA signature; an ATAPI device shows 14h/EBh here. */
	if (inb(d->io + REG_COUNT) != 1 || inb(d->io + REG_LBA0) != 1 ||
	    inb(d->io + REG_LBA1) != 0 || inb(d->io + REG_LBA2) != 0)
		return ATA_ENODEV;
	d->error = inb(d->io + REG_ERROR);
	if ((d->error & 0x7f) != 0x01)                 /* diagnostic code: passed */
		return ATA_EPROTO;
	d->status = inb(d->io + REG_STATUS);
	/* The drive forgot its modes (SET FEATURES 66h aside): set ours again. */
	if (d->use_irq)
		outb(d->ctl, 0);
	return d->ready ? ata_set_multiple(d, d->multiple) : 0;
}

int ata_set_irq_mode(struct ata_dev *d, int on, uint32_t timeout_ticks)
{
	if (!on) {
		outb(d->ctl, CTL_NIEN);
		pic_mask(d->irq);
		d->use_irq = 0;
		return 0;
	}
	if (d->irq < 0 || d->irq > 15 || !timeout_ticks)
		return ATA_EINVAL;
	irq_dev = d;
	d->irq_timeout = timeout_ticks;
	irq_register(d->irq, ata_isr);
	(void)inb(d->io + REG_STATUS);                /* no stale INTRQ may reach the line */
	outb(d->ctl, 0);
	pic_unmask(d->irq);
	d->use_irq = 1;
	return 0;
}

int ata_probe(struct ata_dev *d, uint16_t io, uint16_t ctl, int irq)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->io = io;
	d->ctl = ctl;
	d->irq = irq;
	if (inb(ctl) == 0xff)
		return ATA_ENODEV;                     /* floating bus: no controller */
	outb(io + REG_DEVICE, 0xa0);
	settle();
	if (poll_not_busy(d) < 0 || inb(ctl) == 0)
		return ATA_ENODEV;                     /* status 0: no device 0 */
	outb(ctl, CTL_NIEN);
	/* A present device latches its taskfile; test with two patterns. */
	outb(io + REG_COUNT, 0x55);
	outb(io + REG_LBA0, 0xaa);
	outb(io + REG_COUNT, 0xaa);
	outb(io + REG_LBA0, 0x55);
	if (inb(io + REG_COUNT) != 0xaa || inb(io + REG_LBA0) != 0x55)
		return ATA_ENODEV;
	rc = ata_reset(d);
	return rc ? rc : ata_identify(d, NULL);
}
