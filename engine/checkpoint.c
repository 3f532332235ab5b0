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
 * wrong multiple count restored at D4). So each module's state is copied
 * whole, except what ties it to its own engine: the host callbacks, its
 * clock events (all disarmed at rest) and heap buffers (the ATA deferral
 * shadow, copied by value). The modules are recognised by their ops table;
 * an engine with any other module (a test's scripted one) cannot be
 * checkpointed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"
#include "ata_priv.h"
#include "uart_priv.h"
#include "ringblk_priv.h"

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

/* Returns 1 when the module of slot s holds nothing in flight (no emulation,
 * no driver work, no timers), i.e. its state can be copied by value. */
static int module_idle(const struct slot *s)
{
	if (s->ops == &edev_ata_ops) {
		const struct ata_eng *a = s->st;
		return !a->emu_live && !a->drv_on && a->d.st == D_IDLE && !a->d.qn &&
		       !a->d.irq_ev.armed && !a->d.poll_ev.armed;
	}
	if (s->ops == &edev_uart_ops) {
		const struct uart_eng *u = s->st;
		return u->phase == UP_PASS && !u->emu && !u->emu_ev.armed && !u->svc_ev.armed;
	}
	if (s->ops == &edev_ringblk_ops) {
		const struct rbm *r = s->st;
		return r->mode == RBM_PASS && !r->d.ev.armed;
	}
	return 0;
}

int engine__idle(struct engine *e)
{
	for (int i = 0; i < e->nslots; i++)
		if (!slot_idle(&e->slots[i]) || !module_idle(&e->slots[i]))
			return 0;
	return 1;
}

/* Serialises slot s's module into buf (when len allows). Returns the size
 * needed. The ATA shadow's queued writes follow the struct. */
static size_t module_save(const struct slot *s, uint8_t *buf, size_t len)
{
	if (s->ops == &edev_ata_ops) {
		const struct ata_eng *a = s->st;
		size_t dq = a->sh.nd * sizeof(*a->sh.dq), need = sizeof(*a) + dq;
		if (len >= need) {
			memcpy(buf, a, sizeof(*a));
			if (dq)
				memcpy(buf + sizeof(*a), a->sh.dq, dq);
		}
		return need;
	}
	if (s->ops == &edev_uart_ops) {
		if (len >= sizeof(struct uart_eng))
			memcpy(buf, s->st, sizeof(struct uart_eng));
		return sizeof(struct uart_eng);
	}
	if (len >= sizeof(struct rbm))
		memcpy(buf, s->st, sizeof(struct rbm));
	return sizeof(struct rbm);
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
		h.mod_len[i] = (uint32_t)module_save(&e->slots[i], NULL, 0);
		need += h.mod_len[i];
	}
	if (len < need)
		return (long)need;
	uint8_t *p = buf;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (int i = 0; i < e->nslots; i++)
		p += module_save(&e->slots[i], p, h.mod_len[i]);
	return (long)need;
}

/* Copies a saved module state into slot s's module, keeping what belongs
 * to this engine (host, clock events, heap buffers). Returns 0 or -errno. */
static int module_restore(struct slot *s, const uint8_t *p, size_t len)
{
	if (s->ops == &edev_ata_ops) {
		struct ata_eng *a = s->st, keep = *a;
		if (len < sizeof(*a))
			return -EINVAL;
		size_t nd = (len - sizeof(*a)) / sizeof(*a->sh.dq);
		if (nd > keep.sh.cap) {
			void *dq = realloc(keep.sh.dq, nd * sizeof(*a->sh.dq));
			if (!dq)
				return -ENOMEM;
			keep.sh.dq = dq;
			keep.sh.cap = nd;
		}
		memcpy(a, p, sizeof(*a));
		a->h = keep.h;
		a->d.irq_ev = keep.d.irq_ev;
		a->d.poll_ev = keep.d.poll_ev;
		a->sh.dq = keep.sh.dq;
		a->sh.cap = keep.sh.cap;
		a->sh.nd = nd;
		if (nd)
			memcpy(a->sh.dq, p + sizeof(*a), nd * sizeof(*a->sh.dq));
		return 0;
	}
	if (s->ops == &edev_uart_ops) {
		struct uart_eng *u = s->st, keep = *u;
		if (len != sizeof(*u))
			return -EINVAL;
		memcpy(u, p, sizeof(*u));
		u->h = keep.h;
		u->emu = keep.emu;
		u->priv = keep.priv;
		u->emu_ev = keep.emu_ev;
		u->svc_ev = keep.svc_ev;
		return 0;
	}
	struct rbm *r = s->st, keep = *r;
	if (len != sizeof(*r))
		return -EINVAL;
	memcpy(r, p, sizeof(*r));
	r->h = keep.h;
	r->d.ev = keep.d.ev;
	return 0;
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
		int rc = module_restore(&e->slots[i], p, h.mod_len[i]);
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
