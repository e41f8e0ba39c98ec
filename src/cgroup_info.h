/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a cgroup is called: its path, and the names people use that the
 * path holds (systemd unit and slice, container runtime and id, Kubernetes
 * pod uid and QoS), parsed from the path alone; the filter terms on them.
 * src/cgroups.c resolves owners to these, recordings carry them. */
#ifndef ST_CGROUP_INFO_H
#define ST_CGROUP_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cgroup's names; recordings carry them by these numbers (docs/recording.md). */
enum cgroup_field {
	CGF_PATH = 1,		/* "/system.slice/nginx.service", "/" for the root */
	CGF_UNIT,		/* systemd unit: "nginx.service", "session-4.scope" */
	CGF_SLICE,		/* the slice holding it: "system.slice", "app.slice" */
	CGF_RUNTIME,		/* "docker", "containerd", "cri-o", "podman" */
	CGF_CONTAINER_ID,	/* full hex id */
	CGF_CONTAINER_NAME,	/* from the runtime's files, where the host has them */
	CGF_POD_NS,		/* Kubernetes namespace, from /var/log/pods */
	CGF_POD_NAME,
	CGF_POD_UID,		/* "1b4e28ba-2fa1-11d2-883f-0016d3cca427" */
	CGF_POD_QOS,		/* "guaranteed", "burstable", "besteffort" */
	CGF__MAX,
};

#define CGROUP_FIELD_MAX 1024	/* longer values are cut (a path) */

struct cgroup_info {
	uint64_t key;		/* unique in this run: a recording names it so */
	char *f[CGF__MAX];	/* NULL when not applicable */
};

/* Parses a cgroup path into ci's names (unit, slice, runtime, container id,
 * pod uid and QoS); what it does not recognise stays NULL. The path is
 * kept as given. Returns 0 or -ENOMEM. */
int cgroup_info__parse(struct cgroup_info *ci, const char *path);
/* A new info for path, parsed (NULL: empty), with a fresh key; NULL and errno. */
struct cgroup_info *cgroup_info__new(const char *path);
/* Sets one field (a copy, cut at CGROUP_FIELD_MAX); 0 or -ENOMEM. */
int cgroup_info__set(struct cgroup_info *ci, enum cgroup_field f, const char *val, size_t len);
void cgroup_info__free(struct cgroup_info *ci);
/* A short name for a text column: "ns/pod", "docker:0123456789ab",
 * "nginx.service", or the path. */
const char *cgroup_info__label(const struct cgroup_info *ci, char *buf, size_t len);

/* The filter terms, on one info (NULL matches nothing). */
bool cgroup_info__match_path(const struct cgroup_info *ci, const char *path);	/* and below */
bool cgroup_info__match_unit(const struct cgroup_info *ci, const char *name);	/* unit or slice */
bool cgroup_info__match_container(const struct cgroup_info *ci, const char *idname);
bool cgroup_info__match_pod(const struct cgroup_info *ci, const char *nsname);	/* [NS/]NAME or uid */

#endif /* ST_CGROUP_INFO_H */
