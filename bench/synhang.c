// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* synhang: connection attempts that hang in SYN_SENT on loopback, the
 * connects workload of socktrace's benchmark (bench/run.py).
 *
 *   synhang [-6] [-p PORT] [-n COUNT] [-t SECONDS]
 *
 * A listener with listen(fd, 0) takes one connection (the "filler") that it
 * never accepts. Its accept queue is then full (the kernel compares
 * sk_ack_backlog > sk_max_ack_backlog, so a backlog of 0 holds one), and
 * tcp_conn_request() drops every further SYN to it (LISTENOVERFLOWS): the
 * COUNT non-blocking connects (default 50) that follow stay in SYN_SENT and
 * retransmit their SYN: after 1, 2, 3, 4, 5, 7, 11 s on Linux 6.5+ (the
 * first net.ipv4.tcp_syn_linear_timeouts + 1 at TCP_TIMEOUT_INIT, 1 s, then
 * doubling), after 1, 3, 7 s on older kernels, until the attempt times out
 * (net.ipv4.tcp_syn_retries: after about 20 s here). They are held for SECONDS (default 2.5), their TCP_INFO is read,
 * and they are closed (an attempt closed in SYN_SENT ends without a packet:
 * "aborted"), then the filler and the listener. It needs no firewall, and
 * nothing but loopback. At the end it prints one JSON line:
 *
 *   {"attempts":50,"filler":1,"seconds":S,"wall_s":W,"port":P,"family":4,
 *    "connect_errors":0,"not_syn_sent":0,"syn_retrans_expected":50,
 *    "syn_retrans_observed":50,"syn_retrans_min":1,"syn_retrans_max":1,
 *    "near_boundary":0,"cpu_s":C}
 *
 * seconds: from the first connect() to the first close() (the hold);
 * wall_s: the whole run. syn_retrans_observed sums tcpi_total_retrans of the
 * attempts, read just before each close (min and max per attempt beside it);
 * syn_retrans_expected sums, per attempt, the retransmits its age at that
 * read allows by the schedule above; near_boundary counts attempts whose
 * age was within 50 ms of a retransmit time, where expected and observed may
 * differ by one without anything being wrong (the default SECONDS, 2.5,
 * keeps every attempt away from them: two retransmits each on 6.5+, one
 * before).
 * not_syn_sent counts attempts in another state than SYN_SENT at the read
 * (the accept queue was not full after all: the figures are then void).
 *
 * Bounded: COUNT at most 10000 (and the open file limit), SECONDS at most
 * 600, an alarm 30 s after the hold. Exit status: 0 ok, 1 error, 2 usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "bench.h"

#define MAX_COUNT 10000
#define MAX_SECONDS 600.0
/* the kernel's TCP_TIMEOUT_INIT: the first SYN retransmit, then doubling */
#define RTO_INIT_S 1.0
#define BOUNDARY_S 0.05

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: synhang [-6] [-p PORT] [-n COUNT] [-t SECONDS]\n"
		"Loopback connection attempts that hang in SYN_SENT: a listener whose accept\n"
		"queue is full drops their SYNs; COUNT attempts are held SECONDS, then closed.\n"
		"  -6          use ::1 instead of 127.0.0.1\n"
		"  -p PORT     listening port (default 0: ephemeral)\n"
		"  -n COUNT    connection attempts (default 50, at most %d)\n"
		"  -t SECONDS  how long to hold them (default 2.5, at most %.0f)\n"
		"Prints one JSON line: attempts, seconds, SYN retransmits expected and observed.\n",
		MAX_COUNT, MAX_SECONDS);
}

/* The first N SYN retransmits after the first come at a fixed interval
 * (Linux 6.5+, net.ipv4.tcp_syn_linear_timeouts, default 4); 0 where the
 * sysctl does not exist. */
static unsigned syn_linear_timeouts(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_syn_linear_timeouts", "r");
	unsigned n = 0;

	if (f) {
		if (fscanf(f, "%u", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

/* SYN retransmits an attempt of this age has made: the k-th comes
 * RTO_INIT_S after the one before for k <= linear + 1, then the interval
 * doubles (1, 2, 3, 4, 5, 7, 11 s with linear 4; 1, 3, 7 s with 0). Sets
 * *near if age is within BOUNDARY_S of one of those times. */
static unsigned expected_retrans(double age, unsigned linear, int *near)
{
	unsigned k = 0;
	double t = 0, rto = RTO_INIT_S;

	*near = 0;
	while (k < 64) {
		t += rto;
		if (age > t - BOUNDARY_S && age < t + BOUNDARY_S)
			*near = 1;
		if (age < t)
			break;
		k++;
		if (k > linear)
			rto *= 2;
	}
	return k;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {};
	socklen_t alen;
	unsigned long count = 50, errors = 0, not_syn_sent = 0, near_boundary = 0, n = 0;
	unsigned long long expected = 0, observed = 0;
	unsigned rmin = ~0u, rmax = 0;
	double seconds = 2.5, t_begin, t0 = 0, t1;
	int family = AF_INET, port = 0, lfd, filler, c, one = 1;
	struct rusage ru;
	struct rlimit rl;
	unsigned linear = syn_linear_timeouts();
	int *fds;
	double *t_conn;
	unsigned long long v;

	t_begin = now_s();
	while ((c = getopt(argc, argv, "6p:n:t:h")) != -1) {
		switch (c) {
		case '6':
			family = AF_INET6;
			break;
		case 'p':
			if (arg_ull(optarg, 0, 65535, &v))
				goto bad;
			port = v;
			break;
		case 'n':
			if (arg_ull(optarg, 1, MAX_COUNT, &v))
				goto bad;
			count = v;
			break;
		case 't':
			if (arg_seconds(optarg, MAX_SECONDS, &seconds))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;

	/* COUNT sockets, a filler, a listener, stdio */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < count + 16) {
		rl.rlim_cur = rl.rlim_max < count + 16 ? rl.rlim_max : count + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < count + 16) {
			fprintf(stderr, "synhang: open file limit %lu too low for %lu attempts\n",
				(unsigned long)rl.rlim_cur, count);
			return 1;
		}
	}
	alarm((unsigned)seconds + 30);

	alen = loopback_addr(family, port, &ss);

	fds = calloc(count, sizeof(*fds));
	t_conn = calloc(count, sizeof(*t_conn));
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!fds || !t_conn || lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, alen) || listen(lfd, 0) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &alen)) {
		fprintf(stderr, "synhang: listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);

	/* the filler: the handshake completes in the kernel, nobody accepts */
	filler = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (filler < 0 || connect(filler, (struct sockaddr *)&ss, alen)) {
		fprintf(stderr, "synhang: filler connect: %s\n", strerror(errno));
		return 1;
	}

	t0 = now_s();
	for (n = 0; n < count; n++) {
		fds[n] = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fds[n] < 0) {
			fprintf(stderr, "synhang: socket: %s\n", strerror(errno));
			break;
		}
		t_conn[n] = now_s();
		if (connect(fds[n], (struct sockaddr *)&ss, alen) == 0 || errno != EINPROGRESS)
			errors++;
	}

	/* hold: nothing to do but wait; the kernel retransmits */
	t1 = t0 + seconds;
	for (double t = now_s(); t < t1; t = now_s())
		poll(NULL, 0, (int)((t1 - t) * 1000) + 1);

	t1 = now_s();
	for (unsigned long i = 0; i < n; i++) {
		struct tcp_info ti = {};
		socklen_t len = sizeof(ti);
		double age = now_s() - t_conn[i];
		int near;

		expected += expected_retrans(age, linear, &near);
		near_boundary += near;
		if (getsockopt(fds[i], IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
			if (ti.tcpi_state != TCP_SYN_SENT)
				not_syn_sent++;
			observed += ti.tcpi_total_retrans;
			if (ti.tcpi_total_retrans < rmin)
				rmin = ti.tcpi_total_retrans;
			if (ti.tcpi_total_retrans > rmax)
				rmax = ti.tcpi_total_retrans;
		} else {
			not_syn_sent++;
		}
		close(fds[i]);
	}
	close(filler);
	close(lfd);
	getrusage(RUSAGE_SELF, &ru);

	printf("{\"attempts\":%lu,\"filler\":1,\"seconds\":%.6f,\"wall_s\":%.6f,\"port\":%d,"
	       "\"family\":%d,\"connect_errors\":%lu,\"not_syn_sent\":%lu,"
	       "\"syn_retrans_expected\":%llu,\"syn_retrans_observed\":%llu,"
	       "\"syn_retrans_min\":%u,\"syn_retrans_max\":%u,\"near_boundary\":%lu,"
	       "\"cpu_s\":%.3f}\n",
	       n, t1 - t0, now_s() - t_begin, port, family == AF_INET ? 4 : 6, errors,
	       not_syn_sent, expected, observed, n ? rmin : 0, rmax, near_boundary,
	       tv_s(ru.ru_utime) + tv_s(ru.ru_stime));
	return n && !errors && !not_syn_sent ? 0 : 1;
bad:
	usage(stderr);
	return 2;
}
