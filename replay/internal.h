/*
 * What the replay files share: the pieces replay.c (single replays and
 * the command's flow), exhaustive.c (every-position injection) and
 * report.c (texts and tables) call in each other.
 */
#ifndef DEVIRT_REPLAY_INTERNAL_H
#define DEVIRT_REPLAY_INTERNAL_H

#include <stdio.h>
#include "replay.h"
#include "rig.h"
#include "../traces/store.h"

/* One violation found by exhaustive injection. */
struct violation {
	uint64_t seq;               /* the access after which the switch was injected */
	int action;
	char device[16];
	char detail[448];
};

/* Runs exhaustive injection over rt; unless opts->no_store the baseline
 * replay is stored as a new run (res->replay_run) with the violations.
 * Fills res (act[], injections, violations, ...) and the violations found
 * (*viol, *nviol; malloc'd). Returns 0, 1 (violations or a baseline that
 * is not identical) or 2 (err set in res). */
int exhaustive__run(struct rtrace *rt, const uint32_t *nx, const struct replay_opts *o,
		    struct replay_result *res, struct violation **viol, size_t *nviol, FILE *out);

/* Starts storing rig g's replay of rt as a new run (kind replay, parent the
 * run, source "DB#ID" and the injections) and points g's trace hook and
 * engine sink at it. Before rig__start. Returns 0 or -errno (err set). */
int replay__trace_start(struct trace **t, const struct rtrace *rt, const struct replay_opts *o, struct rig *g,
			char *err, size_t errlen);

/* Inserts exhaustive violations as `violation` rows (I1) of run `run`.
 * Returns 0 or -errno with err set. */
int replay__store_violations(const char *path, int64_t run, const struct violation *v, size_t n,
			     char *err, size_t errlen);

/* Prints the accesses around event index at (n either side; the event
 * itself marked), in the access text form. */
void report__context(FILE *out, const struct rtrace *rt, size_t at, int n);

/* Formats recorded event i as one line ("seq N: text"). Returns buf. */
char *report__event(const struct rtrace *rt, size_t i, char *buf, size_t len);

/* Prints a conform replay's differences: count, and per register the
 * count and the first few. */
void report__conform(FILE *out, const struct rig *g);

/* Prints the exhaustive summary table. */
void report__summary(FILE *out, const struct replay_result *res, double wall_s, uint64_t trace_accesses);

/* Draws (or clears, done set) the progress bar on stderr. */
void report__progress(uint64_t done, uint64_t total, uint64_t violations, double elapsed_s, int finished);

/* Returns host monotonic time in seconds. */
double report__now(void);

#endif
