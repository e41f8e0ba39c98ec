# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# socktrace: bpf/*.bpf.c -> BPF object -> skeleton -> one static-libbpf binary.
# `make help` prints this comment, down to its first blank line.
# Targets:
#   make [all]      build $(OUTPUT)/socktrace (installs missing Debian packages as root)
#   make run        build and run the tracer (root); ARGS="-j -P 80" passes options
#   make test       unit tests (also under ASan/UBSan), packaging tests, system
#                   tests when run as root, then the reader fuzzer for FUZZ_SECONDS
#   make check      the fast lane CI runs first: a -Werror build in $(OUTPUT)/check,
#                   unit tests (also under ASan/UBSan), packaging tests, a
#                   CHECK_FUZZ_SECONDS fuzz run and make lint; no root needed
#   make unit       build and run the unit tests
#   make unit-asan  build the unit tests under ASan and UBSan in $(OUTPUT)/asan
#   make fuzz       only the reader fuzzer, for FUZZ_SECONDS
#   make lint       shellcheck on the shell scripts, flake8 on the Python files
#   make bench      the benchmark suite (root); BENCH_ARGS passes options
#   make vmtest     the kernel matrix in qemu (root): the system tests under
#                   Debian's 5.10, 6.1 and 6.12 x86_64 kernels and a smoke test
#                   under arm64 6.1; KERNELS picks some, VMTEST_ARGS passes
#                   options to tests/vm/matrix.sh (--ci: CI's selection)
#   make install    install the binary, socktrace(8), the bash completion,
#                   the systemd unit socktrace.service and docs/json.md,
#                   docs/recording.md, docs/metrics.md under DESTDIR and PREFIX
#   make uninstall  remove what make install installed
#   make image      the container image $(IMAGE):$(VERSION), FROM scratch: stages
#                   $(OUTPUT)/image/rootfs (the binary, the libraries it and
#                   --metrics need, /etc/services) and runs $(PODMAN) build
#   make vmlinux    regenerate vmlinux/$(ARCH)/vmlinux.h from VMLINUX_BTF
#   make deps       install the Debian packages the build needs (as root; else
#                   name them)
#   make deps-test, deps-bench, deps-lint  ... and those of test, bench, lint
#   make clean      remove $(OUTPUT)
#   make help       this text
# Variables (make VAR=value):
#   V=1             show full commands
#   OUTPUT          build folder (build)
#   PREFIX          install prefix (/usr/local); DESTDIR is prepended to every
#                   installed path; BINDIR ($(PREFIX)/sbin), MANDIR
#                   ($(PREFIX)/share/man), BASHCOMPDIR
#                   ($(PREFIX)/share/bash-completion/completions), UNITDIR
#                   ($(PREFIX)/lib/systemd/system) and DOCDIR
#                   ($(PREFIX)/share/doc/socktrace) place each part
#   CC, CFLAGS      the C compiler and its flags (-O2 -g); the warnings and
#                   -std=gnu11 are added to any CFLAGS given
#   CPPFLAGS, LDFLAGS, LDLIBS  more preprocessor, linker flags and libraries
#   EXTRA_CFLAGS, EXTRA_LDFLAGS  appended last, as bpftool's (EXTRA_CFLAGS=-Werror)
#   CLANG, LLVM_STRIP, BPFTOOL  the other tools
#   ARCH            target architecture, as uname -m names it
#   VMLINUX_BTF     the BTF make vmlinux reads (/sys/kernel/btf/vmlinux)
#   PYTHON          the tests' interpreter (/usr/bin/python3)
#   FUZZ_SECONDS    fuzzing time of make test and make fuzz (60; 0 skips it)
#   CHECK_FUZZ_SECONDS  fuzzing time of make check (20)
#   KERNELS         make vmtest's kernels ("5.10 6.1 6.12 arm64")
#   ARGS, BENCH_ARGS, VMTEST_ARGS  options for make run, bench, vmtest
#   IMAGE           make image's name (localhost/socktrace), tagged $(VERSION)
#   PODMAN          make image's builder (podman; docker works too)
#   SYSTEM_TEST_ARGS  (environment) options for tests/system/run.py, e.g. "-k udp"

.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

VERSION := 0.1.0
OUTPUT ?= build
ARCH ?= $(shell uname -m)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR ?= $(PREFIX)/share/doc/socktrace
UNITDIR ?= $(PREFIX)/lib/systemd/system

CC ?= cc
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
# Debian ships bpftool in /usr/sbin, which a user's PATH may lack
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
PYTHON ?= /usr/bin/python3
IMAGE ?= localhost/socktrace
PODMAN ?= podman

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
DEB_BUILD := make gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libc-ares-dev netbase libmicrohttpd-dev
DEB_TEST := python3 iproute2 kmod util-linux libclang-rt-14-dev nftables socat bind9-dnsutils dnsmasq curl \
	systemd podman runc busybox-static file prometheus python3-yaml
DEB_BENCH := bpftrace
DEB_LINT := shellcheck flake8

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

NO_BUILD_GOALS := clean deps deps-test deps-bench deps-lint lint uninstall vmlinux help
ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(BPF_ARCH),)
$(error unsupported architecture '$(ARCH)': socktrace's BPF side builds for x86_64, aarch64, s390x, ppc64le, riscv64 and loongarch64)
endif
ifeq ($(wildcard $(VMLINUX_H)),)
$(error no $(VMLINUX_H) for architecture '$(ARCH)': on a host of this architecture with BTF, generate it with 'make vmlinux')
endif
endif

# CFLAGS and the others are the user's; what the code needs is added to any
# value given (make CFLAGS=-O0 keeps the warnings), EXTRA_* last (bpftool's names)
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	$(EXTRA_CFLAGS)
override CPPFLAGS += -Iinclude -I$(OUTPUT) -D_GNU_SOURCE -DSOCKTRACE_VERSION='"$(VERSION)"'
override LDFLAGS += $(EXTRA_LDFLAGS)
# Header dependencies, named as the target both ways: a build with
# OUTPUT=/abs/build (the packaging tests, make install) and one with
# OUTPUT=build share the .d files, and each must see that a header changed
DEPFLAGS = -MMD -MP -MT $@ -MT $(abspath $@)
# libbpf and c-ares static so the binary runs on another host; libelf and zlib are on every host;
# libmicrohttpd is opened by --metrics (dlopen: src/metrics.c), only its header is needed here
# libbpf's load takes the vmlinux BTF the probes parsed (probe.c: lent_btf)
override LDLIBS += -Wl,--wrap=btf__load_vmlinux_btf -l:libbpf.a -l:libcares.a -lelf -lz -lm -lpthread -ldl
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Iinclude -Ivmlinux/$(ARCH) -Wall

SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=$(OUTPUT)/%.o)
LIB_OBJS := $(filter-out $(OUTPUT)/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:tests/unit/%.c=$(OUTPUT)/tests/%.o)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(OUTPUT)/bench/%)

FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# the reader and what it needs: no libbpf, so the sanitizers see all of it
FUZZ_SRCS := tests/fuzz/reader_fuzz.c src/record.c src/reader.c src/event.c src/cgroup_info.c
# the DNS answer parser: c-ares' reply parsers and what socktrace does with them;
# the query tracker and the pipeline it emits through (cgroups and filter: its links)
DNS_FUZZ_SRCS := tests/fuzz/dns_fuzz.c src/dnsnames.c src/dnsqueries.c src/hist.c src/pipeline.c \
	src/filter.c src/event.c src/cgroups.c src/cgroup_info.c src/u64map.c

LINT_SH := $(wildcard tests/*.sh tests/vm/*.sh deploy/container/*.sh) tests/vm/init tests/vm/arm64-init .ci/run completion/socktrace
LINT_PY := $(wildcard tests/system/*.py tests/vm/*.py tests/pkg/*.py bench/*.py)

.PHONY: all run test check unit unit-asan fuzz lint bench vmtest install uninstall image clean \
	deps deps-test deps-bench deps-lint vmlinux help
all: $(OUTPUT)/socktrace

# ---- packages ----
# Installs what is missing when root on Debian/Ubuntu, else names it. One
# status line per installed architecture (a multiarch host has several);
# waits for another apt to finish rather than failing, and make -j's
# parallel targets take turns (apt-get update does not wait for the lists
# lock: two at once failed on a fresh machine).
define ensure_pkgs
	$(Q)missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
		for p in $(1); do \
			dpkg-query -W -f='$${db:Status-Status}\n' $$p 2>/dev/null | grep -qx installed || missing="$$missing $$p"; \
		done; \
	else \
		for c in $(2); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
		[ -z "$$missing" ] || { echo "socktrace: missing tools:$$missing (install them with your package manager)" >&2; exit 1; }; \
	fi; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			printf '  %-8s %s\n' DEPS "apt-get install$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			{ flock 9 && apt-get -o DPkg::Lock::Timeout=600 update -qq && \
			  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null; \
			} 9>/var/cache/apt/socktrace-deps.lock || \
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

deps-lint:
	$(call ensure_pkgs,$(DEB_LINT),shellcheck flake8)

# ---- build ----
$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/bench $(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

$(OUTPUT)/socktrace.bpf.o: bpf/socktrace.bpf.c $(VMLINUX_H) Makefile | deps $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/socktrace.skel.h: $(OUTPUT)/socktrace.bpf.o | deps
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name socktrace_bpf > $@

# programs are reached through the skeleton: a renamed one fails the build
$(OUTPUT)/live.o $(OUTPUT)/probe.o $(OUTPUT)/tests/test_probe.o $(OUTPUT)/tests/test_btfmin.o: $(OUTPUT)/socktrace.skel.h

$(OUTPUT)/%.o: src/%.c Makefile | deps $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/socktrace: $(OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- tests ----
$(OUTPUT)/tests/%.o: tests/unit/%.c Makefile | deps $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) -Isrc -Itests/unit $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(OUTPUT)/unit_tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

unit: $(OUTPUT)/unit_tests
	$(Q)$(OUTPUT)/unit_tests

# The unit tests once more under ASan and UBSan, in a build folder of their
# own (SAN_FLAGS instead of -O2 -g; the warnings are added as always).
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
unit-asan: | deps
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/asan CFLAGS="$(SAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" $(OUTPUT)/asan/unit_tests

test: $(OUTPUT)/socktrace $(OUTPUT)/unit_tests $(BENCH_BINS) $(OUTPUT)/fuzz/reader_fuzz \
		$(OUTPUT)/fuzz/dns_fuzz unit-asan | deps-test
	$(Q)PYTHON=$(PYTHON) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh $(OUTPUT)

$(OUTPUT)/fuzz/reader_fuzz: $(FUZZ_SRCS) $(wildcard src/*.h) Makefile | deps-test $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(CPPFLAGS) -Isrc $(FUZZ_SRCS) -lz -o $@

$(OUTPUT)/fuzz/dns_fuzz: $(DNS_FUZZ_SRCS) $(wildcard src/*.h) Makefile | deps-test $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(CPPFLAGS) -Isrc $(DNS_FUZZ_SRCS) -l:libcares.a -o $@

fuzz: $(OUTPUT)/fuzz/reader_fuzz $(OUTPUT)/fuzz/dns_fuzz
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_ONLY=1 tests/run.sh $(OUTPUT)

# The fast lane: what needs no root and fails within a couple of minutes.
# Its own build folder, so that -Werror never mixes with the usual build;
# every tier runs, then the linters, and a failure of any fails the lane.
# The sanitizer build is not -Werror: at -O1 GCC sees other paths and warns
# about truncations the code does on purpose.
CHECK_OUTPUT := $(OUTPUT)/check
check: | deps-test deps-lint
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(CHECK_OUTPUT) EXTRA_CFLAGS="$(EXTRA_CFLAGS) -Werror" \
		$(CHECK_OUTPUT)/socktrace $(CHECK_OUTPUT)/unit_tests $(CHECK_OUTPUT)/fuzz/reader_fuzz \
		$(CHECK_OUTPUT)/fuzz/dns_fuzz \
		$(BENCH_SRCS:bench/%.c=$(CHECK_OUTPUT)/bench/%)
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(CHECK_OUTPUT) unit-asan
	$(Q)rc=0; \
	PYTHON=$(PYTHON) FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) SYSTEM_TESTS=0 tests/run.sh $(CHECK_OUTPUT) || rc=1; \
	$(MAKE) --no-print-directory lint || rc=1; \
	exit $$rc

# Real problems only: shellcheck's checks, and of flake8 pyflakes' (F) and
# syntax errors (E9), not the layout of the code.
lint: | deps-lint
	$(call msg,LINT,shell: $(LINT_SH))
	$(Q)shellcheck $(LINT_SH)
	$(call msg,LINT,python: $(LINT_PY))
	$(Q)flake8 --select=E9,F $(LINT_PY)
	$(Q)echo "lint: shellcheck and flake8 found nothing"

# The system tests again under other kernels in qemu (TCG), once per hook
# variant, then the table docs/support-matrix.md shows (--table writes it).
# The scripts install qemu and fetch the kernel packages themselves (cached
# in $(OUTPUT)/vm).
KERNELS ?= 5.10 6.1 6.12 arm64
vmtest: $(OUTPUT)/socktrace | deps-test
	$(Q)tests/vm/matrix.sh --socktrace $(OUTPUT)/socktrace --kernels "$(KERNELS)" $(VMTEST_ARGS)

# ---- benchmark ----
$(OUTPUT)/bench/%: bench/%.c Makefile | deps $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) $< -o $@

bench: $(OUTPUT)/socktrace $(BENCH_BINS) | deps-bench
	$(Q)$(PYTHON) bench/run.py --socktrace $(OUTPUT)/socktrace --bin $(OUTPUT)/bench $(BENCH_ARGS)

# ---- use ----
run: $(OUTPUT)/socktrace
	$(Q)if [ "$$(id -u)" != 0 ]; then echo "socktrace needs root: sudo make run" >&2; exit 1; fi
	$(Q)$(OUTPUT)/socktrace $(ARGS)

install: $(OUTPUT)/socktrace
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/socktrace)
	$(Q)install -D -m 0755 $< $(DESTDIR)$(BINDIR)/socktrace
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR)/man8/socktrace.8)
	$(Q)install -D -m 0644 docs/socktrace.8 $(DESTDIR)$(MANDIR)/man8/socktrace.8
	$(call msg,INSTALL,$(DESTDIR)$(BASHCOMPDIR)/socktrace)
	$(Q)install -D -m 0644 completion/socktrace $(DESTDIR)$(BASHCOMPDIR)/socktrace
	$(call msg,INSTALL,$(DESTDIR)$(UNITDIR)/socktrace.service)
	$(Q)install -d $(DESTDIR)$(UNITDIR)
	$(Q)sed 's|@BINDIR@|$(BINDIR)|g' deploy/systemd/socktrace.service > $(DESTDIR)$(UNITDIR)/socktrace.service.tmp
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/socktrace.service.tmp
	$(Q)mv $(DESTDIR)$(UNITDIR)/socktrace.service.tmp $(DESTDIR)$(UNITDIR)/socktrace.service
	$(call msg,INSTALL,$(DESTDIR)$(DOCDIR))
	$(Q)install -D -m 0644 -t $(DESTDIR)$(DOCDIR) docs/json.md docs/recording.md docs/metrics.md

# The image holds this host's libraries: it is built for the host's
# architecture only. A fresh stage each time, so no stale library stays.
IMAGE_DIR := $(OUTPUT)/image
image: $(OUTPUT)/socktrace deploy/container/Containerfile deploy/container/rootfs.sh
	$(Q)if [ "$(ARCH)" != "$$(uname -m)" ]; then \
		echo "socktrace: make image stages this host's libraries: ARCH=$(ARCH) on $$(uname -m)" >&2; exit 1; fi
	$(Q)command -v $(firstword $(PODMAN)) >/dev/null || \
		{ echo "socktrace: make image needs $(firstword $(PODMAN)) (Debian: podman, or PODMAN=docker)" >&2; exit 1; }
	$(call msg,STAGE,$(IMAGE_DIR)/rootfs)
	$(Q)rm -rf $(IMAGE_DIR)
	$(Q)deploy/container/rootfs.sh $< "$$($(CC) -print-file-name=libmicrohttpd.so.12)" $(IMAGE_DIR)/rootfs
	$(Q)cp deploy/container/Containerfile $(IMAGE_DIR)/Containerfile
	$(call msg,IMAGE,$(IMAGE):$(VERSION))
	$(Q)$(PODMAN) build -q -t $(IMAGE):$(VERSION) -f $(IMAGE_DIR)/Containerfile $(IMAGE_DIR)

# Directories stay (others' files may be there), except socktrace's own DOCDIR.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(BINDIR)/socktrace $(DESTDIR)$(MANDIR)/man8/socktrace.8 \
		$(DESTDIR)$(BASHCOMPDIR)/socktrace $(DESTDIR)$(UNITDIR)/socktrace.service \
		$(DESTDIR)$(DOCDIR)/json.md $(DESTDIR)$(DOCDIR)/recording.md \
		$(DESTDIR)$(DOCDIR)/metrics.md
	$(Q)if [ -d $(DESTDIR)$(DOCDIR) ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(DOCDIR); fi

vmlinux: | deps
	$(call msg,GEN,vmlinux/$(ARCH)/vmlinux.h)
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > vmlinux/$(ARCH)/vmlinux.h.tmp
	$(Q)mv vmlinux/$(ARCH)/vmlinux.h.tmp vmlinux/$(ARCH)/vmlinux.h

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' Makefile

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/tests/*.d $(OUTPUT)/bench/*.d)
