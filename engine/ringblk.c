/*
 * ringblk engine module (edev.h): tracking, switch steps, blocking and mode
 * for the ring block device; the emulation and the monitor's driver are in
 * ringblk_emu.c.
 *
 * What "identical" means for a ring device. The guest learns about its
 * requests only through the rings, the indices and the interrupt; how soon
 * a request completes is the device's business (the model already completes
 * out of order, by latency). So a switch is transparent when:
 *   - every request the guest posts completes exactly once, with the same
 *     id, status and sector count, and with the same effect on the disk and
 *     on the guest's buffers;
 *   - configuration and identity registers (CTRL, STATUS, bases, QSIZE,
 *     MAGIC, CAPACITY...) read the same, and the indices (SQ_HEAD, CQ_TAIL,
 *     COMPLETED) reach the same values once the guest's requests are done;
 *   - every batch of completions is signalled, with no interrupt lost or
 *     spurious, under the guest's own IRQ_EN.
 * Two things are outside it, as on real devices. Requests a guest abandons
 * by RESET or disable while they are in flight: whether they finish (and
 * move their data) before the device acts on the reset is the device's
 * timing (NVMe leaves commands outstanding at a controller reset
 * undefined); a deferred reset lets them finish where pass-through would
 * have dropped them. And monitor-private memory (MONITOR_PRIV_BASE), which
 * the memory map hides from guests: under emulation a buffer there fails
 * with RB_BAD_ADDRESS and a ring there is FATAL, where pass-through
 * hardware would have used it.
 * When no access had to be deferred, the module keeps even the timing: the
 * emulation fetches at the doorbell, the driver submits at once with the
 * guest's command id (same latency), and completions reach the guest's CQ
 * in the same virtual instant; the guest's reads are then identical value
 * for value. A deferred doorbell is a device slow to notice its doorbell,
 * which pass-through ringblk already is (it acts at its next poll): its
 * requests complete later, so completion order and the moments at which the
 * guest sees indices move may differ; the guest only ever waits for them.
 *
 * Tracking (V3/V4). The sequence that matters is a request's life: posted
 * (SQ_TAIL), fetched (SQ_HEAD), completed (COMPLETED), posted to the CQ
 * (CQ_TAIL). The hardware holds requests in flight and completions waiting
 * for CQ room in state nobody can read or hand over, so the tracker is idle
 * only when SQ_TAIL == SQ_HEAD == COMPLETED == CQ_TAIL (or the queue is
 * disabled). A configuration sequence (RESET, bases, ENABLE) is not in
 * flight: every register it touches is in the page that V5 copies. The
 * tracker samples the hardware's read-only counters after each access it is
 * fed (side-effect-free reads; completions arrive asynchronously).
 *
 * Blocking. ringblk has no "not ready" its drivers honour, and holding a
 * doorbell inside the emulation would need the module to learn that a D1
 * was aborted (edev.h does not say), or a halted guest could wait forever
 * for a held request. So under both block policies a doorbell that would
 * start new requests during a switch is deferred (EDEV_DEFER): the core's
 * log replays it exactly once to whoever serves the device next, including
 * after an abort. Later writes keep their order behind it: CQ_HEAD writes
 * still go through (consuming completions is independent of posting, and a
 * guest whose CQ is full must be able to drain it); any other write is
 * deferred too. Reads of guest-owned registers covered by a deferred write
 * return the written value (EDEV_BUSY: a write-then-read of the page sees
 * the store even before the device acts, as in pass-through); device-owned
 * registers read as the device that has not noticed yet.
 *
 * Takeover (V5 with midseq=takeover). The hardware cannot report or adopt
 * requests in flight (no per-request state is readable, and completions come
 * out of order), so the module does not reconstruct them: when the
 * hardware can finish them alone (its CQ has room for every posted request,
 * so no guest help is needed), capture starts at once and the hardware
 * finishes them on the guest's rings while doorbells are deferred; its
 * interrupts are passed on to the guest. Otherwise V5 returns -EBUSY and
 * the core keeps waiting (bounded) for the guest to consume its CQ.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ringblk_priv.h"

/* Reads the hardware queue's registers into the tracker's view. */
static void view_read(struct rbm *s)
{
	struct hw *hw = s->h.hw;
	struct rb_view *v = &s->v;
	v->ctrl = (uint32_t)hw->ops->read(hw, RB_CTRL, 4);
	v->status = (uint32_t)hw->ops->read(hw, RB_STATUS, 4);
	v->qsize = (uint32_t)hw->ops->read(hw, RB_QSIZE, 4);
	v->sq_tail = (uint32_t)hw->ops->read(hw, RB_SQ_TAIL, 4);
	v->sq_head = (uint32_t)hw->ops->read(hw, RB_SQ_HEAD, 4);
	v->cq_tail = (uint32_t)hw->ops->read(hw, RB_CQ_TAIL, 4);
	v->cq_head = (uint32_t)hw->ops->read(hw, RB_CQ_HEAD, 4);
	v->completed = (uint32_t)hw->ops->read(hw, RB_COMPLETED, 4);
	v->sq_base = hw->ops->read(hw, RB_SQ_BASE, 8);
	v->cq_base = hw->ops->read(hw, RB_CQ_BASE, 8);
}

/* Returns 1 when the viewed queue has nothing in flight: every posted
 * request fetched (or never to be: a FATAL queue ignores doorbells),
 * completed, and its completion in the CQ. */
static int view_idle(const struct rb_view *v)
{
	if (!(v->ctrl & RB_CTRL_ENABLE))
		return 1;
	return v->sq_head == v->completed && v->completed == v->cq_tail &&
	       (v->status != RB_STATUS_READY || v->sq_tail == v->sq_head);
}

/* Returns 1 when the hardware will finish everything in flight without the
 * guest: a ready queue whose CQ has room for every request up to SQ_TAIL. */
static int view_finishes_alone(const struct rb_view *v)
{
	return v->status == RB_STATUS_READY && v->sq_tail - v->cq_head <= v->qsize;
}

/* Forgets the current switch's deferred writes (they are being replayed). */
static void switch_clear(struct rbm *s)
{
	s->deferring = 0;
	s->in_block = 0;
	memset(s->ov_mask, 0, sizeof(s->ov_mask));
}

/* Capture: passes the hardware's edges on to the guest (the core does so
 * only while tracking; the guest still owns the hardware's rings). */
static void pass_edges(struct rbm *s)
{
	for (; s->capture_edges; s->capture_edges--) {
		s->h.guest_irq(s->h.ctx, 1);
		s->h.guest_irq(s->h.ctx, 0);
	}
}

/* Zero-delay clock event: handles the hardware's interrupt outside
 * hw_irq(). During capture it passes the hardware's edges on to the guest;
 * under emulation the driver consumes its completions. */
static void hw_event(void *ctx, uint64_t now)
{
	struct rbm *s = ctx;
	if (s->mode == RBM_CAPTURE) {
		pass_edges(s);
		s->h.kick(s->h.ctx);              /* V5 may be done now */
		return;
	}
	if (s->mode == RBM_EMU && s->d.irq)
		rbe_complete(s);
	if (s->want_kick && rbe_idle(s)) {
		s->want_kick = 0;
		s->h.kick(s->h.ctx);
	}
}

/* Creates the module's state. Returns NULL when out of memory. */
static void *rb_create(const struct edev_host *h)
{
	struct rbm *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->h = *h;
	s->mode = RBM_PASS;
	clock__event_init(&s->d.ev, hw_event, s);
	return s;
}

/* Frees the module's state. */
static void rb_destroy(void *st)
{
	struct rbm *s = st;
	clock__disarm(s->h.clock, &s->d.ev);
	free(s);
}

/* A forwarded access while tracking: samples the hardware's queue. */
static void rb_track(void *st, const struct bus_access *a, uint64_t off)
{
	struct rbm *s = st;
	s->in_block = 0;
	view_read(s);
}

/* Returns 1 when nothing is in flight on the hardware (V4). */
static int rb_track_idle(void *st)
{
	struct rbm *s = st;
	view_read(s);
	return view_idle(&s->v);
}

/* Serves a guest access from the emulation. An access block() did not
 * forward is a replay of deferred writes or plain emulation: the switch's
 * deferred bytes are history then. */
static void rb_emulate(void *st, struct bus_access *a, uint64_t off)
{
	struct rbm *s = st;
	if (!s->in_block)
		switch_clear(s);
	s->in_block = 0;
	rbe_access(s, a, off);
}

/* Returns 1 when the emulation is quiescent (D1): nothing in flight, queued
 * or undelivered; the guest's line is low (edges only), as the hardware's
 * will be after D4. */
static int rb_emu_idle(void *st)
{
	struct rbm *s = st;
	if (s->mode == RBM_EMU && s->d.irq)
		rbe_complete(s);
	return rbe_idle(s);
}

/* Returns 1 if the access covers any byte of [reg, reg+4). */
static int touches(uint64_t off, unsigned size, unsigned reg)
{
	return off < reg + 4 && off + size > reg;
}

/* Returns 1 if the model would take a write of size at off whatever its
 * state (its filter checks the first and last byte; QS_* depend on the
 * device state, so they are left out of the overlay). */
static int guest_owned(uint64_t off, unsigned size)
{
	return size && size <= 8 && off + size <= REG_END && rbe_writable(RB_CTRL_ENABLE, off) &&
	       rbe_writable(RB_CTRL_ENABLE, off + size - 1);
}

/* Reads size bytes at off from whoever serves the device in phase. */
static uint64_t live_read(struct rbm *s, uint64_t off, unsigned size, int phase)
{
	if (phase == EDEV_PH_WAIT || phase == EDEV_PH_CAPTURE)
		return s->h.hw->ops->read(s->h.hw, off, size);
	uint64_t v = 0;
	if (size <= 8 && off + size <= RINGBLK_SIZE)
		memcpy(&v, s->e.page + off, size);
	return v;
}

/* Records a deferred write's bytes for later reads, and how far deferral
 * has gone. Returns EDEV_DEFER. */
static int defer(struct rbm *s, const struct bus_access *a, uint64_t off, int level)
{
	if (guest_owned(off, a->size))
		for (unsigned i = 0; i < a->size; i++) {
			s->ov[off + i] = (uint8_t)(a->value >> (8 * i));
			s->ov_mask[off + i] = 1;
		}
	if (s->deferring < level)
		s->deferring = level;
	return EDEV_DEFER;
}

/* Decides how a guest access is served during a switch (see the top of
 * the file). Returns an enum edev_verdict. */
static int rb_block(void *st, struct bus_access *a, uint64_t off, int phase, int policy)
{
	struct rbm *s = st;
	if (!a->write) {
		int covered = 0;
		for (unsigned i = 0; i < a->size && off + i < REG_END; i++)
			covered |= s->ov_mask[off + i];
		if (covered) {
			uint64_t v = live_read(s, off, a->size, phase);
			for (unsigned i = 0; i < a->size && off + i < REG_END; i++)
				if (s->ov_mask[off + i])
					v = (v & ~(0xffull << (8 * i))) | (uint64_t)s->ov[off + i] << (8 * i);
			a->value = v;
			return EDEV_BUSY;
		}
		s->in_block = 1;
		return EDEV_FORWARD;
	}
	if (touches(off, a->size, RB_SQ_TAIL)) {
		uint64_t cur = live_read(s, RB_SQ_TAIL, 4, phase), next = cur;
		for (unsigned i = 0; i < a->size; i++)
			if (off + i >= RB_SQ_TAIL && off + i < RB_SQ_TAIL + 4)
				next = (next & ~(0xffull << (8 * (off + i - RB_SQ_TAIL)))) |
				       ((a->value >> (8 * i)) & 0xff) << (8 * (off + i - RB_SQ_TAIL));
		/* WAIT: only while the hardware has requests (V4's pause of the
		 * guest's next sequence); later phases: any new request */
		int busy = 1;
		if (phase == EDEV_PH_WAIT) {
			view_read(s);
			busy = !view_idle(&s->v);
		}
		if (s->deferring || (next != cur && busy))
			return defer(s, a, off, a->size <= 4 && off == RB_SQ_TAIL ? 1 : 2);
	} else if (s->deferring > 1 || (s->deferring && !(off == RB_CQ_HEAD && a->size == 4))) {
		return defer(s, a, off, 2);
	} else if (s->deferring) {
		/* The guest consumes completions while its doorbell waits: holding
		 * CQ_HEAD could starve the device (a full CQ), letting it pass
		 * would reorder the guest's writes (I2). So the pause ends here:
		 * the core replays the held doorbell, then serves this write. */
		s->deferring = 0;
		memset(s->ov_mask, 0, sizeof(s->ov_mask));
		return EDEV_FLUSH;
	}
	s->in_block = 1;
	return EDEV_FORWARD;
}

/* Runs V3 (seed the tracker). Returns 0. */
static int step_v3(struct rbm *s)
{
	switch_clear(s);
	s->mode = RBM_TRACK;
	s->capture_edges = 0;
	view_read(s);
	return 0;
}

/* Runs V5: loads the emulation from the idle hardware, or (takeover) lets
 * the hardware finish what it has. Returns 0, EDEV_AGAIN or -EBUSY. */
static int step_v5(struct rbm *s, int takeover)
{
	const struct gmem *m = s->h.mem;
	view_read(s);
	/* the driver's rings must be usable, and not the guest's own */
	if (!gmem__ptr(m, s->h.priv_base, s->h.priv_size) ||
	    s->h.priv_size < (uint64_t)SHADOW_Q * (sizeof(struct ringblk_sqe) + sizeof(struct ringblk_cqe)) ||
	    ((s->v.ctrl & RB_CTRL_ENABLE) &&
	     (rbe_in_priv(s, s->v.sq_base, (uint64_t)s->v.qsize * sizeof(struct ringblk_sqe)) ||
	      rbe_in_priv(s, s->v.cq_base, (uint64_t)s->v.qsize * sizeof(struct ringblk_cqe)))))
		return -EBUSY;
	if (view_idle(&s->v)) {
		if (s->mode == RBM_CAPTURE)
			pass_edges(s);                /* an edge not yet delivered */
		rbe_load(s);
		return 0;
	}
	if (s->mode == RBM_CAPTURE)
		return EDEV_AGAIN;
	if (!takeover || !view_finishes_alone(&s->v))
		return -EBUSY;
	s->mode = RBM_CAPTURE;
	return EDEV_AGAIN;
}

/* Runs one V/D step (see edev.h). Returns 0, EDEV_AGAIN or -EBUSY. */
static int rb_step(void *st, int step, int takeover)
{
	struct rbm *s = st;
	switch (step) {
	case EDEV_V3:
		return step_v3(s);
	case EDEV_V5:
		return step_v5(s, takeover);
	case EDEV_V6:
		/* V5 checked that the private memory is RAM, so the hardware takes
		 * the shadow rings; if it ever did not, the emulation would still
		 * serve the guest and its requests would stay outstanding (D2
		 * reports them) rather than vanish */
		rbe_start(s);
		s->mode = RBM_EMU;
		switch_clear(s);
		return 0;
	case EDEV_D2:
		if (s->d.irq)
			rbe_complete(s);
		if (s->d.nq || s->d.sq_tail != s->d.cq_head) {
			s->want_kick = 1;
			return EDEV_AGAIN;
		}
		return 0;
	case EDEV_D3:
		if (s->d.irq)
			rbe_complete(s);
		if (!rbe_idle(s)) {
			s->want_kick = 1;
			return EDEV_AGAIN;
		}
		return 0;
	case EDEV_D4:
		clock__disarm(s->h.clock, &s->d.ev);
		rbe_restore_hw(s);
		s->mode = RBM_PASS;
		switch_clear(s);
		return 0;
	default:
		return -EINVAL;
	}
}

/* The hardware's line changed while routed to the monitor: notes a rising
 * edge for the zero-delay event (no I/O here: this may run inside the
 * model). While tracking the core passes the line on itself. */
static void rb_hw_irq(void *st, int level)
{
	struct rbm *s = st;
	if (!level || (s->mode != RBM_EMU && s->mode != RBM_CAPTURE))
		return;
	if (s->mode == RBM_CAPTURE)
		s->capture_edges++;
	else
		s->d.irq = 1;
	clock__arm(s->h.clock, &s->d.ev, s->h.clock->now);
}

/* Writes the device mode of the emulation or, read back through its
 * registers, of the hardware (same keys). Returns buf. */
static char *rb_mode(void *st, int src, char *buf, size_t len)
{
	struct rbm *s = st;
	uint8_t page[REG_END];
	if (src == EDEV_MODE_HW) {
		for (unsigned off = 0; off < REG_END; off += 4) {
			uint32_t v = (uint32_t)s->h.hw->ops->read(s->h.hw, off, 4);
			memcpy(page + off, &v, 4);
		}
	} else {
		memcpy(page, s->e.page, REG_END);
	}
	uint32_t ctrl = rbe_rd32(page, RB_CTRL);
	snprintf(buf, len, "en=%u irq=%u sq=0x%llx cq=0x%llx qsize=%u sqh=%u sqt=%u cqh=%u cqt=%u done=%u fatal=%u",
		 ctrl & RB_CTRL_ENABLE, !!(ctrl & RB_CTRL_IRQ_EN),
		 (unsigned long long)rbe_rd64(page, RB_SQ_BASE), (unsigned long long)rbe_rd64(page, RB_CQ_BASE),
		 rbe_rd32(page, RB_QSIZE), rbe_rd32(page, RB_SQ_HEAD), rbe_rd32(page, RB_SQ_TAIL),
		 rbe_rd32(page, RB_CQ_HEAD), rbe_rd32(page, RB_CQ_TAIL), rbe_rd32(page, RB_COMPLETED),
		 !!(rbe_rd32(page, RB_STATUS) & RB_STATUS_FATAL));
	return buf;
}

/* Returns the live state machine's state as a static string. */
static const char *rb_sm_state(void *st)
{
	struct rbm *s = st;
	switch (s->mode) {
	case RBM_TRACK:
		if (!(s->v.ctrl & RB_CTRL_ENABLE))
			return "off";
		if (!view_idle(&s->v))
			return "inflight";
		return s->v.status == RB_STATUS_READY ? "ready" : "fatal";
	case RBM_CAPTURE:
		return "capture-inflight";
	case RBM_EMU:
		if (!(s->e.ctrl_seen & RB_CTRL_ENABLE))
			return "emu-off";
		if (!rbe_idle(s))
			return "emu-inflight";
		return s->e.status == RB_STATUS_READY ? "emu-ready" : "emu-fatal";
	default:
		return "pass-through";
	}
}

/* Reports the driver's queued requests and those outstanding on the
 * hardware (I6). The counters survive D4 on purpose: the core asks after
 * it, and a D4 run over outstanding requests must show them. */
static void rb_pending(void *st, unsigned *queued, unsigned *outstanding)
{
	struct rbm *s = st;
	*queued = s->d.nq;
	*outstanding = s->d.sq_tail - s->d.cq_head;
}

/* Checkpoints: at rest the state is copied by value but for its event. */
static int rb_at_rest(const void *st)
{
	const struct rbm *r = st;
	return r->mode == RBM_PASS && !r->d.ev.armed;
}

static size_t rb_save(const void *st, uint8_t *buf, size_t len)
{
	if (len >= sizeof(struct rbm))
		memcpy(buf, st, sizeof(struct rbm));
	return sizeof(struct rbm);
}

static int rb_restore(void *st, const uint8_t *p, size_t len)
{
	struct rbm *r = st, keep = *r;
	if (len != sizeof(*r))
		return -EINVAL;
	memcpy(r, p, sizeof(*r));
	r->h = keep.h;
	r->d.ev = keep.d.ev;
	return 0;
}

const struct edev_ops edev_ringblk_ops = {
	.model = "ringblk",
	.create = rb_create,
	.destroy = rb_destroy,
	.snoop = NULL,                   /* MMIO pass-through never exits */
	.track = rb_track,
	.track_idle = rb_track_idle,
	.emulate = rb_emulate,
	.emu_idle = rb_emu_idle,
	.block = rb_block,
	.step = rb_step,
	.hw_irq = rb_hw_irq,
	.mode = rb_mode,
	.sm_state = rb_sm_state,
	.pending = rb_pending,
	.at_rest = rb_at_rest,
	.save = rb_save,
	.restore = rb_restore,
};
