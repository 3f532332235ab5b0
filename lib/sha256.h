/*
 * SHA-256 (FIPS 180-4), for identifying guest images and disk bases in
 * traces. Small and self-contained: none of the allowed Debian libraries
 * (SQLite, zlib, PCRE2, libelf, libbpf) exports a SHA-2.
 */
#ifndef DEVIRT_SHA256_H
#define DEVIRT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;        /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
};

/* Starts a hash. */
void sha256__init(struct sha256 *s);

/* Adds len bytes. */
void sha256__update(struct sha256 *s, const void *data, size_t len);

/* Finishes and writes the digest as 64 lowercase hex digits plus NUL. */
void sha256__hex(struct sha256 *s, char out[65]);

#endif
