/*
 * devirt replay DB [--run ID] [--inject SPEC]... [--exhaustive ...] [--live]:
 * re-drives a recorded run offline through the engine and the device
 * models (replay/replay.h), or re-runs its guest under KVM (--live), and
 * says whether the guest would have seen anything different. Exit 0
 * identical (an imported trace: its conformance report), 1 a divergence
 * or violations, 2 bad usage or input, 3 no usable KVM (--live).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "../engine/engine.h"
#include "../lib/units.h"
#include "../replay/replay.h"

#define USAGE \
	"usage: devirt replay DB [--run ID] [--inject 'at=SEQ|match=REGEX:ACTION:DEVICE']...\n" \
	"                        [--exhaustive [--actions LIST] [--devices LIST] [--dwell N] [--every K]]\n" \
	"                        [--live] [--no-store] [--progress | --no-progress] [--context N]\n"

/* Parses a comma list of actions into bits. Returns 0 or -1. */
static int parse_actions(const char *s, unsigned *bits)
{
	static const char *names[] = { "virtualize", "devirtualize", "roundtrip" };
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", s);
	*bits = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = 0;
		while (k < 3 && strcmp(t, names[k]))
			k++;
		if (k == 3)
			return -1;
		*bits |= 1u << k;
	}
	return *bits ? 0 : -1;
}

/* Prints a bad option value and returns the usage status. */
static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "devirt replay: %s '%s': %s\n", opt, val ? val : "", why);
	return EXIT_USAGE;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", required_argument, 0, 'r' },
		{ "inject", required_argument, 0, 'i' },
		{ "exhaustive", no_argument, 0, 'x' },
		{ "actions", required_argument, 0, 'a' },
		{ "devices", required_argument, 0, 'D' },
		{ "dwell", required_argument, 0, 'w' },
		{ "every", required_argument, 0, 'k' },
		{ "live", no_argument, 0, 'L' },
		{ "no-store", no_argument, 0, 'n' },
		{ "progress", no_argument, 0, 'p' },
		{ "no-progress", no_argument, 0, 'P' },
		{ "context", required_argument, 0, 'c' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct replay_opts o = { .progress = isatty(STDERR_FILENO) };
	struct replay_result res;
	int live = 0, c;
	uint64_t v;
	o.bug = engine__parse_bug(getenv("DEVIRT_BUG"));
	if (o.bug < 0)
		return bad("DEVIRT_BUG", getenv("DEVIRT_BUG"), "expected skip-deferred-replay, replay-twice, drop-irq,"
			   " unbounded-pause, forget-mode or skip-drain");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (units__u64(optarg, &v) || !v)
				return bad("--run", optarg, "expected a run id");
			o.run = (int64_t)v;
			break;
		case 'i':
			if (o.ninject == REPLAY_MAX_INJECT)
				return bad("--inject", optarg, "too many --inject options");
			o.inject[o.ninject++] = optarg;
			break;
		case 'x': o.exhaustive = 1; break;
		case 'a':
			if (parse_actions(optarg, &o.actions))
				return bad("--actions", optarg, "expected a comma list of virtualize, devirtualize, roundtrip");
			break;
		case 'D': o.devices = optarg; break;
		case 'w':
			if (units__u64(optarg, &v) || !v)
				return bad("--dwell", optarg, "expected a positive number of accesses");
			o.dwell = v;
			break;
		case 'k':
			if (units__u64(optarg, &v) || !v || v > 1000000)
				return bad("--every", optarg, "expected a positive number of steps");
			o.every = (unsigned)v;
			break;
		case 'L': live = 1; break;
		case 'n': o.no_store = 1; break;
		case 'p': o.progress = 1; break;
		case 'P': o.progress = 0; break;
		case 'c':
			if (units__u64(optarg, &v) || v > 1000)
				return bad("--context", optarg, "expected a number of accesses");
			o.context = (int)v;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return EXIT_OK;
		default:
			fputs(USAGE, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "devirt replay: %s\n" USAGE, optind >= argc ? "missing DB" : "more than one DB");
		return EXIT_USAGE;
	}
	o.db = argv[optind];
	if (live && (o.exhaustive || o.ninject))
		return bad("--live", "", "re-runs the guest as recorded: no --inject or --exhaustive");
	int st = live ? replay__live(&o, &res) : replay__run(&o, &res);
	fflush(stdout);
	if (st == EXIT_USAGE || st == EXIT_ENV)
		fprintf(stderr, "devirt replay: %s\n", res.err);
	return st;
}
