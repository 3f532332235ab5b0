/*
 * ringblk engine module, without KVM (tests/eharness.h). Guest driver
 * sequences are C scripts (probe, configure rings, enable; batches of
 * reads, writes and flushes at depth > 1 waiting for interrupts; error
 * completions; reset and reconfigure; a queue kept full). Each runs once
 * without a switch (the baseline), then with a switch requested after
 * every access position, for each action and each policy pair, and must
 * give the same guest-visible outcome as defined at the top of
 * engine/ringblk.c: the same completions (id, status, sectors) per batch,
 * the same configuration, identity and final index reads, the same data in
 * the guest's buffers and on the disk; and, when nothing was deferred, the
 * very same observation log (every read value and interrupt, in order).
 * Also: switches cut short by their bounds lose nothing; a guest keeping
 * its queue full cannot stall a switch; emulation alone is identical value
 * for value; configuration, indices and FATAL/disabled states survive
 * switches, read back from the hardware; monitor-private memory is out of
 * the guest's reach under emulation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eharness.h"
#include "../devices/ringblk_regs.h"

#define REG(off)   (RINGBLK_BASE + (off))
#define SQ_GPA     0x200000ull
#define CQ_GPA     0x201000ull
#define SQ2_GPA    0x202000ull
#define CQ2_GPA    0x203000ull
#define BUF_GPA    0x300000ull
#define SLOT_LEN   8192u                        /* 16 sectors per buffer slot */
#define NSLOTS     14u                          /* compared after every run */
#define ABANDONED  14u                          /* 2 slots for requests a reset abandons */
#define DISK_BYTES (256u * 512u)                /* 256 sectors */
#define RB_VEC     (0x28 + RINGBLK_IRQ - 8)     /* vector of IRQ 11 */
#define MAX_SEM    512
#define REG_END_TEST (RB_QS_STATUS + 4)         /* the register bytes compared */

/* One guest-visible fact the script noted ('r' register read that does not
 * depend on completion timing, 'c' completion, 'd' data digest). */
struct sem {
	char kind;
	uint32_t batch;
	uint64_t a, b;
};

/* The scripted guest driver. */
struct drv {
	struct eh *h;
	uint64_t sq, cq;
	uint32_t qsize, sq_tail, cq_head;
	int irq;
	uint32_t batch;
	struct sem log[MAX_SEM];
	int n;
};

/* What the engine reported during a run. */
struct seen {
	unsigned defers, replayed, busy_reads, steps_d2, bad_drain, takeovers;
};

static char where[160];                         /* the run, for failure messages */

/* Counts the engine's records (sink). */
static void sink(void *ctx, const struct eng_rec *r)
{
	struct seen *s = ctx;
	if (r->kind == ER_DEFER)
		s->defers++;
	else if (r->kind == ER_REPLAYED)
		s->replayed++;
	else if (r->kind == ER_STEP && r->step && !strcmp(r->step, "V4") && r->detail &&
		 strstr(r->detail, "takeover"))
		s->takeovers++;
	else if (r->kind == ER_STEP && r->step && !strcmp(r->step, "D2")) {
		s->steps_d2++;
		if (!r->detail || strcmp(r->detail, "queued=0 outstanding=0"))
			s->bad_drain++;
	}
}

/* Counts the guest accesses answered from deferred writes (machine hook). */
static void count_busy(void *ctx, const struct exit_rec *r)
{
	struct seen *s = ctx;
	if (r->kind == EXIT_MMIO && r->path == PATH_BUSY)
		s->busy_reads++;
}

/* Notes a guest-visible fact. */
static void note(struct drv *d, char kind, uint64_t a, uint64_t b)
{
	cr_assert_lt(d->n, MAX_SEM, "%s: semantic log full", where);
	d->log[d->n++] = (struct sem){ .kind = kind, .batch = d->batch, .a = a, .b = b };
}

/* The guest's MMIO read of ringblk register off (recorded by the harness). */
static uint64_t rd(struct drv *d, unsigned off, unsigned size) { return eh_rd(d->h, REG(off), size); }
/* The guest's MMIO write of ringblk register off. */
static void wr(struct drv *d, unsigned off, unsigned size, uint64_t v) { eh_wr(d->h, REG(off), size, v); }

/* Reads a register whose value is timing-independent and notes it. */
static uint64_t rd_note(struct drv *d, unsigned off, unsigned size)
{
	uint64_t v = rd(d, off, size);
	note(d, 'r', off, v);
	return v;
}

/* The byte a script writes at offset i of sector lba. */
static uint8_t wpat(uint64_t lba, unsigned i) { return (uint8_t)(lba * 37 + i * 7 + 0x5a); }

/* Returns the host address of buffer slot s in guest RAM. */
static uint8_t *slot(struct drv *d, unsigned s) { return d->h->ram + BUF_GPA + (uint64_t)s * SLOT_LEN; }
/* Returns the guest-physical address of buffer slot s. */
static uint64_t slot_gpa(unsigned s) { return BUF_GPA + (uint64_t)s * SLOT_LEN; }

/* FNV-1a over a buffer: the data digest noted for comparison. */
static uint64_t digest(const uint8_t *p, size_t n)
{
	uint64_t x = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		x = (x ^ p[i]) * 0x100000001b3ull;
	return x;
}

/* Identity registers, as a driver probes them. */
static void probe(struct drv *d)
{
	cr_assert_eq(rd_note(d, RB_MAGIC, 4), RINGBLK_MAGIC, "%s", where);
	rd_note(d, RB_VERSION, 4);
	cr_assert_eq(rd_note(d, RB_CAPACITY, 8), DISK_BYTES / 512, "%s", where);
	rd_note(d, RB_MAX_QSIZE, 4);
}

/* Resets the device and enables rings at sq/cq (the guest driver's rb_init). */
static void setup(struct drv *d, uint64_t sq, uint64_t cq, uint32_t qsize, int irq)
{
	wr(d, RB_CTRL, 4, RB_CTRL_RESET);
	eh_poll(d->h, BUS_MMIO, REG(RB_CTRL), 4, ~0ull, 0, 100000);
	d->sq = sq;
	d->cq = cq;
	d->qsize = qsize;
	d->sq_tail = d->cq_head = 0;
	d->irq = irq;
	memset(d->h->ram + sq, 0, qsize * sizeof(struct ringblk_sqe));
	memset(d->h->ram + cq, 0, qsize * sizeof(struct ringblk_cqe));
	wr(d, RB_SQ_BASE, 8, sq);
	wr(d, RB_CQ_BASE, 8, cq);
	wr(d, RB_QSIZE, 4, qsize);
	wr(d, RB_SQ_TAIL, 4, 0);
	wr(d, RB_CQ_HEAD, 4, 0);
	wr(d, RB_CTRL, 4, RB_CTRL_ENABLE | (irq ? RB_CTRL_IRQ_EN : 0));
	uint64_t st = eh_poll(d->h, BUS_MMIO, REG(RB_STATUS), 4, RB_STATUS_READY | RB_STATUS_FATAL,
			      RB_STATUS_READY, 100000);
	note(d, 'r', RB_STATUS, st);
	rd_note(d, RB_CTRL, 4);
	rd_note(d, RB_QSIZE, 4);
}

/* Queues one request and rings the doorbell. Returns 0, or -1 when the
 * submission ring is full (as the device reports it). */
static int submit(struct drv *d, uint8_t op, uint16_t id, uint64_t lba, uint32_t nsect, uint64_t buf)
{
	if (d->sq_tail - (uint32_t)rd(d, RB_SQ_HEAD, 4) >= d->qsize)
		return -1;
	struct ringblk_sqe e = { .opcode = op, .id = id, .nsect = nsect, .lba = lba, .buf = buf };
	memcpy(d->h->ram + d->sq + (d->sq_tail % d->qsize) * sizeof(e), &e, sizeof(e));
	wr(d, RB_SQ_TAIL, 4, ++d->sq_tail);
	return 0;
}

/* Consumes every completion posted, noting each unless the caller gets
 * them in cqes (and notes them itself). Returns how many. */
static int reap(struct drv *d, struct ringblk_cqe *cqes)
{
	uint32_t tail = (uint32_t)rd(d, RB_CQ_TAIL, 4);
	int n = 0;
	while (d->cq_head != tail) {
		struct ringblk_cqe c;
		memcpy(&c, d->h->ram + d->cq + (d->cq_head % d->qsize) * sizeof(c), sizeof(c));
		if (cqes)
			cqes[n] = c;
		else
			note(d, 'c', (uint64_t)c.id << 16 | c.status, c.nsect);
		d->cq_head++;
		n++;
	}
	if (n)
		wr(d, RB_CQ_HEAD, 4, d->cq_head);
	return n;
}

/* Waits for the device: for its interrupt, or one I/O delay when polling. */
static void dwait(struct drv *d)
{
	if (!d->irq) {
		eh_out(d->h, 0x80, 1, 0);
		return;
	}
	int vec = eh_wait_irq(d->h);
	cr_assert_eq(vec, RB_VEC, "%s: guest hung or got vector %d", where, vec);
	eh_eoi(d->h, vec);
}

/* Reaps until count completions of the current batch arrived, then starts
 * the next batch. */
static void wait_all(struct drv *d, int count)
{
	int got = 0;
	for (int guard = 0; got < count; guard++) {
		cr_assert_lt(guard, 100000, "%s: %d of %d completions", where, got, count);
		int n = reap(d, NULL);
		got += n;
		if (got < count && !n)
			dwait(d);
	}
	cr_assert_eq(got, count, "%s: more completions than requests", where);
	d->batch++;
}

/* Final indices: once everything is done they no longer depend on timing. */
static void final(struct drv *d)
{
	rd_note(d, RB_SQ_HEAD, 4);
	rd_note(d, RB_CQ_TAIL, 4);
	rd_note(d, RB_COMPLETED, 4);
	rd_note(d, RB_STATUS, 4);
	rd_note(d, RB_CTRL, 4);
}

/* Fills slot s with what the script writes to nsect sectors at lba. */
static void fill(struct drv *d, unsigned s, uint64_t lba, uint32_t nsect)
{
	for (uint32_t k = 0; k < nsect; k++)
		for (unsigned i = 0; i < 512; i++)
			slot(d, s)[k * 512 + i] = wpat(lba + k, i);
}

/* Checks slot s against what the disk must hold at lba (written by the
 * script, or the fresh image) and notes its digest under tag. */
static void check_tag(struct drv *d, unsigned s, uint64_t lba, uint32_t nsect, int written, uint64_t tag)
{
	for (uint32_t k = 0; k < nsect; k++)
		for (unsigned i = 0; i < 512; i++) {
			uint8_t want = written ? wpat(lba + k, i) : eh_pattern((lba + k) * 512 + i);
			cr_assert_eq(slot(d, s)[k * 512 + i], want, "%s: slot %u lba %llu byte %u", where, s,
				     (unsigned long long)(lba + k), i);
		}
	note(d, 'd', tag, digest(slot(d, s), nsect * 512));
}

/* check_tag() with the slot as the tag. */
static void check(struct drv *d, unsigned s, uint64_t lba, uint32_t nsect, int written)
{
	check_tag(d, s, lba, nsect, written, s);
}

/* Script: writes then reads back at depth 5 with a flush, interrupts. */
static void script_batch(struct drv *d)
{
	probe(d);
	setup(d, SQ_GPA, CQ_GPA, 8, 1);
	for (unsigned i = 0; i < 5; i++) {
		fill(d, i, i * 8 + i % 2, 1 + i % 4);
		cr_assert_eq(submit(d, RB_OP_WRITE, (uint16_t)i, i * 8 + i % 2, 1 + i % 4, slot_gpa(i)), 0);
	}
	wait_all(d, 5);
	for (unsigned i = 0; i < 4; i++) {
		memset(slot(d, 8 + i), 0, SLOT_LEN);
		cr_assert_eq(submit(d, RB_OP_READ, (uint16_t)(10 + i), i * 8 + i % 2, 1 + i % 4, slot_gpa(8 + i)), 0);
	}
	cr_assert_eq(submit(d, RB_OP_FLUSH, 20, 0, 0, 0), 0);
	wait_all(d, 5);
	for (unsigned i = 0; i < 4; i++)
		check(d, 8 + i, i * 8 + i % 2, 1 + i % 4, 1);
	final(d);
}

/* Script: error completions, polled, with more requests than CQ entries:
 * the fifth completion waits in the device for CQ room while the guest
 * posts a sixth request, then consumes. */
static void script_errors(struct drv *d)
{
	probe(d);
	setup(d, SQ_GPA, CQ_GPA, 4, 0);
	uint64_t cap = DISK_BYTES / 512;
	memset(slot(d, 0), 0, SLOT_LEN);
	cr_assert_eq(submit(d, RB_OP_READ, 1, cap, 1, slot_gpa(1)), 0);
	cr_assert_eq(submit(d, RB_OP_READ, 2, 0, 1, 0xf0000000ull), 0);
	cr_assert_eq(submit(d, 9, 3, 0, 1, slot_gpa(1)), 0);
	cr_assert_eq(submit(d, RB_OP_FLUSH, 4, 0, 0, 0), 0);
	while (submit(d, RB_OP_READ, 5, 3, 2, slot_gpa(0)))
		dwait(d);
	/* all five done: four in the CQ, one held back for room */
	note(d, 'r', RB_COMPLETED, eh_poll(d->h, BUS_MMIO, REG(RB_COMPLETED), 4, ~0ull, 5, 100000));
	cr_assert_eq(submit(d, RB_OP_FLUSH, 6, 0, 0, 0), 0);
	wait_all(d, 6);
	check(d, 0, 3, 2, 0);
	final(d);
}

/* Script: writes, reads dropped by a reset, reconfiguration with other
 * rings and size, reads back. */
static void script_reset(struct drv *d)
{
	probe(d);
	setup(d, SQ_GPA, CQ_GPA, 4, 1);
	fill(d, 0, 40, 3);
	fill(d, 1, 60, 2);
	cr_assert_eq(submit(d, RB_OP_WRITE, 1, 40, 3, slot_gpa(0)), 0);
	cr_assert_eq(submit(d, RB_OP_WRITE, 2, 60, 2, slot_gpa(1)), 0);
	wait_all(d, 2);
	/* reset at once: pass-through drops both before moving any data; a
	 * device that notices the reset later may have read into the
	 * abandoned buffers, which the definition leaves open (ABANDONED) */
	cr_assert_eq(submit(d, RB_OP_READ, 3, 40, 3, slot_gpa(ABANDONED)), 0);
	cr_assert_eq(submit(d, RB_OP_READ, 4, 60, 2, slot_gpa(ABANDONED + 1)), 0);
	setup(d, SQ2_GPA, CQ2_GPA, 8, 1);
	memset(slot(d, 4), 0, 3 * SLOT_LEN);
	cr_assert_eq(submit(d, RB_OP_READ, 5, 40, 3, slot_gpa(4)), 0);
	cr_assert_eq(submit(d, RB_OP_READ, 6, 60, 2, slot_gpa(5)), 0);
	cr_assert_eq(submit(d, RB_OP_READ, 7, 100, 4, slot_gpa(6)), 0);
	wait_all(d, 3);
	check(d, 4, 40, 3, 1);
	check(d, 5, 60, 2, 1);
	check(d, 6, 100, 4, 0);
	final(d);
}

/* The queue kept full (depth = QSIZE = 4): nreq writes then (reads) nreq
 * reads of them, submitting whenever the device has fetched an entry. */
static void keep_full(struct drv *d, int nreq, int reads)
{
	probe(d);
	setup(d, SQ_GPA, CQ_GPA, 4, 1);
	for (int pass = 0; pass < 1 + reads; pass++) {
		uint8_t op = pass ? RB_OP_READ : RB_OP_WRITE;
		int busy[4] = { -1, -1, -1, -1 }, next = 0, done = 0;
		for (int guard = 0; done < nreq; guard++) {
			cr_assert_lt(guard, 100000, "%s: full queue stuck", where);
			for (unsigned s = 0; s < 4 && next < nreq; s++) {
				if (busy[s] >= 0)
					continue;
				uint64_t lba = 120 + (uint64_t)next * 2 % 128;
				if (!pass)
					fill(d, s, lba, 1 + next % 3);
				else
					memset(slot(d, s), 0, SLOT_LEN);
				if (submit(d, op, (uint16_t)s, lba, 1 + next % 3, slot_gpa(s)))
					break;
				busy[s] = next++;
			}
			struct ringblk_cqe c[8];
			int n = reap(d, c);
			if (!n)
				dwait(d);
			for (int i = 0; i < n; i++) {
				uint16_t id = c[i].id;
				cr_assert_lt(id, 4, "%s", where);
				cr_assert_geq(busy[id], 0, "%s: completion for an idle slot", where);
				/* which slot serves a request depends on timing: the
				 * request number is what the guest observes */
				note(d, 'c', (uint64_t)busy[id] << 16 | c[i].status, c[i].nsect);
				if (pass)
					check_tag(d, id, 120 + (uint64_t)busy[id] * 2 % 128, 1 + busy[id] % 3, 1,
						  (uint64_t)busy[id]);
				busy[id] = -1;
				done++;
			}
		}
		d->batch++;
	}
	memset(slot(d, 0), 0, 4 * SLOT_LEN);      /* what is left where depends on timing */
	final(d);
}

/* Script: the queue kept full for 8 writes and 8 reads. */
static void script_full(struct drv *d) { keep_full(d, 8, 1); }

/* Script: the queue kept full for 60 writes, long past the wait bound of
 * the test that uses it. */
static void script_stream(struct drv *d) { keep_full(d, 60, 0); }

typedef void script_fn(struct drv *d);

/* One run's outcome, kept for comparison with the baseline. */
struct run {
	struct eh h;
	struct drv d;
	struct seen seen;
	uint8_t disk[DISK_BYTES];
	uint8_t bufs[NSLOTS * SLOT_LEN];
	int state;
	uint64_t done, aborted, pending;
};

/* Runs script once: the device starts virtualized if start_virt; a switch
 * action is requested after access at (UINT64_MAX: none). */
static void run(struct run *r, script_fn *script, int start_virt, uint64_t at, int action,
		int midseq, int block, uint64_t bound_ns)
{
	struct eh_cfg cfg = { .ringblk = 1, .disk_bytes = DISK_BYTES,
			      .engine = { .midseq = midseq, .block = block, .sink = sink, .sink_ctx = &r->seen,
					  .wait_bound_ns = bound_ns, .pause_bound_ns = bound_ns } };
	memset(&r->seen, 0, sizeof(r->seen));
	eh_init(&r->h, &cfg);
	cr_assert_eq(machine__add_hook(&r->h.m, count_busy, &r->seen), 0);
	r->d = (struct drv){ .h = &r->h };
	eh_pic_init(&r->h);
	if (start_virt)
		cr_assert_eq(engine__start_virtualized(r->h.e, "ringblk"), 0, "%s", where);
	if (at != UINT64_MAX)
		eh_switch_after(&r->h, at, "ringblk", action);
	script(&r->d);
	eh_idle(&r->h, 2000000);                  /* a switch asked for at the end completes */
	cr_assert_eq(blk__read(&r->h.rb_disk, 0, r->disk, DISK_BYTES / 512), 0);
	memcpy(r->bufs, r->h.ram + BUF_GPA, sizeof(r->bufs));
	r->state = engine__state(r->h.e, "ringblk");
	engine__counts(r->h.e, &r->done, &r->aborted, &r->pending);
}

/* Returns 1 if two facts are the same (field by field: no padding). */
static int sem_eq(const struct sem *x, const struct sem *y)
{
	return x->kind == y->kind && x->batch == y->batch && x->a == y->a && x->b == y->b;
}

/* Orders completions for the multiset comparison. */
static int cmp_sem(const void *x, const void *y)
{
	const struct sem *a = x, *b = y;
	if (a->batch != b->batch)
		return a->batch < b->batch ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	return a->b < b->b ? -1 : a->b > b->b;
}

/* Asserts that t's guest-visible outcome equals base's (the definition at
 * the top of engine/ringblk.c). strict: value for value, in order. */
static void same_outcome(struct run *base, struct run *t, int strict)
{
	struct drv *a = &base->d, *b = &t->d;
	cr_assert_eq(a->n, b->n, "%s: %d facts, baseline %d", where, b->n, a->n);
	if (strict) {
		cr_assert_eq(eh_compare(&base->h, &t->h), -1, "%s: observations differ", where);
		for (int i = 0; i < a->n; i++)
			cr_assert(sem_eq(&a->log[i], &b->log[i]), "%s: fact %d differs", where, i);
	} else {
		/* per batch: completions and data as a multiset, reads in order */
		static struct sem x[MAX_SEM], y[MAX_SEM];
		memcpy(x, a->log, sizeof(x[0]) * (size_t)a->n);
		memcpy(y, b->log, sizeof(y[0]) * (size_t)b->n);
		qsort(x, (size_t)a->n, sizeof(x[0]), cmp_sem);
		qsort(y, (size_t)b->n, sizeof(y[0]), cmp_sem);
		for (int i = 0; i < a->n; i++)
			cr_assert(sem_eq(&x[i], &y[i]),
				  "%s: batch %u fact %c %llx/%llx, baseline %c %llx/%llx", where, y[i].batch, y[i].kind,
				  (unsigned long long)y[i].a, (unsigned long long)y[i].b, x[i].kind,
				  (unsigned long long)x[i].a, (unsigned long long)x[i].b);
		for (int i = 0, j = 0; i < a->n; i++) {  /* register reads keep their order */
			if (a->log[i].kind != 'r')
				continue;
			while (b->log[j].kind != 'r')
				j++;
			cr_assert(sem_eq(&a->log[i], &b->log[j]), "%s: fact %d out of order", where, i);
			j++;
		}
	}
	cr_assert(!memcmp(base->disk, t->disk, DISK_BYTES), "%s: disk differs", where);
	cr_assert(!memcmp(base->bufs, t->bufs, sizeof(base->bufs)), "%s: guest buffers differ", where);
}

/* The action's expected end: state and number of completed switches. */
static void expect_end(struct run *t, int action, int start_virt)
{
	int want = action == EA_VIRTUALIZE ? ES_VIRTUALIZED
		 : action == EA_DEVIRTUALIZE ? ES_PASSTHROUGH
		 : start_virt ? ES_VIRTUALIZED : ES_PASSTHROUGH;
	cr_assert_eq(t->state, want, "%s: ended %s", where, engine__state_name(t->state));
	cr_assert_eq(t->aborted, 0, "%s: a switch aborted", where);
	cr_assert_eq(t->pending, 0, "%s: a switch still pending", where);
	cr_assert_eq(t->done, (start_virt ? 1u : 0u) + (action == EA_ROUNDTRIP ? 2u : 1u), "%s", where);
	cr_assert_eq(t->seen.defers, t->seen.replayed, "%s: %u deferred, %u replayed", where,
		     t->seen.defers, t->seen.replayed);
	cr_assert_eq(t->seen.bad_drain, 0, "%s: driver not drained at D2", where);
	if (action != EA_VIRTUALIZE)
		cr_assert_geq(t->seen.steps_d2, 1, "%s: no D2", where);
}

static const char *const policy_names[2][2] = { { "wait/busy", "wait/defer" }, { "takeover/busy", "takeover/defer" } };

/* Runs script with a switch after every access position, for action and
 * all four policy pairs, against the baseline. Returns the number of runs. */
static unsigned every_position(const char *name, script_fn *script, int action, int start_virt)
{
	static struct run base, t;
	snprintf(where, sizeof(where), "%s baseline", name);
	run(&base, script, 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, 0);
	uint64_t n = base.h.accesses;
	unsigned runs = 0, strict = 0, deferred = 0, busy = 0, takeovers = 0;
	for (uint64_t k = 0; k < n; k++)
		for (int mid = 0; mid < 2; mid++)
			for (int blk = 0; blk < 2; blk++) {
				snprintf(where, sizeof(where), "%s %s%s after access %llu, %s", name,
					 start_virt ? "virtualized, " : "", engine__action_name(action),
					 (unsigned long long)k, policy_names[mid][blk]);
				run(&t, script, start_virt, k, action, mid, blk, 0);
				int quiet = !t.seen.defers && !t.seen.busy_reads;
				same_outcome(&base, &t, quiet);
				expect_end(&t, action, start_virt);
				eh_fini(&t.h);
				runs++;
				strict += quiet;
				deferred += !quiet;
				busy += t.seen.busy_reads > 0;
				takeovers += t.seen.takeovers;
			}
	eh_fini(&base.h);
	fprintf(stderr, "engine_ringblk %s %s: %u runs over %llu positions: %u identical value for value, "
		"%u with deferral (%u answering reads from deferred writes), %u takeovers\n",
		name, engine__action_name(action), runs, (unsigned long long)n, strict, deferred, busy, takeovers);
	cr_assert_gt(strict, 0, "no run kept the timing");
	cr_assert_gt(deferred, 0, "no run had to defer");
	if (action != EA_DEVIRTUALIZE)
		cr_assert_gt(takeovers, 0, "no run took over mid-sequence");
	return runs;
}

TestSuite(engine_ringblk, .timeout = 120);

#define EVERY(script, act, virt)                                                      \
	Test(engine_ringblk, script##_##act##_every_position)                            \
	{                                                                                \
		every_position(#script, script_##script, act == roundtrip ? EA_ROUNDTRIP     \
			       : act == virtualize ? EA_VIRTUALIZE : EA_DEVIRTUALIZE, virt); \
	}

enum { virtualize, devirtualize, roundtrip };
EVERY(batch, virtualize, 0)
EVERY(batch, devirtualize, 1)
EVERY(batch, roundtrip, 0)
EVERY(errors, virtualize, 0)
EVERY(errors, devirtualize, 1)
EVERY(errors, roundtrip, 0)
EVERY(reset, virtualize, 0)
EVERY(reset, devirtualize, 1)
EVERY(reset, roundtrip, 0)
EVERY(full, virtualize, 0)
EVERY(full, devirtualize, 1)
EVERY(full, roundtrip, 0)

/* Switches that run out of their bounds abort cleanly and lose nothing:
 * bounds shorter than a request's latency, a switch after every access,
 * each direction; deferred doorbells then go back to whoever kept the
 * device (the hardware, or the emulation after an aborted D1). */
Test(engine_ringblk, aborted_switches_lose_nothing)
{
	static struct run base, t;
	static script_fn *const scripts[] = { script_batch, script_errors, script_reset, script_full };
	static const char *const names[] = { "batch", "errors", "reset", "full" };
	unsigned aborted = 0, runs = 0;
	for (int sc = 0; sc < 4; sc++) {
		snprintf(where, sizeof(where), "%s baseline", names[sc]);
		run(&base, scripts[sc], 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, 0);
		for (uint64_t k = (uint64_t)sc % 3; k < base.h.accesses; k += 3)   /* every third position */
			for (int virt = 0; virt < 2; virt++) {
				int action = virt ? EA_DEVIRTUALIZE : EA_VIRTUALIZE;
				snprintf(where, sizeof(where), "%s %s after access %llu, 3 us bounds", names[sc],
					 engine__action_name(action), (unsigned long long)k);
				run(&t, scripts[sc], virt, k, action, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, 3000);
				same_outcome(&base, &t, !t.seen.defers && !t.seen.busy_reads);
				cr_assert_eq(t.pending, 0, "%s", where);
				cr_assert_eq(t.done + t.aborted, 1u + (unsigned)virt, "%s", where);
				cr_assert_eq(t.state, t.aborted ? (virt ? ES_VIRTUALIZED : ES_PASSTHROUGH)
							   : (virt ? ES_PASSTHROUGH : ES_VIRTUALIZED), "%s", where);
				cr_assert_eq(t.seen.defers, t.seen.replayed, "%s", where);
				aborted += (unsigned)t.aborted;
				runs++;
				eh_fini(&t.h);
			}
		eh_fini(&base.h);
	}
	fprintf(stderr, "engine_ringblk aborts: %u of %u switches aborted\n", aborted, runs);
	cr_assert_gt(aborted, 0, "bounds never bit");
}

/* Emulated from the start, the device is indistinguishable from the
 * hardware, value for value. */
Test(engine_ringblk, emulation_alone_is_identical)
{
	static struct run base, t;
	static script_fn *const scripts[] = { script_batch, script_errors, script_reset, script_full };
	for (int sc = 0; sc < 4; sc++) {
		snprintf(where, sizeof(where), "script %d baseline", sc);
		run(&base, scripts[sc], 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, 0);
		snprintf(where, sizeof(where), "script %d virtualized throughout", sc);
		run(&t, scripts[sc], 1, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, 0);
		cr_assert_eq(t.state, ES_VIRTUALIZED);
		cr_assert_gt(machine__exits_of(&t.h.m, t.h.m.ringblk, BUS_MMIO), 0);
		same_outcome(&base, &t, 1);
		eh_fini(&t.h);
		eh_fini(&base.h);
	}
}

/* Reads the hardware's registers directly (the monitor's view). */
static void hw_regs(struct eh *h, uint32_t *regs)
{
	for (unsigned off = 0; off < REG_END_TEST; off += 4)
		regs[off / 4] = (uint32_t)h->m.ringblk->ops->read(h->m.ringblk, off, 4);
}

/* Switches the device and lets the engine finish (guest halted). */
static void switch_now(struct eh *h, int action, int want)
{
	cr_assert_eq(engine__request(h->e, "ringblk", action), 0);
	eh_idle(h, 200000);
	cr_assert_eq(engine__state(h->e, "ringblk"), want, "%s: state %s", where,
		     engine__state_name(engine__state(h->e, "ringblk")));
}

/* Asserts that the guest reads every register as regs. */
static void guest_sees(struct drv *d, const uint32_t *regs)
{
	for (unsigned off = 0; off < REG_END_TEST; off += 4)
		cr_assert_eq((uint32_t)rd(d, off, 4), regs[off / 4], "%s: register 0x%x", where, off);
}

/* Mode (V5/D4): configuration and every index survive virtualize and
 * devirtualize, read back from the hardware itself, and the queue goes on
 * where it was, several times over. */
Test(engine_ringblk, mode_and_indices_survive_switches)
{
	static struct eh h;
	struct eh_cfg cfg = { .ringblk = 1, .disk_bytes = DISK_BYTES };
	struct drv *d = calloc(1, sizeof(*d));
	uint32_t before[REG_END_TEST / 4], now[REG_END_TEST / 4];
	snprintf(where, sizeof(where), "mode");
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	d->h = &h;
	setup(d, SQ_GPA, CQ_GPA, 8, 1);
	uint16_t next = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++, next++)
			cr_assert_eq(submit(d, RB_OP_FLUSH, next, 0, 0, 0), 0);
		eh_idle(&h, 500000);                       /* all complete */
		while (eh_take_irq(&h) >= 0)
			eh_eoi(&h, RB_VEC);
		uint32_t tail = (uint32_t)rd(d, RB_CQ_TAIL, 4);
		cr_assert_eq(tail, next);
		d->cq_head = tail - 2;                     /* consume all but two */
		wr(d, RB_CQ_HEAD, 4, d->cq_head);
		hw_regs(&h, before);
		cr_assert_eq(before[RB_CQ_TAIL / 4] - before[RB_CQ_HEAD / 4], 2);
		switch_now(&h, EA_VIRTUALIZE, ES_VIRTUALIZED);
		hw_regs(&h, now);
		cr_assert_eq(now[RB_SQ_BASE / 4], MONITOR_PRIV_BASE, "the driver owns the hardware");
		guest_sees(d, before);
		switch_now(&h, EA_DEVIRTUALIZE, ES_PASSTHROUGH);
		hw_regs(&h, now);
		cr_assert_arr_eq(now, before, sizeof(before), "round %d: hardware differs after D4", round);
	}
	cr_assert_eq(before[RB_COMPLETED / 4], 9);
	eh_fini(&h);
	free(d);
}

/* Mode in less common states: disabled mid-configuration, and FATAL after
 * a doorbell beyond the ring. */
Test(engine_ringblk, disabled_and_fatal_queues_survive_switches)
{
	static struct eh h;
	struct eh_cfg cfg = { .ringblk = 1, .disk_bytes = DISK_BYTES };
	struct drv *d = calloc(1, sizeof(*d));
	uint32_t before[REG_END_TEST / 4], now[REG_END_TEST / 4];
	snprintf(where, sizeof(where), "disabled/fatal");
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	d->h = &h;
	wr(d, RB_CTRL, 4, RB_CTRL_RESET);
	wr(d, RB_SQ_BASE, 8, SQ_GPA);
	wr(d, RB_QSIZE, 4, 4);
	wr(d, RB_CTRL, 4, RB_CTRL_IRQ_EN);            /* configured halfway, not enabled */
	hw_regs(&h, before);
	switch_now(&h, EA_VIRTUALIZE, ES_VIRTUALIZED);
	guest_sees(d, before);
	wr(d, RB_CQ_BASE, 8, CQ_GPA);                 /* the sequence goes on emulated */
	switch_now(&h, EA_DEVIRTUALIZE, ES_PASSTHROUGH);
	hw_regs(&h, now);
	before[RB_CQ_BASE / 4] = (uint32_t)CQ_GPA;
	cr_assert_arr_eq(now, before, sizeof(before));
	wr(d, RB_CTRL, 4, RB_CTRL_ENABLE | RB_CTRL_IRQ_EN);
	cr_assert_eq(rd(d, RB_STATUS, 4), RB_STATUS_READY);
	wr(d, RB_SQ_TAIL, 4, 100);                    /* beyond the ring: FATAL */
	cr_assert_eq(rd(d, RB_STATUS, 4), RB_STATUS_FATAL);
	hw_regs(&h, before);
	switch_now(&h, EA_VIRTUALIZE, ES_VIRTUALIZED);
	guest_sees(d, before);
	switch_now(&h, EA_DEVIRTUALIZE, ES_PASSTHROUGH);
	hw_regs(&h, now);
	cr_assert_arr_eq(now, before, sizeof(before), "FATAL restored");
	eh_fini(&h);
	free(d);
}

/* The monitor's private memory is out of the guest's reach under
 * emulation: buffers there fail like a buffer outside RAM, rings there are
 * a bad configuration, and the driver's rings stay intact. */
Test(engine_ringblk, private_memory_is_out_of_reach)
{
	static struct eh h;
	struct eh_cfg cfg = { .ringblk = 1, .disk_bytes = DISK_BYTES };
	struct drv *d = calloc(1, sizeof(*d));
	snprintf(where, sizeof(where), "private memory");
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	cr_assert_eq(engine__start_virtualized(h.e, "ringblk"), 0);
	d->h = &h;
	setup(d, SQ_GPA, CQ_GPA, 4, 1);
	cr_assert_eq(submit(d, RB_OP_READ, 1, 0, 8, MONITOR_PRIV_BASE), 0);
	cr_assert_eq(submit(d, RB_OP_READ, 2, 0, 8, MONITOR_PRIV_BASE - 512), 0);
	cr_assert_eq(submit(d, RB_OP_READ, 3, 0, 1, slot_gpa(0)), 0);
	wait_all(d, 3);
	int n = 0;
	for (int i = 0; i < d->n; i++)
		if (d->log[i].kind == 'c') {
			cr_assert_eq(d->log[i].a & 0xffff, d->log[i].a >> 16 == 3 ? RB_OK : RB_BAD_ADDRESS,
				     "id %llu", (unsigned long long)(d->log[i].a >> 16));
			n++;
		}
	cr_assert_eq(n, 3);
	/* the driver's first shadow entry is intact: no disk data landed on it */
	struct ringblk_sqe first;
	memcpy(&first, h.ram + MONITOR_PRIV_BASE, sizeof(first));
	cr_assert(first.opcode == RB_OP_READ && first.id == 1 && first.nsect == 8 && first.lba == 0,
		  "shadow SQ overwritten");
	cr_assert_geq(first.buf, h.ram_size, "the request went out unmapped");
	wr(d, RB_CTRL, 4, 0);
	wr(d, RB_CQ_BASE, 8, MONITOR_PRIV_BASE + 0x100);
	wr(d, RB_CTRL, 4, RB_CTRL_ENABLE);
	cr_assert_eq(rd(d, RB_STATUS, 4), RB_STATUS_FATAL, "a ring over private memory");
	eh_fini(&h);
	free(d);
}

/* V4's pause of the guest's next sequence: a guest that keeps its queue
 * full never lets the hardware go idle by itself, yet every switch must
 * complete well within a wait bound far shorter than the guest's run. */
Test(engine_ringblk, full_queue_never_stalls_the_guest)
{
	static struct run base, t;
	snprintf(where, sizeof(where), "stream baseline");
	run(&base, script_stream, 0, UINT64_MAX, 0, MIDSEQ_WAIT, EDEV_BLOCK_DEFER, 0);
	uint64_t vt = base.h.m.clock.now;
	cr_assert_gt(vt, 1000000, "the stream must outlast the bound by far");
	unsigned runs = 0, aborted = 0;
	for (uint64_t k = 0; k < base.h.accesses; k += 11)
		for (int mid = 0; mid < 2; mid++)
			for (int action = EA_VIRTUALIZE; action <= EA_ROUNDTRIP; action++) {
				int virt = action == EA_DEVIRTUALIZE;
				snprintf(where, sizeof(where), "stream %s after access %llu, %s, 100 us bounds",
					 engine__action_name(action), (unsigned long long)k, policy_names[mid][1]);
				run(&t, script_stream, virt, k, action, mid, EDEV_BLOCK_DEFER, 100000);
				same_outcome(&base, &t, !t.seen.defers && !t.seen.busy_reads);
				if (t.aborted) {
					/* Waiting for a full queue to drain can take forever:
					 * a doorbell held back is released (in order) as soon as
					 * the guest consumes completions, so the guest is never
					 * stalled, and the switch gives up cleanly at its bound. */
					cr_assert(t.state == ES_PASSTHROUGH || t.state == ES_VIRTUALIZED, "%s: %s", where,
						  engine__state_name(t.state));
					cr_assert_eq(t.pending, 0, "%s", where);
					cr_assert_eq(t.seen.defers, t.seen.replayed, "%s", where);
					aborted++;
				} else {
					expect_end(&t, action, virt);
				}
				eh_fini(&t.h);
				runs++;
			}
	eh_fini(&base.h);
	fprintf(stderr, "engine_ringblk stream: %u switches against a full queue, %u aborted cleanly"
		"\n", runs, aborted);
}
