/*
 * Engine checkpoints, for the offline replayer's exhaustive mode: the state
 * of an engine at rest (every device in pass-through, no switch running or
 * queued, nothing deferred), so that a second engine on a second machine
 * can be put where the first one was and a switch injected there behaves as
 * it would have live.
 *
 * At rest the engine still knows things: counters (switch ids, exits for
 * every=N triggers, deferred replays), which vtime triggers are still armed,
 * and what each module learnt by snooping the guest's writes in
 * pass-through (the ATA tracker's taskfile, command and modes, the UART's
 * mode and receive-FIFO estimate). A fresh engine would not know them and
 * would switch differently (an IDENTIFY where the mode is "uncertain", a
 * wrong multiple count restored at D4). So each module saves and restores
 * itself (edev_ops at_rest/save/restore), keeping what ties it to its own
 * engine: the host callbacks, its clock events (all disarmed at rest) and
 * heap buffers. An engine with a module without those ops (a test's
 * scripted one) cannot be checkpointed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define CKPT_MAGIC 0x45434b50u   /* "PKCE" */

/* The engine-wide part of a checkpoint; each slot's module state follows. */
struct eng_ckpt {
	uint32_t magic, nslots, ntrig;
	uint64_t exits, next_id, done, aborted, replays;
	uint8_t trig_armed[MAX_TRIGGERS];
	uint64_t trig_when[MAX_TRIGGERS];
	uint8_t drop_next_raise[MAX_SLOTS];
	uint32_t mod_len[MAX_SLOTS];
};

/* Returns 1 when slot s is at rest: pass-through, no switch, nothing queued,
 * deferred or timed. */
static int slot_idle(const struct slot *s)
{
	return s->state == ES_PASSTHROUGH && !s->active && !s->nreq && !s->nd && !s->pause.open &&
	       !s->kick_ev.armed && !s->deadline_ev.armed;
}

/* Returns 1 when the module of slot s can be checkpointed now: it has the
 * ops and holds nothing in flight. */
static int module_idle(const struct slot *s)
{
	return s->ops->at_rest && s->ops->save && s->ops->restore && s->ops->at_rest(s->st);
}

int engine__idle(struct engine *e)
{
	for (int i = 0; i < e->nslots; i++)
		if (!slot_idle(&e->slots[i]) || !module_idle(&e->slots[i]))
			return 0;
	return 1;
}

long engine__save(struct engine *e, void *buf, size_t len)
{
	struct eng_ckpt h;
	if (!engine__idle(e))
		return -EBUSY;
	memset(&h, 0, sizeof(h));
	h.magic = CKPT_MAGIC;
	h.nslots = (uint32_t)e->nslots;
	h.ntrig = (uint32_t)e->ntrig;
	h.exits = e->exits;
	h.next_id = e->next_id;
	h.done = e->done;
	h.aborted = e->aborted;
	h.replays = e->replays;
	for (int i = 0; i < e->ntrig; i++) {
		h.trig_armed[i] = (uint8_t)e->trig[i].ev.armed;
		h.trig_when[i] = e->trig[i].ev.when;
	}
	size_t need = sizeof(h);
	for (int i = 0; i < e->nslots; i++) {
		h.drop_next_raise[i] = (uint8_t)e->slots[i].drop_next_raise;
		h.mod_len[i] = (uint32_t)e->slots[i].ops->save(e->slots[i].st, NULL, 0);
		need += h.mod_len[i];
	}
	if (len < need)
		return (long)need;
	uint8_t *p = buf;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (int i = 0; i < e->nslots; i++)
		p += e->slots[i].ops->save(e->slots[i].st, p, h.mod_len[i]);
	return (long)need;
}

int engine__restore(struct engine *e, const void *buf, size_t len)
{
	struct eng_ckpt h;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != CKPT_MAGIC || h.nslots != (uint32_t)e->nslots || h.ntrig != (uint32_t)e->ntrig)
		return -EINVAL;
	if (!engine__idle(e))
		return -EBUSY;
	size_t need = sizeof(h);
	for (int i = 0; i < e->nslots; i++)
		need += h.mod_len[i];
	if (len != need)
		return -EINVAL;
	const uint8_t *p = (const uint8_t *)buf + sizeof(h);
	for (int i = 0; i < e->nslots; i++) {
		int rc = e->slots[i].ops->restore(e->slots[i].st, p, h.mod_len[i]);
		if (rc)
			return rc;
		e->slots[i].drop_next_raise = h.drop_next_raise[i];
		e->slots[i].mode = NULL;
		p += h.mod_len[i];
	}
	e->exits = h.exits;
	e->next_id = h.next_id;
	e->done = h.done;
	e->aborted = h.aborted;
	e->replays = h.replays;
	for (int i = 0; i < e->ntrig; i++) {
		clock__disarm(&e->m->clock, &e->trig[i].ev);
		if (h.trig_armed[i] && clock__arm(&e->m->clock, &e->trig[i].ev, h.trig_when[i]))
			return -ENOSPC;
	}
	return 0;
}
