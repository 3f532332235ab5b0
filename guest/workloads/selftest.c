/*
 * selftest: misbehaviours on demand, so the monitor's own failure paths can
 * be tested end to end. case= selects one:
 *   hang       cli; hlt: nothing can wake the guest (monitor: "guest hung")
 *   exception  ud2: the guest's handler reports failure 0x13
 *   triple     an empty IDT, then int3: triple fault (monitor: crash)
 *   spin       a loop with no exits (monitor: wall-time limit)
 *   halt-loop  PIT masked, sti; hlt forever (monitor: virtual-time limit or hung)
 *   unhandled  reads port 0x1234 and MMIO 0xfeb00000: both must be all-ones
 */
#include "guest.h"

const char *workload_name = "selftest";

static int streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

int workload_main(void)
{
	const char *c = arg_str("case", "unhandled");

	if (streq(c, "hang")) {
		cli();
		for (;;)
			hlt();
	}
	if (streq(c, "exception"))
		__asm__ volatile("ud2");
	if (streq(c, "triple")) {
		struct { uint16_t limit; uint64_t base; } __attribute__((packed)) empty = { 0, 0 };
		__asm__ volatile("lidt %0; ud2" : : "m"(empty));
	}
	if (streq(c, "spin")) {
		for (volatile uint64_t i = 0;; i++)
			;
	}
	if (streq(c, "halt-loop")) {
		pit_init(1000);   /* the PIT runs but IRQ0 stays masked */
		sti();
		for (;;)
			hlt();
	}
	if (streq(c, "unhandled")) {
		GUEST_ASSERT(inb(0x1234) == 0xff);
		GUEST_ASSERT(inw(0x1234) == 0xffff);
		GUEST_ASSERT(mmio_read32(0xfeb00000) == 0xffffffffu);
		return 0;
	}
	printf("selftest: unknown case '%s'\n", c);
	return 1;
}
