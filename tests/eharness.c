/*
 * KVM-free engine harness (see eharness.h). It plays the monitor: every
 * access goes through machine__access, and interrupts reach the "guest"
 * only between accesses, when the script asks for them, the way our guests
 * take them (HLT, then the handler).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "eharness.h"

#define EH_RAM (32ull << 20)

uint8_t eh_pattern(uint64_t off)
{
	uint64_t z = (off / 8) * 0x9e3779b97f4a7c15ull;
	z ^= z >> 29;
	return (uint8_t)(z >> ((off % 8) * 8));
}

/* Creates a temporary image of bytes filled with eh_pattern. */
static void make_disk(struct blk *b, uint64_t bytes)
{
	char err[200];
	uint8_t sec[512];
	cr_assert_eq(blk__open_temp(b, bytes, err, sizeof(err)), 0, "%s", err);
	for (uint64_t lba = 0; lba < bytes / 512; lba++) {
		for (int i = 0; i < 512; i++)
			sec[i] = eh_pattern(lba * 512 + (uint64_t)i);
		cr_assert_eq(blk__write(b, lba, sec, 1), 0);
	}
}

void eh_init(struct eh *h, const struct eh_cfg *cfg)
{
	memset(h, 0, sizeof(*h));
	h->ata_disk.fd = h->rb_disk.fd = -1;
	h->ram_size = EH_RAM;
	/* mmap, like the monitor's RAM: lazily zeroed, cheap under ASan */
	h->ram = mmap(NULL, EH_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(h->ram, MAP_FAILED);
	uint64_t bytes = cfg->disk_bytes ? cfg->disk_bytes : 1ull << 20;
	if (cfg->ata)
		make_disk(&h->ata_disk, bytes);
	if (cfg->ringblk)
		make_disk(&h->rb_disk, bytes);
	h->console_fd = memfd_create("eh-console", 0);
	cr_assert_geq(h->console_fd, 0);
	h->uart_loopback = cfg->uart_loopback;
	struct machine_cfg mc = { .console_fd = h->console_fd, .com1_loopback = cfg->uart_loopback,
				  .ata_disk = cfg->ata ? &h->ata_disk : NULL,
				  .ringblk_disk = cfg->ringblk ? &h->rb_disk : NULL };
	cr_assert_eq(machine__init(&h->m, &mc, h->ram, h->ram_size), 0);
	cr_assert_eq(engine__create(&h->e, &h->m, &cfg->engine), 0);
	h->at_access = UINT64_MAX;
	h->irq_enabled = 0;
}

void eh_fini(struct eh *h)
{
	engine__destroy(h->e);
	machine__destroy(&h->m);
	blk__close(&h->ata_disk);
	blk__close(&h->rb_disk);
	if (h->console_fd >= 0)
		close(h->console_fd);
	munmap(h->ram, h->ram_size);
	free(h->obs);
}

size_t eh_console(struct eh *h, char *buf, size_t len)
{
	ssize_t n = pread(h->console_fd, buf, len ? len - 1 : 0, 0);
	if (n < 0)
		n = 0;
	if (len)
		buf[n] = 0;
	return (size_t)n;
}

/* Appends one observation. */
static void record(struct eh *h, uint8_t kind, uint64_t addr, uint64_t value, uint8_t size)
{
	if (h->nobs == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->obs = realloc(h->obs, h->cap * sizeof(*h->obs));
		cr_assert_not_null(h->obs);
	}
	h->obs[h->nobs++] = (struct eh_obs){ .addr = addr, .value = value, .kind = kind, .size = size };
}

void eh_switch_after(struct eh *h, uint64_t n, const char *device, int action)
{
	h->at_access = n;
	h->at_device = device;
	h->at_action = action;
	h->fired = 0;
}

/* One guest access through the choke point; fires the scheduled switch. */
static uint64_t guest_access(struct eh *h, int space, uint64_t addr, unsigned size, int write, uint64_t v)
{
	struct bus_access a = { .addr = addr, .value = v, .space = (uint8_t)space,
				.size = (uint8_t)size, .write = (uint8_t)write };
	machine__access(&h->m, &a, 0);
	if (!h->fired && h->accesses == h->at_access) {
		h->fired = 1;
		cr_assert_eq(engine__request(h->e, h->at_device, h->at_action), 0,
			     "no device %s", h->at_device);
		/* the monitor notes requests during the exit and acts on them at
		 * that exit's safe point */
		for (int i = 0; i < h->m.nticks; i++)
			h->m.ticks[i].fn(h->m.ticks[i].ctx);
	}
	h->accesses++;
	return a.value;
}

uint64_t eh_in(struct eh *h, uint16_t port, unsigned size)
{
	uint64_t v = guest_access(h, BUS_PIO, port, size, 0, 0);
	record(h, 'r', port, v, (uint8_t)size);
	return v;
}

void eh_out(struct eh *h, uint16_t port, unsigned size, uint64_t v)
{
	guest_access(h, BUS_PIO, port, size, 1, v);
}

uint64_t eh_rd(struct eh *h, uint64_t addr, unsigned size)
{
	uint64_t v = guest_access(h, BUS_MMIO, addr, size, 0, 0);
	record(h, 'r', addr, v, (uint8_t)size);
	return v;
}

void eh_wr(struct eh *h, uint64_t addr, unsigned size, uint64_t v)
{
	guest_access(h, BUS_MMIO, addr, size, 1, v);
}

uint64_t eh_poll(struct eh *h, int space, uint64_t addr, unsigned size, uint64_t mask,
		 uint64_t want, unsigned limit)
{
	for (unsigned i = 0; i < limit; i++) {
		uint64_t v = guest_access(h, space, addr, size, 0, 0);
		if ((v & mask) == want) {
			record(h, 'p', addr, v, (uint8_t)size);
			return v;
		}
		h->busy_polls++;
		if (i % 64 == 63)
			eh_idle(h, 1000);   /* a real driver's delay; lets slow devices finish */
	}
	cr_assert_fail("poll of 0x%llx for %llx under mask %llx never succeeded",
		       (unsigned long long)addr, (unsigned long long)want, (unsigned long long)mask);
	return 0;
}

int eh_take_irq(struct eh *h)
{
	if (!machine__irq_pending(&h->m))
		return -1;
	int vec = machine__irq_ack(&h->m, 0);
	record(h, 'i', 0, (uint64_t)vec, 0);
	return vec;
}

int eh_wait_irq(struct eh *h)
{
	if (!machine__irq_pending(&h->m) && machine__halt(&h->m, 0))
		return -1;
	return eh_take_irq(h);
}

void eh_eoi(struct eh *h, int vec)
{
	if (vec >= 0x28)
		eh_out(h, 0xa0, 1, 0x20);
	eh_out(h, 0x20, 1, 0x20);
}

void eh_idle(struct eh *h, uint64_t ns)
{
	struct clock *c = &h->m.clock;
	uint64_t end = c->now + ns;
	while (c->now < end) {
		uint64_t next = clock__next(c);
		clock__run_until(c, next < end ? next : end);
		/* machine ticks run after each step, as while the guest halts */
		for (int i = 0; i < h->m.nticks; i++)
			h->m.ticks[i].fn(h->m.ticks[i].ctx);
	}
}

/* Prints observations around index i of log o. */
static void dump(const char *name, const struct eh *o, long i)
{
	for (long k = i - 3; k <= i + 3; k++) {
		if (k < 0 || (size_t)k >= o->nobs)
			continue;
		const struct eh_obs *b = &o->obs[k];
		fprintf(stderr, "  %s%s[%ld] %c addr=0x%llx value=0x%llx\n", k == i ? "=>" : "  ", name, k,
			b->kind, (unsigned long long)b->addr, (unsigned long long)b->value);
	}
}

long eh_compare(const struct eh *a, const struct eh *b)
{
	size_t n = a->nobs < b->nobs ? a->nobs : b->nobs;
	for (size_t i = 0; i < n; i++) {
		const struct eh_obs *x = &a->obs[i], *y = &b->obs[i];
		if (x->kind != y->kind || x->addr != y->addr || x->value != y->value) {
			dump("base", a, (long)i);
			dump("test", b, (long)i);
			return (long)i;
		}
	}
	if (a->nobs != b->nobs) {
		fprintf(stderr, "  observation counts differ: %zu vs %zu\n", a->nobs, b->nobs);
		dump("base", a, (long)n);
		dump("test", b, (long)n);
		return (long)n;
	}
	return -1;
}

void eh_pic_init(struct eh *h)
{
	static const uint16_t seq[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x20 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x28 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0x00 }, { 0xa1, 0x00 },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		struct bus_access a = { .addr = seq[i][0], .value = seq[i][1], .space = BUS_PIO,
					.size = 1, .write = 1 };
		machine__access(&h->m, &a, 0);
	}
}
