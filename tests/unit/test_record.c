// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* record.c and replay.c: round trip of every event kind and field, files
 * cut at every byte and with flipped bytes, forward compatibility,
 * rotation, and the time-ordered merge of several files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zlib.h>
#include "pipeline.h"
#include "record.h"
#include "replay.h"
#include "harness.h"

static const struct clock_ref ref = { .boot_ns = 1000000000ull, .wall_ns = 1700000000000000000ull };

/* Event i: every field set, different per i, of kind k. */
static struct event ev_n(int i, enum event_kind k)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = k;
	ev.boot_ns = ref.boot_ns + 1000ull * i + 7;
	ev.wall_ns = clock_ref__wall(&ref, ev.boot_ns);
	ev.sock = 0xffff888100000000ull + i * 0x40;
	ev.ino = 5000 + i;
	ev.old_ns = i % 3 ? 12345ull * i : EVENT_OLD_NS_UNKNOWN;
	ev.netns = 4026531833u;
	ev.pid = 100 + i;
	ev.tid = 200 + i;
	ev.family = i % 2 ? AF_INET6 : AF_INET;
	ev.proto = IPPROTO_TCP;
	for (int b = 0; b < (i % 2 ? 16 : 4); b++) {
		ev.laddr.s6_addr[b] = b + i;
		ev.raddr.s6_addr[b] = 0xf0 - b - i;
	}
	ev.lport = 40000 + i;
	ev.rport = 443;
	ev.old_state = ST_TCP_SYN_SENT;
	ev.new_state = ST_TCP_ESTABLISHED;
	ev.owner_src = ST_OWNER_CONNECT;
	ev.role = ST_ROLE_CLIENT;
	snprintf(ev.comm, sizeof(ev.comm), "proc-%d", i);
	ev.syn_retrans = i % 4;
	ev.err = i % 2 ? -ECONNREFUSED : ETIMEDOUT;
	ev.outcome = i % OUTCOME__MAX;
	ev.elapsed_ns = 999ull * i;
	ev.diag.cause = i % 4;
	ev.diag.pid = 7 + i;
	snprintf(ev.diag.comm, sizeof(ev.diag.comm), "lsn-%d", i);
	ev.diag.queue = i;
	ev.diag.backlog = 128;
	return ev;
}

static const enum event_kind kinds[] = {
	EVENT_TCP_STATE, EVENT_TCP_SOCKET, EVENT_SYN_RETRANS, EVENT_CONNECT, EVENT_SYN_ALERT,
};

static void assert_same(const struct event *a, const struct event *b, int i)
{
	ASSERT_MSG(a->kind == b->kind, "event %d: kind %d, expected %d", i, a->kind, b->kind);
	ASSERT_MSG(a->boot_ns == b->boot_ns, "event %d: boot_ns", i);
	ASSERT_MSG(a->wall_ns == b->wall_ns, "event %d: wall_ns %llu, expected %llu", i,
		   (unsigned long long)a->wall_ns, (unsigned long long)b->wall_ns);
	ASSERT_MSG(!memcmp(a, b, sizeof(*a)), "event %d: some field differs", i);
}

static char *path_in(const char *name)
{
	static char buf[8][512];
	static int n;
	char *p = buf[n++ % 8];

	snprintf(p, 512, "%s/%s", ut_tmpdir(), name);
	return p;
}

/* Writes n events (kinds in turn) to path, forcing a block every `per`. */
static void write_file(const char *path, int n, int per, const struct recorder_opts *extra)
{
	struct recorder_opts o = { .path = path, .filter_text = "port 443", .ref = &ref };
	struct recorder *r;

	if (extra)
		o = *extra;
	r = recorder__open(&o);
	ASSERT_MSG(r, "recorder__open(%s): %s", path, strerror(errno));
	for (int i = 0; i < n; i++) {
		struct event ev = ev_n(i, kinds[i % 5]);

		ASSERT_EQ(recorder__write(r, &ev), 0);
		if (per && (i + 1) % per == 0)
			ASSERT_EQ(recorder__flush(r, true), 0);
	}
	ASSERT_EQ(recorder__close(r, NULL), 0);
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ASSERT_NOT_NULL(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? n : 1);
	ASSERT_EQ(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	ut_defer(free, buf);
	*len = n;
	return buf;
}

/* Reads a buffer; returns the number of events (into out, up to max), or
 * -errno if it does not open. */
static int read_mem(const void *data, size_t len, struct event *out, int max,
		    struct reader_stats *st, bool *truncated)
{
	char err[256];
	struct reader *r;
	struct event ev;
	int n = 0, k;
	FILE *f;

	if (!len)
		return -EBADMSG;
	f = fmemopen((void *)data, len, "rb");
	ASSERT_NOT_NULL(f);
	r = reader__open_file(f, err, sizeof(err));
	if (!r)
		return -errno;
	while ((k = reader__next(r, &ev)) == 1) {
		if (n < max)
			out[n] = ev;
		n++;
	}
	ASSERT_EQ(k, 0);
	if (st)
		*st = *reader__stats(r);
	if (truncated)
		*truncated = reader__truncated(r);
	reader__close(r);
	return n;
}

TEST(record_round_trip_every_kind_and_field)
{
	const char *p = path_in("rt.st");
	struct event got[64];
	struct reader_stats st;
	size_t len;
	void *data;
	bool trunc;
	int n;

	write_file(p, 40, 7, NULL);
	data = slurp(p, &len);
	n = read_mem(data, len, got, 64, &st, &trunc);
	ASSERT_EQ(n, 40);
	for (int i = 0; i < n; i++) {
		struct event want = ev_n(i, kinds[i % 5]);

		assert_same(&got[i], &want, i);
	}
	ASSERT_FALSE(trunc);
	ASSERT_TRUE(st.clean_end);
	ASSERT_EQ(st.bad_blocks, 0);
	ASSERT_EQ(st.by_type[REC_CONNECT], 8);
	ASSERT_EQ(st.by_type[REC_SYN_ALERT], 8);
}

TEST(record_header_fields)
{
	const char *p = path_in("hdr.st");
	char err[256];
	struct reader *r;
	const struct rec_header *h;

	write_file(p, 1, 0, NULL);
	r = reader__open(p, err, sizeof(err));
	ASSERT_MSG(r, "%s", err);
	h = reader__header(r);
	ASSERT_EQ(h->major, REC_MAJOR);
	ASSERT_STREQ(h->filter, "port 443");
	ASSERT_STREQ(h->version, SOCKTRACE_VERSION);
	ASSERT_TRUE(h->have_ref);
	ASSERT_EQ_U64(h->ref.boot_ns, ref.boot_ns);
	ASSERT_EQ_U64(h->ref.wall_ns, ref.wall_ns);
	ASSERT_TRUE(h->host[0] != '\0');
	ASSERT_EQ(strlen(h->boot_id), 36);
	reader__close(r);
}

TEST(record_wall_time_off_the_reference)
{
	const char *p = path_in("clock.st");
	struct recorder_opts o = { .path = p, .ref = &ref };
	struct recorder *r = recorder__open(&o);
	struct event a = ev_n(1, EVENT_TCP_STATE), b = ev_n(2, EVENT_TCP_STATE), got[4];
	size_t len;
	void *data;

	ASSERT_NOT_NULL(r);
	/* e.g. a clock step, or a source with its own reference */
	a.wall_ns += 5000000000ull;
	b.wall_ns -= 3;
	ASSERT_EQ(recorder__write(r, &a), 0);
	ASSERT_EQ(recorder__write(r, &b), 0);
	ASSERT_EQ(recorder__close(r, NULL), 0);
	data = slurp(p, &len);
	ASSERT_EQ(read_mem(data, len, got, 4, NULL, NULL), 2);
	assert_same(&got[0], &a, 0);
	assert_same(&got[1], &b, 1);
}

static uint8_t *put_block_raw(uint8_t *p, int type, const uint8_t *payload, uint32_t len)
{
	rec__put32(p, REC_SYNC);
	p[4] = type;
	p[5] = 0;
	rec__put16(p + 6, 0);
	rec__put32(p + 8, len);
	rec__put32(p + 12, len);
	rec__put32(p + 16, crc32(0, payload, len));
	rec__put32(p + 20, crc32(0, payload, len));
	rec__put32(p + 24, crc32(0, p, 24));
	memcpy(p + 28, payload, len);
	return p + 28 + len;
}

/* A file as a later 1.x writer could make it, built from the spec alone:
 * an unknown header field, an unknown block type, an unknown record type
 * and an event record with more bytes than 1.0 knows. */
TEST(record_reader_skips_what_it_does_not_know)
{
	static uint8_t file[4096], pay[1024];
	struct event want = ev_n(3, EVENT_CONNECT), got[4];
	struct reader_stats st;
	uint8_t *p = file, *q;
	bool trunc;

	memcpy(p, REC_MAGIC, 8);
	rec__put16(p + 8, REC_MAJOR);
	rec__put16(p + 10, 7);
	p += 12;
	q = pay;
	rec__put16(q, 999);
	rec__put16(q + 2, 3);
	memcpy(q + 4, "new", 3);
	q += 7;
	rec__put16(q, REC_HDR_CLOCK);
	rec__put16(q + 2, 16);
	rec__put64(q + 4, ref.boot_ns);
	rec__put64(q + 12, ref.wall_ns);
	q += 20;
	p = put_block_raw(p, REC_BLOCK_HEADER, pay, q - pay);
	p = put_block_raw(p, 77, (const uint8_t *)"future", 6);
	q = pay;
	rec__put16(q, 500);
	rec__put16(q + 2, 2);
	q += 6;
	size_t n = rec__encode_event(q, &want);

	rec__put16(q + 2, REC_EVENT_LEN + 10);	/* ten bytes of a later minor */
	memset(q + n, 0xab, 10);
	q += n + 10;
	p = put_block_raw(p, REC_BLOCK_EVENTS, pay, q - pay);
	memset(pay, 0, REC_STATS_LEN + 8);
	p = put_block_raw(p, REC_BLOCK_END, pay, REC_STATS_LEN + 8);

	ASSERT_EQ(read_mem(file, p - file, got, 4, &st, &trunc), 1);
	assert_same(&got[0], &want, 0);
	ASSERT_EQ(st.unknown_records, 1);
	ASSERT_EQ(st.bad_blocks, 0);
	ASSERT_EQ(st.bad_records, 0);
	ASSERT_FALSE(trunc);
}

TEST(record_not_a_recording_or_newer_major)
{
	static const char text[] = "hello, world\n";
	uint8_t buf[64];
	struct event ev;

	ASSERT_EQ(read_mem(text, sizeof(text) - 1, &ev, 1, NULL, NULL), -EBADMSG);
	ASSERT_EQ(read_mem(text, 3, &ev, 1, NULL, NULL), -EBADMSG);
	memcpy(buf, REC_MAGIC, 8);
	rec__put16(buf + 8, REC_MAJOR + 1);
	rec__put16(buf + 10, 0);
	ASSERT_EQ(read_mem(buf, 12, &ev, 1, NULL, NULL), -EPROTONOSUPPORT);
	rec__put16(buf + 8, REC_MAJOR);
	/* a bare prefix: a recording with nothing in it, cut short */
	bool trunc;

	ASSERT_EQ(read_mem(buf, 12, &ev, 1, NULL, &trunc), 0);
	ASSERT_TRUE(trunc);
}

/* Cut at every byte: never a crash or a hang; what comes back is a prefix
 * of the events, growing with the length; only the whole file is clean. */
TEST(record_truncated_at_every_offset)
{
	const char *p = path_in("cut.st");
	struct event full[32], got[32];
	struct reader_stats st;
	size_t len;
	uint8_t *data;
	int nfull, last = 0;
	bool trunc;

	write_file(p, 20, 4, NULL);
	data = slurp(p, &len);
	nfull = read_mem(data, len, full, 32, NULL, NULL);
	ASSERT_EQ(nfull, 20);
	for (size_t cut = 0; cut <= len; cut++) {
		int n = read_mem(data, cut, got, 32, &st, &trunc);

		if (cut < REC_PREFIX_LEN) {
			ASSERT_MSG(n == -EBADMSG, "cut at %zu: %d, expected -EBADMSG", cut, n);
			continue;
		}
		ASSERT_MSG(n >= last && n <= nfull, "cut at %zu: %d events after %d", cut, n, last);
		for (int i = 0; i < n; i++)
			assert_same(&got[i], &full[i], i);
		ASSERT_MSG(trunc == (cut < len), "cut at %zu of %zu: truncated=%d", cut, len, trunc);
		ASSERT_MSG(st.bad_blocks == 0, "cut at %zu: %llu bad blocks", cut,
			   (unsigned long long)st.bad_blocks);
		last = n;
	}
	ASSERT_EQ(last, nfull);
}

/* One flipped byte anywhere: a clear outcome; past the prefix it is always
 * noticed, and every event that comes back is one of the originals. */
TEST(record_flipped_bytes)
{
	const char *p = path_in("flip.st");
	struct event full[32], got[32];
	struct reader_stats st;
	size_t len;
	uint8_t *data;
	int nfull;

	write_file(p, 20, 4, NULL);
	data = slurp(p, &len);
	nfull = read_mem(data, len, full, 32, NULL, NULL);
	for (size_t off = 0; off < len; off++) {
		int n;

		data[off] ^= 0xff;
		n = read_mem(data, len, got, 32, &st, NULL);
		data[off] ^= 0xff;
		if (off < 8) {
			ASSERT_MSG(n == -EBADMSG, "flip at %zu: %d", off, n);
			continue;
		}
		if (off < 10) {
			ASSERT_MSG(n == -EPROTONOSUPPORT, "flip at %zu: %d", off, n);
			continue;
		}
		if (off < REC_PREFIX_LEN) {
			ASSERT_MSG(n == nfull, "flip of the minor version at %zu: %d events", off, n);
			continue;
		}
		ASSERT_MSG(n >= 0 && n <= nfull, "flip at %zu: %d", off, n);
		ASSERT_MSG(st.bad_blocks >= 1, "flip at %zu went unnoticed", off);
		for (int i = 0; i < n; i++) {
			int j;

			for (j = 0; j < nfull; j++)
				if (got[i].boot_ns == full[j].boot_ns)
					break;
			ASSERT_MSG(j < nfull, "flip at %zu: event %d is not an original", off, i);
			/* without the header block the wall clock is unknown */
			if (st.have_header)
				assert_same(&got[i], &full[j], i);
		}
		/* at most the damaged block is lost: 4 events */
		ASSERT_MSG(n >= nfull - 4, "flip at %zu: only %d of %d events", off, n, nfull);
	}
}

static bool exists(const char *path)
{
	struct stat s;

	return !stat(path, &s);
}

TEST(record_rotation_size_and_count)
{
	const char *base = path_in("ring.st");
	struct recorder_opts o = { .path = base, .ref = &ref, .rotate_bytes = 2000,
				   .rotate_count = 3 };
	char name[600];
	int total = 0;
	uint32_t seq[3];

	write_file(base, 300, 10, &o);
	ASSERT_FALSE(exists(base));
	/* every file has the filter, also those opened after recorder__open */
	for (int i = 0; i < 3; i++) {
		char err[256];
		struct reader *r;

		snprintf(name, sizeof(name), "%s%d", base, i);
		r = reader__open(name, err, sizeof(err));
		ASSERT_MSG(r, "%s: %s", name, err);
		ASSERT_STREQ(reader__header(r)->filter, "");
		reader__close(r);
	}
	snprintf(name, sizeof(name), "%s3", base);
	ASSERT_FALSE(exists(name));
	for (int i = 0; i < 3; i++) {
		struct event got[300];
		struct reader_stats st;
		char err[256];
		struct reader *r;
		size_t len;
		void *data;
		bool trunc;
		int n;

		snprintf(name, sizeof(name), "%s%d", base, i);
		ASSERT_MSG(exists(name), "%s is missing", name);
		data = slurp(name, &len);
		n = read_mem(data, len, got, 300, &st, &trunc);
		ASSERT_MSG(n > 0, "%s: %d events", name, n);
		ASSERT_FALSE(trunc);
		ASSERT_TRUE(st.have_header);
		r = reader__open(name, err, sizeof(err));
		ASSERT_NOT_NULL(r);
		seq[i] = reader__header(r)->seq;
		reader__close(r);
		total += n;
	}
	/* the ring holds the newest files: consecutive numbers, ending with
	 * the last events written */
	ASSERT_TRUE(total < 300);
	uint32_t lo = seq[0] < seq[1] ? (seq[0] < seq[2] ? seq[0] : seq[2]) : (seq[1] < seq[2] ? seq[1] : seq[2]);

	ASSERT_EQ(seq[0] + seq[1] + seq[2], 3 * lo + 3);
}

TEST(record_rotation_size_keeps_all)
{
	const char *base = path_in("all.st");
	struct recorder_opts o = { .path = base, .ref = &ref, .rotate_bytes = 2000 };
	char name[600];
	int total = 0, files = 0;

	write_file(base, 300, 10, &o);
	for (int i = 0;; i++) {
		struct event got[300];
		size_t len;
		void *data;
		bool trunc;
		int n;

		if (i == 0)
			snprintf(name, sizeof(name), "%s", base);
		else
			snprintf(name, sizeof(name), "%s%d", base, i);
		if (!exists(name))
			break;
		data = slurp(name, &len);
		n = read_mem(data, len, got, 300, NULL, &trunc);
		ASSERT_FALSE(trunc);
		/* each file starts where the one before ended */
		ASSERT_EQ_U64(got[0].boot_ns, ev_n(total, EVENT_TCP_STATE).boot_ns);
		total += n;
		files++;
	}
	ASSERT_TRUE(files > 3);
	ASSERT_EQ(total, 300);
}

/* A sink that keeps the boot times of what it gets. */
struct capture {
	struct sink base;
	uint64_t boot[512];
	int n;
};

static int cap_event(struct sink *s, const struct event *ev)
{
	struct capture *c = (struct capture *)s;

	if (c->n < 512)
		c->boot[c->n++] = ev->boot_ns;
	return 0;
}

static void cap_free(struct sink *s)
{
	(void)s;
}

static const struct sink_ops cap_ops = { .event = cap_event, .free = cap_free };

TEST(replay_merges_files_in_time_order_and_windows)
{
	const char *a = path_in("a.st"), *b = path_in("b.st");
	const char *paths[2] = { a, b };
	struct recorder_opts oa = { .path = a, .ref = &ref }, ob = { .path = b, .ref = &ref };
	struct recorder *ra = recorder__open(&oa), *rb = recorder__open(&ob);
	static struct capture cap;
	struct time_bound none = {}, since = {}, until = {};
	struct pipeline pl;
	struct replay rp;

	ASSERT_NOT_NULL(ra);
	ASSERT_NOT_NULL(rb);
	for (int i = 0; i < 20; i++) {
		struct event ev = ev_n(i, EVENT_TCP_STATE);

		ASSERT_EQ(recorder__write(i % 3 ? ra : rb, &ev), 0);
	}
	ASSERT_EQ(recorder__close(ra, NULL), 0);
	ASSERT_EQ(recorder__close(rb, NULL), 0);

	memset(&cap, 0, sizeof(cap));
	cap.base.ops = &cap_ops;
	pipeline__init(&pl, NULL, 0);
	ASSERT_EQ(pipeline__add_sink(&pl, &cap.base), 0);
	ASSERT_EQ(replay__open(&rp, paths, 2), 0);
	ASSERT_EQ(replay__run(&rp, &pl, &none, &none, NULL), 0);
	replay__close(&rp);
	ASSERT_EQ(cap.n, 20);
	for (int i = 0; i < 20; i++)
		ASSERT_EQ_U64(cap.boot[i], ev_n(i, EVENT_TCP_STATE).boot_ns);

	/* events 5..9: relative to the first event, 1000 ns apart */
	ASSERT_EQ(time_bound__parse("0.000005", &since), 0);
	ASSERT_EQ(time_bound__parse("0.00001", &until), 0);
	cap.n = 0;
	pipeline__init(&pl, NULL, 0);
	ASSERT_EQ(pipeline__add_sink(&pl, &cap.base), 0);
	ASSERT_EQ(replay__open(&rp, paths, 2), 0);
	ASSERT_EQ(replay__run(&rp, &pl, &since, &until, NULL), 0);
	replay__close(&rp);
	ASSERT_EQ(cap.n, 5);
	ASSERT_EQ_U64(cap.boot[0], ev_n(5, EVENT_TCP_STATE).boot_ns);
	ASSERT_EQ_U64(pl.stats.filtered, 15);
}

TEST(time_bound_parse)
{
	struct time_bound t;

	ASSERT_EQ(time_bound__parse("2023-11-14T22:13:20Z", &t), 0);
	ASSERT_FALSE(t.relative);
	ASSERT_EQ_U64(t.ns, 1700000000000000000ull);
	ASSERT_EQ(time_bound__parse("2023-11-14T23:13:20.5+01:00", &t), 0);
	ASSERT_EQ_U64(t.ns, 1700000000500000000ull);
	ASSERT_EQ(time_bound__parse("2023-11-14 22:13:20.000000001z", &t), 0);
	ASSERT_EQ_U64(t.ns, 1700000000000000001ull);
	ASSERT_EQ(time_bound__parse("1.5", &t), 0);
	ASSERT_TRUE(t.relative);
	ASSERT_EQ_U64(t.ns, 1500000000ull);
	ASSERT_EQ(time_bound__parse("2023-11-14T22:13:20", &t), -EINVAL);
	ASSERT_EQ(time_bound__parse("2023-13-14T22:13:20Z", &t), -EINVAL);
	ASSERT_EQ(time_bound__parse("-1", &t), -EINVAL);
	ASSERT_EQ(time_bound__parse("", &t), -EINVAL);
	ASSERT_EQ(time_bound__parse("yesterday", &t), -EINVAL);
}
