/*
 * The campaign runner: runs a slice of a campaign's runs, each on the
 * session's VM reset from its snapshot (or on a new VM with reset =
 * fresh), with its own derived seed, its switch triggers and its faults,
 * each run a run row in the trace database. A run's number (index) and
 * seed are those of the whole campaign whatever the slice, so shards and
 * jobs produce exactly the runs the unsharded campaign would.
 */
#ifndef DEVIRT_INJECT_RUNNER_H
#define DEVIRT_INJECT_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

/* Which runs: index i runs when i % shards == shard - 1 and it is the j-th
 * such run with j % jobs == job (shard is 1-based as on the command line),
 * and, when only >= 0, i == only. */
struct camp_slice {
	uint64_t shard, shards;
	uint64_t job, jobs;
	int64_t only;
};

/* What one run gave. */
struct camp_result {
	uint64_t index, seed;
	int64_t run_id;           /* in the database written (0 without one) */
	int32_t state;            /* enum run_state */
	uint32_t exit_code;
	uint64_t switches_done, switches_aborted, injected, faults;
	uint64_t exits, wall_ns;  /* wall_ns: the whole run, setup included */
	uint64_t setup_ns;        /* resetting the VM (snapshot) or creating and
				   * closing it (fresh) */
};

/* Called after each run, in index order. */
typedef void camp_run_fn(void *ctx, const struct camp_result *r);

/* Returns 1 if run index belongs to slice s. */
int campaign__in_slice(const struct camp_slice *s, uint64_t index);

/* Returns how many runs of c slice s holds. */
uint64_t campaign__slice_runs(const struct campaign_cfg *c, const struct camp_slice *s);

/* Returns the guest seed of run index. */
uint64_t campaign__seed(const struct campaign_cfg *c, uint64_t index);

/* Runs slice s of campaign c (guest image at image) into db (NULL: no
 * trace), calling fn after each run; a run stopped by a signal ends the
 * slice early (its result reported). Returns 0, or an enum vmm_status
 * (2 bad input, 3 environment, 4 trace) with the reason in err when a run
 * could not run at all (a guest that fails is a result, not an error). */
int campaign__run(const struct campaign_cfg *c, const char *image, const char *db, const struct camp_slice *s,
		  camp_run_fn *fn, void *ctx, char *err, size_t errlen);

/* mode = replay (replays.c): runs slice s as offline replays of the
 * recorded run, stored in c->trace. Same contract as campaign__run. */
int campaign__run_replays(const struct campaign_cfg *c, const struct camp_slice *s, camp_run_fn *fn, void *ctx,
			  char *err, size_t errlen);

#endif
