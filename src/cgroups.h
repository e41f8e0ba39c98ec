/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which service, container or pod a socket's owner belongs to: the owner's
 * cgroup (the v2 id the kernel side takes with the owner, or on v1 and
 * hybrid hosts the process's /proc/PID/cgroup) resolved to its path, and
 * the path to the names people use (systemd unit, container, pod). Cached:
 * resolution runs once per cgroup or process, never per event. */
#ifndef ST_CGROUPS_H
#define ST_CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cgroup_info.h"

struct cgroups;

/* Told each cgroup id the first time it names a cgroup (never the v2 root
 * of a hybrid host, which names no cgroup of its own). */
typedef void (*cgroups_new_id_fn)(void *ctx, uint64_t id, const struct cgroup_info *ci);
/* The live resolver: finds the cgroup2 mount in /proc/self/mountinfo.
 * NULL and errno only for -ENOMEM: without a cgroup2 mount every owner is
 * named from /proc/PID/cgroup. */
struct cgroups *cgroups__new(void);
void cgroups__set_new_id_fn(struct cgroups *c, cgroups_new_id_fn fn, void *ctx);
/* Cache misses resolved so far, and the longest one took. */
void cgroups__timing(const struct cgroups *c, uint64_t *lookups, uint64_t *slowest_ns);
/* Where PID folders are read (default "/proc"; kept, not copied) and how
 * often a cached pid is checked for reuse (default a second): for tests. */
void cgroups__set_proc(struct cgroups *c, const char *proc, uint64_t recheck_ns);
/* The owner's cgroup: by its v2 id, or for the v2 root (where a hybrid
 * host leaves processes) and an unknown id from /proc/PID/cgroup, read the
 * first time the pid is seen. NULL when neither says anything. */
const struct cgroup_info *cgroups__find(struct cgroups *c, uint64_t id, uint32_t pid);
/* The pid's pid in its own namespace, from /proc/PID/status (NSpid);
 * 0 if it is gone. Cached with the pid. */
uint32_t cgroups__vpid(struct cgroups *c, uint32_t pid);
/* One line saying where cgroups are named from, for -v. */
void cgroups__describe(const struct cgroups *c, char *buf, size_t len);
/* Processes that had exited before their /proc/PID/cgroup was read. */
uint64_t cgroups__gone(const struct cgroups *c);
/* Whether a cgroup path (relative to the cgroup2 mount, or of a v1
 * hierarchy) exists on this host. */
bool cgroups__path_exists(const struct cgroups *c, const char *path);
/* How many distinct containers on this host idname names (an id prefix or
 * a name): more than one makes --container ambiguous. */
int cgroups__count_containers(struct cgroups *c, const char *idname);
void cgroups__free(struct cgroups *c);

#endif /* ST_CGROUPS_H */
