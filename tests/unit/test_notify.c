// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* notify.c: systemd's notification protocol and the journal's stream. */
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
#include "report.h"
#include "util.h"

struct saved_env {
	char *notify, *journal;
};

static void env_restore(void *p)
{
	struct saved_env *s = p;

	if (s->notify)
		setenv("NOTIFY_SOCKET", s->notify, 1);
	else
		unsetenv("NOTIFY_SOCKET");
	if (s->journal)
		setenv("JOURNAL_STREAM", s->journal, 1);
	else
		unsetenv("JOURNAL_STREAM");
	free(s->notify);
	free(s->journal);
	free(s);
}

static void env_save(void)
{
	struct saved_env *s = calloc(1, sizeof(*s));
	const char *n = getenv("NOTIFY_SOCKET"), *j = getenv("JOURNAL_STREAM");

	s->notify = n ? strdup(n) : NULL;
	s->journal = j ? strdup(j) : NULL;
	ut_defer(env_restore, s);
}

static void fd_close(void *p)
{
	close((int)(long)p);
}

/* A datagram socket bound at name (a leading '@': abstract), as systemd's. */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa,
		 offsetof(struct sockaddr_un, sun_path) + n + (name[0] != '@'))) {
		close(fd);
		return -1;
	}
	ut_defer(fd_close, (void *)(long)fd);
	return fd;
}

TEST(notify_path_and_abstract)
{
	char path[64], abstract[64], buf[64];
	ssize_t n;
	int fd;

	env_save();
	unsetenv("NOTIFY_SOCKET");
	ASSERT_FALSE(notify__enabled());
	ASSERT_EQ(notify__send("READY=1"), -ENOTCONN);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ASSERT_FALSE(notify__enabled());

	snprintf(path, sizeof(path), "/tmp/socktrace-notify-%d", (int)getpid());
	unlink(path);
	fd = listener(path);
	ASSERT(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	ASSERT_TRUE(notify__enabled());
	ASSERT_EQ(notify__send("READY=1\nSTATUS=tracing"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ASSERT_EQ(n, (ssize_t)strlen("READY=1\nSTATUS=tracing"));
	buf[n] = '\0';
	ASSERT_STREQ(buf, "READY=1\nSTATUS=tracing");
	unlink(path);
	/* nobody listens any more: the error, not a crash or a hang */
	ASSERT(notify__send("STOPPING=1") < 0);

	snprintf(abstract, sizeof(abstract), "@socktrace-notify-%d", (int)getpid());
	fd = listener(abstract);
	ASSERT(fd >= 0);
	setenv("NOTIFY_SOCKET", abstract, 1);
	ASSERT_EQ(notify__send("RELOADING=1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ASSERT_EQ(n, (ssize_t)strlen("RELOADING=1"));
}

TEST(notify_journal_stream)
{
	struct stat st;
	char v[64];

	env_save();
	ASSERT_EQ(fstat(STDERR_FILENO, &st), 0);
	unsetenv("JOURNAL_STREAM");
	ASSERT_FALSE(notify__stderr_is_journal());
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	ASSERT_TRUE(notify__stderr_is_journal());
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	ASSERT_FALSE(notify__stderr_is_journal());
	setenv("JOURNAL_STREAM", "garbage", 1);
	ASSERT_FALSE(notify__stderr_is_journal());
}

static void journal_off(void *p)
{
	(void)p;
	report__set_journal(false);
	report__set_stream(NULL);
}

TEST(report_journal_priorities)
{
	struct memfile *err = memfile_new();

	ut_defer(journal_off, NULL);
	report__set_stream(err->f);
	report__set_journal(true);
	report__error("failed to open '%s'", "x");
	report__warning("%d lost", 2);
	ASSERT_STREQ(memfile_str(err, NULL), "<3>socktrace: failed to open 'x'\n"
					     "<4>socktrace: warning: 2 lost\n");
}
