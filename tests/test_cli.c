/*
 * devirt run as a user meets it: exit statuses 0/1/2/3 and one-line errors.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

static char out[65536];

Test(cli, run_hello_exits_zero_and_prints_console)
{
	need_kvm();
	char *argv[] = { "devirt", "run", "hello", "--no-log", "--", "ticks=5", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "hello from the devirt guest"), "%s", out);
	cr_assert(strstr(out, "took 5 timer interrupts"), "%s", out);
	cr_assert(strstr(out, "hello: pass"), "%s", out);
}

Test(cli, failing_guest_exits_one_with_code)
{
	need_kvm();
	char *argv[] = { "devirt", "run", "selftest", "--no-log", "--args", "case=exception", NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 1, "%s", out);
	cr_assert(strstr(out, "failure code 0x13"), "%s", out);
}

Test(cli, corrupted_elf_exits_two)
{
	size_t len;
	unsigned char *img = read_file(guest_image("hello"), &len);
	cr_assert_not_null(img);
	img[0] = 0;                       /* break the ELF magic */
	const char *path = temp_file(img, len);
	char *argv[] = { "devirt", "run", (char *)path, NULL };
	cr_assert_eq(run_cmd(argv, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, path) && strstr(out, "not an ELF file"), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
	unlink(path);
	free(img);
}

Test(cli, missing_kvm_exits_three)
{
	char *argv[] = { "devirt", "run", "hello", NULL };
	char *env[] = { "DEVIRT_KVM_DEV=/nonexistent", NULL };
	cr_assert_eq(run_cmd(argv, env, out, sizeof(out)), 3, "%s", out);
	cr_assert(strstr(out, "/nonexistent"), "%s", out);
}

Test(cli, bad_usage_exits_two)
{
	char *a1[] = { "devirt", "run", "no-such-guest", NULL };
	cr_assert_eq(run_cmd(a1, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "unknown guest 'no-such-guest'"), "%s", out);
	char *a2[] = { "devirt", "run", "--timeout", "10", "hello", NULL };
	cr_assert_eq(run_cmd(a2, NULL, out, sizeof(out)), 2, "%s", out);
	cr_assert(strstr(out, "--timeout '10'"), "%s", out);
	char *a3[] = { "devirt", "frobnicate", NULL };
	cr_assert_eq(run_cmd(a3, NULL, out, sizeof(out)), 2, "%s", out);
	char *a4[] = { "devirt", "run", "--mem", "1M", "hello", NULL };
	cr_assert_eq(run_cmd(a4, NULL, out, sizeof(out)), 2, "%s", out);
}

Test(cli, exit_log_is_identical_across_runs)
{
	need_kvm();
	char *a1[] = { "devirt", "run", "hello", "--no-log", "--exit-log", "/tmp/devirt-exitlog-1.txt", "--seed", "7", "--", "ticks=30", NULL };
	char *a2[] = { "devirt", "run", "hello", "--no-log", "--exit-log", "/tmp/devirt-exitlog-2.txt", "--seed", "7", "--", "ticks=30", NULL };
	cr_assert_eq(run_cmd(a1, NULL, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(run_cmd(a2, NULL, out, sizeof(out)), 0, "%s", out);
	size_t n1, n2;
	char *l1 = read_file("/tmp/devirt-exitlog-1.txt", &n1);
	char *l2 = read_file("/tmp/devirt-exitlog-2.txt", &n2);
	cr_assert(l1 && l2);
	cr_assert_gt(n1, 1000);
	cr_assert(strstr(l1, " irq vector=0x20 "), "timer injections are logged");
	cr_assert(strstr(l1, " pio 0xf4 4 w 0x10 exit "), "the verdict write is logged");
	cr_assert_eq(n1, n2);
	cr_assert_eq(memcmp(l1, l2, n1), 0, "exit logs differ");
	free(l1);
	free(l2);
}
