/*
 * A run observed from the kernel (devirt observe on any KVM monitor, QEMU
 * above all) made replayable: its kexit rows that are port accesses which
 * reached the monitor become the run's access rows, in the kernel's order,
 * with device and register names for the standard PC ports, as a QEMU log
 * import would make them (traces/import_qemu.h).
 */
#ifndef DEVIRT_IMPORT_KEXIT_H
#define DEVIRT_IMPORT_KEXIT_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

/* Derives run's access rows from its kexit rows (reason 'pio', user = 1):
 * seq 0, 1, ..., vtime_ns = wall_ns = ns since the first kernel event,
 * path 'direct'; then records the run's end. One transaction. *n gets the
 * number of rows. Returns 0 or -errno with "database: reason" in err. */
int import__kexit(sqlite3 *db, int64_t run, uint64_t *n, char *err, size_t errlen);

#endif
