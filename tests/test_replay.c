/*
 * Offline replay as users meet it: a recorded run of every workload (with
 * and without switch triggers) replays "identical" and re-runs identical
 * under KVM (--live); switches injected mid-sequence pass with polls
 * inserted; a tampered value is a divergence with its seq; bad input exits
 * 2; exhaustive injection over a >= 20,000-access ata-stress trace and
 * over QEMU-imported traces finds no violation, while deliberately broken
 * engines are caught; and its cost per injection does not grow with the
 * trace's length.
 *
 * Runs are recorded with vmm__run into a fresh database (KVM); the replay
 * is driven through the devirt binary (what users run) and through
 * replay__run (what the campaign runner calls) for exact counts.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "../engine/edev.h"
#include "../replay/replay.h"

static char out[1 << 16];

/* How a run is recorded. */
struct rec {
	const char *guest, *args, *switches, *modes;
	int block, ringblk_trap;
	const char *image;          /* NULL: the workload's */
};

/* Records r into db under KVM as `devirt run` would; returns the run id. */
static int64_t record(const char *db, const struct rec *r)
{
	struct engine_cfg ec = { .block = r->block };
	struct eng_trigger trig[4];
	const char *virt[2] = { r->modes };
	char policy[160], err[128], specs[256];
	int ntrig = 0;
	if (r->switches) {
		char *save = NULL;
		snprintf(specs, sizeof(specs), "%s", r->switches);
		for (char *s = strtok_r(specs, " ", &save); s; s = strtok_r(NULL, " ", &save))
			cr_assert_eq(engine__parse_trigger(s, &trig[ntrig++], err, sizeof(err)), 0, "%s", err);
	}
	snprintf(policy, sizeof(policy), "midseq=wait block=%s wait_bound_ns=0 pause_bound_ns=0",
		 r->block == EDEV_BLOCK_DEFER ? "defer" : "busy");
	const char *image = r->image ? r->image : guest_image(r->guest);
	struct trace_run info = { .guest = r->guest, .image = image, .args = r->args, .seed = -1,
				  .switches = r->switches, .policy = policy, .modes = r->modes,
				  .config = r->ringblk_trap ? "run --ringblk-trap" : "run" };
	struct vmm_cfg cfg = { .image = image, .args = r->args, .console_fd = -1,
			       .vtimeout_ns = 30ull * 1000000000ull, .wtimeout_ns = 60ull * 1000000000ull,
			       .db = db, .run_info = &info, .engine = &ec, .triggers = trig, .ntriggers = ntrig,
			       .virtualized = virt, .nvirtualized = r->modes ? 1 : 0,
			       .ringblk_trap = r->ringblk_trap };
	struct vmm_result res;
	cr_assert_eq(vmm__run(&cfg, &res), VMM_RAN, "%s: %s", r->guest, res.err);
	cr_assert_eq(res.state, RUN_PASS, "%s %s did not pass", r->guest, r->args ? r->args : "");
	return res.run_id;
}

/* Runs devirt replay DB --run ID [extra...]; returns the exit status. */
static int replay_cmd(const char *db, int64_t run, const char *a1, const char *a2, const char *a3)
{
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)run);
	char *argv[] = { "devirt", "replay", (char *)db, "--run", id, (char *)a1, (char *)a2, (char *)a3, NULL };
	return run_cmd(argv, NULL, out, sizeof(out));
}

/* Replays through the library; returns the status, fills res. */
static int replay_lib(const char *db, int64_t run, struct replay_opts *o, struct replay_result *res)
{
	o->db = db;
	o->run = run;
	o->out = fopen("/dev/null", "w");
	int st = replay__run(o, res);
	fclose(o->out);
	return st;
}

/* Every workload, a switched run of each kind, replays identical and
 * re-runs identical under KVM; the replay is stored as a run whose parent
 * is the recording and whose disks end the same. */
static const struct rec every[] = {
	{ .guest = "hello", .args = "ticks=20 hz=1000" },
	{ .guest = "ata-stress", .args = "sectors=2" },
	{ .guest = "uart-echo", .args = "bytes=64" },
	{ .guest = "ringblk-stress", .args = "requests=128" },
	{ .guest = "mixed", .args = "rounds=2" },
	{ .guest = "mixed", .args = "rounds=2", .switches = "every=77:roundtrip:all" },
	{ .guest = "ata-stress", .args = "sectors=2", .switches = "every=101:roundtrip:ata", .block = EDEV_BLOCK_DEFER },
	{ .guest = "ringblk-stress", .args = "requests=128", .switches = "every=50:roundtrip:ringblk",
	  .block = EDEV_BLOCK_DEFER },
	{ .guest = "uart-echo", .args = "bytes=64", .modes = "com1" },
	{ .guest = "mixed", .args = "rounds=2", .ringblk_trap = 1 },
};

Test(replay, every_workload_replays_identical_and_live_reproduces, .timeout = 120)
{
	need_kvm();
	char db[80];
	new_path(db, ".db");
	size_t n = sizeof(every) / sizeof(every[0]);
	int64_t ids[16];
	for (size_t i = 0; i < n; i++)
		ids[i] = record(db, &every[i]);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(replay_cmd(db, ids[i], NULL, NULL, NULL), 0, "%s %s:\n%s", every[i].guest, every[i].args, out);
		cr_assert(strstr(out, "): identical\n"), "%s", out);
		cr_assert(strstr(out, "accesses/s"), "%s", out);
		cr_assert_eq(replay_cmd(db, ids[i], "--live", NULL, NULL), 0, "%s %s --live:\n%s", every[i].guest,
			     every[i].args, out);
		cr_assert(strstr(out, ": identical ("), "%s", out);
	}
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE kind = 'replay' AND source LIKE '%live'"), (int64_t)n);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run r JOIN run p ON p.id = r.parent WHERE r.kind = 'replay'"
			   " AND r.verdict = 'pass' AND r.disk_after_sha256 = p.disk_after_sha256"
			   " AND r.ringblk_after_sha256 = p.ringblk_after_sha256"), (int64_t)(2 * n));
	/* the offline replay's rows are the recording's (wall clock aside) */
	cr_assert_eq(q1(d, "SELECT count(*) FROM (SELECT seq, vtime_ns, addr, value, path, sm_state, mode FROM access"
			   " WHERE run = 5 EXCEPT SELECT seq, vtime_ns, addr, value, path, sm_state, mode FROM access"
			   " WHERE run = (SELECT min(id) FROM run WHERE parent = 5))"), 0);
	sqlite3_close(d);
	rm_db(db);
}

Test(replay, live_refuses_a_changed_image)
{
	need_kvm();
	char db[80], img[80];
	size_t len;
	void *elf = read_file(guest_image("hello"), &len);
	cr_assert_not_null(elf);
	FILE *f = fopen(new_path(img, ".elf"), "w");
	cr_assert_eq(fwrite(elf, 1, len, f), len);
	fclose(f);
	int64_t id = record(new_path(db, ".db"), &(struct rec){ .guest = "hello", .args = "ticks=5", .image = img });
	f = fopen(img, "a");
	fputc(0, f);
	fclose(f);
	cr_assert_eq(replay_cmd(db, id, "--live", NULL, NULL), 2, "%s", out);
	cr_assert(strstr(out, "changed since run"), "%s", out);
	cr_assert_eq(replay_cmd(db, id, NULL, NULL, NULL), 0, "offline replay needs no image:\n%s", out);
	free(elf);
	unlink(img);
	rm_db(db);
}

Test(replay, switches_injected_mid_sequence_pass_with_polls_inserted)
{
	need_kvm();
	char db[80], at[64];
	int64_t ata = record(new_path(db, ".db"), &(struct rec){ .guest = "ata-stress", .args = "sectors=4" });
	int64_t mix = record(db, &(struct rec){ .guest = "mixed", .args = "rounds=2" });
	sqlite3 *d = open_db(db);
	/* the middle of the first sector of a WRITE's data: mid-sequence */
	int64_t seq = q1(d, "SELECT min(seq) + 100 FROM access WHERE run = 1 AND device = 'ata' AND reg = 'data'"
			    " AND dir = 'w'");
	sqlite3_close(d);
	snprintf(at, sizeof(at), "--inject=at=%lld:roundtrip:ata", (long long)seq);
	cr_assert_eq(replay_cmd(db, ata, at, NULL, NULL), 0, "%s", out);
	cr_assert(strstr(out, "identical (apart from inserted polls and waits)"), "%s", out);
	struct replay_result res;
	struct replay_opts o = { .inject = { at + 9 }, .ninject = 1, .no_store = 1 };
	cr_assert_eq(replay_lib(db, ata, &o, &res), 0, "%s", res.div);
	cr_assert_gt(res.polls, 0, "the switch made the guest poll");
	/* every ATA write command of a mixed run, and a UART and ringblk switch */
	o = (struct replay_opts){ .inject = { "match=^ata w command 0x(30|c5) :roundtrip:ata",
					      "match=^com1 w thr :roundtrip:uart", "match=sq_tail:virtualize:ringblk" },
				  .ninject = 3, .no_store = 1 };
	cr_assert_eq(replay_lib(db, mix, &o, &res), 0, "%s", res.div);
	cr_assert_gt(res.accesses, 10000);
	rm_db(db);
}

Test(replay, a_tampered_value_is_a_divergence_with_its_seq)
{
	need_kvm();
	char db[80], want[64];
	int64_t id = record(new_path(db, ".db"), &(struct rec){ .guest = "ata-stress", .args = "sectors=2" });
	sqlite3 *d = open_db(db);
	int64_t seq = q1(d, "SELECT seq FROM access WHERE run = 1 AND device = 'ata' AND reg = 'data' AND dir = 'r'"
			    " LIMIT 1 OFFSET 300");
	char sql[160];
	snprintf(sql, sizeof(sql), "UPDATE access SET value = value + 1 WHERE run = 1 AND seq = %lld", (long long)seq);
	cr_assert_eq(sqlite3_exec(d, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(d);
	cr_assert_eq(replay_cmd(db, id, NULL, NULL, NULL), 1, "%s", out);
	snprintf(want, sizeof(want), "divergence at seq %lld: ata r data", (long long)seq);
	cr_assert(strstr(out, want), "want '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want), "=> seq %lld: ata r data", (long long)seq);
	cr_assert(strstr(out, want), "the accesses around it:\n%s", out);
	rm_db(db);
}

Test(replay, bad_input_exits_2)
{
	need_kvm();
	char db[80];
	int64_t id = record(new_path(db, ".db"), &(struct rec){ .guest = "hello", .args = "ticks=5" });
	cr_assert_eq(replay_cmd("/nonexistent.db", 1, NULL, NULL, NULL), 2, "%s", out);
	cr_assert_eq(replay_cmd(db, id + 5, NULL, NULL, NULL), 2, "%s", out);
	cr_assert(strstr(out, "no run"), "%s", out);
	cr_assert_eq(replay_cmd(db, id, "--inject=at=1:spin:ata", NULL, NULL), 2, "%s", out);
	cr_assert_eq(replay_cmd(db, id, "--inject=match=(:roundtrip:ata", NULL, NULL), 2, "%s", out);
	cr_assert(strstr(out, "at offset"), "a bad pattern names its offset:\n%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(sqlite3_exec(d, "UPDATE run SET verdict = NULL WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(d);
	cr_assert_eq(replay_cmd(db, id, NULL, NULL, NULL), 2, "%s", out);
	cr_assert(strstr(out, "never finished"), "%s", out);
	rm_db(db);
}

/* Exhaustive over one recorded run, through the library; returns res. */
static int exhaustive(const char *db, int64_t run, unsigned actions, int bug, struct replay_result *res)
{
	struct replay_opts o = { .exhaustive = 1, .actions = actions, .bug = bug };
	return replay_lib(db, run, &o, res);
}

Test(replay, exhaustive_finds_no_violation_and_stores_its_baseline, .timeout = 120)
{
	need_kvm();
	char db[80];
	struct replay_result res;
	int64_t id = record(new_path(db, ".db"),
			    &(struct rec){ .guest = "ata-stress", .args = "sectors=2 phases=identify,polled,irq" });
	cr_assert_eq(exhaustive(db, id, 0, 0, &res), 0, "%llu violations", (unsigned long long)res.violations);
	cr_assert_gt(res.act[EA_VIRTUALIZE].injections, 1000);
	cr_assert_eq(res.act[EA_ROUNDTRIP].injections, res.act[EA_VIRTUALIZE].injections);
	cr_assert_eq(res.act[EA_DEVIRTUALIZE].injections, 0, "the baseline never has ata virtualized");
	cr_assert_gt(res.act[EA_ROUNDTRIP].reconverged, res.act[EA_ROUNDTRIP].injections * 9 / 10);
	cr_assert_gt(res.polls, 0);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE kind = 'replay' AND parent = 1 AND source LIKE '%exhaustive'"
			   " AND verdict = 'pass'"), 1);
	cr_assert_eq(q1(d, "SELECT count(*) FROM violation"), 0);
	sqlite3_close(d);
	/* devirtualize where the baseline has the device virtualized */
	id = record(db, &(struct rec){ .guest = "uart-echo", .args = "bytes=16", .modes = "com1" });
	cr_assert_eq(exhaustive(db, id, 1u << EA_DEVIRTUALIZE, 0, &res), 0, "%llu violations",
		     (unsigned long long)res.violations);
	cr_assert_gt(res.act[EA_DEVIRTUALIZE].injections, 100);
	rm_db(db);
}

Test(replay, exhaustive_over_20k_accesses_of_ata_stress, .timeout = 240)
{
	need_kvm();
	char db[80];
	int64_t id = record(new_path(db, ".db"), &(struct rec){ .guest = "ata-stress", .args = "sectors=8" });
	sqlite3 *d = open_db(db);
	int64_t n = q1(d, "SELECT count(*) FROM access WHERE run = 1");
	sqlite3_close(d);
	cr_assert_geq(n, 20000, "%lld accesses", (long long)n);
	cr_assert_eq(replay_cmd(db, id, "--exhaustive", "--actions=roundtrip", "--no-progress"), 0, "%s", out);
	cr_assert(strstr(out, "accesses/s"), "%s", out);
	cr_assert(strstr(out, "violations\nvirtualize"), "the summary table:\n%s", out);
	const char *rt = strstr(out, "\nroundtrip");
	cr_assert(rt, "%s", out);
	unsigned long long inj, ident, reconv, med, max, viol;
	cr_assert_eq(sscanf(rt, "\nroundtrip %llu %llu %llu %llu %llu %llu", &inj, &ident, &reconv, &med, &max, &viol), 6,
		     "%s", rt);
	cr_assert_eq(viol, 0);
	cr_assert_eq(inj, ident);
	cr_assert_gt(inj, 18000);
	cr_log_info("exhaustive roundtrip over %lld accesses: %s", (long long)n, strstr(out, "trace:"));
	rm_db(db);
}

/* Imports a QEMU log into db; returns the run id. */
static int64_t import(const char *log, const char *db)
{
	char *argv[] = { "devirt", "import", "qemu", (char *)log, "--db", (char *)db, NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	sqlite3 *d = open_db(db);
	int64_t id = q1(d, "SELECT max(id) FROM run WHERE kind = 'import'");
	sqlite3_close(d);
	return id;
}

Test(replay, imported_qemu_traces_report_conformance_and_stay_transparent, .timeout = 180)
{
	char db[80], log[80], disk[80], drive[160];
	struct replay_result res;
	int64_t id = import("tests/data/qemu-ata.log", new_path(db, ".db"));
	cr_assert_eq(replay_cmd(db, id, NULL, NULL, NULL), 0, "%s", out);
	cr_assert(strstr(out, "conformance: our models answered 42 of 290 reads differently"), "%s", out);
	cr_assert(strstr(out, "ata      data"), "by register:\n%s", out);
	cr_assert_eq(exhaustive(db, id, 0, 0, &res), 0, "%llu violations", (unsigned long long)res.violations);
	cr_assert_gt(res.injections, 600);
	cr_assert_eq(res.conform_diffs, 42);
	/* a fresh 20k-access QEMU trace of ata-stress */
	need_qemu();
	need_kvm();
	FILE *f = fopen(new_path(disk, ".img"), "w");
	cr_assert(f && !ftruncate(fileno(f), 16 << 20));
	fclose(f);
	snprintf(drive, sizeof(drive), "file=%s,format=raw,if=ide", disk);
	char *argv[] = { "timeout", "120", "qemu-system-x86_64", "-enable-kvm", "-display", "none",
			 "-serial", "null", "-no-reboot", "-monitor", "none",
			 "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-drive", drive,
			 "-kernel", (char *)guest_image("ata-stress"), "-append", "sectors=8 seed=3",
			 "-trace", "ide_*", "-trace", "serial_*", "-D", new_path(log, ".log"), NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 33, "QEMU:\n%s", out);
	unlink(disk);
	id = import(log, db);
	cr_assert_eq(replay_cmd(db, id, "--exhaustive", "--actions=roundtrip", "--no-progress"), 0, "%s", out);
	cr_assert(strstr(out, "conformance:") && strstr(out, "accesses/s"), "%s", out);
	unsigned long long inj, ident, reconv, med, max, viol;
	const char *rt = strstr(out, "\nroundtrip");
	cr_assert(rt && sscanf(rt, "\nroundtrip %llu %llu %llu %llu %llu %llu", &inj, &ident, &reconv, &med, &max,
			       &viol) == 6, "%s", out);
	cr_assert_eq(viol, 0);
	cr_assert_gt(inj, 18000);
	cr_log_info("QEMU trace, exhaustive roundtrip: %s", strstr(out, "trace:"));
	unlink(log);
	rm_db(db);
}

Test(replay, broken_engines_are_caught, .timeout = 120)
{
	need_kvm();
	char db[80];
	struct replay_result res;
	int64_t id = record(new_path(db, ".db"), &(struct rec){ .guest = "ata-stress", .block = EDEV_BLOCK_DEFER,
							      .args = "sectors=1 phases=irq,multiple" });
	cr_assert_eq(exhaustive(db, id, 1u << EA_ROUNDTRIP, BUG_DROP_IRQ, &res), 1);
	cr_assert_gt(res.violations, 0, "an interrupt dropped");
	cr_assert_eq(exhaustive(db, id, 1u << EA_ROUNDTRIP, BUG_SKIP_DEFERRED_REPLAY, &res), 1);
	cr_assert_gt(res.violations, 0, "deferred writes lost");
	cr_assert_eq(exhaustive(db, id, 1u << EA_ROUNDTRIP, BUG_FORGET_MODE, &res), 1);
	cr_assert_gt(res.violations, 0, "the mode not restored");
	/* the command takes DEVIRT_BUG too, and stores each violation */
	char run[16];
	snprintf(run, sizeof(run), "%lld", (long long)id);
	char *argv[] = { "devirt", "replay", db, "--run", run, "--exhaustive", "--actions=roundtrip", "--no-progress", NULL };
	char *env[] = { "DEVIRT_BUG=drop-irq", NULL };
	cr_assert_eq(run_cmd(argv, env, out, sizeof(out)), 1, "%s", out);
	cr_assert(strstr(out, "violation: roundtrip on ata after seq"), "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_gt(q1(d, "SELECT count(*) FROM violation v JOIN run r ON r.id = v.run WHERE r.parent = 1"
			   " AND v.invariant = 'I1' AND v.seq IS NOT NULL AND v.detail LIKE 'roundtrip on ata%'"), 0);
	sqlite3_close(d);
	rm_db(db);
}

Test(replay, exhaustive_cost_grows_linearly_with_the_trace, .timeout = 180)
{
	need_kvm();
	char db[80];
	struct replay_result a, b;
	/* the same rounds of work, 2 or 40 of them */
	int64_t s = record(new_path(db, ".db"), &(struct rec){ .guest = "mixed", .args = "rounds=2 sectors=1 depth=2 bytes=16" });
	int64_t l = record(db, &(struct rec){ .guest = "mixed", .args = "rounds=40 sectors=1 depth=2 bytes=16" });
	cr_assert_eq(exhaustive(db, s, 1u << EA_ROUNDTRIP, 0, &a), 0, "%llu violations", (unsigned long long)a.violations);
	cr_assert_eq(exhaustive(db, l, 1u << EA_ROUNDTRIP, 0, &b), 0, "%llu violations", (unsigned long long)b.violations);
	double per_a = (double)a.replayed_accesses / (double)a.injections;
	double per_b = (double)b.replayed_accesses / (double)b.injections;
	cr_log_info("exhaustive roundtrip, %llu-access trace: %llu injections in %.2f s (%.0f/s, %.0f accesses/s,"
		    " %.0f accesses replayed per injection); %llu-access trace: %llu in %.2f s (%.0f/s, %.0f accesses/s,"
		    " %.0f per injection)", (unsigned long long)a.accesses, (unsigned long long)a.injections, a.wall_s,
		    a.injections_per_s, a.accesses_per_s, per_a, (unsigned long long)b.accesses,
		    (unsigned long long)b.injections, b.wall_s, b.injections_per_s, b.accesses_per_s, per_b);
	cr_assert_gt(b.accesses, 5 * a.accesses);
	/* the work per injection does not grow with the trace (quadratic: x6) */
	cr_assert_lt(per_b, 2 * per_a, "%.0f accesses replayed per injection vs %.0f", per_b, per_a);
	rm_db(db);
}
