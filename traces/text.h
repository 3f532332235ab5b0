/*
 * The one-line text form of an access, shared by the SQL function
 * access_text(), campaign `match=` triggers and replay `--inject match=`:
 *
 *   DEVICE DIR REG VALUE SPACE ADDR/SIZE
 *   ata w command 0x30 pio 0x1f7/1
 *   ringblk r cq_tail 0x5 mmio 0xfe00003c/4
 *
 * DIR is r or w; VALUE and ADDR are lowercase hex with 0x; a missing device
 * or register is "-". A regular expression over this text selects accesses
 * (e.g. '^ata w command 0x(30|c5) ' selects WRITE SECTORS and WRITE MULTIPLE).
 */
#ifndef DEVIRT_TRACE_TEXT_H
#define DEVIRT_TRACE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Formats an access into buf (always NUL-terminated). Returns the length
 * the full text needs, like snprintf. space is "pio" or "mmio". */
int trace__access_text(char *buf, size_t len, const char *device, int write, const char *reg,
		       uint64_t value, const char *space, uint64_t addr, unsigned size);

#endif
