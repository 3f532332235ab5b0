/*
 * The Multiboot command line and memory info.
 *
 * The loader passes "KERNELPATH key=value key=value ..." (QEMU and devirt
 * both put the kernel path first). It is copied into .bss at boot so that
 * workloads may use low memory freely; a second copy has its separators
 * turned into NULs so that arg_str() can return values in place. Tokens
 * without '=' are ignored; when a key repeats, the last value wins.
 */
#include "guest.h"

#define MBI_FLAG_MEM		(1u << 0)
#define MBI_FLAG_CMDLINE	(1u << 2)
#define CMDLINE_MAX		1024

/* The first fields of the Multiboot v1 information structure. */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower;
	uint32_t mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
};

static char line[CMDLINE_MAX];	/* as given */
static char split[CMDLINE_MAX];	/* as given, separators replaced by NUL */
static size_t args_off;		/* offset of the first token after the kernel path */
static size_t line_len;
static uint32_t mem_upper;

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Fails the guest rather than silently truncate the command line. */
void args_init(uint32_t mbinfo)
{
	const struct mb_info *mbi = (const struct mb_info *)(uintptr_t)mbinfo;

	if (mbi->flags & MBI_FLAG_MEM)
		mem_upper = mbi->mem_upper;
	if (mbi->flags & MBI_FLAG_CMDLINE) {
		const char *src = (const char *)(uintptr_t)mbi->cmdline;

		line_len = strlen(src);
		if (line_len >= CMDLINE_MAX) {
			printf("command line longer than %d bytes\n", CMDLINE_MAX - 1);
			guest_fail(GUEST_EXIT_FAIL);
		}
		memcpy(line, src, line_len + 1);
	}
	for (size_t i = 0; i < line_len; i++)
		split[i] = is_space(line[i]) ? '\0' : line[i];
	while (args_off < line_len && !is_space(line[args_off]))
		args_off++;
	while (args_off < line_len && is_space(line[args_off]))
		args_off++;
}

/* Returns the arguments after the kernel path, "" if there are none. */
const char *args_line(void)
{
	return line + args_off;
}

/* Returns the last value given for key, or dflt. */
const char *arg_str(const char *key, const char *dflt)
{
	size_t klen = strlen(key);
	const char *val = dflt;

	for (size_t i = args_off; i < line_len; i += strlen(split + i) + 1) {
		const char *tok = split + i;

		if (strncmp(tok, key, klen) == 0 && tok[klen] == '=')
			val = tok + klen + 1;
	}
	return val;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* A malformed or overflowing number fails the guest, naming the argument. */
uint64_t arg_u64(const char *key, uint64_t dflt)
{
	const char *s = arg_str(key, NULL);
	const char *p = s;
	unsigned base = 10;
	uint64_t v = 0;

	if (!s)
		return dflt;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		goto bad;
	for (; *p; p++) {
		unsigned d = (unsigned)digit_value(*p);

		if (d >= base || v > (UINT64_MAX - d) / base)
			goto bad;
		v = v * base + d;
	}
	return v;
bad:
	printf("bad number in argument %s=%s\n", key, s);
	guest_fail(GUEST_EXIT_FAIL);
}

/* Returns mem_upper from the loader (KiB above 1 MiB), 0 if not given. */
uint32_t args_mem_upper_kib(void)
{
	return mem_upper;
}
