/*
 * The invariant checker. I2-I7: the views of analysis/checks.sql, one row
 * per item checked. I1 (transparency) needs a baseline: the same guest
 * image, arguments, seed and disk content run without switches; for the
 * switchable port-I/O devices (ata, com1) each guest instruction (RIP)
 * that reads the device must read the baseline's values, in order, except
 * inserted busy polls: ATA status reads showing BSY are waits (the engine's
 * answers to ATA status reads in its busy windows count like the device's:
 * BSY is a wait, anything else must be right), UART status reads the
 * engine answered 'busy' are "not ready" polls, and an instruction reading
 * a status register the same value again is a repeated poll. Per instruction, because an interrupt
 * handler's reads interleave with the interrupted code's reads differently
 * once a switch shifts the timing, which the guest cannot tell apart from
 * a slower device. With a baseline, I4 also requires
 * the guest to have taken as many interrupts of each switchable device and
 * I7 the same disk content at the end. ringblk's register reads are
 * invisible in pass-through, so its transparency is judged by its
 * interrupts (I4) and its disk (I7). I8 compares the
 * log with the kernel observer's `kexit` rows (check_i8.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "check.h"
#include "check_i8.h"
#include "../traces/db.h"
#include "../traces/sqlite_ext.h"

extern const char devirt_checks_sql[];

static const char *const views[] = { NULL, "check_i2", "check_i3", "check_i4", "check_i5", "check_i6", "check_i7" };

/* Returns the first column of the first row of sql bound to run as an
 * integer (0 when no row). */
static int64_t q_int(sqlite3 *db, const char *sql, int64_t run)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

/* Fills r->context with the accesses around seq and the switch and step
 * it falls in. */
static void context(sqlite3 *db, int64_t run, int64_t seq, int64_t sw, struct check_result *r)
{
	sqlite3_stmt *st;
	size_t n = 0;
	r->context[0] = 0;
	if (seq < 0)
		return;
	if (sqlite3_prepare_v2(db, "SELECT seq, vtime_ns, access_text(device, dir, reg, value, space, addr, size), path"
			       " FROM access WHERE run = ?1 AND seq BETWEEN ?2 - 12 AND ?2 + 6 ORDER BY seq",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, seq);
		while (sqlite3_step(st) == SQLITE_ROW && n < sizeof(r->context) - 100)
			n += (size_t)snprintf(r->context + n, sizeof(r->context) - n, "%s seq %lld  %s  [%s]\n",
					      sqlite3_column_int64(st, 0) == seq ? "=>" : "  ",
					      (long long)sqlite3_column_int64(st, 0),
					      (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(db, "SELECT s.id, s.device, s.action, s.outcome, (SELECT st.step FROM step st"
			       " WHERE st.run = s.run AND st.switch = s.id AND st.seq <= ?2 ORDER BY st.rowid DESC LIMIT 1)"
			       " FROM switch s WHERE s.run = ?1 AND (s.id = ?3 OR (?3 < 0 AND s.started_seq <= ?2"
			       " AND coalesce(s.completed_seq, 1 << 62) >= ?2)) LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, seq);
		sqlite3_bind_int64(st, 3, sw);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(r->context + n, sizeof(r->context) - n, "   in switch %lld: %s %s (%s), at step %s\n",
				 (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
				 (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
				 sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "before V1");
		sqlite3_finalize(st);
	}
}

/* Evaluates the view of invariant i (2..7) on run. */
static void view_check(sqlite3 *db, int64_t run, int i, struct check_result *r)
{
	char sql[256];
	sqlite3_stmt *st;
	snprintf(sql, sizeof(sql), "SELECT count(*), coalesce(sum(NOT ok), 0) FROM %s WHERE run = ?1", views[i - 1]);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(r->detail, sizeof(r->detail), "query failed: %s", sqlite3_errmsg(db));
		r->verdict = CHECK_FAIL;
		return;
	}
	sqlite3_bind_int64(st, 1, run);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r->checked = (uint64_t)sqlite3_column_int64(st, 0);
		r->failed = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	r->verdict = !r->checked ? CHECK_NA : r->failed ? CHECK_FAIL : CHECK_PASS;
	if (r->verdict == CHECK_NA)
		snprintf(r->detail, sizeof(r->detail), "nothing to check in this run");
	if (r->verdict != CHECK_FAIL)
		return;
	snprintf(sql, sizeof(sql), "SELECT seq, switch, detail FROM %s WHERE run = ?1 AND NOT ok"
		 " ORDER BY seq NULLS FIRST LIMIT 1", views[i - 1]);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		if (sqlite3_step(st) == SQLITE_ROW) {
			r->first_seq = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
			r->first_switch = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
			snprintf(r->detail, sizeof(r->detail), "%s", (const char *)sqlite3_column_text(st, 2));
		}
		sqlite3_finalize(st);
	}
	context(db, run, r->first_seq, r->first_switch, r);
}

/* Returns the id of run's baseline: a finished run of the same image,
 * arguments, seed and disk content without switches; 0 when none. */
static int64_t find_baseline(sqlite3 *db, int64_t run)
{
	return q_int(db, "SELECT b.id FROM run r JOIN run b ON b.id <> r.id AND b.image_sha256 = r.image_sha256"
		     " AND b.args = r.args AND b.seed IS r.seed AND b.disk_sha256 IS r.disk_sha256"
		     " AND b.ringblk_sha256 IS r.ringblk_sha256 AND b.switches IS NULL AND b.modes IS NULL"
		     " AND b.verdict IS NOT NULL AND b.kind IN ('live', 'replay')"
		     " WHERE r.id = ?1 ORDER BY b.id DESC LIMIT 1", run);
}

/* One read the guest made of a switchable port-I/O device. */
struct rd { int64_t seq; uint64_t addr, value, rip; };

/* Returns 1 for status registers a driver polls (extra reads are polls). */
static int poll_reg(uint64_t addr)
{
	return addr == 0x1f7 || addr == 0x3f6 || addr == 0x3fd || addr == 0x3fa || addr == 0x3fe;
}

/* Loads run's reads of device, collapsing polls. Returns the count (*out
 * malloc'd) or -1. */
static long reads(sqlite3 *db, int64_t run, const char *device, struct rd **out)
{
	sqlite3_stmt *st;
	long n = 0, cap = 1024;
	struct rd *v = malloc((size_t)cap * sizeof(*v));
	/* by instruction, then time: an interrupt handler's reads interleave
	 * with the interrupted code's differently when timing shifts, but each
	 * instruction must read the same values in the same order */
	if (!v || sqlite3_prepare_v2(db, "SELECT seq, addr, value, coalesce(rip, 0), path = 'busy' FROM access"
				     " WHERE run = ?1 AND device = ?2 AND dir = 'r' ORDER BY rip, seq",
				     -1, &st, NULL) != SQLITE_OK) {
		free(v);
		return -1;
	}
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct rd r = { sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
				(uint64_t)sqlite3_column_int64(st, 2), (uint64_t)sqlite3_column_int64(st, 3) };
		if (sqlite3_column_int(st, 4) && poll_reg(r.addr) && r.addr != 0x1f7 && r.addr != 0x3f6)
			continue;              /* the engine's "not ready" answer to a UART poll */
		if (poll_reg(r.addr) && (r.addr == 0x1f7 || r.addr == 0x3f6) && (r.value & 0x80))
			continue;              /* ATA busy: a poll that waits, however many */
		if (n && poll_reg(r.addr) && v[n - 1].addr == r.addr && v[n - 1].rip == r.rip &&
		    v[n - 1].value == r.value)
			continue;              /* the same answer again: a repeated poll */
		if (n == cap) {
			struct rd *g = realloc(v, (size_t)(cap *= 2) * sizeof(*v));
			if (!g)
				break;
			v = g;
		}
		v[n++] = r;
	}
	sqlite3_finalize(st);
	*out = v;
	return n;
}

/* I1: the guest's reads and interrupts against the baseline's. */
static void check_i1(sqlite3 *db, int64_t run, int64_t base, struct check_result *r)
{
	static const char *const devs[] = { "ata", "com1" };
	if (!base) {
		r->verdict = CHECK_NA;
		if (q_int(db, "SELECT count(*) FROM run WHERE id = ?1 AND switches IS NULL AND modes IS NULL", run))
			snprintf(r->detail, sizeof(r->detail), "no switches in this run: it is what others compare with");
		else
			snprintf(r->detail, sizeof(r->detail), "no baseline: run the same guest, arguments and seed"
				 " without --switch into this database (or give --baseline ID)");
		return;
	}
	r->verdict = CHECK_PASS;
	for (size_t d = 0; d < 2 && r->verdict == CHECK_PASS; d++) {
		struct rd *a = NULL, *b = NULL;
		long na = reads(db, run, devs[d], &a), nb = reads(db, base, devs[d], &b);
		long n = na < nb ? na : nb;
		for (long i = 0; i < n; i++) {
			r->checked++;
			if (a[i].addr != b[i].addr || a[i].value != b[i].value || a[i].rip != b[i].rip) {
				r->failed++;
				if (r->verdict == CHECK_PASS) {
					r->verdict = CHECK_FAIL;
					r->first_seq = a[i].seq;
					snprintf(r->detail, sizeof(r->detail), "%s read %ld (rip 0x%llx): port 0x%llx gave 0x%llx, the"
						 " baseline (run %lld seq %lld, rip 0x%llx) port 0x%llx gave 0x%llx", devs[d], i,
						 (unsigned long long)a[i].rip, (unsigned long long)a[i].addr,
						 (unsigned long long)a[i].value, (long long)base, (long long)b[i].seq,
						 (unsigned long long)b[i].rip, (unsigned long long)b[i].addr,
						 (unsigned long long)b[i].value);
				}
			}
		}
		if (na != nb && r->verdict == CHECK_PASS) {
			r->verdict = CHECK_FAIL;
			r->failed++;
			r->first_seq = n < na ? a[n].seq : -1;
			snprintf(r->detail, sizeof(r->detail), "%s: %ld reads (polls collapsed), the baseline %ld",
				 devs[d], na, nb);
		}
		free(a);
		free(b);
	}
	if (r->verdict == CHECK_FAIL)
		context(db, run, r->first_seq, -1, r);
}

/* I4's baseline part: the guest took as many interrupts of ata and COM1
 * as in the baseline (none lost, none extra). Not ringblk: a ring device
 * signals batches of completions, so how many interrupts it raises depends
 * on timing, on real hardware too; its completions are all accounted for
 * by the guest's own checks and its disk (I7). */
static void check_i4_counts(sqlite3 *db, int64_t run, int64_t base, struct check_result *r)
{
	static const struct { const char *dev; int vector; } vecs[] = { { "ata", 0x2e }, { "com1", 0x24 } };
	if (!base)
		return;
	if (r->verdict == CHECK_NA)
		r->verdict = CHECK_PASS;
	for (size_t v = 0; v < 2 && r->verdict != CHECK_FAIL; v++) {
		const char *sql = "SELECT count(*) FROM irq WHERE run = ?1 AND event = 'inject' AND vector = ?2";
		sqlite3_stmt *st;
		int64_t c[2] = { 0, 0 }, ids[2] = { run, base };
		for (int k = 0; k < 2 && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK; k++) {
			sqlite3_bind_int64(st, 1, ids[k]);
			sqlite3_bind_int(st, 2, vecs[v].vector);
			if (sqlite3_step(st) == SQLITE_ROW)
				c[k] = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		r->checked++;
		if (c[0] != c[1]) {
			r->verdict = CHECK_FAIL;
			r->baseline_failed = 1;
			r->failed++;
			r->first_seq = -1;
			snprintf(r->detail, sizeof(r->detail), "the guest took %lld %s interrupts, the baseline %lld",
				 (long long)c[0], vecs[v].dev, (long long)c[1]);
		}
	}
}

/* I7's baseline part: the disks' content at the end equals the baseline's. */
static void check_i7_disks(sqlite3 *db, int64_t run, int64_t base, struct check_result *r)
{
	if (!base)
		return;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT (r.disk_after_sha256 IS b.disk_after_sha256), (r.ringblk_after_sha256 IS"
			       " b.ringblk_after_sha256) FROM run r, run b WHERE r.id = ?1 AND b.id = ?2", -1, &st, NULL))
		return;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, base);
	if (sqlite3_step(st) == SQLITE_ROW) {
		for (int k = 0; k < 2; k++) {
			r->checked++;
			if (!sqlite3_column_int(st, k)) {
				r->failed++;
				if (r->verdict != CHECK_FAIL)
					snprintf(r->detail, sizeof(r->detail), "the %s image's content at the end differs from"
						 " the baseline's (run %lld)", k ? "ringblk" : "ATA", (long long)base);
				r->verdict = CHECK_FAIL;
				r->baseline_failed = 1;
			}
		}
		if (r->verdict == CHECK_NA)
			r->verdict = CHECK_PASS;
	}
	sqlite3_finalize(st);
}

static const char *verdict_name(int v);

/* Records each invariant's conclusion for run in check_result. */
static void store_results(sqlite3 *db, const struct check_run *cr)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO check_result (run, invariant, result, checked, failed,"
			       " detail, baseline) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st, NULL))
		return;
	for (int i = 0; i < CHECK_INVARIANTS; i++) {
		const struct check_result *r = &cr->inv[i];
		char inv[4];
		snprintf(inv, sizeof(inv), "I%d", i + 1);
		sqlite3_bind_int64(st, 1, cr->run);
		sqlite3_bind_text(st, 2, inv, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, verdict_name(r->verdict), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)r->checked);
		sqlite3_bind_int64(st, 5, (int64_t)r->failed);
		sqlite3_bind_text(st, 6, r->detail, -1, SQLITE_TRANSIENT);
		if (cr->baseline)
			sqlite3_bind_int64(st, 7, cr->baseline);
		else
			sqlite3_bind_null(st, 7);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

/* Replaces this checker's earlier violations of run with the new ones. */
static void store(sqlite3 *db, const struct check_run *cr)
{
	sqlite3_stmt *del, *ins;
	if (sqlite3_prepare_v2(db, "DELETE FROM violation WHERE run = ?1 AND checker = 'devirt check'", -1, &del, NULL))
		return;
	if (sqlite3_prepare_v2(db, "INSERT INTO violation (run, invariant, seq, switch, detail, checker)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, 'devirt check')", -1, &ins, NULL)) {
		sqlite3_finalize(del);
		return;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_bind_int64(del, 1, cr->run);
	sqlite3_step(del);
	for (int i = 0; i < CHECK_INVARIANTS; i++) {
		const struct check_result *r = &cr->inv[i];
		if (r->verdict != CHECK_FAIL)
			continue;
		char inv[4], sql[200];
		snprintf(inv, sizeof(inv), "I%d", i + 1);
		if (i >= 1 && i <= 6) {
			/* every failing item of the view, not only the first */
			snprintf(sql, sizeof(sql), "INSERT INTO violation (run, invariant, seq, switch, detail, checker)"
				 " SELECT run, '%s', seq, switch, detail, 'devirt check' FROM %s WHERE run = %lld AND NOT ok",
				 inv, views[i], (long long)cr->run);
			sqlite3_exec(db, sql, NULL, NULL, NULL);
			if (!r->baseline_failed)
				continue;      /* only the baseline parts of I4 and I7 lack a view row */
		}
		sqlite3_bind_int64(ins, 1, cr->run);
		sqlite3_bind_text(ins, 2, inv, -1, SQLITE_TRANSIENT);
		if (r->first_seq >= 0)
			sqlite3_bind_int64(ins, 3, r->first_seq);
		else
			sqlite3_bind_null(ins, 3);
		sqlite3_bind_null(ins, 4);
		sqlite3_bind_text(ins, 5, r->detail, -1, SQLITE_TRANSIENT);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	store_results(db, cr);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
}

int check__db(const char *path, const struct check_opts *o,
	      void (*report)(void *ctx, const struct check_run *r), void *ctx,
	      char *err, size_t errlen)
{
	sqlite3 *db;
	int rc = db__open(&db, path, err, errlen);
	if (rc)
		return rc;
	char sql[96];
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO check_param VALUES ('wall_factor', %g)",
		 o->wall_factor > 0 ? o->wall_factor : 1000.0);
	if (devirt_sqlite__register(db) || sqlite3_exec(db, devirt_checks_sql, NULL, NULL, NULL) ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL)) {
		snprintf(err, errlen, "%s: cannot install the checks: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EINVAL;
	}
	sqlite3_stmt *runs;
	sqlite3_prepare_v2(db, "SELECT id, guest, coalesce(verdict, 'unfinished') FROM run WHERE (?1 = 0 AND kind IN"
			   " ('live', 'replay')) OR id = ?1 ORDER BY id", -1, &runs, NULL);
	sqlite3_bind_int64(runs, 1, o->run);
	int failing = 0, seen = 0;
	struct check_run *cr = calloc(1, sizeof(*cr));
	while (cr && sqlite3_step(runs) == SQLITE_ROW) {
		memset(cr, 0, sizeof(*cr));
		seen++;
		cr->run = sqlite3_column_int64(runs, 0);
		snprintf(cr->guest, sizeof(cr->guest), "%s", (const char *)sqlite3_column_text(runs, 1));
		snprintf(cr->verdict, sizeof(cr->verdict), "%s", (const char *)sqlite3_column_text(runs, 2));
		for (int i = 0; i < CHECK_INVARIANTS; i++)
			cr->inv[i].first_seq = cr->inv[i].first_switch = -1;
		cr->baseline = o->baseline ? o->baseline : find_baseline(db, cr->run);
		check_i1(db, cr->run, cr->baseline, &cr->inv[0]);
		for (int i = 2; i <= 7; i++)
			view_check(db, cr->run, i, &cr->inv[i - 1]);
		check_i4_counts(db, cr->run, cr->baseline, &cr->inv[3]);
		check_i7_disks(db, cr->run, cr->baseline, &cr->inv[6]);
		check__i8(db, cr->run, &cr->inv[7]);
		int fail = 0;
		for (int i = 0; i < CHECK_INVARIANTS; i++)
			fail |= cr->inv[i].verdict == CHECK_FAIL;
		failing += fail;
		store(db, cr);
		report(ctx, cr);
	}
	sqlite3_finalize(runs);
	free(cr);
	sqlite3_close(db);
	if (!seen && o->run) {
		snprintf(err, errlen, "%s: no run %lld", path, (long long)o->run);
		return -ENOENT;
	}
	return failing;
}

static const char *verdict_name(int v) { return v == CHECK_PASS ? "PASS" : v == CHECK_FAIL ? "FAIL" : "N/A"; }

void check__print_text(FILE *f, const struct check_run *r)
{
	fprintf(f, "run %lld (%s, %s)", (long long)r->run, r->guest, r->verdict);
	if (r->baseline)
		fprintf(f, ", baseline run %lld", (long long)r->baseline);
	fputc('\n', f);
	for (int i = 0; i < CHECK_INVARIANTS; i++) {
		const struct check_result *c = &r->inv[i];
		fprintf(f, "  I%d %-4s %8llu checked %6llu failed", i + 1, verdict_name(c->verdict),
			(unsigned long long)c->checked, (unsigned long long)c->failed);
		if (c->verdict != CHECK_PASS && c->detail[0])
			fprintf(f, "  %s", c->detail);
		fputc('\n', f);
		if (c->verdict == CHECK_FAIL && c->context[0])
			fputs(c->context, f);
	}
}

/* Writes s as a JSON string. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void check__print_json(FILE *f, const struct check_run *r, int first)
{
	fprintf(f, "%s{\"run\": %lld, \"guest\": ", first ? "" : ",\n", (long long)r->run);
	json_str(f, r->guest);
	fprintf(f, ", \"verdict\": ");
	json_str(f, r->verdict);
	fprintf(f, ", \"baseline\": %lld, \"invariants\": {", (long long)r->baseline);
	for (int i = 0; i < CHECK_INVARIANTS; i++) {
		const struct check_result *c = &r->inv[i];
		fprintf(f, "%s\"I%d\": {\"result\": \"%s\", \"checked\": %llu, \"failed\": %llu", i ? ", " : "", i + 1,
			verdict_name(c->verdict), (unsigned long long)c->checked, (unsigned long long)c->failed);
		if (c->verdict == CHECK_FAIL) {
			fprintf(f, ", \"seq\": %lld, \"detail\": ", (long long)c->first_seq);
			json_str(f, c->detail);
			fprintf(f, ", \"context\": ");
			json_str(f, c->context);
		} else if (c->verdict == CHECK_NA) {
			fprintf(f, ", \"why\": ");
			json_str(f, c->detail);
		}
		fputc('}', f);
	}
	fprintf(f, "}}");
}
