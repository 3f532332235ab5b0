/*
 * Small platform devices: the debug-exit port through which a guest reports
 * its verdict (like QEMU's isa-debug-exit), the I/O delay port 0x80, and a
 * scratch MMIO page that remembers what is written (a cheap MMIO exit target
 * for benchmarks).
 */
#ifndef DEVIRT_SIMPLE_H
#define DEVIRT_SIMPLE_H

#include "hw.h"

/* Receives the value a guest wrote to the exit port. */
typedef void debugexit_fn(void *ctx, uint32_t value);

/* Creates the exit port; every write calls report(ctx, value). */
struct hw *debugexit__create(const struct hw_env *env, debugexit_fn *report, void *ctx);

/* Creates the I/O delay port: writes do nothing, reads return 0xff. */
struct hw *iodelay__create(const struct hw_env *env);

/* Creates a scratch register page of `size` bytes (at most 4096). */
struct hw *scratch__create(const struct hw_env *env, uint64_t size);

#endif
