/*
 * Querying traces: the SQL functions (REGEXP, access_text, reg_name,
 * hexstr) in-process and loaded into the stock sqlite3 shell, and
 * `devirt sql` as a user meets it. Each test builds a small fake run with
 * plain SQL; no KVM needed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "../traces/db.h"
#include "../traces/sqlite_ext.h"

static char out[65536];

/* One ATA WRITE SECTORS (DRQ, data, status), a UART byte, an ATA WRITE
 * MULTIPLE, and a write to an unserved port. */
static const char *fake_run =
	"INSERT INTO run (id, guest, start_wall, version) VALUES (1, 'ata-stress', '2024-01-01T00:00:00Z', 'test');"
	"INSERT INTO device VALUES (1, 'ata', 'ata-disk', 'pio', 0x1f0, 8, 14), (1, 'uart', '16550a', 'pio', 0x3f8, 8, 4);"
	"INSERT INTO access (run, seq, vtime_ns, space, addr, size, dir, value, device, reg) VALUES"
	" (1, 0, 100, 'pio', 0x1f6, 1, 'w', 0xe0, 'ata', 'device'),"
	" (1, 1, 200, 'pio', 0x1f7, 1, 'w', 0x30, 'ata', 'command'),"
	" (1, 2, 300, 'pio', 0x1f7, 1, 'r', 0x58, 'ata', 'status'),"
	" (1, 3, 400, 'pio', 0x1f0, 2, 'w', 0xbeef, 'ata', 'data'),"
	" (1, 4, 900, 'pio', 0x1f7, 1, 'r', 0x50, 'ata', 'status'),"
	" (1, 5, 1000, 'pio', 0x3f8, 1, 'w', 0x41, 'uart', 'thr'),"
	" (1, 6, 1100, 'pio', 0x1f7, 1, 'w', 0xc5, 'ata', 'command'),"
	" (1, 7, 1200, 'pio', 0x80, 1, 'w', 0, NULL, NULL);";

/* Creates a devirt database at a fresh path in buf holding the fake run. */
static char *make_db(char *buf)
{
	strcpy(buf, "/tmp/devirt-sql-XXXXXX");
	close(mkstemp(buf));
	unlink(buf);
	sqlite3 *db;
	char err[256];
	cr_assert_eq(db__open(&db, buf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sqlite3_exec(db, fake_run, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	return buf;
}

/* Opens path with the functions registered. */
static sqlite3 *open_fns(const char *path)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(devirt_sqlite__register(db), SQLITE_OK);
	return db;
}

/* Runs a one-value query; returns its text ("NULL" for NULL) in out. */
static const char *qtext(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(out, sizeof(out), "%s", t ? (const char *)t : "NULL");
	sqlite3_finalize(st);
	return out;
}

/* Runs sql expecting an error; returns the message. */
static const char *q_err(sqlite3 *db, const char *sql)
{
	cr_assert_neq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s succeeded", sql);
	snprintf(out, sizeof(out), "%s", sqlite3_errmsg(db));
	return out;
}

#define ACCESS_TEXT "access_text(device, dir, reg, value, space, addr, size)"

Test(sql, regexp_matches_and_gives_null_for_null)
{
	char path[64];
	sqlite3 *db = open_fns(make_db(path));
	cr_assert_str_eq(qtext(db, "select 'ata w command 0x30' REGEXP '^ata w command 0x(30|c5)'"), "1");
	cr_assert_str_eq(qtext(db, "select 'ata r status 0x58' REGEXP '^ata w'"), "0");
	cr_assert_str_eq(qtext(db, "select 'xyz' REGEXP 'y'"), "1", "matches anywhere, not anchored");
	cr_assert_str_eq(qtext(db, "select 'ABC' REGEXP 'abc'"), "0", "case-sensitive");
	cr_assert_str_eq(qtext(db, "select 'ABC' REGEXP '(?i)abc'"), "1");
	cr_assert_str_eq(qtext(db, "select NULL REGEXP 'a'"), "NULL");
	cr_assert_str_eq(qtext(db, "select 'a' REGEXP NULL"), "NULL");
	cr_assert_str_eq(qtext(db, "select count(*) from access where " ACCESS_TEXT " REGEXP '^ata w command 0x(30|c5) '"), "2");
	/* a pattern that changes from row to row is not served from a stale cache */
	cr_assert_str_eq(qtext(db, "with p(pat) as (values ('^ata w'), ('^uart'), ('^- '))"
				" select group_concat(n) from (select p.pat, count(a.seq) n from p left join access a"
				" on " ACCESS_TEXT " REGEXP p.pat group by p.pat order by p.pat)"),
			 "1,4,1");
	sqlite3_close(db);
	rm_db(path);
}

Test(sql, regexp_bad_pattern_names_pattern_reason_and_offset)
{
	char path[64];
	sqlite3 *db = open_fns(make_db(path));
	cr_assert_str_eq(q_err(db, "select 'a' REGEXP '(ab'"),
			 "REGEXP: bad pattern '(ab' at offset 3: missing closing parenthesis");
	cr_assert_str_eq(q_err(db, "select count(*) from access where reg REGEXP '*x'"),
			 "REGEXP: bad pattern '*x' at offset 0: quantifier does not follow a repeatable item");
	sqlite3_close(db);
	rm_db(path);
}

Test(sql, access_text_is_the_trace_text_form)
{
	char path[64];
	sqlite3 *db = open_fns(make_db(path));
	cr_assert_str_eq(qtext(db, "select " ACCESS_TEXT " from access where seq = 1"), "ata w command 0x30 pio 0x1f7/1");
	cr_assert_str_eq(qtext(db, "select " ACCESS_TEXT " from access where seq = 3"), "ata w data 0xbeef pio 0x1f0/2");
	cr_assert_str_eq(qtext(db, "select " ACCESS_TEXT " from access where seq = 7"), "- w - 0x0 pio 0x80/1");
	cr_assert_str_eq(qtext(db, "select access_text('ringblk', 'r', 'cq_tail', 5, 'mmio', 0xfe00003c, 4)"),
			 "ringblk r cq_tail 0x5 mmio 0xfe00003c/4");
	cr_assert_str_eq(qtext(db, "select access_text('x', 'w', 'y', -1, 'mmio', 0, 8)"), "x w y 0xffffffffffffffff mmio 0x0/8");
	cr_assert_str_eq(qtext(db, "select access_text('ata', 'r', 'status', NULL, 'pio', 0x1f7, 1)"), "NULL");
	char long_dev[400], sql[600];
	memset(long_dev, 'd', 300);
	long_dev[300] = 0;
	snprintf(sql, sizeof(sql), "select length(access_text('%s', 'r', NULL, 1, 'pio', 1, 1))", long_dev);
	cr_assert_str_eq(qtext(db, sql), "318", "300 + ' r - 0x1 pio 0x1/1'");
	cr_assert_str_eq(q_err(db, "select access_text('ata', 'read', 'status', 0, 'pio', 0x1f7, 1)"),
			 "access_text: dir must be 'r' or 'w', not 'read'");
	sqlite3_close(db);
	rm_db(path);
}

Test(sql, reg_name_and_hexstr)
{
	char path[64];
	sqlite3 *db = open_fns(make_db(path));
	cr_assert_str_eq(qtext(db, "select reg_name('ata-disk', 7, 'w')"), "command");
	cr_assert_str_eq(qtext(db, "select reg_name('ata-disk', 7, 'r')"), "status");
	cr_assert_str_eq(qtext(db, "select reg_name('16550a', 0, 'w')"), "thr");
	cr_assert_str_eq(qtext(db, "select reg_name('ata-disk', 99, 'r')"), "NULL");
	cr_assert_str_eq(qtext(db, "select reg_name('no-such-model', 0, 'r')"), "NULL");
	cr_assert_str_eq(qtext(db, "select count(*) from access a join device d on d.run = a.run and d.name = a.device"
				" where reg_name(d.model, a.addr - d.base, a.dir) is not a.reg"), "0");
	cr_assert_str_eq(q_err(db, "select reg_name('ata-disk', 7, 1)"), "reg_name: dir must be 'r' or 'w', not '1'");
	cr_assert_str_eq(qtext(db, "select hexstr(255)"), "0xff");
	cr_assert_str_eq(qtext(db, "select hexstr(0)"), "0x0");
	cr_assert_str_eq(qtext(db, "select hexstr(-1)"), "0xffffffffffffffff");
	cr_assert_str_eq(qtext(db, "select hexstr('4096')"), "0x1000");
	cr_assert_str_eq(qtext(db, "select hexstr(NULL)"), "NULL");
	cr_assert_str_eq(q_err(db, "select hexstr('abc')"), "hexstr: argument is not an integer");
	cr_assert_str_eq(q_err(db, "select hexstr(1.5)"), "hexstr: argument is not an integer");
	cr_assert_str_eq(qtext(db, "select hex('a')"), "61", "SQLite's hex() is untouched");
	sqlite3_close(db);
	rm_db(path);
}

Test(sql, cli_prints_an_aligned_table)
{
	char path[64];
	char *argv[] = { "devirt", "sql", make_db(path),
			 "select device, count(*) as n, hexstr(max(value)) as max, sum(vtime_ns) / 1000.0 as us"
			 " from access group by device order by device", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out,
			 "device  n  max      us\n"
			 "------  -  ------  ---\n"
			 "        1  0x0     1.2\n"
			 "ata     6  0xbeef  3.0\n"
			 "uart    1  0x41    1.0\n");
	char *two[] = { "devirt", "sql", path, "create temp view w as select seq from access where dir = 'w';"
			" select count(*) as writes from w; select 'ü' as u, NULL as z, 'long text' as t", NULL };
	cr_assert_eq(run_cmd(two, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out,
			 "writes\n"
			 "------\n"
			 "     6\n"
			 "\n"
			 "u  z  t\n"
			 "-  -  ---------\n"
			 "ü     long text\n");
	char *comment[] = { "devirt", "sql", path, "-- a query may open with a comment\nselect 1 as one", "--csv", NULL };
	cr_assert_eq(run_cmd(comment, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "one\r\n1\r\n");
	rm_db(path);
}

Test(sql, cli_prints_rfc4180_csv)
{
	char path[64];
	char *argv[] = { "devirt", "sql", "--csv", make_db(path),
			 "select seq, device, " ACCESS_TEXT " as text, 'say \"hi\", twice' as q, '' as e"
			 " from access where seq in (1, 7) order by seq", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out,
			 "seq,device,text,q,e\r\n"
			 "1,ata,ata w command 0x30 pio 0x1f7/1,\"say \"\"hi\"\", twice\",\"\"\r\n"
			 "7,,- w - 0x0 pio 0x80/1,\"say \"\"hi\"\", twice\",\"\"\r\n");
	rm_db(path);
}

Test(sql, cli_errors_exit_two_with_one_line)
{
	char path[64];
	make_db(path);
	char *missing[] = { "devirt", "sql", "/tmp/devirt-no-such.db", "select 1", NULL };
	cr_assert_eq(run_cmd(missing, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert_str_eq(out, "devirt sql: /tmp/devirt-no-such.db: No such file or directory\n");
	char *bad[] = { "devirt", "sql", path, "select nope from access", NULL };
	cr_assert_eq(run_cmd(bad, NULL, out, sizeof(out)), 2, "%s", out);
	char want[256];
	snprintf(want, sizeof(want), "devirt sql: %s: no such column: nope\n", path);
	cr_assert_str_eq(out, want);
	char *badre[] = { "devirt", "sql", path, "select count(*) from access where reg REGEXP '(ab'", NULL };
	cr_assert_eq(run_cmd(badre, NULL, out, sizeof(out)), 2, "%s", out);
	snprintf(want, sizeof(want), "devirt sql: %s: REGEXP: bad pattern '(ab' at offset 3: missing closing parenthesis\n", path);
	cr_assert_str_eq(out, want);
	char *write[] = { "devirt", "sql", path, "delete from access", NULL };
	cr_assert_eq(run_cmd(write, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "readonly database"), "%s", out);
	char *usage[] = { "devirt", "sql", path, NULL };
	cr_assert_eq(run_cmd(usage, NULL, out, sizeof(out)), 2, "%s", out);
	const char *plain = temp_file("", 0);   /* an empty file is an SQLite database, not a trace */
	char *notours[] = { "devirt", "sql", (char *)plain, "select 1", NULL };
	cr_assert_eq(run_cmd(notours, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, plain) && strstr(out, "not a devirt trace database"), "%s", out);
	unlink(plain);
	rm_db(path);
}

Test(sql, extension_loads_into_the_stock_sqlite3_shell)
{
	char path[64], load[256];
	const char *ext = getenv("DEVIRT_EXT") ? getenv("DEVIRT_EXT") : "build/devirt_sqlite";
	snprintf(load, sizeof(load), ".load %s", ext);
	char *argv[] = { "sqlite3", make_db(path), "-cmd", load,
			 "select count(*) from access where " ACCESS_TEXT " REGEXP '^ata w command';"
			 "select reg_name('ata-disk', 7, 'r'), hexstr(4096);", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "2\nstatus|0x1000\n");
	rm_db(path);
}
