/*
 * The 8254 PIT, channel 0 only: a periodic IRQ0 as the guest's clock.
 * Mode 2 (rate generator) divides the 1193182 Hz input by the reload
 * value, written low byte then high byte. The IRQ0 handler only counts.
 */
#include "guest.h"

#define PIT_CH0		0x40
#define PIT_CMD		0x43
#define PIT_INPUT_HZ	1193182u
#define CMD_CH0_LOHI_MODE2 0x34	/* channel 0, lobyte/hibyte, mode 2, binary */
#define CMD_CH0_LATCH	0x00

static volatile uint64_t ticks;

static void tick(int irq)
{
	(void)irq;
	ticks++;
}

/* hz must be 19..1193182 so that the divisor fits in 16 bits. */
void pit_init(uint64_t hz)
{
	GUEST_ASSERT(hz >= 19 && hz <= PIT_INPUT_HZ);
	uint16_t div = (uint16_t)(PIT_INPUT_HZ / hz);

	ticks = 0;
	irq_register(0, tick);
	outb(PIT_CMD, CMD_CH0_LOHI_MODE2);
	outb(PIT_CH0, (uint8_t)div);
	outb(PIT_CH0, (uint8_t)(div >> 8));
}

/* Returns the IRQ0 count since pit_init(). */
uint64_t pit_ticks(void)
{
	return ticks;
}

/* The latch freezes both bytes, so the two reads form one consistent value. */
uint16_t pit_read_counter(void)
{
	outb(PIT_CMD, CMD_CH0_LATCH);
	uint8_t lo = inb(PIT_CH0);
	uint8_t hi = inb(PIT_CH0);

	return (uint16_t)(lo | hi << 8);
}
