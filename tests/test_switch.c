/*
 * Whole guests under KVM with devices switched while they run: every
 * workload must still pass with roundtrips every N exits (small primes put
 * switches mid-sequence everywhere) under every policy, and ringblk's
 * register page must trap only while the engine holds it.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

/* Runs workload with the given triggers, policies and initial modes,
 * tracing into db when non-NULL. Returns the vmm status. */
static int run_switched(const char *workload, const char *const *specs, int nspecs,
			int midseq, int block, const char *const *virt, int nvirt,
			const char *db, struct vmm_result *res)
{
	struct eng_trigger trig[8];
	char err[200];
	for (int i = 0; i < nspecs; i++)
		cr_assert_eq(engine__parse_trigger(specs[i], &trig[i], err, sizeof(err)), 0, "%s", err);
	struct engine_cfg ec = { .midseq = midseq, .block = block };
	static const struct trace_run info = { .guest = "test", .seed = -1 };
	struct vmm_cfg cfg = {
		.image = guest_image(workload), .console_fd = -1,
		.vtimeout_ns = 60ull * 1000000000ull, .wtimeout_ns = 120ull * 1000000000ull,
		.engine = &ec, .triggers = trig, .ntriggers = nspecs,
		.virtualized = virt, .nvirtualized = nvirt, .db = db, .run_info = &info,
	};
	return vmm__run(&cfg, res);
}

struct sw_case { const char *workload; int every; int midseq, block; };

static void check_pass(const struct sw_case *c)
{
	need_kvm();
	char spec[64];
	snprintf(spec, sizeof(spec), "every=%d:roundtrip:all", c->every);
	const char *specs[] = { spec };
	struct vmm_result res;
	cr_assert_eq(run_switched(c->workload, specs, 1, c->midseq, c->block, NULL, 0, NULL, &res), VMM_RAN,
		     "%s", res.err);
	cr_assert_eq(res.state, RUN_PASS, "%s with %s midseq=%d block=%d: %s (code 0x%x)", c->workload, spec,
		     c->midseq, c->block, run_state__name(res.state), res.exit_code);
	cr_assert_gt(res.switches_done, 2, "%s: only %llu switches completed", c->workload,
		     (unsigned long long)res.switches_done);
}

/* One test per case (Criterion 2.4's parameterized tests crash when their
 * parameters hold pointers into the test binary under --jobs). */
#define SWITCH_CASE(name, workload, every, midseq, block) \
	Test(switching, name, .timeout = 300) \
	{ check_pass(&(struct sw_case){ workload, every, midseq, block }); }

/* Small primes (every switch lands mid-sequence somewhere) and larger
 * periods, default policy. ata-stress makes ~140k exits, so its periods
 * are larger: every roundtrip of ringblk re-maps a KVM memory slot, which
 * costs ~1 ms on this host. */
SWITCH_CASE(ata_every_97, "ata-stress", 97, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(ata_every_997, "ata-stress", 997, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(uart_every_3, "uart-echo", 3, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(uart_every_7, "uart-echo", 7, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(uart_every_31, "uart-echo", 31, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(ringblk_every_2, "ringblk-stress", 2, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(ringblk_every_5, "ringblk-stress", 5, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(ringblk_every_13, "ringblk-stress", 13, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(mixed_every_3, "mixed", 3, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(mixed_every_11, "mixed", 11, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)
SWITCH_CASE(mixed_every_101, "mixed", 101, MIDSEQ_WAIT, EDEV_BLOCK_BUSY)

/* Every other policy combination on every workload. */
SWITCH_CASE(ata_wait_defer, "ata-stress", 131, MIDSEQ_WAIT, EDEV_BLOCK_DEFER)
SWITCH_CASE(ata_takeover_busy, "ata-stress", 131, MIDSEQ_TAKEOVER, EDEV_BLOCK_BUSY)
SWITCH_CASE(ata_takeover_defer, "ata-stress", 131, MIDSEQ_TAKEOVER, EDEV_BLOCK_DEFER)
SWITCH_CASE(uart_wait_defer, "uart-echo", 5, MIDSEQ_WAIT, EDEV_BLOCK_DEFER)
SWITCH_CASE(uart_takeover_busy, "uart-echo", 5, MIDSEQ_TAKEOVER, EDEV_BLOCK_BUSY)
SWITCH_CASE(uart_takeover_defer, "uart-echo", 5, MIDSEQ_TAKEOVER, EDEV_BLOCK_DEFER)
SWITCH_CASE(ringblk_wait_defer, "ringblk-stress", 3, MIDSEQ_WAIT, EDEV_BLOCK_DEFER)
SWITCH_CASE(ringblk_takeover_busy, "ringblk-stress", 3, MIDSEQ_TAKEOVER, EDEV_BLOCK_BUSY)
SWITCH_CASE(ringblk_takeover_defer, "ringblk-stress", 3, MIDSEQ_TAKEOVER, EDEV_BLOCK_DEFER)
SWITCH_CASE(mixed_wait_defer, "mixed", 7, MIDSEQ_WAIT, EDEV_BLOCK_DEFER)
SWITCH_CASE(mixed_takeover_busy, "mixed", 7, MIDSEQ_TAKEOVER, EDEV_BLOCK_BUSY)
SWITCH_CASE(mixed_takeover_defer, "mixed", 7, MIDSEQ_TAKEOVER, EDEV_BLOCK_DEFER)

/* Runs ringblk-stress and returns the MMIO exits on ringblk's page. */
static uint64_t ringblk_exits(const char *const *virt, int nvirt, int trap)
{
	struct engine_cfg ec = { 0 };
	struct vmm_cfg cfg = { .image = guest_image("ringblk-stress"), .console_fd = -1,
			       .vtimeout_ns = 60ull * 1000000000ull, .wtimeout_ns = 120ull * 1000000000ull,
			       .engine = &ec, .virtualized = virt, .nvirtualized = nvirt, .ringblk_trap = trap };
	struct vmm_result res;
	cr_assert_eq(vmm__run(&cfg, &res), VMM_RAN, "%s", res.err);
	cr_assert_eq(res.state, RUN_PASS);
	cr_assert_eq(res.counts[EXIT_MMIO], res.ringblk_exits, "every MMIO exit is ringblk's");
	return res.ringblk_exits;
}

Test(switching, ringblk_traps_only_while_virtualized, .timeout = 120)
{
	need_kvm();
	static const char *const rb[] = { "ringblk" };
	uint64_t passthrough = ringblk_exits(NULL, 0, 0);
	uint64_t virtualized = ringblk_exits(rb, 1, 0);
	uint64_t trapped = ringblk_exits(NULL, 0, 1);
	cr_assert_eq(passthrough, 0, "pass-through: the BAR is a memory slot, no exits");
	cr_assert_gt(trapped, 100);
	cr_assert_eq(virtualized, trapped, "virtualized: one exit per guest register access");
}

Test(switching, passthrough_windows_have_no_ringblk_exits, .timeout = 120)
{
	need_kvm();
	char db[] = "/tmp/devirt-switch-XXXXXX.db";
	int fd = mkstemps(db, 3);
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(db);
	static const char *const specs[] = { "every=17:roundtrip:ringblk" };
	struct vmm_result res;
	cr_assert_eq(run_switched("ringblk-stress", specs, 1, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, NULL, 0, db, &res),
		     VMM_RAN, "%s", res.err);
	cr_assert_eq(res.state, RUN_PASS);
	sqlite3 *d;
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	int64_t direct = q1(d, "SELECT count(*) FROM access WHERE device = 'ringblk' AND path = 'direct'");
	int64_t trapped = q1(d, "SELECT count(*) FROM access WHERE device = 'ringblk'");
	int64_t done = q1(d, "SELECT count(*) FROM switch WHERE device = 'ringblk' AND outcome = 'done'");
	int64_t steps = q1(d, "SELECT count(*) FROM step WHERE step = 'D6' AND detail = 'slot mapped'");
	sqlite3_close(d);
	unlink(db);
	cr_assert_eq(direct, 0, "no access exits while the BAR is mapped");
	cr_assert_eq((uint64_t)trapped, res.ringblk_exits);
	cr_assert_gt(done, 4);
	cr_assert_gt(steps, 1);
}

Test(switching, devices_can_start_virtualized, .timeout = 120)
{
	need_kvm();
	static const char *const all[] = { "ata", "com1", "ringblk" };
	struct vmm_result res;
	cr_assert_eq(run_switched("mixed", NULL, 0, MIDSEQ_WAIT, EDEV_BLOCK_BUSY, all, 3, NULL, &res), VMM_RAN,
		     "%s", res.err);
	cr_assert_eq(res.state, RUN_PASS);
	cr_assert_eq(res.switches_done, 3);
}
