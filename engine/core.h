/*
 * Engine internals shared by engine.c (lifecycle, requests, triggers) and
 * switch.c (the per-device switch state machine). Not for other folders.
 */
#ifndef DEVIRT_ENGINE_CORE_H
#define DEVIRT_ENGINE_CORE_H

#include "engine.h"

#define MAX_SLOTS    4
#define MAX_TRIGGERS 32
#define MAX_QUEUED   4
#define INTERN_BUCKETS 1024

struct deferred {
	struct bus_access a;
	uint64_t off, seq;
	uint64_t ord;               /* place among the switch's deferrals */
};

/* One switch in progress. */
struct sw {
	uint64_t id;
	int action;                 /* EA_VIRTUALIZE or EA_DEVIRTUALIZE */
	int then;                   /* roundtrip: the action to request after, or -1 */
	struct eng_rec row;         /* the switch row as last reported */
	uint64_t wall0;
	uint64_t wait_start_seq, wait_start_vt;
	int takeover;
	int sub;                    /* steps done within CAPTURE / DRAINING */
	uint64_t nord;              /* deferrals so far (a flush does not restart it) */
};

/* A pause window (busy/defer answers) of the current switch. */
struct pause {
	int open;
	const char *kind;
	uint64_t start_seq, start_vt, polls, wall0;
};

struct slot {
	struct engine *e;
	const struct edev_ops *ops;
	void *st;
	struct hw *hw;
	int space;                  /* BUS_PIO or BUS_MMIO */
	int state;                  /* enum eng_state */
	struct edev_host host;
	int active;                 /* a switch is in progress */
	struct sw sw;
	int requested[MAX_QUEUED];           /* queued requests (enum eng_action), FIFO */
	int nreq;
	struct deferred *dlog;
	size_t nd, cap;
	struct pause pause;
	const char *mode;           /* interned, for access annotations */
	uint64_t mode_sig;          /* ops->mode_sig when mode was made (with mode_src) */
	int mode_src;
	int drop_next_raise;        /* BUG_DROP_IRQ */
	struct clock_event kick_ev, deadline_ev;
};

struct intern { struct intern *next; char s[]; };

struct engine {
	struct machine *m;
	struct engine_cfg cfg;
	struct slot slots[MAX_SLOTS];
	int nslots;
	struct trig {
		struct eng_trigger t;
		struct clock_event ev;
		struct engine *e;
	} trig[MAX_TRIGGERS];
	int ntrig;
	uint64_t exits;             /* logged exits (for every=N) */
	uint64_t next_id;
	uint64_t done, aborted;
	uint64_t replays;           /* deferred accesses replayed so far (their order) */
	struct intern *strings[INTERN_BUCKETS];   /* hashed: ring indices make many modes */
	char policy[64];
};

/* Returns a copy of str that lives as long as the engine (deduplicated). */
const char *eng_intern(struct engine *e, const char *str);

/* Advances the slot's switch (or starts its next queued request) as far as
 * it can go now. */
void eng_progress(struct slot *s);

/* Reports the switch row as it stands. */
void eng_switch_rec(struct slot *s);

/* Starts a switch for a single-direction action; then is the action to
 * queue once it completes (roundtrip), or -1. */
void eng_begin(struct slot *s, int action, int then, uint64_t req_seq, uint64_t req_vt);

/* Records a request that cannot be queued (queue full) as an aborted switch. */
void eng_refuse(struct slot *s, int action);

/* edev_host callbacks and the slot's clock events. */
void eng_guest_irq(void *ctx, int level);
void eng_kick(void *ctx);
void eng_kick_fired(void *ctx, uint64_t now);
void eng_deadline_fired(void *ctx, uint64_t now);

#endif
