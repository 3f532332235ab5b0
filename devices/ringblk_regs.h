/*
 * ringblk's register contract, shared by the model and by guest drivers
 * (freestanding: only <stdint.h>). The layout is described in ringblk.h.
 */
#ifndef DEVIRT_RINGBLK_REGS_H
#define DEVIRT_RINGBLK_REGS_H

#include <stdint.h>

#define RINGBLK_BASE      0xfe000000ull
#define RINGBLK_SIZE      4096u
#define RINGBLK_IRQ       11
#define RINGBLK_MAGIC     0x4b4c4252u   /* "RBLK" */
#define RINGBLK_MAX_QSIZE 256u
#define RINGBLK_MAX_SECT  256u          /* per request */

enum ringblk_reg {
	RB_MAGIC = 0x00, RB_VERSION = 0x04, RB_CAPACITY = 0x08, RB_MAX_QSIZE = 0x10,
	RB_CTRL = 0x14, RB_STATUS = 0x18, RB_SQ_BASE = 0x20, RB_CQ_BASE = 0x28,
	RB_QSIZE = 0x30, RB_SQ_TAIL = 0x34, RB_SQ_HEAD = 0x38, RB_CQ_TAIL = 0x3c,
	RB_CQ_HEAD = 0x40, RB_COMPLETED = 0x44,
	/* queue-state restore (ringblk.h): writable while ENABLE is clear */
	RB_QS_SQ_HEAD = 0x50, RB_QS_CQ_TAIL = 0x54, RB_QS_COMPLETED = 0x58, RB_QS_STATUS = 0x5c,
};

#define RB_CTRL_ENABLE  0x1u
#define RB_CTRL_IRQ_EN  0x2u
#define RB_CTRL_RESTORE 0x4u            /* with ENABLE rising: keep the QS_* indices */
#define RB_CTRL_RESET   0x80000000u
#define RB_STATUS_READY 0x1u
#define RB_STATUS_FATAL 0x2u

/* Submission entry, 32 bytes. */
struct ringblk_sqe {
	uint8_t opcode;    /* enum ringblk_op */
	uint8_t flags;
	uint16_t id;       /* echoed in the completion */
	uint32_t nsect;    /* 1..RINGBLK_MAX_SECT (0 for flush) */
	uint64_t lba;
	uint64_t buf;      /* guest-physical address of nsect*512 bytes */
	uint64_t reserved;
};

/* Completion entry, 16 bytes. */
struct ringblk_cqe {
	uint16_t id;
	uint16_t status;   /* enum ringblk_status */
	uint32_t nsect;    /* sectors transferred */
	uint64_t reserved;
};

enum ringblk_op { RB_OP_READ = 1, RB_OP_WRITE = 2, RB_OP_FLUSH = 3 };
enum ringblk_status { RB_OK = 0, RB_BAD_OPCODE = 1, RB_BAD_LBA = 2, RB_BAD_ADDRESS = 3, RB_IO_ERROR = 4 };

#endif
