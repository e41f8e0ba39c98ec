// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* udpflood: a loopback UDP request/response flood, the UDP workload of
 * socktrace's benchmark (bench/run.py).
 *
 *   udpflood [-6] [-p PORT] [-n COUNT] [-t SECONDS] [-s SIZE] [-c CLIENTS]
 *            [-w WINDOW] [-T MS] [-a CPU]
 *
 * One server process echoes: an unconnected socket, recvfrom() and sendto()
 * back to the sender. CLIENTS client processes (default 1) each connect() a
 * socket of their own to it and send() SIZE-byte requests (default 64),
 * recv()ing the echo; each keeps at most WINDOW requests outstanding
 * (default 1: lockstep, a ping-pong like storm's). The run ends after COUNT
 * requests in all (split between the clients) or SECONDS, whichever comes
 * first; both always bound it. A reply that does not come within MS
 * milliseconds (default 200) counts as a timeout, and its request as lost:
 * the client goes on, it never waits longer. Address 127.0.0.1, or ::1 with
 * -6; PORT 0 (the default) takes an ephemeral port.
 *
 * -a CPU pins all processes to one CPU. The lockstep rate depends on where
 * the scheduler puts the two processes: on one CPU a request and its reply
 * are two direct task switches, on two CPUs each is a cross-CPU wakeup of
 * an idle CPU. On a 2-CPU VM that made 20,000-30,000 datagrams/s against
 * 120,000-145,000 on one CPU, from run to run, depending on the load of the
 * machine; pinned, the rate measures what a datagram costs in CPU.
 *
 * At the end it prints one JSON line:
 *
 *   {"datagrams":N,"seconds":S,"rate":R,"port":P,"family":4,"size":64,
 *    "clients":1,"window":1,"requests":Q,"server_rx":A,"server_tx":B,
 *    "responses":C,"timeouts":T,"errors":E,"cpu":-1,"cpu_s":C}
 *
 * datagrams = requests + server_tx: the datagrams sent (requests and
 * responses), rate = datagrams / seconds. requests, server_rx, server_tx and
 * responses count successful send()/recv() calls at each end: without loss
 * they are all equal, and a tracer that counts datagrams per socket and
 * direction sees requests + server_rx + server_tx + responses of them.
 * timeouts counts the requests given up as lost, errors failed send() and
 * recv() calls other than timeouts. cpu_s is the user+system CPU time of
 * all processes; the loopback softirqs and any BPF tracer's kernel side run
 * in their context, so it includes those.
 *
 * Every loop is bounded by COUNT and by the deadline; every process also
 * dies by an alarm 30 s after it, and the children with the parent
 * (PR_SET_PDEATHSIG). Exit status: 0 ok, 1 error, 2 usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "bench.h"

#define MAX_SECONDS 3600.0
#define MAX_CLIENTS 64
#define MAX_WINDOW 256
#define MAX_SIZE 65000
/* how often an idle server looks whether it should stop */
#define SERVER_POLL_MS 50

/* Counters, in memory shared by all processes (MAP_SHARED before fork);
 * each is written by one process only. */
struct client_stats {
	unsigned long long requests, responses, timeouts, errors;
	double end_s;
};

struct shared {
	volatile int stop;	/* set by the parent once the clients are done */
	unsigned long long server_rx, server_tx, server_errors;
	struct client_stats client[MAX_CLIENTS];
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: udpflood [-6] [-p PORT] [-n COUNT] [-t SECONDS] [-s SIZE] [-c CLIENTS]\n"
		"                [-w WINDOW] [-T MS] [-a CPU]\n"
		"Loopback UDP request/response flood: one server echoes every datagram, CLIENTS\n"
		"clients send requests and receive the echoes, until COUNT requests or SECONDS.\n"
		"  -6          use ::1 instead of 127.0.0.1\n"
		"  -p PORT     server port (default 0: ephemeral)\n"
		"  -n COUNT    stop after COUNT requests in all (default: no limit but -t)\n"
		"  -t SECONDS  stop after SECONDS (default 5, at most 3600)\n"
		"  -s SIZE     payload bytes per datagram (default 64, 1 to %d)\n"
		"  -c CLIENTS  client processes, each with its own socket (default 1, at most %d)\n"
		"  -w WINDOW   requests outstanding per client (default 1: lockstep; at most %d)\n"
		"  -T MS       a reply not received within MS ms is a timeout (default 200)\n"
		"  -a CPU      run all processes on this CPU (default: where the scheduler puts them)\n"
		"Prints one JSON line: datagrams (requests + responses sent), seconds, rate\n"
		"(datagrams/s), the counts at each end, timeouts, errors, cpu_s.\n",
		MAX_SIZE, MAX_CLIENTS, MAX_WINDOW);
}

static void set_rcvtimeo(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Echoes until the parent sets stop (it looks after each timeout of its
 * receive, SERVER_POLL_MS, so at most that long after) or the alarm. */
static void server(int fd, struct shared *sh, size_t size, double max_s)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	char *buf = malloc(size + 1);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned)max_s + 30);
	if (!buf)
		_exit(1);
	set_rcvtimeo(fd, SERVER_POLL_MS);
	while (!sh->stop) {
		ssize_t r;

		plen = sizeof(peer);
		r = recvfrom(fd, buf, size + 1, 0, (struct sockaddr *)&peer, &plen);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sh->server_errors++;
			continue;
		}
		sh->server_rx++;
		if (sendto(fd, buf, r, 0, (struct sockaddr *)&peer, plen) == r)
			sh->server_tx++;
		else
			sh->server_errors++;
	}
	_exit(0);
}

/* Sends budget requests (0: no limit) before the deadline, window at a
 * time, and receives the replies; then waits for the outstanding ones at
 * most one timeout. */
static void client(const struct sockaddr *sa, socklen_t alen, int family,
		   struct client_stats *st, unsigned long long budget,
		   double deadline, size_t size, unsigned window, long timeout_ms)
{
	char *buf = calloc(1, size + 1);
	unsigned outstanding = 0;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned)(deadline - now_s()) + 30);
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!buf || fd < 0 || connect(fd, sa, alen)) {
		fprintf(stderr, "udpflood: client socket: %s\n", strerror(errno));
		_exit(1);
	}
	set_rcvtimeo(fd, timeout_ms);
	for (;;) {
		ssize_t r;
		int more = (!budget || st->requests < budget) && now_s() < deadline;

		while (more && outstanding < window) {
			memcpy(buf, &st->requests, sizeof(st->requests) < size ?
			       sizeof(st->requests) : size);
			if (send(fd, buf, size, 0) == (ssize_t)size) {
				st->requests++;
				outstanding++;
			} else {
				/* ECONNREFUSED from an ICMP error of an earlier
				 * datagram, say: counted, and the loop goes on */
				st->errors++;
				if (st->errors > 1000 + st->requests)
					goto out;
			}
			more = (!budget || st->requests < budget) && now_s() < deadline;
		}
		if (!outstanding)
			break;
		r = recv(fd, buf, size + 1, 0);
		if (r >= 0) {
			st->responses++;
			if (outstanding)
				outstanding--;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* all outstanding requests are given up as lost; a
			 * late reply still counts as a response, and then
			 * opens no extra window slot */
			st->timeouts += outstanding;
			outstanding = 0;
		} else if (errno != EINTR) {
			st->errors++;
			if (st->errors > 1000 + st->requests)
				goto out;
		}
	}
out:
	st->end_s = now_s();
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {};
	socklen_t alen;
	unsigned long long count = 0, requests = 0, responses = 0, timeouts = 0, errors = 0;
	double seconds = 5, t0, t1, deadline;
	int family = AF_INET, port = 0, fd, c, status, failed = 0, cpu = -1;
	unsigned long size = 64, clients = 1, window = 1;
	long timeout_ms = 200;
	struct rusage ru_self, ru_child;
	pid_t server_pid, pids[MAX_CLIENTS];
	struct shared *sh;
	unsigned long long v;

	while ((c = getopt(argc, argv, "6p:n:t:s:c:w:T:a:h")) != -1) {
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
		case 's':
			if (arg_ull(optarg, 1, MAX_SIZE, &v))
				goto bad;
			size = v;
			break;
		case 'c':
			if (arg_ull(optarg, 1, MAX_CLIENTS, &v))
				goto bad;
			clients = v;
			break;
		case 'w':
			if (arg_ull(optarg, 1, MAX_WINDOW, &v))
				goto bad;
			window = v;
			break;
		case 'T':
			if (arg_ull(optarg, 1, 10000, &v))
				goto bad;
			timeout_ms = v;
			break;
		case 'a':
			if (arg_ull(optarg, 0, CPU_SETSIZE - 1, &v))
				goto bad;
			cpu = v;
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

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		/* the children inherit it */
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "udpflood: CPU %d: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "udpflood: mmap: %s\n", strerror(errno));
		return 1;
	}
	/* bound before the fork: the clients' first requests cannot find the
	 * port closed */
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, alen) ||
	    getsockname(fd, (struct sockaddr *)&ss, &alen)) {
		fprintf(stderr, "udpflood: bind to port %d: %s\n", port, strerror(errno));
		return 1;
	}
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);

	fflush(stdout);
	server_pid = fork();
	if (server_pid < 0) {
		fprintf(stderr, "udpflood: fork: %s\n", strerror(errno));
		return 1;
	}
	if (server_pid == 0)
		server(fd, sh, size, seconds);
	close(fd);

	alarm((unsigned)seconds + 30);
	t0 = now_s();
	deadline = t0 + seconds;
	for (unsigned long i = 0; i < clients; i++) {
		/* COUNT split between the clients, the remainder to the first */
		unsigned long long budget = count ? count / clients + (i < count % clients) : 0;

		if (count && !budget) {
			pids[i] = 0;
			continue;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "udpflood: fork: %s\n", strerror(errno));
			pids[i] = 0;
			failed = 1;
			break;
		}
		if (pids[i] == 0)
			client((struct sockaddr *)&ss, alen, family, &sh->client[i], budget,
			       deadline, size, window, timeout_ms);
	}
	t1 = t0;
	for (unsigned long i = 0; i < clients; i++) {
		if (!pids[i])
			continue;
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
		requests += sh->client[i].requests;
		responses += sh->client[i].responses;
		timeouts += sh->client[i].timeouts;
		errors += sh->client[i].errors;
		if (sh->client[i].end_s > t1)
			t1 = sh->client[i].end_s;
	}
	sh->stop = 1;
	if (waitpid(server_pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "udpflood: server process failed\n");
		kill(server_pid, SIGKILL);
		return 1;
	}
	if (failed) {
		fprintf(stderr, "udpflood: a client process failed\n");
		return 1;
	}
	if (t1 <= t0)
		t1 = now_s();
	getrusage(RUSAGE_SELF, &ru_self);
	getrusage(RUSAGE_CHILDREN, &ru_child);

	printf("{\"datagrams\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"port\":%d,\"family\":%d,"
	       "\"size\":%lu,\"clients\":%lu,\"window\":%lu,\"requests\":%llu,"
	       "\"server_rx\":%llu,\"server_tx\":%llu,\"responses\":%llu,\"timeouts\":%llu,"
	       "\"errors\":%llu,\"cpu\":%d,\"cpu_s\":%.3f}\n",
	       requests + sh->server_tx, t1 - t0, (requests + sh->server_tx) / (t1 - t0), port,
	       family == AF_INET ? 4 : 6, size, clients, window, requests, sh->server_rx,
	       sh->server_tx, responses, timeouts, errors + sh->server_errors, cpu,
	       tv_s(ru_self.ru_utime) + tv_s(ru_self.ru_stime) +
	       tv_s(ru_child.ru_utime) + tv_s(ru_child.ru_stime));
	return requests ? 0 : 1;
bad:
	usage(stderr);
	return 2;
}
