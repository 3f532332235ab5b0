/*
 * The Chrome trace-event JSON report (opens in ui.perfetto.dev and
 * chrome://tracing): one process per run, and per device a track with its
 * mode as complete slices ("ph":"X") and its accesses, interrupt edges and
 * deferred accesses as instants ("ph":"i"), a "switches" track with each
 * switch as a slice holding its V/D steps, and a "pauses" track. A "guest
 * cpu" track holds halts (until the next exit) and injections. Timestamps
 * are virtual time in microseconds (ns precision).
 *
 * Slices on one track must nest (the importers drop overlapping ones), so
 * each step is clipped to its switch and a pause that overlaps the one
 * before it is clipped to it. Instants are capped per run (--max-events);
 * the cap is marked on the guest cpu track where it cut.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report_int.h"

/* Track ids inside a run: the guest cpu, then 10 per device (the device,
 * its switches, its pauses); TID_RUN apart between runs. */
enum { TID_CPU = 1, TID_DEV0 = 100, TID_RUN = 10000, MAX_TRACKED = (TID_RUN - TID_DEV0) / 10 };

/* One run being written. */
struct pf {
	struct rp *r;
	const struct rp_run *run;
	char **dev;               /* track devices, sorted; "(none)" for unclaimed addresses */
	int ndev;
	long events;              /* instants written */
	int capped;
};

/* Writes a virtual time (ns) as JSON microseconds. */
static void us(FILE *f, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	fprintf(f, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
}

/* Returns the base tid of device name's tracks (the unclaimed track for NULL). */
static int tid_of(const struct pf *p, const char *name)
{
	if (!name)
		name = "(none)";
	for (int i = 0; i < p->ndev; i++)
		if (!strcmp(p->dev[i], name))
			return TID_DEV0 + 10 * i;
	return TID_CPU;
}

/* Returns the trace-wide id of the run's track tid: importers key threads
 * by tid alone in places, so runs must not share them. */
static long long gtid(const struct pf *p, int tid)
{
	return (long long)p->run->id * TID_RUN + tid;
}

/* Writes the start of an event: name, phase, pid, tid, ts. */
static void head(struct pf *p, const char *name, const char *ph, int tid, int64_t ts)
{
	FILE *f = p->r->f;
	fputs(p->r->nev++ ? ",\n{\"name\":" : "{\"name\":", f);
	rp_json(f, name);
	fprintf(f, ",\"ph\":\"%s\",\"pid\":%lld,\"tid\":%lld,\"ts\":", ph, (long long)p->run->id, gtid(p, tid));
	us(f, ts);
	if (!strcmp(ph, "i"))
		fputs(",\"s\":\"t\"", f);
}

/* Writes a metadata event (process or thread name / sort index). */
static void meta(struct pf *p, const char *what, int tid, const char *name, int sort)
{
	FILE *f = p->r->f;
	fprintf(f, "%s{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%lld,\"tid\":%lld,\"args\":{\"name\":",
		p->r->nev++ ? ",\n" : "", what, (long long)p->run->id, gtid(p, tid));
	rp_json(f, name);
	fprintf(f, "}},\n{\"name\":\"%s_sort_index\",\"ph\":\"M\",\"pid\":%lld,\"tid\":%lld,"
		"\"args\":{\"sort_index\":%d}}", !strcmp(what, "process_name") ? "process" : "thread",
		(long long)p->run->id, gtid(p, tid), sort);
}

/* Returns 1 while instants may still be written, else marks the cap once at ts. */
static int room(struct pf *p, int64_t ts)
{
	if (p->events < p->r->o->max_events) {
		p->events++;
		return 1;
	}
	if (!p->capped++) {
		char name[96];
		snprintf(name, sizeof(name), "instants capped at %ld (--max-events)", p->r->o->max_events);
		head(p, name, "i", TID_CPU, ts);
		fputs("}", p->r->f);
	}
	return 0;
}

/* Collects the devices that get tracks: lanes, and any device with an
 * access or interrupt event (the first MAX_TRACKED; the events of any
 * beyond go to the guest cpu track). Returns 0 or -errno. */
static int devices(struct pf *p)
{
	sqlite3_stmt *st;
	int rc = rp_prepare(p->r, &st, "SELECT coalesce(device, '(none)') FROM access WHERE run = ?1"
			    " UNION SELECT device FROM irq WHERE run = ?1 AND device IS NOT NULL"
			    " UNION SELECT device FROM switch WHERE run = ?1"
			    " UNION SELECT name FROM device WHERE run = ?1 AND irq IS NOT NULL ORDER BY 1");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, p->run->id);
	while ((rc = rp_step(p->r, st)) == SQLITE_ROW && p->ndev < MAX_TRACKED) {
		char **d = realloc(p->dev, (size_t)(p->ndev + 1) * sizeof(*d));
		if (!d || !(d[p->ndev] = rp_text(st, 0))) {
			p->dev = d ? d : p->dev;
			rc = rp_syserr(p->r, "devices", -ENOMEM);
			break;
		}
		p->dev = d;
		p->ndev++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Writes the process and thread names of the run. */
static void names(struct pf *p)
{
	char buf[256];
	const struct rp_run *run = p->run;
	snprintf(buf, sizeof(buf), "run %lld: %s (%s)", (long long)run->id, run->guest,
		 run->verdict ? run->verdict : "unfinished");
	meta(p, "process_name", 0, buf, (int)run->id);
	meta(p, "thread_name", TID_CPU, "guest cpu", 0);
	for (int i = 0; i < p->ndev; i++) {
		int tid = TID_DEV0 + 10 * i, k = rp_lane_of(run, p->dev[i]);
		meta(p, "thread_name", tid, p->dev[i], tid);
		if (k < 0 || !run->lane[k].switched)
			continue;   /* the engine never touches it: no switch or pause tracks */
		snprintf(buf, sizeof(buf), "%s switches", p->dev[i]);
		meta(p, "thread_name", tid + 1, buf, tid + 1);
		snprintf(buf, sizeof(buf), "%s pauses", p->dev[i]);
		meta(p, "thread_name", tid + 2, buf, tid + 2);
	}
}

/* Writes each lane's mode spans as slices on its device track. */
static void modes(struct pf *p)
{
	FILE *f = p->r->f;
	for (int i = 0; i < p->run->nlane; i++) {
		const struct rp_lane *l = &p->run->lane[i];
		if (!l->switched)
			continue;
		for (size_t k = 0; k < l->n; k++) {
			head(p, rp_mode_name[l->span[k].mode], "X", tid_of(p, l->name), l->span[k].t0);
			fputs(",\"cat\":\"mode\",\"dur\":", f);
			us(f, l->span[k].t1 - l->span[k].t0);
			fputs("}", f);
		}
	}
}

/* Writes an optional text argument ("key":"value"), comma first. */
static void arg_text(FILE *f, const char *key, sqlite3_stmt *st, int col)
{
	const char *v = (const char *)sqlite3_column_text(st, col);
	if (!v)
		return;
	fprintf(f, ",\"%s\":", key);
	rp_json(f, v);
}

/* Writes switches with their steps. Returns 0 or -errno. */
static int switches(struct pf *p)
{
	FILE *f = p->r->f;
	sqlite3_stmt *st;
	int rc = rp_prepare(p->r, &st,
			    "SELECT s.id, s.device, s.action, s.outcome, s.reason, s.policy, s.requested_vtime_ns,"
			    " s.started_vtime_ns, coalesce(s.completed_vtime_ns, ?2), s.mode_before, s.mode_after,"
			    " t.step, t.vtime_ns, t.detail,"
			    " lead(t.vtime_ns) OVER (PARTITION BY s.id ORDER BY t.rowid)"
			    " FROM switch s LEFT JOIN step t ON t.run = s.run AND t.switch = s.id"
			    " WHERE s.run = ?1 ORDER BY s.id, t.rowid");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, p->run->id);
	sqlite3_bind_int64(st, 2, p->run->end_vt);
	int64_t cur = RP_NULL, t0 = 0, t1 = 0, prev_end = 0;
	int tid = 0, started = 0;
	while ((rc = rp_step(p->r, st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (id != cur) {
			cur = id;
			tid = tid_of(p, (const char *)sqlite3_column_text(st, 1)) + 1;
			started = sqlite3_column_type(st, 7) != SQLITE_NULL;
			int64_t req = rp_int(st, 6);
			t0 = started ? sqlite3_column_int64(st, 7) : req == RP_NULL ? 0 : req;
			t1 = sqlite3_column_int64(st, 8);
			if (t0 < prev_end)
				t0 = prev_end;   /* one switch at a time per device: keep them apart */
			if (t1 < t0)
				t1 = t0;
			char name[64];
			const char *o = (const char *)sqlite3_column_text(st, 3);
			snprintf(name, sizeof(name), "%s%s%s", sqlite3_column_text(st, 2),
				 o && strcmp(o, "done") ? " " : "", o && strcmp(o, "done") ? o : "");
			head(p, name, started ? "X" : "i", tid, t0);
			if (started) {
				fputs(",\"dur\":", f);
				us(f, t1 - t0);
				prev_end = t1;
			}
			fprintf(f, ",\"cat\":\"switch\",\"args\":{\"id\":%lld", (long long)id);
			arg_text(f, "outcome", st, 3);
			arg_text(f, "reason", st, 4);
			arg_text(f, "policy", st, 5);
			arg_text(f, "requested_ns", st, 6);
			arg_text(f, "mode_before", st, 9);
			arg_text(f, "mode_after", st, 10);
			fputs("}}", f);
		}
		if (!started || sqlite3_column_type(st, 11) == SQLITE_NULL)
			continue;
		int64_t s0 = rp_int(st, 12), s1 = rp_int(st, 14);
		s0 = s0 == RP_NULL || s0 < t0 ? t0 : s0 > t1 ? t1 : s0;
		s1 = s1 == RP_NULL || s1 > t1 ? t1 : s1 < s0 ? s0 : s1;
		head(p, (const char *)sqlite3_column_text(st, 11), "X", tid, s0);
		fputs(",\"cat\":\"step\",\"dur\":", f);
		us(f, s1 - s0);
		fputs(",\"args\":{\"switch\":", f);
		fprintf(f, "%lld", (long long)id);
		arg_text(f, "detail", st, 13);
		fputs("}}", f);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Writes pauses, clipping one that overlaps its predecessor on the same
 * device into it. Returns 0 or -errno. */
static int pauses(struct pf *p)
{
	FILE *f = p->r->f;
	sqlite3_stmt *st;
	int rc = rp_prepare(p->r, &st,
			    "SELECT device, kind, start_vtime_ns, coalesce(end_vtime_ns, ?2), switch, polls, bound_ns"
			    " FROM pause WHERE run = ?1 AND start_vtime_ns IS NOT NULL"
			    " ORDER BY device, start_vtime_ns, coalesce(end_vtime_ns, ?2) DESC");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, p->run->id);
	sqlite3_bind_int64(st, 2, p->run->end_vt);
	int last_tid = -1;
	int64_t outer_end = 0;   /* end of the enclosing (last unclipped) pause */
	while ((rc = rp_step(p->r, st)) == SQLITE_ROW) {
		int tid = tid_of(p, (const char *)sqlite3_column_text(st, 0)) + 2;
		int64_t t0 = sqlite3_column_int64(st, 2), t1 = sqlite3_column_int64(st, 3);
		if (t1 < t0)
			t1 = t0;
		if (tid != last_tid || t0 >= outer_end)
			outer_end = t1;          /* starts a new top-level pause */
		else if (t1 > outer_end)
			t1 = outer_end;          /* inside the one before: clip to it */
		last_tid = tid;
		head(p, (const char *)sqlite3_column_text(st, 1), "X", tid, t0);
		fputs(",\"cat\":\"pause\",\"dur\":", f);
		us(f, t1 - t0);
		fputs(",\"args\":{", f);
		fprintf(f, "\"switch\":%lld,\"polls\":%lld,\"bound_ns\":%lld}}", (long long)sqlite3_column_int64(st, 4),
			(long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Writes halts as slices on the guest cpu track, lasting until the next
 * exit. Returns 0 or -errno. */
static int halts(struct pf *p)
{
	FILE *f = p->r->f;
	sqlite3_stmt *st;
	int rc = rp_prepare(p->r, &st,
			    "SELECT h.vtime_ns, min(coalesce((SELECT a.vtime_ns FROM access a WHERE a.run = h.run"
			    " AND a.seq > h.seq ORDER BY a.seq LIMIT 1), ?2), coalesce((SELECT n.vtime_ns FROM halt n"
			    " WHERE n.run = h.run AND n.seq > h.seq ORDER BY n.seq LIMIT 1), ?2)), h.seq"
			    " FROM halt h WHERE h.run = ?1 ORDER BY h.seq");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, p->run->id);
	sqlite3_bind_int64(st, 2, p->run->end_vt);
	int64_t prev_end = 0;
	while ((rc = rp_step(p->r, st)) == SQLITE_ROW) {
		int64_t t0 = sqlite3_column_int64(st, 0), t1 = sqlite3_column_int64(st, 1);
		if (t0 < prev_end)
			t0 = prev_end;
		if (t1 < t0)
			t1 = t0;
		if (!room(p, t0))
			break;
		head(p, "halt", "X", TID_CPU, t0);
		fputs(",\"cat\":\"halt\",\"dur\":", f);
		us(f, t1 - t0);
		fprintf(f, ",\"args\":{\"seq\":%lld}}", (long long)sqlite3_column_int64(st, 2));
		prev_end = t1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Writes accesses, interrupt events and deferrals as instants, in event
 * order, until the cap. Returns 0 or -errno. */
static int instants(struct pf *p)
{
	FILE *f = p->r->f;
	sqlite3_stmt *st;
	int rc = rp_prepare(p->r, &st,
			    "SELECT a.seq, a.vtime_ns, 'a', a.device, a.dir || ' ' || coalesce(a.reg, printf('0x%x', a.addr)),"
			    " printf('0x%x', a.value), a.path, a.sm_state, d.ord, d.replay_seq"
			    " FROM access a LEFT JOIN deferred d ON d.run = a.run AND d.seq = a.seq WHERE a.run = ?1"
			    " UNION ALL SELECT seq, vtime_ns, 'q', device,"
			    " CASE event WHEN 'inject' THEN printf('inject vector 0x%x', vector)"
			    "  ELSE 'irq ' || event || ' to ' || target END, line, target, NULL, NULL, NULL"
			    " FROM irq WHERE run = ?1 ORDER BY 1");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, p->run->id);
	while ((rc = rp_step(p->r, st)) == SQLITE_ROW) {
		int64_t vt = sqlite3_column_int64(st, 1);
		if (!room(p, vt))
			break;
		const char *kind = (const char *)sqlite3_column_text(st, 2);
		const char *name = (const char *)sqlite3_column_text(st, 4);
		int access = kind && kind[0] == 'a';
		int inject = !access && name && !strncmp(name, "inject", 6);
		head(p, name ? name : "?", "i", inject ? TID_CPU : tid_of(p, (const char *)sqlite3_column_text(st, 3)), vt);
		fprintf(f, ",\"cat\":\"%s\",\"args\":{\"seq\":%lld", access ? "access" : "irq",
			(long long)sqlite3_column_int64(st, 0));
		if (access) {
			arg_text(f, "value", st, 5);
			arg_text(f, "path", st, 6);
			arg_text(f, "sm_state", st, 7);
			if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
				fprintf(f, ",\"deferred_ord\":%lld", (long long)sqlite3_column_int64(st, 8));
				arg_text(f, "replay_seq", st, 9);
			}
		} else {
			arg_text(f, "line", st, 5);
		}
		fputs("}}", f);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Writes one run's process. Returns 0 or -errno. */
static int one_run(struct rp *r, int64_t id)
{
	struct rp_run run;
	struct pf p = { .r = r, .run = &run };
	int rc = rp_run_load(r, id, 1, &run);
	if (!rc)
		rc = devices(&p);
	if (!rc) {
		names(&p);
		modes(&p);
		rc = switches(&p);
	}
	if (!rc)
		rc = pauses(&p);
	if (!rc)
		rc = instants(&p);
	if (!rc)
		rc = halts(&p);
	for (int i = 0; i < p.ndev; i++)
		free(p.dev[i]);
	free(p.dev);
	rp_run_free(&run);
	return rc;
}

/* Writes the trace-event JSON of every run to path. Returns 0 or -errno. */
int report__perfetto(sqlite3 *db, const char *dbname, const char *path, const struct report_opts *o,
		     char *err, size_t errlen)
{
	struct rp r = { .db = db, .dbname = dbname, .o = o, .err = err, .errlen = errlen };
	int64_t *ids;
	size_t n;
	int rc = rp_run_ids(&r, &ids, &n);
	if (rc)
		return rc;
	if ((rc = rp_out_open(&r, path))) {
		free(ids);
		return rc;
	}
	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"database\":", r.f);
	rp_json(r.f, dbname);
	fprintf(r.f, ",\"runs\":%zu,\"time\":\"virtual\"},\"traceEvents\":[\n", n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = one_run(&r, ids[i]);
	fputs("\n]}\n", r.f);
	free(ids);
	rc = rp_out_close(&r, path, rc);
	rp_free(&r);
	return rc;
}
