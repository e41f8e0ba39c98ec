// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Cgroup id or pid -> cgroup path, resolved and cached; the names the path
 * holds come from cgroup_info.c, the host's own files add pod and container
 * names. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cgroups.h"
#include "u64map.h"

/* cgroup2 file handles are the kernfs node id, which is the cgroup id */
#define FILEID_KERNFS 0xfe
#define REWALK_NS 1000000000ull	/* a missed id walks the tree at most this often */
#define PIDS_MAX 65536		/* pids cached; then the cache starts over */
#define PID_RECHECK_NS 1000000000ull	/* a cached pid's start time is checked this often */

struct pid_entry {
	const struct cgroup_info *ci;	/* NULL: it said nothing */
	uint64_t start;		/* the process's start time, 0 if unknown */
	uint64_t checked_ns;	/* when start was last compared */
	uint32_t vpid;
	bool have_ci, have_vpid;
};

struct cgroups {
	char *mount;		/* the cgroup2 mount point, NULL if none */
	uint64_t root_id;	/* its root's id: on hybrid hosts, "look at /proc" */
	bool hybrid;		/* v1 hierarchies beside it, or none at all */
	struct u64map by_id;	/* cgroup id -> struct cgroup_info * (NULL: not found) */
	struct u64map by_pid;	/* pid -> struct pid_entry * */
	struct u64map by_path;	/* hash of a /proc path -> struct cgroup_info * */
	struct u64map walked;	/* the last walk: cgroup id -> char * path */
	uint64_t walked_ns;
	uint64_t gone;
	struct cgroup_info **all;	/* every info made, freed at the end */
	size_t n_all, cap_all;
	cgroups_new_id_fn on_new_id;
	void *on_new_id_ctx;
	const char *proc;	/* "/proc", or a test's tree */
	uint64_t pid_recheck_ns;
	uint64_t lookups;	/* cache misses resolved */
	uint64_t slowest_ns;	/* the longest of them */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* ---- the live resolver ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The mount point of the cgroup2 file system, and whether v1 hierarchies
 * are mounted too, from /proc/self/mountinfo. */
static void find_mount(struct cgroups *c)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool v1 = false;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[4096], *dash = strstr(line, " - ");
		char fstype[64];

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s", fstype) != 1)
			continue;
		if (!strcmp(fstype, "cgroup")) {
			v1 = true;
		} else if (!strcmp(fstype, "cgroup2") && !c->mount) {
			/* octal escapes (\040) in a mount point: rare, keep it simple */
			c->mount = strdup(mnt);
		}
	}
	fclose(f);
	c->hybrid = v1 || !c->mount;
}

struct cgroups *cgroups__new(void)
{
	struct cgroups *c = calloc(1, sizeof(*c));
	struct stat st;

	if (!c)
		return NULL;
	c->proc = "/proc";
	c->pid_recheck_ns = PID_RECHECK_NS;
	find_mount(c);
	if (c->mount && !stat(c->mount, &st))
		c->root_id = st.st_ino;
	return c;
}

static struct cgroup_info *keep(struct cgroups *c, struct cgroup_info *ci)
{
	if (!ci)
		return NULL;
	if (c->n_all == c->cap_all) {
		size_t cap = c->cap_all ? 2 * c->cap_all : 64;
		struct cgroup_info **a = realloc(c->all, cap * sizeof(*a));

		if (!a) {
			cgroup_info__free(ci);
			return NULL;
		}
		c->all = a;
		c->cap_all = cap;
	}
	c->all[c->n_all++] = ci;
	return ci;
}

/* Reads a whole small file into buf; its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Kubernetes pod name and namespace from kubelet's log folders
 * (/var/log/pods/<ns>_<name>_<uid>), a container's name from the CRI log
 * links (/var/log/containers/<pod>_<ns>_<container>-<id>.log), Docker's
 * from its config.v2.json, podman's from its containers.json. What is not
 * there stays unknown: no daemon is asked. */
static void names_from_host(struct cgroup_info *ci)
{
	const char *uid = ci->f[CGF_POD_UID], *id = ci->f[CGF_CONTAINER_ID];
	struct dirent *d;
	DIR *dir;

	if (uid && (dir = opendir("/var/log/pods"))) {
		size_t ul = strlen(uid);

		while ((d = readdir(dir))) {
			size_t n = strlen(d->d_name);
			char *u1 = strchr(d->d_name, '_');

			if (n > ul + 1 && d->d_name[n - ul - 1] == '_' &&
			    !strcmp(d->d_name + n - ul, uid) && u1 && u1 < d->d_name + n - ul - 1) {
				cgroup_info__set(ci, CGF_POD_NS, d->d_name, u1 - d->d_name);
				cgroup_info__set(ci, CGF_POD_NAME, u1 + 1, d->d_name + n - ul - 1 - u1 - 1);
				break;
			}
		}
		closedir(dir);
	}
	if (!id)
		return;
	if (uid && (dir = opendir("/var/log/containers"))) {
		char suffix[160];

		snprintf(suffix, sizeof(suffix), "-%s.log", id);
		while ((d = readdir(dir))) {
			size_t n = strlen(d->d_name), sl = strlen(suffix);
			char *u1 = strchr(d->d_name, '_'), *u2 = u1 ? strchr(u1 + 1, '_') : NULL;

			if (n > sl && !strcmp(d->d_name + n - sl, suffix) && u2 &&
			    u2 < d->d_name + n - sl) {
				cgroup_info__set(ci, CGF_CONTAINER_NAME, u2 + 1, d->d_name + n - sl - u2 - 1);
				break;
			}
		}
		closedir(dir);
	}
	if (ci->f[CGF_CONTAINER_NAME] || !ci->f[CGF_RUNTIME])
		return;
	if (!strcmp(ci->f[CGF_RUNTIME], "docker")) {
		char path[256], buf[65536], *p, *e;

		snprintf(path, sizeof(path), "/var/lib/docker/containers/%s/config.v2.json", id);
		if (read_small(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "\"Name\":\"")) &&
		    (e = strchr(p + 8, '"'))) {
			p += 8;
			p += *p == '/';
			if (e > p)
				cgroup_info__set(ci, CGF_CONTAINER_NAME, p, e - p);
		}
	} else if (!strcmp(ci->f[CGF_RUNTIME], "podman")) {
		static const char *const files[] = {
			"/var/lib/containers/storage/overlay-containers/containers.json",
			"/var/lib/containers/storage/vfs-containers/containers.json",
		};
		char pat[96];

		snprintf(pat, sizeof(pat), "\"id\":\"%s\"", id);
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			static char buf[1 << 20];
			char *p, *e, *next;

			if (read_small(files[i], buf, sizeof(buf)) <= 0 || !(p = strstr(buf, pat)))
				continue;
			/* the names of this entry, before the next entry's id */
			next = strstr(p + 1, "\"id\":\"");
			p = strstr(p, "\"names\":[\"");
			if (!p || (next && p > next) || !(e = strchr(p + 10, '"')))
				continue;
			cgroup_info__set(ci, CGF_CONTAINER_NAME, p + 10, e - p - 10);
			break;
		}
	}
}

static struct cgroup_info *info_for_path(struct cgroups *c, const char *path)
{
	uint64_t h = hash_str(path);
	void **v = u64map__get(&c->by_path, h);
	struct cgroup_info *ci;

	if (v && *v && !strcmp(((struct cgroup_info *)*v)->f[CGF_PATH], path))
		return *v;
	ci = keep(c, cgroup_info__new(path));
	if (!ci)
		return NULL;
	names_from_host(ci);
	u64map__put(&c->by_path, h, ci);
	return ci;
}

/* Walks the cgroup2 tree: every directory's inode number is its cgroup id. */
static void walk_dir(struct cgroups *c, int dfd, char *path, size_t plen, int depth)
{
	DIR *dir;
	struct dirent *d;

	if (depth > 32 || !(dir = fdopendir(dfd))) {
		close(dfd);
		return;
	}
	while ((d = readdir(dir))) {
		size_t n = strlen(d->d_name);
		int sub;

		if (d->d_type != DT_DIR || d->d_name[0] == '.' || plen + 1 + n >= 4096)
			continue;
		path[plen] = '/';
		memcpy(path + plen + 1, d->d_name, n + 1);
		u64map__put(&c->walked, d->d_ino, strdup(path));
		sub = openat(dirfd(dir), d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			walk_dir(c, sub, path, plen + 1 + n, depth + 1);
		path[plen] = '\0';
	}
	closedir(dir);
}

/* The path of id from the last walk, walking again if that one is older
 * than REWALK_NS; *sure says that a NULL means the cgroup is gone. */
static const char *walk_lookup(struct cgroups *c, uint64_t id, bool *sure)
{
	void **v = u64map__get(&c->walked, id);
	char path[4096] = "";
	int fd;

	*sure = false;
	if (v)
		return *v;
	if (c->walked_ns && now_ns() - c->walked_ns < REWALK_NS)
		return NULL;
	*sure = true;
	c->walked_ns = now_ns();
	u64map__free(&c->walked, true);
	fd = open(c->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		walk_dir(c, fd, path, 0, 0);
	v = u64map__get(&c->walked, id);
	return v ? *v : NULL;
}

/* The v2 line of /proc/PID/cgroup, if that cgroup is id: what needs no
 * capability and no walk, while the process lives in it. */
static bool v2_path_of_pid(const struct cgroups *c, uint32_t pid, uint64_t id, char *out,
			   size_t len)
{
	char path[4200], buf[16384], full[8400], *p, *nl;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%u/cgroup", c->proc, pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return false;
	p = !strncmp(buf, "0::", 3) ? buf : strstr(buf, "\n0::");
	if (!p)
		return false;
	p += p == buf ? 3 : 4;
	nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	snprintf(full, sizeof(full), "%s%s", c->mount, p);
	if (p[0] != '/' || stat(full, &st) || st.st_ino != id)
		return false;
	snprintf(out, len, "%s", p);
	return true;
}

/* The path of cgroup id, relative to the mount: by file handle (one
 * system call, needs CAP_DAC_READ_SEARCH), else from the v2 line of the
 * owner's /proc/PID/cgroup, else from a walk of the tree.
 * *sure: a false return means the cgroup is gone, not "not looked at". */
static bool path_of_id(struct cgroups *c, uint64_t id, uint32_t pid, char *out, size_t len,
		       bool *sure)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	size_t ml = strlen(c->mount);
	char link[64], buf[4096];
	const char *w;
	int mfd, fd;
	ssize_t n;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(c->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = mfd < 0 ? -1 : open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd >= 0)
		close(mfd);
	*sure = fd < 0 && errno == ESTALE;	/* no such cgroup (any more) */
	if (*sure)
		return false;
	if (fd >= 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (!strncmp(buf, c->mount, ml) && (buf[ml] == '/' || !buf[ml])) {
				snprintf(out, len, "%s", buf[ml] ? buf + ml : "/");
				return true;
			}
		}
	}
	if (id == c->root_id) {
		snprintf(out, len, "/");
		return true;
	}
	if (pid && v2_path_of_pid(c, pid, id, out, len))
		return true;
	w = walk_lookup(c, id, sure);
	if (!w)
		return false;
	snprintf(out, len, "%s", w);
	return true;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot; 0 if it is gone. */
static uint64_t proc_start(const struct cgroups *c, uint32_t pid)
{
	char path[4200], buf[1024], *p;
	unsigned long long start;

	snprintf(path, sizeof(path), "%s/%u/stat", c->proc, pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* after the comm: state is field 3, starttime field 22 */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &start) != 1)
		return 0;
	return start;
}

/* The cache entry of pid, emptied when the pid now names another process
 * (checked at most every pid_recheck_ns); one that exited keeps what was
 * read, so that the close after its exit still names its cgroup. */
static struct pid_entry *pid_entry(struct cgroups *c, uint32_t pid)
{
	void **v = u64map__get(&c->by_pid, pid);
	struct pid_entry *pe;
	uint64_t now = now_ns(), start;

	if (v) {
		pe = *v;
		if (now - pe->checked_ns < c->pid_recheck_ns)
			return pe;
		pe->checked_ns = now;
		start = proc_start(c, pid);
		if (start && pe->start && start != pe->start) {
			pe->have_ci = pe->have_vpid = false;
			pe->start = start;
		}
		return pe;
	}
	if (c->by_pid.n >= PIDS_MAX)
		u64map__free(&c->by_pid, true);	/* pids are reused: start over */
	pe = calloc(1, sizeof(*pe));
	if (pe && u64map__put(&c->by_pid, pid, pe)) {
		free(pe);
		return NULL;
	}
	if (pe) {
		pe->start = proc_start(c, pid);
		pe->checked_ns = now;
	}
	return pe;
}

/* /proc/PID/cgroup: the v2 line if it is not the root, else the systemd
 * hierarchy's, else the first v1 controller's that is not the root. */
static const struct cgroup_info *from_proc(struct cgroups *c, uint32_t pid)
{
	char path[4200], buf[16384], *line, *save = NULL, *best = NULL;
	int rank = 0;

	snprintf(path, sizeof(path), "%s/%u/cgroup", c->proc, pid);
	if (read_small(path, buf, sizeof(buf)) < 0) {
		c->gone++;
		return NULL;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *p;
		int r;

		if (!c2)
			continue;
		p = c2 + 1;
		r = c1 + 1 == c2 && !strncmp(line, "0:", 2) ? 3 :
		    !strncmp(c1 + 1, "name=systemd:", 13) ? 2 : 1;
		if (strcmp(p, "/") && r > rank) {
			rank = r;
			best = p;
		}
	}
	return info_for_path(c, best ?: "/");
}

/* What a cache miss cost the event loop. */
static void note_time(struct cgroups *c, uint64_t ns)
{
	c->lookups++;
	if (ns > c->slowest_ns)
		c->slowest_ns = ns;
}

const struct cgroup_info *cgroups__find(struct cgroups *c, uint64_t id, uint32_t pid)
{
	struct pid_entry *pe;
	void **v;

	if (!c)
		return NULL;
	if (id && c->mount && (id != c->root_id || !c->hybrid)) {
		char path[4096];
		struct cgroup_info *ci = NULL;
		bool sure = false;
		uint64_t t0;

		v = u64map__get(&c->by_id, id);
		if (v)
			return *v;
		t0 = now_ns();
		if (path_of_id(c, id, pid, path, sizeof(path), &sure))
			ci = info_for_path(c, path);
		note_time(c, now_ns() - t0);
		/* a cgroup already removed is not looked for again; one the
		 * walk's rate limit kept from being looked for is */
		if (ci || sure)
			u64map__put(&c->by_id, id, ci);
		if (ci && c->on_new_id)
			c->on_new_id(c->on_new_id_ctx, id, ci);
		return ci;
	}
	if (!pid)
		return NULL;
	pe = pid_entry(c, pid);
	if (!pe)
		return NULL;
	if (!pe->have_ci) {
		uint64_t t0 = now_ns();

		pe->ci = from_proc(c, pid);
		pe->have_ci = true;
		note_time(c, now_ns() - t0);
	}
	return pe->ci;
}

void cgroups__timing(const struct cgroups *c, uint64_t *lookups, uint64_t *slowest_ns)
{
	*lookups = c ? c->lookups : 0;
	*slowest_ns = c ? c->slowest_ns : 0;
}

void cgroups__set_proc(struct cgroups *c, const char *proc, uint64_t recheck_ns)
{
	c->proc = proc;
	c->pid_recheck_ns = recheck_ns;
}

void cgroups__set_new_id_fn(struct cgroups *c, cgroups_new_id_fn fn, void *ctx)
{
	c->on_new_id = fn;
	c->on_new_id_ctx = ctx;
}

uint32_t cgroups__vpid(struct cgroups *c, uint32_t pid)
{
	char path[4200], buf[4096], *p;
	struct pid_entry *pe;

	if (!c || !pid || !(pe = pid_entry(c, pid)))
		return 0;
	if (pe->have_vpid)
		return pe->vpid;
	pe->have_vpid = true;
	snprintf(path, sizeof(path), "%s/%u/status", c->proc, pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nNSpid:")))
		return 0;
	/* the last number is the pid in the process's own namespace */
	p += 7;
	for (char *tok = strtok(p, " \t\n"); tok && isdigit((unsigned char)*tok);
	     tok = strtok(NULL, " \t\n")) {
		pe->vpid = strtoul(tok, NULL, 10);
		if (strchr(tok, '\n'))
			break;
	}
	return pe->vpid;
}

void cgroups__describe(const struct cgroups *c, char *buf, size_t len)
{
	if (!c->mount)
		snprintf(buf, len, "cgroups: no cgroup2 mount, owners' cgroups from /proc/PID/cgroup");
	else if (c->hybrid)
		snprintf(buf, len, "cgroups: cgroup2 at %s beside v1 hierarchies: owners in its root "
			 "are named from /proc/PID/cgroup", c->mount);
	else
		snprintf(buf, len, "cgroups: cgroup2 at %s", c->mount);
}

uint64_t cgroups__gone(const struct cgroups *c)
{
	return c ? c->gone : 0;
}

bool cgroups__path_exists(const struct cgroups *c, const char *path)
{
	char full[4096];
	struct stat st;
	static const char *const v1[] = { "systemd", "memory", "cpu", "pids" };

	if (c && c->mount) {
		snprintf(full, sizeof(full), "%s/%s", c->mount, path);
		if (!stat(full, &st) && S_ISDIR(st.st_mode))
			return true;
	}
	for (size_t i = 0; c && c->hybrid && i < sizeof(v1) / sizeof(v1[0]); i++) {
		snprintf(full, sizeof(full), "/sys/fs/cgroup/%s/%s", v1[i], path);
		if (!stat(full, &st) && S_ISDIR(st.st_mode))
			return true;
	}
	return false;
}

int cgroups__count_containers(struct cgroups *c, const char *idname)
{
	char path[4096] = "";
	const char *ids[64];
	int n = 0, fd;

	if (!c || !c->mount)
		return 0;
	u64map__free(&c->walked, true);
	fd = open(c->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		walk_dir(c, fd, path, 0, 0);
	c->walked_ns = now_ns();
	for (size_t i = 0; i < c->walked.cap; i++) {
		struct cgroup_info *ci;
		const char *id;
		int k;

		if (!c->walked.e[i].used || !c->walked.e[i].val)
			continue;
		ci = info_for_path(c, c->walked.e[i].val);
		if (!cgroup_info__match_container(ci, idname))
			continue;
		id = ci->f[CGF_CONTAINER_ID];
		for (k = 0; k < n && strcmp(ids[k], id); k++)
			;
		if (k == n && n < 64)
			ids[n++] = id;
	}
	return n;
}

void cgroups__free(struct cgroups *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_all; i++)
		cgroup_info__free(c->all[i]);
	free(c->all);
	u64map__free(&c->by_id, false);
	u64map__free(&c->by_pid, true);
	u64map__free(&c->by_path, false);
	u64map__free(&c->walked, true);
	free(c->mount);
	free(c);
}
