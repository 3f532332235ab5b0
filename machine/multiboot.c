/*
 * Multiboot v1 ELF loader. Validates everything it reads from the image
 * before using it, because the image is user input: bad magic, class,
 * machine, type, header table bounds, segment bounds in the file and in RAM,
 * and the entry point. Errors carry a sentence, not a code.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "multiboot.h"

#define MB_HEADER_MAGIC   0x1BADB002u
#define MB_SEARCH_BYTES   8192
#define MB_FLAGS_KNOWN    0x00010007u  /* align, meminfo, video (ignored), a.out kludge */
#define MB_INFO_MEM       0x001
#define MB_INFO_CMDLINE   0x004
#define MB_INFO_MMAP      0x040
#define MB_INFO_LOADER    0x200
#define MB_MMAP_OFF       0x100
#define MB_NAME_OFF       0x200
#define MB_CMDLINE_OFF    0x400
#define MB_AREA_END       0x10000u     /* the info area is [0x9000, 0x10000) */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* One program header, class-independent. */
struct seg {
	uint32_t type, flags;
	uint64_t offset, paddr, filesz, memsz;
};

/* Reads program header i. The table bounds were checked by the caller. */
static struct seg read_seg(const uint8_t *img, int is64, uint64_t phoff, uint64_t entsz, int i)
{
	struct seg s;
	const uint8_t *p = img + phoff + (uint64_t)i * entsz;
	if (is64) {
		Elf64_Phdr ph;
		memcpy(&ph, p, sizeof(ph));
		s = (struct seg){ ph.p_type, ph.p_flags, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz };
	} else {
		Elf32_Phdr ph;
		memcpy(&ph, p, sizeof(ph));
		s = (struct seg){ ph.p_type, ph.p_flags, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz };
	}
	return s;
}

/* Finds and checks the Multiboot header. Returns 0 or -ENOEXEC. */
static int check_header(const uint8_t *img, size_t len, char *err, size_t errlen)
{
	size_t end = len < MB_SEARCH_BYTES ? len : MB_SEARCH_BYTES;
	for (size_t off = 0; off + 12 <= end; off += 4) {
		uint32_t h[3];
		memcpy(h, img + off, sizeof(h));
		if (h[0] != MB_HEADER_MAGIC)
			continue;
		if ((uint32_t)(h[0] + h[1] + h[2]) != 0)
			return fail(err, errlen, -ENOEXEC, "Multiboot header at offset 0x%zx has a bad checksum", off);
		if (h[1] & 0xffff & ~MB_FLAGS_KNOWN)
			return fail(err, errlen, -ENOEXEC, "Multiboot header requires unsupported features (flags 0x%x)", h[1]);
		return 0;
	}
	return fail(err, errlen, -ENOEXEC, "no Multiboot header in the first 8 KiB");
}

/* Writes the info block, memory map, loader name and command line. */
static int write_info(const struct gmem *mem, const char *cmdline, char *err, size_t errlen)
{
	uint8_t *area = gmem__ptr(mem, MULTIBOOT_INFO_ADDR, MB_AREA_END - MULTIBOOT_INFO_ADDR);
	size_t cmdlen = strlen(cmdline) + 1;
	if (!area)
		return fail(err, errlen, -ERANGE, "guest RAM too small for the boot information");
	if (cmdlen > MB_AREA_END - MULTIBOOT_INFO_ADDR - MB_CMDLINE_OFF)
		return fail(err, errlen, -E2BIG, "command line too long (%zu bytes)", cmdlen);
	memset(area, 0, MB_AREA_END - MULTIBOOT_INFO_ADDR);

	struct { uint32_t size; uint64_t base, len; uint32_t type; } __attribute__((packed)) mmap[] = {
		{ 20, 0, 0x9fc00, 1 },
		{ 20, 0x9fc00, 0x400, 2 },
		{ 20, 0xf0000, 0x10000, 2 },
		{ 20, 0x100000, mem->size - 0x100000, 1 },
	};
	uint32_t info[22] = { 0 };
	info[0] = MB_INFO_MEM | MB_INFO_CMDLINE | MB_INFO_MMAP | MB_INFO_LOADER;
	info[1] = 640;                                        /* mem_lower, KiB */
	info[2] = (uint32_t)((mem->size - 0x100000) >> 10);   /* mem_upper, KiB */
	info[4] = MULTIBOOT_INFO_ADDR + MB_CMDLINE_OFF;
	info[11] = sizeof(mmap);
	info[12] = MULTIBOOT_INFO_ADDR + MB_MMAP_OFF;
	info[16] = MULTIBOOT_INFO_ADDR + MB_NAME_OFF;
	memcpy(area, info, sizeof(info));
	memcpy(area + MB_MMAP_OFF, mmap, sizeof(mmap));
	memcpy(area + MB_NAME_OFF, "devirt", 7);
	memcpy(area + MB_CMDLINE_OFF, cmdline, cmdlen);
	return 0;
}

int multiboot__load(const struct gmem *mem, const uint8_t *img, size_t len,
		    const char *cmdline, struct multiboot_image *out,
		    char *err, size_t errlen)
{
	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG))
		return fail(err, errlen, -ENOEXEC, "not an ELF file");
	int is64 = img[EI_CLASS] == ELFCLASS64;
	if (img[EI_CLASS] != ELFCLASS32 && !is64)
		return fail(err, errlen, -ENOEXEC, "unsupported ELF class %u", img[EI_CLASS]);
	if (img[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, -ENOEXEC, "ELF file is not little-endian");
	if (len < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return fail(err, errlen, -ENOEXEC, "truncated ELF header");

	uint16_t type, machine, phnum, phentsize;
	uint64_t entry, phoff;
	if (is64) {
		Elf64_Ehdr eh;
		memcpy(&eh, img, sizeof(eh));
		type = eh.e_type; machine = eh.e_machine; entry = eh.e_entry;
		phoff = eh.e_phoff; phnum = eh.e_phnum; phentsize = eh.e_phentsize;
	} else {
		Elf32_Ehdr eh;
		memcpy(&eh, img, sizeof(eh));
		type = eh.e_type; machine = eh.e_machine; entry = eh.e_entry;
		phoff = eh.e_phoff; phnum = eh.e_phnum; phentsize = eh.e_phentsize;
	}
	if (machine != (is64 ? EM_X86_64 : EM_386))
		return fail(err, errlen, -ENOEXEC, "ELF machine %u is not %s", machine, is64 ? "x86-64" : "i386");
	if (type != ET_EXEC)
		return fail(err, errlen, -ENOEXEC, "ELF type %u is not an executable", type);
	if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
	    phoff > len || (uint64_t)phnum * phentsize > len - phoff)
		return fail(err, errlen, -ENOEXEC, "program header table lies outside the file");
	int rc = check_header(img, len, err, errlen);
	if (rc)
		return rc;
	if (!entry)
		return fail(err, errlen, -ENOEXEC, "no entry point");
	if (entry >= 0xffffffffull)
		return fail(err, errlen, -ENOEXEC, "entry point 0x%llx is not reachable in 32-bit mode",
			    (unsigned long long)entry);

	out->lo = UINT64_MAX;
	out->hi = 0;
	int loaded = 0, entry_ok = 0;
	for (int i = 0; i < phnum; i++) {
		struct seg s = read_seg(img, is64, phoff, phentsize, i);
		if (s.type != PT_LOAD || !s.memsz)
			continue;
		if (s.filesz > s.memsz || s.offset > len || s.filesz > len - s.offset)
			return fail(err, errlen, -ENOEXEC, "segment %d lies outside the file", i);
		uint8_t *dst = gmem__ptr(mem, s.paddr, s.memsz);
		if (!dst)
			return fail(err, errlen, -ERANGE, "segment %d at 0x%llx (+0x%llx) lies outside guest RAM (%llu MiB)",
				    i, (unsigned long long)s.paddr, (unsigned long long)s.memsz,
				    (unsigned long long)(mem->size >> 20));
		if (s.paddr < MB_AREA_END && s.paddr + s.memsz > MULTIBOOT_INFO_ADDR)
			return fail(err, errlen, -ERANGE, "segment %d at 0x%llx overlaps the boot information at 0x%x",
				    i, (unsigned long long)s.paddr, MULTIBOOT_INFO_ADDR);
		memcpy(dst, img + s.offset, s.filesz);
		memset(dst + s.filesz, 0, s.memsz - s.filesz);
		if (s.paddr < out->lo)
			out->lo = s.paddr;
		if (s.paddr + s.memsz > out->hi)
			out->hi = s.paddr + s.memsz;
		if (entry >= s.paddr && entry < s.paddr + s.memsz && (s.flags & PF_X))
			entry_ok = 1;
		loaded++;
	}
	if (!loaded)
		return fail(err, errlen, -ENOEXEC, "no loadable segments");
	if (!entry_ok)
		return fail(err, errlen, -ENOEXEC, "entry point 0x%llx is not in an executable segment",
			    (unsigned long long)entry);
	rc = write_info(mem, cmdline, err, errlen);
	if (rc)
		return rc;
	out->entry = entry;
	out->info = MULTIBOOT_INFO_ADDR;
	return 0;
}
