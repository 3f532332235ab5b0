/*
 * devirt check: clean runs of every workload, switched every which way,
 * pass every invariant against their baselines; and each DEVIRT_BUG
 * misbehaviour of the engine is caught by the invariant it breaks.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

static char out[1 << 16];

/* Makes an empty temporary database path (static buffer per call site). */
static void temp_db(char *path, size_t len)
{
	snprintf(path, len, "/tmp/devirt-check-XXXXXX.db");
	int fd = mkstemps(path, 3);
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(path);
}

/* devirt run GUEST --db db [args...] with DEVIRT_BUG=bug (NULL: none);
 * returns its exit status. */
static int run(const char *db, const char *bug, const char *guest, const char *a1, const char *a2,
	       const char *a3, const char *a4)
{
	char env[64];
	char *envp[] = { env, NULL };
	snprintf(env, sizeof(env), "DEVIRT_BUG=%s", bug ? bug : "");
	char *argv[14] = { "devirt", "run", (char *)guest, "--db", (char *)db, "--wall-timeout", "150s" };
	int n = 7;
	if (!strcmp(guest, "ata-stress")) {
		argv[n++] = "--args";       /* a lighter run: the sanitizer build is slow */
		argv[n++] = "sectors=16";
	}
	const char *extra[] = { a1, a2, a3, a4 };
	for (int i = 0; i < 4 && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	return run_cmd(argv, envp, out, sizeof(out));
}

/* Runs devirt check on db; returns its exit status (output in out). */
static int check(const char *db)
{
	char *argv[] = { "devirt", "check", (char *)db, NULL };
	return run_cmd(argv, NULL, out, sizeof(out));
}

/* Returns the violations of invariant inv stored for run. */
static int64_t violations(const char *db, int run, const char *inv)
{
	sqlite3 *d;
	char sql[160];
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM violation WHERE run = %d AND invariant = '%s'", run, inv);
	int64_t n = q1(d, sql);
	sqlite3_close(d);
	return n;
}

Test(check, clean_switched_runs_pass_every_invariant, .timeout = 600)
{
	need_kvm();
	char db[64];
	temp_db(db, sizeof(db));
	static const char *const guests[] = { "ata-stress", "uart-echo", "ringblk-stress", "mixed" };
	for (int g = 0; g < 4; g++) {
		cr_assert_eq(run(db, NULL, guests[g], NULL, NULL, NULL, NULL), 0, "%s", out);   /* the baseline */
		cr_assert_eq(run(db, NULL, guests[g], "--switch", "every=101:roundtrip:all", NULL, NULL), 0, "%s", out);
		cr_assert_eq(run(db, NULL, guests[g], "--switch", "every=13:roundtrip:all", "--block", "defer"), 0, "%s", out);
		cr_assert_eq(run(db, NULL, guests[g], "--switch", "every=7:roundtrip:all", "--midseq", "takeover"), 0, "%s", out);
	}
	int rc = check(db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "16 runs checked, 0 with failures"), "%s", out);
	cr_assert(!strstr(out, "FAIL"), "%s", out);
	cr_assert(strstr(out, "I1 PASS"), "transparency was actually compared: %s", out);
	cr_assert(strstr(out, "I2 PASS"), "deferrals were actually checked: %s", out);
	unlink(db);
}

/* Records a baseline and a run with DEVIRT_BUG=bug, checks, and returns
 * the violations of inv stored for the buggy run (run 2). */
static int64_t caught(const char *bug, const char *guest, const char *inv, const char *a1, const char *a2,
		      const char *a3, const char *a4)
{
	char db[64];
	temp_db(db, sizeof(db));
	cr_assert_eq(run(db, NULL, guest, NULL, NULL, NULL, NULL), 0, "%s", out);
	run(db, bug, guest, a1, a2, a3, a4);         /* the guest may well fail */
	cr_assert_eq(check(db), 1, "%s: %s", bug, out);
	int64_t n = violations(db, 2, inv);
	unlink(db);
	return n;
}

Test(check, skip_deferred_replay_breaks_i2, .timeout = 60)
{
	need_kvm();
	cr_assert_gt(caught("skip-deferred-replay", "ringblk-stress", "I2", "--switch", "every=13:roundtrip:all",
			    "--block", "defer"), 0, "%s", out);
}

Test(check, replay_twice_breaks_i2, .timeout = 60)
{
	need_kvm();
	cr_assert_gt(caught("replay-twice", "ringblk-stress", "I2", "--switch", "every=13:roundtrip:all",
			    "--block", "defer"), 0, "%s", out);
}

Test(check, drop_irq_breaks_i4, .timeout = 60)
{
	need_kvm();
	cr_assert_gt(caught("drop-irq", "ata-stress", "I4", "--switch", "every=13:roundtrip:all", NULL, NULL), 0, "%s", out);
}

Test(check, unbounded_pause_breaks_i3, .timeout = 60)
{
	need_kvm();
	cr_assert_gt(caught("unbounded-pause", "ringblk-stress", "I3", "--switch", "every=13:roundtrip:all",
			    "--pause-bound", "30us"), 0, "%s", out);
}

Test(check, forget_mode_breaks_i5, .timeout = 60)
{
	need_kvm();
	cr_assert_gt(caught("forget-mode", "mixed", "I5", "--switch", "every=13:roundtrip:all", NULL, NULL), 0, "%s", out);
}

Test(check, skip_drain_breaks_i6, .timeout = 60)
{
	need_kvm();
	cr_assert_gt(caught("skip-drain", "ringblk-stress", "I6", "--switch", "every=13:roundtrip:all",
			    "--block", "defer"), 0, "%s", out);
}

Test(check, json_output_and_bad_input)
{
	need_kvm();
	char db[64];
	temp_db(db, sizeof(db));
	cr_assert_eq(run(db, NULL, "hello", NULL, NULL, NULL, NULL), 0, "%s", out);
	char *argv[] = { "devirt", "check", db, "--json", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "[{\"run\": 1,") && strstr(out, "\"I7\": {\"result\": \"PASS\""), "%s", out);
	char *bad[] = { "devirt", "check", "/nonexistent/x.db", NULL };
	cr_assert_eq(run_cmd(bad, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
	char *norun[] = { "devirt", "check", db, "--run", "9", NULL };
	cr_assert_eq(run_cmd(norun, NULL, out, sizeof(out)), 2, "%s", out);
	unlink(db);
}
