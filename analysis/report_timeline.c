/*
 * One run's timeline as inline SVG: virtual time on x, a "guest" row
 * (exits, interrupt injections, faults) and one lane per device with rows
 * for switch requests, the device's mode, pauses, interrupt edges and
 * deferred accesses.
 *
 * Every event is aggregated into one-pixel bins before anything is drawn,
 * so a lane costs a few <path> elements whatever the run's length: a bin's
 * mode row is stacked by the share of the bin's time spent in each mode,
 * tick rows mark bins holding events (switch ticks grow with the log of
 * their count), pause rows mark bins a pause covers. Tooltips (<title>)
 * carry the exact totals.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report_int.h"

enum { P_WAIT, P_QUIESCE, P_BUSY, P_DEFER, P_N };
static const char *const pause_kind[P_N] = { "wait", "quiesce", "busy", "defer" };

/* Row offsets inside a lane, and the lane's height with its gap. */
enum { SW_Y = 0, SW_H = 8, MODE_Y = 10, MODE_H = 16, PAUSE_Y = 28, PAUSE_H = 6,
       IRQ_Y = 36, IRQ_H = 6, DEF_Y = 44, DEF_H = 6, LANE_STEP = 60,
       GUEST_H = 36, TOP = 6, AXIS_H = 26 };

/* One lane's bins. */
struct lbins {
	uint32_t sw_done[TL_W], sw_abort[TL_W], pause[P_N][TL_W];
	uint32_t irq_guest[TL_W], irq_mon[TL_W], defer[TL_W], fault[TL_W];
	double mode[RM_NMODES][TL_W];
	uint64_t n_done, n_abort, n_pause[P_N], n_irq_guest, n_irq_mon, n_defer, n_fault;
};

/* The whole timeline's bins: the guest row and the lanes. */
struct tl {
	int64_t end;
	uint32_t exits[TL_W], inject[TL_W], fault[TL_W];
	uint64_t n_exits, n_inject, n_fault;
	struct lbins *lane;
};

/* Returns the bin of virtual time vt (clamped to the plot). */
static int bin(const struct tl *t, int64_t vt)
{
	double b = (double)vt * TL_W / (double)t->end;
	return b < 0 ? 0 : b >= TL_W ? TL_W - 1 : (int)b;
}

/* Runs sql (?1 = run, ?2 = the virtual end) and calls fn for each row.
 * Returns 0 or -errno. */
static int each_row(struct rp *r, const struct rp_run *run, const char *sql,
		    void (*fn)(struct tl *t, const struct rp_run *run, sqlite3_stmt *st), struct tl *t)
{
	sqlite3_stmt *st;
	int rc = rp_prepare(r, &st, sql);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run->id);
	sqlite3_bind_int64(st, 2, run->end_vt);
	while ((rc = rp_step(r, st)) == SQLITE_ROW)
		fn(t, run, st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Returns the lane bins of the device in column 0 of st, or NULL. */
static struct lbins *lane_at(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	int k = rp_lane_of(run, (const char *)sqlite3_column_text(st, 0));
	return k < 0 ? NULL : &t->lane[k];
}

/* Row handlers for each_row, one per query. (vtime) of an exit. */
static void on_exitrow(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	t->exits[bin(t, sqlite3_column_int64(st, 0))]++;
	t->n_exits++;
}

/* (vtime) of an injection. */
static void on_inject(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	t->inject[bin(t, sqlite3_column_int64(st, 0))]++;
	t->n_inject++;
}

/* (device, vtime) of a fault: on its lane, else on the guest row. */
static void on_fault(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	struct lbins *l = lane_at(t, run, st);
	int b = bin(t, sqlite3_column_int64(st, 1));
	if (l) {
		l->fault[b]++;
		l->n_fault++;
	} else {
		t->fault[b]++;
		t->n_fault++;
	}
}

/* (device, target, vtime) of a rising edge. */
static void on_raise(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	struct lbins *l = lane_at(t, run, st);
	if (!l)
		return;
	int b = bin(t, sqlite3_column_int64(st, 2));
	const char *target = (const char *)sqlite3_column_text(st, 1);
	if (target && !strcmp(target, "monitor")) {
		l->irq_mon[b]++;
		l->n_irq_mon++;
	} else {
		l->irq_guest[b]++;
		l->n_irq_guest++;
	}
}

/* (device, requested vtime, outcome) of a switch. */
static void on_switch(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	struct lbins *l = lane_at(t, run, st);
	if (!l)
		return;
	int b = bin(t, sqlite3_column_int64(st, 1));
	const char *o = (const char *)sqlite3_column_text(st, 2);
	if (o && !strcmp(o, "aborted")) {
		l->sw_abort[b]++;
		l->n_abort++;
	} else {
		l->sw_done[b]++;
		l->n_done++;
	}
}

/* (device, kind, start, end) of a pause: marks every bin it covers. */
static void on_pause(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	struct lbins *l = lane_at(t, run, st);
	const char *kind = (const char *)sqlite3_column_text(st, 1);
	int k = 0;
	while (k < P_N && (!kind || strcmp(kind, pause_kind[k])))
		k++;
	if (!l || k == P_N)
		return;
	int64_t t0 = sqlite3_column_int64(st, 2), t1 = sqlite3_column_int64(st, 3);
	int b1 = bin(t, t1 > t0 ? t1 - 1 : t0);
	for (int b = bin(t, t0); b <= b1; b++)
		l->pause[k][b]++;
	l->n_pause[k]++;
}

/* (device, vtime) of a deferred access. */
static void on_defer(struct tl *t, const struct rp_run *run, sqlite3_stmt *st)
{
	struct lbins *l = lane_at(t, run, st);
	if (!l)
		return;
	l->defer[bin(t, sqlite3_column_int64(st, 1))]++;
	l->n_defer++;
}

/* Adds the time of lane's mode spans to its bins. */
static void bin_modes(struct tl *t, const struct rp_lane *lane, struct lbins *l)
{
	for (size_t i = 0; i < lane->n; i++) {
		const struct rp_span *s = &lane->span[i];
		double b0 = (double)s->t0 * TL_W / (double)t->end, b1 = (double)s->t1 * TL_W / (double)t->end;
		for (int b = (int)b0; b < TL_W && b < b1; b++) {
			double lo = b0 > b ? b0 : b, hi = b1 < b + 1 ? b1 : b + 1;
			if (hi > lo && s->mode >= 0 && s->mode < RM_NMODES)
				l->mode[s->mode][b] += hi - lo;
		}
	}
}

/* Fills t from the database. Returns 0 or -errno. */
static int fill(struct rp *r, const struct rp_run *run, struct tl *t)
{
	int rc = each_row(r, run, "SELECT vtime_ns FROM access WHERE run = ?1"
			  " UNION ALL SELECT vtime_ns FROM halt WHERE run = ?1", on_exitrow, t);
	if (!rc)
		rc = each_row(r, run, "SELECT vtime_ns FROM irq WHERE run = ?1 AND event = 'inject'", on_inject, t);
	if (!rc)
		rc = each_row(r, run, "SELECT device, target, vtime_ns FROM irq WHERE run = ?1 AND event = 'raise'"
			      " AND device IS NOT NULL", on_raise, t);
	if (!rc)
		rc = each_row(r, run, "SELECT device, coalesce(requested_vtime_ns, started_vtime_ns, 0), outcome"
			      " FROM switch WHERE run = ?1", on_switch, t);
	if (!rc)
		rc = each_row(r, run, "SELECT device, kind, coalesce(start_vtime_ns, 0), coalesce(end_vtime_ns, ?2)"
			      " FROM pause WHERE run = ?1", on_pause, t);
	if (!rc)
		rc = each_row(r, run, "SELECT s.device, a.vtime_ns FROM deferred d"
			      " JOIN switch s ON s.run = d.run AND s.id = d.switch"
			      " JOIN access a ON a.run = d.run AND a.seq = d.seq WHERE d.run = ?1", on_defer, t);
	if (!rc)
		rc = each_row(r, run, "SELECT device, vtime_ns FROM fault WHERE run = ?1 AND vtime_ns IS NOT NULL",
			      on_fault, t);
	for (int i = 0; !rc && i < run->nlane; i++)
		bin_modes(t, &run->lane[i], &t->lane[i]);
	return rc;
}

/* Draws one path of vertical ticks at y..y+h for the bins holding events;
 * scaled: heights grow with log(count), else full. */
static void ticks(FILE *f, const uint32_t *c, int y, int h, int scaled, const char *colour)
{
	uint32_t max = 0;
	for (int i = 0; i < TL_W; i++)
		max = c[i] > max ? c[i] : max;
	if (!max)
		return;
	fprintf(f, "<path stroke=\"%s\" d=\"", colour);
	for (int i = 0; i < TL_W; i++) {
		if (!c[i])
			continue;
		int hh = scaled && max > 1 ? 2 + (int)lround((h - 2) * log1p(c[i]) / log1p(max)) : h;
		fprintf(f, "M%d.5 %dv%d", TL_X0 + i, y + h - hh, hh);
	}
	fputs("\"/>\n", f);
}

/* Fills the bins where c is non-zero, merged into runs, at y..y+h. */
static void cover(FILE *f, const uint32_t *c, int y, int h, const char *colour)
{
	int any = 0;
	for (int i = 0; i < TL_W; i++) {
		if (!c[i])
			continue;
		int j = i;
		while (j < TL_W && c[j])
			j++;
		if (!any++)
			fprintf(f, "<path fill=\"%s\" d=\"", colour);
		fprintf(f, "M%d %dh%dv%dh%dz", TL_X0 + i, y, j - i, h, i - j);
		i = j;
	}
	if (any)
		fputs("\"/>\n", f);
}

/* Splits h pixels between the modes in proportion to fr (largest
 * remainder), into px. */
static void shares(const double *fr, int h, int *px)
{
	double tot = 0, rem[RM_NMODES];
	int used = 0;
	for (int m = 0; m < RM_NMODES; m++)
		tot += fr[m];
	for (int m = 0; m < RM_NMODES; m++) {
		double x = tot > 0 ? fr[m] / tot * h : 0;
		px[m] = (int)x;
		rem[m] = x - px[m];
		used += px[m];
	}
	while (tot > 0 && used < h) {
		int best = 0;
		for (int m = 1; m < RM_NMODES; m++)
			best = rem[m] > rem[best] ? m : best;
		px[best]++;
		rem[best] = -1;
		used++;
	}
}

/* Draws a lane's mode row: per bin, the modes stacked by their share of
 * the bin's time; runs of bins with equal stacks become one rectangle. */
static void modes(FILE *f, const struct lbins *l, int y)
{
	int px[TL_W][RM_NMODES];
	for (int i = 0; i < TL_W; i++) {
		double fr[RM_NMODES];
		for (int m = 0; m < RM_NMODES; m++)
			fr[m] = l->mode[m][i];
		shares(fr, MODE_H, px[i]);
	}
	for (int m = 0; m < RM_NMODES; m++) {
		int any = 0;
		for (int i = 0; i < TL_W;) {
			int j = i + 1;
			while (j < TL_W && !memcmp(px[j], px[i], sizeof(px[i])))
				j++;
			if (px[i][m]) {
				int off = 0;
				for (int k = 0; k < m; k++)
					off += px[i][k];
				if (!any++)
					fprintf(f, "<path fill=\"%s\" d=\"", rp_mode_colour[m]);
				fprintf(f, "M%d %dh%dv%dh%dz", TL_X0 + i, y + off, j - i, px[i][m], i - j);
			}
			i = j;
		}
		if (any)
			fputs("\"/>\n", f);
	}
}

/* Writes the x axis at y (tick labels in the unit of the step) and grid
 * lines from top down to y. */
static void axis(FILE *f, int64_t end, int top, int y)
{
	char buf[32];
	double step = rp_nice_step((double)end, 10);
	fprintf(f, "<g class=\"axis\"><path stroke=\"#bbb\" d=\"M%d %dh%d\"/>\n", TL_X0, y, TL_W);
	for (double v = 0; v <= (double)end * 1.0000001; v += step) {
		double x = TL_X0 + v * TL_W / (double)end;
		fprintf(f, "<path stroke=\"#000\" stroke-opacity=\".12\" d=\"M%.1f %dV%d\"/><path stroke=\"#888\" d=\"M%.1f %dv4\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			x, top, y, x, y, x, y + 15, rp_dur(buf, sizeof(buf), v));
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">virtual time</text></g>\n", TL_X0 - 6, y + 15);
}

/* Writes a row label at the left of the plot. */
static void label(FILE *f, int y, const char *text)
{
	fprintf(f, "<text class=\"row\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", TL_X0 - 6, y, text);
}

/* Draws lane i of run at y. */
static void lane(FILE *f, const struct rp_run *run, int i, const struct lbins *l, int y)
{
	const struct rp_lane *ln = &run->lane[i];
	char a[32], b[32], c[32], d[32];
	double tm[RM_NMODES] = { 0 };
	for (size_t k = 0; k < ln->n; k++)
		if (ln->span[k].mode >= 0 && ln->span[k].mode < RM_NMODES)
			tm[ln->span[k].mode] += (double)(ln->span[k].t1 - ln->span[k].t0);
	fprintf(f, "<g class=\"lane\"><title>");
	rp_html(f, ln->name);
	fprintf(f, ": %llu switches requested (%llu aborted); pass-through %s, tracking %s, virtualized %s,"
		" quiescing %s; pauses: %llu wait, %llu quiesce, %llu busy, %llu defer; %llu deferred accesses;"
		" interrupt edges: %llu to the guest, %llu to the monitor; %llu faults</title>\n",
		(unsigned long long)(l->n_done + l->n_abort), (unsigned long long)l->n_abort,
		rp_dur(a, sizeof(a), tm[RM_PASS]), rp_dur(b, sizeof(b), tm[RM_TRACK]), rp_dur(c, sizeof(c), tm[RM_VIRT]),
		rp_dur(d, sizeof(d), tm[RM_QUIESCE]), (unsigned long long)l->n_pause[P_WAIT],
		(unsigned long long)l->n_pause[P_QUIESCE], (unsigned long long)l->n_pause[P_BUSY],
		(unsigned long long)l->n_pause[P_DEFER], (unsigned long long)l->n_defer,
		(unsigned long long)l->n_irq_guest, (unsigned long long)l->n_irq_mon, (unsigned long long)l->n_fault);
	fprintf(f, "<rect class=\"bg\" x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", y - 2, TL_X0 + TL_W + TL_PAD,
		LANE_STEP - 6);
	fprintf(f, "<text class=\"dev\" x=\"4\" y=\"%d\">", y + MODE_Y + 12);
	rp_html(f, ln->name);
	fputs("</text>\n", f);
	label(f, y + SW_Y + 7, "switch");
	label(f, y + MODE_Y + 12, "mode");
	label(f, y + PAUSE_Y + 6, "pause");
	label(f, y + IRQ_Y + 6, "irq");
	label(f, y + DEF_Y + 6, "defer");
	ticks(f, l->sw_done, y + SW_Y, SW_H, 1, RP_C_SWITCH);
	ticks(f, l->sw_abort, y + SW_Y, SW_H, 1, RP_C_ABORT);
	if (ln->switched) {
		modes(f, l, y + MODE_Y);
	} else {
		fprintf(f, "<rect fill=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
			"<text class=\"row\" x=\"%d\" y=\"%d\">not switched in this database</text>\n",
			RP_C_FIXED, TL_X0, y + MODE_Y, TL_W, MODE_H, TL_X0 + 4, y + MODE_Y + 12);
	}
	for (int k = 0; k < P_N; k++)
		cover(f, l->pause[k], y + PAUSE_Y, PAUSE_H, rp_pause_colour(pause_kind[k]));
	ticks(f, l->irq_guest, y + IRQ_Y, IRQ_H / 2, 0, RP_C_IRQ_GUEST);
	ticks(f, l->irq_mon, y + IRQ_Y + IRQ_H / 2, IRQ_H / 2, 0, RP_C_IRQ_MON);
	ticks(f, l->defer, y + DEF_Y, DEF_H / 2, 0, RP_C_DEFER);
	ticks(f, l->fault, y + DEF_Y + DEF_H / 2, DEF_H / 2, 0, RP_C_FAULT);
	fputs("</g>\n", f);
}

/* Draws the guest row at y: exits per bin as an area, injections, faults
 * that name no lane. */
static void guest_row(FILE *f, const struct tl *t, int y)
{
	uint32_t max = 1;
	for (int i = 0; i < TL_W; i++)
		max = t->exits[i] > max ? t->exits[i] : max;
	char a[32];
	fprintf(f, "<g class=\"lane\"><title>guest: %llu exits (at most %u in %s), %llu interrupts injected,"
		" %llu faults</title>\n", (unsigned long long)t->n_exits, max, rp_dur(a, sizeof(a), (double)t->end / TL_W),
		(unsigned long long)t->n_inject, (unsigned long long)t->n_fault);
	fprintf(f, "<text class=\"dev\" x=\"4\" y=\"%d\">guest</text>\n", y + 16);
	label(f, y + 16, "exits");
	label(f, y + 29, "inject");
	fprintf(f, "<path fill=\"%s\" d=\"M%d %d", RP_C_EXITS, TL_X0, y + 22);
	for (int i = 0; i < TL_W;) {   /* a step outline, one segment per run of equal heights */
		int h = (int)lround(21.0 * t->exits[i] / max), j = i + 1;
		while (j < TL_W && (int)lround(21.0 * t->exits[j] / max) == h)
			j++;
		fprintf(f, "V%dh%d", y + 22 - h, j - i);
		i = j;
	}
	fprintf(f, "V%dz\"/>\n", y + 22);
	ticks(f, t->inject, y + 24, 6, 0, RP_C_INJECT);
	ticks(f, t->fault, y + 30, 6, 0, RP_C_FAULT);
	fputs("</g>\n", f);
}

/* Bins the run's events and draws its timeline. Returns 0 or -errno. */
int rp_svg_timeline(struct rp *r, const struct rp_run *run)
{
	struct tl *t = calloc(1, sizeof(*t));
	if (!t || !(t->lane = calloc((size_t)run->nlane + 1, sizeof(*t->lane)))) {
		free(t);
		return rp_syserr(r, "timeline", -ENOMEM);
	}
	t->end = run->end_vt > 0 ? run->end_vt : 1;
	int rc = fill(r, run, t);
	if (!rc) {
		FILE *f = r->f;
		int h = TOP + GUEST_H + run->nlane * LANE_STEP + AXIS_H;
		fprintf(f, "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
			" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">\n",
			TL_X0 + TL_W + TL_PAD, h, TL_X0 + TL_W + TL_PAD, h);
		guest_row(f, t, TOP);
		for (int i = 0; i < run->nlane; i++)
			lane(f, run, i, &t->lane[i], TOP + GUEST_H + i * LANE_STEP);
		axis(f, t->end, TOP, h - AXIS_H + 2);   /* last: its grid lies over the lanes */
		fputs("</svg>\n", f);
	}
	free(t->lane);
	free(t);
	return rc;
}

/* Draws the legend of the timelines' colours and marks. */
void rp_svg_legend(FILE *f)
{
	/* mode >= 0: a mode's colour; pause: a pause kind's; tick: drawn thin */
	static const struct { const char *name, *colour, *pause; int mode, tick; } item[] = {
		{ "pass-through", NULL, NULL, RM_PASS, 0 },
		{ "tracking (V1-V5)", NULL, NULL, RM_TRACK, 0 },
		{ "virtualized (V6-)", NULL, NULL, RM_VIRT, 0 },
		{ "quiescing (D1-D7)", NULL, NULL, RM_QUIESCE, 0 },
		{ "not switched (any run)", RP_C_FIXED, NULL, -1, 0 },
		{ "exits per pixel", RP_C_EXITS, NULL, -1, 0 },
		{ "switch requested", RP_C_SWITCH, NULL, -1, 1 },
		{ "switch aborted", RP_C_ABORT, NULL, -1, 1 },
		{ "pause: wait (V4)", NULL, "wait", -1, 0 },
		{ "pause: quiesce (D1)", NULL, "quiesce", -1, 0 },
		{ "pause: busy", NULL, "busy", -1, 0 },
		{ "pause: defer", NULL, "defer", -1, 0 },
		{ "irq edge to guest", RP_C_IRQ_GUEST, NULL, -1, 1 },
		{ "irq edge to monitor", RP_C_IRQ_MON, NULL, -1, 1 },
		{ "injection", RP_C_INJECT, NULL, -1, 1 },
		{ "deferred access", RP_C_DEFER, NULL, -1, 1 },
		{ "fault", RP_C_FAULT, NULL, -1, 1 },
	};
	int n = (int)(sizeof(item) / sizeof(item[0])), per = 6, w = 170;
	int h = ((n + per - 1) / per) * 18 + 4;
	fprintf(f, "<svg class=\"legend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n",
		per * w, h);
	for (int i = 0; i < n; i++) {
		int x = (i % per) * w, y = (i / per) * 18 + 2;
		const char *c = item[i].mode >= 0 ? rp_mode_colour[item[i].mode]
				: item[i].pause ? rp_pause_colour(item[i].pause) : item[i].colour;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"%s\"/>",
			x + (item[i].tick ? 5 : 0), y, item[i].tick ? 3 : 14, c);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 19, y + 10, item[i].name);
	}
	fputs("</svg>\n", f);
}
