/*
 * Duration and size parsing. Strict: trailing garbage, empty numbers and
 * overflow are errors, so a typo in a config never becomes a silent zero.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "units.h"

/* Splits s into a number and a suffix. Returns 0 or -EINVAL / -ERANGE. */
static int number_prefix(const char *s, uint64_t *v, const char **suffix)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	*v = n;
	*suffix = end;
	return 0;
}

/* Multiplies v by k, failing on overflow. */
static int scale(uint64_t *v, uint64_t k)
{
	if (k && *v > UINT64_MAX / k)
		return -ERANGE;
	*v *= k;
	return 0;
}

int units__duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t k; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	};
	const char *suf;
	uint64_t v;
	int rc = number_prefix(s, &v, &suf);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(suf, units[i].unit)) {
			rc = scale(&v, units[i].k);
			if (!rc)
				*ns = v;
			return rc;
		}
	}
	return -EINVAL;
}

int units__size(const char *s, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t k; } units[] = {
		{ "", 1 }, { "K", 1ull << 10 }, { "KiB", 1ull << 10 },
		{ "M", 1ull << 20 }, { "MiB", 1ull << 20 },
		{ "G", 1ull << 30 }, { "GiB", 1ull << 30 },
	};
	const char *suf;
	uint64_t v;
	int rc = number_prefix(s, &v, &suf);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(suf, units[i].unit)) {
			rc = scale(&v, units[i].k);
			if (!rc)
				*bytes = v;
			return rc;
		}
	}
	return -EINVAL;
}

int units__u64(const char *s, uint64_t *v)
{
	const char *suf;
	int rc = number_prefix(s, v, &suf);
	return rc ? rc : (*suf ? -EINVAL : 0);
}
