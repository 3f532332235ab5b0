/*
 * Checked guest memory: the one way to turn a guest-physical range into a
 * host pointer. Loaders and DMA use nothing else, so a guest-supplied address
 * can never reach host memory outside guest RAM.
 */
#ifndef DEVIRT_GMEM_H
#define DEVIRT_GMEM_H

#include <stddef.h>
#include <stdint.h>

struct gmem {
	uint8_t *host;   /* guest-physical 0 maps here */
	uint64_t size;   /* bytes of RAM from guest-physical 0 */
	/* Sees every gmem__read (device DMA from guest memory), so a recorder
	 * can keep what devices read; may be NULL. */
	void (*on_read)(void *ctx, uint64_t gpa, const void *data, uint64_t len);
	void *on_read_ctx;
};

/* Returns a host pointer to [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
void *gmem__ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Copies len bytes from guest memory (DMA: on_read sees them). Returns 0
 * or -EFAULT. */
int gmem__read(const struct gmem *m, uint64_t gpa, void *buf, uint64_t len);

/* Copies len bytes into guest memory. Returns 0 or -EFAULT. */
int gmem__write(const struct gmem *m, uint64_t gpa, const void *buf, uint64_t len);

#endif
