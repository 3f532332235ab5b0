/*
 * Test helpers (see helpers.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"
#include "../bpf/observer.h"

static int required(const char *var)
{
	const char *v = getenv(var);
	return v && *v && strcmp(v, "0");
}

void need_kvm(void)
{
	const char *dev = "/dev/kvm";
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (required("REQUIRE_KVM"))
		cr_assert_fail("REQUIRE_KVM=1 but %s is unusable: %s", dev, strerror(errno));
	cr_skip_test("skipped: %s is unusable (%s); set REQUIRE_KVM=1 to fail instead", dev, strerror(errno));
}

void need_qemu(void)
{
	char out[256];
	char *const argv[] = { "qemu-system-x86_64", "--version", NULL };
	if (run_cmd(argv, NULL, out, sizeof(out)) == 0)
		return;
	if (required("REQUIRE_QEMU"))
		cr_assert_fail("REQUIRE_QEMU=1 but qemu-system-x86_64 does not run");
	cr_skip_test("skipped: qemu-system-x86_64 not installed (make deps installs it)");
}

void need_bpf(void)
{
	struct kobs *o;
	char err[256];
	if (!kobs__start(&o, getpid(), err, sizeof(err))) {
		kobs__free(o);
		return;
	}
	if (required("REQUIRE_BPF"))
		cr_assert_fail("REQUIRE_BPF=1 but the BPF observer cannot start: %s", err);
	cr_skip_test("skipped: the BPF observer cannot start (%s); set REQUIRE_BPF=1 to fail instead", err);
}

char *new_path(char *buf, const char *suffix)
{
	char tmp[64];
	strcpy(tmp, "/tmp/devirt-XXXXXX");
	int fd = mkstemp(tmp);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	close(fd);
	unlink(tmp);
	snprintf(buf, 80, "%s%s", tmp, suffix);
	return buf;
}

sqlite3 *open_db(const char *path)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK, "%s", path);
	return db;
}

void rm_db(const char *path)
{
	char p[96];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

const char *guest_image(const char *name)
{
	static char path[4096];
	const char *dir = getenv("DEVIRT_GUEST_DIR");
	snprintf(path, sizeof(path), "%s/%s.elf", dir ? dir : "build/guest", name);
	return path;
}

int run_guest(const char *name, const char *args, machine_trace_fn *trace, void *ctx,
	      struct vmm_result *res)
{
	struct vmm_cfg cfg = {
		.image = guest_image(name), .args = args, .console_fd = -1,
		.vtimeout_ns = 30ull * 1000000000ull, .wtimeout_ns = 60ull * 1000000000ull,
		.trace = trace, .trace_ctx = ctx,
	};
	return vmm__run(&cfg, res);
}

int run_cmd(char *const argv[], char *const env[], char *out, size_t outlen)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		const char *bin = argv[0];
		if (!strcmp(bin, "devirt"))
			bin = getenv("DEVIRT_BIN") ? getenv("DEVIRT_BIN") : "bin/devirt";
		execvp(bin, argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t got = 0;
	for (;;) {
		char tmp[4096];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t room = outlen - 1 - got;
		size_t k = (size_t)n < room ? (size_t)n : room;
		memcpy(out + got, tmp, k);
		got += k;
	}
	out[got] = 0;
	close(pfd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *temp_file(const void *data, size_t len)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/devirt-test-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		*len = (size_t)n;
	return buf;
}

int64_t q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
