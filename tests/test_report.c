/*
 * devirt report, checked the way a reader meets it: a small campaign-like
 * database (several runs with switches, recorded under KVM) is reported as
 * HTML and rendered in headless Chromium (the screenshot must hold real
 * drawings: many colours, the timeline's mode colours; the page must run
 * its one script without errors), as Perfetto JSON (parsed by SQLite's
 * JSON functions: valid, one track per device, the expected slices), and
 * as gnuplot PNGs (decoded: not blank). A deliberately blank page and a
 * page with a script error must fail the same checks.
 *
 * Chromium tests skip with a visible reason when chromium is missing,
 * unless REQUIRE_CHROMIUM=1 (CI) makes that a failure.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "helpers.h"
#include "../traces/db.h"

/* A temporary directory for one test's files; removed by cleanup(). */
static char dir[64];

/* Suite init: a fresh temporary directory for the test's files. */
static void setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/devirt-report-XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp");
}

/* Suite fini: removes the directory and everything in it. */
static void cleanup(void)
{
	char out[256];
	char *const argv[] = { "rm", "-rf", dir, NULL };
	if (dir[0])
		run_cmd(argv, NULL, out, sizeof(out));
}

/* Returns dir/name (static buffer, one of four in rotation). */
static const char *in_dir(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Records workload into db with the given --switch spec (NULL: none) and
 * block policy; the run must pass. */
static void record(const char *db, const char *workload, const char *spec, int block)
{
	struct eng_trigger trig;
	char err[200];
	if (spec)
		cr_assert_eq(engine__parse_trigger(spec, &trig, err, sizeof(err)), 0, "%s", err);
	struct engine_cfg ec = { .midseq = MIDSEQ_WAIT, .block = block };
	struct trace_run info = { .guest = workload, .seed = -1, .config = spec ? spec : "" };
	struct vmm_cfg cfg = {
		.image = guest_image(workload), .console_fd = -1,
		.vtimeout_ns = 60ull * 1000000000ull, .wtimeout_ns = 120ull * 1000000000ull,
		.engine = &ec, .triggers = &trig, .ntriggers = spec ? 1 : 0, .db = db, .run_info = &info,
	};
	struct vmm_result res;
	cr_assert_eq(vmm__run(&cfg, &res), VMM_RAN, "%s", res.err);
	cr_assert_eq(res.state, RUN_PASS, "%s with %s", workload, spec ? spec : "no switches");
}

/* Records the small campaign: a baseline and three switched runs over all
 * three engine devices, busy and defer. Returns the DB path. */
static const char *campaign(void)
{
	need_kvm();
	const char *db = in_dir("campaign.db");
	record(db, "mixed", NULL, EDEV_BLOCK_BUSY);
	record(db, "mixed", "every=101:roundtrip:all", EDEV_BLOCK_BUSY);
	record(db, "ringblk-stress", "every=7:roundtrip:ringblk", EDEV_BLOCK_DEFER);
	record(db, "uart-echo", "every=5:roundtrip:all", EDEV_BLOCK_BUSY);
	return db;
}

/* Runs devirt report with up to four extra arguments; returns its status. */
static int report(const char *db, const char *a, const char *b, const char *c, const char *d, char *out, size_t len)
{
	char *const argv[] = { "devirt", "report", (char *)db, (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	return run_cmd(argv, NULL, out, len);
}

/* ---- PNG: decoded enough to count colours ---- */

/* What a picture holds: distinct colours (quantised to 5 bits a channel),
 * the share of the commonest one, and pixels near a given colour. */
struct pic {
	unsigned w, h, colours;
	double dominant;
	unsigned long near;
};

/* Returns a big-endian 32-bit value. */
static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Undoes PNG filter type ft on one row (bpp bytes a pixel). */
static void unfilter(unsigned char *row, const unsigned char *prev, size_t n, int bpp, int ft)
{
	for (size_t x = 0; x < n; x++) {
		int a = x >= (size_t)bpp ? row[x - bpp] : 0, b = prev[x], c = x >= (size_t)bpp ? prev[x - bpp] : 0;
		int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
		int add = ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2
			: ft == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
		row[x] = (unsigned char)(row[x] + add);
	}
}

/* Decodes the 8-bit, non-interlaced PNG at path (grey, RGB, palette, with
 * or without alpha) and fills p; near counts pixels within 24 of target
 * (0xRRGGBB) on every channel. Fails the test on anything else. */
static void decode_png(const char *path, uint32_t target, struct pic *p)
{
	size_t len;
	unsigned char *f = read_file(path, &len), *idat = NULL, pal[768] = { 0 };
	cr_assert(f && len > 8 && !memcmp(f, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
	size_t ni = 0, pos = 8;
	int depth = 0, type = 0, inter = 0;
	memset(p, 0, sizeof(*p));
	while (pos + 12 <= len) {
		uint32_t n = be32(f + pos);
		const unsigned char *t = f + pos + 4, *d = f + pos + 8;
		cr_assert(pos + 12 + n <= len, "%s: truncated chunk", path);
		if (!memcmp(t, "IHDR", 4)) {
			p->w = be32(d), p->h = be32(d + 4), depth = d[8], type = d[9], inter = d[12];
		} else if (!memcmp(t, "PLTE", 4)) {
			memcpy(pal, d, n < 768 ? n : 768);
		} else if (!memcmp(t, "IDAT", 4)) {
			idat = realloc(idat, ni + n);
			memcpy(idat + ni, d, n);
			ni += n;
		}
		pos += 12 + n;
	}
	int bpp = type == 0 ? 1 : type == 2 ? 3 : type == 3 ? 1 : type == 4 ? 2 : 4;
	cr_assert(depth == 8 && !inter && p->w && p->h, "%s: only 8-bit non-interlaced PNGs (depth %d type %d)",
		  path, depth, type);
	size_t stride = (size_t)p->w * bpp;
	uLongf rawlen = (uLongf)((stride + 1) * p->h);
	unsigned char *raw = malloc(rawlen), *prev = calloc(1, stride);
	cr_assert_eq(uncompress(raw, &rawlen, idat, ni), Z_OK, "%s: bad image data", path);
	static unsigned long hist[32768];
	memset(hist, 0, sizeof(hist));
	for (unsigned y = 0; y < p->h; y++) {
		unsigned char *row = raw + y * (stride + 1) + 1;
		unfilter(row, prev, stride, bpp, row[-1]);
		for (unsigned x = 0; x < p->w; x++) {
			const unsigned char *px = row + (size_t)x * bpp;
			int r = px[0], g = px[0], b = px[0];
			if (type == 2 || type == 6)
				r = px[0], g = px[1], b = px[2];
			else if (type == 3)
				r = pal[3 * px[0]], g = pal[3 * px[0] + 1], b = pal[3 * px[0] + 2];
			hist[(r >> 3) << 10 | (g >> 3) << 5 | b >> 3]++;
			p->near += abs(r - (int)(target >> 16)) <= 24 && abs(g - (int)(target >> 8 & 255)) <= 24 &&
				   abs(b - (int)(target & 255)) <= 24;
		}
		memcpy(prev, row, stride);
	}
	unsigned long max = 0;
	for (int i = 0; i < 32768; i++) {
		p->colours += hist[i] != 0;
		max = hist[i] > max ? hist[i] : max;
	}
	p->dominant = (double)max / ((double)p->w * p->h);
	free(raw);
	free(prev);
	free(idat);
	free(f);
}

/* Returns 1 if the picture holds a drawing rather than an empty page:
 * at least 16 colours and no colour covering more than 97% of it. */
static int not_blank(const struct pic *p)
{
	return p->colours >= 16 && p->dominant <= 0.97;
}

/* ---- Chromium ---- */

/* Skips (or fails under REQUIRE_CHROMIUM=1) when chromium cannot run. */
static void need_chromium(void)
{
	char out[512];
	char *const argv[] = { "chromium", "--version", NULL };
	if (run_cmd(argv, NULL, out, sizeof(out)) == 0)
		return;
	const char *req = getenv("REQUIRE_CHROMIUM");
	if (req && *req && strcmp(req, "0"))
		cr_assert_fail("REQUIRE_CHROMIUM=1 but chromium does not run: %s", out);
	cr_skip_test("skipped: chromium not installed (make deps installs it); set REQUIRE_CHROMIUM=1 to fail instead");
}

/* Runs headless chromium on html with mode ("--screenshot=PNG" or
 * "--dump-dom") at 1200 x height, a private profile, console messages on
 * stderr; out gets stdout+stderr. Returns its status. */
static int chromium(const char *html, const char *mode, int height, char *out, size_t len)
{
	char url[300], size[40], profile[300];
	snprintf(url, sizeof(url), "file://%s", html);
	snprintf(size, sizeof(size), "--window-size=1200,%d", height);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium-profile", dir);
	char *const argv[] = { "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			       "--enable-logging=stderr", "--v=0", profile, size, (char *)mode, url, NULL };
	return run_cmd(argv, NULL, out, len);
}

/* Renders html to dir/name (1200 x height) and decodes it. */
static void screenshot(const char *html, const char *name, int height, uint32_t target, struct pic *p)
{
	char mode[300], *out = malloc(1 << 16);
	snprintf(mode, sizeof(mode), "--screenshot=%s", in_dir(name));
	cr_assert_eq(chromium(html, mode, height, out, 1 << 16), 0, "chromium: %s", out);
	decode_png(in_dir(name), target, p);
	free(out);
}

/* Loads html in chromium and returns the number of drawings its script
 * counted (-1: the script did not run), failing on any uncaught error. */
static int rendered_svgs(const char *html, int expect_errors)
{
	size_t len = 8 << 20;
	char *out = malloc(len);
	cr_assert_eq(chromium(html, "--dump-dom", 900, out, len), 0, "chromium: %.2000s", out);
	const char *err = strstr(out, "Uncaught");
	if (!expect_errors)
		cr_assert_null(err, "script error on the page: %.300s", err);
	else
		cr_assert_not_null(err, "the broken page's error was not seen");
	const char *m = strstr(out, "data-rendered=\"");
	int n = m ? atoi(m + 15) : -1;
	free(out);
	return n;
}

/* ---- the tests ---- */

TestSuite(report, .init = setup_dir, .fini = cleanup);

Test(report, html_of_a_campaign_renders_in_chromium, .timeout = 300)
{
	need_chromium();
	const char *db = campaign();
	/* a checker's findings, one with markup in it: counted, and escaped */
	sqlite3 *d;
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(d, "INSERT INTO violation VALUES (2, 'I2', 40, 3, '<script>boom()</script> & co', 'test');"
				  "INSERT INTO violation VALUES (2, 'I2', 41, 3, 'second', 'test');"
				  "INSERT INTO violation VALUES (3, 'I4', NULL, NULL, 'lost edge', 'test')", NULL, NULL, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(d));
	sqlite3_close(d);
	const char *html = in_dir("report.html");
	char out[4096];
	cr_assert_eq(report(db, "--html", html, NULL, NULL, out, sizeof(out)), 0, "%s", out);

	size_t len;
	char *page = read_file(html, &len);
	cr_assert(page);
	cr_assert(strstr(page, "&lt;script&gt;boom()&lt;/script&gt; &amp; co"), "violation detail escaped");
	cr_assert_null(strstr(page, "<script>boom"), "markup from the database reached the page");
	cr_assert_null(strstr(page, "https://"), "self-contained: nothing fetched");
	cr_assert_null(strstr(page, "<link"), "self-contained: no linked resources");
	cr_assert(strstr(page, "<td class=\"num fail\">2</td>"), "run 2 has two I2 violations");
	cr_assert(strstr(page, "id=\"run-4\""), "every run has a timeline");
	cr_assert(strstr(page, ">ringblk</text>") && strstr(page, ">com1</text>") && strstr(page, ">ata</text>"),
		  "a lane per device");
	free(page);

	/* 4 timelines + their histograms (3 switched runs x 2) + 2 overall + the legend */
	cr_assert_geq(rendered_svgs(html, 0), 4 + 6 + 2 + 1);
	struct pic top, tall;
	screenshot(html, "top.png", 900, 0x2e7d32, &top);   /* the "pass" badge's green */
	cr_assert(not_blank(&top), "first screen looks blank: %u colours, %.1f%% one colour", top.colours,
		  100 * top.dominant);
	cr_assert_gt(top.near, 100, "no verdict badge on the first screen");
	screenshot(html, "tall.png", 3200, 0xffca28, &tall);   /* the tracking mode's yellow */
	cr_assert(not_blank(&tall));
	cr_assert_gt(tall.near, 2000, "no device was drawn in tracking mode (%lu pixels)", tall.near);
}

Test(report, blank_or_broken_pages_fail_the_checks, .timeout = 120)
{
	need_chromium();
	const char *blank = in_dir("blank.html"), *broken = in_dir("broken.html");
	FILE *f = fopen(blank, "w");
	fputs("<!DOCTYPE html><html><body style=\"background:#fff\"></body></html>\n", f);
	fclose(f);
	f = fopen(broken, "w");
	fputs("<!DOCTYPE html><html><body><h1>x</h1><script>undefined_function();"
	      "document.documentElement.setAttribute('data-rendered', 1);</script></body></html>\n", f);
	fclose(f);
	struct pic p;
	screenshot(blank, "blank.png", 900, 0xffffff, &p);
	cr_assert_not(not_blank(&p), "a blank page passed the pixel check (%u colours)", p.colours);
	cr_assert_eq(rendered_svgs(blank, 0), -1, "no marker without the report's script");
	cr_assert_eq(rendered_svgs(broken, 1), -1, "the script died before its marker");
}

/* Returns the integer result of sql over the JSON text bound as ?1. */
static int64_t json_q(sqlite3 *d, const char *json, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(d));
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(d));
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

Test(report, perfetto_json_is_valid_with_a_track_per_device, .timeout = 300)
{
	const char *db = campaign();
	const char *json = in_dir("trace.json"), *capped = in_dir("capped.json");
	char out[4096];
	cr_assert_eq(report(db, "--perfetto", json, NULL, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(report(db, "--perfetto", capped, "--max-events", "50", out, sizeof(out)), 0, "%s", out);
	size_t len;
	char *text = read_file(json, &len), *small = read_file(capped, &len);
	cr_assert(text && small);
	sqlite3 *d;
	cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
	cr_assert_eq(json_q(d, text, "SELECT json_valid(?1)"), 1, "not valid JSON");
	cr_assert_eq(json_q(d, small, "SELECT json_valid(?1)"), 1, "capped file: not valid JSON");
	/* the events as a table */
	cr_assert_eq(sqlite3_exec(d, "CREATE TEMP TABLE ev (pid, tid, ph, name, cat, ts, dur, arg)", NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(d, "INSERT INTO temp.ev SELECT value ->> 'pid', value ->> 'tid', value ->> 'ph',"
				       " value ->> 'name', value ->> 'cat', value ->> 'ts', value ->> 'dur',"
				       " value ->> '$.args.name' FROM json_each(?1, '$.traceEvents')", -1, &st, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(d));
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(d));
	sqlite3_finalize(st);

	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'M' AND name = 'process_name'"),
		     q1(d, "SELECT count(*) FROM run"), "a process per run");
	/* every device that logged anything in a run has its own named track there */
	cr_assert_eq(q1(d, "SELECT count(*) FROM (SELECT run, device FROM access WHERE device IS NOT NULL"
			" UNION SELECT run, device FROM irq WHERE device IS NOT NULL UNION SELECT run, device FROM switch)"
			" x WHERE NOT EXISTS (SELECT 1 FROM temp.ev WHERE ph = 'M' AND name = 'thread_name'"
			" AND pid = x.run AND arg = x.device)"), 0, "a device without its track");
	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'M' AND name = 'thread_name'"
			" AND arg = 'ringblk switches'"),
		     4, "switch tracks for an engine device in every run");
	/* slices for modes, steps, pauses; instants for accesses and interrupts */
	cr_assert_gt(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'X' AND name = 'tracking'"), 10);
	cr_assert_gt(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'X' AND name = 'virtualized'"), 10);
	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'X' AND cat = 'step'"), q1(d, "SELECT count(*) FROM step"),
		     "a slice per step");
	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'X' AND cat = 'pause'"),
		     q1(d, "SELECT count(*) FROM pause"), "a slice per pause");
	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'i' AND cat = 'access'"),
		     q1(d, "SELECT count(*) FROM access"), "an instant per access (under the cap)");
	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'i' AND cat = 'irq'"), q1(d, "SELECT count(*) FROM irq"));
	cr_assert_eq(q1(d, "SELECT count(*) FROM temp.ev WHERE ph = 'X' AND (dur < 0 OR ts < 0)"), 0);
	/* times are virtual microseconds: the last event of run 2 ends at its end */
	cr_assert_eq(q1(d, "SELECT CAST(round(max(ts + coalesce(dur, 0)) * 1000) AS INTEGER) FROM temp.ev WHERE pid = 2"),
		     q1(d, "SELECT end_vtime_ns FROM run WHERE id = 2"));
	/* the cap: at most 50 instants per run, and a marker where it cut */
	cr_assert_leq(json_q(d, small, "SELECT max(n) FROM (SELECT count(*) AS n FROM json_each(?1, '$.traceEvents')"
			     " WHERE value ->> 'ph' = 'i' AND value ->> 'cat' IN ('access', 'irq')"
			     " GROUP BY value ->> 'pid')"), 50);
	cr_assert_eq(json_q(d, small, "SELECT count(*) FROM json_each(?1, '$.traceEvents')"
			    " WHERE value ->> 'name' LIKE 'instants capped at 50%'"), 4);
	sqlite3_close(d);
	free(text);
	free(small);
}

Test(report, plots_are_drawn_by_gnuplot, .timeout = 300)
{
	const char *db = campaign();
	const char *plots = in_dir("plots");
	char out[4096];
	cr_assert_eq(report(db, "--plots", plots, NULL, NULL, out, sizeof(out)), 0, "%s", out);
	static const char *const png[] = { "switch-latency-cdf.png", "pause-length-cdf.png", "exit-rate.png" };
	for (int i = 0; i < 3; i++) {
		char path[300];
		snprintf(path, sizeof(path), "%s/%s", plots, png[i]);
		struct pic p;
		decode_png(path, 0, &p);
		cr_assert_geq(p.w, 900, "%s: %ux%u", png[i], p.w, p.h);
		cr_assert(p.colours >= 4 && p.dominant < 0.99, "%s looks empty: %u colours, %.1f%% one colour", png[i],
			  p.colours, 100 * p.dominant);
	}
	/* without gnuplot: exit 3 naming it */
	char *const argv[] = { "devirt", "report", (char *)db, "--plots", (char *)plots, NULL };
	char *const env[] = { "PATH=/nonexistent", NULL };
	cr_assert_eq(run_cmd(argv, env, out, sizeof(out)), 3, "%s", out);
	cr_assert(strstr(out, "gnuplot"), "%s", out);
}

Test(report, empty_database_says_so_in_every_form, .timeout = 60)
{
	const char *db = in_dir("empty.db");
	sqlite3 *d;
	char err[256], out[4096];
	cr_assert_eq(db__open(&d, db, err, sizeof(err)), 0, "%s", err);
	sqlite3_close(d);
	const char *html = in_dir("empty.html"), *json = in_dir("empty.json"), *plots = in_dir("plots");
	cr_assert_eq(report(db, "--html", html, "--perfetto", json, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(report(db, "--plots", plots, NULL, NULL, out, sizeof(out)), 0, "%s", out);
	size_t len;
	char *page = read_file(html, &len), *text = read_file(json, &len);
	cr_assert(page && strstr(page, "holds no runs"), "the page says there are no runs");
	cr_assert(text && strstr(text, "\"traceEvents\":[\n\n]"), "%s", text);
	cr_assert(access(in_dir("plots/exit-rate.png"), R_OK) == 0);
	free(page);
	free(text);
}

Test(report, bad_input_is_one_line_exit_2)
{
	char out[1024];
	char *const missing[] = { "devirt", "report", "/nonexistent/x.db", "--html", "/tmp/x.html", NULL };
	cr_assert_eq(run_cmd(missing, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "/nonexistent/x.db"), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
	const char *junk = temp_file("not a database at all, just text\n", 33);
	char *const notdb[] = { "devirt", "report", (char *)junk, "--html", "/tmp/x.html", NULL };
	cr_assert_eq(run_cmd(notdb, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, junk), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
	unlink(junk);
	char *const nothing[] = { "devirt", "report", "/tmp/x.db", NULL };
	cr_assert_eq(run_cmd(nothing, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "--html"), "usage names the outputs: %s", out);
}
