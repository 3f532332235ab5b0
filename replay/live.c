/*
 * replay__live: the determinism check of record/replay. Re-runs a recorded
 * run's guest under KVM exactly as it was made (the same image, verified by
 * its SHA-256; arguments and seed; exit cost and memory; switches, policy
 * and initial modes; disks rebuilt from disk_base into temporary files)
 * into the same database, then compares the new run's trace with the
 * recorded one, table by table, row by row, every column but the run id
 * and wall-clock times. Built into the CLI (it needs the monitor), not
 * the KVM-free core.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "replay.h"
#include "rig.h"
#include "../lib/sha256.h"
#include "../traces/db.h"
#include "../vmm/vmm.h"

#define MAX_TRIG 16

/* Event and engine tables, with the order that lines their rows up. */
static const struct { const char *table, *order; } tables[] = {
	{ "access", "seq" }, { "halt", "seq" }, { "irq", "seq" }, { "mapped", "seq" }, { "dma", "seq" },
	{ "switch", "id" }, { "step", "rowid" }, { "pause", "rowid" }, { "deferred", "seq" },
	{ "fault", "rowid" },
};

/* Writes the SHA-256 of the file at path into hex. Returns 0 or -errno. */
static int file_sha(const char *path, char hex[65])
{
	uint8_t buf[65536];
	struct sha256 h;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	sha256__init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256__update(&h, buf, (size_t)n);
	close(fd);
	if (n < 0)
		return -EIO;
	sha256__hex(&h, hex);
	return 0;
}

/* Builds "SELECT cols FROM table WHERE run = ?1 ORDER BY order" over every
 * column but run and wall_ns. Returns 0 or -1. */
static int select_sql(sqlite3 *db, const char *table, const char *order, char *sql, size_t len)
{
	sqlite3_stmt *st;
	char q[128];
	int n = snprintf(sql, len, "SELECT ");
	snprintf(q, sizeof(q), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL))
		return -1;
	int ncol = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 1);
		if (!strcmp(c, "run") || !strcmp(c, "wall_ns"))
			continue;
		n += snprintf(sql + n, len - (size_t)n, "%s\"%s\"", ncol++ ? ", " : "", c);
	}
	sqlite3_finalize(st);
	snprintf(sql + n, len - (size_t)n, " FROM \"%s\" WHERE run = ?1 ORDER BY %s", table, order);
	return ncol ? 0 : -1;
}

/* Returns 1 when column i holds the same value in both rows. */
static int same_col(sqlite3_stmt *a, sqlite3_stmt *b, int i)
{
	int t = sqlite3_column_type(a, i);
	if (t != sqlite3_column_type(b, i))
		return 0;
	if (t == SQLITE_NULL)
		return 1;
	if (t == SQLITE_INTEGER)
		return sqlite3_column_int64(a, i) == sqlite3_column_int64(b, i);
	int n = sqlite3_column_bytes(a, i);
	const void *x = t == SQLITE_BLOB ? sqlite3_column_blob(a, i) : (const void *)sqlite3_column_text(a, i);
	const void *y = t == SQLITE_BLOB ? sqlite3_column_blob(b, i) : (const void *)sqlite3_column_text(b, i);
	return n == sqlite3_column_bytes(b, i) && (!n || !memcmp(x, y, (size_t)n));
}

/* Compares one table's rows of runs a and b. Returns the rows compared, or
 * -1 with the first difference in why. */
static long compare_table(sqlite3 *db, int k, int64_t a, int64_t b, char *why, size_t len)
{
	char sql[1024];
	sqlite3_stmt *sa = NULL, *sb = NULL;
	long rows = 0;
	if (select_sql(db, tables[k].table, tables[k].order, sql, sizeof(sql)) ||
	    sqlite3_prepare_v2(db, sql, -1, &sa, NULL) || sqlite3_prepare_v2(db, sql, -1, &sb, NULL)) {
		snprintf(why, len, "table %s: %s", tables[k].table, sqlite3_errmsg(db));
		sqlite3_finalize(sa);
		return -1;
	}
	sqlite3_bind_int64(sa, 1, a);
	sqlite3_bind_int64(sb, 1, b);
	for (;;) {
		int ra = sqlite3_step(sa), rb = sqlite3_step(sb);
		if (ra != SQLITE_ROW || rb != SQLITE_ROW) {
			if (ra != rb)
				snprintf(why, len, "table %s: the %s run has more rows (from row %ld)", tables[k].table,
					 ra == SQLITE_ROW ? "recorded" : "new", rows + 1);
			else
				break;
			rows = -1;
			break;
		}
		int i = 0, n = sqlite3_column_count(sa);
		while (i < n && same_col(sa, sb, i))
			i++;
		if (i < n) {
			const char *x = (const char *)sqlite3_column_text(sa, i);
			const char *y = (const char *)sqlite3_column_text(sb, i);
			snprintf(why, len, "table %s row %ld (seq %lld): %s is %s in the recorded run, %s in the new one",
				 tables[k].table, rows + 1, (long long)sqlite3_column_int64(sa, 0), sqlite3_column_name(sa, i),
				 x ? x : "NULL", y ? y : "NULL");
			rows = -1;
			break;
		}
		rows++;
	}
	sqlite3_finalize(sa);
	sqlite3_finalize(sb);
	return rows;
}

/* Compares the two runs' outcomes and every table. Returns the events
 * compared, or -1 (why set), -2 (database error, why set). */
static long compare_runs(const char *path, int64_t a, int64_t b, char *why, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long total = 0;
	if (db__open_ro(&db, path, why, len))
		return -2;
	if (sqlite3_prepare_v2(db, "SELECT x.verdict IS y.verdict AND x.exit_code IS y.exit_code AND x.exits IS y.exits"
			       " AND x.end_vtime_ns IS y.end_vtime_ns, y.verdict, x.verdict FROM run x, run y"
			       " WHERE x.id = ?1 AND y.id = ?2", -1, &st, NULL)) {
		snprintf(why, len, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -2;
	}
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) == SQLITE_ROW && !sqlite3_column_int(st, 0)) {
		const char *nv = (const char *)sqlite3_column_text(st, 1), *ov = (const char *)sqlite3_column_text(st, 2);
		snprintf(why, len, "the run's outcome differs (verdict, exit code, exits or end time): recorded %s, new %s",
			 ov ? ov : "NULL", nv ? nv : "NULL");
		total = -1;
	}
	sqlite3_finalize(st);
	for (size_t k = 0; total >= 0 && k < sizeof(tables) / sizeof(tables[0]); k++) {
		long n = compare_table(db, (int)k, a, b, why, len);
		total = n < 0 ? -1 : total + n;
	}
	sqlite3_close(db);
	return total;
}

/* Writes the rebuilt disk (0 ata, 1 ringblk) to a fresh temporary file
 * whose path goes to path. Returns 0 or -errno with err set. */
static int temp_disk(const struct rtrace *rt, int which, char path[64], char *err, size_t errlen)
{
	struct blk b = { .fd = -1 };
	snprintf(path, 64, "/tmp/devirt-replay-%s-XXXXXX", which ? "ringblk" : "ata");
	int fd = mkstemp(path);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary disk: %s", strerror(errno));
		path[0] = 0;
		return -errno;
	}
	close(fd);
	int rc = rtrace__disk(rt, which, path, &b, err, errlen);
	blk__close(&b);
	return rc;
}

/* Parses the run's switches into triggers. Returns the count or -1. */
static int triggers(const char *specs, struct eng_trigger *t, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, why[128];
	int n = 0;
	if (!specs)
		return 0;
	snprintf(buf, sizeof(buf), "%s", specs);
	for (char *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
		if (n == MAX_TRIG || engine__parse_trigger(s, &t[n], why, sizeof(why))) {
			snprintf(err, errlen, "recorded switch '%s': %s", s, n == MAX_TRIG ? "too many" : why);
			return -1;
		}
		n++;
	}
	return n;
}

int replay__live(const struct replay_opts *o, struct replay_result *res)
{
	FILE *out = o->out ? o->out : stdout;
	struct rtrace rt;
	struct eng_trigger trig[MAX_TRIG];
	const char *virt[4];
	char vbuf[80], *save = NULL, sha[65], source[600], why[512];
	char disk[2][64] = { "", "" };
	int status = 2, nvirt = 0;
	memset(res, 0, sizeof(*res));
	if (rtrace__load(&rt, o->db, o->run, res->err, sizeof(res->err)))
		goto out;
	const struct rrun *r = &rt.run;
	res->run = r->id;
	if (rt.is_import) {
		snprintf(res->err, sizeof(res->err), "run %lld was imported from a peer VMM: there is no guest to re-run",
			 (long long)r->id);
		goto out;
	}
	if (!r->image || !r->image_sha256) {
		snprintf(res->err, sizeof(res->err), "run %lld does not record its image's SHA-256", (long long)r->id);
		goto out;
	}
	if (file_sha(r->image, sha)) {
		snprintf(res->err, sizeof(res->err), "%s: %s", r->image, strerror(errno));
		goto out;
	}
	if (strcmp(sha, r->image_sha256)) {
		snprintf(res->err, sizeof(res->err), "%s changed since run %lld: SHA-256 %s, recorded %s", r->image,
			 (long long)r->id, sha, r->image_sha256);
		goto out;
	}
	struct engine_cfg ec = { .bug = o->bug };
	rig__parse_policy(r->policy, &ec);
	int ntrig = triggers(r->switches, trig, res->err, sizeof(res->err));
	if (ntrig < 0 || temp_disk(&rt, 0, disk[0], res->err, sizeof(res->err)) ||
	    temp_disk(&rt, 1, disk[1], res->err, sizeof(res->err)))
		goto out;
	snprintf(vbuf, sizeof(vbuf), "%s", r->modes ? r->modes : "");
	for (char *s = strtok_r(vbuf, " ", &save); s && nvirt < 4; s = strtok_r(NULL, " ", &save))
		virt[nvirt++] = s;
	snprintf(source, sizeof(source), "%s#%lld live", o->db, (long long)r->id);
	struct trace_run info = { .guest = r->guest, .image = r->image, .args = r->args, .config = source,
				  .disk = disk[0], .kind = "replay", .seed = r->seed, .switches = r->switches,
				  .policy = r->policy, .modes = r->modes, .parent = r->id, .source = source };
	struct vmm_cfg cfg = { .image = r->image, .args = r->args, .kvm_dev = getenv("DEVIRT_KVM_DEV"),
			       .mem = r->mem, .exit_cost_ns = r->exit_cost_ns, .console_fd = -1,
			       .vtimeout_ns = 60ull * 1000000000ull, .wtimeout_ns = 120ull * 1000000000ull,
			       .disk = disk[0], .disk_size = r->disk_bytes, .ringblk_disk = disk[1],
			       .ringblk_disk_size = r->ringblk_bytes,
			       .ringblk_trap = r->config && strstr(r->config, "--ringblk-trap") != NULL,
			       .db = o->db, .run_info = &info, .engine = &ec, .triggers = trig, .ntriggers = ntrig,
			       .virtualized = virt, .nvirtualized = nvirt };
	struct vmm_result vr;
	int st = vmm__run(&cfg, &vr);
	if (st != VMM_RAN) {
		snprintf(res->err, sizeof(res->err), "%s", vr.err);
		status = st == VMM_NO_ENV ? 3 : 2;
		goto out;
	}
	res->replay_run = vr.run_id;
	res->events = vr.events;
	res->wall_s = (double)vr.wall_ns * 1e-9;
	long n = compare_runs(o->db, r->id, vr.run_id, why, sizeof(why));
	if (n == -2) {
		snprintf(res->err, sizeof(res->err), "%.250s", why);
		goto out;
	}
	fprintf(out, "live re-run of run %lld (%s) as run %lld: ", (long long)r->id, r->guest ? r->guest : "?",
		(long long)vr.run_id);
	if (n < 0) {
		res->diverged = 1;
		snprintf(res->div, sizeof(res->div), "%.380s", why);
		fprintf(out, "different: %s\n", why);
		status = 1;
	} else {
		fprintf(out, "identical (%ld rows in %zu tables, %s, %.2f s)\n", n, sizeof(tables) / sizeof(tables[0]),
			run_state__name(vr.state), res->wall_s);
		status = 0;
	}
out:
	for (int i = 0; i < 2; i++)
		if (disk[i][0])
			unlink(disk[i]);
	rtrace__free(&rt);
	return res->status = status;
}
