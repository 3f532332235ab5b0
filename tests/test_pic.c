/*
 * 8259A pair driven by the register sequence an OS uses.
 */
#include <criterion/criterion.h>
#include "../devices/pic.h"

static struct clock clk;
static struct hw *pic;

static void out(uint64_t off, uint8_t v) { pic->ops->write(pic, off, 1, v); }
static uint8_t in(uint64_t off) { return (uint8_t)pic->ops->read(pic, off, 1); }

/* The usual remap: master 0x20, slave 0x28, cascade on IRQ2, 8086 mode. */
static void setup(void)
{
	clock__init(&clk);
	struct hw_env env = { .clock = &clk };
	pic = pic__create(&env);
	out(0, 0x11); out(0x80, 0x11);
	out(1, 0x20); out(0x81, 0x28);
	out(1, 0x04); out(0x81, 0x02);
	out(1, 0x01); out(0x81, 0x01);
	out(1, 0xff); out(0x81, 0xff);
}

static void teardown(void) { pic->ops->destroy(pic); }

TestSuite(pic, .init = setup, .fini = teardown);

Test(pic, masked_lines_do_not_interrupt)
{
	pic__set_irq(pic, 0, 1);
	cr_assert_not(pic__pending(pic));
	cr_assert_eq(in(0) & 1, 1, "IRR still latches the edge");
	out(1, 0xfe);
	cr_assert(pic__pending(pic));
	cr_assert_eq(pic__ack(pic), 0x20);
	cr_assert_not(pic__pending(pic));
}

Test(pic, edges_priority_and_eoi)
{
	out(1, 0x00);
	pic__set_irq(pic, 4, 1);
	pic__set_irq(pic, 1, 1);
	cr_assert_eq(pic__ack(pic), 0x21, "IRQ1 outranks IRQ4");
	cr_assert_not(pic__pending(pic), "IRQ4 waits while IRQ1 is in service");
	out(0, 0x0b);                      /* OCW3: read ISR */
	cr_assert_eq(in(0), 0x02);
	out(0, 0x20);                      /* non-specific EOI */
	cr_assert_eq(pic__ack(pic), 0x24);
	out(0, 0x64);                      /* specific EOI for IRQ4 */
	cr_assert_eq(in(0), 0x00);
	pic__set_irq(pic, 4, 1);           /* still high: no new edge */
	cr_assert_not(pic__pending(pic));
	pic__set_irq(pic, 4, 0);
	pic__set_irq(pic, 4, 1);
	cr_assert(pic__pending(pic));
}

Test(pic, slave_cascades_through_irq2)
{
	out(1, 0xfb);                      /* master: only IRQ2 */
	out(0x81, 0xf7);                   /* slave: only IRQ11 */
	pic__set_irq(pic, 11, 1);
	cr_assert(pic__pending(pic));
	cr_assert_eq(pic__ack(pic), 0x2b);
	out(0x80, 0x20);
	out(0, 0x20);
	cr_assert_not(pic__pending(pic));
	cr_assert_eq(in(0x81), 0xf7, "IMR reads back");
}

Test(pic, spurious_ack_gives_irq7)
{
	cr_assert_eq(pic__ack(pic), 0x27);
}
