/*
 * devirt run: boot a guest, print its console, report its verdict.
 * Exit 0 on pass, 1 on any guest failure (code printed), 2 on bad usage or
 * a bad image, 3 when KVM is unusable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

#define DEFAULT_DB "out/devirt.db"
#include "../lib/units.h"
#include "../vmm/vmm.h"
#include "../bpf/observer.h"
#include "../traces/db.h"

/* Appends one line per logged event: the text form used by --exit-log. */
static void exit_log(void *ctx, const struct exit_rec *r)
{
	static const char *kinds[] = { "pio", "mmio", "hlt", "irq" };
	FILE *f = ctx;
	if (r->kind == EXIT_LINE)
		fprintf(f, "%" PRIu64 " %" PRIu64 " line %" PRIu64 " %s %s\n", r->seq, r->vtime, r->addr,
			r->value ? "raise" : "lower", r->dev ? r->dev : "-");
	else if (r->kind == EXIT_HLT)
		fprintf(f, "%" PRIu64 " %" PRIu64 " hlt rip=%#" PRIx64 "\n", r->seq, r->vtime, r->rip);
	else if (r->kind == EXIT_IRQ)
		fprintf(f, "%" PRIu64 " %" PRIu64 " irq vector=%#" PRIx64 " rip=%#" PRIx64 "\n",
			r->seq, r->vtime, r->value, r->rip);
	else if (r->kind == EXIT_MAPPED)
		fprintf(f, "%" PRIu64 " %" PRIu64 " mapped %s+%#" PRIx64 " %u w %#" PRIx64 "\n",
			r->seq, r->vtime, r->dev ? r->dev : "-", r->off, r->size, r->value);
	else if (r->kind == EXIT_DMA)
		fprintf(f, "%" PRIu64 " %" PRIu64 " dma %#" PRIx64 " %u\n", r->seq, r->vtime, r->addr, r->blob_len);
	else
		fprintf(f, "%" PRIu64 " %" PRIu64 " %s %#" PRIx64 " %u %c %#" PRIx64 " %s rip=%#" PRIx64 "\n",
			r->seq, r->vtime, kinds[r->kind], r->addr, r->size, r->write ? 'w' : 'r',
			r->value, r->dev ? r->dev : "-", r->rip);
}

/* Stops the observer and stores what it saw next to the run's own log.
 * Returns 0, or -1 with the reason in res->err. */
static int store_kernel_view(struct kobs *obs, const char *db, struct vmm_result *res)
{
	kobs__stop(obs);
	if (!res->run_id)
		return 0;
	sqlite3 *d;
	char err[256];
	int rc = db__open(&d, db, err, sizeof(err));
	if (!rc)
		rc = kobs__store(obs, d, res->run_id, res->wall0_ns, "self", err, sizeof(err));
	sqlite3_close(d);
	if (rc) {
		snprintf(res->err, sizeof(res->err), "--kernel-trace: %.200s", err);
		return -1;
	}
	fprintf(stderr, "devirt: kernel-trace: %" PRIu64 " tracepoint hits, %" PRIu64 " I/O exits reached devirt, %"
		PRIu64 " lost\n", kobs__events(obs), kobs__io(obs), kobs__lost(obs));
	return 0;
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "devirt run: %s '%s': %s\n", opt, val, why);
	return EXIT_USAGE;
}

/* Joins words[0..n) and extra (may be NULL) with spaces (caller frees). */
static char *join(int n, char **words, const char *extra)
{
	size_t len = (extra ? strlen(extra) : 0) + 2;
	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	char *s = calloc(1, len);
	for (int i = 0; s && i <= n; i++) {
		const char *w = i < n ? words[i] : extra;
		if (!w || !*w)
			continue;
		if (*s)
			strcat(s, " ");
		strcat(s, w);
	}
	return s;
}

static void report(const char *guest, const struct vmm_result *r, int stats, const char *db)
{
	double vms = (double)r->vtime_ns / 1e6, wms = (double)r->wall_ns / 1e6;
	switch (r->state) {
	case RUN_PASS:
		fprintf(stderr, "devirt: %s: pass\n", guest);
		break;
	case RUN_FAIL:
		fprintf(stderr, "devirt: %s: FAIL: guest reported failure code 0x%x\n", guest, r->exit_code);
		break;
	case RUN_HUNG:
		fprintf(stderr, "devirt: %s: FAIL: guest hung (halted with nothing pending that could wake it) at vtime %.3f ms\n",
			guest, vms);
		break;
	case RUN_VTIMEOUT:
		fprintf(stderr, "devirt: %s: FAIL: virtual-time limit reached (%.3f ms)\n", guest, vms);
		break;
	case RUN_WTIMEOUT:
		fprintf(stderr, "devirt: %s: FAIL: wall-time limit reached (%.3f ms)\n", guest, wms);
		break;
	case RUN_STOPPED:
		fprintf(stderr, "devirt: %s: FAIL: stopped by a signal\n", guest);
		break;
	default:
		fprintf(stderr, "devirt: %s: FAIL: %s (%s)\n", guest, run_state__name(r->state), r->err);
		break;
	}
	if (r->run_id)
		fprintf(stderr, "devirt: trace: run %" PRId64 " in %s\n", r->run_id, db);
	if (r->switches_done || r->switches_aborted || r->switches_pending)
		fprintf(stderr, "devirt: switches: %" PRIu64 " done, %" PRIu64 " aborted, %" PRIu64 " pending\n",
			r->switches_done, r->switches_aborted, r->switches_pending);
	if (stats)
		fprintf(stderr, "devirt: stats: exits=%" PRIu64 " pio=%" PRIu64 " mmio=%" PRIu64
			" hlt=%" PRIu64 " irq=%" PRIu64 " unhandled=%" PRIu64
			" ringblk_mmio=%" PRIu64 " vtime_ns=%" PRIu64 " wall_ns=%" PRIu64 " ns_per_exit=%.1f"
			" kvm_ns=%" PRIu64 "\n",
			r->exits, r->counts[EXIT_PIO], r->counts[EXIT_MMIO], r->counts[EXIT_HLT],
			r->counts[EXIT_IRQ], r->unhandled, r->ringblk_exits, r->vtime_ns, r->wall_ns,
			r->exits ? (double)r->wall_ns / (double)r->exits : 0.0, r->kvm_ns);
}

#define MAX_SWITCHES 16

/* The body of cmd_run; config is the command line as typed. */
static int run(int argc, char **argv, const char *config)
{
	static const struct option opts[] = {
		{ "mem", required_argument, 0, 'm' },
		{ "timeout", required_argument, 0, 't' },
		{ "wall-timeout", required_argument, 0, 'w' },
		{ "exit-cost", required_argument, 0, 'c' },
		{ "exit-log", required_argument, 0, 'l' },
		{ "args", required_argument, 0, 'a' },
		{ "seed", required_argument, 0, 's' },
		{ "stats", no_argument, 0, 'S' },
		{ "disk", required_argument, 0, 'd' },
		{ "disk-size", required_argument, 0, 'D' },
		{ "ringblk-disk", required_argument, 0, 'r' },
		{ "ringblk-trap", no_argument, 0, 'T' },
		{ "console", required_argument, 0, 'C' },
		{ "db", required_argument, 0, 'B' },
		{ "no-log", no_argument, 0, 'N' },
		{ "switch", required_argument, 0, 'x' },
		{ "mode", required_argument, 0, 'M' },
		{ "midseq", required_argument, 0, 'q' },
		{ "block", required_argument, 0, 'b' },
		{ "pause-bound", required_argument, 0, 'P' },
		{ "wait-bound", required_argument, 0, 'W' },
		{ "kernel-trace", no_argument, 0, 'K' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct vmm_cfg cfg = { .console_fd = STDOUT_FILENO,
			       .vtimeout_ns = 60ull * 1000000000ull,
			       .wtimeout_ns = 120ull * 1000000000ull };
	const char *exit_log_path = NULL, *args = NULL, *console_path = NULL;
	const char *db = DEFAULT_DB;
	int64_t seed = -1;
	char seedarg[32] = "";
	int stats = 0, c, wall_set = 0, ktrace = 0;
	uint64_t v;
	struct engine_cfg ecfg = { 0 };
	struct eng_trigger trig[MAX_SWITCHES];
	const char *virt[4];
	char vname[4][16];
	char err[256];
	char switches[MAX_SWITCHES * 64] = "", policy[160], modes[80] = "";
	cfg.engine = &ecfg;
	cfg.triggers = trig;
	cfg.virtualized = virt;
	ecfg.bug = engine__parse_bug(getenv("DEVIRT_BUG"));
	if (ecfg.bug < 0)
		return bad("DEVIRT_BUG", getenv("DEVIRT_BUG"), "expected skip-deferred-replay, replay-twice, drop-irq,"
			   " unbounded-pause, forget-mode or skip-drain");

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (units__size(optarg, &cfg.mem))
				return bad("--mem", optarg, "expected a size such as 64M");
			break;
		case 't':
			if (units__duration(optarg, &cfg.vtimeout_ns))
				return bad("--timeout", optarg, "expected a duration with a unit (ns, us, ms, s)");
			if (!wall_set)
				cfg.wtimeout_ns = cfg.vtimeout_ns;
			break;
		case 'w':
			if (units__duration(optarg, &cfg.wtimeout_ns))
				return bad("--wall-timeout", optarg, "expected a duration with a unit (ns, us, ms, s)");
			wall_set = 1;
			break;
		case 'c':
			if (units__duration(optarg, &cfg.exit_cost_ns) || !cfg.exit_cost_ns)
				return bad("--exit-cost", optarg, "expected a non-zero duration with a unit");
			break;
		case 'l': exit_log_path = optarg; break;
		case 'a': args = optarg; break;
		case 's':
			if (units__u64(optarg, &v))
				return bad("--seed", optarg, "expected an unsigned integer");
			snprintf(seedarg, sizeof(seedarg), "seed=%" PRIu64, v);
			seed = (int64_t)v;
			break;
		case 'S': stats = 1; break;
		case 'd': cfg.disk = optarg; break;
		case 'D':
			if (units__size(optarg, &cfg.disk_size) || cfg.disk_size < 512)
				return bad("--disk-size", optarg, "expected a size of at least one sector, such as 16M");
			cfg.ringblk_disk_size = cfg.disk_size;
			break;
		case 'r': cfg.ringblk_disk = optarg; break;
		case 'T': cfg.ringblk_trap = 1; break;
		case 'K': ktrace = 1; break;
		case 'C': console_path = optarg; break;
		case 'B': db = optarg; break;
		case 'N': db = NULL; break;
		case 'x':
			if (cfg.ntriggers == MAX_SWITCHES)
				return bad("--switch", optarg, "too many --switch options (at most 16)");
			if (engine__parse_trigger(optarg, &trig[cfg.ntriggers], err, sizeof(err)))
				return bad("--switch", optarg, err);
			if (strlen(switches) + strlen(optarg) + 2 > sizeof(switches))
				return bad("--switch", optarg, "specs too long");
			strcat(strcat(switches, *switches ? " " : ""), optarg);
			cfg.ntriggers++;
			break;
		case 'M': {
			const char *eq = strchr(optarg, '=');
			if (!eq || (strcmp(eq + 1, "virtualized") && strcmp(eq + 1, "pass-through")))
				return bad("--mode", optarg, "expected DEVICE=virtualized or DEVICE=pass-through");
			if (!strcmp(eq + 1, "virtualized")) {
				if (cfg.nvirtualized == 4)
					return bad("--mode", optarg, "too many --mode options");
				int n = (int)(eq - optarg);
				snprintf(vname[cfg.nvirtualized], sizeof(vname[0]), "%.*s", n,
					 n == 4 && !strncmp(optarg, "uart", 4) ? "com1" : optarg);
				virt[cfg.nvirtualized] = vname[cfg.nvirtualized];
				strcat(strcat(modes, *modes ? " " : ""), vname[cfg.nvirtualized]);
				cfg.nvirtualized++;
			}
			break;
		}
		case 'q':
			if (!strcmp(optarg, "wait"))
				ecfg.midseq = MIDSEQ_WAIT;
			else if (!strcmp(optarg, "takeover"))
				ecfg.midseq = MIDSEQ_TAKEOVER;
			else
				return bad("--midseq", optarg, "expected wait or takeover");
			break;
		case 'b':
			if (!strcmp(optarg, "busy"))
				ecfg.block = EDEV_BLOCK_BUSY;
			else if (!strcmp(optarg, "defer"))
				ecfg.block = EDEV_BLOCK_DEFER;
			else
				return bad("--block", optarg, "expected busy or defer");
			break;
		case 'P':
			if (units__duration(optarg, &ecfg.pause_bound_ns) || !ecfg.pause_bound_ns)
				return bad("--pause-bound", optarg, "expected a non-zero duration with a unit (e.g. 500us)");
			break;
		case 'W':
			if (units__duration(optarg, &ecfg.wait_bound_ns) || !ecfg.wait_bound_ns)
				return bad("--wait-bound", optarg, "expected a non-zero duration with a unit (e.g. 5ms)");
			break;
		case 'h':
			printf("usage: devirt run GUEST [--mem SIZE] [--timeout DUR] [--wall-timeout DUR]\n"
			       "                  [--exit-cost DUR] [--seed N] [--exit-log FILE] [--stats]\n"
			       "                  [--disk F] [--disk-size SIZE] [--ringblk-disk F] [--ringblk-trap]\n"
			       "                  [--console FILE] [--db FILE | --no-log]\n"
			       "                  [--switch WHEN:ACTION:DEVICE]... [--mode DEVICE=virtualized]...\n"
			       "                  [--midseq wait|takeover] [--block busy|defer]\n"
			       "                  [--wait-bound DUR] [--pause-bound DUR] [--kernel-trace]\n"
			       "                  [--args 'K=V ...' | -- K=V ...]\n");
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "devirt run: missing GUEST (a workload name or an image path)\n");
		return EXIT_USAGE;
	}
	const char *guest = argv[optind++];   /* options may follow GUEST; getopt moved them */
	if (args && optind < argc) {
		fprintf(stderr, "devirt run: give guest arguments either with --args or after --, not both\n");
		return EXIT_USAGE;
	}
	char image[PATH_MAX];
	if (cli__guest_path(guest, image, sizeof(image))) {
		fprintf(stderr, "devirt run: unknown guest '%s': no such file and no workload %s\n", guest, image);
		return EXIT_USAGE;
	}
	char *gargs = args ? join(1, (char **)&args, seedarg) : join(argc - optind, argv + optind, seedarg);
	if (!gargs) {
		fprintf(stderr, "devirt run: out of memory\n");
		return EXIT_ENV;
	}
	if (console_path) {
		cfg.console_fd = open(console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (cfg.console_fd < 0) {
			fprintf(stderr, "devirt run: --console %s: %s\n", console_path, strerror(errno));
			free(gargs);
			return EXIT_USAGE;
		}
	}
	FILE *log = NULL;
	if (exit_log_path) {
		log = fopen(exit_log_path, "w");
		if (!log) {
			fprintf(stderr, "devirt run: --exit-log %s: %s\n", exit_log_path, strerror(errno));
			free(gargs);
			return EXIT_USAGE;
		}
		cfg.trace = exit_log;
		cfg.trace_ctx = log;
	}
	cfg.image = image;
	cfg.args = gargs;
	cfg.kvm_dev = getenv("DEVIRT_KVM_DEV");
	snprintf(policy, sizeof(policy), "midseq=%s block=%s wait_bound_ns=%llu pause_bound_ns=%llu",
		 ecfg.midseq == MIDSEQ_TAKEOVER ? "takeover" : "wait", ecfg.block == EDEV_BLOCK_DEFER ? "defer" : "busy",
		 (unsigned long long)ecfg.wait_bound_ns, (unsigned long long)ecfg.pause_bound_ns);
	struct trace_run info = { .guest = guest, .image = image, .args = gargs, .seed = seed,
				  .config = config, .disk = cfg.disk, .switches = *switches ? switches : NULL,
				  .policy = policy, .modes = *modes ? modes : NULL };
	if (db && !strcmp(db, DEFAULT_DB))
		mkdir("out", 0755);
	cfg.db = db;
	cfg.run_info = &info;

	struct kobs *obs = NULL;
	if (ktrace) {
		if (!db) {
			fprintf(stderr, "devirt run: --kernel-trace records into the trace database: drop --no-log\n");
			free(gargs);
			return EXIT_USAGE;
		}
		if (kobs__start(&obs, getpid(), err, sizeof(err))) {
			fprintf(stderr, "devirt run: --kernel-trace: %s\n", err);
			free(gargs);
			return EXIT_ENV;
		}
	}
	struct vmm_result res;
	int st = vmm__run(&cfg, &res);
	if (obs && store_kernel_view(obs, db, &res))
		st = VMM_TRACE_FAILED;
	kobs__free(obs);
	if (log)
		fclose(log);
	if (console_path)
		close(cfg.console_fd);
	free(gargs);
	if (st == VMM_BAD_INPUT) {
		fprintf(stderr, "devirt run: %s\n", res.err);
		return EXIT_USAGE;
	}
	if (st == VMM_NO_ENV) {
		fprintf(stderr, "devirt run: KVM unavailable: %s\n", res.err);
		return EXIT_ENV;
	}
	if (st == VMM_TRACE_FAILED) {
		fprintf(stderr, "devirt run: %s\n", res.err);
		return EXIT_ENV;
	}
	report(guest, &res, stats, db);
	return res.state == RUN_PASS ? EXIT_OK : EXIT_FAILED;
}

int cmd_run(int argc, char **argv)
{
	char *config = join(argc, argv, NULL);   /* before getopt permutes argv */
	int rc = run(argc, argv, config ? config : "");
	free(config);
	return rc;
}
