/*
 * Trace database set-up. WAL keeps readers (sqlite3, reports) working while
 * a run writes, and makes a run killed mid-way leave a database holding
 * every committed batch: a complete prefix.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "db.h"

extern const char devirt_schema_sql[];

const char *db__schema(void) { return devirt_schema_sql; }

int db__fail(sqlite3 *db, int rc, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
	return db__errno(rc) ? db__errno(rc) : -EIO;
}

int db__errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE: return 0;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_NOTADB: case SQLITE_CORRUPT: case SQLITE_FORMAT: return -EBADMSG;
	case SQLITE_CONSTRAINT: case SQLITE_MISMATCH: case SQLITE_RANGE: return -EINVAL;
	case SQLITE_TOOBIG: return -E2BIG;
	case SQLITE_INTERRUPT: return -EINTR;
	case SQLITE_ERROR: return -EINVAL;
	default: return -EIO;
	}
}

/* Fails with "path: message" from the connection. */
static int fail(sqlite3 **db, const char *path, int rc, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
	sqlite3_close(*db);
	*db = NULL;
	return db__errno(rc) ? db__errno(rc) : -EIO;
}

/* Checks the stored schema version is one this build understands. */
static int check_version(sqlite3 **db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(*db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: not a devirt trace database (no meta table)", path);
		sqlite3_close(*db);
		*db = NULL;
		return -EBADMSG;
	}
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (version != DB_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d, this devirt reads version %d", path, version,
			 DB_SCHEMA_VERSION);
		sqlite3_close(*db);
		*db = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* Returns 1 if table has column col (col NULL: any column, i.e. the table
 * exists). */
static int has_column(sqlite3 *db, const char *table, const char *col)
{
	sqlite3_stmt *st;
	int found = 0;
	char *sql = col ? sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, col)
			: sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q)", table);
	if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	return found;
}

/* Upgrades an older database in place: adds every column that version 1
 * (or an early version 2) lacks; the new tables come from the schema
 * script. Returns an SQLite code. */
static int migrate(sqlite3 *db)
{
	static const char *const cols[][3] = {
		{ "run", "image_sha256", "TEXT" }, { "run", "disk_bytes", "INTEGER" },
		{ "run", "disk_sha256", "TEXT" }, { "run", "ringblk_disk", "TEXT" },
		{ "run", "ringblk_bytes", "INTEGER" }, { "run", "ringblk_sha256", "TEXT" },
		{ "run", "disk_after_sha256", "TEXT" }, { "run", "ringblk_after_sha256", "TEXT" },
		{ "run", "mem", "INTEGER" }, { "run", "exit_cost_ns", "INTEGER" },
		{ "run", "switches", "TEXT" }, { "run", "policy", "TEXT" }, { "run", "modes", "TEXT" },
		{ "deferred", "replay_pos", "INTEGER" },
		{ "kexit", "tid", "INTEGER" }, { "kexit", "user", "INTEGER" }, { "kexit", "wall_ns", "INTEGER" },
	};
	int rc = SQLITE_OK, began = 0;
	for (size_t i = 0; !rc && i < sizeof(cols) / sizeof(cols[0]); i++) {
		if (has_column(db, cols[i][0], cols[i][1]) || !has_column(db, cols[i][0], NULL))
			continue;           /* present, or no such table */
		if (!began && (rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)))
			break;
		began = 1;
		char *sql = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN \"%w\" %s", cols[i][0], cols[i][1], cols[i][2]);
		rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
		sqlite3_free(sql);
	}
	if (began && !rc)
		rc = sqlite3_exec(db, "UPDATE meta SET value = '2' WHERE key = 'schema_version' AND value = '1'",
				  NULL, NULL, NULL);
	if (began)
		sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	return rc;
}

int db__open(sqlite3 **db, const char *path, char *err, size_t errlen)
{
	*db = NULL;
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK)
		return fail(db, path, rc, err, errlen);
	sqlite3_busy_timeout(*db, 10000);
	rc = sqlite3_exec(*db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(*db, db__schema(), NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = migrate(*db);
	if (rc != SQLITE_OK)
		return fail(db, path, rc, err, errlen);
	return check_version(db, path, err, errlen);
}

int db__open_ro(sqlite3 **db, const char *path, char *err, size_t errlen)
{
	*db = NULL;
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		return fail(db, path, rc, err, errlen);
	sqlite3_busy_timeout(*db, 10000);
	return check_version(db, path, err, errlen);
}

const char *db__utc_now(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
