/*
 * UART (16550A) engine module, without KVM (tests/eharness.h). Guest driver
 * sequences are C scripts, written the way our guests drive COM1: init with
 * the divisor through DLAB and read-backs; the console transmitting while
 * polling LSR.THRE; interrupt-driven receive through MCR loopback
 * (character timeout, trigger level, THRE interrupts, an overrun) and
 * through a loopback plug on the wire (polled and interrupt-driven echo, a
 * break); scratch; a mode change mid run (line format, trigger, loopback
 * modem lines and their interrupts, 7-bit data); uart-echo's own driver;
 * the exact moment of the character timeout; THRE interrupts left enabled
 * after being taken. Each runs once in pass-through (the baseline), then
 * with a switch requested after every access position, for each action and
 * each policy pair, and must show the guest exactly what the baseline
 * showed (every read value, poll result and interrupt, in order), put the
 * same bytes on the line (the console, which also taps the plug), and end
 * in the action's state with no switch aborted. Then: bounds that abort,
 * emulation from the start, the mode read back from the hardware, takeover
 * mid-divisor, and the model's additions the module relies on.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "eharness.h"
#include "../devices/uart.h"

#define COM1     0x3f8
#define COM1_VEC (0x20 + IRQ_COM1)
#define CONS_MAX 1024

static char where[160];                         /* the run, for failure messages */

/* What the engine reported during a run. */
struct seen {
	unsigned defers, replayed, busy, takeovers, bad_drain, d2;
};

/* Counts the engine's records (sink). */
static void sink(void *ctx, const struct eng_rec *r)
{
	struct seen *s = ctx;
	if (r->kind == ER_DEFER)
		s->defers++;
	else if (r->kind == ER_REPLAYED)
		s->replayed++;
	else if (r->kind == ER_PAUSE && r->pause_kind && !strcmp(r->pause_kind, "busy"))
		s->busy++;
	else if (r->kind == ER_STEP && !strcmp(r->step, "V4") && r->detail && strstr(r->detail, "takeover"))
		s->takeovers++;
	else if (r->kind == ER_STEP && !strcmp(r->step, "D2")) {
		s->d2++;
		if (!r->detail || strcmp(r->detail, "queued=0 outstanding=0"))
			s->bad_drain++;
	}
}

/* ---- the guest driver's register sequences ---- */

/* The guest's inb/outb on a COM1 register (reads are observations). */
static uint8_t in(struct eh *h, int reg) { return (uint8_t)eh_in(h, (uint16_t)(COM1 + reg), 1); }
static void out(struct eh *h, int reg, uint8_t v) { eh_out(h, (uint16_t)(COM1 + reg), 1, v); }

/* Busy-waits on LSR (the driver's poll loop: only its last read counts). */
static void poll_lsr(struct eh *h, uint8_t bits)
{
	eh_poll(h, BUS_PIO, COM1 + UART_LSR, 1, bits, bits, 100000);
}

/* Divisor through DLAB with read-back, then the line format (uart_set_line). */
static void set_line(struct eh *h, uint16_t dl, uint8_t lcr)
{
	out(h, UART_LCR, UART_LCR_DLAB);
	out(h, UART_DLL, (uint8_t)dl);
	out(h, UART_DLM, (uint8_t)(dl >> 8));
	in(h, UART_DLL);
	in(h, UART_DLM);
	out(h, UART_LCR, lcr);
	in(h, UART_LCR);
}

/* Polled console output, '\n' as "\r\n" (console_putc). */
static void puts_polled(struct eh *h, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n') {
			poll_lsr(h, UART_LSR_THRE);
			out(h, UART_THR, '\r');
		}
		poll_lsr(h, UART_LSR_THRE);
		out(h, UART_THR, (uint8_t)*s);
	}
}

/* Reads while LSR shows data (the echo driver's rx_drain). */
static void drain(struct eh *h)
{
	for (int n = 0; n < 64; n++) {
		if (!(in(h, UART_LSR) & UART_LSR_DR))
			break;
		in(h, UART_RBR);
	}
}

/* What the THRE interrupt does in a script (NULL: nothing). */
typedef void thri_fn(struct eh *h);

/* Halts for IRQ4 and runs the handler: IIR until no interrupt is pending
 * (the line is edge-triggered at the PIC), then EOI. */
static void irq(struct eh *h, thri_fn *on_thri)
{
	int vec = eh_wait_irq(h);
	cr_assert_eq(vec, COM1_VEC, "%s: waited for IRQ4, got %d", where, vec);
	for (int n = 0; n < 16; n++) {
		uint8_t iir = in(h, UART_IIR);
		if (iir & UART_IIR_NONE)
			break;
		switch (iir & 0x0e) {
		case UART_IIR_RLSI: in(h, UART_LSR); break;
		case UART_IIR_RDI:
		case UART_IIR_CTI: drain(h); break;
		case UART_IIR_THRI: if (on_thri) on_thri(h); break;
		default: in(h, UART_MSR); break;
		}
	}
	eh_eoi(h, vec);
}

/* A driver's last words: interrupts off, transmitter empty, nothing pending. */
static void shutdown(struct eh *h)
{
	out(h, UART_IER, 0);
	in(h, UART_IIR);
	poll_lsr(h, UART_LSR_TEMT);
}

/* console_init: 115200 8N1, FIFOs on and cleared, DTR/RTS, no interrupts. */
static void console_init(struct eh *h)
{
	out(h, UART_IER, 0);
	out(h, UART_LCR, UART_LCR_DLAB);
	out(h, UART_DLL, 1);
	out(h, UART_DLM, 0);
	out(h, UART_LCR, UART_LCR_WLEN8);
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
	out(h, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
}

/* Init with read-backs of everything a driver can read. */
static void script_init(struct eh *h)
{
	out(h, UART_IER, 0);
	set_line(h, 3, UART_LCR_WLEN8 | UART_LCR_PAREN | 0x10);   /* 38400 8E1 */
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(3));
	out(h, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	in(h, UART_IIR);
	in(h, UART_MCR);
	in(h, UART_LSR);
	in(h, UART_MSR);
	in(h, UART_IER);
	shutdown(h);
}

/* The console: init, then a line polled byte by byte. */
static void script_transmit(struct eh *h)
{
	console_init(h);
	puts_polled(h, "devirt\n");
	shutdown(h);
}

static unsigned thri_count;

/* THRE interrupt of the receive script: two more bytes, then THRI off. */
static void refill(struct eh *h)
{
	out(h, UART_THR, (uint8_t)('p' + thri_count++));
	out(h, UART_THR, (uint8_t)('p' + thri_count++));
	out(h, UART_IER, UART_IER_RDI | UART_IER_RLSI);
}

/* Interrupt-driven receive through MCR loopback, FIFO trigger 4: a short
 * burst (character timeout), a long one (trigger level), THRE-driven
 * sending, an overrun reported by the line-status interrupt. */
static void script_rx_loop(struct eh *h)
{
	thri_count = 0;
	out(h, UART_IER, 0);
	set_line(h, 1, UART_LCR_WLEN8);
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(1));
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	in(h, UART_MSR);
	in(h, UART_IIR);
	out(h, UART_IER, UART_IER_RDI | UART_IER_RLSI);
	for (int i = 0; i < 3; i++) {             /* below the trigger: timeout */
		poll_lsr(h, UART_LSR_THRE);
		out(h, UART_THR, (uint8_t)('a' + i));
	}
	irq(h, NULL);
	for (int i = 0; i < 5; i++)               /* past the trigger: at once */
		out(h, UART_THR, (uint8_t)('A' + i));
	irq(h, NULL);
	out(h, UART_IER, UART_IER_RDI | UART_IER_RLSI | UART_IER_THRI);
	irq(h, refill);                           /* THRE: two bytes */
	irq(h, NULL);                             /* their timeout */
	out(h, UART_IER, UART_IER_RLSI);
	for (int i = 0; i < UART_FIFO_LEN + 1; i++)
		out(h, UART_THR, (uint8_t)(0x30 + i));
	irq(h, NULL);                             /* overrun */
	drain(h);
	shutdown(h);
	out(h, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	in(h, UART_MSR);
}

/* A loopback plug on COM1: polled echo, interrupt-driven echo, a break. */
static void script_rx_wire(struct eh *h)
{
	out(h, UART_IER, 0);
	set_line(h, 2, UART_LCR_WLEN8);
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
	out(h, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	in(h, UART_MSR);
	for (const char *s = "hi\n"; *s; s++) {
		poll_lsr(h, UART_LSR_THRE);
		out(h, UART_THR, (uint8_t)*s);
		poll_lsr(h, UART_LSR_DR);
		in(h, UART_RBR);
	}
	out(h, UART_IER, UART_IER_RDI | UART_IER_RLSI);
	for (const char *s = "ok\n"; *s; s++) {
		out(h, UART_THR, (uint8_t)*s);
		irq(h, NULL);
	}
	out(h, UART_LCR, UART_LCR_WLEN8 | UART_LCR_BREAK);
	irq(h, NULL);                             /* the break: BI, a zero byte */
	out(h, UART_LCR, UART_LCR_WLEN8);
	out(h, UART_THR, '\n');
	irq(h, NULL);
	shutdown(h);
}

/* The scratch register holds what is written (uart-echo's scratch_ok). */
static void script_scratch(struct eh *h)
{
	out(h, UART_SCR, 0xa5);
	in(h, UART_SCR);
	out(h, UART_SCR, 0x5a);
	in(h, UART_SCR);
	in(h, UART_LCR);
	out(h, UART_SCR, 0);
	in(h, UART_SCR);
}

/* Console output, then a new line format, trigger and loopback modem
 * lines with modem-status interrupts, 7-bit data, then the console's
 * settings back (uart_mode_restore) and more output. */
static void script_mode_change(struct eh *h)
{
	console_init(h);
	puts_polled(h, "a\n");
	out(h, UART_IER, 0);
	set_line(h, 0x30, 0x1e);                  /* 2400 7E2 */
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(2));
	in(h, UART_IIR);
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_OUT1);
	in(h, UART_MSR);
	out(h, UART_IER, UART_IER_MSI);
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	irq(h, NULL);                             /* RI trailing edge, DSR, CTS */
	in(h, UART_IER);
	in(h, UART_MCR);
	out(h, UART_IER, 0);
	out(h, UART_THR, 0xff);                   /* 7 bits in loopback */
	poll_lsr(h, UART_LSR_DR);
	in(h, UART_RBR);
	in(h, UART_RBR);                          /* empty: the last character again */
	out(h, UART_SCR, 0x77);
	/* uart_mode_restore */
	out(h, UART_IER, 0);
	out(h, UART_LCR, UART_LCR_DLAB);
	out(h, UART_DLL, 1);
	out(h, UART_DLM, 0);
	out(h, UART_LCR, UART_LCR_WLEN8);
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
	out(h, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	in(h, UART_MSR);
	puts_polled(h, "b\n");
	in(h, UART_SCR);
	shutdown(h);
}

/* uart-echo's driver (guest/lib/uart.c): interrupt-driven both ways
 * through loopback at trigger 8, THRE refilling up to a FIFO's worth
 * ahead of what came back, the handler re-reading IIR until none. */
static struct echo { uint32_t bytes, sent, received, rng_tx, rng_rx; uint8_t ier; } ec;

/* xorshift32: the stream both sides of the echo generate. */
static uint8_t next_byte(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (uint8_t)(*x >> 24);
}

/* Writes IER only when it changes (the driver keeps its own copy). */
static void echo_ier(struct eh *h, uint8_t v)
{
	if (v != ec.ier) {
		ec.ier = v;
		out(h, UART_IER, v);
	}
}

/* THRE: sends what the receiver can still take, stops asking when done. */
static void echo_tx(struct eh *h)
{
	uint32_t room = UART_FIFO_LEN - (ec.sent - ec.received), left = ec.bytes - ec.sent;
	uint32_t n = left < room ? left : room;
	for (uint32_t i = 0; i < n; i++)
		out(h, UART_THR, next_byte(&ec.rng_tx));
	ec.sent += n;
	if (ec.sent == ec.bytes || ec.sent - ec.received == UART_FIFO_LEN)
		echo_ier(h, ec.ier & (uint8_t)~UART_IER_THRI);
}

/* Received data: reads while LSR shows data, checking the stream. */
static void echo_rx(struct eh *h)
{
	for (int n = 0; n < 256; n++) {
		if (!(in(h, UART_LSR) & UART_LSR_DR))
			break;
		uint8_t b = in(h, UART_RBR);
		cr_assert_eq(b, next_byte(&ec.rng_rx), "%s: echo byte %u", where, ec.received);
		ec.received++;
	}
	if (ec.sent < ec.bytes)
		echo_ier(h, ec.ier | UART_IER_THRI);
}

/* The echo of 24 bytes, as uart-echo runs it. */
static void script_echo(struct eh *h)
{
	ec = (struct echo){ .bytes = 24, .rng_tx = 0x6d2b79f5u, .rng_rx = 0x6d2b79f5u };
	/* uart_mode_save */
	uint8_t lcr = in(h, UART_LCR);
	out(h, UART_LCR, lcr | UART_LCR_DLAB);
	in(h, UART_DLL);
	in(h, UART_DLM);
	out(h, UART_LCR, lcr);
	in(h, UART_IER);
	in(h, UART_MCR);
	in(h, UART_IIR);
	out(h, UART_IER, 0);
	set_line(h, 1, UART_LCR_WLEN8);
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(2));
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	in(h, UART_MSR);
	in(h, UART_IIR);
	ec.ier = in(h, UART_IER);
	echo_ier(h, UART_IER_RDI | UART_IER_RLSI | UART_IER_THRI);
	for (int guard = 0; ec.received < ec.bytes; guard++) {
		cr_assert_lt(guard, 100, "%s: echo stalled", where);
		int vec = eh_wait_irq(h);
		cr_assert_eq(vec, COM1_VEC, "%s: waited for IRQ4, got %d", where, vec);
		for (int n = 0; n < 32; n++) {
			uint8_t iir = in(h, UART_IIR);
			if (iir & UART_IIR_NONE)
				break;
			switch (iir & 0x0e) {
			case UART_IIR_RDI:
			case UART_IIR_CTI: echo_rx(h); break;
			case UART_IIR_THRI: echo_tx(h); break;
			default: in(h, UART_LSR); in(h, UART_MSR); break;
			}
		}
		eh_eoi(h, vec);
	}
	echo_ier(h, 0);
	poll_lsr(h, UART_LSR_TEMT);
	out(h, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	in(h, UART_MSR);
}

/* The character timeout's moment: after a short burst the guest looks at
 * IIR just before and just after four character times have passed since
 * the last character arrived, and again after reading one (which restarts
 * the count). Interrupts are not routed (OUT2 off): only IIR shows it. */
static void script_timeout(struct eh *h)
{
	uint64_t to = 347223;                     /* 4 x 10 bits at 115200 baud, in ns */
	out(h, UART_IER, 0);
	set_line(h, 1, UART_LCR_WLEN8);
	out(h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(1));
	out(h, UART_MCR, UART_MCR_LOOP);
	out(h, UART_IER, UART_IER_RDI);
	for (int i = 0; i < 3; i++)
		out(h, UART_THR, (uint8_t)('x' + i));
	/* the last character arrived at the last access's time; the clock
	 * has moved on one exit (1 us) since, and the read costs one more */
	eh_idle(h, to - 1500);
	in(h, UART_IIR);                          /* 500 ns before: none */
	in(h, UART_IIR);                          /* 500 ns after: timeout */
	in(h, UART_RBR);
	eh_idle(h, to - 1500);
	in(h, UART_IIR);
	in(h, UART_IIR);
	in(h, UART_LSR);
	in(h, UART_RBR);
	in(h, UART_RBR);
	in(h, UART_LSR);
	in(h, UART_IIR);
	out(h, UART_IER, 0);
	out(h, UART_MCR, 0);
}

/* THRE interrupts left enabled after the handler took the last one: IIR
 * must keep saying "none" until THR is written again. */
static void script_thre_idle(struct eh *h)
{
	console_init(h);
	out(h, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	out(h, UART_IER, UART_IER_THRI);
	irq(h, NULL);                             /* takes THRE, then none */
	in(h, UART_LSR);
	in(h, UART_IIR);
	out(h, UART_SCR, 0x42);
	in(h, UART_IIR);
	in(h, UART_IER);
	out(h, UART_THR, '!');                    /* THRE again */
	irq(h, NULL);
	out(h, UART_THR, '\n');
	in(h, UART_IIR);
	in(h, UART_IIR);
	shutdown(h);
}

typedef void script_fn(struct eh *h);

struct script {
	const char *name;
	script_fn *fn;
	int wire;                                 /* COM1 has a loopback plug */
};

static const struct script scripts[] = {
	{ "init", script_init, 0 },
	{ "transmit", script_transmit, 0 },
	{ "rx-loop", script_rx_loop, 0 },
	{ "rx-wire", script_rx_wire, 1 },
	{ "scratch", script_scratch, 0 },
	{ "mode-change", script_mode_change, 0 },
	{ "echo", script_echo, 0 },
	{ "timeout", script_timeout, 0 },
	{ "thre-idle", script_thre_idle, 0 },
};

/* ---- runs ---- */

struct run {
	struct eh h;
	struct seen seen;
	char cons[CONS_MAX];
	size_t ncons;
	int state;
	uint64_t done, aborted, pending;
};

/* Runs script sc once: COM1 starts virtualized if start_virt; action is
 * requested after access `at` (UINT64_MAX: none); bounds 0 are the
 * defaults. */
static void run(struct run *r, const struct script *sc, int start_virt, uint64_t at, int action,
		int midseq, int block, uint64_t bound_ns)
{
	struct eh_cfg cfg = { .uart_loopback = sc->wire,
			      .engine = { .midseq = midseq, .block = block, .sink = sink, .sink_ctx = &r->seen,
					  .wait_bound_ns = bound_ns, .pause_bound_ns = bound_ns } };
	memset(&r->seen, 0, sizeof(r->seen));
	eh_init(&r->h, &cfg);
	eh_pic_init(&r->h);
	if (start_virt)
		cr_assert_eq(engine__start_virtualized(r->h.e, "com1"), 0, "%s", where);
	if (at != UINT64_MAX)
		eh_switch_after(&r->h, at, "com1", action);
	sc->fn(&r->h);
	eh_idle(&r->h, 2000000);                  /* a switch asked for at the end completes */
	r->ncons = eh_console(&r->h, r->cons, sizeof(r->cons));
	r->state = engine__state(r->h.e, "com1");
	engine__counts(r->h.e, &r->done, &r->aborted, &r->pending);
}

/* Asserts that t showed the guest and the line what base did. */
static void same_outcome(struct run *base, struct run *t)
{
	cr_assert_eq(eh_compare(&base->h, &t->h), -1, "%s: observations differ", where);
	cr_assert_eq(t->ncons, base->ncons, "%s: %zu bytes on the line, baseline %zu", where, t->ncons,
		     base->ncons);
	cr_assert(!memcmp(t->cons, base->cons, base->ncons), "%s: line bytes differ: \"%s\" vs \"%s\"",
		  where, t->cons, base->cons);
}

/* The action's expected end: state, completed switches, drain, replays. */
static void expect_end(struct run *t, int action, int start_virt)
{
	int want = action == EA_VIRTUALIZE ? ES_VIRTUALIZED
		 : action == EA_DEVIRTUALIZE ? ES_PASSTHROUGH
		 : start_virt ? ES_VIRTUALIZED : ES_PASSTHROUGH;
	cr_assert_eq(t->state, want, "%s: ended %s", where, engine__state_name(t->state));
	cr_assert_eq(t->aborted, 0, "%s: a switch aborted", where);
	cr_assert_eq(t->pending, 0, "%s: a switch still pending", where);
	cr_assert_eq(t->done, (start_virt ? 1u : 0u) + (action == EA_ROUNDTRIP ? 2u : 1u), "%s", where);
	cr_assert_eq(t->seen.defers, t->seen.replayed, "%s: %u deferred, %u replayed", where,
		     t->seen.defers, t->seen.replayed);
	cr_assert_eq(t->seen.bad_drain, 0, "%s: driver not drained at D2", where);
	if (action != EA_VIRTUALIZE)
		cr_assert_geq(t->seen.d2, 1, "%s: no D2", where);
}

static const char *const policy_names[2][2] = { { "wait/busy", "wait/defer" },
						{ "takeover/busy", "takeover/defer" } };

/* Totals over a test, printed at its end. */
struct tally {
	unsigned runs, positions, deferred, busy, takeovers;
};

/* Runs sc with action requested after every access position, under all
 * four policy pairs, against the baseline. */
static void every_position(const struct script *sc, int action, int start_virt, struct tally *tl)
{
	static struct run base, t;
	snprintf(where, sizeof(where), "%s baseline", sc->name);
	run(&base, sc, 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_BUSY, 0);
	uint64_t n = base.h.accesses;
	for (uint64_t k = 0; k < n; k++)
		for (int mid = 0; mid < 2; mid++)
			for (int blk = 0; blk < 2; blk++) {
				snprintf(where, sizeof(where), "%s: %s%s after access %llu, %s", sc->name,
					 start_virt ? "virtualized, " : "", engine__action_name(action),
					 (unsigned long long)k, policy_names[mid][blk]);
				run(&t, sc, start_virt, k, action, mid, blk, 0);
				same_outcome(&base, &t);
				expect_end(&t, action, start_virt);
				tl->runs++;
				tl->deferred += t.seen.defers > 0;
				tl->busy += t.seen.busy > 0;
				tl->takeovers += t.seen.takeovers;
				eh_fini(&t.h);
			}
	eh_fini(&base.h);
	tl->positions += (unsigned)n;
}

/* Every script, every position, every policy pair for one action. */
static void every_script(int action, int start_virt)
{
	struct tally tl = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		every_position(&scripts[i], action, start_virt, &tl);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "engine_uart %s%s: %u runs over %u positions, %u with deferral, %u answered busy, "
		"%u takeovers (%.1f s)\n", start_virt ? "virtualized, " : "", engine__action_name(action),
		tl.runs, tl.positions, tl.deferred, tl.busy, tl.takeovers,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (action != EA_DEVIRTUALIZE)
		cr_assert_gt(tl.takeovers, 0, "no run took over mid-sequence");
	if (action != EA_VIRTUALIZE)
		cr_assert_gt(tl.deferred, 0, "no run deferred a write");
}

TestSuite(engine_uart, .timeout = 120);

/* Pass-through to emulated, after every access, under all four policy pairs. */
Test(engine_uart, virtualize_at_every_position)
{
	every_script(EA_VIRTUALIZE, 0);
}

/* Emulated from the start to pass-through, after every access, under all
 * four policy pairs. */
Test(engine_uart, devirtualize_at_every_position)
{
	every_script(EA_DEVIRTUALIZE, 1);
}

/* There and back, after every access, under all four policy pairs. */
Test(engine_uart, roundtrip_at_every_position)
{
	every_script(EA_ROUNDTRIP, 0);
}

/* Switches that run out of their bounds (3 us to wait or pause) abort
 * cleanly: the guest and the line still see exactly the baseline, and
 * deferred writes go back to whoever kept the device. */
Test(engine_uart, aborted_switches_lose_nothing)
{
	static struct run base, t;
	unsigned aborted = 0, runs = 0;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		const struct script *sc = &scripts[i];
		snprintf(where, sizeof(where), "%s baseline", sc->name);
		run(&base, sc, 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_BUSY, 0);
		for (uint64_t k = 0; k < base.h.accesses; k++)
			for (int virt = 0; virt < 2; virt++) {
				int action = virt ? EA_DEVIRTUALIZE : EA_VIRTUALIZE;
				snprintf(where, sizeof(where), "%s: %s after access %llu, 3 us bounds", sc->name,
					 engine__action_name(action), (unsigned long long)k);
				run(&t, sc, virt, k, action, MIDSEQ_WAIT, virt ? EDEV_BLOCK_DEFER : EDEV_BLOCK_BUSY, 3000);
				same_outcome(&base, &t);
				cr_assert_eq(t.pending, 0, "%s", where);
				cr_assert_eq(t.done + t.aborted, 1u + (unsigned)virt, "%s", where);
				cr_assert_eq(t.state, t.aborted ? (virt ? ES_VIRTUALIZED : ES_PASSTHROUGH)
							   : (virt ? ES_PASSTHROUGH : ES_VIRTUALIZED), "%s", where);
				cr_assert_eq(t.seen.defers, t.seen.replayed, "%s", where);
				aborted += (unsigned)t.aborted;
				runs++;
				eh_fini(&t.h);
			}
		eh_fini(&base.h);
	}
	fprintf(stderr, "engine_uart aborts: %u of %u switches aborted\n", aborted, runs);
	cr_assert_gt(aborted, 0, "bounds never bit");
}

/* Emulated from the start, COM1 is indistinguishable from the hardware. */
Test(engine_uart, emulation_alone_is_identical)
{
	static struct run base, t;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		snprintf(where, sizeof(where), "%s baseline", scripts[i].name);
		run(&base, &scripts[i], 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_BUSY, 0);
		snprintf(where, sizeof(where), "%s virtualized throughout", scripts[i].name);
		run(&t, &scripts[i], 1, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_BUSY, 0);
		cr_assert_eq(t.state, ES_VIRTUALIZED, "%s", where);
		same_outcome(&base, &t);
		eh_fini(&t.h);
		eh_fini(&base.h);
	}
}

/* ---- mode (V5/D4) ---- */

/* A chip's mode as registers show it. */
struct regs {
	uint16_t dl;
	uint8_t lcr, ier, mcr, scr;
};

/* Reads a chip's mode directly through its registers. */
static struct regs chip_regs(struct hw *d)
{
	struct regs r;
	r.lcr = (uint8_t)d->ops->read(d, UART_LCR, 1);
	d->ops->write(d, UART_LCR, 1, r.lcr | UART_LCR_DLAB);
	r.dl = (uint16_t)(d->ops->read(d, UART_DLL, 1) | d->ops->read(d, UART_DLM, 1) << 8);
	d->ops->write(d, UART_LCR, 1, r.lcr);
	r.ier = (uint8_t)d->ops->read(d, UART_IER, 1);
	r.mcr = (uint8_t)d->ops->read(d, UART_MCR, 1);
	r.scr = (uint8_t)d->ops->read(d, UART_SCR, 1);
	return r;
}

/* The same, as the guest reads it. */
static struct regs guest_regs(struct eh *h)
{
	struct regs r;
	r.lcr = in(h, UART_LCR);
	out(h, UART_LCR, r.lcr | UART_LCR_DLAB);
	r.dl = (uint16_t)(in(h, UART_DLL) | in(h, UART_DLM) << 8);
	out(h, UART_LCR, r.lcr);
	r.ier = in(h, UART_IER);
	r.mcr = in(h, UART_MCR);
	r.scr = in(h, UART_SCR);
	return r;
}

/* Asserts that two mode reads are equal. */
static void assert_regs(struct regs a, struct regs b, const char *what)
{
	cr_assert(a.dl == b.dl && a.lcr == b.lcr && a.ier == b.ier && a.mcr == b.mcr && a.scr == b.scr,
		  "%s: dl=%x lcr=%x ier=%x mcr=%x scr=%x, want dl=%x lcr=%x ier=%x mcr=%x scr=%x", what,
		  a.dl, a.lcr, a.ier, a.mcr, a.scr, b.dl, b.lcr, b.ier, b.mcr, b.scr);
}

/* The switch rows' modes (sink). */
static char mode_before[4][128], mode_after[4][128];
static int nrows;

/* Keeps the finished switch rows' modes. */
static void mode_sink(void *ctx, const struct eng_rec *r)
{
	(void)ctx;
	if (r->kind != ER_SWITCH || !r->has_done || nrows >= 4)
		return;
	snprintf(mode_before[nrows], sizeof(mode_before[0]), "%s", r->mode_before ? r->mode_before : "");
	snprintf(mode_after[nrows], sizeof(mode_after[0]), "%s", r->mode_after ? r->mode_after : "");
	nrows++;
}

/* Switches COM1 with the guest halted and checks the state it reaches. */
static void switch_now(struct eh *h, int action, int want)
{
	cr_assert_eq(engine__request(h->e, "com1", action), 0);
	eh_idle(h, 100000);
	cr_assert_eq(engine__state(h->e, "com1"), want, "state %s", engine__state_name(engine__state(h->e, "com1")));
}

/* A non-default mode (divisor, 8O2, trigger 8, RDI+RLSI+MSI, OUT1/OUT2,
 * scratch) survives virtualize and devirtualize, twice: the hardware reads
 * back what the guest programmed, the guest reads the same throughout, the
 * trigger level still holds, and the switch rows report equal modes. */
Test(engine_uart, mode_survives_switches)
{
	static struct eh h;
	struct eh_cfg cfg = { .engine = { .sink = mode_sink } };
	nrows = 0;
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	out(&h, UART_IER, 0);
	set_line(&h, 0x1234, UART_LCR_WLEN8 | UART_LCR_STOP2 | UART_LCR_PAREN);
	out(&h, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(2));
	out(&h, UART_MCR, UART_MCR_OUT2 | UART_MCR_OUT1 | UART_MCR_RTS | UART_MCR_DTR);
	in(&h, UART_MSR);
	out(&h, UART_SCR, 0x5a);
	out(&h, UART_IER, UART_IER_RDI | UART_IER_RLSI | UART_IER_MSI);
	struct regs want = chip_regs(h.m.com1);
	cr_assert_eq(want.dl, 0x1234);
	for (int round = 0; round < 2; round++) {
		switch_now(&h, EA_VIRTUALIZE, ES_VIRTUALIZED);
		struct regs drv = chip_regs(h.m.com1);
		cr_assert(drv.ier == UART_IER_RDI && !(drv.mcr & UART_MCR_LOOP), "the driver owns the hardware");
		cr_assert(drv.dl == want.dl && drv.lcr == want.lcr, "the line keeps the guest's settings");
		assert_regs(guest_regs(&h), want, "guest reads, emulated");
		out(&h, UART_SCR, (uint8_t)(0xa0 + round));     /* a change made while emulated */
		want.scr = (uint8_t)(0xa0 + round);
		switch_now(&h, EA_DEVIRTUALIZE, ES_PASSTHROUGH);
		assert_regs(chip_regs(h.m.com1), want, "hardware after D4");
		assert_regs(guest_regs(&h), want, "guest reads, pass-through");
	}
	/* the trigger level (FCR is write-only): 7 bytes in loopback raise
	 * nothing, the 8th raises received-data */
	out(&h, UART_IER, 0);
	out(&h, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	for (int i = 0; i < 7; i++)
		out(&h, UART_THR, (uint8_t)i);
	out(&h, UART_IER, UART_IER_RDI);
	cr_assert_eq(in(&h, UART_IIR), UART_IIR_FIFO | UART_IIR_NONE);
	out(&h, UART_THR, 7);
	cr_assert_eq(in(&h, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
	cr_assert_eq(nrows, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_str_eq(mode_before[i], mode_after[i], "switch %d", i);
		cr_assert(strstr(mode_before[i], "dl=4660 lcr=0f fcr=81 ier=0d mcr=0f"), "switch %d: %s", i,
			  mode_before[i]);
	}
	eh_fini(&h);
}

/* Takeover in the middle of divisor programming: the guest goes on in the
 * emulation, and the hardware gets the divisor once it is complete. */
Test(engine_uart, takeover_mid_divisor)
{
	static struct eh h;
	struct eh_cfg cfg = { .engine = { .midseq = MIDSEQ_TAKEOVER } };
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	out(&h, UART_LCR, UART_LCR_DLAB);
	out(&h, UART_DLL, 0x21);
	switch_now(&h, EA_VIRTUALIZE, ES_VIRTUALIZED);
	out(&h, UART_DLM, 0x43);
	cr_assert_eq(in(&h, UART_DLL), 0x21);
	out(&h, UART_LCR, UART_LCR_WLEN8);
	struct regs r = chip_regs(h.m.com1);
	cr_assert_eq(r.dl, 0x4321);
	cr_assert_eq(r.lcr, UART_LCR_WLEN8);
	eh_fini(&h);
}

/* Without takeover the switch waits for the divisor sequence to end, and
 * gives up cleanly when it never does. */
Test(engine_uart, wait_for_divisor_is_bounded)
{
	static struct eh h;
	struct eh_cfg cfg = { .engine = { .wait_bound_ns = 50000 } };
	uint64_t done, aborted, pending;
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	out(&h, UART_LCR, UART_LCR_DLAB);
	cr_assert_eq(engine__request(h.e, "com1", EA_VIRTUALIZE), 0);
	eh_idle(&h, 20000);
	cr_assert_eq(engine__state(h.e, "com1"), ES_TRACKING);
	out(&h, UART_DLL, 5);
	eh_idle(&h, 100000);
	cr_assert_eq(engine__state(h.e, "com1"), ES_PASSTHROUGH);
	engine__counts(h.e, &done, &aborted, &pending);
	cr_assert_eq(aborted, 1);
	out(&h, UART_DLM, 0);
	out(&h, UART_LCR, UART_LCR_WLEN8);
	switch_now(&h, EA_VIRTUALIZE, ES_VIRTUALIZED);
	cr_assert_eq(chip_regs(h.m.com1).dl, 5);
	eh_fini(&h);
}

/* ---- the model's additions the engine relies on (devices/uart.h) ---- */

static uint8_t sent[16];
static int nsent;

/* uart_backend.tx of the model test: records the bytes. */
static void tx_cb(void *ctx, uint8_t b)
{
	(void)ctx;
	if (nsent < 16)
		sent[nsent++] = b;
}

/* uart_backend.tx sees what leaves on the line, not what loopback keeps;
 * uart__receive delivers characters with their errors, not in loopback. */
Test(engine_uart, model_tx_callback_and_receive)
{
	struct clock clk;
	clock__init(&clk);
	struct hw_env env = { .clock = &clk };
	struct hw *u = uart__create(&env, "u", -1, &(struct uart_backend){ .out_fd = -1, .in_fd = -1, .tx = tx_cb });
	cr_assert_not_null(u);
	nsent = 0;
	u->ops->write(u, UART_LCR, 1, UART_LCR_WLEN8);
	u->ops->write(u, UART_THR, 1, 'x');
	u->ops->write(u, UART_MCR, 1, UART_MCR_LOOP);
	u->ops->write(u, UART_THR, 1, 'y');
	cr_assert_eq(nsent, 1);
	cr_assert_eq(sent[0], 'x');
	cr_assert_eq(u->ops->read(u, UART_RBR, 1), 'y');
	cr_assert_eq(uart__receive(u, 'z', 0), -ENOTCONN);
	u->ops->write(u, UART_MCR, 1, 0);
	cr_assert_eq(uart__receive(u, 0, UART_LSR_BI), 0);
	cr_assert_eq(u->ops->read(u, UART_LSR, 1), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_BI | UART_LSR_DR);
	cr_assert_eq(u->ops->read(u, UART_RBR, 1), 0);
	cr_assert_eq(uart__receive(u, 'q', 0), 0);
	cr_assert_eq(u->ops->read(u, UART_RBR, 1), 'q');
	struct hw *pic = NULL;
	cr_assert_eq(uart__receive(pic, 'q', 0), -EINVAL);
	u->ops->destroy(u);
}
