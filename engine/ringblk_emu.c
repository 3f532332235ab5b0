/*
 * ringblk emulation and the monitor's driver (V6..D4).
 *
 * The emulated device re-implements devices/ringblk.h's register contract
 * rule for rule (the same write filter, RESET, ENABLE latching and
 * validation, FATAL cases, fetch limit, CQ back-pressure, one interrupt
 * edge per batch of posted completions), so that the guest cannot tell it
 * from the hardware. Its "media" is the monitor's driver, which owns the
 * hardware through its own shadow rings in monitor-private memory.
 *
 * Timing is kept too: the emulation fetches a submission when the guest's
 * doorbell arrives and the driver puts it on the hardware at once, with the
 * guest's own command id (the hardware echoes it, so no id map is needed,
 * and the hardware's per-request latency stays what it would have been).
 * The hardware's completion interrupt arms a zero-delay clock event that
 * consumes the shadow CQ and posts the completions into the guest's CQ in
 * the same virtual instant as the hardware would have. Data moves by DMA
 * straight between the hardware and the guest's buffers (an identity IOMMU
 * mapping) except for buffers overlapping monitor-private memory, which the
 * mapping leaves out: those requests fail with RB_BAD_ADDRESS, as a buffer
 * outside RAM does.
 */
#include <errno.h>
#include <string.h>
#include "ringblk_priv.h"

/* An address no IOMMU mapping covers: DMA to it fails with RB_BAD_ADDRESS. */
#define UNMAPPED_GPA 0xfffffffffffff000ull

/* Returns the 32-bit little-endian register at off of page. */
uint32_t rbe_rd32(const uint8_t *page, unsigned off)
{
	uint32_t v;
	memcpy(&v, page + off, 4);
	return v;
}

/* Returns the 64-bit little-endian register at off of page. */
uint64_t rbe_rd64(const uint8_t *page, unsigned off)
{
	uint64_t v;
	memcpy(&v, page + off, 8);
	return v;
}

/* Stores a 32-bit register into the emulated page. */
static void wr32(struct rb_emu *e, unsigned off, uint32_t v) { memcpy(e->page + off, &v, 4); }

/* Reads a hardware register (the driver's only way to look at it). */
static uint64_t hw_rd(struct rbm *s, unsigned off, unsigned size)
{
	return s->h.hw->ops->read(s->h.hw, off, size);
}

/* Writes a hardware register. */
static void hw_wr(struct rbm *s, unsigned off, unsigned size, uint64_t v)
{
	s->h.hw->ops->write(s->h.hw, off, size, v);
}

/* Returns 1 if [gpa, gpa+len) overlaps the monitor-private memory
 * (overflow-safe; an empty range overlaps nothing). */
int rbe_in_priv(const struct rbm *s, uint64_t gpa, uint64_t len)
{
	uint64_t pb = s->h.priv_base, pe = s->h.priv_base + s->h.priv_size;
	if (!len)
		return 0;
	return gpa < pe && (gpa >= pb || pb - gpa < len);
}

/* Returns 1 if byte off is writable with CTRL seen as ctrl_seen (the
 * model's write filter). */
int rbe_writable(uint32_t ctrl_seen, uint64_t off)
{
	return (off >= RB_CTRL && off < RB_CTRL + 4) ||
	       (off >= RB_SQ_BASE && off < RB_SQ_TAIL + 4) ||
	       (off >= RB_CQ_HEAD && off < RB_CQ_HEAD + 4) ||
	       (off >= RB_QS_SQ_HEAD && off < RB_QS_STATUS + 4 && !(ctrl_seen & RB_CTRL_ENABLE));
}

/* Writes the device-owned registers into the emulated page (the model's
 * publish()). */
static void publish(struct rb_emu *e)
{
	memcpy(e->page, e->ident, IDENT_LEN);
	wr32(e, RB_STATUS, e->status);
	wr32(e, RB_SQ_HEAD, e->sq_head);
	wr32(e, RB_CQ_TAIL, e->cq_tail);
	wr32(e, RB_COMPLETED, e->completed);
	if (e->ctrl_seen & RB_CTRL_ENABLE)
		memset(e->page + RB_QS_SQ_HEAD, 0, REG_END - RB_QS_SQ_HEAD);
}

/* Programs the hardware with the driver's shadow rings, empty. Returns 0,
 * or -EIO if the hardware does not come up ready. */
static int drv_program(struct rbm *s)
{
	struct rb_drv *d = &s->d;
	hw_wr(s, RB_CTRL, 4, 0);                 /* disable: drops whatever it held */
	hw_wr(s, RB_SQ_BASE, 8, d->sq);
	hw_wr(s, RB_CQ_BASE, 8, d->cq);
	hw_wr(s, RB_QSIZE, 4, SHADOW_Q);
	hw_wr(s, RB_SQ_TAIL, 4, 0);
	hw_wr(s, RB_CQ_HEAD, 4, 0);
	hw_wr(s, RB_CTRL, 4, RB_CTRL_ENABLE | RB_CTRL_IRQ_EN);
	d->sq_tail = d->cq_head = 0;
	d->nq = 0;
	d->irq = 0;
	return hw_rd(s, RB_STATUS, 4) == RB_STATUS_READY ? 0 : -EIO;
}

/* Aborts everything the driver has on the hardware (the guest disabled or
 * reset its queue: the model drops requests in flight before their DMA, so
 * the driver must stop the hardware's copies before theirs). */
static void drv_abort(struct rbm *s)
{
	if (s->d.nq || s->d.sq_tail != s->d.cq_head)
		drv_program(s);
}

/* Moves queued requests onto the shadow SQ and rings the hardware's
 * doorbell once. */
static void drv_submit(struct rbm *s)
{
	struct rb_drv *d = &s->d;
	uint32_t n = 0;
	while (n < d->nq && d->sq_tail - d->cq_head < SHADOW_Q) {
		uint64_t at = d->sq + (uint64_t)(d->sq_tail % SHADOW_Q) * sizeof(struct ringblk_sqe);
		gmem__write(s->h.mem, at, &d->q[n], sizeof(d->q[n]));   /* range checked at V5 */
		d->sq_tail++;
		n++;
	}
	d->nq -= n;
	memmove(d->q, d->q + n, d->nq * sizeof(d->q[0]));
	if (n)
		hw_wr(s, RB_SQ_TAIL, 4, d->sq_tail);
}

/* Accepts one guest submission for the hardware (the identity IOMMU:
 * buffers over monitor-private memory are unmapped). */
static void drv_queue(struct rbm *s, const struct ringblk_sqe *q)
{
	struct ringblk_sqe c = *q;
	if ((c.opcode == RB_OP_READ || c.opcode == RB_OP_WRITE) &&
	    rbe_in_priv(s, c.buf, (uint64_t)c.nsect * 512u))
		c.buf = UNMAPPED_GPA;
	s->d.q[s->d.nq++] = c;                   /* nq <= guest qsize <= SHADOW_Q */
}

/* Drops all queue state (disable or reset), the driver's requests too. */
static void stop_queues(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	drv_abort(s);
	e->ninflight = e->nbacklog = 0;
	e->sq_head = e->cq_tail = e->completed = 0;
	e->sq_tail_seen = e->cq_head_seen = 0;
	e->status = 0;
}

/* ENABLE rising: latch and validate the guest's rings (the model's rules,
 * plus: rings over monitor-private memory are FATAL here, as the IOMMU
 * leaves that memory out); with RESTORE, keep the staged indices. */
static void enable(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	const struct gmem *m = s->h.mem;
	stop_queues(s);
	e->sq_base = rbe_rd64(e->page, RB_SQ_BASE);
	e->cq_base = rbe_rd64(e->page, RB_CQ_BASE);
	e->qsize = rbe_rd32(e->page, RB_QSIZE);
	uint64_t sqlen = (uint64_t)e->qsize * sizeof(struct ringblk_sqe);
	uint64_t cqlen = (uint64_t)e->qsize * sizeof(struct ringblk_cqe);
	int ok = e->qsize && e->qsize <= RINGBLK_MAX_QSIZE && !(e->qsize & (e->qsize - 1)) &&
		 gmem__ptr(m, e->sq_base, sqlen) && gmem__ptr(m, e->cq_base, cqlen) &&
		 !rbe_in_priv(s, e->sq_base, sqlen) && !rbe_in_priv(s, e->cq_base, cqlen);
	e->status = ok ? RB_STATUS_READY : RB_STATUS_FATAL;
	if (ok && (rbe_rd32(e->page, RB_CTRL) & RB_CTRL_RESTORE)) {
		e->sq_head = rbe_rd32(e->page, RB_QS_SQ_HEAD);
		e->cq_tail = rbe_rd32(e->page, RB_QS_CQ_TAIL);
		e->completed = rbe_rd32(e->page, RB_QS_COMPLETED);
		e->sq_tail_seen = e->sq_head;
		e->cq_head_seen = rbe_rd32(e->page, RB_CQ_HEAD);
		if (e->cq_tail - e->cq_head_seen > e->qsize ||
		    rbe_rd32(e->page, RB_SQ_TAIL) - e->sq_head > e->qsize ||
		    (rbe_rd32(e->page, RB_QS_STATUS) & RB_STATUS_FATAL))
			e->status = RB_STATUS_FATAL;
	}
	memset(e->page + RB_QS_SQ_HEAD, 0, REG_END - RB_QS_SQ_HEAD);
}

/* Pulls new guest submissions, as many as the queue has room for (the
 * model's limit), and hands them to the driver. */
static void fetch(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	uint32_t tail = e->sq_tail_seen;
	if (tail - e->sq_head > e->qsize) {
		e->status = RB_STATUS_FATAL;     /* doorbell beyond the ring */
		return;
	}
	while (e->sq_head != tail && e->ninflight + e->nbacklog < e->qsize) {
		struct ringblk_sqe q;
		uint64_t at = e->sq_base + (uint64_t)(e->sq_head % e->qsize) * sizeof(q);
		gmem__read(s->h.mem, at, &q, sizeof(q));   /* range checked at enable */
		drv_queue(s, &q);
		e->ninflight++;
		e->sq_head++;
	}
	drv_submit(s);
}

/* Moves completions from the backlog into the guest's CQ while it has
 * room. Returns the number posted. */
static int post(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	int n = 0;
	uint32_t i = 0;
	while (i < e->nbacklog && e->cq_tail - e->cq_head_seen < e->qsize) {
		uint64_t at = e->cq_base + (uint64_t)(e->cq_tail % e->qsize) * sizeof(struct ringblk_cqe);
		gmem__write(s->h.mem, at, &e->backlog[i], sizeof(struct ringblk_cqe));
		e->cq_tail++;
		i++;
		n++;
	}
	e->nbacklog -= i;
	memmove(e->backlog, e->backlog + i, e->nbacklog * sizeof(e->backlog[0]));
	return n;
}

/* Signals a batch of posted completions with one edge, as the hardware
 * does (its line pulses; it never stays raised). */
static void notify(struct rbm *s, int posted)
{
	if (posted && (rbe_rd32(s->e.page, RB_CTRL) & RB_CTRL_IRQ_EN)) {
		s->h.guest_irq(s->h.ctx, 1);
		s->h.guest_irq(s->h.ctx, 0);
	}
}

/* Consumes the hardware's completions from the shadow CQ into the
 * emulation (the model's on_complete(): backlog, post, one edge, fetch). */
void rbe_complete(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	struct rb_drv *d = &s->d;
	d->irq = 0;
	uint32_t tail = (uint32_t)hw_rd(s, RB_CQ_TAIL, 4), n = 0;
	while (d->cq_head != tail && d->sq_tail != d->cq_head) {
		struct ringblk_cqe c;
		uint64_t at = d->cq + (uint64_t)(d->cq_head % SHADOW_Q) * sizeof(c);
		gmem__read(s->h.mem, at, &c, sizeof(c));
		d->cq_head++;
		n++;
		if (!e->ninflight)
			continue;                    /* cannot happen: resets abort the hardware's copies */
		e->ninflight--;
		e->backlog[e->nbacklog++] = (struct ringblk_cqe){ .id = c.id, .status = c.status, .nsect = c.nsect };
		e->completed++;
	}
	if (!n)
		return;
	hw_wr(s, RB_CQ_HEAD, 4, d->cq_head);     /* the shadow slots are free again */
	notify(s, post(s));
	fetch(s);                                /* room freed: take waiting submissions */
	publish(e);
}

/* Acts on what the guest wrote (the model's sync_regs()). */
static void sync_regs(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	uint32_t ctrl = rbe_rd32(e->page, RB_CTRL);
	if (ctrl & RB_CTRL_RESET) {
		stop_queues(s);
		memset(e->page, 0, RINGBLK_SIZE);
		e->ctrl_seen = 0;
		publish(e);
		return;
	}
	if ((ctrl ^ e->ctrl_seen) & RB_CTRL_ENABLE) {
		if (ctrl & RB_CTRL_ENABLE)
			enable(s);
		else
			stop_queues(s);
	}
	if (ctrl & RB_CTRL_RESTORE) {
		ctrl &= ~RB_CTRL_RESTORE;
		wr32(e, RB_CTRL, ctrl);
	}
	e->ctrl_seen = ctrl;
	if (e->status == RB_STATUS_READY) {
		uint32_t head = rbe_rd32(e->page, RB_CQ_HEAD), tail = rbe_rd32(e->page, RB_SQ_TAIL);
		if (head != e->cq_head_seen) {
			if (head - e->cq_head_seen <= e->cq_tail - e->cq_head_seen) {
				e->cq_head_seen = head;
				notify(s, post(s));
			} else {
				e->status = RB_STATUS_FATAL;   /* consumed what was never posted */
			}
		}
		if (tail != e->sq_tail_seen) {
			e->sq_tail_seen = tail;
			fetch(s);
		}
	}
	publish(e);
}

/* Serves one guest access to the emulated page (the model's rb_read /
 * rb_write). */
void rbe_access(struct rbm *s, struct bus_access *a, uint64_t off)
{
	struct rb_emu *e = &s->e;
	if (s->d.irq)
		rbe_complete(s);                 /* completions due before this access */
	if (!a->write) {
		a->value = 0;
		if (a->size <= 8 && off + a->size <= RINGBLK_SIZE)
			memcpy(&a->value, e->page + off, a->size);
		return;
	}
	if (a->size > 8 || off + a->size > RINGBLK_SIZE || !rbe_writable(e->ctrl_seen, off) ||
	    !rbe_writable(e->ctrl_seen, off + a->size - 1))
		return;
	memcpy(e->page + off, &a->value, a->size);
	sync_regs(s);
}

/* V5: copies the hardware's register page and derives the emulation's
 * state from it (an idle queue: nothing in flight or held back). */
void rbe_load(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	for (unsigned off = 0; off < RINGBLK_SIZE; off += 8) {
		uint64_t v = hw_rd(s, off, 8);
		memcpy(e->page + off, &v, 8);
	}
	memcpy(e->ident, e->page, IDENT_LEN);
	e->ctrl_seen = rbe_rd32(e->page, RB_CTRL);
	e->status = rbe_rd32(e->page, RB_STATUS);
	e->sq_head = rbe_rd32(e->page, RB_SQ_HEAD);
	e->cq_tail = rbe_rd32(e->page, RB_CQ_TAIL);
	e->completed = rbe_rd32(e->page, RB_COMPLETED);
	/* The latched configuration is not readable: the contract forbids
	 * changing the page's bases while enabled, so they are the latched ones. */
	e->sq_base = rbe_rd64(e->page, RB_SQ_BASE);
	e->cq_base = rbe_rd64(e->page, RB_CQ_BASE);
	e->qsize = rbe_rd32(e->page, RB_QSIZE);
	/* A ready queue has acted on both doorbells; a disabled one saw none. */
	int en = e->ctrl_seen & RB_CTRL_ENABLE;
	e->sq_tail_seen = en ? rbe_rd32(e->page, RB_SQ_TAIL) : 0;
	e->cq_head_seen = en ? rbe_rd32(e->page, RB_CQ_HEAD) : 0;
	e->ninflight = e->nbacklog = 0;
}

/* V6: the driver takes the hardware with its shadow rings. Returns 0 or
 * -EIO. */
int rbe_start(struct rbm *s)
{
	s->d.sq = s->h.priv_base;
	s->d.cq = s->h.priv_base + (uint64_t)SHADOW_Q * sizeof(struct ringblk_sqe);
	return drv_program(s);
}

/* Returns 1 when nothing is in flight, queued or undelivered. */
int rbe_idle(const struct rbm *s)
{
	return !s->e.ninflight && !s->e.nbacklog && !s->d.nq && s->d.sq_tail == s->d.cq_head && !s->d.irq;
}

/* D4: disables the (drained) hardware, programs the guest's rings,
 * doorbells and, through the queue-state registers, the emulation's
 * indices and FATAL state, then CTRL as the guest had it. */
void rbe_restore_hw(struct rbm *s)
{
	struct rb_emu *e = &s->e;
	uint32_t ctrl = rbe_rd32(e->page, RB_CTRL);
	int en = e->ctrl_seen & RB_CTRL_ENABLE;
	hw_wr(s, RB_CTRL, 4, 0);                  /* stop the driver's queue (drained) */
	/* enabled: the configuration the queue latched; disabled: the page's */
	hw_wr(s, RB_SQ_BASE, 8, en ? e->sq_base : rbe_rd64(e->page, RB_SQ_BASE));
	hw_wr(s, RB_CQ_BASE, 8, en ? e->cq_base : rbe_rd64(e->page, RB_CQ_BASE));
	hw_wr(s, RB_QSIZE, 4, en ? e->qsize : rbe_rd32(e->page, RB_QSIZE));
	hw_wr(s, RB_SQ_TAIL, 4, rbe_rd32(e->page, RB_SQ_TAIL));
	hw_wr(s, RB_CQ_HEAD, 4, rbe_rd32(e->page, RB_CQ_HEAD));
	if (!en) {
		/* disabled: the device-owned registers read 0 on both sides; staged
		 * QS_* values (a guest's own) go back as they were */
		for (unsigned off = RB_QS_SQ_HEAD; off < REG_END; off += 4)
			hw_wr(s, off, 4, rbe_rd32(e->page, off));
		hw_wr(s, RB_CTRL, 4, ctrl);
		return;
	}
	hw_wr(s, RB_QS_SQ_HEAD, 4, e->sq_head);
	hw_wr(s, RB_QS_CQ_TAIL, 4, e->cq_tail);
	hw_wr(s, RB_QS_COMPLETED, 4, e->completed);
	hw_wr(s, RB_QS_STATUS, 4, e->status & RB_STATUS_FATAL);
	hw_wr(s, RB_CTRL, 4, ctrl | RB_CTRL_RESTORE);
	/* bases the guest rewrote while enabled stay page-only, as on the model */
	if (rbe_rd64(e->page, RB_SQ_BASE) != e->sq_base)
		hw_wr(s, RB_SQ_BASE, 8, rbe_rd64(e->page, RB_SQ_BASE));
	if (rbe_rd64(e->page, RB_CQ_BASE) != e->cq_base)
		hw_wr(s, RB_CQ_BASE, 8, rbe_rd64(e->page, RB_CQ_BASE));
	if (rbe_rd32(e->page, RB_QSIZE) != e->qsize)
		hw_wr(s, RB_QSIZE, 4, rbe_rd32(e->page, RB_QSIZE));
}
