/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sockets that exist when tracing starts, in every network namespace,
 * with their owners from /proc (like ss -tanp). */
#ifndef ST_SNAPSHOT_H
#define ST_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>
#include "event.h"
#include "filter.h"
#include "owners.h"

typedef int (*snapshot_cb)(const struct event *ev, void *ctx);

#define SNAPSHOT_GAPS_NAMED 8

/* What the snapshot could not list: without CAP_SYS_ADMIN, the other network
 * namespaces; without CAP_SYS_PTRACE, the sockets (and namespaces) of
 * processes whose /proc/PID/fd it may not read. */
struct snapshot_gaps {
	size_t procs;		/* processes whose fds could not be read */
	size_t n_netns;		/* namespaces that could not be entered */
	int netns_err;		/* why (-errno), of the first one */
	struct {
		uint64_t ino;
		char path[64];
	} netns[SNAPSHOT_GAPS_NAMED];	/* the first of them */
};

/* Calls cb for each TCP and UDP socket (protos: FILTER_PROTO_* bits, 0 for
 * both) of each network namespace found through /proc/PID/ns/net and
 * /run/netns; what it could not list goes into gaps (may be NULL).
 * Returns 0 or -errno. */
int snapshot__run(const struct owners *o, const struct clock_ref *ref, unsigned int protos,
		  snapshot_cb cb, void *ctx, struct snapshot_gaps *gaps);
/* One warning line per kind of gap, naming the missing capability; nothing
 * when the snapshot is complete. */
void snapshot__warn(const struct snapshot_gaps *g);

#endif /* ST_SNAPSHOT_H */
