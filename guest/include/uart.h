/*
 * A COM1 16550A driver for workloads, beyond the polled console: the
 * register map, saving and restoring the line settings (the console shares
 * COM1), divisor programming through DLAB, and an interrupt-driven echo
 * through the UART's own loopback: IRQ4 refills the transmitter on THRE and
 * drains the receiver on received-data and character-timeout interrupts.
 * Only one echo runs at a time; its handler is the IRQ4 handler.
 */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include <stdint.h>

#define COM1_BASE	0x3f8
#define COM1_IRQ	4
#define UART_FIFO_LEN	16
#define UART_BASE_BAUD	115200	/* 1.8432 MHz / 16: divisor 1 */

/* Register offsets (DLL/DLM with LCR.DLAB set). */
#define UART_RBR	0
#define UART_THR	0
#define UART_DLL	0
#define UART_IER	1
#define UART_DLM	1
#define UART_IIR	2
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define UART_IER_RDI	0x01
#define UART_IER_THRI	0x02
#define UART_IER_RLSI	0x04
#define UART_IER_MSI	0x08

#define UART_IIR_NONE	0x01
#define UART_IIR_ID	0x0e
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_RLSI	0x06
#define UART_IIR_CTI	0x0c
#define UART_IIR_FIFO	0xc0

#define UART_FCR_ENABLE	0x01
#define UART_FCR_RESETS	0x06	/* clear both FIFOs */

#define UART_LCR_8N1	0x03
#define UART_LCR_DLAB	0x80

#define UART_MCR_DTR	0x01
#define UART_MCR_RTS	0x02
#define UART_MCR_OUT1	0x04
#define UART_MCR_OUT2	0x08
#define UART_MCR_LOOP	0x10

#define UART_LSR_DR	0x01
#define UART_LSR_ERRORS	0x1e	/* OE, PE, FE, BI */
#define UART_LSR_TEMT	0x40

/* Line settings as a driver can read them back (FCR is write-only: only
 * whether the FIFOs are on is visible, in IIR). */
struct uart_mode {
	uint16_t divisor;
	uint8_t lcr, ier, mcr, fifo_on;
};

/* Reads COM1's divisor, LCR, IER, MCR and FIFO state into m. */
void uart_mode_save(struct uart_mode *m);
/* Programs m back into COM1; FIFOs, if on, are cleared at trigger level 1. */
void uart_mode_restore(const struct uart_mode *m);

/* Programs divisor and line format lcr through DLAB. Returns 0 if both read
 * back as written, -1 otherwise. */
int uart_set_line(uint16_t divisor, uint8_t lcr);

/* Returns the FCR trigger bits for a level of 1, 4, 8 or 14 bytes, -1 otherwise. */
int uart_trigger_bits(unsigned level);

/* An echo in progress: configuration, then counters the IRQ4 handler keeps. */
struct uart_echo {
	uint32_t bytes, seed;
	volatile uint32_t sent, received;
	volatile uint32_t mismatches, first_mismatch, extra;	/* data errors */
	volatile uint32_t line_errors, iir_stuck;		/* UART errors */
	volatile uint32_t irqs, rdi, cti, thri, rlsi, msi;
};

/* Starts echoing e->bytes bytes of the e->seed stream through COM1, which
 * must already be in loopback with OUT2 and FIFOs on: installs the IRQ4
 * handler, unmasks IRQ4 and enables the UART's interrupts. */
void uart_echo_start(struct uart_echo *e);
/* Returns 1 once every byte came back or a data or UART error stopped the echo. */
int uart_echo_done(const struct uart_echo *e);
/* Returns 1 if every byte came back intact and no error was seen. */
int uart_echo_ok(const struct uart_echo *e);
/* Turns COM1's interrupts off, masks IRQ4 and removes the handler. */
void uart_echo_stop(struct uart_echo *e);

#endif
