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

/* Checks the layout documented in guest/workloads/ata-stress.c: phases 1..4
 * hold pattern(seed, lba), everything else is still zero. */
static void check_ata_image(const char *path, uint64_t seed, uint32_t n)
{
	size_t len;
	uint64_t *img = read_file(path, &len);
	cr_assert_not_null(img);
	cr_assert_eq(len, 16u << 20, "created at the default --disk-size");
	for (uint64_t lba = 0; lba < len / 512; lba++) {
		uint64_t k = lba / n, x = seed * 0x9e3779b97f4a7c15ull ^ (lba + 1) * 0xd1b54a32d192ed03ull;
		x = x ? x : 1;
		for (uint32_t w = 0; w < 64; w++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			uint64_t want = k >= 1 && k <= 4 ? x : 0;
			if (img[lba * 64 + w] != want)
				cr_assert_fail("lba %llu word %u: %#llx, want %#llx", (unsigned long long)lba, w,
					       (unsigned long long)img[lba * 64 + w], (unsigned long long)want);
		}
	}
	free(img);
}

/* Returns a fresh path for a disk image the run will create. */
static const char *new_image(char *buf)
{
	strcpy(buf, "/tmp/devirt-img-XXXXXX");
	close(mkstemp(buf));
	unlink(buf);              /* devirt creates it at --disk-size */
	return buf;
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

Test(workloads, ata_stress_leaves_its_data_on_the_image)
{
	need_kvm();
	char path[64];
	struct vmm_result r;
	run_pass("ata-stress", "sectors=48 seed=7", new_image(path), NULL, 0, &r);
	check_ata_image(path, 7, 48);
	unlink(path);
}

Test(workloads, mixed_all_devices_interrupt_driven)
{
	need_kvm();
	char apath[64], rpath[64];
	struct vmm_result r;
	run_pass("mixed", "rounds=4 sectors=8 depth=8 bytes=200 seed=3", new_image(apath), new_image(rpath), 0, &r);
	cr_assert_eq(r.ringblk_exits, 0);
	size_t alen, rlen;
	uint64_t *a = read_file(apath, &alen), *b = read_file(rpath, &rlen);
	cr_assert(a && b);
	for (uint64_t lba = 0; lba < 32; lba++)
		for (uint32_t k = 0; k < 64; k++) {
			uint64_t w = (lba << 32 | k) ^ 3 * 0x9e3779b97f4a7c15ull;
			cr_assert_eq(a[lba * 64 + k], w ^ 0xa7a0000000000000ull, "ata lba %llu", (unsigned long long)lba);
			cr_assert_eq(b[lba * 64 + k], w ^ 0xb1b0000000000000ull, "ringblk lba %llu", (unsigned long long)lba);
		}
	free(a);
	free(b);
	unlink(apath);
	unlink(rpath);
}
