/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Socket inode -> owning process, from /proc/PID/fd, and the network
 * namespaces found on the way (for the snapshot). */
#ifndef ST_OWNERS_H
#define ST_OWNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct owners;

/* A network namespace: its inode and one path that opens it. */
struct netns_ref {
	uint64_t ino;
	char path[64];
};

struct owners *owners__scan(const char *proc_root);
/* Returns true and fills pid/comm if the inode was owned at scan time. */
bool owners__lookup(const struct owners *o, uint64_t ino, uint32_t *pid, char *comm);
size_t owners__count(const struct owners *o);
/* The process that holds socket inode ino now, the lowest pid of those
 * that do (a daemon's master before its workers): 0 with pid and comm
 * (TASK_COMM_LEN + 1 bytes) filled, -ENOENT, or -errno. */
int owners__holder(const char *proc_root, uint64_t ino, uint32_t *pid, char *comm);
/* Processes whose /proc/PID/fd could not be read (no permission). */
size_t owners__unreadable(const struct owners *o);
/* The namespaces of the processes scanned and those under /run/netns, each
 * once; *n of them. */
const struct netns_ref *owners__netns(const struct owners *o, size_t *n);
void owners__free(struct owners *o);

#endif /* ST_OWNERS_H */
