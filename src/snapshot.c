// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "snapshot.h"
#include "sockdiag.h"

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
	/* network namespaces seen while walking /proc: inode and one path */
	struct netns_ref {
		uint64_t ino;
		char path[64];
	} *netns;
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

static void scan_pid(struct owners *o, int proc_fd, uint32_t pid)
{
	char path[64], link[64], comm[TASK_COMM_LEN + 1] = "";
	struct dirent *de;
	struct stat st;
	int fd, dfd;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "%u/ns/net", pid);
	if (fstatat(proc_fd, path, &st, 0) == 0) {
		char full[64];

		snprintf(full, sizeof(full), "/proc/%u/ns/net", pid);
		owners__add_netns(o, st.st_ino, full);
	}
	snprintf(path, sizeof(path), "%u/comm", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, TASK_COMM_LEN);
		close(fd);
		if (n > 0 && comm[n - 1] == '\n')
			n--;
		comm[n > 0 ? n : 0] = '\0';
	}
	snprintf(path, sizeof(path), "%u/fd", pid);
	dfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		/* another user's process (or, without CAP_SYS_PTRACE, a process
		 * with more capabilities); not one that exited meanwhile */
		if ((errno == EACCES || errno == EPERM) && !is_kthread(proc_fd, pid))
			o->n_unreadable++;
		return;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		unsigned long long ino;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (n < 0 && (errno == EACCES || errno == EPERM)) {
			/* the directory opened, its links need ptrace access */
			o->n_unreadable++;
			break;
		}
		if (n < 9)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8) || sscanf(link + 8, "%llu]", &ino) != 1 || !ino)
			continue;
		owners__add(o, ino, pid, comm);
	}
	closedir(d);
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

/* ---- the sockets of each namespace ---- */

struct snap_ctx {
	const struct owners *o;
	const struct clock_ref *ref;
	snapshot_cb cb;
	void *ctx;
	uint32_t netns;
	uint64_t now;
	/* listening ports of the namespace, to tell servers from clients */
	uint8_t listen_ports[65536 / 8];
};

static int snap_listener(const struct inet_diag_msg *m, void *ctx)
{
	struct snap_ctx *sc = ctx;
	uint16_t port = ntohs(m->id.idiag_sport);

	sc->listen_ports[port / 8] |= 1 << (port % 8);
	return 0;
}

static void snap_fill(struct snap_ctx *sc, const struct inet_diag_msg *m, struct event *ev)
{
	ev->boot_ns = sc->now;
	ev->wall_ns = clock_ref__wall(sc->ref, sc->now);
	ev->ino = m->idiag_inode;
	ev->old_ns = EVENT_OLD_NS_UNKNOWN;
	ev->elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev->netns = sc->netns;
	ev->family = m->idiag_family;
	memcpy(&ev->laddr, m->id.idiag_src, ev->family == AF_INET ? 4 : 16);
	memcpy(&ev->raddr, m->id.idiag_dst, ev->family == AF_INET ? 4 : 16);
	ev->lport = ntohs(m->id.idiag_sport);
	ev->rport = ntohs(m->id.idiag_dport);
	ev->new_state = m->idiag_state;
	if (owners__lookup(sc->o, ev->ino, &ev->pid, ev->comm)) {
		ev->tid = ev->pid;
		ev->owner_src = ST_OWNER_SNAPSHOT;
	}
}

/* A UDP socket, bound (state CLOSE) or connected (ESTABLISHED), as ss -uanp. */
static int snap_udp_socket(const struct inet_diag_msg *m, void *ctx)
{
	struct snap_ctx *sc = ctx;
	struct event ev = {};

	ev.kind = EVENT_UDP_SOCKET;
	ev.proto = IPPROTO_UDP;
	snap_fill(sc, m, &ev);
	return sc->cb(&ev, sc->ctx);
}

static int snap_socket(const struct inet_diag_msg *m, void *ctx)
{
	struct snap_ctx *sc = ctx;
	struct event ev = {};

	ev.kind = EVENT_TCP_SOCKET;
	ev.proto = IPPROTO_TCP;
	snap_fill(sc, m, &ev);
	if (ev.new_state == ST_TCP_SYN_SENT)
		ev.syn_retrans = m->idiag_retrans;	/* icsk_retransmits */
	if (ev.new_state == ST_TCP_LISTEN)
		ev.role = ST_ROLE_LISTENER;
	else if (sc->listen_ports[ev.lport / 8] & (1 << (ev.lport % 8)))
		ev.role = ST_ROLE_SERVER;
	else
		ev.role = ST_ROLE_CLIENT;
	return sc->cb(&ev, sc->ctx);
}

/* A family or protocol the namespace lacks is not an error. */
static int snap_family_err(int err)
{
	return err == -ENOENT || err == -EAFNOSUPPORT ? 0 : err;
}

/* Remembers a namespace the snapshot could not list. */
static void gaps__add_netns(struct snapshot_gaps *g, const struct netns_ref *ns, int err)
{
	if (!g)
		return;
	if (g->n_netns < SNAPSHOT_GAPS_NAMED) {
		g->netns[g->n_netns].ino = ns->ino;
		snprintf(g->netns[g->n_netns].path, sizeof(g->netns[0].path), "%s", ns->path);
	}
	if (!g->netns_err || g->netns_err == -ENOENT)
		g->netns_err = err;
	g->n_netns++;
}

int snapshot__run(const struct owners *o, const struct clock_ref *ref, unsigned int protos,
		  snapshot_cb cb, void *ctx, struct snapshot_gaps *gaps)
{
	/* every state but NEW_SYN_RECV request socks */
	const uint32_t all = ~(1u << ST_TCP_NEW_SYN_RECV), listen = 1u << ST_TCP_LISTEN;
	struct snap_ctx *sc;
	int err = 0;

	if (gaps)
		memset(gaps, 0, sizeof(*gaps));
	if (!o)
		return -EINVAL;
	if (gaps)
		gaps->procs = o->n_unreadable;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->o = o;
	sc->ref = ref;
	sc->cb = cb;
	sc->ctx = ctx;
	sc->now = clock_ref__boot_now();
	for (size_t i = 0; i < o->n_netns && !err; i++) {
		int sk = sockdiag__open(o->netns[i].path);

		if (sk < 0) {
			/* a namespace that went away meanwhile is no gap */
			if (sk != -ENOENT && sk != -ESRCH)
				gaps__add_netns(gaps, &o->netns[i], sk);
			continue;
		}
		sc->netns = o->netns[i].ino;
		memset(sc->listen_ports, 0, sizeof(sc->listen_ports));
		if (!protos || (protos & FILTER_PROTO_TCP)) {
			sockdiag__dump(sk, AF_INET, IPPROTO_TCP, listen, snap_listener, sc);
			sockdiag__dump(sk, AF_INET6, IPPROTO_TCP, listen, snap_listener, sc);
			err = snap_family_err(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, all,
							     snap_socket, sc)) ?:
			      snap_family_err(sockdiag__dump(sk, AF_INET6, IPPROTO_TCP, all,
							     snap_socket, sc));
		}
		if (!err && (!protos || (protos & FILTER_PROTO_UDP)))
			err = snap_family_err(sockdiag__dump(sk, AF_INET, IPPROTO_UDP, ~0u,
							     snap_udp_socket, sc)) ?:
			      snap_family_err(sockdiag__dump(sk, AF_INET6, IPPROTO_UDP, ~0u,
							     snap_udp_socket, sc));
		close(sk);
	}
	free(sc);
	return err;
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1u << (cap % 32));
}

void snapshot__warn(const struct snapshot_gaps *g, FILE *out)
{
	if (g->n_netns) {
		size_t named = g->n_netns < SNAPSHOT_GAPS_NAMED ? g->n_netns : SNAPSHOT_GAPS_NAMED;
		bool perm = g->netns_err == -EPERM || g->netns_err == -EACCES;

		fprintf(out, "socktrace: warning: the snapshot lists no sockets of %zu network "
			"namespace%s it could not enter (%s): ", g->n_netns, g->n_netns == 1 ? "" : "s",
			perm && !has_cap(CAP_SYS_ADMIN) ? "setns() needs CAP_SYS_ADMIN" :
			strerror(-g->netns_err));
		for (size_t i = 0; i < named; i++)
			fprintf(out, "%s%llu (%s)", i ? ", " : "",
				(unsigned long long)g->netns[i].ino, g->netns[i].path);
		if (g->n_netns > named)
			fprintf(out, " and %zu more", g->n_netns - named);
		fprintf(out, "\n");
	}
	if (g->procs)
		fprintf(out, "socktrace: warning: the snapshot names no owner for the sockets of %zu "
			"process%s whose /proc/PID/fd it could not read, nor their network namespaces "
			"(%s)\n", g->procs, g->procs == 1 ? "" : "es",
			has_cap(CAP_SYS_PTRACE) ? "permission denied" :
			"reading another process's needs CAP_SYS_PTRACE, another user's also "
			"CAP_DAC_READ_SEARCH");
}
