/*
 * The reports' model of a run, read from the trace database: its run row,
 * its virtual end, one lane per device with the mode it was in over virtual
 * time, and the value series the histograms and CDFs draw.
 *
 * Modes come from the engine's own records, in switch-id order (ids are
 * handed out in time order, and a device has one switch at a time): a
 * virtualization that starts puts the device in "tracking" (V1-V5), V6 makes
 * it "virtualized"; a devirtualization that starts puts it in "quiescing"
 * (D1 waits, D2-D6 drain and hand back), D7 makes it "pass-through"; an
 * abort returns it to where it was. Switches refused before they started
 * (queue full, already there) change nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "report_int.h"

const char *const rp_mode_name[RM_NMODES] = { "pass-through", "tracking", "virtualized", "quiescing" };
const char *const rp_mode_colour[RM_NMODES] = { "#a5d6a7", "#ffca28", "#1e88e5", "#ab47bc" };

/* Returns the fixed colour of a pause kind (grey for an unknown kind). */
const char *rp_pause_colour(const char *kind)
{
	static const char *const k[] = { "wait", "quiesce", "busy", "defer" };
	static const char *const c[] = { "#fb8c00", "#6a1b9a", "#d81b60", "#00897b" };
	for (int i = 0; kind && i < 4; i++)
		if (!strcmp(kind, k[i]))
			return c[i];
	return "#757575";
}

/* Returns colour i of an eight-colour palette (cycling). */
const char *rp_palette(int i, const char *name)
{
	static const char *const c[] = { "#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1",
					 "#6d4c41", "#546e7a" };
	return c[(unsigned)i % 8];
}

/* Prepares sql; an error names the database. Returns 0 or -errno. */
int rp_prepare(struct rp *r, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v2(r->db, sql, -1, st, NULL);
	if (rc == SQLITE_OK)
		return 0;
	snprintf(r->err, r->errlen, "%s: %s", r->dbname, sqlite3_errmsg(r->db));
	*st = NULL;
	return rc == SQLITE_NOMEM ? -ENOMEM : -EINVAL;
}

/* Steps st. Returns SQLITE_ROW, SQLITE_DONE or -errno (r->err set). */
int rp_step(struct rp *r, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	snprintf(r->err, r->errlen, "%s: %s", r->dbname, sqlite3_errmsg(r->db));
	return rc == SQLITE_NOMEM ? -ENOMEM : rc == SQLITE_IOERR ? -EIO : -EINVAL;
}

/* Returns a malloc'd copy of text column i ("" for NULL), NULL on OOM. */
char *rp_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return strdup(t ? t : "");
}

/* Returns integer column i, RP_NULL for NULL. */
int64_t rp_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? RP_NULL : sqlite3_column_int64(st, i);
}

/* Puts "what: reason" in r->err. Returns rc. */
int rp_syserr(struct rp *r, const char *what, int rc)
{
	snprintf(r->err, r->errlen, "%s: %s", what, strerror(-rc));
	return rc;
}

/* Collects the ids of every run, ascending. Returns 0 or -errno. */
int rp_run_ids(struct rp *r, int64_t **ids, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = rp_prepare(r, &st, "SELECT id FROM run ORDER BY id");
	*ids = NULL;
	*n = 0;
	while (!rc && (rc = rp_step(r, st)) == SQLITE_ROW) {
		rc = 0;
		if (*n == cap) {
			int64_t *p = realloc(*ids, (cap = cap ? 2 * cap : 64) * sizeof(*p));
			if (!p) {
				rc = rp_syserr(r, "run ids", -ENOMEM);
				break;
			}
			*ids = p;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		rc = 0;
	if (rc) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

/* Frees the switched-device names cached in r. */
void rp_free(struct rp *r)
{
	for (int i = 0; i < r->nsw; i++)
		free(r->sw[i]);
	free(r->sw);
	r->sw = NULL;
	r->nsw = r->sw_loaded = 0;
}

/* Moves lane l into mode m at time t (never before its current span began). */
static int lane_set(struct rp_lane *l, int m, int64_t t)
{
	if (m == l->cur)
		return 0;
	if (t < l->t0)
		t = l->t0;
	if (l->n == l->cap) {
		struct rp_span *p = realloc(l->span, (l->cap = l->cap ? 2 * l->cap : 16) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->span = p;
	}
	l->span[l->n++] = (struct rp_span){ l->t0, t, l->cur };
	l->cur = m;
	l->t0 = t;
	return 0;
}

/* Loads the names of the devices the engine switched in any run of the DB
 * (once per report). Returns 0 or -errno. */
static int load_switched(struct rp *r)
{
	if (r->sw_loaded)
		return 0;
	sqlite3_stmt *st;
	int rc = rp_prepare(r, &st, "SELECT DISTINCT device FROM switch ORDER BY device");
	while (!rc && (rc = rp_step(r, st)) == SQLITE_ROW) {
		rc = 0;
		char **p = realloc(r->sw, (size_t)(r->nsw + 1) * sizeof(*p));
		if (!p || !(p[r->nsw] = rp_text(st, 0))) {
			r->sw = p ? p : r->sw;
			rc = rp_syserr(r, "devices", -ENOMEM);
			break;
		}
		r->sw = p;
		r->nsw++;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		rc = 0;
		r->sw_loaded = 1;
	}
	return rc;
}

/* Returns 1 if the engine switched dev in some run of the DB. */
static int was_switched(const struct rp *r, const char *dev)
{
	for (int i = 0; i < r->nsw; i++)
		if (!strcmp(r->sw[i], dev))
			return 1;
	return 0;
}

/* Loads run's lanes: devices the engine switched in this run, and devices
 * with an interrupt line (the timer too: its ticks matter). Returns 0 or
 * -errno. */
static int load_lanes(struct rp *r, struct rp_run *run)
{
	sqlite3_stmt *st;
	int rc = load_switched(r);
	if (!rc)
		rc = rp_prepare(r, &st, "SELECT device FROM switch WHERE run = ?1"
				" UNION SELECT name FROM device WHERE run = ?1 AND irq IS NOT NULL ORDER BY 1");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run->id);
	while ((rc = rp_step(r, st)) == SQLITE_ROW) {
		struct rp_lane *p = realloc(run->lane, (size_t)(run->nlane + 1) * sizeof(*p));
		if (!p) {
			rc = -ENOMEM;
			break;
		}
		run->lane = p;
		p += run->nlane++;
		*p = (struct rp_lane){ .name = rp_text(st, 0), .cur = RM_PASS };
		if (!p->name) {
			rc = -ENOMEM;
			break;
		}
		p->switched = was_switched(r, p->name);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc == -ENOMEM ? rp_syserr(r, "lanes", rc) : rc;
}

/* Settles lane l after a switch (virt: a virtualization) that ended with
 * outcome at done_vt (RP_NULL: still pending): done lands in the target
 * mode, an abort back where the switch began. Returns 0 or -ENOMEM. */
static int settle(struct rp_lane *l, int virt, const char *outcome, int64_t done_vt)
{
	if (!l || done_vt == RP_NULL)
		return 0;
	if (!strcmp(outcome, "done"))
		return lane_set(l, virt ? RM_VIRT : RM_PASS, done_vt);
	if (!strcmp(outcome, "aborted") && (l->cur == RM_TRACK || l->cur == RM_QUIESCE))
		return lane_set(l, virt ? RM_PASS : RM_VIRT, done_vt);
	return 0;
}

/* Derives each lane's mode spans from run's switch and step rows. */
static int load_modes(struct rp *r, struct rp_run *run)
{
	sqlite3_stmt *st;
	int rc = rp_prepare(r, &st,
			    "SELECT s.id, s.device, s.action = 'virtualize', s.outcome, s.started_vtime_ns,"
			    "       s.completed_vtime_ns, t.step, t.vtime_ns"
			    " FROM switch s LEFT JOIN step t ON t.run = s.run AND t.switch = s.id"
			    " WHERE s.run = ?1 ORDER BY s.id, t.rowid");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run->id);
	int64_t cur = RP_NULL, done_vt = RP_NULL;
	struct rp_lane *l = NULL;
	int virt = 0;
	char outcome[16] = "";
	while ((rc = rp_step(r, st)) == SQLITE_ROW) {
		rc = 0;
		int64_t id = sqlite3_column_int64(st, 0);
		if (id != cur) {
			if ((rc = settle(l, virt, outcome, done_vt)))
				break;
			cur = id;
			int k = rp_lane_of(run, (const char *)sqlite3_column_text(st, 1));
			l = k < 0 ? NULL : &run->lane[k];
			virt = sqlite3_column_int(st, 2);
			const char *o = (const char *)sqlite3_column_text(st, 3);
			snprintf(outcome, sizeof(outcome), "%s", o ? o : "");
			int64_t started = rp_int(st, 4);
			done_vt = rp_int(st, 5);
			if (started == RP_NULL)
				l = NULL;   /* refused before it started: changes nothing */
			else if (l && (rc = lane_set(l, virt ? RM_TRACK : RM_QUIESCE, started)))
				break;
		}
		const char *step = (const char *)sqlite3_column_text(st, 6);
		int64_t vt = rp_int(st, 7);
		if (!l || !step || vt == RP_NULL)
			continue;
		if (!strcmp(step, "V6"))
			rc = lane_set(l, RM_VIRT, vt);
		else if (!strcmp(step, "D7"))
			rc = lane_set(l, RM_PASS, vt);
		else if (!strcmp(step, "abort"))
			rc = lane_set(l, virt ? RM_PASS : RM_VIRT, vt);
		if (rc)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = settle(l, virt, outcome, done_vt);
	sqlite3_finalize(st);
	for (int i = 0; !rc && i < run->nlane; i++) {
		struct rp_lane *x = &run->lane[i];
		rc = lane_set(x, -1, run->end_vt);   /* closes the last span */
	}
	return rc == -ENOMEM ? rp_syserr(r, "modes", rc) : rc;
}

/* Loads a run row (and lanes with modes when asked). Returns 0 or -errno. */
int rp_run_load(struct rp *r, int64_t id, int lanes, struct rp_run *run)
{
	memset(run, 0, sizeof(*run));
	run->id = id;
	sqlite3_stmt *st;
	/* the virtual end: the run's own, else its last event (unfinished runs) */
	int rc = rp_prepare(r, &st,
			    "SELECT guest, kind, args, config, verdict, start_wall, end_wall, parent, seed, exit_code,"
			    "  exits, max(coalesce(end_vtime_ns, 0),"
			    "  coalesce((SELECT vtime_ns FROM access WHERE run = r.id ORDER BY seq DESC LIMIT 1), 0),"
			    "  coalesce((SELECT vtime_ns FROM irq WHERE run = r.id ORDER BY seq DESC LIMIT 1), 0),"
			    "  coalesce((SELECT vtime_ns FROM halt WHERE run = r.id ORDER BY seq DESC LIMIT 1), 0),"
			    "  coalesce((SELECT max(completed_vtime_ns) FROM switch WHERE run = r.id), 0))"
			    " FROM run r WHERE id = ?1");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = rp_step(r, st);
	if (rc == SQLITE_ROW) {
		run->guest = rp_text(st, 0);
		run->kind = rp_text(st, 1);
		run->args = rp_text(st, 2);
		run->config = rp_text(st, 3);
		run->verdict = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : rp_text(st, 4);
		run->start_wall = rp_text(st, 5);
		run->end_wall = rp_text(st, 6);
		run->parent = rp_int(st, 7);
		run->seed = rp_int(st, 8);
		run->exit_code = rp_int(st, 9);
		run->exits = rp_int(st, 10);
		run->end_vt = sqlite3_column_int64(st, 11);
		rc = run->guest && run->kind && run->args && run->config && run->start_wall && run->end_wall
		     ? 0 : rp_syserr(r, "run", -ENOMEM);
	} else if (rc == SQLITE_DONE) {
		snprintf(r->err, r->errlen, "%s: no run %lld", r->dbname, (long long)id);
		rc = -ENOENT;
	}
	sqlite3_finalize(st);
	if (!rc && lanes)
		rc = load_lanes(r, run);
	if (!rc && lanes)
		rc = load_modes(r, run);
	return rc;
}

/* Frees a loaded run and zeroes it. */
void rp_run_free(struct rp_run *run)
{
	for (int i = 0; i < run->nlane; i++) {
		free(run->lane[i].name);
		free(run->lane[i].span);
	}
	free(run->lane);
	free(run->guest);
	free(run->kind);
	free(run->args);
	free(run->config);
	free(run->verdict);
	free(run->start_wall);
	free(run->end_wall);
	memset(run, 0, sizeof(*run));
}

/* Returns the lane index of device dev in run, or -1. */
int rp_lane_of(const struct rp_run *run, const char *dev)
{
	for (int i = 0; dev && i < run->nlane; i++)
		if (!strcmp(run->lane[i].name, dev))
			return i;
	return -1;
}

/* Runs sql (?1 bound to run when it uses it) whose rows are (name, value)
 * ordered by name then value, collecting one series per name. */
static int load_series(struct rp *r, const char *sql, int64_t run, struct rp_series **out, int *nout)
{
	sqlite3_stmt *st;
	struct rp_series *s = NULL;
	int ns = 0;
	int rc = rp_prepare(r, &st, sql);
	if (!rc && run)
		sqlite3_bind_int64(st, 1, run);
	while (!rc && (rc = rp_step(r, st)) == SQLITE_ROW) {
		rc = 0;
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (!name)
			name = "-";
		if (!ns || strcmp(s[ns - 1].name, name)) {
			struct rp_series *p = realloc(s, (size_t)(ns + 1) * sizeof(*p));
			if (!p || !(p[ns].name = strdup(name))) {
				s = p ? p : s;
				rc = -ENOMEM;
				break;
			}
			s = p;
			s[ns].v = NULL;
			s[ns].n = s[ns].cap = 0;
			ns++;
		}
		struct rp_series *x = &s[ns - 1];
		if (x->n == x->cap) {
			int64_t *v = realloc(x->v, (x->cap = x->cap ? 2 * x->cap : 256) * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			x->v = v;
		}
		x->v[x->n++] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		rc = 0;
	if (rc == -ENOMEM)
		rc = rp_syserr(r, "series", rc);
	if (rc) {
		rp_series_free(s, ns);
		s = NULL;
		ns = 0;
	}
	*out = s;
	*nout = ns;
	return rc;
}

/* Completed switches' latencies per device, sorted. Returns 0 or -errno. */
int rp_latencies(struct rp *r, int64_t run, struct rp_series **s, int *ns)
{
	return load_series(r, run ?
			   "SELECT device, completed_vtime_ns - requested_vtime_ns AS v FROM switch"
			   " WHERE run = ?1 AND outcome = 'done' AND completed_vtime_ns IS NOT NULL"
			   " AND requested_vtime_ns IS NOT NULL ORDER BY device, v" :
			   "SELECT device, completed_vtime_ns - requested_vtime_ns AS v FROM switch"
			   " WHERE outcome = 'done' AND completed_vtime_ns IS NOT NULL"
			   " AND requested_vtime_ns IS NOT NULL ORDER BY device, v", run, s, ns);
}

/* Closed pauses' lengths per kind, sorted. Returns 0 or -errno. */
int rp_pauses(struct rp *r, int64_t run, struct rp_series **s, int *ns)
{
	return load_series(r, run ?
			   "SELECT kind, end_vtime_ns - start_vtime_ns AS v FROM pause WHERE run = ?1"
			   " AND end_vtime_ns IS NOT NULL AND start_vtime_ns IS NOT NULL ORDER BY kind, v" :
			   "SELECT kind, end_vtime_ns - start_vtime_ns AS v FROM pause"
			   " WHERE end_vtime_ns IS NOT NULL AND start_vtime_ns IS NOT NULL ORDER BY kind, v",
			   run, s, ns);
}

/* Frees ns series and the array. */
void rp_series_free(struct rp_series *s, int ns)
{
	for (int i = 0; i < ns; i++) {
		free(s[i].name);
		free(s[i].v);
	}
	free(s);
}

/* Returns the nearest-rank value at quantile q of a sorted, non-empty series. */
int64_t rp_quantile(const struct rp_series *s, double q)
{
	size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
	return s->v[i < s->n ? i : s->n - 1];
}
