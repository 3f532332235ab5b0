/*
 * Console on the COM1 16550 UART at 0x3f8, polled, transmit only.
 *
 * The wait for the transmit holding register is bounded: a UART that never
 * reports THRE (a broken model, or one the monitor is switching) must not
 * hang the guest; after the bound the byte is written anyway.
 */
#include "guest.h"

#define COM1		0x3f8
#define UART_THR	0	/* transmit holding (DLAB=0) */
#define UART_DLL	0	/* divisor low (DLAB=1) */
#define UART_IER	1	/* interrupt enable (DLAB=0) */
#define UART_DLM	1	/* divisor high (DLAB=1) */
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5

#define LCR_8N1		0x03
#define LCR_DLAB	0x80
#define FCR_ENABLE_CLEAR 0x07	/* FIFO on, clear RX and TX FIFOs */
#define MCR_DTR_RTS	0x03
#define LSR_THRE	0x20
#define THRE_POLLS	100000

/* 115200 8N1 (divisor 1 on the 1.8432 MHz clock), FIFOs on, no interrupts. */
void console_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void put_raw(char c)
{
	for (int n = 0; n < THRE_POLLS && !(inb(COM1 + UART_LSR) & LSR_THRE); n++)
		;
	outb(COM1 + UART_THR, (uint8_t)c);
}

/* Writes c, '\n' as "\r\n" as a terminal expects. */
void console_putc(char c)
{
	if (c == '\n')
		put_raw('\r');
	put_raw(c);
}
