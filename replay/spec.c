/*
 * Replay injection specs: 'at=SEQ:ACTION:DEVICE' or
 * 'match=REGEX:ACTION:DEVICE'. at= requests the switch right after the
 * access with that seq; match= right after every access whose text form
 * (traces/text.h, as SQL's access_text() and campaign match= triggers
 * write it) the PCRE2 pattern matches. The pattern is compiled once, with
 * JIT when available; it may itself hold colons, so ACTION and DEVICE are
 * taken from the right.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "spec.h"
#include "../devices/ringblk.h"
#include "../traces/text.h"

/* Returns the action named s, or -1. */
static int action_of(const char *s)
{
	static const char *names[] = { "virtualize", "devirtualize", "roundtrip" };
	for (int a = 0; a < 3; a++)
		if (!strcmp(s, names[a]))
			return a;
	return -1;
}

/* Writes recorded event i's access text (accesses and mapped stores). */
static void text_of(const struct rtrace *rt, size_t i, char *buf, size_t len)
{
	const struct rev *e = &rt->ev[i];
	uint64_t addr = e->kind == RK_MAPPED ? RINGBLK_BASE + e->off : e->addr;
	trace__access_text(buf, len, rtrace__str(rt, e->dev), e->write, rtrace__str(rt, e->reg), e->value,
			   e->mmio ? "mmio" : "pio", addr, e->size);
}

/* Adds the requests of a match= spec. Returns the count or -errno. */
static int match_all(struct rig *g, const char *re, int action, const char *device, char *err, size_t errlen)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *rx = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
	if (!rx) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "--inject match='%s': %s at offset %zu", re, (const char *)msg, (size_t)off);
		return -EINVAL;
	}
	pcre2_jit_compile(rx, PCRE2_JIT_COMPLETE);   /* falls back to the interpreter */
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(rx, NULL);
	int n = 0, rc = 0;
	char text[160];
	for (size_t i = 0; md && !rc && i < g->rt->n; i++) {
		int k = g->rt->ev[i].kind;
		if (k != RK_ACCESS && k != RK_MAPPED)
			continue;
		text_of(g->rt, i, text, sizeof(text));
		if (pcre2_match(rx, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL) >= 0) {
			rc = rig__add_request(g, i, action, device);
			n++;
		}
	}
	pcre2_match_data_free(md);
	pcre2_code_free(rx);
	if (!md || rc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return n;
}

int spec__inject(struct rig *g, const char *spec, char *err, size_t errlen)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *dev = strrchr(buf, ':');
	char *act = dev ? (*dev = 0, strrchr(buf, ':')) : NULL;
	if (!act) {
		snprintf(err, errlen, "--inject '%s': expected at=SEQ:ACTION:DEVICE or match=REGEX:ACTION:DEVICE", spec);
		return -EINVAL;
	}
	*act++ = 0;
	dev++;
	int action = action_of(act);
	if (action < 0) {
		snprintf(err, errlen, "--inject '%s': action '%s' is not virtualize, devirtualize or roundtrip", spec, act);
		return -EINVAL;
	}
	const char *d = rig__engine_device(dev);
	if (strcmp(d, "all") && engine__state(g->e, d) < 0) {
		snprintf(err, errlen, "--inject '%s': device '%s' is not in the run (ata, uart, ringblk or all)", spec, dev);
		return -EINVAL;
	}
	if (!strncmp(buf, "match=", 6))
		return match_all(g, buf + 6, action, d, err, errlen);
	if (strncmp(buf, "at=", 3)) {
		snprintf(err, errlen, "--inject '%s': expected at=SEQ or match=REGEX before the action", spec);
		return -EINVAL;
	}
	char *end;
	unsigned long long seq = strtoull(buf + 3, &end, 10);
	if (end == buf + 3 || *end || seq >= g->rt->n ||
	    (g->rt->ev[seq].kind != RK_ACCESS && g->rt->ev[seq].kind != RK_MAPPED)) {
		snprintf(err, errlen, "--inject '%s': seq %s is not an access of run %lld", spec, buf + 3,
			 (long long)g->rt->run.id);
		return -EINVAL;
	}
	if (rig__add_request(g, (size_t)seq, action, d)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 1;
}
