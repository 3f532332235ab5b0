/*
 * The engine's user-facing vocabulary: switch triggers as typed on the
 * command line and in campaign configs ("every=97:roundtrip:all"), and the
 * test-only DEVIRT_BUG names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "engine.h"
#include "../lib/units.h"

static const char *const devices[] = { "ata", "uart", "com1", "ringblk", "all" };

/* Returns the action named name, or -1. */
static int action_of(const char *name, size_t len)
{
	static const char *const names[] = { "virtualize", "devirtualize", "roundtrip" };
	for (int i = 0; i < 3; i++)
		if (strlen(names[i]) == len && !strncmp(names[i], name, len))
			return i;
	return -1;
}

int engine__parse_trigger(const char *spec, struct eng_trigger *t, char *err, size_t errlen)
{
	char buf[128], *when, *action, *device, *arg;
	memset(t, 0, sizeof(*t));
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "switch spec too long");
		return -EINVAL;
	}
	strcpy(buf, spec);
	when = buf;
	action = strchr(when, ':');
	device = action ? strchr(action + 1, ':') : NULL;
	if (!action || !device || strchr(device + 1, ':')) {
		snprintf(err, errlen, "'%s': expected WHEN:ACTION:DEVICE (e.g. every=97:roundtrip:all)", spec);
		return -EINVAL;
	}
	*action++ = 0;
	*device++ = 0;
	arg = strchr(when, '=');
	if (!arg) {
		snprintf(err, errlen, "'%s': WHEN must be seq=N, vtime=T or every=N", spec);
		return -EINVAL;
	}
	*arg++ = 0;
	int rc;
	if (!strcmp(when, "seq")) {
		t->when = EW_SEQ;
		rc = units__u64(arg, &t->arg);
	} else if (!strcmp(when, "every")) {
		t->when = EW_EVERY;
		rc = units__u64(arg, &t->arg);
		if (!rc && !t->arg)
			rc = -EINVAL;
	} else if (!strcmp(when, "vtime")) {
		t->when = EW_VTIME;
		rc = units__duration(arg, &t->arg);
	} else {
		snprintf(err, errlen, "'%s': unknown WHEN '%s' (seq, vtime, every)", spec, when);
		return -EINVAL;
	}
	if (rc) {
		snprintf(err, errlen, "'%s': bad %s value '%s'%s", spec, when, arg,
			 t->when == EW_VTIME ? " (a duration needs a unit: ns, us, ms, s)" : "");
		return -EINVAL;
	}
	t->action = action_of(action, strlen(action));
	if (t->action < 0) {
		snprintf(err, errlen, "'%s': unknown action '%s' (virtualize, devirtualize, roundtrip)", spec, action);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		if (!strcmp(device, devices[i])) {
			snprintf(t->device, sizeof(t->device), "%s", strcmp(device, "uart") ? device : "com1");
			return 0;
		}
	}
	snprintf(err, errlen, "'%s': unknown device '%s' (ata, uart, ringblk, all)", spec, device);
	return -EINVAL;
}

int engine__parse_bug(const char *s)
{
	static const char *const names[] = { "", "skip-deferred-replay", "replay-twice", "drop-irq",
					     "unbounded-pause", "forget-mode", "skip-drain" };
	if (!s)
		return BUG_NONE;
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(s, names[i]))
			return i;
	return -EINVAL;
}
