/*
 * 16550A UART: divisor latch (DLAB), 16-byte receive FIFO with trigger
 * levels and the character-timeout interrupt, IER/IIR with the datasheet's
 * priorities, LCR/LSR (overrun, break in loopback), MCR with loopback, MSR
 * with delta bits, scratch. OUT2 gates the interrupt line, as on a PC.
 * Transmission is instantaneous (as in QEMU): THRE and TEMT are set again
 * right after every THR write. The bytes go to a stream backend (and, if
 * asked, to a callback); a peer on the line can hand characters in with
 * uart__receive. The engine's emulated UART is an instance of this model
 * wired that way. Register offsets and bits are public for the engine and
 * the tests.
 */
#ifndef DEVIRT_UART_H
#define DEVIRT_UART_H

#include "hw.h"

/* Register offsets from the device base (DLL/DLM when LCR.DLAB is set). */
enum uart_reg {
	UART_RBR = 0, UART_THR = 0, UART_DLL = 0,
	UART_IER = 1, UART_DLM = 1,
	UART_IIR = 2, UART_FCR = 2,
	UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define UART_IER_RDI   0x01   /* received data available (and char timeout) */
#define UART_IER_THRI  0x02   /* transmitter holding register empty */
#define UART_IER_RLSI  0x04   /* receiver line status */
#define UART_IER_MSI   0x08   /* modem status */

#define UART_IIR_NONE  0x01   /* no interrupt pending */
#define UART_IIR_MSI   0x00
#define UART_IIR_THRI  0x02
#define UART_IIR_RDI   0x04
#define UART_IIR_RLSI  0x06
#define UART_IIR_CTI   0x0c   /* character timeout */
#define UART_IIR_FIFO  0xc0   /* FIFOs enabled */

#define UART_FCR_ENABLE   0x01
#define UART_FCR_RX_RESET 0x02
#define UART_FCR_TX_RESET 0x04
#define UART_FCR_TRIG(n)  ((n) << 6)  /* n = 0..3: trigger at 1, 4, 8, 14 bytes */

#define UART_LCR_WLEN8 0x03
#define UART_LCR_STOP2 0x04
#define UART_LCR_PAREN 0x08
#define UART_LCR_BREAK 0x40
#define UART_LCR_DLAB  0x80

#define UART_MCR_DTR   0x01
#define UART_MCR_RTS   0x02
#define UART_MCR_OUT1  0x04
#define UART_MCR_OUT2  0x08   /* gates the interrupt line onto the bus */
#define UART_MCR_LOOP  0x10

#define UART_LSR_DR    0x01
#define UART_LSR_OE    0x02
#define UART_LSR_PE    0x04
#define UART_LSR_FE    0x08
#define UART_LSR_BI    0x10
#define UART_LSR_THRE  0x20
#define UART_LSR_TEMT  0x40
#define UART_LSR_RXFE  0x80   /* an error is somewhere in the receive FIFO */

#define UART_MSR_DCTS  0x01
#define UART_MSR_DDSR  0x02
#define UART_MSR_TERI  0x04
#define UART_MSR_DDCD  0x08
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80

#define UART_FIFO_LEN  16
#define UART_CLOCK_HZ  1843200u   /* the PC's UART crystal: divisor 1 = 115200 baud */

/* Where the serial line goes. Without input (in_fd -1) the model is fully
 * deterministic. */
struct uart_backend {
	int out_fd;         /* transmitted bytes, line-buffered; -1 discards */
	int in_fd;          /* received bytes, read without blocking from poll; -1 none */
	int wire_loopback;  /* a loopback plug: TX is wired to RX, in_fd is unused
			     * and out_fd (if >= 0) taps the wire */
	/* Optional: also hands every byte put on the line (not those MCR
	 * loopback keeps inside) to tx(tx_ctx, byte), in order, as it leaves.
	 * The engine's emulated UART feeds its driver's transmit queue this
	 * way. Called from inside a register write: it must not access this
	 * device. NULL: none. */
	void (*tx)(void *ctx, uint8_t byte);
	void *tx_ctx;
};

/* Creates a 16550A on interrupt line irq with backend be (NULL: a line to
 * nowhere). Returns NULL when out of memory. */
struct hw *uart__create(const struct hw_env *env, const char *name, int irq,
			const struct uart_backend *be);

/* A character arrives on the serial line (from a peer, not from in_fd):
 * byte as framed by the sender (no bits are dropped here) with the line
 * errors err (UART_LSR_PE, _FE, _BI) the receiver detected. It enters the
 * receive FIFO as any received character (overrun, trigger level,
 * character timeout). Returns 0, -ENOTCONN when MCR loopback disconnects
 * the RX pin (the character is lost, as on the wire), -EINVAL if hw is not
 * a 16550A of this model. */
int uart__receive(struct hw *hw, uint8_t byte, uint8_t err);

#endif
