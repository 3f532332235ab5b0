/*
 * A session: one VM, its disks and its platform, opened once and run many
 * times (vmm.h). Every run after the first starts from the snapshot taken
 * at open (snapshot.c) and from the disks' base content, so that it sees
 * what a run on a new VM would. vmm__run is a session of one run, so
 * `devirt run`, the tests and the campaign runner share one code path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "../devices/ringblk.h"

/* A disk of the session: the image the device uses and what a reset
 * restores it to. */
struct vdisk {
	struct blk blk;          /* what the device reads and writes */
	struct blk base;         /* private copy's base (read-only); fd -1: zeros */
	int resettable;          /* anonymous or private: each run starts from the base */
};

struct vmm {
	struct vmm_cfg cfg;      /* the open-time fields */
	struct vm vm;
	struct machine m;
	struct vdisk ata, rb;
	struct snapshot *snap;
	int machine_up;
	int ran;                 /* a run happened since the snapshot */
	char sha_path[4096];     /* image whose hash sha holds */
	char sha[65];
};

/* blk__chunks callback: copies one base chunk into the private image. */
static int copy_chunk(void *ctx, uint64_t index, const void *data, uint32_t len)
{
	struct blk *dst = ctx;
	off_t off = (off_t)(index * BLK_CHUNK);
	for (uint32_t done = 0; done < len;) {
		ssize_t n = pwrite(dst->fd, (const char *)data + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (uint32_t)n;
	}
	return 0;
}

/* Gives d the base's content again: empties the image (a hole reads as
 * zeros) and copies the base's non-zero chunks. Returns 0 or -errno. */
static int vdisk_reset(struct vdisk *d)
{
	off_t bytes = (off_t)(d->blk.sectors * BLK_SECTOR);
	if (ftruncate(d->blk.fd, 0) < 0 || ftruncate(d->blk.fd, bytes) < 0)
		return -errno;
	return d->base.fd >= 0 ? blk__chunks(&d->base, copy_chunk, &d->blk) : 0;
}

/* Opens disk d: path itself (shared), a private copy of path, or an
 * anonymous image of size bytes. Returns 0 or VMM_BAD_INPUT (res->err set). */
static int vdisk_open(struct vdisk *d, const char *path, uint64_t size, int private_copy, const char *opt,
		      struct vmm_result *res)
{
	char err[200];
	uint64_t bytes = size ? size : 16ull << 20;
	struct stat st;
	int rc;
	d->blk.fd = d->base.fd = -1;
	if (path && private_copy) {
		d->base.fd = open(path, O_RDONLY | O_CLOEXEC);
		if (d->base.fd < 0 || fstat(d->base.fd, &st) < 0 || st.st_size < BLK_SECTOR) {
			snprintf(res->err, sizeof(res->err), "%s: %s: %s", opt, path,
				 d->base.fd < 0 ? strerror(errno) : "not a disk image (smaller than a sector)");
			return VMM_BAD_INPUT;
		}
		d->base.sectors = (uint64_t)st.st_size / BLK_SECTOR;
		bytes = d->base.sectors * BLK_SECTOR;
	}
	if (path && !private_copy)
		rc = blk__open(&d->blk, path, bytes, err, sizeof(err));
	else
		rc = blk__open_temp(&d->blk, bytes, err, sizeof(err));
	d->resettable = !path || private_copy;
	if (!rc && d->base.fd >= 0 && blk__chunks(&d->base, copy_chunk, &d->blk) < 0) {
		snprintf(err, sizeof(err), "%s: cannot copy the base image", path);
		rc = -EIO;
	}
	if (rc)
		snprintf(res->err, sizeof(res->err), "%s: %s", opt, err);
	return rc ? VMM_BAD_INPUT : VMM_RAN;
}

/* Closes d's image and base. */
static void vdisk_close(struct vdisk *d)
{
	blk__close(&d->blk);
	if (d->base.fd >= 0)
		close(d->base.fd);
	d->base.fd = -1;
}

int vmm__open(struct vmm **vp, const struct vmm_cfg *cfg, struct vmm_result *res)
{
	uint64_t mem = cfg->mem ? cfg->mem : 64ull << 20;
	memset(res, 0, sizeof(*res));
	*vp = NULL;
	if (mem < (2ull << 20) || mem > (3ull << 30)) {
		snprintf(res->err, sizeof(res->err), "--mem: %llu bytes is outside 2 MiB..3 GiB",
			 (unsigned long long)mem);
		return VMM_BAD_INPUT;
	}
	struct vmm *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(res->err, sizeof(res->err), "out of memory");
		return VMM_NO_ENV;
	}
	v->cfg = *cfg;
	v->vm.kvm_fd = v->vm.vm_fd = v->vm.vcpu_fd = -1;
	v->ata.blk.fd = v->ata.base.fd = v->rb.blk.fd = v->rb.base.fd = -1;
	int status = vdisk_open(&v->ata, cfg->disk, cfg->disk_size, cfg->private_disks, "--disk", res);
	if (status == VMM_RAN)
		status = vdisk_open(&v->rb, cfg->ringblk_disk, cfg->ringblk_disk_size, cfg->private_disks,
				    "--ringblk-disk", res);
	if (status != VMM_RAN)
		goto fail;
	if (vm__open(&v->vm, cfg->kvm_dev ? cfg->kvm_dev : "/dev/kvm", mem, res->err, sizeof(res->err))) {
		status = VMM_NO_ENV;
		goto fail;
	}
	struct machine_cfg mc = { .exit_cost_ns = cfg->exit_cost_ns, .vtime_limit_ns = cfg->vtimeout_ns,
				  .console_fd = cfg->console_fd, .ata_disk = &v->ata.blk,
				  .ringblk_disk = &v->rb.blk };
	if (machine__init(&v->m, &mc, v->vm.ram, v->vm.ram_size)) {
		snprintf(res->err, sizeof(res->err), "out of memory building the platform");
		status = VMM_NO_ENV;
		goto fail;
	}
	v->machine_up = 1;
	if (snapshot__take(&v->snap, &v->vm, &v->m, res->err, sizeof(res->err))) {
		status = VMM_NO_ENV;
		goto fail;
	}
	*vp = v;
	return VMM_RAN;
fail:
	vmm__close(v);
	return status;
}

int vmm__reset(struct vmm *v, struct vmm_result *res)
{
	if (!v->ran)
		return VMM_RAN;
	res->err[0] = 0;
	int rc = snapshot__restore(v->snap, &v->vm, &v->m, res->err, sizeof(res->err));
	if (!rc && v->ata.resettable)
		rc = vdisk_reset(&v->ata);
	if (!rc && v->rb.resettable)
		rc = vdisk_reset(&v->rb);
	if (rc && !res->err[0])
		snprintf(res->err, sizeof(res->err), "cannot reset the disks: %s", strerror(-rc));
	if (!rc)
		v->ran = 0;
	return rc ? VMM_NO_ENV : VMM_RAN;
}

/* Starts the run's trace: the run row with what a replay needs (the
 * image's identity, the disks' content before the run, the machine's
 * shape). Returns an enum vmm_status. */
static int start_trace(struct vmm *v, const struct vmm_cfg *cfg, struct trace **tp, struct vmm_result *res)
{
	struct trace_run info = { .seed = -1 };
	if (cfg->run_info)
		info = *cfg->run_info;
	if (strcmp(v->sha_path, cfg->image)) {
		snprintf(v->sha_path, sizeof(v->sha_path), "%s", cfg->image);
		if (vmm_file_sha256(cfg->image, v->sha))
			v->sha[0] = 0;
	}
	info.image_sha256 = v->sha[0] ? v->sha : NULL;
	info.ata_disk = &v->ata.blk;
	info.ringblk_disk = &v->rb.blk;
	info.ringblk_path = v->cfg.ringblk_disk;
	info.mem = v->vm.ram_size;
	info.exit_cost_ns = v->m.exit_cost_ns;
	if (trace__start(tp, cfg->db, &info, res->err, sizeof(res->err)))
		return VMM_BAD_INPUT;
	res->run_id = trace__run_id(*tp);
	res->wall0_ns = trace__t0(*tp);
	trace__devices(*tp, &v->m);
	machine__add_hook(&v->m, trace__event, *tp);
	return VMM_RAN;
}

int vmm__run_once(struct vmm *v, const struct vmm_cfg *run_cfg, struct vmm_result *res)
{
	struct engine *engine = NULL;
	struct trace *trace = NULL;
	struct machine *m = &v->m;
	int status = VMM_RAN, attached = 0;
	memset(res, 0, sizeof(*res));
	if ((status = vmm__reset(v, res)) != VMM_RAN)
		return status;
	v->ran = 1;
	/* the machine's shape is the session's, whatever run_cfg says */
	struct vmm_cfg c = *run_cfg;
	c.ringblk_trap = v->cfg.ringblk_trap;
	if (c.trace)
		machine__add_hook(m, c.trace, c.trace_ctx);
	if (c.db && (status = start_trace(v, &c, &trace, res)) != VMM_RAN)
		return status;
	if (m->ringblk && !c.ringblk_trap &&
	    vm__set_slot(&v->vm, 1, RINGBLK_BASE, RINGBLK_SIZE, ringblk__bar(m->ringblk))) {
		/* pass-through: the BAR is a memory slot, guest accesses do not exit */
		snprintf(res->err, sizeof(res->err), "cannot map the ringblk BAR: %s", strerror(errno));
		status = VMM_NO_ENV;
		goto out;
	}
	if (c.engine && (status = vmm_start_engine(&c, &v->vm, m, trace, &engine, res)) != VMM_RAN)
		goto out;
	if (c.attach) {
		if (c.attach(c.attach_ctx, m, engine, trace, res->err, sizeof(res->err))) {
			status = VMM_BAD_INPUT;
			goto out;
		}
		attached = 1;
	}
	status = vmm_boot(&c, &v->vm, m, res);
out:
	if (attached && c.detach)
		c.detach(c.attach_ctx);
	res->state = m->state;
	res->exit_code = m->exit_code;
	res->events = m->seq;
	res->exits = m->counts[EXIT_PIO] + m->counts[EXIT_MMIO] + m->counts[EXIT_HLT];
	memcpy(res->counts, m->counts, sizeof(res->counts));
	res->unhandled = m->unhandled;
	res->vtime_ns = m->clock.now;
	if (m->ringblk)
		res->ringblk_exits = machine__exits_of(m, m->ringblk, BUS_MMIO);
	if (engine)
		engine__counts(engine, &res->switches_done, &res->switches_aborted, &res->switches_pending);
	if (trace && trace__finish(trace, status == VMM_RAN ? run_state__name(m->state) : NULL, m->exit_code,
				   res->exits, m->clock.now, res->err, sizeof(res->err)) && status == VMM_RAN)
		status = VMM_TRACE_FAILED;
	engine__destroy(engine);
	return status;
}

void vmm__close(struct vmm *v)
{
	if (!v)
		return;
	snapshot__free(v->snap);
	if (v->machine_up)
		machine__destroy(&v->m);
	vm__close(&v->vm);
	vdisk_close(&v->ata);
	vdisk_close(&v->rb);
	free(v);
}

int vmm__run(const struct vmm_cfg *cfg, struct vmm_result *res)
{
	struct vmm *v;
	int status = vmm__open(&v, cfg, res);
	if (status == VMM_RAN)
		status = vmm__run_once(v, cfg, res);
	vmm__close(v);
	return status;
}
