// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "diagnose.h"
#include "sockdiag.h"

int diagnoser__init(struct diagnoser *d, listener_owner_fn fn, void *ctx,
		    const struct owners *owners)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->listener_owner = fn;
	d->listener_ctx = ctx;
	d->owners = owners;
	if (stat("/proc/self/ns/net", &st))
		return -errno;
	d->self_netns = st.st_ino;
	return 0;
}

struct match_ctx {
	int family;		/* of the destination, after unmapping */
	struct in6_addr addr;	/* destination, IPv4 in the first 4 bytes */
	uint16_t port;
	int score;		/* 2 exact address, 1 wildcard */
	struct inet_diag_msg best;
};

static bool is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Which listener gets a SYN to (family, addr, port): same address, else the
 * wildcard; an IPv6 wildcard also takes IPv4 (unless IPV6_V6ONLY). */
static int match_listener(const struct inet_diag_msg *m, void *ctx)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct match_ctx *mc = ctx;
	const uint8_t *src = (const uint8_t *)m->id.idiag_src;
	int score = 0;

	if (ntohs(m->id.idiag_sport) != mc->port)
		return 0;
	if (m->idiag_family == AF_INET && mc->family == AF_INET) {
		if (!memcmp(src, &mc->addr, 4))
			score = 2;
		else if (is_zero(src, 4))
			score = 1;
	} else if (m->idiag_family == AF_INET6 && mc->family == AF_INET6) {
		if (!memcmp(src, &mc->addr, 16))
			score = 2;
		else if (is_zero(src, 16))
			score = 1;
	} else if (m->idiag_family == AF_INET6 && mc->family == AF_INET) {
		if (!memcmp(src, v4mapped, 12) && !memcmp(src + 12, &mc->addr, 4))
			score = 2;
		else if (is_zero(src, 16))
			score = 1;
	}
	if (score > mc->score) {
		mc->score = score;
		mc->best = *m;
	}
	return 0;
}

/* An address is local when a socket can bind to it. */
static bool is_local(const char *netns_path, int family, const struct in6_addr *addr)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = *addr };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	bool local;
	int fd;

	fd = sockdiag__socket_in(netns_path, family, SOCK_DGRAM, 0);
	if (fd < 0)
		return false;
	memcpy(&sin.sin_addr, addr, 4);
	local = family == AF_INET ? !bind(fd, (struct sockaddr *)&sin, sizeof(sin)) :
				    !bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	close(fd);
	return local;
}

struct port_ctx {
	uint64_t ino;
	struct event *ev;
};

static int match_inode(const struct inet_diag_msg *m, void *ctx)
{
	struct port_ctx *pc = ctx;

	if (m->idiag_inode != pc->ino)
		return 0;
	pc->ev->lport = ntohs(m->id.idiag_sport);
	memcpy(&pc->ev->laddr, m->id.idiag_src, pc->ev->family == AF_INET ? 4 : 16);
	return 1;
}

int diagnoser__run(void *ctx, struct event *ev)
{
	struct diagnosis *out = &ev->diag;
	struct diagnoser *d = ctx;
	struct match_ctx mc = { .family = ev->family, .addr = ev->raddr, .port = ev->rport };
	char path[64], *ns_path = NULL;
	struct event lev;
	struct stat st;
	int sk;

	memset(out, 0, sizeof(*out));
	if (ev->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ev->raddr)) {
		mc.family = AF_INET;
		memset(&mc.addr, 0, sizeof(mc.addr));
		memcpy(&mc.addr, &ev->raddr.s6_addr[12], 4);
	}
	if (ev->netns != d->self_netns) {
		/* enter the attempt's namespace through its owner */
		if (!ev->pid)
			return -ENOENT;
		snprintf(path, sizeof(path), "/proc/%u/ns/net", ev->pid);
		if (stat(path, &st) || st.st_ino != ev->netns)
			return -ENOENT;
		ns_path = path;
	}
	sk = sockdiag__open(ns_path);
	if (sk < 0)
		return sk;
	if (!ev->lport && ev->ino) {
		struct port_ctx pc = { .ino = ev->ino, .ev = ev };

		sockdiag__dump(sk, ev->family, IPPROTO_TCP, 1u << ST_TCP_SYN_SENT, match_inode, &pc);
	}
	sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_LISTEN, match_listener, &mc);
	sockdiag__dump(sk, AF_INET6, IPPROTO_TCP, 1u << ST_TCP_LISTEN, match_listener, &mc);
	close(sk);

	if (!mc.score) {
		if (is_local(ns_path, mc.family, &mc.addr))
			out->cause = DIAG_NO_LISTENER;
		return 0;
	}
	/* for a listener, the queues are the accept queue and its limit;
	 * SYNs are dropped once it holds more than the limit */
	out->queue = mc.best.idiag_rqueue;
	out->backlog = mc.best.idiag_wqueue;
	out->cause = out->queue > out->backlog ? DIAG_QUEUE_FULL : DIAG_LISTENING;
	lev = *ev;
	lev.family = mc.best.idiag_family;
	memset(&lev.laddr, 0, sizeof(lev.laddr));
	memcpy(&lev.laddr, mc.best.id.idiag_src, lev.family == AF_INET ? 4 : 16);
	if ((!d->listener_owner ||
	     d->listener_owner(d->listener_ctx, &lev, &lev.laddr, mc.port, &out->pid, out->comm)) &&
	    !owners__lookup(d->owners, mc.best.idiag_inode, &out->pid, out->comm))
		out->pid = 0;
	return 0;
}
