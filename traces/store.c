/*
 * Trace writer. The ring is single-producer (vCPU thread) single-consumer
 * (writer thread): the producer fills a slot then publishes it with a
 * release store of `head`; the consumer reads up to head with acquire and
 * frees slots with a release store of `tail`. The producer therefore costs
 * one clock read and a copy per event. The consumer keeps one transaction
 * open and commits it every BATCH_ROWS rows or COMMIT_NS, whichever comes
 * first (committing whenever the ring ran dry cost a commit per handful of
 * rows), so a crash loses at most the last COMMIT_NS of events.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "db.h"
#include "store.h"
#include "../devices/regnames.h"
#include "../engine/engine.h"
#include "../lib/sha256.h"
#include <zlib.h>
#include "../lib/hosttime.h"

#define RING_SLOTS  (1u << 16)
#define ENG_SLOTS   (1u << 12)   /* engine records: switches, steps, pauses, deferrals */
#define BATCH_ROWS  20000u
#define COMMIT_NS   50000000ull   /* 50 ms */

struct slot {
	struct exit_rec r;
	uint64_t wall_ns;
	void *blob;                  /* EXIT_DMA: our copy of the bytes, freed once stored */
};

enum { EI_SWITCH, EI_STEP, EI_PAUSE, EI_DEFER, EI_REPLAYED, EI_FAULT, EI_N };

/* Fault rows (trace__fault) travel the engine ring as records of this
 * store-private kind, beyond enum eng_rec_kind: device, step = the fault's
 * kind, detail = a copy freed once stored, seq, vtime. */
#define ER_FAULT 0x100

struct trace {
	sqlite3 *db;
	int64_t run;
	uint64_t t0;                 /* monotonic ns at start: wall_ns is relative */
	sqlite3_stmt *ins[EXIT_KINDS];
	pthread_t writer;
	_Atomic uint64_t head, tail; /* produced / consumed counts */
	atomic_int stop;
	int rc;                      /* first SQLite error in the writer */
	char err[256];
	uint64_t rows;
	struct blk *ata_disk, *ringblk_disk;  /* content ids again at the end */
	sqlite3_stmt *eins[EI_N];
	_Atomic uint64_t ehead, etail;  /* the engine ring, same protocol */
	struct eng_rec ering[ENG_SLOTS];
	struct slot ring[RING_SLOTS];
};

/* Binds v as text, or NULL when v is NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Inserts one event with the statement for its kind. Returns an SQLite code. */
static int insert(struct trace *t, const struct slot *s)
{
	const struct exit_rec *r = &s->r;
	sqlite3_stmt *st = t->ins[r->kind == EXIT_MMIO ? EXIT_PIO : r->kind];
	int rc;
	sqlite3_bind_int64(st, 1, t->run);
	sqlite3_bind_int64(st, 2, (int64_t)r->seq);
	sqlite3_bind_int64(st, 3, (int64_t)r->vtime);
	sqlite3_bind_int64(st, 4, (int64_t)s->wall_ns);
	switch (r->kind) {
	case EXIT_PIO:
	case EXIT_MMIO:
		sqlite3_bind_text(st, 5, r->kind == EXIT_PIO ? "pio" : "mmio", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (int64_t)r->addr);
		sqlite3_bind_int(st, 7, r->size);
		sqlite3_bind_text(st, 8, r->write ? "w" : "r", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, (int64_t)r->value);
		bind_text(st, 10, r->dev);
		bind_text(st, 11, regnames__lookup(r->model, r->off, r->write));
		sqlite3_bind_int64(st, 12, (int64_t)r->rip);
		sqlite3_bind_text(st, 13, access_path__name(r->path), -1, SQLITE_STATIC);
		bind_text(st, 14, r->sm_state);
		bind_text(st, 15, r->mode);
		break;
	case EXIT_HLT:
		sqlite3_bind_int64(st, 5, (int64_t)r->rip);
		break;
	case EXIT_IRQ:
		sqlite3_bind_int64(st, 5, (int64_t)r->value);
		break;
	case EXIT_MAPPED:
		bind_text(st, 5, r->dev);
		sqlite3_bind_int64(st, 6, (int64_t)r->off);
		sqlite3_bind_int(st, 7, r->size);
		sqlite3_bind_int64(st, 8, (int64_t)r->value);
		bind_text(st, 9, regnames__lookup(r->model, r->off, 1));
		break;
	case EXIT_DMA:
		sqlite3_bind_int64(st, 5, (int64_t)r->addr);
		sqlite3_bind_int64(st, 6, r->blob_len);
		sqlite3_bind_blob(st, 7, s->blob ? s->blob : "", (int)r->blob_len, SQLITE_STATIC);
		break;
	default:                             /* EXIT_LINE */
		bind_text(st, 5, r->dev);
		sqlite3_bind_int64(st, 6, (int64_t)r->addr);
		sqlite3_bind_text(st, 7, r->value ? "raise" : "lower", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, r->target == LINE_MONITOR ? "monitor" : "guest", -1, SQLITE_STATIC);
		break;
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(s->blob);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void writer_error(struct trace *t, int rc, const char *what);

/* Binds an unsigned value, or NULL when !has. */
static void bind_opt(sqlite3_stmt *st, int i, int has, uint64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, (int64_t)v);
	else
		sqlite3_bind_null(st, i);
}

/* Stores one engine record. Returns an SQLite code. */
static int insert_eng(struct trace *t, const struct eng_rec *r)
{
	if (r->kind == ER_FAULT) {
		sqlite3_stmt *fst = t->eins[EI_FAULT];
		sqlite3_bind_int64(fst, 1, t->run);
		sqlite3_bind_int64(fst, 2, (int64_t)r->seq);
		sqlite3_bind_int64(fst, 3, (int64_t)r->vtime);
		bind_text(fst, 4, r->device);
		bind_text(fst, 5, r->step);
		bind_text(fst, 6, r->detail);
		int frc = sqlite3_step(fst);
		sqlite3_reset(fst);
		free((char *)r->detail);
		return frc == SQLITE_DONE ? SQLITE_OK : frc;
	}
	static const int which[] = { [ER_SWITCH] = EI_SWITCH, [ER_STEP] = EI_STEP, [ER_PAUSE] = EI_PAUSE,
				     [ER_DEFER] = EI_DEFER, [ER_REPLAYED] = EI_REPLAYED };
	sqlite3_stmt *st = t->eins[which[r->kind]];
	sqlite3_bind_int64(st, 1, t->run);
	sqlite3_bind_int64(st, 2, (int64_t)r->switch_id);
	switch (r->kind) {
	case ER_SWITCH:
		bind_text(st, 3, r->device);
		bind_text(st, 4, r->action);
		bind_text(st, 5, r->policy);
		sqlite3_bind_int64(st, 6, (int64_t)r->req_seq);
		sqlite3_bind_int64(st, 7, (int64_t)r->req_vt);
		bind_opt(st, 8, r->has_start, r->start_seq);
		bind_opt(st, 9, r->has_start, r->start_vt);
		bind_opt(st, 10, r->has_done, r->done_seq);
		bind_opt(st, 11, r->has_done, r->done_vt);
		sqlite3_bind_int64(st, 12, (int64_t)r->wall_ns);
		bind_text(st, 13, r->outcome);
		bind_text(st, 14, r->reason);
		bind_text(st, 15, r->mode_before);
		bind_text(st, 16, r->mode_after);
		break;
	case ER_STEP:
		bind_text(st, 3, r->step);
		sqlite3_bind_int64(st, 4, (int64_t)r->seq);
		sqlite3_bind_int64(st, 5, (int64_t)r->vtime);
		sqlite3_bind_int64(st, 6, (int64_t)r->wall_ns);
		bind_text(st, 7, r->detail);
		break;
	case ER_PAUSE:
		bind_text(st, 3, r->device);
		bind_text(st, 4, r->pause_kind);
		sqlite3_bind_int64(st, 5, (int64_t)r->start_seq2);
		sqlite3_bind_int64(st, 6, (int64_t)r->start_vt2);
		sqlite3_bind_int64(st, 7, (int64_t)r->end_seq);
		sqlite3_bind_int64(st, 8, (int64_t)r->end_vt);
		sqlite3_bind_int64(st, 9, (int64_t)r->wall_ns);
		sqlite3_bind_int64(st, 10, (int64_t)r->bound_ns);
		sqlite3_bind_int64(st, 11, (int64_t)r->polls);
		break;
	case ER_DEFER:
		sqlite3_bind_int64(st, 3, (int64_t)r->seq);
		sqlite3_bind_int64(st, 4, (int64_t)r->ord);
		break;
	default:                             /* ER_REPLAYED */
		sqlite3_bind_int64(st, 3, (int64_t)r->seq);
		sqlite3_bind_int64(st, 4, (int64_t)r->replay_seq);
		sqlite3_bind_int64(st, 5, (int64_t)r->replay_pos);
		break;
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Moves the engine records queued so far into the open transaction.
 * Returns the number moved. */
static uint64_t drain_eng(struct trace *t)
{
	uint64_t tail = atomic_load_explicit(&t->etail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&t->ehead, memory_order_acquire);
	for (uint64_t i = tail; i != head; i++) {
		int rc = insert_eng(t, &t->ering[i % ENG_SLOTS]);
		if (rc)
			writer_error(t, rc, "insert");
		t->rows++;
	}
	atomic_store_explicit(&t->etail, head, memory_order_release);
	return head - tail;
}

/* Records the writer's first error; later ones add nothing. */
static void writer_error(struct trace *t, int rc, const char *what)
{
	if (t->rc)
		return;
	t->rc = rc;
	snprintf(t->err, sizeof(t->err), "trace %s: %s", what, sqlite3_errmsg(t->db));
}

static void *writer(void *arg)
{
	struct trace *t = arg;
	int in_txn = 0;
	uint64_t batch = 0, since = host_ns();
	for (;;) {
		uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
		uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
		int eng = atomic_load_explicit(&t->ehead, memory_order_acquire) !=
			  atomic_load_explicit(&t->etail, memory_order_relaxed);
		if (head == tail && !eng) {
			int stopping = atomic_load_explicit(&t->stop, memory_order_acquire) &&
				       atomic_load_explicit(&t->head, memory_order_acquire) == tail &&
				       atomic_load_explicit(&t->ehead, memory_order_acquire) == t->etail;
			/* Dry: commit when the batch is old enough (or at the end), so
			 * a crash loses at most COMMIT_NS of events. */
			if (in_txn && (stopping || host_ns() - since >= COMMIT_NS)) {
				int rc = sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL);
				if (rc)
					writer_error(t, rc, "commit");
				in_txn = 0;
				batch = 0;
			}
			if (stopping)
				break;
			usleep(1000);
			continue;
		}
		if (!in_txn) {
			int rc = sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL);
			if (rc)
				writer_error(t, rc, "begin");
			in_txn = 1;
			since = host_ns();
		}
		for (; tail != head; tail++) {
			int rc = insert(t, &t->ring[tail % RING_SLOTS]);
			if (rc)
				writer_error(t, rc, "insert");
			t->rows++;
			batch++;
		}
		atomic_store_explicit(&t->tail, tail, memory_order_release);
		batch += drain_eng(t);
		if (batch >= BATCH_ROWS || host_ns() - since >= COMMIT_NS) {
			int rc = sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL);
			if (rc)
				writer_error(t, rc, "commit");
			in_txn = 0;
			batch = 0;
			since = host_ns();
		}
	}
	return NULL;
}

void trace__event(void *ctx, const struct exit_rec *r)
{
	struct trace *t = ctx;
	uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
	while (head - atomic_load_explicit(&t->tail, memory_order_acquire) >= RING_SLOTS)
		sched_yield();                   /* full: wait, never drop */
	struct slot *s = &t->ring[head % RING_SLOTS];
	s->r = *r;
	s->blob = NULL;
	if (r->kind == EXIT_DMA) {
		/* guest memory changes once we return: keep a copy (a lost copy
		 * is stored as an empty blob with its size, never dropped) */
		s->blob = malloc(r->blob_len ? r->blob_len : 1);
		if (s->blob)
			memcpy(s->blob, r->blob, r->blob_len);
		else
			s->r.blob_len = 0;
	}
	s->r.blob = NULL;
	s->wall_ns = host_ns() - t->t0;
	atomic_store_explicit(&t->head, head + 1, memory_order_release);
}

void trace__engine(void *ctx, const struct eng_rec *r)
{
	struct trace *t = ctx;
	uint64_t head = atomic_load_explicit(&t->ehead, memory_order_relaxed);
	while (head - atomic_load_explicit(&t->etail, memory_order_acquire) >= ENG_SLOTS)
		sched_yield();                   /* full: wait, never drop */
	t->ering[head % ENG_SLOTS] = *r;
	atomic_store_explicit(&t->ehead, head + 1, memory_order_release);
}

void trace__fault(struct trace *t, uint64_t seq, uint64_t vtime, const char *device, const char *kind,
		  const char *detail)
{
	struct eng_rec r = { .kind = ER_FAULT, .device = device, .step = kind,
			     .detail = detail ? strdup(detail) : NULL, .seq = seq, .vtime = vtime };
	trace__engine(t, &r);
}

/* Prepares the per-kind insert statements. Returns an SQLite code. */
static int prepare(struct trace *t)
{
	static const char *sql[EXIT_KINDS] = {
		[EXIT_PIO] = "INSERT INTO access (run, seq, vtime_ns, wall_ns, space, addr, size, dir, value,"
			     " device, reg, rip, path, sm_state, mode)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
		[EXIT_HLT] = "INSERT INTO halt (run, seq, vtime_ns, wall_ns, rip) VALUES (?1, ?2, ?3, ?4, ?5)",
		[EXIT_IRQ] = "INSERT INTO irq (run, seq, vtime_ns, wall_ns, event, target, vector)"
			     " VALUES (?1, ?2, ?3, ?4, 'inject', 'guest', ?5)",
		[EXIT_MAPPED] = "INSERT INTO mapped (run, seq, vtime_ns, wall_ns, device, off, size, value, reg)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		[EXIT_DMA] = "INSERT INTO dma (run, seq, vtime_ns, wall_ns, addr, size, data)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		[EXIT_LINE] = "INSERT INTO irq (run, seq, vtime_ns, wall_ns, device, line, event, target)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	};
	static const char *esql[EI_N] = {
		[EI_SWITCH] = "INSERT OR REPLACE INTO switch (run, id, device, action, policy, requested_seq,"
			      " requested_vtime_ns, started_seq, started_vtime_ns, completed_seq, completed_vtime_ns,"
			      " wall_ns, outcome, reason, mode_before, mode_after)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
		[EI_STEP] = "INSERT INTO step (run, switch, step, seq, vtime_ns, wall_ns, detail)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		[EI_PAUSE] = "INSERT INTO pause (run, switch, device, kind, start_seq, start_vtime_ns, end_seq,"
			     " end_vtime_ns, wall_ns, bound_ns, polls)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
		[EI_DEFER] = "INSERT INTO deferred (run, switch, seq, ord) VALUES (?1, ?2, ?3, ?4)",
		[EI_REPLAYED] = "UPDATE deferred SET replay_seq = coalesce(replay_seq, ?4),"
				" replay_pos = coalesce(replay_pos, ?5), replays = replays + 1"
				" WHERE run = ?1 AND switch = ?2 AND seq = ?3",
		[EI_FAULT] = "INSERT INTO fault (run, seq, vtime_ns, device, kind, detail)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	};
	for (int k = 0; k < EXIT_KINDS; k++) {
		if (!sql[k])
			continue;
		int rc = sqlite3_prepare_v3(t->db, sql[k], -1, SQLITE_PREPARE_PERSISTENT, &t->ins[k], NULL);
		if (rc)
			return rc;
	}
	for (int k = 0; k < EI_N; k++) {
		int rc = sqlite3_prepare_v3(t->db, esql[k], -1, SQLITE_PREPARE_PERSISTENT, &t->eins[k], NULL);
		if (rc)
			return rc;
	}
	return SQLITE_OK;
}

/* Binds an optional positive integer (0: NULL). */
static void bind_pos(sqlite3_stmt *st, int i, uint64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, (int64_t)v);
	else
		sqlite3_bind_null(st, i);
}

/* Inserts the run row. Returns an SQLite code. */
static int insert_run(struct trace *t, const struct trace_run *info)
{
	char now[32];
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(t->db,
		"INSERT INTO run (guest, image, args, seed, config, kind, disk, start_wall, version,"
		" image_sha256, ringblk_disk, mem, exit_cost_ns, switches, policy, modes, parent, source)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
		-1, &st, NULL);
	if (rc)
		return rc;
	bind_text(st, 1, info->guest ? info->guest : "?");
	bind_text(st, 2, info->image);
	bind_text(st, 3, info->args ? info->args : "");
	if (info->seed >= 0)
		sqlite3_bind_int64(st, 4, info->seed);
	bind_text(st, 5, info->config ? info->config : "");
	bind_text(st, 6, info->kind ? info->kind : "live");
	bind_text(st, 7, info->disk);
	bind_text(st, 8, db__utc_now(now, sizeof(now)));
	bind_text(st, 9, DEVIRT_VERSION);
	bind_text(st, 10, info->image_sha256);
	bind_text(st, 11, info->ringblk_path);
	bind_pos(st, 12, info->mem);
	bind_pos(st, 13, info->exit_cost_ns);
	bind_text(st, 14, info->switches);
	bind_text(st, 15, info->policy);
	bind_text(st, 16, info->modes);
	bind_pos(st, 17, info->parent > 0 ? (uint64_t)info->parent : 0);
	bind_text(st, 18, info->source);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	t->run = sqlite3_last_insert_rowid(t->db);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

struct base_ctx {
	struct trace *t;
	sqlite3_stmt *st;           /* NULL: hash only */
	const char *device;
	struct sha256 h;
	int rc;
};

/* blk__chunks callback: hashes and stores one non-zero chunk. */
static int base_chunk(void *ctx, uint64_t index, const void *data, uint32_t len)
{
	struct base_ctx *c = ctx;
	uint8_t idx[8];
	for (int i = 0; i < 8; i++)
		idx[i] = (uint8_t)(index >> (8 * i));
	sha256__update(&c->h, idx, 8);
	sha256__update(&c->h, data, len);
	if (!c->st)
		return 0;
	uLongf zlen = compressBound(len);
	Bytef *z = malloc(zlen);
	if (!z || compress2(z, &zlen, data, len, 1) != Z_OK) {
		free(z);
		return c->rc = SQLITE_NOMEM;
	}
	sqlite3_bind_int64(c->st, 1, c->t->run);
	sqlite3_bind_text(c->st, 2, c->device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(c->st, 3, (int64_t)index);
	sqlite3_bind_blob(c->st, 4, z, (int)zlen, free);
	int rc = sqlite3_step(c->st);
	sqlite3_reset(c->st);
	if (rc != SQLITE_DONE)
		return c->rc = rc;
	return 0;
}

/* Stores disk b's content before the run as the copy-on-write base of
 * device (after: only its content id, at the end of the run) and records
 * its size and content id: SHA-256 over the size (8 bytes, little-endian)
 * and each non-zero 64 KiB chunk (its index, then its bytes), so a sparse
 * image costs nothing. Returns an SQLite code. */
static int store_base(struct trace *t, const char *device, struct blk *b, int after)
{
	struct base_ctx c = { .t = t, .device = device };
	char hex[65], sql[160];
	uint64_t bytes = b->sectors * BLK_SECTOR;
	uint8_t sz[8];
	int rc = after ? SQLITE_OK : sqlite3_prepare_v2(t->db, "INSERT INTO disk_base (run, device, chunk, data)"
							" VALUES (?1, ?2, ?3, ?4)", -1, &c.st, NULL);
	if (rc)
		return rc;
	sha256__init(&c.h);
	for (int i = 0; i < 8; i++)
		sz[i] = (uint8_t)(bytes >> (8 * i));
	sha256__update(&c.h, sz, 8);
	if (blk__chunks(b, base_chunk, &c) < 0 && !c.rc)
		c.rc = SQLITE_IOERR;
	sqlite3_finalize(c.st);
	if (c.rc)
		return c.rc;
	sha256__hex(&c.h, hex);
	const char *col = !strcmp(device, "ata") ? "disk" : "ringblk";
	snprintf(sql, sizeof(sql), "UPDATE run SET %s_bytes = ?2, %s_%ssha256 = ?3 WHERE id = ?1",
		 col, col, after ? "after_" : "");
	rc = sqlite3_prepare_v2(t->db, sql, -1, &c.st, NULL);
	if (rc)
		return rc;
	sqlite3_bind_int64(c.st, 1, t->run);
	sqlite3_bind_int64(c.st, 2, (int64_t)bytes);
	sqlite3_bind_text(c.st, 3, hex, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(c.st);
	sqlite3_finalize(c.st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int trace__start(struct trace **tp, const char *path, const struct trace_run *info,
		 char *err, size_t errlen)
{
	struct trace *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = db__open(&t->db, path, err, errlen);
	if (rc) {
		free(t);
		return rc;
	}
	int src = sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL);
	if (!src)
		src = insert_run(t, info);
	if (!src && info->ata_disk && info->ata_disk->fd >= 0)
		src = store_base(t, "ata", info->ata_disk, 0);
	if (!src && info->ringblk_disk && info->ringblk_disk->fd >= 0)
		src = store_base(t, "ringblk", info->ringblk_disk, 0);
	t->ata_disk = info->ata_disk;
	t->ringblk_disk = info->ringblk_disk;
	sqlite3_exec(t->db, src ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	if (!src)
		src = prepare(t);
	if (src) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(t->db));
		rc = db__errno(src);
		goto fail;
	}
	t->t0 = host_ns();
	rc = -pthread_create(&t->writer, NULL, writer, t);
	if (rc) {
		snprintf(err, errlen, "cannot start the trace writer: %s", strerror(-rc));
		goto fail;
	}
	*tp = t;
	return 0;
fail:
	for (int k = 0; k < EXIT_KINDS; k++)
		sqlite3_finalize(t->ins[k]);
	for (int k = 0; k < EI_N; k++)
		sqlite3_finalize(t->eins[k]);
	sqlite3_close(t->db);
	free(t);
	return rc;
}

uint64_t trace__t0(const struct trace *t)
{
	return t->t0;
}

int64_t trace__run_id(const struct trace *t) { return t->run; }

uint64_t trace__rows(const struct trace *t) { return t->rows; }

void trace__devices(struct trace *t, const struct machine *m)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(t->db, "INSERT OR IGNORE INTO device (run, name, model, space, base, size, irq)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st, NULL))
		return;
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < m->bus.n[s]; i++) {
			const struct bus_range *r = &m->bus.r[s][i];
			sqlite3_bind_int64(st, 1, t->run);
			bind_text(st, 2, r->hw->name);
			bind_text(st, 3, r->hw->ops->model);
			bind_text(st, 4, s == BUS_PIO ? "pio" : "mmio");
			sqlite3_bind_int64(st, 5, (int64_t)r->base);
			sqlite3_bind_int64(st, 6, (int64_t)r->len);
			if (r->hw->irq >= 0)
				sqlite3_bind_int(st, 7, r->hw->irq);
			else
				sqlite3_bind_null(st, 7);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
}

int trace__finish(struct trace *t, const char *verdict, uint32_t exit_code, uint64_t exits,
		  uint64_t end_vtime_ns, char *err, size_t errlen)
{
	char now[32];
	sqlite3_stmt *st;
	atomic_store_explicit(&t->stop, 1, memory_order_release);
	pthread_join(t->writer, NULL);
	int rc = t->rc;
	if (rc)
		snprintf(err, errlen, "%s", t->err);
	if (!rc && verdict) {
		rc = sqlite3_prepare_v2(t->db, "UPDATE run SET verdict = ?2, exit_code = ?3, exits = ?4,"
					" end_vtime_ns = ?5, end_wall = ?6 WHERE id = ?1", -1, &st, NULL);
		if (!rc) {
			sqlite3_bind_int64(st, 1, t->run);
			bind_text(st, 2, verdict);
			sqlite3_bind_int64(st, 3, exit_code);
			sqlite3_bind_int64(st, 4, (int64_t)exits);
			sqlite3_bind_int64(st, 5, (int64_t)end_vtime_ns);
			bind_text(st, 6, db__utc_now(now, sizeof(now)));
			rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(t->db);
			sqlite3_finalize(st);
		}
		/* the disks' content after the run (I7 compares it) */
		if (!rc && t->ata_disk && t->ata_disk->fd >= 0)
			rc = store_base(t, "ata", t->ata_disk, 1);
		if (!rc && t->ringblk_disk && t->ringblk_disk->fd >= 0)
			rc = store_base(t, "ringblk", t->ringblk_disk, 1);
		if (rc)
			snprintf(err, errlen, "trace: %s", sqlite3_errmsg(t->db));
	}
	for (int k = 0; k < EXIT_KINDS; k++)
		sqlite3_finalize(t->ins[k]);
	for (int k = 0; k < EI_N; k++)
		sqlite3_finalize(t->eins[k]);
	sqlite3_close(t->db);
	free(t);
	return db__errno(rc);
}
