/*
 * devirt check DB [--run ID] [--baseline ID] [--json | --summary] [--wall-factor N]:
 * evaluates the invariants on each run (analysis/check.h), prints PASS /
 * FAIL / N/A per invariant with counts and the first counterexample in
 * context, stores failures in `violation`. Exit 1 on any failure.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../analysis/check.h"
#include "../lib/units.h"

#define USAGE "usage: devirt check DB [--run ID] [--baseline ID] [--json | --summary] [--wall-factor N]\n"

struct out {
	int json, summary, n;
	uint64_t runs[CHECK_INVARIANTS][3], items[CHECK_INVARIANTS], failed[CHECK_INVARIANTS];
};

/* check__db callback: prints one run (with --summary only a failing one)
 * and adds it to the totals. */
static void print(void *ctx, const struct check_run *r)
{
	struct out *o = ctx;
	int fail = 0;
	for (int i = 0; i < CHECK_INVARIANTS; i++) {
		o->runs[i][r->inv[i].verdict]++;
		o->items[i] += r->inv[i].checked;
		o->failed[i] += r->inv[i].failed;
		fail |= r->inv[i].verdict == CHECK_FAIL;
	}
	if (o->json)
		check__print_json(stdout, r, !o->n);
	else if (!o->summary || fail)
		check__print_text(stdout, r);
	o->n++;
}

/* Prints the per-invariant totals over all runs checked. */
static void totals(const struct out *o)
{
	printf("invariant  runs PASS  FAIL   N/A   items checked  failed\n");
	for (int i = 0; i < CHECK_INVARIANTS; i++)
		printf("I%d         %9llu %5llu %5llu %15llu %7llu\n", i + 1, (unsigned long long)o->runs[i][CHECK_PASS],
		       (unsigned long long)o->runs[i][CHECK_FAIL], (unsigned long long)o->runs[i][CHECK_NA],
		       (unsigned long long)o->items[i], (unsigned long long)o->failed[i]);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", required_argument, 0, 'r' }, { "baseline", required_argument, 0, 'b' },
		{ "json", no_argument, 0, 'j' }, { "summary", no_argument, 0, 's' },
		{ "wall-factor", required_argument, 0, 'w' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct check_opts co = { 0 };
	struct out o = { 0 };
	uint64_t v;
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
		case 'b':
			if (units__u64(optarg, &v) || !v) {
				fprintf(stderr, "devirt check: --%s '%s': expected a run id\n", c == 'r' ? "run" : "baseline", optarg);
				return EXIT_USAGE;
			}
			*(c == 'r' ? &co.run : &co.baseline) = (int64_t)v;
			break;
		case 'j': o.json = 1; break;
		case 's': o.summary = 1; break;
		case 'w':
			co.wall_factor = strtod(optarg, &end);
			if (*end || co.wall_factor <= 0) {
				fprintf(stderr, "devirt check: --wall-factor '%s': expected a positive number\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': printf(USAGE); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, USAGE);
		return EXIT_USAGE;
	}
	char err[512];
	if (o.json)
		printf("[");
	int rc = check__db(argv[optind], &co, print, &o, err, sizeof(err));
	if (o.json)
		printf("]\n");
	if (rc < 0) {
		fprintf(stderr, "devirt check: %s\n", err);
		return rc == -ENOMEM ? EXIT_ENV : EXIT_USAGE;
	}
	if (!o.json && o.summary)
		totals(&o);
	if (!o.json)
		printf("%d run%s checked, %d with failures\n", o.n, o.n == 1 ? "" : "s", rc);
	return rc ? EXIT_FAILED : EXIT_OK;
}
