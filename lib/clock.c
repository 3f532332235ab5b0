/*
 * Virtual clock and its event queue. The queue is a small unsorted array:
 * a platform has a handful of timers, and a linear scan keeps the ordering
 * rule (time, then arm order) obvious.
 */
#include <errno.h>
#include "clock.h"

void clock__init(struct clock *c)
{
	c->now = 0;
	c->next_order = 0;
	c->nev = 0;
}

void clock__event_init(struct clock_event *e, clock_event_fn *fn, void *ctx)
{
	e->fn = fn;
	e->ctx = ctx;
	e->when = 0;
	e->order = 0;
	e->armed = 0;
}

int clock__arm(struct clock *c, struct clock_event *e, uint64_t when)
{
	if (!e->armed) {
		if (c->nev == CLOCK_MAX_EVENTS)
			return -ENOSPC;
		c->ev[c->nev++] = e;
		e->armed = 1;
	}
	e->when = when;
	e->order = c->next_order++;
	return 0;
}

void clock__disarm(struct clock *c, struct clock_event *e)
{
	if (!e->armed)
		return;
	for (int i = 0; i < c->nev; i++) {
		if (c->ev[i] == e) {
			c->ev[i] = c->ev[--c->nev];
			break;
		}
	}
	e->armed = 0;
}

/* Returns the index of the event that fires first, or -1. */
static int earliest(const struct clock *c)
{
	int best = -1;
	for (int i = 0; i < c->nev; i++) {
		const struct clock_event *e = c->ev[i];
		if (best < 0 || e->when < c->ev[best]->when ||
		    (e->when == c->ev[best]->when && e->order < c->ev[best]->order))
			best = i;
	}
	return best;
}

uint64_t clock__next(const struct clock *c)
{
	int i = earliest(c);
	return i < 0 ? UINT64_MAX : c->ev[i]->when;
}

void clock__run_until(struct clock *c, uint64_t t)
{
	for (;;) {
		int i = earliest(c);
		if (i < 0 || c->ev[i]->when > t)
			break;
		struct clock_event *e = c->ev[i];
		if (e->when > c->now)
			c->now = e->when;
		clock__disarm(c, e);
		e->fn(e->ctx, c->now);
	}
	if (t > c->now)
		c->now = t;
}
