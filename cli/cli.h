/*
 * Subcommands of the devirt binary. Each takes argc/argv after the
 * subcommand name and returns the process exit status: 0 success, 1 guest
 * failure or violated invariant, 2 bad usage or input, 3 environment.
 */
#ifndef DEVIRT_CLI_H
#define DEVIRT_CLI_H

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_ENV = 3 };

/* devirt run GUEST [options] [-- ARGS...] */
int cmd_run(int argc, char **argv);

/* devirt import qemu LOG --db FILE [--lenient] [--guest NAME] */
int cmd_import(int argc, char **argv);

/* devirt merge A.db [B.db ...] --db OUT */
int cmd_merge(int argc, char **argv);

/* devirt campaign CONFIG [--db F] [--shard K/N] [--jobs N] ... */
int cmd_campaign(int argc, char **argv);

/* devirt sql DB QUERY [--csv] */
int cmd_sql(int argc, char **argv);
int cmd_check(int argc, char **argv);

/* devirt report DB [--html F] [--perfetto F] [--plots DIR] [--max-runs N] [--max-events N] */
int cmd_report(int argc, char **argv);

/* devirt replay DB [--run ID] [--inject SPEC]... [--exhaustive ...] [--live] */
int cmd_replay(int argc, char **argv);

/* devirt observe (--pid P | -- CMD ARGS...) --db FILE [--timeout DUR] [--guest NAME] */
int cmd_observe(int argc, char **argv);

/* Resolves a guest name or path to an image path in buf. Returns 0 or -ENOENT. */
int cli__guest_path(const char *guest, char *buf, unsigned len);

#endif
