/*
 * The same guest image passes under the peer VMM: QEMU's -kernel Multiboot
 * loader, its 8259/8254/16550, and isa-debug-exit (status (0x10<<1)|1 = 33).
 */
#include <criterion/criterion.h>
#include <string.h>
#include "helpers.h"

Test(qemu, hello_passes_under_qemu, .timeout = 120)
{
	need_qemu();
	need_kvm();
	static char out[65536];
	char *argv[] = { "timeout", "60", "qemu-system-x86_64", "-enable-kvm", "-display", "none",
			 "-serial", "stdio", "-no-reboot", "-monitor", "none",
			 "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
			 "-kernel", (char *)guest_image("hello"), "-append", "ticks=20 hz=100", NULL };
	int st = run_cmd(argv, NULL, out, sizeof(out));
	cr_assert_eq(st, 33, "QEMU exit status %d:\n%s", st, out);
	cr_assert(strstr(out, "took 20 timer interrupts"), "%s", out);
}
