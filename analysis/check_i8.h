/*
 * I8, completeness of the log: the monitor's access rows against the
 * kernel observer's independent view (kexit) of the same run.
 */
#ifndef DEVIRT_CHECK_I8_H
#define DEVIRT_CHECK_I8_H

#include <stdint.h>
#include <sqlite3.h>
#include "check.h"

/* Fills r for run: PASS when every access row matches exactly one I/O exit
 * the kernel saw reach userspace (same space, address, size, direction
 * and value, in the same order) and no such exit is missing from the log;
 * FAIL with the first counterexample otherwise; N/A without an observation
 * or when the observer lost events. */
void check__i8(sqlite3 *db, int64_t run, struct check_result *r);

#endif
