/*
 * Test helpers: skip-or-fail for missing KVM / QEMU (skips are visible, and
 * REQUIRE_KVM=1 / REQUIRE_QEMU=1 turn them into failures), one-call guest
 * runs, and running the devirt binary as a user would.
 */
#ifndef DEVIRT_TEST_HELPERS_H
#define DEVIRT_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include "../vmm/vmm.h"

/* Skips the test (or fails it under REQUIRE_KVM=1) when /dev/kvm is unusable. */
void need_kvm(void);

/* Same for qemu-system-x86_64 on PATH, under REQUIRE_QEMU=1. */
void need_qemu(void);

/* Same for the kernel-side BPF observer (root, BTF, KVM tracepoints),
 * under REQUIRE_BPF=1. */
void need_bpf(void);

/* Returns the path of build/guest/NAME.elf (static buffer). */
const char *guest_image(const char *name);

/* Runs guest NAME with args under KVM, console discarded, trace optional.
 * Returns the vmm__run status; fills res. */
int run_guest(const char *name, const char *args, machine_trace_fn *trace, void *ctx,
	      struct vmm_result *res);

/* Runs argv (argv[0] "devirt" is replaced by $DEVIRT_BIN; other argv[0]s are
 * looked up on PATH) with extra environment assignments env (NULL-terminated,
 * may be NULL), capturing stdout+stderr into out (NUL-terminated, truncated
 * to outlen). Returns the exit status, or 128+signal. */
int run_cmd(char *const argv[], char *const env[], char *out, size_t outlen);

/* Puts a fresh path "/tmp/devirt-XXXXXX" + suffix in buf (80 bytes at
 * least; the file does not exist) and returns buf. */
char *new_path(char *buf, const char *suffix);

/* Opens the database at path, failing the test if it cannot. */
struct sqlite3 *open_db(const char *path);

/* Removes a database and its WAL files. */
void rm_db(const char *path);

/* Writes len bytes to a fresh temporary file; returns its path (static). */
const char *temp_file(const void *data, size_t len);

/* Reads a whole file into a malloc'd buffer; returns NULL on error. */
void *read_file(const char *path, size_t *len);

struct sqlite3;
/* Runs an integer-valued SQL query on db and returns the first column of
 * its first row; fails the test on any error. */
int64_t q1(struct sqlite3 *db, const char *sql);

#endif
