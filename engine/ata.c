/* Placeholder until the ata engine module lands. */
#include "edev.h"

const struct edev_ops edev_ata_ops = { .model = "ata-disk" };
