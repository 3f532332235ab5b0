/*
 * The guest model's interrupt acceptance (see guest.c for the rest): what
 * the replayed guest does where the reference took an interrupt.
 *
 * A switch moves virtual time, so device interrupts can become pending in
 * another order, or (ringblk, which signals one edge per batch of
 * completions) in other batches, than the reference saw. The model:
 *  - the vector the reference took, when pending, is taken even if
 *    another device's outranks it: the others are masked at the PIC for
 *    that acknowledgement (on its registers, not as a guest access), and
 *    stay pending for the reference's later acknowledgements: a legal
 *    interleaving of the same handlers;
 *  - when it is not pending, the guest halts until it is (bounded), the
 *    other lines masked meanwhile (the line is the one whose device
 *    brought that vector in the recording);
 *  - a ringblk interrupt that never comes is not missed when the
 *    completions the guest acknowledges next (its next CQ_HEAD store
 *    before it submits more), or else every request it submitted, are
 *    already there: the device batched them under an earlier interrupt;
 *  - anything else is a divergence.
 */
#include <stdio.h>
#include <string.h>
#include "rig.h"
#include "../devices/pic.h"
#include "../devices/ringblk.h"

/* Returns the device name whose line brought vector v in the recording. */
static const char *vec_device(const struct rig *g, uint64_t v)
{
	return v < 256 ? rtrace__str(g->rt, g->vecdev[v]) : NULL;
}

/* Returns the vector the PIC would deliver now, leaving it untouched. */
static int peek(struct rig *g)
{
	struct hw *pic = g->m.pic;
	uint8_t st[512];
	size_t n = pic->ops->save(pic, st, sizeof(st));
	if (n > sizeof(st))
		return -1;
	int vec = pic__ack(pic);
	pic->ops->restore(pic, st, n);
	return vec;
}

/* Sets both interrupt masks (OCW1) to let only line `line` through. */
static void only(struct hw *pic, int line, uint8_t *old_m, uint8_t *old_s)
{
	*old_m = (uint8_t)pic->ops->read(pic, 1, 1);
	*old_s = (uint8_t)pic->ops->read(pic, PIC_SLAVE_OFF + 1, 1);
	pic->ops->write(pic, 1, 1, 0xffu & ~(1u << (line < 8 ? line : 2)));
	pic->ops->write(pic, PIC_SLAVE_OFF + 1, 1, line < 8 ? 0xffu : 0xffu & ~(1u << (line - 8)));
}

/* Acknowledges vector v though another outranks it. Returns 1 when v was
 * pending and taken, 0 otherwise (the PIC unchanged). */
static int take_outranked(struct rig *g, uint64_t v)
{
	struct hw *pic = g->m.pic;
	uint8_t m, s;
	for (int line = 0; line < 16; line++) {
		if (line == 2)
			continue;
		only(pic, line, &m, &s);
		int hit = machine__irq_pending(&g->m) && (uint64_t)peek(g) == v;
		if (hit)
			machine__irq_ack(&g->m, 0);
		pic->ops->write(pic, 1, 1, m);
		pic->ops->write(pic, PIC_SLAVE_OFF + 1, 1, s);
		if (hit)
			return 1;
	}
	return 0;
}

/* Returns 1 when event e stores ringblk's CQ_HEAD. */
static int cq_head_store(const struct rev *e)
{
	return (e->kind == RK_MAPPED && e->off == RB_CQ_HEAD) ||
	       (e->kind == RK_ACCESS && e->mmio && e->write && e->addr == RINGBLK_BASE + RB_CQ_HEAD);
}

/* Returns 1 when event e stores ringblk's SQ_TAIL (submits requests). */
static int sq_tail_store(const struct rev *e)
{
	return (e->kind == RK_MAPPED && e->off == RB_SQ_TAIL) ||
	       (e->kind == RK_ACCESS && e->mmio && e->write && e->addr == RINGBLK_BASE + RB_SQ_TAIL);
}

/* Returns the completions the guest can have seen after the interrupt at
 * event i: its next CQ_HEAD store when it comes before the guest submits
 * more, else every request submitted so far (the last SQ_TAIL store
 * before i); -1 when there is neither. */
static int64_t next_cq_head(const struct rig *g, size_t i)
{
	const struct rtrace *rt = g->rt;
	for (size_t k = i + 1; k < rt->n && !sq_tail_store(&rt->ev[k]); k++)
		if (cq_head_store(&rt->ev[k]))
			return (int64_t)(uint32_t)rt->ev[k].value;
	for (size_t k = i; k-- > 0;)
		if (sq_tail_store(&rt->ev[k]))
			return (int64_t)(uint32_t)rt->ev[k].value;
	return -1;
}

int guest__inject(struct rig *g, size_t i)
{
	const struct rev *r = &g->rt->ev[i];
	struct machine *m = &g->m;
	const char *ref = g->cfg.ref ? "baseline replay" : "recording";
	if (g->mode == RM_STRICT) {
		if (!machine__irq_pending(m)) {
			rig__diverge(g, i, "no interrupt is pending where the recording injects vector 0x%llx",
				     (unsigned long long)r->value);
			return -1;
		}
		machine__irq_ack(m, 0);               /* the hook compares the vector */
		return 0;
	}
	uint64_t t0 = m->clock.now;
	if (machine__irq_pending(m) && (uint64_t)peek(g) == r->value) {
		machine__irq_ack(m, 0);
		return 0;
	}
	if (machine__irq_pending(m) && take_outranked(g, r->value)) {
		g->reordered++;
		return 0;
	}
	/* not pending: halt until it is, the other lines masked meanwhile
	 * (what is pending on them waits for the reference's later takes) */
	const char *dev = vec_device(g, r->value);
	int line = -1;
	for (int l = 0; dev && l < 16 && line < 0; l++)
		if (m->irq_dev[l] && !strcmp(m->irq_dev[l], dev))
			line = l;
	g->halts++;
	if (line >= 0) {
		uint8_t om, os;
		only(m->pic, line, &om, &os);
		guest__idle_until(g, t0 + guest__wait_bound(g), 0);
		int hit = machine__irq_pending(m) && (uint64_t)peek(g) == r->value;
		if (hit)
			machine__irq_ack(m, 0);
		m->pic->ops->write(m->pic, 1, 1, om);
		m->pic->ops->write(m->pic, PIC_SLAVE_OFF + 1, 1, os);
		if (hit)
			return 0;
	} else if (!machine__irq_pending(m)) {
		guest__idle_until(g, t0 + guest__wait_bound(g), 0);
		if (machine__irq_pending(m) && (uint64_t)peek(g) == r->value) {
			machine__irq_ack(m, 0);
			return 0;
		}
	}
	if (dev && !strcmp(dev, "ringblk") && m->ringblk) {
		int64_t h = next_cq_head(g, i);
		uint32_t tail = (uint32_t)guest__rb_read(g, RB_CQ_TAIL);
		if (h >= 0 && (int32_t)(tail - (uint32_t)h) >= 0) {
			g->coalesced++;
			return 0;                     /* batched under an earlier interrupt */
		}
	}
	if (machine__irq_pending(m))
		rig__diverge(g, i, "vector 0x%x is pending where the %s takes 0x%llx (not pending)", peek(g), ref,
			     (unsigned long long)r->value);
	else
		rig__diverge(g, i, "vector 0x%llx: no interrupt came within %llu us of waiting",
			     (unsigned long long)r->value, (unsigned long long)(m->clock.now - t0) / 1000);
	return -1;
}
