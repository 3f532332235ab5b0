/*
 * uart-echo: a COM1 16550A driver echoing a seeded byte stream through the
 * UART's own loopback, interrupt-driven both ways, unaware of who provides
 * the UART (QEMU, devirt's model, a switch in between).
 *
 * Arguments: bytes= (default 512), seed= (1), baud= (115200), trigger=
 * (receive FIFO trigger level 1/4/8/14, default 8). The driver programs the
 * divisor through DLAB, 8N1, FIFOs at the trigger level, MCR loopback with
 * OUT2 (so IRQ4 reaches the PIC), checks the read-backs, then echoes with
 * hlt between interrupts; the PIT bounds the wait so a silent UART fails
 * with GUEST_EXIT_TIMEOUT instead of hanging. The console shares COM1, so
 * nothing is printed until loopback is left and the console's settings are
 * back; failures are reported then.
 */
#include "guest.h"
#include "uart.h"

const char *workload_name = "uart-echo";

#define WATCHDOG_HZ	100
#define TEMT_POLLS	100000

enum failure { OK = 0, BAD_READBACK, BAD_FIFO, BAD_MODEM, TIMED_OUT, BAD_DATA };

static const char *const failure_text[] = {
	[OK] = "ok", [BAD_READBACK] = "divisor/LCR/SCR read-back differs",
	[BAD_FIFO] = "IIR does not show the FIFOs on",
	[BAD_MODEM] = "MSR does not reflect MCR in loopback",
	[TIMED_OUT] = "timed out waiting for the echo", [BAD_DATA] = "echo differs",
};

static uint8_t in(int reg) { return inb((uint16_t)(COM1_BASE + reg)); }
static void out(int reg, uint8_t v) { outb((uint16_t)(COM1_BASE + reg), v); }

/* Checks the scratch register holds what is written. */
static int scratch_ok(uint8_t pattern)
{
	out(UART_SCR, pattern);
	if (in(UART_SCR) != pattern)
		return 0;
	uint8_t inverse = (uint8_t)~pattern;

	out(UART_SCR, inverse);
	return in(UART_SCR) == inverse;
}

/* In loopback the modem outputs drive the inputs: OUT2->DCD, OUT1->RI,
 * RTS->CTS, DTR->DSR. Ends with MCR = LOOP | OUT2 | DTR | RTS. */
static int loopback_modem_ok(void)
{
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_OUT1);
	if ((in(UART_MSR) & 0xf0) != 0xc0)
		return 0;
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	return (in(UART_MSR) & 0xf0) == 0xb0;
}

/* Empties what earlier use left behind: received bytes, latched status. */
static void quiesce(void)
{
	for (int n = 0; n < 64 && (in(UART_LSR) & UART_LSR_DR); n++)
		in(UART_RBR);
	in(UART_MSR);
	for (int n = 0; n < 8 && !(in(UART_IIR) & UART_IIR_NONE); n++)
		;
}

/* Halts until the echo is done or the watchdog's deadline passes. The
 * "sti; hlt" pair cannot lose a wake-up: STI takes effect after HLT starts. */
static int wait_echo(const struct uart_echo *e, uint64_t deadline_ms)
{
	uint64_t limit = deadline_ms * WATCHDOG_HZ / 1000;

	cli();
	while (!uart_echo_done(e) && pit_ticks() < limit) {
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
	return uart_echo_done(e);
}

int workload_main(void)
{
	uint64_t bytes = arg_u64("bytes", 512);
	uint64_t seed = arg_u64("seed", 1);
	uint64_t baud = arg_u64("baud", UART_BASE_BAUD);
	uint64_t trigger = arg_u64("trigger", 8);
	int trig_bits = uart_trigger_bits((unsigned)trigger);

	if (baud == 0 || baud > UART_BASE_BAUD || (UART_BASE_BAUD + baud / 2) / baud > 0xffff ||
	    trigger > 14 || trig_bits < 0 || bytes > 0xffffffffu) {
		printf("bad arguments: baud=%lu (2..115200) trigger=%lu (1, 4, 8, 14) bytes=%lu\n",
		       baud, trigger, bytes);
		return 1;
	}
	uint16_t divisor = (uint16_t)((UART_BASE_BAUD + baud / 2) / baud);
	/* generous: twice the time the stream takes on a real wire, plus a second */
	uint64_t deadline_ms = 1000 + 2 * bytes * 10 * 1000 / baud;
	struct uart_echo e = { .bytes = (uint32_t)bytes, .seed = (uint32_t)seed };
	struct uart_mode console;
	enum failure why = OK;

	printf("uart-echo: %lu bytes, seed %lu, %lu baud (divisor %u), trigger %lu\n",
	       bytes, seed, baud, divisor, trigger);
	pit_init(WATCHDOG_HZ);
	pic_unmask(0);

	/* From here until the console is restored: no printing. */
	uart_mode_save(&console);
	out(UART_IER, 0);
	if (uart_set_line(divisor, UART_LCR_8N1) || !scratch_ok((uint8_t)(0xa5 ^ seed)))
		why = BAD_READBACK;
	out(UART_FCR, (uint8_t)(UART_FCR_ENABLE | UART_FCR_RESETS | trig_bits));
	if (!why && (in(UART_IIR) & UART_IIR_FIFO) != UART_IIR_FIFO)
		why = BAD_FIFO;
	if (!loopback_modem_ok() && !why)
		why = BAD_MODEM;
	quiesce();
	if (!why) {
		uart_echo_start(&e);
		if (!wait_echo(&e, deadline_ms))
			why = TIMED_OUT;
		else if (!uart_echo_ok(&e))
			why = BAD_DATA;
		uart_echo_stop(&e);
	}
	for (int n = 0; n < TEMT_POLLS && !(in(UART_LSR) & UART_LSR_TEMT); n++)
		;
	uart_mode_restore(&console);
	pic_mask(0);

	printf("uart-echo: sent %u received %u mismatches %u extra %u line-errors %u\n",
	       e.sent, e.received, e.mismatches, e.extra, e.line_errors);
	printf("uart-echo: irqs %u rdi %u cti %u thri %u rlsi %u msi %u stuck %u\n",
	       e.irqs, e.rdi, e.cti, e.thri, e.rlsi, e.msi, e.iir_stuck);
	if (e.mismatches)
		printf("uart-echo: first mismatch at byte %u\n", e.first_mismatch);
	printf("uart-echo: %s\n", failure_text[why]);
	if (why == TIMED_OUT)
		guest_fail(GUEST_EXIT_TIMEOUT);
	return why == OK ? 0 : 1;
}
