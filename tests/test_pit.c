/*
 * 8254 channel 0 on the virtual clock: periodic edges at the exact times the
 * 1.193182 MHz input implies, a one-shot, and latched reads.
 */
#include <criterion/criterion.h>
#include "../devices/pit.h"

static int edges;
static uint64_t last_edge;
static struct clock clk;

static void irq(void *ctx, int line, int level)
{
	(void)ctx;
	cr_assert_eq(line, 0);
	if (level) {
		edges++;
		last_edge = clk.now;
	}
}

static struct hw *make(void)
{
	clock__init(&clk);
	edges = 0;
	struct hw_env env = { .clock = &clk, .irq_set = irq };
	return pit__create(&env, 0);
}

Test(pit, rate_generator_1khz)
{
	struct hw *p = make();
	p->ops->write(p, 3, 1, 0x34);          /* ch0, lo/hi, mode 2 */
	p->ops->write(p, 0, 1, 1193 & 0xff);
	p->ops->write(p, 0, 1, 1193 >> 8);
	clock__run_until(&clk, 10000000);      /* 10 ms */
	cr_assert_eq(edges, 10);
	/* tick 10 = ceil(10*1193*1e9/1193182) ns */
	cr_assert_eq(last_edge, 9998475);
	clock__run_until(&clk, 1000000000);
	cr_assert_eq(edges, 1000, "no drift over a second");
	p->ops->destroy(p);
}

Test(pit, one_shot_and_latch)
{
	struct hw *p = make();
	p->ops->write(p, 3, 1, 0x30);          /* ch0, lo/hi, mode 0 */
	p->ops->write(p, 0, 1, 0x00);
	p->ops->write(p, 0, 1, 0x10);          /* 4096 ticks = 3.43 ms */
	clock__run_until(&clk, 1000000);
	p->ops->write(p, 3, 1, 0x00);          /* latch */
	clock__run_until(&clk, 2000000);       /* the latch holds the 1 ms value */
	unsigned v = (unsigned)p->ops->read(p, 0, 1);
	v |= (unsigned)p->ops->read(p, 0, 1) << 8;
	cr_assert_eq(v, 4096 - 1193);
	clock__run_until(&clk, 10000000);
	cr_assert_eq(edges, 1, "mode 0 fires once");
	p->ops->destroy(p);
}

Test(pit, save_restore_keeps_schedule)
{
	struct hw *p = make();
	p->ops->write(p, 3, 1, 0x34);
	p->ops->write(p, 0, 1, 0xa9);
	p->ops->write(p, 0, 1, 0x04);
	clock__run_until(&clk, 2500000);
	char buf[256];
	size_t n = p->ops->save(p, buf, sizeof(buf));
	cr_assert(n > 0 && n <= sizeof(buf));
	clock__run_until(&clk, 5500000);
	int seen = edges;
	cr_assert_eq(p->ops->restore(p, buf, n), 0);
	clk.now = 2500000;
	clock__run_until(&clk, 5500000);
	cr_assert_eq(edges - seen, 3, "the restored PIT replays the same edges");
	p->ops->destroy(p);
}
