/*
 * 16550A UART (see uart.h). Where the datasheet and QEMU (our reference
 * hardware) disagree, the choice is noted at the spot. In short: transmit
 * and the THRE interrupt follow QEMU (instantaneous transmission, THRE
 * re-raised after every write and when IER.THRI is turned on); the receive
 * FIFO, line status, loopback modem lines and OUT2 gating follow the
 * datasheet. The transmit FIFO therefore never holds a byte at the end of an
 * access and has no storage here; FCR's TX reset only re-arms THRE.
 * Output is buffered per line so a chatty guest costs one write(2) per line.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "uart.h"

#define STATE_MAGIC 0x30353555u   /* "U550" */
#define LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define MSR_DELTAS 0x0f

/* The device state, saved verbatim: fixed-size fields, no pointers. */
struct uart_state {
	uint32_t magic;
	uint16_t divisor;
	uint8_t ier, lcr, mcr, scr;
	uint8_t fcr;              /* sticky FCR bits: enable, DMA mode, trigger */
	uint8_t lsr;              /* OE PE FE BI THRE TEMT; DR and RXFE are derived */
	uint8_t msr;              /* input lines in bits 4-7, deltas in bits 0-3 */
	uint8_t rbr;              /* last character read: what an empty RBR returns */
	uint8_t rx[UART_FIFO_LEN];
	uint8_t rx_err[UART_FIFO_LEN];  /* PE/FE/BI received with each character */
	uint8_t rx_head, rx_count;
	uint8_t thr_ipending;     /* THRE interrupt not yet taken by an IIR read */
	uint8_t timeout_ipending; /* the character timeout has fired */
	uint8_t irq_level;        /* what the line is driven to */
};

struct uart {
	struct hw hw;
	struct uart_state s;
	struct clock_event timeout;
	int out_fd, in_fd, wire;
	void (*tx)(void *ctx, uint8_t byte);
	void *tx_ctx;
	size_t nbuf;
	char buf[256];
};

static struct uart *to_uart(struct hw *hw) { return container_of(hw, struct uart, hw); }

static int fifo_on(const struct uart *u) { return u->s.fcr & UART_FCR_ENABLE; }

static unsigned trigger(const struct uart *u)
{
	static const uint8_t level[4] = { 1, 4, 8, 14 };
	return level[u->s.fcr >> 6];
}

/* Virtual ns four characters take on the wire at the current LCR and
 * divisor: (start + data + parity + stop bits) x 16 clocks at 1.8432 MHz /
 * divisor. Counted in half bits for 1.5 stop bits; divisor 0 acts as 65536. */
static uint64_t timeout_ns(const struct uart *u)
{
	unsigned data = 5 + (u->s.lcr & 3);
	uint64_t half_bits = 2 * (1 + data + !!(u->s.lcr & UART_LCR_PAREN));
	if (!(u->s.lcr & UART_LCR_STOP2))
		half_bits += 2;
	else
		half_bits += data == 5 ? 3 : 4;
	uint64_t div = u->s.divisor ? u->s.divisor : 65536;
	return (4 * half_bits * 8 * div * 1000000000ull + UART_CLOCK_HZ - 1) / UART_CLOCK_HZ;
}

/* Keeps only the bits the word length puts on the wire. */
static uint8_t word(const struct uart *u, uint8_t byte)
{
	return byte & (0xff >> (3 - (u->s.lcr & 3)));
}

/* Returns the IIR interrupt id to report, by the datasheet's priority. */
static uint8_t pending(const struct uart *u)
{
	const struct uart_state *s = &u->s;
	if ((s->ier & UART_IER_RLSI) && (s->lsr & LSR_ERRORS))
		return UART_IIR_RLSI;
	/* Both are priority 2; QEMU reports the timeout first, so do we. */
	if ((s->ier & UART_IER_RDI) && s->timeout_ipending)
		return UART_IIR_CTI;
	if ((s->ier & UART_IER_RDI) && s->rx_count && (!fifo_on(u) || s->rx_count >= trigger(u)))
		return UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & MSR_DELTAS))
		return UART_IIR_MSI;
	return UART_IIR_NONE;
}

/* Drives the line to what the state implies; only changes reach the PIC,
 * which is edge-triggered. OUT2 gates the line as the PC's buffer does
 * (QEMU does not gate; the datasheet's PC wiring does). */
static void update_irq(struct uart *u)
{
	uint8_t level = pending(u) != UART_IIR_NONE && (u->s.mcr & UART_MCR_OUT2);
	if (level != u->s.irq_level) {
		u->s.irq_level = level;
		hw__irq(&u->hw, level);
	}
}

/* The timeout counts from the last character received or read, and only
 * while the FIFO holds data (datasheet); an empty FIFO leaves no event. */
static void restart_timeout(struct uart *u)
{
	struct clock *c = u->hw.env.clock;
	if (fifo_on(u) && u->s.rx_count)
		clock__arm(c, &u->timeout, c->now + timeout_ns(u));
	else
		clock__disarm(c, &u->timeout);
}

static void on_timeout(void *ctx, uint64_t now)
{
	(void)now;
	struct uart *u = ctx;
	if (fifo_on(u) && u->s.rx_count) {
		u->s.timeout_ipending = 1;
		update_irq(u);
	}
}

/* A character arrives from the line with its error bits. A full FIFO keeps
 * its contents and reports an overrun; in 16450 mode the holding register
 * is overwritten instead (both as the datasheet says). */
static void rx_push(struct uart *u, uint8_t byte, uint8_t err)
{
	struct uart_state *s = &u->s;
	unsigned cap = fifo_on(u) ? UART_FIFO_LEN : 1;
	if (s->rx_count == cap) {
		s->lsr |= UART_LSR_OE;
		if (!fifo_on(u)) {
			s->rx[s->rx_head] = byte;
			s->rx_err[s->rx_head] = err;
			s->lsr |= err;
		}
	} else {
		unsigned tail = (s->rx_head + s->rx_count) % UART_FIFO_LEN;
		s->rx[tail] = byte;
		s->rx_err[tail] = err;
		if (s->rx_count++ == 0)
			s->lsr |= err;   /* errors show when the character is at the top */
	}
	restart_timeout(u);
	update_irq(u);
}

/* The CPU reads RBR. Reading an empty FIFO returns the last character. */
static uint8_t rx_pop(struct uart *u)
{
	struct uart_state *s = &u->s;
	if (!s->rx_count)
		return s->rbr;
	s->rbr = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % UART_FIFO_LEN;
	if (--s->rx_count)
		s->lsr |= s->rx_err[s->rx_head];
	s->timeout_ipending = 0;
	restart_timeout(u);
	update_irq(u);
	return s->rbr;
}

static void rx_reset(struct uart *u)
{
	u->s.rx_head = u->s.rx_count = 0;
	u->s.timeout_ipending = 0;
	clock__disarm(u->hw.env.clock, &u->timeout);
}

static int rx_has_error(const struct uart *u)
{
	for (unsigned i = 0; i < u->s.rx_count; i++)
		if (u->s.rx_err[(u->s.rx_head + i) % UART_FIFO_LEN])
			return 1;
	return 0;
}

static void flush(struct uart *u)
{
	size_t off = 0;
	while (u->out_fd >= 0 && off < u->nbuf) {
		ssize_t n = write(u->out_fd, u->buf + off, u->nbuf - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;              /* output gone: the guest must not notice */
		off += (size_t)n;
	}
	u->nbuf = 0;
}

/* A character leaves the shift register. In MCR loopback the serial output
 * is held idle and the character goes to our own receiver; a loopback plug
 * carries it from the TX pin back to RX. Our receiver decodes only the
 * word length's bits; the byte-stream backend carries whole bytes, as in
 * QEMU, so a guest that never programs LCR (reset: 5 bits) still prints. */
static void transmit(struct uart *u, uint8_t byte)
{
	if (u->s.mcr & UART_MCR_LOOP) {
		rx_push(u, word(u, byte), 0);
		return;
	}
	if (u->wire && !(u->s.lcr & UART_LCR_BREAK))
		rx_push(u, word(u, byte), 0);
	if (u->tx)
		u->tx(u->tx_ctx, byte);
	if (u->out_fd < 0)
		return;
	u->buf[u->nbuf++] = (char)byte;
	if (byte == '\n' || u->nbuf == sizeof(u->buf))
		flush(u);
}

/* THR write: like QEMU, the THRE interrupt drops, the byte goes out at
 * once and THRE rises again, so each write is a fresh edge when enabled. */
static void write_thr(struct uart *u, uint8_t v)
{
	u->s.thr_ipending = 0;
	u->s.lsr &= (uint8_t)~(UART_LSR_THRE | UART_LSR_TEMT);
	update_irq(u);
	transmit(u, v);
	u->s.lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	u->s.thr_ipending = !!(u->s.ier & UART_IER_THRI);
	update_irq(u);
}

/* Turning IER.THRI on while THR is empty raises THRE again even if an IIR
 * read took it before: the 16550A does this, QEMU too, drivers rely on it. */
static void write_ier(struct uart *u, uint8_t v)
{
	uint8_t changed = (u->s.ier ^ v) & 0x0f;
	u->s.ier = v & 0x0f;
	if (changed & UART_IER_THRI)
		u->s.thr_ipending = (u->s.ier & UART_IER_THRI) && (u->s.lsr & UART_LSR_THRE);
	update_irq(u);
}

/* FCR: with bit 0 clear the other bits are not programmed (datasheet);
 * switching the FIFOs on or off clears them. */
static void write_fcr(struct uart *u, uint8_t v)
{
	int was_on = fifo_on(u);
	if (!(v & UART_FCR_ENABLE)) {
		if (was_on) {
			u->s.fcr &= (uint8_t)~UART_FCR_ENABLE;
			v = UART_FCR_RX_RESET | UART_FCR_TX_RESET;
		} else {
			v = 0;
		}
	} else {
		if (!was_on)
			v |= UART_FCR_RX_RESET | UART_FCR_TX_RESET;
		u->s.fcr = v & 0xc9;
	}
	if (v & UART_FCR_RX_RESET)
		rx_reset(u);
	if (v & UART_FCR_TX_RESET) {     /* an empty THR: THRE again, as QEMU does */
		u->s.lsr |= UART_LSR_THRE | UART_LSR_TEMT;
		u->s.thr_ipending = !!(u->s.ier & UART_IER_THRI);
	}
	update_irq(u);
}

/* A break reaches a receiver only through a loopback plug: the break bit
 * acts on the SOUT pin, which MCR loopback holds idle. One break gives one
 * zero character with BI. */
static void write_lcr(struct uart *u, uint8_t v)
{
	uint8_t rising = (uint8_t)(v & ~u->s.lcr);
	u->s.lcr = v;
	if ((rising & UART_LCR_BREAK) && u->wire && !(u->s.mcr & UART_MCR_LOOP))
		rx_push(u, 0, UART_LSR_BI);
}

/* Returns the modem input lines: in loopback DTR->DSR, RTS->CTS,
 * OUT1->RI, OUT2->DCD (datasheet); otherwise a live cable with CTS, DSR and
 * DCD asserted, QEMU's default. */
static uint8_t modem_inputs(const struct uart *u)
{
	uint8_t m = u->s.mcr;
	if (!(m & UART_MCR_LOOP))
		return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	return (uint8_t)((m & UART_MCR_DTR ? UART_MSR_DSR : 0) | (m & UART_MCR_RTS ? UART_MSR_CTS : 0) |
			 (m & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (m & UART_MCR_OUT2 ? UART_MSR_DCD : 0));
}

/* Latches delta bits for input changes (TERI on RI's trailing edge only).
 * QEMU shows no deltas in loopback; the datasheet does, so do we. */
static void write_mcr(struct uart *u, uint8_t v)
{
	u->s.mcr = v & 0x1f;
	uint8_t in = modem_inputs(u), old = u->s.msr & 0xf0, chg = old ^ in, d = 0;
	if (chg & UART_MSR_CTS)
		d |= UART_MSR_DCTS;
	if (chg & UART_MSR_DSR)
		d |= UART_MSR_DDSR;
	if (chg & UART_MSR_DCD)
		d |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) && !(in & UART_MSR_RI))
		d |= UART_MSR_TERI;
	u->s.msr = (uint8_t)((u->s.msr & MSR_DELTAS) | d | in);
	update_irq(u);
}

static uint8_t read_iir(struct uart *u)
{
	uint8_t id = pending(u);
	if (id == UART_IIR_THRI) {
		u->s.thr_ipending = 0;
		update_irq(u);
	}
	return id | (fifo_on(u) ? UART_IIR_FIFO : 0);
}

static uint8_t read_lsr(struct uart *u)
{
	uint8_t v = u->s.lsr;
	if (u->s.rx_count)
		v |= UART_LSR_DR;
	if (fifo_on(u) && rx_has_error(u))
		v |= UART_LSR_RXFE;
	u->s.lsr &= (uint8_t)~LSR_ERRORS;
	update_irq(u);
	return v;
}

static uint8_t read_msr(struct uart *u)
{
	uint8_t v = u->s.msr;
	u->s.msr &= 0xf0;
	update_irq(u);
	return v;
}

static uint64_t uart_read(struct hw *hw, uint64_t off, unsigned size)
{
	(void)size;
	struct uart *u = to_uart(hw);
	int dlab = u->s.lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_RBR: return dlab ? (u->s.divisor & 0xff) : rx_pop(u);
	case UART_IER: return dlab ? (u->s.divisor >> 8) : u->s.ier;
	case UART_IIR: return read_iir(u);
	case UART_LCR: return u->s.lcr;
	case UART_MCR: return u->s.mcr;
	case UART_LSR: return read_lsr(u);
	case UART_MSR: return read_msr(u);
	case UART_SCR: return u->s.scr;
	default:       return 0xff;
	}
}

static void uart_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	struct uart *u = to_uart(hw);
	uint8_t v = (uint8_t)val;
	int dlab = u->s.lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_THR:
		if (dlab)
			u->s.divisor = (uint16_t)((u->s.divisor & 0xff00) | v);
		else
			write_thr(u, v);
		break;
	case UART_IER:
		if (dlab)
			u->s.divisor = (uint16_t)((u->s.divisor & 0xff) | (v << 8));
		else
			write_ier(u, v);
		break;
	case UART_FCR: write_fcr(u, v); break;
	case UART_LCR: write_lcr(u, v); break;
	case UART_MCR: write_mcr(u, v); break;
	case UART_SCR: u->s.scr = v; break;
	default:       break;          /* LSR and MSR are read-only */
	}
}

/* Room the receiver advertises to the input stream, as QEMU's can_receive:
 * up to the trigger level, then one at a time, so input is paced by the
 * guest's reads instead of overrunning. */
static unsigned can_receive(const struct uart *u)
{
	unsigned n = u->s.rx_count;
	if (!fifo_on(u))
		return n ? 0 : 1;
	if (n >= UART_FIFO_LEN)
		return 0;
	return n < trigger(u) ? trigger(u) - n : 1;
}

/* Input arrives whenever the monitor gets control. Loopback disconnects
 * the RX pin; end of input or an error makes the line quiet for good. */
static void uart_poll(struct hw *hw)
{
	struct uart *u = to_uart(hw);
	if (u->in_fd < 0 || u->wire || (u->s.mcr & UART_MCR_LOOP))
		return;
	unsigned room = can_receive(u);
	struct pollfd p = { .fd = u->in_fd, .events = POLLIN };
	if (!room || poll(&p, 1, 0) <= 0)
		return;
	uint8_t buf[UART_FIFO_LEN];
	ssize_t n = read(u->in_fd, buf, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		u->in_fd = -1;             /* not ours to close */
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		rx_push(u, buf[i], 0);
}

static const struct hw_ops uart_ops;

int uart__receive(struct hw *hw, uint8_t byte, uint8_t err)
{
	if (!hw || hw->ops != &uart_ops)
		return -EINVAL;
	struct uart *u = to_uart(hw);
	if (u->s.mcr & UART_MCR_LOOP)
		return -ENOTCONN;
	rx_push(u, byte, err & (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI));
	return 0;
}

/* Checkpoint: the state plus the pending timeout, re-armed on restore. */
struct uart_saved {
	struct uart_state s;
	uint64_t timeout_when;
	uint8_t timeout_armed;
};

static size_t uart_save(struct hw *hw, void *buf, size_t len)
{
	struct uart *u = to_uart(hw);
	struct uart_saved v;
	if (len < sizeof(v))
		return sizeof(v);
	memset(&v, 0, sizeof(v));    /* padding too: saved states compare bytewise */
	v.s = u->s;
	/* ... so states that behave alike save alike (replay checkpoints):
	 * the FIFO is saved from slot 0 with its empty slots zeroed, and a
	 * disarmed timer has no time */
	for (unsigned i = 0; i < UART_FIFO_LEN; i++) {
		unsigned k = (u->s.rx_head + i) % UART_FIFO_LEN;
		v.s.rx[i] = i < u->s.rx_count ? u->s.rx[k] : 0;
		v.s.rx_err[i] = i < u->s.rx_count ? u->s.rx_err[k] : 0;
	}
	v.s.rx_head = 0;
	v.timeout_armed = (uint8_t)u->timeout.armed;
	v.timeout_when = u->timeout.armed ? u->timeout.when : 0;
	memcpy(buf, &v, sizeof(v));
	return sizeof(v);
}

static int valid(const struct uart_saved *v)
{
	const struct uart_state *s = &v->s;
	unsigned cap = (s->fcr & UART_FCR_ENABLE) ? UART_FIFO_LEN : 1;
	return s->magic == STATE_MAGIC && s->rx_head < UART_FIFO_LEN && s->rx_count <= cap &&
	       !(s->ier & 0xf0) && !(s->mcr & 0xe0) && s->thr_ipending <= 1 &&
	       s->timeout_ipending <= 1 && s->irq_level <= 1 && v->timeout_armed <= 1;
}

/* The line level is restored, not re-driven: the PIC's checkpoint holds
 * its side of the wire, and a replayed edge would be an extra interrupt. */
static int uart_restore(struct hw *hw, const void *buf, size_t len)
{
	struct uart *u = to_uart(hw);
	struct uart_saved v;
	if (len != sizeof(v))
		return -EINVAL;
	memcpy(&v, buf, sizeof(v));
	if (!valid(&v))
		return -EINVAL;
	u->s = v.s;
	clock__disarm(hw->env.clock, &u->timeout);
	if (v.timeout_armed)
		clock__arm(hw->env.clock, &u->timeout, v.timeout_when);
	return 0;
}

static void uart_destroy(struct hw *hw)
{
	struct uart *u = to_uart(hw);
	flush(u);
	clock__disarm(hw->env.clock, &u->timeout);
	free(u);
}

static const struct hw_ops uart_ops = {
	.model = "16550a",
	.read = uart_read,
	.write = uart_write,
	.poll = uart_poll,
	.save = uart_save,
	.restore = uart_restore,
	.destroy = uart_destroy,
};

struct hw *uart__create(const struct hw_env *env, const char *name, int irq,
			const struct uart_backend *be)
{
	struct uart *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	hw__init(&u->hw, &uart_ops, name, irq, env);
	clock__event_init(&u->timeout, on_timeout, u);
	u->out_fd = be ? be->out_fd : -1;
	u->in_fd = be ? be->in_fd : -1;
	u->wire = be ? !!be->wire_loopback : 0;
	u->tx = be ? be->tx : NULL;
	u->tx_ctx = be ? be->tx_ctx : NULL;
	u->s.magic = STATE_MAGIC;
	u->s.divisor = 12;              /* 9600 baud, QEMU's reset value */
	u->s.lsr = UART_LSR_THRE | UART_LSR_TEMT;
	u->s.msr = modem_inputs(u);
	return &u->hw;
}
