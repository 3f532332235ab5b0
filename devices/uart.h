/*
 * 16550A UART. For now the console subset: the transmitter writes to a file
 * descriptor, the line status always shows an empty transmitter, and the
 * divisor latch, LCR, MCR, IER and scratch registers hold what is written.
 * Receive, FIFOs, interrupts and loopback arrive with the full model.
 */
#ifndef DEVIRT_UART_H
#define DEVIRT_UART_H

#include "hw.h"

/* Creates a UART whose transmitted bytes go to out_fd (-1: discarded). */
struct hw *uart__create(const struct hw_env *env, const char *name, int irq, int out_fd);

#endif
