/*
 * What a campaign tells its user: a progress line while it runs (on a
 * terminal only: runs done, failures so far, rate, ETA, rewritten in
 * place) and a summary when it ends, read back from the trace database:
 * verdicts, switches done and aborted, faults injected, violations by
 * invariant (filled by the checkers), switch-latency and pause percentiles,
 * and the failing runs with what reproduces them.
 */
#ifndef DEVIRT_INJECT_REPORT_H
#define DEVIRT_INJECT_REPORT_H

#include <stdio.h>
#include "runner.h"

struct progress {
	FILE *f;
	int tty;                  /* only a terminal gets the live line */
	const char *name;
	uint64_t total, done, failed;
	uint64_t t0, last;        /* monotonic ns: start, last redraw */
};

/* Starts progress reporting for total runs on f. */
void progress__init(struct progress *p, FILE *f, const char *name, uint64_t total);

/* camp_run_fn: counts one finished run and redraws the line (at most ten
 * times a second, and for the last run). */
void progress__run(void *p, const struct camp_result *r);

/* Ends the live line. */
void progress__end(struct progress *p);

/* Prints the summary of runs r[0..n) (run ids in db; db NULL: no trace)
 * to f; wall_ns is the campaign's duration. Returns 1 if a guest failed
 * or a violation is recorded, 0 if not, or -errno with err set when the
 * database cannot be read. */
int campaign__summary(FILE *f, const struct campaign_cfg *c, const char *db, const struct camp_result *r,
		      size_t n, uint64_t wall_ns, char *err, size_t errlen);

#endif
