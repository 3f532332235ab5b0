/*
 * Merging trace databases: every run of an input, with its rows in every
 * table keyed by run, is copied into an output database under a fresh run
 * id, so runs from many machines, shards or importers can be analysed
 * together.
 */
#ifndef DEVIRT_MERGE_H
#define DEVIRT_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

/* One run's id in its input (from) and in the output (to). */
struct merge_run {
	int64_t from, to;
};

/* Checks that path is a devirt trace database this build reads and is not
 * the output database out (which need not exist yet). Returns 0 or -errno
 * with "path: reason" in err. */
int merge__check(const char *out, const char *path, char *err, size_t errlen);

/* Copies every run of the database at path into db in one transaction,
 * numbered after db's last run; a run's parent that is a run of the same
 * input follows it to its new id (any other parent becomes NULL). Sets
 * *runs (malloc'd, caller frees, in input id order) and *n. Returns 0, or
 * -errno with "path: reason" in err and nothing of path stored. */
int merge__db(sqlite3 *db, const char *path, struct merge_run **runs, size_t *n, char *err, size_t errlen);

#endif
