/*
 * A campaign's configuration: the INI file `devirt campaign CONFIG` reads
 * (parsed with libinih), checked completely before anything runs. Every
 * error is one line naming the file, the line and the key, e.g.
 *   campaigns/x.ini:12: [inject] match: PCRE2 error at offset 3: missing closing parenthesis
 * The keys are documented in campaigns/example.ini and the README.
 */
#ifndef DEVIRT_INJECT_CONFIG_H
#define DEVIRT_INJECT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum camp_mode { CM_LIVE, CM_REPLAY };
enum camp_reset { CR_SNAPSHOT, CR_FRESH };

/* When switches are injected ([inject] trigger). */
enum camp_trigger {
	CT_NONE,          /* no [inject] section: no switches */
	CT_SEQ,           /* once, right after event `seq` of the run */
	CT_VTIME,         /* once, at virtual time `vtime` */
	CT_EVERY,         /* after every `every` exits (I/O, MMIO, HLT) */
	CT_RANDOM,        /* after each exit with probability `rate` */
	CT_EXHAUSTIVE,    /* run i: once, at one access index (see from/step) */
	CT_MATCH,         /* at every access whose text matches `match` */
};

/* Fault kinds ([faults] keys). */
enum fault_kind {
	FK_IRQ_DROP, FK_IRQ_DELAY, FK_IRQ_DUPLICATE, FK_IRQ_SPURIOUS,
	FK_ERROR_STATUS, FK_SLOW_COMPLETION, FK_N,
};

/* When a fault kind fires, counted over its opportunities (faults.h). */
enum fault_when { FW_OFF, FW_RATE, FW_EVERY, FW_SEQ, FW_VTIME };
struct fault_spec {
	int when;         /* enum fault_when */
	double rate;      /* FW_RATE: probability per opportunity */
	uint64_t arg;     /* FW_EVERY: period; FW_SEQ: event seq; FW_VTIME: ns */
};

/* kernel_trace: no, yes (the observer must start: exit 3 otherwise), auto
 * (when it can: root, BTF, KVM tracepoints). */
enum camp_ktrace { CK_NO, CK_YES, CK_AUTO };

/* The devices a campaign can configure, in engine order. */
enum camp_dev { CD_ATA, CD_UART, CD_RINGBLK, CD_N };

struct camp_device {
	char *disk;               /* base image (never written); NULL: zeros */
	uint64_t disk_size;       /* 0: 16 MiB (or the base image's size) */
	int virtualized;          /* initial mode */
	int trap;                 /* ringblk: keep the BAR unmapped (every access exits) */
};

struct campaign_cfg {
	char *path;               /* the file, as given */
	/* [campaign] */
	char *name, *guest, *args, *db, *trace;
	uint64_t runs, seed;
	int mode;                 /* enum camp_mode */
	int fixed_seed;           /* seeds = fixed: every run gets `seed` */
	int reset;                /* enum camp_reset */
	int baseline;             /* 1: each run is preceded by the same run without
				   * injections (devirt check's I1 baseline) */
	int kernel_trace;         /* enum camp_ktrace: the BPF observer records each run (I8) */
	int64_t trace_run;        /* replay: run id in trace; 0: its first run */
	uint64_t timeout_ns, wall_timeout_ns, exit_cost_ns, mem;
	/* [device.NAME] */
	struct camp_device dev[CD_N];
	/* [inject] */
	int trigger;              /* enum camp_trigger */
	uint64_t trig_arg;        /* seq, vtime ns or every-period */
	double rate;              /* random */
	uint64_t from, step;      /* exhaustive: run i covers access from + (i / nactions) * step */
	char *match_src;          /* match: the pattern as written */
	void *match;              /* pcre2_code *, JIT-compiled */
	int actions[3], nactions; /* enum eng_action, rotated per injection */
	char devices[CD_N + 1][16]; /* "ata", "com1", "ringblk" or "all" */
	int ndevices;
	uint64_t max_per_run;     /* 0: no limit */
	int when_busy_queue;      /* 1: request even while the device is mid-switch */
	int midseq, block;        /* engine policies */
	uint64_t wait_bound_ns, pause_bound_ns;
	/* [faults] */
	struct fault_spec fault[FK_N];
	unsigned fault_devs;      /* bit per enum camp_dev */
	int fault_during_switch;  /* during = switch */
	uint64_t irq_delay_ns, duplicate_gap_ns, slow_ns, max_faults;
	int guest_line;           /* where guest is set, for errors found later */
};

/* Reads and checks the campaign file at path into c (zeroed first).
 * Returns 0, or -EINVAL (bad content) / -errno (unreadable file) with the
 * one-line message in err; c is freed on failure. */
int campaign__load(const char *path, struct campaign_cfg *c, char *err, size_t errlen);

/* Frees what campaign__load allocated. */
void campaign__free(struct campaign_cfg *c);

/* Returns the name of a fault kind as in [faults] and the fault table. */
const char *fault__name(int kind);

/* Returns the engine's name for campaign device d ("ata", "com1", "ringblk"). */
const char *camp_dev__engine_name(int d);

#endif
