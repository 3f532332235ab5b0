/*
 * The guest's verdict on the exit port 0xf4, written 4 bytes wide like
 * QEMU's isa-debug-exit,iobase=0xf4,iosize=4 expects. Our monitor stops the
 * run at that write; QEMU exits with status (code << 1) | 1. If neither
 * happens (a loader without the port), the CPU parks in cli; hlt.
 */
#include "guest.h"

#define EXIT_PORT 0xf4

__attribute__((noreturn)) static void guest_exit(uint32_t code)
{
	outl(EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Prints PASS and reports GUEST_EXIT_PASS; never returns. */
void guest_pass(void)
{
	puts("PASS");
	guest_exit(GUEST_EXIT_PASS);
}

/* Prints FAIL and reports code; a code equal to pass becomes a generic failure. */
void guest_fail(uint32_t code)
{
	if (code == GUEST_EXIT_PASS)
		code = GUEST_EXIT_FAIL;
	printf("FAIL 0x%x\n", code);
	guest_exit(code);
}

/* Reports a failed GUEST_ASSERT with its location; never returns. */
void guest_assert_fail(const char *file, int line, const char *cond)
{
	printf("ASSERT FAILED %s:%d: %s\n", file, line, cond);
	guest_fail(GUEST_EXIT_ASSERT);
}
