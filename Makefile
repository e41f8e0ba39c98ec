# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# socktrace: bpf/*.bpf.c -> BPF object -> skeleton -> one static-libbpf binary.
#   make            build $(OUTPUT)/socktrace (installs missing Debian packages as root)
#   make run        build and run the tracer (root); ARGS="-j -P 80" passes options
#   make test       unit tests, system tests when run as root, then the reader
#                   fuzzer for FUZZ_SECONDS (default 60, 0 skips it)
#   make fuzz       only the reader fuzzer
#   make bench      the benchmark suite (root)
#   make vmtest     the system tests under Debian's 6.1 kernel in qemu (root)
#   make vmlinux    regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel's BTF
#   V=1             show full commands

.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

VERSION := 0.1.0
OUTPUT ?= build
ARCH ?= $(shell uname -m)
PREFIX ?= /usr/local

CC ?= cc
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
# Debian ships bpftool in /usr/sbin, which a user's PATH may lack
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
PYTHON ?= /usr/bin/python3

# __TARGET_ARCH_* for bpf_tracing.h, by `uname -m`
bpf_arch_x86_64 := x86
bpf_arch_aarch64 := arm64
bpf_arch_s390x := s390
bpf_arch_ppc64le := powerpc
bpf_arch_riscv64 := riscv
bpf_arch_loongarch64 := loongarch
BPF_ARCH := $(bpf_arch_$(ARCH))
VMLINUX_H := vmlinux/$(ARCH)/vmlinux.h
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

# Debian packages, installed by `make` itself when run as root
DEB_BUILD := make gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev netbase
DEB_TEST := python3 iproute2 kmod util-linux libclang-rt-14-dev nftables socat bind9-dnsutils curl
DEB_BENCH := bpftrace

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

NO_BUILD_GOALS := clean deps deps-test deps-bench vmlinux help
ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(BPF_ARCH),)
$(error unsupported architecture '$(ARCH)': socktrace's BPF side builds for x86_64, aarch64, s390x, ppc64le, riscv64 and loongarch64)
endif
ifeq ($(wildcard $(VMLINUX_H)),)
$(error no $(VMLINUX_H) for architecture '$(ARCH)': on a host of this architecture with BTF, generate it with 'make vmlinux')
endif
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -I$(OUTPUT) -D_GNU_SOURCE -DSOCKTRACE_VERSION='"$(VERSION)"'
# libbpf static so the binary runs on another host; libelf and zlib are on every host
LDLIBS += -l:libbpf.a -lelf -lz -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Iinclude -Ivmlinux/$(ARCH) -Wall

SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=$(OUTPUT)/%.o)
LIB_OBJS := $(filter-out $(OUTPUT)/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:tests/unit/%.c=$(OUTPUT)/tests/%.o)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(OUTPUT)/bench/%)

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# the reader and what it needs: no libbpf, so the sanitizers see all of it
FUZZ_SRCS := tests/fuzz/reader_fuzz.c src/record.c src/reader.c src/event.c

.PHONY: all run test unit unit-asan fuzz bench vmtest install clean deps deps-test deps-bench vmlinux help
all: $(OUTPUT)/socktrace

# ---- packages ----
# Installs what is missing when root on Debian/Ubuntu, else names it.
define ensure_pkgs
	$(Q)missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
		for p in $(1); do \
			dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || missing="$$missing $$p"; \
		done; \
	else \
		for c in $(2); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
		[ -z "$$missing" ] || { echo "socktrace: missing tools:$$missing (install them with your package manager)" >&2; exit 1; }; \
	fi; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			printf '  %-8s %s\n' DEPS "apt-get install$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
				{ echo "socktrace: failed to install:$$missing" >&2; exit 1; }; \
		else \
			echo "socktrace: missing Debian packages:$$missing" >&2; \
			echo "  install them with: sudo apt-get install$$missing  (or run make as root)" >&2; \
			exit 1; \
		fi; \
	fi
endef

deps:
	$(call ensure_pkgs,$(DEB_BUILD),make cc clang llvm-strip bpftool)

deps-test: deps
	$(call ensure_pkgs,$(DEB_TEST),python3 ip)

deps-bench: deps-test
	$(call ensure_pkgs,$(DEB_BENCH),bpftrace)

# ---- build ----
$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/bench $(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/socktrace.bpf.o: bpf/socktrace.bpf.c $(VMLINUX_H) Makefile | deps $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/socktrace.skel.h: $(OUTPUT)/socktrace.bpf.o | deps
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name socktrace_bpf > $@

# programs are reached through the skeleton: a renamed one fails the build
$(OUTPUT)/live.o $(OUTPUT)/probe.o $(OUTPUT)/tests/test_probe.o: $(OUTPUT)/socktrace.skel.h

$(OUTPUT)/%.o: src/%.c Makefile | deps $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/socktrace: $(OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- tests ----
$(OUTPUT)/tests/%.o: tests/unit/%.c Makefile | deps $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) -Isrc -Itests/unit $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/unit_tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

unit: $(OUTPUT)/unit_tests
	$(Q)$(OUTPUT)/unit_tests

# The unit tests once more under ASan and UBSan, in a build folder of their
# own (command-line CFLAGS replace the usual ones there).
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
unit-asan: | deps
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/asan CFLAGS="$(SAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" $(OUTPUT)/asan/unit_tests

test: $(OUTPUT)/socktrace $(OUTPUT)/unit_tests $(BENCH_BINS) $(OUTPUT)/fuzz/reader_fuzz unit-asan | deps-test
	$(Q)PYTHON=$(PYTHON) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh $(OUTPUT)

$(OUTPUT)/fuzz/reader_fuzz: $(FUZZ_SRCS) $(wildcard src/*.h) Makefile | deps-test $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(CPPFLAGS) -Isrc $(FUZZ_SRCS) -lz -o $@

fuzz: $(OUTPUT)/fuzz/reader_fuzz
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_ONLY=1 tests/run.sh $(OUTPUT)

# The system tests again under Debian's 6.1 kernel in qemu (TCG), once per
# hook variant: fentry, kprobe, auto. tests/vm/run.sh installs qemu and
# fetches the kernel package itself (cached in $(OUTPUT)/vm).
vmtest: $(OUTPUT)/socktrace | deps-test
	$(Q)tests/vm/run.sh --socktrace $(OUTPUT)/socktrace $(VMTEST_ARGS)

# ---- benchmark ----
$(OUTPUT)/bench/%: bench/%.c Makefile | deps $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP $< -o $@

bench: $(OUTPUT)/socktrace $(BENCH_BINS) | deps-bench
	$(Q)$(PYTHON) bench/run.py --socktrace $(OUTPUT)/socktrace --bin $(OUTPUT)/bench $(BENCH_ARGS)

# ---- use ----
run: $(OUTPUT)/socktrace
	$(Q)if [ "$$(id -u)" != 0 ]; then echo "socktrace needs root: sudo make run" >&2; exit 1; fi
	$(Q)$(OUTPUT)/socktrace $(ARGS)

install: $(OUTPUT)/socktrace
	$(Q)install -D -m 0755 $< $(DESTDIR)$(PREFIX)/sbin/socktrace

vmlinux: | deps
	$(call msg,GEN,vmlinux/$(ARCH)/vmlinux.h)
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > vmlinux/$(ARCH)/vmlinux.h.tmp
	$(Q)mv vmlinux/$(ARCH)/vmlinux.h.tmp vmlinux/$(ARCH)/vmlinux.h

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

help:
	@sed -n '2,9s/^# \{0,1\}//p' Makefile

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/tests/*.d $(OUTPUT)/bench/*.d)
