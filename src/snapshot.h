/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sockets that exist when tracing starts, in every network namespace,
 * with their owners from /proc (like ss -tanp). */
#ifndef ST_SNAPSHOT_H
#define ST_SNAPSHOT_H

#include <stdint.h>
#include "event.h"
#include "filter.h"

/* Socket inode -> owning process, from /proc/PID/fd. */
struct owners;

struct owners *owners__scan(const char *proc_root);
/* Returns true and fills pid/comm if the inode was owned at scan time. */
bool owners__lookup(const struct owners *o, uint64_t ino, uint32_t *pid, char *comm);
size_t owners__count(const struct owners *o);
void owners__free(struct owners *o);

typedef int (*snapshot_cb)(const struct event *ev, void *ctx);

/* Calls cb for each TCP and UDP socket (protos: FILTER_PROTO_* bits, 0 for
 * both) of each network namespace found through /proc/PID/ns/net and
 * /run/netns. Returns 0 or -errno. */
int snapshot__run(const struct owners *o, const struct clock_ref *ref, unsigned int protos,
		  snapshot_cb cb, void *ctx);

#endif /* ST_SNAPSHOT_H */
