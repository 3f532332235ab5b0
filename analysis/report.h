/*
 * Reports of a trace database, for people to look at (issue "Reports"):
 * one self-contained HTML page (runs, verdicts, invariants, a timeline per
 * run, latency and pause histograms), a Chrome trace-event JSON file for
 * Perfetto / chrome://tracing, and PNG plots drawn by gnuplot. All three
 * only read the database (it may be open read-only); times are virtual.
 */
#ifndef DEVIRT_REPORT_H
#define DEVIRT_REPORT_H

#include <stddef.h>
#include <sqlite3.h>

struct report_opts {
	int max_runs;         /* runs given a timeline (HTML) or an exit-rate panel (plots) */
	long max_events;      /* per run: access and interrupt instants in the Perfetto JSON */
};

#define REPORT_MAX_RUNS 20
#define REPORT_MAX_EVENTS 200000L
#define REPORT_MAX_PANELS 6   /* exit-rate panels in one PNG, whatever max_runs says */

/* Writes the HTML page of db (named dbname on the page) to path. Returns 0,
 * or -errno with "what: reason" in err (a path that cannot be written, an
 * SQL error naming dbname). */
int report__html(sqlite3 *db, const char *dbname, const char *path, const struct report_opts *o,
		 char *err, size_t errlen);

/* Writes the Perfetto / Chrome trace-event JSON of db to path. Returns 0 or
 * -errno with err set. */
int report__perfetto(sqlite3 *db, const char *dbname, const char *path, const struct report_opts *o,
		     char *err, size_t errlen);

/* Returns 1 if gnuplot can be run (found on PATH), else 0. */
int report__have_gnuplot(void);

/* Writes the plots' data files and gnuplot script into dir (created when
 * missing) and runs gnuplot there to draw the PNGs. Returns 0 or -errno
 * with err set (-ENOENT: gnuplot missing; -EPROTO: gnuplot failed, its
 * first error line in err). */
int report__plots(sqlite3 *db, const char *dbname, const char *dir, const struct report_opts *o,
		  char *err, size_t errlen);

#endif
