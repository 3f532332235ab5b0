/*
 * kmain(): what runs between boot.S and the workload.
 *
 * Sets up the console, the IDT and the PIC (every IRQ masked), checks that
 * a Multiboot loader started us, prints the banner and runs the workload.
 * Its return value becomes the verdict on the exit port. Interrupts stay
 * off (IF=0 from the loader) until the workload enables them.
 */
#include "guest.h"

#define MULTIBOOT_LOADER_MAGIC 0x2BADB002

void kmain(uint32_t magic, uint32_t mbinfo);

/* Called once by boot.S in long mode; never returns. */
void kmain(uint32_t magic, uint32_t mbinfo)
{
	console_init();
	idt_init();
	pic_init();
	if (magic != MULTIBOOT_LOADER_MAGIC) {
		printf("not started by a Multiboot loader: magic 0x%x\n", magic);
		guest_fail(GUEST_EXIT_FAIL);
	}
	args_init(mbinfo);
	printf("devirt guest %s args: %s\n", workload_name, args_line());
	printf("memory: %u KiB above 1 MiB\n", args_mem_upper_kib());

	int rc = workload_main();

	if (rc != 0) {
		printf("workload %s returned %d\n", workload_name, rc);
		guest_fail(GUEST_EXIT_FAIL);
	}
	guest_pass();
}
