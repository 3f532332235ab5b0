/*
 * Rig checkpoints and disk journals (see ckpt.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt.h"

/* Returns a new blob holding len bytes of data (refs 1), or NULL. */
static struct blobref *blob_new(const void *data, size_t len)
{
	struct blobref *b = malloc(sizeof(*b) + len);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	memcpy(b->data, data, len);
	return b;
}

/* Drops one reference. */
static void blob_put(struct blobref *b)
{
	if (b && !--b->refs)
		free(b);
}

/* Returns data as a blob, sharing prev when it holds the same bytes. */
static struct blobref *blob_share(struct blobref *prev, const void *data, size_t len)
{
	if (prev && prev->len == len && !memcmp(prev->data, data, len)) {
		prev->refs++;
		return prev;
	}
	return blob_new(data, len);
}

int ckpt__take(struct rig *g, struct ckpt *c, const struct ckpt *prev, size_t jlen)
{
	static __thread uint8_t *buf;
	static __thread size_t cap;
	struct machine *m = &g->m;
	memset(c, 0, sizeof(*c));
	c->at = g->dc;
	c->pc = g->pc;
	c->now = m->clock.now;
	c->next_order = m->clock.next_order;
	c->seq = m->seq;
	c->unhandled = m->unhandled;
	memcpy(c->counts, m->counts, sizeof(c->counts));
	c->line_levels = m->line_levels;
	c->guest_levels = m->guest_levels;
	c->state = m->state;
	c->exit_code = m->exit_code;
	c->bar_trapped = g->bar_trapped;
	c->jlen = jlen;
	c->nopen = g->nopen;
	memcpy(c->open, g->open, sizeof(c->open));
	c->nev = m->clock.nev;
	for (int k = 0; k < c->nev; k++) {
		c->ev[k].fn = m->clock.ev[k]->fn;
		c->ev[k].when = m->clock.ev[k]->when;
		c->ev[k].order = m->clock.ev[k]->order;
	}
	for (int d = 0; d < m->ndevs; d++) {
		struct hw *hw = m->devs[d];
		size_t need = hw->ops->save ? hw->ops->save(hw, NULL, 0) : 0;
		if (need > cap) {
			uint8_t *n = realloc(buf, need);
			if (!n)
				goto nomem;
			buf = n;
			cap = need;
		}
		if (need)
			hw->ops->save(hw, buf, need);
		c->dev[d] = blob_share(prev ? prev->dev[d] : NULL, buf, need);
		if (!c->dev[d])
			goto nomem;
		c->ndev = d + 1;
	}
	long need = engine__save(g->e, NULL, 0);
	if (need > 0) {
		if ((size_t)need > cap) {
			uint8_t *n = realloc(buf, (size_t)need);
			if (!n)
				goto nomem;
			buf = n;
			cap = (size_t)need;
		}
		engine__save(g->e, buf, (size_t)need);
		c->eng = blob_share(prev ? prev->eng : NULL, buf, (size_t)need);
		if (!c->eng)
			goto nomem;
	}
	return 0;
nomem:
	ckpt__free(c);
	return -ENOMEM;
}

void ckpt__free(struct ckpt *c)
{
	for (int d = 0; d < c->ndev; d++)
		blob_put(c->dev[d]);
	blob_put(c->eng);
	c->ndev = 0;
	c->eng = NULL;
}

/* Replaces p's engine by a fresh one (an engine mid-switch cannot be
 * restored in place): detaches the old one's hook and tick, gives every
 * line and bus range back to the direct path, re-adds the triggers.
 * Returns 0 or -errno. */
static int fresh_engine(struct rig *p)
{
	struct machine *m = &p->m;
	struct engine *old = p->e;
	engine__destroy(old);
	p->e = NULL;
	int k = 0;
	for (int i = 0; i < m->nhooks; i++)
		if (m->hooks[i].ctx != old)
			m->hooks[k++] = m->hooks[i];
	m->nhooks = k;
	k = 0;
	for (int i = 0; i < m->nticks; i++)
		if (m->ticks[i].ctx != old)
			m->ticks[k++] = m->ticks[i];
	m->nticks = k;
	for (int l = 0; l < 16; l++)
		machine__route_line(m, l, NULL, NULL);
	for (int d = 0; d < m->ndevs; d++)
		bus__set_handler(&m->bus, m->devs[d], NULL, NULL);
	p->bar_trapped = p->bar_fixed;
	int rc = engine__create(&p->e, m, &p->ecfg);
	for (int i = 0; !rc && i < p->ntrig; i++)
		rc = engine__add_trigger(p->e, &p->trig[i]);
	return rc;
}

int ckpt__restore(struct rig *p, const struct ckpt *c)
{
	struct machine *m = &p->m;
	int rc = 0;
	if (!c->eng || c->ndev != m->ndevs)
		return -EINVAL;
	p->muted = 1;
	if (!engine__idle(p->e) && (rc = fresh_engine(p)))
		goto out;
	while (m->clock.nev)
		clock__disarm(&m->clock, m->clock.ev[0]);
	m->clock.now = c->now;
	m->seq = c->seq;
	m->unhandled = c->unhandled;
	memcpy(m->counts, c->counts, sizeof(m->counts));
	m->line_levels = c->line_levels;
	m->guest_levels = c->guest_levels;
	m->state = c->state;
	m->exit_code = c->exit_code;
	m->vtime_limit_ns = 0;
	for (int d = 0; d < m->ndevs && !rc; d++)
		if (m->devs[d]->ops->restore)
			rc = m->devs[d]->ops->restore(m->devs[d], c->dev[d]->data, c->dev[d]->len);
	if (!rc)
		rc = engine__restore(p->e, c->eng->data, c->eng->len);
	if (rc)
		goto out;
	/* events fire in (time, arm order): give the re-armed events the
	 * baseline's order so that ties break the same way */
	for (int k = 0; k < m->clock.nev; k++) {
		struct clock_event *e = m->clock.ev[k];
		for (int j = 0; j < c->nev; j++) {
			if (c->ev[j].fn == e->fn && c->ev[j].when == e->when) {
				e->order = c->ev[j].order;
				break;
			}
		}
	}
	m->clock.next_order = c->next_order;
	p->bar_trapped = c->bar_trapped;
	p->nopen = c->nopen;
	memcpy(p->open, c->open, sizeof(p->open));
	for (int k = 0; k < c->nopen; k++) {      /* write data of requests in flight */
		const struct rev *w = &p->rt->ev[c->open[k]];
		gmem__write(&m->mem, w->addr, p->rt->blobs + w->blob, w->blob_len);
	}
	p->dc = p->hc = c->at;
	p->pc = c->pc;
	p->diverged = 0;
	p->div[0] = 0;
	p->nreq = p->next_req = 0;
	p->ret_action = -1;
	p->ret_state = 0;
	p->mqn = p->mqh = 0;
out:
	p->muted = 0;
	return rc;
}

/* Returns 1 when blobs a (probe) and b (baseline) are equal, or differ
 * only in 8-byte words that differ by exactly d (timestamps of a machine
 * shifted by d). */
static int shift_equal(const struct blobref *a, const struct blobref *b, uint64_t d)
{
	if (a->len != b->len)
		return 0;
	if (!memcmp(a->data, b->data, a->len))
		return 1;
	if (!d)
		return 0;
	for (size_t w = 0; w < a->len; w += 8) {
		size_t n = a->len - w < 8 ? a->len - w : 8;
		if (!memcmp(a->data + w, b->data + w, n))
			continue;
		uint64_t x, y;
		if (n < 8)
			return 0;
		memcpy(&x, a->data + w, 8);
		memcpy(&y, b->data + w, 8);
		if (x - y != d)
			return 0;
	}
	return 1;
}

/* Returns the baseline's content of sector (disk, lba) as of journal
 * length upto, searching back to entry 0, or NULL when it never wrote it. */
static const uint8_t *redo_sector(const struct journal *bj, size_t upto, int disk, uint64_t lba)
{
	for (size_t k = upto; k-- > 0;) {
		const struct jentry *e = &bj->e[k];
		if (e->disk == disk && lba >= e->lba && lba < e->lba + e->count)
			return bj->bytes + e->data + (lba - e->lba) * BLK_SECTOR;
	}
	return NULL;
}

/* Returns the content of (disk, lba) before the probe's first write of it,
 * or NULL when the probe never wrote it. */
static const uint8_t *undo_sector(const struct journal *pj, int disk, uint64_t lba)
{
	for (size_t k = 0; k < pj->n; k++) {
		const struct jentry *e = &pj->e[k];
		if (e->disk == disk && lba >= e->lba && lba < e->lba + e->count)
			return pj->bytes + e->data + (lba - e->lba) * BLK_SECTOR;
	}
	return NULL;
}

/* Compares one sector of the probe's disk with the baseline's content at
 * journal length upto. Returns 1 when equal. */
static int sector_same(struct rig *p, const struct journal *pj, const struct journal *bj, size_t upto,
		       int disk, uint64_t lba)
{
	uint8_t cur[BLK_SECTOR];
	const uint8_t *want = redo_sector(bj, upto, disk, lba);
	if (!want)
		want = undo_sector(pj, disk, lba);
	if (!want)
		return 1;                 /* neither wrote it since the roll */
	if (blk__read(&p->disk[disk], lba, cur, 1))
		return 0;
	return !memcmp(cur, want, BLK_SECTOR);
}

/* Returns 1 when the probe's disks hold what the baseline's do at c. */
static int disks_same(struct rig *p, const struct journal *pj, const struct journal *bj, size_t from,
		      size_t upto, char *why, size_t whylen)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct journal *j = pass ? bj : pj;
		size_t lo = pass ? from : 0, hi = pass ? upto : pj->n;
		for (size_t k = lo; k < hi; k++) {
			const struct jentry *e = &j->e[k];
			for (uint32_t s = 0; s < e->count; s++) {
				if (!sector_same(p, pj, bj, upto, e->disk, e->lba + s)) {
					if (why)
						snprintf(why, whylen, "%s disk sector %llu differs", e->disk ? "ringblk" : "ata",
							 (unsigned long long)(e->lba + s));
					return 0;
				}
			}
		}
	}
	return 1;
}

/* Returns the exits the engine has counted (every=N triggers count them). */
static uint64_t exits_of(const uint64_t *counts)
{
	return counts[EXIT_PIO] + counts[EXIT_MMIO] + counts[EXIT_HLT];
}

int ckpt__same(struct rig *p, const struct ckpt *c, const struct journal *pj, const struct journal *bj,
	       size_t from, int final, char *why, size_t whylen)
{
	static __thread uint8_t *buf;
	static __thread size_t cap;
	struct machine *m = &p->m;
	uint64_t d = m->clock.now - c->now;
	if (!final && (!engine__idle(p->e) || p->ret_state == 1 || p->next_req < p->nreq)) {
		if (why)
			snprintf(why, whylen, "a switch is still in progress");
		return 0;
	}
	/* the run's own triggers fire by seq, exit count or absolute time:
	 * their future is the baseline's only without any shift */
	if (!final && p->ntrig && (d || m->seq != c->seq || exits_of(m->counts) != exits_of(c->counts))) {
		if (why)
			snprintf(why, whylen, "clock, events or exits shifted (the run has triggers)");
		return 0;
	}
	if ((m->line_levels & ~(1u << IRQ_PIT)) != (c->line_levels & ~(1u << IRQ_PIT)) ||
	    m->guest_levels != c->guest_levels || m->state != c->state || p->bar_trapped != c->bar_trapped) {
		if (why)
			snprintf(why, whylen, "interrupt lines or run state differ");
		return 0;
	}
	for (int k = 0; k < m->ndevs; k++) {
		struct hw *hw = m->devs[k];
		if (hw == m->pit || !hw->ops->save)
			continue;
		size_t need = hw->ops->save(hw, NULL, 0);
		if (need > cap) {
			uint8_t *n = realloc(buf, need + sizeof(struct blobref));
			if (!n)
				return 0;
			buf = n;
			cap = need;
		}
		struct blobref *b = (struct blobref *)buf;
		b->len = need;
		hw->ops->save(hw, b->data, need);
		if (!shift_equal(b, c->dev[k], d)) {
			if (why)
				snprintf(why, whylen, "%s state differs", hw->name);
			return 0;
		}
	}
	return disks_same(p, pj, bj, from, c->jlen, why, whylen);
}

/* blk on_write hook: records what a write is about to change. */
static void on_write(void *ctx, struct blk *b, uint64_t lba, uint32_t count, const void *data)
{
	struct journal *j = ctx;
	struct rig *g = j->g;
	if (j->mode == J_OFF)
		return;
	size_t len = (size_t)count * BLK_SECTOR;
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 256;
		struct jentry *e = realloc(j->e, cap * sizeof(*e));
		if (!e) {
			j->failed = 1;
			return;
		}
		j->e = e;
		j->cap = cap;
	}
	if (j->blen + len > j->bcap) {
		size_t cap = j->bcap ? j->bcap : 1 << 20;
		while (cap < j->blen + len)
			cap *= 2;
		uint8_t *n = realloc(j->bytes, cap);
		if (!n) {
			j->failed = 1;
			return;
		}
		j->bytes = n;
		j->bcap = cap;
	}
	if (j->mode == J_REDO)
		memcpy(j->bytes + j->blen, data, len);
	else if (blk__read(b, lba, j->bytes + j->blen, count))
		j->failed = 1;
	j->e[j->n++] = (struct jentry){ .at = g->dc, .lba = lba, .count = count, .disk = b == &g->disk[1],
					.data = j->blen };
	j->blen += len;
}

void journal__attach(struct journal *j, struct rig *g, int mode)
{
	j->g = g;
	j->mode = mode;
	g->journal = j;
	for (int d = 0; d < 2; d++) {
		g->disk[d].on_write = on_write;
		g->disk[d].on_write_ctx = j;
	}
}

void journal__free(struct journal *j)
{
	if (j->g)
		for (int d = 0; d < 2; d++)
			j->g->disk[d].on_write = NULL;
	free(j->e);
	free(j->bytes);
	memset(j, 0, sizeof(*j));
}

int journal__roll(struct rig *p, const struct journal *bj, size_t *pos, size_t upto)
{
	struct journal *pj = p->journal;
	int mode = pj ? pj->mode : J_OFF;
	int rc = 0;
	if (pj)
		pj->mode = J_OFF;
	for (; *pos < upto && !rc; (*pos)++) {
		const struct jentry *e = &bj->e[*pos];
		rc = blk__write(&p->disk[e->disk], e->lba, bj->bytes + e->data, e->count);
	}
	if (pj)
		pj->mode = mode;
	return rc ? -EIO : 0;
}

int journal__undo(struct journal *pj)
{
	int mode = pj->mode, rc = 0;
	pj->mode = J_OFF;
	for (size_t k = pj->n; k-- > 0 && !rc;) {
		const struct jentry *e = &pj->e[k];
		rc = blk__write(&pj->g->disk[e->disk], e->lba, pj->bytes + e->data, e->count);
	}
	pj->n = 0;
	pj->blen = 0;
	pj->mode = mode;
	return rc ? -EIO : 0;
}
