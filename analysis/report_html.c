/*
 * The HTML report: one self-contained page per database (inline CSS and
 * SVG, nothing fetched; one line of script marks the page rendered for
 * tests). Sections: runs and verdicts; invariants (violations stored by
 * `devirt check`, per run and invariant); switch latency and pause length
 * over all runs; then, for the first --max-runs runs, a timeline and the
 * run's own histograms.
 *
 * The violation table records failures only, so a clean run leaves no
 * trace of having been checked: a run with no violation rows shows "not
 * checked", or "0*" once `devirt check` has run on the database (it leaves
 * its check_param table) and the page explains the asterisk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report_int.h"

#ifndef DEVIRT_VERSION
#define DEVIRT_VERSION "devirt"
#endif

#define RUNS_TABLE_MAX 5000   /* rows in the runs and invariants tables */
#define VIOLATIONS_SHOWN 50
#define STR(x) STR_(x)
#define STR_(x) #x
#define NINV 8

/* What the tables show of one run, gathered with one grouped query per table. */
struct counts {
	int64_t sw_done, sw_abort, sw_pending, pauses, deferred, faults;
	int64_t inv[NINV + 1];    /* [NINV]: invariants not named I1..I8 */
	int64_t viol;
};

static const char CSS[] =
	"body{font:13px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd}"
	"h3{font-size:14px;margin:18px 0 4px}.meta{color:#555;margin:2px 0 6px}"
	"table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;"
	"vertical-align:top}th{background:#f3f5f7}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"td.cfg{font-size:11px;color:#555;max-width:420px}.v{padding:0 5px;border-radius:3px;color:#fff;"
	"background:#9e9e9e}.v.pass{background:#2e7d32}.v.bad{background:#c62828}"
	"td.ok{background:#e8f5e9}td.fail{background:#ffebee;color:#b71c1c;font-weight:bold}"
	"td.unk{color:#999}.scroll{overflow-x:auto}svg text{font:10px system-ui,sans-serif;fill:#333}"
	"svg text.dev{font-weight:bold;font-size:12px}svg text.row{fill:#777;font-size:9px}"
	"svg text.title{font-size:12px;font-weight:bold}svg rect.bg{fill:#fafbfc}"
	".hists{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}nav a{margin-right:12px}"
	".note{color:#555;font-style:italic}";

/* Returns the index of id in the sorted ids, or -1. */
static long find(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] == id)
			return (long)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Runs a grouped query of rows (run, a, b, c) and stores each through put. */
static int gather(struct rp *r, const char *sql, const int64_t *ids, size_t n, struct counts *c,
		  void (*put)(struct counts *c, sqlite3_stmt *st))
{
	sqlite3_stmt *st;
	int rc = rp_prepare(r, &st, sql);
	if (rc)
		return rc;
	while ((rc = rp_step(r, st)) == SQLITE_ROW) {
		long i = find(ids, n, sqlite3_column_int64(st, 0));
		if (i >= 0)
			put(&c[i], st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Row handlers for gather. */
static void put_switches(struct counts *c, sqlite3_stmt *st)
{
	c->sw_done = sqlite3_column_int64(st, 1);
	c->sw_abort = sqlite3_column_int64(st, 2);
	c->sw_pending = sqlite3_column_int64(st, 3);
}

/* (run, count) rows of pause, deferred and fault. */
static void put_pauses(struct counts *c, sqlite3_stmt *st) { c->pauses = sqlite3_column_int64(st, 1); }
static void put_deferred(struct counts *c, sqlite3_stmt *st) { c->deferred = sqlite3_column_int64(st, 1); }
static void put_faults(struct counts *c, sqlite3_stmt *st) { c->faults = sqlite3_column_int64(st, 1); }

/* (run, invariant, count): I1..I8 by number, anything else as "other". */
static void put_violations(struct counts *c, sqlite3_stmt *st)
{
	const char *inv = (const char *)sqlite3_column_text(st, 1);
	int k = inv && inv[0] == 'I' && inv[1] >= '1' && inv[1] <= '0' + NINV && !inv[2] ? inv[1] - '1' : NINV;
	c->inv[k] += sqlite3_column_int64(st, 2);
	c->viol += sqlite3_column_int64(st, 2);
}

/* Fills c (one per id) from the switch, pause, deferred, fault and
 * violation tables. Returns 0 or -errno. */
static int load_counts(struct rp *r, const int64_t *ids, size_t n, struct counts *c)
{
	int rc = gather(r, "SELECT run, sum(outcome = 'done'), sum(outcome = 'aborted'),"
			" sum(outcome IS NULL OR outcome = 'pending') FROM switch GROUP BY run", ids, n, c, put_switches);
	if (!rc)
		rc = gather(r, "SELECT run, count(*) FROM pause GROUP BY run", ids, n, c, put_pauses);
	if (!rc)
		rc = gather(r, "SELECT run, count(*) FROM deferred GROUP BY run", ids, n, c, put_deferred);
	if (!rc)
		rc = gather(r, "SELECT run, count(*) FROM fault GROUP BY run", ids, n, c, put_faults);
	if (!rc)
		rc = gather(r, "SELECT run, invariant, count(*) FROM violation GROUP BY run, invariant", ids, n, c,
			    put_violations);
	return rc;
}

/* Returns 1 if the database has a table (or view) called name. */
static int has_table(struct rp *r, const char *name)
{
	sqlite3_stmt *st;
	if (rp_prepare(r, &st, "SELECT 1 FROM sqlite_master WHERE name = ?1"))
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* Writes a verdict badge. */
static void verdict(FILE *f, const char *v)
{
	fprintf(f, "<span class=\"v%s\">", !v ? "" : !strcmp(v, "pass") ? " pass" : " bad");
	rp_html(f, v ? v : "unfinished");
	fputs("</span>", f);
}

/* Writes the runs table (at most RUNS_TABLE_MAX rows). */
static int runs_table(struct rp *r, const int64_t *ids, size_t n, const struct counts *c, int checked_db)
{
	FILE *f = r->f;
	char buf[32];
	fputs("<h2 id=\"runs\">Runs and verdicts</h2>\n<table><tr><th>run</th><th>guest</th><th>kind</th>"
	      "<th>args</th><th>verdict</th><th>exits</th><th>virtual time</th><th>switches done</th>"
	      "<th>aborted</th><th>pending</th><th>pauses</th><th>deferred</th><th>faults</th>"
	      "<th>violations</th><th>config</th></tr>\n", f);
	for (size_t i = 0; i < n && i < RUNS_TABLE_MAX; i++) {
		struct rp_run run;
		int rc = rp_run_load(r, ids[i], 0, &run);
		if (rc) {
			rp_run_free(&run);
			return rc;
		}
		if (i < (size_t)r->o->max_runs)
			fprintf(f, "<tr><td class=\"num\"><a href=\"#run-%lld\">%lld</a></td><td>", (long long)run.id,
				(long long)run.id);
		else
			fprintf(f, "<tr><td class=\"num\">%lld</td><td>", (long long)run.id);
		rp_html(f, run.guest);
		fputs("</td><td>", f);
		rp_html(f, run.kind);
		if (run.parent != RP_NULL)
			fprintf(f, " of %lld", (long long)run.parent);
		fputs("</td><td class=\"cfg\">", f);
		rp_html(f, run.args);
		fputs("</td><td>", f);
		verdict(f, run.verdict);
		if (run.exit_code != RP_NULL && (!run.verdict || strcmp(run.verdict, "pass")))
			fprintf(f, " 0x%llx", (unsigned long long)run.exit_code);
		fprintf(f, "</td><td class=\"num\">%lld</td><td class=\"num\">%s</td>",
			(long long)(run.exits == RP_NULL ? 0 : run.exits), rp_dur(buf, sizeof(buf), (double)run.end_vt));
		fprintf(f, "<td class=\"num\">%lld</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
			"<td class=\"num\">%lld</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>",
			(long long)c[i].sw_done, (long long)c[i].sw_abort, (long long)c[i].sw_pending,
			(long long)c[i].pauses, (long long)c[i].deferred, (long long)c[i].faults);
		if (c[i].viol)
			fprintf(f, "<td class=\"num fail\">%lld</td>", (long long)c[i].viol);
		else
			fprintf(f, "<td class=\"%s\">%s</td>", checked_db ? "ok" : "unk", checked_db ? "0*" : "not checked");
		fputs("<td class=\"cfg\">", f);
		rp_html(f, run.config);
		fputs("</td></tr>\n", f);
		rp_run_free(&run);
	}
	fputs("</table>\n", f);
	if (n > RUNS_TABLE_MAX)
		fprintf(f, "<p class=\"note\">%zu more runs not listed.</p>\n", n - RUNS_TABLE_MAX);
	return 0;
}

/* Writes the invariant table (run x I1..I8) and the first violations. */
static int invariants(struct rp *r, const int64_t *ids, size_t n, const struct counts *c, int checked_db)
{
	FILE *f = r->f;
	int other = 0;
	fputs("<h2 id=\"invariants\">Invariants</h2>\n<table><tr><th>run</th>", f);
	for (int k = 0; k < NINV; k++)
		fprintf(f, "<th>I%d</th>", k + 1);
	for (size_t i = 0; i < n; i++)
		other |= c[i].inv[NINV] != 0;
	fputs(other ? "<th>other</th></tr>\n" : "</tr>\n", f);
	/* devirt check's own conclusions, when it has run (check_result) */
	sqlite3_stmt *res = NULL;
	if (has_table(r, "check_result") &&
	    rp_prepare(r, &res, "SELECT result, checked FROM check_result WHERE run = ?1 AND invariant = ?2"))
		res = NULL;
	for (size_t i = 0; i < n && i < RUNS_TABLE_MAX; i++) {
		fprintf(f, "<tr><td class=\"num\">%lld</td>", (long long)ids[i]);
		for (int k = 0; k < NINV + other; k++) {
			char inv[4];
			snprintf(inv, sizeof(inv), "I%d", k + 1);
			if (res && k < NINV) {
				sqlite3_reset(res);
				sqlite3_bind_int64(res, 1, ids[i]);
				sqlite3_bind_text(res, 2, inv, -1, SQLITE_TRANSIENT);
				if (sqlite3_step(res) == SQLITE_ROW) {
					const char *v = (const char *)sqlite3_column_text(res, 0);
					if (!strcmp(v, "FAIL"))
						fprintf(f, "<td class=\"num fail\">FAIL %lld</td>", (long long)c[i].inv[k]);
					else
						fprintf(f, "<td class=\"%s\">%s</td>", !strcmp(v, "PASS") ? "num ok" : "unk",
							!strcmp(v, "PASS") ? "PASS" : "N/A");
					continue;
				}
			}
			if (c[i].inv[k])
				fprintf(f, "<td class=\"num fail\">%lld</td>", (long long)c[i].inv[k]);
			else if (c[i].viol)
				fputs("<td class=\"num ok\">0</td>", f);
			else
				fprintf(f, "<td class=\"%s\">%s</td>", checked_db ? "num ok" : "unk",
					checked_db ? "0*" : "not checked");
		}
		fputs("</tr>\n", f);
	}
	if (res)
		sqlite3_finalize(res);
	fputs("</table>\n<p class=\"note\">PASS / FAIL / N/A: <code>devirt check</code>'s conclusions"
	      " (table <code>check_result</code>). Counts are violations stored in the <code>violation</code> table"
	      " (by <code>devirt check</code> or another checker). ", f);
	fputs(checked_db ? "0*: <code>devirt check</code> has run on this database, but it stores failures"
	      " only, so a run without violations either held every invariant or was not among the runs it"
	      " checked.</p>\n" : "No checker has run on this database: run <code>devirt check</code>.</p>\n", f);
	sqlite3_stmt *st;
	int rc = rp_prepare(r, &st, "SELECT run, invariant, seq, switch, detail, coalesce(checker, '')"
			    " FROM violation ORDER BY run, invariant, seq LIMIT " STR(VIOLATIONS_SHOWN));
	if (rc)
		return rc;
	int rows = 0;
	while ((rc = rp_step(r, st)) == SQLITE_ROW) {
		if (!rows++)
			fputs("<h3>First violations</h3>\n<table><tr><th>run</th><th>invariant</th><th>seq</th>"
			      "<th>switch</th><th>detail</th><th>checker</th></tr>\n", f);
		fprintf(f, "<tr><td class=\"num\">%lld</td><td>", (long long)sqlite3_column_int64(st, 0));
		rp_html(f, (const char *)sqlite3_column_text(st, 1));
		fputs("</td><td class=\"num\">", f);
		rp_html(f, (const char *)sqlite3_column_text(st, 2));
		fputs("</td><td class=\"num\">", f);
		rp_html(f, (const char *)sqlite3_column_text(st, 3));
		fputs("</td><td>", f);
		rp_html(f, (const char *)sqlite3_column_text(st, 4));
		fputs("</td><td>", f);
		rp_html(f, (const char *)sqlite3_column_text(st, 5));
		fputs("</td></tr>\n", f);
	}
	sqlite3_finalize(st);
	if (rows)
		fprintf(f, "</table>\n%s",
			rows == VIOLATIONS_SHOWN ? "<p class=\"note\">(the first " STR(VIOLATIONS_SHOWN) ")</p>\n" : "");
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Histogram colour of a pause series: its kind's. */
static const char *pause_colour(int i, const char *name)
{
	return rp_pause_colour(name);
}

/* Writes the latency and pause histograms (and quantile tables) of run
 * (0: all runs). */
static int histograms(struct rp *r, int64_t run)
{
	struct rp_series *lat, *pau;
	int nlat, npau;
	int rc = rp_latencies(r, run, &lat, &nlat);
	if (rc)
		return rc;
	if ((rc = rp_pauses(r, run, &pau, &npau))) {
		rp_series_free(lat, nlat);
		return rc;
	}
	FILE *f = r->f;
	fputs("<div class=\"hists\"><div>", f);
	rp_svg_histogram(f, "switch latency (completed - requested, virtual), per device", lat, nlat, rp_palette);
	rp_stats_table(f, "device", lat, nlat);
	fputs("</div><div>", f);
	rp_svg_histogram(f, "pause length (virtual), per kind", pau, npau, pause_colour);
	rp_stats_table(f, "pause kind", pau, npau);
	fputs("</div></div>\n", f);
	rp_series_free(lat, nlat);
	rp_series_free(pau, npau);
	return 0;
}

/* Writes run's section: heading, what made it, timeline, histograms. */
static int run_section(struct rp *r, int64_t id, const struct counts *c)
{
	struct rp_run run;
	FILE *f = r->f;
	char buf[32];
	int rc = rp_run_load(r, id, 1, &run);
	if (!rc) {
		fprintf(f, "<section id=\"run-%lld\"><h3>Run %lld: ", (long long)id, (long long)id);
		rp_html(f, run.guest);
		fputs(" ", f);
		verdict(f, run.verdict);
		fputs("</h3>\n<p class=\"meta\">", f);
		rp_html(f, run.kind);
		if (run.parent != RP_NULL)
			fprintf(f, " of run %lld", (long long)run.parent);
		fprintf(f, " &middot; virtual time %s &middot; %lld exits &middot; switches %lld done, %lld aborted"
			" &middot; args: ", rp_dur(buf, sizeof(buf), (double)run.end_vt),
			(long long)(run.exits == RP_NULL ? 0 : run.exits), (long long)c->sw_done, (long long)c->sw_abort);
		rp_html(f, *run.args ? run.args : "(none)");
		fputs(" &middot; config: ", f);
		rp_html(f, *run.config ? run.config : "(none)");
		fputs("</p>\n<div class=\"scroll\">\n", f);
		rc = rp_svg_timeline(r, &run);
		fputs("</div>\n", f);
	}
	if (!rc && (c->sw_done || c->pauses))
		rc = histograms(r, id);
	if (!rc)
		fputs("</section>\n", f);
	rp_run_free(&run);
	return rc;
}

/* Writes the whole page to r->f. Returns 0 or -errno. */
static int page(struct rp *r)
{
	FILE *f = r->f;
	int64_t *ids;
	size_t n;
	int rc = rp_run_ids(r, &ids, &n);
	if (rc)
		return rc;
	struct counts *c = calloc(n + 1, sizeof(*c));
	if (!c) {
		free(ids);
		return rp_syserr(r, "report", -ENOMEM);
	}
	rc = load_counts(r, ids, n, c);
	int checked_db = has_table(r, "check_param");
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>devirt report: ", f);
	rp_html(f, r->dbname);
	fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>devirt report: ", CSS);
	rp_html(f, r->dbname);
	fputs("</h1>\n", f);
	int64_t pass = 0, done = 0, aborted = 0, viol = 0;
	for (size_t i = 0; i < n; i++) {
		done += c[i].sw_done;
		aborted += c[i].sw_abort;
		viol += c[i].viol;
	}
	if (!rc && n) {
		sqlite3_stmt *st;
		if (!(rc = rp_prepare(r, &st, "SELECT count(*) FROM run WHERE verdict = 'pass'"))) {
			if ((rc = rp_step(r, st)) == SQLITE_ROW)
				pass = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			rc = rc == SQLITE_ROW ? 0 : rc;
		}
	}
	fprintf(f, "<p class=\"meta\">%zu runs: %lld passed, %lld did not &middot; %lld switches done, %lld aborted"
		" &middot; %lld violations stored &middot; %s</p>\n", n, (long long)pass, (long long)(n - (size_t)pass),
		(long long)done, (long long)aborted, (long long)viol, DEVIRT_VERSION);
	if (!rc && !n)
		fputs("<p class=\"empty\">This database holds no runs.</p>\n", f);
	if (!rc && n) {
		fputs("<nav><a href=\"#runs\">runs</a><a href=\"#invariants\">invariants</a>"
		      "<a href=\"#distributions\">distributions</a><a href=\"#timelines\">timelines</a></nav>\n", f);
		rc = runs_table(r, ids, n, c, checked_db);
	}
	if (!rc && n)
		rc = invariants(r, ids, n, c, checked_db);
	if (!rc && n) {
		fputs("<h2 id=\"distributions\">Switch latency and pauses, all runs</h2>\n", f);
		rc = histograms(r, 0);
	}
	size_t shown = n < (size_t)r->o->max_runs ? n : (size_t)r->o->max_runs;
	if (!rc && shown) {
		fputs("<h2 id=\"timelines\">Timelines</h2>\n<p class=\"meta\">One lane per device against virtual"
		      " time; events are gathered into one-pixel bins (hover a lane for its totals).</p>\n", f);
		rp_svg_legend(f);
	}
	for (size_t i = 0; !rc && i < shown; i++)
		rc = run_section(r, ids[i], &c[i]);
	if (!rc && n > shown)
		fprintf(f, "<p class=\"note\">%zu more runs have no timeline here (--max-runs %d).</p>\n", n - shown,
			r->o->max_runs);
	/* the only script: tells a test (or a reader's devtools) that the page
	 * was parsed and how many drawings it holds */
	fputs("<script>document.documentElement.setAttribute('data-rendered',"
	      " document.querySelectorAll('svg').length);</script>\n</body></html>\n", f);
	free(c);
	free(ids);
	return rc;
}

/* Writes the page to path through a temporary file. Returns 0 or -errno. */
int report__html(sqlite3 *db, const char *dbname, const char *path, const struct report_opts *o,
		 char *err, size_t errlen)
{
	struct rp r = { .db = db, .dbname = dbname, .o = o, .err = err, .errlen = errlen };
	int rc = rp_out_open(&r, path);
	if (rc)
		return rc;
	rc = rp_out_close(&r, path, page(&r));
	rp_free(&r);
	return rc;
}
