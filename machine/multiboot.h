/*
 * Multiboot v1 loading, the way QEMU's -kernel does it: ELF32 or ELF64
 * images carrying a Multiboot header in their first 8 KiB, segments copied
 * to their physical addresses, an info block with the memory map and the
 * command line ("IMAGEPATH ARGS", as QEMU passes it).
 */
#ifndef DEVIRT_MULTIBOOT_H
#define DEVIRT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>
#include "../lib/gmem.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_INFO_ADDR 0x9000u   /* info block, memory map, command line */

struct multiboot_image {
	uint64_t entry;     /* 32-bit protected-mode entry point */
	uint32_t info;      /* guest-physical address of the info block (EBX) */
	uint64_t lo, hi;    /* lowest and highest loaded byte + 1 */
};

/* Validates the ELF image img[0..len) and loads it into mem, writing the
 * info block with cmdline. Returns 0, or -ENOEXEC / -E2BIG / -ERANGE with a
 * one-line reason in err (what is wrong, e.g. "segment 1 at 0x... lies
 * outside guest RAM"). */
int multiboot__load(const struct gmem *mem, const uint8_t *img, size_t len,
		    const char *cmdline, struct multiboot_image *out,
		    char *err, size_t errlen);

#endif
