/*
 * What the replayer prints: recorded events as text (accesses in the
 * shared access text form, traces/text.h), the accesses around a
 * divergence, the conformance report of an imported trace, the exhaustive
 * summary table and its progress bar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"
#include "../devices/ringblk.h"
#include "../traces/text.h"

double report__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *report__event(const struct rtrace *rt, size_t i, char *buf, size_t len)
{
	const struct rev *e = &rt->ev[i];
	const char *dev = rtrace__str(rt, e->dev), *reg = rtrace__str(rt, e->reg);
	int n = snprintf(buf, len, "seq %llu: ", (unsigned long long)e->seq);
	if (n < 0 || (size_t)n >= len)
		return buf;
	char *p = buf + n;
	size_t left = len - (size_t)n;
	switch (e->kind) {
	case RK_ACCESS:
		trace__access_text(p, left, dev, e->write, reg, e->value, e->mmio ? "mmio" : "pio", e->addr, e->size);
		break;
	case RK_MAPPED:
		trace__access_text(p, left, dev, 1, reg, e->value, "mmio", RINGBLK_BASE + e->off, e->size);
		snprintf(p + strlen(p), left - strlen(p), " (mapped store)");
		break;
	case RK_HALT:
		snprintf(p, left, "halt rip 0x%llx", (unsigned long long)e->rip);
		break;
	case RK_INJECT:
		snprintf(p, left, "interrupt vector 0x%llx", (unsigned long long)e->value);
		break;
	case RK_LINE:
		snprintf(p, left, "%s line %llu %s (%s)", dev ? dev : "-", (unsigned long long)e->addr,
			 e->value ? "raise" : "lower", e->target == LINE_MONITOR ? "monitor" : "guest");
		break;
	default:
		snprintf(p, left, "dma read %u bytes at 0x%llx", e->blob_len, (unsigned long long)e->addr);
		break;
	}
	return buf;
}

void report__context(FILE *out, const struct rtrace *rt, size_t at, int n)
{
	char buf[200];
	size_t lo = at, hi = at;
	for (int k = 0; k < n && lo > 0;)
		k += rt->ev[--lo].kind == RK_ACCESS || rt->ev[lo].kind == RK_MAPPED;
	for (int k = 0; k < n && hi + 1 < rt->n;)
		k += rt->ev[++hi].kind == RK_ACCESS || rt->ev[hi].kind == RK_MAPPED;
	for (size_t i = lo; i <= hi; i++) {
		int kind = rt->ev[i].kind;
		if (i != at && kind != RK_ACCESS && kind != RK_MAPPED && kind != RK_INJECT && kind != RK_HALT)
			continue;
		fprintf(out, "  %s %s\n", i == at ? "=>" : "  ", report__event(rt, i, buf, sizeof(buf)));
	}
}

/* Per-register tally of a conformance report. */
struct tally {
	uint32_t dev, reg;
	uint64_t n;
	size_t first[3];
};

void report__conform(FILE *out, const struct rig *g)
{
	const struct rtrace *rt = g->rt;
	struct tally t[64];
	int nt = 0;
	uint64_t reads = 0;
	for (size_t i = 0; i < rt->n; i++)
		reads += rt->ev[i].kind == RK_ACCESS && !rt->ev[i].write;
	fprintf(out, "conformance: our models answered %zu of %llu reads differently from the recording's"
		" device%s\n", g->ndiffs, (unsigned long long)reads, g->ndiffs ? ":" : "");
	for (size_t k = 0; k < g->ndiffs; k++) {
		const struct rev *e = &rt->ev[g->diffs[k].at];
		int j = 0;
		while (j < nt && (t[j].dev != e->dev || t[j].reg != e->reg))
			j++;
		if (j == nt) {
			if (nt == 64)
				continue;
			t[nt++] = (struct tally){ .dev = e->dev, .reg = e->reg };
		}
		if (t[j].n < 3)
			t[j].first[t[j].n] = k;
		t[j].n++;
	}
	for (int j = 0; j < nt; j++) {
		const char *dev = rtrace__str(rt, t[j].dev), *reg = rtrace__str(rt, t[j].reg);
		fprintf(out, "  %-8s %-12s %6llu differ; first:", dev ? dev : "-", reg ? reg : "-",
			(unsigned long long)t[j].n);
		for (uint64_t f = 0; f < t[j].n && f < 3; f++) {
			const struct rig_diff *d = &g->diffs[t[j].first[f]];
			fprintf(out, " seq %llu recorded 0x%llx ours 0x%llx%s", (unsigned long long)rt->ev[d->at].seq,
				(unsigned long long)d->want, (unsigned long long)d->got, f + 1 < t[j].n && f < 2 ? ";" : "");
		}
		fprintf(out, "\n");
	}
}

void report__summary(FILE *out, const struct replay_result *res, double wall_s, uint64_t trace_accesses)
{
	static const char *names[] = { "virtualize", "devirtualize", "roundtrip" };
	fprintf(out, "%-13s %10s %10s %11s %11s %9s %10s\n", "action", "injections", "identical", "reconverged",
		"dist median", "dist max", "violations");
	for (int a = 0; a < 3; a++) {
		const struct replay_action_stats *s = &res->act[a];
		fprintf(out, "%-13s %10llu %10llu %11llu %11llu %9llu %10llu\n", names[a],
			(unsigned long long)s->injections, (unsigned long long)s->identical,
			(unsigned long long)s->reconverged, (unsigned long long)s->dist_median,
			(unsigned long long)s->dist_max, (unsigned long long)s->violations);
	}
	fprintf(out, "trace: %llu accesses; %llu injections in %.2f s (%.0f injections/s); %llu accesses"
		" replayed (%.0f accesses/s); %llu polls and %llu waits inserted\n",
		(unsigned long long)trace_accesses, (unsigned long long)res->injections, wall_s,
		res->injections_per_s, (unsigned long long)res->replayed_accesses, res->accesses_per_s,
		(unsigned long long)res->polls, (unsigned long long)res->halts);
	if (res->restarts)
		fprintf(out, "%llu injections replayed from the start: the baseline's engine was not at rest before them"
			" (a device virtualized), so no checkpoint could serve\n", (unsigned long long)res->restarts);
}

void report__progress(uint64_t done, uint64_t total, uint64_t violations, double elapsed_s, int finished)
{
	char bar[41];
	double f = total ? (double)done / (double)total : 1.0;
	int fill = (int)(f * 40);
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[40] = 0;
	double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
	double eta = rate > 0 ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\r[%s] %3.0f%% %llu/%llu injections, %llu violations, %.0f/s, ETA %.0f s ", bar, f * 100,
		(unsigned long long)done, (unsigned long long)total, (unsigned long long)violations, rate, eta);
	if (finished)
		fprintf(stderr, "\n");
	fflush(stderr);
}
