/*
 * QEMU trace-log importer. A line is `[PID@SEC.USEC:]EVENT ARGS`; the event
 * name selects one JIT-compiled PCRE2 pattern that must match ARGS whole.
 * What QEMU 7.2 prints for the events that carry a guest port access:
 *
 *   ide_ioport_read IDE PIO rd @ 0x1f7 (Status); val 0x50; bus 0x55c6ef516890 IDEState 0x55c6ef516918
 *   ide_ioport_write IDE PIO wr @ 0x1f6 (Device/Head); val 0xe0; bus 0x... IDEState 0x...
 *   ide_status_read IDE PIO rd @ 0x3f6 (Alt Status); val 0x50; bus 0x...; IDEState 0x...
 *   ide_ctrl_write IDE PIO wr @ 0x3f6 (Device Control); val 0x02; bus 0x...
 *   ide_data_readw IDE PIO rd @ 0x1f0 (Data: Word); val 0x0040; bus 0x...; IDEState 0x...
 *   ide_data_writew, ide_data_readl, ide_data_writel: alike ("wr", "(Data: Long)")
 *   serial_read read addr 0x05 val 0x60     (a register offset; QEMU < 5: serial_ioport_read)
 *   serial_write write addr 0x00 val 0x64   (QEMU < 5: serial_ioport_write)
 *
 * The address in an IDE line is the port itself, so status (0x1f7) and
 * alternate status (0x3f6) stay apart. ide_exec_cmd ("IDE exec cmd: bus
 * 0x...; state 0x...; cmd 0xec") repeats the command its ide_ioport_write
 * carried: it is checked and counted, never stored, so each port access is
 * one row. Serial offsets map to COM1 (QEMU does not say which UART).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "db.h"
#include "import_qemu.h"
#include "../devices/regnames.h"
#include "../machine/machine.h"

#define HEX  "0x([0-9a-f]{1,8})"
#define PTR  "\\S+"
#define LINE_BYTES 4096
#define BATCH      16     /* rows per INSERT: half the cost of one per row */
#define MALFORMED  (-1)   /* a known event's line that does not parse */

enum kind { K_IDE, K_SERIAL, K_INFO };

static const struct event {
	const char *name, *args;
	enum kind kind;
	char dir[2];
	unsigned size;
} events[] = {
	{ "ide_ioport_read", "IDE PIO rd @ " HEX " \\([^()]*\\); val " HEX "; bus " PTR " IDEState " PTR, K_IDE, "r", 1 },
	{ "ide_ioport_write", "IDE PIO wr @ " HEX " \\([^()]*\\); val " HEX "; bus " PTR " IDEState " PTR, K_IDE, "w", 1 },
	{ "ide_status_read", "IDE PIO rd @ " HEX " \\(Alt Status\\); val " HEX "; bus " PTR "; IDEState " PTR, K_IDE, "r", 1 },
	{ "ide_ctrl_write", "IDE PIO wr @ " HEX " \\(Device Control\\); val " HEX "; bus " PTR, K_IDE, "w", 1 },
	{ "ide_data_readw", "IDE PIO rd @ " HEX " \\(Data: Word\\); val " HEX "; bus " PTR "; IDEState " PTR, K_IDE, "r", 2 },
	{ "ide_data_writew", "IDE PIO wr @ " HEX " \\(Data: Word\\); val " HEX "; bus " PTR "; IDEState " PTR, K_IDE, "w", 2 },
	{ "ide_data_readl", "IDE PIO rd @ " HEX " \\(Data: Long\\); val " HEX "; bus " PTR "; IDEState " PTR, K_IDE, "r", 4 },
	{ "ide_data_writel", "IDE PIO wr @ " HEX " \\(Data: Long\\); val " HEX "; bus " PTR "; IDEState " PTR, K_IDE, "w", 4 },
	{ "ide_exec_cmd", "IDE exec cmd: bus " PTR "; state " PTR "; cmd " HEX, K_INFO, "", 0 },
	{ "serial_read", "read addr " HEX " val " HEX, K_SERIAL, "r", 1 },
	{ "serial_write", "write addr " HEX " val " HEX, K_SERIAL, "w", 1 },
	{ "serial_ioport_read", "read addr " HEX " val " HEX, K_SERIAL, "r", 1 },
	{ "serial_ioport_write", "write addr " HEX " val " HEX, K_SERIAL, "w", 1 },
};
#define NEVENTS (sizeof(events) / sizeof(events[0]))

/* The devices of an imported run: QEMU's legacy primary IDE channel and COM1. */
static const struct range {
	const char *dev, *model;
	uint16_t base, len, off;
	int irq;
} ranges[] = {
	{ "ata", "ata-disk", PORT_ATA, 8, 0, IRQ_ATA },
	{ "ata", "ata-disk", PORT_ATA_CTRL, 1, 8, IRQ_ATA },
	{ "com1", "16550a", PORT_COM1, 8, 0, IRQ_COM1 },
};

/* Groups of the line pattern: 1 seconds, 2 fraction, 3 event, 4 arguments. */
static const char line_pattern[] = "(?:[0-9]+@([0-9]{1,12})\\.([0-9]{1,9}):)?([A-Za-z0-9_]+)(?: (.*))?";

/* An access row waiting for its batch. */
struct row {
	int64_t seq, vtime, addr, value;
	int timed;
	unsigned size;
	const char *dir, *dev, *reg;
};

struct parser {
	pcre2_code *line_re, *re[NEVENTS];
	pcre2_match_data *md;
	sqlite3_stmt *ins_batch, *ins_one;
	int64_t run;
	struct row rows[BATCH];
	int nrows;
	uint64_t seq, t0, end_vtime;
	int have_t0;
	const char *bad;   /* event of the malformed line */
};

/* Compiles one anchored pattern with JIT (the interpreter serves if JIT is
 * unavailable). Returns NULL only when out of memory. */
static pcre2_code *compile(const char *pattern)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				       PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec, &eo, NULL);
	if (re)
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* Compiles every pattern. Returns 0 or -ENOMEM. */
static int parser_init(struct parser *p)
{
	int ok = (p->line_re = compile(line_pattern)) != NULL;
	for (size_t i = 0; i < NEVENTS; i++)
		ok &= (p->re[i] = compile(events[i].args)) != NULL;
	p->md = pcre2_match_data_create(8, NULL);
	return ok && p->md ? 0 : -ENOMEM;
}

/* Frees the patterns and statements (any of them may be missing). */
static void parser_free(struct parser *p)
{
	pcre2_code_free(p->line_re);
	for (size_t i = 0; i < NEVENTS; i++)
		pcre2_code_free(p->re[i]);
	pcre2_match_data_free(p->md);
	sqlite3_finalize(p->ins_batch);
	sqlite3_finalize(p->ins_one);
}

/* Returns the hexadecimal or decimal number captured by group g of line. */
static uint64_t group_num(const struct parser *p, const char *line, int g, int base)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
	return strtoull(line + ov[2 * g], NULL, base);
}

/* Counts a skipped line of event name (len bytes). */
static void count_other(struct import_stats *st, const char *name, size_t len)
{
	st->skipped++;
	for (int i = 0; i < st->nother; i++)
		if (strlen(st->other[i].name) == len && !memcmp(st->other[i].name, name, len)) {
			st->other[i].n++;
			return;
		}
	if (st->nother == IMPORT_MAX_OTHER || len >= sizeof(st->other[0].name)) {
		st->other_rest++;
		return;
	}
	memcpy(st->other[st->nother].name, name, len);
	st->other[st->nother].name[len] = 0;
	st->other[st->nother++].n = 1;
}

/* Binds row r to the ten parameters of st after the first base. */
static void bind_row(sqlite3_stmt *st, int base, int64_t run, const struct row *r)
{
	sqlite3_bind_int64(st, base + 1, run);
	sqlite3_bind_int64(st, base + 2, r->seq);
	sqlite3_bind_int64(st, base + 3, r->vtime);
	if (r->timed)
		sqlite3_bind_int64(st, base + 4, r->vtime);
	else
		sqlite3_bind_null(st, base + 4);
	sqlite3_bind_int64(st, base + 5, r->addr);
	sqlite3_bind_int(st, base + 6, (int)r->size);
	sqlite3_bind_text(st, base + 7, r->dir, 1, SQLITE_STATIC);
	sqlite3_bind_int64(st, base + 8, r->value);
	sqlite3_bind_text(st, base + 9, r->dev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, base + 10, r->reg, -1, SQLITE_STATIC);
}

/* Inserts the waiting rows: whole batches, then one by one. Returns an
 * SQLite code. */
static int flush(struct parser *p)
{
	int rc = SQLITE_OK;
	for (int done = 0, n; rc == SQLITE_OK && done < p->nrows; done += n) {
		n = p->nrows - done >= BATCH ? BATCH : 1;
		sqlite3_stmt *st = n == BATCH ? p->ins_batch : p->ins_one;
		for (int i = 0; i < n; i++)
			bind_row(st, 10 * i, p->run, &p->rows[done + i]);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_reset(st);
	}
	p->nrows = 0;
	return rc;
}

/* Stores the access a matched line of e describes. Returns 0, MALFORMED
 * if its numbers are out of range, or an SQLite code. */
static int store(struct parser *p, const struct event *e, const char *args, int64_t vtime, int timed)
{
	uint64_t addr = group_num(p, args, 1, 16), value = group_num(p, args, 2, 16);
	if (e->kind == K_SERIAL) {
		if (addr > 7)
			return MALFORMED;
		addr += PORT_COM1;
	}
	if (addr > 0xffff || value >> (8 * e->size))
		return MALFORMED;
	const char *reg, *dev = import__port(addr, e->dir[0] == 'w', &reg);
	p->rows[p->nrows++] = (struct row){ .seq = (int64_t)p->seq, .vtime = timed ? vtime : (int64_t)p->seq,
					    .addr = (int64_t)addr, .value = (int64_t)value, .timed = timed,
					    .size = e->size, .dir = e->dir, .dev = dev, .reg = reg };
	p->seq++;
	return p->nrows == BATCH ? flush(p) : 0;
}

/* Handles one line (NUL-terminated, newline stripped; cut short when
 * overlong). Returns 0, MALFORMED for a malformed line of a known event
 * (p->bad names it), or an SQLite code. */
static int one_line(struct parser *p, const char *line, size_t len, int overlong, struct import_stats *st)
{
	if (pcre2_match(p->line_re, (PCRE2_SPTR)line, len, 0, 0, p->md, NULL) < 0) {
		count_other(st, "(not an event)", 14);
		return 0;
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
	int timed = ov[2] != PCRE2_UNSET;
	int64_t vtime = 0;
	if (timed) {
		uint64_t frac = group_num(p, line, 2, 10);
		for (size_t d = ov[5] - ov[4]; d < 9; d++)
			frac *= 10;
		uint64_t t = group_num(p, line, 1, 10) * 1000000000ull + frac;
		if (!p->have_t0) {
			p->t0 = t;
			p->have_t0 = 1;
		}
		vtime = (int64_t)(t - p->t0);
		p->end_vtime = (uint64_t)vtime;
	}
	const char *name = line + ov[6], *args = ov[8] == PCRE2_UNSET ? "" : line + ov[8];
	size_t nlen = ov[7] - ov[6], alen = ov[8] == PCRE2_UNSET ? 0 : ov[9] - ov[8];
	size_t i = 0;
	while (i < NEVENTS && (strlen(events[i].name) != nlen || memcmp(events[i].name, name, nlen)))
		i++;
	if (i == NEVENTS) {
		count_other(st, name, nlen);
		return 0;
	}
	p->bad = events[i].name;
	if (overlong || pcre2_match(p->re[i], (PCRE2_SPTR)args, alen, 0, 0, p->md, NULL) < 0)
		return MALFORMED;
	if (events[i].kind == K_INFO) {
		count_other(st, name, nlen);
		return 0;
	}
	return store(p, &events[i], args, vtime, timed);
}

/* Prepares an INSERT of n access rows. Returns an SQLite code. */
static int prepare_insert(sqlite3 *db, int n, sqlite3_stmt **st)
{
	sqlite3_str *s = sqlite3_str_new(db);
	sqlite3_str_appendall(s, "INSERT INTO access (run, seq, vtime_ns, wall_ns, space, addr, size, dir,"
			      " value, device, reg, path) VALUES ");
	for (int i = 0; i < n; i++)
		sqlite3_str_appendf(s, "%s(?, ?, ?, ?, 'pio', ?, ?, ?, ?, ?, ?, 'direct')", i ? ", " : "");
	char *sql = sqlite3_str_finish(s);
	int rc = sql ? sqlite3_prepare_v2(db, sql, -1, st, NULL) : SQLITE_NOMEM;
	sqlite3_free(sql);
	return rc;
}

int import__begin_run(sqlite3 *db, const char *guest, const char *config, const char *source,
		      const char *version, int64_t *run)
{
	char now[32];
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO run (guest, config, kind, source, start_wall, version)"
					" VALUES (?1, ?2, 'import', ?3, ?4, ?5)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, guest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, config ? config : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, db__utc_now(now, sizeof(now)), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, version, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;
	*run = sqlite3_last_insert_rowid(db);
	rc = sqlite3_prepare_v2(db, "INSERT INTO device (run, name, model, space, base, size, irq)"
				" VALUES (?1, ?2, ?3, 'pio', ?4, ?5, ?6)", -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		sqlite3_bind_int64(st, 1, *run);
		sqlite3_bind_text(st, 2, ranges[i].dev, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, ranges[i].model, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, ranges[i].base);
		sqlite3_bind_int(st, 5, ranges[i].len);
		sqlite3_bind_int(st, 6, ranges[i].irq);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

const char *import__port(uint64_t port, int write, const char **reg)
{
	*reg = NULL;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (port >= ranges[i].base && port < (uint64_t)ranges[i].base + ranges[i].len) {
			*reg = regnames__lookup(ranges[i].model, (unsigned)(port - ranges[i].base + ranges[i].off), write);
			return ranges[i].dev;
		}
	return NULL;
}

/* Opens the transaction, inserts the run and its devices, and prepares the
 * access inserts. Returns an SQLite code. */
static int begin(sqlite3 *db, struct parser *p, const char *path, const struct import_opts *o)
{
	int rc = import__begin_run(db, o->guest ? o->guest : "qemu", o->config, path, "devirt import", &p->run);
	if (rc == SQLITE_OK)
		rc = prepare_insert(db, BATCH, &p->ins_batch);
	if (rc == SQLITE_OK)
		rc = prepare_insert(db, 1, &p->ins_one);
	return rc;
}

/* Stores how the run ended and commits. Returns an SQLite code. */
static int finish(sqlite3 *db, const struct parser *p)
{
	char now[32];
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "UPDATE run SET end_wall = ?2, end_vtime_ns = ?3, exits = ?4 WHERE id = ?1",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, p->run);
	sqlite3_bind_text(st, 2, db__utc_now(now, sizeof(now)), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, p->have_t0 ? (int64_t)p->end_vtime : (int64_t)p->seq);
	sqlite3_bind_int64(st, 4, (int64_t)p->seq);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* Discards the rest of an overlong line. Returns 1 if there was any. */
static int skip_rest(gzFile gz)
{
	char buf[512];
	int any = 0;
	while (gzgets(gz, buf, sizeof(buf))) {
		any = 1;
		size_t n = strlen(buf);
		if (n && buf[n - 1] == '\n')
			break;
	}
	return any;
}

/* Feeds every line of gz to the parser. Returns 0, or -errno with err set. */
static int read_all(sqlite3 *db, struct parser *p, gzFile gz, const char *path, int lenient,
		    struct import_stats *st, char *err, size_t errlen)
{
	char line[LINE_BYTES];
	while (gzgets(gz, line, sizeof(line))) {
		size_t len = strlen(line);
		int overlong = len == sizeof(line) - 1 && line[len - 1] != '\n' && skip_rest(gz);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		st->lines++;
		int rc = one_line(p, line, len, overlong, st);
		if (rc == MALFORMED && lenient) {
			if (!st->malformed++)
				st->first_malformed = st->lines;
		} else if (rc == MALFORMED) {
			snprintf(err, errlen, "%s:%llu: malformed %s line", path, (unsigned long long)st->lines, p->bad);
			return -EBADMSG;
		} else if (rc) {
			return db__fail(db, rc, err, errlen);
		}
	}
	int rc = flush(p);
	if (rc)
		return db__fail(db, rc, err, errlen);
	int zerr;
	const char *msg = gzerror(gz, &zerr);
	if (zerr == Z_ERRNO) {
		int e = errno ? errno : EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (zerr != Z_OK) {
		snprintf(err, errlen, "%s (bad gzip data)", msg);   /* zlib's msg is "path: reason" */
		return -EBADMSG;
	}
	return 0;
}

int import__qemu(sqlite3 *db, const char *path, const struct import_opts *o,
		 struct import_stats *st, char *err, size_t errlen)
{
	struct parser p = { 0 };
	memset(st, 0, sizeof(*st));
	errno = 0;
	gzFile gz = gzopen(path, "rb");
	int rc = gz ? parser_init(&p) : errno ? -errno : -ENOMEM;
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	gzbuffer(gz, 1 << 17);
	int src = begin(db, &p, path, o);
	if (src == SQLITE_OK) {
		rc = read_all(db, &p, gz, path, o->lenient, st, err, errlen);
		if (!rc)
			src = finish(db, &p);
	}
	if (src != SQLITE_OK)
		rc = db__fail(db, src, err, errlen);
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	st->run = p.run;
	st->accesses = p.seq;
out:
	parser_free(&p);
	if (gz)
		gzclose(gz);
	return rc;
}
