/*
 * Debug-exit, I/O delay and scratch devices (see simple.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "simple.h"

struct debugexit {
	struct hw hw;
	debugexit_fn *report;
	void *ctx;
};

static uint64_t debugexit_read(struct hw *hw, uint64_t off, unsigned size)
{
	(void)hw; (void)off; (void)size;
	return 0;
}

static void debugexit_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	(void)off; (void)size;
	struct debugexit *d = container_of(hw, struct debugexit, hw);
	d->report(d->ctx, (uint32_t)val);
}

static void free_hw(struct hw *hw) { free(hw); }

static const struct hw_ops debugexit_ops = {
	.model = "isa-debug-exit",
	.read = debugexit_read,
	.write = debugexit_write,
	.destroy = free_hw,
};

struct hw *debugexit__create(const struct hw_env *env, debugexit_fn *report, void *ctx)
{
	struct debugexit *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	hw__init(&d->hw, &debugexit_ops, "exit", -1, env);
	d->report = report;
	d->ctx = ctx;
	return &d->hw;
}

static uint64_t iodelay_read(struct hw *hw, uint64_t off, unsigned size)
{
	(void)hw; (void)off; (void)size;
	return 0xff;
}

static void iodelay_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	(void)hw; (void)off; (void)size; (void)val;
}

static const struct hw_ops iodelay_ops = {
	.model = "iodelay",
	.read = iodelay_read,
	.write = iodelay_write,
	.destroy = free_hw,
};

struct hw *iodelay__create(const struct hw_env *env)
{
	struct hw *hw = calloc(1, sizeof(*hw));
	if (hw)
		hw__init(hw, &iodelay_ops, "iodelay", -1, env);
	return hw;
}

struct scratch {
	struct hw hw;
	uint64_t size;
	uint8_t regs[4096];
};

static struct scratch *to_scratch(struct hw *hw) { return container_of(hw, struct scratch, hw); }

static uint64_t scratch_read(struct hw *hw, uint64_t off, unsigned size)
{
	struct scratch *s = to_scratch(hw);
	uint64_t v = 0;
	if (size <= 8 && off + size <= s->size)
		memcpy(&v, s->regs + off, size);
	return v;
}

static void scratch_write(struct hw *hw, uint64_t off, unsigned size, uint64_t val)
{
	struct scratch *s = to_scratch(hw);
	if (size <= 8 && off + size <= s->size)
		memcpy(s->regs + off, &val, size);
}

static size_t scratch_save(struct hw *hw, void *buf, size_t len)
{
	struct scratch *s = to_scratch(hw);
	if (len >= s->size)
		memcpy(buf, s->regs, s->size);
	return s->size;
}

static int scratch_restore(struct hw *hw, const void *buf, size_t len)
{
	struct scratch *s = to_scratch(hw);
	if (len != s->size)
		return -EINVAL;
	memcpy(s->regs, buf, len);
	return 0;
}

static const struct hw_ops scratch_ops = {
	.model = "scratch",
	.read = scratch_read,
	.write = scratch_write,
	.save = scratch_save,
	.restore = scratch_restore,
	.destroy = free_hw,
};

struct hw *scratch__create(const struct hw_env *env, uint64_t size)
{
	struct scratch *s;
	if (size == 0 || size > sizeof(s->regs))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	hw__init(&s->hw, &scratch_ops, "scratch", -1, env);
	s->size = size;
	return &s->hw;
}
