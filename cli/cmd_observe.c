/*
 * devirt observe (--pid P | -- CMD ARGS...) --db F [--timeout DUR] [--guest NAME]:
 * records what the kernel sees of any KVM monitor's exits (bpf/observer.h)
 * as a run of kind 'import': the kexit rows, and access rows for the port
 * accesses that reached the monitor (traces/import_kexit.h), so that a
 * real BIOS or driver on a real VMM can be replayed through our engine.
 * With a command, it is started only once the observer is attached, and
 * stopped (SIGTERM, then SIGKILL) at --timeout; with --pid, observation
 * ends when the process exits, at --timeout, or on SIGINT/SIGTERM.
 * Prints the new run's id on stdout. Exit 0; 2 bad usage or no such
 * process or command; 3 no BPF (not root, no BTF, no KVM tracepoints).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "cli.h"
#include "../bpf/observer.h"
#include "../lib/hosttime.h"
#include "../lib/units.h"
#include "../traces/db.h"
#include "../traces/import_kexit.h"
#include "../traces/import_qemu.h"

#define USAGE "usage: devirt observe (--pid P | -- CMD ARGS...) --db FILE [--timeout DUR] [--guest NAME]\n"
#define GRACE_MS 3000

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { g_stop = sig; }

static uint64_t mono_ms(void)
{
	return host_ns() / 1000000;
}

/* Starts argv stopped at a pipe; returns its pid (-1 on failure) and the
 * pipe's write end in *go: one byte lets it exec, closing it kills it. */
static pid_t spawn(char **argv, int *go)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "devirt observe: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	*go = p[1];
	return pid;
}

/* Waits for the child until it exits or the deadline (0: none) passes,
 * then stops it. Returns its wait status. */
static int wait_child(pid_t pid, uint64_t deadline_ms)
{
	int status = 0, sent = 0;
	uint64_t kill_at = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return status;
		uint64_t now = mono_ms();
		if (!sent && (g_stop || (deadline_ms && now >= deadline_ms))) {
			kill(pid, SIGTERM);
			sent = 1;
			kill_at = now + GRACE_MS;
		} else if (sent && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = UINT64_MAX;
		}
		usleep(10000);
	}
}

/* Waits until process pid exits, the deadline passes or a signal asks to
 * stop. */
static void wait_pid(pid_t pid, uint64_t deadline_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	while (!g_stop && (!deadline_ms || mono_ms() < deadline_ms)) {
		if (fd >= 0) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			if (poll(&pf, 1, 50) > 0)
				break;
		} else {
			if (kill(pid, 0) && errno == ESRCH)
				break;
			usleep(50000);
		}
	}
	if (fd >= 0)
		close(fd);
}

/* The process's name (/proc/P/comm) in buf. */
static const char *comm_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	snprintf(buf, len, "pid %d", (int)pid);
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	return buf;
}

/* Stores the observation as a new run. Returns an exit status. */
static int record(struct kobs *o, const char *dbpath, const char *guest, const char *target)
{
	sqlite3 *db;
	char err[256];
	int64_t run = 0;
	uint64_t n = 0;
	int rc = db__open(&db, dbpath, err, sizeof(err));
	if (!rc) {
		int src = import__begin_run(db, guest, target, target, "devirt observe", &run);
		src = src ? src : sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (src) {
			snprintf(err, sizeof(err), "%s: %s", dbpath, sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			rc = -EIO;
		}
	}
	if (!rc)
		rc = kobs__store(o, db, run, 0, target, err, sizeof(err));
	if (!rc)
		rc = import__kexit(db, run, &n, err, sizeof(err));
	sqlite3_close(db);
	if (rc) {
		fprintf(stderr, "devirt observe: %s\n", err);
		return rc == -ENOMEM || rc == -ENOSPC || rc == -EIO ? EXIT_ENV : EXIT_USAGE;
	}
	size_t nrows;
	kobs__rows(o, &nrows);
	fprintf(stderr, "devirt observe: run %" PRId64 ": %" PRIu64 " port accesses reached the monitor; %zu kernel"
		" rows from %" PRIu64 " tracepoint hits, %" PRIu64 " lost\n", run, n, nrows, kobs__events(o),
		kobs__lost(o));
	if (kobs__lost(o))
		fprintf(stderr, "devirt observe: warning: the ring buffer overflowed; the recording is incomplete\n");
	printf("%" PRId64 "\n", run);
	return EXIT_OK;
}

int cmd_observe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, 0, 'p' }, { "db", required_argument, 0, 'd' },
		{ "timeout", required_argument, 0, 't' }, { "guest", required_argument, 0, 'g' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *db = NULL, *guest = NULL;
	long pid = 0;
	uint64_t timeout_ns = 0;
	char *end;
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "devirt observe: --pid '%s': expected a process id\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'd': db = optarg; break;
		case 'g': guest = optarg; break;
		case 't':
			if (units__duration(optarg, &timeout_ns) || !timeout_ns) {
				fprintf(stderr, "devirt observe: --timeout '%s': expected a duration with a unit (e.g. 30s)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf(USAGE);
			return EXIT_OK;
		default:
			fprintf(stderr, USAGE);
			return EXIT_USAGE;
		}
	}
	int has_cmd = optind < argc;
	if (!db || has_cmd == !!pid) {
		fprintf(stderr, "devirt observe: %s\n" USAGE, !db ? "missing --db" : "give either --pid or -- CMD");
		return EXIT_USAGE;
	}
	if (pid && kill((pid_t)pid, 0) && errno == ESRCH) {
		fprintf(stderr, "devirt observe: --pid %ld: no such process\n", pid);
		return EXIT_USAGE;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	uint64_t deadline = timeout_ns ? mono_ms() + timeout_ns / 1000000 : 0;
	char err[256], target[512], name[64];
	struct kobs *o = NULL;
	int go = -1, status = 0;
	pid_t child = 0;
	if (has_cmd) {
		child = spawn(argv + optind, &go);
		if (child < 0) {
			fprintf(stderr, "devirt observe: cannot start %s: %s\n", argv[optind], strerror(errno));
			return EXIT_ENV;
		}
	}
	if (kobs__start(&o, has_cmd ? child : (pid_t)pid, err, sizeof(err))) {
		fprintf(stderr, "devirt observe: %s\n", err);
		if (has_cmd) {
			close(go);
			waitpid(child, NULL, 0);
		}
		return EXIT_ENV;
	}
	if (has_cmd) {
		size_t n = 0;
		for (int i = optind; i < argc && n < sizeof(target) - 2; i++)
			n += (size_t)snprintf(target + n, sizeof(target) - n, "%s%s", i > optind ? " " : "", argv[i]);
		const char *base = strrchr(argv[optind], '/');
		snprintf(name, sizeof(name), "%s", base ? base + 1 : argv[optind]);
		if (write(go, "g", 1) != 1)
			kill(child, SIGKILL);
		close(go);
		status = wait_child(child, deadline);
	} else {
		snprintf(target, sizeof(target), "pid %ld", pid);
		comm_of((pid_t)pid, name, sizeof(name));
		wait_pid((pid_t)pid, deadline);
	}
	kobs__stop(o);
	if (has_cmd) {
		if (WIFEXITED(status))
			fprintf(stderr, "devirt observe: %s exited with status %d\n", name, WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			fprintf(stderr, "devirt observe: %s stopped by signal %d\n", name, WTERMSIG(status));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			kobs__free(o);
			return EXIT_USAGE;
		}
	}
	int rc = record(o, db, guest ? guest : name, target);
	kobs__free(o);
	return rc;
}
