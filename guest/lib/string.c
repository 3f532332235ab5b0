/*
 * The C string functions the runtime uses, and the ones gcc may emit calls
 * to on its own (memset, memcpy, memcmp) even in freestanding code.
 * memset and memcpy use rep stosb/movsb: a plain byte loop could itself be
 * turned into a memset/memcpy call by gcc's loop-pattern pass, recursing.
 */
#include "guest.h"

/* Fills n bytes at dst with c; returns dst. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

/* Copies n bytes from src to dst (no overlap); returns dst. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

/* Compares n bytes; returns <0, 0 or >0. */
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

/* Returns the length of s. */
size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* Compares two strings; returns <0, 0 or >0. */
int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

/* Compares at most n characters; returns <0, 0 or >0. */
int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++)
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	return 0;
}
