/*
 * devirt report DB [--html F] [--perfetto F.json] [--plots DIR]
 *                  [--max-runs N] [--max-events N]:
 * writes the reports of a trace database (analysis/report.h), any of the
 * three in one call, opening the database read-only; a FILE of "-" is
 * stdout. Tells on stderr each output written, its size and the time it
 * took.
 * Exit 0; 2 on bad usage, a missing or non-devirt DB, or an output that
 * cannot be written; 3 when gnuplot is missing or fails, or the system
 * fails (memory, disk).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"
#include "../analysis/report.h"
#include "../traces/db.h"

#define USAGE "usage: devirt report DB [--html FILE] [--perfetto FILE.json] [--plots DIR]\n" \
	      "                         [--max-runs N] [--max-events N]\n"

/* Exit status for an error: the system's fault or the input's. */
static int status_of(int rc)
{
	return rc == -ENOMEM || rc == -ENOSPC || rc == -EIO || rc == -EPROTO ? EXIT_ENV : EXIT_USAGE;
}

/* Returns monotonic milliseconds. */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Parses a count (0 or more) for option name into *out. Returns 0 or -EINVAL. */
static int count_arg(const char *name, const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "devirt report: --%s: '%s' is not a count\n" USAGE, name, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Tells what was written to path (a file, or a directory of plots) on
 * stderr: stdout may be carrying an output ("-"). */
static void wrote(const char *what, const char *path, double t0)
{
	struct stat sb;
	if (strcmp(path, "-") && !stat(path, &sb) && S_ISREG(sb.st_mode))
		fprintf(stderr, "%s: %s (%lld bytes, %.0f ms)\n", what, path, (long long)sb.st_size, now_ms() - t0);
	else
		fprintf(stderr, "%s: %s (%.0f ms)\n", what, path, now_ms() - t0);
}

/* devirt report: parses the options, opens DB read-only and writes each
 * output asked for. Returns the exit status. */
int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "html", required_argument, 0, 'H' }, { "perfetto", required_argument, 0, 'p' },
		{ "plots", required_argument, 0, 'P' }, { "max-runs", required_argument, 0, 'r' },
		{ "max-events", required_argument, 0, 'e' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *html = NULL, *perfetto = NULL, *plots = NULL;
	struct report_opts o = { .max_runs = REPORT_MAX_RUNS, .max_events = REPORT_MAX_EVENTS };
	long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': html = optarg; break;
		case 'p': perfetto = optarg; break;
		case 'P': plots = optarg; break;
		case 'r':
			if (count_arg("max-runs", optarg, &v))
				return EXIT_USAGE;
			o.max_runs = v > 1000000 ? 1000000 : (int)v;
			break;
		case 'e':
			if (count_arg("max-events", optarg, &o.max_events))
				return EXIT_USAGE;
			break;
		case 'h': printf(USAGE); return EXIT_OK;
		default: fprintf(stderr, USAGE); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (!html && !perfetto && !plots)) {
		fprintf(stderr, "devirt report: %s\n" USAGE, optind >= argc ? "missing DB"
			: optind < argc - 1 ? "more than one DB" : "nothing to write: give --html, --perfetto or --plots");
		return EXIT_USAGE;
	}
	const char *path = argv[optind];
	if (plots && !report__have_gnuplot()) {
		fprintf(stderr, "devirt report: --plots needs gnuplot, which is not on PATH"
			" (Debian: apt-get install gnuplot-nox)\n");
		return EXIT_ENV;
	}
	char err[512];
	sqlite3 *db;
	int rc = db__open_ro(&db, path, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "devirt report: %s\n", err);
		sqlite3_close(db);
		return EXIT_USAGE;
	}
	double t0 = now_ms();
	if (html && !(rc = report__html(db, path, html, &o, err, sizeof(err))))
		wrote("html", html, t0);
	t0 = now_ms();
	if (!rc && perfetto && !(rc = report__perfetto(db, path, perfetto, &o, err, sizeof(err))))
		wrote("perfetto", perfetto, t0);
	t0 = now_ms();
	if (!rc && plots && !(rc = report__plots(db, path, plots, &o, err, sizeof(err))))
		wrote("plots", plots, t0);
	sqlite3_close(db);
	if (rc) {
		fprintf(stderr, "devirt report: %s\n", err);
		return status_of(rc);
	}
	return EXIT_OK;
}
