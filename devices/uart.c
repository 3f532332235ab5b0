/*
 * 16550A UART, console subset (see uart.h). Output is buffered per line and
 * flushed at newline or when full, so a chatty guest costs one write(2) per
 * line instead of one per byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "uart.h"

enum { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };

#define LCR_DLAB 0x80
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

struct uart_regs {
	uint8_t ier, lcr, mcr, scr, fcr;
	uint16_t divisor;
};

struct uart {
	struct hw hw;
	struct uart_regs r;
	int out_fd;
	size_t nbuf;
	char buf[256];
};

static struct uart *to_uart(struct hw *hw) { return container_of(hw, struct uart, hw); }

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

static void transmit(struct uart *u, uint8_t byte)
{
	u->buf[u->nbuf++] = (char)byte;
	if (byte == '\n' || u->nbuf == sizeof(u->buf))
		flush(u);
}

static uint64_t uart_read(struct hw *hw, uint64_t off, unsigned size)
{
	(void)size;
	struct uart *u = to_uart(hw);
	int dlab = u->r.lcr & LCR_DLAB;
	switch (off) {
	case RBR_THR: return dlab ? (u->r.divisor & 0xff) : 0;
	case IER:     return dlab ? (u->r.divisor >> 8) : u->r.ier;
	case IIR_FCR: return 0x01 | ((u->r.fcr & 1) ? 0xc0 : 0); /* no interrupt pending */
	case LCR:     return u->r.lcr;
	case MCR:     return u->r.mcr;
	case LSR:     return LSR_THRE | LSR_TEMT;
	case MSR:     return 0xb0;   /* CTS, DSR, DCD: a cable is attached */
	case SCR:     return u->r.scr;
	default:      return 0xff;
	}
}

static void uart_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	struct uart *u = to_uart(hw);
	uint8_t v = (uint8_t)val;
	int dlab = u->r.lcr & LCR_DLAB;
	switch (off) {
	case RBR_THR:
		if (dlab)
			u->r.divisor = (uint16_t)((u->r.divisor & 0xff00) | v);
		else
			transmit(u, v);
		break;
	case IER:
		if (dlab)
			u->r.divisor = (uint16_t)((u->r.divisor & 0xff) | (v << 8));
		else
			u->r.ier = v & 0x0f;
		break;
	case IIR_FCR: u->r.fcr = v; break;
	case LCR:     u->r.lcr = v; break;
	case MCR:     u->r.mcr = v & 0x1f; break;
	case SCR:     u->r.scr = v; break;
	default:      break;
	}
}

static size_t uart_save(struct hw *hw, void *buf, size_t len)
{
	struct uart *u = to_uart(hw);
	if (len >= sizeof(u->r))
		memcpy(buf, &u->r, sizeof(u->r));
	return sizeof(u->r);
}

static int uart_restore(struct hw *hw, const void *buf, size_t len)
{
	struct uart *u = to_uart(hw);
	if (len != sizeof(u->r))
		return -EINVAL;
	memcpy(&u->r, buf, len);
	return 0;
}

static void uart_destroy(struct hw *hw)
{
	struct uart *u = to_uart(hw);
	flush(u);
	free(u);
}

static const struct hw_ops uart_ops = {
	.model = "16550a",
	.read = uart_read,
	.write = uart_write,
	.save = uart_save,
	.restore = uart_restore,
	.destroy = uart_destroy,
};

struct hw *uart__create(const struct hw_env *env, const char *name, int irq, int out_fd)
{
	struct uart *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	hw__init(&u->hw, &uart_ops, name, irq, env);
	u->out_fd = out_fd;
	u->r.divisor = 12;              /* 9600 baud, the power-on value */
	return &u->hw;
}
