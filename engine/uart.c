/* Placeholder until the uart engine module lands. */
#include "edev.h"

const struct edev_ops edev_uart_ops = { .model = "16550a" };
