/*
 * Histograms of durations for the HTML page (switch latency per device,
 * pause length per kind) and the table of their quantiles.
 *
 * Durations here span six orders of magnitude (a com1 switch takes no
 * virtual time, an ATA one waits milliseconds for a sequence to end), so
 * the bins grow 1-2-5 from the smallest non-zero value, with exact zero in
 * a bin of its own, and bar heights follow log(count) so that a handful of
 * slow switches stays visible next to thousands of instant ones.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "report_int.h"

/* svg size, plot edges (left, right, top, bottom), legend x, widest bar */
enum { H_W = 560, H_H = 250, H_L = 46, H_R = 150, H_T = 30, H_B = 190, H_LEG = 420, H_BAR = 22, H_MAXBINS = 40 };

/* Returns the 1-2-5 value after e. */
static double next125(double e)
{
	double mag = pow(10, floor(log10(e) + 1e-9));
	double m = e / mag;
	return m < 1.5 ? 2 * mag : m < 3.5 ? 5 * mag : 10 * mag;
}

/* Fills up (the bins' upper edges, ascending) for values in s; bin 0 holds
 * exact zeros when zero is set. Returns the number of bins. */
static int edges(const struct rp_series *s, int ns, double *up, int *zero)
{
	int64_t lo = 0, hi = 0;
	*zero = 0;
	for (int i = 0; i < ns; i++)
		for (size_t k = 0; k < s[i].n; k++) {
			int64_t v = s[i].v[k];
			if (v <= 0)
				*zero = 1;
			else if (!lo || v < lo)
				lo = v;
			hi = v > hi ? v : hi;
		}
	int n = 0;
	if (*zero)
		up[n++] = 0;
	if (!lo)
		return n;
	double e = rp_nice_step((double)lo, 1);
	up[n++] = e;
	while (e < (double)hi && n < H_MAXBINS) {
		e = next125(e);
		up[n++] = e;
	}
	if (e < (double)hi)
		up[n - 1] = (double)hi;   /* the last bin takes the rest */
	return n;
}

/* Returns the y of count c on the log scale topped by max. */
static double ylog(uint64_t c, uint64_t max)
{
	return H_B - (H_B - H_T) * log10(1.0 + (double)c) / log10(1.0 + (double)max);
}

/* Draws the histogram of the series (see report_int.h); "no data" when all are empty. */
void rp_svg_histogram(FILE *f, const char *title, const struct rp_series *s, int ns,
		      const char *(*colour)(int i, const char *name))
{
	double up[H_MAXBINS];
	int zero, nb = edges(s, ns, up, &zero);
	uint64_t cnt[8][H_MAXBINS] = { { 0 } }, max = 0;
	if (ns > 8)
		ns = 8;   /* the palette's size; more series would not be told apart */
	for (int i = 0; i < ns; i++) {
		int b = 0;
		for (size_t k = 0; k < s[i].n; k++) {   /* values are sorted */
			while (b < nb - 1 && (double)s[i].v[k] > up[b])
				b++;
			if (++cnt[i][b] > max)
				max = cnt[i][b];
		}
	}
	fprintf(f, "<svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n", H_W, H_H);
	fprintf(f, "<text class=\"title\" x=\"%d\" y=\"14\">", H_L);
	rp_html(f, title);
	fputs("</text>\n", f);
	if (!max) {
		fprintf(f, "<text x=\"%d\" y=\"%d\">no data</text></svg>\n", H_L + 10, (H_T + H_B) / 2);
		return;
	}
	/* y axis: log scale, ticks at powers of ten */
	fprintf(f, "<path stroke=\"#999\" fill=\"none\" d=\"M%d %dV%dH%d\"/>\n", H_L, H_T, H_B, H_W - H_R);
	for (uint64_t c = 1; c <= max; c *= 10) {
		double y = ylog(c, max);
		fprintf(f, "<path stroke=\"#eee\" d=\"M%d %.1fH%d\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%llu</text>\n",
			H_L + 1, y, H_W - H_R, H_L - 4, y + 4, (unsigned long long)c);
	}
	fprintf(f, "<text x=\"4\" y=\"%d\" transform=\"rotate(-90 10 %d)\">count (log)</text>\n", (H_T + H_B) / 2 + 30,
		(H_T + H_B) / 2 + 30);
	double gw = (double)(H_W - H_R - H_L) / nb, bw = (gw - 2) / ns;
	bw = bw < 1 ? 1 : bw > H_BAR ? H_BAR : bw;
	char lo[32], hi[32];
	for (int b = 0; b < nb; b++) {
		double x0 = H_L + b * gw + (gw - bw * ns) / 2;   /* the group centred in its bin */
		for (int i = 0; i < ns; i++) {
			if (!cnt[i][b])
				continue;
			double y = ylog(cnt[i][b], max);
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x0 + i * bw,
				y, bw, H_B - y, colour(i, s[i].name));
			rp_html(f, s[i].name);
			if (zero && b == 0)
				fprintf(f, ": %llu of 0</title></rect>\n", (unsigned long long)cnt[i][b]);
			else
				fprintf(f, ": %llu in (%s, %s]</title></rect>\n", (unsigned long long)cnt[i][b],
					rp_dur(lo, sizeof(lo), b ? up[b - 1] : 0), rp_dur(hi, sizeof(hi), up[b]));
		}
		double xl = x0 + gw / 2;
		fprintf(f, "<text class=\"bin\" x=\"%.1f\" y=\"%d\" text-anchor=\"end\""
			" transform=\"rotate(-45 %.1f %d)\">%s%s</text>\n",
			xl, H_B + 12, xl, H_B + 12, zero && b == 0 ? "" : "\xe2\x89\xa4", rp_dur(hi, sizeof(hi), up[b]));
	}
	/* legend, right of the plot */
	for (int i = 0; i < ns; i++) {
		int y = H_T + 10 + i * 14;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
			H_LEG, y - 9, colour(i, s[i].name), H_LEG + 14, y);
		rp_html(f, s[i].name);
		fprintf(f, " (%zu)</text>\n", s[i].n);
	}
	fputs("</svg>\n", f);
}

/* Writes the quantile table of the series; "none" without series. */
void rp_stats_table(FILE *f, const char *what, const struct rp_series *s, int ns)
{
	static const double q[] = { 0, 0.5, 0.9, 0.99, 1 };
	char buf[32];
	fputs("<table class=\"stats\"><tr><th>", f);
	rp_html(f, what);
	fputs("</th><th>n</th><th>min</th><th>median</th><th>p90</th><th>p99</th><th>max</th></tr>\n", f);
	for (int i = 0; i < ns; i++) {
		fputs("<tr><td>", f);
		rp_html(f, s[i].name);
		fprintf(f, "</td><td class=\"num\">%zu</td>", s[i].n);
		for (int k = 0; k < 5; k++)
			fprintf(f, "<td class=\"num\">%s</td>", s[i].n ? rp_dur(buf, sizeof(buf), (double)rp_quantile(&s[i], q[k])) : "");
		fputs("</tr>\n", f);
	}
	if (!ns)
		fputs("<tr><td colspan=\"7\">none</td></tr>\n", f);
	fputs("</table>\n", f);
}
