// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bulk: one loopback TCP connection streaming as fast as it can, the bulk
 * transfer workload of socktrace's benchmark (bench/run.py).
 *
 *   bulk [-6] [-p PORT] [-t SECONDS] [-s CHUNK]
 *
 * A server process accepts one connection and reads until EOF; the client
 * writes CHUNK-byte buffers (default 65536) for SECONDS (default 5), then
 * closes. One connection, two state changes at each end: what a tracer
 * costs here is what it does per send(), recv() or segment, which
 * socktrace's tcp_conn counters must not add to (they are read once, at
 * the close). Address 127.0.0.1, or ::1 with -6; PORT 0 takes an
 * ephemeral one. At the end it prints one JSON line:
 *
 *   {"bytes":N,"seconds":S,"rate":R,"port":P,"family":4,"chunk":65536,
 *    "received":M,"errors":E,"cpu_s":C}
 *
 * rate is bytes per second written; received is what the server read (the
 * same, or the run is broken: errors counts it). cpu_s is the user+system
 * CPU time of both processes, loopback softirqs and any BPF tracer's
 * kernel side included. Every process dies by an alarm 30 s after the
 * deadline, and with its parent. Exit status: 0 ok, 1 error, 2 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "bench.h"

static int usage(void)
{
	fprintf(stderr, "usage: bulk [-6] [-p PORT] [-t SECONDS] [-s CHUNK]\n");
	return 2;
}

/* Reads until EOF; writes the byte count to fd out. */
static int serve(int lsock, int out)
{
	static char buf[1 << 17];
	unsigned long long got = 0;
	int c = accept(lsock, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return 1;
	while ((n = read(c, buf, sizeof(buf))) > 0)
		got += n;
	close(c);
	return write(out, &got, sizeof(got)) == sizeof(got) && n == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	int family = AF_INET, port = 0, opt, lsock, s, pfd[2], status, errors = 0;
	double seconds = 5, t0, t1;
	unsigned long long sent = 0, received = 0;
	size_t chunk = 65536;
	unsigned long long v;
	struct sockaddr_storage ss;
	struct rusage ru_self, ru_child;
	socklen_t len;
	char *buf;
	pid_t pid;

	while ((opt = getopt(argc, argv, "6p:t:s:")) != -1) {
		switch (opt) {
		case '6':
			family = AF_INET6;
			break;
		case 'p':
			if (arg_ull(optarg, 0, 65535, &v))
				return usage();
			port = v;
			break;
		case 't':
			if (arg_seconds(optarg, 3600, &seconds))
				return usage();
			break;
		case 's':
			if (arg_ull(optarg, 1, 1 << 24, &v))
				return usage();
			chunk = v;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	buf = calloc(1, chunk);
	lsock = socket(family, SOCK_STREAM, 0);
	len = loopback_addr(family, port, &ss);
	if (!buf || lsock < 0 || setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) ||
	    bind(lsock, (struct sockaddr *)&ss, len) || listen(lsock, 1) ||
	    getsockname(lsock, (struct sockaddr *)&ss, &len) || pipe(pfd)) {
		perror("bulk: listen");
		return 1;
	}
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	alarm((unsigned)seconds + 30);
	pid = fork();
	if (pid < 0) {
		perror("bulk: fork");
		return 1;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pfd[0]);
		_exit(serve(lsock, pfd[1]));
	}
	close(pfd[1]);
	close(lsock);
	s = socket(family, SOCK_STREAM, 0);
	loopback_addr(family, port, &ss);
	if (s < 0 || connect(s, (struct sockaddr *)&ss, len)) {
		perror("bulk: connect");
		kill(pid, SIGKILL);
		return 1;
	}
	t0 = now_s();
	while ((t1 = now_s()) - t0 < seconds) {
		ssize_t n = write(s, buf, chunk);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			errors++;
			break;
		}
		sent += n;
	}
	close(s);
	if (read(pfd[0], &received, sizeof(received)) != sizeof(received))
		errors++;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		errors++;
	if (received != sent)
		errors++;
	getrusage(RUSAGE_SELF, &ru_self);
	getrusage(RUSAGE_CHILDREN, &ru_child);
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"port\":%d,\"family\":%d,"
	       "\"chunk\":%zu,\"received\":%llu,\"errors\":%d,\"cpu_s\":%.3f}\n",
	       sent, t1 - t0, sent / (t1 - t0), port, family == AF_INET ? 4 : 6, chunk, received,
	       errors, tv_s(ru_self.ru_utime) + tv_s(ru_self.ru_stime) + tv_s(ru_child.ru_utime) +
	       tv_s(ru_child.ru_stime));
	return errors ? 1 : 0;
}
