/*
 * devirt: one binary, one subcommand per verb (DESIGN "Command line").
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} cmds[] = {
	{ "run", cmd_run, "run GUEST [--db F | --no-log] [--disk F] [--timeout DUR] [--seed N] [--stats] [-- ARGS...] (run --help)" },
	{ "import", cmd_import, "import qemu LOG --db FILE [--lenient] [--guest NAME]" },
	{ "merge", cmd_merge, "merge A.db [B.db ...] --db OUT" },
	{ "campaign", cmd_campaign, "campaign CONFIG [--db F] [--shard K/N] [--jobs N] [--index I] (campaign --help)" },
	{ "sql", cmd_sql, "sql DB QUERY [--csv]" },
	{ "replay", cmd_replay, "replay DB [--run ID] [--inject SPEC]... [--exhaustive] [--live] (replay --help)" },
	{ "check", cmd_check, "check DB [--run ID] [--baseline ID] [--json]" },
	{ "observe", cmd_observe, "observe (--pid P | -- CMD ARGS...) --db F [--timeout DUR] [--guest NAME]" },
	{ "report", cmd_report, "report DB [--html F] [--perfetto F.json] [--plots DIR] [--max-runs N] [--max-events N]" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: devirt COMMAND ...\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  devirt %s\n", cmds[i].usage);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "devirt: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
