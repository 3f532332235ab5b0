/*
 * The platform without the CPU: RAM, virtual clock, bus, PIC, PIT, console
 * UART, exit port, I/O delay port and scratch page, plus the one choke point
 * through which every trapped access passes (machine__access). The KVM
 * monitor drives it from real exits; the replayer and the tests drive it from
 * recorded or scripted accesses. Nothing here knows about KVM.
 */
#ifndef DEVIRT_MACHINE_H
#define DEVIRT_MACHINE_H

#include <stdint.h>
#include "bus.h"
#include "../lib/clock.h"
#include "../lib/gmem.h"
#include "../lib/blk.h"

/* Platform addresses (DESIGN "Platform contract"). */
#define PORT_PIC_MASTER  0x20
#define PORT_PIC_SLAVE   0xa0
#define PORT_PIT         0x40
#define PORT_IODELAY     0x80
#define PORT_EXIT        0xf4
#define PORT_COM1        0x3f8
#define PORT_ATA         0x1f0
#define PORT_ATA_CTRL    0x3f6
#define MMIO_SCRATCH     0xfe800000ull
#define IRQ_PIT          0
#define IRQ_COM1         4
#define IRQ_ATA          14

#define EXIT_CODE_PASS   0x10

/* Why a run stopped. */
enum run_state {
	RUN_GOING = 0,
	RUN_PASS,        /* guest wrote 0x10 to the exit port */
	RUN_FAIL,        /* guest wrote another value */
	RUN_HUNG,        /* halted with nothing that could wake it */
	RUN_VTIMEOUT,    /* virtual-time bound reached */
	RUN_WTIMEOUT,    /* wall-time bound reached */
	RUN_CRASH,       /* triple fault, internal error, bad entry */
	RUN_STOPPED,     /* interrupted by a signal */
};

/* Returns a short lowercase name for a run state. */
const char *run_state__name(int state);

/* Kinds of logged events. EXIT_IRQ is an injection into the guest (value =
 * vector); EXIT_LINE a device interrupt line changing (addr = line, value =
 * level); EXIT_MAPPED a register store the guest made through a mapped
 * register page (pass-through, no exit), noticed at the next exit (off,
 * size, value); EXIT_DMA guest memory a device read (addr, blob/size).
 * They are events, not exits, but share the run's sequence: together they
 * are what an offline replay needs to re-drive the devices. */
enum exit_kind { EXIT_PIO = 0, EXIT_MMIO, EXIT_HLT, EXIT_IRQ, EXIT_LINE, EXIT_MAPPED, EXIT_DMA, EXIT_KINDS };

/* One logged event. */
struct exit_rec {
	uint64_t seq, vtime, addr, value, rip;
	uint64_t off;       /* device-relative register offset */
	uint8_t kind, size, write;
	uint8_t path;       /* access: enum access_path */
	uint8_t target;     /* EXIT_LINE: enum line_target */
	const char *dev;    /* device name, NULL when nothing serves the address */
	const char *model;  /* device model (for register names), NULL likewise */
	const char *sm_state, *mode;  /* access: the engine's annotation (static or interned) */
	const void *blob;   /* EXIT_DMA: the bytes read (valid during the hook call only) */
	uint32_t blob_len;
};

/* How an access was served (the engine sets it; direct otherwise). */
enum access_path { PATH_DIRECT = 0, PATH_TRACK, PATH_EMULATE, PATH_DEFER, PATH_BUSY };
/* Who a device interrupt line currently reaches. */
enum line_target { LINE_GUEST = 0, LINE_MONITOR };

/* Returns the schema's name for an access path. */
const char *access_path__name(int path);

/* Receives every logged event, in order. */
typedef void machine_trace_fn(void *ctx, const struct exit_rec *r);

struct machine_cfg {
	uint64_t exit_cost_ns;   /* virtual time each exit costs (default 1 us) */
	uint64_t vtime_limit_ns; /* 0: unbounded */
	int console_fd;          /* COM1 output, -1 to discard */
	int com1_loopback;       /* COM1 has a loopback plug: TX wired to RX (console_fd taps it) */
	struct blk *ata_disk;    /* NULL: no ATA disk */
	struct blk *ringblk_disk;/* NULL: no ringblk */
};

#define MACHINE_MAX_DEVS 16
#define MACHINE_MAX_HOOKS 4

/* Called at safe points: after every exit and every clock step while the
 * guest halts, never from inside a device. */
typedef void machine_tick_fn(void *ctx);
/* Receives a device interrupt line routed to the monitor. */
typedef void machine_line_fn(void *ctx, int line, int level);
/* Fault injection: sees a device line change before it is routed; returns 1
 * to let it through, 0 to swallow it (the filter may deliver it later with
 * machine__deliver_line). */
typedef int machine_line_filter_fn(void *ctx, int line, int level);
/* Fault injection: sees a served access (a read's result in a->value) and
 * may change what the guest gets. dev is the serving device's name. */
typedef void machine_access_filter_fn(void *ctx, const char *dev, uint64_t off, struct bus_access *a);

struct machine {
	struct clock clock;
	struct gmem mem;
	struct bus bus;
	struct hw *pic, *pit, *com1, *ata, *ringblk;
	struct hw *devs[MACHINE_MAX_DEVS];
	int ndevs;
	uint64_t seq;            /* events logged so far */
	uint64_t exit_cost_ns, vtime_limit_ns;
	int state;               /* enum run_state */
	uint32_t exit_code;      /* value written to the exit port */
	struct { machine_trace_fn *fn; void *ctx; } hooks[MACHINE_MAX_HOOKS];
	int nhooks;
	struct { machine_tick_fn *fn; void *ctx; } ticks[MACHINE_MAX_HOOKS];
	int nticks;
	uint64_t counts[EXIT_KINDS];
	const char *irq_dev[16]; /* device driving each interrupt line */
	uint16_t line_levels;    /* current level of each device line */
	uint16_t guest_levels;   /* level of each PIC input (= line unless routed) */
	struct { machine_line_fn *fn; void *ctx; } route[16]; /* lines routed to the monitor */
	struct { machine_line_filter_fn *fn; void *ctx; } line_filter;
	struct { machine_access_filter_fn *fn; void *ctx; } access_filter;
	/* The serving handler's annotation of the current access. */
	struct { uint8_t path; const char *sm_state, *mode; } note;
	uint64_t unhandled;      /* accesses nobody serves */
	uint8_t pio_reported[65536 / 8];
};

/* Builds the platform over guest RAM [ram, ram+ram_size). Returns 0 or
 * -ENOMEM. On failure everything created is freed. */
int machine__init(struct machine *m, const struct machine_cfg *cfg, void *ram, uint64_t ram_size);

/* Frees the devices. */
void machine__destroy(struct machine *m);

/* Adds a device, taking ownership even on failure (so a constructor's
 * result can be passed straight in); poll/save/destroy then apply to it.
 * Returns 0, -ENOMEM when hw is NULL, or -ENOSPC (hw destroyed). */
int machine__add(struct machine *m, struct hw *hw);

/* The choke point: serves one guest access through the bus, logs it, and
 * advances the clock by one exit. rip is the guest's instruction pointer.
 * A read's result is left in a->value. */
void machine__access(struct machine *m, struct bus_access *a, uint64_t rip);

/* The guest halted: logs it and advances the clock event by event until an
 * interrupt is pending. Returns 0 when one is, or -1 (state set to
 * RUN_HUNG or RUN_VTIMEOUT) when nothing can wake the guest. */
int machine__halt(struct machine *m, uint64_t rip);

/* Returns 1 if an interrupt waits for the CPU. */
int machine__irq_pending(struct machine *m);

/* Adds a hook that sees every logged event, in order. Returns 0 or -ENOSPC. */
int machine__add_hook(struct machine *m, machine_trace_fn *fn, void *ctx);

/* Returns the accesses that trapped on hw's ranges in space. */
uint64_t machine__exits_of(struct machine *m, struct hw *hw, int space);

/* Adds a safe-point callback. Returns 0 or -ENOSPC. */
int machine__add_tick(struct machine *m, machine_tick_fn *fn, void *ctx);

/* Routes device line `line` to fn (the monitor, V1) or, with fn NULL, back
 * to the PIC (D5); the PIC input keeps its level until driven again. */
void machine__route_line(struct machine *m, int line, machine_line_fn *fn, void *ctx);

/* Drives the PIC input `line` on behalf of the monitor (an emulated or
 * mirrored interrupt); logged as a line event with target guest. */
void machine__guest_line(struct machine *m, int line, int level);

/* Installs the fault-injection filters (NULL removes). */
void machine__set_line_filter(struct machine *m, machine_line_filter_fn *fn, void *ctx);
void machine__set_access_filter(struct machine *m, machine_access_filter_fn *fn, void *ctx);

/* Delivers a device line change past the line filter (a delayed,
 * duplicated or spurious interrupt from the fault injector). */
void machine__deliver_line(struct machine *m, int line, int level);

/* Returns the current level of device line `line`. */
int machine__line_level(const struct machine *m, int line);

/* Acknowledges the pending interrupt, logs the injection and returns its vector. */
int machine__irq_ack(struct machine *m, uint64_t rip);

#endif
