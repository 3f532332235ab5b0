/*
 * Helpers shared by every hardware model.
 */
#include <string.h>
#include "hw.h"

void hw__init(struct hw *hw, const struct hw_ops *ops, const char *name,
	      int irq, const struct hw_env *env)
{
	hw->ops = ops;
	strncpy(hw->name, name, sizeof(hw->name) - 1);
	hw->name[sizeof(hw->name) - 1] = 0;
	hw->irq = irq;
	hw->env = *env;
}

void hw__irq(struct hw *hw, int level)
{
	if (hw->irq >= 0 && hw->env.irq_set)
		hw->env.irq_set(hw->env.irq_ctx, hw->irq, level);
}
