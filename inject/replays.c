/*
 * mode = replay: each run of the campaign is one offline replay
 * (replay/replay.h) of a recorded run, with the campaign's switches
 * injected, stored as a new run of kind 'replay' in the recording's own
 * database. trigger = seq injects at=SEQ and match injects at every access
 * whose text matches (the replayer compiles the same pattern against the
 * same text form); run i uses action and device number i of the
 * campaign's lists in turn. trigger = exhaustive makes each run one
 * exhaustive replay (every action at every access; violations become
 * `violation` rows). A run passes when its replay is transparent
 * (identical, or no violation). KVM-free, so it needs no session.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runner.h"
#include "../engine/engine.h"
#include "../machine/machine.h"
#include "../replay/replay.h"

/* The replayer's device name for an engine device name. */
static const char *replay_device(const char *engine_name)
{
	return strcmp(engine_name, "com1") ? engine_name : "uart";
}

/* Fills o's injection for run index of c; spec is its storage. */
static void injection(const struct campaign_cfg *c, uint64_t index, struct replay_opts *o, char *spec,
		      size_t len)
{
	int action = c->actions[index % (uint64_t)c->nactions];
	const char *dev = replay_device(c->devices[index / (uint64_t)c->nactions % (uint64_t)c->ndevices]);
	if (c->trigger == CT_SEQ)
		snprintf(spec, len, "at=%" PRIu64 ":%s:%s", c->trig_arg, engine__action_name(action), dev);
	else if (c->trigger == CT_MATCH)
		snprintf(spec, len, "match=%s:%s:%s", c->match_src, engine__action_name(action), dev);
	if (c->trigger == CT_SEQ || c->trigger == CT_MATCH) {
		o->inject[0] = spec;
		o->ninject = 1;
	}
	if (c->trigger == CT_EXHAUSTIVE) {
		o->exhaustive = 1;
		for (int i = 0; i < c->nactions; i++)
			o->actions |= 1u << c->actions[i];
		if (strcmp(c->devices[0], "all")) {
			static char list[64];
			list[0] = 0;
			for (int i = 0; i < c->ndevices; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
					 replay_device(c->devices[i]));
			o->devices = list;
		}
	}
}

int campaign__run_replays(const struct campaign_cfg *c, const struct camp_slice *s, camp_run_fn *fn, void *ctx,
			  char *err, size_t errlen)
{
	FILE *devnull = fopen("/dev/null", "w");
	int bug = engine__parse_bug(getenv("DEVIRT_BUG"));
	if (!devnull || bug < 0) {
		snprintf(err, errlen, "%s", devnull ? "DEVIRT_BUG: unknown misbehaviour" : "cannot open /dev/null");
		if (devnull)
			fclose(devnull);
		return devnull ? 2 : 3;
	}
	int status = 0;
	for (uint64_t i = 0; i < c->runs; i++) {
		if (!campaign__in_slice(s, i))
			continue;
		char spec[1200];
		struct replay_opts o = { .db = c->trace, .run = c->trace_run, .bug = bug, .out = devnull };
		struct replay_result *res = calloc(1, sizeof(*res));
		if (!res) {
			snprintf(err, errlen, "out of memory");
			status = 3;
			break;
		}
		injection(c, i, &o, spec, sizeof(spec));
		int st = replay__run(&o, res);
		if (st == 2) {
			snprintf(err, errlen, "run %" PRIu64 ": replay of %s: %s", i, c->trace, res->err);
			free(res);
			status = 2;
			break;
		}
		struct camp_result r = {
			.index = i, .run_id = res->replay_run, .state = st ? RUN_FAIL : RUN_PASS,
			.exit_code = res->exit_code, .exits = res->exits, .injected = res->injections ? res->injections
											: (uint64_t)o.ninject,
			.wall_ns = (uint64_t)(res->wall_s * 1e9),
		};
		free(res);
		if (fn)
			fn(ctx, &r);
	}
	fclose(devnull);
	return status;
}
