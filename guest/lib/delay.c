/*
 * Short delays by port I/O. A write to port 0x80 (the POST code port) takes
 * about 1 us on an ISA bus; under our monitor each one is a VM exit that
 * advances the virtual clock, so delays are deterministic there too.
 */
#include "guest.h"

#define IO_DELAY_PORT 0x80

/* One write to port 0x80. */
void io_delay(void)
{
	outb(IO_DELAY_PORT, 0);
}

/* Waits about us microseconds. */
void udelay(uint32_t us)
{
	while (us--)
		io_delay();
}
