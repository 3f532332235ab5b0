/*
 * UART (16550A) engine module (edev.h): the tracking state machine, the
 * switch steps, blocking, mode and state reports. The emulation and the
 * monitor's driver are in uart_drv.c; moving state between chips through
 * registers is in uart_xfer.c.
 *
 * Tracking (V3/V4). A 16550A has one multi-access sequence a driver must
 * not be interrupted in: divisor programming, from setting LCR.DLAB to
 * clearing it (offsets 0 and 1 are DLL/DLM meanwhile). Beyond that the
 * guest is between sequences when nothing waits for it: no received
 * character it is reading, and no interrupt raised that its handler has not
 * yet taken. The tracker learns the mode from every write (snoop() in
 * pass-through, track() while tracking), the line from hw_irq(), and the
 * receive FIFO from the guest's accesses: a THR write in MCR loopback (or
 * through a loopback plug, which it discovers from the next LSR read) or a
 * break pushes a character, an RBR read pops one, LSR.DR clear means empty.
 * It keeps the moment of the last push or pop it saw: that restarts the
 * character timeout. In pass-through it sees writes only, so characters
 * pushed then are "stale": the guest may have read them unseen. When no
 * line error can be latched (no overrun possible, no break), an LSR read
 * has no side effect, and the tracker reads LSR itself to settle it;
 * otherwise V6 finds out.
 *
 * Capture (V5, V6). V5 prepares the emulation; the mode is read through
 * side-effect-free registers (the divisor through DLAB, restored at once)
 * since the core still passes the hardware's line to the guest. V6, with
 * the line held by the monitor, reads the rest destructively (IIR, LSR, the
 * FIFO, MSR) and recreates everything in a fresh emulated 16550A
 * (uart_xfer.c): mode, received characters with their errors and their
 * character timeout, latched errors, modem deltas, a THRE interrupt taken
 * or not, what an empty RBR returns, a divisor half programmed (takeover
 * mid-DLAB goes on in the emulation). Takeover is refused (-EBUSY, the core
 * keeps waiting) only while the guest is reading characters whose last
 * push or pop happened unseen: their timeout could not be placed.
 *
 * Devirtualization. D1 waits for the emulation to be quiescent: DLAB clear,
 * the receive FIFO drained by the guest, no line error latched (a break,
 * parity or framing error cannot be recreated in the hardware through its
 * registers), the transmit queue written. D2/D3 flush the driver, D4
 * restores mode and state into the hardware (uart_xfer.c); the hardware's
 * line then has the emulation's level, so D5 changes nothing for the PIC.
 *
 * Blocking. V5+V6 and D2..D4 complete within one safe point, so no guest
 * access ever sees a half-moved state, and everything is served normally
 * while waiting (V4) and in those steps. During D1 what keeps the
 * emulation busy is something the guest itself must finish, so accesses
 * that continue it go to the emulation: everything while DLAB is set, and
 * otherwise every read (LSR, RBR and IIR drain the FIFO and take errors)
 * and THR writes (transmission is instantaneous; in loopback it feeds the
 * very drain). A new sequence is paused: with policy busy an LSR read with
 * nothing to drain answers "not ready" (a polling transmitter waits; our
 * quiescence conditions leave no such moment, so this answer is rare);
 * with policy defer a configuration write (IER, FCR, LCR, MCR, SCR) is
 * deferred, every write after it too (the log keeps the guest's order),
 * and the switch stops waiting for the drain: D4 moves unread characters
 * into the hardware, so the deferral window closes at the next safe point
 * and no read can miss a deferred write's effect.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "uart_priv.h"

/* The reset mode of a 16550A (QEMU's divisor 12 = 9600 baud). */
static const struct umode reset_mode = { .dl = 12 };

/* Applies a write to the mode record m (DLAB decides offsets 0 and 1).
 * Returns 1 if the write was a THR write (a character transmitted). */
static int mode_write(struct umode *m, uint64_t off, uint8_t v)
{
	int dlab = m->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_THR:
		if (!dlab)
			return 1;
		m->dl = (uint16_t)((m->dl & 0xff00) | v);
		break;
	case UART_IER:
		if (dlab)
			m->dl = (uint16_t)((m->dl & 0xff) | v << 8);
		else
			m->ier = v & 0x0f;
		break;
	case UART_FCR: m->fcr = ufcr_next(m->fcr, v); break;
	case UART_LCR: m->lcr = v; break;
	case UART_MCR: m->mcr = v & 0x1f; break;
	case UART_SCR: m->scr = v; break;
	default: break;
	}
	return 0;
}

/* The FIFO is known to be empty (a read of LSR said so, or a reset). */
static void rx_empty(struct uart_eng *st)
{
	st->rx = RX_EMPTY;
	st->pushes = st->pops = st->maybe = 0;
	st->counts_ok = st->rx_exact = 1;
}

/* Notes that more characters may have gone in than the FIFO holds since
 * it was last known empty: an overrun may be latched. */
static void check_overrun(struct uart_eng *st)
{
	unsigned cap = st->g.fcr & UART_FCR_ENABLE ? UART_FIFO_LEN : 1;
	if (st->pushes + st->maybe > cap)
		st->err_possible = 1;
}

/* A character entered the FIFO now (seen: a THR write into loopback, a
 * break or a THR write through a loopback plug). */
static void rx_pushed(struct uart_eng *st)
{
	st->rx = RX_DATA;
	st->rx_t = st->h.clock->now;
	st->rx_exact = 1;
	st->pushes++;
	check_overrun(st);
}

/* A character was put on the guest's line: in loopback, or through a
 * loopback plug, it lands in the FIFO now. Whether a plug is there is
 * learnt (the first LSR read after sending into an empty FIFO tells), and
 * assumed absent until then: a wrong guess costs only the character
 * timeout's timing of characters V6 finds unannounced (see push_time). */
static void trk_sent(struct uart_eng *st)
{
	if ((st->g.mcr & UART_MCR_LOOP) || st->wire == 1) {
		rx_pushed(st);
	} else if (st->wire < 0) {
		st->probe_wire = st->rx == RX_EMPTY;
		st->maybe++;
		check_overrun(st);
	}
}

/* The tracker's view of a guest write (pass-through or tracking). */
static void trk_write(struct uart_eng *st, uint64_t off, uint8_t v)
{
	struct umode old = st->g;
	if (mode_write(&st->g, off, v)) {
		/* loopback takes every character; a plug none during a break */
		if ((st->g.mcr & UART_MCR_LOOP) || !(st->g.lcr & UART_LCR_BREAK))
			trk_sent(st);
		return;
	}
	switch (off) {
	case UART_IER:
		if (!(old.lcr & UART_LCR_DLAB) && !st->g.ier)
			st->line = LINE_DOWN;
		break;
	case UART_FCR:
		/* enabling or disabling the FIFOs empties them, as does RX reset */
		if (((old.fcr ^ st->g.fcr) & UART_FCR_ENABLE) ||
		    ((v & UART_FCR_ENABLE) && (v & UART_FCR_RX_RESET))) {
			rx_empty(st);
			st->probe_wire = 0;
		}
		st->hw_fcr = st->g.fcr;
		break;
	case UART_LCR:
		if ((v & ~old.lcr & UART_LCR_BREAK) && !(st->g.mcr & UART_MCR_LOOP)) {
			trk_sent(st);             /* a break is a character on a plug */
			st->err_possible |= st->wire != 0;
		}
		break;
	case UART_MCR:
		st->probe_wire = 0;
		if (!(st->g.mcr & UART_MCR_OUT2))
			st->line = LINE_DOWN;
		break;
	default:
		break;
	}
}

/* The tracker's view of a guest read (tracking only: reads in pass-through
 * do not reach the monitor's hooks). */
static void trk_read(struct uart_eng *st, uint64_t off, uint8_t v)
{
	switch (off) {
	case UART_RBR:
		if (st->g.lcr & UART_LCR_DLAB)
			break;
		st->probe_wire = 0;
		if (st->rx != RX_EMPTY) {         /* a pop restarts the timeout */
			st->rx = RX_DATA;
			st->rx_t = st->h.clock->now;
			st->rx_exact = 1;
			st->pops += st->pops < st->pushes;
		}
		break;
	case UART_IIR:
		if ((v & 0x0f) == UART_IIR_NONE)
			st->line = LINE_DOWN;
		break;
	case UART_LSR:
		if (st->probe_wire)
			st->wire = !!(v & UART_LSR_DR);
		st->probe_wire = 0;
		if (!(v & UART_LSR_DR)) {
			rx_empty(st);
			st->err_possible = 0;     /* errors read, no character left to bring one */
		} else {
			if (st->pushes == st->pops)   /* arrived from outside, unseen */
				st->counts_ok = st->rx_exact = 0;
			st->rx = RX_DATA;
		}
		break;
	default:
		break;
	}
}

/* Characters went in during pass-through and nobody saw whether the guest
 * read them: if no line error can be latched, an LSR read has no side
 * effect at all, so the tracker looks for itself. */
static void rx_probe(struct uart_eng *st)
{
	if (st->phase == UP_TRACK && st->rx == RX_STALE && !st->err_possible)
		trk_read(st, UART_LSR, ureg_rd(st->h.hw, UART_LSR));
}

/* Creates the module's state: the hardware is at reset when the engine
 * attaches (before the guest runs). Returns NULL when out of memory. */
static void *u_create(const struct edev_host *h)
{
	struct uart_eng *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->h = *h;
	st->phase = UP_PASS;
	st->g = st->last = reset_mode;
	rx_empty(st);
	st->line = LINE_DOWN;
	st->wire = -1;
	udrv_init(st);
	return st;
}

/* Frees the module, its emulation and its timers. */
static void u_destroy(void *p)
{
	struct uart_eng *st = p;
	udrv_stop(st);
	udrv_emu_destroy(st);
	free(st);
}

/* A direct write in pass-through. A switch that ended without this module
 * (aborted while tracking) is noticed here. */
static void u_snoop(void *p, uint64_t off, unsigned size, uint64_t val)
{
	struct uart_eng *st = p;
	if (st->phase != UP_PASS) {
		udrv_stop(st);
		udrv_emu_destroy(st);
		st->phase = UP_PASS;
	}
	trk_write(st, off, (uint8_t)val);
}

/* An access forwarded to the hardware while tracking. */
static void u_track(void *p, const struct bus_access *a, uint64_t off)
{
	struct uart_eng *st = p;
	if (a->write)
		trk_write(st, off, (uint8_t)a->value);
	else
		trk_read(st, off, (uint8_t)a->value);
}

/* Returns 1 when the guest is between sequences (see the top comment). */
static int u_track_idle(void *p)
{
	struct uart_eng *st = p;
	rx_probe(st);
	return !(st->g.lcr & UART_LCR_DLAB) && st->line != LINE_UP &&
	       st->rx != RX_DATA;
}

/* Serves a guest access from the emulation, then lets the driver act on
 * what it did (a byte to send, new line settings, a loopback plug's echo). */
static void u_emulate(void *p, struct bus_access *a, uint64_t off)
{
	struct uart_eng *st = p;
	if (!(st->blk_valid && st->blk_t == st->h.clock->now))
		st->deferring = 0;           /* not a D1 access: a D1 ended (aborted) */
	st->blk_valid = 0;
	if (!st->emu) {                   /* cannot happen: V6 made it */
		if (!a->write)
			a->value = 0xff;
		return;
	}
	udrv_emu_sync(st);
	if (a->write) {
		st->emu->ops->write(st->emu, off, a->size, a->value);
		mode_write(&st->eg, off, (uint8_t)a->value);
		udrv_service(st);
	} else {
		a->value = st->emu->ops->read(st->emu, off, a->size);
	}
	udrv_emu_rearm(st);
}

/* Returns 1 when the emulation is quiescent (D1; see the top comment). */
static int u_emu_idle(void *p)
{
	struct uart_eng *st = p;
	struct udyn x;
	if (!st->emu)
		return 1;
	udrv_service(st);
	if (st->txn || (st->eg.lcr & UART_LCR_DLAB))
		return 0;
	udrv_emu_probe(st, &x);
	if (x.err)
		return 0;
	return !x.nrx || st->deferring;
}

/* Decides how an access is served during a switch (see the top comment). */
static int u_block(void *p, struct bus_access *a, uint64_t off, int phase, int policy)
{
	struct uart_eng *st = p;
	if (phase != EDEV_PH_QUIESCE || !st->emu)
		return EDEV_FORWARD;
	st->blk_valid = 1;
	st->blk_t = st->h.clock->now;
	int dlab = st->eg.lcr & UART_LCR_DLAB;
	if (a->write) {
		if (policy != EDEV_BLOCK_DEFER)
			return EDEV_FORWARD;     /* a write cannot be answered busy */
		if (!st->deferring && (dlab || off == UART_THR))
			return EDEV_FORWARD;
		st->deferring = 1;
		st->blk_valid = 0;
		return EDEV_DEFER;
	}
	if (policy == EDEV_BLOCK_BUSY && off == UART_LSR && !dlab) {
		struct udyn x;
		udrv_emu_probe(st, &x);
		if (!x.nrx && !x.err) {
			a->value = 0;            /* THRE, TEMT and DR clear: not ready */
			st->blk_valid = 0;
			return EDEV_BUSY;
		}
	}
	return EDEV_FORWARD;
}

/* Returns the time at which V6 lets the captured characters arrive in the
 * emulation, so that its character timeout fires when the hardware's would
 * have (at once if the hardware's had fired, later otherwise). */
static uint64_t push_time(struct uart_eng *st, const struct umode *m, const struct udyn *x)
{
	uint64_t now = st->h.clock->now, t = now;
	if (!x->nrx || !x->fifo_on)
		return now;
	uint64_t to = uxfer_timeout_ns(m->lcr, m->dl);
	/* the moment is known if nothing could pop unseen since the last
	 * push or pop seen, or if every character pushed since the FIFO was
	 * last empty is still there (then no pop happened at all) */
	if ((st->rx_exact || (st->counts_ok && x->nrx == st->pushes - st->pops)) && st->rx_t <= now)
		t = st->rx_t;
	if (x->cti && t + to > now)
		t = now >= to ? now - to : 0;
	else if (!x->cti && t + to <= now)
		t = now - to + 1;
	return t;
}

/* V6: capture the hardware's state into the emulation, start the driver. */
static void start_emulation(struct uart_eng *st)
{
	struct umode m;
	struct udyn x;
	uxfer_read_mode(st->h.hw, st->g.fcr, &m);
	uxfer_capture(st->h.hw, &x);
	if (x.fifo_on != !!(m.fcr & UART_FCR_ENABLE))  /* the hardware knows better */
		m.fcr = x.fifo_on ? m.fcr | UART_FCR_ENABLE : m.fcr & (uint8_t)~UART_FCR_ENABLE;
	uxfer_emu_load(st, &m, &x, push_time(st, &m, &x));
	st->eg = m;
	st->phase = UP_EMU;
	st->deferring = st->blk_valid = 0;
	udrv_start(st, &m);
	udrv_emu_go_live(st);
}

/* D4: restore the emulation's mode and state into the hardware and go
 * back to pass-through bookkeeping. */
static void stop_emulation(struct uart_eng *st)
{
	struct umode m;
	struct udyn x;
	st->live = 0;                     /* D5 gives the guest the hardware's line */
	st->phase = UP_PASS;              /* the restore's own line changes are not the driver's */
	udrv_emu_sync(st);
	uxfer_read_mode(st->emu, st->eg.fcr, &m);
	uxfer_capture(st->emu, &x);
	udrv_stop(st);
	uxfer_hw_restore(st, &m, &x);
	st->last = st->g = m;
	rx_empty(st);
	for (unsigned i = 0; i < x.nrx; i++)
		rx_pushed(st);
	st->err_possible = x.err || x.hidden0;
	st->line = st->emu_level ? LINE_UP : LINE_DOWN;
	st->deferring = 0;
	udrv_emu_destroy(st);
}

/* Runs one V/D step (edev.h). Every step completes at once. */
static int u_step(void *p, int step, int takeover)
{
	struct uart_eng *st = p;
	switch (step) {
	case EDEV_V3:
		st->phase = UP_TRACK;
		if (st->rx != RX_EMPTY) {
			st->rx = RX_STALE;        /* pass-through pops were not seen */
			st->rx_exact = 0;
		}
		st->line = st->g.ier && (st->g.mcr & UART_MCR_OUT2) ? LINE_UNKNOWN : LINE_DOWN;
		st->probe_wire = 0;
		rx_probe(st);
		return 0;
	case EDEV_V5:
		if (takeover && st->rx == RX_DATA && !st->rx_exact && (st->g.fcr & UART_FCR_ENABLE))
			return -EBUSY;
		/* the mode is read without side effects by mode(HW) for the
		 * record, and again with the state at V6 */
		if (udrv_emu_create(st))
			return -EBUSY;            /* nothing touched yet: try again later */
		return 0;
	case EDEV_V6:
		start_emulation(st);
		return 0;
	case EDEV_D2:
		udrv_service(st);
		st->drain_wait = st->txn != 0;
		return st->txn ? EDEV_AGAIN : 0;
	case EDEV_D3:
		udrv_service(st);
		return 0;
	case EDEV_D4:
		if (st->emu)
			stop_emulation(st);
		return 0;
	default:
		return -EINVAL;
	}
}

/* The hardware's line changed: while tracking it is the guest's; while
 * emulating the driver serves it from a zero-delay event (no I/O here). */
static void u_hw_irq(void *p, int level)
{
	struct uart_eng *st = p;
	if (st->phase == UP_EMU) {
		if (level)
			udrv_note_irq(st);
	} else {
		st->line = level ? LINE_UP : LINE_DOWN;
	}
}

/* Writes the mode of the emulation or, read back through its registers,
 * of the hardware. Returns buf. */
static char *u_mode(void *p, int src, char *buf, size_t len)
{
	struct uart_eng *st = p;
	struct umode m;
	if (src == EDEV_MODE_EMU) {
		if (st->emu)
			uxfer_read_mode(st->emu, st->eg.fcr, &m);
		else
			m = st->last;
	} else {
		uxfer_read_mode(st->h.hw, st->hw_fcr, &m);
	}
	snprintf(buf, len, "dl=%u lcr=%02x fcr=%02x ier=%02x mcr=%02x scr=%02x",
		 m.dl, m.lcr, m.fcr, m.ier, m.mcr, m.scr);
	return buf;
}

/* Returns the live state machine's state. */
static const char *u_sm_state(void *p)
{
	struct uart_eng *st = p;
	if (st->phase == UP_TRACK) {
		if (st->g.lcr & UART_LCR_DLAB)
			return "divisor";
		if (st->rx == RX_DATA)
			return "rx-pending";
		if (st->line != LINE_DOWN)
			return st->line == LINE_UP ? "irq-pending" : "irq-unknown";
		return "idle";
	}
	if (st->phase != UP_EMU || !st->emu)
		return "pass-through";
	struct udyn x;
	if (st->eg.lcr & UART_LCR_DLAB)
		return "emu-divisor";
	udrv_emu_probe(st, &x);
	if (x.nrx)
		return "emu-rx-pending";
	if (x.err)
		return "emu-line-error";
	if (st->txn)
		return "emu-tx-queued";
	if (st->deferring)
		return "emu-deferring";
	return st->emu_level ? "emu-irq-pending" : "emu-idle";
}

/* Reports queued bytes and a hardware interrupt not yet served. */
static void u_pending(void *p, unsigned *queued, unsigned *outstanding)
{
	struct uart_eng *st = p;
	*queued = st->txn;
	*outstanding = (unsigned)udrv_busy(st);
}

/* Checkpoints: at rest the state is copied by value, but for the private
 * emulated 16550 and the events, which belong to this engine. */
static int u_at_rest(const void *st)
{
	const struct uart_eng *u = st;
	return u->phase == UP_PASS && !u->emu && !u->emu_ev.armed && !u->svc_ev.armed;
}

static size_t u_save(const void *st, uint8_t *buf, size_t len)
{
	if (len >= sizeof(struct uart_eng))
		memcpy(buf, st, sizeof(struct uart_eng));
	return sizeof(struct uart_eng);
}

static int u_restore(void *st, const uint8_t *p, size_t len)
{
	struct uart_eng *u = st, keep = *u;
	if (len != sizeof(*u))
		return -EINVAL;
	memcpy(u, p, sizeof(*u));
	u->h = keep.h;
	u->emu = keep.emu;
	u->priv = keep.priv;
	u->emu_ev = keep.emu_ev;
	u->svc_ev = keep.svc_ev;
	return 0;
}

const struct edev_ops edev_uart_ops = {
	.model = "16550a",
	.create = u_create,
	.destroy = u_destroy,
	.snoop = u_snoop,
	.track = u_track,
	.track_idle = u_track_idle,
	.emulate = u_emulate,
	.emu_idle = u_emu_idle,
	.block = u_block,
	.step = u_step,
	.hw_irq = u_hw_irq,
	.mode = u_mode,
	.sm_state = u_sm_state,
	.pending = u_pending,
	.at_rest = u_at_rest,
	.save = u_save,
	.restore = u_restore,
};
