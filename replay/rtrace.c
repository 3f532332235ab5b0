/*
 * Loading a recorded run (see rtrace.h). Each event table is read with one
 * query; the rows are then sorted by seq into one stream, which must be
 * gap-free from 0 (a complete run logs every seq once): a hole means rows
 * were lost and the run cannot be re-driven faithfully.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "rtrace.h"
#include "../machine/machine.h"
#include "../traces/db.h"

#define DEFAULT_DISK (16ull << 20)

/* Returns a hash of s (FNV-1a). */
static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Doubles the hash table and re-inserts every string. Returns 0 or -ENOMEM. */
static int rehash(struct rtrace *rt)
{
	uint32_t cap = rt->hcap ? rt->hcap * 2 : 256;
	uint32_t *h = calloc(cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (uint32_t id = 1; id < rt->nstr; id++) {
		uint32_t k = hash_str(rt->str[id]) & (cap - 1);
		while (h[k])
			k = (k + 1) & (cap - 1);
		h[k] = id;
	}
	free(rt->hash);
	rt->hash = h;
	rt->hcap = cap;
	return 0;
}

uint32_t rtrace__intern(struct rtrace *rt, const char *s)
{
	if (!s)
		return 0;
	if (rt->nstr * 2 >= rt->hcap && rehash(rt))
		return UINT32_MAX;
	uint32_t k = hash_str(s) & (rt->hcap - 1);
	for (; rt->hash[k]; k = (k + 1) & (rt->hcap - 1))
		if (!strcmp(rt->str[rt->hash[k]], s))
			return rt->hash[k];
	if (rt->nstr == rt->scap) {
		uint32_t cap = rt->scap ? rt->scap * 2 : 64;
		char **n = realloc(rt->str, cap * sizeof(*n));
		if (!n)
			return UINT32_MAX;
		rt->str = n;
		rt->scap = cap;
	}
	char *copy = strdup(s);
	if (!copy)
		return UINT32_MAX;
	rt->str[rt->nstr] = copy;
	rt->hash[k] = rt->nstr;
	return rt->nstr++;
}

const char *rtrace__str(const struct rtrace *rt, uint32_t id)
{
	return id && id < rt->nstr ? rt->str[id] : NULL;
}

/* Returns a new event slot, or NULL when out of memory. */
static struct rev *add(struct rtrace *rt)
{
	if (rt->n == rt->cap) {
		size_t cap = rt->cap ? rt->cap * 2 : 4096;
		struct rev *e = realloc(rt->ev, cap * sizeof(*e));
		if (!e)
			return NULL;
		rt->ev = e;
		rt->cap = cap;
	}
	struct rev *e = &rt->ev[rt->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Interns column i of st. */
static uint32_t col_str(struct rtrace *rt, sqlite3_stmt *st, int i)
{
	return rtrace__intern(rt, (const char *)sqlite3_column_text(st, i));
}

/* Returns the access path named s. */
static uint8_t path_of(const char *s)
{
	static const char *names[] = { "direct", "track", "emulate", "defer", "busy" };
	for (uint8_t i = 0; s && i < 5; i++)
		if (!strcmp(s, names[i]))
			return i;
	return PATH_DIRECT;
}

/* Appends a DMA blob. Returns its offset, or UINT32_MAX when out of memory. */
static uint32_t add_blob(struct rtrace *rt, const void *data, size_t len)
{
	if (rt->blen + len > rt->bcap) {
		size_t cap = rt->bcap ? rt->bcap : 65536;
		while (cap < rt->blen + len)
			cap *= 2;
		uint8_t *b = realloc(rt->blobs, cap);
		if (!b)
			return UINT32_MAX;
		rt->blobs = b;
		rt->bcap = cap;
	}
	if (len)
		memcpy(rt->blobs + rt->blen, data, len);
	rt->blen += len;
	return (uint32_t)(rt->blen - len);
}

/* Reads one table's rows of the run into the stream. Returns an SQLite
 * code (SQLITE_NOMEM when a copy fails). */
static int read_table(struct rtrace *rt, sqlite3 *db, int which)
{
	static const char *sql[] = {
		"SELECT seq, vtime_ns, space, addr, size, dir, value, device, reg, path, sm_state, mode, rip"
		" FROM access WHERE run = ?1",
		"SELECT seq, vtime_ns, rip FROM halt WHERE run = ?1",
		"SELECT seq, vtime_ns, device, line, event, target, vector FROM irq WHERE run = ?1",
		"SELECT seq, vtime_ns, device, off, size, value, reg FROM mapped WHERE run = ?1",
		"SELECT seq, vtime_ns, addr, size, data FROM dma WHERE run = ?1",
	};
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql[which], -1, &st, NULL);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, rt->run.id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rev *e = add(rt);
		if (!e) {
			rc = SQLITE_NOMEM;
			break;
		}
		e->seq = (uint64_t)sqlite3_column_int64(st, 0);
		e->vtime = (uint64_t)sqlite3_column_int64(st, 1);
		switch (which) {
		case 0: {
			const char *space = (const char *)sqlite3_column_text(st, 2);
			const char *dir = (const char *)sqlite3_column_text(st, 5);
			e->kind = RK_ACCESS;
			e->mmio = space && !strcmp(space, "mmio");
			e->addr = (uint64_t)sqlite3_column_int64(st, 3);
			e->size = (uint8_t)sqlite3_column_int(st, 4);
			e->write = dir && *dir == 'w';
			e->value = (uint64_t)sqlite3_column_int64(st, 6);
			e->dev = col_str(rt, st, 7);
			e->reg = col_str(rt, st, 8);
			e->path = path_of((const char *)sqlite3_column_text(st, 9));
			e->sm = col_str(rt, st, 10);
			e->mode = col_str(rt, st, 11);
			e->rip = (uint64_t)sqlite3_column_int64(st, 12);
			break;
		}
		case 1:
			e->kind = RK_HALT;
			e->rip = (uint64_t)sqlite3_column_int64(st, 2);
			break;
		case 2: {
			const char *ev = (const char *)sqlite3_column_text(st, 4);
			const char *target = (const char *)sqlite3_column_text(st, 5);
			e->dev = col_str(rt, st, 2);
			e->addr = (uint64_t)sqlite3_column_int64(st, 3);
			e->target = target && !strcmp(target, "monitor") ? LINE_MONITOR : LINE_GUEST;
			if (ev && !strcmp(ev, "inject")) {
				e->kind = RK_INJECT;
				e->value = (uint64_t)sqlite3_column_int64(st, 6);
			} else {
				e->kind = RK_LINE;
				e->value = ev && !strcmp(ev, "raise");
			}
			break;
		}
		case 3:
			e->kind = RK_MAPPED;
			e->write = 1;
			e->mmio = 1;
			e->dev = col_str(rt, st, 2);
			e->off = (uint64_t)sqlite3_column_int64(st, 3);
			e->size = (uint8_t)sqlite3_column_int(st, 4);
			e->value = (uint64_t)sqlite3_column_int64(st, 5);
			e->reg = col_str(rt, st, 6);
			break;
		default: {
			const void *data = sqlite3_column_blob(st, 4);
			uint32_t len = (uint32_t)sqlite3_column_bytes(st, 4);
			e->kind = RK_DMA;
			e->addr = (uint64_t)sqlite3_column_int64(st, 2);
			e->size = 0;
			e->blob_len = len;
			e->blob = add_blob(rt, data, len);
			if (e->blob == UINT32_MAX)
				rc = SQLITE_NOMEM;
			break;
		}
		}
		if (rc == SQLITE_NOMEM || e->dev == UINT32_MAX || e->reg == UINT32_MAX ||
		    e->sm == UINT32_MAX || e->mode == UINT32_MAX) {
			rc = SQLITE_NOMEM;
			break;
		}
		rt->count[e->kind]++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Returns a malloc'd copy of column i (NULL when NULL). */
static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? strdup(s) : NULL;
}

/* Reads the run row (run 0: the last live run). Returns 0, -ENOENT or an
 * SQLite error as -errno, with err set. */
static int read_run(struct rtrace *rt, sqlite3 *db, int64_t run, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db,
		"SELECT id, guest, image, args, seed, config, kind, source, parent, disk, verdict, end_wall,"
		" image_sha256, disk_sha256, ringblk_sha256, switches, policy, modes, mem, exit_cost_ns,"
		" disk_bytes, ringblk_bytes, end_vtime_ns, exits, exit_code FROM run"
		" WHERE id = CASE WHEN ?1 > 0 THEN ?1 ELSE (SELECT max(id) FROM run WHERE kind = 'live') END",
		-1, &st, NULL);
	if (rc) {
		snprintf(err, errlen, "%s: not a devirt trace database (%s)", path, sqlite3_errmsg(db));
		return -EINVAL;
	}
	sqlite3_bind_int64(st, 1, run);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (run > 0)
			snprintf(err, errlen, "%s: no run %lld", path, (long long)run);
		else
			snprintf(err, errlen, "%s: no live run to replay", path);
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	struct rrun *r = &rt->run;
	r->id = sqlite3_column_int64(st, 0);
	r->guest = col_dup(st, 1);
	r->image = col_dup(st, 2);
	r->args = col_dup(st, 3);
	r->seed = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
	r->config = col_dup(st, 5);
	r->kind = col_dup(st, 6);
	r->source = col_dup(st, 7);
	r->parent = sqlite3_column_int64(st, 8);
	r->disk = col_dup(st, 9);
	r->verdict = col_dup(st, 10);
	r->end_wall = col_dup(st, 11);
	r->image_sha256 = col_dup(st, 12);
	r->disk_sha256 = col_dup(st, 13);
	r->ringblk_sha256 = col_dup(st, 14);
	r->switches = col_dup(st, 15);
	r->policy = col_dup(st, 16);
	r->modes = col_dup(st, 17);
	r->mem = (uint64_t)sqlite3_column_int64(st, 18);
	r->exit_cost_ns = (uint64_t)sqlite3_column_int64(st, 19);
	r->disk_bytes = (uint64_t)sqlite3_column_int64(st, 20);
	r->ringblk_bytes = (uint64_t)sqlite3_column_int64(st, 21);
	r->end_vtime = (uint64_t)sqlite3_column_int64(st, 22);
	r->exits = (uint64_t)sqlite3_column_int64(st, 23);
	r->exit_code = (uint64_t)sqlite3_column_int64(st, 24);
	sqlite3_finalize(st);
	rt->is_import = r->kind && !strcmp(r->kind, "import");
	return 0;
}

/* Reads the disk bases. Returns an SQLite code. */
static int read_bases(struct rtrace *rt, sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT device, chunk, data FROM disk_base WHERE run = ?1 ORDER BY device, chunk",
				    -1, &st, NULL);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, rt->run.id);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rt->nchunks == cap) {
			cap = cap ? cap * 2 : 64;
			struct rchunk *c = realloc(rt->chunks, cap * sizeof(*c));
			if (!c) {
				rc = SQLITE_NOMEM;
				break;
			}
			rt->chunks = c;
		}
		struct rchunk *c = &rt->chunks[rt->nchunks];
		const char *dev = (const char *)sqlite3_column_text(st, 0);
		c->ringblk = dev && !strcmp(dev, "ringblk");
		c->index = (uint64_t)sqlite3_column_int64(st, 1);
		c->zlen = (uint32_t)sqlite3_column_bytes(st, 2);
		c->z = malloc(c->zlen ? c->zlen : 1);
		if (!c->z) {
			rc = SQLITE_NOMEM;
			break;
		}
		memcpy(c->z, sqlite3_column_blob(st, 2), c->zlen);
		rt->nchunks++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* qsort order of events: by seq. */
static int by_seq(const void *a, const void *b)
{
	const struct rev *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int rtrace__load(struct rtrace *rt, const char *path, int64_t run, char *err, size_t errlen)
{
	sqlite3 *db;
	memset(rt, 0, sizeof(*rt));
	rt->nstr = 1;
	rt->scap = 64;
	rt->str = calloc(rt->scap, sizeof(*rt->str));
	if (!rt->str || rehash(rt)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = db__open_ro(&db, path, err, errlen);
	if (rc)
		return rc;
	rc = read_run(rt, db, run, path, err, errlen);
	if (rc)
		goto out;
	if (!rt->is_import && !rt->run.verdict) {
		snprintf(err, errlen, "%s: run %lld never finished (no verdict): its trace may be incomplete",
			 path, (long long)rt->run.id);
		rc = -EINVAL;
		goto out;
	}
	if (rt->is_import && !rt->run.end_wall) {
		snprintf(err, errlen, "%s: import run %lld never finished", path, (long long)rt->run.id);
		rc = -EINVAL;
		goto out;
	}
	int src = SQLITE_OK;
	for (int t = 0; t < 5 && !src; t++)
		src = read_table(rt, db, t);
	if (!src)
		src = read_bases(rt, db);
	if (src) {
		snprintf(err, errlen, "%s: reading run %lld: %s", path, (long long)rt->run.id,
			 src == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
		rc = db__errno(src);
		goto out;
	}
	qsort(rt->ev, rt->n, sizeof(*rt->ev), by_seq);
	for (size_t i = 0; i < rt->n; i++) {
		if (rt->ev[i].seq != i) {
			snprintf(err, errlen, "%s: run %lld: event seq %llu is missing (events must be 0..%zu)",
				 path, (long long)rt->run.id, (unsigned long long)i, rt->n - 1);
			rc = -EINVAL;
			goto out;
		}
	}
	if (!rt->n) {
		snprintf(err, errlen, "%s: run %lld has no events", path, (long long)rt->run.id);
		rc = -EINVAL;
	} else if (early__plan(rt)) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
out:
	sqlite3_close(db);
	return rc;
}

void rtrace__free(struct rtrace *rt)
{
	struct rrun *r = &rt->run;
	char *s[] = { r->guest, r->image, r->args, r->config, r->kind, r->source, r->disk, r->verdict,
		      r->end_wall, r->image_sha256, r->disk_sha256, r->ringblk_sha256, r->switches,
		      r->policy, r->modes };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		free(s[i]);
	for (uint32_t i = 1; i < rt->nstr; i++)
		free(rt->str[i]);
	for (size_t i = 0; i < rt->nchunks; i++)
		free(rt->chunks[i].z);
	free(rt->chunks);
	free(rt->str);
	free(rt->hash);
	free(rt->ev);
	free(rt->blobs);
	free(rt->early_at);
	free(rt->early_rows);
	memset(rt, 0, sizeof(*rt));
}

int rtrace__disk(const struct rtrace *rt, int ringblk, const char *path, struct blk *b,
		 char *err, size_t errlen)
{
	uint64_t bytes = ringblk ? rt->run.ringblk_bytes : rt->run.disk_bytes;
	if (!bytes)
		bytes = DEFAULT_DISK;
	uint8_t *chunk = malloc(BLK_CHUNK);
	if (!chunk) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = path ? blk__open(b, path, bytes, err, errlen) : blk__open_temp(b, bytes, err, errlen);
	if (rc) {
		free(chunk);
		return rc;
	}
	if (path && b->sectors * BLK_SECTOR != bytes / BLK_SECTOR * BLK_SECTOR) {
		snprintf(err, errlen, "%s: exists with another size than the recorded %llu bytes", path,
			 (unsigned long long)bytes);
		free(chunk);
		blk__close(b);
		return -EEXIST;
	}
	for (size_t i = 0; i < rt->nchunks && !rc; i++) {
		const struct rchunk *c = &rt->chunks[i];
		uLongf len = BLK_CHUNK;
		if (c->ringblk != ringblk)
			continue;
		if (uncompress(chunk, &len, c->z, c->zlen) != Z_OK || len % BLK_SECTOR ||
		    (c->index * BLK_CHUNK + len) / BLK_SECTOR > b->sectors) {
			snprintf(err, errlen, "run %lld: disk_base chunk %llu of %s is corrupt", (long long)rt->run.id,
				 (unsigned long long)c->index, ringblk ? "ringblk" : "ata");
			rc = -EINVAL;
		} else if ((rc = blk__write(b, c->index * BLK_CHUNK / BLK_SECTOR, chunk, (uint32_t)(len / BLK_SECTOR)))) {
			snprintf(err, errlen, "writing the rebuilt %s image: %s", ringblk ? "ringblk" : "ata",
				 strerror(-rc));
		}
	}
	free(chunk);
	if (rc)
		blk__close(b);
	return rc;
}
