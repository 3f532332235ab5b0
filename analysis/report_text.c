/*
 * Text for the reports: escaping database strings into HTML and JSON (the
 * database is input like any other: a guest name or a violation detail may
 * hold markup, quotes or bytes that are not UTF-8), durations in the unit a
 * reader expects, round axis steps, and the output file (written aside and
 * renamed into place).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report_int.h"

/* Returns the length of the valid UTF-8 sequence at s (1-4), or 0 when the
 * bytes there are not valid UTF-8 (overlong, surrogate, truncated). */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Writes s escaped for HTML text and attribute values. */
void rp_html(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		int n = utf8_len(p);
		if (!n || (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
			fputs("\xef\xbf\xbd", f);
			p++;
			continue;
		}
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fwrite(p, 1, (size_t)n, f); break;
		}
		p += n;
	}
}

/* Writes s as a JSON string literal. */
void rp_json(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	fputc('"', f);
	while (*p) {
		int n = utf8_len(p);
		if (!n) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fwrite(p, 1, (size_t)n, f);
		p += n;
	}
	fputc('"', f);
}

/* Formats a duration with 4 significant digits in ns, us, ms or s. Returns buf. */
const char *rp_dur(char *buf, size_t len, double ns)
{
	double a = fabs(ns);
	if (a == 0)
		snprintf(buf, len, "0");
	else if (a < 1e3)
		snprintf(buf, len, "%.4g ns", ns);
	else if (a < 1e6)
		snprintf(buf, len, "%.4g \xc2\xb5s", ns / 1e3);
	else if (a < 1e9)
		snprintf(buf, len, "%.4g ms", ns / 1e6);
	else
		snprintf(buf, len, "%.4g s", ns / 1e9);
	return buf;
}

/* Returns the smallest 1-2-5 step with at most maxticks steps over span. */
double rp_nice_step(double span, int maxticks)
{
	if (span <= 0 || maxticks < 1)
		return 1;
	double raw = span / maxticks;
	double mag = pow(10, floor(log10(raw)));
	static const double m[] = { 1, 2, 5, 10 };
	for (int i = 0; i < 4; i++)
		if (m[i] * mag >= raw)
			return m[i] * mag;
	return 10 * mag;
}

/* Opens the output (a temporary beside path, or stdout). Returns 0 or -errno. */
int rp_out_open(struct rp *r, const char *path)
{
	r->tmp = NULL;
	if (!strcmp(path, "-")) {
		r->f = stdout;
		return 0;
	}
	/* written beside the target and renamed at the end: a failed report
	 * never leaves half a file where the previous one was */
	if (asprintf(&r->tmp, "%s.tmp%ld", path, (long)getpid()) < 0) {
		r->tmp = NULL;
		return rp_syserr(r, path, -ENOMEM);
	}
	r->f = fopen(r->tmp, "w");
	if (!r->f) {
		int rc = rp_syserr(r, path, -errno);
		free(r->tmp);
		r->tmp = NULL;
		return rc;
	}
	return 0;
}

/* Closes the output and renames it into place on success. Returns rc or a write error. */
int rp_out_close(struct rp *r, const char *path, int rc)
{
	if (r->f == stdout) {
		if (fflush(stdout) && !rc)
			rc = rp_syserr(r, "stdout", -errno);
		r->f = NULL;
		return rc;
	}
	if (ferror(r->f) && !rc)
		rc = rp_syserr(r, path, -EIO);
	if (fclose(r->f) && !rc)
		rc = rp_syserr(r, path, -errno);
	r->f = NULL;
	if (!rc && rename(r->tmp, path))
		rc = rp_syserr(r, path, -errno);
	if (rc)
		unlink(r->tmp);
	free(r->tmp);
	r->tmp = NULL;
	return rc;
}
