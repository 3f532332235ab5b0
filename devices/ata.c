/*
 * ATA/IDE disk model: one PIO drive (master) on a legacy channel, with the
 * BSY/DRQ/INTRQ protocol on the virtual clock. A command sets BSY for
 * ATA_CMD_NS (plus ATA_SECTOR_NS per sector of the first block for reads),
 * then: PIO-in raises DRQ and INTRQ per data block; PIO-out raises DRQ
 * without INTRQ for the first block, then after each block the host has
 * written spends the block's media time BSY and raises INTRQ (with DRQ for
 * the next block, or the completion status). Non-data commands complete
 * with INTRQ. Media I/O happens when the BSY time ends, so a checkpoint
 * taken while BSY holds the data still to be written in the sector buffer.
 *
 * The register-level choices (where the standard leaves room) are listed
 * in ata.h, for the engine's state machines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ata.h"

#define SECTOR_WORDS   256u
#define BUF_BYTES      (ATA_MAX_MULTIPLE * BLK_SECTOR)
#define HEADS          16u       /* CHS geometry used for translation */
#define SPT            63u
#define MAX_CYLS       16383u
#define LBA28_LIMIT    0x0fffffffu
#define STATE_MAGIC    0x41544131u   /* "ATA1" */

/* What the pending clock event does when the BSY time is over. */
enum act {
	ACT_NONE, ACT_COMPLETE, ACT_FLUSH, ACT_DIAG, ACT_IDENTIFY,
	ACT_READ, ACT_OUT_READY, ACT_WRITE, ACT_RESET, ACT_MAX
};

/* Everything a checkpoint carries; no host pointers. */
struct ata_state {
	uint32_t magic;
	uint32_t lba;           /* next sector of the command's media I/O */
	uint64_t ev_when;       /* pending event time (valid if ev_armed) */
	uint16_t remaining;     /* sectors of the command not yet done by media */
	uint16_t block;         /* sectors in the current data block */
	uint16_t pos, len;      /* word position and length of the DRQ block */
	uint8_t status, error, features, count;
	uint8_t lba_lo, lba_mid, lba_hi, device, control;
	uint8_t intrq, line;    /* interrupt pending; level driven on the line */
	uint8_t multiple, wcache, lookahead, keep_modes, xfer_mode;   /* modes */
	uint8_t cmd, act, out, pend_err, ev_armed;
	uint8_t buf[BUF_BYTES];
};

struct ata {
	struct hw hw;
	struct blk *disk;
	uint32_t sectors;       /* LBA28 capacity */
	uint32_t cyls;          /* CHS capacity = cyls * HEADS * SPT */
	struct clock_event ev;
	struct ata_state s;
};

static struct ata *to_ata(struct hw *hw) { return container_of(hw, struct ata, hw); }

/* The line follows INTRQ gated by nIEN; it is driven only on changes. */
static void update_line(struct ata *a)
{
	uint8_t level = a->s.intrq && !(a->s.control & ATA_CTL_NIEN);
	if (level != a->s.line) {
		a->s.line = level;
		hw__irq(&a->hw, level);
	}
}

static void set_intrq(struct ata *a, int pending)
{
	a->s.intrq = (uint8_t)pending;
	update_line(a);
}

static void on_event(void *ctx, uint64_t now);

/* Arms the event for act after delay; without a free clock slot the action
 * runs at once rather than leave the drive BSY forever. */
static void arm(struct ata *a, int act, uint64_t delay)
{
	struct clock *c = a->hw.env.clock;
	a->s.act = (uint8_t)act;
	if (clock__arm(c, &a->ev, c->now + delay))
		on_event(a, c->now);
}

/* Enters the BSY phase of a command; act runs when it is over. */
static void busy(struct ata *a, int act, uint64_t delay)
{
	a->s.status = ATA_SR_BSY | ATA_SR_DRDY;
	arm(a, act, delay);
}

/* Sectors in the next DRQ block of the command in flight. */
static uint16_t next_block(const struct ata *a)
{
	uint8_t c = a->s.cmd;
	uint16_t per = c == ATA_CMD_READ_MULTIPLE || c == ATA_CMD_WRITE_MULTIPLE ? a->s.multiple : 1;
	return a->s.remaining < per ? a->s.remaining : per;
}

/* Opens a DRQ phase over the current block of the buffer; intrq: with INTRQ. */
static void drq(struct ata *a, int intrq)
{
	a->s.pos = 0;
	a->s.len = (uint16_t)(a->s.block * SECTOR_WORDS);
	a->s.status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
	if (intrq)
		set_intrq(a, 1);
}

/* Forgets the command in flight. */
static void idle(struct ata_state *s)
{
	s->cmd = 0;
	s->out = 0;
	s->remaining = s->block = s->pos = s->len = 0;
}

/* Ends the command: completion status (or error) and INTRQ. */
static void finish(struct ata *a, uint8_t err)
{
	struct ata_state *s = &a->s;
	idle(s);
	s->error = err;
	s->status = err ? ATA_SR_DRDY | ATA_SR_ERR : ATA_SR_DRDY | ATA_SR_DSC;
	set_intrq(a, 1);
}

/* Returns the sector the taskfile addresses, or -1 for an impossible CHS. */
static int64_t taskfile_lba(const struct ata *a)
{
	const struct ata_state *s = &a->s;
	if (s->device & ATA_DEV_LBA)
		return (int64_t)(s->device & 0x0f) << 24 | s->lba_hi << 16 | s->lba_mid << 8 | s->lba_lo;
	uint32_t cyl = (uint32_t)s->lba_hi << 8 | s->lba_mid, sect = s->lba_lo;
	if (sect == 0 || sect > SPT || cyl >= a->cyls)
		return -1;
	return ((int64_t)cyl * HEADS + (s->device & 0x0f)) * SPT + sect - 1;
}

/* Writes sector lba back to the taskfile in the command's addressing mode. */
static void set_taskfile_lba(struct ata *a, uint32_t lba)
{
	struct ata_state *s = &a->s;
	if (s->device & ATA_DEV_LBA) {
		s->lba_lo = (uint8_t)lba;
		s->lba_mid = (uint8_t)(lba >> 8);
		s->lba_hi = (uint8_t)(lba >> 16);
		s->device = (uint8_t)((s->device & 0xf0) | ((lba >> 24) & 0x0f));
		return;
	}
	uint32_t cyl = lba / (HEADS * SPT), r = lba % (HEADS * SPT);
	s->lba_lo = (uint8_t)(r % SPT + 1);
	s->lba_mid = (uint8_t)cyl;
	s->lba_hi = (uint8_t)(cyl >> 8);
	s->device = (uint8_t)((s->device & 0xf0) | (r / SPT));
}

/* The register values a drive shows after reset or diagnostics. */
static void signature(struct ata *a)
{
	struct ata_state *s = &a->s;
	s->count = 1;
	s->lba_lo = 1;
	s->lba_mid = 0;
	s->lba_hi = 0;
	s->device &= 0xf0;
}

static void default_modes(struct ata_state *s)
{
	s->multiple = ATA_MAX_MULTIPLE;
	s->wcache = 1;
	s->lookahead = 1;
	s->xfer_mode = 0;
}

/* Stores an ATA string: space padded, two characters per word, first one
 * in the high byte (hence the i ^ 1 on little-endian words). */
static void put_str(uint8_t *buf, unsigned word, const char *str, unsigned nwords)
{
	for (unsigned i = 0; i < nwords * 2; i++) {
		char c = *str ? *str++ : ' ';
		buf[word * 2 + (i ^ 1)] = (uint8_t)c;
	}
}

static void put16(uint8_t *buf, unsigned word, uint32_t v)
{
	buf[word * 2] = (uint8_t)v;
	buf[word * 2 + 1] = (uint8_t)(v >> 8);
}

/* Fills the buffer with IDENTIFY DEVICE data reflecting the current modes. */
static void identify(struct ata *a)
{
	struct ata_state *s = &a->s;
	uint8_t *b = s->buf;
	uint32_t chs = a->cyls * HEADS * SPT;
	memset(b, 0, BLK_SECTOR);
	put16(b, 0, 0x0040);                   /* fixed device */
	put16(b, 1, a->cyls);
	put16(b, 3, HEADS);
	put16(b, 6, SPT);
	put_str(b, 10, "DEVIRT00000001", 10);  /* serial */
	put_str(b, 23, "1.0", 4);              /* firmware revision */
	put_str(b, 27, "DEVIRT ATA DISK", 20); /* model */
	put16(b, 47, 0x8000 | ATA_MAX_MULTIPLE);
	put16(b, 48, 1);                       /* 32-bit data transfers, as QEMU */
	put16(b, 49, 1u << 11 | 1u << 9);      /* IORDY, LBA; no DMA */
	put16(b, 50, 0x4000);
	put16(b, 51, 0x200);                   /* PIO timing mode 2 (obsolete word) */
	put16(b, 53, 0x0003);                  /* words 54-58 and 64-70 valid */
	put16(b, 54, a->cyls);
	put16(b, 55, HEADS);
	put16(b, 56, SPT);
	put16(b, 57, chs);
	put16(b, 58, chs >> 16);
	if (s->multiple)
		put16(b, 59, 0x100 | s->multiple);
	put16(b, 60, a->sectors);
	put16(b, 61, a->sectors >> 16);
	put16(b, 64, 0x0003);                  /* PIO modes 3 and 4 */
	for (unsigned w = 65; w <= 68; w++)
		put16(b, w, 120);
	put16(b, 80, 0x007e);                  /* ATA-1 .. ATA/ATAPI-6 */
	put16(b, 82, 1u << 6 | 1u << 5);       /* look-ahead, write cache */
	put16(b, 83, 1u << 14 | 1u << 12);     /* FLUSH CACHE; no 48-bit */
	put16(b, 84, 1u << 14);
	put16(b, 85, (s->lookahead ? 1u << 6 : 0) | (s->wcache ? 1u << 5 : 0));
	put16(b, 86, 1u << 12);
	put16(b, 87, 1u << 14);
	uint8_t sum = 0xa5;                    /* word 255: signature + checksum */
	for (unsigned i = 0; i < 510; i++)
		sum = (uint8_t)(sum + b[i]);
	put16(b, 255, 0xa5 | (uint32_t)(uint8_t)-sum << 8);
}

/* SET FEATURES: returns 0 or the error register value. */
static uint8_t set_features(struct ata *a)
{
	struct ata_state *s = &a->s;
	switch (s->features) {
	case ATA_SF_WCACHE_ON:
		s->wcache = 1;
		return 0;
	case ATA_SF_WCACHE_OFF:
		s->wcache = 0;
		return blk__flush(a->disk) ? ATA_ER_ABRT : 0;
	case ATA_SF_LOOKAHEAD_ON:
	case ATA_SF_LOOKAHEAD_OFF:
		s->lookahead = s->features == ATA_SF_LOOKAHEAD_ON;
		return 0;
	case ATA_SF_REVERT_ON:
	case ATA_SF_REVERT_OFF:
		s->keep_modes = s->features == ATA_SF_REVERT_OFF;
		return 0;
	case ATA_SF_XFER_MODE:
		/* PIO default (00h/01h) or PIO flow-control mode 0-4 (08h-0Ch);
		 * the drive has no DMA engine, so DMA modes are refused. */
		if (s->count <= 0x01 || (s->count >= 0x08 && s->count <= 0x0c)) {
			s->xfer_mode = s->count;
			return 0;
		}
		return ATA_ER_ABRT;
	default:
		return ATA_ER_ABRT;
	}
}

/* Starts READ/WRITE SECTORS or MULTIPLE, or fails it after the overhead. */
static void start_xfer(struct ata *a, uint8_t cmd)
{
	struct ata_state *s = &a->s;
	int multi = cmd == ATA_CMD_READ_MULTIPLE || cmd == ATA_CMD_WRITE_MULTIPLE;
	uint32_t n = s->count ? s->count : 256;
	int64_t lba = taskfile_lba(a);
	uint64_t limit = s->device & ATA_DEV_LBA ? a->sectors : (uint64_t)a->cyls * HEADS * SPT;

	if (multi && !s->multiple) {
		s->pend_err = ATA_ER_ABRT;
	} else if (lba < 0 || (uint64_t)lba + n > limit) {
		s->pend_err = ATA_ER_IDNF;
	}
	if (s->pend_err) {
		busy(a, ACT_COMPLETE, ATA_CMD_NS);
		return;
	}
	s->lba = (uint32_t)lba;
	s->remaining = (uint16_t)n;
	s->out = cmd == ATA_CMD_WRITE || cmd == ATA_CMD_WRITE_MULTIPLE;
	s->block = next_block(a);
	if (s->out)
		busy(a, ACT_OUT_READY, ATA_CMD_NS);
	else
		busy(a, ACT_READ, ATA_CMD_NS + s->block * ATA_SECTOR_NS);
}

/* A command register write the drive accepts. */
static void command(struct ata *a, uint8_t cmd)
{
	struct ata_state *s = &a->s;
	s->cmd = cmd;
	s->error = 0;
	s->pend_err = 0;
	switch (cmd) {
	case ATA_CMD_READ:
	case ATA_CMD_WRITE:
	case ATA_CMD_READ_MULTIPLE:
	case ATA_CMD_WRITE_MULTIPLE:
		start_xfer(a, cmd);
		return;
	case ATA_CMD_IDENTIFY:
		busy(a, ACT_IDENTIFY, ATA_CMD_NS);
		return;
	case ATA_CMD_FLUSH:
		busy(a, ACT_FLUSH, ATA_FLUSH_NS);
		return;
	case ATA_CMD_DIAGNOSE:
		busy(a, ACT_DIAG, ATA_CMD_NS);
		return;
	case ATA_CMD_SET_MULTIPLE:
		if (s->count > ATA_MAX_MULTIPLE || (s->count & (s->count - 1)))
			s->pend_err = ATA_ER_ABRT;
		else
			s->multiple = s->count;       /* 0 disables multiple mode */
		break;
	case ATA_CMD_SET_FEATURES:
		s->pend_err = set_features(a);
		break;
	case ATA_CMD_INIT_PARAMS:
		break;                            /* accepted; translation stays 16/63 */
	default:
		s->pend_err = ATA_ER_ABRT;
		break;
	}
	busy(a, ACT_COMPLETE, ATA_CMD_NS);
}

/* The media part of a block is done: the taskfile shows the progress
 * (next sector, sectors left), as QEMU's does. */
static void advance(struct ata *a)
{
	struct ata_state *s = &a->s;
	s->lba += s->block;
	s->remaining -= s->block;
	set_taskfile_lba(a, s->lba);
	s->count = (uint8_t)s->remaining;
}

/* Media read of the current block done: hand it to the host. */
static void read_block(struct ata *a)
{
	if (blk__read(a->disk, a->s.lba, a->s.buf, a->s.block)) {
		finish(a, ATA_ER_UNC);
		return;
	}
	advance(a);
	drq(a, 1);
}

/* Media write of the block the host filled is done. */
static void write_block(struct ata *a)
{
	struct ata_state *s = &a->s;
	int rc = blk__write(a->disk, s->lba, s->buf, s->block);
	if (!rc && !s->wcache)
		rc = blk__flush(a->disk);         /* write-through when the cache is off */
	if (rc) {
		finish(a, ATA_ER_ABRT);
		return;
	}
	advance(a);
	if (!s->remaining) {
		finish(a, 0);
		return;
	}
	s->block = next_block(a);
	drq(a, 1);
}

static void reset_done(struct ata *a)
{
	struct ata_state *s = &a->s;
	if (!s->keep_modes)
		default_modes(s);
	s->features = 0;
	s->device = ATA_DEV_OBS;
	signature(a);
	s->error = 0x01;                      /* diagnostic code: device 0 passed */
	s->status = ATA_SR_DRDY | ATA_SR_DSC;
}

static void on_event(void *ctx, uint64_t now)
{
	(void)now;
	struct ata *a = ctx;
	struct ata_state *s = &a->s;
	int act = s->act;
	s->act = ACT_NONE;
	switch (act) {
	case ACT_COMPLETE:
		finish(a, s->pend_err);
		break;
	case ACT_FLUSH:
		finish(a, blk__flush(a->disk) ? ATA_ER_ABRT : 0);
		break;
	case ACT_DIAG:
		signature(a);
		finish(a, 0);
		s->error = 0x01;              /* a diagnostic code, not an error */
		break;
	case ACT_IDENTIFY:
		identify(a);
		s->block = 1;
		drq(a, 1);
		break;
	case ACT_READ:
		read_block(a);
		break;
	case ACT_OUT_READY:
		drq(a, 0);                    /* no INTRQ: PIO-out protocol */
		break;
	case ACT_WRITE:
		write_block(a);
		break;
	case ACT_RESET:
		reset_done(a);
		break;
	default:
		break;
	}
}

/* The host read the last word of a PIO-in block. */
static void in_block_done(struct ata *a)
{
	struct ata_state *s = &a->s;
	if (s->cmd == ATA_CMD_IDENTIFY || !s->remaining) {
		idle(s);
		s->status = ATA_SR_DRDY | ATA_SR_DSC;   /* PIO-in ends without INTRQ */
		return;
	}
	s->block = next_block(a);
	busy(a, ACT_READ, s->block * ATA_SECTOR_NS);
}

static uint16_t data_in(struct ata *a)
{
	struct ata_state *s = &a->s;
	if ((s->status & (ATA_SR_BSY | ATA_SR_DRQ)) != ATA_SR_DRQ || s->out || s->pos >= s->len)
		return 0;
	uint16_t w = (uint16_t)(s->buf[s->pos * 2] | s->buf[s->pos * 2 + 1] << 8);
	if (++s->pos == s->len)
		in_block_done(a);
	return w;
}

static void data_out(struct ata *a, uint16_t w)
{
	struct ata_state *s = &a->s;
	if ((s->status & (ATA_SR_BSY | ATA_SR_DRQ)) != ATA_SR_DRQ || !s->out || s->pos >= s->len)
		return;
	s->buf[s->pos * 2] = (uint8_t)w;
	s->buf[s->pos * 2 + 1] = (uint8_t)(w >> 8);
	if (++s->pos == s->len)
		busy(a, ACT_WRITE, s->block * ATA_SECTOR_NS);
}

/* Reads one byte-wide register (offsets 1-8). */
static uint8_t reg_read(struct ata *a, unsigned off)
{
	struct ata_state *s = &a->s;
	int absent = s->device & ATA_DEV_SLAVE;
	if (off == ATA_STATUS)
		set_intrq(a, 0);              /* reading status acknowledges INTRQ */
	if (off == ATA_STATUS || off == ATA_CTRL_OFF)
		return absent ? 0 : s->status;
	if (absent && off == ATA_ERROR)
		return 0;
	if (!absent && (s->status & ATA_SR_BSY))
		return s->status;
	switch (off) {
	case ATA_ERROR:   return s->error;
	case ATA_COUNT:   return s->count;
	case ATA_LBA_LO:  return s->lba_lo;
	case ATA_LBA_MID: return s->lba_mid;
	case ATA_LBA_HI:  return s->lba_hi;
	case ATA_DEVICE:  return s->device;
	default:          return 0xff;
	}
}

static void control_write(struct ata *a, uint8_t v)
{
	struct ata_state *s = &a->s;
	uint8_t old = s->control;
	s->control = v;
	if ((v & ATA_CTL_SRST) && !(old & ATA_CTL_SRST)) {
		/* Reset asserted: abort everything; BSY until released. */
		clock__disarm(a->hw.env.clock, &a->ev);
		s->act = ACT_NONE;
		idle(s);
		s->device = ATA_DEV_OBS;
		s->status = ATA_SR_BSY;
		s->intrq = 0;
	} else if (!(v & ATA_CTL_SRST) && (old & ATA_CTL_SRST)) {
		arm(a, ACT_RESET, ATA_RESET_NS);
	}
	update_line(a);
}

/* Writes one byte-wide register (offsets 1-8). */
static void reg_write(struct ata *a, unsigned off, uint8_t v)
{
	struct ata_state *s = &a->s;
	if (off == ATA_CTRL_OFF) {
		control_write(a, v);
		return;
	}
	if (off == ATA_COMMAND) {
		if (s->status & ATA_SR_BSY)
			return;
		set_intrq(a, 0);
		if (!(s->device & ATA_DEV_SLAVE) && !(s->status & ATA_SR_DRQ))
			command(a, v);
		return;
	}
	if (s->status & (ATA_SR_BSY | ATA_SR_DRQ))
		return;
	switch (off) {
	case ATA_FEATURES: s->features = v; break;
	case ATA_COUNT:    s->count = v; break;
	case ATA_LBA_LO:   s->lba_lo = v; break;
	case ATA_LBA_MID:  s->lba_mid = v; break;
	case ATA_LBA_HI:   s->lba_hi = v; break;
	case ATA_DEVICE:   s->device = v | ATA_DEV_OBS; break;
	default:           break;
	}
}

/* True when byte i of an access at off still lies in the same register
 * block (command block 1-7 or control block 8): wider accesses split there. */
static int same_block(uint64_t off, unsigned i)
{
	uint64_t r = off + i;
	return off < ATA_CTRL_OFF ? r < ATA_CTRL_OFF : r == ATA_CTRL_OFF;
}

static uint64_t ata_read(struct hw *hw, uint64_t off, unsigned size)
{
	struct ata *a = to_ata(hw);
	uint64_t v = 0;
	if (off == ATA_DATA) {                /* one word per 16 bits; a byte moves one word too */
		for (unsigned i = 0; i < (size + 1) / 2; i++)
			v |= (uint64_t)data_in(a) << (16 * i);
		return size == 1 ? v & 0xff : v;
	}
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)(same_block(off, i) ? reg_read(a, (unsigned)off + i) : 0xff) << (8 * i);
	return v;
}

static void ata_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	struct ata *a = to_ata(hw);
	if (off == ATA_DATA) {
		for (unsigned i = 0; i < (size + 1) / 2; i++)
			data_out(a, (uint16_t)(size == 1 ? val & 0xff : val >> (16 * i)));
		return;
	}
	for (unsigned i = 0; i < size; i++)
		if (same_block(off, i))
			reg_write(a, (unsigned)off + i, (uint8_t)(val >> (8 * i)));
}

static size_t ata_save(struct hw *hw, void *buf, size_t len)
{
	struct ata *a = to_ata(hw);
	if (len < sizeof(a->s))
		return sizeof(a->s);
	a->s.ev_armed = (uint8_t)a->ev.armed;
	a->s.ev_when = a->ev.armed ? a->ev.when : 0;
	memcpy(buf, &a->s, sizeof(a->s));
	/* States that behave alike save alike (replay checkpoints compare them
	 * bytewise): buffer bytes no transfer will use are saved as zeros. The
	 * block in the buffer matters during DRQ and until a written block
	 * reaches the media; otherwise the next command refills it. */
	size_t keep = (a->s.status & ATA_SR_DRQ) || a->s.act == ACT_WRITE ? (size_t)a->s.len * 2 : 0;
	memset((uint8_t *)buf + offsetof(struct ata_state, buf) + keep, 0, BUF_BYTES - keep);
	return sizeof(a->s);
}

/* Rejects states that would index outside the buffer or stall forever. */
static int state_ok(const struct ata_state *s)
{
	return s->magic == STATE_MAGIC && s->act < ACT_MAX &&
	       s->multiple <= ATA_MAX_MULTIPLE && !(s->multiple & (s->multiple - 1)) &&
	       s->block <= ATA_MAX_MULTIPLE && s->remaining <= 256 &&
	       s->len <= BUF_BYTES / 2 && s->pos <= s->len &&
	       (s->act == ACT_NONE || s->ev_armed);
}

static int ata_restore(struct hw *hw, const void *buf, size_t len)
{
	struct ata *a = to_ata(hw);
	struct ata_state s;
	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (!state_ok(&s))
		return -EINVAL;
	clock__disarm(hw->env.clock, &a->ev);
	a->s = s;
	a->s.line = a->s.intrq && !(a->s.control & ATA_CTL_NIEN);
	/* Re-drive the line: a no-op for an interrupt controller restored from
	 * the same checkpoint (its edge detector already holds this level). */
	hw__irq(hw, a->s.line);
	if (s.ev_armed && clock__arm(hw->env.clock, &a->ev, s.ev_when))
		on_event(a, hw->env.clock->now);
	return 0;
}

static void ata_destroy(struct hw *hw)
{
	struct ata *a = to_ata(hw);
	clock__disarm(hw->env.clock, &a->ev);
	free(a);
}

static const struct hw_ops ata_ops = {
	.model = "ata-disk",
	.read = ata_read,
	.write = ata_write,
	.save = ata_save,
	.restore = ata_restore,
	.destroy = ata_destroy,
};

struct hw *ata__create(const struct hw_env *env, const char *name, int irq, struct blk *disk)
{
	struct ata *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	hw__init(&a->hw, &ata_ops, name, irq, env);
	clock__event_init(&a->ev, on_event, a);
	a->disk = disk;
	a->sectors = disk->sectors < LBA28_LIMIT ? (uint32_t)disk->sectors : LBA28_LIMIT;
	a->cyls = a->sectors / (HEADS * SPT);
	if (a->cyls > MAX_CYLS)
		a->cyls = MAX_CYLS;
	a->s.magic = STATE_MAGIC;
	default_modes(&a->s);
	/* Power-on: diagnostics passed, signature in the taskfile. */
	a->s.device = ATA_DEV_OBS;
	signature(a);
	a->s.error = 0x01;
	a->s.status = ATA_SR_DRDY | ATA_SR_DSC;
	return &a->hw;
}
