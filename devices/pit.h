/*
 * 8254 programmable interval timer at 0x40-0x43 on the virtual clock.
 * Channel 0 drives IRQ0 in modes 0 (one-shot), 2 (rate generator) and
 * 3 (square wave); channels 1 and 2 count but drive nothing.
 */
#ifndef DEVIRT_PIT_H
#define DEVIRT_PIT_H

#include "hw.h"

#define PIT_HZ 1193182ull

/* Creates the PIT; its channel 0 output is interrupt line irq. */
struct hw *pit__create(const struct hw_env *env, int irq);

#endif
