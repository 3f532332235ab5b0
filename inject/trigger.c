/*
 * Switch injection (trigger.h). The k-th request of a run uses action
 * actions[k % nactions] on device devices[(k / nactions) % ndevices], so a
 * campaign with several of each covers every combination in turn;
 * exhaustive runs instead fix one combination per run. With when_busy =
 * skip (the default) a trigger that fires while its device is between
 * states is not passed on: the engine would only queue it behind the switch
 * in progress (and refuse it once its small queue is full), which measures
 * the queue rather than the switch.
 */
#include <errno.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "trigger.h"
#include "../devices/regnames.h"
#include "../traces/text.h"

#define RNG_STREAM_TRIGGER 1

int injector__init(struct injector *in, const struct campaign_cfg *c)
{
	memset(in, 0, sizeof(*in));
	in->c = c;
	if (c->match) {
		in->md = pcre2_match_data_create_from_pattern(c->match, NULL);
		if (!in->md)
			return -ENOMEM;
	}
	return 0;
}

void injector__fini(struct injector *in)
{
	injector__detach(in);
	pcre2_match_data_free(in->md);
	in->md = NULL;
}

/* Returns 1 if device (engine name or "all") is mid-switch. */
static int busy(struct injector *in, const char *device)
{
	if (strcmp(device, "all")) {
		int st = engine__state(in->e, device);
		return st != ES_PASSTHROUGH && st != ES_VIRTUALIZED && st >= 0;
	}
	static const char *const all[] = { "ata", "com1", "ringblk" };
	for (int i = 0; i < 3; i++)
		if (busy(in, all[i]))
			return 1;
	return 0;
}

/* The trigger fired: requests the next action, within the run's limit. */
static void fire(struct injector *in)
{
	const struct campaign_cfg *c = in->c;
	if (c->max_per_run && in->fired >= c->max_per_run)
		return;
	int action = in->fixed_device ? in->fixed_action : c->actions[in->fired % (uint64_t)c->nactions];
	const char *dev = in->fixed_device ? in->fixed_device
					   : c->devices[(in->fired / (uint64_t)c->nactions) % (uint64_t)c->ndevices];
	if (!c->when_busy_queue && busy(in, dev)) {
		in->skipped++;
		return;
	}
	if (engine__request(in->e, dev, action) == 0)
		in->fired++;
}

/* Returns 1 if the access r's text matches the campaign's pattern. */
static int matches(struct injector *in, const struct exit_rec *r)
{
	char text[160];
	int n = trace__access_text(text, sizeof(text), r->dev, r->write, regnames__lookup(r->model, r->off, r->write),
				   r->value, r->kind == EXIT_PIO ? "pio" : "mmio", r->addr, r->size);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)strlen(text);
	return pcre2_match(in->c->match, (PCRE2_SPTR)text, (PCRE2_SIZE)n, 0, 0, in->md, NULL) >= 0;
}

/* Machine hook: counts the run's events and fires the trigger. */
static void on_event(void *ctx, const struct exit_rec *r)
{
	struct injector *in = ctx;
	if (!in->active)
		return;
	int access = r->kind == EXIT_PIO || r->kind == EXIT_MMIO;
	int exit = access || r->kind == EXIT_HLT;
	if (exit)
		in->exits++;
	switch (in->c->trigger) {
	case CT_SEQ:
		if (r->seq == in->c->trig_arg)
			fire(in);
		break;
	case CT_EVERY:
		if (exit && in->exits % in->c->trig_arg == 0)
			fire(in);
		break;
	case CT_RANDOM:
		if (exit && prng__chance(&in->rng, in->c->rate))
			fire(in);
		break;
	case CT_EXHAUSTIVE:
		if (access && in->accesses == in->target)
			fire(in);
		break;
	case CT_MATCH:
		if (access && matches(in, r))
			fire(in);
		break;
	}
	if (access)
		in->accesses++;
}

/* Clock event of a vtime trigger. */
static void vtime_fired(void *ctx, uint64_t now)
{
	struct injector *in = ctx;
	if (in->active)
		fire(in);
}

int injector__attach(struct injector *in, uint64_t index, uint64_t seed, struct machine *m, struct engine *e)
{
	const struct campaign_cfg *c = in->c;
	in->m = m;
	in->e = e;
	in->exits = in->accesses = in->fired = in->skipped = 0;
	in->fixed_device = NULL;
	prng__seed(&in->rng, seed, RNG_STREAM_TRIGGER);
	if (c->trigger == CT_NONE)
		return 0;
	if (!e)
		return -EINVAL;
	if (c->trigger == CT_EXHAUSTIVE) {
		uint64_t combos = (uint64_t)c->nactions * (uint64_t)c->ndevices;
		in->target = c->from + index / combos * c->step;
		in->fixed_action = c->actions[index % (uint64_t)c->nactions];
		in->fixed_device = c->devices[index / (uint64_t)c->nactions % (uint64_t)c->ndevices];
	}
	int rc = machine__add_hook(m, on_event, in);
	if (rc)
		return rc;
	if (c->trigger == CT_VTIME) {
		clock__event_init(&in->vt_ev, vtime_fired, in);
		rc = clock__arm(&m->clock, &in->vt_ev, c->trig_arg);
		if (rc)
			return rc;
	}
	in->active = 1;
	return 0;
}

void injector__detach(struct injector *in)
{
	if (in->active && in->c->trigger == CT_VTIME)
		clock__disarm(&in->m->clock, &in->vt_ev);
	in->active = 0;
}
