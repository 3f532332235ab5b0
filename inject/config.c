/*
 * Campaign file parsing. libinih splits the file into sections and
 * key = value pairs; everything else is here: a table of the keys each
 * section takes, one setter per value type, then the cross-key checks
 * (required keys, keys that belong to another trigger). inih's handler does
 * not receive line numbers in Debian's build, so the file is fed through a
 * reader that counts lines: inih calls the handler while it holds the line
 * the reader returned last. The reader also sees section headers, which
 * gives unknown sections and missing keys a line to point at.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "config.h"
#include "../engine/engine.h"
#include "../lib/units.h"

enum sec { S_CAMPAIGN, S_DEVICE, S_INJECT, S_FAULTS, S_N };
static const char *const sec_names[S_N] = { "campaign", "device", "inject", "faults" };
static const char *const dev_names[CD_N] = { "ata", "uart", "ringblk" };
static const char *const dev_models[CD_N] = { "ata-disk", "16550a", "ringblk" };
static const char *const fault_names[FK_N] = {
	"irq_drop", "irq_delay", "irq_duplicate", "irq_spurious", "error_status", "slow_completion",
};

struct pctx;
struct key;
typedef int set_fn(struct pctx *p, const struct key *k, const char *v);

struct key {
	int sec;
	const char *name;
	set_fn *set;
	size_t off;               /* into campaign_cfg, or camp_device for S_DEVICE */
	uint64_t lo, hi;          /* numbers: accepted range */
	const char *const *words; /* enums: accepted words, index stored as int */
	int required;             /* 1: always; 2: in live mode */
	int trigger;              /* [inject]: only with this trigger (0: any) */
	int mode;                 /* 1 + enum camp_mode the key is only used with; 0: both */
};

#define MAX_LINE 1024

struct pctx {
	FILE *f;
	const char *path;
	struct campaign_cfg *c;
	int line;                 /* line the reader returned last */
	int sec, dev;             /* current section (S_N: unknown), device index */
	char secname[64];
	int sec_line[S_N + CD_N];  /* first header line of each section (device: S_N + d) */
	int *seen;                /* line of each key, per device for S_DEVICE */
	int failed;
	char *err;
	size_t errlen;
};

/* Records the first error as "file:line: [section] key: message". Returns 0
 * (what an inih handler returns to report an error). */
static int fail_at(struct pctx *p, int line, const char *section, const char *key, const char *fmt, ...)
{
	if (p->failed)
		return 0;
	p->failed = 1;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char where[160] = "";
	if (*section)
		snprintf(where, sizeof(where), "[%s]%s", section, key ? " " : "");
	if (key)
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s", key);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->path, line, where, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s: %s", p->path, where, msg);
	return 0;
}

#define FAIL(p, k, ...) fail_at(p, (p)->line, (p)->secname, (k)->name, __VA_ARGS__)

/* Returns where key k stores its value in the configuration. */
static void *field(struct pctx *p, const struct key *k)
{
	char *base = k->sec == S_DEVICE ? (char *)&p->c->dev[p->dev] : (char *)p->c;
	return base + k->off;
}

/* Setters: store value v of key k (returns 1), or record why it is bad
 * (returns 0, inih's error). set_str: a string, non-empty when required. */
static int set_str(struct pctx *p, const struct key *k, const char *v)
{
	char **dst = field(p, k);
	if (!*v && k->required)
		return FAIL(p, k, "must not be empty");
	free(*dst);
	*dst = strdup(v);
	return *dst ? 1 : FAIL(p, k, "out of memory");
}

/* A plain number within [k->lo, k->hi]. */
static int set_u64(struct pctx *p, const struct key *k, const char *v)
{
	uint64_t n;
	if (units__u64(v, &n))
		return FAIL(p, k, "'%s' is not a number", v);
	if (n < k->lo || n > k->hi)
		return FAIL(p, k, "%s is out of range (%llu..%llu)", v, (unsigned long long)k->lo,
			    (unsigned long long)k->hi);
	*(uint64_t *)field(p, k) = n;
	return 1;
}

/* A duration with its unit, within [k->lo, k->hi] ns. */
static int set_dur(struct pctx *p, const struct key *k, const char *v)
{
	uint64_t ns;
	if (units__duration(v, &ns))
		return FAIL(p, k, "'%s' is not a duration (a number with a unit: ns, us, ms, s)", v);
	if (ns < k->lo || ns > k->hi)
		return FAIL(p, k, "%s is out of range", v);
	*(uint64_t *)field(p, k) = ns;
	return 1;
}

/* A byte size (16M, 64MiB), within [k->lo, k->hi]. */
static int set_size(struct pctx *p, const struct key *k, const char *v)
{
	uint64_t n;
	if (units__size(v, &n))
		return FAIL(p, k, "'%s' is not a size (e.g. 16M, 64MiB, 1G)", v);
	if (n < k->lo || n > k->hi)
		return FAIL(p, k, "%s is out of range", v);
	*(uint64_t *)field(p, k) = n;
	return 1;
}

/* Parses a probability in [0, 1]. Returns 0 or -EINVAL. */
static int parse_rate(const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || *end || errno || !(d >= 0.0 && d <= 1.0))
		return -EINVAL;
	*out = d;
	return 0;
}

/* A probability. */
static int set_rate(struct pctx *p, const struct key *k, const char *v)
{
	if (parse_rate(v, field(p, k)))
		return FAIL(p, k, "'%s' is not a probability between 0 and 1", v);
	return 1;
}

/* One of k->words, stored as its index. */
static int set_enum(struct pctx *p, const struct key *k, const char *v)
{
	char list[256] = "";
	for (int i = 0; k->words[i]; i++) {
		if (!strcmp(v, k->words[i])) {
			*(int *)field(p, k) = i;
			return 1;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", k->words[i]);
	}
	return FAIL(p, k, "'%s' is not one of %s", v, list);
}

/* Splits a comma-separated list in place into at most max trimmed words.
 * Returns the number, or -1 when there are more or one is empty. */
static int split(char *s, char **w, int max)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = 0;
		if (!*tok || n == max)
			return -1;
		w[n++] = tok;
	}
	return n;
}

/* [inject] actions: a list of engine actions. */
static int set_actions(struct pctx *p, const struct key *k, const char *v)
{
	static const char *const names[] = { "virtualize", "devirtualize", "roundtrip" };
	char buf[MAX_LINE], *w[3];
	snprintf(buf, sizeof(buf), "%s", v);
	int n = split(buf, w, 3);
	if (n <= 0)
		return FAIL(p, k, "expected one to three of virtualize, devirtualize, roundtrip");
	for (int i = 0; i < n; i++) {
		int a = -1;
		for (int j = 0; j < 3; j++)
			if (!strcmp(w[i], names[j]))
				a = j;
		if (a < 0)
			return FAIL(p, k, "unknown action '%s' (virtualize, devirtualize, roundtrip)", w[i]);
		p->c->actions[i] = a;
	}
	p->c->nactions = n;
	return 1;
}

/* Returns the campaign device named name, or -1. */
static int dev_index(const char *name)
{
	for (int d = 0; d < CD_N; d++)
		if (!strcmp(name, dev_names[d]))
			return d;
	return -1;
}

/* [inject] devices: all, or a list of devices (by engine name). */
static int set_devices(struct pctx *p, const struct key *k, const char *v)
{
	char buf[MAX_LINE], *w[CD_N + 1];
	snprintf(buf, sizeof(buf), "%s", v);
	int n = split(buf, w, CD_N + 1);
	if (n <= 0)
		return FAIL(p, k, "expected all or a list of ata, uart, ringblk");
	p->c->ndevices = 0;
	for (int i = 0; i < n; i++) {
		int d = dev_index(w[i]);
		if (d < 0 && strcmp(w[i], "all"))
			return FAIL(p, k, "unknown device '%s' (ata, uart, ringblk, all)", w[i]);
		if (d < 0 && n > 1)
			return FAIL(p, k, "'all' cannot be combined with other devices");
		snprintf(p->c->devices[p->c->ndevices++], sizeof(p->c->devices[0]), "%s",
			 d < 0 ? "all" : camp_dev__engine_name(d));
	}
	return 1;
}

/* [faults] devices: all, or a list, as a bit set. */
static int set_fault_devs(struct pctx *p, const struct key *k, const char *v)
{
	char buf[MAX_LINE], *w[CD_N + 1];
	snprintf(buf, sizeof(buf), "%s", v);
	int n = split(buf, w, CD_N + 1);
	if (n <= 0)
		return FAIL(p, k, "expected all or a list of ata, uart, ringblk");
	p->c->fault_devs = 0;
	for (int i = 0; i < n; i++) {
		int d = dev_index(w[i]);
		if (d < 0 && strcmp(w[i], "all"))
			return FAIL(p, k, "unknown device '%s' (ata, uart, ringblk, all)", w[i]);
		p->c->fault_devs |= d < 0 ? (1u << CD_N) - 1 : 1u << d;
	}
	return 1;
}

/* [inject] match: a PCRE2 pattern, compiled (and JIT-compiled) now so that
 * a bad one is reported with its offset before anything runs. */
static int set_match(struct pctx *p, const struct key *k, const char *v)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return FAIL(p, k, "PCRE2 error at offset %zu: %s", (size_t)off, (char *)msg);
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  /* no JIT: the interpreter still matches */
	pcre2_code_free(p->c->match);
	free(p->c->match_src);
	p->c->match = re;
	p->c->match_src = strdup(v);
	return p->c->match_src ? 1 : FAIL(p, k, "out of memory");
}

/* A fault value: "rate P", "every N", "seq N", "vtime DUR" or "off". */
static int set_fault(struct pctx *p, const struct key *k, const char *v)
{
	struct fault_spec *f = &p->c->fault[k->off];
	char word[16], arg[MAX_LINE], extra[2];
	int n = sscanf(v, "%15s %1023s %1s", word, arg, extra);
	memset(f, 0, sizeof(*f));
	if (n == 1 && !strcmp(word, "off"))
		return 1;
	if (n != 2)
		return FAIL(p, k, "expected 'rate P', 'every N', 'seq N', 'vtime DURATION' or 'off'");
	if (!strcmp(word, "rate")) {
		f->when = FW_RATE;
		if (parse_rate(arg, &f->rate))
			return FAIL(p, k, "'%s' is not a probability between 0 and 1", arg);
	} else if (!strcmp(word, "every") || !strcmp(word, "seq")) {
		f->when = word[0] == 'e' ? FW_EVERY : FW_SEQ;
		if (units__u64(arg, &f->arg) || (f->when == FW_EVERY && !f->arg))
			return FAIL(p, k, "'%s' is not a%s number", arg, f->when == FW_EVERY ? " positive" : "");
	} else if (!strcmp(word, "vtime")) {
		f->when = FW_VTIME;
		if (units__duration(arg, &f->arg))
			return FAIL(p, k, "'%s' is not a duration (a number with a unit: ns, us, ms, s)", arg);
	} else {
		return FAIL(p, k, "unknown fault trigger '%s' (rate, every, seq, vtime, off)", word);
	}
	return 1;
}

/* [device.*] model: must name the model this build has for the device. */
static int set_model(struct pctx *p, const struct key *k, const char *v)
{
	if (strcmp(v, dev_models[p->dev]))
		return FAIL(p, k, "'%s' is not the model of %s in this build ('%s')", v, dev_names[p->dev],
			    dev_models[p->dev]);
	return 1;
}

static const char *const modes[] = { "live", "replay", NULL };
static const char *const resets[] = { "snapshot", "fresh", NULL };
static const char *const seeds[] = { "derived", "fixed", NULL };
static const char *const devmodes[] = { "pass-through", "virtualized", NULL };
static const char *const yesno[] = { "no", "yes", NULL };
static const char *const yesnoauto[] = { "no", "yes", "auto", NULL };
static const char *const triggers[] = { "none", "seq", "vtime", "every", "random", "exhaustive", "match", NULL };
static const char *const midseqs[] = { "wait", "takeover", NULL };
static const char *const blocks[] = { "busy", "defer", NULL };
static const char *const whenbusy[] = { "skip", "queue", NULL };
static const char *const during[] = { "anywhere", "switch", NULL };

#define C(f) offsetof(struct campaign_cfg, f)
#define D(f) offsetof(struct camp_device, f)
#define MAXU UINT64_MAX
#define SEC 1000000000ull
#define K(s, n, f, o, ...) { .sec = s, .name = n, .set = f, .off = o, __VA_ARGS__ }
#define LIVE .mode = 1 + CM_LIVE
#define REPLAY .mode = 1 + CM_REPLAY
static const struct key keys[] = {
	K(S_CAMPAIGN, "name", set_str, C(name), .required = 1),
	K(S_CAMPAIGN, "guest", set_str, C(guest), .required = 2),
	K(S_CAMPAIGN, "args", set_str, C(args), LIVE),
	K(S_CAMPAIGN, "runs", set_u64, C(runs), .lo = 1, .hi = 10000000, .required = 1),
	K(S_CAMPAIGN, "seed", set_u64, C(seed), .lo = 0, .hi = 0xffffffffull, LIVE),
	K(S_CAMPAIGN, "seeds", set_enum, C(fixed_seed), .words = seeds, LIVE),
	K(S_CAMPAIGN, "mode", set_enum, C(mode), .words = modes),
	K(S_CAMPAIGN, "trace", set_str, C(trace), REPLAY),
	K(S_CAMPAIGN, "trace_run", set_u64, C(trace_run), .lo = 1, .hi = INT64_MAX, REPLAY),
	K(S_CAMPAIGN, "db", set_str, C(db), LIVE),
	K(S_CAMPAIGN, "reset", set_enum, C(reset), .words = resets, LIVE),
	K(S_CAMPAIGN, "baseline", set_enum, C(baseline), .words = yesno, LIVE),
	K(S_CAMPAIGN, "kernel_trace", set_enum, C(kernel_trace), .words = yesnoauto, LIVE),
	K(S_CAMPAIGN, "timeout", set_dur, C(timeout_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_CAMPAIGN, "wall_timeout", set_dur, C(wall_timeout_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_CAMPAIGN, "exit_cost", set_dur, C(exit_cost_ns), .lo = 1, .hi = SEC, LIVE),
	K(S_CAMPAIGN, "mem", set_size, C(mem), .lo = 2ull << 20, .hi = 3ull << 30, LIVE),
	K(S_DEVICE, "model", set_model, 0, LIVE),
	K(S_DEVICE, "disk", set_str, D(disk), LIVE),
	K(S_DEVICE, "disk_size", set_size, D(disk_size), .lo = 512, .hi = 1ull << 40, LIVE),
	K(S_DEVICE, "mode", set_enum, D(virtualized), .words = devmodes, LIVE),
	K(S_DEVICE, "trap", set_enum, D(trap), .words = yesno, LIVE),
	K(S_INJECT, "trigger", set_enum, C(trigger), .words = triggers, .required = 1),
	K(S_INJECT, "seq", set_u64, C(trig_arg), .lo = 0, .hi = MAXU, .trigger = CT_SEQ),
	K(S_INJECT, "vtime", set_dur, C(trig_arg), .lo = 0, .hi = MAXU, .trigger = CT_VTIME, LIVE),
	K(S_INJECT, "every", set_u64, C(trig_arg), .lo = 1, .hi = MAXU, .trigger = CT_EVERY, LIVE),
	K(S_INJECT, "rate", set_rate, C(rate), .trigger = CT_RANDOM, LIVE),
	K(S_INJECT, "from", set_u64, C(from), .lo = 0, .hi = MAXU, .trigger = CT_EXHAUSTIVE, LIVE),
	K(S_INJECT, "step", set_u64, C(step), .lo = 1, .hi = MAXU, .trigger = CT_EXHAUSTIVE, LIVE),
	K(S_INJECT, "match", set_match, 0, .trigger = CT_MATCH),
	K(S_INJECT, "actions", set_actions, 0),
	K(S_INJECT, "devices", set_devices, 0),
	K(S_INJECT, "max_per_run", set_u64, C(max_per_run), .lo = 0, .hi = MAXU, LIVE),
	K(S_INJECT, "when_busy", set_enum, C(when_busy_queue), .words = whenbusy, LIVE),
	K(S_INJECT, "midseq", set_enum, C(midseq), .words = midseqs, LIVE),
	K(S_INJECT, "block", set_enum, C(block), .words = blocks, LIVE),
	K(S_INJECT, "wait_bound", set_dur, C(wait_bound_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_INJECT, "pause_bound", set_dur, C(pause_bound_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_FAULTS, "irq_drop", set_fault, FK_IRQ_DROP, LIVE),
	K(S_FAULTS, "irq_delay", set_fault, FK_IRQ_DELAY, LIVE),
	K(S_FAULTS, "irq_duplicate", set_fault, FK_IRQ_DUPLICATE, LIVE),
	K(S_FAULTS, "irq_spurious", set_fault, FK_IRQ_SPURIOUS, LIVE),
	K(S_FAULTS, "error_status", set_fault, FK_ERROR_STATUS, LIVE),
	K(S_FAULTS, "slow_completion", set_fault, FK_SLOW_COMPLETION, LIVE),
	K(S_FAULTS, "devices", set_fault_devs, 0, LIVE),
	K(S_FAULTS, "during", set_enum, C(fault_during_switch), .words = during, LIVE),
	K(S_FAULTS, "delay", set_dur, C(irq_delay_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_FAULTS, "duplicate_gap", set_dur, C(duplicate_gap_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_FAULTS, "slow_by", set_dur, C(slow_ns), .lo = 1, .hi = 3600 * SEC, LIVE),
	K(S_FAULTS, "max_per_run", set_u64, C(max_faults), .lo = 0, .hi = MAXU, LIVE),
};
#define NKEYS (int)(sizeof(keys) / sizeof(keys[0]))

/* Index into p->seen for key i in the current (or given) device. */
static int *seen(struct pctx *p, int i, int dev)
{
	return &p->seen[i * CD_N + (keys[i].sec == S_DEVICE ? dev : 0)];
}

/* inih handler: one key = value pair. Returns 1, or 0 on error. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *p = user;
	(void)section;                       /* the reader tracked it, with its line */
	if (p->failed)
		return 0;
	if (p->sec == S_N)               /* unknown section: the reader reported it */
		return fail_at(p, p->line, "", name, "key outside any section");
	for (int i = 0; i < NKEYS; i++) {
		if (keys[i].sec != p->sec || strcmp(keys[i].name, name))
			continue;
		int *line = seen(p, i, p->dev);
		if (*line)
			return fail_at(p, p->line, p->secname, name, "given twice (first on line %d)", *line);
		*line = p->line;
		return keys[i].set(p, &keys[i], value);
	}
	char list[512] = "";
	for (int i = 0; i < NKEYS; i++)
		if (keys[i].sec == p->sec)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", *list ? ", " : "",
				 keys[i].name);
	return fail_at(p, p->line, p->secname, name, "unknown key (this section takes %s)", list);
}

/* Notes a section header line: which section, and its first line. */
static void header(struct pctx *p, const char *line)
{
	const char *end = strchr(line, ']');
	int n = end ? (int)(end - line - 1) : (int)strlen(line + 1);
	snprintf(p->secname, sizeof(p->secname), "%.*s", n, line + 1);
	p->sec = S_N;
	p->dev = 0;
	for (int s = 0; s < S_N; s++)
		if (s != S_DEVICE && !strcmp(p->secname, sec_names[s]))
			p->sec = s;
	if (!strncmp(p->secname, "device.", 7) && dev_index(p->secname + 7) >= 0) {
		p->sec = S_DEVICE;
		p->dev = dev_index(p->secname + 7);
	}
	if (p->sec == S_N) {
		fail_at(p, p->line, p->secname, NULL,
			"unknown section (expected [campaign], [device.ata], [device.uart], [device.ringblk],"
			" [inject] or [faults])");
		return;
	}
	int *first = &p->sec_line[p->sec == S_DEVICE ? S_N + p->dev : p->sec];
	if (!*first)
		*first = p->line;
}

/* inih reader: one line, counted; long lines are errors, not truncations. */
static char *reader(char *str, int num, void *stream)
{
	struct pctx *p = stream;
	if (!fgets(str, num, p->f))
		return NULL;
	p->line++;
	size_t n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(p->f)) {
		char key[64];
		const char *k = str + strspn(str, " \t");
		int klen = (int)strcspn(k, "=:");
		while (klen > 0 && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
			klen--;
		snprintf(key, sizeof(key), "%.*s", klen, k);
		fail_at(p, p->line, p->secname, *key && k[strcspn(k, "=:")] ? key : NULL,
			"line longer than %d characters", num - 2);
		int ch;
		while ((ch = fgetc(p->f)) != EOF && ch != '\n')
			;
		str[0] = '\n';
		str[1] = 0;
		return str;
	}
	const char *s = str + strspn(str, " \t");
	if (*s == '[')
		header(p, s);
	return str;
}

/* Returns 1 if the guest arguments args set seed=. */
static int has_seed(const char *args)
{
	for (const char *w = args; (w = strstr(w, "seed=")); w++)
		if (w == args || w[-1] == ' ' || w[-1] == '\t')
			return 1;
	return 0;
}

/* Line of the header of section sec (device d), or the last line. */
static int sec_line(struct pctx *p, int sec, int d)
{
	int l = p->sec_line[sec == S_DEVICE ? S_N + d : sec];
	return l ? l : p->line;
}

/* Checks what single keys cannot: required keys, trigger arguments,
 * replay's source. Returns 1 if all is well. */
static int cross_check(struct pctx *p)
{
	struct campaign_cfg *c = p->c;
	for (int i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		int present = k->sec == S_DEVICE ? 1 : p->sec_line[k->sec] != 0;
		if ((k->required == 1 || (k->required == 2 && c->mode == CM_LIVE)) && present && !*seen(p, i, 0))
			return fail_at(p, sec_line(p, k->sec, 0), sec_names[k->sec], k->name, "missing required key");
		for (int d = 0; k->mode && k->mode != 1 + c->mode && d < (k->sec == S_DEVICE ? CD_N : 1); d++) {
			int line = *seen(p, i, d);
			char sec[32];
			snprintf(sec, sizeof(sec), k->sec == S_DEVICE ? "device.%s" : "%s",
				 k->sec == S_DEVICE ? dev_names[d] : sec_names[k->sec]);
			if (line)
				return fail_at(p, line, sec, k->name, "only used with mode = %s%s", modes[k->mode - 1],
					       c->mode == CM_REPLAY ? " (a replay re-drives the recorded run, its"
					       " machine, seed and policy, into the recording's database)" : "");
		}
		if (k->trigger && *seen(p, i, 0) && c->trigger != k->trigger)
			return fail_at(p, *seen(p, i, 0), "inject", k->name, "only used with trigger = %s (trigger is %s)",
				       triggers[k->trigger], triggers[c->trigger]);
	}
	if (!p->sec_line[S_CAMPAIGN])
		return fail_at(p, p->line, "campaign", "name", "missing required key (the file has no [campaign] section)");
	if (c->trigger) {
		for (int i = 0; i < NKEYS; i++) {
			if (keys[i].trigger != c->trigger || *seen(p, i, 0))
				continue;
			if (c->trigger == CT_EXHAUSTIVE)
				continue;    /* from and step default to 0 and 1 */
			return fail_at(p, sec_line(p, S_INJECT, 0), "inject", keys[i].name,
				       "missing required key (trigger = %s needs it)", triggers[c->trigger]);
		}
	}
	if (c->mode == CM_REPLAY && !c->trace)
		return fail_at(p, sec_line(p, S_CAMPAIGN, 0), "campaign", "trace",
			       "missing required key (mode = replay needs the recorded database)");
	if (c->mode == CM_REPLAY && c->trigger != CT_NONE && c->trigger != CT_SEQ && c->trigger != CT_MATCH &&
	    c->trigger != CT_EXHAUSTIVE) {
		for (int i = 0; i < NKEYS; i++)
			if (keys[i].sec == S_INJECT && !strcmp(keys[i].name, "trigger"))
				return fail_at(p, *seen(p, i, 0), "inject", "trigger", "%s is not available with mode = replay"
					       " (none, seq, match, exhaustive)", triggers[c->trigger]);
	}
	for (int i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->sec == S_CAMPAIGN && !strcmp(k->name, "guest"))
			c->guest_line = *seen(p, i, 0);
		if (k->sec == S_CAMPAIGN && !strcmp(k->name, "args") && c->args && has_seed(c->args))
			return fail_at(p, *seen(p, i, 0), "campaign", "args",
				       "must not set seed= (each run gets its own, derived from [campaign] seed)");
		for (int d = 0; d < CD_N; d++) {
			if (k->sec != S_DEVICE || strcmp(k->name, "disk") || !c->dev[d].disk)
				continue;
			char sec[32];
			snprintf(sec, sizeof(sec), "device.%s", dev_names[d]);
			if (d == CD_UART)
				return fail_at(p, *seen(p, i, d), sec, "disk", "the uart has no disk");
			if (access(c->dev[d].disk, R_OK))
				return fail_at(p, *seen(p, i, d), sec, "disk", "%s: %s", c->dev[d].disk, strerror(errno));
		}
	}
	return 1;
}

/* Fills the defaults the zeroed configuration does not already mean. */
static void defaults(struct campaign_cfg *c)
{
	c->seed = 1;
	c->timeout_ns = 10 * SEC;
	c->wall_timeout_ns = 60 * SEC;
	c->step = 1;
	c->actions[0] = EA_ROUNDTRIP;
	c->nactions = 1;
	strcpy(c->devices[0], "all");
	c->ndevices = 1;
	c->fault_devs = (1u << CD_N) - 1;
	c->irq_delay_ns = 200000;        /* 200 us: several exits' worth */
	c->duplicate_gap_ns = 10000;
	c->slow_ns = 2000000;            /* 2 ms */
}

int campaign__load(const char *path, struct campaign_cfg *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	defaults(c);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct pctx p = { .f = f, .path = path, .c = c, .sec = S_N, .err = err, .errlen = errlen };
	snprintf(p.secname, sizeof(p.secname), "%s", "");
	p.seen = calloc((size_t)NKEYS * CD_N, sizeof(int));
	c->path = strdup(path);
	ini_allow_multiline = false;     /* an indented line is a key, not a continuation */
	ini_stop_on_first_error = true;
	int rc = p.seen && c->path ? ini_parse_stream(reader, &p, handler, &p) : -2;
	fclose(f);
	if (rc == -2 && !p.failed)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (rc > 0 && !p.failed)
		snprintf(err, errlen, "%s:%d: syntax error: expected 'key = value', '[section]' or a comment", path, rc);
	else if (!rc && !p.failed && p.sec == S_N && p.line == 0)
		fail_at(&p, 0, "campaign", NULL, "the file is empty");
	if (!rc && !p.failed)
		cross_check(&p);
	free(p.seen);
	if (rc || p.failed) {
		campaign__free(c);
		return -EINVAL;
	}
	return 0;
}

void campaign__free(struct campaign_cfg *c)
{
	free(c->path);
	free(c->name);
	free(c->guest);
	free(c->args);
	free(c->db);
	free(c->trace);
	free(c->match_src);
	pcre2_code_free(c->match);
	for (int d = 0; d < CD_N; d++)
		free(c->dev[d].disk);
	memset(c, 0, sizeof(*c));
}

const char *fault__name(int kind)
{
	return kind >= 0 && kind < FK_N ? fault_names[kind] : "?";
}

const char *camp_dev__engine_name(int d)
{
	static const char *const names[CD_N] = { "ata", "com1", "ringblk" };
	return d >= 0 && d < CD_N ? names[d] : "?";
}
