/*
 * Opening a trace database: WAL, a busy timeout, the schema applied and its
 * version checked. Also the one place SQLite result codes become errno.
 */
#ifndef DEVIRT_DB_H
#define DEVIRT_DB_H

#include <stddef.h>
#include <sqlite3.h>

#define DB_SCHEMA_VERSION 2

/* Opens (creating when missing) the trace database at path and brings its
 * schema up to date. Returns 0, or -errno with "path: reason" in err. */
int db__open(sqlite3 **db, const char *path, char *err, size_t errlen);

/* Opens an existing database read-only (no schema changes). Returns 0 or
 * -errno with a reason in err (missing file, not a devirt trace). */
int db__open_ro(sqlite3 **db, const char *path, char *err, size_t errlen);

/* Maps an SQLite result code to -errno (0 for SQLITE_OK/ROW/DONE). */
int db__errno(int rc);

/* Puts "database: message" (db's last error) in err. Returns rc as
 * -errno (-EIO when it maps to none). */
int db__fail(sqlite3 *db, int rc, char *err, size_t errlen);

/* Writes the current UTC time as ISO 8601 (run.start_wall) into buf; returns buf. */
const char *db__utc_now(char *buf, size_t len);

/* Returns the schema text (traces/schema.sql, built in). */
const char *db__schema(void);

#endif
