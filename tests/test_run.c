/*
 * Real guests under KVM: they boot, take interrupts, report verdicts, and the
 * monitor turns every misbehaviour into a verdict instead of a crash. Same
 * guest + arguments => same exit sequence, bit for bit.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "helpers.h"

Test(run, hello_passes_with_timer_interrupts)
{
	need_kvm();
	struct vmm_result r;
	cr_assert_eq(run_guest("hello", "ticks=25 hz=1000", NULL, NULL, &r), VMM_RAN, "%s", r.err);
	cr_assert_eq(r.state, RUN_PASS, "state %s code 0x%x", run_state__name(r.state), r.exit_code);
	cr_assert_eq(r.counts[EXIT_IRQ], 25, "one injection per timer tick");
	cr_assert_geq(r.counts[EXIT_HLT], 25);
	/* 25 ticks at 1 kHz: the clock jumped through the halts to ~25 ms. */
	cr_assert(r.vtime_ns >= 24000000 && r.vtime_ns < 40000000, "vtime %llu", (unsigned long long)r.vtime_ns);
}

Test(run, exitloop_counts_exact_exits)
{
	need_kvm();
	struct vmm_result a, b, c;
	cr_assert_eq(run_guest("exitloop", "n=5000 mode=pio", NULL, NULL, &a), VMM_RAN);
	cr_assert_eq(a.state, RUN_PASS);
	cr_assert_eq(run_guest("exitloop", "n=6000 mode=pio", NULL, NULL, &b), VMM_RAN);
	cr_assert_eq(b.counts[EXIT_PIO] - a.counts[EXIT_PIO], 1000, "each loop iteration is one port exit");
	cr_assert_eq(run_guest("exitloop", "n=6000 mode=mmio", NULL, NULL, &c), VMM_RAN);
	cr_assert_eq(c.state, RUN_PASS);
	cr_assert_eq(c.counts[EXIT_MMIO], 6000, "every MMIO write exits once");
}

/* Hashes every logged event (FNV-1a over the record fields). */
struct digest { uint64_t h, n; };

static void hash_rec(void *ctx, const struct exit_rec *r)
{
	struct digest *d = ctx;
	uint64_t f[7] = { r->seq, r->vtime, r->addr, r->value, r->rip, r->kind,
			  (uint64_t)r->size << 8 | r->write };
	for (size_t i = 0; i < sizeof(f); i++) {
		d->h ^= ((uint8_t *)f)[i];
		d->h *= 0x100000001b3ull;
	}
	d->n++;
}

Test(run, same_guest_same_exits)
{
	need_kvm();
	struct digest d1 = { 0xcbf29ce484222325ull, 0 }, d2 = d1, d3 = d1;
	struct vmm_result r;
	cr_assert_eq(run_guest("hello", "ticks=40 hz=250", hash_rec, &d1, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_PASS);
	cr_assert_eq(run_guest("hello", "ticks=40 hz=250", hash_rec, &d2, &r), VMM_RAN);
	cr_assert_eq(d1.n, d2.n);
	cr_assert_eq(d1.h, d2.h, "two runs differ");
	cr_assert_eq(run_guest("hello", "ticks=41 hz=250", hash_rec, &d3, &r), VMM_RAN);
	cr_assert_neq(d1.h, d3.h, "the digest must see a different run");
}

Test(run, hang_is_reported_not_waited_for)
{
	need_kvm();
	struct vmm_result r;
	cr_assert_eq(run_guest("selftest", "case=hang", NULL, NULL, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_HUNG);
}

Test(run, guest_exception_is_a_failure_code)
{
	need_kvm();
	struct vmm_result r;
	cr_assert_eq(run_guest("selftest", "case=exception", NULL, NULL, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_FAIL);
	cr_assert_eq(r.exit_code, 0x13);
}

Test(run, triple_fault_is_a_crash)
{
	need_kvm();
	struct vmm_result r;
	cr_assert_eq(run_guest("selftest", "case=triple", NULL, NULL, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_CRASH);
	cr_assert(strstr(r.err, "triple fault"), "%s", r.err);
}

Test(run, spinning_guest_hits_wall_timeout)
{
	need_kvm();
	struct vmm_cfg cfg = { .image = guest_image("selftest"), .args = "case=spin",
			       .console_fd = -1, .wtimeout_ns = 300000000ull };
	struct vmm_result r;
	cr_assert_eq(vmm__run(&cfg, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_WTIMEOUT);
	cr_assert(r.wall_ns >= 300000000ull && r.wall_ns < 5000000000ull);
}

Test(run, masked_timer_hits_virtual_timeout)
{
	need_kvm();
	struct vmm_cfg cfg = { .image = guest_image("selftest"), .args = "case=halt-loop",
			       .console_fd = -1, .vtimeout_ns = 50000000ull, .wtimeout_ns = 20000000000ull };
	struct vmm_result r;
	cr_assert_eq(vmm__run(&cfg, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_VTIMEOUT);
	cr_assert_geq(r.vtime_ns, 50000000ull);
	cr_assert_lt(r.wall_ns, 5000000000ull, "the clock jumps; no real waiting");
}

Test(run, unhandled_accesses_read_all_ones)
{
	need_kvm();
	struct vmm_result r;
	cr_assert_eq(run_guest("selftest", "case=unhandled", NULL, NULL, &r), VMM_RAN);
	cr_assert_eq(r.state, RUN_PASS, "code 0x%x", r.exit_code);
	cr_assert_eq(r.unhandled, 3);
}
