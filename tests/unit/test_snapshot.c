// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* snapshot.c: socket owners from a /proc tree, here a fake one made of real
 * directories and symlinks. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include "owners.h"
#include "report.h"
#include "snapshot.h"
#include "util.h"

static void mkdir_p(const char *root, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (mkdir(path, 0755) && errno != EEXIST)
		FAIL("mkdir %s: %s", path, strerror(errno));
}

/* ROOT/PID/fd/FD -> target */
static void add_fd(const char *root, unsigned pid, int fd, const char *target)
{
	char rel[64], path[4096];

	snprintf(rel, sizeof(rel), "%u", pid);
	mkdir_p(root, rel);
	snprintf(rel, sizeof(rel), "%u/fd", pid);
	mkdir_p(root, rel);
	snprintf(path, sizeof(path), "%s/%u/fd/%d", root, pid, fd);
	if (symlink(target, path))
		FAIL("symlink %s: %s", path, strerror(errno));
}

static void add_socket(const char *root, unsigned pid, int fd, unsigned long long ino)
{
	char target[64];

	snprintf(target, sizeof(target), "socket:[%llu]", ino);
	add_fd(root, pid, fd, target);
}

static void set_comm(const char *root, unsigned pid, const char *comm)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%u", pid);
	mkdir_p(root, rel);
	snprintf(rel, sizeof(rel), "%u/comm", pid);
	write_file(root, rel, comm);
}

static void owners_free_cb(void *o)
{
	owners__free(o);
}

static struct owners *scan(const char *root)
{
	struct owners *o = owners__scan(root);

	ASSERT_MSG(o != NULL, "owners__scan(%s) failed: %s", root, strerror(errno));
	ut_defer(owners_free_cb, o);
	return o;
}

#define ASSERT_OWNER(o, ino, want_pid, want_comm) do {			\
		uint32_t ut_pid = 0;					\
		char ut_comm[TASK_COMM_LEN + 1] = "";			\
		ASSERT_MSG(owners__lookup(o, ino, &ut_pid, ut_comm),	\
			   "inode %llu not found", (unsigned long long)(ino));	\
		ASSERT_EQ(ut_pid, want_pid);				\
		ASSERT_STREQ(ut_comm, want_comm);			\
	} while (0)

#define ASSERT_NO_OWNER(o, ino) do {					\
		uint32_t ut_pid = 0;					\
		char ut_comm[TASK_COMM_LEN + 1] = "";			\
		ASSERT_MSG(!owners__lookup(o, ino, &ut_pid, ut_comm),	\
			   "inode %llu unexpectedly owned by %u",	\
			   (unsigned long long)(ino), ut_pid);		\
	} while (0)

TEST(owners_scan_fake_proc)
{
	const char *root = ut_tmpdir();
	struct owners *o;

	/* pid 100: two sockets among other fds */
	set_comm(root, 100, "sshd\n");
	add_fd(root, 100, 0, "/dev/null");
	add_socket(root, 100, 3, 1001);
	add_fd(root, 100, 4, "pipe:[999]");
	add_fd(root, 100, 5, "anon_inode:[eventpoll]");
	add_socket(root, 100, 6, 1002);
	add_socket(root, 100, 7, 1002);	/* dup()ed: one socket */
	/* pid 2000: a comm without a newline, one socket */
	set_comm(root, 2000, "nginx");
	add_socket(root, 2000, 10, 18446744073709551615ull);
	add_fd(root, 2000, 11, "socket:[");	/* malformed */
	add_fd(root, 2000, 12, "socket:[abc]");
	add_fd(root, 2000, 13, "socket:1234");
	add_fd(root, 2000, 14, "/tmp/socket:[77]");
	/* pid 300: a kernel thread, no fd directory */
	set_comm(root, 300, "kthreadd\n");
	/* not processes */
	mkdir_p(root, "self");
	mkdir_p(root, "sys");
	mkdir_p(root, "0");
	add_socket(root, 0, 1, 5555);
	write_file(root, "uptime", "1.0 1.0\n");

	o = scan(root);
	ASSERT_EQ(owners__count(o), 3);
	ASSERT_OWNER(o, 1001, 100, "sshd");
	ASSERT_OWNER(o, 1002, 100, "sshd");
	ASSERT_OWNER(o, 18446744073709551615ull, 2000, "nginx");
	ASSERT_NO_OWNER(o, 999);
	ASSERT_NO_OWNER(o, 77);
	ASSERT_NO_OWNER(o, 1234);
	ASSERT_NO_OWNER(o, 5555);
	ASSERT_NO_OWNER(o, 1003);
	ASSERT_NO_OWNER(o, 0);
}

TEST(owners_scan_comm_edge_cases)
{
	const char *root = ut_tmpdir();
	struct owners *o;

	set_comm(root, 10, "");				/* empty */
	add_socket(root, 10, 3, 10);
	add_socket(root, 11, 3, 11);			/* no comm file */
	set_comm(root, 12, "abcdefghijklmno\n");	/* 15: the most a comm has */
	add_socket(root, 12, 3, 12);
	set_comm(root, 13, "abcdefghijklmnopqrstuvwxyz\n");	/* longer than /proc gives */
	add_socket(root, 13, 3, 13);
	set_comm(root, 14, "we b\"\\\n");		/* odd bytes stay as they are */
	add_socket(root, 14, 3, 14);

	o = scan(root);
	ASSERT_EQ(owners__count(o), 5);
	ASSERT_OWNER(o, 10, 10, "");
	ASSERT_OWNER(o, 11, 11, "");
	ASSERT_OWNER(o, 12, 12, "abcdefghijklmno");
	ASSERT_OWNER(o, 14, 14, "we b\"\\");
	{
		uint32_t pid = 0;
		char comm[TASK_COMM_LEN + 1];

		memset(comm, 'x', sizeof(comm));
		ASSERT_TRUE(owners__lookup(o, 13, &pid, comm));
		ASSERT_EQ(pid, 13);
		/* cut, and terminated within TASK_COMM_LEN */
		ASSERT_MSG(memchr(comm, '\0', TASK_COMM_LEN), "comm not terminated");
		ASSERT(!strncmp(comm, "abcdefghijklmno", strlen(comm)));
	}
}

/* The first pid readdir() returns from the proc root, among the two. */
static unsigned first_listed(const char *root, unsigned a, unsigned b)
{
	DIR *d = opendir(root);
	struct dirent *de;
	unsigned first = 0;

	ASSERT_NOT_NULL(d);
	while ((de = readdir(d))) {
		unsigned long v = strtoul(de->d_name, NULL, 10);

		if (v == a || v == b) {
			first = v;
			break;
		}
	}
	closedir(d);
	return first;
}

TEST(owners_shared_socket_keeps_first_scanned)
{
	const char *root = ut_tmpdir();
	struct owners *o;
	unsigned first;

	set_comm(root, 500, "parent\n");
	add_socket(root, 500, 3, 4242);
	add_socket(root, 500, 4, 4343);
	set_comm(root, 501, "child\n");
	add_socket(root, 501, 3, 4242);
	add_socket(root, 501, 5, 4444);

	o = scan(root);
	ASSERT_EQ(owners__count(o), 3);
	/* owners__add keeps the first; the scan follows readdir() order,
	 * which is not sorted: ask readdir the same question */
	first = first_listed(root, 500, 501);
	ASSERT_OWNER(o, 4242, first, first == 500 ? "parent" : "child");
	ASSERT_OWNER(o, 4343, 500, "parent");
	ASSERT_OWNER(o, 4444, 501, "child");
}

TEST(owners_many_sockets_grow_the_table)
{
	const char *root = ut_tmpdir();
	struct owners *o;
	int n = 5000;

	set_comm(root, 42, "busy\n");
	set_comm(root, 43, "other\n");
	for (int i = 0; i < n; i++) {
		/* spread and clustered inode numbers */
		add_socket(root, i % 2 ? 42 : 43, i + 3,
			   i % 3 ? 100000ull + i : 4026531840ull + i * 7919ull);
	}
	o = scan(root);
	ASSERT_EQ(owners__count(o), n);
	for (int i = 0; i < n; i++) {
		unsigned long long ino = i % 3 ? 100000ull + i : 4026531840ull + i * 7919ull;

		ASSERT_OWNER(o, ino, i % 2 ? 42 : 43, i % 2 ? "busy" : "other");
	}
	for (int i = 0; i < 2000; i++)
		ASSERT_NO_OWNER(o, 200000ull + i);
}

TEST(owners_scan_errors_and_nulls)
{
	const char *root = ut_tmpdir();
	char path[4200];
	struct owners *o;
	uint32_t pid = 0;
	char comm[TASK_COMM_LEN + 1];

	snprintf(path, sizeof(path), "%s/missing", root);
	errno = 0;
	ASSERT_NULL(owners__scan(path));
	ASSERT_EQ(errno, ENOENT);

	ASSERT_FALSE(owners__lookup(NULL, 1, &pid, comm));
	ASSERT_EQ(owners__count(NULL), 0);
	owners__free(NULL);

	/* an empty tree */
	o = scan(root);
	ASSERT_EQ(owners__count(o), 0);
	ASSERT_FALSE(owners__lookup(o, 1, &pid, comm));
	ASSERT_FALSE(owners__lookup(o, 0, &pid, comm));
}

/* Inode 0 means "no inode" in the table: a link naming it must not be
 * counted as an owned socket. */
TEST(owners_inode_zero_is_not_a_socket)
{
	const char *root = ut_tmpdir();
	struct owners *o;
	uint32_t pid = 0;
	char comm[TASK_COMM_LEN + 1];

	set_comm(root, 7, "x\n");
	add_socket(root, 7, 3, 0);
	add_socket(root, 7, 4, 70);
	o = scan(root);
	ASSERT_FALSE(owners__lookup(o, 0, &pid, comm));
	ASSERT_OWNER(o, 70, 7, "x");
	ASSERT_EQ(owners__count(o), 1);
}

/* The real /proc: this process's own socket is found with its comm. */
TEST(owners_scan_real_proc_finds_own_socket)
{
	int sv[2];
	struct stat st;
	struct owners *o;
	char comm[32] = "", want[32] = "";
	uint32_t pid = 0;
	FILE *f;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		FAIL("socketpair: %s", strerror(errno));
	if (fstat(sv[0], &st)) {
		close(sv[0]);
		close(sv[1]);
		FAIL("fstat: %s", strerror(errno));
	}
	o = owners__scan("/proc");
	close(sv[0]);
	close(sv[1]);
	ASSERT_NOT_NULL(o);
	ut_defer(owners_free_cb, o);
	f = fopen("/proc/self/comm", "r");
	ASSERT_NOT_NULL(f);
	if (!fgets(want, sizeof(want), f))
		want[0] = '\0';
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	ASSERT_TRUE(owners__lookup(o, st.st_ino, &pid, comm));
	ASSERT_EQ(pid, getpid());
	ASSERT_STREQ(comm, want);
	ASSERT(owners__count(o) >= 2);
}

/* Drops capabilities from this process's effective set (a child's). */
static int drop_caps(const int *caps, int n)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	for (int i = 0; i < n; i++)
		data[caps[i] / 32].effective &= ~(1u << (caps[i] % 32));
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

struct find_listener {
	uint16_t port;
	uint32_t pid;
	bool found;
};

static int find_listener_cb(const struct event *ev, void *ctx)
{
	struct find_listener *fl = ctx;

	if (ev->kind == EVENT_TCP_SOCKET && ev->lport == fl->port &&
	    ev->new_state == ST_TCP_LISTEN && ev->pid == fl->pid)
		fl->found = true;
	return 0;
}

/* Runs fn in a child without CAP_SYS_ADMIN and CAP_SYS_PTRACE; returns its
 * exit status (0: fine, else the number of the failed check). */
static int in_child_without_caps(int (*fn)(void))
{
	static const int caps[] = { CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
				    CAP_DAC_OVERRIDE };
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(drop_caps(caps, sizeof(caps) / sizeof(caps[0])) ? 100 : fn());
	if (waitpid(pid, &status, 0) != pid)
		FAIL("waitpid: %s", strerror(errno));
	ASSERT_MSG(WIFEXITED(status), "the child died with status 0x%x", status);
	return WEXITSTATUS(status);
}

static int snapshot_own_netns(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct find_listener fl = { .pid = getpid() };
	struct snapshot_gaps gaps;
	struct clock_ref ref;
	struct owners *o;
	struct stat self;
	int sk, err;

	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) || listen(sk, 1) ||
	    getsockname(sk, (struct sockaddr *)&a, &alen) || stat("/proc/self/ns/net", &self))
		return 1;
	fl.port = ntohs(a.sin_port);
	clock_ref__init(&ref);
	o = owners__scan("/proc");
	if (!o)
		return 2;
	err = snapshot__run(o, &ref, FILTER_PROTO_TCP, find_listener_cb, &fl, &gaps);
	owners__free(o);
	close(sk);
	if (err)
		return 3;
	if (!fl.found)
		return 4;	/* the old code called setns() even for its own namespace */
	for (size_t i = 0; i < gaps.n_netns && i < SNAPSHOT_GAPS_NAMED; i++)
		if (gaps.netns[i].ino == self.st_ino)
			return 5;
	return 0;
}

/* setns() needs CAP_SYS_ADMIN even into the namespace one is in: without
 * it, the snapshot listed nothing at all. Its own namespace needs no setns. */
TEST(snapshot_own_netns_without_cap_sys_admin)
{
	int r = in_child_without_caps(snapshot_own_netns);

	ASSERT_MSG(r == 0, "the child failed check %d (4: the listener of its own namespace "
		   "is not in the snapshot)", r);
}

static int warn_text(void)
{
	struct snapshot_gaps g = { .procs = 3, .n_netns = 10, .netns_err = -EPERM };
	struct memfile *m = memfile_new();
	const char *out;

	for (int i = 0; i < SNAPSHOT_GAPS_NAMED; i++) {
		g.netns[i].ino = 4026532000u + i;
		snprintf(g.netns[i].path, sizeof(g.netns[i].path), "/run/netns/n%d", i);
	}
	report__set_stream(m->f);
	snapshot__warn(&g);
	report__set_stream(NULL);
	out = memfile_str(m, NULL);
	if (!strstr(out, "socktrace: warning: the snapshot lists no sockets of 10 network namespaces "
			 "it could not enter (setns() needs CAP_SYS_ADMIN): 4026532000 (/run/netns/n0), "
			 "4026532001 (/run/netns/n1), "))
		return 1;
	if (!strstr(out, ", 4026532007 (/run/netns/n7) and 2 more\n"))
		return 2;
	if (!strstr(out, "socktrace: warning: the snapshot names no owner for the sockets of 3 "
			 "processes whose /proc/PID/fd it could not read, nor their network namespaces "
			 "(reading another process's needs CAP_SYS_PTRACE, another user's also "
			 "CAP_DAC_READ_SEARCH)\n"))
		return 3;
	if (memfile_lines(m) != 2)
		return 4;
	return 0;
}

/* One warning per kind of gap, with counts, names and the capability. */
TEST(snapshot_warn_names_gaps_and_capabilities)
{
	struct snapshot_gaps none = {};
	struct memfile *m = memfile_new();
	int r;

	report__set_stream(m->f);
	snapshot__warn(&none);
	report__set_stream(NULL);
	ASSERT_STREQ(memfile_str(m, NULL), "");
	r = in_child_without_caps(warn_text);
	ASSERT_MSG(r == 0, "the child failed check %d", r);
}
