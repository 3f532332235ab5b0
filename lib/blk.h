/*
 * A disk image as a sequence of 512-byte sectors: what the ATA and ringblk
 * models store their data in. Created sparse at the requested size when the
 * file does not exist, so `--disk new.img` just works.
 */
#ifndef DEVIRT_BLK_H
#define DEVIRT_BLK_H

#include <stddef.h>
#include <stdint.h>

#define BLK_SECTOR 512u

struct blk {
	int fd;
	uint64_t sectors;
	/* Optional observer, called by blk__write before sectors [lba,
	 * lba+count) are overwritten (the offline replayer keeps undo and redo
	 * logs of its disks this way). The opens clear it. */
	void (*on_write)(void *ctx, struct blk *b, uint64_t lba, uint32_t count, const void *data);
	void *on_write_ctx;
};

/* Opens path read-write, creating it with create_bytes (rounded down to
 * whole sectors) when missing. Returns 0, or -errno with a reason in err. */
int blk__open(struct blk *b, const char *path, uint64_t create_bytes, char *err, size_t errlen);

/* Creates an anonymous image of bytes (unlinked temporary file): for runs
 * that were given no disk. Returns 0 or -errno with a reason in err. */
int blk__open_temp(struct blk *b, uint64_t bytes, char *err, size_t errlen);

/* Reads count sectors from lba. Returns 0, -ERANGE past the end, -EIO. */
int blk__read(struct blk *b, uint64_t lba, void *buf, uint32_t count);

/* Writes count sectors at lba. Returns 0, -ERANGE past the end, -EIO. */
int blk__write(struct blk *b, uint64_t lba, const void *buf, uint32_t count);

/* Forces written data to stable storage. Returns 0 or -EIO. */
int blk__flush(struct blk *b);

#define BLK_CHUNK 65536u

/* Calls fn for every 64 KiB chunk of the image that holds a non-zero byte,
 * in order (holes are skipped without reading). len is short only for the
 * last chunk. Stops early when fn returns non-zero and returns that value;
 * returns 0 after the last chunk or -EIO. */
int blk__chunks(struct blk *b, int (*fn)(void *ctx, uint64_t index, const void *data, uint32_t len),
		void *ctx);

/* Closes the image. */
void blk__close(struct blk *b);

#endif
