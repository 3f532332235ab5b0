/*
 * Offline replay (KVM-free): re-drives a recorded run through a fresh
 * machine, engine and device models and checks that it reproduces what the
 * guest observed; injects switches anywhere and checks they are
 * transparent; replays an imported peer VMM's trace against our models.
 * `devirt replay` and the campaign runner's `mode = replay` call
 * replay__run; replay__live (CLI only: it needs the KVM monitor) re-runs a
 * recorded run's guest and compares the two traces.
 */
#ifndef DEVIRT_REPLAY_H
#define DEVIRT_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#define REPLAY_MAX_INJECT 16

/* What to replay and how. Zero is the default everywhere. */
struct replay_opts {
	const char *db;             /* database holding the run */
	int64_t run;                /* run id; 0: the last live run */
	const char *inject[REPLAY_MAX_INJECT]; /* 'at=SEQ|match=REGEX:ACTION:DEVICE' */
	int ninject;
	int exhaustive;             /* inject each action at every access of each device */
	unsigned actions;           /* exhaustive: bit (1 << enum eng_action); 0: all three */
	const char *devices;        /* exhaustive: comma list (ata,uart,ringblk); NULL: all present */
	uint64_t dwell;             /* exhaustive: accesses a lone switch stays before returning; 0: 32 */
	unsigned every;             /* exhaustive: events (steps) between checkpoints; 0: 32 */
	int bug;                    /* enum eng_bug for the replay's engine (DEVIRT_BUG) */
	int no_store;               /* do not write the replay as a new run */
	int progress;               /* progress bar on stderr (exhaustive) */
	int context;                /* accesses shown either side of a divergence; 0: 3 */
	FILE *out;                  /* the report; NULL: stdout */
};

/* Exhaustive counts for one action. */
struct replay_action_stats {
	uint64_t injections, identical, reconverged, violations;
	uint64_t dist_median, dist_max;    /* events from the injection to reconvergence */
};

struct replay_result {
	int status;                 /* 0 identical (or import report), 1 divergence or violations, 2 bad input */
	int64_t run;                /* the run replayed */
	int64_t replay_run;         /* the replay stored as a new run; 0: none */
	int import;                 /* the run was imported from a peer VMM */
	uint64_t events, accesses, interrupts, polls, halts, skipped;
	double wall_s, accesses_per_s;
	/* how the replay ended (its run row) */
	const char *verdict;        /* static: pass, fail, running, ... */
	uint32_t exit_code;
	uint64_t exits, end_vtime;
	/* the first divergence */
	int diverged;
	uint64_t div_seq;
	char div[384];
	/* import: reads our models answered differently */
	uint64_t conform_diffs;
	/* exhaustive */
	struct replay_action_stats act[3];
	uint64_t injections, violations, replayed_accesses;
	uint64_t restarts;          /* probes replayed from the start (no checkpoint before them) */
	double injections_per_s;
	char err[256];              /* status 2: why */
};

/* Replays per opts, printing the report to opts->out. Returns
 * result->status. */
int replay__run(const struct replay_opts *opts, struct replay_result *result);

/* Re-runs the run's guest under KVM (recorded image, arguments, seed,
 * switches, policy, modes and disk content) into the same database and
 * compares the new trace with the recorded one, event for event. Returns
 * 0 identical, 1 different, 2 bad input (err set), 3 no usable KVM. */
int replay__live(const struct replay_opts *opts, struct replay_result *result);

#endif
