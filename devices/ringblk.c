/*
 * ringblk model (see ringblk.h for the register contract).
 *
 * The guest-owned registers (CTRL, ring bases, QSIZE, the two doorbells)
 * live only in the register page; sync() compares them with what the device
 * last saw and acts on the difference, so a doorbell rung through a trapped
 * write and one rung in mapped memory are handled by the same code. The
 * device-owned registers are republished into the page after every sync.
 *
 * Requests complete on the virtual clock after a latency that depends on the
 * LBA and id, so completions come back out of order but deterministically.
 * Data moves at completion time, through the checked guest-memory accessor:
 * a buffer outside guest RAM completes with RB_BAD_ADDRESS, never touching
 * host memory. Completions are signalled with one interrupt edge per batch
 * (MSI-like), which an edge-triggered PIC cannot lose.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "ringblk.h"

#define LAT_BASE_NS    10000ull   /* command overhead */
#define LAT_SECT_NS     1000ull   /* media time per sector */
#define LAT_JITTER_US     40u     /* spread that reorders completions */

struct req {
	uint64_t done_at, order;
	struct ringblk_sqe sqe;
};

/* Everything but the register page; saved and restored as one blob. */
struct rb_state {
	uint32_t ctrl_seen, sq_tail_seen, cq_head_seen;
	uint32_t sq_head, cq_tail, completed, status;
	uint64_t sq_base, cq_base;
	uint32_t qsize, ninflight, nbacklog;
	uint64_t order;
	struct req inflight[RINGBLK_MAX_QSIZE];
	struct ringblk_cqe backlog[RINGBLK_MAX_QSIZE];  /* done, waiting for CQ room */
};

struct ringblk {
	struct hw hw;
	struct blk *disk;
	uint8_t *bar;
	struct clock_event ev;
	struct rb_state s;
	uint32_t shadow[RINGBLK_SIZE / 4];   /* the guest-writable words as last acted on */
	uint8_t dma[RINGBLK_MAX_SECT * BLK_SECTOR];
};

/* The 32-bit words a guest may store to (see writable()). */
static const unsigned guest_words[] = {
	RB_CTRL, RB_SQ_BASE, RB_SQ_BASE + 4, RB_CQ_BASE, RB_CQ_BASE + 4, RB_QSIZE, RB_SQ_TAIL,
	RB_CQ_HEAD, RB_QS_SQ_HEAD, RB_QS_CQ_TAIL, RB_QS_COMPLETED, RB_QS_STATUS,
};
#define NGUEST_WORDS (sizeof(guest_words) / sizeof(guest_words[0]))

static struct ringblk *to_rb(struct hw *hw) { return container_of(hw, struct ringblk, hw); }

static uint32_t rd32(const struct ringblk *r, unsigned off)
{
	uint32_t v;
	memcpy(&v, r->bar + off, 4);
	return v;
}

static void wr32(struct ringblk *r, unsigned off, uint32_t v) { memcpy(r->bar + off, &v, 4); }

static uint64_t rd64(const struct ringblk *r, unsigned off)
{
	uint64_t v;
	memcpy(&v, r->bar + off, 8);
	return v;
}

/* Writes the device-owned registers into the page. */
static void publish(struct ringblk *r)
{
	uint64_t cap = r->disk->sectors;
	wr32(r, RB_MAGIC, RINGBLK_MAGIC);
	wr32(r, RB_VERSION, 1);
	memcpy(r->bar + RB_CAPACITY, &cap, 8);
	wr32(r, RB_MAX_QSIZE, RINGBLK_MAX_QSIZE);
	wr32(r, RB_STATUS, r->s.status);
	wr32(r, RB_SQ_HEAD, r->s.sq_head);
	wr32(r, RB_CQ_TAIL, r->s.cq_tail);
	wr32(r, RB_COMPLETED, r->s.completed);
	/* staging registers exist only while disabled (a store into the mapped
	 * page while enabled is dropped, as a trapped write would be) */
	if (r->s.ctrl_seen & RB_CTRL_ENABLE)
		memset(r->bar + RB_QS_SQ_HEAD, 0, RB_QS_STATUS + 4 - RB_QS_SQ_HEAD);
	for (unsigned i = 0; i < NGUEST_WORDS; i++)
		r->shadow[guest_words[i] / 4] = rd32(r, guest_words[i]);
}

/* Drops all queue state (disable or reset); requests in flight are lost. */
static void stop_queues(struct ringblk *r)
{
	clock__disarm(r->hw.env.clock, &r->ev);
	r->s.ninflight = r->s.nbacklog = 0;
	r->s.sq_head = r->s.cq_tail = r->s.completed = 0;
	r->s.sq_tail_seen = r->s.cq_head_seen = 0;
	r->s.status = 0;
}

/* ENABLE rising with RESTORE: takes the staged indices (see ringblk.h) for
 * a queue whose configuration was just validated. */
static void restore_indices(struct ringblk *r)
{
	r->s.sq_head = rd32(r, RB_QS_SQ_HEAD);
	r->s.cq_tail = rd32(r, RB_QS_CQ_TAIL);
	r->s.completed = rd32(r, RB_QS_COMPLETED);
	/* the doorbells as already seen: only submissions past SQ_HEAD are new */
	r->s.sq_tail_seen = r->s.sq_head;
	r->s.cq_head_seen = rd32(r, RB_CQ_HEAD);
	if (r->s.cq_tail - r->s.cq_head_seen > r->s.qsize ||
	    rd32(r, RB_SQ_TAIL) - r->s.sq_head > r->s.qsize ||
	    (rd32(r, RB_QS_STATUS) & RB_STATUS_FATAL))
		r->s.status = RB_STATUS_FATAL;
}

/* ENABLE rising: latch and validate the ring configuration; with RESTORE,
 * keep the staged indices. The staging registers are consumed either way. */
static void enable(struct ringblk *r)
{
	const struct gmem *m = r->hw.env.mem;
	stop_queues(r);
	r->s.sq_base = rd64(r, RB_SQ_BASE);
	r->s.cq_base = rd64(r, RB_CQ_BASE);
	r->s.qsize = rd32(r, RB_QSIZE);
	int ok = r->s.qsize && r->s.qsize <= RINGBLK_MAX_QSIZE && !(r->s.qsize & (r->s.qsize - 1)) &&
		 gmem__ptr(m, r->s.sq_base, (uint64_t)r->s.qsize * sizeof(struct ringblk_sqe)) &&
		 gmem__ptr(m, r->s.cq_base, (uint64_t)r->s.qsize * sizeof(struct ringblk_cqe));
	r->s.status = ok ? RB_STATUS_READY : RB_STATUS_FATAL;
	if (ok && (rd32(r, RB_CTRL) & RB_CTRL_RESTORE))
		restore_indices(r);
	memset(r->bar + RB_QS_SQ_HEAD, 0, RB_QS_STATUS + 4 - RB_QS_SQ_HEAD);
}

static uint64_t latency(const struct ringblk_sqe *q)
{
	uint32_t h = (uint32_t)q->lba * 0x9e3779b1u ^ (uint32_t)q->id * 0x85ebca6bu;
	uint32_t n = q->opcode == RB_OP_FLUSH ? 0 : q->nsect;
	return LAT_BASE_NS + LAT_SECT_NS * n + (uint64_t)(h % LAT_JITTER_US) * 1000u;
}

/* Arms the completion event for the earliest request in flight. */
static void arm(struct ringblk *r)
{
	uint64_t first = UINT64_MAX;
	for (uint32_t i = 0; i < r->s.ninflight; i++)
		if (r->s.inflight[i].done_at < first)
			first = r->s.inflight[i].done_at;
	if (first == UINT64_MAX)
		clock__disarm(r->hw.env.clock, &r->ev);
	else
		clock__arm(r->hw.env.clock, &r->ev, first);
}

/* Pulls new submissions, as many as the device's queue has room for. */
static void fetch(struct ringblk *r)
{
	uint32_t tail = r->s.sq_tail_seen;
	if (tail - r->s.sq_head > r->s.qsize) {
		r->s.status = RB_STATUS_FATAL;     /* doorbell beyond the ring */
		return;
	}
	while (r->s.sq_head != tail && r->s.ninflight + r->s.nbacklog < r->s.qsize) {
		uint64_t at = r->s.sq_base + (uint64_t)(r->s.sq_head % r->s.qsize) * sizeof(struct ringblk_sqe);
		struct req *q = &r->s.inflight[r->s.ninflight++];
		gmem__read(r->hw.env.mem, at, &q->sqe, sizeof(q->sqe));  /* range checked at enable */
		q->done_at = r->hw.env.clock->now + latency(&q->sqe);
		q->order = r->s.order++;
		r->s.sq_head++;
	}
	arm(r);
}

/* Performs a request's data transfer. Returns an enum ringblk_status. */
static uint16_t execute(struct ringblk *r, const struct ringblk_sqe *q)
{
	const struct gmem *m = r->hw.env.mem;
	uint64_t len = (uint64_t)q->nsect * BLK_SECTOR;
	if (q->opcode == RB_OP_FLUSH)
		return blk__flush(r->disk) ? RB_IO_ERROR : RB_OK;
	if (q->opcode != RB_OP_READ && q->opcode != RB_OP_WRITE)
		return RB_BAD_OPCODE;
	if (!q->nsect || q->nsect > RINGBLK_MAX_SECT || q->lba >= r->disk->sectors ||
	    q->nsect > r->disk->sectors - q->lba)
		return RB_BAD_LBA;
	if (!gmem__ptr(m, q->buf, len))
		return RB_BAD_ADDRESS;
	if (q->opcode == RB_OP_READ) {
		if (blk__read(r->disk, q->lba, r->dma, q->nsect))
			return RB_IO_ERROR;
		gmem__write(m, q->buf, r->dma, len);
	} else {
		gmem__read(m, q->buf, r->dma, len);
		if (blk__write(r->disk, q->lba, r->dma, q->nsect))
			return RB_IO_ERROR;
	}
	return RB_OK;
}

/* Moves completions from the backlog into the CQ while it has room.
 * Returns the number posted. */
static int post(struct ringblk *r)
{
	int n = 0;
	uint32_t i = 0;
	while (i < r->s.nbacklog && r->s.cq_tail - r->s.cq_head_seen < r->s.qsize) {
		uint64_t at = r->s.cq_base + (uint64_t)(r->s.cq_tail % r->s.qsize) * sizeof(struct ringblk_cqe);
		gmem__write(r->hw.env.mem, at, &r->s.backlog[i], sizeof(struct ringblk_cqe));
		r->s.cq_tail++;
		i++;
		n++;
	}
	r->s.nbacklog -= i;
	memmove(r->s.backlog, r->s.backlog + i, r->s.nbacklog * sizeof(r->s.backlog[0]));
	return n;
}

/* Signals a batch of completions with one edge, if interrupts are enabled. */
static void notify(struct ringblk *r, int posted)
{
	if (posted && (rd32(r, RB_CTRL) & RB_CTRL_IRQ_EN)) {
		hw__irq(&r->hw, 1);
		hw__irq(&r->hw, 0);
	}
}

static void on_complete(void *ctx, uint64_t now)
{
	struct ringblk *r = ctx;
	for (;;) {                         /* in (done_at, order) order */
		int best = -1;
		for (uint32_t i = 0; i < r->s.ninflight; i++) {
			struct req *q = &r->s.inflight[i];
			if (q->done_at <= now && (best < 0 || q->done_at < r->s.inflight[best].done_at ||
			    (q->done_at == r->s.inflight[best].done_at && q->order < r->s.inflight[best].order)))
				best = (int)i;
		}
		if (best < 0)
			break;
		struct req q = r->s.inflight[best];
		r->s.inflight[best] = r->s.inflight[--r->s.ninflight];
		uint16_t st = execute(r, &q.sqe);
		r->s.backlog[r->s.nbacklog++] = (struct ringblk_cqe){
			.id = q.sqe.id, .status = st, .nsect = st == RB_OK ? q.sqe.nsect : 0 };
		r->s.completed++;
	}
	notify(r, post(r));
	fetch(r);                          /* room freed: take waiting submissions */
	publish(r);
}

/* Acts on whatever the guest changed in the page since the last sync. */
static void sync_regs(struct ringblk *r)
{
	uint32_t ctrl = rd32(r, RB_CTRL);
	if (ctrl & RB_CTRL_RESET) {
		stop_queues(r);
		memset(r->bar, 0, RINGBLK_SIZE);
		r->s.ctrl_seen = 0;
		publish(r);
		return;
	}
	if ((ctrl ^ r->s.ctrl_seen) & RB_CTRL_ENABLE) {
		if (ctrl & RB_CTRL_ENABLE)
			enable(r);
		else
			stop_queues(r);
	}
	if (ctrl & RB_CTRL_RESTORE) {          /* self-clearing */
		ctrl &= ~RB_CTRL_RESTORE;
		wr32(r, RB_CTRL, ctrl);
	}
	r->s.ctrl_seen = ctrl;
	if (r->s.status == RB_STATUS_READY) {
		uint32_t head = rd32(r, RB_CQ_HEAD), tail = rd32(r, RB_SQ_TAIL);
		if (head != r->s.cq_head_seen) {
			if (head - r->s.cq_head_seen <= r->s.cq_tail - r->s.cq_head_seen) {
				r->s.cq_head_seen = head;
				notify(r, post(r));
			} else {
				r->s.status = RB_STATUS_FATAL;   /* consumed what was never posted */
			}
		}
		if (tail != r->s.sq_tail_seen) {
			r->s.sq_tail_seen = tail;
			fetch(r);
		}
	}
	publish(r);
}

static uint64_t rb_read(struct hw *hw, uint64_t off, unsigned size)
{
	struct ringblk *r = to_rb(hw);
	uint64_t v = 0;
	if (size <= 8 && off + size <= RINGBLK_SIZE)
		memcpy(&v, r->bar + off, size);
	return v;
}

/* Returns 1 for the registers a driver may write now (the queue-state
 * staging registers only while the device is disabled); writes elsewhere
 * are ignored. */
static int writable(const struct ringblk *r, uint64_t off)
{
	return (off >= RB_CTRL && off < RB_CTRL + 4) ||
	       (off >= RB_SQ_BASE && off < RB_SQ_TAIL + 4) ||
	       (off >= RB_CQ_HEAD && off < RB_CQ_HEAD + 4) ||
	       (off >= RB_QS_SQ_HEAD && off < RB_QS_STATUS + 4 && !(r->s.ctrl_seen & RB_CTRL_ENABLE));
}

static void rb_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	struct ringblk *r = to_rb(hw);
	if (size > 8 || off + size > RINGBLK_SIZE || !writable(r, off) || !writable(r, off + size - 1))
		return;
	memcpy(r->bar + off, &val, size);
	sync_regs(r);
}

static void rb_poll(struct hw *hw) { sync_regs(to_rb(hw)); }

/* hw_ops.mapped_writes: the guest-writable words that differ from what the
 * device last published are the guest's stores through the mapped page. */
static int rb_mapped_writes(struct hw *hw, struct hw_reg_write *out, int max)
{
	struct ringblk *r = to_rb(hw);
	int n = 0;
	for (unsigned i = 0; i < NGUEST_WORDS && n < max; i++) {
		uint32_t v = rd32(r, guest_words[i]);
		if (v != r->shadow[guest_words[i] / 4]) {
			out[n++] = (struct hw_reg_write){ .off = guest_words[i], .value = v, .size = 4 };
			r->shadow[guest_words[i] / 4] = v;
		}
	}
	return n;
}

struct rb_saved {
	struct rb_state s;
	uint64_t ev_when;
	uint8_t ev_armed;
	uint8_t bar[RINGBLK_SIZE];
};

static size_t rb_save(struct hw *hw, void *buf, size_t len)
{
	struct ringblk *r = to_rb(hw);
	struct rb_saved *sv = buf;
	if (len < sizeof(*sv))
		return sizeof(*sv);
	memset(sv, 0, sizeof(*sv));
	sv->s = r->s;
	/* States that behave alike save alike (replay checkpoints compare them
	 * bytewise): slots of finished requests and a disarmed event's time
	 * are saved as zeros. */
	memset(sv->s.inflight + r->s.ninflight, 0, (RINGBLK_MAX_QSIZE - r->s.ninflight) * sizeof(sv->s.inflight[0]));
	memset(sv->s.backlog + r->s.nbacklog, 0, (RINGBLK_MAX_QSIZE - r->s.nbacklog) * sizeof(sv->s.backlog[0]));
	sv->ev_when = r->ev.armed ? r->ev.when : 0;
	sv->ev_armed = (uint8_t)r->ev.armed;
	memcpy(sv->bar, r->bar, RINGBLK_SIZE);
	return sizeof(*sv);
}

static int rb_restore(struct hw *hw, const void *buf, size_t len)
{
	struct ringblk *r = to_rb(hw);
	const struct rb_saved *sv = buf;
	if (len != sizeof(*sv) || sv->s.ninflight > RINGBLK_MAX_QSIZE || sv->s.nbacklog > RINGBLK_MAX_QSIZE)
		return -EINVAL;
	r->s = sv->s;
	memcpy(r->bar, sv->bar, RINGBLK_SIZE);
	for (unsigned i = 0; i < NGUEST_WORDS; i++)
		r->shadow[guest_words[i] / 4] = rd32(r, guest_words[i]);
	clock__disarm(hw->env.clock, &r->ev);
	if (sv->ev_armed)
		clock__arm(hw->env.clock, &r->ev, sv->ev_when);
	return 0;
}

static void rb_destroy(struct hw *hw)
{
	struct ringblk *r = to_rb(hw);
	clock__disarm(hw->env.clock, &r->ev);
	munmap(r->bar, RINGBLK_SIZE);
	free(r);
}

static const struct hw_ops ringblk_ops = {
	.model = "ringblk",
	.mapped_writes = rb_mapped_writes,
	.read = rb_read,
	.write = rb_write,
	.poll = rb_poll,
	.save = rb_save,
	.restore = rb_restore,
	.destroy = rb_destroy,
};

struct hw *ringblk__create(const struct hw_env *env, const char *name, int irq, struct blk *disk)
{
	struct ringblk *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	/* A page of its own: KVM maps it into the guest for pass-through. */
	r->bar = mmap(NULL, RINGBLK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->bar == MAP_FAILED) {
		free(r);
		return NULL;
	}
	hw__init(&r->hw, &ringblk_ops, name, irq, env);
	r->disk = disk;
	clock__event_init(&r->ev, on_complete, r);
	publish(r);
	return &r->hw;
}

void *ringblk__bar(struct hw *hw)
{
	return to_rb(hw)->bar;
}
