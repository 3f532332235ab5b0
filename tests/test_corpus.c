/*
 * The trace corpus (traces/corpus/) as a regression test: every trace that
 * traces/corpus/manifest.ini lists is replayed offline through the devirt
 * binary and every expected outcome the manifest gives is checked exactly:
 * "identical" for our own recorded runs, the conformance report (reads
 * compared, reads that differ, the count per register) for QEMU-imported
 * and observed runs, the trace's size, and for exhaustive injection the
 * action's injections, identical injections, violations and the polls and
 * waits inserted. A change to a device model, the engine or the replay that
 * alters behaviour therefore fails here, and every failure message starts
 * with "corpus NAME:", the trace's manifest section. The manifest and the
 * directory must agree: every trace file listed, every listed file present.
 *
 * Offline replay needs no KVM, QEMU or root: this runs everywhere. Each
 * trace is replayed on a temporary copy (a .db.gz gunzipped, a QEMU log
 * imported), since devirt replay stores the replay as a run.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <ini.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "helpers.h"

#define CORPUS   "traces/corpus"
#define MANIFEST CORPUS "/manifest.ini"
#define MAX_ENTRIES 64
#define MAX_REGS 32

/* The numeric keys of a manifest section, in struct entry's num[] order. */
enum nkey { K_READS, K_DIFFER, K_EVENTS, K_ACCESSES, K_INJECTIONS, K_INJ_IDENTICAL, K_VIOLATIONS, K_POLLS,
	    K_WAITS, NKEYS };
static const char *const nkey_name[NKEYS] = { "reads", "differ", "events", "accesses", "injections",
					      "injections_identical", "violations", "polls", "waits" };

struct regcount {
	char name[64];           /* "DEVICE.REGISTER" as the report prints them */
	long long n;
};

/* One manifest section. */
struct entry {
	char name[64], file[128], kind[16], replay[16], exhaustive[16];
	long long num[NKEYS];
	unsigned has;            /* bit k: num[k] given */
	struct regcount reg[MAX_REGS];
	int nreg;
	char err[256];           /* the first problem in the section, if any */
};

struct manifest {
	struct entry e[MAX_ENTRIES];
	int n;
	int line;                /* ini_parse's status: 0, a line, -1 */
	char err[256];           /* a problem outside any one section */
};

static char out[1 << 17];

/* Keeps the first problem found in a section. */
static void __attribute__((format(printf, 2, 3))) entry_err(struct entry *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!e->err[0])
		vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

/* Copies value into a fixed field, refusing what does not fit. */
static void set_str(struct entry *e, char *dst, size_t len, const char *key, const char *value)
{
	if (strlen(value) >= len)
		entry_err(e, "%s = %s: too long", key, value);
	else
		strcpy(dst, value);
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct manifest *m = user;
	struct entry *e = m->n ? &m->e[m->n - 1] : NULL;
	if (!e || strcmp(e->name, section)) {
		for (int i = 0; i < m->n; i++)
			if (!strcmp(m->e[i].name, section)) {
				snprintf(m->err, sizeof(m->err), "section [%s] appears twice", section);
				return 1;
			}
		if (m->n == MAX_ENTRIES || strlen(section) >= sizeof(e->name)) {
			snprintf(m->err, sizeof(m->err), "too many sections, or [%s] is too long", section);
			return 1;
		}
		e = &m->e[m->n++];
		memset(e, 0, sizeof(*e));
		strcpy(e->name, section);
	}
	if (!strcmp(key, "about"))
		return 1;
	if (!strcmp(key, "file"))
		set_str(e, e->file, sizeof(e->file), key, value);
	else if (!strcmp(key, "kind"))
		set_str(e, e->kind, sizeof(e->kind), key, value);
	else if (!strcmp(key, "replay"))
		set_str(e, e->replay, sizeof(e->replay), key, value);
	else if (!strcmp(key, "exhaustive"))
		set_str(e, e->exhaustive, sizeof(e->exhaustive), key, value);
	else {
		char *end;
		long long v = strtoll(value, &end, 10);
		if (!*value || *end || v < 0) {
			entry_err(e, "%s = %s: not a count", key, value);
			return 1;
		}
		if (!strncmp(key, "differ.", 7)) {
			if (e->nreg == MAX_REGS || strlen(key + 7) >= sizeof(e->reg[0].name)) {
				entry_err(e, "%s: too many registers or too long a name", key);
				return 1;
			}
			for (int i = 0; i < e->nreg; i++)
				if (!strcmp(e->reg[i].name, key + 7))
					entry_err(e, "%s given twice", key);
			strcpy(e->reg[e->nreg].name, key + 7);
			e->reg[e->nreg++].n = v;
			return 1;
		}
		int k = 0;
		while (k < NKEYS && strcmp(key, nkey_name[k]))
			k++;
		if (k == NKEYS) {
			entry_err(e, "unknown key '%s'", key);
			return 1;
		}
		if (e->has & (1u << k))
			entry_err(e, "%s given twice", key);
		e->num[k] = v;
		e->has |= 1u << k;
	}
	return 1;
}

/* Returns 1 when s ends with suffix. */
static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* Checks what one section says against the manifest's rules (the key list
 * at the top of manifest.ini); the first problem goes into e->err. */
static void validate(struct entry *e)
{
	const char *suffix = !strcmp(e->kind, "db") ? ".db.gz" : !strcmp(e->kind, "qemu-log") ? ".log.gz" : NULL;
	char want[200];
	snprintf(want, sizeof(want), "%s%s", e->name, suffix ? suffix : "");
	if (!e->file[0] || !e->kind[0] || !e->replay[0])
		entry_err(e, "file, kind and replay are required");
	else if (!suffix)
		entry_err(e, "kind = %s: expected db or qemu-log", e->kind);
	else if (strcmp(e->file, want))
		entry_err(e, "file = %s: this section's %s trace is %s", e->file, e->kind, want);
	int conform = !strcmp(e->replay, "conformance");
	if (!conform && strcmp(e->replay, "identical"))
		entry_err(e, "replay = %s: expected identical or conformance", e->replay);
	unsigned cmask = 1u << K_READS | 1u << K_DIFFER;
	if (conform && (e->has & cmask) != cmask)
		entry_err(e, "replay = conformance needs reads and differ");
	if (!conform && ((e->has & cmask) || e->nreg))
		entry_err(e, "reads, differ and differ.* go with replay = conformance");
	long long sum = 0;
	for (int i = 0; i < e->nreg; i++)
		sum += e->reg[i].n;
	if (conform && sum != e->num[K_DIFFER])
		entry_err(e, "the differ.* rows add up to %lld, differ = %lld", sum, e->num[K_DIFFER]);
	unsigned xmask = 1u << K_INJECTIONS | 1u << K_INJ_IDENTICAL | 1u << K_VIOLATIONS | 1u << K_POLLS |
			 1u << K_WAITS;
	if (e->exhaustive[0]) {
		if (strcmp(e->exhaustive, "virtualize") && strcmp(e->exhaustive, "devirtualize") &&
		    strcmp(e->exhaustive, "roundtrip"))
			entry_err(e, "exhaustive = %s: expected virtualize, devirtualize or roundtrip", e->exhaustive);
		if (!(e->has & 1u << K_INJECTIONS) || !(e->has & 1u << K_VIOLATIONS))
			entry_err(e, "exhaustive needs injections and violations");
	} else if (e->has & xmask) {
		entry_err(e, "injections, injections_identical, violations, polls and waits go with exhaustive");
	}
}

/* Parses the manifest into a static copy (each test runs in a process of
 * its own; nothing to free when an assertion ends it). */
static struct manifest *load(void)
{
	static struct manifest m;
	memset(&m, 0, sizeof(m));
	m.line = ini_parse(MANIFEST, on_key, &m);
	for (int i = 0; i < m.n; i++)
		validate(&m.e[i]);
	return &m;
}

/* The manifest parsed cleanly: asserts, naming the line or section. */
static void manifest_ok(const struct manifest *m)
{
	cr_assert_neq(m->line, -1, "corpus: cannot open %s (run the tests from the top of the tree)", MANIFEST);
	cr_assert_eq(m->line, 0, "corpus: %s:%d: not an INI line", MANIFEST, m->line);
	cr_assert(!m->err[0], "corpus: %s: %s", MANIFEST, m->err);
	cr_assert_gt(m->n, 0, "corpus: %s lists no trace", MANIFEST);
}

/* One parameter per manifest section: its index (cr_malloc'd, so the test
 * workers see it). */
static void free_params(struct criterion_test_params *p)
{
	cr_free(p->params);
}

ParameterizedTestParameters(corpus, trace)
{
	struct manifest *m = load();
	size_t n = m->line == 0 && !m->err[0] ? (size_t)m->n : 0;   /* else corpus::manifest fails */
	int *idx = cr_malloc(sizeof(int) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, n, free_params);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Gunzips src into dst; returns 0 or -1. */
static int gunzip(const char *src, const char *dst)
{
	gzFile in = gzopen(src, "rb");
	FILE *o = fopen(dst, "wb");
	int rc = in && o ? 0 : -1;
	char buf[65536];
	int n;
	while (!rc && (n = gzread(in, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, o) != (size_t)n)
			rc = -1;
	if (!rc && n < 0)
		rc = -1;
	if (in)
		gzclose(in);
	if (o && fclose(o))
		rc = -1;
	return rc;
}

/* The line of out that starts with prefix (after a newline or at the
 * start), or NULL. */
static const char *line_starting(const char *prefix)
{
	size_t n = strlen(prefix);
	if (!strncmp(out, prefix, n))
		return out;
	char want[64];
	snprintf(want, sizeof(want), "\n%s", prefix);
	const char *p = strstr(out, want);
	return p ? p + 1 : NULL;
}

/* Checks a count the manifest gives (key k) against the one printed. */
#define EXPECT_COUNT(e, k, got, what)                                                                        \
	do {                                                                                                 \
		if ((e)->has & (1u << (k)))                                                                  \
			cr_expect_eq((got), (e)->num[k], "corpus %s: expected %lld %s, got %lld", (e)->name, \
				     (e)->num[k], (what), (long long)(got));                                 \
	} while (0)

/* The replay summary's "N events, M accesses, ..." line. */
static void check_size(const struct entry *e)
{
	const char *p = strstr(out, " events, ");
	long long events = -1, accesses = -1;
	while (p && p > out && p[-1] != '\n')
		p--;
	cr_assert(p && sscanf(p, " %lld events, %lld accesses", &events, &accesses) == 2,
		  "corpus %s: no \"N events, M accesses\" line in the replay's output:\n%s", e->name, out);
	EXPECT_COUNT(e, K_EVENTS, events, "events replayed");
	EXPECT_COUNT(e, K_ACCESSES, accesses, "accesses replayed");
}

/* The conformance report: the totals and every row, both ways. */
static void check_conformance(const struct entry *e)
{
	const char *c = line_starting("conformance: our models answered ");
	long long differ, reads;
	cr_assert(c && sscanf(c, "conformance: our models answered %lld of %lld reads", &differ, &reads) == 2,
		  "corpus %s: expected a conformance report, got:\n%s", e->name, out);
	EXPECT_COUNT(e, K_DIFFER, differ, "conformance differences");
	EXPECT_COUNT(e, K_READS, reads, "reads compared");
	int seen[MAX_REGS] = { 0 };
	/* rows: "  DEVICE REGISTER N differ; first: ..." */
	for (const char *l = strchr(c, '\n'); l && l[1] == ' ' && l[2] == ' '; l = strchr(l + 1, '\n')) {
		char dev[32], reg[32], name[64];
		long long n;
		int used = 0;
		if (sscanf(l + 1, " %31s %31s %lld differ;%n", dev, reg, &n, &used) != 3 || !used)
			break;
		snprintf(name, sizeof(name), "%s.%s", dev, reg);
		int i = 0;
		while (i < e->nreg && strcmp(e->reg[i].name, name))
			i++;
		if (i == e->nreg) {
			cr_expect_fail("corpus %s: the conformance report has a row differ.%s = %lld that the manifest"
				       " does not list", e->name, name, n);
			continue;
		}
		seen[i] = 1;
		cr_expect_eq(n, e->reg[i].n, "corpus %s: expected %lld differences in %s, got %lld", e->name,
			     e->reg[i].n, name, n);
	}
	for (int i = 0; i < e->nreg; i++)
		cr_expect(seen[i], "corpus %s: expected %lld differences in %s, the report has no such row", e->name,
			  e->reg[i].n, e->reg[i].name);
}

/* The exhaustive summary: the action's row and the polls and waits. */
static void check_exhaustive(const struct entry *e, int st)
{
	char label[32];
	snprintf(label, sizeof(label), "%s ", e->exhaustive);
	const char *row = line_starting(label);
	unsigned long long inj, ident, reconv, med, max, viol;
	cr_assert(row && sscanf(row + strlen(label), "%llu %llu %llu %llu %llu %llu", &inj, &ident, &reconv, &med,
				&max, &viol) == 6,
		  "corpus %s: no '%s' row in the exhaustive summary (exit %d):\n%s", e->name, e->exhaustive, st, out);
	cr_expect_eq(st, viol ? 1 : 0, "corpus %s: exhaustive replay exited %d with %llu violations", e->name, st,
		     viol);
	EXPECT_COUNT(e, K_INJECTIONS, inj, "injections");
	EXPECT_COUNT(e, K_INJ_IDENTICAL, ident, "identical injections");
	EXPECT_COUNT(e, K_VIOLATIONS, viol, "violations");
	const char *t = line_starting("trace: ");
	const char *p = t ? strstr(t, " polls and ") : NULL;
	cr_assert(p, "corpus %s: no \"P polls and W waits inserted\" in:\n%s", e->name, out);
	const char *q = p;
	while (q > t && q[-1] != ' ')
		q--;
	EXPECT_COUNT(e, K_POLLS, strtoll(q, NULL, 10), "polls inserted");
	EXPECT_COUNT(e, K_WAITS, strtoll(p + strlen(" polls and "), NULL, 10), "waits inserted");
	if ((long long)viol != e->num[K_VIOLATIONS])
		cr_log_error("corpus %s: the exhaustive replay said:\n%s", e->name, out);
}

ParameterizedTest(int *i, corpus, trace, .timeout = 180)
{
	struct manifest *m = load();
	manifest_ok(m);
	cr_assert_lt(*i, m->n, "corpus: the manifest changed under the test");
	const struct entry *e = &m->e[*i];
	cr_assert(!e->err[0], "corpus %s: %s: %s", e->name, MANIFEST, e->err);
	char src[256], db[80], copy[80];
	snprintf(src, sizeof(src), "%s/%s", CORPUS, e->file);
	cr_assert_eq(access(src, R_OK), 0, "corpus %s: %s is missing", e->name, src);
	new_path(db, ".db");
	if (!strcmp(e->kind, "db")) {
		cr_assert_eq(gunzip(src, db), 0, "corpus %s: cannot gunzip %s into %s", e->name, src, db);
	} else {
		char *argv[] = { "devirt", "import", "qemu", src, "--db", db, NULL };
		int st = run_cmd(argv, NULL, out, sizeof(out));
		cr_assert_eq(st, 0, "corpus %s: devirt import qemu exited %d:\n%s", e->name, st, out);
	}
	sqlite3 *d;
	cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "corpus %s: %s", e->name, db);
	int64_t run1 = q1(d, "SELECT count(*) FROM run WHERE id = 1"), runs = q1(d, "SELECT count(*) FROM run");
	sqlite3_close(d);
	cr_assert(run1 == 1 && runs == 1, "corpus %s: the database must hold run 1 only (%lld runs)", e->name,
		  (long long)runs);
	/* the exhaustive replay stores a run too: it gets a copy of its own */
	new_path(copy, ".db");
	if (e->exhaustive[0]) {
		size_t len;
		void *bytes = read_file(db, &len);
		FILE *f = fopen(copy, "wb");
		int ok = bytes && f && fwrite(bytes, 1, len, f) == len;
		ok = f && !fclose(f) && ok;
		free(bytes);
		cr_assert(ok, "corpus %s: cannot copy %s to %s", e->name, db, copy);
	}

	double t0 = now_s();
	char *replay[] = { "devirt", "replay", db, "--run", "1", NULL };
	int st = run_cmd(replay, NULL, out, sizeof(out));
	if (st != 0) {                        /* the usual regression: no temporary files left */
		rm_db(db);
		rm_db(copy);
		cr_assert_fail("corpus %s: devirt replay exited %d:\n%s", e->name, st, out);
	}
	if (!strcmp(e->replay, "identical"))
		cr_expect(strstr(out, "): identical\n"), "corpus %s: expected an identical replay, got:\n%s", e->name,
			  out);
	else
		check_conformance(e);
	check_size(e);
	double t1 = now_s();

	if (e->exhaustive[0]) {
		char actions[48];
		snprintf(actions, sizeof(actions), "--actions=%s", e->exhaustive);
		char *exh[] = { "devirt", "replay", copy, "--run", "1", "--exhaustive", actions, "--no-progress", NULL };
		st = run_cmd(exh, NULL, out, sizeof(out));
		rm_db(copy);
		if (st != 0 && st != 1) {
			rm_db(db);
			cr_assert_fail("corpus %s: exhaustive replay exited %d:\n%s", e->name, st, out);
		}
		check_exhaustive(e, st);
	}
	if (e->exhaustive[0])
		cr_log_info("corpus %s: replay %.2f s, exhaustive %s %.2f s", e->name, t1 - t0, e->exhaustive,
			    now_s() - t1);
	else
		cr_log_info("corpus %s: replay %.2f s", e->name, t1 - t0);
	rm_db(db);
}

Test(corpus, manifest_and_directory_agree)
{
	struct manifest *m = load();
	manifest_ok(m);
	for (int i = 0; i < m->n; i++) {
		const struct entry *e = &m->e[i];
		cr_expect(!e->err[0], "corpus %s: %s: %s", e->name, MANIFEST, e->err);
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", CORPUS, e->file);
		struct stat sb;
		cr_expect(e->file[0] && stat(path, &sb) == 0 && S_ISREG(sb.st_mode),
			  "corpus %s: %s lists %s, which is not in %s", e->name, MANIFEST, e->file, CORPUS);
	}
	/* every trace file in the directory is listed; nothing else lies there */
	static const char *const own[] = { "manifest.ini", "README.md", "make-corpus.sh", "outcome.sh" };
	DIR *dir = opendir(CORPUS);
	cr_assert_not_null(dir, "corpus: cannot open %s", CORPUS);
	int traces = 0;
	for (struct dirent *de; (de = readdir(dir));) {
		if (de->d_name[0] == '.')
			continue;
		size_t k = 0;
		while (k < sizeof(own) / sizeof(own[0]) && strcmp(de->d_name, own[k]))
			k++;
		if (k < sizeof(own) / sizeof(own[0]))
			continue;
		if (!ends_with(de->d_name, ".db.gz") && !ends_with(de->d_name, ".log.gz")) {
			cr_expect_fail("corpus: %s/%s is not a trace (NAME.db.gz or NAME.log.gz) nor one of the corpus's"
				       " own files", CORPUS, de->d_name);
			continue;
		}
		traces++;
		int listed = 0;
		for (int i = 0; i < m->n; i++)
			listed |= !strcmp(m->e[i].file, de->d_name);
		cr_expect(listed, "corpus: %s/%s is not listed in %s", CORPUS, de->d_name, MANIFEST);
	}
	closedir(dir);
	cr_expect_eq(traces, m->n, "corpus: %d trace files for %d manifest sections", traces, m->n);
}
