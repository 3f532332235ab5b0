/*
 * Guest memory a replay must preload before the recording shows a device
 * reading it.
 *
 * The recording holds guest memory only as devices read it (dma rows), at
 * the moment they read it; a replay preloads a row right before the exit
 * it belongs to. That is early enough for a replay that reads at the same
 * moments. A replay with a switch injected may read sooner: an emulating
 * engine fetches ringblk's submission entries when the doorbell traps, and
 * their write data when it forwards the request, where the recorded device
 * read them an exit, or a whole request's latency, later (much later under
 * a recorded deferral). The guest wrote both before ringing the doorbell
 * that covers the entry, so both are preloaded at that doorbell: the first
 * SQ_TAIL store whose value passes the entry's ring index. Entries are
 * fetched from the guest's ring exactly once each, in index order (by the
 * device, or by an emulating engine, which hands the device its own rings
 * in monitor memory), so the n-th fetch since the guest enabled or reset
 * the queue is entry n. Entries are recognised by their place in the ring
 * the guest configured, data by address and length.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rtrace.h"
#include "../devices/ringblk.h"

#define LOOKAHEAD 65536     /* events between an entry's fetch and its data read */

struct pair { uint32_t at, row; };

/* Returns 1 when event e stores ringblk's SQ_TAIL (a doorbell). */
static int doorbell(const struct rev *e)
{
	return (e->kind == RK_MAPPED && e->off == RB_SQ_TAIL) ||
	       (e->kind == RK_ACCESS && e->mmio && e->write && e->addr == RINGBLK_BASE + RB_SQ_TAIL);
}

/* The guest's submission ring as configured so far. */
struct ring {
	uint64_t base;
	uint32_t qsize;
};

/* Follows the guest's ring configuration stores (mapped or trapped). */
static void configure(struct ring *r, const struct rev *e)
{
	uint64_t off = e->kind == RK_MAPPED ? e->off : e->addr - RINGBLK_BASE;
	if (!(e->kind == RK_MAPPED || (e->kind == RK_ACCESS && e->mmio && e->write &&
				       e->addr >= RINGBLK_BASE && e->addr < RINGBLK_BASE + RINGBLK_SIZE)))
		return;
	if (off == RB_SQ_BASE && e->size == 8)
		r->base = e->value;
	else if (off == RB_SQ_BASE)
		r->base = (r->base & ~0xffffffffull) | (uint32_t)e->value;
	else if (off == RB_SQ_BASE + 4)
		r->base = (r->base & 0xffffffffull) | (e->value << 32);
	else if (off == RB_QSIZE)
		r->qsize = (uint32_t)e->value;
}

/* qsort order of pairs: by position, then row. */
static int by_at(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	return x->at != y->at ? (x->at < y->at ? -1 : 1) : (x->row < y->row ? -1 : x->row > y->row);
}

/* Returns the row reading the data of write entry q fetched at f, or 0. */
static uint32_t data_row(const struct rtrace *rt, size_t f, const struct ringblk_sqe *q)
{
	for (size_t j = f + 1; j < rt->n && j < f + LOOKAHEAD; j++) {
		const struct rev *d = &rt->ev[j];
		if (d->kind == RK_DMA && d->addr == q->buf && d->blob_len == q->nsect * BLK_SECTOR)
			return (uint32_t)j;
	}
	return 0;
}

/* Follows the guest's CTRL stores: returns 1 when e starts a new epoch of
 * the queue (a reset, or ENABLE rising: indices start again at 0). */
static int new_epoch(uint32_t *ctrl, const struct rev *e)
{
	uint64_t off = e->kind == RK_MAPPED ? e->off : e->addr - RINGBLK_BASE;
	if (!(e->kind == RK_MAPPED || (e->kind == RK_ACCESS && e->mmio && e->write &&
				       e->addr >= RINGBLK_BASE && e->addr < RINGBLK_BASE + RINGBLK_SIZE)) ||
	    off != RB_CTRL)
		return 0;
	uint32_t v = (uint32_t)e->value, old = *ctrl;
	*ctrl = v & ~RB_CTRL_RESET;
	return (v & RB_CTRL_RESET) || (!(old & RB_CTRL_ENABLE) && (v & RB_CTRL_ENABLE));
}

int early__plan(struct rtrace *rt)
{
	/* the doorbells, and where each epoch's start in that list */
	uint32_t *bells = malloc((rt->n + 1) * sizeof(*bells));
	uint32_t *first = malloc((rt->n + 2) * sizeof(*first));
	struct pair *p = NULL;
	struct ring ring = { 0 };
	uint32_t ctrl = 0, epoch = 0;
	size_t nb = 0, np = 0, cap = 0;
	int rc = -ENOMEM;
	rt->early_at = calloc(rt->n + 2, sizeof(*rt->early_at));
	if (!bells || !first || !rt->early_at)
		goto out;
	first[0] = 0;
	for (size_t f = 0; f < rt->n; f++) {
		if (new_epoch(&ctrl, &rt->ev[f]))
			first[++epoch] = (uint32_t)nb;
		if (doorbell(&rt->ev[f]))
			bells[nb++] = (uint32_t)f;
	}
	first[epoch + 1] = (uint32_t)nb;
	/* each entry fetched from the guest's ring, in index order */
	ctrl = 0;
	epoch = 0;
	uint32_t fetched = 0;
	for (size_t f = 0; f < rt->n; f++) {
		const struct rev *e = &rt->ev[f];
		struct ringblk_sqe q;
		configure(&ring, e);
		if (new_epoch(&ctrl, e)) {
			epoch++;
			fetched = 0;
		}
		if (e->kind != RK_DMA || e->blob_len != sizeof(q) || !ring.qsize ||
		    e->addr < ring.base || e->addr >= ring.base + (uint64_t)ring.qsize * sizeof(q) ||
		    (e->addr - ring.base) % sizeof(q))
			continue;
		memcpy(&q, rt->blobs + e->blob, sizeof(q));
		uint32_t j = fetched++;
		/* the first doorbell of the epoch whose tail passed entry j */
		size_t lo = first[epoch], hi = first[epoch + 1];
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if ((uint32_t)rt->ev[bells[mid]].value > j)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (lo == first[epoch + 1])
			continue;
		uint32_t at = bells[lo];
		uint32_t d = q.opcode == RB_OP_WRITE && q.nsect && q.nsect <= RINGBLK_MAX_SECT ? data_row(rt, f, &q) : 0;
		if (np + 2 > cap) {
			cap = cap ? cap * 2 : 1024;
			struct pair *n = realloc(p, cap * sizeof(*n));
			if (!n)
				goto out;
			p = n;
		}
		/* a doorbell after the fetch fetched while it was served (a
		 * trapped store): the entry is in time, its data is not */
		if (at + 1 < f)
			p[np++] = (struct pair){ .at = at, .row = (uint32_t)f };
		if (d && at + 1 < d)
			p[np++] = (struct pair){ .at = at, .row = d };
	}
	if (np)
		qsort(p, np, sizeof(*p), by_at);
	rt->early_rows = malloc((np ? np : 1) * sizeof(*rt->early_rows));
	if (!rt->early_rows)
		goto out;
	size_t k = 0;
	for (size_t i = 0; i <= rt->n; i++) {
		rt->early_at[i] = (uint32_t)k;
		while (k < np && p[k].at == i)
			rt->early_rows[k] = p[k].row, k++;
	}
	rt->early_at[rt->n + 1] = (uint32_t)np;
	rc = 0;
out:
	free(bells);
	free(first);
	free(p);
	return rc;
}
