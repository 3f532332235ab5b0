/*
 * Checked guest-memory accessor; overflow-safe range checks.
 */
#include <errno.h>
#include <string.h>
#include "gmem.h"

void *gmem__ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (!m->host || gpa > m->size || len > m->size - gpa)
		return NULL;
	return m->host + gpa;
}

int gmem__read(const struct gmem *m, uint64_t gpa, void *buf, uint64_t len)
{
	void *p = gmem__ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	if (m->on_read)
		m->on_read(m->on_read_ctx, gpa, buf, len);
	return 0;
}

int gmem__write(const struct gmem *m, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = gmem__ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}
