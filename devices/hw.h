/*
 * The contract between a hardware model and everything that drives it
 * (DESIGN rule 1): a register interface, one interrupt line, DMA through the
 * checked guest-memory accessor, timers on the virtual clock, and save/restore
 * for checkpoints. The bus, the engine's emulation and the monitor's driver
 * all reach a device through hw_ops only; nobody peeks at a model's struct.
 */
#ifndef DEVIRT_HW_H
#define DEVIRT_HW_H

#include <stddef.h>
#include <stdint.h>
#include "../lib/clock.h"
#include "../lib/gmem.h"

struct hw;

/* One register write (see hw_ops.mapped_writes). */
struct hw_reg_write {
	uint64_t off, value;
	unsigned size;
};

/* Sets interrupt line `line` to `level` (edges are level changes). */
typedef void irq_set_fn(void *ctx, int line, int level);

/* What the platform lends a device. */
struct hw_env {
	struct clock *clock;
	const struct gmem *mem;
	irq_set_fn *irq_set;
	void *irq_ctx;
};

struct hw_ops {
	const char *model;
	/* Reads a register at `off` from the device base; size is 1, 2, 4 or 8. */
	uint64_t (*read)(struct hw *hw, uint64_t off, unsigned size);
	/* Writes a register. */
	void (*write)(struct hw *hw, uint64_t off, unsigned size, uint64_t val);
	/* Called whenever the monitor gets control (any exit); may be NULL.
	 * Lets a device whose registers are plain memory notice doorbells. */
	void (*poll)(struct hw *hw);
	/* Serialises the state into buf (len bytes). Returns the size needed;
	 * writes nothing if len is too small. NULL: the device is stateless. */
	size_t (*save)(struct hw *hw, void *buf, size_t len);
	/* Restores a state saved by save. Returns 0 or -EINVAL. */
	int (*restore)(struct hw *hw, const void *buf, size_t len);
	/* Frees the device. */
	void (*destroy)(struct hw *hw);
	/* For a device whose registers are mapped into the guest (pass-through
	 * without exits): reports, at most max, the register writes the guest
	 * made since the device last acted on its page, so a recorder can log
	 * what it never trapped. Returns the number reported. May be NULL. */
	int (*mapped_writes)(struct hw *hw, struct hw_reg_write *out, int max);
};

struct hw {
	const struct hw_ops *ops;
	char name[16];
	int irq;              /* interrupt line, -1 if none */
	struct hw_env env;
};

/* Fills the common part of a device. */
void hw__init(struct hw *hw, const struct hw_ops *ops, const char *name,
	      int irq, const struct hw_env *env);

/* Drives the device's interrupt line to level (no-op without a line). */
void hw__irq(struct hw *hw, int level);

/* Returns a pointer to the struct that embeds member `m` pointed to by p. */
#define container_of(p, type, m) ((type *)((char *)(p) - offsetof(type, m)))

#endif
