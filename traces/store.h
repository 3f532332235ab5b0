/*
 * The trace store's writer: a run's events go from the vCPU thread into a
 * lock-free ring, and a writer thread moves them into SQLite in batched
 * transactions with prepared statements (DESIGN rule 4). Nothing is ever
 * dropped: when the ring is full the vCPU thread waits. Every batch is a
 * commit, so a run killed at any point leaves a complete prefix (rule 6).
 */
#ifndef DEVIRT_STORE_H
#define DEVIRT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "../machine/machine.h"
#include "../lib/blk.h"

struct trace;

/* What a run records about itself when it starts. */
struct trace_run {
	const char *guest;    /* workload name or image path as given */
	const char *image;    /* image path loaded */
	const char *args;     /* guest arguments */
	const char *config;   /* the options that made the run */
	const char *disk;     /* ATA image path, NULL if anonymous */
	const char *kind;     /* "live" (default), "replay", "import" */
	int64_t seed;         /* -1: none */
	/* What a replay needs (all optional). */
	const char *image_sha256;
	struct blk *ata_disk, *ringblk_disk;  /* stored as copy-on-write bases before the run */
	const char *ringblk_path;
	uint64_t mem, exit_cost_ns;
	const char *switches, *policy, *modes;
	int64_t parent;       /* replay: the run re-driven (0: none) */
	const char *source;   /* replay/import: what was re-driven */
};

/* Opens (or creates) the database at path, inserts the run row and starts
 * the writer thread. Returns 0 or -errno with a reason in err. */
int trace__start(struct trace **t, const char *path, const struct trace_run *info,
		 char *err, size_t errlen);

/* Returns the CLOCK_MONOTONIC time (ns) that is wall_ns 0 of the run. */
uint64_t trace__t0(const struct trace *t);

/* Returns the id of the run being written. */
int64_t trace__run_id(const struct trace *t);

/* Records the machine's devices and their ranges (before the guest runs). */
void trace__devices(struct trace *t, const struct machine *m);

/* machine_trace_fn: queues one event (called on the vCPU thread). */
void trace__event(void *t, const struct exit_rec *r);

struct eng_rec;
/* eng_sink_fn: queues one engine record (switch, step, pause, deferral). */
void trace__engine(void *t, const struct eng_rec *r);

/* Queues one injected fault (a `fault` row): at event seq and virtual
 * time vtime, on device, of kind, with detail (copied). device and kind
 * must stay valid until trace__finish (static strings). Never blocks
 * longer than trace__engine does. */
void trace__fault(struct trace *t, uint64_t seq, uint64_t vtime, const char *device, const char *kind,
		  const char *detail);

/* Drains the queue, stores the outcome in the run row, stops the writer and
 * closes the database. verdict NULL leaves the run marked unfinished.
 * Returns 0 or -errno (err set); t is freed either way. */
int trace__finish(struct trace *t, const char *verdict, uint32_t exit_code, uint64_t exits,
		  uint64_t end_vtime_ns, char *err, size_t errlen);

/* Returns the number of rows written so far (for benchmarks). */
uint64_t trace__rows(const struct trace *t);

#endif
