/*
 * The kernel-side observer: I8 from the kernel's view of our own runs (and
 * that it fails when the log loses or changes a row), D6 seen from the
 * kernel (no exits for ringblk's page while it is passed through), and
 * recording other monitors: QEMU's BIOS driving an IDE disk becomes a run
 * that replays through our engine.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"

static char out[1 << 16];

/* devirt check's I8 line for db. */
static const char *i8_line(const char *db, int want_rc)
{
	char *argv[] = { "devirt", "check", (char *)db, NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), want_rc, "%s", out);
	const char *l = strstr(out, "  I8 ");
	cr_assert(l, "%s", out);
	return l;
}

Test(observe, i8_matches_the_log_against_the_kernel_and_fails_without_a_row, .timeout = 240)
{
	need_kvm();
	need_bpf();
	char db[80];
	char *argv[] = { "devirt", "run", "mixed", "--db", new_path(db, ".db"), "--kernel-trace",
			 "--switch", "every=101:roundtrip:all", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "kernel-trace:") && strstr(out, " 0 lost"), "%s", out);
	sqlite3 *d = open_db(db);
	int64_t accesses = q1(d, "SELECT count(*) FROM access");
	int64_t switches = q1(d, "SELECT count(*) FROM switch WHERE outcome = 'done'");
	cr_assert_gt(accesses, 1000);
	cr_assert_gt(switches, 10);
	cr_assert_eq(q1(d, "SELECT count(*) FROM kexit WHERE reason IN ('pio', 'mmio') AND user = 1"), accesses);
	const char *l = i8_line(db, 0);
	long long checked;
	cr_assert(sscanf(l, "  I8 PASS %lld checked", &checked) == 1, "%s", out);
	cr_assert_eq(checked, accesses);
	/* the log loses one row: one kernel exit is missing from it */
	cr_assert_eq(sqlite3_exec(d, "DELETE FROM access WHERE seq = (SELECT seq FROM access ORDER BY seq"
				     " LIMIT 1 OFFSET 5000)", NULL, NULL, NULL), SQLITE_OK);
	l = i8_line(db, 1);
	cr_assert(strstr(l, "I8 FAIL") && strstr(l, "1 missing, 0 extra, 0 different"), "%s", l);
	/* and a read logged with another value than the guest got */
	cr_assert_eq(sqlite3_exec(d, "UPDATE access SET value = (value | 1) - (value & 1) WHERE seq = (SELECT seq FROM access"
				     " WHERE dir = 'r' ORDER BY seq LIMIT 1 OFFSET 7000)", NULL, NULL, NULL), SQLITE_OK);
	l = i8_line(db, 1);
	cr_assert(strstr(l, "1 missing, 0 extra, 1 different"), "%s", l);
	cr_assert_gt(q1(d, "SELECT count(*) FROM violation WHERE invariant = 'I8'"), 0);
	sqlite3_close(d);
	rm_db(db);
}

/* Runs ringblk-stress with the kernel watching; returns the MMIO exits the
 * kernel saw reach the monitor on ringblk's register page. */
static int64_t kernel_ringblk_exits(const char *db, const char *opt)
{
	char *argv[] = { "devirt", "run", "ringblk-stress", "--db", (char *)db, "--kernel-trace", (char *)opt, NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	sqlite3 *d = open_db(db);
	int64_t n = q1(d, "SELECT count(*) FROM kexit k JOIN device v ON v.run = k.run AND v.name = 'ringblk'"
			  " WHERE k.run = (SELECT max(id) FROM run) AND k.reason = 'mmio' AND k.user = 1"
			  " AND k.addr >= v.base AND k.addr < v.base + v.size");
	sqlite3_close(d);
	return n;
}

Test(observe, the_kernel_sees_no_ringblk_exits_while_it_is_passed_through, .timeout = 240)
{
	need_kvm();
	need_bpf();
	char db[80];
	new_path(db, ".db");
	int64_t passthrough = kernel_ringblk_exits(db, NULL);
	int64_t virtualized = kernel_ringblk_exits(db, "--mode=ringblk=virtualized");
	int64_t trapped = kernel_ringblk_exits(db, "--ringblk-trap");
	cr_log_info("kernel-side MMIO exits on ringblk's page: pass-through %lld, virtualized %lld, every access"
		    " trapped %lld", (long long)passthrough, (long long)virtualized, (long long)trapped);
	cr_assert_eq(passthrough, 0, "pass-through: the page is a memory slot; the kernel saw %lld exits",
		     (long long)passthrough);
	cr_assert_gt(trapped, 100);
	cr_assert_eq(virtualized, trapped, "virtualized: one exit per guest register access");
	/* switched back and forth: I8 holds, so every exit on the page is a logged, trapped access */
	char *argv[] = { "devirt", "run", "ringblk-stress", "--db", db, "--kernel-trace", "--switch",
			 "every=17:roundtrip:ringblk", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	char run[16];
	sqlite3 *d = open_db(db);
	snprintf(run, sizeof(run), "%lld", (long long)q1(d, "SELECT max(id) FROM run"));
	sqlite3_close(d);
	char *check[] = { "devirt", "check", db, "--run", run, NULL };
	cr_assert_eq(run_cmd(check, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "  I8 PASS"), "%s", out);
	rm_db(db);
}

Test(observe, qemu_bios_driving_an_ide_disk_replays_through_our_engine, .timeout = 240)
{
	need_kvm();
	need_qemu();
	need_bpf();
	char db[80], img[80], drive[128];
	/* a boot sector that ends the run: mov al, 0x21; out 0xf4, al; hlt */
	static unsigned char sector[512] = { 0xb0, 0x21, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd };
	sector[510] = 0x55;
	sector[511] = 0xaa;
	FILE *f = fopen(new_path(img, ".img"), "w");
	cr_assert(f && fwrite(sector, 1, 512, f) == 512 && !ftruncate(fileno(f), 1 << 20));
	fclose(f);
	snprintf(drive, sizeof(drive), "file=%s,format=raw,if=ide", img);
	char *argv[] = { "devirt", "observe", "--db", new_path(db, ".db"), "--timeout", "100s", "--",
			 "qemu-system-x86_64", "-enable-kvm", "-display", "none", "-nodefaults", "-no-reboot",
			 "-monitor", "none", "-serial", "null", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
			 "-drive", drive, NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	unlink(img);
	cr_assert(strstr(out, "exited with status 67"), "the boot sector ran:\n%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT kind = 'import' FROM run WHERE id = 1"), 1);
	/* SeaBIOS's own ATA driver: IDENTIFY (0xec) then a READ SECTORS (0x20) of the MBR */
	cr_assert_gt(q1(d, "SELECT count(*) FROM access WHERE device = 'ata' AND reg = 'command' AND value = 236"), 0);
	cr_assert_gt(q1(d, "SELECT count(*) FROM access WHERE device = 'ata' AND reg = 'command' AND value = 32"), 0);
	cr_assert_geq(q1(d, "SELECT count(*) FROM access WHERE device = 'ata' AND reg = 'data' AND dir = 'r'"), 512);
	/* the boot signature came through the kernel's view of rep insw */
	cr_assert_eq(q1(d, "SELECT count(*) FROM access WHERE reg = 'data' AND value = 43605"), 1);
	sqlite3_close(d);
	char *replay[] = { "devirt", "replay", db, "--run", "1", NULL };
	cr_assert_eq(run_cmd(replay, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "conformance:") && strstr(out, "replayed"), "%s", out);
	d = open_db(db);
	/* the boot sector's isa-debug-exit write is our exit port's too: the
	 * replayed machine ends on it, with its code */
	cr_assert_eq(q1(d, "SELECT exit_code FROM run WHERE parent = 1 AND verdict IS NOT 'running'"), 0x21);
	sqlite3_close(d);
	char *exh[] = { "devirt", "replay", db, "--run", "1", "--exhaustive", "--actions=roundtrip", "--no-progress",
			NULL };
	cr_assert_eq(run_cmd(exh, NULL, out, sizeof(out)), 0, "%s", out);
	unsigned long long inj, ident, reconv, med, max, viol;
	const char *rt = strstr(out, "\nroundtrip");
	cr_assert(rt && sscanf(rt, "\nroundtrip %llu %llu %llu %llu %llu %llu", &inj, &ident, &reconv, &med, &max,
			       &viol) == 6, "%s", out);
	cr_assert_gt(inj, 100);
	cr_assert_eq(viol, 0, "%s", out);
	rm_db(db);
}

Test(observe, attaches_to_a_running_monitor_by_pid, .timeout = 120)
{
	need_kvm();
	need_bpf();
	char db[80];
	const char *bin = getenv("DEVIRT_BIN") ? getenv("DEVIRT_BIN") : "bin/devirt";
	pid_t vm = fork();
	if (vm == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, "devirt", "run", "exitloop", "--no-log", "--", "n=400000", (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)vm);
	char *argv[] = { "devirt", "observe", "--pid", pid, "--db", new_path(db, ".db"), "--timeout", "60s", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	int st;
	cr_assert_eq(waitpid(vm, &st, 0), vm);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sqlite3 *d = open_db(db);
	int64_t n = q1(d, "SELECT count(*) FROM kexit WHERE reason = 'pio' AND addr = 128 AND dir = 'w' AND user = 1");
	cr_log_info("attached by pid: %lld of exitloop's 400000 port writes seen", (long long)n);
	cr_assert_gt(n, 1000);
	cr_assert_lt(n, 400001);
	cr_assert_eq(q1(d, "SELECT count(*) FROM access"), q1(d, "SELECT count(*) FROM kexit WHERE reason = 'pio'"
							     " AND user = 1"));
	sqlite3_close(d);
	rm_db(db);
}

Test(observe, refuses_cleanly_without_privilege_or_with_bad_usage)
{
	char db[80];
	new_path(db, ".db");
	char *none[] = { "devirt", "observe", "--db", db, NULL };
	cr_assert_eq(run_cmd(none, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "give either --pid or -- CMD"), "%s", out);
	char *nopid[] = { "devirt", "observe", "--pid", "999999999", "--db", db, NULL };
	cr_assert_eq(run_cmd(nopid, NULL, out, sizeof(out)), 2, "%s", out);
	char *nolog[] = { "devirt", "run", "hello", "--no-log", "--kernel-trace", NULL };
	cr_assert_eq(run_cmd(nolog, NULL, out, sizeof(out)), 2, "%s", out);
	if (geteuid() != 0)
		cr_skip_test("skipped the unprivileged case: not root, so it cannot drop privileges");
	/* as nobody: exit 3 with the reason, and no database is made */
	const char *bin = getenv("DEVIRT_BIN") ? getenv("DEVIRT_BIN") : "bin/devirt";
	char *asnobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", (char *)bin, "observe",
			     "--db", db, "--", "true", NULL };
	cr_assert_eq(run_cmd(asnobody, NULL, out, sizeof(out)), 3, "%s", out);
	cr_assert(strstr(out, "run as root"), "%s", out);
	cr_assert_neq(access(db, F_OK), 0);
}

Test(observe, a_campaign_stores_each_runs_kernel_view, .timeout = 240)
{
	need_kvm();
	need_bpf();
	char db[80], ini[80];
	FILE *f = fopen(new_path(ini, ".ini"), "w");
	cr_assert(f);
	fprintf(f, "[campaign]\nname = kt\nguest = mixed\nargs = rounds=2\nruns = 3\nbaseline = yes\nseed = 5\n"
		   "kernel_trace = yes\n\n[inject]\ntrigger = every\nevery = 97\nactions = roundtrip\ndevices = all\n");
	fclose(f);
	char *argv[] = { "devirt", "campaign", ini, "--db", new_path(db, ".db"), NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	sqlite3 *d = open_db(db);
	cr_assert_eq(q1(d, "SELECT count(*) FROM run"), 6);
	/* each run, the baselines too, has its own kernel rows: as many I/O
	 * exits reached the monitor as it logged */
	cr_assert_eq(q1(d, "SELECT count(*) FROM run r WHERE (SELECT count(*) FROM access a WHERE a.run = r.id) ="
			   " (SELECT count(*) FROM kexit k WHERE k.run = r.id AND k.reason IN ('pio', 'mmio') AND"
			   " k.user = 1) AND (SELECT lost FROM observer o WHERE o.run = r.id) = 0"), 6);
	sqlite3_close(d);
	char *check[] = { "devirt", "check", db, "--summary", NULL };
	cr_assert_eq(run_cmd(check, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "I8                 6     0     0"), "%s", out);
	/* a bad value names the file, line and key */
	f = fopen(ini, "w");
	fprintf(f, "[campaign]\nname = kt\nguest = hello\nruns = 1\nkernel_trace = maybe\n");
	fclose(f);
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, ":5:") && strstr(out, "kernel_trace"), "%s", out);
	unlink(ini);
	rm_db(db);
}
