/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TCP and UDP socket dumps through NETLINK_SOCK_DIAG, in any network namespace. */
#ifndef ST_SOCKDIAG_H
#define ST_SOCKDIAG_H

#include <stdint.h>
#include <linux/inet_diag.h>

/* Opens a sock_diag socket in the namespace at netns_path (NULL: the
 * current one). Returns the fd or -errno. */
int sockdiag__open(const char *netns_path);
/* Any socket, created in the namespace at netns_path (NULL: current). */
int sockdiag__socket_in(const char *netns_path, int domain, int type, int protocol);

/* Called per socket; a non-zero return is kept and ends the dump early. */
typedef int (*sockdiag_cb)(const struct inet_diag_msg *m, void *ctx);

/* Dumps the sockets of one family and protocol (IPPROTO_TCP, IPPROTO_UDP)
 * whose state bit is set in states. Returns 0, the callback's non-zero
 * return, or -errno. */
int sockdiag__dump(int sk, int family, int protocol, uint32_t states, sockdiag_cb cb,
		   void *ctx);

#endif /* ST_SOCKDIAG_H */
