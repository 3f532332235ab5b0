/*
 * The engine's lifecycle and its inputs: one slot per switchable device,
 * requests (from the API, triggers counted on the machine's event stream,
 * vtime triggers on the clock), and the safe-point tick that runs the
 * switch state machines (switch.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core.h"
#include "../lib/hosttime.h"

#define DEFAULT_WAIT_NS  20000000ull   /* 20 ms */
#define DEFAULT_PAUSE_NS  5000000ull   /*  5 ms */


/* Returns a copy of str that lives as long as the engine (deduplicated):
 * the trace writer reads annotations after the access returned. */
const char *eng_intern(struct engine *e, const char *str)
{
	uint32_t h = 2166136261u;          /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)str; *p; p++)
		h = (h ^ *p) * 16777619u;
	struct intern **head = &e->strings[h % INTERN_BUCKETS];
	for (struct intern *i = *head; i; i = i->next)
		if (!strcmp(i->s, str))
			return i->s;
	size_t n = strlen(str) + 1;
	struct intern *i = malloc(sizeof(*i) + n);
	if (!i)
		return "?";
	memcpy(i->s, str, n);
	i->next = *head;
	*head = i;
	return i->s;
}

const char *engine__state_name(int state)
{
	static const char *names[] = { "pass-through", "tracking", "capture", "virtualized",
				       "quiescing", "draining" };
	return state >= 0 && state <= ES_DRAINING ? names[state] : "?";
}

const char *engine__action_name(int action)
{
	static const char *names[] = { "virtualize", "devirtualize", "roundtrip" };
	return action >= 0 && action <= EA_ROUNDTRIP ? names[action] : "?";
}
/* Safe point after every exit: run every slot. */
static void tick(void *ctx)
{
	struct engine *e = ctx;
	for (int i = 0; i < e->nslots; i++)
		if (e->slots[i].active || e->slots[i].nreq)
			eng_progress(&e->slots[i]);
}

/* Returns the slot named name (hw name or the alias "uart"), or NULL. */
static struct slot *find(struct engine *e, const char *name)
{
	for (int i = 0; i < e->nslots; i++) {
		struct slot *s = &e->slots[i];
		if (!strcmp(s->hw->name, name) || (!strcmp(name, "uart") && s->hw == e->m->com1))
			return s;
	}
	return NULL;
}

/* Queues action on slot s (processed at the next safe point); a full
 * queue refuses it with a record. */
static void enqueue(struct slot *s, int action)
{
	if (s->nreq == MAX_QUEUED)
		eng_refuse(s, action);
	else
		s->requested[s->nreq++] = action;
}

int engine__request(struct engine *e, const char *device, int action)
{
	if (!strcmp(device, "all")) {
		for (int i = 0; i < e->nslots; i++)
			enqueue(&e->slots[i], action);
		return 0;
	}
	struct slot *s = find(e, device);
	if (!s)
		return -ENOENT;
	enqueue(s, action);
	return 0;
}

/* Machine hook: snooping in pass-through and exit-counted triggers. Only
 * notes things: switches run at the next safe point. */
static void on_event(void *ctx, const struct exit_rec *r)
{
	struct engine *e = ctx;
	if (r->kind == EXIT_PIO && r->write && r->dev) {
		for (int i = 0; i < e->nslots; i++) {
			struct slot *s = &e->slots[i];
			if (s->state == ES_PASSTHROUGH && r->dev == s->hw->name && s->ops->snoop)
				s->ops->snoop(s->st, r->off, r->size, r->value);
		}
	}
	int exit = r->kind == EXIT_PIO || r->kind == EXIT_MMIO || r->kind == EXIT_HLT;
	if (exit)
		e->exits++;
	for (int i = 0; i < e->ntrig; i++) {
		struct eng_trigger *t = &e->trig[i].t;
		if ((t->when == EW_SEQ && r->seq == t->arg) ||
		    (t->when == EW_EVERY && exit && e->exits % t->arg == 0))
			engine__request(e, t->device, t->action);
	}
}

/* Clock event of a vtime trigger. */
static void vtime_fired(void *ctx, uint64_t now)
{
	struct trig *t = ctx;
	engine__request(t->e, t->t.device, t->t.action);
}

int engine__add_trigger(struct engine *e, const struct eng_trigger *t)
{
	if (strcmp(t->device, "all") && !find(e, t->device))
		return -ENOENT;
	if (e->ntrig == MAX_TRIGGERS)
		return -ENOSPC;
	int i = e->ntrig++;
	e->trig[i].t = *t;
	e->trig[i].e = e;
	if (t->when == EW_VTIME) {
		clock__event_init(&e->trig[i].ev, vtime_fired, &e->trig[i]);
		if (clock__arm(&e->m->clock, &e->trig[i].ev, t->arg)) {
			e->ntrig--;
			return -ENOSPC;
		}
	}
	return 0;
}

int engine__create(struct engine **ep, struct machine *m, const struct engine_cfg *cfg)
{
	const struct edev_ops *mods[] = { &edev_ata_ops, &edev_uart_ops, &edev_ringblk_ops };
	struct hw *hws[] = { m->ata, m->com1, m->ringblk };
	struct engine *e = calloc(1, sizeof(*e));
	*ep = NULL;
	if (!e)
		return -ENOMEM;
	e->m = m;
	e->cfg = *cfg;
	if (!e->cfg.wait_bound_ns)
		e->cfg.wait_bound_ns = DEFAULT_WAIT_NS;
	if (!e->cfg.pause_bound_ns)
		e->cfg.pause_bound_ns = DEFAULT_PAUSE_NS;
	snprintf(e->policy, sizeof(e->policy), "midseq=%s block=%s",
		 e->cfg.midseq == MIDSEQ_TAKEOVER ? "takeover" : "wait",
		 e->cfg.block == EDEV_BLOCK_DEFER ? "defer" : "busy");
	for (int i = 0; i < 3; i++) {
		if (cfg->modules[i])
			mods[i] = cfg->modules[i];
		if (!hws[i] || !mods[i]->create)
			continue;
		struct slot *s = &e->slots[e->nslots];
		s->e = e;
		s->ops = mods[i];
		s->hw = hws[i];
		s->space = BUS_PIO;
		for (int r = 0; r < m->bus.n[BUS_MMIO]; r++)
			if (m->bus.r[BUS_MMIO][r].hw == hws[i])
				s->space = BUS_MMIO;
		s->host = (struct edev_host){ .hw = hws[i], .clock = &m->clock, .mem = &m->mem,
					      .priv_base = MONITOR_PRIV_BASE, .priv_size = MONITOR_PRIV_SIZE,
					      .guest_irq = eng_guest_irq, .kick = eng_kick, .ctx = s };
		clock__event_init(&s->kick_ev, eng_kick_fired, s);
		clock__event_init(&s->deadline_ev, eng_deadline_fired, s);
		s->st = s->ops->create(&s->host);
		if (!s->st) {
			engine__destroy(e);
			return -ENOMEM;
		}
		e->nslots++;
	}
	int rc = machine__add_hook(m, on_event, e);
	rc = rc ? rc : machine__add_tick(m, tick, e);
	if (rc) {
		engine__destroy(e);
		return rc;
	}
	*ep = e;
	return 0;
}

void engine__destroy(struct engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->nslots; i++) {
		struct slot *s = &e->slots[i];
		clock__disarm(&e->m->clock, &s->kick_ev);
		clock__disarm(&e->m->clock, &s->deadline_ev);
		s->ops->destroy(s->st);
		free(s->dlog);
	}
	for (int i = 0; i < e->ntrig; i++)
		if (e->trig[i].t.when == EW_VTIME)
			clock__disarm(&e->m->clock, &e->trig[i].ev);
	for (int b = 0; b < INTERN_BUCKETS; b++) {
		while (e->strings[b]) {
			struct intern *n = e->strings[b]->next;
			free(e->strings[b]);
			e->strings[b] = n;
		}
	}
	free(e);
}

int engine__start_virtualized(struct engine *e, const char *device)
{
	if (!strcmp(device, "all")) {
		for (int i = 0; i < e->nslots; i++) {
			int rc = engine__start_virtualized(e, e->slots[i].hw->name);
			if (rc)
				return rc;
		}
		return 0;
	}
	struct slot *s = find(e, device);
	if (!s)
		return -ENOENT;
	eng_begin(s, EA_VIRTUALIZE, -1, e->m->seq, e->m->clock.now);
	/* before the guest runs nothing is in flight: run V4..V6 to the end */
	for (int guard = 0; s->active && guard < 1000000; guard++) {
		eng_progress(s);
		if (s->active) {
			uint64_t next = clock__next(&e->m->clock);
			if (next == UINT64_MAX)
				break;
			clock__run_until(&e->m->clock, next);
		}
	}
	if (s->active)
		return -EIO;
	s->sw.row.reason = "initial";
	eng_switch_rec(s);
	return s->state == ES_VIRTUALIZED ? 0 : -EIO;
}

int engine__state(struct engine *e, const char *device)
{
	struct slot *s = find(e, device);
	return s ? s->state : -ENOENT;
}

void engine__counts(struct engine *e, uint64_t *done, uint64_t *aborted, uint64_t *pending)
{
	uint64_t p = 0;
	for (int i = 0; i < e->nslots; i++)
		p += (uint64_t)e->slots[i].active + (uint64_t)e->slots[i].nreq;
	*done = e->done;
	*aborted = e->aborted;
	*pending = p;
}

