/*
 * devirt merge A.db B.db ... --db OUT: copies every run of the inputs into
 * OUT (created when missing, else appended to) under fresh ids
 * (traces/merge.h), printing each input's id mapping as it is committed.
 * Every input is checked before any is merged, and each is merged in one
 * transaction. Exit 0; 2 on bad usage or an input that is missing or not a
 * devirt trace; 3 when the system fails (memory, disk).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "../traces/db.h"
#include "../traces/merge.h"

#define USAGE "usage: devirt merge A.db [B.db ...] --db OUT\n"

/* Exit status for an error: the system's fault or the input's. */
static int status_of(int rc)
{
	return rc == -ENOMEM || rc == -ENOSPC || rc == -EIO ? EXIT_ENV : EXIT_USAGE;
}

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, 0, 'd' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': out = optarg; break;
		case 'h': printf(USAGE); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind >= argc || !out) {
		fprintf(stderr, "devirt merge: %s\n" USAGE, !out ? "missing --db OUT" : "no input databases");
		return EXIT_USAGE;
	}
	char err[512];
	sqlite3 *db = NULL;
	int rc = 0;
	for (int i = optind; !rc && i < argc; i++)
		rc = merge__check(out, argv[i], err, sizeof(err));
	if (!rc)
		rc = db__open(&db, out, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "devirt merge: %s; nothing merged\n", err);
		return status_of(rc);
	}
	size_t total = 0;
	for (int i = optind; i < argc; i++) {
		struct merge_run *runs;
		size_t n;
		rc = merge__db(db, argv[i], &runs, &n, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "devirt merge: %s; it was not merged, the %d input(s) before it were\n",
				err, i - optind);
			sqlite3_close(db);
			return status_of(rc);
		}
		for (size_t k = 0; k < n; k++)
			printf("%s: run %lld -> run %lld\n", argv[i], (long long)runs[k].from, (long long)runs[k].to);
		total += n;
		free(runs);
	}
	sqlite3_close(db);
	printf("merged %zu runs from %d databases into %s\n", total, argc - optind, out);
	return EXIT_OK;
}
