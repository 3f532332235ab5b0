/* Placeholder until the ringblk engine module lands. */
#include "edev.h"

const struct edev_ops edev_ringblk_ops = { .model = "ringblk" };
