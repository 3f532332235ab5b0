/*
 * Moving a 16550A's state from one chip to another through registers only
 * (DESIGN rule 1), as a driver could: V5/V6 read the hardware and load the
 * emulation, D4 reads the emulation and restores the hardware.
 *
 * Most of the state is programmable (divisor, LCR, FCR, IER, MCR, SCR).
 * The rest is not, but each piece can be recreated by making the chip live
 * through what produced it:
 *   - received characters and what an empty RBR returns: the emulation is
 *     fed through uart__receive (a character arriving on its line); the
 *     hardware through its own MCR loopback;
 *   - sticky line errors: an overrun is made by overfilling the FIFO; a
 *     break, parity or framing error by receiving a character carrying it
 *     (only the emulation can: the real line is not ours to drive);
 *   - modem-status deltas: by toggling the loopback modem outputs that
 *     drive the inputs in question, then leaving loopback where the inputs
 *     match;
 *   - a THRE interrupt already taken: by enabling it and reading IIR while
 *     nothing outranks it;
 *   - a character timeout running or pending: by receiving the characters
 *     at the moment the source last pushed or popped one (the emulation
 *     has its own clock for that, see uart_drv.c).
 * The order of the steps below is what makes each recreation exact: IIR
 * can clear only the top interrupt, THR writes and TX resets re-raise THRE,
 * enabling the FIFOs empties them.
 */
#include <string.h>
#include "uart_priv.h"

/* Reads one register byte. */
uint8_t ureg_rd(struct hw *d, unsigned off)
{
	return (uint8_t)d->ops->read(d, off, 1);
}

/* Writes one register byte. */
void ureg_wr(struct hw *d, unsigned off, uint8_t v)
{
	d->ops->write(d, off, 1, v);
}

/* Returns the FCR bits a 16550A keeps after v is written over old: with
 * the enable bit clear nothing else is programmed. */
uint8_t ufcr_next(uint8_t old, uint8_t v)
{
	return v & UART_FCR_ENABLE ? v & 0xc9 : old & (uint8_t)~UART_FCR_ENABLE;
}

/* Reads d's mode without side effects (see uart_priv.h). */
void uxfer_read_mode(struct hw *d, uint8_t fcr, struct umode *m)
{
	uint8_t lcr = ureg_rd(d, UART_LCR);
	uint8_t dll, dlm;
	/* LCR writes keep the break bit as it is: no edge reaches the line */
	if (lcr & UART_LCR_DLAB) {
		dll = ureg_rd(d, UART_DLL);
		dlm = ureg_rd(d, UART_DLM);
		ureg_wr(d, UART_LCR, lcr & (uint8_t)~UART_LCR_DLAB);
		m->ier = ureg_rd(d, UART_IER);
		ureg_wr(d, UART_LCR, lcr);
	} else {
		m->ier = ureg_rd(d, UART_IER);
		ureg_wr(d, UART_LCR, lcr | UART_LCR_DLAB);
		dll = ureg_rd(d, UART_DLL);
		dlm = ureg_rd(d, UART_DLM);
		ureg_wr(d, UART_LCR, lcr);
	}
	m->dl = (uint16_t)(dll | dlm << 8);
	m->lcr = lcr;
	m->fcr = fcr;
	m->mcr = ureg_rd(d, UART_MCR);
	m->scr = ureg_rd(d, UART_SCR);
}

/* Reads d's dynamic state into x, consuming it (see uart_priv.h). */
void uxfer_capture(struct hw *d, struct udyn *x)
{
	memset(x, 0, sizeof(*x));
	uint8_t lcr = ureg_rd(d, UART_LCR);
	if (lcr & UART_LCR_DLAB)
		ureg_wr(d, UART_LCR, lcr & (uint8_t)~UART_LCR_DLAB);
	/* IIR first: a pending character timeout shows only there, and a
	 * THRE interrupt on top is both seen and taken by this read */
	uint8_t iir = ureg_rd(d, UART_IIR);
	x->fifo_on = (iir & UART_IIR_FIFO) == UART_IIR_FIFO;
	uint8_t lsr = ureg_rd(d, UART_LSR);
	x->err = lsr & LSR_ERRS;
	if ((iir & 0x0f) == UART_IIR_RLSI)
		iir = ureg_rd(d, UART_IIR);     /* errors are taken: the next cause */
	uint8_t id = iir & 0x0f;
	x->cti = id == UART_IIR_CTI;
	x->thri = id == UART_IIR_THRI;
	int thri_known = id == UART_IIR_THRI || id == UART_IIR_MSI || id == UART_IIR_NONE;
	/* the errors an LSR read shows belong to the character at the top */
	uint8_t cerr = x->err & LSR_CHAR_ERRS;
	int rxfe = x->fifo_on && (lsr & UART_LSR_RXFE), later_errs = 0;
	while ((lsr & UART_LSR_DR) && x->nrx < UART_FIFO_LEN) {
		x->rx[x->nrx] = ureg_rd(d, UART_RBR);
		later_errs |= x->nrx ? cerr : 0;
		x->rx_err[x->nrx++] = cerr;
		lsr = ureg_rd(d, UART_LSR);
		cerr = lsr & LSR_CHAR_ERRS;
	}
	if (rxfe && x->nrx && !x->rx_err[0] && !later_errs) {
		/* RXFE says a character in the FIFO carries an error, and none
		 * but the first can: the guest already read its report from
		 * LSR. Which error, LSR no longer says; a zero character is
		 * what a break gives. */
		x->rx_err[0] = x->rx[0] ? UART_LSR_FE : UART_LSR_BI;
		x->hidden0 = 1;
	}
	if (!thri_known)    /* the FIFO is empty now: nothing outranks THRE */
		x->thri = (ureg_rd(d, UART_IIR) & 0x0f) == UART_IIR_THRI;
	x->msr = ureg_rd(d, UART_MSR);
	x->rbr = x->nrx ? x->rx[x->nrx - 1] : ureg_rd(d, UART_RBR);
	if (lcr & UART_LCR_DLAB)
		ureg_wr(d, UART_LCR, lcr);
}

/* Returns four character times in ns at lcr and divisor dl. */
uint64_t uxfer_timeout_ns(uint8_t lcr, uint16_t dl)
{
	/* the datasheet's four character times: (start + data + parity +
	 * stop) bits of 16 clocks at 1.8432 MHz / divisor, in half bits for
	 * 1.5 stop bits; divisor 0 acts as 65536 */
	unsigned data = 5 + (lcr & 3);
	uint64_t half_bits = 2 * (1 + data + !!(lcr & UART_LCR_PAREN));
	if (!(lcr & UART_LCR_STOP2))
		half_bits += 2;
	else
		half_bits += data == 5 ? 3 : 4;
	uint64_t div = dl ? dl : 65536;
	return (4 * half_bits * 8 * div * 1000000000ull + UART_CLOCK_HZ - 1) / UART_CLOCK_HZ;
}

/* Leaves d with MCR = mcr and exactly the modem-status deltas `deltas`:
 * loopback outputs drive the inputs, so toggling one twice latches its
 * delta; then loopback is left (if mcr is not loopback) at outputs whose
 * inputs equal the cable's (CTS, DSR, DCD on; RI off), so no new delta. */
static void set_modem(struct hw *d, uint8_t mcr, uint8_t deltas)
{
	static const struct { uint8_t delta, out; } pins[] = {
		{ UART_MSR_DCTS, UART_MCR_RTS }, { UART_MSR_DDSR, UART_MCR_DTR },
		{ UART_MSR_DDCD, UART_MCR_OUT2 }, { UART_MSR_TERI, UART_MCR_OUT1 },
	};
	uint8_t x = mcr & UART_MCR_LOOP ? mcr : UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2;
	ureg_wr(d, UART_MCR, x);
	ureg_rd(d, UART_MSR);
	for (unsigned i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		/* for RI either order gives one trailing edge (TERI) */
		if (deltas & pins[i].delta) {
			ureg_wr(d, UART_MCR, x ^ pins[i].out);
			ureg_wr(d, UART_MCR, x);
		}
	}
	if (mcr != x)
		ureg_wr(d, UART_MCR, mcr);
}

/* Programs the divisor through DLAB and leaves LCR = lcr. The first LCR
 * write keeps the break bit the chip has (brk), so only the final write can
 * start a break, as the source did. */
static void set_line(struct hw *d, uint16_t dl, uint8_t lcr, uint8_t brk)
{
	ureg_wr(d, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8 | brk);
	ureg_wr(d, UART_DLL, (uint8_t)dl);
	ureg_wr(d, UART_DLM, (uint8_t)(dl >> 8));
	ureg_wr(d, UART_LCR, lcr);
}

/* Loads m and x into the fresh emulation; the characters arrive at
 * t_push on its own clock, which then catches up with the run. */
void uxfer_emu_load(struct uart_eng *st, const struct umode *m, const struct udyn *x,
		    uint64_t t_push)
{
	struct hw *e = st->emu;
	int fifo = m->fcr & UART_FCR_ENABLE;
	unsigned cap = fifo ? UART_FIFO_LEN : 1;
	/* the final word length and rate from the start: they time the
	 * character timeout of the characters received below */
	set_line(e, m->dl, m->lcr & (uint8_t)~UART_LCR_DLAB, 0);
	if (fifo)
		ureg_wr(e, UART_FCR, (uint8_t)((m->fcr & 0xc9) | UART_FCR_RX_RESET | UART_FCR_TX_RESET));
	/* THRE: enabled with an empty FIFO and no errors yet, so an IIR read
	 * takes it if the source had taken it */
	ureg_wr(e, UART_IER, m->ier);
	if ((m->ier & UART_IER_THRI) && !x->thri)
		ureg_rd(e, UART_IIR);
	/* sticky errors: made by receiving, then popped (pops keep them) */
	if (x->err & UART_LSR_OE) {
		for (unsigned i = 0; i <= cap; i++)
			uart__receive(e, 0, 0);
		for (unsigned i = 0; i < cap; i++)
			ureg_rd(e, UART_RBR);
	}
	if (x->err & LSR_CHAR_ERRS) {
		uart__receive(e, 0, x->err & LSR_CHAR_ERRS);
		ureg_rd(e, UART_RBR);
	}
	if (!x->nrx) {
		uart__receive(e, x->rbr, 0);
		ureg_rd(e, UART_RBR);
	}
	clock__run_until(&st->priv, t_push);
	for (unsigned i = 0; i < x->nrx; i++) {
		uart__receive(e, x->rx[i], x->rx_err[i]);
		/* a first character whose report was read: read it again, which
		 * also takes the sticky errors recreated above (both at once
		 * cannot be recreated: the FIFO must be empty for those) */
		if (!i && x->hidden0)
			ureg_rd(e, UART_LSR);
	}
	udrv_emu_sync(st);                  /* a due character timeout fires now */
	set_modem(e, m->mcr, x->msr & 0x0f);
	ureg_wr(e, UART_SCR, m->scr);
	if (m->lcr & UART_LCR_DLAB)
		ureg_wr(e, UART_LCR, m->lcr);
}

/* Restores m and x into the hardware through its registers (D4). */
void uxfer_hw_restore(struct uart_eng *st, const struct umode *m, const struct udyn *x)
{
	struct hw *d = st->h.hw;
	int fifo = m->fcr & UART_FCR_ENABLE;
	unsigned cap = fifo ? UART_FIFO_LEN : 1;
	uint8_t brk = st->hw_lcr & UART_LCR_BREAK;
	/* quiet, 8 bits, internal loopback: characters written now stay inside */
	ureg_wr(d, UART_IER, 0);
	ureg_wr(d, UART_LCR, UART_LCR_WLEN8 | brk);
	ureg_wr(d, UART_MCR, UART_MCR_LOOP);
	ureg_wr(d, UART_FCR, fifo ? (uint8_t)((m->fcr & 0xc9) | UART_FCR_RX_RESET | UART_FCR_TX_RESET) : 0);
	for (int n = 0; n < 2 * UART_FIFO_LEN && (ureg_rd(d, UART_LSR) & UART_LSR_DR); n++)
		ureg_rd(d, UART_RBR);
	ureg_rd(d, UART_LSR);
	/* IER is still 0: these THR writes leave no THRE interrupt behind */
	if (x->err & UART_LSR_OE) {
		for (unsigned i = 0; i <= cap; i++)
			ureg_wr(d, UART_THR, 0);
		for (unsigned i = 0; i < cap; i++)
			ureg_rd(d, UART_RBR);
	}
	if (!x->nrx) {
		ureg_wr(d, UART_THR, x->rbr);
		ureg_rd(d, UART_RBR);
	}
	for (unsigned i = 0; i < x->nrx; i++)
		ureg_wr(d, UART_THR, x->rx[i]);
	set_modem(d, m->mcr, x->msr & 0x0f);
	set_line(d, m->dl, m->lcr, brk);
	ureg_wr(d, UART_SCR, m->scr);
	ureg_wr(d, UART_IER, m->ier);
	if ((m->ier & UART_IER_THRI) && !x->thri)
		ureg_rd(d, UART_IIR);
	st->hw_dl = m->dl;
	st->hw_lcr = m->lcr;
	st->hw_fcr = m->fcr;
}
