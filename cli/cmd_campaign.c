/*
 * devirt campaign CONFIG [--db F] [--shard K/N] [--jobs N] [--index I]
 *                        [--runs N] [--reset snapshot|fresh]
 * Runs a campaign (inject/): the config is checked whole first (a bad one
 * exits 2 with one line naming file, line and key), then the runs of the
 * shard go, over --jobs processes, with a progress line on a terminal and
 * a summary at the end. Exit 0 when every guest passed and no violation is
 * recorded, 1 otherwise, 2 bad usage or config, 3 environment (no KVM,
 * unwritable database).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"
#include "../inject/config.h"
#include "../inject/jobs.h"
#include "../inject/report.h"
#include "../lib/units.h"
#include "../lib/hosttime.h"

#define USAGE "usage: devirt campaign CONFIG [--db F] [--shard K/N] [--jobs N] [--index I] [--runs N]\n" \
	      "                       [--reset snapshot|fresh]\n"

/* Reports a bad option value. Returns the usage exit status. */
static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "devirt campaign: %s '%s': %s\n" USAGE, opt, val, why);
	return EXIT_USAGE;
}

/* Parses "K/N" with 1 <= K <= N. Returns 0 or -EINVAL. */
static int parse_shard(const char *s, uint64_t *k, uint64_t *n)
{
	char buf[64], *slash;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (units__u64(buf, k) || units__u64(slash + 1, n) || !*k || *k > *n)
		return -EINVAL;
	return 0;
}

int cmd_campaign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, 0, 'd' },
		{ "shard", required_argument, 0, 's' },
		{ "jobs", required_argument, 0, 'j' },
		{ "index", required_argument, 0, 'i' },
		{ "runs", required_argument, 0, 'r' },
		{ "reset", required_argument, 0, 'R' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct camp_slice slice = { .shard = 1, .shards = 1, .jobs = 1, .only = -1 };
	const char *db = NULL, *reset = NULL;
	uint64_t v, runs = 0;
	int jobs = 1, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 's':
			if (parse_shard(optarg, &slice.shard, &slice.shards))
				return bad("--shard", optarg, "expected K/N with 1 <= K <= N (e.g. 2/8)");
			break;
		case 'j':
			if (units__u64(optarg, &v) || !v || v > 64)
				return bad("--jobs", optarg, "expected a number of processes, 1..64");
			jobs = (int)v;
			break;
		case 'i':
			if (units__u64(optarg, &v) || v > INT64_MAX)
				return bad("--index", optarg, "expected a run index (0-based)");
			slice.only = (int64_t)v;
			break;
		case 'r':
			if (units__u64(optarg, &runs) || !runs)
				return bad("--runs", optarg, "expected a positive number of runs");
			break;
		case 'R':
			if (strcmp(optarg, "snapshot") && strcmp(optarg, "fresh"))
				return bad("--reset", optarg, "expected snapshot or fresh");
			reset = optarg;
			break;
		case 'h': printf(USAGE); return EXIT_OK;
		default: fprintf(stderr, USAGE); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "devirt campaign: %s\n" USAGE, optind >= argc ? "missing CONFIG" : "one CONFIG only");
		return EXIT_USAGE;
	}
	const char *path = argv[optind];
	struct campaign_cfg cfg;
	char err[1024], image[PATH_MAX];
	if (campaign__load(path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	int status = EXIT_USAGE;
	if (runs)
		cfg.runs = runs;
	if (reset)
		cfg.reset = strcmp(reset, "fresh") ? CR_SNAPSHOT : CR_FRESH;
	if (slice.only >= 0 && (uint64_t)slice.only >= cfg.runs) {
		fprintf(stderr, "devirt campaign: --index %" PRId64 ": the campaign has runs 0..%" PRIu64 "\n", slice.only,
			cfg.runs - 1);
		goto out;
	}
	if (cfg.mode == CM_REPLAY && (db || jobs > 1 || reset)) {
		/* replays are stored next to the run they re-drive, offline */
		fprintf(stderr, "devirt campaign: %s: mode = replay stores its replays in %s; --db, --jobs and"
			" --reset are for live campaigns\n", path, cfg.trace);
		goto out;
	}
	if (cfg.mode == CM_LIVE && cli__guest_path(cfg.guest, image, sizeof(image))) {
		fprintf(stderr, "%s:%d: [campaign] guest: unknown guest '%s': no such file and no workload %s\n", path,
			cfg.guest_line, cfg.guest, image);
		goto out;
	}
	char dbbuf[PATH_MAX];
	if (cfg.mode == CM_REPLAY)
		db = cfg.trace;
	if (!db)
		db = cfg.db;
	if (!db) {
		snprintf(dbbuf, sizeof(dbbuf), "out/%s.db", cfg.name);
		mkdir("out", 0755);
		db = dbbuf;
	}
	struct camp_result *res = NULL;
	size_t n = 0;
	struct progress prog;
	struct camp_slice all = slice;
	progress__init(&prog, stderr, cfg.name, campaign__slice_runs(&cfg, &all));
	uint64_t t0 = host_ns();
	int st = campaign__run_jobs(&cfg, image, db, &slice, jobs, progress__run, &prog, &res, &n, err, sizeof(err));
	progress__end(&prog);
	if (st) {
		fprintf(stderr, "devirt campaign: %s\n", err);
		status = st == 2 ? EXIT_USAGE : EXIT_ENV;
		goto out;
	}
	int verdict = campaign__summary(stdout, &cfg, db, res, n, host_ns() - t0, err, sizeof(err));
	free(res);
	if (verdict < 0) {
		fprintf(stderr, "devirt campaign: %s\n", err);
		status = EXIT_ENV;
	} else {
		status = verdict ? EXIT_FAILED : EXIT_OK;
	}
out:
	campaign__free(&cfg);
	return status;
}
