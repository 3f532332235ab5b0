/*
 * Merge (see merge.h). The input is ATTACHed (outside the transaction, as
 * SQLite requires) and copied with one INSERT ... SELECT per table inside
 * one transaction. The tables are those of the output's schema that have a
 * `run` column, plus `run` itself, so a table added to traces/schema.sql is
 * merged with no change here; a table the input lacks has nothing to copy.
 * A temporary table maps each input run id to its new id; rows whose run
 * has no run row in the input have nowhere to go and are not copied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "db.h"
#include "merge.h"

#define SRC "devirt_merge_src"

int merge__check(const char *out, const char *path, char *err, size_t errlen)
{
	sqlite3 *in;
	int rc = db__open_ro(&in, path, err, errlen);
	if (rc)
		return rc;
	sqlite3_close(in);
	struct stat a, b;
	if (out && *out && !stat(out, &a) && !stat(path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		snprintf(err, errlen, "%s: is the output database", path);
		return -EINVAL;
	}
	return 0;
}

/* Copies the input's rows of table, renumbering runs. Returns an SQLite
 * code; the INSERT's error message, if it fails, goes to *msg. */
static int copy_table(sqlite3 *db, const char *table, char **msg)
{
	int is_run = !strcmp(table, "run");
	sqlite3_str *ins = sqlite3_str_new(db), *sel = sqlite3_str_new(db);
	sqlite3_str_appendf(ins, "INSERT INTO main.\"%w\" (", table);
	sqlite3_stmt *cols;
	int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, 'main')", -1, &cols, NULL);
	if (rc == SQLITE_OK)
		sqlite3_bind_text(cols, 1, table, -1, SQLITE_STATIC);
	for (int i = 0; rc == SQLITE_OK && (rc = sqlite3_step(cols)) == SQLITE_ROW; i++) {
		rc = SQLITE_OK;
		const char *c = (const char *)sqlite3_column_text(cols, 0), *sep = i ? ", " : "";
		sqlite3_str_appendf(ins, "%s\"%w\"", sep, c);
		if (!strcmp(c, is_run ? "id" : "run"))
			sqlite3_str_appendf(sel, "%sm.new", sep);
		else if (is_run && !strcmp(c, "parent"))
			sqlite3_str_appendf(sel, "%s(SELECT p.new FROM temp.merge_map p WHERE p.old = s.parent)", sep);
		else
			sqlite3_str_appendf(sel, "%ss.\"%w\"", sep, c);
	}
	sqlite3_finalize(cols);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	char *select = sqlite3_str_finish(sel);
	sqlite3_str_appendf(ins, ") SELECT %s FROM " SRC ".\"%w\" s JOIN temp.merge_map m ON m.old = s.%s",
			    select ? select : "", table, is_run ? "id" : "run");
	sqlite3_free(select);
	char *sql = sqlite3_str_finish(ins);
	if (rc == SQLITE_OK)
		rc = sql ? sqlite3_exec(db, sql, NULL, NULL, msg) : SQLITE_NOMEM;
	sqlite3_free(sql);
	return rc;
}

/* Copies every run-keyed table the input has. Returns an SQLite code; a
 * failed INSERT's message goes to *msg (finalizing the table list would
 * clear it from the connection). */
static int copy_tables(sqlite3 *db, char **msg)
{
	sqlite3_stmt *tabs;
	int rc = sqlite3_prepare_v2(db,
		"SELECT m.name FROM main.sqlite_master m WHERE m.type = 'table'"
		" AND m.name IN (SELECT name FROM " SRC ".sqlite_master WHERE type = 'table')"
		" AND (m.name = 'run' OR EXISTS (SELECT 1 FROM pragma_table_info(m.name, 'main') WHERE name = 'run'))"
		" ORDER BY m.name <> 'run', m.name", -1, &tabs, NULL);
	if (rc != SQLITE_OK)
		return rc;
	while (rc == SQLITE_OK && (rc = sqlite3_step(tabs)) == SQLITE_ROW)
		rc = copy_table(db, (const char *)sqlite3_column_text(tabs, 0), msg);
	sqlite3_finalize(tabs);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads the id map into *runs / *n. Returns an SQLite code. */
static int read_map(sqlite3 *db, struct merge_run **runs, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(db, "SELECT old, new FROM temp.merge_map ORDER BY old", -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			struct merge_run *r = realloc(*runs, cap * sizeof(**runs));
			if (!r) {
				rc = SQLITE_NOMEM;
				break;
			}
			*runs = r;
		}
		(*runs)[*n].from = sqlite3_column_int64(st, 0);
		(*runs)[(*n)++].to = sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int merge__db(sqlite3 *db, const char *path, struct merge_run **runs, size_t *n, char *err, size_t errlen)
{
	*runs = NULL;
	*n = 0;
	int rc = merge__check(sqlite3_db_filename(db, "main"), path, err, errlen);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS " SRC, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_finalize(st);
	}
	int attached = rc == SQLITE_OK;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
			"CREATE TEMP TABLE IF NOT EXISTS merge_map (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);"
			"BEGIN IMMEDIATE;"
			"DELETE FROM temp.merge_map;"
			"INSERT INTO temp.merge_map SELECT id, (SELECT coalesce(max(id), 0) FROM main.run)"
			" + row_number() OVER (ORDER BY id) FROM " SRC ".run;", NULL, NULL, NULL);
	char *msg = NULL;
	if (rc == SQLITE_OK)
		rc = copy_tables(db, &msg);
	if (rc == SQLITE_OK)
		rc = read_map(db, runs, n);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		free(*runs);
		*runs = NULL;
		*n = 0;
	}
	sqlite3_free(msg);
	if (attached)
		sqlite3_exec(db, "DETACH DATABASE " SRC, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db__errno(rc) ? db__errno(rc) : -EIO;
}
