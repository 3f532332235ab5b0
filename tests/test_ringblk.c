/*
 * ringblk model driven as a driver would, without KVM: rings in a fake guest
 * RAM, doorbells through register writes (trapped) or straight into the
 * register page followed by a poll (pass-through); both give the same result.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../devices/ringblk.h"

#define RAM (4u << 20)
#define SQ 0x10000u
#define CQ 0x20000u
#define BUF 0x100000u

static struct clock clk;
static struct gmem mem;
static struct blk disk;
static struct hw *rb;
static int edges;

static void irq(void *ctx, int line, int level)
{
	(void)ctx;
	cr_assert_eq(line, RINGBLK_IRQ);
	edges += level;
}

static void setup(void)
{
	char err[128];
	clock__init(&clk);
	mem.size = RAM;
	mem.host = calloc(1, RAM);
	cr_assert_eq(blk__open_temp(&disk, 1 << 20, err, sizeof(err)), 0, "%s", err);
	struct hw_env env = { .clock = &clk, .mem = &mem, .irq_set = irq };
	rb = ringblk__create(&env, "ringblk", RINGBLK_IRQ, &disk);
	edges = 0;
}

static void teardown(void)
{
	rb->ops->destroy(rb);
	blk__close(&disk);
	free(mem.host);
}

TestSuite(ringblk, .init = setup, .fini = teardown);

static uint32_t rd(unsigned off) { return (uint32_t)rb->ops->read(rb, off, 4); }
static void wr(unsigned off, uint64_t v, unsigned size) { rb->ops->write(rb, off, size, v); }

static void enable(uint32_t qsize, int irq_en)
{
	wr(RB_SQ_BASE, SQ, 8);
	wr(RB_CQ_BASE, CQ, 8);
	wr(RB_QSIZE, qsize, 4);
	wr(RB_CTRL, RB_CTRL_ENABLE | (irq_en ? RB_CTRL_IRQ_EN : 0), 4);
}

static void put_sqe(uint32_t idx, uint32_t qsize, uint8_t op, uint16_t id, uint64_t lba, uint32_t n, uint64_t buf)
{
	struct ringblk_sqe e = { .opcode = op, .id = id, .nsect = n, .lba = lba, .buf = buf };
	memcpy(mem.host + SQ + (idx % qsize) * sizeof(e), &e, sizeof(e));
}

static struct ringblk_cqe cqe(uint32_t idx, uint32_t qsize)
{
	struct ringblk_cqe c;
	memcpy(&c, mem.host + CQ + (idx % qsize) * sizeof(c), sizeof(c));
	return c;
}

Test(ringblk, identity_registers)
{
	cr_assert_eq(rd(RB_MAGIC), RINGBLK_MAGIC);
	cr_assert_eq(rb->ops->read(rb, RB_CAPACITY, 8), 2048);
	cr_assert_eq(rd(RB_MAX_QSIZE), RINGBLK_MAX_QSIZE);
	wr(RB_MAGIC, 0, 4);                       /* read-only: ignored */
	cr_assert_eq(rd(RB_MAGIC), RINGBLK_MAGIC);
}

Test(ringblk, bad_ring_configuration_is_fatal)
{
	enable(3, 0);                             /* not a power of two */
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_FATAL);
	wr(RB_CTRL, 0, 4);
	wr(RB_SQ_BASE, RAM - 16, 8);              /* ring runs past RAM */
	wr(RB_CTRL, RB_CTRL_ENABLE, 4);
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_FATAL);
	wr(RB_CTRL, RB_CTRL_RESET, 4);
	cr_assert_eq(rd(RB_STATUS), 0);
	cr_assert_eq(rd(RB_CTRL), 0, "reset self-clears");
}

Test(ringblk, write_read_out_of_order_with_interrupts)
{
	enable(8, 1);
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_READY);
	for (uint32_t i = 0; i < 8; i++) {
		memset(mem.host + BUF + i * 4096, 0x10 + i, 4096);
		put_sqe(i, 8, RB_OP_WRITE, (uint16_t)i, i * 8, 8, BUF + i * 4096);
	}
	wr(RB_SQ_TAIL, 8, 4);
	cr_assert_eq(rd(RB_SQ_HEAD), 8, "all fetched");
	clock__run_until(&clk, 1000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 8);
	int in_order = 1;
	for (uint32_t i = 0; i < 8; i++) {
		cr_assert_eq(cqe(i, 8).status, RB_OK);
		in_order &= cqe(i, 8).id == i;
	}
	cr_assert_not(in_order, "latencies must reorder completions");
	cr_assert_geq(edges, 1);
	wr(RB_CQ_HEAD, 8, 4);
	memset(mem.host + BUF, 0, 8 * 4096);
	for (uint32_t i = 0; i < 8; i++)
		put_sqe(8 + i, 8, RB_OP_READ, (uint16_t)i, i * 8, 8, BUF + i * 4096);
	wr(RB_SQ_TAIL, 16, 4);
	clock__run_until(&clk, 2000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 16);
	for (uint32_t i = 0; i < 8; i++)
		cr_assert_eq(mem.host[BUF + i * 4096 + 4095], 0x10 + i);
}

Test(ringblk, errors_never_touch_host_memory)
{
	enable(4, 0);
	put_sqe(0, 4, RB_OP_READ, 1, 0, 1, RAM - 100);            /* straddles the end of RAM */
	put_sqe(1, 4, RB_OP_READ, 2, 2048, 1, BUF);               /* past the disk */
	put_sqe(2, 4, 7, 3, 0, 1, BUF);                           /* bad opcode */
	put_sqe(3, 4, RB_OP_WRITE, 4, 0, 1, 0xffffffffffffff00ull);
	wr(RB_SQ_TAIL, 4, 4);
	clock__run_until(&clk, 1000000);
	uint16_t want[5] = { 0, RB_BAD_ADDRESS, RB_BAD_LBA, RB_BAD_OPCODE, RB_BAD_ADDRESS };
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(cqe(i, 4).status, want[cqe(i, 4).id], "id %u", cqe(i, 4).id);
	cr_assert_eq(edges, 0, "interrupts disabled");
}

Test(ringblk, doorbell_in_mapped_page_is_seen_at_poll)
{
	uint8_t *bar = ringblk__bar(rb);
	enable(4, 0);
	put_sqe(0, 4, RB_OP_FLUSH, 9, 0, 0, 0);
	uint32_t tail = 1;
	memcpy(bar + RB_SQ_TAIL, &tail, 4);       /* the guest's store, no exit */
	cr_assert_eq(rd(RB_SQ_HEAD), 0, "not noticed before the monitor runs");
	rb->ops->poll(rb);
	cr_assert_eq(rd(RB_SQ_HEAD), 1);
	clock__run_until(&clk, 1000000);
	rb->ops->poll(rb);
	cr_assert_eq(rd(RB_CQ_TAIL), 1);
	cr_assert_eq(cqe(0, 4).id, 9);
}

Test(ringblk, full_completion_queue_holds_back_completions)
{
	enable(2, 1);
	for (uint32_t i = 0; i < 2; i++)
		put_sqe(i, 2, RB_OP_FLUSH, (uint16_t)i, 0, 0, 0);
	wr(RB_SQ_TAIL, 2, 4);
	clock__run_until(&clk, 1000000);
	for (uint32_t i = 2; i < 4; i++)
		put_sqe(i, 2, RB_OP_FLUSH, (uint16_t)i, 0, 0, 0);
	wr(RB_SQ_TAIL, 4, 4);
	clock__run_until(&clk, 2000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 2, "CQ full: nothing overwritten");
	int before = edges;
	wr(RB_CQ_HEAD, 2, 4);
	cr_assert_eq(rd(RB_CQ_TAIL), 4, "room made: held completions posted");
	cr_assert_gt(edges, before);
	wr(RB_CQ_HEAD, 7, 4);                     /* consumes what was never posted */
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_FATAL);
}

Test(ringblk, save_restore_mid_flight)
{
	enable(4, 0);
	memset(mem.host + BUF, 0xab, 512);
	put_sqe(0, 4, RB_OP_WRITE, 1, 5, 1, BUF);
	wr(RB_SQ_TAIL, 1, 4);
	size_t n = rb->ops->save(rb, NULL, 0);
	void *st = malloc(n);
	cr_assert_eq(rb->ops->save(rb, st, n), n);
	clock__run_until(&clk, 1000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 1);
	cr_assert_eq(rb->ops->restore(rb, st, n), 0);
	cr_assert_eq(rd(RB_CQ_TAIL), 0, "back before the completion");
	clock__run_until(&clk, 2000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 1, "and it completes again");
	free(st);
}

Test(ringblk, restore_keeps_queue_indices)
{
	enable(4, 1);
	for (uint32_t i = 0; i < 3; i++)
		put_sqe(i, 4, RB_OP_FLUSH, (uint16_t)i, 0, 0, 0);
	wr(RB_SQ_TAIL, 3, 4);
	clock__run_until(&clk, 1000000);
	wr(RB_CQ_HEAD, 2, 4);
	cr_assert_eq(rd(RB_CQ_TAIL), 3);
	wr(RB_CTRL, 0, 4);                        /* disabled: the indices drop to 0 */
	cr_assert_eq(rd(RB_SQ_HEAD), 0);
	wr(RB_QS_SQ_HEAD, 3, 4);
	wr(RB_QS_CQ_TAIL, 3, 4);
	wr(RB_QS_COMPLETED, 3, 4);
	cr_assert_eq(rd(RB_QS_CQ_TAIL), 3, "staged while disabled");
	wr(RB_CTRL, RB_CTRL_ENABLE | RB_CTRL_IRQ_EN | RB_CTRL_RESTORE, 4);
	cr_assert_eq(rd(RB_CTRL), RB_CTRL_ENABLE | RB_CTRL_IRQ_EN, "RESTORE self-clears");
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_READY);
	cr_assert_eq(rd(RB_SQ_HEAD), 3);
	cr_assert_eq(rd(RB_CQ_TAIL), 3);
	cr_assert_eq(rd(RB_COMPLETED), 3);
	cr_assert_eq(rd(RB_QS_CQ_TAIL), 0, "staging consumed");
	/* the queue goes on where it was: next entry 3, one completion unread */
	int before = edges;
	put_sqe(3, 4, RB_OP_FLUSH, 7, 0, 0, 0);
	wr(RB_SQ_TAIL, 4, 4);
	cr_assert_eq(rd(RB_SQ_HEAD), 4);
	clock__run_until(&clk, 2000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 4);
	cr_assert_eq(rd(RB_COMPLETED), 4);
	cr_assert_eq(cqe(3, 4).id, 7);
	cr_assert_gt(edges, before);
	wr(RB_CQ_HEAD, 4, 4);
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_READY, "CQ_HEAD accepted against restored CQ_TAIL");
}

Test(ringblk, restore_fetches_submissions_past_restored_head)
{
	enable(4, 0);
	wr(RB_CTRL, 0, 4);
	put_sqe(5, 4, RB_OP_FLUSH, 42, 0, 0, 0);
	wr(RB_QS_SQ_HEAD, 5, 4);
	wr(RB_QS_CQ_TAIL, 5, 4);
	wr(RB_QS_COMPLETED, 5, 4);
	wr(RB_SQ_TAIL, 6, 4);
	wr(RB_CQ_HEAD, 5, 4);
	wr(RB_CTRL, RB_CTRL_ENABLE | RB_CTRL_RESTORE, 4);
	cr_assert_eq(rd(RB_SQ_HEAD), 6, "entry 5 fetched at enable");
	clock__run_until(&clk, 1000000);
	cr_assert_eq(rd(RB_CQ_TAIL), 6);
	cr_assert_eq(cqe(5, 4).id, 42);
}

Test(ringblk, staging_only_while_disabled_and_plain_enable_discards_it)
{
	enable(4, 0);
	wr(RB_QS_SQ_HEAD, 9, 4);
	cr_assert_eq(rd(RB_QS_SQ_HEAD), 0, "ignored while enabled");
	uint8_t *bar = ringblk__bar(rb);
	uint32_t v = 9;
	memcpy(bar + RB_QS_SQ_HEAD, &v, 4);       /* a store into the mapped page */
	rb->ops->poll(rb);
	cr_assert_eq(rd(RB_QS_SQ_HEAD), 0, "dropped while enabled, as a trapped write");
	wr(RB_CTRL, 0, 4);
	wr(RB_QS_SQ_HEAD, 9, 4);
	cr_assert_eq(rd(RB_QS_SQ_HEAD), 9);
	wr(RB_CTRL, RB_CTRL_ENABLE, 4);           /* no RESTORE: indices start at 0 */
	cr_assert_eq(rd(RB_SQ_HEAD), 0);
	cr_assert_eq(rd(RB_QS_SQ_HEAD), 0);
}

Test(ringblk, restore_of_impossible_or_fatal_state_is_fatal)
{
	enable(4, 0);
	wr(RB_CTRL, 0, 4);
	wr(RB_QS_CQ_TAIL, 10, 4);                 /* 10 completions unread in a 4-entry CQ */
	wr(RB_CTRL, RB_CTRL_ENABLE | RB_CTRL_RESTORE, 4);
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_FATAL);
	wr(RB_CTRL, 0, 4);
	wr(RB_QS_STATUS, RB_STATUS_FATAL, 4);
	wr(RB_CTRL, RB_CTRL_ENABLE | RB_CTRL_RESTORE, 4);
	cr_assert_eq(rd(RB_STATUS), RB_STATUS_FATAL, "a FATAL queue stays FATAL");
	wr(RB_CTRL, RB_CTRL_RESET, 4);
	cr_assert_eq(rd(RB_STATUS), 0);
}
