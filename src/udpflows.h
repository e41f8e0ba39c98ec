/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* UDP flows: the kernel counts every datagram in a table of flows and
 * reports only each flow's start and its socket's release; this tracker
 * reads the counts and turns them into start, update and end events. */
#ifndef ST_UDPFLOWS_H
#define ST_UDPFLOWS_H

#include <stdint.h>
#include "event.h"
#include "pipeline.h"

struct udpflows_opts {
	uint64_t idle_ns;	/* a flow ends after this long without a datagram */
	uint64_t interval_ns;	/* report flows whose counts changed, 0: never */
};

struct udpflows;

/* map_fd is the kernel's flow table (struct st_udp_key -> st_udp_flow).
 * NULL with errno set. */
struct udpflows *udpflows__new(int map_fd, uint32_t max_flows, struct pipeline *pl,
			       const struct clock_ref *ref, const struct udpflows_opts *o);
/* The kernel saw a flow's first datagram. */
void udpflows__start(struct udpflows *u, const struct st_udp_event *rec);
/* A socket with flows was released at ts_ns: its flows end. */
void udpflows__close(struct udpflows *u, uint64_t skaddr, uint64_t ts_ns);
/* Ends idle flows, reports changed ones when the interval is due, and picks
 * up flows whose start the ring buffer lost. Cheap until a sweep is due. */
int udpflows__tick(struct udpflows *u, uint64_t now_ns);
/* Tracing stops: every active flow gets a last update with its totals. */
int udpflows__finish(struct udpflows *u, uint64_t now_ns);
void udpflows__free(struct udpflows *u);

#endif /* ST_UDPFLOWS_H */
