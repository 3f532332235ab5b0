/*
 * SQL functions over traces (see sqlite_ext.h). Built twice from this one
 * file: into libdevirt with SQLITE_CORE (plain calls into the linked
 * SQLite), and with DEVIRT_SQLITE_LOADABLE into build/devirt_sqlite.so,
 * where every SQLite call goes through the host's API table and
 * sqlite3_devirtsqlite_init is the entry point SQLite derives from the file
 * name (".load build/devirt_sqlite": "sqlite3_" + its letters + "_init").
 *
 * NULL in gives NULL out (except access_text's device and reg, which print
 * as "-"); a wrong argument is an SQL error naming the function.
 */
#ifndef DEVIRT_SQLITE_LOADABLE
#define SQLITE_CORE 1
#endif
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "sqlite_ext.h"
#include "text.h"
#include "../devices/regnames.h"

/* A compiled REGEXP pattern, kept as the pattern argument's auxdata so a
 * statement compiles each constant pattern once. */
struct re {
	pcre2_code *code;
	pcre2_match_data *md;
};

/* Frees a struct re (the auxdata destructor). */
static void re_free(void *p)
{
	struct re *re = p;
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	sqlite3_free(re);
}

/* Compiles pattern pat (UTF-8; invalid UTF-8 in subjects simply does not
 * match), JIT when the library has it. Returns it, or NULL with the SQL
 * error set on ctx. */
static struct re *re_compile(sqlite3_context *ctx, sqlite3_value *pat)
{
	const unsigned char *p = sqlite3_value_text(pat);
	if (!p) {
		sqlite3_result_error_nomem(ctx);
		return NULL;
	}
	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile(p, (PCRE2_SIZE)sqlite3_value_bytes(pat),
				      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
	if (!c) {
		PCRE2_UCHAR why[256];
		pcre2_get_error_message(code, why, sizeof(why));
		char *msg = sqlite3_mprintf("REGEXP: bad pattern '%s' at offset %llu: %s", p,
					    (unsigned long long)off, (const char *)why);
		sqlite3_result_error(ctx, msg ? msg : "REGEXP: bad pattern", -1);
		sqlite3_free(msg);
		return NULL;
	}
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);   /* fails harmlessly without JIT */
	struct re *re = sqlite3_malloc(sizeof(*re));
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
	if (!re || !md) {
		sqlite3_free(re);
		pcre2_match_data_free(md);
		pcre2_code_free(c);
		sqlite3_result_error_nomem(ctx);
		return NULL;
	}
	re->code = c;
	re->md = md;
	return re;
}

/* regexp(pattern, subject), what `subject REGEXP pattern` calls: 1 if the
 * pattern matches anywhere in the subject's text, else 0. */
static void regexp_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
		return;
	struct re *re = sqlite3_get_auxdata(ctx, 0);
	int fresh = !re;
	if (fresh && !(re = re_compile(ctx, argv[0])))
		return;
	const unsigned char *s = sqlite3_value_text(argv[1]);
	int rc = s ? pcre2_match(re->code, s, (PCRE2_SIZE)sqlite3_value_bytes(argv[1]), 0, 0, re->md, NULL)
		   : PCRE2_ERROR_NOMEMORY;
	if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
		sqlite3_result_int(ctx, rc >= 0);
	} else {
		PCRE2_UCHAR why[256];
		pcre2_get_error_message(rc, why, sizeof(why));
		char *msg = sqlite3_mprintf("REGEXP: matching '%s': %s", sqlite3_value_text(argv[0]),
					    (const char *)why);
		sqlite3_result_error(ctx, msg ? msg : "REGEXP: match failed", -1);
		sqlite3_free(msg);
	}
	if (fresh)   /* last: SQLite may free re at once */
		sqlite3_set_auxdata(ctx, 0, re, re_free);
}

/* Reads a direction argument ('r' or 'w') into *write. Returns 0, or -1
 * with the SQL error set, naming function fn. */
static int dir_arg(sqlite3_context *ctx, sqlite3_value *v, const char *fn, int *write)
{
	const char *d = (const char *)sqlite3_value_text(v);
	if (d && (!strcmp(d, "r") || !strcmp(d, "w"))) {
		*write = d[0] == 'w';
		return 0;
	}
	char *msg = sqlite3_mprintf("%s: dir must be 'r' or 'w', not '%s'", fn, d ? d : "");
	sqlite3_result_error(ctx, msg ? msg : "bad dir", -1);
	sqlite3_free(msg);
	return -1;
}

/* access_text(device, dir, reg, value, space, addr, size): the text of
 * trace__access_text(); NULL if dir, value, space, addr or size is NULL. */
static void access_text_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	static const int required[] = { 1, 3, 4, 5, 6 };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (sqlite3_value_type(argv[required[i]]) == SQLITE_NULL)
			return;
	int write;
	if (dir_arg(ctx, argv[1], "access_text", &write))
		return;
	const char *dev = (const char *)sqlite3_value_text(argv[0]);
	const char *reg = (const char *)sqlite3_value_text(argv[2]);
	const char *space = (const char *)sqlite3_value_text(argv[4]);
	uint64_t value = (uint64_t)sqlite3_value_int64(argv[3]);
	uint64_t addr = (uint64_t)sqlite3_value_int64(argv[5]);
	unsigned size = (unsigned)sqlite3_value_int64(argv[6]);
	if (!space) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	char buf[256];
	int n = trace__access_text(buf, sizeof(buf), dev, write, reg, value, space, addr, size);
	if (n < (int)sizeof(buf)) {
		sqlite3_result_text(ctx, buf, n, SQLITE_TRANSIENT);
		return;
	}
	char *big = sqlite3_malloc(n + 1);
	if (!big) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	trace__access_text(big, (size_t)n + 1, dev, write, reg, value, space, addr, size);
	sqlite3_result_text(ctx, big, n, sqlite3_free);
}

/* reg_name(model, offset, dir): the register's name, NULL when unknown. */
static void reg_name_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	for (int i = 0; i < 3; i++)
		if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
			return;
	int write;
	if (dir_arg(ctx, argv[2], "reg_name", &write))
		return;
	const char *name = regnames__lookup((const char *)sqlite3_value_text(argv[0]),
					    (uint64_t)sqlite3_value_int64(argv[1]), write);
	if (name)
		sqlite3_result_text(ctx, name, -1, SQLITE_STATIC);
}

/* hexstr(x): integer x (or text that is one) as '0x' and lowercase hex of
 * its 64-bit two's complement; an SQL error for anything else. */
static void hexstr_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	if (sqlite3_value_numeric_type(argv[0]) != SQLITE_INTEGER) {
		sqlite3_result_error(ctx, "hexstr: argument is not an integer", -1);
		return;
	}
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "0x%" PRIx64, (uint64_t)sqlite3_value_int64(argv[0]));
	sqlite3_result_text(ctx, buf, n, SQLITE_TRANSIENT);
}

static const struct {
	const char *name;
	int nargs;
	void (*fn)(sqlite3_context *, int, sqlite3_value **);
} fns[] = {
	{ "regexp", 2, regexp_fn },
	{ "access_text", 7, access_text_fn },
	{ "reg_name", 3, reg_name_fn },
	{ "hexstr", 1, hexstr_fn },
};

int devirt_sqlite__register(sqlite3 *db)
{
	int rc = SQLITE_OK;
	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(fns) / sizeof(fns[0]); i++)
		rc = sqlite3_create_function(db, fns[i].name, fns[i].nargs,
					     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
					     NULL, fns[i].fn, NULL, NULL);
	return rc;
}

#ifdef DEVIRT_SQLITE_LOADABLE
/* The extension's entry point. Returns SQLITE_OK or an error in *errmsg. */
int sqlite3_devirtsqlite_init(sqlite3 *db, char **errmsg, const sqlite3_api_routines *api)
{
	SQLITE_EXTENSION_INIT2(api);
	int rc = devirt_sqlite__register(db);
	if (rc != SQLITE_OK)
		*errmsg = sqlite3_mprintf("devirt_sqlite: %s", sqlite3_errstr(rc));
	return rc;
}
#endif
