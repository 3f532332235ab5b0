/*
 * hello: the smallest end-to-end check of a platform.
 *
 * Prints a greeting, runs the PIT at hz= (default 100) and sleeps in hlt
 * until ticks= (default 10) timer interrupts have arrived. This exercises
 * the console, the PIC, the PIT, interrupt injection and HLT exits. A
 * platform that never delivers them fails with GUEST_EXIT_TIMEOUT after
 * ticks*4+100 hlts instead of hanging.
 */
#include "guest.h"

const char *workload_name = "hello";

int workload_main(void)
{
	uint64_t hz = arg_u64("hz", 100);
	uint64_t want = arg_u64("ticks", 10);
	uint64_t budget = want * 4 + 100;
	uint64_t halts = 0;

	puts("hello from the devirt guest");
	pit_init(hz);
	pic_unmask(0);
	sti();
	while (pit_ticks() < want && halts++ < budget)
		hlt();
	cli();
	pic_mask(0);

	if (pit_ticks() < want) {
		printf("only %lu of %lu timer interrupts after %lu hlts\n",
		       pit_ticks(), want, budget);
		guest_fail(GUEST_EXIT_TIMEOUT);
	}
	printf("took %lu timer interrupts\n", pit_ticks());
	return 0;
}
