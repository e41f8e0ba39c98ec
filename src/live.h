/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live source: BPF programs, ring buffer, decode into the pipeline. It
 * owns its kernel machinery: the UDP flow table it reads on its own clock,
 * the listener owners behind a SYN alert's diagnosis. */
#ifndef ST_LIVE_H
#define ST_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"
#include "filter.h"
#include "owners.h"
#include "pipeline.h"
#include "probe.h"

struct btf;
struct live;

/* What the live source takes of the command line. */
struct live_opts {
	const char *btf_path;	/* kernel BTF instead of /sys/kernel/btf/vmlinux, or NULL */
	uint32_t ringbuf_kb;	/* ring buffer size */
	struct filter filter;	/* what the kernel side checks: filter__kernel() */
	uint32_t udp_flows;	/* kernel flow table size */
	uint64_t udp_idle_ns;	/* a flow ends after this long without a datagram */
	uint64_t interval_ns;	/* report flows whose counts changed, 0: never */
	bool verbose;		/* libbpf's messages are shown (-v) */
	bool retrans;		/* tcp_conn records of retransmits (--retrans) */
	bool cgroup_skip;	/* the kernel skips the cgroups live__skip_cgroup() names */
};

/* Opens the BPF object and starts creating its larger maps in a thread, so
 * that their preallocation overlaps the probes. Returns NULL with errno
 * set, the reason printed. */
struct live *live__new(const struct live_opts *o);
/* Writes what libbpf's CO-RE relocations search: the part of vmlinux (the
 * probes' BTF) they can reach (btfmin), or all of it if that fails. Before
 * live__start(); without it, live__start() parses the kernel's BTF to reduce.
 * verbose: the sizes on stderr. 0 or -errno. */
int live__core_btf(struct live *l, const struct btf *vmlinux, bool verbose);
/* Configures for what the probes selected, loads and attaches what
 * live__new() opened, with the same o. Returns 0 or -errno; the reason has
 * been printed, and *failed is the concern whose program failed to attach
 * (-1 if unknown, or a load failure). Then only live__close(). */
int live__start(struct live *l, const struct live_opts *o, const struct probe *p,
		struct pipeline *pl, const struct clock_ref *ref, int *failed);
/* The owner of the listener on (addr, port) in ev's namespace and family,
 * as the kernel side knows it (exact address, then the wildcard); ctx is
 * the struct live (a diagnoser's listener_owner_fn). */
int live__listener_owner(void *ctx, const struct event *ev, const struct in6_addr *addr,
			 uint16_t port, uint32_t *pid, char *comm);
/* The kernel side drops the events of owners in cgroup id from now on
 * (o->cgroup_skip). 0, or -errno; a full table is not an error: userspace
 * still filters. */
int live__skip_cgroup(struct live *l, uint64_t id);
/* How many cgroups live__skip_cgroup() gave the kernel side. */
uint64_t live__cgroups_skipped(const struct live *l);
/* Owners found in /proc name the sockets the kernel side saw no owner for. */
void live__set_owners(struct live *l, const struct owners *owners);
/* Tells the kernel side who owns a listener found at startup, so that the
 * connections it accepts get an owner. */
int live__seed_listener(struct live *l, const struct event *ev);
/* Tells the kernel side who owns a TCP socket found at startup (by its
 * inode), so that its later events name the owner even after the owner
 * closed its file. */
int live__seed(struct live *l, const struct event *ev);
/* The counters of every TCP connection now, as tcp_conn updates (after
 * the startup snapshot). */
int live__conns_now(struct live *l);
/* Startup sockets that could not be seeded: the map was full. */
uint64_t live__seeds_full(const struct live *l);
/* Runs of socktrace's programs that the kernel skipped (recursion
 * protection: another BPF program was running on that CPU). */
uint64_t live__prog_misses(const struct live *l);
/* Waits up to timeout_ms, feeds what arrived and what the UDP flow table
 * says to the pipeline. *now is the source's clock (boot ns): everything
 * before it has been fed. Returns records or -errno. */
int live__poll(struct live *l, int timeout_ms, uint64_t *now);
/* The same without waiting. */
int live__drain(struct live *l, uint64_t *now);
/* Stops the kernel side: the programs that make events detached; classic
 * tracepoints and kprobes, whose detach waits for RCU, finish detaching by
 * live__close(). The maps and the ring buffer stay, for what is queued. */
void live__detach(struct live *l);
/* Tracing stops at now: the UDP flows still active report their totals. */
int live__finish(struct live *l, uint64_t now);
/* Sums the per-CPU counters (enum st_counter); records that could not be
 * decoded count as lost. */
int live__counters(struct live *l, uint64_t out[ST_CNT__MAX]);
void live__close(struct live *l);

#endif /* ST_LIVE_H */
