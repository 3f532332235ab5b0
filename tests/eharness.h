/*
 * KVM-free engine harness: a machine with the engine attached, driven by a
 * scripted "guest driver" written in C in the test. It plays the monitor's
 * part (every access goes through machine__access, interrupts are delivered
 * only between accesses) and records what the guest observed, so a test can
 * run the same driver script with and without a switch and compare.
 *
 * Observations: every read value and every interrupt vector delivered.
 * eh_poll() is the driver's busy-wait loop: its intermediate reads are
 * polls (an engine may insert extra ones), so only its final value is
 * recorded. Data buffers the script reads from guest RAM are compared by the
 * script itself.
 */
#ifndef DEVIRT_EHARNESS_H
#define DEVIRT_EHARNESS_H

#include <stdint.h>
#include "../engine/engine.h"
#include "../machine/machine.h"

struct eh_obs {
	uint64_t addr, value;
	uint8_t kind;     /* 'r' read, 'i' interrupt (addr = 0, value = vector), 'p' poll result */
	uint8_t size;
};

struct eh {
	struct machine m;
	struct engine *e;
	uint8_t *ram;
	uint64_t ram_size;
	struct blk ata_disk, rb_disk;
	int uart_loopback;            /* COM1 has a loopback plug (wire_loopback) */
	int console_fd;               /* memfd receiving COM1's output */
	struct eh_obs *obs;
	size_t nobs, cap;
	uint64_t accesses;            /* guest accesses so far */
	/* a switch to request right after guest access number at_access */
	uint64_t at_access;
	int at_action;
	const char *at_device;
	int fired;
	int irq_enabled;              /* deliver interrupts between accesses (IF=1) */
	uint64_t busy_polls;          /* poll iterations beyond the first */
};

struct eh_cfg {
	int ata, ringblk;             /* create these devices */
	int uart_loopback;            /* COM1 TX wired to RX */
	uint64_t disk_bytes;          /* default 1 MiB; images filled with eh_pattern */
	struct engine_cfg engine;     /* policies; sink may be NULL */
};

/* Builds the machine (32 MiB RAM) and the engine. Fails the test on error. */
void eh_init(struct eh *h, const struct eh_cfg *cfg);
void eh_fini(struct eh *h);

/* The byte at offset off of a fresh disk image (deterministic pattern). */
uint8_t eh_pattern(uint64_t off);

/* Requests action on device right after the guest's access number n
 * (counting from 0: n = 0 switches after the first access). */
void eh_switch_after(struct eh *h, uint64_t n, const char *device, int action);

/* Port I/O and MMIO as the guest would do them; reads are recorded. */
uint64_t eh_in(struct eh *h, uint16_t port, unsigned size);
void eh_out(struct eh *h, uint16_t port, unsigned size, uint64_t v);
uint64_t eh_rd(struct eh *h, uint64_t addr, unsigned size);
void eh_wr(struct eh *h, uint64_t addr, unsigned size, uint64_t v);

/* Busy-waits: reads (port or MMIO addr, by space) until (v & mask) == want,
 * at most limit times. Records only the final value. Returns it, or fails
 * the test on timeout. */
uint64_t eh_poll(struct eh *h, int space, uint64_t addr, unsigned size, uint64_t mask,
		 uint64_t want, unsigned limit);

/* Halts until an interrupt is pending (the clock jumps), acknowledges it and
 * records the vector. Returns the vector, or -1 if nothing can wake the
 * guest (hung). */
int eh_wait_irq(struct eh *h);

/* Delivers a pending interrupt now if there is one; returns its vector or -1. */
int eh_take_irq(struct eh *h);

/* The handler's end of interrupt for vector vec (slave and master as
 * needed); unrecorded but counted as accesses. */
void eh_eoi(struct eh *h, int vec);

/* Lets virtual time pass with the guest halted for ns (interrupts stay
 * pending; none is acknowledged). */
void eh_idle(struct eh *h, uint64_t ns);

/* Compares two observation logs; returns -1 if equal, else the index of the
 * first difference (and prints both sides around it). */
long eh_compare(const struct eh *a, const struct eh *b);

/* Copies what COM1 has transmitted so far (the console) into buf
 * (NUL-terminated, truncated to len). Returns the byte count. */
size_t eh_console(struct eh *h, char *buf, size_t len);

/* Programs the PIC like our guests do (vectors 0x20/0x28, all lines
 * unmasked). Unrecorded. */
void eh_pic_init(struct eh *h);

#endif
