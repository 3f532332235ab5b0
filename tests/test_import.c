/*
 * devirt import qemu and devirt merge as users meet them: a committed QEMU
 * 7.2 trace (tests/data/qemu-ata.log, cut from a real ata-stress run, and
 * its gzip'd copy) imports to exactly its accesses with the values QEMU
 * logged; bad lines name file:line; a fresh QEMU run imports with every
 * command write once; merged databases keep every run and row.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

#define FIXTURE "tests/data/qemu-ata.log"

static char out[65536];

/* Runs one text-valued query (result in a static buffer). */
static const char *qs(sqlite3 *db, const char *sql)
{
	static char buf[512];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
	snprintf(buf, sizeof(buf), "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "NULL");
	sqlite3_finalize(st);
	return buf;
}

/* One access of run 1 as "DEVICE DIR REG VALUE ADDR/SIZE VTIME". */
static const char *row(sqlite3 *db, int seq)
{
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT printf('%%s %%s %%s %%#x %%#x/%%d %%d', coalesce(device, '-'), dir,"
		 " coalesce(reg, '-'), value, addr, size, vtime_ns) FROM access WHERE run = 1 AND seq = %d", seq);
	return qs(db, sql);
}

/* Runs devirt import qemu LOG --db DB [extra]; returns its exit status. */
static int import(const char *log, const char *db, const char *extra)
{
	char *argv[] = { "devirt", "import", "qemu", (char *)log, "--db", (char *)db, (char *)extra, NULL };
	return run_cmd(argv, NULL, out, sizeof(out));
}

Test(import, fixture_imports_every_access_with_logged_values)
{
	char db[80];
	cr_assert_eq(import(FIXTURE, new_path(db, ".db"), NULL), 0, "%s", out);
	cr_assert(strstr(out, "imported 334 accesses; skipped 9 lines of other events: serial_update_parameters 4,"
			      " ide_exec_cmd 2, ide_reset 2, ide_sector_write 1\n"), "%s", out);
	size_t n = strlen(out);
	cr_assert(n > 3 && !strcmp(out + n - 3, "\n1\n"), "the run id on stdout: %s", out);
	sqlite3 *d = open_db(db);
	cr_assert_str_eq(qs(d, "SELECT printf('%d %s %s %s %s', id, kind, guest, source, version) FROM run"),
			 "1 import qemu " FIXTURE " devirt import");
	cr_assert_eq(q1(d, "SELECT count(*) FROM access"), 334);
	cr_assert_eq(q1(d, "SELECT max(seq) + 1 - count(DISTINCT seq) FROM access"), 0, "seq 0..333");
	cr_assert_str_eq(qs(d, "SELECT group_concat(printf('%s %#x/%d %d %s', name, base, size, irq, model), ', ')"
			       " FROM (SELECT * FROM device ORDER BY base)"),
			 "ata 0x1f0/8 14 ata-disk, ata 0x3f6/1 14 ata-disk, com1 0x3f8/8 4 16550a");
	cr_assert_str_eq(row(d, 0), "com1 w ier 0 0x3f9/1 0");
	cr_assert_str_eq(row(d, 1), "com1 w lcr 0x80 0x3fb/1 59000");
	cr_assert_str_eq(row(d, 14), "ata r alt_status 0 0x3f6/1 8087000");
	cr_assert_str_eq(row(d, 18), "ata w control 0x2 0x3f6/1 8197000");
	cr_assert_str_eq(row(d, 41), "ata w command 0xec 0x1f7/1 30902000", "IDENTIFY, once");
	cr_assert_str_eq(row(d, 44), "ata r data 0x40 0x1f0/2 30984000", "first IDENTIFY word");
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE reg = 'command'"), 2, "one row per command write");
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE addr = 0x1f0 AND size = 2 AND dir = 'r'"), 256);
	cr_assert_eq(q1(d, "SELECT sum(value) FROM access WHERE addr = 0x1f0 AND size = 2 AND dir = 'r'"), 729720);
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE path <> 'direct' OR wall_ns <> vtime_ns"), 0);
	cr_assert_eq(q1(d, "SELECT exits FROM run"), 334);
	sqlite3_close(d);
	unlink(db);
}

Test(import, gzip_log_imports_the_same_rows)
{
	char db[80];
	cr_assert_eq(import(FIXTURE, new_path(db, ".db"), NULL), 0, "%s", out);
	cr_assert_eq(import(FIXTURE ".gz", db, NULL), 0, "%s", out);
	cr_assert(strstr(out, "run 2: imported 334 accesses"), "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM access a JOIN access b USING (seq, vtime_ns, addr, size, dir, value,"
			   " device, reg) WHERE a.run = 1 AND b.run = 2"), 334);
	sqlite3_close(d);
	unlink(db);
}

static const char bad_log[] =
	"ide_ioport_write IDE PIO wr @ 0x1f6 (Device/Head); val 0xe0; bus 0x1 IDEState 0x2\n"
	"ide_ioport_write IDE PIO wr @ 0x1f2 (Sector Count); val 0xzz; bus 0x1 IDEState 0x2\n"
	"ide_ioport_write IDE PIO wr @ 0x1f7 (Command); val 0xec; bus 0x1 IDEState 0x2\n"
	"ide_data_readw IDE PIO rd @ 0x1f0 (Data: Wo";   /* QEMU killed mid-line */

Test(import, malformed_line_exits_two_naming_file_and_line)
{
	char log[80], db[80];
	strcpy(log, temp_file(bad_log, sizeof(bad_log) - 1));
	cr_assert_eq(import(log, new_path(db, ".db"), NULL), 2, "%s", out);
	char want[160];
	snprintf(want, sizeof(want), "devirt import: %s:2: malformed ide_ioport_write line\n", log);
	cr_assert_str_eq(out, want);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run") + q1(d, "SELECT count(*) FROM access"), 0, "nothing stored");
	sqlite3_close(d);
	unlink(db);
	unlink(log);
}

Test(import, lenient_skips_and_counts_malformed_lines)
{
	char log[80], db[80];
	strcpy(log, temp_file(bad_log, sizeof(bad_log) - 1));
	cr_assert_eq(import(log, new_path(db, ".db"), "--lenient"), 0, "%s", out);
	char want[160];
	snprintf(want, sizeof(want), "imported 2 accesses; skipped 0 lines of other events; skipped 2 malformed"
		 " lines (--lenient), the first at %s:2\n", log);
	cr_assert(strstr(out, want), "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_str_eq(row(d, 1), "ata w command 0xec 0x1f7/1 1");
	cr_assert_str_eq(qs(d, "SELECT config FROM run"), "import qemu --lenient");
	sqlite3_close(d);
	unlink(db);
	unlink(log);
}

Test(import, untimestamped_lines_other_ports_and_older_names)
{
	static const char text[] =
		"qemu-system-x86_64: warning: host doesn't support requested feature\n"
		"ide_ioport_read IDE PIO rd @ 0x177 (Status); val 0x50; bus 0x1 IDEState (nil)\n"
		"serial_ioport_write write addr 0x07 val 0x5a\n"
		"ide_data_writel IDE PIO wr @ 0x1f0 (Data: Long); val 0xdeadbeef; bus 0x1; IDEState 0x2\n"
		"ide_reset IDEstate 0x2\n";
	char log[80], db[80];
	strcpy(log, temp_file(text, sizeof(text) - 1));
	char *argv[] = { "devirt", "import", "--guest", "peer", "qemu", log, "--db", new_path(db, ".db"), NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "imported 3 accesses; skipped 2 lines of other events: (not an event) 1, ide_reset 1\n"),
		  "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_str_eq(row(d, 0), "- r - 0x50 0x177/1 0", "secondary channel: no device of ours");
	cr_assert_str_eq(row(d, 1), "com1 w scr 0x5a 0x3ff/1 1");
	cr_assert_str_eq(row(d, 2), "ata w data 0xdeadbeef 0x1f0/4 2");
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE wall_ns IS NULL"), 3);
	cr_assert_str_eq(qs(d, "SELECT guest FROM run"), "peer");
	sqlite3_close(d);
	unlink(db);
	unlink(log);
}

Test(import, bad_usage_missing_or_cut_log_exit_two)
{
	char db[80];
	cr_assert_eq(import("/nonexistent/qemu.log", new_path(db, ".db"), NULL), 2, "%s", out);
	cr_assert(strstr(out, "/nonexistent/qemu.log: No such file or directory"), "%s", out);
	char *a1[] = { "devirt", "import", "qemu", FIXTURE, NULL };
	cr_assert_eq(run_cmd(a1, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "missing --db FILE"), "%s", out);
	char *a2[] = { "devirt", "import", "bochs", FIXTURE, "--db", db, NULL };
	cr_assert_eq(run_cmd(a2, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "unknown log format 'bochs'"), "%s", out);
	size_t len;
	char *gz = read_file(FIXTURE ".gz", &len), log[80];
	cr_assert_not_null(gz);
	strcpy(log, temp_file(gz, len / 2));
	free(gz);
	cr_assert_eq(import(log, db, NULL), 2, "%s", out);
	cr_assert(strstr(out, "unexpected end of file (bad gzip data)"), "a cut gzip stream: %s", out);
	unlink(log);
	unlink(db);
}

/* Counts the lines of log that start with an event (after any prefix). */
static int64_t count_event(const char *log, const char *event)
{
	size_t len;
	char *text = read_file(log, &len), key[64];
	cr_assert_not_null(text);
	snprintf(key, sizeof(key), "%s ", event);
	int64_t n = 0;
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *colon = strchr(l, ':'), *space = strchr(l, ' ');
		char *start = colon && space && colon < space ? colon + 1 : l;   /* after PID@TIME: */
		n += !strncmp(start, key, strlen(key));
	}
	free(text);
	return n;
}

Test(import, ata_stress_traced_by_qemu_imports)
{
	need_qemu();
	need_kvm();
	char disk[80], log[80], db[80], drive[160];
	FILE *f = fopen(new_path(disk, ".img"), "w");
	cr_assert(f && ftruncate(fileno(f), 16 << 20) == 0);
	fclose(f);
	snprintf(drive, sizeof(drive), "file=%s,format=raw,if=ide,index=0", disk);
	char *argv[] = { "timeout", "120", "qemu-system-x86_64", "-enable-kvm", "-display", "none",
			 "-serial", "null", "-no-reboot", "-monitor", "none", "-msg", "timestamp=on",
			 "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-drive", drive,
			 "-kernel", (char *)guest_image("ata-stress"), "-append", "sectors=8 seed=3",
			 "-trace", "ide_*", "-trace", "serial_*", "-D", new_path(log, ".log"), NULL };
	int st = run_cmd(argv, NULL, out, sizeof(out));
	unlink(disk);
	cr_assert_eq(st, 33, "QEMU exit status %d:\n%s", st, out);
	cr_assert_eq(import(log, new_path(db, ".db"), NULL), 0, "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_gt(q1(d, "SELECT count(*) FROM access WHERE device = 'ata' AND dir = 'w' AND reg = 'command'"
			   " AND value = 0xec"), 0, "the IDENTIFY command write");
	int64_t words = q1(d, "SELECT count(*) FROM access WHERE addr = 0x1f0 AND size = 2 AND dir = 'r'");
	cr_assert(words > 0 && words % 256 == 0, "%lld data-port word reads", (long long)words);
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE addr IN (0x1f7, 0x177) AND dir = 'w'"),
		     count_event(log, "ide_exec_cmd"), "one row per command write, not two");
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE device = 'com1' AND dir = 'r'"),
		     count_event(log, "serial_read"));
	sqlite3_close(d);
	unlink(db);
	unlink(log);
}

/* Makes a database of two imported runs: the fixture, then log (plain). */
static char *two_runs(char *db, const char *log)
{
	cr_assert_eq(import(FIXTURE, new_path(db, ".db"), NULL), 0, "%s", out);
	cr_assert_eq(import(log, db, NULL), 0, "%s", out);
	return db;
}

Test(merge, two_databases_of_two_runs_give_four)
{
	char a[80], b[80], o[80];
	two_runs(a, FIXTURE);
	two_runs(b, FIXTURE ".gz");
	sqlite3 *d = open_db(b);
	cr_assert_eq(sqlite3_exec(d, "UPDATE run SET parent = 1 WHERE id = 2;"
				  "INSERT INTO halt VALUES (2, 1000, 5, NULL, 0x1234);"
				  "INSERT INTO violation VALUES (2, 'I2', 7, NULL, 'test', 'test');", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(d);
	char *argv[] = { "devirt", "merge", a, b, "--db", new_path(o, ".db"), NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	char want[600];
	snprintf(want, sizeof(want), "%s: run 1 -> run 1\n%s: run 2 -> run 2\n%s: run 1 -> run 3\n%s: run 2 -> run 4\n"
		 "merged 4 runs from 2 databases into %s\n", a, a, b, b, o);
	cr_assert_str_eq(out, want);
	d = open_db(o);
	cr_assert_eq(q1(d, "SELECT count(DISTINCT id) FROM run"), 4);
	cr_assert_eq(q1(d, "SELECT count(*) FROM access"), 4 * 334);
	cr_assert_eq(q1(d, "SELECT count(*) FROM (SELECT run FROM access GROUP BY run HAVING count(*) <> 334)"), 0);
	cr_assert_eq(q1(d, "SELECT count(*) FROM device"), 12);
	cr_assert_str_eq(qs(d, "SELECT group_concat(coalesce(parent, '-'), ' ') FROM run"), "- - - 3", "parent follows");
	cr_assert_eq(q1(d, "SELECT run FROM halt WHERE seq = 1000"), 4);
	cr_assert_eq(q1(d, "SELECT run FROM violation WHERE invariant = 'I2'"), 4);
	cr_assert_eq(q1(d, "SELECT count(*) FROM access a JOIN access b USING (seq, addr, value) WHERE a.run = 1"
			   " AND b.run = 3"), 334);
	sqlite3_close(d);
	char *again[] = { "devirt", "merge", b, "--db", o, NULL };
	cr_assert_eq(run_cmd(again, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, ": run 2 -> run 6\nmerged 2 runs from 1 databases"), "appends: %s", out);
	unlink(a);
	unlink(b);
	unlink(o);
}

Test(merge, bad_input_exits_two_and_merges_nothing)
{
	char a[80], o[80];
	two_runs(a, FIXTURE);
	char *argv[] = { "devirt", "merge", a, "/nonexistent/b.db", "--db", new_path(o, ".db"), NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "/nonexistent/b.db: No such file or directory; nothing merged"), "%s", out);
	cr_assert(access(o, F_OK) != 0, "no output created");
	char *notdb[] = { "devirt", "merge", a, FIXTURE, "--db", o, NULL };
	cr_assert_eq(run_cmd(notdb, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, FIXTURE ": not a devirt trace database"), "%s", out);
	char *self[] = { "devirt", "merge", a, "--db", a, NULL };
	cr_assert_eq(run_cmd(self, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "is the output database"), "%s", out);
	char b[80];
	sqlite3 *d = open_db(two_runs(b, FIXTURE));
	cr_assert_eq(sqlite3_exec(d, "ALTER TABLE access DROP COLUMN rip", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(d);
	char *half[] = { "devirt", "merge", a, b, "--db", o, NULL };
	cr_assert_eq(run_cmd(half, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "no such column: s.rip; it was not merged, the 1 input(s) before it were"), "%s", out);
	d = open_db(o);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run"), 2, "the first input's runs, none of the second's");
	cr_assert_eq(q1(d, "SELECT count(*) FROM access"), 2 * 334);
	sqlite3_close(d);
	unlink(a);
	unlink(b);
	unlink(o);
}
