/*
 * The 8259A master/slave pair. pic_init() runs the full ICW1-ICW4 sequence
 * so that IRQ 0-7 arrive on vectors 0x20-0x27 and IRQ 8-15 on 0x28-0x2f,
 * clear of the CPU exceptions. The masks are cached here rather than read
 * back from the IMR: one port access less per change, and the trace shows
 * only writes.
 */
#include "guest.h"

#define MASTER_CMD	0x20
#define MASTER_DATA	0x21
#define SLAVE_CMD	0xa0
#define SLAVE_DATA	0xa1

#define ICW1_INIT_ICW4	0x11	/* edge triggered, cascade, ICW4 follows */
#define ICW4_8086	0x01
#define CASCADE_IRQ	2
#define OCW2_EOI	0x20	/* non-specific end of interrupt */

static uint16_t mask = 0xffff;	/* bit n set: IRQ n masked */

static void write_masks(void)
{
	outb(MASTER_DATA, (uint8_t)mask);
	outb(SLAVE_DATA, (uint8_t)(mask >> 8));
}

/* The io_delay()s give a real 8259A time to take each ICW. */
void pic_init(void)
{
	static const uint8_t seq[][2] = {
		{ MASTER_CMD, ICW1_INIT_ICW4 }, { SLAVE_CMD, ICW1_INIT_ICW4 },
		{ MASTER_DATA, 0x20 },		{ SLAVE_DATA, 0x28 },	/* ICW2: vector base */
		{ MASTER_DATA, 1 << CASCADE_IRQ }, { SLAVE_DATA, CASCADE_IRQ },	/* ICW3 */
		{ MASTER_DATA, ICW4_8086 },	{ SLAVE_DATA, ICW4_8086 },
	};

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		outb(seq[i][0], seq[i][1]);
		io_delay();
	}
	mask = 0xffff;
	write_masks();
}

/* Lets IRQ irq through; for a slave IRQ also opens the cascade input. */
void pic_unmask(int irq)
{
	GUEST_ASSERT(irq >= 0 && irq < 16);
	mask &= (uint16_t)~(1u << irq);
	if (irq >= 8)
		mask &= (uint16_t)~(1u << CASCADE_IRQ);
	write_masks();
}

/* Blocks IRQ irq; the cascade stays open for the other slave IRQs. */
void pic_mask(int irq)
{
	GUEST_ASSERT(irq >= 0 && irq < 16);
	mask |= (uint16_t)(1u << irq);
	write_masks();
}

/* Ends IRQ irq's service: the slave first, then the master it cascades through. */
void pic_eoi(int irq)
{
	if (irq >= 8)
		outb(SLAVE_CMD, OCW2_EOI);
	outb(MASTER_CMD, OCW2_EOI);
}
