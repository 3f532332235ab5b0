/*
 * devirt import qemu LOG --db FILE [--lenient] [--guest NAME]: a QEMU
 * trace-event log (plain or gzip'd) becomes one run of kind 'import'
 * (traces/import_qemu.h). The summary goes to stderr, the new run's id to
 * stdout. Exit 0; 2 on bad usage or a bad log or database; 3 when the
 * system fails (memory, disk).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../traces/db.h"
#include "../traces/import_qemu.h"

#define USAGE "usage: devirt import qemu LOG --db FILE [--lenient] [--guest NAME]\n"

/* Exit status for an error: the system's fault or the input's. */
static int status_of(int rc)
{
	return rc == -ENOMEM || rc == -ENOSPC || rc == -EIO ? EXIT_ENV : EXIT_USAGE;
}

/* Orders skipped-event counts by count, most first. */
static int by_count(const void *a, const void *b)
{
	const struct import_count *x = a, *y = b;
	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->name, y->name);
}

/* Prints what the import did, on one line. */
static void summary(const char *log, struct import_stats *st)
{
	fprintf(stderr, "devirt import: run %lld: imported %llu accesses; skipped %llu lines of other events",
		(long long)st->run, (unsigned long long)st->accesses, (unsigned long long)st->skipped);
	qsort(st->other, (size_t)st->nother, sizeof(st->other[0]), by_count);
	for (int i = 0; i < st->nother; i++)
		fprintf(stderr, "%s %s %llu", i ? "," : ":", st->other[i].name, (unsigned long long)st->other[i].n);
	if (st->other_rest)
		fprintf(stderr, ", more events %llu", (unsigned long long)st->other_rest);
	if (st->malformed)
		fprintf(stderr, "; skipped %llu malformed lines (--lenient), the first at %s:%llu",
			(unsigned long long)st->malformed, log, (unsigned long long)st->first_malformed);
	fputc('\n', stderr);
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, 0, 'd' },
		{ "lenient", no_argument, 0, 'l' },
		{ "guest", required_argument, 0, 'g' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct import_opts o = { .config = "import qemu" };
	const char *dbpath = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'l': o.lenient = 1; o.config = "import qemu --lenient"; break;
		case 'g': o.guest = optarg; break;
		case 'h': printf(USAGE); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind != 2 || !dbpath) {
		fprintf(stderr, "devirt import: %s\n" USAGE,
			!dbpath ? "missing --db FILE" : "expected a log format and one LOG");
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "qemu")) {
		fprintf(stderr, "devirt import: unknown log format '%s' (known: qemu)\n", argv[optind]);
		return EXIT_USAGE;
	}
	const char *log = argv[optind + 1];
	char err[512];
	sqlite3 *db;
	int rc = db__open(&db, dbpath, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "devirt import: %s\n", err);
		return status_of(rc);
	}
	struct import_stats st;
	rc = import__qemu(db, log, &o, &st, err, sizeof(err));
	sqlite3_close(db);
	if (rc) {
		fprintf(stderr, "devirt import: %s\n", err);
		return status_of(rc);
	}
	summary(log, &st);
	printf("%lld\n", (long long)st.run);
	return EXIT_OK;
}
