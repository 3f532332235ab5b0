/*
 * SQL functions for trace databases: REGEXP (PCRE2), access_text(),
 * reg_name() and hexstr(). The same code is linked into devirt (for
 * `devirt sql`) and built as the loadable extension build/devirt_sqlite.so
 * (entry point sqlite3_devirtsqlite_init) for the sqlite3 shell and others.
 *
 *   x REGEXP pat        1 if PCRE2 pattern pat matches anywhere in x, else 0
 *   access_text(device, dir, reg, value, space, addr, size)
 *                       the access's one-line text (traces/text.h)
 *   reg_name(model, offset, dir)   register name (devices/regnames.h)
 *   hexstr(x)           integer x as '0x..' lowercase hex
 */
#ifndef DEVIRT_SQLITE_EXT_H
#define DEVIRT_SQLITE_EXT_H

#include <sqlite3.h>

/* Registers the functions on db. Returns SQLITE_OK or the SQLite error
 * code of the registration that failed (db__errno() maps it), as SQLite's
 * own registration calls do. */
int devirt_sqlite__register(sqlite3 *db);

#endif
