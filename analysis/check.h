/*
 * The invariant checker (DESIGN I1-I8) over a trace database. I2-I7 are SQL
 * views (analysis/checks.sql, installed into the database so anyone can
 * query them); I1 and the baseline parts of I4 and I7 compare a run with
 * its no-switch baseline here in C. Failures are stored in `violation`.
 */
#ifndef DEVIRT_CHECK_H
#define DEVIRT_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK_INVARIANTS 8

enum check_verdict { CHECK_NA = 0, CHECK_PASS, CHECK_FAIL };

/* One invariant's result on one run. */
struct check_result {
	int verdict;               /* enum check_verdict */
	uint64_t checked, failed;
	int64_t first_seq;         /* the first counterexample's event, -1 none */
	int64_t first_switch;      /* its switch, -1 none */
	char detail[256];          /* first counterexample, or why N/A */
	char context[1024];        /* the accesses around it, the switch and step */
	int baseline_failed;       /* failed a comparison with the baseline (no view row) */
};

struct check_run {
	int64_t run, baseline;     /* baseline 0: none found */
	char guest[64], verdict[24];
	struct check_result inv[CHECK_INVARIANTS];   /* [0] is I1 */
};

struct check_opts {
	int64_t run;               /* 0: every live and replay run */
	int64_t baseline;          /* 0: find one (same image, args, seed and disks, no switches) */
	double wall_factor;        /* I3 wall bound = bound x factor; 0: 1000 */
};

/* Checks the runs of the database at path; calls report for each run.
 * Returns the number of runs with a failure, or -errno with err set (bad
 * database: -EINVAL / -ENOENT). */
int check__db(const char *path, const struct check_opts *o,
	      void (*report)(void *ctx, const struct check_run *r), void *ctx,
	      char *err, size_t errlen);

/* Prints one run's results as a table (text) or a JSON object. */
void check__print_text(FILE *f, const struct check_run *r);
void check__print_json(FILE *f, const struct check_run *r, int first);

#endif
