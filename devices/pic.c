/*
 * 8259A pair: ICW1-4 initialisation, OCW1 masks, OCW2 EOI/specific EOI and
 * rotation, OCW3 IRR/ISR read select, auto-EOI, edge-triggered inputs and the
 * master/slave cascade. Level-triggered mode and special mask mode are not
 * modelled (our guests and the BIOSes we replay do not use them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pic.h"

struct chip {
	uint8_t irr, isr, imr;
	uint8_t last_level;   /* input levels, for edge detection */
	uint8_t vector_base;
	uint8_t init_step;    /* 0: operational; 2..4: expecting ICW2..ICW4 */
	uint8_t need_icw4, single, auto_eoi;
	uint8_t read_isr;     /* OCW3 read register select */
	uint8_t prio_add;     /* lowest-priority rotation */
};

struct pic {
	struct hw hw;
	struct chip c[2];     /* 0 master, 1 slave */
};

static struct pic *to_pic(struct hw *hw) { return container_of(hw, struct pic, hw); }

/* Returns the highest-priority set bit in mask under rotation, or -1. */
static int highest(const struct chip *c, uint8_t mask)
{
	for (int i = 0; i < 8; i++) {
		int irq = (i + c->prio_add) & 7;
		if (mask & (1u << irq))
			return irq;
	}
	return -1;
}

/* Returns the IRQ the chip would raise now, or -1. */
static int chip_request(const struct chip *c)
{
	int req = highest(c, c->irr & ~c->imr);
	if (req < 0)
		return -1;
	int in_service = highest(c, c->isr);
	/* An in-service request of equal or higher priority blocks it. */
	if (in_service >= 0 && ((in_service - c->prio_add) & 7) <= ((req - c->prio_add) & 7))
		return -1;
	return req;
}

/* Propagates the slave's INT output to master input 2. */
static void cascade(struct pic *p)
{
	int level = chip_request(&p->c[1]) >= 0;
	struct chip *m = &p->c[0];
	if (level && !(m->last_level & 4))
		m->irr |= 4;
	else if (!level)
		m->irr &= ~4;
	m->last_level = (m->last_level & ~4) | (level ? 4 : 0);
}

static void chip_set(struct chip *c, int irq, int level)
{
	uint8_t bit = 1u << irq;
	if (level && !(c->last_level & bit))
		c->irr |= bit;
	if (level)
		c->last_level |= bit;
	else
		c->last_level &= ~bit;
}

void pic__set_irq(struct hw *hw, int line, int level)
{
	struct pic *p = to_pic(hw);
	if (line < 0 || line > 15)
		return;
	chip_set(&p->c[line >> 3], line & 7, level);
	cascade(p);
}

int pic__pending(struct hw *hw)
{
	return chip_request(&to_pic(hw)->c[0]) >= 0;
}

/* Acknowledges on one chip; returns its IRQ, or 7 when spurious. */
static int chip_ack(struct chip *c)
{
	int irq = chip_request(c);
	if (irq < 0)
		return 7;
	c->irr &= ~(1u << irq);
	if (!c->auto_eoi)
		c->isr |= 1u << irq;
	return irq;
}

int pic__ack(struct hw *hw)
{
	struct pic *p = to_pic(hw);
	int irq = chip_ack(&p->c[0]);
	int vec;
	if (irq == 2 && !p->c[0].single) {
		int sirq = chip_ack(&p->c[1]);
		vec = p->c[1].vector_base + sirq;
	} else {
		vec = p->c[0].vector_base + irq;
	}
	cascade(p);
	return vec;
}

static void write_cmd(struct chip *c, uint8_t v)
{
	if (v & 0x10) {                 /* ICW1 */
		c->imr = 0;
		c->isr = 0;
		c->irr = 0;
		c->last_level = 0;
		c->prio_add = 0;
		c->read_isr = 0;
		c->auto_eoi = 0;
		c->need_icw4 = v & 1;
		c->single = (v >> 1) & 1;
		c->init_step = 2;
		return;
	}
	if (v & 0x08) {                 /* OCW3 */
		if (v & 0x02)
			c->read_isr = v & 1;
		return;
	}
	/* OCW2: bits 7..5 = R, SL, EOI */
	int irq;
	switch (v >> 5) {
	case 1:                         /* non-specific EOI */
	case 5:                         /* rotate on non-specific EOI */
		irq = highest(c, c->isr);
		if (irq >= 0) {
			c->isr &= ~(1u << irq);
			if (v >> 5 == 5)
				c->prio_add = (irq + 1) & 7;
		}
		break;
	case 3:                         /* specific EOI */
		c->isr &= ~(1u << (v & 7));
		break;
	case 6:                         /* set priority */
	case 7:                         /* rotate on specific EOI */
		if (v >> 5 == 7)
			c->isr &= ~(1u << (v & 7));
		c->prio_add = ((v & 7) + 1) & 7;
		break;
	default:
		break;
	}
}

static void write_data(struct chip *c, uint8_t v)
{
	switch (c->init_step) {
	case 2:
		c->vector_base = v & 0xf8;
		c->init_step = c->single ? (c->need_icw4 ? 4 : 0) : 3;
		break;
	case 3:
		c->init_step = c->need_icw4 ? 4 : 0;
		break;
	case 4:
		c->auto_eoi = (v >> 1) & 1;
		c->init_step = 0;
		break;
	default:
		c->imr = v;
		break;
	}
}

static uint64_t pic_read(struct hw *hw, uint64_t off, unsigned size)
{
	(void)size;
	struct chip *c = &to_pic(hw)->c[off >= PIC_SLAVE_OFF];
	if (off & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

static void pic_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	struct pic *p = to_pic(hw);
	struct chip *c = &p->c[off >= PIC_SLAVE_OFF];
	if (off & 1)
		write_data(c, (uint8_t)val);
	else
		write_cmd(c, (uint8_t)val);
	cascade(p);
}

static size_t pic_save(struct hw *hw, void *buf, size_t len)
{
	struct pic *p = to_pic(hw);
	if (len >= sizeof(p->c))
		memcpy(buf, p->c, sizeof(p->c));
	return sizeof(p->c);
}

static int pic_restore(struct hw *hw, const void *buf, size_t len)
{
	struct pic *p = to_pic(hw);
	if (len != sizeof(p->c))
		return -EINVAL;
	memcpy(p->c, buf, len);
	return 0;
}

static void pic_destroy(struct hw *hw) { free(to_pic(hw)); }

static const struct hw_ops pic_ops = {
	.model = "i8259a",
	.read = pic_read,
	.write = pic_write,
	.save = pic_save,
	.restore = pic_restore,
	.destroy = pic_destroy,
};

struct hw *pic__create(const struct hw_env *env)
{
	struct pic *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	hw__init(&p->hw, &pic_ops, "pic", -1, env);
	p->c[0].vector_base = 0x08;     /* the PC's power-on mapping */
	p->c[1].vector_base = 0x70;
	return &p->hw;
}
