/*
 * Switch injection for one campaign run: the [inject] trigger turned into
 * engine__request calls. seq, every and random count the run's events as
 * the engine's own --switch triggers do; vtime is a clock event; exhaustive
 * picks one access index per run; match runs the compiled PCRE2 pattern
 * over each access's text form (traces/text.h) from a machine hook. All of
 * them only request: the engine acts at the next safe point.
 */
#ifndef DEVIRT_INJECT_TRIGGER_H
#define DEVIRT_INJECT_TRIGGER_H

#include <stdint.h>
#include "config.h"
#include "prng.h"
#include "../engine/engine.h"

struct injector {
	const struct campaign_cfg *c;
	struct machine *m;
	struct engine *e;
	int active;               /* attached to a run */
	struct prng rng;
	uint64_t exits, accesses; /* of this run */
	uint64_t fired;           /* requests made */
	uint64_t skipped;         /* matches not requested: device mid-switch (when_busy = skip) */
	uint64_t target;          /* exhaustive: access index */
	int fixed_action;         /* exhaustive: this run's action and device */
	const char *fixed_device;
	struct clock_event vt_ev;
	void *md;                 /* pcre2_match_data * */
};

/* Prepares an injector for campaign c (once per process). Returns 0 or -ENOMEM. */
int injector__init(struct injector *in, const struct campaign_cfg *c);

/* Frees what injector__init allocated. */
void injector__fini(struct injector *in);

/* Arms the trigger for run `index` (seeded by seed) on machine m and engine
 * e, adding a machine hook (machines have no hook removal: the hook goes
 * with the machine, or with the snapshot reset that restores its hook
 * list). Returns 0 or -errno. */
int injector__attach(struct injector *in, uint64_t index, uint64_t seed, struct machine *m, struct engine *e);

/* Stops injecting (the run ended): disarms the clock event; the hook, if
 * the machine lives on, does nothing more. */
void injector__detach(struct injector *in);

#endif
