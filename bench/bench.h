/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the load generators share: clocks and the loopback address. */
#ifndef ST_BENCH_H
#define ST_BENCH_H

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* A whole decimal number in [lo, hi] into *out: 0, or -EINVAL for anything
 * else (a sign, a suffix, nothing), so every generator rejects bad input. */
static inline int arg_ull(const char *s, unsigned long long lo, unsigned long long hi,
			  unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A duration in seconds, more than 0 and at most hi. */
static inline int arg_seconds(const char *s, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || end == s || !(v > 0) || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* 127.0.0.1 or ::1 (family) and port into ss; returns its length. Nothing
 * but loopback: the benchmark's traffic never leaves the host. */
static inline socklen_t loopback_addr(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

#endif /* ST_BENCH_H */
