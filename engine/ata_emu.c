/*
 * ATA emulation state machine (DESIGN V6): what the guest sees once the
 * device is virtualized. It keeps its own taskfile, status, device control,
 * INTRQ and data window, with the register semantics of the hardware model
 * (devices/ata.h: writes ignored while BSY/DRQ, taskfile reads return the
 * status while BSY, device 1 absent, status read acknowledges INTRQ, nIEN
 * gates the line, byte/word/dword data accesses).
 *
 * It is a command proxy: a command becomes a request for the monitor's
 * driver (ata_drv.c), which runs it on the hardware and calls back here
 * with each DRQ block and with the completion, carrying the hardware's own
 * status, error and taskfile, so that the guest reads what the hardware
 * would have shown it. Meanwhile the guest sees BSY. SRST resets the
 * hardware through the driver.
 */
#include "ata_priv.h"

/* Drives the guest's line from INTRQ and nIEN, on changes only (force:
 * drive it whatever it was, as when emulation takes the line over). */
void emu_line(struct ata_eng *s, int force)
{
	struct emu *e = &s->e;
	int level = e->intrq && !(e->ctrl & ATA_CTL_NIEN);
	if (level != e->line || force) {
		e->line = level;
		s->h.guest_irq(s->h.ctx, level);
	}
}

/* Sets or clears the emulated INTRQ. */
void emu_set_intrq(struct ata_eng *s, int pending)
{
	s->e.intrq = pending;
	emu_line(s, 0);
}

/* Takes the hardware's taskfile, keeping the write-only features register. */
static void take_tf(struct emu *e, const struct tfile *tf)
{
	uint8_t features = e->tf.features;
	e->tf = *tf;
	e->tf.features = features;
}

/* Driver callback: a PIO-in block is in the buffer, words [pos, len). */
void emu_in_block(struct ata_eng *s, const struct tfile *tf, unsigned pos, unsigned len,
		  int more, uint8_t end_status, int intrq)
{
	struct emu *e = &s->e;
	take_tf(e, tf);
	e->st = E_DRQ_IN;
	e->pos = pos;
	e->len = len;
	e->more = more;
	e->end_status = end_status;
	if (intrq)
		emu_set_intrq(s, 1);
}

/* Driver callback: the hardware wants PIO-out data; the guest fills the
 * rest of the current sector from word pos. */
void emu_out_drq(struct ata_eng *s, const struct tfile *tf, unsigned pos, int intrq)
{
	struct emu *e = &s->e;
	take_tf(e, tf);
	e->st = E_DRQ_OUT;
	e->pos = e->from = pos;
	e->len = SECTOR_WORDS;
	if (intrq)
		emu_set_intrq(s, 1);
}

/* Driver callback: the command ended (with intrq: the hardware raised
 * INTRQ, as every end but PIO-in's normal one does). */
void emu_done(struct ata_eng *s, const struct tfile *tf, int intrq)
{
	struct emu *e = &s->e;
	take_tf(e, tf);
	e->st = E_IDLE;
	e->pos = e->len = 0;
	if (intrq)
		emu_set_intrq(s, 1);
}

/* Driver callback: the reset the guest released has completed (no INTRQ;
 * the reset clears the features register). */
void emu_reset_done(struct ata_eng *s, const struct tfile *tf)
{
	struct emu *e = &s->e;
	e->tf = *tf;
	e->tf.features = 0;
	e->st = E_IDLE;
}

/* The guest read the last word of a PIO-in block: the hardware would now
 * be BSY for the next one, or idle after the last. */
static void in_block_end(struct ata_eng *s)
{
	struct emu *e = &s->e;
	if (e->more) {
		e->st = E_BUSY;
		e->tf.status = ST_BUSY;
	} else {
		e->st = E_IDLE;
		e->tf.status = e->end_status;
	}
	e->pos = e->len = 0;
	drv_in_consumed(s);
}

/* Data-port read: one word per 16 bits (a byte access takes one word and
 * returns its low byte); a block ending on the first word of a dword
 * access ends the transfer, so the second half reads 0. */
static uint64_t data_read(struct ata_eng *s, unsigned size)
{
	struct emu *e = &s->e;
	uint64_t v = 0;
	int ended = 0;
	for (unsigned i = 0; i < words_of(size); i++) {
		if (ended || e->st != E_DRQ_IN || e->pos >= e->len)
			continue;
		v |= (uint64_t)e->buf[e->pos++] << (16 * i);
		ended = e->pos == e->len;
	}
	if (ended)
		in_block_end(s);   /* after the access: the next block never leaks into it */
	return size == 1 ? v & 0xff : v;
}

/* Data-port write: fills the sector; a full sector goes to the hardware at
 * once, which tells whether its block continues (DRQ) or is done (BSY). */
static void data_write(struct ata_eng *s, unsigned size, uint64_t val)
{
	struct emu *e = &s->e;
	for (unsigned i = 0; i < words_of(size); i++) {
		if (e->st != E_DRQ_OUT || e->pos >= e->len)
			continue;          /* outside a PIO-out DRQ phase: dropped */
		e->buf[e->pos++] = (uint16_t)(size == 1 ? val & 0xff : val >> (16 * i));
		if (e->pos < e->len)
			continue;
		if (drv_out_sector(s)) {
			e->pos = e->from = 0;
		} else {
			e->st = E_BUSY;
			e->tf.status = ST_BUSY;
			e->pos = e->len = 0;
		}
	}
}

/* A command the emulated drive accepts: BSY, and a request for the driver. */
static void command(struct ata_eng *s, uint8_t cmd)
{
	struct emu *e = &s->e;
	struct req r = { .kind = RQ_GUEST, .cmd = cmd, .cls = cls_of(cmd), .tf = e->tf };
	e->st = E_BUSY;
	e->tf.status = ST_BUSY;
	e->pos = e->len = 0;
	if (drv_submit(s, &r)) {
		/* cannot happen with one guest command at a time; never hang */
		struct tfile tf = e->tf;
		tf.status = ATA_SR_DRDY | ATA_SR_ERR;
		tf.error = ATA_ER_ABRT;
		emu_done(s, &tf, 1);
	}
}

/* Device control: nIEN gates the line; SRST's edges reset the hardware
 * through the driver (held: BSY, device 0 selected, INTRQ cleared). */
static void ctrl_write(struct ata_eng *s, uint8_t v)
{
	struct emu *e = &s->e;
	uint8_t old = e->ctrl;
	e->ctrl = v;
	s->emm.nien = !!(v & ATA_CTL_NIEN);
	if ((v & ATA_CTL_SRST) && !(old & ATA_CTL_SRST)) {
		e->st = E_SRST;
		e->tf.status = ST_RESET;
		e->tf.device = ATA_DEV_OBS;
		e->intrq = 0;
		e->pos = e->len = 0;
		drv_srst(s, 1);
	} else if (!(v & ATA_CTL_SRST) && (old & ATA_CTL_SRST)) {
		e->st = E_RESET_WAIT;
		drv_srst(s, 0);
	}
	emu_line(s, 0);
}

/* Reads one byte-wide register (offsets 1-8). */
static uint8_t reg_read(struct ata_eng *s, unsigned off)
{
	struct emu *e = &s->e;
	int absent = e->tf.device & ATA_DEV_SLAVE;
	if (off == ATA_STATUS)
		emu_set_intrq(s, 0);
	if (off == ATA_STATUS || off == ATA_CTRL_OFF)
		return absent ? 0 : e->tf.status;
	if (absent && off == ATA_ERROR)
		return 0;
	if (!absent && (e->tf.status & ATA_SR_BSY))
		return e->tf.status;
	switch (off) {
	case ATA_ERROR:   return e->tf.error;
	case ATA_COUNT:   return e->tf.count;
	case ATA_LBA_LO:  return e->tf.lba_lo;
	case ATA_LBA_MID: return e->tf.lba_mid;
	case ATA_LBA_HI:  return e->tf.lba_hi;
	case ATA_DEVICE:  return e->tf.device;
	default:          return 0xff;
	}
}

/* Writes one byte-wide register (offsets 1-8). */
static void reg_write(struct ata_eng *s, unsigned off, uint8_t v)
{
	struct emu *e = &s->e;
	if (off == ATA_CTRL_OFF) {
		ctrl_write(s, v);
		return;
	}
	if (off == ATA_COMMAND) {
		if (e->tf.status & ATA_SR_BSY)
			return;
		emu_set_intrq(s, 0);
		if (!(e->tf.device & ATA_DEV_SLAVE) && !(e->tf.status & ATA_SR_DRQ))
			command(s, v);
		return;
	}
	if (e->tf.status & (ATA_SR_BSY | ATA_SR_DRQ))
		return;
	switch (off) {
	case ATA_FEATURES: e->tf.features = v; break;
	case ATA_COUNT:    e->tf.count = v; break;
	case ATA_LBA_LO:   e->tf.lba_lo = v; break;
	case ATA_LBA_MID:  e->tf.lba_mid = v; break;
	case ATA_LBA_HI:   e->tf.lba_hi = v; break;
	case ATA_DEVICE:   e->tf.device = v | ATA_DEV_OBS; break;
	default: break;
	}
}

/* Serves one guest access from the emulation. */
void emu_access(struct ata_eng *s, struct bus_access *a, uint64_t off)
{
	if (off == ATA_DATA) {
		if (a->write)
			data_write(s, a->size, a->value);
		else
			a->value = data_read(s, a->size);
		return;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < a->size; i++) {
		int in = same_block(off, i);
		if (a->write) {
			if (in)
				reg_write(s, (unsigned)(off + i), (uint8_t)(a->value >> (8 * i)));
		} else {
			v |= (uint64_t)(in ? reg_read(s, (unsigned)(off + i)) : 0xff) << (8 * i);
		}
	}
	if (!a->write)
		a->value = v;
}

/* Returns 1 when the emulation is quiescent: no command or reset under
 * way, INTRQ acknowledged, the guest's line low (as the hardware's will be
 * after D4, which leaves no INTRQ pending). */
int emu_quiet(const struct ata_eng *s)
{
	return s->e.st == E_IDLE && !s->e.intrq && !s->e.line;
}

/* The emulation state's name (static). */
const char *emu_name(const struct ata_eng *s)
{
	static const char *const names[] = {
		[E_IDLE] = "e-idle", [E_BUSY] = "e-busy", [E_DRQ_IN] = "e-drq-in",
		[E_DRQ_OUT] = "e-drq-out", [E_SRST] = "e-srst", [E_RESET_WAIT] = "e-reset-wait",
	};
	if (s->e.st == E_IDLE && s->e.intrq)
		return "e-intrq";
	return names[s->e.st];
}
