/*
 * A recorded run in memory, as the replayer needs it: the run row (what
 * made the run: image, arguments, machine shape, switches, policy, modes),
 * every event of the run in sequence order across the access, halt, irq,
 * mapped and dma tables, and the disks' content before the run
 * (disk_base), from which fresh images are rebuilt.
 *
 * Strings that repeat (device, register, state-machine state, mode) are
 * interned: an event holds small ids, rtrace__str turns them back.
 */
#ifndef DEVIRT_RTRACE_H
#define DEVIRT_RTRACE_H

#include <stddef.h>
#include <stdint.h>
#include "../lib/blk.h"

/* Event kinds, one per table (irq rows split into injections and lines). */
enum rkind { RK_ACCESS, RK_HALT, RK_INJECT, RK_LINE, RK_MAPPED, RK_DMA };

/* One recorded event. addr: access address, line number (RK_LINE), DMA
 * guest-physical address; off: mapped register offset; value: written or
 * read value, injected vector, line level (1 raise, 0 lower). */
struct rev {
	uint64_t seq, vtime, addr, value, rip, off;
	uint32_t dev, reg, sm, mode;   /* string ids (0: NULL) */
	uint32_t blob, blob_len;       /* RK_DMA: the bytes, at rt->blobs + blob */
	uint8_t kind, size, write, mmio, path, target;
};

/* The run row. Strings are NULL when the column is. */
struct rrun {
	int64_t id, seed, parent;      /* seed -1: none */
	char *guest, *image, *args, *config, *kind, *source, *disk, *verdict, *end_wall;
	char *image_sha256, *disk_sha256, *ringblk_sha256, *switches, *policy, *modes;
	uint64_t mem, exit_cost_ns, disk_bytes, ringblk_bytes, end_vtime, exits, exit_code;
};

/* One compressed 64 KiB chunk of a disk's content before the run. */
struct rchunk {
	int ringblk;                   /* 0: the ATA disk, 1: ringblk's */
	uint64_t index;
	void *z;
	uint32_t zlen;
};

struct rtrace {
	struct rrun run;
	struct rev *ev;
	size_t n, cap;
	uint8_t *blobs;
	size_t blen, bcap;
	char **str;                    /* str[0] is NULL */
	uint32_t nstr, scap;
	uint32_t *hash;                /* open addressing over str ids */
	uint32_t hcap;
	struct rchunk *chunks;
	size_t nchunks;
	/* dma rows to preload early (early.c): before event i, rows
	 * early_rows[early_at[i] .. early_at[i + 1]) */
	uint32_t *early_at, *early_rows;
	uint64_t count[RK_DMA + 1];    /* events per kind */
	int is_import;                 /* kind 'import': a peer VMM's accesses only */
};

/* Loads run `run` (0: the last live run) of the database at path. Returns
 * 0, or -errno with a one-line reason in err: -ENOENT no such run (or no
 * database), -EINVAL a run that never finished or whose events are not one
 * gap-free sequence, -EIO an unreadable database. */
int rtrace__load(struct rtrace *rt, const char *path, int64_t run, char *err, size_t errlen);

/* Frees everything rtrace__load allocated. */
void rtrace__free(struct rtrace *rt);

/* Returns the string of id (NULL for 0). */
const char *rtrace__str(const struct rtrace *rt, uint32_t id);

/* Returns the id of s, adding it if new (0 for NULL, UINT32_MAX when out of
 * memory). */
uint32_t rtrace__intern(struct rtrace *rt, const char *s);

/* Creates a disk image holding the recorded content of the ATA disk
 * (ringblk 0) or ringblk's (1) before the run: at path, or an anonymous
 * temporary file when path is NULL. A run without a recorded base (an
 * import, a v1 run) gets a zeroed 16 MiB image. Returns 0 or -errno with a
 * reason in err. */
int rtrace__disk(const struct rtrace *rt, int ringblk, const char *path, struct blk *b,
		 char *err, size_t errlen);

/* early.c: plans which dma rows a replay preloads before their own
 * position (rt->early_at, early_rows). Returns 0 or -ENOMEM. */
int early__plan(struct rtrace *rt);

#endif
