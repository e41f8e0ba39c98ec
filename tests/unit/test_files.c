// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Recordings as files: the clock reference of every block (1.2) and events
 * whose time is unknown, the 1.1 fixture, how the recorder opens a file
 * (links, other users' files, inputs, modes), bad inputs of replay, and
 * the command line of all that. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zlib.h>
#include "dnsnames.h"
#include "opts.h"
#include "info.h"
#include "pipeline.h"
#include "reader.h"
#include "record.h"
#include "recorder.h"
#include "replay.h"
#include "util.h"

/* ---- the 1.1 fixture ---- */

/* tests/unit/data/record-1.1.st was written by the 1.1 recorder (before
 * every block had its clock record) with these events, a block every 5,
 * and a wall clock 5 s ahead from event 10 on (so a clock record there). */
static const struct clock_ref fixture_ref = { .boot_ns = 5000000000ull,
					      .wall_ns = 1700000000000000000ull };
#define FIXTURE_EVENTS 15
#define FIXTURE_STEP 10

static struct event fixture_ev(int i)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_STATE;
	ev.boot_ns = fixture_ref.boot_ns + 1000000ull * i;
	ev.wall_ns = clock_ref__wall(&fixture_ref, ev.boot_ns) +
		     (i >= FIXTURE_STEP ? 5000000000ull : 0);
	ev.sock = 0xffff888100000000ull + i * 0x40;
	ev.ino = 5000 + i;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.netns = 4026531833u;
	ev.pid = 100 + i;
	ev.tid = 100 + i;
	ev.family = AF_INET;
	ev.proto = IPPROTO_TCP;
	inet_pton(AF_INET, "127.0.0.1", &ev.laddr);
	inet_pton(AF_INET, "127.0.0.1", &ev.raddr);
	ev.lport = 40000 + i;
	ev.rport = 443;
	ev.old_state = ST_TCP_CLOSE;
	ev.new_state = ST_TCP_SYN_SENT;
	ev.owner_src = ST_OWNER_CONNECT;
	ev.role = ST_ROLE_CLIENT;
	snprintf(ev.comm, sizeof(ev.comm), "fixture");
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	return ev;
}

static void *slurp_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ASSERT_MSG(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? n : 1);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	ut_defer(free, buf);
	*len = n;
	return buf;
}

static const char *fixture_path(void)
{
	static char path[PATH_MAX];
	char src[PATH_MAX];

	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(path, sizeof(path), "%s/data/record-1.1.st", dirname(src));
	return path;
}

/* Reads a buffer to its end: the events (up to max), the stats. */
static int read_all(const void *data, size_t len, struct event *out, int max,
		    struct reader_stats *st)
{
	char err[256];
	struct reader *r;
	struct event ev;
	int n = 0, k;
	FILE *f = fmemopen((void *)data, len, "rb");

	ASSERT_NOT_NULL(f);
	r = reader__open_file(f, err, sizeof(err));
	ASSERT_MSG(r, "reader__open_file: %s", err);
	while ((k = reader__next(r, &ev)) == 1) {
		if (n < max)
			out[n] = ev;
		n++;
	}
	ASSERT_EQ(k, 0);
	if (st)
		*st = *reader__stats(r);
	reader__close(r);
	return n;
}

static void assert_event(const struct event *got, const struct event *want, int i)
{
	ASSERT_MSG(got->wall_ns == want->wall_ns, "event %d: wall_ns %llu, expected %llu", i,
		   (unsigned long long)got->wall_ns, (unsigned long long)want->wall_ns);
	ASSERT_MSG(!memcmp(got, want, sizeof(*got)), "event %d: some field differs", i);
}

/* The offset of the first byte of the header block's payload. */
#define HEADER_PAYLOAD (REC_PREFIX_LEN + REC_BLOCK_HDR_LEN)

TEST(files_fixture_1_1_reads)
{
	struct event got[FIXTURE_EVENTS + 1];
	struct reader_stats st;
	size_t len;
	const uint8_t *data = slurp_file(fixture_path(), &len);

	ASSERT_EQ(rec__get16(data + 10), 1);	/* written as 1.1 */
	ASSERT_EQ(read_all(data, len, got, FIXTURE_EVENTS + 1, &st), FIXTURE_EVENTS);
	for (int i = 0; i < FIXTURE_EVENTS; i++) {
		struct event want = fixture_ev(i);

		assert_event(&got[i], &want, i);
	}
	ASSERT_TRUE(st.clean_end);
	ASSERT_EQ(st.unknown_time, 0);
	ASSERT_EQ(st.bad_blocks, 0);
}

/* A 1.1 file has no clock record before the step: with its header lost
 * those events' time is unknown, and says so, never 1970. */
TEST(files_fixture_1_1_damaged_header_time_unknown)
{
	struct event got[FIXTURE_EVENTS + 1];
	struct reader_stats st;
	size_t len;
	uint8_t *data = slurp_file(fixture_path(), &len);
	struct event want;

	data[HEADER_PAYLOAD + 5] ^= 0xff;
	ASSERT_EQ(read_all(data, len, got, FIXTURE_EVENTS + 1, &st), FIXTURE_EVENTS);
	ASSERT_EQ(st.bad_blocks, 1);
	ASSERT_FALSE(st.have_header);
	ASSERT_EQ(st.unknown_time, FIXTURE_STEP);
	for (int i = 0; i < FIXTURE_EVENTS; i++) {
		want = fixture_ev(i);
		if (i < FIXTURE_STEP)
			want.wall_ns = EVENT_WALL_UNKNOWN;
		assert_event(&got[i], &want, i);
	}
	want = fixture_ev(FIXTURE_STEP);
	ASSERT_EQ_U64(st.first_wall, want.wall_ns);
	want = fixture_ev(FIXTURE_EVENTS - 1);
	ASSERT_EQ_U64(st.last_wall, want.wall_ns);
}

/* ---- 1.2: a clock record opens every events block ---- */

static const struct clock_ref ref12 = { .boot_ns = 1000000000ull,
					.wall_ns = 1750000000000000000ull };

static struct event ev12(int i)
{
	struct event ev = fixture_ev(i);

	ev.boot_ns = ref12.boot_ns + 1000ull * i;
	ev.wall_ns = clock_ref__wall(&ref12, ev.boot_ns);
	return ev;
}

/* name in dir (ut_tmpdir() makes a new directory each time). */
static char *path_at(const char *dir, const char *name)
{
	static char buf[16][PATH_MAX];
	static int n;
	char *p = buf[n++ % 16];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static char *tmp_path(const char *name)
{
	return path_at(ut_tmpdir(), name);
}

/* n events, a block every `per`, through the recorder. */
static void write12(const char *path, int n, int per)
{
	struct recorder_opts o = { .path = path, .ref = &ref12 };
	struct recorder *r = recorder__open(&o);

	ASSERT_MSG(r, "recorder__open(%s): %s", path, strerror(errno));
	for (int i = 0; i < n; i++) {
		struct event ev = ev12(i);

		ASSERT_EQ(recorder__write(r, &ev), 0);
		if ((i + 1) % per == 0)
			ASSERT_EQ(recorder__flush(r, true), 0);
	}
	ASSERT_EQ(recorder__close(r, NULL), 0);
}

TEST(files_every_events_block_starts_with_a_clock)
{
	const char *p = tmp_path("blocks.st");
	size_t len, off = REC_PREFIX_LEN;
	const uint8_t *data;
	int events_blocks = 0;

	write12(p, 20, 4);
	data = slurp_file(p, &len);
	ASSERT_EQ(rec__get16(data + 10), REC_MINOR);
	while (off + REC_BLOCK_HDR_LEN <= len) {
		uint32_t stored = rec__get32(data + off + 8);

		ASSERT_EQ(rec__get32(data + off), REC_SYNC);
		if (data[off + 4] == REC_BLOCK_EVENTS) {
			static uint8_t raw[1 << 17];
			uLongf raw_len = sizeof(raw);
			const uint8_t *b = data + off + REC_BLOCK_HDR_LEN;

			if (data[off + 5] & REC_FLAG_ZLIB) {
				ASSERT_EQ(uncompress(raw, &raw_len, b, stored), Z_OK);
				b = raw;
			}
			ASSERT_EQ(rec__get16(b), REC_CLOCK);
			ASSERT_EQ(rec__get16(b + 2), REC_CLOCK_LEN);
			ASSERT_EQ_U64(rec__get64(b + 4), ref12.boot_ns);
			ASSERT_EQ_U64(rec__get64(b + 12), ref12.wall_ns);
			events_blocks++;
		}
		off += REC_BLOCK_HDR_LEN + stored;
	}
	ASSERT_EQ(off, len);
	ASSERT_EQ(events_blocks, 5);
}

/* Any one byte of the header block damaged: every event keeps its time. */
TEST(files_damaged_header_keeps_times)
{
	const char *p = tmp_path("hdr.st");
	struct event got[32];
	struct reader_stats st;
	size_t len, hdr_len;
	uint8_t *data;

	write12(p, 20, 4);
	data = slurp_file(p, &len);
	hdr_len = REC_BLOCK_HDR_LEN + rec__get32(data + REC_PREFIX_LEN + 8);
	for (size_t off = REC_PREFIX_LEN; off < REC_PREFIX_LEN + hdr_len; off++) {
		int n;

		data[off] ^= 0x5a;
		n = read_all(data, len, got, 32, &st);
		data[off] ^= 0x5a;
		ASSERT_MSG(n == 20, "flip at %zu: %d events", off, n);
		ASSERT_MSG(!st.have_header, "flip at %zu went unnoticed", off);
		ASSERT_EQ(st.unknown_time, 0);
		for (int i = 0; i < n; i++) {
			struct event want = ev12(i);

			assert_event(&got[i], &want, i);
		}
	}
}

/* -r OLD -w NEW of events whose time is unknown: they stay unknown, and
 * the events after them keep theirs. */
TEST(files_unknown_time_survives_a_copy)
{
	const char *p = tmp_path("copy.st");
	struct recorder_opts o = { .path = p };
	struct recorder *r = recorder__open(&o);
	struct event got[8], want[6];
	struct reader_stats st;
	size_t len;
	void *data;

	ASSERT_NOT_NULL(r);
	for (int i = 0; i < 6; i++) {
		want[i] = ev12(i);
		if (i < 2 || i == 4)
			want[i].wall_ns = EVENT_WALL_UNKNOWN;
		ASSERT_EQ(recorder__write(r, &want[i]), 0);
		if (i == 2)
			ASSERT_EQ(recorder__flush(r, true), 0);
	}
	ASSERT_EQ(recorder__close(r, NULL), 0);
	data = slurp_file(p, &len);
	ASSERT_EQ(read_all(data, len, got, 8, &st), 6);
	for (int i = 0; i < 6; i++)
		assert_event(&got[i], &want[i], i);
	ASSERT_EQ(st.unknown_time, 3);
	ASSERT_EQ_U64(st.first_wall, want[2].wall_ns);
	ASSERT_EQ_U64(st.last_wall, want[5].wall_ns);
}

/* A second recording appended to a first (cat a b): its events are not
 * timed by the first one's reference when its own header is damaged. */
TEST(files_concatenated_without_header_do_not_borrow_time)
{
	struct event got[FIXTURE_EVENTS * 2 + 1];
	struct reader_stats st;
	size_t len;
	const uint8_t *one = slurp_file(fixture_path(), &len);
	uint8_t *two = malloc(2 * len);

	ASSERT_NOT_NULL(two);
	ut_defer(free, two);
	memcpy(two, one, len);
	memcpy(two + len, one, len);
	two[len + HEADER_PAYLOAD + 5] ^= 0xff;
	ASSERT_EQ(read_all(two, 2 * len, got, FIXTURE_EVENTS * 2 + 1, &st), 2 * FIXTURE_EVENTS);
	ASSERT_EQ(st.unknown_time, FIXTURE_STEP);
	for (int i = 0; i < FIXTURE_EVENTS; i++) {
		struct event want = fixture_ev(i);

		assert_event(&got[i], &want, i);
		if (i < FIXTURE_STEP)
			want.wall_ns = EVENT_WALL_UNKNOWN;
		assert_event(&got[FIXTURE_EVENTS + i], &want, FIXTURE_EVENTS + i);
	}
}

/* ---- what replay and --info make of unknown times ---- */

/* stderr goes to a file until the end of the test; stderr_text() has it. */
static char stderr_path[PATH_MAX];
static int saved_stderr = -1;

static void restore_stderr(void *unused)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
}

static void capture_stderr(void)
{
	int fd;

	snprintf(stderr_path, sizeof(stderr_path), "%s", tmp_path("stderr"));
	fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	ASSERT_TRUE(saved_stderr >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	ut_defer(restore_stderr, NULL);
}

static const char *stderr_text(void)
{
	static char buf[8192];
	FILE *f;
	size_t n;

	fflush(stderr);
	f = fopen(stderr_path, "r");
	ASSERT_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

struct capture {
	struct sink base;
	struct event ev[64];
	int n;
};

static int cap_event(struct sink *s, const struct event *ev)
{
	struct capture *c = (struct capture *)s;

	if (c->n < 64)
		c->ev[c->n] = *ev;
	c->n++;
	return 0;
}

static void cap_free(struct sink *s)
{
	(void)s;
}

static const struct sink_ops cap_ops = { .event = cap_event, .free = cap_free };

static void pipeline_free_cb(void *p)
{
	pipeline__free(p);
}

static const char *damaged_fixture(void)
{
	const char *p = tmp_path("damaged-1.1.st");
	size_t len;
	uint8_t *data = slurp_file(fixture_path(), &len);
	FILE *f;

	data[HEADER_PAYLOAD + 5] ^= 0xff;
	f = fopen(p, "wb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

/* Replays path through [since, until); returns the events' count. */
static int replay_window(const char *path, const char *since, const char *until,
			 struct capture *cap)
{
	const char *paths[1] = { path };
	struct time_bound s = {}, u = {};
	struct replay rp;
	static struct pipeline pl;	/* freed after the test returns */

	if (since)
		ASSERT_EQ(time_bound__parse(since, &s), 0);
	if (until)
		ASSERT_EQ(time_bound__parse(until, &u), 0);
	memset(cap, 0, sizeof(*cap));
	cap->base.ops = &cap_ops;
	pipeline__init(&pl, NULL, 0);
	ut_defer(pipeline_free_cb, &pl);
	ASSERT_EQ(pipeline__add_sink(&pl, &cap->base), 0);
	ASSERT_EQ(replay__open(&rp, paths, 1), 0);
	ASSERT_EQ(replay__run(&rp, &pl, &s, &u, NULL), 0);
	replay__close(&rp);
	return cap->n;
}

TEST(files_replay_window_skips_unknown_times)
{
	static struct capture cap;
	const char *p = damaged_fixture();
	struct event step = fixture_ev(FIXTURE_STEP);

	capture_stderr();
	/* no window: all of them, in file order */
	ASSERT_EQ(replay_window(p, NULL, NULL, &cap), FIXTURE_EVENTS);
	for (int i = 0; i < FIXTURE_EVENTS; i++)
		ASSERT_EQ(cap.ev[i].lport, 40000 + i);
	ASSERT_EQ_U64(cap.ev[0].wall_ns, EVENT_WALL_UNKNOWN);
	/* an absolute window matches only what has a time */
	ASSERT_EQ(replay_window(p, "2000-01-01T00:00:00Z", NULL, &cap),
		  FIXTURE_EVENTS - FIXTURE_STEP);
	ASSERT_EQ_U64(cap.ev[0].wall_ns, step.wall_ns);
	ASSERT_EQ(replay_window(p, NULL, "2100-01-01T00:00:00Z", &cap),
		  FIXTURE_EVENTS - FIXTURE_STEP);
	/* relative: after the first event that has a time */
	ASSERT_EQ(replay_window(p, "0.002", NULL, &cap), FIXTURE_EVENTS - FIXTURE_STEP - 2);
	ASSERT_EQ(cap.ev[0].lport, 40000 + FIXTURE_STEP + 2);
	ASSERT_MSG(strstr(stderr_text(), "the wall-clock time of 10 events is unknown"),
		   "stderr: %s", stderr_text());
}

static const char *info_text(const char *path, int *ret)
{
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	ASSERT_NOT_NULL(f);
	*ret = info__print(path, f);
	fclose(f);
	ut_defer(free, text);
	return text;
}

TEST(files_info_unknown_times)
{
	char want[128];
	struct event step = fixture_ev(FIXTURE_STEP);
	char t[64];
	int ret;
	const char *text = info_text(damaged_fixture(), &ret);

	ASSERT_EQ(ret, 0);
	ASSERT_NOT_NULL(strstr(text, "Format:            socktrace recording 1.1\n"));
	ASSERT_NOT_NULL(strstr(text, "Events:            15\n"));
	ASSERT_NOT_NULL(strstr(text, "  without time:    10 "));
	format__rfc3339(t, sizeof(t), step.wall_ns);
	snprintf(want, sizeof(want), "First event:       %s\n", t);
	ASSERT_NOT_NULL(strstr(text, want));
	ASSERT_NULL(strstr(text, "1970"));
}

/* The text sink shows "?", JSON null, for an unknown time. */
TEST(files_sinks_show_unknown_time)
{
	struct event ev = fixture_ev(0), flow = fixture_ev(1);
	struct memfile *m = memfile_new(), *j = memfile_new();
	struct sink *text = sink_text__new(m->f, NULL), *json = sink_json__new(j->f, NULL);
	char tbuf[32];
	const char *out;

	ASSERT_NOT_NULL(text);
	ASSERT_NOT_NULL(json);
	ev.wall_ns = EVENT_WALL_UNKNOWN;
	flow.kind = EVENT_UDP_FLOW;
	flow.proto = IPPROTO_UDP;
	flow.flow_event = UDP_FLOW_START;
	flow.first_ns = flow.boot_ns;
	flow.wall_ns = EVENT_WALL_UNKNOWN;
	ASSERT_EQ(format__clock(tbuf, sizeof(tbuf), EVENT_WALL_UNKNOWN), 0);
	ASSERT_STREQ(tbuf, "?");
	ASSERT_EQ(sink__event(text, &ev), 0);
	ASSERT_EQ(sink__flush(text), 0);
	out = memfile_str(m, NULL);
	out = strchr(out, '\n');
	ASSERT_NOT_NULL(out);
	ASSERT_MSG(!strncmp(out + 1, "?               100 ", 20), "text line: %s", out + 1);
	ASSERT_EQ(sink__event(json, &ev), 0);
	ASSERT_EQ(sink__event(json, &flow), 0);
	ASSERT_EQ(sink__flush(json), 0);
	out = memfile_str(j, NULL);
	ASSERT_MSG(strstr(out, "\"type\":\"tcp_state\",\"time\":null,"), "json: %s", out);
	ASSERT_MSG(strstr(out, "\"time\":null,\"boot_ns\":5001000000"), "json: %s", out);
	ASSERT_MSG(strstr(out, "\"first_time\":null"), "json: %s", out);
	sink__free(text);
	sink__free(json);
}

/* ---- bad inputs of replay ---- */

TEST(files_reader_directory)
{
	char err[256];
	struct reader *r = reader__open(ut_tmpdir(), err, sizeof(err));

	ASSERT_NULL(r);
	ASSERT_EQ(errno, EISDIR);
	ASSERT_MSG(strstr(err, "directory"), "message: %s", err);
}

static const char *write_bytes(const char *name, const void *data, size_t len)
{
	const char *p = tmp_path(name);
	FILE *f = fopen(p, "wb");

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static int replay_file(const char *path, int *events)
{
	static struct capture cap;
	const char *paths[1] = { path };
	struct time_bound none = {};
	struct replay rp;
	static struct pipeline pl;	/* freed after the test returns */
	int err;

	memset(&cap, 0, sizeof(cap));
	cap.base.ops = &cap_ops;
	pipeline__init(&pl, NULL, 0);
	ut_defer(pipeline_free_cb, &pl);
	ASSERT_EQ(pipeline__add_sink(&pl, &cap.base), 0);
	ASSERT_EQ(replay__open(&rp, paths, 1), 0);
	err = replay__run(&rp, &pl, &none, &none, NULL);
	replay__close(&rp);
	*events = cap.n;
	return err;
}

/* The magic, then nothing readable: no recording at all, an error; one
 * damaged block among good ones stays a warning. */
TEST(files_magic_and_garbage_is_an_error)
{
	uint8_t buf[4096];
	size_t len;
	const uint8_t *good;
	uint8_t *bad;
	const char *p;
	int n, ret;

	memcpy(buf, REC_MAGIC, REC_MAGIC_LEN);
	rec__put16(buf + 8, REC_MAJOR);
	rec__put16(buf + 10, REC_MINOR);
	for (size_t i = REC_PREFIX_LEN; i < sizeof(buf); i++)
		buf[i] = "garbage!"[i % 8];
	capture_stderr();
	p = write_bytes("garbage.st", buf, sizeof(buf));
	ASSERT_EQ(replay_file(p, &n), -EBADMSG);
	ASSERT_EQ(n, 0);
	ASSERT_MSG(strstr(stderr_text(), "garbage.st': no readable block after the file's magic (4084 bytes"),
		   "stderr: %s", stderr_text());
	info_text(p, &ret);
	ASSERT_EQ(ret, 1);
	/* just the prefix: nothing readable either */
	p = write_bytes("prefix.st", buf, REC_PREFIX_LEN);
	ASSERT_EQ(replay_file(p, &n), -EBADMSG);

	p = tmp_path("good.st");
	write12(p, 20, 4);
	good = slurp_file(p, &len);
	bad = malloc(len);
	ASSERT_NOT_NULL(bad);
	ut_defer(free, bad);
	memcpy(bad, good, len);
	bad[len / 2] ^= 0xff;
	p = write_bytes("partly.st", bad, len);
	ASSERT_EQ(replay_file(p, &n), 0);
	ASSERT_TRUE(n > 0 && n < 20);
}

/* ---- how the recorder opens files ---- */

static int open_rec(struct recorder_opts *o, char *why, size_t len)
{
	struct recorder *r;

	o->err = why;
	o->errlen = len;
	why[0] = '\0';
	r = recorder__open(o);
	if (!r)
		return -errno;
	ASSERT_EQ(recorder__close(r, NULL), 0);
	return 0;
}

static void put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT_NOT_NULL(f);
	fputs(text, f);
	fclose(f);
}

static char *get_text(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	ASSERT_NOT_NULL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

TEST(files_recorder_does_not_follow_a_symlink)
{
	const char *dir = ut_tmpdir();
	const char *target = path_at(dir, "target"), *link = path_at(dir, "link.st");
	struct recorder_opts o = { .path = link };
	char why[PATH_MAX + 256];

	put_text(target, "precious\n");
	ASSERT_EQ(symlink(target, link), 0);
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -ELOOP);
	ASSERT_MSG(strstr(why, "symbolic link"), "message: %s", why);
	ASSERT_STREQ(get_text(target), "precious\n");
	/* a dangling one would create a file where it points */
	ASSERT_EQ(unlink(target), 0);
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -ELOOP);
	ASSERT_EQ(access(target, F_OK), -1);
}

TEST(files_recorder_refuses_hard_links)
{
	const char *dir = ut_tmpdir();
	const char *a = path_at(dir, "a.st"), *b = path_at(dir, "b.st");
	struct recorder_opts o = { .path = b };
	char why[PATH_MAX + 256];

	put_text(a, "precious\n");
	ASSERT_EQ(link(a, b), 0);
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -EPERM);
	ASSERT_MSG(strstr(why, "hard links"), "message: %s", why);
	ASSERT_STREQ(get_text(a), "precious\n");
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	ASSERT_EQ(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void restore_umask(void *old)
{
	umask((mode_t)(uintptr_t)old);
}

/* 0600 whatever the umask lets through; --file-mode goes through it. */
TEST(files_recorder_modes)
{
	const char *dir = ut_tmpdir();
	const char *p = path_at(dir, "m.st"), *q = path_at(dir, "q.st");
	struct recorder_opts o = { .path = p };
	char why[256];

	ut_defer(restore_umask, (void *)(uintptr_t)umask(022));
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), 0);
	ASSERT_EQ(mode_of(p), 0600);
	o.path = q;
	o.mode = 0664;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), 0);
	ASSERT_EQ(mode_of(q), 0644);
	/* an existing file of ours is truncated and keeps its mode */
	ASSERT_EQ(chmod(p, 0640), 0);
	put_text(p, "old contents, longer than nothing\n");
	o.path = p;
	o.mode = 0;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), 0);
	ASSERT_EQ(mode_of(p), 0640);
	ASSERT_TRUE(strncmp(get_text(p), "old", 3));
}

static void input_of(struct rec_input *in, const char *path)
{
	struct stat st;

	ASSERT_EQ(stat(path, &st), 0);
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->path = path;
}

/* -r X -w X, and X under another name: refused before anything is
 * truncated, with EBUSY (main makes it a usage error). */
TEST(files_recorder_never_writes_an_input)
{
	const char *dir = ut_tmpdir();
	const char *x = path_at(dir, "x.st"), *hard = path_at(dir, "hard.st");
	const char *soft = path_at(dir, "soft.st"), *base = path_at(dir, "ring.st");
	const char *ring1 = path_at(dir, "ring.st1"), *num = path_at(dir, "num.st");
	const char *num7 = path_at(dir, "num.st7");
	struct recorder_opts o = { .path = x };
	struct rec_input in[2];
	char why[PATH_MAX + 256];

	write12(x, 5, 5);
	write12(ring1, 5, 5);
	write12(num7, 5, 5);
	ASSERT_EQ(link(x, hard), 0);
	ASSERT_EQ(symlink(x, soft), 0);
	input_of(&in[0], x);
	o.inputs = in;
	o.n_inputs = 1;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -EBUSY);
	ASSERT_MSG(strstr(why, "same file as the input"), "message: %s", why);
	o.path = hard;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -EBUSY);
	o.path = soft;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -EBUSY);
	/* a name of the -W ring, and a numbered -C name that exists */
	input_of(&in[1], ring1);
	o.n_inputs = 2;
	o.path = base;
	o.rotate_bytes = 4096;
	o.rotate_count = 3;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -EBUSY);
	ASSERT_MSG(strstr(why, "ring.st1"), "message: %s", why);
	input_of(&in[1], num7);
	o.path = num;
	o.rotate_count = 0;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), -EBUSY);
	ASSERT_MSG(strstr(why, "num.st7"), "message: %s", why);
	/* nothing was truncated or created */
	ASSERT_EQ(access(base, F_OK), -1);
	ASSERT_EQ(access(num, F_OK), -1);
	for (int i = 0; i < 3; i++) {
		const char *p = i == 0 ? x : i == 1 ? ring1 : num7;
		struct event got[8];
		size_t len = 0;
		const void *data = slurp_file(p, &len);

		ASSERT_EQ(read_all(data, len, got, 8, NULL), 5);
	}
	/* another file is fine */
	o.path = path_at(dir, "other.st");
	o.rotate_bytes = 0;
	ASSERT_EQ(open_rec(&o, why, sizeof(why)), 0);
}

/* ---- the command line ---- */

#define MAX_ARGS 24

static int parse(struct opts *o, char *err, size_t errlen, ...)
{
	char *argv[MAX_ARGS + 2];
	char store[MAX_ARGS][256];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = "socktrace";
	va_start(ap, errlen);
	while ((a = va_arg(ap, const char *))) {
		if (argc > MAX_ARGS)
			FAIL("too many arguments for the test helper");
		snprintf(store[argc - 1], sizeof(store[0]), "%s", a);
		argv[argc] = store[argc - 1];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	opts__init(o);
	err[0] = '\0';
	return opts__parse(o, argc, argv, err, errlen);
}

static void opts_free_cb(void *o)
{
	opts__free(o);
}

#define PARSE_ERR(want, ...) do {					\
		static struct opts ut_o;				\
		char ut_err[256];					\
		int ut_r = parse(&ut_o, ut_err, sizeof(ut_err), __VA_ARGS__, NULL); \
		opts__free(&ut_o);					\
		ASSERT_MSG(ut_r == -EINVAL, "parse succeeded, expected '%s'", want); \
		ASSERT_MSG(strstr(ut_err, want), "message '%s', expected '%s'", ut_err, want); \
	} while (0)

TEST(files_opts_live_only_with_replay)
{
	static const char *const opts[][2] = {
		{ "--hook", "kprobe" }, { "--btf", "/x" }, { "--ringbuf-kb", "64" },
		{ "--probes", NULL }, { "--udp-flows", "64" }, { "--udp-idle", "3" },
		{ "--interval", "1" }, { "--no-snapshot", NULL },
		{ "-d", "5" }, { "--duration", "5" }, { "-Z", "nobody" }, { "--user", "nobody" },
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		static struct opts o;
		char err[256], want[64];
		int r;

		if (opts[i][1])
			r = parse(&o, err, sizeof(err), "-r", "x.st", opts[i][0], opts[i][1], NULL);
		else
			r = parse(&o, err, sizeof(err), "-r", "x.st", opts[i][0], NULL);
		opts__free(&o);
		ASSERT_MSG(r == -EINVAL, "%s with -r was accepted", opts[i][0]);
		snprintf(want, sizeof(want), "%s", opts[i][0][1] == '-' ? opts[i][0] : "-");
		ASSERT_MSG(strstr(err, "applies to live tracing only") && strstr(err, want),
			   "%s: message '%s'", opts[i][0], err);
		/* the same live: fine */
		if (opts[i][1])
			r = parse(&o, err, sizeof(err), opts[i][0], opts[i][1], NULL);
		else
			r = parse(&o, err, sizeof(err), opts[i][0], NULL);
		opts__free(&o);
		ASSERT_MSG(r == 0, "%s live: %s", opts[i][0], err);
	}
}

/* What replay uses stays allowed with -r. */
TEST(files_opts_replay_keeps_its_options)
{
	static struct opts o;
	char err[256];

	ut_defer(opts_free_cb, &o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-r", "a.st", "-r", "b.st", "-j", "-c", "5", "-n",
			"--connects", "-w", "out.st", "--file-mode", "0640", "-C", "1", "-W", "2",
			"--since", "3", "--syn-alert", "50", "port 80", NULL), 0);
	ASSERT_EQ(o.file_mode, 0640);
	/* alerts are derived again on replay: a threshold of its own */
	ASSERT_EQ_U64(o.syn_alert_ms, 50);
	ASSERT_TRUE(o.syn_alert_set);
	ASSERT_EQ(o.n_reads, 2);
	ASSERT_EQ_U64(o.count, 5);
	ASSERT_TRUE(o.numeric);
}

TEST(files_opts_file_mode_and_user)
{
	static struct opts o;
	char err[256];

	ut_defer(opts_free_cb, &o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-w", "x.st", "--file-mode", "644", NULL), 0);
	ASSERT_EQ(o.file_mode, 0644);
	opts__free(&o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-w", "x.st", "-Z", "nobody", NULL), 0);
	ASSERT_STREQ(o.user, "nobody");
	ASSERT_EQ(o.file_mode, 0);
	opts__free(&o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "--user", "65534", NULL), 0);
	ASSERT_STREQ(o.user, "65534");
	PARSE_ERR("invalid file mode '0400'", "-w", "x.st", "--file-mode", "0400");
	PARSE_ERR("invalid file mode '1600'", "-w", "x.st", "--file-mode", "1600");
	PARSE_ERR("invalid file mode '06x0'", "-w", "x.st", "--file-mode", "06x0");
	PARSE_ERR("invalid file mode ''", "-w", "x.st", "--file-mode", "");
	PARSE_ERR("invalid file mode '-600'", "-w", "x.st", "--file-mode", "-600");
	PARSE_ERR("--file-mode needs -w FILE", "--file-mode", "0600");
	PARSE_ERR("--file-mode needs -w FILE", "-w", "-", "-q", "--file-mode", "0600");
	PARSE_ERR("invalid user ''", "-Z", "");
}

TEST(files_opts_stdin_and_stdout)
{
	static struct opts o;
	char err[256];

	ut_defer(opts_free_cb, &o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-r", "-", "-w", "-", "-q", NULL), 0);
	opts__free(&o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-w", "-", "-q", NULL), 0);
	opts__free(&o);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-r", "-", "-r", "b.st", NULL), 0);
	PARSE_ERR("-r - can be given only once", "-r", "-", "-r", "-");
	PARSE_ERR("it needs -q, without -j", "-w", "-");
	PARSE_ERR("it needs -q, without -j", "-w", "-", "-j");
	PARSE_ERR("it needs -q, without -j", "-w", "-", "-q", "-j");
	PARSE_ERR("it needs -q, without -j", "-r", "a.st", "-w", "-");
	PARSE_ERR("-C, -G and -W need a file name", "-w", "-", "-q", "-C", "1");
	PARSE_ERR("-C, -G and -W need a file name", "-w", "-", "-q", "-G", "60");
	PARSE_ERR("where --connects prints its table", "-w", "-", "-q", "--connects");
}

/* tests/unit/data/record-1.2.st was written by the 1.2 recorder (before
 * tcp_conn records): one connection on 127.0.0.1 port 5557 and its
 * listener, filter "tcp port 5557". A 1.3 reader reads all of it, and
 * finds no connection records it never held. */
TEST(files_fixture_1_2_reads)
{
	struct event got[16];
	struct reader_stats st;
	char path[PATH_MAX], src[PATH_MAX];
	const uint8_t *data;
	size_t len;
	int n, closes = 0;

	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(path, sizeof(path), "%s/data/record-1.2.st", dirname(src));
	data = slurp_file(path, &len);
	ASSERT_EQ(rec__get16(data + 10), 2);	/* written as 1.2 */
	n = read_all(data, len, got, 16, &st);
	ASSERT_EQ(n, 12);
	ASSERT_TRUE(st.clean_end);
	ASSERT_EQ(st.bad_blocks, 0);
	ASSERT_EQ(st.bad_records, 0);
	ASSERT_EQ(st.unknown_records, 0);
	ASSERT_EQ(st.by_type[REC_TCP_STATE], 12);
	ASSERT_EQ(st.by_type[REC_TCP_CONN], 0);
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(got[i].kind, EVENT_TCP_STATE);
		ASSERT_TRUE(got[i].lport == 5557 || got[i].rport == 5557);
		closes += got[i].new_state == ST_TCP_CLOSE;
	}
	ASSERT_EQ(closes, 3);	/* client, server, listener */
}

/* tests/unit/data/record-1.3.st was written by the 1.3 recorder (before
 * cgroup names): one connection on 127.0.0.1 port 5558 with its listener
 * and their tcp_conn ends, and a TIME_WAIT socket of the startup
 * snapshot, filter "tcp port 5558". A 1.5 reader reads all of it, with no
 * namespace pid and no cgroup. */
TEST(files_fixture_1_3_reads)
{
	struct event got[32];
	struct reader_stats st;
	char path[PATH_MAX], src[PATH_MAX];
	const uint8_t *data;
	size_t len;
	int n;

	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(path, sizeof(path), "%s/data/record-1.3.st", dirname(src));
	data = slurp_file(path, &len);
	ASSERT_EQ(rec__get16(data + 10), 3);	/* written as 1.3 */
	n = read_all(data, len, got, 32, &st);
	ASSERT_EQ(n, 15);
	ASSERT_TRUE(st.clean_end);
	ASSERT_EQ(st.bad_blocks, 0);
	ASSERT_EQ(st.bad_records, 0);
	ASSERT_EQ(st.unknown_records, 0);
	ASSERT_EQ(st.by_type[REC_TCP_STATE], 12);
	ASSERT_EQ(st.by_type[REC_TCP_SOCKET], 1);
	ASSERT_EQ(st.by_type[REC_TCP_CONN], 2);
	ASSERT_EQ(st.by_type[REC_DNS_ANSWER], 0);
	for (int i = 0; i < n; i++) {
		ASSERT_TRUE(got[i].lport == 5558 || got[i].rport == 5558);
		ASSERT_EQ(got[i].vpid, 0);
		ASSERT_EQ_U64(got[i].cgroup_id, 0);
		ASSERT_NULL(got[i].cg);
		ASSERT_TRUE(got[i].kind == EVENT_TCP_SOCKET || got[i].pid);
	}
}

/* tests/unit/data/record-1.5-dns.st: a client in a network namespace
 * resolved alias.example.test (a CNAME chain alias -> www -> web, A
 * 198.51.100.10) through dnsmasq, then connected to port 8080; filter
 * "tcp port 8080". The answer is in the recording, and names the
 * connection's events again when read back. */
TEST(files_fixture_1_5_dns_names)
{
	struct event got[16];
	struct reader_stats st;
	struct dnsnames *d = dnsnames__new(64);
	char path[PATH_MAX], src[PATH_MAX];
	const uint8_t *data;
	size_t len;
	int n, named = 0, answers = 0;

	ASSERT_NOT_NULL(d);
	ut_defer((void (*)(void *))dnsnames__free, d);
	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(path, sizeof(path), "%s/data/record-1.5-dns.st", dirname(src));
	data = slurp_file(path, &len);
	ASSERT_EQ(rec__get16(data + 10), 5);
	n = read_all(data, len, got, 16, &st);
	ASSERT_EQ(n, 13);
	ASSERT_EQ(st.bad_records, 0);
	ASSERT_EQ(st.by_type[REC_DNS_ANSWER], 1);
	for (int i = 0; i < n; i++) {
		struct in_addr web;

		if (got[i].kind == EVENT_DNS_ANSWER) {
			ASSERT_EQ(dnsnames__learn(d, &got[i]), 1);
			answers++;
			continue;
		}
		ASSERT_EQ(answers, 1);	/* the answer comes first */
		inet_pton(AF_INET, "198.51.100.10", &web);
		if (memcmp(&got[i].raddr, &web, 4))
			continue;
		ASSERT_TRUE(dnsnames__name(d, &got[i]));
		ASSERT_STREQ(got[i].rname, "alias.example.test");
		ASSERT_STREQ(got[i].rname_canonical, "web.example.test");
		named++;
	}
	ASSERT_EQ(named, 6);	/* the client's 5 transitions and its tcp_conn */
}
