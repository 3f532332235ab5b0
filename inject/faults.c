/*
 * Fault injection (faults.h). Deliveries the injector owes (a delayed or
 * duplicated edge, a held completion) are clock events, so they happen at
 * safe points and at deterministic virtual times; spurious edges are raised
 * from a safe-point tick. Edges are what the 8259A latches, so a delayed or
 * spurious interrupt for a device that is not asserting its line is a
 * raise-then-lower pulse.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "faults.h"
#include "../devices/ata.h"
#include "../devices/ringblk.h"
#include "../devices/uart.h"

#define RNG_STREAM_FAULTS 2

int faults__enabled(const struct campaign_cfg *c)
{
	for (int k = 0; k < FK_N; k++)
		if (c->fault[k].when != FW_OFF)
			return 1;
	return 0;
}

/* Returns the campaign device serving under engine name dev, or -1 if it
 * is none or faults are not injected into it. */
static int fdev(struct faults *f, const char *dev)
{
	if (!dev)
		return -1;
	for (int d = 0; d < CD_N; d++)
		if (!strcmp(dev, camp_dev__engine_name(d)))
			return f->c->fault_devs & (1u << d) ? d : -1;
	return -1;
}

/* Returns 1 if the fault of kind on device d fires at this opportunity. */
static int decide(struct faults *f, int kind, int d)
{
	const struct fault_spec *s = &f->c->fault[kind];
	if (s->when == FW_OFF || (f->c->max_faults && f->total >= f->c->max_faults))
		return 0;
	if (f->c->fault_during_switch) {
		int st = f->e ? engine__state(f->e, camp_dev__engine_name(d)) : ES_PASSTHROUGH;
		if (st == ES_PASSTHROUGH || st == ES_VIRTUALIZED || st < 0)
			return 0;        /* no switch of this device in progress: not an opportunity */
	}
	uint64_t n = ++f->opp[kind];
	switch (s->when) {
	case FW_RATE:
		return prng__chance(&f->rng, s->rate);
	case FW_EVERY:
		return n % s->arg == 0;
	case FW_SEQ:
	case FW_VTIME:
		if (f->once[kind] || (s->when == FW_SEQ ? f->m->seq : f->m->clock.now) < s->arg)
			return 0;
		return f->once[kind] = 1;
	}
	return 0;
}

/* Counts and records one injected fault. */
static void record(struct faults *f, int kind, int d, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void record(struct faults *f, int kind, int d, const char *fmt, ...)
{
	char detail[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	f->injected[kind]++;
	f->total++;
	if (f->t)
		trace__fault(f->t, f->m->seq, f->m->clock.now, camp_dev__engine_name(d), fault__name(kind), detail);
}

/* Delivers an edge on line: a raise, followed by a lower when the device
 * is not asserting the line (so the PIC sees a pulse, and the line is left
 * as the device drives it). */
static void edge(struct faults *f, int line)
{
	machine__deliver_line(f->m, line, 1);
	if (!f->dev_level[line])
		machine__deliver_line(f->m, line, 0);
}

/* Clock event: an owed delivery is due. */
static void pending_fired(void *ctx, uint64_t now)
{
	struct fault_pending *p = ctx;
	struct faults *f = p->f;
	p->used = 0;
	if (!f->active)
		return;
	if (p->kind == FK_IRQ_DUPLICATE && f->dev_level[p->line])
		machine__deliver_line(f->m, p->line, 0);   /* re-assert: a second edge */
	edge(f, p->line);
}

/* Schedules a delivery on line at now + delay. Returns 0, or -ENOSPC when
 * too many are pending (the fault is then not injected). */
static int owe(struct faults *f, int line, int kind, uint64_t delay)
{
	for (int i = 0; i < FAULT_PENDING; i++) {
		struct fault_pending *p = &f->pend[i];
		if (p->used)
			continue;
		clock__event_init(&p->ev, pending_fired, p);
		if (clock__arm(&f->m->clock, &p->ev, f->m->clock.now + delay))
			return -ENOSPC;
		p->f = f;
		p->line = line;
		p->kind = kind;
		p->used = 1;
		return 0;
	}
	return -ENOSPC;
}

/* Returns 1 if a delivery can be scheduled. */
static int can_owe(struct faults *f)
{
	for (int i = 0; i < FAULT_PENDING; i++)
		if (!f->pend[i].used)
			return 1;
	return 0;
}

/* machine_line_filter_fn: interrupt faults. Returns 1 to let the change through. */
static int line_filter(void *ctx, int line, int level)
{
	struct faults *f = ctx;
	if (line < 0 || line >= 16)
		return 1;
	f->dev_level[line] = (uint8_t)!!level;
	if (!f->active)
		return 1;
	int d = fdev(f, f->m->irq_dev[line]);
	if (d < 0)
		return 1;
	if (d == CD_ATA && f->slow) {
		if (level)
			f->slow_held = 1;       /* the completion interrupt waits for the slow window */
		return !level;
	}
	if (!level)
		return 1;
	const char *dev = camp_dev__engine_name(d);
	if (decide(f, FK_IRQ_DROP, d)) {
		record(f, FK_IRQ_DROP, d, "%s raise of line %d dropped", dev, line);
		return 0;
	}
	if (can_owe(f) && decide(f, FK_IRQ_DELAY, d) && !owe(f, line, FK_IRQ_DELAY, f->c->irq_delay_ns)) {
		record(f, FK_IRQ_DELAY, d, "%s raise of line %d delayed by %llu ns", dev, line,
		       (unsigned long long)f->c->irq_delay_ns);
		return 0;
	}
	if (d != CD_ATA && can_owe(f) && decide(f, FK_SLOW_COMPLETION, d) &&
	    !owe(f, line, FK_SLOW_COMPLETION, f->c->slow_ns)) {
		record(f, FK_SLOW_COMPLETION, d, "%s completion interrupt (line %d) held for %llu ns", dev, line,
		       (unsigned long long)f->c->slow_ns);
		return 0;
	}
	if (can_owe(f) && decide(f, FK_IRQ_DUPLICATE, d) &&
	    !owe(f, line, FK_IRQ_DUPLICATE, f->c->duplicate_gap_ns))
		record(f, FK_IRQ_DUPLICATE, d, "%s raise of line %d repeated after %llu ns", dev, line,
		       (unsigned long long)f->c->duplicate_gap_ns);
	return 1;
}

/* Clock event: the ATA slow-completion window is over; the interrupt the
 * device raised meanwhile (or acknowledged early through a status read the
 * guest should not have seen) arrives now. */
static void slow_over(void *ctx, uint64_t now)
{
	struct faults *f = ctx;
	f->slow = 0;
	if (f->active && f->slow_held)
		edge(f, IRQ_ATA);
	f->slow_held = 0;
}

/* ATA: error status at command completion, slow completion. An error
 * holds, as on a real drive, until the next command: every status read
 * shows ERR without DRQ and the error register ABRT, so drivers that poll
 * the alternate status and then read the status both see it. */
static void ata_filter(struct faults *f, uint64_t off, struct bus_access *a)
{
	if (a->write) {
		if (off != 7)
			return;
		f->ata_cmd = 1;
		f->ata_abrt = 0;
		if (!f->slow && decide(f, FK_SLOW_COMPLETION, CD_ATA)) {
			clock__event_init(&f->slow_ev, slow_over, f);
			if (clock__arm(&f->m->clock, &f->slow_ev, f->m->clock.now + f->c->slow_ns))
				return;
			f->slow = 1;
			f->slow_held = 0;
			record(f, FK_SLOW_COMPLETION, CD_ATA, "ata command 0x%02llx: busy for %llu ns more",
			       (unsigned long long)(a->value & 0xff), (unsigned long long)f->c->slow_ns);
		}
		return;
	}
	int status = off == 7 || off == ATA_CTRL_OFF;
	if (status && f->slow) {
		a->value = (a->value | ATA_SR_BSY) & ~(uint64_t)(ATA_SR_DRQ | ATA_SR_ERR);
		return;
	}
	if (status && f->ata_cmd && !(a->value & ATA_SR_BSY)) {
		f->ata_cmd = 0;
		if (decide(f, FK_ERROR_STATUS, CD_ATA)) {
			f->ata_abrt = 1;
			record(f, FK_ERROR_STATUS, CD_ATA, "ata status 0x%02llx -> 0x%02llx (ERR) until the next command,"
			       " error register ABRT", (unsigned long long)a->value,
			       (unsigned long long)((a->value | ATA_SR_ERR) & ~(uint64_t)ATA_SR_DRQ));
		}
	}
	if (status && f->ata_abrt)
		a->value = (a->value | ATA_SR_ERR) & ~(uint64_t)ATA_SR_DRQ;
	if (off == 1 && f->ata_abrt)
		a->value = ATA_ER_ABRT;
}

/* machine_access_filter_fn: error status and slow completion. */
static void access_filter(void *ctx, const char *dev, uint64_t off, struct bus_access *a)
{
	struct faults *f = ctx;
	int d = fdev(f, dev);
	if (!f->active || d < 0)
		return;
	if (d == CD_ATA) {
		ata_filter(f, off, a);
	} else if (d == CD_UART && !a->write && off == UART_LSR && decide(f, FK_ERROR_STATUS, d)) {
		uint64_t old = a->value;
		a->value |= UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_RXFE;
		record(f, FK_ERROR_STATUS, d, "uart LSR 0x%02llx -> 0x%02llx (overrun, parity, framing)",
		       (unsigned long long)old, (unsigned long long)a->value);
	} else if (d == CD_RINGBLK && !a->write && off == RB_STATUS && decide(f, FK_ERROR_STATUS, d)) {
		uint64_t old = a->value;
		a->value |= RB_STATUS_FATAL;
		record(f, FK_ERROR_STATUS, d, "ringblk STATUS 0x%llx -> 0x%llx (FATAL)", (unsigned long long)old,
		       (unsigned long long)a->value);
	}
}

/* Safe-point tick: one irq_spurious opportunity per device per exit, on a
 * line its device is not asserting. */
static void tick(void *ctx)
{
	struct faults *f = ctx;
	struct machine *m = f->m;
	if (!f->active || f->c->fault[FK_IRQ_SPURIOUS].when == FW_OFF)
		return;
	uint64_t exits = m->counts[EXIT_PIO] + m->counts[EXIT_MMIO] + m->counts[EXIT_HLT];
	if (exits == f->last_exits)
		return;
	f->last_exits = exits;
	struct hw *hws[CD_N] = { m->ata, m->com1, m->ringblk };
	for (int d = 0; d < CD_N; d++) {
		if (!hws[d] || hws[d]->irq < 0 || fdev(f, hws[d]->name) < 0 || f->dev_level[hws[d]->irq])
			continue;
		if (decide(f, FK_IRQ_SPURIOUS, d)) {
			record(f, FK_IRQ_SPURIOUS, d, "spurious edge on line %d", hws[d]->irq);
			edge(f, hws[d]->irq);
		}
	}
}

int faults__attach(struct faults *f, const struct campaign_cfg *c, uint64_t seed, struct machine *m,
		   struct engine *e, struct trace *t)
{
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->m = m;
	f->e = e;
	f->t = t;
	prng__seed(&f->rng, seed, RNG_STREAM_FAULTS);
	for (int l = 0; l < 16; l++)
		f->dev_level[l] = (uint8_t)machine__line_level(m, l);
	if (!faults__enabled(c))
		return 0;
	int rc = machine__add_tick(m, tick, f);
	if (rc)
		return rc;
	machine__set_line_filter(m, line_filter, f);
	machine__set_access_filter(m, access_filter, f);
	f->active = 1;
	return 0;
}

void faults__detach(struct faults *f)
{
	if (!f->active)
		return;
	f->active = 0;
	machine__set_line_filter(f->m, NULL, NULL);
	machine__set_access_filter(f->m, NULL, NULL);
	for (int i = 0; i < FAULT_PENDING; i++)
		if (f->pend[i].used)
			clock__disarm(&f->m->clock, &f->pend[i].ev);
	if (f->slow)
		clock__disarm(&f->m->clock, &f->slow_ev);
}
