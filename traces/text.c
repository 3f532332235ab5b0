/*
 * Access text form (see text.h). Kept in one place so that SQL, triggers
 * and replay can never disagree about what a pattern matches.
 */
#include <inttypes.h>
#include <stdio.h>
#include "text.h"

int trace__access_text(char *buf, size_t len, const char *device, int write, const char *reg,
		       uint64_t value, const char *space, uint64_t addr, unsigned size)
{
	return snprintf(buf, len, "%s %c %s 0x%" PRIx64 " %s 0x%" PRIx64 "/%u",
			device ? device : "-", write ? 'w' : 'r', reg ? reg : "-",
			value, space, addr, size);
}
