/*
 * Campaign runs (runner.h). One vmm session per slice: the VM, platform
 * and disks are built once and every run after the first starts from the
 * session's snapshot; reset = fresh opens and closes a session (a new VM)
 * per run instead, as vmm__run does (the baseline bench/campaign.sh
 * compares against). Both times are measured apart from the run itself. The switch injector and
 * the fault injector live as long as the slice and are attached to each
 * run through the session's attach hook.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "faults.h"
#include "runner.h"
#include "trigger.h"
#include "../vmm/vmm.h"
#include "../bpf/observer.h"
#include "../traces/db.h"
#include "../lib/hosttime.h"

/* One run's injection state, handed to the session's attach hook. */
struct run_ctx {
	const struct campaign_cfg *c;
	uint64_t index, seed;
	int baseline;             /* this run is a baseline: no injection, no faults */
	struct injector in;
	struct faults f;
};

int campaign__in_slice(const struct camp_slice *s, uint64_t index)
{
	if (index % s->shards != s->shard - 1 || (s->only >= 0 && index != (uint64_t)s->only))
		return 0;
	return (index / s->shards) % s->jobs == s->job;
}

uint64_t campaign__slice_runs(const struct campaign_cfg *c, const struct camp_slice *s)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < c->runs; i++)
		n += (uint64_t)campaign__in_slice(s, i);
	return n;
}

uint64_t campaign__seed(const struct campaign_cfg *c, uint64_t index)
{
	return c->fixed_seed ? c->seed : prng__run_seed(c->seed, index);
}

/* vmm attach hook: arms the run's switch trigger and faults. Returns 0 or
 * -1 with the reason in err. */
static int attach(void *ctx, struct machine *m, struct engine *e, struct trace *t, char *err, size_t errlen)
{
	struct run_ctx *r = ctx;
	if (r->baseline)
		return 0;
	int rc = injector__attach(&r->in, r->index, r->seed, m, e);
	if (!rc)
		rc = faults__attach(&r->f, r->c, r->seed, m, e, t);
	if (rc)
		snprintf(err, errlen, "cannot attach the campaign's injectors: %s", strerror(-rc));
	return rc ? -1 : 0;
}

/* vmm detach hook: the run ended. */
static void detach(void *ctx)
{
	struct run_ctx *r = ctx;
	if (r->baseline)
		return;
	injector__detach(&r->in);
	faults__detach(&r->f);
}

/* The kernel's view of a campaign's runs (kernel_trace): one observer for
 * the process, its rows cut at run boundaries. */
struct ktrace {
	struct kobs *obs;         /* NULL: not observing */
	sqlite3 *db;
	const char *path;
};

/* Starts observing this process when the campaign asks. Returns 0, or 3
 * (kernel_trace = yes and the observer cannot start) with err set. */
static int ktrace_start(struct ktrace *k, const struct campaign_cfg *c, const char *db, char *err, size_t errlen)
{
	char why[256];
	*k = (struct ktrace){ .path = db };
	if (c->kernel_trace == CK_NO || !db)
		return 0;
	if (kobs__start(&k->obs, getpid(), why, sizeof(why))) {
		if (c->kernel_trace == CK_YES) {
			snprintf(err, errlen, "kernel_trace = yes: %s", why);
			return 3;
		}
		fprintf(stderr, "devirt campaign: kernel_trace = auto: %s; I8 will be N/A\n", why);
	}
	return 0;
}

/* Drops what the observer saw before the run (the reset's own KVM_RUN). */
static void ktrace_before(struct ktrace *k)
{
	if (k->obs) {
		kobs__flush(k->obs);
		kobs__clear(k->obs);
	}
}

/* Stores what the observer saw of the run that just ended as its kexit
 * rows. Returns 0, or 3 with err set. */
static int ktrace_after(struct ktrace *k, const struct vmm_result *res, char *err, size_t errlen)
{
	char why[256];
	if (!k->obs || !res->run_id)
		return 0;
	kobs__flush(k->obs);
	int rc = k->db ? 0 : db__open(&k->db, k->path, why, sizeof(why));
	if (!rc)
		rc = kobs__store(k->obs, k->db, res->run_id, res->wall0_ns, "self", why, sizeof(why));
	kobs__clear(k->obs);
	if (rc)
		snprintf(err, errlen, "kernel_trace: %s", why);
	return rc ? 3 : 0;
}

static void ktrace_stop(struct ktrace *k)
{
	kobs__free(k->obs);
	sqlite3_close(k->db);
}

/* Words naming the campaign's policy, as devirt run records them. */
static void policy_text(const struct campaign_cfg *c, const struct engine_cfg *ec, char *buf, size_t len)
{
	snprintf(buf, len, "midseq=%s block=%s wait_bound_ns=%" PRIu64 " pause_bound_ns=%" PRIu64,
		 ec->midseq == MIDSEQ_TAKEOVER ? "takeover" : "wait", ec->block == EDEV_BLOCK_DEFER ? "defer" : "busy",
		 c->wait_bound_ns, c->pause_bound_ns);
}

int campaign__run(const struct campaign_cfg *c, const char *image, const char *db, const struct camp_slice *s,
		  camp_run_fn *fn, void *ctx, char *err, size_t errlen)
{
	struct engine_cfg ec = { .midseq = c->midseq, .block = c->block, .wait_bound_ns = c->wait_bound_ns,
				 .pause_bound_ns = c->pause_bound_ns };
	const char *virt[CD_N];
	char modes[64] = "", policy[160], config[512], args[1024];
	int nvirt = 0;
	if (c->mode == CM_REPLAY)
		return campaign__run_replays(c, s, fn, ctx, err, errlen);
	ec.bug = engine__parse_bug(getenv("DEVIRT_BUG"));
	if (ec.bug < 0) {
		snprintf(err, errlen, "DEVIRT_BUG '%s': unknown misbehaviour", getenv("DEVIRT_BUG"));
		return 2;
	}
	for (int d = 0; d < CD_N; d++) {
		if (!c->dev[d].virtualized)
			continue;
		virt[nvirt++] = camp_dev__engine_name(d);
		snprintf(modes + strlen(modes), sizeof(modes) - strlen(modes), "%s%s", *modes ? " " : "",
			 camp_dev__engine_name(d));
	}
	policy_text(c, &ec, policy, sizeof(policy));
	/* the campaign's trigger stands in for --switch specs, so that devirt
	 * check never takes an injected run for a baseline */
	char switches[96];
	snprintf(switches, sizeof(switches), "campaign:%s", c->name);
	struct trace_run info = { .guest = c->guest, .image = image, .args = args, .config = config,
				  .disk = c->dev[CD_ATA].disk, .kind = "live", .policy = policy,
				  .modes = *modes ? modes : NULL, .switches = switches };
	struct run_ctx *rc = calloc(1, sizeof(*rc));
	if (!rc || injector__init(&rc->in, c)) {
		free(rc);
		snprintf(err, errlen, "out of memory");
		return 3;
	}
	rc->c = c;
	struct vmm_cfg vc = {
		.image = image, .args = args, .kvm_dev = getenv("DEVIRT_KVM_DEV"), .mem = c->mem,
		.vtimeout_ns = c->timeout_ns, .wtimeout_ns = c->wall_timeout_ns, .exit_cost_ns = c->exit_cost_ns,
		.console_fd = -1, .disk = c->dev[CD_ATA].disk, .disk_size = c->dev[CD_ATA].disk_size,
		.ringblk_disk = c->dev[CD_RINGBLK].disk, .ringblk_disk_size = c->dev[CD_RINGBLK].disk_size,
		.ringblk_trap = c->dev[CD_RINGBLK].trap, .db = db, .run_info = &info, .engine = &ec,
		.virtualized = virt, .nvirtualized = nvirt, .private_disks = 1,
		.attach = attach, .detach = detach, .attach_ctx = rc,
	};
	struct vmm *vmm = NULL;
	struct vmm_result res;
	struct ktrace kt;
	int status = ktrace_start(&kt, c, db, err, errlen);
	if (status) {
		injector__fini(&rc->in);
		free(rc);
		return status;
	}
	uint64_t open_ns = 0;       /* the session's creation: the first run's setup */
	if (c->reset == CR_SNAPSHOT && campaign__slice_runs(c, s)) {
		uint64_t t = host_ns();
		status = vmm__open(&vmm, &vc, &res);
		open_ns = host_ns() - t;
		if (status)
			snprintf(err, errlen, "%s", res.err);
	}
	for (uint64_t i = 0; !status && i < c->runs; i++) {
		if (!campaign__in_slice(s, i))
			continue;
		rc->index = i;
		rc->seed = campaign__seed(c, i);
		info.seed = (int64_t)rc->seed;
		snprintf(args, sizeof(args), "%s%sseed=%" PRIu64, c->args ? c->args : "", c->args && *c->args ? " " : "",
			 rc->seed);
		snprintf(config, sizeof(config), "campaign=%s index=%" PRIu64 " file=%s", c->name, i, c->path);
		if (c->baseline) {
			/* the same run without injections, first: what devirt
			 * check compares the injected run with (I1, I4, I7) */
			rc->baseline = 1;
			info.switches = NULL;
			status = c->reset == CR_FRESH ? vmm__open(&vmm, &vc, &res) : vmm__reset(vmm, &res);
			ktrace_before(&kt);
			if (!status)
				status = vmm__run_once(vmm, &vc, &res);
			if (!status && (status = ktrace_after(&kt, &res, err, errlen)))
				break;
			if (c->reset == CR_FRESH) {
				vmm__close(vmm);
				vmm = NULL;
			}
			rc->baseline = 0;
			info.switches = switches;
			if (status) {
				snprintf(err, errlen, "run %" PRIu64 " (baseline): %s", i, res.err);
				break;
			}
		}
		/* fresh: open and close a session per run (what vmm__run does),
		 * timed apart from the run like the reset is */
		uint64_t t0 = host_ns(), t1, t2;   /* the store of kexit rows counts as neither */
		status = c->reset == CR_FRESH ? vmm__open(&vmm, &vc, &res) : vmm__reset(vmm, &res);
		t1 = host_ns();
		ktrace_before(&kt);
		if (!status)
			status = vmm__run_once(vmm, &vc, &res);
		if (!status && (status = ktrace_after(&kt, &res, err, errlen)))
			break;
		t2 = host_ns();
		if (c->reset == CR_FRESH) {
			vmm__close(vmm);
			vmm = NULL;
		}
		if (status) {
			snprintf(err, errlen, "run %" PRIu64 ": %s", i, res.err);
			break;
		}
		struct camp_result r = {
			.index = i, .seed = rc->seed, .run_id = res.run_id, .state = res.state,
			.exit_code = res.exit_code, .switches_done = res.switches_done,
			.switches_aborted = res.switches_aborted, .injected = rc->in.fired, .faults = rc->f.total,
			.exits = res.exits, .wall_ns = host_ns() - t0 + open_ns,
			.setup_ns = (t1 - t0) + (host_ns() - t2) + open_ns,
		};
		open_ns = 0;
		if (fn)
			fn(ctx, &r);
		if (res.state == RUN_STOPPED)
			break;            /* SIGINT / SIGTERM: the user stops the campaign */
	}
	vmm__close(vmm);
	ktrace_stop(&kt);
	injector__fini(&rc->in);
	free(rc);
	return status;
}
