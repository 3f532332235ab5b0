/*
 * 8254 PIT. Counters are not stepped: the current count is derived from the
 * virtual time elapsed since the count was loaded, and channel 0's output
 * edges are clock events. Tick k of a period lands at load + ceil(k*count
 * *1e9/PIT_HZ) ns, so long runs never drift from the 1.193182 MHz input.
 * The IRQ0 line rests low and rises once per period (mode 0: once, at
 * terminal count, until reprogrammed); the PIC is edge-triggered.
 * Access modes lobyte, hibyte and lo/hi, the latch command and read-back
 * (count latch only) are modelled; BCD counting and gates are not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pit.h"

struct chan {
	uint8_t mode, access;     /* access: 1 lo, 2 hi, 3 lo/hi */
	uint8_t write_hi, read_hi;/* next byte of a lo/hi access is the high one */
	uint8_t latched;          /* a latched count is waiting to be read */
	uint8_t out;              /* output level (channel 0 drives IRQ0) */
	uint16_t latch;
	uint8_t low_byte;         /* first half of a lo/hi write */
	uint32_t count;           /* reload value, 1..65536 */
	uint64_t load_ns;         /* virtual time the count was loaded */
	uint64_t periods;         /* channel 0: periods elapsed since load */
	int running;
};

struct pit {
	struct hw hw;
	struct chan ch[3];
	struct clock_event tick;
};

static struct pit *to_pit(struct hw *hw) { return container_of(hw, struct pit, hw); }

/* Returns the virtual time of input tick `ticks` after load. */
static uint64_t tick_time(const struct chan *c, uint64_t ticks)
{
	unsigned __int128 ns = (unsigned __int128)ticks * 1000000000ull + PIT_HZ - 1;
	return c->load_ns + (uint64_t)(ns / PIT_HZ);
}

/* Returns input ticks elapsed since load at time now. */
static uint64_t ticks_since_load(const struct chan *c, uint64_t now)
{
	if (now <= c->load_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(now - c->load_ns) * PIT_HZ / 1000000000ull);
}

/* Returns the count a read would see now. */
static uint16_t current_count(const struct chan *c, uint64_t now)
{
	if (!c->running)
		return (uint16_t)c->count;
	uint64_t t = ticks_since_load(c, now);
	if (c->mode == 0)
		return t >= c->count ? (uint16_t)(0x10000 - (t - c->count) % 0x10000) : (uint16_t)(c->count - t);
	uint32_t left = c->count - (uint32_t)(t % c->count);
	if (c->mode == 3)      /* square wave counts down by two, twice a period */
		left = (left * 2) % c->count;
	return (uint16_t)left;
}

static void set_out(struct pit *p, int level)
{
	p->ch[0].out = (uint8_t)level;
	hw__irq(&p->hw, level);
}

/* Arms the event for channel 0's next output edge. */
static void arm_next(struct pit *p)
{
	struct chan *c = &p->ch[0];
	if (!c->running || (c->mode == 0 && c->periods))
		return;
	clock__arm(p->hw.env.clock, &p->tick, tick_time(c, (c->periods + 1) * (uint64_t)c->count));
}

static void on_tick(void *ctx, uint64_t now)
{
	(void)now;
	struct pit *p = ctx;
	struct chan *c = &p->ch[0];
	c->periods++;
	set_out(p, 1);
	if (c->mode != 0)
		set_out(p, 0);        /* periodic: one edge per period; mode 0 stays high */
	arm_next(p);
}

static void load(struct pit *p, int n, uint32_t count)
{
	struct chan *c = &p->ch[n];
	c->count = count ? count : 0x10000;
	c->load_ns = p->hw.env.clock->now;
	c->periods = 0;
	c->running = 1;
	if (n == 0) {
		clock__disarm(p->hw.env.clock, &p->tick);
		if (c->out)
			set_out(p, 0);
		arm_next(p);
	}
}

static void control(struct pit *p, uint8_t v)
{
	int n = v >> 6;
	uint64_t now = p->hw.env.clock->now;
	if (n == 3) {                     /* read-back: latch counts of selected channels */
		for (int i = 0; i < 3; i++) {
			if (!(v & 0x20) && (v & (2 << i)) && !p->ch[i].latched) {
				p->ch[i].latch = current_count(&p->ch[i], now);
				p->ch[i].latched = 1;
				p->ch[i].read_hi = 0;
			}
		}
		return;
	}
	struct chan *c = &p->ch[n];
	int access = (v >> 4) & 3;
	if (access == 0) {                /* counter latch command */
		if (!c->latched) {
			c->latch = current_count(c, now);
			c->latched = 1;
			c->read_hi = 0;
		}
		return;
	}
	c->access = (uint8_t)access;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;             /* 6 and 7 alias 2 and 3 */
	c->write_hi = c->read_hi = 0;
	c->latched = 0;
	c->running = 0;
	if (n == 0) {
		clock__disarm(p->hw.env.clock, &p->tick);
		if (c->out)
			set_out(p, 0);    /* the line rests low between edges */
	}
}

static uint64_t pit_read(struct hw *hw, uint64_t off, unsigned size)
{
	(void)size;
	struct pit *p = to_pit(hw);
	if (off >= 3)
		return 0xff;              /* the control port is write-only */
	struct chan *c = &p->ch[off];
	uint16_t v = c->latched ? c->latch : current_count(c, hw->env.clock->now);
	uint8_t byte;
	if (c->access == 2 || (c->access == 3 && c->read_hi))
		byte = v >> 8;
	else
		byte = v & 0xff;
	if (c->access == 3)
		c->read_hi ^= 1;
	if (c->latched && (c->access != 3 || !c->read_hi))
		c->latched = 0;
	return byte;
}

static void pit_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	struct pit *p = to_pit(hw);
	uint8_t v = (uint8_t)val;
	if (off == 3) {
		control(p, v);
		return;
	}
	if (off > 3)
		return;
	struct chan *c = &p->ch[off];
	switch (c->access) {
	case 1:
		load(p, (int)off, v);
		break;
	case 2:
		load(p, (int)off, (uint32_t)v << 8);
		break;
	case 3:
		if (!c->write_hi) {
			c->low_byte = v;
			c->write_hi = 1;
		} else {
			c->write_hi = 0;
			load(p, (int)off, c->low_byte | ((uint32_t)v << 8));
		}
		break;
	default:
		break;                    /* not programmed yet: ignored, as on a real 8254 */
	}
}

/* Checkpoint: channels plus channel 0's next-edge time, re-armed on restore. */
struct pit_state {
	struct chan ch[3];
	uint64_t tick_when;
	uint8_t tick_armed;
};

static size_t pit_save(struct hw *hw, void *buf, size_t len)
{
	struct pit *p = to_pit(hw);
	struct pit_state s;
	if (len < sizeof(s))
		return sizeof(s);
	memset(&s, 0, sizeof(s));
	memcpy(s.ch, p->ch, sizeof(s.ch));
	s.tick_armed = (uint8_t)p->tick.armed;
	s.tick_when = p->tick.when;
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

static int pit_restore(struct hw *hw, const void *buf, size_t len)
{
	struct pit *p = to_pit(hw);
	struct pit_state s;
	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	memcpy(p->ch, s.ch, sizeof(s.ch));
	clock__disarm(hw->env.clock, &p->tick);
	if (s.tick_armed)
		clock__arm(hw->env.clock, &p->tick, s.tick_when);
	return 0;
}

static void pit_destroy(struct hw *hw)
{
	struct pit *p = to_pit(hw);
	clock__disarm(hw->env.clock, &p->tick);
	free(p);
}

static const struct hw_ops pit_ops = {
	.model = "i8254",
	.read = pit_read,
	.write = pit_write,
	.save = pit_save,
	.restore = pit_restore,
	.destroy = pit_destroy,
};

struct hw *pit__create(const struct hw_env *env, int irq)
{
	struct pit *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	hw__init(&p->hw, &pit_ops, "pit", irq, env);
	clock__event_init(&p->tick, on_tick, p);
	for (int i = 0; i < 3; i++)
		p->ch[i].count = 0x10000;
	return &p->hw;
}
