/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live source: BPF programs, ring buffer, decode into the pipeline. */
#ifndef ST_LIVE_H
#define ST_LIVE_H

#include <stdint.h>
#include "attempts.h"
#include "event.h"
#include "opts.h"
#include "pipeline.h"
#include "probe.h"
#include "snapshot.h"
#include "udpflows.h"

struct live;

/* Opens, configures, loads and attaches. Returns NULL with errno set; the
 * reason has been printed, and *failed is the concern whose program failed
 * to attach (-1 if unknown, or a load failure). */
struct live *live__open(const struct opts *o, const struct probe *p,
			struct pipeline *pl, const struct clock_ref *ref, int *failed);
/* The owner of the listener on (addr, port) in ev's namespace and family,
 * as the kernel side knows it (exact address, then the wildcard). */
int live__listener_owner(struct live *l, const struct event *ev, const struct in6_addr *addr,
			 uint16_t port, uint32_t *pid, char *comm);
/* Owners found in /proc name the sockets the kernel side saw no owner for. */
void live__set_owners(struct live *l, const struct owners *owners);
/* Tells the kernel side who owns a listener found at startup, so that the
 * connections it accepts get an owner. */
int live__seed_listener(struct live *l, const struct event *ev);
/* Tells the kernel side who owns a TCP socket found at startup (by its
 * inode), so that its later events name the owner even after the owner
 * closed its file. */
int live__seed(struct live *l, const struct event *ev);
/* Startup sockets that could not be seeded: the map was full. */
uint64_t live__seeds_full(const struct live *l);
/* Runs of socktrace's programs that the kernel skipped (recursion
 * protection: another BPF program was running on that CPU). */
uint64_t live__prog_misses(const struct live *l);
/* Transitions and SYN retransmits also feed the connection attempts. */
void live__set_attempts(struct live *l, struct attempts *a);
/* Waits up to timeout_ms, feeds what arrived; returns records or -errno. */
int live__poll(struct live *l, int timeout_ms);
/* Feeds whatever is in the ring buffer without waiting. */
int live__drain(struct live *l);
/* Sums the per-CPU counters (enum st_counter); records that could not be
 * decoded count as lost. */
int live__counters(struct live *l, uint64_t out[ST_CNT__MAX]);
/* The UDP flow tracker, NULL when UDP is not traced. */
struct udpflows *live__udpflows(struct live *l);
void live__close(struct live *l);

#endif /* ST_LIVE_H */
