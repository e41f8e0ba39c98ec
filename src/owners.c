// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "event.h"
#include "owners.h"

struct owner {
	uint64_t ino;		/* 0: empty slot */
	uint32_t pid;
	char comm[TASK_COMM_LEN];
};

struct owners {
	struct owner *slots;
	size_t cap;		/* power of two */
	size_t n;
	size_t n_unreadable;	/* processes whose /proc/PID/fd could not be read */
	struct netns_ref *netns;	/* network namespaces seen while walking /proc */
	size_t n_netns;
	size_t cap_netns;
};

static size_t hash_ino(uint64_t ino, size_t cap)
{
	return (ino * 0x9e3779b97f4a7c15ull) >> 17 & (cap - 1);
}

static int owners__grow(struct owners *o)
{
	size_t cap = o->cap ? o->cap * 2 : 1024;
	struct owner *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < o->cap; i++) {
		size_t h;

		if (!o->slots[i].ino)
			continue;
		for (h = hash_ino(o->slots[i].ino, cap); s[h].ino; h = (h + 1) & (cap - 1))
			;
		s[h] = o->slots[i];
	}
	free(o->slots);
	o->slots = s;
	o->cap = cap;
	return 0;
}

/* The first process found keeps a shared socket: /proc lists parents (lower
 * pids) first, which is usually the process that created it. */
static int owners__add(struct owners *o, uint64_t ino, uint32_t pid, const char *comm)
{
	size_t h;

	if ((o->n + 1) * 2 > o->cap && owners__grow(o))
		return -ENOMEM;
	for (h = hash_ino(ino, o->cap); o->slots[h].ino; h = (h + 1) & (o->cap - 1))
		if (o->slots[h].ino == ino)
			return 0;
	o->slots[h].ino = ino;
	o->slots[h].pid = pid;
	/* at most TASK_COMM_LEN - 1 bytes, NUL-terminated, as the kernel's */
	memset(o->slots[h].comm, 0, sizeof(o->slots[h].comm));
	memcpy(o->slots[h].comm, comm, strnlen(comm, sizeof(o->slots[h].comm) - 1));
	o->n++;
	return 0;
}

bool owners__lookup(const struct owners *o, uint64_t ino, uint32_t *pid, char *comm)
{
	if (!o || !o->cap || !ino)
		return false;
	for (size_t h = hash_ino(ino, o->cap); o->slots[h].ino; h = (h + 1) & (o->cap - 1)) {
		if (o->slots[h].ino == ino) {
			*pid = o->slots[h].pid;
			memcpy(comm, o->slots[h].comm, TASK_COMM_LEN);
			return true;
		}
	}
	return false;
}

size_t owners__count(const struct owners *o)
{
	return o ? o->n : 0;
}

size_t owners__unreadable(const struct owners *o)
{
	return o ? o->n_unreadable : 0;
}

const struct netns_ref *owners__netns(const struct owners *o, size_t *n)
{
	*n = o->n_netns;
	return o->netns;
}

static void owners__add_netns(struct owners *o, uint64_t ino, const char *path)
{
	for (size_t i = 0; i < o->n_netns; i++)
		if (o->netns[i].ino == ino)
			return;
	if (o->n_netns == o->cap_netns) {
		size_t cap = o->cap_netns ? o->cap_netns * 2 : 16;
		void *p = realloc(o->netns, cap * sizeof(*o->netns));

		if (!p)
			return;
		o->netns = p;
		o->cap_netns = cap;
	}
	o->netns[o->n_netns].ino = ino;
	snprintf(o->netns[o->n_netns].path, sizeof(o->netns[0].path), "%s", path);
	o->n_netns++;
}

#define PF_KTHREAD 0x00200000

/* Whether /proc/PID/stat says the task is a kernel thread (which has no
 * files, and whose fd directory only root may open). */
static bool is_kthread(int proc_fd, uint32_t pid)
{
	char path[64], buf[512], *p;
	unsigned long flags;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%u/stat", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp session tty_nr tpgid flags": comm may
	 * hold anything, the last ')' ends it */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & PF_KTHREAD;
}

static void read_comm(int proc_fd, uint32_t pid, char comm[TASK_COMM_LEN + 1])
{
	char path[64];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%u/comm", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, TASK_COMM_LEN);
		close(fd);
		if (n > 0 && comm[n - 1] == '\n')
			n--;
	}
	comm[n > 0 ? n : 0] = '\0';
}

/* Calls fn for the inode of each socket pid holds, until fn returns
 * nonzero (returned). -EACCES: the fds are another user's to read. */
static int each_socket(int proc_fd, uint32_t pid, int (*fn)(void *ctx, uint64_t ino), void *ctx)
{
	char path[64], link[64];
	struct dirent *de;
	int dfd, ret = 0;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "%u/fd", pid);
	dfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		/* another user's process (or, without CAP_SYS_PTRACE, a process
		 * with more capabilities); not one that exited meanwhile */
		return (errno == EACCES || errno == EPERM) && !is_kthread(proc_fd, pid) ? -EACCES : 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	while (!ret && (de = readdir(d))) {
		unsigned long long ino;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (n < 0 && (errno == EACCES || errno == EPERM)) {
			/* the directory opened, its links need ptrace access */
			ret = -EACCES;
			break;
		}
		if (n < 9)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8) || sscanf(link + 8, "%llu]", &ino) != 1 || !ino)
			continue;
		ret = fn(ctx, ino);
	}
	closedir(d);
	return ret;
}

struct scan_ctx {
	struct owners *o;
	uint32_t pid;
	const char *comm;
};

static int scan_one(void *ctx, uint64_t ino)
{
	struct scan_ctx *sc = ctx;

	owners__add(sc->o, ino, sc->pid, sc->comm);
	return 0;
}

static void scan_pid(struct owners *o, int proc_fd, uint32_t pid)
{
	char path[64], comm[TASK_COMM_LEN + 1];
	struct scan_ctx sc = { .o = o, .pid = pid, .comm = comm };
	struct stat st;

	snprintf(path, sizeof(path), "%u/ns/net", pid);
	if (fstatat(proc_fd, path, &st, 0) == 0) {
		char full[64];

		snprintf(full, sizeof(full), "/proc/%u/ns/net", pid);
		owners__add_netns(o, st.st_ino, full);
	}
	read_comm(proc_fd, pid, comm);
	if (each_socket(proc_fd, pid, scan_one, &sc) == -EACCES)
		o->n_unreadable++;
}

static int is_ino(void *ctx, uint64_t ino)
{
	return *(uint64_t *)ctx == ino;
}

int owners__holder(const char *proc_root, uint64_t ino, uint32_t *pid, char *comm)
{
	uint32_t best = 0;
	struct dirent *de;
	int proc_fd;
	DIR *d;

	d = opendir(proc_root);
	if (!d)
		return -errno;
	proc_fd = dirfd(d);
	while ((de = readdir(d))) {
		uint32_t p;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		p = strtoul(de->d_name, NULL, 10);
		if ((!best || p < best) && each_socket(proc_fd, p, is_ino, &ino) == 1)
			best = p;
	}
	if (best) {
		*pid = best;
		read_comm(proc_fd, best, comm);
	}
	closedir(d);
	return best ? 0 : -ENOENT;
}

struct owners *owners__scan(const char *proc_root)
{
	struct owners *o = calloc(1, sizeof(*o));
	struct dirent *de;
	int proc_fd;
	DIR *d;

	if (!o)
		return NULL;
	if (owners__grow(o)) {
		owners__free(o);
		return NULL;
	}
	d = opendir(proc_root);
	if (!d) {
		int err = -errno;

		owners__free(o);
		errno = -err;
		return NULL;
	}
	proc_fd = dirfd(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		scan_pid(o, proc_fd, strtoul(de->d_name, NULL, 10));
	}
	closedir(d);

	/* namespaces kept alive by a bind mount only, as `ip netns add` does */
	d = opendir("/run/netns");
	if (d) {
		while ((de = readdir(d))) {
			char path[300];
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
			if (stat(path, &st) == 0 && strlen(path) < sizeof(o->netns[0].path))
				owners__add_netns(o, st.st_ino, path);
		}
		closedir(d);
	}
	return o;
}

void owners__free(struct owners *o)
{
	if (!o)
		return;
	free(o->slots);
	free(o->netns);
	free(o);
}
