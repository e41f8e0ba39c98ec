// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The cgroup path parser, the filter terms on its names, and their trip
 * through a recording. No root, no cgroup file system needed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "harness.h"
#include "cgroups.h"
#include "filter.h"
#include "reader.h"
#include "record.h"
#include "recorder.h"
#include "sink.h"

static void info_free(void *p)
{
	cgroup_info__free(p);
}

static struct cgroup_info *parse(const char *path)
{
	struct cgroup_info *ci = cgroup_info__new(path);

	ASSERT_NOT_NULL(ci);
	ut_defer(info_free, ci);
	return ci;
}

#define ASSERT_FIELD(ci, fld, want)						\
	do {									\
		const char *ut_w = (want), *ut_g = (ci)->f[fld];		\
		if (!ut_w)							\
			ASSERT_MSG(!ut_g, "%s: got \"%s\", expected NULL", #fld, ut_g);	\
		else								\
			ASSERT_STREQ(ut_g ? ut_g : "(null)", ut_w);		\
	} while (0)

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UID_ "1b4e28ba_2fa1_11d2_883f_0016d3cca427"

TEST(cgroups_parse_systemd_units)
{
	struct cgroup_info *ci = parse("/system.slice/nginx.service");

	ASSERT_FIELD(ci, CGF_PATH, "/system.slice/nginx.service");
	ASSERT_FIELD(ci, CGF_UNIT, "nginx.service");
	ASSERT_FIELD(ci, CGF_SLICE, "system.slice");
	ASSERT_FIELD(ci, CGF_CONTAINER_ID, NULL);
	ASSERT_FIELD(ci, CGF_POD_UID, NULL);

	ci = parse("/user.slice/user-1000.slice/session-4.scope");
	ASSERT_FIELD(ci, CGF_UNIT, "session-4.scope");
	ASSERT_FIELD(ci, CGF_SLICE, "user-1000.slice");

	/* a user unit: the innermost unit, under the user's manager */
	ci = parse("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
	ASSERT_FIELD(ci, CGF_UNIT, "foo.service");
	ASSERT_FIELD(ci, CGF_SLICE, "app.slice");

	ci = parse("/system.slice");
	ASSERT_FIELD(ci, CGF_UNIT, NULL);
	ASSERT_FIELD(ci, CGF_SLICE, "system.slice");
}

TEST(cgroups_parse_containers_both_drivers)
{
	static const struct {
		const char *path, *runtime;
	} cases[] = {
		{ "/system.slice/docker-" ID64 ".scope", "docker" },
		{ "/docker/" ID64, "docker" },
		{ "/system.slice/cri-containerd-" ID64 ".scope", "containerd" },
		{ "/machine.slice/crio-" ID64 ".scope", "cri-o" },
		{ "/machine.slice/libpod-" ID64 ".scope", "podman" },
		{ "/machine.slice/libpod-" ID64 ".scope/container", "podman" },
		{ "/libpod_parent/libpod-" ID64, "podman" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cgroup_info *ci = parse(cases[i].path);

		ASSERT_FIELD(ci, CGF_RUNTIME, cases[i].runtime);
		ASSERT_FIELD(ci, CGF_CONTAINER_ID, ID64);
		ASSERT_FIELD(ci, CGF_UNIT, NULL);
		ASSERT_FIELD(ci, CGF_POD_UID, NULL);
	}
	/* conmon, podman's monitor, is a unit of its own, not the container */
	ASSERT_FIELD(parse("/machine.slice/libpod-conmon-" ID64 ".scope"), CGF_CONTAINER_ID, NULL);
	/* a bare id outside /docker or a pod says nothing */
	ASSERT_FIELD(parse("/" ID64), CGF_CONTAINER_ID, NULL);
}

TEST(cgroups_parse_kubernetes_pods)
{
	struct cgroup_info *ci;

	ci = parse("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/cri-containerd-" ID64 ".scope");
	ASSERT_FIELD(ci, CGF_POD_UID, UID);
	ASSERT_FIELD(ci, CGF_POD_QOS, "burstable");
	ASSERT_FIELD(ci, CGF_RUNTIME, "containerd");
	ASSERT_FIELD(ci, CGF_CONTAINER_ID, ID64);

	ci = parse("/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID64 ".scope");
	ASSERT_FIELD(ci, CGF_POD_QOS, "guaranteed");
	ASSERT_FIELD(ci, CGF_RUNTIME, "cri-o");

	ci = parse("/kubepods/besteffort/pod" UID "/" ID64);
	ASSERT_FIELD(ci, CGF_POD_UID, UID);
	ASSERT_FIELD(ci, CGF_POD_QOS, "besteffort");
	ASSERT_FIELD(ci, CGF_CONTAINER_ID, ID64);
	ASSERT_FIELD(ci, CGF_RUNTIME, NULL);	/* the cgroupfs layout does not say */

	ci = parse("/kubepods/pod" UID "/" ID64);
	ASSERT_FIELD(ci, CGF_POD_QOS, "guaranteed");

	/* containerd's systemd form in /proc/PID/cgroup */
	ci = parse("/system.slice/containerd.service/kubepods-besteffort-pod" UID_
		   ".slice:cri-containerd:" ID64);
	ASSERT_FIELD(ci, CGF_POD_UID, UID);
	ASSERT_FIELD(ci, CGF_RUNTIME, "containerd");
	ASSERT_FIELD(ci, CGF_CONTAINER_ID, ID64);
}

TEST(cgroups_parse_what_it_does_not_know_stays_the_path)
{
	static const char *const paths[] = {
		"/", "", "/process_api/3e2d65b78563c510b13a8f390854a278", "//a//b/", "/kubepods",
		"/kubepods/burstable/podnot-a-uid!", "/docker/xyz", "/system.slice/docker-.scope",
		"/a:b", "/a:b:c", "/kubepods-burstable-pod.slice",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct cgroup_info *ci = parse(paths[i]);
		char buf[64];

		ASSERT_FIELD(ci, CGF_PATH, paths[i]);
		ASSERT_FIELD(ci, CGF_CONTAINER_ID, NULL);
		ASSERT_FIELD(ci, CGF_POD_UID, NULL);
		ASSERT_FIELD(ci, CGF_UNIT, NULL);
		ASSERT_STREQ(cgroup_info__label(ci, buf, sizeof(buf)), paths[i]);
	}
}

TEST(cgroups_match_terms)
{
	struct cgroup_info *ci = parse("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
				       UID_ ".slice/cri-containerd-" ID64 ".scope");
	struct cgroup_info *unit = parse("/system.slice/nginx.service");
	char buf[128];

	ASSERT_EQ(cgroup_info__set(ci, CGF_POD_NS, "shop", 4), 0);
	ASSERT_EQ(cgroup_info__set(ci, CGF_POD_NAME, "cart-7d9f", 9), 0);
	ASSERT_EQ(cgroup_info__set(ci, CGF_CONTAINER_NAME, "cart", 4), 0);
	ASSERT_TRUE(cgroup_info__match_pod(ci, "cart-7d9f"));
	ASSERT_TRUE(cgroup_info__match_pod(ci, "shop/cart-7d9f"));
	ASSERT_TRUE(cgroup_info__match_pod(ci, UID));
	ASSERT_FALSE(cgroup_info__match_pod(ci, "other/cart-7d9f"));
	ASSERT_FALSE(cgroup_info__match_pod(ci, "cart"));
	ASSERT_TRUE(cgroup_info__match_container(ci, "0123456789ab"));
	ASSERT_TRUE(cgroup_info__match_container(ci, "cart"));
	ASSERT_FALSE(cgroup_info__match_container(ci, "1234"));
	ASSERT_FALSE(cgroup_info__match_container(unit, "nginx"));
	ASSERT_TRUE(cgroup_info__match_path(ci, "/kubepods.slice"));
	ASSERT_TRUE(cgroup_info__match_path(ci, "/kubepods.slice/"));
	ASSERT_TRUE(cgroup_info__match_path(ci, "/"));
	ASSERT_FALSE(cgroup_info__match_path(ci, "/kubepods"));	/* whole components */
	ASSERT_TRUE(cgroup_info__match_unit(unit, "nginx.service"));
	ASSERT_TRUE(cgroup_info__match_unit(unit, "system.slice"));
	ASSERT_FALSE(cgroup_info__match_unit(unit, "nginx"));
	ASSERT_FALSE(cgroup_info__match_unit(NULL, "nginx.service"));
	ASSERT_STREQ(cgroup_info__label(ci, buf, sizeof(buf)), "shop/cart-7d9f");
	ASSERT_STREQ(cgroup_info__label(parse("/docker/" ID64), buf, sizeof(buf)),
		     "docker:0123456789ab");
	ASSERT_STREQ(cgroup_info__label(unit, buf, sizeof(buf)), "nginx.service");
}

TEST(cgroups_filter_options_and_expression)
{
	struct cgroup_info *ci = parse("/system.slice/docker-" ID64 ".scope");
	struct filter f = {};
	struct event ev = { .kind = EVENT_TCP_STATE, .pid = 5, .family = AF_INET,
			    .proto = IPPROTO_TCP, .cg = ci };
	char err[256];

	f.container = "0123";
	ASSERT_TRUE(filter__match(&f, &ev));
	f.unit = "system.slice";
	ASSERT_TRUE(filter__match(&f, &ev));
	f.pod = "x";
	ASSERT_FALSE(filter__match(&f, &ev));
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "tcp and (unit nginx.service or container 0123)", err,
				sizeof(err)), 0);
	ASSERT_TRUE(filter__match(&f, &ev));
	ev.cg = NULL;	/* no name known: no term matches */
	ASSERT_FALSE(filter__match(&f, &ev));
	filter__free(&f);
	ASSERT_EQ(filter__parse(&f, "not cgroup /system.slice", err, sizeof(err)), 0);
	ASSERT_TRUE(filter__match(&f, &ev));
	ev.cg = ci;
	ASSERT_FALSE(filter__match(&f, &ev));
	filter__free(&f);
	ASSERT_EQ(filter__parse(&f, "cgroup system.slice", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "column 8: expected a cgroup path such as /system.slice/nginx.service, "
		     "got 'system.slice'");
	ASSERT_EQ(filter__parse(&f, "pod", err, sizeof(err)), -EINVAL);
}

/* The names reach a replay through the recording: in every block that
 * needs them, so a block read alone still has them. */
TEST(cgroups_names_travel_in_recordings)
{
	static const struct clock_ref ref = { .boot_ns = 1000, .wall_ns = 1700000000000000000ull };
	struct cgroup_info *ci = parse("/kubepods/burstable/pod" UID "/" ID64);
	char path[512], err[256];
	struct recorder_opts o = { .path = path, .ref = &ref };
	struct recorder *r;
	struct reader *rd;
	struct event ev = { .kind = EVENT_TCP_STATE, .pid = 42, .vpid = 1, .cgroup_id = 777,
			    .family = AF_INET, .proto = IPPROTO_TCP, .cg = ci, .boot_ns = 2000 };
	int n = 0;

	ASSERT_EQ(cgroup_info__set(ci, CGF_POD_NAME, "web-0", 5), 0);
	snprintf(path, sizeof(path), "%s/cg.st", ut_tmpdir());
	ev.wall_ns = clock_ref__wall(&ref, ev.boot_ns);
	r = recorder__open(&o);
	ASSERT_NOT_NULL(r);
	ASSERT_EQ(recorder__write(r, &ev), 0);
	ASSERT_EQ(recorder__write(r, &ev), 0);
	ASSERT_EQ(recorder__flush(r, true), 0);
	ev.cg = NULL;
	ASSERT_EQ(recorder__write(r, &ev), 0);
	ev.cg = ci;
	ASSERT_EQ(recorder__write(r, &ev), 0);
	ASSERT_EQ(recorder__close(r, NULL), 0);

	rd = reader__open(path, err, sizeof(err));
	ASSERT_MSG(rd, "%s", err);
	while (reader__next(rd, &ev) == 1) {
		ASSERT_EQ(ev.vpid, 1);
		ASSERT_EQ_U64(ev.cgroup_id, 777);
		if (n++ == 2) {
			ASSERT_NULL(ev.cg);
			continue;
		}
		ASSERT_NOT_NULL(ev.cg);
		ASSERT_STREQ(ev.cg->f[CGF_PATH], "/kubepods/burstable/pod" UID "/" ID64);
		ASSERT_STREQ(ev.cg->f[CGF_POD_UID], UID);
		ASSERT_STREQ(ev.cg->f[CGF_POD_QOS], "burstable");
		ASSERT_STREQ(ev.cg->f[CGF_POD_NAME], "web-0");
		ASSERT_STREQ(ev.cg->f[CGF_CONTAINER_ID], ID64);
		ASSERT_NULL(ev.cg->f[CGF_RUNTIME]);
	}
	ASSERT_EQ(n, 4);
	ASSERT_EQ_U64(reader__stats(rd)->bad_records, 0);
	reader__close(rd);
}

/* ev as a JSON line, then as text lines with the CGROUP column; and_unnamed:
 * the text once more without its cgroup. The caller frees the text. */
static char *rendered(struct event *ev, bool and_unnamed)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sink *s = sink_json__new(f, NULL);

	ASSERT_NOT_NULL(s);
	ASSERT_EQ(sink__event(s, ev), 0);
	sink__free(s);
	s = sink_text__new(f, NULL);
	sink_text__set_cgroup_column(s, true);
	ASSERT_EQ(sink__event(s, ev), 0);
	if (and_unnamed) {
		ev->cg = NULL;
		ASSERT_EQ(sink__event(s, ev), 0);
	}
	sink__free(s);
	fclose(f);
	return buf;
}

/* JSON: the names after comm, each only where it applies; the text
 * column the same names, shortest first. */
TEST(cgroups_rendered)
{
	struct cgroup_info *ci = parse("/kubepods/burstable/pod" UID "/" ID64);
	struct event ev = { .kind = EVENT_TCP_STATE, .pid = 42, .tid = 42, .vpid = 1,
			    .cgroup_id = 77, .family = AF_INET, .proto = IPPROTO_TCP, .cg = ci,
			    .old_state = ST_TCP_CLOSE, .new_state = ST_TCP_SYN_SENT,
			    .old_ns = EVENT_OLD_NS_UNKNOWN };
	char *buf;

	strcpy(ev.comm, "java");
	buf = rendered(&ev, true);
	ASSERT_NOT_NULL(strstr(buf, "\"comm\":\"java\",\"vpid\":1,\"cgroup_id\":77,\"cgroup\":"
			       "\"/kubepods/burstable/pod" UID "/" ID64 "\",\"container\":"
			       "{\"runtime\":null,\"id\":\"" ID64 "\",\"name\":null},\"pod\":"
			       "{\"namespace\":null,\"name\":null,\"uid\":\"" UID "\","
			       "\"qos\":\"burstable\"},\"owner\""));
	ASSERT_NULL(strstr(buf, "\"unit\""));
	ASSERT_NOT_NULL(strstr(buf, " CGROUP "));
	ASSERT_NOT_NULL(strstr(buf, " java            pod:" UID " "));
	ASSERT_NOT_NULL(strstr(buf, " java            -   "));
	free(buf);
}

/* An event with both a DNS name for its remote address and its owner's
 * cgroup: JSON has rname before service and the cgroup keys after comm,
 * the text line the name as the remote and the CGROUP column. */
TEST(cgroups_rendered_beside_dns_names)
{
	struct cgroup_info *ci = parse("/system.slice/app.service");
	struct event ev = { .kind = EVENT_TCP_STATE, .pid = 42, .tid = 42, .vpid = 42,
			    .cgroup_id = 77, .family = AF_INET, .proto = IPPROTO_TCP, .cg = ci,
			    .rport = 8080, .old_state = ST_TCP_CLOSE, .new_state = ST_TCP_SYN_SENT,
			    .old_ns = EVENT_OLD_NS_UNKNOWN };
	char *buf;

	strcpy(ev.comm, "curl");
	strcpy(ev.rname, "alias.example.test");
	strcpy(ev.rname_canonical, "web.example.test");
	buf = rendered(&ev, false);
	ASSERT_NOT_NULL(strstr(buf, "\"rport\":8080,\"rname\":\"alias.example.test\","
			       "\"rname_canonical\":\"web.example.test\",\"service\":null,"));
	ASSERT_NOT_NULL(strstr(buf, "\"comm\":\"curl\",\"vpid\":42,\"cgroup_id\":77,"
			       "\"cgroup\":\"/system.slice/app.service\",\"unit\":\"app.service\","
			       "\"slice\":\"system.slice\",\"owner\""));
	ASSERT_NOT_NULL(strstr(buf, " curl            app.service "));
	ASSERT_NOT_NULL(strstr(buf, "alias.example.test:8080/tcp"));
	free(buf);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4200];
	FILE *f;

	ASSERT(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
	f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fputs(text, f);
	fclose(f);
}

/* A process as /proc shows it: its start time (field 22) and its cgroup. */
static void fake_pid(const char *proc, const char *start, const char *cgroup)
{
	char dir[4200], stat[256];

	snprintf(dir, sizeof(dir), "%s/4242", proc);
	mkdir(dir, 0755);
	snprintf(stat, sizeof(stat),
		 "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %s 1000 10\n",
		 start);
	write_file(dir, "stat", stat);
	write_file(dir, "cgroup", cgroup);
}

/* A pid the cache knows, reused by a process in another cgroup, names the
 * new one's; an owner that exited keeps the cgroup it was found in. */
TEST(cgroups_pid_reuse)
{
	const char *proc = ut_tmpdir();
	struct cgroups *c = cgroups__new();
	const struct cgroup_info *ci;
	char dir[4200];

	ASSERT_NOT_NULL(c);
	cgroups__set_proc(c, proc, 0);
	fake_pid(proc, "1000", "0::/system.slice/nginx.service\n");
	ci = cgroups__find(c, 0, 4242);
	ASSERT_NOT_NULL(ci);
	ASSERT_STREQ(ci->f[CGF_PATH], "/system.slice/nginx.service");
	/* the same process: the same answer */
	ci = cgroups__find(c, 0, 4242);
	ASSERT_STREQ(ci->f[CGF_PATH], "/system.slice/nginx.service");
	/* the pid now names a later process */
	fake_pid(proc, "2000", "0::/system.slice/redis.service\n");
	ci = cgroups__find(c, 0, 4242);
	ASSERT_NOT_NULL(ci);
	ASSERT_STREQ(ci->f[CGF_PATH], "/system.slice/redis.service");
	/* it exited: what was read stays */
	snprintf(dir, sizeof(dir), "rm -r '%s/4242'", proc);
	ASSERT_EQ(system(dir), 0);
	ci = cgroups__find(c, 0, 4242);
	ASSERT_NOT_NULL(ci);
	ASSERT_STREQ(ci->f[CGF_PATH], "/system.slice/redis.service");
	cgroups__free(c);
}
