/*
 * The ATA engine module (edev.h, model "ata-disk"): the switch steps and
 * the answers given to the guest while a switch holds it off.
 *
 * V3 seeds the tracker (ata_track.c) from the hardware's alternate status.
 * V5, with the guest between sequences, snapshots the taskfile the guest
 * would read and, if the mode is uncertain, has the driver (ata_drv.c) run
 * IDENTIFY for the multiple count and features; meanwhile the guest is
 * answered from the snapshot (it is idle, after all) and its writes are
 * deferred. With midseq
 * takeover and the guest mid-sequence, V5 checks the tracker knows enough
 * and V6 adopts the command in flight (drv_adopt). V6 starts the emulation
 * (ata_emu.c) with the hardware at nIEN=0 for the driver.
 *
 * D1 waits for the emulation to be quiescent; D2/D3 for the driver's queue
 * and the hardware; D4 sets the guest's modes where the hardware's differ,
 * makes the hardware's error/status and taskfile what the guest last saw
 * (re-running a command that produces the same error where the monitor's
 * own commands changed it), and restores nIEN last. Writes deferred during
 * the switch are remembered so that tracking, which resumes in
 * pass-through, knows the commands the core replays to the hardware.
 *
 * The monitor reads the mode back (IDENTIFY) only when tracking is not
 * certain of it (at first, after a mode command seen only in pass-through,
 * after losing sync): otherwise a switch costs the drive no time at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ata_priv.h"

#define LBA28_LAST 0x0fffffffu     /* beyond any LBA28 disk: IDNF */

/* The module's state behind the core's opaque pointer. */
static struct ata_eng *eng(void *st) { return st; }

/* Creates the module's state (pass-through, power-on knowledge). */
static void *ata_create(const struct edev_host *h)
{
	struct ata_eng *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->h = *h;
	trk_init(s);
	drv_init(s);
	return s;
}

/* Frees the module's state. */
static void ata_destroy(void *st)
{
	struct ata_eng *s = eng(st);
	drv_fini(s);
	free(s->sh.dq);
	free(s);
}

/* Forgets the switch's deferred writes and their effect on reads. */
static void shadow_clear(struct ata_eng *s)
{
	s->sh.active = s->sh.busy = s->sh.owed = 0;
	s->sh.nd = 0;
}

/* Starts answering reads from tf/ctrl plus the writes deferred from now. */
static void shadow_begin(struct ata_eng *s, const struct tfile *tf, uint8_t ctrl)
{
	shadow_clear(s);
	s->sh.active = 1;
	s->sh.tf = *tf;
	s->sh.ctrl = ctrl;
}

/* One byte of a read answered from the shadow: the registers as the guest
 * would see them, BSY after a deferred command or SRST (the hardware will
 * be busy with it once replayed), BSY on the alternate status under the
 * busy policy (the inserted "not ready" polls that hold off a new
 * sequence; the status register itself stays truthful, since drivers read
 * it once rather than poll it). */
static uint8_t shadow_reg(struct ata_eng *s, unsigned off, int policy)
{
	struct shadow *sh = &s->sh;
	int absent = sh->tf.device & ATA_DEV_SLAVE;
	uint8_t st = sh->busy ? sh->busy_status : sh->tf.status;
	if (off == ATA_STATUS)
		return absent ? 0 : st;
	if (off == ATA_CTRL_OFF)
		return absent ? 0 : !sh->busy && policy == EDEV_BLOCK_BUSY ? ST_BUSY : st;
	if (absent && off == ATA_ERROR)
		return 0;
	if (!absent && (st & ATA_SR_BSY))
		return st;
	switch (off) {
	case ATA_ERROR:   return sh->tf.error;
	case ATA_COUNT:   return sh->tf.count;
	case ATA_LBA_LO:  return sh->tf.lba_lo;
	case ATA_LBA_MID: return sh->tf.lba_mid;
	case ATA_LBA_HI:  return sh->tf.lba_hi;
	case ATA_DEVICE:  return sh->tf.device;
	default:          return 0xff;
	}
}

/* A read answered from the shadow (data reads 0: no DRQ phase). */
static uint64_t shadow_read(struct ata_eng *s, uint64_t off, unsigned size, int policy)
{
	uint64_t v = 0;
	if (off == ATA_DATA)
		return 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)(same_block(off, i) ? shadow_reg(s, (unsigned)(off + i), policy) : 0xff)
		     << (8 * i);
	return v;
}

/* Applies one deferred byte write to the shadow, as the hardware will. */
static void shadow_reg_write(struct ata_eng *s, unsigned off, uint8_t v)
{
	struct shadow *sh = &s->sh;
	if (off == ATA_CTRL_OFF) {
		if ((v & ATA_CTL_SRST) && !(sh->ctrl & ATA_CTL_SRST)) {
			sh->busy = 1;
			sh->busy_status = ST_RESET;
			sh->tf.device = ATA_DEV_OBS;
		}
		sh->ctrl = v;
		return;
	}
	if (sh->busy)
		return;
	if (off == ATA_COMMAND) {
		if (!(sh->tf.device & ATA_DEV_SLAVE)) {
			sh->busy = 1;
			sh->busy_status = ST_BUSY;
		}
		return;
	}
	switch (off) {
	case ATA_FEATURES: sh->tf.features = v; break;
	case ATA_COUNT:    sh->tf.count = v; break;
	case ATA_LBA_LO:   sh->tf.lba_lo = v; break;
	case ATA_LBA_MID:  sh->tf.lba_mid = v; break;
	case ATA_LBA_HI:   sh->tf.lba_hi = v; break;
	case ATA_DEVICE:   sh->tf.device = v | ATA_DEV_OBS; break;
	default: break;
	}
}

/* Records a write the core defers, and its effect on later reads. */
static void shadow_defer(struct ata_eng *s, const struct bus_access *a, uint64_t off)
{
	struct shadow *sh = &s->sh;
	if (off != ATA_DATA)
		for (unsigned i = 0; i < a->size; i++)
			if (same_block(off, i))
				shadow_reg_write(s, (unsigned)(off + i), (uint8_t)(a->value >> (8 * i)));
	if (sh->nd == sh->cap) {
		size_t cap = sh->cap ? sh->cap * 2 : 16;
		void *p = realloc(sh->dq, cap * sizeof(*sh->dq));
		if (!p)
			return;            /* tracking will resync on its own */
		sh->dq = p;
		sh->cap = cap;
	}
	sh->dq[sh->nd].off = off;
	sh->dq[sh->nd].size = a->size;
	sh->dq[sh->nd].val = a->value;
	sh->nd++;
}

/* How a guest access is served during a switch (edev.h). While tracking
 * everything goes to the hardware. In CAPTURE the hardware is the
 * monitor's: reads come from the V5 snapshot, writes are deferred (to be
 * replayed into the emulation). In QUIESCE/DRAIN the emulation serves the
 * guest's current sequence; once it is idle, a new sequence's writes are
 * deferred (replayed to the hardware after D6) and reads show what the
 * guest would see, BSY after a deferred command. */
static int ata_block(void *st, struct bus_access *a, uint64_t off, int phase, int policy)
{
	struct ata_eng *s = eng(st);
	if (phase == EDEV_PH_WAIT)
		return EDEV_FORWARD;
	if (phase != EDEV_PH_CAPTURE && !s->sh.active) {
		if (s->e.st != E_IDLE || s->e.intrq)
			return EDEV_FORWARD;           /* the guest's sequence goes on */
		if (!a->write && !(policy == EDEV_BLOCK_BUSY && off == ATA_CTRL_OFF))
			return EDEV_FORWARD;           /* idle reads: the emulation's answer */
		shadow_begin(s, &s->e.tf, s->e.ctrl);
	}
	if (a->write) {
		shadow_defer(s, a, off);
		return EDEV_DEFER;
	}
	if (phase != EDEV_PH_CAPTURE && !s->sh.nd &&
	    !(policy == EDEV_BLOCK_BUSY && off == ATA_CTRL_OFF))
		return EDEV_FORWARD;                   /* nothing deferred: nothing differs */
	a->value = shadow_read(s, off, a->size, policy);
	return EDEV_BUSY;
}

/* V5 with the guest between sequences: snapshot what the guest would read;
 * if tracking is not certain of the mode, IDENTIFY (meanwhile the guest is
 * answered from the snapshot). Returns 0, or EDEV_AGAIN while IDENTIFY
 * runs. A switch costs the drive nothing otherwise, which matters when
 * switches come every few exits. */
static int capture_start(struct ata_eng *s)
{
	hw_snapshot(s, &s->snap);
	s->snap.features = s->t.tf.features;
	s->drv_on = 1;
	s->v5 = 2;
	if (s->mode_known)
		return 0;
	shadow_begin(s, &s->snap, s->t.ctrl);
	s->v5 = 1;
	if (drv_identify(s, P_V5))
		s->v5 = 2;                     /* no room: the tracked mode stands */
	return s->v5 == 2 ? 0 : EDEV_AGAIN;
}

/* V5: determine the mode and how emulation will start. Returns 0,
 * EDEV_AGAIN while the monitor's IDENTIFY runs, or -EBUSY when the guest
 * is mid-sequence and (with takeover) the tracker cannot reconstruct it. */
static int v5(struct ata_eng *s, int takeover)
{
	if (s->v5 == 2)
		return 0;
	if (s->v5 == 1)
		return EDEV_AGAIN;
	/* what happened since the guest's last access counts */
	trk_read(s, ATA_CTRL_OFF, 1, hw_rd(s, ATA_CTRL_OFF));
	if (trk_idle(s))
		return capture_start(s);
	if (!takeover)
		return -EBUSY;
	if (s->t.st == T_UNSYNC || (s->t.st == T_DRQ && !s->t.pos_known))
		return -EBUSY;
	s->takeover = 1;
	s->v5 = 2;
	return 0;
}

/* V6: the emulation starts, from the snapshot or the adopted sequence. */
static int v6(struct ata_eng *s)
{
	struct emu *e = &s->e;
	s->drv_on = 1;
	if (s->takeover) {
		drv_adopt(s);
	} else {
		e->st = E_IDLE;
		e->tf = s->snap;
		e->ctrl = s->t.ctrl;
		e->intrq = 0;
		e->pos = e->len = 0;
	}
	s->emm = s->hwm;
	s->emm.nien = !!(e->ctrl & ATA_CTL_NIEN);
	/* the driver's own interrupts; a reset the guest holds stays held */
	hw_wr(s, ATA_CTRL_OFF, e->st == E_SRST ? ATA_CTL_SRST : 0);
	s->hwm.nien = 0;
	shadow_clear(s);
	s->emu_live = 1;
	emu_line(s, 1);
	if (s->takeover && !s->mode_known)
		drv_identify(s, P_TAKEOVER);   /* reads the uncertain mode back */
	else
		drv_service(s);
	return 0;
}

/* D4, part 1: queues SET MULTIPLE / SET FEATURES wherever what the driver
 * knows of the hardware's modes differs from the guest's. The driver passes
 * the guest's mode commands through, so this is the safety net for a
 * hardware that lost them. Returns how many. */
static int queue_mode_fixes(struct ata_eng *s)
{
	const struct amode *h = &s->hwm, *g = &s->emm;
	int n = 0;
	if (h->mult != g->mult)
		n += !drv_monitor_cmd(s, ATA_CMD_SET_MULTIPLE, 0, g->mult, 0);
	if (h->wcache != g->wcache)
		n += !drv_monitor_cmd(s, ATA_CMD_SET_FEATURES,
				      g->wcache ? ATA_SF_WCACHE_ON : ATA_SF_WCACHE_OFF, 0, 0);
	if (h->lookahead != g->lookahead)
		n += !drv_monitor_cmd(s, ATA_CMD_SET_FEATURES,
				      g->lookahead ? ATA_SF_LOOKAHEAD_ON : ATA_SF_LOOKAHEAD_OFF, 0, 0);
	if (h->keep != g->keep)
		n += !drv_monitor_cmd(s, ATA_CMD_SET_FEATURES,
				      g->keep ? ATA_SF_REVERT_OFF : ATA_SF_REVERT_ON, 0, 0);
	return n;
}

/* D4, part 2: the error register cannot be written, so if the hardware's
 * error/ERR differ from what the guest last saw (the monitor's own
 * commands reset them), queue a command that ends the same way: NOP for
 * ABRT, a read past LBA28 for IDNF, EXECUTE DEVICE DIAGNOSTIC for the
 * post-reset code 01h, INITIALIZE DEVICE PARAMETERS for a clean 00h.
 * Other errors (UNC) cannot be produced on purpose. Returns 1 if queued. */
static int queue_error_fix(struct ata_eng *s)
{
	const struct tfile *g = &s->e.tf;
	uint8_t a = hw_rd(s, ATA_CTRL_OFF), err = hw_rd(s, ATA_ERROR);
	int gerr = g->status & ATA_SR_ERR;
	if (!!(a & ATA_SR_ERR) == !!gerr && err == g->error)
		return 0;
	if (gerr && g->error == ATA_ER_ABRT)
		return !drv_monitor_cmd(s, 0x00, 0, 0, 0);
	if (gerr && g->error == ATA_ER_IDNF)
		return !drv_monitor_cmd(s, ATA_CMD_READ, 0, 1, LBA28_LAST);
	if (!gerr && g->error == 0x01)
		return !drv_monitor_cmd(s, ATA_CMD_DIAGNOSE, 0, 0, 0);
	if (!gerr && g->error == 0x00)
		return !drv_monitor_cmd(s, ATA_CMD_INIT_PARAMS, 0, 0, 0);
	return 0;
}

/* D4, last part: the taskfile the guest last saw, then its nIEN. Tracking
 * takes over from the emulation's state; the writes deferred during the
 * switch stay owed to it until the core has replayed them (D7), so that
 * the mode reported after D4 is the restored one. */
static void d4_finish(struct ata_eng *s)
{
	const struct tfile *g = &s->e.tf;
	hw_wr(s, ATA_DEVICE, g->device);
	hw_wr(s, ATA_FEATURES, g->features);
	hw_wr(s, ATA_COUNT, g->count);
	hw_wr(s, ATA_LBA_LO, g->lba_lo);
	hw_wr(s, ATA_LBA_MID, g->lba_mid);
	hw_wr(s, ATA_LBA_HI, g->lba_hi);
	hw_wr(s, ATA_CTRL_OFF, s->e.ctrl & ATA_CTL_NIEN);
	s->hwm.nien = !!(s->e.ctrl & ATA_CTL_NIEN);
	s->emm = s->hwm;                       /* pass-through: one mode again */
	drv_fini(s);
	s->drv_on = 0;
	s->emu_live = 0;
	trk_resume(s);
	s->sh.active = s->sh.busy = 0;
	s->sh.owed = s->sh.nd > 0;
}

/* Feeds tracking the deferred writes the core replayed to the hardware
 * after the last devirtualization (called at the next module entry that
 * follows D7: a snooped write or a new switch). */
static void pay_owed(struct ata_eng *s)
{
	if (!s->sh.owed)
		return;
	for (size_t i = 0; i < s->sh.nd; i++)
		trk_write(s, s->sh.dq[i].off, s->sh.dq[i].size, s->sh.dq[i].val, 1);
	shadow_clear(s);
}

/* D4: restore the guest's mode and visible registers into the hardware.
 * Returns EDEV_AGAIN while the driver's commands run, then 0. */
static int d4(struct ata_eng *s)
{
	for (;;) {
		if (drv_busy(s))
			return EDEV_AGAIN;
		switch (s->d4) {
		case 0:
			s->d4 = 1;
			if (!s->mode_known && !drv_identify(s, P_D4))
				return EDEV_AGAIN;     /* a read-back V5 could not do */
			break;
		case 1:
			s->d4 = 2;
			if (queue_mode_fixes(s))
				return EDEV_AGAIN;
			break;
		case 2:
			s->d4 = 3;
			if (queue_error_fix(s))
				return EDEV_AGAIN;
			break;
		default:
			s->d4 = 0;
			d4_finish(s);
			return 0;
		}
	}
}

/* Runs one V/D step (edev.h). */
static int ata_step(void *st, int step, int takeover)
{
	struct ata_eng *s = eng(st);
	switch (step) {
	case EDEV_V3:
		pay_owed(s);
		trk_seed(s);
		s->v5 = 0;
		s->takeover = 0;
		return 0;
	case EDEV_V5:
		return v5(s, takeover);
	case EDEV_V6:
		return v6(s);
	case EDEV_D2:
		return s->d.qn ? EDEV_AGAIN : 0;
	case EDEV_D3:
		if (s->d.line && s->d.st == D_IDLE)
			drv_service(s);            /* acknowledges a stray INTRQ */
		return s->d.st != D_IDLE || s->d.line ? EDEV_AGAIN : 0;
	case EDEV_D4:
		return d4(s);
	case EDEV_ABORT:
		/* back to where the switch began; the core replays the deferred
		 * writes to whatever serves the guest now, not to tracking */
		shadow_clear(s);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Pass-through: every direct write (nIEN is write-only, and commands and
 * PIO-out words tell the tracker where the guest is). */
static void ata_snoop(void *st, uint64_t off, unsigned size, uint64_t val)
{
	struct ata_eng *s = eng(st);
	pay_owed(s);
	trk_write(s, off, size, val, 1);
}

/* An access forwarded to the hardware while tracking. */
static void ata_track(void *st, const struct bus_access *a, uint64_t off)
{
	struct ata_eng *s = eng(st);
	if (a->write)
		trk_write(s, off, a->size, a->value, 0);
	else
		trk_read(s, off, a->size, a->value);
}

/* Returns 1 when the guest is between sequences (V4). */
static int ata_track_idle(void *st)
{
	return trk_idle(eng(st));
}

/* Serves a guest access from the emulation. */
static void ata_emulate(void *st, struct bus_access *a, uint64_t off)
{
	emu_access(eng(st), a, off);
}

/* Returns 1 when the emulation is quiescent (D1). */
static int ata_emu_idle(void *st)
{
	return emu_quiet(eng(st));
}

/* The hardware's line, routed to the monitor: the driver's from V5 on,
 * the tracker's before (the core mirrors it to the guest then). */
static void ata_hw_irq(void *st, int level)
{
	struct ata_eng *s = eng(st);
	if (s->drv_on) {
		drv_irq(s, level);
		return;
	}
	s->d.line = level;
	trk_irq(s, level);
}

/* Writes the mode of the emulation or of the hardware; same keys. */
static char *ata_mode(void *st, int src, char *buf, size_t len)
{
	struct ata_eng *s = eng(st);
	const struct amode *m = src == EDEV_MODE_EMU ? &s->emm : &s->hwm;
	snprintf(buf, len, "nien=%d mult=%d wcache=%d lookahead=%d revert=%d",
		 m->nien, m->mult, m->wcache, m->lookahead, !m->keep);
	return buf;
}

/* mode()'s fields, packed: equal numbers, equal text. */
static uint64_t ata_mode_sig(void *st, int src)
{
	struct ata_eng *s = eng(st);
	const struct amode *m = src == EDEV_MODE_EMU ? &s->emm : &s->hwm;
	return (uint64_t)m->nien | (uint64_t)m->mult << 8 | (uint64_t)m->wcache << 16 | (uint64_t)m->lookahead << 24 |
	       (uint64_t)!m->keep << 32;
}

/* The live state machine's state. */
static const char *ata_sm_state(void *st)
{
	struct ata_eng *s = eng(st);
	return s->emu_live ? emu_name(s) : trk_name(s);
}

/* The driver's queued requests and I/O outstanding on the hardware. */
static void ata_pending(void *st, unsigned *queued, unsigned *outstanding)
{
	struct ata_eng *s = eng(st);
	*queued = s->d.qn;
	*outstanding = s->d.st != D_IDLE;
}

/* Checkpoints: at rest the state is copied by value; the shadow's queued
 * writes (a heap buffer) follow the struct. */
static int ata_at_rest(const void *st)
{
	const struct ata_eng *a = st;
	return !a->emu_live && !a->drv_on && a->d.st == D_IDLE && !a->d.qn && !a->d.irq_ev.armed &&
	       !a->d.poll_ev.armed;
}

static size_t ata_save(const void *st, uint8_t *buf, size_t len)
{
	const struct ata_eng *a = st;
	size_t dq = a->sh.nd * sizeof(*a->sh.dq), need = sizeof(*a) + dq;
	if (len >= need) {
		memcpy(buf, a, sizeof(*a));
		if (dq)
			memcpy(buf + sizeof(*a), a->sh.dq, dq);
	}
	return need;
}

static int ata_restore(void *st, const uint8_t *p, size_t len)
{
	struct ata_eng *a = st, keep = *a;
	if (len < sizeof(*a))
		return -EINVAL;
	size_t nd = (len - sizeof(*a)) / sizeof(*a->sh.dq);
	if (nd > keep.sh.cap) {
		void *dq = realloc(keep.sh.dq, nd * sizeof(*a->sh.dq));
		if (!dq)
			return -ENOMEM;
		keep.sh.dq = dq;
		keep.sh.cap = nd;
	}
	memcpy(a, p, sizeof(*a));
	a->h = keep.h;
	a->d.irq_ev = keep.d.irq_ev;
	a->d.poll_ev = keep.d.poll_ev;
	a->sh.dq = keep.sh.dq;
	a->sh.cap = keep.sh.cap;
	a->sh.nd = nd;
	if (nd)
		memcpy(a->sh.dq, p + sizeof(*a), nd * sizeof(*a->sh.dq));
	return 0;
}

const struct edev_ops edev_ata_ops = {
	.model = "ata-disk",
	.create = ata_create,
	.destroy = ata_destroy,
	.snoop = ata_snoop,
	.track = ata_track,
	.track_idle = ata_track_idle,
	.emulate = ata_emulate,
	.emu_idle = ata_emu_idle,
	.block = ata_block,
	.step = ata_step,
	.hw_irq = ata_hw_irq,
	.mode = ata_mode,
	.mode_sig = ata_mode_sig,
	.sm_state = ata_sm_state,
	.pending = ata_pending,
	.at_rest = ata_at_rest,
	.save = ata_save,
	.restore = ata_restore,
};
