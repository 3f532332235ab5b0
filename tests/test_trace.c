/*
 * The trace store as users rely on it: every trapped access is a row, two
 * runs of the same guest give the same rows (SQL says so), and a run killed
 * with SIGKILL leaves a database that opens and holds a complete prefix.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"

/* Returns a fresh database path (the file does not exist yet). */
static char *new_db(char *buf)
{
	strcpy(buf, "/tmp/devirt-db-XXXXXX");
	close(mkstemp(buf));
	unlink(buf);
	return buf;
}


static void run_logged(const char *db, const char *guest, const char *args, struct vmm_result *r)
{
	struct trace_run info = { .guest = guest, .args = args, .seed = -1 };
	struct vmm_cfg cfg = { .image = guest_image(guest), .args = args, .console_fd = -1,
			       .vtimeout_ns = 30ull * 1000000000ull, .wtimeout_ns = 60ull * 1000000000ull,
			       .db = db, .run_info = &info };
	cr_assert_eq(vmm__run(&cfg, r), VMM_RAN, "%s", r->err);
	cr_assert_eq(r->state, RUN_PASS);
}

Test(trace, every_trapped_access_is_a_row)
{
	need_kvm();
	char path[64];
	struct vmm_result r;
	run_logged(new_db(path), "mixed", "rounds=2", &r);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(q1(db, "select count(*) from access"), (int64_t)(r.counts[EXIT_PIO] + r.counts[EXIT_MMIO]));
	cr_assert_eq(q1(db, "select count(*) from halt"), (int64_t)r.counts[EXIT_HLT]);
	cr_assert_eq(q1(db, "select count(*) from irq where event = 'inject'"), (int64_t)r.counts[EXIT_IRQ]);
	cr_assert_eq(q1(db, "select count(*) from irq where event in ('raise', 'lower')"), (int64_t)r.counts[EXIT_LINE]);
	cr_assert_eq(q1(db, "select max(seq) + 1 from (select seq from access union all select seq from irq"
			    " union all select seq from halt)"), (int64_t)r.events, "one seq space, no gaps");
	cr_assert_eq(q1(db, "select exits from run"), (int64_t)r.exits);
	cr_assert_eq(q1(db, "select count(*) from run where verdict = 'pass' and end_vtime_ns > 0"), 1);
	cr_assert_gt(q1(db, "select count(*) from access where device = 'ata' and reg = 'command' and dir = 'w'"), 0);
	cr_assert_gt(q1(db, "select count(*) from irq where device = 'ata' and event = 'raise' and line = 14"), 0);
	cr_assert_eq(q1(db, "select count(*) from device where name = 'ringblk' and space = 'mmio'"
			    " and base = 0xfe000000 and irq = 11"), 1);
	sqlite3_close(db);
	unlink(path);
}

Test(trace, two_runs_give_identical_rows)
{
	need_kvm();
	char path[64];
	struct vmm_result r1, r2;
	run_logged(new_db(path), "mixed", "rounds=2 seed=4", &r1);
	run_logged(path, "mixed", "rounds=2 seed=4", &r2);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	const char *cols = "seq, vtime_ns, space, addr, size, dir, value, device, reg, path, sm_state, mode, rip";
	char sql[1024];
	snprintf(sql, sizeof(sql), "select count(*) from (select %s from access where run = 1 except"
		 " select %s from access where run = 2)", cols, cols);
	cr_assert_eq(q1(db, sql), 0, "access rows differ");
	cr_assert_eq(q1(db, "select count(*) from (select seq, vtime_ns, device, line, event, vector from irq"
			    " where run = 2 except select seq, vtime_ns, device, line, event, vector from irq where run = 1)"), 0);
	cr_assert_eq(q1(db, "select count(*) from access where run = 1"), q1(db, "select count(*) from access where run = 2"));
	cr_assert_eq(q1(db, "select count(*) from irq where run = 1"), q1(db, "select count(*) from irq where run = 2"));
	cr_assert_gt(q1(db, "select count(*) from access a join access b on a.seq = b.seq and b.run = 2"
			    " where a.run = 1 and a.wall_ns <> b.wall_ns"), 0, "wall time is real time, not a copy");
	sqlite3_close(db);
	unlink(path);
}

Test(trace, sigkill_leaves_a_complete_prefix, .timeout = 120)
{
	need_kvm();
	char path[64];
	new_db(path);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		const char *bin = getenv("DEVIRT_BIN") ? getenv("DEVIRT_BIN") : "bin/devirt";
		execl(bin, bin, "run", "ata-stress", "--db", path, "--", "sectors=400", (char *)NULL);
		_exit(127);
	}
	/* Wait until a few batches are committed, then kill without warning. */
	int64_t rows = 0;
	for (int i = 0; i < 600 && rows < 30000; i++) {
		usleep(50000);
		sqlite3 *db;
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
			sqlite3_stmt *st;
			if (sqlite3_prepare_v2(db, "select count(*) from access", -1, &st, NULL) == SQLITE_OK &&
			    sqlite3_step(st) == SQLITE_ROW)
				rows = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
	}
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the run ended before the kill");
	cr_assert_geq(rows, 30000);

	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "pragma integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	cr_assert_eq(q1(db, "select count(*) from run where verdict is null"), 1, "the run is marked unfinished");
	int64_t n = q1(db, "select count(*) from (select seq from access union all select seq from irq"
			   " union all select seq from halt)");
	cr_assert_geq(n, rows);
	cr_assert_eq(q1(db, "select max(seq) + 1 from (select seq from access union all select seq from irq"
			    " union all select seq from halt)"), n, "every event up to the last is there");
	sqlite3_close(db);
	unlink(path);
}

Test(trace, no_log_and_bad_db)
{
	need_kvm();
	static char out[8192];
	char path[64];
	char *a1[] = { "devirt", "run", "hello", "--no-log", "--db", new_db(path), "--", "ticks=2", NULL };
	/* --no-log after --db: the last word wins, as with any option */
	char *a2[] = { "devirt", "run", "hello", "--db", path, "--no-log", "--", "ticks=2", NULL };
	cr_assert_eq(run_cmd(a2, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(access(path, F_OK), -1, "--no-log wrote a database");
	cr_assert_eq(run_cmd(a1, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(access(path, F_OK), 0);
	unlink(path);
	char *a3[] = { "devirt", "run", "hello", "--db", "/nonexistent/dir/t.db", NULL };
	cr_assert_eq(run_cmd(a3, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "/nonexistent/dir/t.db"), "%s", out);
}

Test(trace, version_1_database_is_upgraded_in_place)
{
	need_kvm();
	char db[] = "/tmp/devirt-v1-XXXXXX.db";
	int fd = mkstemps(db, 3);
	cr_assert_geq(fd, 0);
	close(fd);
	size_t len;
	char *v1 = read_file("tests/data/schema_v1.sql", &len);
	cr_assert_not_null(v1);
	sqlite3 *d;
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(d, v1, NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(d, "INSERT INTO run (guest, start_wall, version) VALUES ('old', 'then', 'v1')",
				  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(d);
	free(v1);
	char *argv[] = { "devirt", "run", "hello", "--db", db, NULL };
	char out[4096];
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	cr_assert_eq(q1(d, "SELECT value FROM meta WHERE key = 'schema_version'"), 2);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE guest = 'old' AND image_sha256 IS NULL"), 1, "kept");
	cr_assert_eq(q1(d, "SELECT count(*) FROM run WHERE guest = 'hello' AND length(image_sha256) = 64"), 1);
	cr_assert_eq(q1(d, "SELECT count(*) FROM pragma_table_info('deferred') WHERE name = 'replay_pos'"), 1);
	sqlite3_close(d);
	unlink(db);
}
