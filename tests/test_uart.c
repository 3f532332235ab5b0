/*
 * 16550A scenarios, driven the way a driver drives the chip: divisor
 * programming, FIFOs and trigger levels, loopback, each interrupt source and
 * their priority, OUT2 gating, the character timeout on the virtual clock,
 * the byte-stream backends, and save/restore with data in flight.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../devices/uart.h"

static struct clock clk;
static int level, rises;
static int history[64], nhistory;   /* every level the line was driven to */

static void irq(void *ctx, int line, int lvl)
{
	(void)ctx;
	cr_assert_eq(line, 4);
	level = lvl;
	rises += lvl;
	if (nhistory < 64)
		history[nhistory++] = lvl;
}

static struct hw *make(const struct uart_backend *be)
{
	clock__init(&clk);
	level = rises = nhistory = 0;
	struct hw_env env = { .clock = &clk, .irq_set = irq };
	struct hw *u = uart__create(&env, "com1", 4, be);
	cr_assert_not_null(u);
	return u;
}

static void wr(struct hw *u, int off, uint8_t v) { u->ops->write(u, (uint64_t)off, 1, v); }
static uint8_t rd(struct hw *u, int off) { return (uint8_t)u->ops->read(u, (uint64_t)off, 1); }

/* What a driver does first: divisor through DLAB, then the line format. */
static void program(struct hw *u, uint16_t divisor, uint8_t lcr)
{
	wr(u, UART_LCR, UART_LCR_DLAB);
	wr(u, UART_DLL, divisor & 0xff);
	wr(u, UART_DLM, divisor >> 8);
	wr(u, UART_LCR, lcr);
}

/* 115200 8N1, FIFOs on at trigger index trig, internal loopback, OUT2. */
static struct hw *make_loop(int trig, uint8_t ier)
{
	struct hw *u = make(NULL);
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET | UART_FCR_TRIG(trig));
	wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	rd(u, UART_MSR);                 /* entering loopback may latch deltas */
	wr(u, UART_IER, ier);
	return u;
}

Test(uart, reset_values)
{
	struct hw *u = make(NULL);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_NONE);
	cr_assert_eq(rd(u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(rd(u, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	cr_assert_eq(rd(u, UART_IER), 0);
	cr_assert_eq(rd(u, UART_LCR), 0);
	cr_assert_eq(rd(u, UART_MCR), 0);
	cr_assert_eq(level, 0);
	u->ops->destroy(u);
}

Test(uart, divisor_and_register_read_back)
{
	struct hw *u = make(NULL);
	program(u, 0x1234, 0x1b);        /* 8 data bits, even parity */
	cr_assert_eq(rd(u, UART_LCR), 0x1b);
	cr_assert_eq(rd(u, UART_IER), 0, "DLM is hidden without DLAB");
	wr(u, UART_LCR, 0x1b | UART_LCR_DLAB);
	cr_assert_eq(rd(u, UART_DLL), 0x34);
	cr_assert_eq(rd(u, UART_DLM), 0x12);
	wr(u, UART_LCR, 0x03);
	wr(u, UART_IER, 0xff);
	cr_assert_eq(rd(u, UART_IER), 0x0f, "IER bits 4-7 read as zero");
	wr(u, UART_MCR, 0xff);
	cr_assert_eq(rd(u, UART_MCR), 0x1f, "MCR bits 5-7 read as zero");
	wr(u, UART_SCR, 0xa5);
	cr_assert_eq(rd(u, UART_SCR), 0xa5);
	u->ops->destroy(u);
}

Test(uart, fifo_enable_reset_and_iir_bits)
{
	struct hw *u = make(NULL);
	cr_assert_eq(rd(u, UART_IIR) & UART_IIR_FIFO, 0);
	wr(u, UART_FCR, UART_FCR_ENABLE);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_NONE);
	wr(u, UART_MCR, UART_MCR_LOOP);
	for (int i = 0; i < 5; i++)
		wr(u, UART_THR, (uint8_t)i);
	cr_assert(rd(u, UART_LSR) & UART_LSR_DR);
	wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_RX_RESET);
	cr_assert_eq(rd(u, UART_LSR) & UART_LSR_DR, 0, "RX reset empties the FIFO");
	wr(u, UART_THR, 0x42);
	wr(u, UART_FCR, 0);               /* FIFOs off: both cleared, 16450 mode */
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_NONE);
	cr_assert_eq(rd(u, UART_LSR) & UART_LSR_DR, 0);
	u->ops->destroy(u);
}

Test(uart, loopback_echo_and_overrun)
{
	int pfd[2];
	cr_assert_eq(pipe2(pfd, O_NONBLOCK), 0);
	struct hw *u = make(&(struct uart_backend){ .out_fd = pfd[1], .in_fd = -1 });
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_FCR, UART_FCR_ENABLE);
	wr(u, UART_MCR, UART_MCR_LOOP);
	for (int i = 0; i < 17; i++)
		wr(u, UART_THR, (uint8_t)('a' + i));
	wr(u, UART_THR, '\n');
	cr_assert_eq(rd(u, UART_LSR), UART_LSR_DR | UART_LSR_OE | UART_LSR_THRE | UART_LSR_TEMT);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(rd(u, UART_RBR), 'a' + i, "byte %d", i);
	cr_assert_eq(rd(u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT, "overrun kept the FIFO, lost the rest");
	char c;
	cr_assert_eq(read(pfd[0], &c, 1), -1, "loopback holds the serial output idle");
	u->ops->destroy(u);
	close(pfd[0]);
	close(pfd[1]);
}

Test(uart, rx_trigger_levels)
{
	static const unsigned level_of[4] = { 1, 4, 8, 14 };
	for (int t = 0; t < 4; t++) {
		struct hw *u = make_loop(t, UART_IER_RDI);
		for (unsigned i = 0; i + 1 < level_of[t]; i++)
			wr(u, UART_THR, (uint8_t)i);
		cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_NONE, "below trigger %u", level_of[t]);
		cr_assert_eq(level, 0);
		wr(u, UART_THR, 0xee);
		cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI, "at trigger %u", level_of[t]);
		cr_assert_eq(level, 1);
		rd(u, UART_RBR);                   /* one below the trigger: RDA clears */
		cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_NONE);
		cr_assert_eq(level, 0);
		u->ops->destroy(u);
	}
}

Test(uart, char_timeout_after_four_char_times)
{
	struct hw *u = make_loop(2, UART_IER_RDI);   /* trigger 8 */
	wr(u, UART_THR, 1);
	wr(u, UART_THR, 2);
	wr(u, UART_THR, 3);
	/* 8N1 at divisor 1: 4 x 10 bits x 16 / 1843200 s = 347222.2 ns */
	clock__run_until(&clk, 347222);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_NONE);
	clock__run_until(&clk, 347223);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(u, UART_RBR), 1);
	cr_assert_eq(level, 0, "a read clears the timeout and restarts it");
	clock__run_until(&clk, 2 * 347223);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
	rd(u, UART_RBR);
	rd(u, UART_RBR);
	cr_assert_eq(clock__next(&clk), UINT64_MAX, "an empty FIFO leaves no event");
	u->ops->destroy(u);
}

Test(uart, char_time_follows_lcr_and_divisor)
{
	static const struct { uint16_t div; uint8_t lcr; uint64_t ns; } c[] = {
		{ 3, 0x1e, 1145834 },   /* 7E2: 11 bits x 16 x 3 x 4 / 1843200 s */
		{ 1, 0x04, 260417 },    /* 5N1.5: 7.5 bits */
		{ 12, 0x03, 4166667 },  /* 9600 8N1 */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct hw *u = make_loop(3, UART_IER_RDI);
		program(u, c[i].div, c[i].lcr);
		wr(u, UART_THR, 0x11);
		clock__run_until(&clk, c[i].ns - 1);
		cr_assert_eq(level, 0, "case %zu early", i);
		clock__run_until(&clk, c[i].ns);
		cr_assert_eq(level, 1, "case %zu on time", i);
		u->ops->destroy(u);
	}
}

Test(uart, thre_interrupt_cleared_by_iir_read_and_thr_write)
{
	struct hw *u = make(NULL);
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_MCR, UART_MCR_OUT2);
	wr(u, UART_IER, UART_IER_THRI);
	cr_assert_eq(level, 1, "enabling THRI with THR empty raises it");
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_THRI);
	cr_assert_eq(level, 0, "reading IIR takes the THRE interrupt");
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_NONE);
	wr(u, UART_THR, 'x');
	cr_assert_eq(level, 1, "transmission completes at once and re-raises THRE");
	nhistory = 0;
	wr(u, UART_THR, 'y');
	cr_assert_eq(nhistory, 2, "a write drops the line and THRE raises it again");
	cr_assert(history[0] == 0 && history[1] == 1);
	cr_assert_eq(rd(u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	wr(u, UART_IER, 0);
	cr_assert_eq(level, 0);
	rises = 0;
	wr(u, UART_IER, UART_IER_THRI);
	cr_assert_eq(rises, 1, "re-enabling THRI raises it again (QEMU, drivers rely on it)");
	u->ops->destroy(u);
}

Test(uart, overrun_line_status_outranks_rx_data)
{
	struct hw *u = make_loop(0, UART_IER_RDI | UART_IER_RLSI);
	for (int i = 0; i < 17; i++)
		wr(u, UART_THR, (uint8_t)i);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
	cr_assert(rd(u, UART_LSR) & UART_LSR_OE);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI, "LSR read clears line status");
	cr_assert_eq(level, 1);
	u->ops->destroy(u);
}

Test(uart, modem_status_in_loopback)
{
	struct hw *u = make(NULL);
	wr(u, UART_IER, UART_IER_MSI);
	wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);   /* CTS and DSR drop */
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_MSI);
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(u, UART_MSR), UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR);
	cr_assert_eq(level, 0, "reading MSR clears modem status");
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_NONE);
	wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_OUT1);
	cr_assert_eq(rd(u, UART_MSR), UART_MSR_DCD | UART_MSR_RI, "RI's leading edge sets no delta");
	wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	cr_assert_eq(rd(u, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS |
		     UART_MSR_TERI | UART_MSR_DDSR | UART_MSR_DCTS);
	wr(u, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	cr_assert_eq(rd(u, UART_MSR), 0xb0, "out of loopback: the cable's lines");
	u->ops->destroy(u);
}

Test(uart, out2_gates_the_line)
{
	struct hw *u = make(NULL);
	wr(u, UART_IER, UART_IER_THRI);
	cr_assert_eq(level, 0);
	wr(u, UART_MCR, UART_MCR_OUT2);
	cr_assert_eq(level, 1);
	wr(u, UART_MCR, 0);
	cr_assert_eq(level, 0);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_THRI, "still pending inside the chip");
	u->ops->destroy(u);
}

Test(uart, interrupt_priority_order)
{
	struct hw *u = make(NULL);
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_TRIG(3));
	wr(u, UART_IER, 0x0f);
	wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);    /* modem deltas pending */
	for (int i = 0; i < 17; i++)                       /* 16 in the FIFO, 1 overrun */
		wr(u, UART_THR, (uint8_t)i);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_RLSI);
	rd(u, UART_LSR);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_RDI);
	for (int i = 0; i < 3; i++)
		rd(u, UART_RBR);                           /* 13 left: below 14 */
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_THRI);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_MSI, "the THRI report was taken");
	rd(u, UART_MSR);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_NONE);
	cr_assert_eq(level, 0);
	clock__run_until(&clk, clk.now + 347223);
	wr(u, UART_IER, 0x0d);
	wr(u, UART_IER, 0x0f);                             /* THRI pending again */
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_CTI, "timeout outranks THRE");
	u->ops->destroy(u);
}

Test(uart, non_fifo_mode_holding_register)
{
	struct hw *u = make(NULL);
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	wr(u, UART_IER, UART_IER_RDI);
	wr(u, UART_THR, 'a');
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_RDI);
	wr(u, UART_THR, 'b');
	cr_assert_eq(rd(u, UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
	cr_assert_eq(rd(u, UART_RBR), 'b', "16450 mode: the new character overwrites");
	cr_assert_eq(rd(u, UART_RBR), 'b', "an empty RBR keeps the last character");
	clock__run_until(&clk, 1000000000);
	cr_assert_eq(rd(u, UART_IIR), UART_IIR_NONE, "no timeout without FIFOs");
	program(u, 1, 0x02);              /* 7 data bits: the receiver drops bit 7 */
	wr(u, UART_THR, 0xc1);
	cr_assert_eq(rd(u, UART_RBR), 0x41);
	u->ops->destroy(u);
}

Test(uart, output_reaches_backend_fd_per_line)
{
	int pfd[2];
	cr_assert_eq(pipe2(pfd, O_NONBLOCK), 0);
	struct hw *u = make(&(struct uart_backend){ .out_fd = pfd[1], .in_fd = -1 });
	for (const char *s = "ok\n"; *s; s++)    /* never programmed: LCR says 5 bits */
		wr(u, UART_THR, (uint8_t)*s);
	char buf[16] = { 0 };
	cr_assert_eq(read(pfd[0], buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "ok\n", "the byte stream carries whole bytes, as in QEMU");
	program(u, 1, UART_LCR_WLEN8);
	for (const char *s = "hi\nabc"; *s; s++)
		wr(u, UART_THR, (uint8_t)*s);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read(pfd[0], buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "hi\n");
	cr_assert_eq(read(pfd[0], buf, sizeof(buf)), -1, "a partial line waits");
	u->ops->destroy(u);               /* flushes the rest */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read(pfd[0], buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "abc");
	close(pfd[0]);
	close(pfd[1]);
}

Test(uart, input_fd_paced_by_the_fifo)
{
	int pfd[2];
	cr_assert_eq(pipe2(pfd, O_NONBLOCK), 0);
	char msg[40];
	for (int i = 0; i < 40; i++)
		msg[i] = (char)('A' + i);
	cr_assert_eq(write(pfd[1], msg, sizeof(msg)), 40);
	close(pfd[1]);
	struct hw *u = make(&(struct uart_backend){ .out_fd = -1, .in_fd = pfd[0] });
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_TRIG(2));
	wr(u, UART_MCR, UART_MCR_LOOP);
	u->ops->poll(u);
	cr_assert_eq(rd(u, UART_LSR) & UART_LSR_DR, 0, "loopback disconnects the RX pin");
	wr(u, UART_MCR, 0);
	u->ops->poll(u);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_NONE, "IER off");
	for (int i = 0; i < 10; i++)
		u->ops->poll(u);
	cr_assert_eq(rd(u, UART_LSR) & UART_LSR_OE, 0, "input waits instead of overrunning");
	int got = 0;
	for (int spin = 0; spin < 200 && got < 40; spin++) {
		u->ops->poll(u);
		while (got < 40 && (rd(u, UART_LSR) & UART_LSR_DR))
			cr_assert_eq(rd(u, UART_RBR), 'A' + got++);
	}
	cr_assert_eq(got, 40);
	u->ops->poll(u);                   /* end of input: quiet, no crash */
	u->ops->destroy(u);
	close(pfd[0]);
}

Test(uart, wire_loopback_plug_and_break)
{
	struct hw *u = make(&(struct uart_backend){ .out_fd = -1, .in_fd = -1, .wire_loopback = 1 });
	program(u, 1, UART_LCR_WLEN8);
	wr(u, UART_FCR, UART_FCR_ENABLE);
	wr(u, UART_MCR, UART_MCR_OUT2);
	wr(u, UART_IER, UART_IER_RLSI);
	wr(u, UART_THR, 'z');
	cr_assert_eq(rd(u, UART_RBR), 'z', "the plug carries TX to RX");
	wr(u, UART_LCR, UART_LCR_WLEN8 | UART_LCR_BREAK);
	wr(u, UART_LCR, UART_LCR_WLEN8);
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_RLSI);
	cr_assert_eq(rd(u, UART_LSR), UART_LSR_BI | UART_LSR_DR | UART_LSR_RXFE |
		     UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(rd(u, UART_RBR), 0);
	cr_assert_eq(rd(u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(level, 0);
	u->ops->destroy(u);
}

Test(uart, save_restore_with_fifo_data)
{
	struct hw *u = make_loop(2, UART_IER_RDI | UART_IER_THRI);
	rd(u, UART_IIR);
	for (int i = 0; i < 5; i++)
		wr(u, UART_THR, (uint8_t)(0x60 + i));
	rd(u, UART_RBR);                   /* ring head moves off slot 0 */
	clock__run_until(&clk, 1000);
	char st[512], tiny[4];
	size_t n = u->ops->save(u, st, sizeof(st));
	cr_assert(n > 0 && n <= sizeof(st));
	cr_assert_eq(u->ops->save(u, tiny, sizeof(tiny)), n, "too small: the size, nothing written");
	for (int i = 0; i < 4; i++)
		rd(u, UART_RBR);
	wr(u, UART_FCR, 0);
	wr(u, UART_LCR, UART_LCR_DLAB);
	wr(u, UART_DLL, 99);
	cr_assert_eq(u->ops->restore(u, st, n), 0);
	clk.now = 1000;
	cr_assert_eq(rd(u, UART_LCR), UART_LCR_WLEN8);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_THRI);
	for (int i = 1; i < 3; i++)
		cr_assert_eq(rd(u, UART_RBR), 0x60 + i);
	/* the timeout restarted by the last read, 4 char times later */
	clock__run_until(&clk, 1000 + 347222);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_NONE);
	clock__run_until(&clk, 1000 + 347223);
	cr_assert_eq(rd(u, UART_IIR), 0xc0 | UART_IIR_CTI);
	cr_assert_eq(rd(u, UART_RBR), 0x63);
	cr_assert_eq(rd(u, UART_RBR), 0x64);
	cr_assert_eq(rd(u, UART_LSR) & UART_LSR_DR, 0);

	/* restore re-arms a pending timeout by itself */
	for (int i = 0; i < 2; i++)
		wr(u, UART_THR, (uint8_t)i);
	n = u->ops->save(u, st, sizeof(st));
	uint64_t due = clock__next(&clk);
	rd(u, UART_RBR);
	rd(u, UART_RBR);
	cr_assert_eq(clock__next(&clk), UINT64_MAX);
	cr_assert_eq(u->ops->restore(u, st, n), 0);
	cr_assert_eq(clock__next(&clk), due);

	cr_assert_eq(u->ops->restore(u, st, n - 1), -EINVAL);
	st[0] ^= 0xff;
	cr_assert_eq(u->ops->restore(u, st, n), -EINVAL, "not a UART state");
	u->ops->destroy(u);
}

Test(uart, survives_any_register_sequence)
{
	struct hw *u = make(&(struct uart_backend){ .out_fd = -1, .in_fd = -1, .wire_loopback = 1 });
	uint32_t x = 12345;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		uint64_t off = x % 10;   /* past the end too */
		if (x & 0x100)
			u->ops->write(u, off, 1 + (x >> 30), x >> 16);
		else
			cr_assert_eq(u->ops->read(u, off, 1) & ~0xffull, 0);
		if ((x & 0xff) == 7)
			clock__run_until(&clk, clk.now + (x >> 12));
		uint8_t iir = (uint8_t)u->ops->read(u, UART_IIR, 1);
		cr_assert_eq(iir & 0x30, 0);
	}
	u->ops->destroy(u);
}
