/*
 * GUEST on the command line is a path to an image or a workload's name; a
 * name resolves to build/guest/NAME.elf next to the binary's tree (or under
 * $DEVIRT_GUEST_DIR), so `bin/devirt run hello` works from anywhere.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

int cli__guest_path(const char *guest, char *buf, unsigned len)
{
	if (strchr(guest, '/') || access(guest, F_OK) == 0) {
		snprintf(buf, len, "%s", guest);
		return 0;
	}
	const char *dir = getenv("DEVIRT_GUEST_DIR");
	char exe[PATH_MAX];
	if (!dir) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -ENOENT;
		exe[n] = 0;
		dir = dirname(exe);   /* .../bin */
		snprintf(buf, len, "%s/../build/guest/%s.elf", dir, guest);
	} else {
		snprintf(buf, len, "%s/%s.elf", dir, guest);
	}
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}
