/*
 * The switch state machine of one device (DESIGN V1-V6, D1-D7).
 *
 * A switch moves through the states of enum eng_state and reports each
 * V/D step it takes. Everything happens at safe points (machine ticks, the
 * engine's own clock events, the engine's bus handler), so a module is
 * never entered from inside the hardware model. Waiting is bounded in
 * virtual time (the guest's progress decides V4 and D1: past the bound the
 * switch aborts cleanly); the monitor's own steps (V5, D2-D4) depend only
 * on the hardware's latency and are recorded, not aborted.
 *
 * Deferred accesses are replayed, in order and exactly once, to whatever
 * serves the device once the switch ends: the hardware after D6 (or after
 * an aborted virtualization), the emulation after V6 (or after an aborted
 * devirtualization).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"
#include "../lib/hosttime.h"

/* Sends a record to the sink, if any. */
static void report(struct engine *e, const struct eng_rec *r)
{
	if (e->cfg.sink)
		e->cfg.sink(e->cfg.sink_ctx, r);
}

/* Refreshes the slot's interned mode string from the live side. */
static void refresh_mode(struct slot *s)
{
	char buf[256];
	int src = s->state == ES_PASSTHROUGH || s->state == ES_TRACKING ? EDEV_MODE_HW : EDEV_MODE_EMU;
	if (s->state == ES_PASSTHROUGH || !s->ops->mode)
		return;
	if (s->ops->mode_sig) {
		uint64_t sig = s->ops->mode_sig(s->st, src);
		if (s->mode && sig == s->mode_sig && src == s->mode_src)
			return;
		s->mode_sig = sig;
		s->mode_src = src;
	}
	const char *m = s->ops->mode(s->st, src, buf, sizeof(buf));
	if (!s->mode || strcmp(m, s->mode))   /* most writes leave the mode alone */
		s->mode = eng_intern(s->e, m);
}

/* Returns the interned mode string of src (EDEV_MODE_EMU or _HW). */
static const char *mode_of(struct slot *s, int src)
{
	char buf[256];
	return s->ops->mode ? eng_intern(s->e, s->ops->mode(s->st, src, buf, sizeof(buf))) : NULL;
}

/* Reports one step of the current switch. */
static void step_rec(struct slot *s, const char *step, const char *detail)
{
	struct machine *m = s->e->m;
	struct eng_rec r = { .kind = ER_STEP, .switch_id = s->sw.id, .device = s->hw->name,
			     .step = step, .detail = detail ? eng_intern(s->e, detail) : NULL,
			     .seq = m->seq, .vtime = m->clock.now, .wall_ns = host_ns() - s->sw.wall0 };
	report(s->e, &r);
}

/* Reports the switch row as it stands. */
void eng_switch_rec(struct slot *s)
{
	s->sw.row.wall_ns = host_ns() - s->sw.wall0;
	report(s->e, &s->sw.row);
}

/* Opens the slot's pause window (first busy/defer answer of a switch). */
static void pause_open(struct slot *s, const char *kind)
{
	struct machine *m = s->e->m;
	if (s->pause.open) {
		s->pause.polls++;
		return;
	}
	s->pause = (struct pause){ .open = 1, .kind = kind, .start_seq = m->seq,
				   .start_vt = m->clock.now, .polls = 1, .wall0 = host_ns() };
	if (s->state == ES_TRACKING || s->state == ES_QUIESCING) {
		uint64_t when = m->clock.now + s->e->cfg.pause_bound_ns;
		uint64_t wait = s->sw.wait_start_vt + s->e->cfg.wait_bound_ns;
		clock__arm(&m->clock, &s->deadline_ev, when < wait ? when : wait);
	}
}

/* Closes the pause window and reports it. */
static void pause_close(struct slot *s)
{
	struct machine *m = s->e->m;
	if (!s->pause.open)
		return;
	struct eng_rec r = { .kind = ER_PAUSE, .switch_id = s->sw.id, .device = s->hw->name,
			     .pause_kind = s->pause.kind, .start_seq2 = s->pause.start_seq,
			     .start_vt2 = s->pause.start_vt, .end_seq = m->seq, .end_vt = m->clock.now,
			     .wall_ns = host_ns() - s->pause.wall0, .bound_ns = s->e->cfg.pause_bound_ns,
			     .polls = s->pause.polls };
	report(s->e, &r);
	s->pause.open = 0;
}

/* Reports a wait window (V4 'wait' or D1 'quiesce') of the current switch. */
static void wait_rec(struct slot *s, const char *kind)
{
	struct machine *m = s->e->m;
	struct eng_rec r = { .kind = ER_PAUSE, .switch_id = s->sw.id, .device = s->hw->name,
			     .pause_kind = kind, .start_seq2 = s->sw.wait_start_seq,
			     .start_vt2 = s->sw.wait_start_vt, .end_seq = m->seq, .end_vt = m->clock.now,
			     .wall_ns = host_ns() - s->sw.wall0, .bound_ns = s->e->cfg.wait_bound_ns };
	report(s->e, &r);
}

/* Logs and holds a deferred guest write. Returns 0 or -ENOMEM (then the
 * caller serves the access instead: nothing is ever dropped). */
static int defer(struct slot *s, const struct bus_access *a, uint64_t off)
{
	struct machine *m = s->e->m;
	if (s->nd == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct deferred *d = realloc(s->dlog, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		s->dlog = d;
		s->cap = cap;
	}
	/* machine__access numbers the access right after this handler */
	s->dlog[s->nd] = (struct deferred){ .a = *a, .off = off, .seq = m->seq, .ord = s->sw.nord++ };
	struct eng_rec r = { .kind = ER_DEFER, .switch_id = s->sw.id, .device = s->hw->name,
			     .seq = m->seq, .ord = s->dlog[s->nd].ord };
	report(s->e, &r);
	s->nd++;
	return 0;
}

/* Replays the deferred log to the hardware (to_hw) or the emulation, in
 * order, exactly once (DEVIRT_BUG may break that on purpose). */
static void replay_deferred(struct slot *s, int to_hw)
{
	struct engine *e = s->e;
	if (e->cfg.bug == BUG_SKIP_DEFERRED_REPLAY)
		s->nd = 0;
	for (size_t i = 0; i < s->nd; i++) {
		int times = e->cfg.bug == BUG_REPLAY_TWICE ? 2 : 1;
		for (int t = 0; t < times; t++) {
			struct bus_access a = s->dlog[i].a;
			if (to_hw)
				s->hw->ops->write(s->hw, s->dlog[i].off, a.size, a.value);
			else
				s->ops->emulate(s->st, &a, s->dlog[i].off);
			struct eng_rec r = { .kind = ER_REPLAYED, .switch_id = s->sw.id, .device = s->hw->name,
					     .seq = s->dlog[i].seq, .ord = s->dlog[i].ord, .replay_seq = e->m->seq,
					     .replay_pos = e->replays++ };
			report(e, &r);
		}
	}
	s->nd = 0;
}

/* The emulation (or the tracking mirror) drives the guest's line. */
void eng_guest_irq(void *ctx, int level)
{
	struct slot *s = ctx;
	if (level && s->drop_next_raise) {
		s->drop_next_raise = 0;   /* BUG_DROP_IRQ: the raise never reaches the guest */
		return;
	}
	machine__guest_line(s->e->m, s->hw->irq, level);
}

/* The hardware's line while routed to the monitor (V1..D5). While tracking
 * the guest still owns the device, so the monitor passes the line on. */
static void hw_line(void *ctx, int line, int level)
{
	struct slot *s = ctx;
	if (s->ops->hw_irq)
		s->ops->hw_irq(s->st, level);
	if (s->state == ES_TRACKING)
		eng_guest_irq(s, level);
}

/* Zero-delay clock event: re-run the slot's pending steps. */
void eng_kick_fired(void *ctx, uint64_t now)
{
	eng_progress(ctx);
}

void eng_kick(void *ctx)
{
	struct slot *s = ctx;
	clock__arm(&s->e->m->clock, &s->kick_ev, s->e->m->clock.now);
}

/* The engine's bus handler: every guest access to a trapped device. */
static void engine_access(void *opaque, struct bus_range *r, struct bus_access *a, uint64_t off)
{
	struct slot *s = opaque;
	struct machine *m = s->e->m;
	int phase = -1, path;
	switch (s->state) {
	case ES_TRACKING:  phase = EDEV_PH_WAIT; break;
	case ES_CAPTURE:   phase = EDEV_PH_CAPTURE; break;
	case ES_QUIESCING: phase = EDEV_PH_QUIESCE; break;
	case ES_DRAINING:  phase = EDEV_PH_DRAIN; break;
	default: break;
	}
	int v = phase >= 0 ? s->ops->block(s->st, a, off, phase, s->e->cfg.block) : EDEV_FORWARD;
	if (v == EDEV_BUSY && a->write)
		v = EDEV_DEFER;            /* a write cannot be answered: it waits in the log */
	if (v == EDEV_FLUSH) {
		step_rec(s, "flush", "deferred writes replayed early to keep the guest's write order");
		replay_deferred(s, s->state == ES_TRACKING || s->state == ES_CAPTURE);
		pause_close(s);
		v = EDEV_FORWARD;
	}
	if (v == EDEV_DEFER && (!a->write || defer(s, a, off)))
		v = EDEV_FORWARD;          /* reads cannot wait; a full log serves instead */
	if (v == EDEV_BUSY) {
		pause_open(s, "busy");
		path = PATH_BUSY;
	} else if (v == EDEV_DEFER) {
		pause_open(s, "defer");
		path = PATH_DEFER;
	} else if (s->state == ES_TRACKING || s->state == ES_CAPTURE) {
		bus__direct(r->hw, r, a, off);
		s->ops->track(s->st, a, off);
		path = PATH_TRACK;
	} else {
		s->ops->emulate(s->st, a, off);
		path = PATH_EMULATE;
	}
	if (a->write)
		refresh_mode(s);
	m->note.path = (uint8_t)path;
	m->note.sm_state = s->ops->sm_state ? s->ops->sm_state(s->st) : NULL;
	m->note.mode = s->mode;
}

/* V1, V2: route the line to the monitor and trap the registers. */
static int trap(struct slot *s)
{
	struct engine *e = s->e;
	machine__route_line(e->m, s->hw->irq, hw_line, s);
	bus__set_handler(&e->m->bus, s->hw, engine_access, s);
	if (s->space == BUS_MMIO && e->cfg.trap)
		return e->cfg.trap(e->cfg.trap_ctx, s->hw, 1);
	return 0;
}

/* D5, D6: give the line and the registers back to the guest. The PIC input
 * takes the hardware's level (an edge only if the emulation left it
 * differently, which D1 rules out). */
static int untrap(struct slot *s)
{
	struct engine *e = s->e;
	int line = s->hw->irq;
	machine__route_line(e->m, line, NULL, NULL);
	machine__guest_line(e->m, line, machine__line_level(e->m, line));
	bus__set_handler(&e->m->bus, s->hw, NULL, NULL);
	if (s->space == BUS_MMIO && e->cfg.trap)
		return e->cfg.trap(e->cfg.trap_ctx, s->hw, 0);
	return 0;
}

void eng_refuse(struct slot *s, int action)
{
	struct engine *e = s->e;
	struct sw saved = s->sw;
	s->sw = (struct sw){ .id = ++e->next_id, .wall0 = host_ns() };
	s->sw.row = (struct eng_rec){ .kind = ER_SWITCH, .switch_id = s->sw.id, .device = s->hw->name,
				      .action = engine__action_name(action == EA_DEVIRTUALIZE ? action : EA_VIRTUALIZE),
				      .policy = e->policy, .outcome = "aborted", .reason = "request queue full",
				      .req_seq = e->m->seq, .req_vt = e->m->clock.now };
	eng_switch_rec(s);
	e->aborted++;
	s->sw = saved;
}

/* Ends the current switch with outcome ("done" or "aborted"). */
static void finish(struct slot *s, const char *outcome, const char *reason)
{
	struct engine *e = s->e;
	struct machine *m = e->m;
	pause_close(s);
	clock__disarm(&m->clock, &s->deadline_ev);
	s->sw.row.outcome = outcome;
	s->sw.row.reason = reason ? eng_intern(e, reason) : NULL;
	s->sw.row.has_done = 1;
	s->sw.row.done_seq = m->seq;
	s->sw.row.done_vt = m->clock.now;
	eng_switch_rec(s);
	s->active = 0;
	if (!strcmp(outcome, "done"))
		e->done++;
	else
		e->aborted++;
	refresh_mode(s);
	if (!strcmp(outcome, "done") && s->sw.then >= 0) {
		/* the second half of a roundtrip goes first, ahead of requests that
		 * arrived meanwhile (they were made against the state it restores) */
		if (s->nreq == MAX_QUEUED)
			eng_refuse(s, s->requested[--s->nreq]);   /* the newest gives way */
		memmove(s->requested + 1, s->requested, (size_t)s->nreq * sizeof(int));
		s->requested[0] = s->sw.then;
		s->nreq++;
	}
}

/* Aborts the current switch cleanly; the guest keeps what it had. */
static void abort_switch(struct slot *s, const char *reason)
{
	s->ops->step(s->st, EDEV_ABORT, 0);   /* the module lets go of the switch */
	if (s->state == ES_TRACKING) {
		untrap(s);
		s->state = ES_PASSTHROUGH;
		step_rec(s, "abort", reason);
		replay_deferred(s, 1);
	} else if (s->state == ES_QUIESCING) {
		s->state = ES_VIRTUALIZED;
		step_rec(s, "abort", reason);
		replay_deferred(s, 0);
	}
	finish(s, "aborted", reason);
}

/* Starts a switch for action (a single direction). */
void eng_begin(struct slot *s, int action, int then, uint64_t req_seq, uint64_t req_vt)
{
	struct engine *e = s->e;
	struct machine *m = e->m;
	memset(&s->sw, 0, sizeof(s->sw));
	s->sw.id = ++e->next_id;
	s->sw.action = action;
	s->sw.then = then;
	s->sw.wall0 = host_ns();
	s->sw.wait_start_seq = m->seq;
	s->sw.wait_start_vt = m->clock.now;
	s->sw.row = (struct eng_rec){ .kind = ER_SWITCH, .switch_id = s->sw.id, .device = s->hw->name,
				      .action = engine__action_name(action), .policy = e->policy,
				      .outcome = "pending", .req_seq = req_seq, .req_vt = req_vt };
	int ok = action == EA_VIRTUALIZE ? s->state == ES_PASSTHROUGH : s->state == ES_VIRTUALIZED;
	if (!ok) {
		s->active = 1;
		finish(s, "aborted", s->state == ES_VIRTUALIZED ? "already virtualized" : "not virtualized");
		return;
	}
	s->active = 1;
	s->sw.row.has_start = 1;
	s->sw.row.start_seq = m->seq;
	s->sw.row.start_vt = m->clock.now;
	if (action == EA_VIRTUALIZE) {
		int rc = trap(s);
		step_rec(s, "V1", "line to monitor");
		step_rec(s, "V2", s->space == BUS_MMIO ? (rc ? "slot removal failed" : "slot removed")
				: "ports routed to engine");
		s->state = ES_TRACKING;
		s->ops->step(s->st, EDEV_V3, 0);
		step_rec(s, "V3", s->ops->sm_state(s->st));
		if (rc) {
			abort_switch(s, "cannot trap the register page");
			return;
		}
	} else {
		s->state = ES_QUIESCING;
	}
	eng_switch_rec(s);
	clock__arm(&m->clock, &s->deadline_ev, m->clock.now + e->cfg.wait_bound_ns);
}

/* Bound checks for the phases the guest's progress decides. Returns 1 if
 * the switch was aborted. */
static int over_bound(struct slot *s)
{
	struct engine *e = s->e;
	uint64_t now = e->m->clock.now;
	if (e->cfg.bug == BUG_UNBOUNDED_PAUSE)
		return 0;
	if (s->state != ES_TRACKING && s->state != ES_QUIESCING)
		return 0;
	if (now - s->sw.wait_start_vt >= e->cfg.wait_bound_ns) {
		abort_switch(s, s->state == ES_TRACKING ? "wait bound exceeded: guest still mid-sequence"
				: "quiesce bound exceeded: guest still mid-sequence");
		return 1;
	}
	if (s->pause.open && now - s->pause.start_vt >= e->cfg.pause_bound_ns) {
		abort_switch(s, "pause bound exceeded");
		return 1;
	}
	return 0;
}

/* Devirtualization after D1: D2..D7. Returns 0 when complete, EDEV_AGAIN. */
static int devirt_tail(struct slot *s)
{
	struct engine *e = s->e;
	char detail[96];
	int rc;
	if (e->cfg.bug == BUG_SKIP_DRAIN)
		s->sw.sub = s->sw.sub < 2 ? 2 : s->sw.sub;
	if (s->sw.sub == 0) {
		if ((rc = s->ops->step(s->st, EDEV_D2, 0)))
			return rc;
		s->sw.sub = 1;
	}
	if (s->sw.sub == 1) {
		if ((rc = s->ops->step(s->st, EDEV_D3, 0)))
			return rc;
		s->sw.sub = 2;
	}
	if (e->cfg.bug == BUG_UNBOUNDED_PAUSE && s->pause.open &&
	    e->m->clock.now < s->pause.start_vt + 2 * e->cfg.pause_bound_ns) {
		/* hold the guest off well past the bound */
		clock__arm(&e->m->clock, &s->deadline_ev, s->pause.start_vt + 2 * e->cfg.pause_bound_ns);
		return EDEV_AGAIN;
	}
	if (s->sw.sub == 2 && e->cfg.bug != BUG_FORGET_MODE) {
		if ((rc = s->ops->step(s->st, EDEV_D4, 0)))
			return rc;
	}
	s->sw.sub = 3;
	s->sw.row.mode_after = mode_of(s, EDEV_MODE_HW);
	unsigned q = 0, o = 0;
	if (s->ops->pending)
		s->ops->pending(s->st, &q, &o);
	snprintf(detail, sizeof(detail), "queued=%u outstanding=%u", q, o);
	step_rec(s, "D2", detail);
	step_rec(s, "D3", detail);
	step_rec(s, "D4", e->cfg.bug == BUG_FORGET_MODE ? "skipped" : NULL);
	s->state = ES_PASSTHROUGH;
	int trc = untrap(s);
	step_rec(s, "D5", "line to guest");
	step_rec(s, "D6", s->space == BUS_MMIO ? (trc ? "slot mapping failed" : "slot mapped")
			: "ports routed direct");
	snprintf(detail, sizeof(detail), "%zu accesses", s->nd);
	step_rec(s, "D7", detail);
	replay_deferred(s, 1);
	finish(s, "done", NULL);
	return 0;
}

/* Advances the slot's switch as far as it can go now. */
void eng_progress(struct slot *s)
{
	struct engine *e = s->e;
	struct machine *m = e->m;
	for (;;) {
		if (!s->active) {
			if (!s->nreq)
				return;
			int act = s->requested[0];
			memmove(s->requested, s->requested + 1, (size_t)--s->nreq * sizeof(int));
			int first = act, then = -1;
			if (act == EA_ROUNDTRIP) {
				first = s->state == ES_VIRTUALIZED ? EA_DEVIRTUALIZE : EA_VIRTUALIZE;
				then = first == EA_VIRTUALIZE ? EA_DEVIRTUALIZE : EA_VIRTUALIZE;
			}
			eng_begin(s, first, then, m->seq, m->clock.now);
			continue;
		}
		if (over_bound(s))
			continue;
		switch (s->state) {
		case ES_TRACKING: {
			int takeover = 0;
			if (!s->ops->track_idle(s->st)) {
				if (e->cfg.midseq != MIDSEQ_TAKEOVER)
					return;
				takeover = 1;
			}
			int rc = s->ops->step(s->st, EDEV_V5, takeover);
			if (rc == -EBUSY)
				return;            /* cannot take over here: keep waiting */
			wait_rec(s, "wait");
			step_rec(s, "V4", takeover ? "takeover mid-sequence" : "sequence complete");
			s->sw.takeover = takeover;
			s->state = ES_CAPTURE;
			clock__disarm(&m->clock, &s->deadline_ev);
			if (rc)
				return;            /* V5 in progress */
			s->sw.row.mode_before = mode_of(s, EDEV_MODE_HW);
			step_rec(s, "V5", s->sw.row.mode_before);
			s->sw.sub = 1;
			continue;
		}
		case ES_CAPTURE: {
			if (s->sw.sub == 0) {
				if (s->ops->step(s->st, EDEV_V5, s->sw.takeover))
					return;
				s->sw.row.mode_before = mode_of(s, EDEV_MODE_HW);
				step_rec(s, "V5", s->sw.row.mode_before);
				s->sw.sub = 1;
			}
			if (s->ops->step(s->st, EDEV_V6, s->sw.takeover))
				return;
			s->state = ES_VIRTUALIZED;
			s->sw.row.mode_after = mode_of(s, EDEV_MODE_EMU);   /* before deferred writes move it */
			step_rec(s, "V6", s->sw.takeover ? "emulation from reconstructed state" : "emulation");
			if (e->cfg.bug == BUG_DROP_IRQ)
				s->drop_next_raise = 1;
			replay_deferred(s, 0);
			finish(s, "done", NULL);
			continue;
		}
		case ES_QUIESCING:
			/* BUG_SKIP_DRAIN devirtualizes without waiting for anything */
			if (!s->ops->emu_idle(s->st) && e->cfg.bug != BUG_SKIP_DRAIN)
				return;
			wait_rec(s, "quiesce");
			/* the mode is sampled where the guest can no longer move it:
			 * quiescent, with new accesses blocked until D7 */
			s->sw.row.mode_before = mode_of(s, EDEV_MODE_EMU);
			step_rec(s, "D1", "emulation quiescent");
			s->state = ES_DRAINING;
			clock__disarm(&m->clock, &s->deadline_ev);
			continue;
		case ES_DRAINING:
			if (devirt_tail(s))
				return;
			continue;
		default:
			return;
		}
	}
}

/* Deadline clock event: a bound may have passed. */
void eng_deadline_fired(void *ctx, uint64_t now)
{
	eng_progress(ctx);
}

