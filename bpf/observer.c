/*
 * The kernel-side observer's userspace half: loads the CO-RE program from
 * its generated skeleton, sets the traced process before loading (the
 * filter runs in the kernel), drains the ring buffer on a thread, and
 * turns records into kexit rows. Built without BPF (no BTF at build time:
 * DEVIRT_NO_BPF), kobs__start reports the missing environment instead.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include "observer.h"
#include "../lib/hosttime.h"
#include "../traces/db.h"

#define TRACEFS "/sys/kernel/tracing"
#define MAX_TIDS 16

/* Pairing state of one vCPU thread: which I/O rows reached userspace. */
struct vcpu {
	uint32_t tid;
	size_t out_first, out_n;   /* the last write's rows, awaiting a userspace exit */
	int await_in;              /* a userspace exit is waiting for its read's value */
};

struct kobs {
	struct kexit_bpf *skel;
	struct ring_buffer *rb;
	pthread_mutex_t lock;      /* the ring buffer's consumer and the rows */
	pthread_t thread;
	int running;
	volatile int stop;
	struct krow *rows;
	size_t n, cap;
	int nomem;
	struct vcpu vcpus[MAX_TIDS];
	int nvcpus;
	uint64_t start_ns, end_ns;
	uint64_t base_seen, base_lost;  /* the BPF counters at the last kobs__clear */
	pid_t tgid;
};

const char *kobs__exit_name(uint32_t code)
{
	static const char *const names[] = {
		"KVM_EXIT_UNKNOWN", "KVM_EXIT_EXCEPTION", "KVM_EXIT_IO", "KVM_EXIT_HYPERCALL", "KVM_EXIT_DEBUG",
		"KVM_EXIT_HLT", "KVM_EXIT_MMIO", "KVM_EXIT_IRQ_WINDOW_OPEN", "KVM_EXIT_SHUTDOWN",
		"KVM_EXIT_FAIL_ENTRY", "KVM_EXIT_INTR", "KVM_EXIT_SET_TPR", "KVM_EXIT_TPR_ACCESS",
	};
	if (code == 17)
		return "KVM_EXIT_INTERNAL_ERROR";
	if (code == 24)
		return "KVM_EXIT_SYSTEM_EVENT";
	return code < sizeof(names) / sizeof(names[0]) ? names[code] : NULL;
}

const struct krow *kobs__rows(const struct kobs *o, size_t *n)
{
	*n = o->n;
	return o->rows;
}

uint64_t kobs__start_ns(const struct kobs *o) { return o->start_ns; }
uint64_t kobs__end_ns(const struct kobs *o) { return o->end_ns; }

uint64_t kobs__io(const struct kobs *o)
{
	uint64_t io = 0;
	for (size_t i = 0; i < o->n; i++)
		io += o->rows[i].user && (o->rows[i].kind == KR_PIO || o->rows[i].kind == KR_MMIO);
	return io;
}

static const char *reason_text(const struct krow *r, char *buf, size_t len)
{
	static const char *const kinds[] = { "exit", "entry", "pio", "mmio", "mmio-pending" };
	if (r->kind != KR_UEXIT)
		return kinds[r->kind];
	if (r->err < 0)
		snprintf(buf, len, "error:%d", r->err);
	else if (kobs__exit_name(r->code))
		snprintf(buf, len, "%s", kobs__exit_name(r->code));
	else
		snprintf(buf, len, "KVM_EXIT_%u", r->code);
	return buf;
}

int kobs__store(const struct kobs *o, sqlite3 *db, int64_t run, uint64_t wall0_ns, const char *target,
		char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct kobs *mo = (struct kobs *)o;   /* the lock only */
	pthread_mutex_lock(&mo->lock);
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO kexit (run, seq, ktime_ns, reason, space, addr, size, dir,"
					" value, tid, user, wall_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
					" ?11, ?12)", -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < o->n; i++) {
		const struct krow *r = &o->rows[i];
		char buf[32];
		int is_io = r->kind == KR_PIO || r->kind == KR_MMIO || r->kind == KR_MMIO_PENDING;
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite3_bind_int64(st, 3, (int64_t)r->ktime_ns);
		sqlite3_bind_text(st, 4, reason_text(r, buf, sizeof(buf)), -1, SQLITE_TRANSIENT);
		for (int c = 5; c <= 12; c++)
			sqlite3_bind_null(st, c);
		if (is_io) {
			sqlite3_bind_text(st, 5, r->kind == KR_PIO ? "pio" : "mmio", -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, (int64_t)r->addr);
			sqlite3_bind_int(st, 7, r->size);
			sqlite3_bind_text(st, 8, r->dir == 'w' ? "w" : "r", 1, SQLITE_STATIC);
			if (r->kind != KR_MMIO_PENDING)
				sqlite3_bind_int64(st, 9, (int64_t)r->value);
			sqlite3_bind_int(st, 11, r->user);
		} else if (r->kind == KR_EXIT) {
			sqlite3_bind_int64(st, 6, (int64_t)r->addr);
			sqlite3_bind_int64(st, 9, r->code);
		} else if (r->kind == KR_ENTRY) {
			sqlite3_bind_int64(st, 6, (int64_t)r->addr);
		} else {
			sqlite3_bind_int64(st, 9, r->err < 0 ? r->err : (int64_t)r->code);
		}
		sqlite3_bind_int64(st, 10, r->tid);
		if (wall0_ns)
			sqlite3_bind_int64(st, 12, (int64_t)(r->ktime_ns - wall0_ns));
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO observer (run, target, tgid, events, lost, io,"
					" start_ns, end_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, o->tgid);
		sqlite3_bind_int64(st, 4, (int64_t)kobs__events(o));
		sqlite3_bind_int64(st, 5, (int64_t)kobs__lost(o));
		sqlite3_bind_int64(st, 6, (int64_t)kobs__io(o));
		sqlite3_bind_int64(st, 7, (int64_t)o->start_ns);
		sqlite3_bind_int64(st, 8, (int64_t)(o->end_ns ? o->end_ns : host_ns()));
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&mo->lock);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	rc = db__fail(db, rc, err, errlen);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

#ifdef DEVIRT_NO_BPF

int kobs__start(struct kobs **o, pid_t tgid, char *err, size_t errlen)
{
	*o = NULL;
	snprintf(err, errlen, "built without the BPF observer (no /sys/kernel/btf/vmlinux at build time)");
	return -ENOSYS;
}

void kobs__stop(struct kobs *o) {}
void kobs__flush(struct kobs *o) {}
void kobs__clear(struct kobs *o) {}
uint64_t kobs__events(const struct kobs *o) { return 0; }
uint64_t kobs__lost(const struct kobs *o) { return 0; }
void kobs__free(struct kobs *o) { free(o); }

#else

#include <bpf/libbpf.h>
#include "kexit.h"
#include "kexit.skel.h"

/* Returns the pairing state of thread tid (a new one when unseen). */
static struct vcpu *vcpu_of(struct kobs *o, uint32_t tid)
{
	for (int i = 0; i < o->nvcpus; i++)
		if (o->vcpus[i].tid == tid)
			return &o->vcpus[i];
	int i = o->nvcpus < MAX_TIDS ? o->nvcpus++ : MAX_TIDS - 1;
	o->vcpus[i] = (struct vcpu){ .tid = tid };
	return &o->vcpus[i];
}

/* Appends a row; returns it, or NULL when out of memory (counted as lost). */
static struct krow *push(struct kobs *o, const struct kev *e, uint8_t kind)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 65536;
		struct krow *r = realloc(o->rows, cap * sizeof(*r));
		if (!r) {
			o->nomem = 1;
			return NULL;
		}
		o->rows = r;
		o->cap = cap;
	}
	struct krow *r = &o->rows[o->n++];
	*r = (struct krow){ .ktime_ns = e->ktime, .tid = e->tid, .kind = kind };
	return r;
}

/* Marks the rows [first, first + n) as having reached userspace. */
static void mark_user(struct kobs *o, size_t first, size_t n)
{
	for (size_t i = first; i < first + n && i < o->n; i++)
		o->rows[i].user = 1;
}

/* Appends the rows of one port access (count elements). */
static void on_pio(struct kobs *o, const struct kev *e, struct vcpu *v)
{
	size_t first = o->n;
	unsigned count = e->count ? e->count : 1;
	for (unsigned i = 0; i < count; i++) {
		uint64_t val = e->val;
		if (count > 1) {
			if ((uint64_t)(i + 1) * e->b > e->dlen)
				break;   /* beyond what the program could copy */
			val = 0;
			memcpy(&val, e->data + (size_t)i * e->b, e->b <= 8 ? e->b : 8);
		}
		struct krow *r = push(o, e, KR_PIO);
		if (!r)
			return;
		r->addr = e->addr;
		r->size = (uint8_t)e->b;
		r->dir = e->a ? 'w' : 'r';
		r->value = e->b < 8 ? val & ((1ull << (8 * e->b)) - 1) : val;
	}
	if (e->a) {
		v->out_first = first;
		v->out_n = o->n - first;
	} else {
		if (v->await_in)
			mark_user(o, first, o->n - first);
		v->await_in = 0;
		v->out_n = 0;
	}
}

static void on_mmio(struct kobs *o, const struct kev *e, struct vcpu *v)
{
	struct krow *r = push(o, e, e->a == 0 ? KR_MMIO_PENDING : KR_MMIO);
	if (!r)
		return;
	r->addr = e->addr;
	r->size = (uint8_t)e->b;
	r->dir = e->a == 2 ? 'w' : 'r';
	r->value = e->b < 8 ? e->val & ((1ull << (8 * e->b)) - 1) : e->val;
	if (e->a == 2) {
		v->out_first = o->n - 1;
		v->out_n = 1;
	} else if (e->a == 1) {
		if (v->await_in)
			r->user = 1;
		v->await_in = 0;
		v->out_n = 0;
	} else {
		r->user = 1;     /* unsatisfied: on its way to userspace */
		v->out_n = 0;
	}
}

static void on_uexit(struct kobs *o, const struct kev *e, struct vcpu *v)
{
	struct krow *r = push(o, e, KR_UEXIT);
	if (!r)
		return;
	r->code = e->a;
	r->err = (int32_t)e->b < 0 ? (int32_t)e->b : 0;
	if (r->err < 0 || (e->a != 2 && e->a != 6))
		return;          /* KVM_EXIT_IO / KVM_EXIT_MMIO only */
	if (v->out_n)
		mark_user(o, v->out_first, v->out_n);
	else
		v->await_in = 1;
	v->out_n = 0;
}

/* ring_buffer callback: one record. */
static int on_event(void *ctx, void *data, size_t size)
{
	struct kobs *o = ctx;
	const struct kev *e = data;
	if (size < sizeof(*e))
		return 0;
	struct vcpu *v = vcpu_of(o, e->tid);
	struct krow *r;
	switch (e->kind) {
	case KEV_EXIT:
		if ((r = push(o, e, KR_EXIT))) {
			r->code = e->a;
			r->addr = e->addr;
		}
		break;
	case KEV_ENTRY:
		if ((r = push(o, e, KR_ENTRY)))
			r->addr = e->addr;
		break;
	case KEV_PIO:
		on_pio(o, e, v);
		break;
	case KEV_MMIO:
		on_mmio(o, e, v);
		break;
	case KEV_UEXIT:
		on_uexit(o, e, v);
		break;
	}
	return 0;
}

uint64_t kobs__events(const struct kobs *o) { return o->skel->bss->seen - o->base_seen; }

uint64_t kobs__lost(const struct kobs *o) { return o->skel->bss->lost - o->base_lost + (o->nomem ? 1 : 0); }

/* The consumer thread: records arrive in batches (the program wakes it
 * only when enough is waiting), else every 20 ms. It waits without the
 * lock, so that kobs__flush never waits for its timeout. */
static void *drain(void *arg)
{
	struct kobs *o = arg;
	int epfd = ring_buffer__epoll_fd(o->rb);
	while (!o->stop) {
		struct epoll_event ev;
		if (epoll_wait(epfd, &ev, 1, 20) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&o->lock);
		ring_buffer__consume(o->rb);
		pthread_mutex_unlock(&o->lock);
	}
	return NULL;
}

void kobs__flush(struct kobs *o)
{
	pthread_mutex_lock(&o->lock);
	ring_buffer__consume(o->rb);
	pthread_mutex_unlock(&o->lock);
}

void kobs__clear(struct kobs *o)
{
	pthread_mutex_lock(&o->lock);
	o->n = 0;
	o->nomem = 0;
	for (int i = 0; i < o->nvcpus; i++)
		o->vcpus[i].out_n = 0;
	o->base_seen = o->skel->bss->seen;
	o->base_lost = o->skel->bss->lost;
	o->start_ns = host_ns();
	pthread_mutex_unlock(&o->lock);
}

static char g_log[512];

/* libbpf's messages: kept (the last warning explains a failed load), shown
 * with DEVIRT_BPF_DEBUG=1. */
static int on_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("DEVIRT_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level <= LIBBPF_WARN) {
		vsnprintf(g_log, sizeof(g_log), fmt, ap);
		g_log[strcspn(g_log, "\n")] = 0;
	}
	return 0;
}

/* Mounts tracefs when it is not; returns 0 or -errno with err set. */
static int need_tracefs(char *err, size_t errlen)
{
	struct stat sb;
	if (stat(TRACEFS "/events", &sb) == 0)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		int e = errno;
		snprintf(err, errlen, "tracefs is not mounted at " TRACEFS " and mounting it failed: %s%s",
			 strerror(e), e == EPERM ? " (run as root)" : "");
		return e == EPERM ? -EPERM : -ENOSYS;
	}
	return 0;
}

int kobs__start(struct kobs **op, pid_t tgid, char *err, size_t errlen)
{
	*op = NULL;
	struct stat sb;
	if (stat("/sys/kernel/btf/vmlinux", &sb)) {
		snprintf(err, errlen, "the kernel has no BTF (/sys/kernel/btf/vmlinux): the CO-RE observer cannot load");
		return -ENOSYS;
	}
	int rc = need_tracefs(err, errlen);
	if (rc)
		return rc;
	if (stat(TRACEFS "/events/kvm/kvm_pio", &sb)) {
		snprintf(err, errlen, "no KVM tracepoints in " TRACEFS "/events/kvm (is KVM built in or loaded?)");
		return -ENOSYS;
	}
	struct kobs *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	pthread_mutex_init(&o->lock, NULL);
	libbpf_set_print(on_libbpf);
	g_log[0] = 0;
	o->skel = kexit_bpf__open();
	if (!o->skel) {
		rc = -errno;
		goto fail;
	}
	o->tgid = tgid;
	o->skel->rodata->target_tgid = (uint32_t)tgid;
	if ((rc = kexit_bpf__load(o->skel)) || (rc = kexit_bpf__attach(o->skel)))
		goto fail;
	o->rb = ring_buffer__new(bpf_map__fd(o->skel->maps.events), on_event, o, NULL);
	if (!o->rb) {
		rc = -errno;
		goto fail;
	}
	o->start_ns = host_ns();
	if ((rc = -pthread_create(&o->thread, NULL, drain, o)))
		goto fail;
	o->running = 1;
	*op = o;
	return 0;
fail:
	if (rc == -EPERM || rc == -EACCES)
		snprintf(err, errlen, "loading the BPF observer was refused (%s): run as root", strerror(-rc));
	else
		snprintf(err, errlen, "loading the BPF observer failed: %s%s%s", strerror(-rc), g_log[0] ? ": " : "",
			 g_log);
	ring_buffer__free(o->rb);
	kexit_bpf__destroy(o->skel);
	pthread_mutex_destroy(&o->lock);
	free(o);
	return rc == -EPERM || rc == -EACCES ? -EPERM : -ENOSYS;
}

void kobs__stop(struct kobs *o)
{
	if (!o || !o->running)
		return;
	kexit_bpf__detach(o->skel);
	o->stop = 1;
	pthread_join(o->thread, NULL);
	ring_buffer__consume(o->rb);
	o->running = 0;
	o->end_ns = host_ns();
}

void kobs__free(struct kobs *o)
{
	if (!o)
		return;
	kobs__stop(o);
	pthread_mutex_destroy(&o->lock);
	ring_buffer__free(o->rb);
	kexit_bpf__destroy(o->skel);
	free(o->rows);
	free(o);
}

#endif
