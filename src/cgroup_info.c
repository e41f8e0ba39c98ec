// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A cgroup path -> systemd unit and slice, container, pod. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup_info.h"

static uint64_t next_key = 1;

static const struct {
	const char *prefix;	/* of a component, before the id */
	const char *suffix;	/* after it ("" for none) */
	const char *runtime;
} container_shapes[] = {
	{ "docker-", ".scope", "docker" },		/* Docker, systemd driver */
	{ "cri-containerd-", ".scope", "containerd" },	/* containerd (CRI), systemd driver */
	{ "crio-", ".scope", "cri-o" },			/* CRI-O, systemd driver */
	{ "crio-", "", "cri-o" },			/* CRI-O, cgroupfs driver */
	{ "libpod-", ".scope", "podman" },		/* podman, systemd driver */
	{ "libpod-", "", "podman" },			/* podman, cgroupfs (libpod_parent) */
};

static bool is_hex(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m);
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t m = strlen(prefix);

	return n >= m && !memcmp(s, prefix, m);
}

int cgroup_info__set(struct cgroup_info *ci, enum cgroup_field f, const char *val, size_t len)
{
	char *v;

	if (len > CGROUP_FIELD_MAX)
		len = CGROUP_FIELD_MAX;
	v = strndup(val, len);
	if (!v)
		return -ENOMEM;
	free(ci->f[f]);
	ci->f[f] = v;
	return 0;
}

/* A container's id in component c (n bytes), or false. */
static bool container_of(struct cgroup_info *ci, const char *c, size_t n, const char *prev,
			 size_t prev_n, bool in_pod, int *err)
{
	for (size_t i = 0; i < sizeof(container_shapes) / sizeof(container_shapes[0]); i++) {
		const char *p = container_shapes[i].prefix, *s = container_shapes[i].suffix;
		size_t pl = strlen(p), sl = strlen(s);

		if (!starts_with(c, n, p) || !ends_with(c, n, s) || n < pl + sl + 12)
			continue;
		/* crio-conmon-<id>, libpod-conmon-<id>: the monitor, not the container */
		if (!is_hex(c + pl, n - pl - sl))
			continue;
		*err = cgroup_info__set(ci, CGF_RUNTIME, container_shapes[i].runtime,
					strlen(container_shapes[i].runtime)) ?:
		       cgroup_info__set(ci, CGF_CONTAINER_ID, c + pl, n - pl - sl);
		return true;
	}
	/* cgroupfs drivers: /docker/<id>, /kubepods/<qos>/pod<uid>/<id> */
	if (n == 64 && is_hex(c, n) && (in_pod || (prev && prev_n == 6 && !memcmp(prev, "docker", 6)))) {
		if (!in_pod)
			*err = cgroup_info__set(ci, CGF_RUNTIME, "docker", 6);
		*err = *err ?: cgroup_info__set(ci, CGF_CONTAINER_ID, c, n);
		return true;
	}
	return false;
}

static const char *qos_name(const char *s, size_t n)
{
	if (n == 9 && !memcmp(s, "burstable", 9))
		return "burstable";
	if (n == 10 && !memcmp(s, "besteffort", 10))
		return "besteffort";
	return NULL;
}

/* kubepods-burstable-pod<uid_with_underscores>.slice, kubepods-pod<uid>.slice
 * (systemd driver); pod<uid> under kubepods[/burstable|/besteffort] (cgroupfs). */
static bool pod_of(struct cgroup_info *ci, const char *c, size_t n, bool under_kubepods,
		   const char *prev, size_t prev_n, int *err)
{
	const char *qos = "guaranteed", *uid;
	char buf[64];
	size_t ul;

	if (starts_with(c, n, "kubepods-") && ends_with(c, n, ".slice")) {
		const char *p = c + 9, *end = c + n - 6, *q;

		q = memmem(p, end - p, "pod", 3);
		if (!q || (q != p && q[-1] != '-'))
			return false;
		if (q != p && !(qos = qos_name(p, q - 1 - p)))
			return false;
		uid = q + 3;
		ul = end - uid;
	} else if (under_kubepods && starts_with(c, n, "pod") && n > 3) {
		const char *q = prev ? qos_name(prev, prev_n) : NULL;

		if (q)
			qos = q;
		uid = c + 3;
		ul = n - 3;
	} else {
		return false;
	}
	if (ul < 8 || ul >= sizeof(buf))
		return false;
	for (size_t i = 0; i < ul; i++) {
		char ch = uid[i] == '_' ? '-' : uid[i];

		if (!isxdigit((unsigned char)ch) && ch != '-')
			return false;
		buf[i] = ch;
	}
	*err = cgroup_info__set(ci, CGF_POD_UID, buf, ul) ?:
	       cgroup_info__set(ci, CGF_POD_QOS, qos, strlen(qos));
	return true;
}

int cgroup_info__parse(struct cgroup_info *ci, const char *path)
{
	const char *c = path, *prev = NULL, *slice = NULL;
	size_t prev_n = 0, slice_n = 0;
	bool kubepods = false, in_pod = false;
	int err = cgroup_info__set(ci, CGF_PATH, path, strlen(path));

	while (!err && *c) {
		const char *end = strchrnul(c, '/');
		size_t n = end - c;

		if (n) {
			const char *colon = memchr(c, ':', n);

			if (colon) {
				/* containerd's systemd form: <pod slice>:cri-containerd:<id> */
				const char *c2 = memchr(colon + 1, ':', end - colon - 1);

				if (c2 && pod_of(ci, c, colon - c, false, NULL, 0, &err) && !err) {
					char comp[256];
					int m = snprintf(comp, sizeof(comp), "%.*s-%.*s.scope",
							 (int)(c2 - colon - 1), colon + 1,
							 (int)(end - c2 - 1), c2 + 1);

					if (m > 0 && (size_t)m < sizeof(comp))
						container_of(ci, comp, m, NULL, 0, true, &err);
				}
			} else if (n == 8 && !memcmp(c, "kubepods", 8)) {
				kubepods = true;
			} else if (pod_of(ci, c, n, kubepods, prev, prev_n, &err)) {
				in_pod = true;
				slice = ends_with(c, n, ".slice") ? c : slice;
				slice_n = slice == c ? n : slice_n;
			} else if (container_of(ci, c, n, prev, prev_n, in_pod, &err)) {
				/* a container's own cgroups below it keep its name */
			} else if (ends_with(c, n, ".slice")) {
				slice = c;
				slice_n = n;
			} else if ((ends_with(c, n, ".service") && n > 8) ||
				   (ends_with(c, n, ".scope") && n > 6 && c[n - 7] != '-')) {
				err = cgroup_info__set(ci, CGF_UNIT, c, n);
				if (!err && slice)
					err = cgroup_info__set(ci, CGF_SLICE, slice, slice_n);
			}
			prev = c;
			prev_n = n;
		}
		c = *end ? end + 1 : end;
	}
	if (!err && slice && !ci->f[CGF_SLICE])
		err = cgroup_info__set(ci, CGF_SLICE, slice, slice_n);
	return err;
}

struct cgroup_info *cgroup_info__new(const char *path)
{
	struct cgroup_info *ci = calloc(1, sizeof(*ci));
	int err;

	if (!ci)
		return NULL;
	ci->key = __atomic_fetch_add(&next_key, 1, __ATOMIC_RELAXED);
	err = path ? cgroup_info__parse(ci, path) : 0;
	if (err) {
		cgroup_info__free(ci);
		errno = -err;
		return NULL;
	}
	return ci;
}

void cgroup_info__free(struct cgroup_info *ci)
{
	if (!ci)
		return;
	for (int i = 0; i < CGF__MAX; i++)
		free(ci->f[i]);
	free(ci);
}

const char *cgroup_info__label(const struct cgroup_info *ci, char *buf, size_t len)
{
	const char *const *f = (const char *const *)ci->f;

	if (f[CGF_POD_NAME])
		snprintf(buf, len, "%s/%s", f[CGF_POD_NS] ?: "", f[CGF_POD_NAME]);
	else if (f[CGF_POD_UID])
		snprintf(buf, len, "pod:%s", f[CGF_POD_UID]);
	else if (f[CGF_CONTAINER_NAME])
		snprintf(buf, len, "%s", f[CGF_CONTAINER_NAME]);
	else if (f[CGF_CONTAINER_ID])
		snprintf(buf, len, "%s:%.12s", f[CGF_RUNTIME] ?: "container", f[CGF_CONTAINER_ID]);
	else if (f[CGF_UNIT])
		snprintf(buf, len, "%s", f[CGF_UNIT]);
	else
		snprintf(buf, len, "%s", f[CGF_PATH] ?: "-");
	return buf;
}

/* ---- matching ---- */

bool cgroup_info__match_path(const struct cgroup_info *ci, const char *path)
{
	const char *p;
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (!ci || !(p = ci->f[CGF_PATH]))
		return false;
	if (n == 1 && path[0] == '/')
		return true;
	return !strncmp(p, path, n) && (p[n] == '\0' || p[n] == '/');
}

bool cgroup_info__match_unit(const struct cgroup_info *ci, const char *name)
{
	const char *c;
	size_t n = strlen(name);

	if (!ci || !ci->f[CGF_PATH] || !n)
		return false;
	/* any unit or slice on the way: "system.slice", "user@1000.service" too */
	for (c = ci->f[CGF_PATH]; *c;) {
		const char *end = strchrnul(c, '/');

		if ((size_t)(end - c) == n && !memcmp(c, name, n))
			return true;
		c = *end ? end + 1 : end;
	}
	return false;
}

bool cgroup_info__match_container(const struct cgroup_info *ci, const char *idname)
{
	const char *id;

	if (!ci || !*idname)
		return false;
	id = ci->f[CGF_CONTAINER_ID];
	if (id && !strncmp(id, idname, strlen(idname)))
		return true;
	return ci->f[CGF_CONTAINER_NAME] && !strcmp(ci->f[CGF_CONTAINER_NAME], idname);
}

bool cgroup_info__match_pod(const struct cgroup_info *ci, const char *nsname)
{
	const char *slash = strchr(nsname, '/'), *name = slash ? slash + 1 : nsname;

	if (!ci)
		return false;
	if (ci->f[CGF_POD_UID] && !strcmp(ci->f[CGF_POD_UID], nsname))
		return true;
	if (!ci->f[CGF_POD_NAME] || strcmp(ci->f[CGF_POD_NAME], name))
		return false;
	return !slash || (ci->f[CGF_POD_NS] && strlen(ci->f[CGF_POD_NS]) == (size_t)(slash - nsname) &&
			  !memcmp(ci->f[CGF_POD_NS], nsname, slash - nsname));
}
