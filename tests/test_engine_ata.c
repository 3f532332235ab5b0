/*
 * The ATA engine module, KVM-free through the engine harness: guest driver
 * sequences written as C scripts (the register sequences of
 * guest/lib/ata.c: IDENTIFY, SET MULTIPLE, READ/WRITE SECTORS and
 * MULTIPLE, FLUSH, SET FEATURES, polled (nIEN) and interrupt mode, an
 * out-of-range LBA, SRST) run once without a switch, then with a switch
 * requested after every access position, for every action and policy
 * combination: what the guest observes, the disk image and the engine's
 * final state must come out the same. Then the mode (nIEN, multiple count,
 * write cache) across virtualization and back, the D4 repairs, and the
 * bug variants the checks must catch.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eharness.h"
#include "../devices/ata.h"

#define IO           PORT_ATA
#define CTL          PORT_ATA_CTRL
#define DISK_BYTES   (64u * 1024)            /* 128 sectors: quick to create */
#define DISK_SECTORS (DISK_BYTES / 512)
#define POLL_LIMIT   200000u
#define SETTLE_NS    3000000ull              /* lets a pending switch finish */

/* ---- the guest driver (guest/lib/ata.c, as harness accesses) ---------- */

struct gd {
	struct eh *h;
	int irq;            /* interrupt mode (nIEN clear) */
	unsigned dsize;     /* data access width: 2 (insw) or 4 (insl) */
	uint8_t multiple;
};

/* Polls the alternate status until BSY clears; returns it. */
static uint8_t poll_not_busy(struct gd *g)
{
	return (uint8_t)eh_poll(g->h, BUS_PIO, CTL, 1, ATA_SR_BSY, 0, POLL_LIMIT);
}

/* The driver's ~1 us settle after a command (an I/O delay port write). */
static void settle(struct gd *g)
{
	eh_out(g->h, PORT_IODELAY, 1, 0);
}

/* Interrupt mode: halts for the disk's IRQ; the handler reads the status
 * register (acknowledging INTRQ) and sends EOI. Returns that status. */
static uint8_t take_irq(struct gd *g)
{
	int vec = eh_wait_irq(g->h);
	uint8_t st = (uint8_t)eh_in(g->h, IO + ATA_STATUS, 1);
	if (vec >= 0)
		eh_eoi(g->h, vec);
	return st;
}

/* Waits for the end of a BSY phase as the driver does: the IRQ when the
 * protocol raises one and interrupts are on, else a poll (then, polled,
 * one status read to drop the INTRQ nIEN hid). */
static uint8_t wait_done(struct gd *g, int expect_irq)
{
	uint8_t st;
	if (g->irq && expect_irq) {
		st = take_irq(g);
		return st & ATA_SR_BSY ? poll_not_busy(g) : st;
	}
	st = poll_not_busy(g);
	if (!g->irq)
		st = (uint8_t)eh_in(g->h, IO + ATA_STATUS, 1);
	return st;
}

/* Returns 0 if st shows DRQ as wanted and no error; reads the error
 * register on ERR. */
static int check(struct gd *g, uint8_t st, int want_drq)
{
	if (st & ATA_SR_ERR)
		return (int)eh_in(g->h, IO + ATA_ERROR, 1) | 0x100;
	return !!(st & ATA_SR_DRQ) != !!want_drq;
}

/* Loads the taskfile and writes the command. */
static void issue(struct gd *g, uint8_t cmd, uint32_t lba, uint8_t count, uint8_t features)
{
	poll_not_busy(g);
	eh_out(g->h, IO + ATA_DEVICE, 1, 0xe0 | ((lba >> 24) & 0x0f));
	eh_out(g->h, IO + ATA_FEATURES, 1, features);
	eh_out(g->h, IO + ATA_COUNT, 1, count);
	eh_out(g->h, IO + ATA_LBA_LO, 1, lba & 0xff);
	eh_out(g->h, IO + ATA_LBA_MID, 1, (lba >> 8) & 0xff);
	eh_out(g->h, IO + ATA_LBA_HI, 1, (lba >> 16) & 0xff);
	eh_out(g->h, IO + ATA_COMMAND, 1, cmd);
	settle(g);
}

/* A non-data command. Returns check()'s result. */
static int nondata(struct gd *g, uint8_t cmd, uint8_t features, uint8_t count)
{
	issue(g, cmd, 0, count, features);
	return check(g, wait_done(g, 1), 0);
}

/* PIO data-in of count sectors in blocks of per; the data words are
 * observations. Returns 0 or check()'s error. */
static int pio_in(struct gd *g, uint8_t cmd, uint32_t lba, unsigned count, unsigned per)
{
	issue(g, cmd, lba, (uint8_t)count, 0);
	for (unsigned done = 0; done < count;) {
		unsigned n = count - done < per ? count - done : per;
		int rc = check(g, wait_done(g, 1), 1);
		if (rc)
			return rc;
		for (unsigned i = 0; i < n * 512 / g->dsize; i++)
			eh_in(g->h, IO + ATA_DATA, g->dsize);
		done += n;
	}
	return check(g, poll_not_busy(g), 0);
}

/* The word the scripts write at word w of sector lba. */
static uint16_t wword(uint32_t lba, unsigned w)
{
	return (uint16_t)(lba * 2654435761u ^ w * 40503u ^ 0x5aa5u);
}

/* PIO data-out of count sectors in blocks of per. */
static int pio_out(struct gd *g, uint8_t cmd, uint32_t lba, unsigned count, unsigned per)
{
	issue(g, cmd, lba, (uint8_t)count, 0);
	uint8_t st = wait_done(g, 0);              /* the first DRQ: no interrupt */
	if ((st & ATA_SR_ERR) && g->irq)
		take_irq(g);                       /* an early error does interrupt */
	int rc = check(g, st, 1);
	for (unsigned done = 0; !rc;) {
		unsigned n = count - done < per ? count - done : per;
		for (unsigned s = 0; s < n; s++) {
			uint32_t l = lba + done + s;
			for (unsigned w = 0; w < 256; w += g->dsize / 2) {
				uint64_t v = wword(l, w);
				if (g->dsize == 4)
					v |= (uint64_t)wword(l, w + 1) << 16;
				eh_out(g->h, IO + ATA_DATA, g->dsize, v);
			}
		}
		done += n;
		rc = check(g, wait_done(g, 1), done < count);
		if (done == count)
			break;
	}
	return rc;
}

/* Interrupt mode on (after dropping any stale INTRQ) or off. */
static void set_irq_mode(struct gd *g, int on)
{
	if (on)
		eh_in(g->h, IO + ATA_STATUS, 1);
	eh_out(g->h, CTL, 1, on ? 0 : ATA_CTL_NIEN);
	g->irq = on;
}

/* SET MULTIPLE; the driver's count follows on success. */
static int set_multiple(struct gd *g, uint8_t n)
{
	int rc = nondata(g, ATA_CMD_SET_MULTIPLE, 0, n);
	if (!rc)
		g->multiple = n;
	return rc;
}

/* Soft reset with the standard's delays, the signature check, then the
 * driver's modes set again. */
static void soft_reset(struct gd *g)
{
	eh_out(g->h, CTL, 1, ATA_CTL_NIEN | ATA_CTL_SRST);
	eh_idle(g->h, 5000);
	eh_out(g->h, CTL, 1, ATA_CTL_NIEN);
	eh_idle(g->h, 2000000);
	poll_not_busy(g);
	for (unsigned r = ATA_ERROR; r <= ATA_STATUS; r++)
		eh_in(g->h, (uint16_t)(IO + r), 1);
	if (g->irq)
		eh_out(g->h, CTL, 1, 0);
	if (g->multiple != ATA_MAX_MULTIPLE)
		set_multiple(g, g->multiple);
}

/* ---- the scripts -------------------------------------------------------- */

typedef void script_fn(struct eh *h);

/* Polled IDENTIFY, dword data accesses. */
static void s_identify(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	set_irq_mode(&g, 0);
	pio_in(&g, ATA_CMD_IDENTIFY, 0, 1, 1);
}

/* Interrupt mode: WRITE SECTORS of 2, READ SECTORS of 1 (dwords). */
static void s_rw_irq(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	set_irq_mode(&g, 1);
	pio_out(&g, ATA_CMD_WRITE, 5, 2, 1);
	pio_in(&g, ATA_CMD_READ, 6, 1, 1);
	set_irq_mode(&g, 0);
}

/* Polled: WRITE SECTORS of 1, READ SECTORS of 1, word data accesses. */
static void s_rw_polled_words(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 2 };
	set_irq_mode(&g, 0);
	pio_out(&g, ATA_CMD_WRITE, 9, 1, 1);
	pio_in(&g, ATA_CMD_READ, 9, 1, 1);
}

/* SET MULTIPLE 2, then WRITE MULTIPLE of 3 sectors (blocks 2+1), polled. */
static void s_write_multiple(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	set_irq_mode(&g, 0);
	set_multiple(&g, 2);
	pio_out(&g, ATA_CMD_WRITE_MULTIPLE, 20, 3, 2);
}

/* Interrupt mode: SET MULTIPLE 2, READ MULTIPLE of 3 sectors. */
static void s_read_multiple(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	set_irq_mode(&g, 1);
	set_multiple(&g, 2);
	pio_in(&g, ATA_CMD_READ_MULTIPLE, 30, 3, 2);
	set_irq_mode(&g, 0);
}

/* Non-data commands: FLUSH and write cache off (polled), look-ahead off
 * and SET MULTIPLE 3 (aborted) in interrupt mode. */
static void s_nondata(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	set_irq_mode(&g, 0);
	nondata(&g, ATA_CMD_FLUSH, 0, 0);
	nondata(&g, ATA_CMD_SET_FEATURES, ATA_SF_WCACHE_OFF, 0);
	set_irq_mode(&g, 1);
	nondata(&g, ATA_CMD_SET_FEATURES, ATA_SF_LOOKAHEAD_OFF, 0);
	set_multiple(&g, 3);
	set_irq_mode(&g, 0);
}

/* READ at LBA = capacity, polled then interrupt driven, and WRITE there
 * (the error comes before the first DRQ): IDNF each time. */
static void s_badlba(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	set_irq_mode(&g, 0);
	pio_in(&g, ATA_CMD_READ, DISK_SECTORS, 1, 1);
	set_irq_mode(&g, 1);
	pio_in(&g, ATA_CMD_READ, DISK_SECTORS, 1, 1);
	pio_out(&g, ATA_CMD_WRITE, DISK_SECTORS, 1, 1);
	set_irq_mode(&g, 0);
}

/* SRST: polled, then in interrupt mode with multiple 4 (set again by the
 * driver after the reset), then the taskfile as the reset left it. */
static void s_srst(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4, .multiple = ATA_MAX_MULTIPLE };
	set_irq_mode(&g, 0);
	soft_reset(&g);
	set_irq_mode(&g, 1);
	set_multiple(&g, 4);
	soft_reset(&g);
	for (unsigned r = ATA_ERROR; r <= ATA_DEVICE; r++)
		eh_in(h, (uint16_t)(IO + r), 1);
	set_irq_mode(&g, 0);
}

/* The presence probe: select device 0, nIEN, taskfile latch test, then
 * device 1 (absent: status and error read 0) and back. */
static void s_probe(struct eh *h)
{
	struct gd g = { .h = h, .dsize = 4 };
	eh_out(h, IO + ATA_DEVICE, 1, 0xa0);
	settle(&g);
	poll_not_busy(&g);
	eh_out(h, CTL, 1, ATA_CTL_NIEN);
	eh_out(h, IO + ATA_COUNT, 1, 0x55);
	eh_out(h, IO + ATA_LBA_LO, 1, 0xaa);
	eh_out(h, IO + ATA_COUNT, 1, 0xaa);
	eh_out(h, IO + ATA_LBA_LO, 1, 0x55);
	eh_in(h, IO + ATA_COUNT, 1);
	eh_in(h, IO + ATA_LBA_LO, 1);
	eh_out(h, IO + ATA_DEVICE, 1, 0xb0);
	eh_in(h, IO + ATA_STATUS, 1);
	eh_in(h, IO + ATA_ERROR, 1);
	eh_in(h, IO + ATA_COUNT, 1);
	eh_in(h, IO + ATA_DEVICE, 2);          /* a word access splits into bytes */
	eh_out(h, IO + ATA_DEVICE, 1, 0xa0);
	eh_in(h, IO + ATA_STATUS, 1);
	nondata(&g, ATA_CMD_INIT_PARAMS, 0, 0);
}

struct script {
	const char *name;
	script_fn *fn;
};

/* ---- running a script with and without a switch -------------------------- */

/* One run's outcome besides the observations. */
struct outcome {
	uint8_t disk[DISK_BYTES];
	int state;
	uint64_t done, aborted, pending;
	int takeovers;      /* V4 steps that took a sequence over */
	int deferred;       /* guest writes deferred */
	int busy;           /* busy pause windows */
	char mode_change[160];   /* a done switch whose mode changed (I5) */
};

/* Engine sink: counts takeovers, deferrals and busy windows, and notes a
 * finished switch whose mode after differs from the mode before. */
static void watch_engine(void *ctx, const struct eng_rec *r)
{
	struct outcome *o = ctx;
	if (r->kind == ER_SWITCH && !strcmp(r->outcome, "done") && r->mode_before &&
	    r->mode_after && strcmp(r->mode_before, r->mode_after))
		snprintf(o->mode_change, sizeof(o->mode_change), "%s: '%s' -> '%s'", r->action,
			 r->mode_before, r->mode_after);
	if (r->kind == ER_STEP && !strcmp(r->step, "V4") && r->detail &&
	    strstr(r->detail, "takeover"))
		o->takeovers++;
	if (r->kind == ER_DEFER)
		o->deferred++;
	if (r->kind == ER_PAUSE && r->pause_kind && !strcmp(r->pause_kind, "busy"))
		o->busy++;
}

/* Lets ns of virtual time pass with the guest halted, with safe points
 * at least every 10 us (eh_idle jumps straight to the next event, so a
 * switch requested meanwhile would only start at the end). */
static void pass_time(struct eh *h, uint64_t ns)
{
	for (uint64_t t = 0; t < ns; t += 10000)
		eh_idle(h, 10000);
}

/* Runs fn on a fresh machine: started virtualized if start_virt, with a
 * switch (action, or -1 for none) requested after access k. The harness
 * keeps the observations; o gets the rest. */
static void run(struct eh *h, struct outcome *o, script_fn *fn, int start_virt, uint64_t k,
		int action, int midseq, int block)
{
	struct eh_cfg cfg = { .ata = 1, .disk_bytes = DISK_BYTES,
			      .engine = { .midseq = midseq, .block = block,
					  .sink = watch_engine, .sink_ctx = o } };
	memset(o, 0, sizeof(*o));
	eh_init(h, &cfg);
	eh_pic_init(h);
	if (start_virt)
		cr_assert_eq(engine__start_virtualized(h->e, "ata"), 0);
	if (action >= 0)
		eh_switch_after(h, k, "ata", action);
	fn(h);
	eh_take_irq(h);            /* a spurious interrupt would show here */
	pass_time(h, SETTLE_NS);
	cr_assert_eq(blk__read(&h->ata_disk, 0, o->disk, DISK_SECTORS), 0);
	o->state = engine__state(h->e, "ata");
	engine__counts(h->e, &o->done, &o->aborted, &o->pending);
}

static const char *const action_names[] = { "virtualize", "devirtualize", "roundtrip" };

/* Runs the script with a switch after every access, for every action and
 * policy, against the baseline; also checks the sweep went through the
 * paths that matter (takeovers, deferred writes, busy answers), so that a
 * module that always waited or never blocked could not pass. */
static void every_position(const struct script *sc)
{
	static struct outcome base_o, o;
	struct eh base, h;
	int takeovers = 0, deferred = 0, busy = 0;
	run(&base, &base_o, sc->fn, 0, 0, -1, MIDSEQ_WAIT, EDEV_BLOCK_DEFER);
	cr_assert_eq(base.m.state, RUN_GOING);
	for (uint64_t k = 0; k < base.accesses; k++) {
		for (int action = 0; action < 3; action++) {
			for (int pol = 0; pol < 4; pol++) {
				int midseq = pol & 1 ? MIDSEQ_TAKEOVER : MIDSEQ_WAIT;
				int block = pol & 2 ? EDEV_BLOCK_DEFER : EDEV_BLOCK_BUSY;
				int start_virt = action == EA_DEVIRTUALIZE;
				char what[160];
				snprintf(what, sizeof(what), "%s: %s after access %llu (midseq=%s block=%s)",
					 sc->name, action_names[action], (unsigned long long)k,
					 midseq ? "takeover" : "wait", block ? "defer" : "busy");
				run(&h, &o, sc->fn, start_virt, k, action, midseq, block);
				long d = eh_compare(&base, &h);
				cr_assert_eq(d, -1, "%s: observation %ld differs", what, d);
				cr_assert(!memcmp(base_o.disk, o.disk, DISK_BYTES), "%s: disk image differs", what);
				int want = action == EA_VIRTUALIZE ? ES_VIRTUALIZED : ES_PASSTHROUGH;
				cr_assert_eq(o.state, want, "%s: ends %s", what, engine__state_name(o.state));
				cr_assert_eq(o.aborted, 0, "%s: aborted", what);
				cr_assert_eq(o.pending, 0, "%s: still pending", what);
				cr_assert_eq(o.mode_change[0], 0, "%s: mode changed: %s", what, o.mode_change);
				cr_assert_eq(o.done, action == EA_VIRTUALIZE ? 1 : 2, "%s: %llu done", what,
					     (unsigned long long)o.done);
				takeovers += o.takeovers;
				deferred += o.deferred;
				busy += o.busy;
				eh_fini(&h);
			}
		}
	}
	eh_fini(&base);
	cr_assert_gt(takeovers, 0, "%s: no switch took a sequence over", sc->name);
	cr_assert_gt(deferred, 0, "%s: no write was deferred", sc->name);
	cr_assert_gt(busy, 0, "%s: the guest was never answered busy", sc->name);
}

TestSuite(engine_ata);

static const struct script scripts[] = {
	{ "identify", s_identify },
	{ "rw-irq", s_rw_irq },
	{ "rw-polled-words", s_rw_polled_words },
	{ "write-multiple", s_write_multiple },
	{ "read-multiple", s_read_multiple },
	{ "nondata", s_nondata },
	{ "badlba", s_badlba },
	{ "srst", s_srst },
	{ "probe", s_probe },
};

/* One sweep per script (Criterion runs them in parallel). */
Test(engine_ata, every_position_identify) { every_position(&scripts[0]); }
Test(engine_ata, every_position_rw_irq) { every_position(&scripts[1]); }
Test(engine_ata, every_position_rw_polled_words) { every_position(&scripts[2]); }
Test(engine_ata, every_position_write_multiple) { every_position(&scripts[3]); }
Test(engine_ata, every_position_read_multiple) { every_position(&scripts[4]); }
Test(engine_ata, every_position_nondata) { every_position(&scripts[5]); }
Test(engine_ata, every_position_badlba) { every_position(&scripts[6]); }
Test(engine_ata, every_position_srst) { every_position(&scripts[7]); }
Test(engine_ata, every_position_probe) { every_position(&scripts[8]); }

/* Started virtualized and never switched, every script sees what it sees
 * in pass-through. */
Test(engine_ata, emulation_alone_is_transparent)
{
	static struct outcome base_o, o;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		struct eh base, h;
		run(&base, &base_o, scripts[i].fn, 0, 0, -1, MIDSEQ_WAIT, EDEV_BLOCK_DEFER);
		run(&h, &o, scripts[i].fn, 1, 0, -1, MIDSEQ_WAIT, EDEV_BLOCK_DEFER);
		cr_assert_eq(eh_compare(&base, &h), -1, "%s: emulation differs", scripts[i].name);
		cr_assert(!memcmp(base_o.disk, o.disk, DISK_BYTES), "%s: disk differs", scripts[i].name);
		cr_assert_eq(o.state, ES_VIRTUALIZED);
		eh_fini(&h);
		eh_fini(&base);
	}
}

/* ---- the mode across a switch and back ----------------------------------- */

/* Switch rows as reported: the modes before and after, for the last two. */
struct modes {
	char before[2][128], after[2][128];
	int n;
};

/* Engine sink: keeps the mode strings of finished switches. */
static void keep_modes(void *ctx, const struct eng_rec *r)
{
	struct modes *m = ctx;
	if (r->kind != ER_SWITCH || strcmp(r->outcome, "done"))
		return;
	int i = m->n++ % 2;
	snprintf(m->before[i], sizeof(m->before[i]), "%s", r->mode_before ? r->mode_before : "");
	snprintf(m->after[i], sizeof(m->after[i]), "%s", r->mode_after ? r->mode_after : "");
}

/* Requests action and lets virtual time pass until it is done. */
static void switch_now(struct eh *h, int action)
{
	cr_assert_eq(engine__request(h->e, "ata", action), 0);
	pass_time(h, SETTLE_NS);
}

/* IDENTIFY (polled) into id. */
static void identify(struct gd *g, uint16_t *id)
{
	issue(g, ATA_CMD_IDENTIFY, 0, 0, 0);
	wait_done(g, 1);
	for (unsigned i = 0; i < 256; i++)
		id[i] = (uint16_t)eh_in(g->h, IO + ATA_DATA, 2);
	poll_not_busy(g);
}

/* Polled mode, multiple 4, write cache off; virtualize, use the disk,
 * devirtualize; then the hardware itself must have the mode: no interrupt
 * (nIEN), IDENTIFY words 59 and 85, blocks of 4. Returns NULL or what went
 * wrong (so that a bug variant can be shown to be caught). */
static const char *mode_roundtrip(int bug)
{
	static char why[320];
	static struct modes m;
	struct eh h;
	struct eh_cfg cfg = { .ata = 1, .disk_bytes = DISK_BYTES,
			      .engine = { .sink = keep_modes, .sink_ctx = &m, .bug = bug } };
	struct gd g = { .h = &h, .dsize = 4 };
	const char *want = "nien=1 mult=4 wcache=0 lookahead=1 revert=1";
	uint16_t id[256];
	const char *res = NULL;
	memset(&m, 0, sizeof(m));
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	set_irq_mode(&g, 0);
	set_multiple(&g, 4);
	nondata(&g, ATA_CMD_SET_FEATURES, ATA_SF_WCACHE_OFF, 0);

	switch_now(&h, EA_VIRTUALIZE);
	cr_assert_eq(engine__state(h.e, "ata"), ES_VIRTUALIZED);
	cr_assert_str_eq(m.before[0], want);
	cr_assert_str_eq(m.after[0], want);
	/* emulated: the hardware's block size, and no interrupt with nIEN */
	issue(&g, ATA_CMD_READ_MULTIPLE, 0, 8, 0);
	wait_done(&g, 1);
	cr_assert_eq(eh_in(&h, IO + ATA_COUNT, 1), 4, "emulated READ MULTIPLE: not 4 sectors a block");
	for (unsigned i = 0; i < 4 * 128; i++)
		cr_assert_eq(eh_in(&h, IO + ATA_DATA, 4),
			     eh_pattern(i * 4) | eh_pattern(i * 4 + 1) << 8 |
			     (uint64_t)eh_pattern(i * 4 + 2) << 16 | (uint64_t)eh_pattern(i * 4 + 3) << 24);
	wait_done(&g, 1);
	for (unsigned i = 0; i < 4 * 128; i++)
		eh_in(&h, IO + ATA_DATA, 4);
	poll_not_busy(&g);
	cr_assert_eq(eh_take_irq(&h), -1, "emulation interrupted despite nIEN");

	switch_now(&h, EA_DEVIRTUALIZE);
	cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
	if (strcmp(m.before[1], want) || strcmp(m.after[1], want)) {
		snprintf(why, sizeof(why), "devirtualize: mode before '%s' after '%s'",
			 m.before[1], m.after[1]);
		res = why;
	}
	/* the hardware now: a command's completion must not interrupt */
	issue(&g, ATA_CMD_FLUSH, 0, 0, 0);
	pass_time(&h, 200000);
	if (!res && eh_take_irq(&h) >= 0)
		res = "the hardware interrupts: nIEN not restored";
	eh_in(&h, IO + ATA_STATUS, 1);
	identify(&g, id);
	if (!res && id[59] != (0x100 | 4))
		res = "IDENTIFY word 59: multiple count not restored";
	if (!res && (id[85] & (1u << 5)))
		res = "IDENTIFY word 85: write cache back on";
	eh_fini(&h);
	return res;
}

Test(engine_ata, mode_survives_virtualization_and_back)
{
	const char *why = mode_roundtrip(BUG_NONE);
	cr_assert_null(why, "%s", why);
}

Test(engine_ata, a_forgotten_mode_is_caught)
{
	cr_assert_not_null(mode_roundtrip(BUG_FORGET_MODE), "BUG_FORGET_MODE went unnoticed");
}

/* Reads the taskfile registers the guest can see (status, error, count,
 * LBA, device) into r. */
static void read_taskfile(struct eh *h, uint8_t r[7])
{
	r[0] = (uint8_t)eh_in(h, CTL, 1);
	for (unsigned i = ATA_ERROR; i <= ATA_DEVICE; i++)
		r[i] = (uint8_t)eh_in(h, (uint16_t)(IO + i), 1);
}

/* The guest's registers as they stood before a switch, with an error the
 * monitor's own IDENTIFY (the first V5 reads the mode back) clears in the
 * drive: D4 must produce the same error again, and the same taskfile.
 * Power-on (error 01h, the diagnostic code), an IDNF and an ABRT. */
Test(engine_ata, the_guests_registers_survive_a_roundtrip)
{
	for (int setup = 0; setup < 3; setup++) {
		struct eh h;
		struct eh_cfg cfg = { .ata = 1, .disk_bytes = DISK_BYTES };
		struct gd g = { .h = &h, .dsize = 4 };
		uint8_t before[7], after[7];
		eh_init(&h, &cfg);
		eh_pic_init(&h);
		set_irq_mode(&g, 0);
		if (setup == 1)
			cr_assert_eq(pio_in(&g, ATA_CMD_READ, DISK_SECTORS + 3, 1, 1), 0x100 | ATA_ER_IDNF);
		if (setup == 2)
			cr_assert_eq(set_multiple(&g, 5), 0x100 | ATA_ER_ABRT);
		read_taskfile(&h, before);
		switch_now(&h, EA_ROUNDTRIP);
		cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
		read_taskfile(&h, after);
		for (int i = 0; i < 7; i++)
			cr_assert_eq(before[i], after[i], "setup %d, register %d: %02x -> %02x",
				     setup, i, before[i], after[i]);
		eh_fini(&h);
	}
}

/* Once the mode is known (the first switch reads it back), a switch at a
 * sequence boundary costs the drive nothing: a roundtrip completes at the
 * safe point where it was requested, without virtual time passing. Were
 * it to run commands each time, switches every few exits would keep the
 * drive busy for good and starve the guest. A SET MULTIPLE seen only in
 * pass-through makes the mode uncertain again (read back once more). */
Test(engine_ata, switches_cost_the_drive_nothing_once_the_mode_is_known)
{
	struct eh h;
	struct eh_cfg cfg = { .ata = 1, .disk_bytes = DISK_BYTES };
	struct gd g = { .h = &h, .dsize = 4 };
	uint64_t done, aborted, pending, t0;
	eh_init(&h, &cfg);
	eh_pic_init(&h);
	set_irq_mode(&g, 0);
	for (int round = 0; round < 4; round++) {
		if (round == 2)
			set_multiple(&g, 8);
		cr_assert_eq(engine__request(h.e, "ata", EA_ROUNDTRIP), 0);
		t0 = h.m.clock.now;
		eh_idle(&h, 1);                /* one safe point */
		engine__counts(h.e, &done, &aborted, &pending);
		int instant = round == 1 || round == 3;
		if (instant) {
			cr_assert_eq(h.m.clock.now, t0 + 1, "round %d: virtual time passed", round);
			cr_assert_eq(pending, 0, "round %d: the roundtrip did not complete at once", round);
		} else {
			cr_assert_eq(pending, 1, "round %d: the mode was not read back", round);
			pass_time(&h, SETTLE_NS);
			engine__counts(h.e, &done, &aborted, &pending);
		}
		cr_assert_eq(done, 2 * (uint64_t)(round + 1));
		cr_assert_eq(aborted, 0);
	}
	eh_fini(&h);
}

/* ---- takeover inside a PIO-in block, at the module's interface ----------- */

/* The core starts tracking when a switch is requested, and snoop() reports
 * writes only, so it never meets a guest part-way through a READ block it
 * has followed from the start (it takes over at the block boundary). The
 * reconstruction is exercised here directly: a module instance of our own
 * on the machine's drive, the drive's line routed to it. */
struct direct {
	struct eh h;
	const struct edev_ops *ops;
	void *st;
	int guest_line, raises;
	int emulating;
};

/* edev_host.guest_irq: records the emulated line. */
static void d_guest_irq(void *ctx, int level)
{
	struct direct *d = ctx;
	d->raises += level && !d->guest_line;
	d->guest_line = level;
}

/* edev_host.kick: the test runs the steps itself. */
static void d_kick(void *ctx) { (void)ctx; }

/* The drive's line, routed to the module (mirrored while tracking). */
static void d_line(void *ctx, int line, int level)
{
	struct direct *d = ctx;
	d->ops->hw_irq(d->st, level);
	if (!d->emulating)
		d_guest_irq(d, level);
}

/* One guest access: to the drive and the tracker, or to the emulation;
 * then 1 us passes, as for an exit. */
static uint64_t d_access(struct direct *d, uint64_t off, unsigned size, int write, uint64_t v)
{
	struct bus_access a = { .value = v, .size = (uint8_t)size, .write = (uint8_t)write };
	struct hw *hw = d->h.m.ata;
	if (d->emulating) {
		d->ops->emulate(d->st, &a, off);
	} else {
		if (write)
			hw->ops->write(hw, off, size, v);
		else
			a.value = hw->ops->read(hw, off, size);
		d->ops->track(d->st, &a, off);
	}
	clock__run_until(&d->h.m.clock, d->h.m.clock.now + 1000);
	return a.value;
}

/* Polls the alternate status until (v & mask) == want. */
static uint8_t d_poll(struct direct *d, uint8_t mask, uint8_t want)
{
	for (int i = 0; i < 100000; i++) {
		uint8_t v = (uint8_t)d_access(d, ATA_CTRL_OFF, 1, 0, 0);
		if ((v & mask) == want)
			return v;
	}
	cr_assert_fail("poll never succeeded");
	return 0;
}

/* The word at word w of sector lba of the fresh image. */
static uint16_t disk_word(uint32_t lba, unsigned w)
{
	uint64_t off = lba * 512ull + w * 2;
	return (uint16_t)(eh_pattern(off) | eh_pattern(off + 1) << 8);
}

/* READ (MULTIPLE) of count sectors from lba; after `taken` words the
 * module takes over (V5 takeover, V6) and serves the rest: the words must
 * be the disk's, the blocks and interrupts the drive's. */
static void takeover_in_read(uint8_t cmd, unsigned count, unsigned taken, unsigned per)
{
	struct direct d = { .ops = &edev_ata_ops };
	struct eh_cfg cfg = { .ata = 1, .disk_bytes = DISK_BYTES };
	const uint32_t lba = 40;
	eh_init(&d.h, &cfg);
	struct edev_host host = { .hw = d.h.m.ata, .clock = &d.h.m.clock, .mem = &d.h.m.mem,
				  .guest_irq = d_guest_irq, .kick = d_kick, .ctx = &d };
	d.st = d.ops->create(&host);
	cr_assert_not_null(d.st);
	machine__route_line(&d.h.m, IRQ_ATA, d_line, &d);
	cr_assert_eq(d.ops->step(d.st, EDEV_V3, 0), 0);
	d_access(&d, ATA_DEVICE, 1, 1, 0xe0);
	d_access(&d, ATA_COUNT, 1, 1, count);
	d_access(&d, ATA_LBA_LO, 1, 1, lba);
	d_access(&d, ATA_LBA_MID, 1, 1, 0);
	d_access(&d, ATA_LBA_HI, 1, 1, 0);
	d_access(&d, ATA_COMMAND, 1, 1, cmd);
	unsigned w = 0, blocks = 0;
	for (unsigned sec = 0; sec < count; sec += per) {
		d_poll(&d, ATA_SR_BSY, 0);
		cr_assert_eq(d_access(&d, ATA_STATUS, 1, 0, 0), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
		blocks++;
		for (unsigned i = 0; i < per * 256; i++, w++) {
			if (w == taken) {
				cr_assert_eq(d.ops->track_idle(d.st), 0);
				cr_assert_eq(d.ops->step(d.st, EDEV_V5, 1), 0, "takeover refused");
				cr_assert_eq(d.ops->step(d.st, EDEV_V6, 1), 0);
				d.emulating = 1;
			}
			uint16_t v = (uint16_t)d_access(&d, ATA_DATA, 2, 0, 0);
			cr_assert_eq(v, disk_word(lba + w / 256, w % 256), "word %u: %04x", w, v);
		}
	}
	cr_assert(d.emulating);
	cr_assert_eq(d_poll(&d, ATA_SR_BSY | ATA_SR_DRQ, 0), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(d_access(&d, ATA_COUNT, 1, 0, 0), 0);
	cr_assert_eq(d_access(&d, ATA_LBA_LO, 1, 0, 0), lba + count);
	cr_assert_eq(d.raises, blocks, "one interrupt per block");
	unsigned q, o;
	clock__run_until(&d.h.m.clock, d.h.m.clock.now + 100000);   /* the mode check's IDENTIFY */
	d.ops->pending(d.st, &q, &o);
	cr_assert_eq(q + o, 0, "the driver still has %u queued, %u outstanding", q, o);
	d.ops->destroy(d.st);
	eh_fini(&d.h);
}

Test(engine_ata, takeover_inside_a_read_block)
{
	takeover_in_read(ATA_CMD_READ, 2, 100, 1);
	takeover_in_read(ATA_CMD_READ, 2, 256 + 255, 1);
	takeover_in_read(ATA_CMD_READ_MULTIPLE, 3, 300, ATA_MAX_MULTIPLE < 3 ? 1 : 3);
}
