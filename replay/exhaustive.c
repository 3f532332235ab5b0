/*
 * Exhaustive injection: for every access of each switchable device and
 * every action that applies there, replay the run with that switch
 * requested right after the access and check that the guest cannot tell.
 *
 * Two rigs. The baseline B replays the run once (strict against the
 * recording; against our own models, conform, for an imported trace) and
 * leaves a checkpoint every K steps where its engine is at rest. The probe
 * P, for injection point i, restores the last checkpoint at or before i,
 * replays to i, injects, and compares what the guest observes with the
 * baseline's (loose mode: inserted polls and waits are not differences).
 * A lone virtualize (devirtualize) is followed, D accesses after it
 * completes, by the opposite switch, so that every probe returns to the
 * baseline's configuration; a roundtrip returns by itself. At each later
 * baseline checkpoint the probe's state is compared with it (ckpt.h): once
 * equal, the rest of the run would replay identically, so the probe stops
 * there. A probe thus costs about K events plus the switch and its
 * settling, whatever the trace length: the whole check grows linearly.
 * B runs ahead only as far as probes need its checkpoints; checkpoints
 * behind the current injection point are freed.
 *
 * A difference the guest would see, or a state that never comes back to
 * the baseline's by the end of the run, is a violation (invariant I1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt.h"
#include "internal.h"

#define DEFAULT_EVERY 32
#define DEFAULT_DWELL 32

/* Switchable devices, by engine name, with their bit in the virt map. */
static const char *const devnames[] = { "ata", "com1", "ringblk" };

struct exh {
	struct rtrace *rt;
	const uint32_t *nx;
	const struct replay_opts *o;
	struct rig b, p;
	struct journal bj, pj;
	struct ckpt *ck;
	size_t nck, lo, cap;        /* live checkpoints are ck[lo .. nck) */
	unsigned every, since;
	uint64_t *ref;              /* import: the baseline's values */
	uint32_t *ref_skip;
	uint8_t *virt;              /* per event: devices virtualized in B (bit per devnames) */
	size_t ppos;                /* the probe's disks hold the baseline journal up to here */
	uint64_t *dist[3];
	size_t ndist[3];
	struct violation *viol;
	size_t nviol, capviol;
	struct replay_result *res;
	struct rig_cfg pcfg;          /* the probe rig's */
	uint64_t restarts;            /* probes replayed from the start */
	char err[256];
};

/* Baseline observation (import): our models' value for read i. */
static void on_obs(void *ctx, size_t i, uint64_t value, size_t skipped)
{
	struct exh *x = ctx;
	x->ref[i] = value;
	x->ref_skip[i] = (uint32_t)skipped;
	for (size_t k = i + 1; k <= i + skipped && k < x->rt->n; k++)
		x->ref[k] = value;
}

/* Returns the devnames index of recorded event i's device, or -1. */
static int dev_index(const struct rtrace *rt, size_t i)
{
	const struct rev *e = &rt->ev[i];
	if (e->kind != RK_ACCESS && e->kind != RK_MAPPED)
		return -1;
	const char *d = rig__engine_device(rtrace__str(rt, e->dev));
	for (int k = 0; d && k < 3; k++)
		if (!strcmp(d, devnames[k]))
			return k;
	return -1;
}

/* Returns 1 when device k is selected by the --devices list. */
static int selected(const char *list, int k)
{
	if (!list)
		return 1;
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save))
		if (!strcmp(s, "all") || !strcmp(rig__engine_device(s), devnames[k]))
			return 1;
	return 0;
}

/* Appends a checkpoint of B. Returns 0 or -ENOMEM. */
static int add_ckpt(struct exh *x)
{
	if (x->nck == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct ckpt *c = realloc(x->ck, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		x->ck = c;
		x->cap = cap;
	}
	const struct ckpt *prev = x->nck > x->lo ? &x->ck[x->nck - 1] : NULL;
	int rc = ckpt__take(&x->b, &x->ck[x->nck], prev, x->bj.n);
	if (!rc)
		x->nck++;
	return rc;
}

/* Advances the baseline until its cursor passes index `until` (or the
 * end), checkpointing every `every` steps where its engine is at rest.
 * Returns 0, 1 (the baseline diverged from the recording) or -ENOMEM. */
static int advance(struct exh *x, size_t until)
{
	struct rig *b = &x->b;
	const struct rtrace *rt = x->rt;
	while (b->dc < until && b->dc < rt->n) {
		size_t i = b->dc;
		if (rig__boundary(b, i) && ++x->since >= x->every && engine__idle(b->e)) {
			if (add_ckpt(x))
				return -ENOMEM;
			x->since = 0;
		}
		uint8_t v = 0;
		for (int k = 0; k < 3; k++)
			v |= (uint8_t)((engine__state(b->e, devnames[k]) == ES_VIRTUALIZED) << k);
		x->virt[i] = v;
		if (rig__run(b, i + 1))
			return 1;
		for (size_t k = i + 1; k < b->dc; k++)
			x->virt[k] = v;
	}
	if (b->dc >= rt->n && (x->nck == x->lo || x->ck[x->nck - 1].at < rt->n)) {
		if (rig__finish(b))
			return 1;
		if (add_ckpt(x))
			return -ENOMEM;
	}
	return 0;
}

/* Returns the index of the last restorable checkpoint at or before i
 * (SIZE_MAX: none). */
static size_t ckpt_before(const struct exh *x, size_t i)
{
	for (size_t k = x->nck; k-- > x->lo;)
		if (x->ck[k].at <= i && x->ck[k].eng)
			return k;
	return SIZE_MAX;
}

/* Records a violation. */
static void violation(struct exh *x, size_t i, int action, int dev, const char *fmt, const char *detail)
{
	if (x->nviol == x->capviol) {
		size_t cap = x->capviol ? x->capviol * 2 : 16;
		struct violation *v = realloc(x->viol, cap * sizeof(*v));
		if (!v)
			return;
		x->viol = v;
		x->capviol = cap;
	}
	struct violation *v = &x->viol[x->nviol++];
	v->seq = x->rt->ev[i].seq;
	v->action = action;
	snprintf(v->device, sizeof(v->device), "%s", devnames[dev]);
	snprintf(v->detail, sizeof(v->detail), fmt, detail);
}

/* Appends a reconvergence distance for action a. */
static void add_dist(struct exh *x, int a, uint64_t d)
{
	uint64_t *n = realloc(x->dist[a], (x->ndist[a] + 1) * sizeof(*n));
	if (!n)
		return;
	x->dist[a] = n;
	n[x->ndist[a]++] = d;
}

/* Rebuilds the probe rig from scratch (a probe where the baseline was
 * never at rest before: its device virtualized from the start). Returns 0
 * or -1. */
static int restart(struct exh *x)
{
	journal__free(&x->pj);
	rig__destroy(&x->p);
	if (rig__init(&x->p, x->rt, x->nx, &x->pcfg, x->err, sizeof(x->err)) ||
	    rig__start(&x->p, x->err, sizeof(x->err)))
		return -1;
	journal__attach(&x->pj, &x->p, J_UNDO);
	x->ppos = 0;
	x->restarts++;
	return 0;
}

/* One probe: action on device dev right after event i. Returns 0, or
 * -errno on an internal failure (the probe is then not counted). */
static int probe(struct exh *x, size_t i, int action, int dev)
{
	struct rig *p = &x->p;
	struct replay_action_stats *st = &x->res->act[action];
	char why[256], where[300];
	size_t k = ckpt_before(x, i), from = 0;
	if (k == SIZE_MAX) {
		if (restart(x))           /* no restorable state before i: from the start */
			return -EIO;
		p = &x->p;
	} else {
		if (ckpt__restore(p, &x->ck[k]))
			return -EIO;
		if (journal__roll(p, &x->bj, &x->ppos, x->ck[k].jlen))
			return -EIO;
		from = x->ck[k].jlen;
	}
	rig__add_request(p, i, action, devnames[dev]);
	if (action != EA_ROUNDTRIP) {
		p->ret_action = action == EA_VIRTUALIZE ? EA_DEVIRTUALIZE : EA_VIRTUALIZE;
		snprintf(p->ret_device, sizeof(p->ret_device), "%s", devnames[dev]);
		p->dwell = x->o->dwell ? x->o->dwell : DEFAULT_DWELL;
		p->ret_state = 0;
	}
	st->injections++;
	x->res->injections++;
	int outcome = 0;              /* 1 reconverged, 2 ran to the end, -1 violation */
	if (rig__run(p, i + 1) == 0) {
		size_t c = x->lo;
		while (c < x->nck && x->ck[c].at <= i)
			c++;
		for (;; c++) {
			int rc = 0;
			while (c >= x->nck && x->b.dc < x->rt->n && !(rc = advance(x, x->b.dc + x->every * 4)))
				;
			if (rc < 0)
				return rc;
			if (c >= x->nck) {    /* the baseline ended without a final checkpoint */
				rig__run(p, x->rt->n);
				outcome = p->diverged ? -1 : 2;
				break;
			}
			if (rig__run(p, x->ck[c].at))
				break;
			if (x->ck[c].at >= x->rt->n) {
				if (rig__finish(p))
					break;
				/* comparable only when the probe came back, to where the
				 * baseline is (at rest) */
				int back = engine__idle(p->e) && x->ck[c].eng && (p->ret_action < 0 || p->ret_state == 2);
				if (!back || ckpt__same(p, &x->ck[c], &x->pj, &x->bj, from, 1, why, sizeof(why))) {
					outcome = 2;
				} else {
					snprintf(where, sizeof(where), "at the end of the run: %s", why);
					rig__diverge(p, x->rt->n - 1, "%s", where);
				}
				break;
			}
			if (ckpt__same(p, &x->ck[c], &x->pj, &x->bj, from, 0, NULL, 0)) {
				outcome = 1;
				add_dist(x, action, x->ck[c].at - i);
				break;
			}
		}
	}
	if (p->diverged) {
		char text[200];
		outcome = -1;
		report__event(x->rt, p->div_at, text, sizeof(text));
		snprintf(where, sizeof(where), "%.190s at %.100s", p->div, text);
		violation(x, i, action, dev, "%s", where);
		st->violations++;
		x->res->violations++;
	} else {
		st->identical++;
		st->reconverged += outcome == 1;
	}
	x->res->replayed_accesses += p->served;
	p->served = 0;
	x->res->polls += p->polls;
	x->res->halts += p->halts;
	p->polls = p->halts = 0;
	return journal__undo(&x->pj);
}

/* qsort order of distances: ascending. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Frees everything but the violations. */
static void cleanup(struct exh *x)
{
	for (size_t k = x->lo; k < x->nck; k++)
		ckpt__free(&x->ck[k]);
	free(x->ck);
	journal__free(&x->bj);
	journal__free(&x->pj);
	rig__destroy(&x->b);
	rig__destroy(&x->p);
	free(x->ref);
	free(x->ref_skip);
	free(x->virt);
	for (int a = 0; a < 3; a++)
		free(x->dist[a]);
}

/* Counts the probes the run will take (for the progress bar). */
static uint64_t count_probes(struct exh *x, unsigned actions)
{
	uint64_t n = 0;
	for (size_t i = 0; i < x->rt->n; i++) {
		int d = dev_index(x->rt, i);
		if (d >= 0 && selected(x->o->devices, d))
			n += (uint64_t)__builtin_popcount(actions);
	}
	return n;
}

/* Finishes the stored baseline run and adds the violations to it.
 * Returns 0 or 2 (err set in res). */
static int finish_trace(struct exh *x, struct trace *t, int status)
{
	struct rig *b = &x->b;
	char err[256];
	const char *verdict = status == 2 ? NULL : b->diverged ? "stopped" : run_state__name(b->m.state);
	if (trace__finish(t, verdict, b->m.exit_code, b->m.counts[EXIT_PIO] + b->m.counts[EXIT_MMIO] +
			  b->m.counts[EXIT_HLT], b->m.clock.now, err, sizeof(err))) {
		snprintf(x->res->err, sizeof(x->res->err), "%s", err);
		return 2;
	}
	if (x->nviol && replay__store_violations(x->o->db, x->res->replay_run, x->viol, x->nviol, x->res->err,
						 sizeof(x->res->err)))
		return 2;
	return 0;
}

int exhaustive__run(struct rtrace *rt, const uint32_t *nx, const struct replay_opts *o,
		    struct replay_result *res, struct violation **viol, size_t *nviol, FILE *out)
{
	struct trace *t = NULL;
	struct exh x = { .rt = rt, .nx = nx, .o = o, .res = res };
	unsigned actions = o->actions ? o->actions : 7;
	int status = 0;
	x.every = o->every ? o->every : DEFAULT_EVERY;
	x.since = x.every;
	x.virt = calloc(rt->n + 1, 1);
	if (rt->is_import) {
		x.ref = calloc(rt->n + 1, sizeof(*x.ref));
		x.ref_skip = calloc(rt->n + 1, sizeof(*x.ref_skip));
	}
	struct rig_cfg bc = { .mode = rt->is_import ? RM_CONFORM : RM_STRICT, .bug = o->bug,
			      .obs = rt->is_import ? on_obs : NULL, .obs_ctx = &x };
	struct rig_cfg pc = { .mode = RM_LOOSE, .bug = o->bug, .ref = x.ref, .ref_skip = x.ref_skip };
	x.pcfg = pc;
	if (!x.virt || (rt->is_import && (!x.ref || !x.ref_skip)) ||
	    rig__init(&x.b, rt, nx, &bc, res->err, sizeof(res->err)) ||
	    (!o->no_store && replay__trace_start(&t, rt, o, &x.b, res->err, sizeof(res->err))) ||
	    rig__start(&x.b, res->err, sizeof(res->err)) ||
	    rig__init(&x.p, rt, nx, &pc, res->err, sizeof(res->err)) ||
	    rig__start(&x.p, res->err, sizeof(res->err))) {
		if (!res->err[0])
			snprintf(res->err, sizeof(res->err), "out of memory");
		if (t)
			trace__finish(t, NULL, 0, 0, 0, x.err, sizeof(x.err));
		cleanup(&x);
		return 2;
	}
	res->replay_run = t ? trace__run_id(t) : 0;
	journal__attach(&x.bj, &x.b, J_REDO);
	journal__attach(&x.pj, &x.p, J_UNDO);
	uint64_t total = count_probes(&x, actions), done = 0;
	double t0 = report__now(), last = 0;
	for (size_t i = 0; i < rt->n && !status; i++) {
		int d = dev_index(rt, i);
		if (d < 0 || !selected(o->devices, d))
			continue;
		int rc = advance(&x, i + 1);
		if (rc) {
			status = 1;
			if (rc < 0)
				snprintf(res->err, sizeof(res->err), "out of memory");
			break;
		}
		/* checkpoints before the one this probe starts from are done with */
		size_t k = ckpt_before(&x, i);
		while (k != SIZE_MAX && x.lo < k)
			ckpt__free(&x.ck[x.lo++]);
		for (int a = 0; a < 3; a++) {
			if (!(actions & (1u << a)))
				continue;
			int virt = (x.virt[i] >> d) & 1;
			if ((a == EA_VIRTUALIZE && virt) || (a == EA_DEVIRTUALIZE && !virt)) {
				done++;
				continue;             /* does not apply here */
			}
			if ((rc = probe(&x, i, a, d)) < 0 && rc != -ENOENT) {
				snprintf(res->err, sizeof(res->err), "probe at seq %zu: %s", i, strerror(-rc));
				status = 2;
				break;
			}
			done++;
		}
		double now = report__now();
		if (o->progress && now - last >= 0.1) {
			report__progress(done, total, res->violations, now - t0, 0);
			last = now;
		}
	}
	if (!status && (status = advance(&x, rt->n)) < 0)
		status = 2;
	if (o->progress)
		report__progress(done, total, res->violations, report__now() - t0, 1);
	if (x.b.diverged) {
		char text[200];
		res->diverged = 1;
		res->div_seq = rt->ev[x.b.div_at].seq;
		snprintf(res->div, sizeof(res->div), "%s", x.b.div);
		fprintf(out, "the baseline replay is not identical to the recording: %s at %s\n", x.b.div,
			report__event(rt, x.b.div_at, text, sizeof(text)));
		report__context(out, rt, x.b.div_at, o->context ? o->context : 3);
		status = 1;
	}
	if (rt->is_import)
		report__conform(out, &x.b);
	for (int a = 0; a < 3; a++) {
		if (!x.ndist[a])
			continue;
		qsort(x.dist[a], x.ndist[a], sizeof(uint64_t), cmp_u64);
		res->act[a].dist_median = x.dist[a][x.ndist[a] / 2];
		res->act[a].dist_max = x.dist[a][x.ndist[a] - 1];
	}
	res->verdict = run_state__name(x.b.m.state);
	res->exit_code = x.b.m.exit_code;
	res->exits = x.b.m.counts[EXIT_PIO] + x.b.m.counts[EXIT_MMIO] + x.b.m.counts[EXIT_HLT];
	res->end_vtime = x.b.m.clock.now;
	res->restarts = x.restarts;
	res->replayed_accesses += x.b.served;
	res->accesses = x.b.served;
	res->conform_diffs = x.b.ndiffs;
	res->events = x.b.dc;
	res->wall_s = report__now() - t0;
	res->accesses_per_s = res->wall_s > 0 ? (double)res->replayed_accesses / res->wall_s : 0;
	res->injections_per_s = res->wall_s > 0 ? (double)res->injections / res->wall_s : 0;
	if (status == 0 && res->violations)
		status = 1;
	if (t && finish_trace(&x, t, status))
		status = 2;
	*viol = x.viol;
	*nviol = x.nviol;
	cleanup(&x);
	return status;
}
