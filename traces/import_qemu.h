/*
 * Importing a QEMU trace-event log (`-trace 'ide_*' -trace 'serial_*'`, log
 * backend, with or without the `PID@SEC.USEC:` prefix of -msg timestamp=on,
 * plain or gzip'd) as one run of kind 'import': every guest port access
 * QEMU's IDE and 16550 models logged becomes one access row, in log order,
 * so a peer VMM's trace can be checked and compared like our own runs.
 * The run has devices ata (ports 0x1f0/8 and 0x3f6/1, IRQ 14, ata-disk)
 * and com1 (0x3f8/8, IRQ 4, 16550a); an access is row seq 0, 1, ... with
 * path 'direct', its port, size, direction and value as QEMU logged them,
 * device and register name when the port is one of ours (else NULL), and
 * vtime_ns = wall_ns = nanoseconds since the log's first timestamp (without
 * timestamps: vtime_ns = seq, wall_ns NULL).
 */
#ifndef DEVIRT_IMPORT_QEMU_H
#define DEVIRT_IMPORT_QEMU_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define IMPORT_MAX_OTHER 32

struct import_opts {
	const char *guest;   /* run.guest; NULL: "qemu" */
	const char *config;  /* run.config: the options that made the import */
	int lenient;         /* skip (and count) malformed lines of known events */
};

/* Lines of one event that carries no access. */
struct import_count {
	char name[48];
	uint64_t n;
};

struct import_stats {
	int64_t run;              /* id of the new run */
	uint64_t lines;           /* lines read */
	uint64_t accesses;        /* access rows inserted */
	uint64_t skipped;         /* lines of other events (and non-event text) */
	uint64_t malformed;       /* malformed lines skipped under lenient */
	uint64_t first_malformed; /* line number of the first of them, 0: none */
	struct import_count other[IMPORT_MAX_OTHER]; /* skipped lines by event, first seen first */
	int nother;
	uint64_t other_rest;      /* skipped lines of events beyond the table */
};

/* Opens a transaction and inserts a run of kind 'import' (guest, config,
 * source, version) with the devices of a peer VMM's standard PC ports:
 * ata (0x1f0/8 and 0x3f6/1, IRQ 14) and com1 (0x3f8/8, IRQ 4). *run gets
 * its id. Returns an SQLite code; the caller commits or rolls back. */
int import__begin_run(sqlite3 *db, const char *guest, const char *config, const char *source,
		      const char *version, int64_t *run);

/* Returns the device serving port among those (NULL: none) and its
 * register name for the direction in *reg (NULL when unknown). */
const char *import__port(uint64_t port, int write, const char **reg);

/* Imports the QEMU log at path into db as one new run, in one transaction.
 * Returns 0, or -errno with "path[:line]: reason" in err and nothing
 * stored: -EBADMSG for a malformed line of a known event (unless lenient)
 * or a corrupt gzip stream, -ENOENT etc. for an unreadable file, an SQLite
 * error's errno otherwise. */
int import__qemu(sqlite3 *db, const char *path, const struct import_opts *o,
		 struct import_stats *st, char *err, size_t errlen);

#endif
