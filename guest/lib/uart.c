/*
 * The COM1 16550A driver of uart.h. The echo is interrupt-driven both ways:
 * THRE refills the transmitter (a FIFO's worth at a time), received-data and
 * character-timeout interrupts drain the receiver. In loopback the receive
 * FIFO must hold everything in flight, so at most UART_FIFO_LEN bytes are
 * sent ahead of those received: no overrun on any timing, and the final
 * partial FIFO is picked up by the character timeout. The handler re-reads
 * IIR until no interrupt is pending, because IRQ4 is edge-triggered at the
 * 8259: the line must drop before a new edge can be seen.
 */
#include "guest.h"
#include "uart.h"

#define LOOP_BOUND	256	/* IIR reads or RBR reads per interrupt before giving up */

static struct uart_echo *echo;	/* the echo the IRQ4 handler serves */
static uint32_t tx_rng, rx_rng;	/* the stream, generated on both sides */
static uint8_t ier;		/* IER as last written, to avoid reading it back */

static uint8_t in(int reg) { return inb((uint16_t)(COM1_BASE + reg)); }
static void out(int reg, uint8_t v) { outb((uint16_t)(COM1_BASE + reg), v); }

/* Reads the divisor with DLAB set, leaving LCR as it was. */
void uart_mode_save(struct uart_mode *m)
{
	m->lcr = in(UART_LCR);
	out(UART_LCR, m->lcr | UART_LCR_DLAB);
	m->divisor = in(UART_DLL);
	m->divisor |= (uint16_t)(in(UART_DLM) << 8);
	out(UART_LCR, m->lcr & (uint8_t)~UART_LCR_DLAB);
	m->ier = in(UART_IER);
	m->mcr = in(UART_MCR);
	m->fifo_on = (in(UART_IIR) & UART_IIR_FIFO) == UART_IIR_FIFO;
	out(UART_LCR, m->lcr);
}

/* IER goes last, so no interrupt fires while the rest is half set. */
void uart_mode_restore(const struct uart_mode *m)
{
	out(UART_IER, 0);
	out(UART_LCR, UART_LCR_DLAB);
	out(UART_DLL, (uint8_t)m->divisor);
	out(UART_DLM, (uint8_t)(m->divisor >> 8));
	out(UART_LCR, m->lcr);
	out(UART_FCR, m->fifo_on ? UART_FCR_ENABLE | UART_FCR_RESETS : 0);
	out(UART_MCR, m->mcr);
	out(UART_IER, m->ier);
}

int uart_set_line(uint16_t divisor, uint8_t lcr)
{
	out(UART_LCR, UART_LCR_DLAB);
	out(UART_DLL, (uint8_t)divisor);
	out(UART_DLM, (uint8_t)(divisor >> 8));
	uint16_t back = in(UART_DLL);

	back |= (uint16_t)(in(UART_DLM) << 8);
	out(UART_LCR, lcr);
	return back == divisor && in(UART_LCR) == lcr ? 0 : -1;
}

int uart_trigger_bits(unsigned level)
{
	switch (level) {
	case 1:  return 0x00;
	case 4:  return 0x40;
	case 8:  return 0x80;
	case 14: return 0xc0;
	default: return -1;
	}
}

/* xorshift32: the byte stream both sides generate from the seed. */
static uint8_t next_byte(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (uint8_t)(*s >> 24);
}

static void set_ier(uint8_t v)
{
	if (v != ier) {
		ier = v;
		out(UART_IER, v);
	}
}

/* Writes what the THRE interrupt allows; stops asking for THRE when all is
 * sent or the receiver could not take more, until the receiver drains. */
static void tx_fill(struct uart_echo *e)
{
	uint32_t room = UART_FIFO_LEN - (e->sent - e->received);
	uint32_t left = e->bytes - e->sent;
	uint32_t n = left < room ? left : room;

	for (uint32_t i = 0; i < n; i++)
		out(UART_THR, next_byte(&tx_rng));
	e->sent += n;
	if (e->sent == e->bytes || e->sent - e->received == UART_FIFO_LEN)
		set_ier(ier & (uint8_t)~UART_IER_THRI);
}

/* Reads while LSR shows data, checking each byte against the stream. */
static void rx_drain(struct uart_echo *e)
{
	for (int n = 0; n < LOOP_BOUND; n++) {
		uint8_t lsr = in(UART_LSR);

		if (lsr & UART_LSR_ERRORS)
			e->line_errors++;
		if (!(lsr & UART_LSR_DR))
			break;
		uint8_t b = in(UART_RBR);

		if (e->received == e->sent) {
			e->extra++;	/* nothing was in flight */
			continue;
		}
		if (b != next_byte(&rx_rng) && !e->mismatches++)
			e->first_mismatch = e->received;
		e->received++;
	}
	if (e->sent < e->bytes)
		set_ier(ier | UART_IER_THRI);	/* THR is empty: THRE fires at once */
}

static void uart_isr(int irq)
{
	(void)irq;
	struct uart_echo *e = echo;

	if (!e)
		return;
	e->irqs++;
	for (int n = 0; n < LOOP_BOUND; n++) {
		uint8_t iir = in(UART_IIR);

		if (iir & UART_IIR_NONE)
			return;
		switch (iir & UART_IIR_ID) {
		case UART_IIR_RLSI:
			e->rlsi++;
			if (in(UART_LSR) & UART_LSR_ERRORS)
				e->line_errors++;
			break;
		case UART_IIR_RDI:
			e->rdi++;
			rx_drain(e);
			break;
		case UART_IIR_CTI:
			e->cti++;
			rx_drain(e);
			break;
		case UART_IIR_THRI:
			e->thri++;
			tx_fill(e);
			break;
		default:
			e->msi++;
			in(UART_MSR);
			break;
		}
	}
	e->iir_stuck++;
	set_ier(0);	/* a UART that never stops asking: silence it */
}

void uart_echo_start(struct uart_echo *e)
{
	uint32_t seed = e->seed * 0x9e3779b9u + 0x6d2b79f5u;

	tx_rng = rx_rng = seed ? seed : 1;
	e->sent = e->received = 0;
	echo = e;
	ier = in(UART_IER);
	irq_register(COM1_IRQ, uart_isr);
	pic_unmask(COM1_IRQ);
	set_ier(UART_IER_RDI | UART_IER_RLSI | (e->bytes ? UART_IER_THRI : 0));
}

int uart_echo_done(const struct uart_echo *e)
{
	return e->received == e->bytes || !uart_echo_ok(e);
}

int uart_echo_ok(const struct uart_echo *e)
{
	return !e->mismatches && !e->extra && !e->line_errors && !e->iir_stuck;
}

void uart_echo_stop(struct uart_echo *e)
{
	(void)e;
	set_ier(0);
	pic_mask(COM1_IRQ);
	irq_register(COM1_IRQ, NULL);
	echo = NULL;
}
