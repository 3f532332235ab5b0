/*
 * The device workloads on KVM: each passes, leaves its data on the disk
 * image where the host can check it, and ringblk's pass-through really does
 * not trap (its register page is a memory slot) while trapping really does.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

/* Runs NAME with args and the given disk images; asserts a pass. */
static void run_pass(const char *name, const char *args, const char *disk, const char *rdisk,
		     int trap, struct vmm_result *r)
{
	struct vmm_cfg cfg = {
		.image = guest_image(name), .args = args, .console_fd = -1,
		.vtimeout_ns = 60ull * 1000000000ull, .wtimeout_ns = 120ull * 1000000000ull,
		.disk = disk, .ringblk_disk = rdisk, .ringblk_trap = trap,
	};
	cr_assert_eq(vmm__run(&cfg, r), VMM_RAN, "%s", r->err);
	cr_assert_eq(r->state, RUN_PASS, "%s %s: %s code 0x%x", name, args,
		     run_state__name(r->state), r->exit_code);
}

static uint64_t splitmix(uint64_t s, uint64_t a, uint64_t b)
{
	uint64_t z = s * 0x9e3779b97f4a7c15ull ^ (a << 20) ^ b;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Checks the layout documented in guest/workloads/ringblk-stress.c. */
static void check_ringblk_image(const char *path, uint64_t seed, uint32_t requests, uint32_t maxsect)
{
	size_t len;
	uint64_t *img = read_file(path, &len);
	cr_assert_not_null(img);
	for (uint32_t i = 0; i < requests; i++) {
		uint32_t n = 1 + (uint32_t)(splitmix(seed, i, 0) % maxsect);
		for (uint32_t s = 0; s < n; s++) {
			uint64_t lba = (uint64_t)i * maxsect + s;
			for (uint32_t k = 0; k < 64; k++)
				cr_assert_eq(img[lba * 64 + k], (lba << 32 | k) ^ seed * 0x9e3779b97f4a7c15ull,
					     "lba %llu word %u", (unsigned long long)lba, k);
		}
	}
	free(img);
}

Test(workloads, ringblk_passthrough_does_not_trap)
{
	need_kvm();
	char path[] = "/tmp/devirt-rb-XXXXXX";
	close(mkstemp(path));
	struct vmm_result r;
	run_pass("ringblk-stress", "requests=128 depth=16 seed=5", NULL, path, 0, &r);
	cr_assert_eq(r.ringblk_exits, 0, "pass-through BAR accesses must not exit");
	cr_assert_eq(r.counts[EXIT_MMIO], 0);
	check_ringblk_image(path, 5, 128, 4);
	unlink(path);
}

Test(workloads, ringblk_trapped_exits_on_every_access)
{
	need_kvm();
	char path[] = "/tmp/devirt-rb-XXXXXX";
	close(mkstemp(path));
	struct vmm_result r;
	run_pass("ringblk-stress", "requests=64 depth=8 seed=9", NULL, path, 1, &r);
	cr_assert_gt(r.ringblk_exits, 64 * 2, "each request rings a doorbell");
	cr_assert_eq(r.ringblk_exits, r.counts[EXIT_MMIO]);
	check_ringblk_image(path, 9, 64, 4);
	unlink(path);
}

Test(workloads, ringblk_polled_mode)
{
	need_kvm();
	struct vmm_result r;
	run_pass("ringblk-stress", "requests=64 depth=4 irq=0", NULL, NULL, 0, &r);
	cr_assert_eq(r.counts[EXIT_IRQ], 0, "no interrupts in polled mode");
}

Test(workloads, uart_echo_interrupt_driven_loopback)
{
	need_kvm();
	struct vmm_result r;
	run_pass("uart-echo", "bytes=512 seed=3", NULL, NULL, 0, &r);
	run_pass("uart-echo", "bytes=517 seed=3 trigger=14", NULL, NULL, 0, &r);
	cr_assert_geq(r.counts[EXIT_IRQ], 3, "RX by interrupts, including a character timeout");
}
