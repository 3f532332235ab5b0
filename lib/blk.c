/*
 * Disk images on plain files with pread/pwrite: no caching of our own, so a
 * killed run leaves in the file exactly what the guest's completed writes
 * put there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "blk.h"

int blk__open(struct blk *b, const char *path, uint64_t create_bytes, char *err, size_t errlen)
{
	struct stat st;
	b->on_write = NULL;
	b->on_write_ctx = NULL;
	b->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(b->fd);
		b->fd = -1;
		return -EINVAL;
	}
	if (st.st_size == 0 && create_bytes) {
		if (ftruncate(b->fd, (off_t)(create_bytes / BLK_SECTOR * BLK_SECTOR)) < 0) {
			int e = errno;
			snprintf(err, errlen, "%s: cannot size the image: %s", path, strerror(e));
			close(b->fd);
			b->fd = -1;
			return -e;
		}
		st.st_size = (off_t)(create_bytes / BLK_SECTOR * BLK_SECTOR);
	}
	b->sectors = (uint64_t)st.st_size / BLK_SECTOR;
	if (!b->sectors) {
		snprintf(err, errlen, "%s: image is smaller than one sector", path);
		close(b->fd);
		b->fd = -1;
		return -EINVAL;
	}
	return 0;
}

int blk__chunks(struct blk *b, int (*fn)(void *ctx, uint64_t index, const void *data, uint32_t len),
		void *ctx)
{
	static const uint8_t zero[BLK_CHUNK];
	static __thread uint8_t buf[BLK_CHUNK];
	uint64_t size = b->sectors * BLK_SECTOR;
	for (uint64_t off = 0; off < size; off += BLK_CHUNK) {
		/* skip holes: a sparse (e.g. fresh anonymous) image costs nothing */
		off_t data = lseek(b->fd, (off_t)off, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= size)
			break;
		off = (uint64_t)data / BLK_CHUNK * BLK_CHUNK;
		uint32_t len = (uint32_t)(size - off < BLK_CHUNK ? size - off : BLK_CHUNK);
		if (pread(b->fd, buf, len, (off_t)off) != (ssize_t)len)
			return -EIO;
		if (!memcmp(buf, zero, len))
			continue;
		int rc = fn(ctx, off / BLK_CHUNK, buf, len);
		if (rc)
			return rc;
	}
	return 0;
}

int blk__open_temp(struct blk *b, uint64_t bytes, char *err, size_t errlen)
{
	b->on_write = NULL;
	b->on_write_ctx = NULL;
	b->sectors = bytes / BLK_SECTOR;
	b->fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (b->fd < 0 || !b->sectors || ftruncate(b->fd, (off_t)(b->sectors * BLK_SECTOR)) < 0) {
		int e = b->sectors ? errno : EINVAL;
		snprintf(err, errlen, "temporary disk image of %llu bytes: %s",
			 (unsigned long long)bytes, strerror(e));
		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
		return -e;
	}
	return 0;
}

/* Moves count sectors between buf and the file; write selects the direction. */
static int xfer(struct blk *b, uint64_t lba, void *buf, uint32_t count, int write)
{
	if (lba > b->sectors || count > b->sectors - lba)
		return -ERANGE;
	size_t len = (size_t)count * BLK_SECTOR, done = 0;
	off_t off = (off_t)(lba * BLK_SECTOR);
	while (done < len) {
		ssize_t n = write ? pwrite(b->fd, (char *)buf + done, len - done, off + (off_t)done)
				  : pread(b->fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		if (n == 0 && write)
			return -EIO;
		if (n == 0) {          /* short file: reads past EOF are zeros */
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int blk__read(struct blk *b, uint64_t lba, void *buf, uint32_t count)
{
	return xfer(b, lba, buf, count, 0);
}

int blk__write(struct blk *b, uint64_t lba, const void *buf, uint32_t count)
{
	if (b->on_write && lba <= b->sectors && count <= b->sectors - lba)
		b->on_write(b->on_write_ctx, b, lba, count, buf);
	return xfer(b, lba, (void *)buf, count, 1);
}

int blk__flush(struct blk *b)
{
	return fdatasync(b->fd) < 0 ? -EIO : 0;
}

void blk__close(struct blk *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}
