/*
 * ATA tracking state machine (DESIGN V3/V4): follows the guest's protocol
 * from the accesses it makes, without touching the hardware. In
 * pass-through it is fed by snoop() with the guest's writes only (port I/O
 * always exits, reads are not reported): commands, taskfile and device
 * control writes, PIO-out data words. While tracking it also sees the
 * reads (status values, PIO-in data words) and the hardware's interrupt.
 *
 * What a switch needs from it: whether the guest is between sequences
 * (track_idle), the command in flight and its class, whether INTRQ is
 * pending, and the guest's word position within the current sector, which
 * together with the hardware's own BSY/DRQ (read at V5) is enough to take a
 * sequence over. Where it cannot know, it says so (T_UNSYNC, pos_known 0)
 * rather than guess; the one assumption is documented at trk_seed().
 *
 * The multiple count and features are followed too: a SET MULTIPLE or SET
 * FEATURES the drive's documented rules accept is applied when written (the
 * monitor cannot see the status in pass-through) and undone if the tracker
 * later sees it fail; V5 confirms them with IDENTIFY whenever it can.
 */
#include "ata_priv.h"

/* Restores the power-on/post-reset modes (nIEN and keep are untouched:
 * device control is the host's, and 66h keeps itself). */
void mode_reset(struct amode *m)
{
	m->mult = ATA_MAX_MULTIPLE;
	m->wcache = 1;
	m->lookahead = 1;
}

/* Returns 1 if the drive accepts SET MULTIPLE / SET FEATURES with these
 * parameters (ata.h: a power of two up to ATA_MAX_MULTIPLE, or 0; the
 * listed subcommands), 0 otherwise or for any other command. */
int mode_cmd_valid(uint8_t cmd, uint8_t count, uint8_t features)
{
	if (cmd == ATA_CMD_SET_MULTIPLE)
		return count <= ATA_MAX_MULTIPLE && !(count & (count - 1));
	if (cmd != ATA_CMD_SET_FEATURES)
		return 0;
	switch (features) {
	case ATA_SF_WCACHE_ON: case ATA_SF_WCACHE_OFF:
	case ATA_SF_LOOKAHEAD_ON: case ATA_SF_LOOKAHEAD_OFF:
	case ATA_SF_REVERT_ON: case ATA_SF_REVERT_OFF:
		return 1;
	case ATA_SF_XFER_MODE:
		return count <= 0x01 || (count >= 0x08 && count <= 0x0c);
	default:
		return 0;
	}
}

/* Applies the mode effect of a successful SET MULTIPLE / SET FEATURES to
 * m; other commands change nothing. */
void mode_apply_cmd(struct amode *m, uint8_t cmd, uint8_t count, uint8_t features)
{
	if (cmd == ATA_CMD_SET_MULTIPLE) {
		m->mult = count;
		return;
	}
	if (cmd != ATA_CMD_SET_FEATURES)
		return;
	switch (features) {
	case ATA_SF_WCACHE_ON:     m->wcache = 1; break;
	case ATA_SF_WCACHE_OFF:    m->wcache = 0; break;
	case ATA_SF_LOOKAHEAD_ON:  m->lookahead = 1; break;
	case ATA_SF_LOOKAHEAD_OFF: m->lookahead = 0; break;
	case ATA_SF_REVERT_OFF:    m->keep = 1; break;
	case ATA_SF_REVERT_ON:     m->keep = 0; break;
	default: break;
	}
}

/* The state at power-on: idle, no INTRQ, the diagnostic signature in the
 * taskfile, default modes. The module is created before the guest runs. */
void trk_init(struct ata_eng *s)
{
	struct track *t = &s->t;
	*t = (struct track){ .st = T_IDLE };
	t->tf = (struct tfile){ .status = ST_IDLE, .error = 0x01, .count = 1, .lba_lo = 1,
				.device = ATA_DEV_OBS };
	s->hwm = (struct amode){ 0 };
	mode_reset(&s->hwm);
	s->emm = s->hwm;
	s->mode_known = 0;            /* the first V5 reads it back */
}

/* In pass-through and tracking the hardware's mode is the guest's. */
static void set_mode_both(struct ata_eng *s, const struct amode *m)
{
	s->hwm = *m;
	s->emm = *m;
}

/* The tracker lost the protocol: something unseen may have run on the
 * drive, a mode command among them. */
static void lose_sync(struct ata_eng *s)
{
	s->t.st = T_UNSYNC;
	s->mode_known = 0;
}

/* A command write the drive accepts starts a new command. In pass-through
 * its outcome is never seen, so a mode command makes the mode uncertain
 * (V5 will read it back); while tracking, a failure is seen and undone. */
static void new_command(struct ata_eng *s, uint8_t cmd, int pt)
{
	struct track *t = &s->t;
	t->cmd = cmd;
	t->cls = cls_of(cmd);
	t->st = T_BUSY;
	t->intrq = 0;                 /* a command write clears INTRQ */
	t->pos = 0;
	t->pos_known = 1;
	t->out_words = 0;
	t->undo_valid = 0;
	if (mode_cmd_valid(cmd, t->tf.count, t->tf.features)) {
		struct amode m = s->hwm;
		t->undo = m;
		t->undo_valid = 1;
		mode_apply_cmd(&m, cmd, t->tf.count, t->tf.features);
		set_mode_both(s, &m);
		if (pt)
			s->mode_known = 0;
	}
}

/* The command failed (ERR seen): undo its optimistic mode effect. */
static void command_failed(struct ata_eng *s)
{
	if (s->t.undo_valid)
		set_mode_both(s, &s->t.undo);
	s->t.undo_valid = 0;
}

/* One byte-wide register write (offsets 1-8). pt: seen in pass-through,
 * where the hardware's progress is invisible: a correct driver writes the
 * taskfile and commands only between commands, so such a write ends the
 * previous command as far as the tracker knows. */
static void reg_write(struct ata_eng *s, unsigned off, uint8_t v, int pt)
{
	struct track *t = &s->t;
	int busy_known = !pt && t->st != T_IDLE;
	if (off == ATA_CTRL_OFF) {
		uint8_t old = t->ctrl;
		struct amode m = s->hwm;
		t->ctrl = v;
		m.nien = !!(v & ATA_CTL_NIEN);
		if ((v & ATA_CTL_SRST) && !(old & ATA_CTL_SRST)) {
			t->st = T_SRST;
			t->intrq = 0;
			t->tf.device = ATA_DEV_OBS;
		} else if (!(v & ATA_CTL_SRST) && (old & ATA_CTL_SRST)) {
			t->st = T_RESET_WAIT;
			t->tf.features = 0;
			if (!m.keep)
				mode_reset(&m);    /* what the reset's completion will do */
		}
		set_mode_both(s, &m);
		return;
	}
	if (pt && (t->st == T_BUSY || t->st == T_DRQ || t->st == T_RESET_WAIT)) {
		if (t->st == T_RESET_WAIT)
			t->intrq = 0;          /* a reset completes without INTRQ */
		t->st = T_IDLE;                /* INTRQ stays as known (see trk_seed) */
	}
	if (off == ATA_COMMAND) {
		if (t->st == T_SRST || t->st == T_RESET_WAIT)
			return;                /* BSY: ignored */
		if (busy_known) {
			/* the hardware may or may not take it (BSY vs DRQ vs done
			 * unseen): a correct driver never does this */
			lose_sync(s);
			return;
		}
		t->intrq = 0;
		if (t->tf.device & ATA_DEV_SLAVE)
			return;                /* device 1 is absent: ignored */
		new_command(s, v, pt);
		return;
	}
	if (busy_known)
		return;                        /* ignored while BSY or DRQ */
	switch (off) {
	case ATA_FEATURES: t->tf.features = v; break;
	case ATA_COUNT:    t->tf.count = v; break;
	case ATA_LBA_LO:   t->tf.lba_lo = v; break;
	case ATA_LBA_MID:  t->tf.lba_mid = v; break;
	case ATA_LBA_HI:   t->tf.lba_hi = v; break;
	case ATA_DEVICE:   t->tf.device = v | ATA_DEV_OBS; break;
	default: break;
	}
}

/* A guest write, from snoop (pt 1) or forwarded while tracking (pt 0). */
void trk_write(struct ata_eng *s, uint64_t off, unsigned size, uint64_t val, int pt)
{
	struct track *t = &s->t;
	if (off == ATA_DATA) {
		if ((t->st == T_BUSY || t->st == T_DRQ) && t->cls == CLS_OUT) {
			unsigned n = words_of(size);
			t->out_words += n;
			t->pos = (t->pos + n) % SECTOR_WORDS;
		}
		return;
	}
	for (unsigned i = 0; i < size; i++)
		if (same_block(off, i))
			reg_write(s, (unsigned)(off + i), (uint8_t)(val >> (8 * i)), pt);
}

/* The guest read status v (ack: the status register, which acknowledges
 * INTRQ; else the alternate status). Moves the tracker along the protocol:
 * a BSY->DRQ or BSY->idle transition is where the drive raises INTRQ. */
static void observe(struct ata_eng *s, uint8_t v, int ack)
{
	struct track *t = &s->t;
	int busy = v & ATA_SR_BSY, drq = !busy && (v & ATA_SR_DRQ);
	if (t->tf.device & ATA_DEV_SLAVE) {
		/* device 1 answers 0: nothing learnt, but the ack counts */
	} else {
		switch (t->st) {
		case T_RESET_WAIT:
			if (!busy) {
				t->st = T_IDLE;
				t->intrq = 0;
			}
			break;
		case T_IDLE:
			if (busy || drq)
				lose_sync(s);         /* the drive works on something unseen */
			break;
		case T_BUSY:
			if (busy)
				break;
			if (drq) {
				if (t->cls == CLS_NONDATA) {
					lose_sync(s);
					break;
				}
				t->st = T_DRQ;
				t->intrq = t->cls == CLS_IN || t->out_words > 0;
				if (t->cls == CLS_IN) {
					t->pos = 0;
					t->pos_known = 1;
				}
				break;
			}
			t->intrq = 1;                 /* every BSY end without DRQ interrupts */
			if (v & ATA_SR_ERR)
				command_failed(s);
			t->st = T_IDLE;
			break;
		case T_DRQ:
			if (busy) {
				t->st = T_BUSY;       /* the block is done: the next starts at 0 */
				t->pos = 0;
				t->pos_known = 1;
			} else if (!drq) {
				/* PIO-in ends without INTRQ after its last word; PIO-out's
				 * last block (BSY unseen) and errors raise it */
				t->intrq = t->cls == CLS_OUT || (v & ATA_SR_ERR);
				if (v & ATA_SR_ERR)
					command_failed(s);
				t->st = T_IDLE;
			}
			break;
		case T_UNSYNC:
			if (ack && !busy && !drq)
				t->st = T_IDLE;
			break;
		default:
			break;
		}
	}
	if (ack)
		t->intrq = 0;
}

/* A read forwarded to the hardware while tracking; val is what it returned. */
void trk_read(struct ata_eng *s, uint64_t off, unsigned size, uint64_t val)
{
	struct track *t = &s->t;
	if (off == ATA_DATA) {
		if (t->st == T_DRQ && t->cls == CLS_IN && t->pos_known)
			t->pos = (t->pos + words_of(size)) % SECTOR_WORDS;
		return;
	}
	for (unsigned i = 0; i < size; i++) {
		uint64_t r = off + i;
		if (!same_block(off, i))
			continue;
		if (r == ATA_STATUS || r == ATA_CTRL_OFF)
			observe(s, (uint8_t)(val >> (8 * i)), r == ATA_STATUS);
	}
}

/* The hardware's line while tracking (it moves only when nIEN is clear). A
 * rise is a DRQ block or a completion: either way the guest's position is
 * at a sector boundary and INTRQ is pending. Falls are seen as the accesses
 * that cause them (status read, command, SRST, nIEN). */
void trk_irq(struct ata_eng *s, int level)
{
	struct track *t = &s->t;
	if (!level)
		return;
	t->intrq = 1;
	if (t->st == T_BUSY || t->st == T_DRQ) {
		t->st = T_BUSY;               /* awaiting the guest's look at status */
		t->pos = 0;
		t->pos_known = 1;
	}
}

/* V3: tracking starts. Reads the alternate status (no side effects) and
 * combines it with what snooping learnt. The one assumption: when the
 * drive is idle after a command snooped in pass-through, whether the guest
 * has read the status since (acknowledging INTRQ) is invisible; it is
 * taken as done. With nIEN clear a pending INTRQ already reached the
 * guest's interrupt controller, where it stays latched; with nIEN set it
 * could only matter to a guest that clears nIEN before reading status. */
void trk_seed(struct ata_eng *s)
{
	struct track *t = &s->t;
	uint8_t a = hw_rd(s, ATA_CTRL_OFF);
	int busy = a & ATA_SR_BSY, drq = !busy && (a & ATA_SR_DRQ);
	int cmd_known = t->st == T_BUSY || t->st == T_DRQ;
	if (t->tf.device & ATA_DEV_SLAVE) {
		/* device 1 selected: the taskfile was writable, so nothing runs */
		if (t->st != T_SRST && t->st != T_RESET_WAIT)
			t->st = T_IDLE;
		return;
	}
	switch (t->st) {
	case T_SRST:
		return;
	case T_RESET_WAIT:
		if (!busy) {
			t->st = T_IDLE;
			t->intrq = 0;
		}
		return;
	default:
		break;
	}
	if (busy) {
		if (!cmd_known) {
			lose_sync(s);
			return;
		}
		t->st = T_BUSY;                /* blocks end on sector boundaries */
		t->pos = 0;
		t->pos_known = 1;
	} else if (drq) {
		if (!cmd_known || t->cls == CLS_NONDATA) {
			lose_sync(s);
			return;
		}
		t->st = T_DRQ;
		/* PIO-in words read in pass-through were not seen */
		t->pos_known = t->cls == CLS_OUT;
	} else {
		t->st = T_IDLE;
		t->intrq = 0;                  /* see above */
	}
}

/* After D4: pass-through resumes from the emulation's quiescent state. */
void trk_resume(struct ata_eng *s)
{
	struct track *t = &s->t;
	*t = (struct track){ .st = T_IDLE, .ctrl = s->e.ctrl, .tf = s->e.tf, .pos_known = 1 };
}

/* Returns 1 when the guest is between sequences: no command, no reset,
 * INTRQ acknowledged. */
int trk_idle(const struct ata_eng *s)
{
	return s->t.st == T_IDLE && !s->t.intrq;
}

/* The tracking state's name (static). */
const char *trk_name(const struct ata_eng *s)
{
	static const char *const names[] = {
		[T_IDLE] = "t-idle", [T_BUSY] = "t-busy", [T_DRQ] = "t-drq",
		[T_SRST] = "t-srst", [T_RESET_WAIT] = "t-reset-wait", [T_UNSYNC] = "t-unsync",
	};
	if (s->t.st == T_IDLE && s->t.intrq)
		return "t-intrq";
	if (s->t.st == T_DRQ)
		return s->t.cls == CLS_IN ? "t-drq-in" : "t-drq-out";
	return names[s->t.st];
}
