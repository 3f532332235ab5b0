/*
 * Range tables kept sorted by base so lookup is a binary search; ranges are
 * registered at set-up only, so insertion cost does not matter.
 */
#include <errno.h>
#include <string.h>
#include "bus.h"

void bus__init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
}

int bus__register(struct bus *b, int space, uint64_t base, uint64_t len,
		  struct hw *hw, uint64_t dev_off)
{
	if ((space != BUS_PIO && space != BUS_MMIO) || !len || base + len < base || !hw)
		return -EINVAL;
	struct bus_range *t = b->r[space];
	int n = b->n[space];
	if (n == BUS_MAX_RANGES)
		return -ENOSPC;
	int i = 0;
	while (i < n && t[i].base < base)
		i++;
	if ((i > 0 && t[i - 1].base + t[i - 1].len > base) ||
	    (i < n && base + len > t[i].base))
		return -EEXIST;
	memmove(&t[i + 1], &t[i], (size_t)(n - i) * sizeof(*t));
	t[i] = (struct bus_range){ .base = base, .len = len, .dev_off = dev_off,
				   .hw = hw, .fn = bus__direct, .opaque = hw };
	b->n[space] = n + 1;
	return 0;
}

struct bus_range *bus__find(struct bus *b, int space, uint64_t addr)
{
	struct bus_range *t = b->r[space];
	int lo = 0, hi = b->n[space] - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (addr < t[mid].base)
			hi = mid - 1;
		else if (addr - t[mid].base >= t[mid].len)
			lo = mid + 1;
		else
			return &t[mid];
	}
	return NULL;
}

int bus__set_handler(struct bus *b, struct hw *hw, bus_fn *fn, void *opaque)
{
	int changed = 0;
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < b->n[s]; i++) {
			struct bus_range *r = &b->r[s][i];
			if (r->hw != hw)
				continue;
			r->fn = fn ? fn : bus__direct;
			r->opaque = fn ? opaque : hw;
			changed++;
		}
	}
	return changed;
}

void bus__direct(void *opaque, struct bus_range *r, struct bus_access *a, uint64_t off)
{
	(void)r;
	struct hw *hw = opaque;
	if (a->write)
		hw->ops->write(hw, off, a->size, a->value);
	else
		a->value = hw->ops->read(hw, off, a->size);
}
