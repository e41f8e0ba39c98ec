// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The traffic of the arm64 smoke test (tests/vm/arm64.sh), where the guest
 * has no Python: one TCP connection and one UDP exchange on 127.0.0.1
 * between two processes, st-smoke (the server) and its child st-smoke-cli
 * (the client), which closes first. Prints one JSON line with their pids
 * and the four ports for check_smoke.py. Built static: the guest's root
 * file system has only what socktrace needs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int sock_on_loopback(int type, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0)
		die("socket");
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    getsockname(fd, (struct sockaddr *)addr, &len))
		die("bind");
	return fd;
}

static void client(const struct sockaddr_in *tcp, const struct sockaddr_in *udp)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[8];
	int fd;

	prctl(PR_SET_NAME, "st-smoke-cli");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)tcp, sizeof(*tcp)))
		die("connect");
	if (write(fd, "x", 1) != 1 || read(fd, buf, 1) != 1)
		die("tcp exchange");
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	/* recvfrom(), as a recv() on an unconnected socket names no peer */
	if (fd < 0 || sendto(fd, "ping", 4, 0, (const struct sockaddr *)udp, sizeof(*udp)) != 4 ||
	    recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) != 4)
		die("udp exchange");
	close(fd);
	_exit(0);
}

int main(void)
{
	struct sockaddr_in tcp, udp, peer_tcp, peer_udp;
	socklen_t len = sizeof(peer_tcp);
	int lfd, ufd, fd, status;
	char buf[8];
	pid_t pid;

	prctl(PR_SET_NAME, "st-smoke");
	lfd = sock_on_loopback(SOCK_STREAM, &tcp);
	if (listen(lfd, 8))
		die("listen");
	ufd = sock_on_loopback(SOCK_DGRAM, &udp);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		client(&tcp, &udp);

	fd = accept(lfd, (struct sockaddr *)&peer_tcp, &len);
	if (fd < 0 || read(fd, buf, 1) != 1 || write(fd, "y", 1) != 1)
		die("tcp serve");
	while (read(fd, buf, sizeof(buf)) > 0)	/* to the client's close */
		;
	close(fd);
	len = sizeof(peer_udp);
	if (recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&peer_udp, &len) != 4 ||
	    sendto(ufd, "pong", 4, 0, (struct sockaddr *)&peer_udp, len) != 4)
		die("udp serve");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("client");
	close(ufd);
	close(lfd);
	printf("{\"server_pid\":%d,\"client_pid\":%d,\"tcp_port\":%d,\"client_tcp_port\":%d,"
	       "\"udp_port\":%d,\"client_udp_port\":%d}\n", (int)getpid(), (int)pid,
	       ntohs(tcp.sin_port), ntohs(peer_tcp.sin_port), ntohs(udp.sin_port),
	       ntohs(peer_udp.sin_port));
	return 0;
}
