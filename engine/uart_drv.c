/*
 * The emulated UART and the monitor's driver for the real one (V6..D4).
 *
 * The emulation is a private 16550A of the same model as the hardware,
 * driven through its registers like any device: the guest's accesses go to
 * it, its line drives the guest's interrupt line, the characters it puts on
 * its line go to the driver's transmit queue (uart_backend.tx), and the
 * characters the hardware receives are handed to it as arriving on its line
 * (uart__receive). MCR loopback therefore stays inside the emulation.
 *
 * It runs on a clock of its own, kept at the run's time: a copy of its next
 * timer (the character timeout) is armed on the run's clock. The own clock
 * lets V6 receive captured characters at the moment the hardware last
 * received or gave one, so the character timeout fires when the hardware's
 * would have.
 *
 * The driver owns the hardware meanwhile: the guest's divisor and line
 * format (the line is shared with whatever is at the other end, and a
 * break is the guest's to send), its own FIFO at trigger 1, IER = received
 * data, OUT2, no loopback. It writes queued bytes as soon as THR takes them
 * (the console must see every byte once, in order) and moves received ones
 * into the emulation, right after each guest access (so a loopback plug's
 * echo arrives in the same instant as in pass-through) and from a
 * zero-delay clock event after the hardware's interrupt (input from
 * outside). hw_irq itself only notes and arms (edev.h).
 */
#include <errno.h>
#include <string.h>
#include "uart_priv.h"

#define THRE_RETRY_NS 1000ull   /* THR busy (never, in our model): look again */

/* The emulation's line changed: mirrored to the guest while live. */
static void emu_irq(void *ctx, int line, int level)
{
	(void)line;
	struct uart_eng *st = ctx;
	st->emu_level = level;
	if (st->live)
		st->h.guest_irq(st->h.ctx, level);
}

/* Writes queued bytes to the hardware while THR takes them; received
 * characters seen on the way are moved first (they are older). Returns 1 if
 * bytes remain queued. */
static int pump(struct uart_eng *st)
{
	struct hw *d = st->h.hw;
	int rx_ok = st->emu && !(st->eg.mcr & UART_MCR_LOOP);
	int probe = 0;                    /* sent into an empty FIFO: a plug echoes it */
	for (int n = 0; n < 4 * UART_FIFO_LEN + TXQ_LEN; n++) {
		uint8_t lsr = ureg_rd(d, UART_LSR);
		if (probe && st->wire < 0)
			st->wire = !!(lsr & UART_LSR_DR);
		probe = 0;
		if ((lsr & UART_LSR_DR) && rx_ok) {
			uint8_t c = ureg_rd(d, UART_RBR);
			udrv_emu_sync(st);
			uart__receive(st->emu, c, lsr & LSR_CHAR_ERRS);
			continue;
		}
		if (st->txn && (lsr & UART_LSR_THRE)) {
			probe = !(lsr & UART_LSR_DR);
			ureg_wr(d, UART_THR, st->txq[st->txh]);
			st->txh = (st->txh + 1) % TXQ_LEN;
			st->txn--;
			continue;
		}
		break;
	}
	return st->txn != 0;
}

/* A byte the emulation put on its line: queued for the hardware (this
 * runs inside the emulation's register write, so nothing here may reach
 * the emulation). A full queue (THR never ready) writes its oldest byte
 * through, keeping the order. */
static void emu_tx(void *ctx, uint8_t b)
{
	struct uart_eng *st = ctx;
	if (st->txn == TXQ_LEN) {
		ureg_wr(st->h.hw, UART_THR, st->txq[st->txh]);
		st->txh = (st->txh + 1) % TXQ_LEN;
		st->txn--;
	}
	st->txq[(st->txh + st->txn++) % TXQ_LEN] = b;
}

/* Run-clock copy of the emulation's timer fired. */
static void emu_timer(void *ctx, uint64_t now)
{
	(void)now;
	struct uart_eng *st = ctx;
	udrv_emu_sync(st);
	udrv_emu_rearm(st);
}

/* Zero-delay event after a hardware interrupt (or a THR retry). */
static void svc_event(void *ctx, uint64_t now)
{
	(void)now;
	struct uart_eng *st = ctx;
	udrv_service(st);
	if (st->drain_wait && !st->txn) {
		st->drain_wait = 0;
		st->h.kick(st->h.ctx);    /* D2 waits for this */
	}
}

/* Creates a fresh emulated 16550A on a fresh own clock, its line held
 * from the guest. Returns 0 or -ENOMEM. */
int udrv_emu_create(struct uart_eng *st)
{
	udrv_emu_destroy(st);
	clock__init(&st->priv);
	struct hw_env env = { .clock = &st->priv, .mem = st->h.mem, .irq_set = emu_irq, .irq_ctx = st };
	struct uart_backend be = { .out_fd = -1, .in_fd = -1, .tx = emu_tx, .tx_ctx = st };
	st->live = 0;
	st->emu_level = 0;
	st->txh = st->txn = 0;
	st->emu = uart__create(&env, "com1-emu", st->h.hw->irq, &be);
	return st->emu ? 0 : -ENOMEM;
}

/* Prepares the module's run-clock events (once). */
void udrv_init(struct uart_eng *st)
{
	clock__event_init(&st->emu_ev, emu_timer, st);
	clock__event_init(&st->svc_ev, svc_event, st);
}

/* Frees the emulation and its timer copy; harmless without one. */
void udrv_emu_destroy(struct uart_eng *st)
{
	if (!st->emu)
		return;
	clock__disarm(st->h.clock, &st->emu_ev);
	st->emu->ops->destroy(st->emu);
	st->emu = NULL;
	st->live = 0;
}

/* Runs the emulation's clock up to the run's time (due timers fire). */
void udrv_emu_sync(struct uart_eng *st)
{
	if (st->priv.now <= st->h.clock->now)
		clock__run_until(&st->priv, st->h.clock->now);
}

/* Arms (or disarms) the run clock's copy of the emulation's next timer. */
void udrv_emu_rearm(struct uart_eng *st)
{
	uint64_t next = st->emu ? clock__next(&st->priv) : UINT64_MAX;
	if (next == UINT64_MAX) {
		clock__disarm(st->h.clock, &st->emu_ev);
		return;
	}
	if (next < st->h.clock->now)
		next = st->h.clock->now;
	if (!st->emu_ev.armed || st->emu_ev.when != next)
		clock__arm(st->h.clock, &st->emu_ev, next);
}

/* Lets the emulation's line drive the guest's, driving it to its level now. */
void udrv_emu_go_live(struct uart_eng *st)
{
	st->live = 1;
	st->h.guest_irq(st->h.ctx, st->emu_level);
	udrv_emu_rearm(st);
}

/* Reads the emulation's dynamic state into x and puts everything back:
 * state, timer and the level its line drives. */
void udrv_emu_probe(struct uart_eng *st, struct udyn *x)
{
	/* the save blob is opaque: the snapshot is the model's own
	 * checkpoint interface, used on the engine's own chip only */
	uint8_t snap[512];
	struct hw *e = st->emu;
	udrv_emu_sync(st);
	size_t n = e->ops->save(e, snap, sizeof(snap));
	int live = st->live, level = st->emu_level;
	st->live = 0;
	uxfer_capture(e, x);
	if (n <= sizeof(snap))
		e->ops->restore(e, snap, n);
	st->emu_level = level;
	st->live = live;
}

/* The line settings the hardware should carry: the guest's divisor and
 * format, and its break unless MCR loopback holds the guest's output idle. */
static uint8_t line_lcr(const struct umode *g)
{
	uint8_t lcr = g->lcr & (uint8_t)~(UART_LCR_DLAB | UART_LCR_BREAK);
	if ((g->lcr & UART_LCR_BREAK) && !(g->mcr & UART_MCR_LOOP))
		lcr |= UART_LCR_BREAK;
	return lcr;
}

/* Gives the hardware the guest's line settings if they differ from what
 * it carries (always when force). The break bit is kept through DLAB, so
 * only the final LCR write may start a break, as the guest's did. */
static void sync_line(struct uart_eng *st, int force)
{
	struct hw *d = st->h.hw;
	uint8_t lcr = line_lcr(&st->eg);
	if (force || st->eg.dl != st->hw_dl) {
		ureg_wr(d, UART_LCR, UART_LCR_DLAB | (st->hw_lcr & 0x7f));
		ureg_wr(d, UART_DLL, (uint8_t)st->eg.dl);
		ureg_wr(d, UART_DLM, (uint8_t)(st->eg.dl >> 8));
		ureg_wr(d, UART_LCR, lcr);
	} else if (lcr != st->hw_lcr) {
		ureg_wr(d, UART_LCR, lcr);
	}
	st->hw_dl = st->eg.dl;
	st->hw_lcr = lcr;
}

/* Takes the hardware for the driver (V6): interrupts off, the guest's line
 * settings, FIFO at trigger 1, OUT2 without loopback, then IER = received
 * data. hw_mode is what the hardware holds now. */
void udrv_start(struct uart_eng *st, const struct umode *hw_mode)
{
	struct hw *d = st->h.hw;
	ureg_wr(d, UART_IER, 0);
	st->hw_dl = hw_mode->dl;
	st->hw_lcr = hw_mode->lcr;      /* DLAB too, if the guest was mid-divisor */
	sync_line(st, 1);
	ureg_wr(d, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
	st->hw_fcr = UART_FCR_ENABLE;
	ureg_wr(d, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	ureg_rd(d, UART_LSR);
	ureg_rd(d, UART_MSR);
	ureg_wr(d, UART_IER, UART_IER_RDI);
}

/* Serves the hardware: line settings, queued bytes, received bytes. */
void udrv_service(struct uart_eng *st)
{
	if (st->phase != UP_EMU || !st->emu)
		return;
	sync_line(st, 0);
	if (pump(st))
		clock__arm(st->h.clock, &st->svc_ev, st->h.clock->now + THRE_RETRY_NS);
	udrv_emu_rearm(st);
}

/* Stops the driver's and the emulation's run-clock events. */
void udrv_stop(struct uart_eng *st)
{
	clock__disarm(st->h.clock, &st->svc_ev);
	clock__disarm(st->h.clock, &st->emu_ev);
}

/* The hardware raised its line: serve it from a zero-delay event. */
void udrv_note_irq(struct uart_eng *st)
{
	if (!st->svc_ev.armed)
		clock__arm(st->h.clock, &st->svc_ev, st->h.clock->now);
}

/* Returns 1 while a hardware interrupt waits to be served. */
int udrv_busy(const struct uart_eng *st)
{
	return st->svc_ev.armed;
}
