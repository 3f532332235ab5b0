/*
 * Parsing replay --inject specs into requests on a rig (see spec.c).
 */
#ifndef DEVIRT_REPLAY_SPEC_H
#define DEVIRT_REPLAY_SPEC_H

#include <stddef.h>
#include "rig.h"

/* Adds the requests of one spec ('at=SEQ:ACTION:DEVICE' or
 * 'match=REGEX:ACTION:DEVICE') to g. Returns the number of requests added
 * (match= may add none), or -errno with a one-line reason in err. */
int spec__inject(struct rig *g, const char *spec, char *err, size_t errlen);

#endif
