/*
 * Register names of every device model, for traces, SQL and reports. Pure
 * data (no device code), so the SQLite extension can link it alone.
 */
#ifndef DEVIRT_REGNAMES_H
#define DEVIRT_REGNAMES_H

#include <stdint.h>

/* Returns the name of the register at device offset off of model (as in
 * hw_ops.model) for a read (write = 0) or a write, or NULL if unknown. */
const char *regnames__lookup(const char *model, uint64_t off, int write);

#endif
