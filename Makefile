# devirt: build, test, run, bench.
#   make            bin/devirt, the core libraries and the guest images
#   make test       all tests (Criterion); SANITIZE=1 for ASan+UBSan
#   make run        the main job (installs what is missing first)
#   make bench      benchmarks (bench/), CSV under bench/results/
# Quiet by default; V=1 shows the commands.

CC      ?= gcc
SANITIZE ?= 0
Q        = $(if $(V),,@)
say      = $(if $(V),,@printf '  %-8s %s\n' '$(1)' '$@';)

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wno-unused-parameter -D_GNU_SOURCE -MD -MP \
	   -DDEVIRT_VERSION='"devirt $(VERSION)"'
LDFLAGS :=
LDLIBS  := -lsqlite3 -lpcre2-8 -linih -lbpf -lelf -lz -lpthread -lm
ifeq ($(SANITIZE),1)
BUILD   := build/asan
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
DEVIRT  := $(BUILD)/bin/devirt
else
BUILD   := build
DEVIRT  := bin/devirt
endif

# The KVM-free core: hardware models, platform, helpers.
CORE_SRCS := lib/clock.c lib/gmem.c lib/units.c lib/blk.c lib/sha256.c
CORE_SRCS += devices/hw.c devices/pic.c devices/pit.c devices/uart.c devices/simple.c devices/ringblk.c devices/ata.c
CORE_SRCS += devices/regnames.c
CORE_SRCS += machine/bus.c machine/machine.c machine/multiboot.c
CORE_SRCS += traces/db.c traces/schema_blob.S traces/store.c traces/text.c
CORE_SRCS += traces/import_qemu.c traces/import_kexit.c traces/merge.c
CORE_SRCS += traces/sqlite_ext.c
# Invariant checks (analysis/checks.sql is built in).
CORE_SRCS += analysis/check.c analysis/check_i8.c analysis/checks_blob.S
# The virtualize/devirtualize engine: core and one module per device.
CORE_SRCS += engine/engine.c engine/switch.c engine/spec.c engine/ata.c engine/uart.c engine/ringblk.c
CORE_SRCS += engine/ata_track.c engine/ata_emu.c engine/ata_drv.c
CORE_SRCS += engine/uart_xfer.c engine/uart_drv.c
CORE_SRCS += engine/ringblk_emu.c engine/checkpoint.c
# Offline replay (KVM-free, in the core); its --live check needs the monitor: CLI.
REPLAY_SRCS := replay/rtrace.c replay/early.c replay/rig.c replay/guest.c replay/irq.c replay/ckpt.c replay/spec.c
REPLAY_SRCS += replay/report.c replay/exhaustive.c replay/replay.c
CORE_SRCS += $(REPLAY_SRCS)
# The KVM monitor.
VMM_SRCS  := vmm/vm.c vmm/run.c vmm/session.c vmm/snapshot.c
# The kernel-side observer (CO-RE BPF, libbpf skeleton; bpf/).
BPF_SRCS  := bpf/observer.c
# Campaigns: config, switch triggers, faults, runner, jobs, report.
INJECT_SRCS := inject/config.c inject/trigger.c inject/faults.c inject/runner.c inject/replays.c inject/jobs.c
INJECT_SRCS += inject/report.c
# The command line.
CLI_SRCS  := cli/main.c cli/guest_path.c cli/cmd_run.c
CLI_SRCS  += cli/cmd_import.c cli/cmd_merge.c cli/cmd_campaign.c
CLI_SRCS  += cli/cmd_sql.c cli/cmd_check.c cli/cmd_observe.c
CLI_SRCS  += cli/cmd_replay.c replay/live.c
# Reports (HTML, Perfetto JSON, gnuplot PNGs) for devirt report.
REPORT_SRCS := analysis/report_model.c analysis/report_text.c analysis/report_timeline.c analysis/report_hist.c
REPORT_SRCS += analysis/report_html.c analysis/report_perfetto.c analysis/report_plots.c
CLI_SRCS  += cli/cmd_report.c $(REPORT_SRCS)
# Tests: one Criterion binary, one summary line.
TEST_SRCS := tests/helpers.c
TEST_SRCS += tests/test_clock.c tests/test_units.c tests/test_bus.c tests/test_pic.c
TEST_SRCS += tests/test_pit.c tests/test_uart.c tests/test_multiboot.c tests/test_ringblk.c tests/test_ata.c
TEST_SRCS += tests/test_run.c tests/test_cli.c tests/test_qemu.c tests/test_workloads.c tests/test_fuzz.c tests/test_trace.c
TEST_SRCS += tests/test_import.c
TEST_SRCS += tests/test_sql.c
TEST_SRCS += tests/eharness.c tests/test_engine.c tests/test_switch.c tests/test_check.c
TEST_SRCS += tests/test_engine_ata.c tests/test_engine_uart.c tests/test_engine_ringblk.c
TEST_SRCS += tests/test_campaign.c
TEST_SRCS += tests/test_report.c
TEST_SRCS += tests/test_replay.c
TEST_SRCS += tests/test_observe.c
TEST_SRCS += tests/test_corpus.c

obj = $(patsubst %.S,$(BUILD)/obj/%.o,$(patsubst %.c,$(BUILD)/obj/%.o,$(1)))
CORE_LIB  := $(BUILD)/libdevirt.a
VMM_LIB   := $(BUILD)/libdevirt-vmm.a
INJECT_LIB := $(BUILD)/libdevirt-inject.a
BPF_LIB   := $(BUILD)/libdevirt-bpf.a
TESTS     := $(BUILD)/tests/devirt-tests
# The loadable SQLite extension, for the sqlite3 shell and other hosts: one
# uninstrumented copy in build/ for both modes (an ASan .so cannot load into
# a host without ASan); the in-process copy in libdevirt is sanitized.
EXT       := build/devirt_sqlite.so
EXT_SRCS  := traces/sqlite_ext.c traces/text.c devices/regnames.c
EXT_CFLAGS = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS)) -fPIC -DDEVIRT_SQLITE_LOADABLE

.DELETE_ON_ERROR:
.PHONY: all deps test run bench clean guest corpus
all: $(DEVIRT) $(CORE_LIB) $(EXT) guest

include guest/guest.mk

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(@D)
	$(call say,AS)$(CC) -c $< -o $@

# the schema is assembled into the binary
$(BUILD)/obj/traces/schema_blob.o: traces/schema.sql
$(BUILD)/obj/analysis/checks_blob.o: analysis/checks.sql

$(CORE_LIB): $(call obj,$(CORE_SRCS))
	$(call say,AR)rm -f $@ && ar rcs $@ $^

$(VMM_LIB): $(call obj,$(VMM_SRCS))
	$(call say,AR)rm -f $@ && ar rcs $@ $^

$(INJECT_LIB): $(call obj,$(INJECT_SRCS))
	$(call say,AR)rm -f $@ && ar rcs $@ $^

# The observer: vmlinux.h from the running kernel's BTF, the BPF object
# (clang, CO-RE), its skeleton (bpftool gen skeleton). Without BTF the
# observer is built as a stub that reports the missing environment.
BTF       := $(wildcard /sys/kernel/btf/vmlinux)
BPFTOOL   ?= $(shell command -v bpftool || echo /usr/sbin/bpftool)
BPF_GEN   := build/bpf
ifeq ($(BTF),)
$(BUILD)/obj/bpf/observer.o: CFLAGS += -DDEVIRT_NO_BPF
else
$(BUILD)/obj/bpf/observer.o: CFLAGS += -I$(BPF_GEN)
$(BUILD)/obj/bpf/observer.o: $(BPF_GEN)/kexit.skel.h
endif

$(BPF_GEN)/vmlinux.h: $(BTF)
	@mkdir -p $(@D)
	$(call say,BTF)$(BPFTOOL) btf dump file $< format c > $@

$(BPF_GEN)/kexit.bpf.o: bpf/kexit.bpf.c bpf/kexit.h $(BPF_GEN)/vmlinux.h
	$(call say,BPF)clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(BPF_GEN) -c $< -o $@

$(BPF_GEN)/kexit.skel.h: $(BPF_GEN)/kexit.bpf.o
	$(call say,SKEL)$(BPFTOOL) gen skeleton $< name kexit_bpf > $@

$(BPF_LIB): $(call obj,$(BPF_SRCS))
	$(call say,AR)rm -f $@ && ar rcs $@ $^

$(DEVIRT): $(call obj,$(CLI_SRCS)) $(INJECT_LIB) $(BPF_LIB) $(VMM_LIB) $(CORE_LIB)
	@mkdir -p $(@D)
	$(call say,LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/pic/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC)$(CC) $(EXT_CFLAGS) -c $< -o $@

$(EXT): $(patsubst %.c,build/pic/%.o,$(EXT_SRCS))
	$(call say,LD)$(CC) -shared -o $@ $^ -lpcre2-8

$(TESTS): $(call obj,$(TEST_SRCS)) $(INJECT_LIB) $(BPF_LIB) $(VMM_LIB) $(CORE_LIB)
	@mkdir -p $(@D)
	$(call say,LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

deps:
	$(Q)scripts/deps.sh

# REQUIRE_KVM=1 (CI) turns KVM skips into failures; REQUIRE_QEMU=1 likewise for the peer VMM.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(TESTS)
	$(Q)LSAN_OPTIONS=suppressions=tests/lsan.supp DEVIRT_BIN=$(DEVIRT) DEVIRT_GUEST_DIR=build/guest $(TESTS) --jobs 2

# The default campaign (campaigns/default.ini), on a fresh database.
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)mkdir -p out && rm -f out/default.db out/default.db-wal out/default.db-shm
	$(DEVIRT) campaign campaigns/default.ini --db out/default.db
# then the invariants over every run of the campaign
	$(DEVIRT) check out/default.db --summary

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bench/exit-cost.sh
	$(Q)bench/observer.sh
	$(Q)bench/exit-split.sh
	$(Q)bench/logging.sh
	$(Q)bench/qemu.sh
	$(Q)bench/switch-latency.sh
	$(Q)bench/replay.sh
	$(Q)bench/campaign.sh
	$(Q)bench/plots.sh
	$(Q)bench/table.sh

# Regenerates the trace corpus (traces/corpus/; needs KVM and QEMU, root for
# its observed trace); check traces/corpus/manifest.ini afterwards.
corpus: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)DEVIRT=$(DEVIRT) traces/corpus/make-corpus.sh

clean:
	rm -rf build bin

-include $(patsubst %.o,%.d,$(call obj,$(CORE_SRCS) $(VMM_SRCS) $(INJECT_SRCS) $(BPF_SRCS) $(CLI_SRCS) $(TEST_SRCS)))
-include $(patsubst %.c,build/pic/%.d,$(EXT_SRCS))
