/*
 * The virtual clock: the only notion of time the platform has (DESIGN rule 3).
 * Time advances by a fixed cost per exit and jumps to the next event when the
 * guest halts, so a run's timing depends only on the guest's exit sequence,
 * never on the host. Events are embedded in their owners (no allocation) and
 * fire in (time, arm order), which keeps ties deterministic.
 */
#ifndef DEVIRT_CLOCK_H
#define DEVIRT_CLOCK_H

#include <stdint.h>

#define CLOCK_MAX_EVENTS 64

struct clock_event;
typedef void clock_event_fn(void *ctx, uint64_t now);

struct clock_event {
	clock_event_fn *fn;
	void *ctx;
	uint64_t when;   /* virtual ns; valid while armed */
	uint64_t order;  /* arm sequence number: tie-breaker */
	int armed;
};

struct clock {
	uint64_t now;    /* virtual ns since power-on */
	uint64_t next_order;
	struct clock_event *ev[CLOCK_MAX_EVENTS];
	int nev;
};

/* Resets the clock to time zero with no events. */
void clock__init(struct clock *c);

/* Prepares an event owned by the caller; it starts disarmed. */
void clock__event_init(struct clock_event *e, clock_event_fn *fn, void *ctx);

/* Arms (or re-arms) e to fire at absolute time when. Returns 0 or -ENOSPC. */
int clock__arm(struct clock *c, struct clock_event *e, uint64_t when);

/* Disarms e if armed; harmless otherwise. */
void clock__disarm(struct clock *c, struct clock_event *e);

/* Returns the time of the earliest armed event, or UINT64_MAX if none. */
uint64_t clock__next(const struct clock *c);

/* Moves time forward to t (never backwards), firing every event due by t in
 * (time, arm order). Events armed by handlers for times <= t fire too. */
void clock__run_until(struct clock *c, uint64_t t);

#endif
