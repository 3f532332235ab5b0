/*
 * The virtual clock fires events in (time, arm order) and never runs backwards.
 */
#include <criterion/criterion.h>
#include "../lib/clock.h"

static char fired[16];
static int nfired;

static void mark(void *ctx, uint64_t now)
{
	(void)now;
	fired[nfired++] = *(char *)ctx;
}

Test(clock, fires_in_time_then_arm_order)
{
	struct clock c;
	struct clock_event a, b, d;
	char ca = 'a', cb = 'b', cd = 'd';
	clock__init(&c);
	nfired = 0;
	clock__event_init(&a, mark, &ca);
	clock__event_init(&b, mark, &cb);
	clock__event_init(&d, mark, &cd);
	clock__arm(&c, &a, 300);
	clock__arm(&c, &b, 100);
	clock__arm(&c, &d, 300);   /* same time as a, armed later: fires after a */
	cr_assert_eq(clock__next(&c), 100);
	clock__run_until(&c, 250);
	cr_assert_eq(nfired, 1);
	cr_assert_eq(c.now, 250);
	clock__run_until(&c, 1000);
	cr_assert_eq(nfired, 3);
	cr_assert_arr_eq(fired, "bad", 3);
	cr_assert_eq(clock__next(&c), UINT64_MAX);
}

Test(clock, disarm_and_rearm)
{
	struct clock c;
	struct clock_event a;
	char ca = 'a';
	clock__init(&c);
	nfired = 0;
	clock__event_init(&a, mark, &ca);
	clock__arm(&c, &a, 10);
	clock__disarm(&c, &a);
	clock__run_until(&c, 100);
	cr_assert_eq(nfired, 0);
	clock__arm(&c, &a, 50);     /* in the past: fires at once, time stays */
	clock__run_until(&c, 100);
	cr_assert_eq(nfired, 1);
	cr_assert_eq(c.now, 100);
	clock__run_until(&c, 20);   /* never backwards */
	cr_assert_eq(c.now, 100);
}
