/*
 * The replay rig (see rig.h): building the machine and engine a recorded
 * run had, the driving loop over its events, and the strict comparison of
 * every emitted event with the recorded one of the same seq.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "rig.h"
#include "../devices/regnames.h"
#include "../devices/ringblk.h"
#include "../engine/edev.h"

/* Returns the rtrace kind of an emitted event kind. */
static int kind_of(int exit_kind)
{
	switch (exit_kind) {
	case EXIT_PIO: case EXIT_MMIO: return RK_ACCESS;
	case EXIT_HLT: return RK_HALT;
	case EXIT_IRQ: return RK_INJECT;
	case EXIT_LINE: return RK_LINE;
	case EXIT_MAPPED: return RK_MAPPED;
	default: return RK_DMA;
	}
}

static const char *const kind_names[] = { "access", "halt", "inject", "line", "mapped", "dma" };

/* Returns 1 when two optional strings are equal. */
static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

void rig__diverge(struct rig *g, size_t at, const char *fmt, ...)
{
	va_list ap;
	if (g->diverged)
		return;
	g->diverged = 1;
	g->div_at = at;
	va_start(ap, fmt);
	vsnprintf(g->div, sizeof(g->div), fmt, ap);
	va_end(ap);
}

/* Strict mode: compares one emitted event with the recorded event of the
 * same position; the first difference is the divergence. */
static void strict_compare(struct rig *g, const struct exit_rec *r)
{
	const struct rtrace *rt = g->rt;
	size_t at = g->hc++;
	if (at >= rt->n) {
		rig__diverge(g, rt->n - 1, "an extra %s event (seq %llu) after the recording's last",
			     kind_names[kind_of(r->kind)], (unsigned long long)r->seq);
		return;
	}
	const struct rev *e = &rt->ev[at];
	int k = kind_of(r->kind);
	const char *dev = rtrace__str(rt, e->dev);
	if (k != e->kind) {
		rig__diverge(g, at, "a %s event where the recording has a %s", kind_names[k], kind_names[e->kind]);
		return;
	}
	if (r->vtime != e->vtime) {
		rig__diverge(g, at, "%s at virtual time %llu ns where the recording has %llu ns", kind_names[k],
			     (unsigned long long)r->vtime, (unsigned long long)e->vtime);
		return;
	}
	switch (k) {
	case RK_ACCESS: {
		const char *reg = regnames__lookup(r->model, r->off, r->write);
		if ((r->kind == EXIT_MMIO) != e->mmio || r->addr != e->addr || r->size != e->size ||
		    r->write != e->write || !same(r->dev, dev)) {
			rig__diverge(g, at, "an access to %s 0x%llx/%u (%c) where the recording has %s 0x%llx/%u (%c)",
				     r->kind == EXIT_MMIO ? "mmio" : "pio", (unsigned long long)r->addr, r->size,
				     r->write ? 'w' : 'r', e->mmio ? "mmio" : "pio", (unsigned long long)e->addr,
				     e->size, e->write ? 'w' : 'r');
		} else if (r->value != e->value) {
			rig__diverge(g, at, "%s %c %s: %s 0x%llx where the recording has 0x%llx", dev ? dev : "-",
				     e->write ? 'w' : 'r', reg ? reg : "-", e->write ? "wrote" : "read",
				     (unsigned long long)r->value, (unsigned long long)e->value);
		} else if (r->path != e->path || !same(r->sm_state, rtrace__str(rt, e->sm)) ||
			   !same(r->mode, rtrace__str(rt, e->mode))) {
			rig__diverge(g, at, "engine annotation path=%s state=%s mode=%s where the recording has"
				     " path=%s state=%s mode=%s", access_path__name(r->path),
				     r->sm_state ? r->sm_state : "-", r->mode ? r->mode : "-",
				     access_path__name(e->path), rtrace__str(rt, e->sm) ? rtrace__str(rt, e->sm) : "-",
				     rtrace__str(rt, e->mode) ? rtrace__str(rt, e->mode) : "-");
		} else if (!same(reg, rtrace__str(rt, e->reg)) || r->rip != e->rip) {
			rig__diverge(g, at, "register %s rip 0x%llx where the recording has %s rip 0x%llx",
				     reg ? reg : "-", (unsigned long long)r->rip,
				     rtrace__str(rt, e->reg) ? rtrace__str(rt, e->reg) : "-", (unsigned long long)e->rip);
		}
		break;
	}
	case RK_HALT:
		if (r->rip != e->rip)
			rig__diverge(g, at, "halt at rip 0x%llx where the recording has 0x%llx",
				     (unsigned long long)r->rip, (unsigned long long)e->rip);
		break;
	case RK_INJECT:
		if (r->value != e->value)
			rig__diverge(g, at, "interrupt vector 0x%llx injected where the recording has 0x%llx",
				     (unsigned long long)r->value, (unsigned long long)e->value);
		break;
	case RK_LINE:
		if (r->addr != e->addr || r->value != e->value || r->target != e->target || !same(r->dev, dev))
			rig__diverge(g, at, "line %llu of %s %s (to the %s) where the recording has line %llu of %s %s"
				     " (to the %s)", (unsigned long long)r->addr, r->dev ? r->dev : "-",
				     r->value ? "raised" : "lowered", r->target == LINE_MONITOR ? "monitor" : "guest",
				     (unsigned long long)e->addr, dev ? dev : "-", e->value ? "raised" : "lowered",
				     e->target == LINE_MONITOR ? "monitor" : "guest");
		break;
	case RK_MAPPED:
		if (r->off != e->off || r->size != e->size || r->value != e->value || !same(r->dev, dev))
			rig__diverge(g, at, "mapped store 0x%llx to %s+0x%llx/%u where the recording has 0x%llx to"
				     " +0x%llx/%u", (unsigned long long)r->value, r->dev ? r->dev : "-",
				     (unsigned long long)r->off, r->size, (unsigned long long)e->value,
				     (unsigned long long)e->off, e->size);
		break;
	default:
		if (r->addr != e->addr || r->blob_len != e->blob_len ||
		    memcmp(r->blob, rt->blobs + e->blob, e->blob_len))
			rig__diverge(g, at, "device read %u bytes of guest memory at 0x%llx%s where the recording"
				     " has %u at 0x%llx", r->blob_len, (unsigned long long)r->addr,
				     r->addr == e->addr && r->blob_len == e->blob_len ? " (other bytes)" : "",
				     e->blob_len, (unsigned long long)e->addr);
		break;
	}
}

static void fire(struct rig *g, size_t i, int tick);

/* Machine hook: strict comparison; and a mapped store the device notices
 * now is where requests made after it take effect, as live. */
static void on_event(void *ctx, const struct exit_rec *r)
{
	struct rig *g = ctx;
	if (g->cfg.trace)
		g->cfg.trace(g->cfg.trace_ctx, r);
	if (g->muted)
		return;
	if (g->mode == RM_STRICT)
		strict_compare(g, r);
	if (r->kind == EXIT_MAPPED && g->mqn) {
		size_t i = g->mq[g->mqh];
		g->mqh = (g->mqh + 1) % 16;
		g->mqn--;
		fire(g, i, 0);                  /* this exit's safe point acts on them */
	}
}

/* eng_sink_fn: forwards the engine's records to the configured sink (set
 * after the engine exists: the trace store starts with the rig's disks). */
static void sink(void *ctx, const struct eng_rec *r)
{
	struct rig *g = ctx;
	if (g->cfg.sink)
		g->cfg.sink(g->cfg.sink_ctx, r);
}

/* Line filter: in loose and conform modes the timer's line comes from
 * the recording (rig__run delivers it), not from the rig's own PIT. */
static int line_filter(void *ctx, int line, int level)
{
	struct rig *g = ctx;
	return g->mode == RM_STRICT || line != IRQ_PIT;
}

/* eng_trap_fn: ringblk's register page as a memory slot (pass-through)
 * or trapped; the guest model asks which before each access. */
static int trap_slot(void *ctx, struct hw *hw, int trapped)
{
	struct rig *g = ctx;
	g->bar_trapped = trapped;
	return 0;
}

const char *rig__engine_device(const char *dev)
{
	return dev && !strcmp(dev, "uart") ? "com1" : dev;
}

void rig__parse_policy(const char *policy, struct engine_cfg *ec)
{
	const char *p;
	if (!policy)
		return;
	if ((p = strstr(policy, "midseq=")))
		ec->midseq = !strncmp(p + 7, "takeover", 8) ? MIDSEQ_TAKEOVER : MIDSEQ_WAIT;
	if ((p = strstr(policy, "block=")))
		ec->block = !strncmp(p + 6, "defer", 5) ? EDEV_BLOCK_DEFER : EDEV_BLOCK_BUSY;
	if ((p = strstr(policy, "wait_bound_ns=")))
		ec->wait_bound_ns = strtoull(p + 14, NULL, 10);
	if ((p = strstr(policy, "pause_bound_ns=")))
		ec->pause_bound_ns = strtoull(p + 15, NULL, 10);
}

/* Adds the run's triggers and starts its initially virtualized devices.
 * Returns 0 or -errno with err set. */
static int start_engine(struct rig *g, char *err, size_t errlen)
{
	const struct rrun *run = &g->rt->run;
	char buf[1024], *save = NULL;
	if (run->switches) {
		snprintf(buf, sizeof(buf), "%s", run->switches);
		for (char *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
			char why[128];
			if (g->ntrig == RIG_MAX_TRIG || engine__parse_trigger(s, &g->trig[g->ntrig], why, sizeof(why))) {
				snprintf(err, errlen, "run %lld: switch '%s': %s", (long long)run->id, s,
					 g->ntrig == RIG_MAX_TRIG ? "too many" : why);
				return -EINVAL;
			}
			if (engine__add_trigger(g->e, &g->trig[g->ntrig])) {
				snprintf(err, errlen, "run %lld: switch '%s': no such device", (long long)run->id, s);
				return -EINVAL;
			}
			g->ntrig++;
		}
	}
	if (run->modes) {
		snprintf(buf, sizeof(buf), "%s", run->modes);
		for (char *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
			if (engine__start_virtualized(g->e, rig__engine_device(s))) {
				snprintf(err, errlen, "run %lld: cannot start %s virtualized", (long long)run->id, s);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Returns 1 when the recorded run kept ringblk's page trapped throughout
 * (--ringblk-trap): its accesses exited while the device was pass-through. */
static int bar_fixed(const struct rtrace *rt)
{
	if (rt->run.config && strstr(rt->run.config, "--ringblk-trap"))
		return 1;
	for (size_t i = 0; i < rt->n; i++) {
		const struct rev *e = &rt->ev[i];
		if (e->kind == RK_ACCESS && e->mmio && e->path == PATH_DIRECT && same(rtrace__str(rt, e->dev), "ringblk"))
			return 1;
	}
	return 0;
}

int rig__init(struct rig *g, struct rtrace *rt, const uint32_t *nx, const struct rig_cfg *cfg,
	      char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->rt = rt;
	g->nx = nx;
	g->cfg = *cfg;
	g->mode = cfg->mode;
	g->ret_action = -1;
	g->disk[0].fd = g->disk[1].fd = -1;
	g->ram_size = rt->run.mem ? rt->run.mem : 64ull << 20;
	g->ram = mmap(NULL, g->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->ram == MAP_FAILED) {
		g->ram = NULL;
		snprintf(err, errlen, "cannot map %llu bytes of guest RAM", (unsigned long long)g->ram_size);
		return -ENOMEM;
	}
	int rc = rtrace__disk(rt, 0, NULL, &g->disk[0], err, errlen);
	if (!rc && !rt->is_import)
		rc = rtrace__disk(rt, 1, NULL, &g->disk[1], err, errlen);
	if (rc)
		return rc;
	struct machine_cfg mc = { .exit_cost_ns = rt->run.exit_cost_ns, .console_fd = -1,
				  .ata_disk = &g->disk[0], .ringblk_disk = rt->is_import ? NULL : &g->disk[1] };
	if ((rc = machine__init(&g->m, &mc, g->ram, g->ram_size))) {
		snprintf(err, errlen, "cannot build the machine: %s", strerror(-rc));
		return rc;
	}
	memset(g->m.pio_reported, 0xff, sizeof(g->m.pio_reported));   /* the live run reported them */
	g->bar_fixed = g->m.ringblk && bar_fixed(rt);
	g->bar_trapped = g->bar_fixed;
	machine__add_hook(&g->m, on_event, g);
	machine__set_line_filter(&g->m, line_filter, g);
	rig__parse_policy(rt->run.policy, &g->ecfg);
	g->ecfg.bug = cfg->bug;
	g->ecfg.sink = sink;
	g->ecfg.sink_ctx = g;
	if (g->m.ringblk && !g->bar_fixed) {
		g->ecfg.trap = trap_slot;
		g->ecfg.trap_ctx = g;
	}
	if ((rc = engine__create(&g->e, &g->m, &g->ecfg))) {
		snprintf(err, errlen, "cannot start the engine: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

int rig__start(struct rig *g, char *err, size_t errlen)
{
	const struct rtrace *rt = g->rt;
	const uint32_t *nx = g->nx;
	/* which device's line brought each vector (the line raised last) */
	uint32_t last = 0;
	for (size_t i = 0; i < rt->n; i++) {
		const struct rev *e = &rt->ev[i];
		if (e->kind == RK_LINE && e->value && e->target == LINE_GUEST)
			last = e->dev;
		else if (e->kind == RK_INJECT && e->value < 256 && !g->vecdev[e->value])
			g->vecdev[e->value] = last;
	}
	/* guest memory read before the first exit (an initially virtualized
	 * device's capture) */
	for (; g->pc < rt->n && g->pc < nx[0]; g->pc++)
		if (rt->ev[g->pc].kind == RK_DMA)
			gmem__write(&g->m.mem, rt->ev[g->pc].addr, rt->blobs + rt->ev[g->pc].blob,
				    rt->ev[g->pc].blob_len);
	return start_engine(g, err, errlen);
}

void rig__destroy(struct rig *g)
{
	if (g->e)
		engine__destroy(g->e);
	if (g->m.ndevs)
		machine__destroy(&g->m);
	blk__close(&g->disk[0]);
	blk__close(&g->disk[1]);
	if (g->ram)
		munmap(g->ram, g->ram_size);
	free(g->diffs);
	free(g->req);
	g->req = NULL;
	g->e = NULL;
	g->ram = NULL;
	g->diffs = NULL;
}

uint32_t *rig__next_exits(const struct rtrace *rt)
{
	uint32_t *nx = malloc((rt->n + 1) * sizeof(*nx));
	if (!nx)
		return NULL;
	nx[rt->n] = (uint32_t)rt->n;
	for (size_t i = rt->n; i-- > 0;)
		nx[i] = rt->ev[i].kind == RK_ACCESS || rt->ev[i].kind == RK_HALT ? (uint32_t)i : nx[i + 1];
	return nx;
}

int rig__boundary(const struct rig *g, size_t i)
{
	const struct rtrace *rt = g->rt;
	if (i >= rt->n)
		return 1;
	int k = rt->ev[i].kind;
	if (k != RK_ACCESS && k != RK_HALT && k != RK_MAPPED)
		return 0;
	return i == 0 || rt->ev[i - 1].kind != RK_MAPPED;
}

int rig__add_request(struct rig *g, size_t at, int action, const char *device)
{
	if (g->nreq == g->capreq) {
		int cap = g->capreq ? g->capreq * 2 : 8;
		struct rig_req *r = realloc(g->req, (size_t)cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		g->req = r;
		g->capreq = cap;
	}
	int k = g->nreq++;
	while (k > 0 && g->req[k - 1].at > at) {
		g->req[k] = g->req[k - 1];
		k--;
	}
	g->req[k] = (struct rig_req){ .at = at, .action = action };
	snprintf(g->req[k].device, sizeof(g->req[k].device), "%s", rig__engine_device(device));
	return 0;
}

/* Copies into guest RAM the memory devices read while serving the exit
 * that event i belongs to (dma rows up to the next exit after it). In
 * loose mode rows in the monitor's private memory are left out: there the
 * rig's own engine keeps its rings. */
static void preload(struct rig *g, size_t i)
{
	const struct rtrace *rt = g->rt;
	size_t e = g->nx[i];
	size_t limit = e < rt->n ? g->nx[e + 1] : rt->n;
	for (; g->pc < limit; g->pc++) {
		const struct rev *d = &rt->ev[g->pc];
		if (d->kind != RK_DMA)
			continue;
		if (g->mode != RM_STRICT && d->addr < MONITOR_PRIV_BASE + MONITOR_PRIV_SIZE &&
		    d->addr + d->blob_len > MONITOR_PRIV_BASE)
			continue;
		gmem__write(&g->m.mem, d->addr, rt->blobs + d->blob, d->blob_len);
		for (int k = 0; k < g->nopen; k++) {
			if (g->open[k] == g->pc) {    /* reached: no longer early */
				g->open[k] = g->open[--g->nopen];
				break;
			}
		}
	}
}

/* Writes the dma rows planned for event i (early.c) into guest RAM; those
 * not yet reached by the preload cursor stay "open" for checkpoints. */
static void preload_early(struct rig *g, size_t i)
{
	const struct rtrace *rt = g->rt;
	for (uint32_t k = rt->early_at[i]; k < rt->early_at[i + 1]; k++) {
		uint32_t row = rt->early_rows[k];
		const struct rev *w = &rt->ev[row];
		gmem__write(&g->m.mem, w->addr, rt->blobs + w->blob, w->blob_len);
		if (row >= g->pc && g->nopen < RIG_MAX_OPEN)
			g->open[g->nopen++] = row;
	}
}

/* Runs the machine's safe-point callbacks (the engine acts on requests). */
static void safepoint(struct rig *g)
{
	for (int k = 0; k < g->m.nticks; k++)
		g->m.ticks[k].fn(g->m.ticks[k].ctx);
}

/* Requests the switches due after recorded event i; tick: run the safe
 * point now (outside an exit). */
static void fire(struct rig *g, size_t i, int tick)
{
	while (g->next_req < g->nreq && g->req[g->next_req].at <= i) {
		struct rig_req *q = &g->req[g->next_req++];
		if (g->mode == RM_STRICT)
			g->mode = RM_LOOSE;
		engine__request(g->e, q->device, q->action);
		if (tick)
			safepoint(g);
	}
}

/* After recorded event i: fires the requests due by then (a mapped store
 * written to the page fires when the device notices it, at the next
 * exit), and in a probe brings the device back after its lone switch and
 * the dwell. */
static void after_event(struct rig *g, size_t i, int access, int paged)
{
	if (!paged)
		fire(g, i, 1);
	if (g->ret_action < 0 || g->ret_state == 2 || !access || g->next_req < g->nreq)
		return;                         /* nothing to bring back (yet) */
	int st = engine__state(g->e, g->ret_device);
	if (g->ret_state == 0) {
		int want = g->ret_action == EA_DEVIRTUALIZE ? ES_VIRTUALIZED : ES_PASSTHROUGH;
		uint64_t done, aborted, pending;
		engine__counts(g->e, &done, &aborted, &pending);
		if (pending)
			return;
		if (st != want) {
			g->ret_state = 2;       /* the switch was refused or aborted: nothing to undo */
			return;
		}
		g->ret_state = 1;
		g->dwell_left = g->dwell;
	}
	if (g->dwell_left && --g->dwell_left)
		return;
	g->ret_state = 2;
	engine__request(g->e, g->ret_device, g->ret_action);
	safepoint(g);
}

int rig__run(struct rig *g, size_t until)
{
	const struct rtrace *rt = g->rt;
	while (!g->diverged && g->dc < until && g->dc < rt->n) {
		size_t i = g->dc;
		const struct rev *e = &rt->ev[i];
		int rc = 0;
		preload_early(g, i);
		switch (e->kind) {
		case RK_ACCESS:
			preload(g, i);
			rc = guest__access(g, i);
			break;
		case RK_MAPPED:
			preload(g, i);
			rc = guest__mapped(g, i);
			break;
		case RK_HALT:
			preload(g, i);
			rc = guest__halt(g, i);
			break;
		case RK_INJECT:
			rc = guest__inject(g, i);
			break;
		case RK_LINE:
			if (g->mode != RM_STRICT && e->addr == IRQ_PIT && same(rtrace__str(rt, e->dev), "pit"))
				machine__deliver_line(&g->m, IRQ_PIT, (int)e->value);
			break;
		default:
			if (g->pc <= i) {       /* after the last exit */
				g->pc = i + 1;
				gmem__write(&g->m.mem, e->addr, rt->blobs + e->blob, e->blob_len);
			}
			break;
		}
		if (rc || g->diverged)
			break;
		if (g->dc == i)
			g->dc = i + 1;
		after_event(g, g->dc - 1, e->kind == RK_ACCESS || e->kind == RK_MAPPED,
			    e->kind == RK_MAPPED && g->paged);
	}
	return g->diverged ? -1 : 0;
}

int rig__finish(struct rig *g)
{
	const struct rtrace *rt = g->rt;
	if (g->diverged)
		return -1;
	if (g->mode == RM_STRICT && g->hc < rt->n)
		rig__diverge(g, g->hc, "the replay ended with %zu recorded events not reproduced", rt->n - g->hc);
	const char *v = rt->run.verdict;
	if (v && (!strcmp(v, "pass") || !strcmp(v, "fail")) && strcmp(v, run_state__name(g->m.state)))
		rig__diverge(g, rt->n - 1, "the replay ends %s where the run ended %s", run_state__name(g->m.state), v);
	return g->diverged ? -1 : 0;
}
