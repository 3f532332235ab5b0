/*
 * Platform assembly and the access choke point. Every trapped access, halt
 * and interrupt injection gets a sequence number here and goes to the trace
 * hook, so the recorder (and later the engine and fault injector) see one
 * ordered stream no matter who drives the machine.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "machine.h"
#include "../devices/ata.h"
#include "../devices/pic.h"
#include "../devices/pit.h"
#include "../devices/ringblk.h"
#include "../devices/simple.h"
#include "../devices/uart.h"

const char *run_state__name(int state)
{
	static const char *names[] = {
		[RUN_GOING] = "running", [RUN_PASS] = "pass", [RUN_FAIL] = "fail",
		[RUN_HUNG] = "hung", [RUN_VTIMEOUT] = "vtime-timeout",
		[RUN_WTIMEOUT] = "wall-timeout", [RUN_CRASH] = "crash",
		[RUN_STOPPED] = "stopped",
	};
	return state >= 0 && state <= RUN_STOPPED ? names[state] : "?";
}

static void emit(struct machine *m, struct exit_rec *r);
static void dma_read(void *ctx, uint64_t gpa, const void *data, uint64_t len);

const char *access_path__name(int path)
{
	static const char *names[] = { "direct", "track", "emulate", "defer", "busy" };
	return path >= 0 && path <= PATH_BUSY ? names[path] : "direct";
}

void machine__guest_line(struct machine *m, int line, int level)
{
	if (line < 0 || line >= 16)
		return;
	if (level != ((m->guest_levels >> line) & 1)) {
		m->guest_levels ^= 1u << line;
		struct exit_rec rec = { .kind = EXIT_LINE, .addr = (uint64_t)line, .value = (uint64_t)level,
					.dev = m->irq_dev[line], .target = LINE_GUEST };
		emit(m, &rec);
	}
	pic__set_irq(m->pic, line, level);
}

/* Device interrupt lines end at the PIC unless the engine routed them to
 * the monitor (V1). Level changes are logged with their target; repeated
 * levels are not events. */
static void route_irq(void *ctx, int line, int level)
{
	struct machine *m = ctx;
	if (line < 0 || line >= 16)
		return;
	if (m->line_filter.fn && !m->line_filter.fn(m->line_filter.ctx, line, level))
		return;
	machine__deliver_line(m, line, level);
}

void machine__deliver_line(struct machine *m, int line, int level)
{
	if (line < 0 || line >= 16)
		return;
	if (!m->route[line].fn) {
		m->line_levels = (uint16_t)((m->line_levels & ~(1u << line)) | ((unsigned)!!level << line));
		machine__guest_line(m, line, level);
		return;
	}
	if (level != ((m->line_levels >> line) & 1)) {
		m->line_levels ^= 1u << line;
		struct exit_rec rec = { .kind = EXIT_LINE, .addr = (uint64_t)line, .value = (uint64_t)level,
					.dev = m->irq_dev[line], .target = LINE_MONITOR };
		emit(m, &rec);
	}
	m->route[line].fn(m->route[line].ctx, line, level);
}

void machine__set_line_filter(struct machine *m, machine_line_filter_fn *fn, void *ctx)
{
	m->line_filter.fn = fn;
	m->line_filter.ctx = ctx;
}

void machine__set_access_filter(struct machine *m, machine_access_filter_fn *fn, void *ctx)
{
	m->access_filter.fn = fn;
	m->access_filter.ctx = ctx;
}

void machine__route_line(struct machine *m, int line, machine_line_fn *fn, void *ctx)
{
	if (line < 0 || line >= 16)
		return;
	m->route[line].fn = fn;
	m->route[line].ctx = ctx;
}

int machine__line_level(const struct machine *m, int line)
{
	return line >= 0 && line < 16 ? (m->line_levels >> line) & 1 : 0;
}

int machine__add_tick(struct machine *m, machine_tick_fn *fn, void *ctx)
{
	if (m->nticks == MACHINE_MAX_HOOKS)
		return -ENOSPC;
	m->ticks[m->nticks].fn = fn;
	m->ticks[m->nticks++].ctx = ctx;
	return 0;
}

/* Runs the safe-point callbacks. */
static void ticks(struct machine *m)
{
	for (int i = 0; i < m->nticks; i++)
		m->ticks[i].fn(m->ticks[i].ctx);
}

static void on_exit_port(void *ctx, uint32_t value)
{
	struct machine *m = ctx;
	if (m->state != RUN_GOING)
		return;
	m->exit_code = value;
	m->state = value == EXIT_CODE_PASS ? RUN_PASS : RUN_FAIL;
}

int machine__add(struct machine *m, struct hw *hw)
{
	if (!hw)
		return -ENOMEM;
	if (m->ndevs == MACHINE_MAX_DEVS) {
		hw->ops->destroy(hw);
		return -ENOSPC;
	}
	m->devs[m->ndevs++] = hw;
	if (hw->irq >= 0 && hw->irq < 16)
		m->irq_dev[hw->irq] = hw->name;
	return 0;
}

/* Creates the platform devices and maps their ranges. Returns 0 or -errno. */
static int platform(struct machine *m, const struct machine_cfg *cfg)
{
	struct hw_env env = { .clock = &m->clock, .mem = &m->mem,
			      .irq_set = route_irq, .irq_ctx = m };
	struct hw *iodelay, *exitp, *scratch;
	int rc;

	m->pic = pic__create(&env);
	if ((rc = machine__add(m, m->pic)))
		return rc;
	m->pit = pit__create(&env, IRQ_PIT);
	if ((rc = machine__add(m, m->pit)))
		return rc;
	m->com1 = uart__create(&env, "com1", IRQ_COM1, &(struct uart_backend){ .out_fd = cfg->console_fd, .in_fd = -1,
							     .wire_loopback = cfg->com1_loopback });
	if ((rc = machine__add(m, m->com1)))
		return rc;
	iodelay = iodelay__create(&env);
	if ((rc = machine__add(m, iodelay)))
		return rc;
	exitp = debugexit__create(&env, on_exit_port, m);
	if ((rc = machine__add(m, exitp)))
		return rc;
	scratch = scratch__create(&env, 4096);
	if ((rc = machine__add(m, scratch)))
		return rc;
	if (cfg->ata_disk) {
		m->ata = ata__create(&env, "ata", IRQ_ATA, cfg->ata_disk);
		if ((rc = machine__add(m, m->ata)))
			return rc;
		rc = bus__register(&m->bus, BUS_PIO, PORT_ATA, 8, m->ata, 0);
		rc = rc ? rc : bus__register(&m->bus, BUS_PIO, PORT_ATA_CTRL, 1, m->ata, ATA_CTRL_OFF);
		if (rc)
			return rc;
	}
	if (cfg->ringblk_disk) {
		m->ringblk = ringblk__create(&env, "ringblk", RINGBLK_IRQ, cfg->ringblk_disk);
		if ((rc = machine__add(m, m->ringblk)))
			return rc;
		rc = bus__register(&m->bus, BUS_MMIO, RINGBLK_BASE, RINGBLK_SIZE, m->ringblk, 0);
		if (rc)
			return rc;
	}

	rc = bus__register(&m->bus, BUS_PIO, PORT_PIC_MASTER, 2, m->pic, 0);
	rc = rc ? rc : bus__register(&m->bus, BUS_PIO, PORT_PIC_SLAVE, 2, m->pic, PIC_SLAVE_OFF);
	rc = rc ? rc : bus__register(&m->bus, BUS_PIO, PORT_PIT, 4, m->pit, 0);
	rc = rc ? rc : bus__register(&m->bus, BUS_PIO, PORT_IODELAY, 1, iodelay, 0);
	rc = rc ? rc : bus__register(&m->bus, BUS_PIO, PORT_EXIT, 4, exitp, 0);
	rc = rc ? rc : bus__register(&m->bus, BUS_PIO, PORT_COM1, 8, m->com1, 0);
	rc = rc ? rc : bus__register(&m->bus, BUS_MMIO, MMIO_SCRATCH, 4096, scratch, 0);
	return rc;
}

int machine__init(struct machine *m, const struct machine_cfg *cfg, void *ram, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	clock__init(&m->clock);
	bus__init(&m->bus);
	m->mem.host = ram;
	m->mem.size = ram_size;
	m->mem.on_read = dma_read;
	m->mem.on_read_ctx = m;
	m->exit_cost_ns = cfg->exit_cost_ns ? cfg->exit_cost_ns : 1000;
	m->vtime_limit_ns = cfg->vtime_limit_ns;
	int rc = platform(m, cfg);
	if (rc)
		machine__destroy(m);
	return rc;
}

void machine__destroy(struct machine *m)
{
	for (int i = m->ndevs - 1; i >= 0; i--)
		m->devs[i]->ops->destroy(m->devs[i]);
	m->ndevs = 0;
}

/* Returns 1 the first time an unserved address is seen, 0 after. */
static int first_report(struct machine *m, const struct bus_access *a)
{
	if (a->space == BUS_PIO) {
		uint16_t p = (uint16_t)a->addr;
		int seen = m->pio_reported[p >> 3] & (1u << (p & 7));
		m->pio_reported[p >> 3] |= (uint8_t)(1u << (p & 7));
		return !seen;
	}
	return m->unhandled == 1;  /* MMIO: report the first only */
}

static void emit(struct machine *m, struct exit_rec *r)
{
	r->seq = m->seq++;
	r->vtime = m->clock.now;
	m->counts[r->kind]++;
	for (int i = 0; i < m->nhooks; i++)
		m->hooks[i].fn(m->hooks[i].ctx, r);
}

/* The guest ran since the last exit: log the stores it made through mapped
 * register pages before anything else happens at this exit. */
static void mapped_writes(struct machine *m)
{
	struct hw_reg_write w[16];
	for (int i = 0; i < m->ndevs; i++) {
		struct hw *hw = m->devs[i];
		if (!hw->ops->mapped_writes)
			continue;
		int n = hw->ops->mapped_writes(hw, w, 16);
		for (int k = 0; k < n; k++) {
			struct exit_rec rec = { .kind = EXIT_MAPPED, .off = w[k].off, .value = w[k].value,
						.size = (uint8_t)w[k].size, .write = 1, .dev = hw->name,
						.model = hw->ops->model };
			emit(m, &rec);
		}
	}
}

/* gmem on_read: a device read guest memory. */
static void dma_read(void *ctx, uint64_t gpa, const void *data, uint64_t len)
{
	struct machine *m = ctx;
	struct exit_rec rec = { .kind = EXIT_DMA, .addr = gpa, .blob = data,
				.blob_len = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len) };
	emit(m, &rec);
}

/* Lets devices notice memory-mapped doorbells, then charges one exit. */
static void after_exit(struct machine *m)
{
	for (int i = 0; i < m->ndevs; i++)
		if (m->devs[i]->ops->poll)
			m->devs[i]->ops->poll(m->devs[i]);
	clock__run_until(&m->clock, m->clock.now + m->exit_cost_ns);
	ticks(m);
	if (m->vtime_limit_ns && m->clock.now >= m->vtime_limit_ns && m->state == RUN_GOING)
		m->state = RUN_VTIMEOUT;
}

void machine__access(struct machine *m, struct bus_access *a, uint64_t rip)
{
	mapped_writes(m);
	struct bus_range *r = bus__find(&m->bus, a->space, a->addr);
	struct exit_rec rec = { .kind = a->space == BUS_PIO ? EXIT_PIO : EXIT_MMIO,
				.addr = a->addr, .size = a->size, .write = a->write,
				.rip = rip };
	if (r) {
		r->exits++;
		rec.off = a->addr - r->base + r->dev_off;
		m->note.path = PATH_DIRECT;
		m->note.sm_state = m->note.mode = NULL;
		r->fn(r->opaque, r, a, rec.off);
		if (m->access_filter.fn)
			m->access_filter.fn(m->access_filter.ctx, r->hw->name, rec.off, a);
		rec.dev = r->hw->name;
		rec.model = r->hw->ops->model;
		rec.path = m->note.path;
		rec.sm_state = m->note.sm_state;
		rec.mode = m->note.mode;
	} else {
		m->unhandled++;
		if (!a->write)
			a->value = a->size >= 8 ? ~0ull : (1ull << (a->size * 8)) - 1;
		if (first_report(m, a))
			fprintf(stderr, "devirt: unhandled %s %s at 0x%llx (size %u); reads return all-ones\n",
				a->space == BUS_PIO ? "port" : "MMIO", a->write ? "write" : "read",
				(unsigned long long)a->addr, a->size);
	}
	if (!a->write && a->size < 8)
		a->value &= (1ull << (a->size * 8)) - 1;
	rec.value = a->value;
	emit(m, &rec);
	after_exit(m);
}

int machine__irq_pending(struct machine *m)
{
	return pic__pending(m->pic);
}

int machine__irq_ack(struct machine *m, uint64_t rip)
{
	int vec = pic__ack(m->pic);
	struct exit_rec rec = { .kind = EXIT_IRQ, .value = (uint64_t)vec, .rip = rip };
	emit(m, &rec);
	return vec;
}

int machine__halt(struct machine *m, uint64_t rip)
{
	mapped_writes(m);
	struct exit_rec rec = { .kind = EXIT_HLT, .rip = rip };
	emit(m, &rec);
	after_exit(m);
	while (m->state == RUN_GOING && !pic__pending(m->pic)) {
		uint64_t next = clock__next(&m->clock);
		if (next == UINT64_MAX) {
			m->state = RUN_HUNG;
			break;
		}
		if (m->vtime_limit_ns && next >= m->vtime_limit_ns) {
			clock__run_until(&m->clock, m->vtime_limit_ns);
			m->state = RUN_VTIMEOUT;
			break;
		}
		clock__run_until(&m->clock, next);
		ticks(m);
	}
	return m->state == RUN_GOING ? 0 : -1;
}

int machine__add_hook(struct machine *m, machine_trace_fn *fn, void *ctx)
{
	if (m->nhooks == MACHINE_MAX_HOOKS)
		return -ENOSPC;
	m->hooks[m->nhooks].fn = fn;
	m->hooks[m->nhooks++].ctx = ctx;
	return 0;
}

uint64_t machine__exits_of(struct machine *m, struct hw *hw, int space)
{
	uint64_t n = 0;
	for (int i = 0; i < m->bus.n[space]; i++)
		if (m->bus.r[space][i].hw == hw)
			n += m->bus.r[space][i].exits;
	return n;
}
