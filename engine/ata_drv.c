/*
 * The monitor's own ATA PIO driver (DESIGN V5, V6, D2-D4). From V5 to D4
 * it owns the hardware and reaches it only through hw->ops->read/write. A
 * FIFO of requests (the guest's proxied command, the monitor's IDENTIFY,
 * SET MULTIPLE / SET FEATURES and taskfile-restoring commands) runs one at
 * a time. The hardware runs with nIEN clear: its INTRQ reaches hw_irq(),
 * which only notes it and arms a zero-delay clock event; the work happens
 * in drv_service(), which is level-driven (it looks at the alternate status,
 * so a missed or stale edge cannot stall it) and also runs from a poll
 * timer, for the waits the protocol does not end with an interrupt
 * (PIO-out's first DRQ, the end of a reset, V5 while the guest's nIEN is
 * set).
 *
 * Data moves a sector at a time; after each sector the alternate status
 * says whether the hardware's DRQ block goes on, so block sizes are the
 * hardware's own whatever the multiple count.
 */
#include <errno.h>
#include "ata_priv.h"

/* Reads a byte-wide hardware register. */
uint8_t hw_rd(struct ata_eng *s, unsigned off)
{
	return (uint8_t)s->h.hw->ops->read(s->h.hw, off, 1);
}

/* Writes a byte-wide hardware register. */
void hw_wr(struct ata_eng *s, unsigned off, uint8_t v)
{
	s->h.hw->ops->write(s->h.hw, off, 1, v);
}

/* Reads the hardware's taskfile (error..device; it must not be BSY). The
 * status and the write-only features are left to the caller. */
void hw_read_tf(struct ata_eng *s, struct tfile *tf)
{
	tf->error = hw_rd(s, ATA_ERROR);
	tf->count = hw_rd(s, ATA_COUNT);
	tf->lba_lo = hw_rd(s, ATA_LBA_LO);
	tf->lba_mid = hw_rd(s, ATA_LBA_MID);
	tf->lba_hi = hw_rd(s, ATA_LBA_HI);
	tf->device = hw_rd(s, ATA_DEVICE);
}

/* Reads the registers the guest would read from an idle drive: device 0's
 * status (alternate: INTRQ untouched) and error even if the guest selected
 * the absent device 1; then device 0 stays selected for the monitor, the
 * emulation keeps the guest's device register and D4 writes it back. */
void hw_snapshot(struct ata_eng *s, struct tfile *tf)
{
	uint8_t dev = hw_rd(s, ATA_DEVICE);
	if (dev & ATA_DEV_SLAVE)
		hw_wr(s, ATA_DEVICE, dev & (uint8_t)~ATA_DEV_SLAVE);
	hw_read_tf(s, tf);
	tf->device = dev;
	tf->status = hw_rd(s, ATA_CTRL_OFF);
}

/* Loads a taskfile into the hardware (device first, as drivers do). */
static void load_tf(struct ata_eng *s, const struct tfile *tf)
{
	hw_wr(s, ATA_DEVICE, tf->device);
	hw_wr(s, ATA_FEATURES, tf->features);
	hw_wr(s, ATA_COUNT, tf->count);
	hw_wr(s, ATA_LBA_LO, tf->lba_lo);
	hw_wr(s, ATA_LBA_MID, tf->lba_mid);
	hw_wr(s, ATA_LBA_HI, tf->lba_hi);
}

/* Clock event armed by drv_irq(): services the hardware outside the
 * model's own code, then lets the core re-run its pending steps. */
static void irq_fired(void *ctx, uint64_t now)
{
	struct ata_eng *s = ctx;
	(void)now;
	if (!s->drv_on)
		return;
	drv_service(s);
	s->h.kick(s->h.ctx);
}

/* Poll timer: the same, for waits that end without an interrupt. */
static void poll_fired(void *ctx, uint64_t now)
{
	irq_fired(ctx, now);
}

/* Arms the poll timer one period from now. */
static void arm_poll(struct ata_eng *s)
{
	clock__arm(s->h.clock, &s->d.poll_ev, s->h.clock->now + DRV_POLL_NS);
}

/* Prepares the driver's clock events. */
void drv_init(struct ata_eng *s)
{
	clock__event_init(&s->d.irq_ev, irq_fired, s);
	clock__event_init(&s->d.poll_ev, poll_fired, s);
}

/* Disarms the driver's clock events. */
void drv_fini(struct ata_eng *s)
{
	clock__disarm(s->h.clock, &s->d.irq_ev);
	clock__disarm(s->h.clock, &s->d.poll_ev);
}

/* The hardware's line changed (routed to the monitor). Only notes it. */
void drv_irq(struct ata_eng *s, int level)
{
	s->d.line = level;
	if (level && s->drv_on)
		clock__arm(s->h.clock, &s->d.irq_ev, s->h.clock->now);
}

/* Returns 1 while the driver has requests queued or one on the hardware. */
int drv_busy(const struct ata_eng *s)
{
	return s->d.st != D_IDLE || s->d.qn;
}

/* Queues a request and starts it if the hardware is free. Returns 0 or
 * -ENOSPC. */
int drv_submit(struct ata_eng *s, const struct req *r)
{
	struct drv *d = &s->d;
	if (d->qn == DRV_QUEUE)
		return -ENOSPC;
	d->q[(d->qh + d->qn) % DRV_QUEUE] = *r;
	d->qn++;
	drv_service(s);
	return 0;
}

/* Queues IDENTIFY DEVICE for the monitor (purpose: which step wants the
 * modes). Returns 0 or -ENOSPC. */
int drv_identify(struct ata_eng *s, int purpose)
{
	struct req r = { .kind = RQ_IDENTIFY, .purpose = purpose, .cmd = ATA_CMD_IDENTIFY,
			 .cls = CLS_IN, .tf = { .device = ATA_DEV_OBS } };
	return drv_submit(s, &r);
}

/* Queues a non-data (or failing) command of the monitor's own, LBA
 * addressed on device 0. Returns 0 or -ENOSPC. */
int drv_monitor_cmd(struct ata_eng *s, uint8_t cmd, uint8_t features, uint8_t count, uint32_t lba)
{
	struct req r = { .kind = RQ_CMD, .cmd = cmd, .cls = cls_of(cmd),
			 .tf = { .features = features, .count = count, .lba_lo = (uint8_t)lba,
				 .lba_mid = (uint8_t)(lba >> 8), .lba_hi = (uint8_t)(lba >> 16),
				 .device = (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)) } };
	return drv_submit(s, &r);
}

/* Starts the next queued request if the hardware can take a command.
 * Returns 1 if one was started. */
static int issue(struct ata_eng *s)
{
	struct drv *d = &s->d;
	uint8_t a = hw_rd(s, ATA_CTRL_OFF);
	if (a & (ATA_SR_BSY | ATA_SR_DRQ)) {
		arm_poll(s);
		return 0;
	}
	d->cur = d->q[d->qh];
	d->qh = (d->qh + 1) % DRV_QUEUE;
	d->qn--;
	d->cur.out_first = d->cur.cls == CLS_OUT;
	load_tf(s, &d->cur.tf);
	hw_wr(s, ATA_COMMAND, d->cur.cmd);
	d->st = D_WAIT;
	arm_poll(s);
	return 1;
}

/* The modes an IDENTIFY block reports: word 59 the current multiple
 * setting (bit 8 valid), word 85 write cache (bit 5) and look-ahead
 * (bit 6) enabled. */
static void parse_identify(const uint16_t *id, struct amode *m)
{
	m->mult = (id[59] & 0x100) ? (uint8_t)id[59] : 0;
	m->wcache = !!(id[85] & (1u << 5));
	m->lookahead = !!(id[85] & (1u << 6));
}

/* The monitor's IDENTIFY ended (ok: its data is in d->id): the hardware's
 * modes are now known, and they are the guest's too, since every mode
 * command the guest wrote reached the hardware (directly or through this
 * driver): the emulation's belief, which came from tracking, is replaced. */
static void identify_done(struct ata_eng *s, int ok)
{
	struct drv *d = &s->d;
	if (ok) {
		parse_identify(d->id, &s->hwm);
		parse_identify(d->id, &s->emm);
		s->mode_known = 1;
	}
	if (d->cur.purpose == P_V5)
		s->v5 = 2;
	d->st = D_IDLE;
}

/* A PIO-in DRQ block is up (status st already read, acknowledging INTRQ):
 * reads it from word pos of its first sector, sector by sector while DRQ
 * stays up. A guest block goes to the emulation (raising its INTRQ if
 * intrq), the monitor's IDENTIFY to d->id. */
static void read_in(struct ata_eng *s, uint8_t st, unsigned pos, int intrq)
{
	struct drv *d = &s->d;
	int guest = d->cur.kind == RQ_GUEST;
	uint16_t *dst = guest ? s->e.buf : d->id;
	unsigned cap = guest ? BLOCK_WORDS : SECTOR_WORDS, idx = pos;
	unsigned k = SECTOR_WORDS - pos % SECTOR_WORDS;
	struct tfile tf = { 0 };
	uint8_t a;
	hw_read_tf(s, &tf);
	tf.status = st;
	for (unsigned guard = 0; guard <= ATA_MAX_MULTIPLE; guard++) {
		for (unsigned j = 0; j < k; j++) {
			uint16_t w = (uint16_t)s->h.hw->ops->read(s->h.hw, ATA_DATA, 2);
			if (idx < cap)
				dst[idx++] = w;
		}
		a = hw_rd(s, ATA_CTRL_OFF);
		if ((a & (ATA_SR_BSY | ATA_SR_DRQ)) != ATA_SR_DRQ)
			break;
		k = SECTOR_WORDS;
	}
	if (guest) {
		d->st = D_IN_HELD;
		if (d->cur.cmd == ATA_CMD_IDENTIFY && pos == 0) {
			/* the guest's own IDENTIFY shows the drive's modes too */
			parse_identify(s->e.buf, &s->hwm);
			parse_identify(s->e.buf, &s->emm);
			s->mode_known = 1;
		}
		emu_in_block(s, &tf, pos, idx, !!(a & ATA_SR_BSY), a, intrq);
	} else if (d->cur.kind == RQ_IDENTIFY) {
		identify_done(s, idx == SECTOR_WORDS);
	} else {
		d->last_status = a;           /* unexpected data: drained */
		d->st = (a & ATA_SR_BSY) ? D_WAIT : D_IDLE;
	}
}

/* Puts back the modes a failed SET MULTIPLE / SET FEATURES was assumed to
 * set (device control, nIEN, is not a command's to change). */
static void undo_mode(struct amode *m, const struct amode *before)
{
	uint8_t nien = m->nien;
	*m = *before;
	m->nien = nien;
}

/* The command on the hardware ended (status st read, INTRQ acknowledged):
 * hands the hardware's registers to whoever asked. */
static void complete(struct ata_eng *s, uint8_t st)
{
	struct drv *d = &s->d;
	struct req *r = &d->cur;
	struct tfile tf = { 0 };
	hw_read_tf(s, &tf);
	tf.status = st;
	d->st = D_IDLE;
	switch (r->kind) {
	case RQ_GUEST:
		if (!(st & ATA_SR_ERR)) {
			mode_apply_cmd(&s->hwm, r->cmd, r->tf.count, r->tf.features);
			mode_apply_cmd(&s->emm, r->cmd, r->tf.count, r->tf.features);
		} else if (r->adopted && s->t.undo_valid) {
			/* tracking applied the mode command when it was written */
			undo_mode(&s->hwm, &s->t.undo);
			undo_mode(&s->emm, &s->t.undo);
		}
		s->t.undo_valid = 0;
		emu_done(s, &tf, 1);
		break;
	case RQ_IDENTIFY:
		identify_done(s, 0);
		break;
	default:
		d->last_status = st;
		d->last_error = tf.error;
		if (!(st & ATA_SR_ERR))
			mode_apply_cmd(&s->hwm, r->cmd, r->tf.count, r->tf.features);
		break;
	}
}

/* The reset the driver released is over: the signature and the reverted
 * modes (unless 66h kept them) are the emulation's too. */
static void reset_done(struct ata_eng *s, uint8_t a)
{
	struct tfile tf = { 0 };
	hw_read_tf(s, &tf);
	tf.status = a;
	if (!s->hwm.keep)
		mode_reset(&s->hwm);
	if (!s->emm.keep)
		mode_reset(&s->emm);
	s->d.st = D_IDLE;
	emu_reset_done(s, &tf);
}

/* The hardware left BSY during D_WAIT: a DRQ block or the end. */
static void wait_over(struct ata_eng *s)
{
	struct drv *d = &s->d;
	uint8_t st = hw_rd(s, ATA_STATUS);     /* acknowledges INTRQ */
	if (!(st & ATA_SR_DRQ)) {
		complete(s, st);
		return;
	}
	if (d->cur.cls == CLS_OUT && d->cur.kind == RQ_GUEST) {
		struct tfile tf = { 0 };
		int intrq = !d->cur.out_first;     /* the first DRQ comes without INTRQ */
		hw_read_tf(s, &tf);
		tf.status = st;
		d->cur.out_first = 0;
		d->st = D_OUT_FILL;
		emu_out_drq(s, &tf, 0, intrq);
		return;
	}
	read_in(s, st, 0, 1);
}

/* Runs the driver as far as the hardware allows: finishes what the
 * hardware has done, starts the next request. Never waits. */
void drv_service(struct ata_eng *s)
{
	struct drv *d = &s->d;
	for (int guard = 0; guard < 64; guard++) {
		uint8_t a;
		switch (d->st) {
		case D_IDLE:
			if (!d->qn) {
				if (d->line)
					(void)hw_rd(s, ATA_STATUS);   /* a stale INTRQ: acknowledge */
				return;
			}
			if (!issue(s))
				return;
			break;
		case D_WAIT:
			a = hw_rd(s, ATA_CTRL_OFF);
			if (a & ATA_SR_BSY) {
				if (d->line)
					(void)hw_rd(s, ATA_STATUS);   /* stale: INTRQ never rises while BSY */
				arm_poll(s);
				return;
			}
			wait_over(s);
			break;
		case D_RESET_WAIT:
			a = hw_rd(s, ATA_CTRL_OFF);
			if (a & ATA_SR_BSY) {
				arm_poll(s);
				return;
			}
			reset_done(s, a);
			break;
		default:                           /* the guest holds the block or the reset */
			return;
		}
	}
}

/* The guest has read the whole PIO-in block: on to the next one, or the
 * command is over (PIO-in ends without INTRQ). */
void drv_in_consumed(struct ata_eng *s)
{
	struct drv *d = &s->d;
	if (d->st != D_IN_HELD)
		return;
	d->st = s->e.st == E_BUSY ? D_WAIT : D_IDLE;
	drv_service(s);
}

/* The guest filled the emulation's sector (words from..255): writes them
 * to the hardware. Returns 1 if the hardware's DRQ block goes on (the
 * guest continues with the next sector), 0 if the block is done (BSY until
 * the hardware's INTRQ). */
int drv_out_sector(struct ata_eng *s)
{
	struct drv *d = &s->d;
	if (d->st != D_OUT_FILL)
		return 0;
	for (unsigned i = s->e.from; i < SECTOR_WORDS; i++)
		s->h.hw->ops->write(s->h.hw, ATA_DATA, 2, s->e.buf[i]);
	uint8_t a = hw_rd(s, ATA_CTRL_OFF);
	if ((a & (ATA_SR_BSY | ATA_SR_DRQ)) == ATA_SR_DRQ)
		return 1;
	d->st = D_WAIT;
	arm_poll(s);
	return 0;
}

/* The guest's SRST: asserting aborts everything (queue included) and holds
 * the hardware in reset; releasing lets it complete, polled. */
void drv_srst(struct ata_eng *s, int assert)
{
	struct drv *d = &s->d;
	if (assert) {
		d->qn = 0;
		d->st = D_RESET_HELD;
		clock__disarm(s->h.clock, &d->poll_ev);
		hw_wr(s, ATA_CTRL_OFF, ATA_CTL_SRST);
		return;
	}
	hw_wr(s, ATA_CTRL_OFF, 0);
	d->st = D_RESET_WAIT;
	arm_poll(s);
}

/* Takeover (V6): adopts the guest's sequence in flight, as the tracker
 * followed it, and builds the emulation around it. The tracker first sees
 * the hardware's current status, so that what happened since the guest's
 * last access (a block ready, a completion) counts. V5 has checked the
 * tracker knows the guest's word position wherever it matters. */
void drv_adopt(struct ata_eng *s)
{
	struct track *t = &s->t;
	struct emu *e = &s->e;
	struct drv *d = &s->d;
	uint8_t a = hw_rd(s, ATA_CTRL_OFF), st;
	struct tfile tf = { 0 };
	trk_read(s, ATA_CTRL_OFF, 1, a);
	e->ctrl = t->ctrl;
	e->tf = t->tf;
	e->intrq = t->intrq;
	e->pos = e->len = 0;
	switch (t->st) {
	case T_SRST:
		e->st = E_SRST;
		e->tf.status = ST_RESET;
		d->st = D_RESET_HELD;
		return;
	case T_RESET_WAIT:
		e->st = E_RESET_WAIT;
		e->tf.status = ST_RESET;
		d->st = D_RESET_WAIT;
		return;
	case T_BUSY:
		e->st = E_BUSY;
		e->tf.status = ST_BUSY;
		d->cur = (struct req){ .kind = RQ_GUEST, .cmd = t->cmd, .cls = t->cls, .tf = t->tf,
				       .adopted = 1, .out_first = t->cls == CLS_OUT && !t->out_words };
		d->st = D_WAIT;
		return;
	case T_DRQ:
		d->cur = (struct req){ .kind = RQ_GUEST, .cmd = t->cmd, .cls = t->cls, .tf = t->tf,
				       .adopted = 1 };
		st = hw_rd(s, ATA_STATUS);
		if (t->cls == CLS_IN) {
			read_in(s, st, t->pos, 0);
			return;
		}
		hw_read_tf(s, &tf);
		tf.status = st;
		d->st = D_OUT_FILL;
		emu_out_drq(s, &tf, t->pos, 0);
		return;
	default:
		/* T_IDLE: the command is over, its INTRQ still pending for the
		 * guest (now the emulation's); the hardware's is acknowledged */
		hw_snapshot(s, &tf);
		(void)hw_rd(s, ATA_STATUS);
		tf.features = e->tf.features;
		e->tf = tf;
		e->st = E_IDLE;
		return;
	}
}
