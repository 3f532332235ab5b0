/*
 * The trap registry: lookup, overlap refusal, handler swapping.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include "../machine/bus.h"
#include "../devices/simple.h"

static int engine_calls;

static void engine_fn(void *opaque, struct bus_range *r, struct bus_access *a, uint64_t off)
{
	(void)opaque; (void)r; (void)off;
	engine_calls++;
	a->value = 0x42;
}

Test(bus, lookup_overlap_and_handler_swap)
{
	struct bus b;
	struct clock c;
	clock__init(&c);
	struct hw_env env = { .clock = &c };
	struct hw *s = scratch__create(&env, 16);
	bus__init(&b);
	cr_assert_eq(bus__register(&b, BUS_PIO, 0x100, 8, s, 0), 0);
	cr_assert_eq(bus__register(&b, BUS_PIO, 0x200, 2, s, 8), 0);
	cr_assert_eq(bus__register(&b, BUS_PIO, 0x104, 8, s, 0), -EEXIST);
	cr_assert_eq(bus__register(&b, BUS_PIO, 0x0f8, 9, s, 0), -EEXIST);
	cr_assert_eq(bus__register(&b, BUS_PIO, 0x0f8, 8, s, 0), 0, "adjacent is fine");
	cr_assert_null(bus__find(&b, BUS_PIO, 0x108));
	cr_assert_null(bus__find(&b, BUS_MMIO, 0x100), "spaces are separate");
	struct bus_range *r = bus__find(&b, BUS_PIO, 0x201);
	cr_assert_not_null(r);
	cr_assert_eq(r->base, 0x200);

	struct bus_access w = { .space = BUS_PIO, .addr = 0x201, .size = 1, .write = 1, .value = 0x77 };
	r->fn(r->opaque, r, &w, w.addr - r->base + r->dev_off);
	cr_assert_eq(s->ops->read(s, 9, 1), 0x77, "dev_off shifts the register offset");

	cr_assert_eq(bus__set_handler(&b, s, engine_fn, NULL), 3);
	struct bus_access rd = { .space = BUS_PIO, .addr = 0x100, .size = 1 };
	r = bus__find(&b, BUS_PIO, 0x100);
	r->fn(r->opaque, r, &rd, 0);
	cr_assert_eq(engine_calls, 1);
	cr_assert_eq(rd.value, 0x42);
	bus__set_handler(&b, s, NULL, NULL);
	cr_assert_eq(r->fn, bus__direct);
	s->ops->destroy(s);
}
