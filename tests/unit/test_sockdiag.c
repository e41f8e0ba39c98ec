// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sockdiag.c in the current network namespace (no privilege needed): our
 * own listeners are found with their inode and queues. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "sockdiag.h"
#include "util.h"

static void fd_close(void *p)
{
	close((int)(intptr_t)p);
}

static int defer_close(int fd)
{
	if (fd >= 0)
		ut_defer(fd_close, (void *)(intptr_t)fd);
	return fd;
}

/* A listener on the loopback address of family, with backlog; returns the
 * fd and fills port and inode. */
static int listener(int family, int backlog, uint16_t *port, uint64_t *ino)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;
	int one = 1;
	int fd = defer_close(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));

	ASSERT_MSG(fd >= 0, "socket: %s", strerror(errno));
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		len = sizeof(*sin6);
	}
	ASSERT_MSG(!bind(fd, (struct sockaddr *)&ss, len), "bind: %s", strerror(errno));
	ASSERT_MSG(!listen(fd, backlog), "listen: %s", strerror(errno));
	len = sizeof(ss);
	ASSERT(!getsockname(fd, (struct sockaddr *)&ss, &len));
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					  ((struct sockaddr_in6 *)&ss)->sin6_port);
	ASSERT(!fstat(fd, &st));
	*ino = st.st_ino;
	return fd;
}

struct find_ctx {
	uint16_t port;
	int seen;		/* sockets the callback saw */
	int found;
	int stop_after;		/* return 1 after this many, 0: never */
	struct inet_diag_msg msg;
};

static int find_port(const struct inet_diag_msg *m, void *ctx)
{
	struct find_ctx *fc = ctx;

	fc->seen++;
	if (ntohs(m->id.idiag_sport) == fc->port) {
		fc->found++;
		fc->msg = *m;
	}
	return fc->stop_after && fc->seen >= fc->stop_after;
}

TEST(sockdiag_finds_own_listener)
{
	uint16_t port;
	uint64_t ino;
	int sk = defer_close(sockdiag__open(NULL));
	struct find_ctx fc;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int c;

	ASSERT_MSG(sk >= 0, "sockdiag__open: %s", strerror(-sk));
	listener(AF_INET, 7, &port, &ino);

	memset(&fc, 0, sizeof(fc));
	fc.port = port;
	ASSERT_EQ(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_LISTEN, find_port, &fc), 0);
	ASSERT_EQ(fc.found, 1);
	ASSERT_EQ(fc.msg.idiag_family, AF_INET);
	ASSERT_EQ(fc.msg.idiag_state, ST_TCP_LISTEN);
	ASSERT_EQ_U64(fc.msg.idiag_inode, ino);
	ASSERT_EQ(fc.msg.idiag_rqueue, 0);	/* nothing waits for accept() */
	ASSERT_EQ(fc.msg.idiag_wqueue, 7);	/* the backlog */
	ASSERT_EQ(fc.msg.id.idiag_src[0], htonl(INADDR_LOOPBACK));

	/* one connection waiting for accept() */
	c = defer_close(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	ASSERT_MSG(!connect(c, (struct sockaddr *)&sin, sizeof(sin)), "connect: %s", strerror(errno));
	memset(&fc, 0, sizeof(fc));
	fc.port = port;
	ASSERT_EQ(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_LISTEN, find_port, &fc), 0);
	ASSERT_EQ(fc.found, 1);
	ASSERT_EQ(fc.msg.idiag_rqueue, 1);

	/* the established pair, on both sides of the port */
	memset(&fc, 0, sizeof(fc));
	fc.port = port;
	ASSERT_EQ(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_ESTABLISHED, find_port, &fc), 0);
	ASSERT_EQ(fc.found, 1);		/* the server side has the port as source */
	ASSERT_EQ(fc.msg.idiag_state, ST_TCP_ESTABLISHED);
}

TEST(sockdiag_ipv6_listener)
{
	uint16_t port;
	uint64_t ino;
	int sk = defer_close(sockdiag__open(NULL));
	struct find_ctx fc;

	ASSERT_MSG(sk >= 0, "sockdiag__open: %s", strerror(-sk));
	listener(AF_INET6, 3, &port, &ino);
	memset(&fc, 0, sizeof(fc));
	fc.port = port;
	ASSERT_EQ(sockdiag__dump(sk, AF_INET6, IPPROTO_TCP, 1u << ST_TCP_LISTEN, find_port, &fc), 0);
	ASSERT_EQ(fc.found, 1);
	ASSERT_EQ(fc.msg.idiag_family, AF_INET6);
	ASSERT_EQ_U64(fc.msg.idiag_inode, ino);
	ASSERT_EQ(fc.msg.idiag_wqueue, 3);
	/* not among the IPv4 ones */
	memset(&fc, 0, sizeof(fc));
	fc.port = port;
	ASSERT_EQ(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_LISTEN, find_port, &fc), 0);
	ASSERT_EQ(fc.found, 0);
}

TEST(sockdiag_callback_stops_and_socket_is_reusable)
{
	uint16_t port[3];
	uint64_t ino;
	int sk = defer_close(sockdiag__open(NULL));
	struct find_ctx fc;

	ASSERT_MSG(sk >= 0, "sockdiag__open: %s", strerror(-sk));
	for (int i = 0; i < 3; i++)
		listener(AF_INET, 1, &port[i], &ino);
	memset(&fc, 0, sizeof(fc));
	fc.stop_after = 2;
	ASSERT_EQ(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_LISTEN, find_port, &fc), 1);
	ASSERT_EQ(fc.seen, 2);
	/* the rest of that dump was drained: a new one works and sees all */
	memset(&fc, 0, sizeof(fc));
	fc.port = port[2];
	ASSERT_EQ(sockdiag__dump(sk, AF_INET, IPPROTO_TCP, 1u << ST_TCP_LISTEN, find_port, &fc), 0);
	ASSERT(fc.seen >= 3);
	ASSERT_EQ(fc.found, 1);
}

TEST(sockdiag_socket_in)
{
	int fd = defer_close(sockdiag__socket_in(NULL, AF_INET, SOCK_DGRAM, 0));
	int type = 0;
	socklen_t len = sizeof(type);

	ASSERT_MSG(fd >= 0, "sockdiag__socket_in: %s", strerror(-fd));
	ASSERT(!getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len));
	ASSERT_EQ(type, SOCK_DGRAM);
	ASSERT_EQ(sockdiag__open("/nonexistent/ns/net"), -ENOENT);
}
