/*
 * Several processes on one machine (`--jobs N`): the runs of a shard are
 * dealt to N forked children round-robin by index; each child runs its
 * share on its own VM into its own database part (DB.partJ, so no two
 * processes ever write one SQLite file), reporting every run through a
 * pipe; the parent shows progress, then merges the parts into DB in job
 * order (traces/merge.h) and removes them. Runs and their seeds are the
 * unsharded campaign's, so the merged result equals a single process's
 * up to run ids.
 */
#ifndef DEVIRT_INJECT_JOBS_H
#define DEVIRT_INJECT_JOBS_H

#include "runner.h"

/* Runs slice s of c (its job and jobs ignored) with jobs processes (1: in
 * this process) into db, calling fn for every run as it finishes (run_id is then the
 * part's). On success *out (malloc'd, in index order, run ids those of
 * db) and *n hold every run. Returns 0, or an enum vmm_status with the
 * reason in err (the parts are then kept for inspection). */
int campaign__run_jobs(const struct campaign_cfg *c, const char *image, const char *db,
		       const struct camp_slice *s, int jobs, camp_run_fn *fn, void *ctx, struct camp_result **out,
		       size_t *n, char *err, size_t errlen);

#endif
