/*
 * The loader accepts our guest images (ELF32 as QEMU wants, and the ELF64
 * original) and refuses broken ones with a sentence naming the problem.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "../machine/multiboot.h"

static uint8_t *ram;
static struct gmem mem;
static uint8_t *img;
static size_t len;
static char err[256];
static struct multiboot_image mb;

static void setup(void)
{
	mem.size = 16 << 20;
	ram = calloc(1, mem.size);
	mem.host = ram;
	img = read_file(guest_image("hello"), &len);
	cr_assert_not_null(img, "build the guests first (make)");
}

static void teardown(void)
{
	free(ram);
	free(img);
}

TestSuite(multiboot, .init = setup, .fini = teardown);

static int load(void) { return multiboot__load(&mem, img, len, "hello ticks=3", &mb, err, sizeof(err)); }

Test(multiboot, loads_guest_and_writes_info)
{
	cr_assert_eq(load(), 0, "%s", err);
	cr_assert_eq(img[EI_CLASS], ELFCLASS32);
	cr_assert(mb.entry >= 0x100000 && mb.entry < mb.hi);
	uint32_t info[22];
	memcpy(info, ram + mb.info, sizeof(info));
	cr_assert(info[0] & 0x4, "command line flag");
	cr_assert_str_eq((char *)ram + info[4], "hello ticks=3");
	cr_assert_eq(info[2], (16 << 10) - 1024, "mem_upper in KiB above 1 MiB");
	cr_assert_eq(info[11], 4 * 24, "four memory-map entries");
}

Test(multiboot, loads_elf64_original)
{
	free(img);
	char path[4200];
	snprintf(path, sizeof(path), "%s64", guest_image("hello"));
	img = read_file(path, &len);
	cr_assert_not_null(img);
	cr_assert_eq(img[EI_CLASS], ELFCLASS64);
	cr_assert_eq(load(), 0, "%s", err);
}

Test(multiboot, refuses_non_elf)
{
	memcpy(img, "GARBAGE!", 8);
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert_str_eq(err, "not an ELF file");
}

Test(multiboot, refuses_wrong_class_and_machine)
{
	img[EI_CLASS] = 7;
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert(strstr(err, "class"), "%s", err);
	img[EI_CLASS] = ELFCLASS32;
	((Elf32_Ehdr *)img)->e_machine = EM_ARM;
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert(strstr(err, "machine"), "%s", err);
}

Test(multiboot, refuses_missing_header)
{
	for (size_t off = 0; off + 4 <= len && off < 8192; off += 4)
		if (!memcmp(img + off, "\x02\xb0\xad\x1b", 4))
			memset(img + off, 0, 4);
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert(strstr(err, "no Multiboot header"), "%s", err);
}

Test(multiboot, refuses_segment_outside_ram)
{
	mem.size = 1 << 20;   /* the guest loads at 1 MiB */
	cr_assert_eq(load(), -ERANGE);
	cr_assert(strstr(err, "outside guest RAM"), "%s", err);
}

Test(multiboot, refuses_truncated_file)
{
	len = 40;
	cr_assert_eq(load(), -ENOEXEC);
	len = 0x1010;   /* headers and Multiboot header present, segments cut off */
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert(strstr(err, "outside the file"), "%s", err);
}

Test(multiboot, refuses_missing_entry)
{
	((Elf32_Ehdr *)img)->e_entry = 0;
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert_str_eq(err, "no entry point");
	((Elf32_Ehdr *)img)->e_entry = 0x5000;
	cr_assert_eq(load(), -ENOEXEC);
	cr_assert(strstr(err, "not in an executable segment"), "%s", err);
}
