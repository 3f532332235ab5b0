/*
 * The devirt guest runtime: everything a workload may call.
 *
 * A workload is one C file defining workload_name and workload_main().
 * The runtime's kmain() sets up the console, IDT and PIC (all IRQs masked),
 * parses the Multiboot command line, prints a banner, runs the workload
 * and reports its verdict on the exit port (0xf4, like QEMU's
 * isa-debug-exit): 0x10 is pass, anything else a failure code.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

/* Provided by each workload. */
extern const char *workload_name;
/* Runs the scenario; returns 0 on success (reported as pass). */
int workload_main(void);

/* Exit codes written to the exit port. */
enum guest_exit_code {
	GUEST_EXIT_PASS      = 0x10,
	GUEST_EXIT_FAIL      = 0x11,	/* generic failure */
	GUEST_EXIT_ASSERT    = 0x12,	/* GUEST_ASSERT failed */
	GUEST_EXIT_EXCEPTION = 0x13,	/* CPU exception (vectors 0-31) */
	GUEST_EXIT_TIMEOUT   = 0x14,	/* an awaited event never came */
};

/* Reports pass on the exit port; never returns. */
__attribute__((noreturn)) void guest_pass(void);
/* Reports failure code (never GUEST_EXIT_PASS); never returns. */
__attribute__((noreturn)) void guest_fail(uint32_t code);
/* Prints "ASSERT FAILED file:line: cond" and fails with GUEST_EXIT_ASSERT. */
__attribute__((noreturn)) void guest_assert_fail(const char *file, int line, const char *cond);

#define GUEST_ASSERT(cond) \
	do { \
		if (!(cond)) \
			guest_assert_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* Programs the COM1 16550 for 115200 8N1 with FIFOs on, interrupts off. */
void console_init(void);
/* Writes one character to COM1, '\n' as "\r\n". */
void console_putc(char c);

/* Formats into buf (always NUL-terminated if size > 0); returns the full length. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* Same as vsnprintf with variadic arguments. */
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Formats to the console; returns the number of characters written. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes s and a newline to the console; returns 0. */
int puts(const char *s);

/* Installs the 64-bit IDT: exceptions are fatal, vectors 32-47 are IRQ 0-15. */
void idt_init(void);
/* Calls fn(irq), with interrupts off, on each IRQ irq (0-15); EOI follows. */
void irq_register(int irq, void (*fn)(int irq));
/* Returns how many IRQs arrived with no handler registered. */
uint64_t irq_spurious_count(void);

/* Remaps the 8259A pair to vectors 0x20/0x28, cascade on IRQ2, all masked. */
void pic_init(void);
/* Unmasks IRQ irq (and the cascade IRQ2 when irq >= 8). */
void pic_unmask(int irq);
/* Masks IRQ irq. */
void pic_mask(int irq);
/* Acknowledges IRQ irq (slave and master for irq >= 8). */
void pic_eoi(int irq);

/* Starts PIT channel 0 at hz (19..1193182) as a rate generator; counts IRQ0s. */
void pit_init(uint64_t hz);
/* Returns the number of IRQ0 ticks since pit_init(). */
uint64_t pit_ticks(void);
/* Latches and returns the current channel 0 count. */
uint16_t pit_read_counter(void);

/* One write to port 0x80: about 1 us on ISA, one VM exit under a monitor. */
void io_delay(void);
/* Waits about us microseconds (us io_delay()s). */
void udelay(uint32_t us);

/* Reads the command line and memory info from the Multiboot info at mbinfo. */
void args_init(uint32_t mbinfo);
/* Returns the command line after the kernel path ("" if none). */
const char *args_line(void);
/* Returns the value of key=value, or dflt if key is absent. */
const char *arg_str(const char *key, const char *dflt);
/* Returns key's value as a decimal or 0x-hex number, dflt if absent; fails if malformed. */
uint64_t arg_u64(const char *key, uint64_t dflt);
/* Returns the loader's mem_upper (KiB above 1 MiB), 0 if not given. */
uint32_t args_mem_upper_kib(void);

/* The C library string functions, with their standard contracts. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
