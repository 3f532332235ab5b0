/*
 * What the report writers share (private to analysis/report*.c): the
 * report context, a run with its device lanes and their mode spans derived
 * from the switch and step rows, value series for histograms and CDFs, and
 * text helpers (escaping for HTML and JSON, durations, axis steps).
 */
#ifndef DEVIRT_REPORT_INT_H
#define DEVIRT_REPORT_INT_H

#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>
#include "report.h"

/* One report being written. */
struct rp {
	sqlite3 *db;
	const char *dbname;
	const struct report_opts *o;
	FILE *f;                  /* the output being written */
	char *tmp;                /* its temporary name until it is complete */
	long nev;                 /* JSON events written (the first has no comma) */
	char *err;
	size_t errlen;
	char **sw;                /* devices the engine switched in some run (loaded once) */
	int nsw, sw_loaded;
};

/* Frees what a report accumulated in r (not the database). */
void rp_free(struct rp *r);

/* A device's mode as the timeline shows it (DESIGN V1-V6, D1-D7). */
enum rp_mode { RM_PASS, RM_TRACK, RM_VIRT, RM_QUIESCE, RM_NMODES };
extern const char *const rp_mode_name[RM_NMODES];

/* The device was in mode from t0 to t1 (virtual ns; t1 == t0 is possible:
 * many switches take no virtual time). */
struct rp_span {
	int64_t t0, t1;
	int mode;
};

/* One device of a run: a timeline lane, a Perfetto track. */
struct rp_lane {
	char *name;
	int switched;             /* the engine switched it in some run of the DB */
	struct rp_span *span;
	size_t n, cap;
	int cur;                  /* while building: mode since t0 */
	int64_t t0;
};

#define RP_NULL INT64_MIN     /* an integer column that was NULL */

/* A run row and what the reports derive from it. */
struct rp_run {
	int64_t id, parent, seed, exit_code, exits, end_vt;
	char *guest, *kind, *args, *config, *verdict, *start_wall, *end_wall;
	struct rp_lane *lane;
	int nlane;
};

/* Prepares sql on r's database. Returns 0, or -EINVAL with "DB: message" in r->err. */
int rp_prepare(struct rp *r, sqlite3_stmt **st, const char *sql);

/* Steps st. Returns SQLITE_ROW or SQLITE_DONE, or -errno with r->err set. */
int rp_step(struct rp *r, sqlite3_stmt *st);

/* Returns column i of st as malloc'd text ("" when NULL); NULL on OOM. */
char *rp_text(sqlite3_stmt *st, int i);

/* Returns integer column i of st, or RP_NULL when it is NULL. */
int64_t rp_int(sqlite3_stmt *st, int i);

/* Sets *ids to the malloc'd ids of the DB's runs in order, *n to their
 * number. Returns 0 or -errno. */
int rp_run_ids(struct rp *r, int64_t **ids, size_t *n);

/* Loads run id: its row, its virtual end, and when lanes is set its lanes
 * (devices it switched or with an interrupt line) with their mode spans.
 * Returns 0 or -errno; free with rp_run_free either way. */
int rp_run_load(struct rp *r, int64_t id, int lanes, struct rp_run *run);

/* Frees what rp_run_load allocated. */
void rp_run_free(struct rp_run *run);

/* Returns the index of dev's lane in run, or -1. */
int rp_lane_of(const struct rp_run *run, const char *dev);

/* Named values (ns), e.g. one device's switch latencies. */
struct rp_series {
	char *name;
	int64_t *v;
	size_t n, cap;
};

/* Sorted per-device latencies of completed switches (completed minus
 * requested virtual time) of run (0: every run). Returns 0 or -errno. */
int rp_latencies(struct rp *r, int64_t run, struct rp_series **s, int *ns);

/* Sorted per-kind lengths of closed pauses of run (0: every run). */
int rp_pauses(struct rp *r, int64_t run, struct rp_series **s, int *ns);

/* Frees ns series. */
void rp_series_free(struct rp_series *s, int ns);

/* Returns the value at quantile q (0..1) of sorted series s (n > 0). */
int64_t rp_quantile(const struct rp_series *s, double q);

/* Writes s HTML-escaped (invalid UTF-8 becomes U+FFFD). */
void rp_html(FILE *f, const char *s);

/* Writes s as a quoted JSON string (invalid UTF-8 becomes U+FFFD). */
void rp_json(FILE *f, const char *s);

/* Formats ns as a short duration ("0", "850 ns", "12.5 µs", "3.2 ms",
 * "1.25 s") into buf; returns buf. */
const char *rp_dur(char *buf, size_t len, double ns);

/* Returns a 1, 2 or 5 x 10^k step giving at most maxticks ticks over span. */
double rp_nice_step(double span, int maxticks);

/* Timeline geometry (px): label column, plot width (one bin per pixel),
 * right margin. */
enum { TL_X0 = 110, TL_W = 1000, TL_PAD = 16 };

/* Colours shared by the legend, the timelines and the histograms. */
extern const char *const rp_mode_colour[RM_NMODES];
#define RP_C_FIXED "#d5dbe0"      /* a device the engine never switches */
#define RP_C_SWITCH "#263238"     /* switch requested */
#define RP_C_ABORT "#e53935"      /* switch aborted */
#define RP_C_IRQ_GUEST "#2e7d32"  /* interrupt edge towards the guest */
#define RP_C_IRQ_MON "#ef6c00"    /* interrupt edge routed to the monitor */
#define RP_C_DEFER "#00897b"      /* deferred access */
#define RP_C_FAULT "#b71c1c"      /* injected fault */
#define RP_C_EXITS "#90a4ae"      /* exits per bin */
#define RP_C_INJECT "#37474f"     /* interrupt injected into the guest */

/* Returns the colour of pause kind (wait, quiesce, busy, defer). */
const char *rp_pause_colour(const char *kind);

/* Returns the colour of the i-th series of a histogram (a palette). */
const char *rp_palette(int i, const char *name);

/* Writes run's timeline (inline SVG) to r->f. Returns 0 or -errno. */
int rp_svg_timeline(struct rp *r, const struct rp_run *run);

/* Writes the timeline's legend (inline SVG) to f. */
void rp_svg_legend(FILE *f);

/* Writes an SVG histogram of the series to f: grouped bars over 1-2-5
 * duration bins, log count scale, legend; colour(i, name) for series i. */
void rp_svg_histogram(FILE *f, const char *title, const struct rp_series *s, int ns,
		      const char *(*colour)(int i, const char *name));

/* Writes an HTML table of each series' count, min, median, p90, p99, max. */
void rp_stats_table(FILE *f, const char *what, const struct rp_series *s, int ns);

/* Opens path ("-": stdout) for writing as r->f. Returns 0 or -errno. */
int rp_out_open(struct rp *r, const char *path);

/* Finishes r->f: on rc == 0 puts it in place at path, else removes it.
 * Returns rc, or the first write error. */
int rp_out_close(struct rp *r, const char *path, int rc);

/* Fills r->err with "what: strerror(-rc)" and returns rc. */
int rp_syserr(struct rp *r, const char *what, int rc);

#endif
