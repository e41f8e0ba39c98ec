// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The protocol is a datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * $NOTIFY_SOCKET names ('@' for the abstract namespace), stable since
 * systemd 209: spoken directly rather than linking libsystemd for it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "notify.h"

bool notify__enabled(void)
{
	const char *path = getenv("NOTIFY_SOCKET");

	return path && (path[0] == '/' || path[0] == '@');
}

int notify__send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n, len = strlen(state);
	socklen_t salen;
	ssize_t sent;
	int fd, err = 0;

	if (!notify__enabled())
		return -ENOTCONN;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/');
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	if (sent < 0)
		err = -errno;
	else if ((size_t)sent != len)
		err = -EMSGSIZE;
	close(fd);
	return err;
}

bool notify__stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}
