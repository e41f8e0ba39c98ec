// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "report.h"
#include "snapshot.h"
#include "sockdiag.h"

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
	const struct netns_ref *netns;
	struct snap_ctx *sc;
	size_t n_netns;
	int err = 0;

	if (gaps)
		memset(gaps, 0, sizeof(*gaps));
	if (!o)
		return -EINVAL;
	if (gaps)
		gaps->procs = owners__unreadable(o);
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->o = o;
	sc->ref = ref;
	sc->cb = cb;
	sc->ctx = ctx;
	sc->now = clock_ref__boot_now();
	netns = owners__netns(o, &n_netns);
	for (size_t i = 0; i < n_netns && !err; i++) {
		int sk = sockdiag__open(netns[i].path);

		if (sk < 0) {
			/* a namespace that went away meanwhile is no gap */
			if (sk != -ENOENT && sk != -ESRCH)
				gaps__add_netns(gaps, &netns[i], sk);
			continue;
		}
		sc->netns = netns[i].ino;
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

void snapshot__warn(const struct snapshot_gaps *g)
{
	if (g->n_netns) {
		size_t named = g->n_netns < SNAPSHOT_GAPS_NAMED ? g->n_netns : SNAPSHOT_GAPS_NAMED;
		bool perm = g->netns_err == -EPERM || g->netns_err == -EACCES;
		char list[SNAPSHOT_GAPS_NAMED * 96];
		size_t n = 0;

		list[0] = '\0';
		for (size_t i = 0; i < named && n < sizeof(list); i++)
			n += snprintf(list + n, sizeof(list) - n, "%s%llu (%s)", i ? ", " : "",
				      (unsigned long long)g->netns[i].ino, g->netns[i].path);
		if (g->n_netns > named && n < sizeof(list))
			snprintf(list + n, sizeof(list) - n, " and %zu more", g->n_netns - named);
		report__warning("the snapshot lists no sockets of %zu network namespace%s it could not "
				"enter (%s): %s", g->n_netns, g->n_netns == 1 ? "" : "s",
				perm && !has_cap(CAP_SYS_ADMIN) ? "setns() needs CAP_SYS_ADMIN" :
				strerror(-g->netns_err), list);
	}
	if (g->procs)
		report__warning("the snapshot names no owner for the sockets of %zu process%s whose "
				"/proc/PID/fd it could not read, nor their network namespaces (%s)",
				g->procs, g->procs == 1 ? "" : "es",
				has_cap(CAP_SYS_PTRACE) ? "permission denied" :
				"reading another process's needs CAP_SYS_PTRACE, another user's also "
				"CAP_DAC_READ_SEARCH");
}
