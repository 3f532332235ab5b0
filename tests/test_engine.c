/*
 * Engine core: the trigger vocabulary, DEVIRT_BUG names, and requests for
 * devices that are not there. The per-device switching tests are in
 * test_engine_{ata,uart,ringblk}.c; whole-guest runs in test_switch.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "eharness.h"

Test(engine, parses_triggers)
{
	struct eng_trigger t;
	char err[200];
	cr_assert_eq(engine__parse_trigger("every=97:roundtrip:all", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.when, EW_EVERY);
	cr_assert_eq(t.arg, 97);
	cr_assert_eq(t.action, EA_ROUNDTRIP);
	cr_assert_str_eq(t.device, "all");
	cr_assert_eq(engine__parse_trigger("vtime=2ms:virtualize:ata", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.when, EW_VTIME);
	cr_assert_eq(t.arg, 2000000);
	cr_assert_eq(engine__parse_trigger("seq=1234:devirtualize:uart", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.arg, 1234);
	cr_assert_str_eq(t.device, "com1", "uart is COM1");
	cr_assert_eq(engine__parse_trigger("seq=0x10:virtualize:ringblk", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.arg, 16);
}

Test(engine, rejects_bad_triggers_with_a_reason)
{
	struct eng_trigger t;
	char err[200];
	static const struct { const char *spec, *says; } bad[] = {
		{ "every=0:roundtrip:all", "bad every" },
		{ "vtime=2:virtualize:ata", "needs a unit" },
		{ "when=3:virtualize:ata", "unknown WHEN" },
		{ "seq=3:explode:ata", "unknown action" },
		{ "seq=3:virtualize:nic", "unknown device" },
		{ "seq=3:virtualize", "WHEN:ACTION:DEVICE" },
		{ "seq=3:virtualize:ata:x", "WHEN:ACTION:DEVICE" },
		{ "seq:virtualize:ata", "seq=N" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_assert_eq(engine__parse_trigger(bad[i].spec, &t, err, sizeof(err)), -EINVAL, "%s", bad[i].spec);
		cr_assert(strstr(err, bad[i].says), "%s: '%s' lacks '%s'", bad[i].spec, err, bad[i].says);
	}
}

Test(engine, bug_names)
{
	cr_assert_eq(engine__parse_bug(NULL), BUG_NONE);
	cr_assert_eq(engine__parse_bug(""), BUG_NONE);
	cr_assert_eq(engine__parse_bug("replay-twice"), BUG_REPLAY_TWICE);
	cr_assert_eq(engine__parse_bug("skip-drain"), BUG_SKIP_DRAIN);
	cr_assert_eq(engine__parse_bug("nonsense"), -EINVAL);
}

Test(engine, absent_devices_are_refused)
{
	struct eh h;
	eh_init(&h, &(struct eh_cfg){ .ata = 0, .ringblk = 0 });
	cr_assert_eq(engine__request(h.e, "ata", EA_VIRTUALIZE), -ENOENT);
	cr_assert_eq(engine__request(h.e, "nic", EA_VIRTUALIZE), -ENOENT);
	cr_assert_eq(engine__state(h.e, "ringblk"), -ENOENT);
	eh_fini(&h);
}

/*
 * The core against a scripted module: a proxy that "emulates" by forwarding
 * to the hardware (so the guest's view is right by construction) and whose
 * answers (idle or not, steps in progress, block verdicts) each test sets.
 * It sits in the ATA slot over the real ATA model.
 */
struct fake {
	struct edev_host h;
	int idle;                 /* track_idle and emu_idle */
	int v5_again, d3_again;   /* step() answers EDEV_AGAIN this many more times */
	int verdict[4];           /* block() for writes, per phase */
	int read_busy[4];         /* block() answers reads busy in this phase */
	char steps[32];           /* steps run, one letter each: 3 5 6 2 . 4 (D3 = '.') */
	int nsteps;
};
static struct fake g_fake;

static void *fk_create(const struct edev_host *h) { g_fake.h = *h; return &g_fake; }
static void fk_destroy(void *st) { }
static void fk_track(void *st, const struct bus_access *a, uint64_t off) { }
static int fk_idle(void *st) { return g_fake.idle; }
static void fk_emulate(void *st, struct bus_access *a, uint64_t off)
{
	struct hw *hw = g_fake.h.hw;
	if (a->write)
		hw->ops->write(hw, off, a->size, a->value);
	else
		a->value = hw->ops->read(hw, off, a->size);
}
static int fk_block(void *st, struct bus_access *a, uint64_t off, int phase, int policy)
{
	if (!a->write) {
		if (g_fake.read_busy[phase]) {
			a->value = 0xd0;   /* BSY|DRDY|DSC */
			return EDEV_BUSY;
		}
		return EDEV_FORWARD;
	}
	return g_fake.verdict[phase];
}
static int fk_step(void *st, int step, int takeover)
{
	static const char names[] = { [EDEV_V3] = '3', [EDEV_V5] = '5', [EDEV_V6] = '6',
				      [EDEV_D2] = '2', [EDEV_D3] = '.', [EDEV_D4] = '4', [EDEV_ABORT] = 'a' };
	if (step == EDEV_V5 && g_fake.v5_again) {
		g_fake.v5_again--;
		return EDEV_AGAIN;
	}
	if (step == EDEV_D3 && g_fake.d3_again) {
		g_fake.d3_again--;
		return EDEV_AGAIN;
	}
	if (g_fake.nsteps < 31)
		g_fake.steps[g_fake.nsteps++] = names[step];
	return 0;
}
static void fk_hw_irq(void *st, int level) { g_fake.h.guest_irq(g_fake.h.ctx, level); }
static char *fk_mode(void *st, int src, char *buf, size_t len)
{
	snprintf(buf, len, "fake=%s", src == EDEV_MODE_EMU ? "emu" : "hw");
	return buf;
}
static const char *fk_state(void *st) { return g_fake.idle ? "idle" : "busy"; }
static void fk_pending(void *st, unsigned *q, unsigned *o) { *q = 0; *o = (unsigned)g_fake.d3_again; }

static const struct edev_ops fake_ops = {
	.model = "ata-disk", .create = fk_create, .destroy = fk_destroy, .track = fk_track,
	.track_idle = fk_idle, .emulate = fk_emulate, .emu_idle = fk_idle, .block = fk_block,
	.step = fk_step, .hw_irq = fk_hw_irq, .mode = fk_mode, .sm_state = fk_state,
	.pending = fk_pending,
};

/* What the sink received. */
#define MAXREC 4096
static struct eng_rec g_rec[MAXREC];
static int g_nrec;
static void sink(void *ctx, const struct eng_rec *r)
{
	if (g_nrec < MAXREC)
		g_rec[g_nrec++] = *r;
}

/* Paths of the ATA accesses, in order. */
static char g_paths[4096];
static int g_npaths;
static void paths(void *ctx, const struct exit_rec *r)
{
	if ((r->kind == EXIT_PIO) && r->dev && !strcmp(r->dev, "ata") && g_npaths < 4095)
		g_paths[g_npaths++] = "dtebB"[r->path];   /* direct track emulate defer(b) busy(B) */
}

static void fake_init(struct eh *h, struct engine_cfg ec)
{
	memset(&g_fake, 0, sizeof(g_fake));
	g_fake.idle = 1;
	g_nrec = g_npaths = 0;
	memset(g_paths, 0, sizeof(g_paths));
	ec.modules[0] = &fake_ops;
	ec.sink = sink;
	eh_init(h, &(struct eh_cfg){ .ata = 1, .engine = ec });
	cr_assert_eq(machine__add_hook(&h->m, paths, NULL), 0);
}

/* Returns the number of records of kind k (for switch rows: final ones with outcome). */
static int count(int kind, const char *what)
{
	int n = 0;
	for (int i = 0; i < g_nrec; i++) {
		if (g_rec[i].kind != kind)
			continue;
		if (kind == ER_SWITCH && (!what || strcmp(g_rec[i].outcome, what)))
			continue;
		if (kind == ER_PAUSE && what && strcmp(g_rec[i].pause_kind, what))
			continue;
		n++;
	}
	return n;
}

/* Returns the step names reported, space-separated, for switch id. */
static const char *steps_of(uint64_t id)
{
	static char buf[256];
	buf[0] = 0;
	for (int i = 0; i < g_nrec; i++)
		if (g_rec[i].kind == ER_STEP && g_rec[i].switch_id == id)
			strcat(strcat(buf, buf[0] ? " " : ""), g_rec[i].step);
	return buf;
}

/* Returns the last switch row of id. */
static const struct eng_rec *switch_row(uint64_t id)
{
	const struct eng_rec *r = NULL;
	for (int i = 0; i < g_nrec; i++)
		if (g_rec[i].kind == ER_SWITCH && g_rec[i].switch_id == id)
			r = &g_rec[i];
	cr_assert_not_null(r, "no switch %llu", (unsigned long long)id);
	return r;
}

Test(engine_core, roundtrip_takes_every_step_in_order)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ 0 });
	eh_switch_after(&h, 1, "ata", EA_ROUNDTRIP);
	for (int i = 0; i < 6; i++)
		eh_in(&h, 0x1f7, 1);
	cr_assert_str_eq(steps_of(1), "V1 V2 V3 V4 V5 V6");
	cr_assert_str_eq(steps_of(2), "D1 D2 D3 D4 D5 D6 D7");
	cr_assert_str_eq(g_fake.steps, "3562.4");
	cr_assert_str_eq(switch_row(1)->action, "virtualize");
	cr_assert_str_eq(switch_row(1)->outcome, "done");
	cr_assert_str_eq(switch_row(1)->mode_before, "fake=hw");
	cr_assert_str_eq(switch_row(1)->mode_after, "fake=emu");
	cr_assert_str_eq(switch_row(2)->action, "devirtualize");
	cr_assert_str_eq(switch_row(2)->mode_before, "fake=emu");
	cr_assert_str_eq(switch_row(2)->mode_after, "fake=hw");
	cr_assert_str_eq(switch_row(2)->policy, "midseq=wait block=busy");
	cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
	/* the access that requested it was direct; the roundtrip completes at
	 * the same safe point, so everything after is direct again */
	cr_assert_str_eq(g_paths, "dddddd");
	eh_fini(&h);
}

Test(engine_core, accesses_are_tracked_then_emulated)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ 0 });
	g_fake.idle = 0;
	eh_switch_after(&h, 0, "ata", EA_VIRTUALIZE);
	eh_in(&h, 0x1f7, 1);
	eh_in(&h, 0x1f7, 1);
	eh_in(&h, 0x1f7, 1);
	g_fake.idle = 1;          /* the sequence ends here */
	eh_in(&h, 0x1f7, 1);
	eh_in(&h, 0x1f7, 1);
	cr_assert_str_eq(g_paths, "dttte");
	cr_assert_eq(engine__state(h.e, "ata"), ES_VIRTUALIZED);
	cr_assert_eq(count(ER_PAUSE, "wait"), 1);
	eh_fini(&h);
}

Test(engine_core, wait_bound_aborts_and_gives_the_device_back)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .wait_bound_ns = 50000 });
	g_fake.idle = 0;
	eh_switch_after(&h, 0, "ata", EA_VIRTUALIZE);
	for (int i = 0; i < 80; i++)
		eh_in(&h, 0x1f7, 1);
	cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
	const struct eng_rec *r = switch_row(1);
	cr_assert_str_eq(r->outcome, "aborted");
	cr_assert(strstr(r->reason, "wait bound"), "%s", r->reason);
	cr_assert_lt(r->done_vt - r->start_vt, 60000, "aborted at the bound, not later");
	cr_assert_eq(g_paths[79], 'd', "direct again after the abort");
	cr_assert_eq(g_paths[1], 't');
	eh_fini(&h);
}

Test(engine_core, wait_bound_fires_while_the_guest_halts)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .wait_bound_ns = 50000 });
	g_fake.idle = 0;
	eh_switch_after(&h, 0, "ata", EA_VIRTUALIZE);
	eh_in(&h, 0x1f7, 1);
	eh_idle(&h, 200000);
	cr_assert_str_eq(switch_row(1)->outcome, "aborted");
	cr_assert_eq(switch_row(1)->done_vt, 50000 + switch_row(1)->start_vt, "at the deadline exactly");
	eh_fini(&h);
}

/* Defers three taskfile writes while quiescing, then lets the switch end;
 * returns the LBA registers the hardware holds afterwards. */
static uint32_t deferred_run(struct eh *h)
{
	cr_assert_eq(engine__start_virtualized(h->e, "ata"), 0);
	g_fake.idle = 0;
	g_fake.verdict[EDEV_PH_QUIESCE] = EDEV_DEFER;
	cr_assert_eq(engine__request(h->e, "ata", EA_DEVIRTUALIZE), 0);
	eh_in(h, 0x3f6, 1);
	eh_out(h, 0x1f3, 1, 0x11);
	eh_out(h, 0x1f4, 1, 0x22);
	eh_out(h, 0x1f5, 1, 0x33);
	g_fake.idle = 1;
	eh_in(h, 0x3f6, 1);
	cr_assert_eq(engine__state(h->e, "ata"), ES_PASSTHROUGH);
	return (uint32_t)(eh_in(h, 0x1f3, 1) | eh_in(h, 0x1f4, 1) << 8 | eh_in(h, 0x1f5, 1) << 16);
}

Test(engine_core, deferred_writes_reach_the_hardware_once_in_order)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .block = EDEV_BLOCK_DEFER });
	cr_assert_eq(deferred_run(&h), 0x332211);
	cr_assert_eq(count(ER_DEFER, NULL), 3);
	cr_assert_eq(count(ER_REPLAYED, NULL), 3);
	uint64_t last = 0, d7 = 0;
	for (int i = 0; i < g_nrec; i++)
		if (g_rec[i].kind == ER_STEP && !strcmp(g_rec[i].step, "D7"))
			d7 = g_rec[i].seq;
	for (int i = 0, k = 0; i < g_nrec; i++) {
		if (g_rec[i].kind != ER_REPLAYED)
			continue;
		cr_assert_eq(g_rec[i].ord, (uint64_t)k++, "in order");
		cr_assert_gt(g_rec[i].replay_seq, g_rec[i].seq, "after the deferral");
		cr_assert_geq(g_rec[i].replay_seq, d7, "after D6");
		cr_assert_gt(g_rec[i].seq, last);
		last = g_rec[i].seq;
	}
	cr_assert_str_eq(g_paths + g_npaths - 8, "ebbbeddd", "%s", g_paths);
	cr_assert_eq(count(ER_PAUSE, "defer"), 1);
	eh_fini(&h);
}

Test(engine_core, bug_skip_deferred_replay_loses_them)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .block = EDEV_BLOCK_DEFER, .bug = BUG_SKIP_DEFERRED_REPLAY });
	cr_assert_neq(deferred_run(&h), 0x332211);
	cr_assert_eq(count(ER_REPLAYED, NULL), 0);
	eh_fini(&h);
}

Test(engine_core, bug_replay_twice_replays_twice)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .block = EDEV_BLOCK_DEFER, .bug = BUG_REPLAY_TWICE });
	deferred_run(&h);
	cr_assert_eq(count(ER_REPLAYED, NULL), 6);
	eh_fini(&h);
}

Test(engine_core, pause_bound_aborts_a_virtualization_and_replays_to_the_hardware)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .pause_bound_ns = 20000 });
	g_fake.idle = 0;
	g_fake.verdict[EDEV_PH_WAIT] = EDEV_DEFER;
	eh_switch_after(&h, 0, "ata", EA_VIRTUALIZE);
	eh_in(&h, 0x3f6, 1);
	for (int i = 0; i < 30; i++)
		eh_out(&h, 0x1f3, 1, (uint64_t)i);
	cr_assert_str_eq(switch_row(1)->outcome, "aborted");
	cr_assert(strstr(switch_row(1)->reason, "pause bound"));
	cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
	cr_assert_eq(eh_in(&h, 0x1f3, 1), 29, "the last write won, after all earlier ones");
	cr_assert_eq(count(ER_REPLAYED, NULL), count(ER_DEFER, NULL));
	eh_fini(&h);
}

Test(engine_core, monitor_steps_in_progress_hold_the_guest_busy)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ 0 });
	g_fake.v5_again = 4;
	g_fake.read_busy[EDEV_PH_CAPTURE] = 1;
	eh_switch_after(&h, 0, "ata", EA_VIRTUALIZE);
	eh_in(&h, 0x1f7, 1);
	uint64_t v = eh_poll(&h, BUS_PIO, 0x1f7, 1, 0x80, 0, 100);
	cr_assert_eq(v & 0x80, 0);
	cr_assert_eq(engine__state(h.e, "ata"), ES_VIRTUALIZED);
	cr_assert_geq(h.busy_polls, 3);
	cr_assert_eq(count(ER_PAUSE, "busy"), 1);
	cr_assert(strchr(g_paths, 'B'));
	eh_fini(&h);
}

Test(engine_core, bug_forget_mode_skips_d4)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .bug = BUG_FORGET_MODE });
	eh_switch_after(&h, 0, "ata", EA_ROUNDTRIP);
	eh_in(&h, 0x1f7, 1);
	eh_in(&h, 0x1f7, 1);
	cr_assert_str_eq(g_fake.steps, "3562.");
	eh_fini(&h);
}

Test(engine_core, bug_skip_drain_leaves_io_outstanding)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ .bug = BUG_SKIP_DRAIN });
	cr_assert_eq(engine__start_virtualized(h.e, "ata"), 0);
	g_fake.d3_again = 5;
	cr_assert_eq(engine__request(h.e, "ata", EA_DEVIRTUALIZE), 0);
	eh_in(&h, 0x1f7, 1);
	cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
	int found = 0;
	for (int i = 0; i < g_nrec; i++)
		if (g_rec[i].kind == ER_STEP && !strcmp(g_rec[i].step, "D3"))
			found = !strcmp(g_rec[i].detail, "queued=0 outstanding=5");
	cr_assert(found, "D3 reports the outstanding I/O it skipped");
	eh_fini(&h);
}

Test(engine_core, bug_drop_irq_loses_the_first_emulated_interrupt)
{
	for (int bug = 0; bug < 2; bug++) {
		struct eh h;
		fake_init(&h, (struct engine_cfg){ .bug = bug ? BUG_DROP_IRQ : BUG_NONE });
		eh_pic_init(&h);
		cr_assert_eq(engine__start_virtualized(h.e, "ata"), 0);
		eh_out(&h, 0x1f6, 1, 0xe0);
		eh_out(&h, 0x1f7, 1, 0xec);   /* IDENTIFY: INTRQ when the data is ready */
		int vec = eh_wait_irq(&h);
		if (bug)
			cr_assert_eq(vec, -1, "the interrupt was dropped: the guest hangs");
		else
			cr_assert_eq(vec, 0x2e, "IRQ 14");
		eh_fini(&h);
	}
}

Test(engine_core, triggers_fire_by_exit_count_seq_and_vtime)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ 0 });
	struct eng_trigger t;
	char err[128];
	cr_assert_eq(engine__parse_trigger("every=10:roundtrip:ata", &t, err, sizeof(err)), 0);
	cr_assert_eq(engine__add_trigger(h.e, &t), 0);
	cr_assert_eq(engine__parse_trigger("vtime=500us:virtualize:ata", &t, err, sizeof(err)), 0);
	cr_assert_eq(engine__add_trigger(h.e, &t), 0);
	cr_assert_eq(engine__parse_trigger("seq=5:virtualize:ringblk", &t, err, sizeof(err)), 0);
	cr_assert_eq(engine__add_trigger(h.e, &t), -ENOENT, "no ringblk in this machine");
	for (int i = 0; i < 100; i++)
		eh_in(&h, 0x1f7, 1);
	uint64_t done, aborted, pending;
	engine__counts(h.e, &done, &aborted, &pending);
	cr_assert_eq(done, 20, "ten roundtrips");
	cr_assert_eq(engine__state(h.e, "ata"), ES_PASSTHROUGH);
	eh_idle(&h, 600000);
	cr_assert_eq(engine__state(h.e, "ata"), ES_VIRTUALIZED, "the vtime trigger fired while halted");
	eh_fini(&h);
}

Test(engine_core, requests_in_the_wrong_state_are_recorded_as_aborted)
{
	struct eh h;
	fake_init(&h, (struct engine_cfg){ 0 });
	cr_assert_eq(engine__request(h.e, "ata", EA_DEVIRTUALIZE), 0);
	eh_in(&h, 0x1f7, 1);
	cr_assert_str_eq(switch_row(1)->outcome, "aborted");
	cr_assert_str_eq(switch_row(1)->reason, "not virtualized");
	eh_fini(&h);
}
