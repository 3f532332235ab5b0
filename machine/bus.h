/*
 * The one trap registry (DESIGN rule 5): sorted tables of port-I/O and MMIO
 * ranges, each naming the device behind it and the handler that currently
 * serves it. By default a range is served "direct" (straight to the device's
 * registers); the engine swaps in its own handler to intercept a device and
 * swaps the direct one back to release it. The run loop never branches on a
 * device.
 */
#ifndef DEVIRT_BUS_H
#define DEVIRT_BUS_H

#include <stdint.h>
#include "../devices/hw.h"

enum bus_space { BUS_PIO = 0, BUS_MMIO = 1 };

struct bus_access {
	uint64_t addr;
	uint64_t value;     /* written value; a read stores its result here */
	uint8_t space;      /* enum bus_space */
	uint8_t size;       /* 1, 2, 4 or 8 */
	uint8_t write;
};

struct bus_range;
/* Serves access a on range r; off is the device-relative offset. */
typedef void bus_fn(void *opaque, struct bus_range *r, struct bus_access *a, uint64_t off);

struct bus_range {
	uint64_t base, len;
	uint64_t dev_off;   /* device offset of base (e.g. ATA control = 8) */
	struct hw *hw;
	bus_fn *fn;
	void *opaque;
	uint64_t exits;     /* accesses that trapped on this range */
};

#define BUS_MAX_RANGES 32

struct bus {
	struct bus_range r[2][BUS_MAX_RANGES];
	int n[2];
};

/* Empties the bus. */
void bus__init(struct bus *b);

/* Maps [base, base+len) of space to hw at device offset dev_off, served
 * direct. Returns 0, -EEXIST on overlap, -ENOSPC when full, -EINVAL. */
int bus__register(struct bus *b, int space, uint64_t base, uint64_t len,
		  struct hw *hw, uint64_t dev_off);

/* Returns the range holding addr, or NULL. */
struct bus_range *bus__find(struct bus *b, int space, uint64_t addr);

/* Routes every range of hw to fn(opaque, ...); fn NULL restores direct.
 * Returns the number of ranges changed. */
int bus__set_handler(struct bus *b, struct hw *hw, bus_fn *fn, void *opaque);

/* The direct handler: forwards to hw->ops->read/write. */
void bus__direct(void *opaque, struct bus_range *r, struct bus_access *a, uint64_t off);

#endif
