/*
 * What the vmm/ files share and nobody else sees: the run loop's entry
 * points (run.c), the session (session.c: one VM, many runs) and its
 * snapshot (snapshot.c: the state every run starts from).
 */
#ifndef DEVIRT_VMM_INTERNAL_H
#define DEVIRT_VMM_INTERNAL_H

#include "vm.h"
#include "vmm.h"

/* Loads cfg->image with cfg->args into m's RAM, puts the vCPU at the
 * Multiboot entry and runs the guest until the machine stops (run.c).
 * Returns an enum vmm_status; fills res's err and wall_ns. */
int vmm_boot(const struct vmm_cfg *cfg, struct vm *vm, struct machine *m, struct vmm_result *res);

/* Creates the engine for cfg on m with its triggers and initial modes,
 * reporting to trace (may be NULL) (run.c). Returns an enum vmm_status. */
int vmm_start_engine(const struct vmm_cfg *cfg, struct vm *vm, struct machine *m,
		     struct trace *trace, struct engine **ep, struct vmm_result *res);

/* Writes the SHA-256 of the file at path as hex into out (run.c).
 * Returns 0 or -errno. */
int vmm_file_sha256(const char *path, char out[65]);

struct snapshot;

/* Saves the state a run starts from (snapshot.c): guest RAM (its non-zero
 * pages), the vCPU (registers, FPU/XSAVE, MSRs, events), the machine
 * (clock, bus, routing) and every device's state. Returns 0 or -errno
 * with a reason in err. */
int snapshot__take(struct snapshot **sp, struct vm *vm, struct machine *m, char *err, size_t errlen);

/* Puts vm and m back in the saved state: completes the vCPU's pending I/O,
 * restores the vCPU, RAM and devices, and re-creates RAM's memory slot so
 * that KVM keeps no mapping or shadow page of the last run. Returns 0 or
 * -errno with a reason in err. */
int snapshot__restore(struct snapshot *s, struct vm *vm, struct machine *m, char *err, size_t errlen);

/* Frees a snapshot (NULL is fine). */
void snapshot__free(struct snapshot *s);

#endif
