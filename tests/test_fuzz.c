/*
 * 10^5 seeded random accesses per device through the machine's choke point,
 * with the clock running between them. Guest RAM is an exact-size heap block,
 * so under SANITIZE=1 any device touching memory outside it (DMA from a wild
 * descriptor, a bad ring base) is an ASan error, not a silent corruption.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../machine/machine.h"
#include "../devices/ringblk.h"

#define RAM (2u << 20)

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct target { const char *name; int space; uint64_t base, len; };

/* Fires n random accesses at [base, base+len), biased to plausible values
 * (small numbers, addresses inside and just outside RAM). */
static void hammer(struct machine *m, const struct target *t, int n)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	for (int i = 0; i < n && m->state == RUN_GOING; i++) {
		uint64_t r = next();
		struct bus_access a = {
			.space = (uint8_t)t->space, .addr = t->base + r % t->len,
			.size = (uint8_t)(t->space == BUS_PIO ? sizes[(r >> 20) % 3] : sizes[(r >> 20) % 4]),
			.write = (r >> 24) & 1,
		};
		if ((r >> 44) & 1)   /* half the accesses aligned, as drivers make them */
			a.addr -= (a.addr - t->base) % a.size;
		switch ((r >> 28) % 6) {
		case 0: a.value = next() & 0xff; break;
		case 1: a.value = RAM - (next() % 8192); break;   /* near the end of RAM */
		case 2: a.value = next() % RAM; break;
		case 3: a.value = 1ull << (next() % 9); break;    /* sizes, enable bits */
		case 4: a.value = next() % 512; break;            /* ring indices */
		default: a.value = next(); break;
		}
		machine__access(m, &a, 0);
		if ((r >> 40) % 16 == 0)   /* let device timers fire */
			clock__run_until(&m->clock, m->clock.now + (next() % 200000));
	}
}

/* Register-aware noise for ringblk: aligned writes of plausible values to
 * the registers a driver uses, so rings really get enabled and descriptors
 * (from the noise in RAM) really get executed. */
static void hammer_ringblk(struct machine *m, int n)
{
	static const unsigned regs[] = { RB_CTRL, RB_SQ_BASE, RB_CQ_BASE, RB_QSIZE, RB_SQ_TAIL, RB_CQ_HEAD };
	for (int i = 0; i < n; i++) {
		unsigned reg = regs[next() % 6];
		uint64_t v;
		struct bus_access rd = { .space = BUS_MMIO, .size = 4,
					 .addr = RINGBLK_BASE + (reg == RB_SQ_TAIL ? RB_SQ_HEAD : RB_CQ_TAIL) };
		switch (reg) {
		case RB_CTRL: v = next() % 16 == 0 ? RB_CTRL_RESET : next() % 4; break;
		case RB_QSIZE: v = next() % 8 ? 1u << (next() % 9) : next() % 300; break;
		case RB_SQ_BASE: case RB_CQ_BASE: v = (next() % 4 ? next() % RAM : RAM - next() % 8192) & ~31ull; break;
		default:           /* doorbells near where the device is, now and then wild */
			machine__access(m, &rd, 0);
			v = next() % 16 ? rd.value + next() % 8 - (reg == RB_CQ_HEAD ? 4 : 0) : next();
			break;
		}
		struct bus_access a = { .space = BUS_MMIO, .addr = RINGBLK_BASE + reg, .write = 1, .value = v,
					.size = reg == RB_SQ_BASE || reg == RB_CQ_BASE ? 8 : 4 };
		machine__access(m, &a, 0);
		if (next() % 4 == 0)
			clock__run_until(&m->clock, m->clock.now + next() % 100000);
	}
}

Test(fuzz, every_device_survives_random_accesses, .timeout = 300)
{
	char err[128];
	struct blk ata, rb;
	cr_assert_eq(blk__open_temp(&ata, 1 << 20, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(blk__open_temp(&rb, 1 << 20, err, sizeof(err)), 0, "%s", err);
	/* Guest RAM is guest-controlled: fill it with descriptor-shaped noise so
	 * that rings the noise enables point DMA at wild buffers. */
	uint8_t *ram = malloc(RAM);
	for (size_t off = 0; off < RAM; off += sizeof(struct ringblk_sqe)) {
		uint64_t buf = (next() & 1) ? RAM - next() % 4096 : next() % (2 * RAM);
		struct ringblk_sqe q = { .opcode = (uint8_t)(next() % 4), .id = (uint16_t)next(),
					 .nsect = (uint32_t)(next() % 9), .lba = next() % 4096, .buf = buf };
		memcpy(ram + off, &q, sizeof(q));
	}
	struct machine m;
	struct machine_cfg cfg = { .console_fd = -1, .ata_disk = &ata, .ringblk_disk = &rb };
	cr_assert_eq(machine__init(&m, &cfg, ram, RAM), 0);
	static const struct target targets[] = {
		{ "ata", BUS_PIO, 0x1f0, 8 }, { "ata-ctrl", BUS_PIO, 0x3f6, 1 },
		{ "com1", BUS_PIO, 0x3f8, 8 }, { "pic", BUS_PIO, 0x20, 2 }, { "pic2", BUS_PIO, 0xa0, 2 },
		{ "pit", BUS_PIO, 0x40, 4 }, { "ringblk", BUS_MMIO, RINGBLK_BASE, RINGBLK_SIZE },
		{ "ringblk-regs", BUS_MMIO, RINGBLK_BASE, 0x48 },
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		hammer(&m, &targets[i], 100000);
		cr_assert_eq(m.state, RUN_GOING, "%s ended the run", targets[i].name);
		/* interleave: devices poll, and ringblk DMA runs with whatever rings the noise built */
		for (int k = 0; k < 64; k++)
			for (int d = 0; d < m.ndevs; d++)
				if (m.devs[d]->ops->poll)
					m.devs[d]->ops->poll(m.devs[d]);
		clock__run_until(&m.clock, m.clock.now + 10000000);
	}
	hammer_ringblk(&m, 100000);
	cr_assert_geq(machine__exits_of(&m, m.ringblk, BUS_MMIO), 300000);
	while (machine__irq_pending(&m))
		machine__irq_ack(&m, 0);
	machine__destroy(&m);
	free(ram);
	blk__close(&ata);
	blk__close(&rb);
}
