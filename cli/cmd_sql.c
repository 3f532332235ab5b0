/*
 * devirt sql DB QUERY [--csv]: runs SQL over a trace database opened
 * read-only, with the trace functions (traces/sqlite_ext.h) registered.
 * QUERY may hold several statements separated by ';' (e.g. a CREATE TEMP
 * VIEW and a SELECT); each one that returns columns prints a header row and
 * its rows, outputs separated by one empty line.
 *
 * Table (default): columns two spaces apart, numbers right-aligned, text
 * left-aligned, a dashed rule under the header, NULL as an empty cell,
 * BLOBs as x'..'. CSV (--csv): RFC 4180 with CRLF line ends; fields holding
 * , " CR or LF are quoted, NULL is an empty field and '' is "".
 * Exit 0; 2 on bad usage, a missing or non-devirt DB, or an SQL error
 * ("devirt sql: DB: message"); 3 when the system fails (memory, disk).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../traces/db.h"
#include "../traces/sqlite_ext.h"

#define USAGE "usage: devirt sql DB QUERY [--csv]\n"

/* One cell of a buffered table: its text, and whether it is a number or NULL. */
struct cell {
	char *s;
	int num, null;
};

/* A result buffered for alignment: rows * ncol cells, row 0 the header. */
struct table {
	int ncol;
	size_t rows, cap;
	struct cell *cells;
};

/* Returns column i of st's current row as malloc'd text (NULL on OOM). */
static char *col_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) != SQLITE_BLOB) {
		const char *t = (const char *)sqlite3_column_text(st, i);
		return strdup(t ? t : "");
	}
	const unsigned char *b = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	char *s = malloc(2 * (size_t)n + 4);
	if (!s)
		return NULL;
	char *p = s + sprintf(s, "x'");
	for (int k = 0; k < n; k++)
		p += sprintf(p, "%02x", b[k]);
	strcpy(p, "'");
	return s;
}

/* Appends one row (header when header is set) to t. Returns 0 or -ENOMEM. */
static int table_add(struct table *t, sqlite3_stmt *st, int header)
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct cell *c = realloc(t->cells, cap * (size_t)t->ncol * sizeof(*c));
		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	struct cell *row = t->cells + t->rows * (size_t)t->ncol;
	int rc = 0;
	for (int i = 0; i < t->ncol; i++) {
		int type = header ? SQLITE_TEXT : sqlite3_column_type(st, i);
		row[i].s = header ? strdup(sqlite3_column_name(st, i)) : col_text(st, i);
		row[i].num = type == SQLITE_INTEGER || type == SQLITE_FLOAT;
		row[i].null = type == SQLITE_NULL;
		if (!row[i].s)
			rc = -ENOMEM;
	}
	t->rows++;
	return rc;
}

/* Frees the cells of t. */
static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->rows * (size_t)t->ncol; i++)
		free(t->cells[i].s);
	free(t->cells);
}

/* Returns the display width of UTF-8 text s (its code points). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Prints one line of cells, each padded to w[i] (right-aligned where
 * right[i]), two spaces apart, without trailing blanks. */
static void print_line(const struct table *t, char *const *text, const size_t *w, const int *right)
{
	for (int i = 0, pend = 0; i < t->ncol; i++) {
		size_t pad = w[i] - width(text[i]);
		if (i)
			pend += 2;
		if (right[i])
			pend += (int)pad;
		if (*text[i]) {
			printf("%*s%s", pend, "", text[i]);
			pend = right[i] ? 0 : (int)pad;
		} else if (!right[i]) {
			pend += (int)pad;
		}
	}
	putchar('\n');
}

/* Prints t aligned: header, a dashed rule, the rows. A number is
 * right-aligned, and so is the header of a column whose values all are. */
static int table_print(const struct table *t)
{
	size_t n = (size_t)t->ncol, maxw = 0;
	size_t *w = calloc(n, sizeof(*w));
	int *right = calloc(n, sizeof(*right)), *numcol = calloc(n, sizeof(*numcol));
	char **text = calloc(n, sizeof(*text)), *dash = NULL;
	if (!w || !right || !numcol || !text)
		goto out;
	for (size_t i = 0; i < n; i++) {
		for (size_t r = 0; r < t->rows; r++) {
			const struct cell *c = &t->cells[r * n + i];
			size_t cw = width(c->s);
			w[i] = cw > w[i] ? cw : w[i];
			if (r && !c->null)   /* 1: numbers so far, -1: some text */
				numcol[i] = c->num && numcol[i] >= 0 ? 1 : -1;
		}
		maxw = w[i] > maxw ? w[i] : maxw;
	}
	if (!(dash = malloc(maxw + 1)))
		goto out;
	memset(dash, '-', maxw);
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t i = 0; i < n; i++) {
			text[i] = t->cells[r * n + i].s;
			right[i] = r ? t->cells[r * n + i].num : numcol[i] > 0;
		}
		print_line(t, text, w, right);
		for (size_t i = 0; !r && i < n; i++)   /* the rule under the header */
			printf("%s%.*s%s", i ? "  " : "", (int)w[i], dash, i + 1 < n ? "" : "\n");
	}
out:
	free(w);
	free(right);
	free(numcol);
	free(text);
	int rc = dash ? 0 : -ENOMEM;
	free(dash);
	return rc;
}

/* Prints one CSV field (RFC 4180), sep before it. */
static void csv_field(const char *sep, const char *s, int null)
{
	fputs(sep, stdout);
	if (null)
		return;
	if (*s && !strpbrk(s, ",\"\r\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* Steps st to the end, printing its result. Returns an SQLite code, or
 * SQLITE_NOMEM when buffering fails. */
static int run_stmt(sqlite3_stmt *st, int csv, int *outputs)
{
	struct table t = { .ncol = sqlite3_column_count(st) };
	int rc = SQLITE_OK;
	if (t.ncol && (*outputs)++)
		putchar('\n');
	if (t.ncol && csv) {
		for (int i = 0; i < t.ncol; i++)
			csv_field(i ? "," : "", sqlite3_column_name(st, i), 0);
		fputs("\r\n", stdout);
	} else if (t.ncol && table_add(&t, st, 1)) {
		rc = SQLITE_NOMEM;
	}
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (!t.ncol)
			continue;
		if (!csv) {
			rc = table_add(&t, st, 0) ? SQLITE_NOMEM : SQLITE_OK;
			continue;
		}
		for (int i = 0; rc == SQLITE_OK && i < t.ncol; i++) {
			char *s = col_text(st, i);
			if (s)
				csv_field(i ? "," : "", s, sqlite3_column_type(st, i) == SQLITE_NULL);
			else
				rc = SQLITE_NOMEM;
			free(s);
		}
		fputs("\r\n", stdout);
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (rc == SQLITE_OK && t.ncol && !csv && table_print(&t))
		rc = SQLITE_NOMEM;
	table_free(&t);
	return rc;
}

/* Exit status for an SQLite error: the system's fault or the input's. */
static int status_of(int rc)
{
	int e = db__errno(rc);
	return e == -ENOMEM || e == -ENOSPC || e == -EIO ? EXIT_ENV : EXIT_USAGE;
}

int cmd_sql(int argc, char **argv)
{
	const char *pos[3];
	int csv = 0, npos = 0;

	for (int i = 1; i < argc; i++) {   /* not getopt: a query may start with "--" */
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf(USAGE);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--csv"))
			csv = 1;
		else if (npos < 3)
			pos[npos++] = argv[i];
	}
	if (npos != 2) {
		fprintf(stderr, "devirt sql: expected DB and one QUERY argument (quote the query)\n" USAGE);
		return EXIT_USAGE;
	}
	const char *path = pos[0], *tail = pos[1];
	char err[512];
	sqlite3 *db;
	if (db__open_ro(&db, path, err, sizeof(err))) {
		fprintf(stderr, "devirt sql: %s\n", err);
		return EXIT_USAGE;
	}
	int rc = devirt_sqlite__register(db), outputs = 0;
	while (rc == SQLITE_OK && *tail) {
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
		if (rc == SQLITE_OK && st)
			rc = run_stmt(st, csv, &outputs);
		if (rc != SQLITE_OK) {
			fflush(stdout);
			fprintf(stderr, "devirt sql: %s: %s\n", path,
				rc == SQLITE_NOMEM ? sqlite3_errstr(rc) : sqlite3_errmsg(db));
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	if (rc == SQLITE_OK && fflush(stdout)) {
		fprintf(stderr, "devirt sql: writing output: %s\n", strerror(errno));
		return EXIT_ENV;
	}
	return rc == SQLITE_OK ? EXIT_OK : status_of(rc);
}
