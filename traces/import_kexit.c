/*
 * kexit rows to access rows (import_kexit.h). Only port I/O: the engine
 * and its models speak the legacy ATA and 16550 ports; MMIO rows stay in
 * kexit for SQL. Accesses KVM handled in the kernel (user = 0, such as
 * QEMU's in-kernel PIT and PIC) never reached the monitor, so they are not
 * the monitor's accesses.
 */
#include <errno.h>
#include <stdio.h>
#include "db.h"
#include "import_kexit.h"
#include "import_qemu.h"

int import__kexit(sqlite3 *db, int64_t run, uint64_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *sel = NULL, *ins = NULL, *end = NULL;
	int64_t t0 = 0, last = 0;
	*n = 0;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT (SELECT min(ktime_ns) FROM kexit WHERE run = ?1), ktime_ns, addr, size,"
					" dir, value FROM kexit WHERE run = ?1 AND reason = 'pio' AND user = 1 ORDER BY seq",
					-1, &sel, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO access (run, seq, vtime_ns, wall_ns, space, addr, size, dir,"
					" value, device, reg, path) VALUES (?1, ?2, ?3, ?3, 'pio', ?4, ?5, ?6, ?7, ?8, ?9,"
					" 'direct')", -1, &ins, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(sel, 1, run);
		while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
			t0 = sqlite3_column_int64(sel, 0);
			last = sqlite3_column_int64(sel, 1) - t0;
			uint64_t port = (uint64_t)sqlite3_column_int64(sel, 2);
			const char *dir = (const char *)sqlite3_column_text(sel, 4), *reg;
			const char *dev = import__port(port, dir && dir[0] == 'w', &reg);
			sqlite3_bind_int64(ins, 1, run);
			sqlite3_bind_int64(ins, 2, (int64_t)*n);
			sqlite3_bind_int64(ins, 3, last);
			sqlite3_bind_int64(ins, 4, (int64_t)port);
			sqlite3_bind_int(ins, 5, sqlite3_column_int(sel, 3));
			sqlite3_bind_text(ins, 6, dir, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins, 7, sqlite3_column_int64(sel, 5));
			sqlite3_bind_text(ins, 8, dev, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 9, reg, -1, SQLITE_STATIC);
			if ((rc = sqlite3_step(ins)) != SQLITE_DONE)
				break;
			sqlite3_reset(ins);
			(*n)++;
		}
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "UPDATE run SET end_wall = ?2, end_vtime_ns = ?3, exits = ?4 WHERE id = ?1",
					-1, &end, NULL);
	if (rc == SQLITE_OK) {
		char now[32];
		sqlite3_bind_int64(end, 1, run);
		sqlite3_bind_text(end, 2, db__utc_now(now, sizeof(now)), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(end, 3, last);
		sqlite3_bind_int64(end, 4, (int64_t)*n);
		rc = sqlite3_step(end) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	sqlite3_finalize(end);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	rc = db__fail(db, rc, err, errlen);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
