/*
 * Campaigns as users run them (`devirt campaign CONFIG`): a bad config is
 * one line naming file, line and key, exit 2; small live campaigns pass
 * and write their runs; match= triggers on ATA WRITE commands switch
 * mid-sequence at exactly the matching accesses; shards merged and --jobs
 * give the unsharded campaign's results; faults are injected, recorded,
 * and real (a dropped interrupt stalls ata-stress); a run on a VM reset
 * from its snapshot logs the same accesses as a run on a new VM.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

/* A scratch directory per test; returns its path (static). */
static const char *scratch(void)
{
	static char dir[64];
	strcpy(dir, "/tmp/devirt-camp-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

/* Removes a scratch directory and what the test left in it. */
static void cleanup(const char *dir)
{
	char out[256], *argv[] = { "rm", "-rf", (char *)dir, NULL };
	run_cmd(argv, NULL, out, sizeof(out));
}

/* Writes text to dir/name; returns the path (static: one file per test). */
static char *put(const char *dir, const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Runs devirt campaign with args (NULL-terminated after CONFIG); returns
 * the exit status, output in out. */
static int campaign(char *out, size_t len, const char *config, ...)
{
	char *argv[16] = { "devirt", "campaign", (char *)config };
	int n = 3;
	va_list ap;
	va_start(ap, config);
	for (char *a; n < 15 && (a = va_arg(ap, char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return run_cmd(argv, NULL, out, len);
}

/* Checks that config (text) is refused with exit 2 and one line that
 * starts with "PATH:LINE: " and holds want. */
static void refused(const char *text, int line, const char *want)
{
	const char *dir = scratch();
	char *path = put(dir, "bad.ini", text), out[2048], prefix[256];
	int rc = campaign(out, sizeof(out), path, NULL);
	cr_assert_eq(rc, 2, "exit %d, output: %s", rc, out);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	cr_assert(!strncmp(out, prefix, strlen(prefix)), "expected '%s...', got: %s", prefix, out);
	cr_assert_not_null(strstr(out, want), "expected '%s' in: %s", want, out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "more than one line: %s", out);
	unlink(path);
	rmdir(dir);
}

#define HEAD "[campaign]\nname = t\nguest = hello\n"

Test(campaign, bad_config_unknown_section)
{
	refused(HEAD "runs = 1\n\n[injekt]\ntrigger = every\n", 6, "[injekt]: unknown section");
}

Test(campaign, bad_config_unknown_key)
{
	refused(HEAD "runs = 1\nrnus = 2\n", 5, "[campaign] rnus: unknown key");
}

Test(campaign, bad_config_missing_key)
{
	refused("; no runs\n" HEAD "args = ticks=1\n", 2, "[campaign] runs: missing required key");
	refused(HEAD "runs = 1\n[inject]\ntrigger = every\n", 5, "[inject] every: missing required key");
}

Test(campaign, bad_config_bad_number)
{
	refused(HEAD "runs = 12x\n", 4, "[campaign] runs: '12x' is not a number");
	refused(HEAD "runs = 1\n[faults]\nirq_drop = rate 1.5\n", 6, "[faults] irq_drop: '1.5' is not a probability");
}

Test(campaign, bad_config_bad_duration)
{
	refused(HEAD "runs = 1\ntimeout = 10\n", 5, "[campaign] timeout: '10' is not a duration");
	refused(HEAD "runs = 1\n[inject]\ntrigger = vtime\nvtime = 3 ms\n", 7, "[inject] vtime:");
}

Test(campaign, bad_config_pcre2_error)
{
	refused(HEAD "runs = 1\n[inject]\ntrigger = match\nmatch = ^ata (w\n", 7,
		"[inject] match: PCRE2 error at offset 7: missing closing parenthesis");
}

Test(campaign, bad_config_other_trigger_key)
{
	refused(HEAD "runs = 1\n[inject]\ntrigger = every\nevery = 5\nrate = 0.1\n", 8,
		"[inject] rate: only used with trigger = random");
}

#define INDEX "CAST(substr(r.config, instr(r.config, 'index=') + 6) AS INTEGER)"

/* Returns one line per run of db, in campaign index order: index, seed,
 * verdict, exits, switches and accesses (malloc'd). */
static char *results(const char *path)
{
	sqlite3 *db = open_db(path);
	sqlite3_stmt *st;
	char *buf = calloc(1, 65536);
	cr_assert_eq(sqlite3_prepare_v2(db,
		"SELECT " INDEX ", r.seed, r.verdict, r.exits,"
		" (SELECT count(*) FROM switch s WHERE s.run = r.id),"
		" (SELECT count(*) FROM switch s WHERE s.run = r.id AND s.outcome = 'done'),"
		" (SELECT count(*) FROM access a WHERE a.run = r.id),"
		" (SELECT count(*) FROM fault f WHERE f.run = r.id)"
		" FROM run r ORDER BY 1", -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf + strlen(buf), 65536 - strlen(buf), "%lld %lld %s %lld %lld %lld %lld %lld\n",
			 sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_text(st, 2),
			 sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
			 sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 7));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

Test(campaign, small_live_campaign_passes, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "c.ini", "[campaign]\nname = small\nguest = mixed\nargs = rounds=1\nruns = 3\nseed = 5\n"
				      "[inject]\ntrigger = every\nevery = 101\n");
	char db[128], out[8192];
	snprintf(db, sizeof(db), "%s/c.db", dir);
	int rc = campaign(out, sizeof(out), cfg, "--db", db, NULL);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert_not_null(strstr(out, "3 pass"), "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE verdict = 'pass' AND config LIKE 'campaign=small index=%'"), 3);
	cr_assert_eq(q1(d, "SELECT count(DISTINCT seed) FROM run"), 3, "each run has its own seed");
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE args LIKE 'rounds=1 seed=%'"), 3);
	cr_assert_gt(q1(d, "SELECT min(n) FROM (SELECT count(*) AS n FROM switch WHERE outcome = 'done' GROUP BY run)"), 2);
	sqlite3_close(d);
	cleanup(dir);
}

Test(campaign, match_on_ata_writes_switches_mid_sequence, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "m.ini",
			"[campaign]\nname = writes\nguest = ata-stress\nargs = sectors=16\nruns = 2\n"
			"[inject]\ntrigger = match\n"
			"match = ^ata w command 0x(30|c5) pio   ; WRITE SECTORS, WRITE MULTIPLE\n"
			"actions = virtualize, devirtualize\ndevices = ata\n");
	char db[128], out[8192];
	snprintf(db, sizeof(db), "%s/m.db", dir);
	int rc = campaign(out, sizeof(out), cfg, "--db", db, NULL);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	sqlite3 *d = open_db(db);
	int64_t writes = q1(d, "SELECT count(*) FROM access WHERE device = 'ata' AND reg = 'command' AND dir = 'w'"
			       " AND value IN (0x30, 0xc5)");
	cr_assert_gt(writes, 4);
	/* every switch was requested right after a matching access (the engine
	 * begins at the next safe point, whose seq is the access's + 1) */
	cr_assert_eq(q1(d, "SELECT count(*) FROM switch"), writes);
	cr_assert_eq(q1(d, "SELECT count(*) FROM switch s JOIN access a ON a.run = s.run AND a.seq = s.requested_seq - 1"
			   " WHERE a.device = 'ata' AND a.reg = 'command' AND a.value IN (0x30, 0xc5)"), writes);
	cr_assert_eq(q1(d, "SELECT count(*) FROM switch WHERE outcome = 'done'"), writes);
	/* mid-sequence: the data phase of the command came after the request */
	cr_assert_eq(q1(d, "SELECT count(*) FROM switch s WHERE EXISTS (SELECT 1 FROM access a WHERE a.run = s.run"
			   " AND a.seq > s.requested_seq AND a.seq < s.completed_seq AND a.reg = 'data' AND a.dir = 'w')"
			   " AND s.action = 'virtualize'"), writes / 2);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE verdict = 'pass'"), 2);
	sqlite3_close(d);
	cleanup(dir);
}

#define SHARDED "[campaign]\nname = sh\nguest = mixed\nargs = rounds=1\nruns = 5\nseed = 11\n" \
		"[inject]\ntrigger = random\nrate = 0.01\n"

Test(campaign, shards_merged_equal_the_unsharded_campaign, .timeout = 180)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "s.ini", SHARDED);
	char all[128], s1[128], s2[128], merged[128], out[8192];
	snprintf(all, sizeof(all), "%s/all.db", dir);
	snprintf(s1, sizeof(s1), "%s/s1.db", dir);
	snprintf(s2, sizeof(s2), "%s/s2.db", dir);
	snprintf(merged, sizeof(merged), "%s/merged.db", dir);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", all, NULL), 0, "%s", out);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", s2, "--shard", "2/2", NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "2 runs"), "shard 2/2 of 5 runs holds runs 1 and 3: %s", out);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", s1, "--shard", "1/2", NULL), 0, "%s", out);
	char *argv[] = { "devirt", "merge", s1, s2, "--db", merged, NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	char *a = results(all), *m = results(merged);
	cr_assert_str_eq(m, a, "merged shards:\n%s\nunsharded:\n%s", m, a);
	cr_assert_eq(strlen(a) > 0 && !strcmp(a + strlen(a) - 1, "\n"), 1);
	free(a);
	free(m);
	cleanup(dir);
}

Test(campaign, jobs_equal_one_process, .timeout = 180)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "j.ini", SHARDED);
	char one[128], two[128], out[8192];
	snprintf(one, sizeof(one), "%s/one.db", dir);
	snprintf(two, sizeof(two), "%s/two.db", dir);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", one, NULL), 0, "%s", out);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", two, "--jobs", "2", NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "5 runs"), "%s", out);
	char *a = results(one), *b = results(two);
	cr_assert_str_eq(b, a, "--jobs 2:\n%s\none process:\n%s", b, a);
	char part[160];
	snprintf(part, sizeof(part), "%s.part0", two);
	cr_assert_neq(access(part, F_OK), 0, "the database parts are removed after the merge");
	free(a);
	free(b);
	cleanup(dir);
}

Test(campaign, dropped_interrupt_and_error_status_are_real, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "f.ini",
			"[campaign]\nname = drop\nguest = ata-stress\nargs = sectors=16\nruns = 1\ntimeout = 2s\n"
			"[faults]\nirq_drop = every 5\ndevices = ata\nmax_per_run = 1\n");
	char db[128], out[8192];
	snprintf(db, sizeof(db), "%s/f.db", dir);
	int rc = campaign(out, sizeof(out), cfg, "--db", db, NULL);
	cr_assert_eq(rc, 1, "a dropped completion interrupt must stall the guest: exit %d: %s", rc, out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM fault WHERE kind = 'irq_drop' AND device = 'ata'"), 1);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE verdict IN ('vtime-timeout', 'hung', 'fail')"), 1);
	/* the raise the device made at the fault's seq never reached the PIC */
	cr_assert_eq(q1(d, "SELECT count(*) FROM irq i, fault f WHERE i.run = f.run AND i.seq >= f.seq"
			   " AND i.device = 'ata' AND i.event = 'raise'"), 0);
	sqlite3_close(d);
	/* an error status at a write's completion fails the guest too */
	cfg = put(dir, "e.ini", "[campaign]\nname = err\nguest = ata-stress\nargs = sectors=16\nruns = 1\n"
				"[faults]\nerror_status = every 7\ndevices = ata\nmax_per_run = 1\n");
	rc = campaign(out, sizeof(out), cfg, "--db", db, NULL);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM fault WHERE kind = 'error_status'"), 1);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE guest = 'ata-stress' AND verdict = 'fail'"), 1);
	sqlite3_close(d);
	cleanup(dir);
}

Test(campaign, every_fault_kind_is_injected_and_recorded, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "k.ini",
			"[campaign]\nname = kinds\nguest = mixed\nargs = rounds=2\nruns = 2\ntimeout = 3s\n"
			"[faults]\nirq_delay = every 3\nirq_duplicate = every 4\nirq_spurious = rate 0.002\n"
			"error_status = every 50\nslow_completion = every 5\nslow_by = 300us\n");
	char db[128], out[8192];
	snprintf(db, sizeof(db), "%s/k.db", dir);
	int rc = campaign(out, sizeof(out), cfg, "--db", db, NULL);
	cr_assert(rc == 0 || rc == 1, "exit %d: %s", rc, out);
	sqlite3 *d = open_db(db);
	static const char *kinds[] = { "irq_delay", "irq_duplicate", "irq_spurious", "error_status", "slow_completion" };
	for (int k = 0; k < 5; k++) {
		char sql[160];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM fault WHERE kind = '%s' AND seq IS NOT NULL"
			 " AND detail IS NOT NULL", kinds[k]);
		cr_assert_gt(q1(d, sql), 0, "no %s fault recorded: %s", kinds[k], out);
	}
	/* a delayed raise reaches its target exactly `delay` (200 us) after
	 * the device made it */
	cr_assert_eq(q1(d, "SELECT count(*) FROM fault f WHERE f.kind = 'irq_delay' AND NOT EXISTS (SELECT 1 FROM irq i"
			   " WHERE i.run = f.run AND i.device = f.device AND i.event = 'raise'"
			   " AND i.vtime_ns = f.vtime_ns + 200000)"), 0);
	/* faults are chosen from the run's seed: run index 1 alone injects
	 * the same ones again */
	sqlite3_close(d);
	char again[128];
	snprintf(again, sizeof(again), "%s/again.db", dir);
	campaign(out, sizeof(out), cfg, "--db", again, "--index", "1", NULL);
	sqlite3 *a = open_db(again), *b = open_db(db);
	cr_assert_eq(q1(a, "SELECT count(*) FROM fault"), q1(b, "SELECT count(*) FROM fault WHERE run = 2"));
	sqlite3_close(a);
	sqlite3_close(b);
	cleanup(dir);
}

Test(campaign, snapshot_reset_gives_a_new_vms_trace, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	/* an ATA base image with content: runs must start from it and never
	 * write it */
	char base[128], db[128], out[8192], text[512];
	snprintf(base, sizeof(base), "%s/base.img", dir);
	FILE *f = fopen(base, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < (16 << 20) / 4; i++)
		fwrite(&(uint32_t){ i < 16384 ? 0x5a5a0000u + (uint32_t)i : 0 }, 4, 1, f);
	fclose(f);
	size_t blen;
	void *before = read_file(base, &blen);
	snprintf(text, sizeof(text),
		 "[campaign]\nname = det\nguest = mixed\nargs = rounds=2\nruns = 2\nseed = 9\nseeds = fixed\n"
		 "[device.ata]\nmodel = ata-disk\ndisk = %s\n[inject]\ntrigger = every\nevery = 97\n", base);
	char *cfg = put(dir, "d.ini", text);
	snprintf(db, sizeof(db), "%s/d.db", dir);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", db, NULL), 0, "%s", out);
	cr_assert_eq(campaign(out, sizeof(out), cfg, "--db", db, "--reset", "fresh", "--runs", "1", NULL), 0, "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE seed = 9"), 3);
	/* run 1: the session's first run (a VM as created); run 2: the same VM
	 * reset from its snapshot; run 3: a VM created for it (reset = fresh) */
#define COLS "seq, vtime_ns, space, addr, size, dir, value, device, reg, path, sm_state, mode, rip"
	for (int r = 2; r <= 3; r++) {
		char sql[512];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT " COLS " FROM access WHERE run = 1"
			 " EXCEPT SELECT " COLS " FROM access WHERE run = %d)", r);
		cr_assert_eq(q1(d, sql), 0, "run %d's accesses differ from run 1's", r);
		snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM access WHERE run = 1) -"
			 " (SELECT count(*) FROM access WHERE run = %d)", r);
		cr_assert_eq(q1(d, sql), 0);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT seq, vtime_ns, event, vector FROM irq WHERE run = 1"
			 " EXCEPT SELECT seq, vtime_ns, event, vector FROM irq WHERE run = %d)", r);
		cr_assert_eq(q1(d, sql), 0, "run %d's interrupts differ from run 1's", r);
	}
	cr_assert_gt(q1(d, "SELECT count(*) FROM access WHERE run = 2"), 1000);
	cr_assert_gt(q1(d, "SELECT count(*) FROM switch WHERE run = 2 AND outcome = 'done'"), 2);
	/* every run started from the base content; the guest wrote its copy */
	cr_assert_eq(q1(d, "SELECT count(DISTINCT disk_sha256) FROM run WHERE disk_sha256 IS NOT NULL"), 1);
	cr_assert_eq(q1(d, "SELECT count(DISTINCT ringblk_sha256) FROM run WHERE ringblk_sha256 IS NOT NULL"), 1);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE disk_after_sha256 <> disk_sha256"), 3);
	cr_assert_eq(q1(d, "SELECT count(*) FROM disk_base WHERE device = 'ata' AND run = 2"), 1,
		     "the base's one non-zero 64 KiB chunk");
	sqlite3_close(d);
	size_t alen;
	void *after = read_file(base, &alen);
	cr_assert(alen == blen && !memcmp(before, after, blen), "the base image was written");
	free(before);
	free(after);
	cleanup(dir);
}

/* A vmm attach hook that checks guest RAM far above the guest's image is
 * zero when a run starts, then writes a marker there as device DMA or the
 * monitor would (writes KVM's dirty log never sees). */
static int marker(void *ctx, struct machine *m, struct engine *e, struct trace *t, char *err, size_t len)
{
	int *dirty = ctx;
	uint8_t *p = gmem__ptr(&m->mem, 48u << 20, 8192);
	cr_assert_not_null(p);
	for (int i = 0; i < 8192; i++)
		*dirty |= p[i];
	memset(p, 0xa5, 8192);
	return 0;
}

Test(campaign, snapshot_reset_restores_ram_written_from_outside, .timeout = 60)
{
	need_kvm();
	int dirty = 0;
	struct vmm_cfg cfg = { .image = guest_image("hello"), .args = "ticks=2", .console_fd = -1,
			       .vtimeout_ns = 10ull * 1000000000ull, .wtimeout_ns = 30ull * 1000000000ull,
			       .attach = marker, .attach_ctx = &dirty };
	struct vmm_result res;
	struct vmm *v;
	cr_assert_eq(vmm__open(&v, &cfg, &res), VMM_RAN, "%s", res.err);
	for (int run = 0; run < 3; run++) {
		cr_assert_eq(vmm__run_once(v, &cfg, &res), VMM_RAN, "%s", res.err);
		cr_assert_eq(res.state, RUN_PASS, "run %d: %s", run, run_state__name(res.state));
		cr_assert_eq(dirty, 0, "run %d started with the last run's marker in RAM", run);
	}
	vmm__close(v);
}

Test(campaign, replay_mode_injects_into_recorded_run, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	char rec[128], out[8192], text[512];
	snprintf(rec, sizeof(rec), "%s/rec.db", dir);
	char *argv[] = { "devirt", "run", "ata-stress", "--db", rec, "--console", "/dev/null", "--", "sectors=16", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	snprintf(text, sizeof(text), "[campaign]\nname = rep\nmode = replay\ntrace = %s\nruns = 2\n"
		 "[inject]\ntrigger = match\nmatch = ^ata w command 0x(30|c5) pio\n"
		 "actions = virtualize, roundtrip\ndevices = ata\n", rec);
	char *cfg = put(dir, "r.ini", text);
	int rc = campaign(out, sizeof(out), cfg, NULL);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert_not_null(strstr(out, "2 replays"), "%s", out);
	sqlite3 *d = open_db(rec);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE kind = 'replay' AND parent = 1 AND verdict = 'pass'"), 2);
	/* both replays switched; the virtualize replay (run 2) requested a
	 * switch right after every write command of its own trace (the first
	 * virtualized the disk, the rest found it so) */
	cr_assert_eq(q1(d, "SELECT count(DISTINCT s.run) FROM switch s JOIN run r ON r.id = s.run"
			   " WHERE r.kind = 'replay' AND s.outcome = 'done'"), 2);
	int64_t writes = q1(d, "SELECT count(*) FROM access WHERE run = 2 AND reg = 'command' AND value IN (0x30, 0xc5)");
	cr_assert_gt(writes, 4);
	cr_assert_eq(q1(d, "SELECT count(*) FROM switch s JOIN access a ON a.run = s.run AND a.seq = s.requested_seq - 1"
			   " WHERE s.run = 2 AND a.reg = 'command' AND a.value IN (0x30, 0xc5)"), writes);
	cr_assert_eq(q1(d, "SELECT count(*) FROM switch WHERE run = 2 AND (outcome = 'done' OR reason = 'already virtualized')"),
		     writes);
	sqlite3_close(d);
	/* live-only keys are refused in a replay campaign, with their line */
	snprintf(text, sizeof(text), "[campaign]\nname = rep\nmode = replay\ntrace = %s\nruns = 2\n"
		 "[inject]\ntrigger = match\nmatch = x\nmidseq = takeover\n", rec);
	cfg = put(dir, "bad.ini", text);
	cr_assert_eq(campaign(out, sizeof(out), cfg, NULL), 2, "%s", out);
	cr_assert_not_null(strstr(out, ":9: [inject] midseq: only used with mode = live"), "%s", out);
	cleanup(dir);
}

Test(campaign, baselines_let_devirt_check_compare_every_run, .timeout = 120)
{
	need_kvm();
	const char *dir = scratch();
	char *cfg = put(dir, "b.ini", "[campaign]\nname = base\nguest = mixed\nargs = rounds=2\nruns = 3\nseed = 9\n"
				      "baseline = yes\n[inject]\ntrigger = random\nrate = 0.01\nactions = roundtrip\n"
				      "devices = all\nblock = defer\n");
	char db[128], out[16384];
	snprintf(db, sizeof(db), "%s/b.db", dir);
	int rc = campaign(out, sizeof(out), cfg, "--db", db, NULL);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert_not_null(strstr(out, "3 pass"), "baselines are not counted as campaign runs: %s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE switches IS NULL"), 3, "one baseline per run");
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE switches = 'campaign:base'"), 3);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run a JOIN run b ON b.id = a.id + 1 AND b.seed = a.seed"
			   " WHERE a.switches IS NULL"), 3, "each baseline has its injected run's seed");
	sqlite3_close(d);
	char *argv[] = { "devirt", "check", db, "--summary", NULL };
	rc = run_cmd(argv, NULL, out, sizeof(out));
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "I1                 3     0     3"), "I1 compared on the 3 injected runs: %s", out);
	cleanup(dir);
}
