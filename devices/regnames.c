/*
 * Register name tables. An entry covers [off, off+len); read and write
 * names differ where the hardware gives one port two meanings (ATA status
 * versus command, UART RBR versus THR).
 */
#include <string.h>
#include "regnames.h"
#include "ringblk_regs.h"

struct reg { uint16_t off, len; const char *rd, *wr; };

static const struct reg ata[] = {
	{ 0, 1, "data", "data" }, { 1, 1, "error", "features" }, { 2, 1, "count", "count" },
	{ 3, 1, "lba_low", "lba_low" }, { 4, 1, "lba_mid", "lba_mid" }, { 5, 1, "lba_high", "lba_high" },
	{ 6, 1, "device", "device" }, { 7, 1, "status", "command" }, { 8, 1, "alt_status", "control" },
	{ 0, 0, 0, 0 },
};

/* DLAB-dependent names (DLL/DLM) are not known from the offset alone. */
static const struct reg uart[] = {
	{ 0, 1, "rbr", "thr" }, { 1, 1, "ier", "ier" }, { 2, 1, "iir", "fcr" }, { 3, 1, "lcr", "lcr" },
	{ 4, 1, "mcr", "mcr" }, { 5, 1, "lsr", "lsr" }, { 6, 1, "msr", "msr" }, { 7, 1, "scr", "scr" },
	{ 0, 0, 0, 0 },
};

static const struct reg ringblk[] = {
	{ RB_MAGIC, 4, "magic", "magic" }, { RB_VERSION, 4, "version", "version" },
	{ RB_CAPACITY, 8, "capacity", "capacity" }, { RB_MAX_QSIZE, 4, "max_qsize", "max_qsize" },
	{ RB_CTRL, 4, "ctrl", "ctrl" }, { RB_STATUS, 4, "status", "status" },
	{ RB_SQ_BASE, 8, "sq_base", "sq_base" }, { RB_CQ_BASE, 8, "cq_base", "cq_base" },
	{ RB_QSIZE, 4, "qsize", "qsize" }, { RB_SQ_TAIL, 4, "sq_tail", "sq_tail" },
	{ RB_SQ_HEAD, 4, "sq_head", "sq_head" }, { RB_CQ_TAIL, 4, "cq_tail", "cq_tail" },
	{ RB_CQ_HEAD, 4, "cq_head", "cq_head" }, { RB_COMPLETED, 4, "completed", "completed" },
	{ RB_QS_SQ_HEAD, 4, "qs_sq_head", "qs_sq_head" }, { RB_QS_CQ_TAIL, 4, "qs_cq_tail", "qs_cq_tail" },
	{ RB_QS_COMPLETED, 4, "qs_completed", "qs_completed" }, { RB_QS_STATUS, 4, "qs_status", "qs_status" },
	{ 0, 0, 0, 0 },
};

static const struct reg pic[] = {
	{ 0x00, 1, "master_irr_isr", "master_icw1_ocw23" }, { 0x01, 1, "master_imr", "master_icw2_4_ocw1" },
	{ 0x80, 1, "slave_irr_isr", "slave_icw1_ocw23" }, { 0x81, 1, "slave_imr", "slave_icw2_4_ocw1" },
	{ 0, 0, 0, 0 },
};

static const struct reg pit[] = {
	{ 0, 1, "counter0", "counter0" }, { 1, 1, "counter1", "counter1" },
	{ 2, 1, "counter2", "counter2" }, { 3, 1, "control", "control" },
	{ 0, 0, 0, 0 },
};

static const struct reg single[] = { { 0, 4096, "reg", "reg" }, { 0, 0, 0, 0 } };
static const struct reg exitp[] = { { 0, 4, "verdict", "verdict" }, { 0, 0, 0, 0 } };
static const struct reg delay[] = { { 0, 1, "delay", "delay" }, { 0, 0, 0, 0 } };

static const struct { const char *model; const struct reg *regs; } models[] = {
	{ "ata-disk", ata }, { "16550a", uart }, { "ringblk", ringblk }, { "i8259a", pic },
	{ "i8254", pit }, { "isa-debug-exit", exitp }, { "iodelay", delay }, { "scratch", single },
};

const char *regnames__lookup(const char *model, uint64_t off, int write)
{
	if (!model)
		return NULL;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		if (strcmp(models[m].model, model))
			continue;
		for (const struct reg *r = models[m].regs; r->len; r++)
			if (off >= r->off && off - r->off < r->len)
				return write ? r->wr : r->rd;
		return NULL;
	}
	return NULL;
}
