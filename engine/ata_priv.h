/*
 * The ATA engine module's private header: the state shared by its four
 * files. ata.c holds the edev_ops table and the switch steps (V3-V6,
 * D2-D4, block()); ata_track.c the tracking state machine (fed by snoop in
 * pass-through and by forwarded accesses while tracking); ata_emu.c the
 * emulation state machine the guest sees once virtualized; ata_drv.c the
 * monitor's own PIO driver, which owns the hardware from V5 to D4 and
 * reaches it only through hw->ops->read/write (DESIGN rule 1).
 *
 * The driver moves data one sector at a time and asks the hardware after
 * each sector whether DRQ is still up, so the block boundaries the guest
 * sees are the hardware's own: neither the driver nor a takeover depends on
 * knowing the multiple count. The tracker therefore only needs to know the
 * guest's word position within the current sector.
 */
#ifndef DEVIRT_ENGINE_ATA_PRIV_H
#define DEVIRT_ENGINE_ATA_PRIV_H

#include <stdint.h>
#include "edev.h"
#include "../devices/ata.h"

#define SECTOR_WORDS  256u
#define BLOCK_WORDS   (ATA_MAX_MULTIPLE * SECTOR_WORDS)
#define DRV_POLL_NS   2000ull     /* the driver's status poll period */
#define DRV_QUEUE     8           /* requests: one guest command + monitor ones */
#define ST_BUSY       (ATA_SR_BSY | ATA_SR_DRDY)   /* the model's "command running" */
#define ST_RESET      ATA_SR_BSY                    /* the model's "in reset" */
#define ST_IDLE       (ATA_SR_DRDY | ATA_SR_DSC)

/* Protocol class of a command, as the hardware model runs it (ata.c:
 * READ/WRITE [MULTIPLE] and IDENTIFY transfer data, all else is non-data,
 * including the commands it aborts). */
enum cls { CLS_NONDATA, CLS_IN, CLS_OUT };

static inline int cls_of(uint8_t cmd)
{
	switch (cmd) {
	case ATA_CMD_READ: case ATA_CMD_READ_MULTIPLE: case ATA_CMD_IDENTIFY:
		return CLS_IN;
	case ATA_CMD_WRITE: case ATA_CMD_WRITE_MULTIPLE:
		return CLS_OUT;
	default:
		return CLS_NONDATA;
	}
}

/* True when byte i of an access at off lies in the same register block as
 * off (command block 1-7, control block 8): wider accesses split there, as
 * the hardware does. */
static inline int same_block(uint64_t off, unsigned i)
{
	uint64_t r = off + i;
	return off < ATA_CTRL_OFF ? r < ATA_CTRL_OFF : r == ATA_CTRL_OFF;
}

/* Data words moved by one data-port access (a byte access moves a word). */
static inline unsigned words_of(unsigned size)
{
	return (size + 1) / 2;
}

/* The device mode (DESIGN "Modes: interrupt enable, multiple count,
 * features"); keep is SET FEATURES 66h (modes survive SRST). */
struct amode {
	uint8_t nien, mult, wcache, lookahead, keep;
};

/* The taskfile as the guest reads it (features is write-only: the value the
 * guest last wrote). */
struct tfile {
	uint8_t status, error, features, count, lba_lo, lba_mid, lba_hi, device;
};

/* Tracking state machine. T_BUSY: a command is on the hardware and the
 * guest has not yet seen its next DRQ block or completion. */
enum tstate { T_IDLE, T_BUSY, T_DRQ, T_SRST, T_RESET_WAIT, T_UNSYNC };

struct track {
	int st;                  /* enum tstate */
	uint8_t cmd;             /* command in flight */
	int cls;                 /* its class */
	int intrq;               /* INTRQ pending (guest has not read status) */
	int pos_known;           /* pos is valid */
	unsigned pos;            /* data words into the current sector */
	uint64_t out_words;      /* words the guest wrote for this command */
	uint8_t ctrl;            /* device control as the guest last wrote it */
	struct tfile tf;         /* taskfile as written (features, device) */
	struct amode undo;       /* mode before an optimistic SET MULTIPLE/FEATURES */
	int undo_valid;          /* the command in flight (or last) changed the mode */
};

/* Emulation state machine. */
enum estate { E_IDLE, E_BUSY, E_DRQ_IN, E_DRQ_OUT, E_SRST, E_RESET_WAIT };

struct emu {
	int st;                  /* enum estate */
	struct tfile tf;         /* status included */
	uint8_t ctrl;            /* guest's device control (nIEN, SRST) */
	int intrq, line;         /* INTRQ pending; level driven on the guest line */
	uint16_t buf[BLOCK_WORDS];
	unsigned pos, len;       /* DRQ window: next word, end */
	unsigned from;           /* PIO-out: first word of the sector still to flush */
	int more;                /* PIO-in: another block follows this one */
	uint8_t end_status;      /* PIO-in: status after this block, if the last */
};

/* Driver requests. */
enum rkind { RQ_GUEST, RQ_IDENTIFY, RQ_CMD };
enum rpurpose { P_NONE, P_V5, P_TAKEOVER, P_D4 };

struct req {
	int kind;                /* enum rkind */
	int purpose;             /* RQ_IDENTIFY: which step asked */
	uint8_t cmd;
	int cls;
	struct tfile tf;         /* loaded before the command (features..device) */
	int adopted;             /* issued by the guest before a takeover */
	int out_first;           /* PIO-out: the next DRQ is the first (no INTRQ) */
};

enum dstate { D_IDLE, D_WAIT, D_IN_HELD, D_OUT_FILL, D_RESET_HELD, D_RESET_WAIT };

struct drv {
	struct req q[DRV_QUEUE];
	unsigned qh, qn;         /* queued, not yet issued */
	struct req cur;          /* the request on the hardware (st != D_IDLE) */
	int st;                  /* enum dstate */
	int line;                /* the hardware's line (= INTRQ while nIEN is 0) */
	struct clock_event irq_ev, poll_ev;
	uint16_t id[SECTOR_WORDS];
	uint8_t last_status, last_error;   /* outcome of the last monitor command */
};

/* Deferred guest writes of the current switch (their effect on reads). */
struct shadow {
	int active;              /* reads are answered from here */
	struct tfile tf;
	uint8_t ctrl;
	int busy;                /* a deferred command or SRST: status reads BSY */
	uint8_t busy_status;
	struct { uint64_t off, val; unsigned size; } *dq;   /* writes the core will replay */
	size_t nd, cap;
	int owed;                /* replayed to the hardware, not yet told to tracking */
};

struct ata_eng {
	struct edev_host h;
	int emu_live;            /* the emulation serves the guest (V6 .. D4) */
	int drv_on;              /* the driver owns the hardware (V5 .. D4) */
	struct track t;
	struct emu e;
	struct drv d;
	struct amode hwm;        /* what the hardware has (as programmed / read back) */
	struct amode emm;        /* what the guest programmed (the emulation's) */
	int mode_known;          /* hwm is certain (read back, or every change seen) */
	int v5;                  /* 0 not started, 1 IDENTIFY in flight, 2 done */
	int takeover;            /* V5 chose to reconstruct a sequence */
	int d4;                  /* D4 progress */
	struct tfile snap;       /* V5: the taskfile before the monitor's IDENTIFY */
	struct shadow sh;
};

/* ata_track.c */
void trk_init(struct ata_eng *s);
void trk_write(struct ata_eng *s, uint64_t off, unsigned size, uint64_t val, int pt);
void trk_read(struct ata_eng *s, uint64_t off, unsigned size, uint64_t val);
void trk_irq(struct ata_eng *s, int level);
void trk_seed(struct ata_eng *s);
void trk_resume(struct ata_eng *s);
int trk_idle(const struct ata_eng *s);
const char *trk_name(const struct ata_eng *s);
void mode_apply_cmd(struct amode *m, uint8_t cmd, uint8_t count, uint8_t features);
int mode_cmd_valid(uint8_t cmd, uint8_t count, uint8_t features);
void mode_reset(struct amode *m);

/* ata_emu.c */
void emu_access(struct ata_eng *s, struct bus_access *a, uint64_t off);
void emu_line(struct ata_eng *s, int force);
void emu_set_intrq(struct ata_eng *s, int pending);
void emu_in_block(struct ata_eng *s, const struct tfile *tf, unsigned pos, unsigned len,
		  int more, uint8_t end_status, int intrq);
void emu_out_drq(struct ata_eng *s, const struct tfile *tf, unsigned pos, int intrq);
void emu_done(struct ata_eng *s, const struct tfile *tf, int intrq);
void emu_reset_done(struct ata_eng *s, const struct tfile *tf);
int emu_quiet(const struct ata_eng *s);
const char *emu_name(const struct ata_eng *s);

/* ata_drv.c */
uint8_t hw_rd(struct ata_eng *s, unsigned off);
void hw_wr(struct ata_eng *s, unsigned off, uint8_t v);
void hw_read_tf(struct ata_eng *s, struct tfile *tf);
void hw_snapshot(struct ata_eng *s, struct tfile *tf);
void drv_init(struct ata_eng *s);
void drv_fini(struct ata_eng *s);
int drv_submit(struct ata_eng *s, const struct req *r);
int drv_monitor_cmd(struct ata_eng *s, uint8_t cmd, uint8_t features, uint8_t count,
		    uint32_t lba);
int drv_identify(struct ata_eng *s, int purpose);
void drv_service(struct ata_eng *s);
void drv_in_consumed(struct ata_eng *s);
int drv_out_sector(struct ata_eng *s);
void drv_srst(struct ata_eng *s, int assert);
void drv_irq(struct ata_eng *s, int level);
int drv_busy(const struct ata_eng *s);
void drv_adopt(struct ata_eng *s);

#endif
