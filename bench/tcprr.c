// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcprr: loopback TCP request/response on long-lived connections, the TCP
 * I/O workload of socktrace's benchmark (bench/run.py).
 *
 *   tcprr [-6] [-p PORT] [-n COUNT] [-t SECONDS] [-s SIZE] [-c CLIENTS]
 *         [-w WINDOW] [-a CPU]
 *
 * A server process accepts and forks one process per connection, which
 * echoes SIZE-byte messages until the client closes (an inetd- or
 * sshd-style server: the connection is served by a process other than the
 * one that accepted it). CLIENTS client processes (default 1) each open ONE
 * connection (TCP_NODELAY on both ends) and send SIZE-byte requests
 * (default 64), receiving each echo in full; each keeps at most WINDOW
 * requests outstanding (default 1: lockstep). The run ends after COUNT
 * requests in all (split between the clients) or SECONDS, whichever comes
 * first; both always bound it. Then each client closes its connection, its
 * server process reads EOF and closes too. Address 127.0.0.1, or ::1 with
 * -6; PORT 0 (the default) takes an ephemeral port.
 *
 * Unlike the storm, a connection carries many messages and changes state
 * only at its start and end: what a tracer costs here is what it does on
 * every send() and recv() of a TCP socket. The transitions are those of the
 * storm with the roles' closes swapped (the client closes first), 10 per
 * connection, and 2 for the listener:
 *   client  CLOSE->SYN_SENT, SYN_SENT->ESTABLISHED, ESTABLISHED->FIN_WAIT1,
 *           FIN_WAIT1->FIN_WAIT2, FIN_WAIT2->CLOSE
 *   server  LISTEN->SYN_RECV, SYN_RECV->ESTABLISHED,
 *           ESTABLISHED->CLOSE_WAIT, CLOSE_WAIT->LAST_ACK, LAST_ACK->CLOSE
 *
 * -a CPU pins all processes to one CPU, for the reason given in
 * bench/udpflood.c: a lockstep rate otherwise depends on whether the
 * scheduler puts client and server on one CPU (direct task switches) or
 * two (a wakeup of an idle CPU per message); pinned, it measures what a
 * message costs in CPU.
 *
 * At the end it prints one JSON line:
 *
 *   {"messages":N,"seconds":S,"rate":R,"port":P,"family":4,"size":64,
 *    "clients":1,"window":1,"connections":1,"requests":Q,"server_rx":A,
 *    "server_tx":B,"responses":C,"io_calls":I,"errors":E,"cpu":-1,
 *    "cpu_s":C,"server_pids":[...]}
 *
 * messages = requests + server_tx: the messages sent both ways, rate =
 * messages / seconds. requests, server_rx, server_tx and responses count
 * whole messages at each end; io_calls the send() and recv() calls that
 * moved them (each message is one send() and, with MSG_WAITALL, usually one
 * recv()), the EOF reads included. errors counts failed calls, echoes that
 * came back with the wrong sequence number, and connections that failed.
 * server_pids are the processes that served the connections, in the order
 * they were accepted. cpu_s is the user+system CPU time of all processes;
 * the loopback softirqs and any BPF tracer's kernel side run in their
 * context, so it includes those.
 *
 * Every loop is bounded by COUNT and by the deadline; a send() or recv()
 * that blocks longer than 5 s fails (SO_SNDTIMEO, SO_RCVTIMEO); every
 * process also dies by an alarm 30 s after the deadline, and each with its
 * parent (PR_SET_PDEATHSIG). Exit status: 0 ok, 1 error, 2 usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
/* bytes a client may have outstanding: far below the loopback socket
 * buffers, so client and server can never both block in send() */
#define MAX_INFLIGHT 65536
#define IO_TIMEOUT_MS 5000

/* Counters, in memory shared by all processes (MAP_SHARED before fork);
 * each is written by one process only. */
struct client_stats {
	unsigned long long requests, responses, calls, errors;
	double end_s;
};

struct server_stats {
	unsigned long long rx, tx, calls, errors;
	pid_t pid;
};

struct shared {
	unsigned int accepted;		/* written by the accepting process */
	unsigned long long stray;	/* connections beyond CLIENTS, closed at once */
	struct client_stats client[MAX_CLIENTS];
	struct server_stats server[MAX_CLIENTS];
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcprr [-6] [-p PORT] [-n COUNT] [-t SECONDS] [-s SIZE] [-c CLIENTS]\n"
		"             [-w WINDOW] [-a CPU]\n"
		"Loopback TCP request/response: CLIENTS clients each open one connection and\n"
		"send requests that a server process per connection echoes, until COUNT\n"
		"requests or SECONDS.\n"
		"  -6          use ::1 instead of 127.0.0.1\n"
		"  -p PORT     listening port (default 0: ephemeral)\n"
		"  -n COUNT    stop after COUNT requests in all (default: no limit but -t)\n"
		"  -t SECONDS  stop after SECONDS (default 5, at most 3600)\n"
		"  -s SIZE     bytes per message (default 64, 1 to %d)\n"
		"  -c CLIENTS  client processes, one connection each (default 1, at most %d)\n"
		"  -w WINDOW   requests outstanding per client (default 1: lockstep; at most %d,\n"
		"              and WINDOW x SIZE at most %d)\n"
		"  -a CPU      run all processes on this CPU (default: where the scheduler puts them)\n"
		"Prints one JSON line: messages (requests + responses sent), seconds, rate\n"
		"(messages/s), the counts at each end, io_calls, errors, cpu_s, server_pids.\n",
		MAX_SIZE, MAX_CLIENTS, MAX_WINDOW, MAX_INFLIGHT);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000,
			      .tv_usec = (IO_TIMEOUT_MS % 1000) * 1000 };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* a request or an echo goes out at once, not after the last ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Sends all of buf; 0 or -1 (errno set). */
static int send_full(int fd, const char *buf, size_t size, unsigned long long *calls)
{
	size_t done = 0;

	while (done < size) {
		ssize_t r = send(fd, buf + done, size - done, MSG_NOSIGNAL);

		(*calls)++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += r;
	}
	return 0;
}

/* Receives exactly size bytes: 1, or 0 at EOF before the first byte, or -1
 * (errno set; EOF inside a message is ECONNRESET). */
static int recv_full(int fd, char *buf, size_t size, unsigned long long *calls)
{
	size_t done = 0;

	while (done < size) {
		ssize_t r = recv(fd, buf + done, size - done, MSG_WAITALL);

		(*calls)++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			if (!done)
				return 0;
			errno = ECONNRESET;
			return -1;
		}
		done += r;
	}
	return 1;
}

/* One connection's server process: echoes until EOF. */
static void serve(int fd, struct server_stats *st, size_t size, double max_s)
{
	char *buf = malloc(size);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned)max_s + 30);
	if (!buf)
		_exit(1);
	set_timeouts(fd);
	for (;;) {
		int r = recv_full(fd, buf, size, &st->calls);

		if (r <= 0) {
			if (r < 0)
				st->errors++;
			break;
		}
		st->rx++;
		if (send_full(fd, buf, size, &st->calls)) {
			st->errors++;
			break;
		}
		st->tx++;
	}
	close(fd);
	_exit(0);
}

/* Accepts and forks a server process per connection until accept() fails:
 * the parent shuts the listener down when the clients are done, which
 * makes accept() return EINVAL. Then waits for its server processes. */
static void acceptor(int lfd, struct shared *sh, unsigned long clients, size_t size,
		     double max_s)
{
	pid_t pids[MAX_CLIENTS];
	int status, failed = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned)max_s + 30);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		unsigned int i = sh->accepted;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		if (i >= clients) {
			/* not one of ours: the port is below the ephemeral
			 * range, but any local process may connect to it */
			sh->stray++;
			close(fd);
			continue;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "tcprr: fork: %s\n", strerror(errno));
			failed = 1;
			close(fd);
			break;
		}
		if (pids[i] == 0) {
			close(lfd);
			serve(fd, &sh->server[i], size, max_s);
		}
		sh->server[i].pid = pids[i];
		sh->accepted = i + 1;
		/* the server process serves it from now on */
		close(fd);
	}
	for (unsigned int i = 0; i < sh->accepted; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	_exit(failed);
}

/* Opens one connection and sends budget requests (0: no limit) before the
 * deadline, window at a time, receiving the echoes; then receives the
 * outstanding ones and closes. */
static void client(int lfd, const struct sockaddr *sa, socklen_t alen, int family,
		   struct client_stats *st, unsigned long long budget, double deadline,
		   size_t size, unsigned window)
{
	char *buf = calloc(1, size), *in = malloc(size);
	size_t seq_len = size < sizeof(st->requests) ? size : sizeof(st->requests);
	unsigned outstanding = 0;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned)(deadline - now_s()) + 30);
	close(lfd);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || !in || fd < 0 || connect(fd, sa, alen)) {
		fprintf(stderr, "tcprr: client connect: %s\n", strerror(errno));
		st->errors++;
		st->end_s = now_s();
		_exit(1);
	}
	set_timeouts(fd);
	for (;;) {
		int more = (!budget || st->requests < budget) && now_s() < deadline;

		while (more && outstanding < window) {
			/* the request's number, which its echo must carry */
			memcpy(buf, &st->requests, seq_len);
			if (send_full(fd, buf, size, &st->calls)) {
				st->errors++;
				goto out;
			}
			st->requests++;
			outstanding++;
			more = (!budget || st->requests < budget) && now_s() < deadline;
		}
		if (!outstanding)
			break;
		if (recv_full(fd, in, size, &st->calls) <= 0) {
			st->errors++;
			goto out;
		}
		if (memcmp(in, &st->responses, seq_len))
			st->errors++;
		st->responses++;
		outstanding--;
	}
out:
	close(fd);
	st->end_s = now_s();
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {};
	socklen_t alen;
	unsigned long long count = 0, requests = 0, responses = 0, errors = 0, calls = 0;
	unsigned long long server_rx = 0, server_tx = 0;
	double seconds = 5, t0, t1, deadline;
	int family = AF_INET, port = 0, lfd, one = 1, c, status, failed = 0, cpu = -1;
	unsigned long size = 64, clients = 1, window = 1;
	struct rusage ru_self, ru_child;
	pid_t acceptor_pid, pids[MAX_CLIENTS];
	struct shared *sh;
	unsigned long long v;

	while ((c = getopt(argc, argv, "6p:n:t:s:c:w:a:h")) != -1) {
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
	if (optind != argc || window * size > MAX_INFLIGHT)
		goto bad;

	alen = loopback_addr(family, port, &ss);

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		/* the children inherit it */
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "tcprr: CPU %d: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "tcprr: mmap: %s\n", strerror(errno));
		return 1;
	}
	/* listening before the fork: the clients' connects cannot find the
	 * port closed */
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, alen) || listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &alen)) {
		fprintf(stderr, "tcprr: listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					 ((struct sockaddr_in6 *)&ss)->sin6_port);

	fflush(stdout);
	acceptor_pid = fork();
	if (acceptor_pid < 0) {
		fprintf(stderr, "tcprr: fork: %s\n", strerror(errno));
		return 1;
	}
	if (acceptor_pid == 0)
		acceptor(lfd, sh, clients, size, seconds);

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
			fprintf(stderr, "tcprr: fork: %s\n", strerror(errno));
			pids[i] = 0;
			failed = 1;
			break;
		}
		if (pids[i] == 0)
			client(lfd, (struct sockaddr *)&ss, alen, family, &sh->client[i], budget,
			       deadline, size, window);
	}
	t1 = t0;
	for (unsigned long i = 0; i < clients; i++) {
		if (!pids[i])
			continue;
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
		requests += sh->client[i].requests;
		responses += sh->client[i].responses;
		calls += sh->client[i].calls;
		errors += sh->client[i].errors;
		if (sh->client[i].end_s > t1)
			t1 = sh->client[i].end_s;
	}
	/* wakes the acceptor's accept() (EINVAL): LISTEN -> CLOSE */
	shutdown(lfd, SHUT_RDWR);
	if (waitpid(acceptor_pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "tcprr: server process failed\n");
		kill(acceptor_pid, SIGKILL);
		return 1;
	}
	close(lfd);
	if (failed) {
		fprintf(stderr, "tcprr: a client process failed\n");
		return 1;
	}
	for (unsigned int i = 0; i < sh->accepted; i++) {
		server_rx += sh->server[i].rx;
		server_tx += sh->server[i].tx;
		calls += sh->server[i].calls;
		errors += sh->server[i].errors;
	}
	if (t1 <= t0)
		t1 = now_s();
	getrusage(RUSAGE_SELF, &ru_self);
	getrusage(RUSAGE_CHILDREN, &ru_child);

	printf("{\"messages\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"port\":%d,\"family\":%d,"
	       "\"size\":%lu,\"clients\":%lu,\"window\":%lu,\"connections\":%u,\"stray\":%llu,"
	       "\"requests\":%llu,\"server_rx\":%llu,\"server_tx\":%llu,\"responses\":%llu,"
	       "\"io_calls\":%llu,\"errors\":%llu,\"cpu\":%d,\"cpu_s\":%.3f,\"server_pids\":[",
	       requests + server_tx, t1 - t0, (requests + server_tx) / (t1 - t0), port,
	       family == AF_INET ? 4 : 6, size, clients, window, sh->accepted, sh->stray,
	       requests, server_rx, server_tx, responses, calls, errors, cpu,
	       tv_s(ru_self.ru_utime) + tv_s(ru_self.ru_stime) +
	       tv_s(ru_child.ru_utime) + tv_s(ru_child.ru_stime));
	for (unsigned int i = 0; i < sh->accepted; i++)
		printf("%s%d", i ? "," : "", (int)sh->server[i].pid);
	printf("]}\n");
	return requests ? 0 : 1;
bad:
	usage(stderr);
	return 2;
}
