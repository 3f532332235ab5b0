/*
 * I8 against the kernel's view. Both sides are sequences of I/O accesses
 * in execution order: the log's access rows, and the observer's pio/mmio
 * rows that reached userspace (a read's value is the one KVM handed back
 * to the guest). They are walked in step; where they part, a short
 * look-ahead tells a kernel exit the log lacks (missing) from a logged
 * access the kernel never saw (extra) or a different one (differs), and
 * the walk resynchronises, so one lost row costs one failure, not all
 * that follow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check_i8.h"

#define LOOKAHEAD 64

struct io {
	int64_t seq;
	uint64_t addr, value;
	int size;
	char space, dir;   /* 'p'/'m', 'r'/'w' */
};

/* Loads the rows of sql (run bound to ?1) as struct io. Returns the count
 * (*out malloc'd) or -1. */
static long load(sqlite3 *db, const char *sql, int64_t run, struct io **out)
{
	sqlite3_stmt *st;
	long n = 0, cap = 0;
	*out = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, run);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			struct io *p = realloc(*out, (size_t)cap * sizeof(**out));
			if (!p) {
				n = -1;
				break;
			}
			*out = p;
		}
		const char *sp = (const char *)sqlite3_column_text(st, 1), *d = (const char *)sqlite3_column_text(st, 4);
		(*out)[n++] = (struct io){ .seq = sqlite3_column_int64(st, 0), .space = sp ? sp[0] : '?',
					   .addr = (uint64_t)sqlite3_column_int64(st, 2),
					   .size = sqlite3_column_int(st, 3), .dir = d ? d[0] : '?',
					   .value = (uint64_t)sqlite3_column_int64(st, 5) };
	}
	sqlite3_finalize(st);
	return n;
}

static int same(const struct io *a, const struct io *k)
{
	return a->space == k->space && a->addr == k->addr && a->size == k->size && a->dir == k->dir &&
	       a->value == k->value;
}

static const char *describe(const struct io *x, char *buf, size_t len)
{
	snprintf(buf, len, "%s 0x%llx %d %c 0x%llx", x->space == 'p' ? "pio" : "mmio", (unsigned long long)x->addr,
		 x->size, x->dir, (unsigned long long)x->value);
	return buf;
}

/* Notes one failure at access seq (a NULL: a kernel exit the log lacks;
 * k NULL: a logged access the kernel never saw); the first one is described in r->detail. */
static void fail(struct check_result *r, int64_t seq, const struct io *a, const struct io *k)
{
	char ba[64], bk[64];
	r->failed++;
	if (r->verdict == CHECK_FAIL)
		return;
	r->verdict = CHECK_FAIL;
	r->first_seq = seq;
	if (!a)
		snprintf(r->detail, sizeof(r->detail), "the kernel saw an exit (%s, kexit seq %lld) that the log lacks"
			 " (before access seq %lld)", describe(k, bk, sizeof(bk)), (long long)k->seq, (long long)seq);
	else if (!k)
		snprintf(r->detail, sizeof(r->detail), "access seq %lld (%s) is logged but the kernel saw no such exit",
			 (long long)a->seq, describe(a, ba, sizeof(ba)));
	else
		snprintf(r->detail, sizeof(r->detail), "access seq %lld (%s) differs from the kernel's exit (%s, kexit"
			 " seq %lld)", (long long)a->seq, describe(a, ba, sizeof(ba)), describe(k, bk, sizeof(bk)),
			 (long long)k->seq);
}

void check__i8(sqlite3 *db, int64_t run, struct check_result *r)
{
	sqlite3_stmt *st;
	int64_t have = 0, lost = 0, uexits = 0;
	int import = 0;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM kexit WHERE run = ?1), (SELECT lost FROM observer"
			       " WHERE run = ?1), (SELECT count(*) FROM kexit WHERE run = ?1 AND reason IN"
			       " ('KVM_EXIT_IO', 'KVM_EXIT_MMIO')), (SELECT kind = 'import' FROM run WHERE id = ?1)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		if (sqlite3_step(st) == SQLITE_ROW) {
			have = sqlite3_column_int64(st, 0);
			lost = sqlite3_column_int64(st, 1);
			uexits = sqlite3_column_int64(st, 2);
			import = sqlite3_column_int(st, 3);
		}
		sqlite3_finalize(st);
	}
	r->verdict = CHECK_NA;
	if (!have) {
		snprintf(r->detail, sizeof(r->detail), "no kernel-side observation in this run (devirt run --kernel-trace)");
		return;
	}
	if (import) {
		snprintf(r->detail, sizeof(r->detail), "the access rows were made from the kernel's view (devirt observe)");
		return;
	}
	if (lost) {
		snprintf(r->detail, sizeof(r->detail), "the observer lost %lld events to a full ring buffer: the kernel's"
			 " view is incomplete", (long long)lost);
		return;
	}
	struct io *a = NULL, *k = NULL;
	long na = load(db, "SELECT seq, space, addr, size, dir, value FROM access WHERE run = ?1 ORDER BY seq", run, &a);
	long nk = load(db, "SELECT seq, space, addr, size, dir, value FROM kexit WHERE run = ?1 AND reason IN ('pio',"
		       " 'mmio') AND user = 1 ORDER BY seq", run, &k);
	if (na < 0 || nk < 0) {
		snprintf(r->detail, sizeof(r->detail), "cannot read the access or kexit rows: %s", sqlite3_errmsg(db));
		free(a);
		free(k);
		return;
	}
	r->verdict = CHECK_PASS;
	long i = 0, j = 0;
	uint64_t missing = 0, extra = 0, differ = 0;
	while (i < na || j < nk) {
		if (i < na && j < nk && same(&a[i], &k[j])) {
			r->checked++;
			i++, j++;
			continue;
		}
		/* the nearest resynchronisation: d kernel exits the log lacks, or
		 * d logged accesses the kernel never saw */
		long d, skip_k = 0, skip_a = 0;
		int subst = i + 1 < na && j + 1 < nk && same(&a[i + 1], &k[j + 1]);
		for (d = 1; !subst && d <= LOOKAHEAD && !skip_k && !skip_a; d++) {
			if (i < na && j + d < nk && same(&a[i], &k[j + d]))
				skip_k = d;
			else if (j < nk && i + d < na && same(&a[i + d], &k[j]))
				skip_a = d;
		}
		if (j < nk && (skip_k || i >= na)) {
			for (long s = 0; s < (skip_k ? skip_k : nk - j); s++, missing++)
				fail(r, i < na ? a[i].seq : -1, NULL, &k[j + s]);
			j += skip_k ? skip_k : nk - j;
		} else if (i < na && (skip_a || j >= nk)) {
			for (long s = 0; s < (skip_a ? skip_a : na - i); s++, extra++)
				fail(r, a[i + s].seq, &a[i + s], NULL);
			i += skip_a ? skip_a : na - i;
		} else {
			differ++;
			fail(r, a[i].seq, &a[i], &k[j]);
			i++, j++;
		}
	}
	if (r->verdict == CHECK_PASS)
		snprintf(r->detail, sizeof(r->detail), "%ld trapped accesses, each matched to one of the kernel's %ld I/O exits"
			 " (%lld returns to the monitor)", na, nk, (long long)uexits);
	else {
		char first[160];
		snprintf(first, sizeof(first), "%.150s", r->detail);
		snprintf(r->detail, sizeof(r->detail), "%llu missing, %llu extra, %llu different of %ld logged / %ld kernel;"
			 " first: %s", (unsigned long long)missing, (unsigned long long)extra, (unsigned long long)differ,
			 na, nk, first);
	}
	free(a);
	free(k);
}
