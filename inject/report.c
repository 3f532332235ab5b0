/*
 * Progress line and summary (report.h). The summary reads the database
 * back (the switch, pause, fault and violation tables of this campaign's
 * runs, selected through a temporary table of run ids) rather than
 * trusting counters, so it says what the trace holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "report.h"
#include "../machine/machine.h"
#include "../traces/db.h"
#include "../lib/hosttime.h"

void progress__init(struct progress *p, FILE *f, const char *name, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->f = f;
	p->tty = isatty(fileno(f));
	p->name = name;
	p->total = total;
	p->t0 = host_ns();
}

void progress__run(void *ctx, const struct camp_result *r)
{
	struct progress *p = ctx;
	uint64_t now = host_ns();
	p->done++;
	p->failed += r->state != RUN_PASS;
	if (!p->tty || (now - p->last < 100000000ull && p->done != p->total))
		return;
	p->last = now;
	double secs = (double)(now - p->t0) / 1e9;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	uint64_t eta = rate > 0 ? (uint64_t)((double)(p->total - p->done) / rate + 0.5) : 0;
	fprintf(p->f, "\r\033[Kcampaign %s: %" PRIu64 "/%" PRIu64 " runs, %" PRIu64 " failed, %.2f runs/s, ETA %"
		PRIu64 ":%02" PRIu64, p->name, p->done, p->total, p->failed, rate, eta / 60, eta % 60);
	fflush(p->f);
}

void progress__end(struct progress *p)
{
	if (p->tty && p->done)
		fprintf(p->f, "\n");
}

/* Fetches the integer column 0 of every row of sql, in order. Returns the
 * count (values in *v, malloc'd) or -1. */
static long fetch(sqlite3 *db, const char *sql, int64_t **v)
{
	sqlite3_stmt *st;
	long n = 0, cap = 0;
	*v = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			int64_t *nv = realloc(*v, (size_t)cap * sizeof(**v));
			if (!nv)
				break;
			*v = nv;
		}
		(*v)[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return n;
}

/* Returns the nearest-rank percentile pct of sorted v[0..n). */
static int64_t pct(const int64_t *v, long n, int p)
{
	long i = (long)(((int64_t)p * n + 99) / 100) - 1;
	return v[i < 0 ? 0 : i];
}

/* qsort comparator of int64_t. */
static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Prints "p50 .. p90 .. p99 .. max .." of the values sql yields (sorted
 * ascending) in microseconds after label. */
static void percentiles(FILE *f, sqlite3 *db, const char *label, const char *sql)
{
	int64_t *v;
	long n = fetch(db, sql, &v);
	if (n > 0)
		fprintf(f, "  %-26s n=%-6ld p50 %9.1f us  p90 %9.1f us  p99 %9.1f us  max %9.1f us\n", label, n,
			(double)pct(v, n, 50) / 1e3, (double)pct(v, n, 90) / 1e3, (double)pct(v, n, 99) / 1e3,
			(double)v[n - 1] / 1e3);
	free(v);
}

/* Prints each row of sql as "  label  text" (two text columns). Returns rows. */
static int rows(FILE *f, sqlite3 *db, const char *label, const char *sql)
{
	sqlite3_stmt *st;
	int n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		fprintf(f, "  %-12s %s %s\n", n ? "" : label, (const char *)sqlite3_column_text(st, 0),
			sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

/* Loads the campaign's run ids into temp.camp. Returns an SQLite code. */
static int load_ids(sqlite3 *db, const struct camp_result *r, size_t n)
{
	sqlite3_stmt *st;
	int rc = sqlite3_exec(db, "CREATE TEMP TABLE camp (id INTEGER PRIMARY KEY)", NULL, NULL, NULL);
	if (!rc)
		rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.camp VALUES (?1)", -1, &st, NULL);
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_bind_int64(st, 1, r[i].run_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(st);
	}
	if (!rc)
		sqlite3_finalize(st);
	return rc;
}

/* The database part of the summary. Returns the violations recorded. */
static int64_t from_db(FILE *f, sqlite3 *db, int replay)
{
	if (replay)
		rows(f, db, "switches:", "SELECT sum(outcome = 'done') || ' done, ' || sum(outcome = 'aborted') || ' aborted',"
		     " '(in the replays)' FROM switch WHERE run IN temp.camp HAVING count(*) > 0");
	rows(f, db, "aborted:", "SELECT count(*) || ' x', coalesce(reason, '?') FROM switch"
	     " WHERE run IN temp.camp AND outcome = 'aborted' GROUP BY reason ORDER BY count(*) DESC LIMIT 5");
	if (!rows(f, db, "faults:", "SELECT kind, count(*) || ' injected in ' || count(DISTINCT run) || ' runs'"
		  " FROM fault WHERE run IN temp.camp GROUP BY kind ORDER BY kind"))
		fprintf(f, "  %-12s none injected\n", "faults:");
	int64_t *v;
	int64_t nviol = fetch(db, "SELECT count(*) FROM violation WHERE run IN temp.camp", &v) > 0 ? v[0] : 0;
	free(v);
	if (nviol)
		rows(f, db, "violations:", "SELECT invariant, count(*) || ' in ' || count(DISTINCT run) || ' runs'"
		     " FROM violation WHERE run IN temp.camp GROUP BY invariant ORDER BY invariant");
	else
		fprintf(f, "  %-12s none recorded (devirt check records them)\n", "violations:");
	percentiles(f, db, "switch latency (vtime)",
		    "SELECT completed_vtime_ns - requested_vtime_ns FROM switch WHERE run IN temp.camp"
		    " AND outcome = 'done' AND reason IS NULL ORDER BY 1");
	percentiles(f, db, "switch latency (wall)",
		    "SELECT wall_ns FROM switch WHERE run IN temp.camp AND outcome = 'done' AND reason IS NULL"
		    " AND wall_ns IS NOT NULL ORDER BY 1");
	static const char *const kinds[] = { "wait", "quiesce", "busy", "defer" };
	for (int k = 0; k < 4; k++) {
		char sql[256], label[40];
		snprintf(sql, sizeof(sql), "SELECT end_vtime_ns - start_vtime_ns FROM pause WHERE run IN temp.camp"
			 " AND kind = '%s' AND end_vtime_ns IS NOT NULL ORDER BY 1", kinds[k]);
		snprintf(label, sizeof(label), "pause %s (vtime)", kinds[k]);
		percentiles(f, db, label, sql);
	}
	rows(f, db, "over bound:", "SELECT count(*) || ' pauses', 'longer than their bound' FROM pause"
	     " WHERE run IN temp.camp AND end_vtime_ns - start_vtime_ns > bound_ns HAVING count(*) > 0");
	return nviol;
}

int campaign__summary(FILE *f, const struct campaign_cfg *c, const char *db, const struct camp_result *r,
		      size_t n, uint64_t wall_ns, char *err, size_t errlen)
{
	uint64_t state[RUN_STOPPED + 1] = { 0 }, done = 0, aborted = 0, injected = 0, faults = 0, fails = 0;
	for (size_t i = 0; i < n; i++) {
		state[r[i].state >= 0 && r[i].state <= RUN_STOPPED ? r[i].state : RUN_CRASH]++;
		done += r[i].switches_done;
		aborted += r[i].switches_aborted;
		injected += r[i].injected;
		faults += r[i].faults;
		fails += r[i].state != RUN_PASS;
	}
	double secs = (double)wall_ns / 1e9;
	if (c->mode == CM_REPLAY)
		fprintf(f, "campaign %s: %zu replays in %.1f s (%.2f replays/s), stored in %s\n", c->name, n, secs,
			secs > 0 ? (double)n / secs : 0.0, c->trace);
	else
		fprintf(f, "campaign %s: %zu runs of %s in %.1f s (%.2f runs/s)%s%s\n", c->name, n, c->guest, secs,
			secs > 0 ? (double)n / secs : 0.0, db ? ", trace " : "", db ? db : "");
	fprintf(f, "  %-12s %" PRIu64 " pass", "verdicts:", state[RUN_PASS]);
	for (int s = RUN_FAIL; s <= RUN_STOPPED; s++)
		if (state[s])
			fprintf(f, ", %" PRIu64 " %s", state[s], run_state__name(s));
	fprintf(f, "\n");
	if (!db || c->mode == CM_LIVE)
		fprintf(f, "  %-12s %" PRIu64 " done, %" PRIu64 " aborted (%" PRIu64 " requested by the trigger)\n",
			"switches:", done, aborted, injected);
	if (n && c->mode == CM_LIVE) {
		int64_t *setup = malloc(n * sizeof(*setup));
		for (size_t i = 0; setup && i < n; i++)
			setup[i] = (int64_t)r[i].setup_ns;
		if (setup) {
			qsort(setup, n, sizeof(*setup), cmp_i64);
			fprintf(f, "  %-12s %s per run: median %.2f ms, p90 %.2f ms\n", "vm setup:",
				c->reset == CR_FRESH ? "new VM" : "snapshot reset", (double)pct(setup, (long)n, 50) / 1e6,
				(double)pct(setup, (long)n, 90) / 1e6);
		}
		free(setup);
	}
	int64_t nviol = 0;
	if (db && n) {
		sqlite3 *sdb;
		int rc = db__open(&sdb, db, err, errlen);
		if (rc)
			return rc;
		rc = load_ids(sdb, r, n);
		if (rc) {
			snprintf(err, errlen, "%s: %s", db, sqlite3_errmsg(sdb));
			sqlite3_close(sdb);
			return db__errno(rc);
		}
		nviol = from_db(f, sdb, c->mode == CM_REPLAY);
		sqlite3_close(sdb);
	} else if (faults) {
		fprintf(f, "  %-12s %" PRIu64 " injected\n", "faults:", faults);
	}
	int shown = 0;
	for (size_t i = 0; i < n && shown < 10; i++) {
		if (r[i].state == RUN_PASS)
			continue;
		if (!shown++)
			fprintf(f, "  failing %s (rerun one with: devirt campaign %s --index I):\n",
				c->mode == CM_REPLAY ? "replays" : "runs", c->path);
		fprintf(f, "    index %-6" PRIu64 " seed %-10" PRIu64 " %-13s code 0x%x  run %" PRId64 "\n", r[i].index,
			r[i].seed, run_state__name(r[i].state), r[i].exit_code, r[i].run_id);
	}
	if (fails > (uint64_t)shown)
		fprintf(f, "    ... and %" PRIu64 " more\n", fails - (uint64_t)shown);
	return fails || nviol ? 1 : 0;
}
