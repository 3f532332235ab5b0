/*
 * The same guest image passes under the peer VMM: QEMU's -kernel Multiboot
 * loader, its 8259/8254/16550, and isa-debug-exit (status (0x10<<1)|1 = 33).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

static char out[65536];

/* Boots guest under QEMU with args (and an IDE disk when disk is not NULL);
 * returns QEMU's exit status. */
static int qemu(const char *guest, const char *args, const char *disk)
{
	char drive[4200];
	snprintf(drive, sizeof(drive), "file=%s,format=raw,if=ide,index=0", disk ? disk : "");
	char *argv[] = { "timeout", "120", "qemu-system-x86_64", "-enable-kvm", "-display", "none",
			 "-serial", "stdio", "-no-reboot", "-monitor", "none",
			 "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
			 "-kernel", (char *)guest_image(guest), "-append", (char *)args,
			 disk ? "-drive" : NULL, drive, NULL };
	return run_cmd(argv, NULL, out, sizeof(out));
}

Test(qemu, hello_passes_under_qemu, .timeout = 150)
{
	need_qemu();
	need_kvm();
	int st = qemu("hello", "ticks=20 hz=100", NULL);
	cr_assert_eq(st, 33, "QEMU exit status %d:\n%s", st, out);
	cr_assert(strstr(out, "took 20 timer interrupts"), "%s", out);
}

Test(qemu, uart_echo_passes_on_qemu_16550, .timeout = 150)
{
	need_qemu();
	need_kvm();
	int st = qemu("uart-echo", "bytes=517 seed=3 trigger=14", NULL);
	cr_assert_eq(st, 33, "QEMU exit status %d:\n%s", st, out);
}

Test(qemu, ata_stress_passes_on_qemu_ide, .timeout = 150)
{
	need_qemu();
	need_kvm();
	char disk[] = "/tmp/devirt-qemu-ata-XXXXXX";
	int fd = mkstemp(disk);
	cr_assert(fd >= 0 && ftruncate(fd, 16 << 20) == 0);
	close(fd);
	int st = qemu("ata-stress", "sectors=32 seed=7", disk);
	unlink(disk);
	cr_assert_eq(st, 33, "QEMU exit status %d:\n%s", st, out);
	cr_assert(strstr(out, "all phases passed"), "%s", out);
}
