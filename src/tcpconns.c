// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "report.h"
#include "tcpconns.h"

#define MAX_NETNS 4096

struct ns {
	uint64_t ino;
	char path[64];
};

struct tcpconns {
	int link_fd;
	struct pipeline *pl;
	const struct clock_ref *ref;
	const struct owners *owners;
	uint64_t interval_ns;
	uint64_t next_ns;
	uint64_t self_ino;
	struct ns *ns;
	size_t n_ns;
	uint64_t failed;
	bool warned;		/* a round failed somewhere: said once */
	struct st_tcp_conn_event *buf;
	size_t buf_len;		/* in records */
};

static bool tcpconns__known(const struct tcpconns *t, uint64_t ino)
{
	for (size_t i = 0; i < t->n_ns; i++)
		if (t->ns[i].ino == ino)
			return true;
	return false;
}

static void tcpconns__add(struct tcpconns *t, uint64_t ino, const char *path)
{
	if (t->n_ns == MAX_NETNS || tcpconns__known(t, ino))
		return;
	t->ns[t->n_ns].ino = ino;
	snprintf(t->ns[t->n_ns].path, sizeof(t->ns[0].path), "%s", path);
	t->n_ns++;
}

struct tcpconns *tcpconns__new(int link_fd, struct pipeline *pl, const struct clock_ref *ref,
			       uint64_t interval_ns)
{
	struct tcpconns *t = calloc(1, sizeof(*t));
	struct stat st;

	if (!t)
		return NULL;
	t->ns = calloc(MAX_NETNS, sizeof(*t->ns));
	t->buf_len = 1024;
	t->buf = calloc(t->buf_len, sizeof(*t->buf));
	if (!t->ns || !t->buf) {
		tcpconns__free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->link_fd = link_fd;
	t->pl = pl;
	t->ref = ref;
	t->interval_ns = interval_ns;
	if (!stat("/proc/self/ns/net", &st))
		t->self_ino = st.st_ino;
	tcpconns__add(t, t->self_ino, "/proc/self/ns/net");
	return t;
}

void tcpconns__set_owners(struct tcpconns *t, const struct owners *o)
{
	const struct netns_ref *refs;
	size_t n = 0;

	if (!t)
		return;
	t->owners = o;
	refs = o ? owners__netns(o, &n) : NULL;
	for (size_t i = 0; i < n; i++)
		tcpconns__add(t, refs[i].ino, refs[i].path);
}

void tcpconns__learn(struct tcpconns *t, uint32_t netns, uint32_t pid)
{
	char path[64];
	struct stat st;

	if (!t || !pid || tcpconns__known(t, netns))
		return;
	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	/* the process may be gone, or its pid taken by another */
	if (stat(path, &st) || st.st_ino != netns)
		return;
	tcpconns__add(t, netns, path);
}

/* The iterator's output in the namespace the caller is in. */
static int tcpconns__read(struct tcpconns *t, size_t *n)
{
	int fd = bpf_iter_create(t->link_fd);
	size_t got = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (got == t->buf_len) {
			struct st_tcp_conn_event *nb = realloc(t->buf, 2 * t->buf_len * sizeof(*nb));

			if (!nb) {
				close(fd);
				return -ENOMEM;
			}
			t->buf = nb;
			t->buf_len *= 2;
		}
		r = read(fd, (char *)t->buf + got * sizeof(*t->buf),
			 (t->buf_len - got) * sizeof(*t->buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r / sizeof(*t->buf);
	}
	close(fd);
	*n = got;
	return r < 0 ? -errno : 0;
}

/* One namespace's connections, read inside it. */
static int tcpconns__read_in(struct tcpconns *t, const struct ns *ns, int self_fd, size_t *n)
{
	struct stat st;
	int fd, err;

	if (ns->ino == t->self_ino)
		return tcpconns__read(t, n);
	fd = open(ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a /proc/PID path whose process is gone and whose pid was reused */
	if (fstat(fd, &st) || st.st_ino != ns->ino) {
		close(fd);
		return -ENOENT;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	/* an iterator walks the namespace it was created in */
	err = tcpconns__read(t, n);
	if (setns(self_fd, CLONE_NEWNET))
		return -errno;
	return err;
}

/* Stamped with the round's time, as UDP flow updates are: the source's
 * clock, which the ring buffer's records before it do not pass. */
static int tcpconns__push(struct tcpconns *t, size_t n, uint64_t now_ns, bool existing)
{
	struct event ev;

	for (size_t i = 0; i < n; i++) {
		t->buf[i].base.ts_ns = now_ns;
		if (event__decode(&ev, &t->buf[i], sizeof(t->buf[i]), t->ref))
			continue;
		if (existing)
			ev.conn.flags |= TCP_CONN_EXISTING;
		if (!ev.pid && owners__lookup(t->owners, ev.ino, &ev.pid, ev.comm)) {
			ev.tid = ev.pid;
			ev.owner_src = ST_OWNER_SNAPSHOT;
		}
		pipeline__push(t->pl, &ev);
		if (t->pl->done)
			return t->pl->err;
	}
	return 0;
}

int tcpconns__tick(struct tcpconns *t, uint64_t now_ns)
{
	if (!t || !t->interval_ns)
		return 0;
	if (!t->next_ns)
		t->next_ns = now_ns + t->interval_ns;
	if (now_ns < t->next_ns)
		return 0;
	t->next_ns += t->interval_ns;
	if (t->next_ns <= now_ns)	/* a long stall: no burst of rounds */
		t->next_ns = now_ns + t->interval_ns;
	return tcpconns__round(t, now_ns, false);
}

int tcpconns__round(struct tcpconns *t, uint64_t now_ns, bool existing)
{
	int self_fd, err = 0;
	size_t i = 0;

	if (!t)
		return 0;
	self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_fd < 0)
		return -errno;
	t->failed = 0;
	while (i < t->n_ns && !err) {
		size_t n = 0;
		int r = tcpconns__read_in(t, &t->ns[i], self_fd, &n);

		if (r == -ENOENT) {
			/* gone: forget it (a later event may teach it again) */
			t->ns[i] = t->ns[--t->n_ns];
			continue;
		}
		if (r) {
			t->failed++;
			/* e.g. setns() after -Z dropped CAP_SYS_ADMIN: never silent */
			if (!t->warned)
				report__warning("failed to read the TCP connections of network namespace %llu: %s",
						(unsigned long long)t->ns[i].ino, strerror(-r));
			t->warned = true;
		}
		err = tcpconns__push(t, n, now_ns, existing);
		i++;
	}
	close(self_fd);
	return err;
}

uint64_t tcpconns__failed(const struct tcpconns *t)
{
	return t ? t->failed : 0;
}

void tcpconns__free(struct tcpconns *t)
{
	if (!t)
		return;
	free(t->ns);
	free(t->buf);
	free(t);
}
