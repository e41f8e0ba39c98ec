// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "sockdiag.h"

int sockdiag__open(const char *netns_path)
{
	return sockdiag__socket_in(netns_path, AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
}

/* Whether two namespace files name the same namespace. */
static bool same_ns(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int sockdiag__socket_in(const char *netns_path, int domain, int type, int protocol)
{
	int self_fd, ns_fd, sk, err;

	if (!netns_path) {
		sk = socket(domain, type | SOCK_CLOEXEC, protocol);
		return sk < 0 ? -errno : sk;
	}
	self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_fd < 0)
		return -errno;
	ns_fd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (ns_fd < 0) {
		err = -errno;
		close(self_fd);
		return err;
	}
	/* setns() needs CAP_SYS_ADMIN, even into the namespace we are in */
	if (same_ns(self_fd, ns_fd)) {
		close(ns_fd);
		close(self_fd);
		return sockdiag__socket_in(NULL, domain, type, protocol);
	}
	if (setns(ns_fd, CLONE_NEWNET)) {
		err = -errno;
		close(ns_fd);
		close(self_fd);
		return err;
	}
	close(ns_fd);
	/* a socket belongs to the namespace it was created in */
	sk = socket(domain, type | SOCK_CLOEXEC, protocol);
	err = sk < 0 ? -errno : 0;
	if (setns(self_fd, CLONE_NEWNET)) {
		perror("socktrace: failed to return to the original network namespace");
		abort();
	}
	close(self_fd);
	return err ? err : sk;
}

int sockdiag__dump(int sk, int family, int protocol, uint32_t states, sockdiag_cb cb,
		   void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = protocol,
			.idiag_states = states,
		},
	};
	struct sockaddr_nl nladdr = { .nl_family = AF_NETLINK };
	static char buf[65536];
	int ret = 0;

	if (sendto(sk, &msg, sizeof(msg), 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
		return -errno;
	for (;;) {
		ssize_t len = recv(sk, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (len == 0)
			return ret;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return ret;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EIO;
			}
			/* keep reading to the end so the socket can be reused */
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)) || ret)
				continue;
			ret = cb(NLMSG_DATA(h), ctx);
		}
	}
}
