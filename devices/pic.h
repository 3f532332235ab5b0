/*
 * 8259A programmable interrupt controller pair (master at 0x20, slave at 0xa0
 * cascaded on IRQ2), in userspace: the monitor asks it for a vector at exits
 * and injects with KVM_INTERRUPT, so interrupt timing is deterministic.
 * Device offsets: 0..1 master, 0x80..0x81 slave.
 */
#ifndef DEVIRT_PIC_H
#define DEVIRT_PIC_H

#include "hw.h"

#define PIC_SLAVE_OFF 0x80

/* Creates the PIC pair. Returns NULL on allocation failure. */
struct hw *pic__create(const struct hw_env *env);

/* Sets input line 0..15 to level; a rising edge requests an interrupt. */
void pic__set_irq(struct hw *pic, int line, int level);

/* Returns 1 if the master asserts INT towards the CPU. */
int pic__pending(struct hw *pic);

/* The CPU's interrupt acknowledge: returns the vector to deliver and
 * updates ISR/IRR (a spurious acknowledge yields the IRQ7/IRQ15 vector). */
int pic__ack(struct hw *pic);

#endif
