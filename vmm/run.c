/*
 * The run loop: enter the guest, dispatch its exit to the machine, inject a
 * pending interrupt when the guest can take one, repeat. Port I/O and MMIO
 * go through machine__access (the choke point); the loop itself knows no
 * device. Interrupts are injected only here, at exits, with KVM_INTERRUPT
 * from the userspace PIC (DESIGN rule 3). A wall-clock timer and SIGINT /
 * SIGTERM kick the vCPU out through kvm_run.immediate_exit. One run's
 * loop only: the VM's lifetime (vmm__open, vmm__run) is session.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "../machine/multiboot.h"
#include "../devices/ringblk.h"
#include "../lib/sha256.h"
#include "../lib/hosttime.h"

static struct kvm_run *volatile g_run;
static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
	g_signal = sig;
	if (g_run)
		g_run->immediate_exit = 1;
}

/* Reads a whole file. Returns a malloc'd buffer or NULL with err set. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
		snprintf(err, errlen, "%s: not a regular file of at most 64 MiB", path);
		close(fd);
		return NULL;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			snprintf(err, errlen, "%s: read failed", path);
			free(buf);
			buf = NULL;
		} else {
			got += (size_t)n;
		}
	}
	close(fd);
	*len = got;
	return buf;
}

/* Serves one KVM_EXIT_IO, including string I/O (count > 1). */
static void do_pio(struct machine *m, struct kvm_run *run, uint64_t rip)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		struct bus_access a = { .space = BUS_PIO, .addr = run->io.port,
					.size = run->io.size,
					.write = run->io.direction == KVM_EXIT_IO_OUT };
		if (a.write)
			memcpy(&a.value, data, run->io.size);
		machine__access(m, &a, rip);
		if (!a.write)
			memcpy(data, &a.value, run->io.size);
	}
}

static void do_mmio(struct machine *m, struct kvm_run *run, uint64_t rip)
{
	struct bus_access a = { .space = BUS_MMIO, .addr = run->mmio.phys_addr,
				.size = (uint8_t)run->mmio.len, .write = run->mmio.is_write };
	if (a.size > 8)
		a.size = 8;
	if (a.write)
		memcpy(&a.value, run->mmio.data, a.size);
	machine__access(m, &a, rip);
	if (!a.write)
		memcpy(run->mmio.data, &a.value, a.size);
}

/* Injects a pending interrupt if the guest can take it at this exit.
 * Only called after exits the machine logged (I/O, MMIO, HLT): whether IF is
 * set there is a function of the guest's instruction stream alone. We never
 * ask KVM for an interrupt-window exit: on this host (PVM) that exit lands a
 * variable number of instructions after the window opens, which made
 * injection points, and so traces, differ between identical runs. A pending
 * interrupt waits for the guest's next exit with IF set (our guests wait
 * with HLT or I/O). Returns 0 or -errno. */
static int inject(struct vm *vm, struct machine *m)
{
	struct kvm_run *run = vm->run;
	run->request_interrupt_window = 0;
	if (!machine__irq_pending(m) || !run->ready_for_interrupt_injection || !run->if_flag)
		return 0;
	struct kvm_interrupt irq = { .irq = (uint32_t)machine__irq_ack(m, run->s.regs.regs.rip) };
	return ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq) < 0 ? -errno : 0;
}

/* Marks the run crashed and prints the registers. */
static void crash(struct vm *vm, struct machine *m, struct vmm_result *res, const char *why)
{
	snprintf(res->err, sizeof(res->err), "%s", why);
	fprintf(stderr, "devirt: guest crashed: %s at vtime %llu ns\n", why,
		(unsigned long long)m->clock.now);
	vm__dump_regs(vm);
	m->state = RUN_CRASH;
}

/* Runs the vCPU until the machine leaves RUN_GOING. */
static void loop(struct vm *vm, struct machine *m, struct vmm_result *res, uint64_t wall_deadline)
{
	struct kvm_run *run = vm->run;
	char why[128];
	int logged = 1;       /* the last exit was one the machine logged */
	while (m->state == RUN_GOING) {
		if (logged && inject(vm, m) < 0) {
			crash(vm, m, res, "KVM_INTERRUPT failed");
			break;
		}
		uint64_t in = host_ns();
		int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
		res->kvm_ns += host_ns() - in;
		if (rc < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				snprintf(why, sizeof(why), "KVM_RUN: %s", strerror(errno));
				crash(vm, m, res, why);
				break;
			}
			run->immediate_exit = 0;
			logged = 0;
			if (g_signal == SIGALRM || (wall_deadline && host_ns() >= wall_deadline))
				m->state = RUN_WTIMEOUT;
			else if (g_signal)
				m->state = RUN_STOPPED;
			continue;
		}
		uint64_t rip = run->s.regs.regs.rip;
		logged = run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO ||
			 run->exit_reason == KVM_EXIT_HLT;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			do_pio(m, run, rip);
			break;
		case KVM_EXIT_MMIO:
			do_mmio(m, run, rip);
			break;
		case KVM_EXIT_HLT:
			if (!run->if_flag) {
				m->state = RUN_HUNG;   /* nothing maskable can wake it */
				break;
			}
			machine__halt(m, rip);
			break;
		case KVM_EXIT_IRQ_WINDOW_OPEN:
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			crash(vm, m, res, "triple fault (shutdown)");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(why, sizeof(why), "VM entry failed (reason 0x%llx)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			crash(vm, m, res, why);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			snprintf(why, sizeof(why), "KVM internal error (suberror %u)", run->internal.suberror);
			crash(vm, m, res, why);
			break;
		default:
			snprintf(why, sizeof(why), "unexpected exit reason %u", run->exit_reason);
			crash(vm, m, res, why);
			break;
		}
	}
}

/* Arms the wall-clock timer and signal handlers; undone by disarm(). */
static void arm(struct vm *vm, uint64_t wtimeout_ns, struct sigaction old[3])
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	g_signal = 0;
	g_run = vm->run;
	sigaction(SIGALRM, &sa, &old[0]);
	sigaction(SIGINT, &sa, &old[1]);
	sigaction(SIGTERM, &sa, &old[2]);
	if (wtimeout_ns) {
		struct itimerval it = { .it_value = { .tv_sec = (time_t)(wtimeout_ns / 1000000000ull),
						      .tv_usec = (suseconds_t)(wtimeout_ns % 1000000000ull / 1000) } };
		if (!it.it_value.tv_sec && !it.it_value.tv_usec)
			it.it_value.tv_usec = 1;
		setitimer(ITIMER_REAL, &it, NULL);
	}
}

static void disarm(struct sigaction old[3])
{
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	g_run = NULL;
	sigaction(SIGALRM, &old[0], NULL);
	sigaction(SIGINT, &old[1], NULL);
	sigaction(SIGTERM, &old[2], NULL);
}

int vmm_boot(const struct vmm_cfg *cfg, struct vm *vm, struct machine *m, struct vmm_result *res)
{
	struct multiboot_image mb;
	struct sigaction old[3];
	char lerr[200];
	size_t len = 0;
	uint8_t *img = slurp(cfg->image, &len, res->err, sizeof(res->err));
	if (!img)
		return VMM_BAD_INPUT;
	char *cmdline = malloc(strlen(cfg->image) + (cfg->args ? strlen(cfg->args) : 0) + 2);
	int status = VMM_RAN;
	if (cmdline)
		sprintf(cmdline, "%s%s%s", cfg->image, cfg->args && *cfg->args ? " " : "",
			cfg->args ? cfg->args : "");
	if (!cmdline || multiboot__load(&m->mem, img, len, cmdline, &mb, lerr, sizeof(lerr))) {
		snprintf(res->err, sizeof(res->err), "%s: %s", cfg->image, cmdline ? lerr : "out of memory");
		status = VMM_BAD_INPUT;
	} else if (vm__reset_cpu(vm, (uint32_t)mb.entry, MULTIBOOT_BOOTLOADER_MAGIC, mb.info)) {
		snprintf(res->err, sizeof(res->err), "cannot set the vCPU's registers: %s", strerror(errno));
		status = VMM_NO_ENV;
	} else {
		arm(vm, cfg->wtimeout_ns, old);
		uint64_t t0 = host_ns();
		loop(vm, m, res, cfg->wtimeout_ns ? t0 + cfg->wtimeout_ns : 0);
		res->wall_ns = host_ns() - t0;
		disarm(old);
	}
	free(cmdline);
	free(img);
	return status;
}

int vmm_file_sha256(const char *path, char out[65])
{
	uint8_t buf[65536];
	struct sha256 h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	sha256__init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			if (n < 0)
				return -EIO;
			break;
		}
		sha256__update(&h, buf, (size_t)n);
	}
	sha256__hex(&h, out);
	return 0;
}

/* eng_trap_fn: the ringblk BAR slot. Pass-through maps the model's own
 * register page as KVM memory slot 1 (guest accesses do not exit);
 * trapping deletes the slot, so every access exits as MMIO (V2 / D6). */
static int trap_slot(void *ctx, struct hw *hw, int trapped)
{
	struct vm *vm = ctx;
	return vm__set_slot(vm, 1, RINGBLK_BASE, trapped ? 0 : RINGBLK_SIZE, ringblk__bar(hw));
}

int vmm_start_engine(const struct vmm_cfg *cfg, struct vm *vm, struct machine *m,
		     struct trace *trace, struct engine **ep, struct vmm_result *res)
{
	struct engine_cfg ec = *cfg->engine;
	if (m->ringblk && !cfg->ringblk_trap) {
		ec.trap = trap_slot;
		ec.trap_ctx = vm;
	}
	if (trace) {
		ec.sink = trace__engine;
		ec.sink_ctx = trace;
	}
	int rc = engine__create(ep, m, &ec);
	if (rc) {
		snprintf(res->err, sizeof(res->err), "cannot start the engine: %s", strerror(-rc));
		return VMM_NO_ENV;
	}
	for (int i = 0; i < cfg->ntriggers; i++) {
		if (engine__add_trigger(*ep, &cfg->triggers[i])) {
			snprintf(res->err, sizeof(res->err), "--switch: device '%s' is not present",
				 cfg->triggers[i].device);
			return VMM_BAD_INPUT;
		}
	}
	for (int i = 0; i < cfg->nvirtualized; i++) {
		rc = engine__start_virtualized(*ep, cfg->virtualized[i]);
		if (rc) {
			snprintf(res->err, sizeof(res->err), "--mode %s=virtualized: %s", cfg->virtualized[i],
				 rc == -ENOENT ? "no such device" : "the device could not be virtualized");
			return rc == -ENOENT ? VMM_BAD_INPUT : VMM_NO_ENV;
		}
	}
	return VMM_RAN;
}
