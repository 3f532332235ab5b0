/*
 * The poll-aware guest model: how the replayed guest makes each recorded
 * access, halt and interrupt acknowledgement when the device under it may
 * answer later (or sooner) than it did in the recording.
 *
 * A switch may make a device look busy where the recording did not (BSY
 * while the monitor's driver finishes, LSR not ready, ring indices not yet
 * moved). Drivers wait for such devices by polling a status register, so
 * the model knows, per device, which reads are polls:
 *   ata      status (0x1f7) and alternate status (0x3f6): busy while BSY;
 *   uart     line status (0x3fd): not ready while DR/THRE/TEMT lack a bit
 *            the reference has (the error bits must match);
 *   ringblk  SQ_HEAD, CQ_TAIL, COMPLETED: busy while behind the reference;
 *            STATUS: while READY is missing; and before the guest rings
 *            the CQ_HEAD doorbell, CQ_TAIL must have reached it (the guest
 *            acknowledges only completions it has seen).
 * A poll that reads busy where the reference is ready is repeated (each
 * repetition an exit that advances the clock; on a mapped page, where
 * polls do not exit, the guest halts a little instead) until it reads
 * ready, within a bound; a poll that reads ready where the reference was
 * still busy ends the guest's loop early: the reference's remaining reads
 * of that register in that loop are skipped (a ring index read ahead of
 * the reference just shows completions sooner). Neither is a divergence;
 * any other difference is.
 * Reads of the PIT's counter are time, which a switch moves: not compared.
 * Interrupts: irq.c.
 *
 * Stores to ringblk's register page: while the rig's page is mapped
 * (pass-through) they go into the page and the device notices them at the
 * next exit, as recorded; when a switch trapped the page they become MMIO
 * exits. Accesses the recording shows as exits but that the rig's mapped
 * page would not trap are loads/stores on the page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rig.h"
#include "../devices/ringblk.h"

enum pcls { PC_NONE, PC_ATA, PC_LSR, PC_RB_COUNT, PC_RB_STATUS };

#define LSR_READY 0x61u          /* DR, THRE, TEMT */
#define WAIT_SLACK_NS 1000000ull  /* beyond the engine's own bounds */

uint64_t guest__wait_bound(const struct rig *g)
{
	uint64_t w = g->ecfg.wait_bound_ns ? g->ecfg.wait_bound_ns : 20000000ull;
	uint64_t p = g->ecfg.pause_bound_ns ? g->ecfg.pause_bound_ns : 5000000ull;
	return w + p + WAIT_SLACK_NS;
}

/* Returns 1 when addr lies in ringblk's register page (and there is one). */
static int in_bar(const struct rig *g, uint64_t addr)
{
	return g->m.ringblk && addr >= RINGBLK_BASE && addr < RINGBLK_BASE + RINGBLK_SIZE;
}

/* Returns the poll class of a recorded read. */
static int poll_class(const struct rig *g, const struct rev *r)
{
	if (r->write || r->kind != RK_ACCESS)
		return PC_NONE;
	if (!r->mmio) {
		if (r->size == 1 && (r->addr == PORT_ATA + 7 || r->addr == PORT_ATA_CTRL) && g->m.ata)
			return PC_ATA;
		if (r->size == 1 && r->addr == PORT_COM1 + 5)
			return PC_LSR;
		return PC_NONE;
	}
	if (!in_bar(g, r->addr) || r->size != 4)
		return PC_NONE;
	switch (r->addr - RINGBLK_BASE) {
	case RB_SQ_HEAD: case RB_CQ_TAIL: case RB_COMPLETED:
		return PC_RB_COUNT;
	case RB_STATUS:
		return PC_RB_STATUS;
	default:
		return PC_NONE;
	}
}

/* Returns 1 when v is a less ready answer than want ("busy / not ready"). */
static int busy(int cls, uint64_t v, uint64_t want)
{
	switch (cls) {
	case PC_ATA:
		return (v & 0x80) && !(want & 0x80);
	case PC_LSR:
		return ((v ^ want) & ~LSR_READY & 0xff) == 0 && (want & ~v & LSR_READY) && !(v & ~want & LSR_READY);
	case PC_RB_COUNT:
		return (int32_t)((uint32_t)v - (uint32_t)want) < 0;
	case PC_RB_STATUS:
		return (want & RB_STATUS_READY) && !(v & RB_STATUS_READY) && !((v ^ want) & ~RB_STATUS_READY);
	default:
		return 0;
	}
}

/* Returns 1 when v is a more ready answer than want (the reference was
 * still busy there). */
static int ahead(int cls, uint64_t v, uint64_t want)
{
	return cls != PC_NONE && busy(cls, want, v);
}

/* The reference value of recorded read i. */
static uint64_t ref(const struct rig *g, size_t i)
{
	return g->cfg.ref ? g->cfg.ref[i] : g->rt->ev[i].value;
}

int guest__idle_until(struct rig *g, uint64_t t, uint64_t rip)
{
	struct machine *m = &g->m;
	if (m->state != RUN_GOING)
		return machine__irq_pending(m);
	m->vtime_limit_ns = t > m->clock.now ? t : m->clock.now + 1;
	machine__halt(m, rip);
	if (m->state == RUN_VTIMEOUT || m->state == RUN_HUNG)
		m->state = RUN_GOING;
	m->vtime_limit_ns = 0;
	return machine__irq_pending(m);
}

uint64_t guest__do(struct rig *g, const struct rev *r, uint64_t value)
{
	if (r->mmio && in_bar(g, r->addr) && !g->bar_trapped) {
		uint8_t *page = ringblk__bar(g->m.ringblk);
		uint64_t off = r->addr - RINGBLK_BASE, v = 0;
		unsigned size = r->size <= 8 && off + r->size <= RINGBLK_SIZE ? r->size : 0;
		if (r->write)
			memcpy(page + off, &value, size);
		else
			memcpy(&v, page + off, size);
		return v;
	}
	struct bus_access a = { .space = r->mmio ? BUS_MMIO : BUS_PIO, .addr = r->addr, .size = r->size,
				.write = r->write, .value = r->write ? value : 0 };
	machine__access(&g->m, &a, r->rip);
	return a.value;
}

/* Repeats read r while it answers busy against want. Returns the last
 * value read. */
static uint64_t repeat_poll(struct rig *g, const struct rev *r, int cls, uint64_t v, uint64_t want)
{
	uint64_t t0 = g->m.clock.now, bound = guest__wait_bound(g);
	while (busy(cls, v, want) && g->m.clock.now - t0 < bound && g->m.state == RUN_GOING) {
		if (r->mmio && in_bar(g, r->addr) && !g->bar_trapped)   /* no exit: the guest waits a little */
			guest__idle_until(g, g->m.clock.now + g->m.exit_cost_ns, r->rip);
		v = guest__do(g, r, 0);
		g->polls++;
	}
	return v;
}

/* Delivers the recorded timer line events among [from, to) (loose and
 * conform modes replay the timer from the recording). */
static void timer_lines(struct rig *g, size_t from, size_t to)
{
	const struct rtrace *rt = g->rt;
	for (size_t k = from; k < to; k++) {
		const struct rev *e = &rt->ev[k];
		const char *dev = rtrace__str(rt, e->dev);
		if (e->kind == RK_LINE && e->addr == IRQ_PIT && dev && !strcmp(dev, "pit"))
			machine__deliver_line(&g->m, IRQ_PIT, (int)e->value);
	}
}

/* The guest left its polling loop at read i with value v, sooner than the
 * reference: finds the reference's read of the same register that ends
 * the loop with v, after only reads of that register (and line or DMA
 * events). Returns its index, or i when there is none. */
static size_t loop_end(const struct rig *g, size_t i, int cls, uint64_t v)
{
	const struct rtrace *rt = g->rt;
	const struct rev *r = &rt->ev[i];
	for (size_t k = i + 1; k < rt->n && k < i + 1000000; k++) {
		const struct rev *e = &rt->ev[k];
		if (e->kind == RK_LINE || e->kind == RK_DMA)
			continue;
		if (e->kind != RK_ACCESS || e->write || e->mmio != r->mmio || e->addr != r->addr || e->size != r->size)
			return i;
		uint64_t w = ref(g, k);
		if (w == v)
			return k;
		if (!ahead(cls, v, w))
			return i;
	}
	return i;
}

/* Skips to after event k (the guest's loop ended sooner), delivering the
 * timer lines on the way. */
static void skip_to(struct rig *g, size_t i, size_t k)
{
	timer_lines(g, i + 1, k);
	for (size_t j = i + 1; j <= k; j++)
		g->skipped += g->rt->ev[j].kind == RK_ACCESS;
	g->dc = k + 1;     /* DMA rows in between are preloaded with the next exit's */
}

/* Before the guest acknowledges completions up to head (a CQ_HEAD store,
 * event i): it has seen them, so ringblk's CQ_TAIL must have reached head
 * (loose modes; waited for like a poll). Returns 0 or -1 (diverged). */
static int cq_seen(struct rig *g, size_t i, uint64_t head)
{
	if (g->mode == RM_STRICT)
		return 0;
	struct rev tail = { .kind = RK_ACCESS, .mmio = 1, .addr = RINGBLK_BASE + RB_CQ_TAIL, .size = 4 };
	uint64_t v = guest__do(g, &tail, 0);
	if (busy(PC_RB_COUNT, v, head)) {
		g->polls++;
		v = repeat_poll(g, &tail, PC_RB_COUNT, v, head);
	}
	if (!busy(PC_RB_COUNT, v, head))
		return 0;
	rig__diverge(g, i, "ringblk CQ_TAIL stayed at %llu: the guest acknowledges %llu completions",
		     (unsigned long long)v, (unsigned long long)head);
	return -1;
}

int guest__access(struct rig *g, size_t i)
{
	const struct rev *r = &g->rt->ev[i];
	if (r->write && r->mmio && in_bar(g, r->addr) && r->addr - RINGBLK_BASE == RB_CQ_HEAD &&
	    cq_seen(g, i, r->value))
		return -1;
	uint64_t v = guest__do(g, r, r->value);
	g->served++;
	if (r->write || g->mode == RM_STRICT)
		return 0;                         /* strict: the hook compared it */
	uint64_t want = ref(g, i);
	const char *dev = rtrace__str(g->rt, r->dev);
	if (dev && !strcmp(dev, "pit")) {
		if (g->cfg.obs)                   /* the counter is time: a switch moves it */
			g->cfg.obs(g->cfg.obs_ctx, i, v, 0);
		return 0;
	}
	int cls = poll_class(g, r);
	if (v != want && busy(cls, v, want))
		v = repeat_poll(g, r, cls, v, want);
	if (v == want) {
		size_t k = g->cfg.ref_skip ? i + g->cfg.ref_skip[i] : i;
		if (g->cfg.obs)
			g->cfg.obs(g->cfg.obs_ctx, i, v, 0);
		if (k > i)
			skip_to(g, i, k);         /* the reference's guest left its loop here too */
		return 0;
	}
	if (cls == PC_RB_COUNT && ahead(cls, v, want)) {
		/* ring indices only grow: the guest sees completions sooner and
		 * goes on as recorded (it acknowledges them later) */
		g->skipped++;
		if (g->cfg.obs)
			g->cfg.obs(g->cfg.obs_ctx, i, v, 0);
		return 0;
	}
	if (ahead(cls, v, want)) {
		size_t k = loop_end(g, i, cls, v);
		if (k > i) {
			if (g->cfg.obs)
				g->cfg.obs(g->cfg.obs_ctx, i, v, k - i);
			skip_to(g, i, k);
			return 0;
		}
	}
	if (g->cfg.obs)
		g->cfg.obs(g->cfg.obs_ctx, i, v, 0);
	if (g->mode == RM_CONFORM) {
		if (g->ndiffs == g->capdiffs) {
			size_t cap = g->capdiffs ? g->capdiffs * 2 : 64;
			struct rig_diff *d = realloc(g->diffs, cap * sizeof(*d));
			if (!d)
				return 0;
			g->diffs = d;
			g->capdiffs = cap;
		}
		g->diffs[g->ndiffs++] = (struct rig_diff){ .at = i, .want = want, .got = v };
		return 0;
	}
	const char *reg = rtrace__str(g->rt, r->reg);
	rig__diverge(g, i, "%s r %s: read 0x%llx where the %s has 0x%llx%s", dev ? dev : "-", reg ? reg : "-",
		     (unsigned long long)v, g->cfg.ref ? "baseline replay" : "recording", (unsigned long long)want,
		     busy(cls, v, want) ? " (still busy after the wait bound)" : "");
	return -1;
}

int guest__mapped(struct rig *g, size_t i)
{
	const struct rev *r = &g->rt->ev[i];
	if (!g->m.ringblk) {
		rig__diverge(g, i, "a store to ringblk's mapped page, but the run has no ringblk");
		return -1;
	}
	struct rev a = { .kind = RK_ACCESS, .mmio = 1, .addr = RINGBLK_BASE + r->off, .size = r->size, .write = 1 };
	if (r->off == RB_CQ_HEAD && cq_seen(g, i, r->value))
		return -1;
	g->paged = g->mode == RM_STRICT || !g->bar_trapped;
	if (g->paged) {
		uint8_t *page = ringblk__bar(g->m.ringblk);
		if (r->off + r->size <= RINGBLK_SIZE && r->size <= 8)
			memcpy(page + r->off, &r->value, r->size);
		if (g->mqn < 16) {                /* the device notices it at the next exit */
			g->mq[(g->mqh + g->mqn) % 16] = i;
			g->mqn++;
		}
		return 0;
	}
	guest__do(g, &a, r->value);               /* the page traps now: the store exits */
	return 0;
}

int guest__halt(struct rig *g, size_t i)
{
	const struct rtrace *rt = g->rt;
	const struct rev *r = &rt->ev[i];
	struct machine *m = &g->m;
	if (m->state != RUN_GOING)
		return 0;
	if (g->mode == RM_STRICT) {
		/* as recorded: the clock jumps to the next event; bounded in case
		 * the replay went astray */
		uint64_t next = i + 1 < rt->n ? rt->ev[i + 1].vtime : r->vtime;
		m->vtime_limit_ns = (next > m->clock.now ? next : m->clock.now) + guest__wait_bound(g);
		machine__halt(m, r->rip);
		m->vtime_limit_ns = 0;
		if (m->state == RUN_VTIMEOUT || (m->state == RUN_HUNG && i + 1 < rt->n)) {
			rig__diverge(g, i, "the guest halted and nothing woke it");
			return -1;
		}
		return 0;
	}
	/* What woke the guest in the recording: a device interrupt (wait for
	 * it, bounded) or the timer (replayed: halt as long as it took). */
	uint64_t until = m->clock.now + guest__wait_bound(g);
	for (size_t k = i + 1; k < rt->n; k++) {
		const struct rev *e = &rt->ev[k];
		if (e->kind == RK_INJECT || e->kind == RK_ACCESS || e->kind == RK_HALT || e->kind == RK_MAPPED)
			break;
		const char *dev = rtrace__str(rt, e->dev);
		if (e->kind == RK_LINE && e->addr == IRQ_PIT && e->value && dev && !strcmp(dev, "pit")) {
			until = m->clock.now + (e->vtime > r->vtime ? e->vtime - r->vtime : 0);
			break;
		}
	}
	guest__idle_until(g, until, r->rip);
	return 0;
}

uint64_t guest__rb_read(struct rig *g, unsigned off)
{
	struct rev r = { .kind = RK_ACCESS, .mmio = 1, .addr = RINGBLK_BASE + off, .size = 4 };
	return guest__do(g, &r, 0);
}
