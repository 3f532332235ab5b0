/*
 * Parsing of the quantities users type: durations with a unit (ns, us, ms, s,
 * as DESIGN requires on command lines and in configs) and byte sizes.
 */
#ifndef DEVIRT_UNITS_H
#define DEVIRT_UNITS_H

#include <stdint.h>

/* Parses "250us", "2ms", "1s", "10ns" into ns. A bare number is an error
 * (durations must carry a unit). Returns 0 or -EINVAL / -ERANGE. */
int units__duration(const char *s, uint64_t *ns);

/* Parses "64M", "64MiB", "16777216", "1G", "512K" into bytes.
 * Returns 0 or -EINVAL / -ERANGE. */
int units__size(const char *s, uint64_t *bytes);

/* Parses a plain unsigned integer (decimal or 0x-hex). Returns 0 or -EINVAL. */
int units__u64(const char *s, uint64_t *v);

#endif
