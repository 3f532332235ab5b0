/*
 * replay__run: one replay of a recorded run (strict, or with injected
 * switches), the conformance replay of an imported trace, or exhaustive
 * injection (exhaustive.c); the replay is stored as a new run of kind
 * 'replay' whose parent is the run replayed, and exhaustive violations as
 * `violation` rows of that run.
 *
 * A single replay with injections compares strictly up to the first
 * requested switch and loosely after it (what the guest observes, polls
 * and waits aside), against the recording; for an imported trace the
 * reference is a first, conform replay against our own models.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckpt.h"
#include "internal.h"
#include "spec.h"
#include "../traces/db.h"

/* A baseline's observations (import + inject: the reference). */
struct refs {
	uint64_t *v;
	uint32_t *skip;
};

/* rig_obs_fn: records the baseline's value of read i. */
static void keep_ref(void *ctx, size_t i, uint64_t value, size_t skipped)
{
	struct refs *r = ctx;
	r->v[i] = value;
	r->skip[i] = (uint32_t)skipped;
	for (size_t k = i + 1; k <= i + skipped; k++)
		r->v[k] = value;
}

int replay__trace_start(struct trace **t, const struct rtrace *rt, const struct replay_opts *o, struct rig *g,
			char *err, size_t errlen)
{
	char source[1024], config[1200];
	const struct rrun *r = &rt->run;
	int n = snprintf(source, sizeof(source), "%s#%lld", o->db, (long long)r->id);
	for (int i = 0; i < o->ninject && n > 0 && (size_t)n < sizeof(source); i++)
		n += snprintf(source + n, sizeof(source) - (size_t)n, " inject %s", o->inject[i]);
	if (o->exhaustive && n > 0 && (size_t)n < sizeof(source))
		snprintf(source + n, sizeof(source) - (size_t)n, " exhaustive");
	snprintf(config, sizeof(config), "replay %s", source);
	struct trace_run info = { .guest = r->guest, .image = r->image, .args = r->args, .config = config,
				  .disk = r->disk, .kind = "replay", .seed = r->seed, .image_sha256 = r->image_sha256,
				  .ata_disk = &g->disk[0], .ringblk_disk = rt->is_import ? NULL : &g->disk[1],
				  .mem = r->mem, .exit_cost_ns = r->exit_cost_ns, .switches = r->switches,
				  .policy = r->policy, .modes = r->modes, .parent = r->id, .source = source };
	int rc = trace__start(t, o->db, &info, err, errlen);
	if (rc)
		return rc;
	g->cfg.trace = trace__event;
	g->cfg.trace_ctx = *t;
	g->cfg.sink = trace__engine;
	g->cfg.sink_ctx = *t;
	trace__devices(*t, &g->m);
	return 0;
}

int replay__store_violations(const char *path, int64_t run, const struct violation *v, size_t n,
			     char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int rc = db__open(&db, path, err, errlen);
	if (rc)
		return rc;
	int src = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (!src)
		src = sqlite3_prepare_v2(db, "INSERT INTO violation (run, invariant, seq, detail, checker)"
					 " VALUES (?1, 'I1', ?2, ?3, 'replay --exhaustive')", -1, &st, NULL);
	for (size_t i = 0; !src && i < n; i++) {
		char detail[512];
		snprintf(detail, sizeof(detail), "%s on %s after seq %llu: %s", engine__action_name(v[i].action),
			 v[i].device, (unsigned long long)v[i].seq, v[i].detail);
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, (int64_t)v[i].seq);
		sqlite3_bind_text(st, 3, detail, -1, SQLITE_TRANSIENT);
		src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(st);
	}
	if (!src)
		sqlite3_finalize(st);
	if (src)
		snprintf(err, errlen, "%s: storing violations: %s", path, sqlite3_errmsg(db));
	sqlite3_exec(db, src ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return src ? db__errno(src) : 0;
}

/* A conform pass over an imported trace, collecting our models' values as
 * the reference for an injected replay. Returns 0 or 2 (err set). */
static int import_reference(struct rtrace *rt, const uint32_t *nx, const struct replay_opts *o,
			    struct refs *refs, struct replay_result *res)
{
	struct rig b;
	struct rig_cfg c = { .mode = RM_CONFORM, .bug = o->bug, .obs = keep_ref, .obs_ctx = refs };
	refs->v = calloc(rt->n + 1, sizeof(*refs->v));
	refs->skip = calloc(rt->n + 1, sizeof(*refs->skip));
	if (!refs->v || !refs->skip || rig__init(&b, rt, nx, &c, res->err, sizeof(res->err)) ||
	    rig__start(&b, res->err, sizeof(res->err))) {
		if (!res->err[0])
			snprintf(res->err, sizeof(res->err), "out of memory");
		rig__destroy(&b);
		return 2;
	}
	rig__run(&b, rt->n);
	rig__destroy(&b);
	return 0;
}

/* The replay run's verdict: "stopped" when it diverged, or when the trace
 * ended before the guest did (an imported log has no exit-port write, so
 * its machine is still running), else how the machine ended. */
static const char *verdict_of(const struct rig *g)
{
	return g->diverged || g->m.state == RUN_GOING ? "stopped" : run_state__name(g->m.state);
}

/* Prints the outcome of a single replay and fills res. Returns the status. */
static int single_report(FILE *out, const struct replay_opts *o, struct rig *g, struct replay_result *res,
			 double wall)
{
	const struct rtrace *rt = g->rt;
	uint64_t done = 0, aborted = 0, pending = 0;
	engine__counts(g->e, &done, &aborted, &pending);
	res->events = g->dc;
	res->accesses = g->served;
	res->interrupts = g->m.counts[EXIT_IRQ];
	res->polls = g->polls;
	res->halts = g->halts;
	res->skipped = g->skipped;
	res->wall_s = wall;
	res->accesses_per_s = wall > 0 ? (double)g->served / wall : 0;
	res->conform_diffs = g->ndiffs;
	res->verdict = verdict_of(g);
	res->exit_code = g->m.exit_code;
	res->exits = g->m.counts[EXIT_PIO] + g->m.counts[EXIT_MMIO] + g->m.counts[EXIT_HLT];
	res->end_vtime = g->m.clock.now;
	fprintf(out, "replay of run %lld (%s, %s): ", (long long)rt->run.id, rt->run.guest ? rt->run.guest : "?",
		rt->run.kind ? rt->run.kind : "?");
	if (g->diverged) {
		res->diverged = 1;
		res->div_seq = rt->ev[g->div_at].seq;
		snprintf(res->div, sizeof(res->div), "%s", g->div);
		fprintf(out, "divergence at seq %llu: %s\n", (unsigned long long)res->div_seq, g->div);
		report__context(out, rt, g->div_at, o->context ? o->context : 3);
	} else if (rt->is_import && !g->nreq) {
		fprintf(out, "replayed against our models\n");
		report__conform(out, g);
	} else {
		fprintf(out, "identical%s\n", g->nreq ? " (apart from inserted polls and waits)" : "");
	}
	fprintf(out, "  %llu events, %llu accesses, %llu interrupts, %llu halts replayed in %.3f s: %.0f accesses/s\n",
		(unsigned long long)g->dc, (unsigned long long)g->served, (unsigned long long)g->m.counts[EXIT_IRQ],
		(unsigned long long)g->m.counts[EXIT_HLT], wall, res->accesses_per_s);
	if (g->nreq)
		fprintf(out, "  %d switch requests: %llu switches done, %llu aborted, %llu pending; %llu polls and %llu"
			" waits inserted, %llu reads earlier than recorded, %llu interrupts taken in another order,"
			" %llu batched\n", g->nreq, (unsigned long long)done, (unsigned long long)aborted,
			(unsigned long long)pending, (unsigned long long)g->polls, (unsigned long long)g->halts,
			(unsigned long long)g->skipped, (unsigned long long)g->reordered, (unsigned long long)g->coalesced);
	return g->diverged ? 1 : 0;
}

/* Compares the disks' content after the replay (stored as run `replay`)
 * with the recorded run's. Returns 1 equal (or not recorded), 0 not. */
static int disks_after_same(const char *path, int64_t run, int64_t replay)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char err[256];
	int same = 1;
	if (db__open_ro(&db, path, err, sizeof(err)))
		return 1;
	if (!sqlite3_prepare_v2(db, "SELECT (x.disk_after_sha256 IS NULL OR x.disk_after_sha256 IS y.disk_after_sha256)"
				" AND (x.ringblk_after_sha256 IS NULL OR x.ringblk_after_sha256 IS y.ringblk_after_sha256)"
				" FROM run x, run y WHERE x.id = ?1 AND y.id = ?2", -1, &st, NULL)) {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, replay);
		if (sqlite3_step(st) == SQLITE_ROW)
			same = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return same;
}

/* One replay of the run (with the requested injections), stored unless
 * opts say not. Returns the status. */
static int single(struct rtrace *rt, const uint32_t *nx, const struct replay_opts *o,
		  struct replay_result *res, FILE *out)
{
	struct refs refs = { 0 };
	struct trace *t = NULL;
	struct rig g;
	int status = 0;
	memset(&g, 0, sizeof(g));
	if (rt->is_import && o->ninject && (status = import_reference(rt, nx, o, &refs, res)))
		goto out;
	struct rig_cfg c = { .mode = rt->is_import ? (o->ninject ? RM_LOOSE : RM_CONFORM) : RM_STRICT,
			     .bug = o->bug, .ref = refs.v, .ref_skip = refs.skip };
	if (rig__init(&g, rt, nx, &c, res->err, sizeof(res->err)) ||
	    (!o->no_store && replay__trace_start(&t, rt, o, &g, res->err, sizeof(res->err))) ||
	    rig__start(&g, res->err, sizeof(res->err))) {
		status = 2;
		goto out;
	}
	res->replay_run = t ? trace__run_id(t) : 0;
	for (int i = 0; i < o->ninject; i++) {
		if (spec__inject(&g, o->inject[i], res->err, sizeof(res->err)) < 0) {
			status = 2;
			goto out;
		}
	}
	double t0 = report__now();
	if (!rig__run(&g, rt->n))
		rig__finish(&g);
	status = single_report(out, o, &g, res, report__now() - t0);
out:
	if (t) {
		char err[256];
		const char *verdict = status == 2 ? NULL : verdict_of(&g);
		if (trace__finish(t, verdict, g.m.exit_code, g.m.counts[EXIT_PIO] + g.m.counts[EXIT_MMIO] +
				  g.m.counts[EXIT_HLT], g.m.clock.now, err, sizeof(err)) && status != 2) {
			snprintf(res->err, sizeof(res->err), "%s", err);
			status = 2;
		}
		if (status == 0 && !rt->is_import && !disks_after_same(o->db, rt->run.id, res->replay_run)) {
			fprintf(out, "  but the disks after the replay differ from the recorded run's\n");
			res->diverged = 1;
			snprintf(res->div, sizeof(res->div), "the disks after the replay differ from the recorded run's");
			status = 1;
		}
		if (status != 2)
			fprintf(out, "  stored as run %lld in %s\n", (long long)res->replay_run, o->db);
	}
	rig__destroy(&g);
	free(refs.v);
	free(refs.skip);
	return status;
}

int replay__run(const struct replay_opts *o, struct replay_result *res)
{
	FILE *out = o->out ? o->out : stdout;
	struct rtrace rt;
	struct violation *viol = NULL;
	size_t nviol = 0;
	memset(res, 0, sizeof(*res));
	if (rtrace__load(&rt, o->db, o->run, res->err, sizeof(res->err))) {
		rtrace__free(&rt);
		return res->status = 2;
	}
	res->run = rt.run.id;
	res->import = rt.is_import;
	uint32_t *nx = rig__next_exits(&rt);
	int status;
	if (!nx) {
		snprintf(res->err, sizeof(res->err), "out of memory");
		status = 2;
	} else if (o->exhaustive && o->ninject) {
		snprintf(res->err, sizeof(res->err), "--exhaustive and --inject do not go together");
		status = 2;
	} else if (!o->exhaustive) {
		status = single(&rt, nx, o, res, out);
	} else {
		status = exhaustive__run(&rt, nx, o, res, &viol, &nviol, out);
		if (status != 2)
			report__summary(out, res, res->wall_s, rt.count[RK_ACCESS] + rt.count[RK_MAPPED]);
		for (size_t i = 0; i < nviol && i < 10; i++)
			fprintf(out, "violation: %s on %s after seq %llu: %s\n", engine__action_name(viol[i].action),
				viol[i].device, (unsigned long long)viol[i].seq, viol[i].detail);
		if (nviol > 10)
			fprintf(out, "... and %zu more%s\n", nviol - 10, res->replay_run ? " (table violation)" : "");
		if (res->replay_run && status != 2)
			fprintf(out, "  stored as run %lld in %s\n", (long long)res->replay_run, o->db);
	}
	free(viol);
	free(nx);
	rtrace__free(&rt);
	return res->status = status;
}
