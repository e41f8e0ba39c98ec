// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* storm: a loopback TCP connection storm, the workload of socktrace's
 * benchmark (bench/run.py).
 *
 *   storm [-6] [-p PORT] [-n COUNT] [-t SECONDS] [-c fin|rst]
 *
 * One server process accepts and closes, one client process connects and
 * closes, one connection at a time, as fast as they can, until COUNT
 * connections or SECONDS have passed (whichever comes first; both always
 * bound the run). Address 127.0.0.1, or ::1 with -6; PORT 0 (the default)
 * takes an ephemeral port. At the end it prints one JSON line:
 *
 *   {"connections":N,"seconds":S,"rate":R,"port":P,"family":4,"close":"fin",
 *    "errors":E,"cpu_s":C}
 *
 * How a connection ends (-c), and why the default is "fin":
 *
 *   fin (default): the server closes first (accept(), close()), the client
 *   waits for that FIN (read() returns 0) and closes normally. This is how
 *   an HTTP/1.0-style server ends its connections. The kernel makes exactly
 *   10 TCP state transitions per connection (measured with socktrace -P
 *   PORT, see bench/README.md), in an order fixed by the protocol:
 *     client  CLOSE->SYN_SENT, SYN_SENT->ESTABLISHED,
 *             ESTABLISHED->CLOSE_WAIT, CLOSE_WAIT->LAST_ACK, LAST_ACK->CLOSE
 *     server  LISTEN->SYN_RECV, SYN_RECV->ESTABLISHED,
 *             ESTABLISHED->FIN_WAIT1, FIN_WAIT1->FIN_WAIT2, FIN_WAIT2->CLOSE
 *   plus CLOSE->LISTEN and LISTEN->CLOSE once per run for the listener.
 *   (The server's FIN_WAIT2->CLOSE is the orphaned socket handing over to a
 *   timewait mini-socket, which the tracepoint does not report.)
 *   TIME_WAIT stays on the server's side only, never on the client's, so
 *   the client never runs out of ephemeral ports; and when the client comes
 *   back to a port it used before, its SYN recycles the server's TIME_WAIT
 *   entry for that 4-tuple. The number of TIME_WAIT entries therefore stops
 *   at about the size of ip_local_port_range (~28000), far below
 *   tcp_max_tw_buckets: the rate is the same in the first second and the
 *   hundredth, and one run does not slow the next.
 *
 *   rst: the same, but the client aborts (SO_LINGER {1, 0}) after the
 *   server's FIN, which leaves no TIME_WAIT at all (9 transitions: client
 *   CLOSE_WAIT->CLOSE instead of ->LAST_ACK->CLOSE). It is not the default
 *   because the RST can overtake the client's ACK of the server's FIN: then
 *   the server goes FIN_WAIT1->CLOSE, skipping FIN_WAIT2 (measured: 35 in
 *   10000 connections; 7 in 20000 with the TCP_QUICKACK set below), so the
 *   number of transitions per connection is not exact and a loss count
 *   based on it would be off by that much.
 *
 *   One connection is in flight at a time: the client blocks in read()
 *   until the server has accepted and closed, so the run is a ping-pong of
 *   wakeups between the two processes, like a request/response workload.
 *
 * Every loop is bounded by COUNT and by the deadline; both processes also
 * die by an alarm 30 s after it (should one block in read() or accept()),
 * and the server with its parent (PR_SET_PDEATHSIG).
 * Exit status: 0 ok, 1 error, 2 usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "bench.h"

#define MAX_SECONDS 3600.0
/* consecutive failed connects after which the run gives up */
#define MAX_ERRORS 1000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: storm [-6] [-p PORT] [-n COUNT] [-t SECONDS] [-c fin|rst]\n"
		"Loopback TCP connection storm: one server accepts and closes, one client\n"
		"connects and closes, until COUNT connections or SECONDS (default 5).\n"
		"  -6          use ::1 instead of 127.0.0.1\n"
		"  -p PORT     listening port (default 0: ephemeral)\n"
		"  -n COUNT    stop after COUNT connections (default: no limit but -t)\n"
		"  -t SECONDS  stop after SECONDS (default 5, at most 3600)\n"
		"  -c MODE     fin (default): server closes first, client closes normally\n"
		"              rst: server closes first, client aborts (RST)\n"
		"Prints one JSON line: connections, seconds, rate (connections/s).\n");
}

/* Accepts and closes until accept() fails: the parent shuts the listener
 * down when it is done, which makes accept() return EINVAL. */
static void server(int lfd, double max_s)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned)max_s + 30);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			_exit(0);
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {};
	socklen_t alen;
	unsigned long long count = 0, done = 0, errors = 0, run_errors = 0;
	double seconds = 5, t0, t1, deadline;
	int family = AF_INET, port = 0, rst = 0, lfd, one = 1, c, status;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct rusage ru_self, ru_child;
	unsigned long long v;
	pid_t pid;

	while ((c = getopt(argc, argv, "6p:n:t:c:h")) != -1) {
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
			if (arg_ull(optarg, 0, ULLONG_MAX, &v))
				goto bad;
			count = v;
			break;
		case 't':
			if (arg_seconds(optarg, MAX_SECONDS, &seconds))
				goto bad;
			break;
		case 'c':
			if (!strcmp(optarg, "rst"))
				rst = 1;
			else if (!strcmp(optarg, "fin"))
				rst = 0;
			else
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

	alen = loopback_addr(family, port, &ss);

	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, alen) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &alen)) {
		fprintf(stderr, "storm: listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "storm: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0)
		server(lfd, seconds);

	/* a client blocked in read() forever (server gone) dies here */
	alarm((unsigned)seconds + 30);
	t0 = now_s();
	deadline = t0 + seconds;
	while ((!count || done < count) && now_s() < deadline) {
		char buf[64];
		ssize_t r;
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fprintf(stderr, "storm: socket: %s\n", strerror(errno));
			break;
		}
		if (connect(fd, (struct sockaddr *)&ss, alen)) {
			errors++;
			close(fd);
			if (++run_errors >= MAX_ERRORS) {
				fprintf(stderr, "storm: connect: %s (%d failures in a row)\n",
					strerror(errno), MAX_ERRORS);
				break;
			}
			continue;
		}
		run_errors = 0;
		/* wait for the server's FIN: it closes first */
		do {
			r = read(fd, buf, sizeof(buf));
		} while (r > 0 || (r < 0 && errno == EINTR));
		if (rst) {
			/* ACK the server's FIN now, not with a delayed ACK that
			 * the RST would overtake (see the top of this file) */
			setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fd);
		done++;
	}
	t1 = now_s();

	/* wakes the server's accept() (EINVAL): LISTEN -> CLOSE */
	shutdown(lfd, SHUT_RDWR);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "storm: server process failed\n");
		kill(pid, SIGKILL);
		return 1;
	}
	close(lfd);
	getrusage(RUSAGE_SELF, &ru_self);
	getrusage(RUSAGE_CHILDREN, &ru_child);

	printf("{\"connections\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"port\":%d,"
	       "\"family\":%d,\"close\":\"%s\",\"errors\":%llu,\"cpu_s\":%.3f}\n",
	       done, t1 - t0, done / (t1 - t0), port, family == AF_INET ? 4 : 6,
	       rst ? "rst" : "fin", errors,
	       tv_s(ru_self.ru_utime) + tv_s(ru_self.ru_stime) +
	       tv_s(ru_child.ru_utime) + tv_s(ru_child.ru_stime));
	return done ? 0 : 1;
bad:
	usage(stderr);
	return 2;
}
