# Guest images: make fragment included by the top-level Makefile (run from
# the repository root). Every workload in GUEST_WORKLOADS is one file
# guest/workloads/NAME.c linked with the runtime into build/guest/NAME.elf64
# (x86-64, also loadable by devirt) and converted to build/guest/NAME.elf
# (elf32-i386: QEMU's -kernel loads only 32-bit Multiboot ELFs).
# Quiet by default; V=1 shows the commands.

GUEST_WORKLOADS := hello exitloop selftest ringblk-stress uart-echo ata-stress mixed

GUEST_CC      ?= gcc
GUEST_OBJCOPY ?= objcopy
GUEST_OUT     := build/guest
GUEST_OBJDIR  := $(GUEST_OUT)/obj

GUEST_CFLAGS := -m64 -ffreestanding -fno-stack-protector -fno-pie -no-pie \
	-mno-red-zone -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-O2 -g -Wall -Wextra -nostdlib -static -Iguest/include
GUEST_LDFLAGS := -T guest/guest.ld -z max-page-size=0x1000 -Wl,--build-id=none

GUEST_RT_SRCS := guest/boot.S
GUEST_RT_SRCS += guest/lib/args.c
GUEST_RT_SRCS += guest/lib/ata.c
GUEST_RT_SRCS += guest/lib/console.c
GUEST_RT_SRCS += guest/lib/delay.c
GUEST_RT_SRCS += guest/lib/exit.c
GUEST_RT_SRCS += guest/lib/idt.c
GUEST_RT_SRCS += guest/lib/isr.S
GUEST_RT_SRCS += guest/lib/pic.c
GUEST_RT_SRCS += guest/lib/pit.c
GUEST_RT_SRCS += guest/lib/printf.c
GUEST_RT_SRCS += guest/lib/ringblk.c
GUEST_RT_SRCS += guest/lib/rt.c
GUEST_RT_SRCS += guest/lib/string.c
GUEST_RT_SRCS += guest/lib/uart.c

guest_obj = $(patsubst guest/%,$(GUEST_OBJDIR)/%.o,$(basename $(1)))

GUEST_RT_OBJS := $(call guest_obj,$(GUEST_RT_SRCS))
GUEST_WL_OBJS := $(GUEST_WORKLOADS:%=$(GUEST_OBJDIR)/workloads/%.o)
GUEST_ELF64S  := $(GUEST_WORKLOADS:%=$(GUEST_OUT)/%.elf64)
GUEST_IMAGES  := $(GUEST_WORKLOADS:%=$(GUEST_OUT)/%.elf)

guest_Q   = $(if $(V),,@)
guest_say = $(if $(V),,@printf '  %-8s %s\n' '$(1)' '$@';)

.DELETE_ON_ERROR:
.PHONY: guest
guest: $(GUEST_IMAGES)

$(GUEST_OBJDIR)/%.o: guest/%.c
	@mkdir -p $(@D)
	$(call guest_say,CC)$(GUEST_CC) $(GUEST_CFLAGS) -MD -MP -c $< -o $@

$(GUEST_OBJDIR)/%.o: guest/%.S
	@mkdir -p $(@D)
	$(call guest_say,AS)$(GUEST_CC) $(GUEST_CFLAGS) -MD -MP -c $< -o $@

$(GUEST_ELF64S): $(GUEST_OUT)/%.elf64: $(GUEST_OBJDIR)/workloads/%.o $(GUEST_RT_OBJS) guest/guest.ld
	$(call guest_say,LD)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

$(GUEST_IMAGES): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.elf64
	$(call guest_say,OBJCOPY)$(GUEST_OBJCOPY) -O elf32-i386 $< $@

-include $(GUEST_RT_OBJS:.o=.d) $(GUEST_WL_OBJS:.o=.d)
