// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* record.c, recorder.c, reader.c, info.c and replay.c: round trip of every
 * event kind and field, files cut at every byte and with flipped bytes,
 * forward compatibility, rotation, and the time-ordered merge of several
 * files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zlib.h>
#include "info.h"
#include "pipeline.h"
#include "reader.h"
#include "record.h"
#include "recorder.h"
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
	ev.vpid = 300 + i;
	ev.cgroup_id = 0x0102030405060000ull + i;
	ev.syn_retrans = i % 4;
	ev.err = i % 2 ? -ECONNREFUSED : ETIMEDOUT;
	ev.outcome = i % OUTCOME__MAX;
	ev.elapsed_ns = 999ull * i;
	ev.diag.cause = i % 4;
	ev.diag.pid = 7 + i;
	snprintf(ev.diag.comm, sizeof(ev.diag.comm), "lsn-%d", i);
	ev.diag.queue = i;
	ev.diag.backlog = 128;
	if (k == EVENT_UDP_FLOW || k == EVENT_UDP_SOCKET) {
		ev.proto = IPPROTO_UDP;
		ev.owner_src = k == EVENT_UDP_FLOW ? ST_OWNER_TRAFFIC : ST_OWNER_SNAPSHOT;
		ev.role = ST_ROLE_UNKNOWN;
		ev.old_state = 0;
		ev.new_state = i % 2 ? ST_TCP_ESTABLISHED : ST_TCP_CLOSE;
	}
	if (k == EVENT_UDP_FLOW) {
		/* eight different bytes in each: a field cut short or moved shows */
		ev.flow_event = 1 + i % 3;
		ev.end_reason = ev.flow_event == UDP_FLOW_END ? 1 + i % 2 : UDP_END_NONE;
		ev.first_ns = 0x0102030405060708ull + i;
		ev.last_ns = 0x1112131415161718ull + i;
		ev.duration_ns = 0x2122232425262728ull + i;
		ev.tx_bytes = 0x3132333435363738ull + i;
		ev.rx_bytes = 0x4142434445464748ull + i;
		ev.tx_packets = 0x5152535455565758ull + i;
		ev.rx_packets = 0x6162636465666768ull + i;
	}
	if (k == EVENT_TCP_CONN) {
		ev.old_state = ST_TCP_FIN_WAIT2;
		ev.new_state = ST_TCP_CLOSE;
		ev.outcome = 0;
		ev.syn_retrans = 0;
		ev.elapsed_ns = 0;
		memset(&ev.diag, 0, sizeof(ev.diag));
		ev.conn.event = 1 + i % 3;
		ev.conn.held = ev.conn.event == TCP_CONN_RETRANS ? 0x100 + i : 0;
		ev.conn.end = 1 + i % (ST_END__MAX - 1);
		ev.conn.closed_first = i % ST_CLOSER__MAX;
		ev.conn.flags = i % 4;
		ev.conn.state = ST_TCP_FIN_WAIT2;
		ev.conn.start_ns = 0x0102030405060708ull + i;
		ev.conn.bytes_sent = 0x1112131415161718ull + i;
		ev.conn.bytes_acked = 0x2122232425262728ull + i;
		ev.conn.bytes_received = 0x3132333435363738ull + i;
		ev.conn.bytes_retrans = 0x4142434445464748ull + i;
		ev.conn.segs_in = 0x51525354u + i;
		ev.conn.segs_out = 0x61626364u + i;
		ev.conn.total_retrans = 0x71727374u + i;
		ev.conn.srtt_us = 0x81828384u + i;
		ev.conn.rttvar_us = 0x91929394u + i;
		ev.conn.min_rtt_us = 0xa1a2a3a4u + i;
	}
	return ev;
}

static const enum event_kind kinds[] = {
	EVENT_TCP_STATE, EVENT_TCP_SOCKET, EVENT_SYN_RETRANS, EVENT_CONNECT, EVENT_SYN_ALERT,
	EVENT_UDP_FLOW, EVENT_UDP_SOCKET, EVENT_TCP_CONN,
};

#define N_KINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

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
		struct event ev = ev_n(i, kinds[i % N_KINDS]);

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
		struct event want = ev_n(i, kinds[i % N_KINDS]);

		assert_same(&got[i], &want, i);
	}
	ASSERT_FALSE(trunc);
	ASSERT_TRUE(st.clean_end);
	ASSERT_EQ(st.bad_blocks, 0);
	ASSERT_EQ(st.bad_records, 0);
	ASSERT_EQ(st.unknown_records, 0);
	ASSERT_EQ(st.by_type[REC_TCP_STATE], 5);
	ASSERT_EQ(st.by_type[REC_CONNECT], 5);
	ASSERT_EQ(st.by_type[REC_SYN_ALERT], 5);
	ASSERT_EQ(st.by_type[REC_UDP_FLOW], 5);
	ASSERT_EQ(st.by_type[REC_UDP_SOCKET], 5);
	ASSERT_EQ(st.by_type[REC_TCP_CONN], 5);
}

/* The tcp_conn record (1.3, the reset reason 1.4) field by field, as the
 * spec lays it out. */
TEST(record_tcp_conn_layout)
{
	struct event c = ev_n(5, EVENT_TCP_CONN), back;
	uint8_t buf[REC_RECORD_MAX + 16];
	const uint8_t *b = buf + 4;

	memset(buf, 0xee, sizeof(buf));
	strcpy(c.conn.rst_reason, "tcp_abort_on_close");
	ASSERT_EQ(rec__encode_event(buf, &c), 4 + 220 + 24 + 32);
	ASSERT_EQ(REC_RECORD_MAX, 4 + 36 + 512 + 8 + 28);	/* 1.7: a DNS answer's */
	ASSERT_EQ(rec__get16(buf), 8);
	ASSERT_EQ(rec__get16(buf + 2), 220 + 24 + 32);
	ASSERT_EQ(b[45], 6);
	ASSERT_EQ(b[46], ST_TCP_FIN_WAIT2);
	ASSERT_EQ(b[47], ST_TCP_CLOSE);
	ASSERT_EQ((int32_t)rec__get32(b + 106), c.err);
	ASSERT_EQ(b[148], c.conn.event);
	ASSERT_EQ(b[149], c.conn.end);
	ASSERT_EQ(b[150], c.conn.closed_first);
	ASSERT_EQ(b[151], c.conn.flags);
	ASSERT_EQ(b[152], c.conn.state);
	ASSERT_EQ(c.conn.event, TCP_CONN_RETRANS);
	ASSERT_EQ(b[153], 0);
	ASSERT_EQ(rec__get16(b + 154), c.conn.held);	/* retrans: held */
	ASSERT_EQ_U64(rec__get64(b + 156), c.conn.start_ns);
	ASSERT_EQ_U64(rec__get64(b + 164), c.conn.bytes_sent);
	ASSERT_EQ_U64(rec__get64(b + 172), c.conn.bytes_acked);
	ASSERT_EQ_U64(rec__get64(b + 180), c.conn.bytes_received);
	ASSERT_EQ_U64(rec__get64(b + 188), c.conn.bytes_retrans);
	ASSERT_EQ(rec__get32(b + 196), c.conn.segs_in);
	ASSERT_EQ(rec__get32(b + 200), c.conn.segs_out);
	ASSERT_EQ(rec__get32(b + 204), c.conn.total_retrans);
	ASSERT_EQ(rec__get32(b + 208), c.conn.srtt_us);
	ASSERT_EQ(rec__get32(b + 212), c.conn.rttvar_us);
	ASSERT_EQ(rec__get32(b + 216), c.conn.min_rtt_us);
	ASSERT_EQ(b[220], 0);	/* the 1.2 tail after the counters */
	ASSERT_EQ(rec__get32(b + 224), c.vpid);	/* 1.4 */
	ASSERT_EQ_U64(rec__get64(b + 228), c.cgroup_id);
	ASSERT_EQ_U64(rec__get64(b + 236), 0);	/* no cgroup record names it */
	/* 1.4: the reset reason after the tail, NUL-padded */
	ASSERT(!memcmp(b + 244, "tcp_abort_on_close\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32));
	ASSERT_EQ(buf[4 + 276], 0xee);	/* nothing past the record */
	ASSERT_STREQ(rec__type_name(REC_TCP_CONN), "tcp_conn");
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, 276, &ref), 0);
	ASSERT_STREQ(back.conn.rst_reason, "tcp_abort_on_close");
	/* a 1.3 record has none; one not as a kernel names it is dropped */
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, 224, &ref), 0);
	ASSERT_STREQ(back.conn.rst_reason, "");
	memcpy(buf + 4 + 244, "tcp_abort\n", 10);
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, 276, &ref), 0);
	ASSERT_STREQ(back.conn.rst_reason, "");
	memset(buf + 4 + 244, 'a', 32);	/* no NUL: 31 of them at most */
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, 276, &ref), 0);
	ASSERT_EQ(strlen(back.conn.rst_reason), 31);

	/* the common body alone, or one byte short, is malformed */
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, REC_EVENT_LEN + REC_TAIL_LEN, &ref),
		  -EINVAL);
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, REC_TCP_CONN_LEN - 1, &ref), -EINVAL);
	/* without the tail, and with fields of a later version appended */
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, REC_TCP_CONN_LEN, &ref), 0);
	ASSERT_EQ_U64(back.conn.min_rtt_us, c.conn.min_rtt_us);
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, REC_TCP_CONN_LEN + 16, &ref), 0);
	ASSERT_EQ_U64(back.conn.bytes_received, c.conn.bytes_received);

	/* values this version does not know read as 0 */
	buf[4 + 148] = TCP_CONN__MAX;
	buf[4 + 149] = ST_END__MAX;
	buf[4 + 150] = ST_CLOSER__MAX;
	buf[4 + 151] = 0xff;
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, REC_TCP_CONN_LEN + 4, &ref), 0);
	ASSERT_EQ(back.vpid, 0);	/* a 1.2 tail: no vpid, no cgroup */
	ASSERT_EQ(back.conn.event, 0);
	ASSERT_EQ(back.conn.end, ST_END_UNKNOWN);
	ASSERT_EQ(back.conn.closed_first, ST_CLOSER_NONE);
	ASSERT_EQ(back.conn.flags, TCP_CONN_FLAGS);
}

/* The UDP records field by field, as the spec lays them out. */
TEST(record_udp_records_layout)
{
	struct event flow = ev_n(5, EVENT_UDP_FLOW), sock = ev_n(6, EVENT_UDP_SOCKET);
	uint8_t buf[REC_RECORD_MAX + 16];
	const uint8_t *b = buf + 4;

	memset(buf, 0xee, sizeof(buf));
	flow.prev_state = ST_TCP_LISTEN;	/* not a TCP field, but carried */
	ASSERT_EQ(rec__encode_event(buf, &flow), 4 + 212 + 24);
	ASSERT_EQ(rec__get16(buf), 6);
	ASSERT_EQ(rec__get16(buf + 2), 212 + 24);
	ASSERT_EQ(b[212], ST_TCP_LISTEN);	/* 1.2: the tail after the flow body */
	ASSERT_EQ(b[213], 0);
	ASSERT_EQ(rec__get16(b + 214), 0);
	ASSERT_EQ(b[45], 17);
	ASSERT_EQ(b[48], 6);	/* owner source: traffic */
	ASSERT_EQ(b[148], flow.flow_event);
	ASSERT_EQ(b[149], flow.end_reason);
	ASSERT_EQ(rec__get16(b + 150), 0);
	ASSERT_EQ(rec__get32(b + 152), 0);
	ASSERT_EQ_U64(rec__get64(b + 156), flow.first_ns);
	ASSERT_EQ_U64(rec__get64(b + 164), flow.last_ns);
	ASSERT_EQ_U64(rec__get64(b + 172), flow.duration_ns);
	ASSERT_EQ_U64(rec__get64(b + 180), flow.tx_bytes);
	ASSERT_EQ_U64(rec__get64(b + 188), flow.rx_bytes);
	ASSERT_EQ_U64(rec__get64(b + 196), flow.tx_packets);
	ASSERT_EQ_U64(rec__get64(b + 204), flow.rx_packets);
	ASSERT_EQ(rec__get32(b + 216), flow.vpid);	/* 1.4 */
	ASSERT_EQ_U64(rec__get64(b + 220), flow.cgroup_id);
	ASSERT_EQ(buf[4 + 236], 0xee);	/* nothing past the record */

	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ(rec__encode_event(buf, &sock), 4 + 148 + 24);
	ASSERT_EQ(rec__get16(buf), 7);
	ASSERT_EQ(rec__get16(buf + 2), 148 + 24);
	ASSERT_EQ(b[45], 17);
	ASSERT_EQ(b[47], ST_TCP_CLOSE);
	ASSERT_EQ(b[148], 0);	/* prev_state */
	ASSERT_EQ(buf[4 + 172], 0xee);

	ASSERT_STREQ(rec__type_name(REC_UDP_FLOW), "udp_flow");
	ASSERT_STREQ(rec__type_name(REC_UDP_SOCKET), "udp_socket");
	ASSERT_STREQ(rec__type_name(9), "dns_answer");
	ASSERT_STREQ(rec__type_name(10), "dns_query");
	ASSERT_STREQ(rec__type_name(11), "unknown");
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

/* The codec the recorder and the reader share, against the spec's bytes. */
TEST(record_codec_block_header_and_stats)
{
	static const uint8_t payload[] = "payload";
	uint8_t spec[REC_BLOCK_HDR_LEN + sizeof(payload)], h[REC_BLOCK_HDR_LEN], b[REC_STATS_LEN];
	struct rec_block blk = {
		.type = REC_BLOCK_EVENTS,
		.stored = sizeof(payload),
		.raw = sizeof(payload),
		.crc_stored = crc32(0, payload, sizeof(payload)),
		.crc_raw = crc32(0, payload, sizeof(payload)),
	}, got = {};
	struct rec_stats st = { .boot_ns = 1, .events = 2, .udp_flows = 3, .gaps = 4, .missed = 5 },
			 back;
	struct event ev = ev_n(1, EVENT_TCP_STATE), dec;
	uint8_t rec[REC_RECORD_MAX];

	put_block_raw(spec, REC_BLOCK_EVENTS, payload, sizeof(payload));
	rec__encode_block_header(h, &blk);
	ASSERT_MEMEQ(h, REC_BLOCK_HDR_LEN, spec, REC_BLOCK_HDR_LEN);
	ASSERT_TRUE(rec__decode_block_header(h, &got));
	ASSERT_EQ(got.type, REC_BLOCK_EVENTS);
	ASSERT_EQ(got.flags, 0);
	ASSERT_EQ(got.stored, sizeof(payload));
	ASSERT_EQ(got.raw, sizeof(payload));
	ASSERT_EQ(got.crc_stored, blk.crc_stored);
	ASSERT_EQ(got.crc_raw, blk.crc_raw);
	h[12] ^= 1;	/* the header's own CRC no longer holds */
	ASSERT_FALSE(rec__decode_block_header(h, &got));

	rec__encode_stats(b, &st);
	rec__decode_stats(b, REC_STATS_LEN, &back);
	ASSERT_MEMEQ(&back, sizeof(back), &st, sizeof(st));
	rec__decode_stats(b, REC_STATS_LEN_1_0, &back);
	ASSERT_EQ_U64(back.events, 2);
	ASSERT_EQ_U64(back.udp_flows, 0);
	ASSERT_EQ_U64(back.gaps, 0);

	ASSERT_EQ(rec__encode_event(rec, &ev), 4 + REC_EVENT_LEN + REC_TAIL_LEN);
	ASSERT_EQ(rec__decode_event(&dec, rec__get16(rec), rec + 4, REC_EVENT_LEN + REC_TAIL_LEN,
				    &ref), 0);
	assert_same(&dec, &ev, 1);
	ASSERT_EQ(rec__decode_event(&dec, rec__get16(rec), rec + 4, REC_EVENT_LEN - 1, &ref),
		  -EINVAL);
	ASSERT_EQ(rec__decode_event(&dec, REC_UDP_FLOW, rec + 4, REC_EVENT_LEN + REC_TAIL_LEN,
				    &ref), -EINVAL);
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

	rec__put16(q + 2, n - 4 + 10);	/* ten bytes of a later minor */
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

/* A prefix and a header block with a clock reference, of version 1.minor. */
static uint8_t *put_file_start(uint8_t *p, int minor)
{
	uint8_t hdr[20];

	memcpy(p, REC_MAGIC, 8);
	rec__put16(p + 8, REC_MAJOR);
	rec__put16(p + 10, minor);
	rec__put16(hdr, REC_HDR_CLOCK);
	rec__put16(hdr + 2, 16);
	rec__put64(hdr + 4, ref.boot_ns);
	rec__put64(hdr + 12, ref.wall_ns);
	return put_block_raw(p + 12, REC_BLOCK_HEADER, hdr, sizeof(hdr));
}

/* udp_flow needs its 212 bytes: the common body alone, or one byte short,
 * is malformed; a longer one is of a later minor and read. udp_socket
 * needs only the common body. */
TEST(record_udp_flow_length_checked)
{
	static uint8_t file[4096], pay[2048];
	struct event flow = ev_n(1, EVENT_UDP_FLOW), sock = ev_n(2, EVENT_UDP_SOCKET);
	struct event tcp = ev_n(3, EVENT_TCP_STATE), got[8];
	struct reader_stats st;
	uint8_t *p = put_file_start(file, 1), *q = pay;
	size_t n;
	bool trunc;

	/* 1: cut to the 1.0 body; 2: one byte short; 3: ten bytes more */
	n = rec__encode_event(q, &flow);
	rec__put16(q + 2, REC_EVENT_LEN);
	q += 4 + REC_EVENT_LEN;
	n = rec__encode_event(q, &flow);
	rec__put16(q + 2, 211);
	q += 4 + 211;
	n = rec__encode_event(q, &flow);
	rec__put16(q + 2, n - 4 + 10);
	memset(q + n, 0xab, 10);
	q += n + 10;
	q += rec__encode_event(q, &sock);
	q += rec__encode_event(q, &tcp);
	p = put_block_raw(p, REC_BLOCK_EVENTS, pay, q - pay);
	memset(pay, 0, REC_STATS_LEN);
	p = put_block_raw(p, REC_BLOCK_END, pay, REC_STATS_LEN);

	ASSERT_EQ(read_mem(file, p - file, got, 8, &st, &trunc), 3);
	assert_same(&got[0], &flow, 0);
	assert_same(&got[1], &sock, 1);
	assert_same(&got[2], &tcp, 2);
	ASSERT_EQ(st.bad_records, 2);
	ASSERT_EQ(st.unknown_records, 0);
	ASSERT_EQ(st.by_type[REC_UDP_FLOW], 1);
	ASSERT_EQ(st.by_type[REC_UDP_SOCKET], 1);
	ASSERT_FALSE(trunc);
}

/* Unknown flow events and end reasons of a later version read as 0. */
TEST(record_udp_flow_unknown_values)
{
	static uint8_t file[1024];
	struct event flow = ev_n(4, EVENT_UDP_FLOW), got[2];
	uint8_t rec[REC_RECORD_MAX], *p = put_file_start(file, 1);

	rec__encode_event(rec, &flow);
	rec[4 + 148] = UDP_FLOW__MAX;
	rec[4 + 149] = UDP_END__MAX;
	p = put_block_raw(p, REC_BLOCK_EVENTS, rec, 4 + REC_UDP_FLOW_LEN + REC_TAIL_LEN);
	ASSERT_EQ(read_mem(file, p - file, got, 2, NULL, NULL), 1);
	ASSERT_EQ(got[0].flow_event, 0);
	ASSERT_EQ(got[0].end_reason, UDP_END_NONE);
	ASSERT_EQ_U64(got[0].rx_packets, flow.rx_packets);
}

static const struct rec_stats stats_full = {
	.boot_ns = 0x0102030405060708ull, .events = 1001, .snapshot = 17, .lost = 3,
	.filtered = 44, .elapsed_ns = 5000000000ull, .udp_flows = 0x1112131415161718ull,
	.udp_uncounted = 0x2122232425262728ull, .udp_uncounted_bytes = 0x3132333435363738ull,
};

TEST(record_stats_round_trip)
{
	const char *p = path_in("stats.st");
	struct recorder_opts o = { .path = p, .ref = &ref };
	struct recorder *r = recorder__open(&o);
	struct event ev = ev_n(0, EVENT_UDP_FLOW), got[2];
	struct reader_stats st;
	size_t len;
	void *data;

	ASSERT_NOT_NULL(r);
	ASSERT_EQ(recorder__write(r, &ev), 0);
	ASSERT_EQ(recorder__close(r, &stats_full), 0);
	data = slurp(p, &len);
	ASSERT_EQ(read_mem(data, len, got, 2, &st, NULL), 1);
	ASSERT_TRUE(st.have_stats);
	ASSERT_EQ_U64(st.stats.boot_ns, stats_full.boot_ns);
	ASSERT_EQ_U64(st.stats.events, 1001);
	ASSERT_EQ_U64(st.stats.snapshot, 17);
	ASSERT_EQ_U64(st.stats.lost, 3);
	ASSERT_EQ_U64(st.stats.filtered, 44);
	ASSERT_EQ_U64(st.stats.elapsed_ns, 5000000000ull);
	ASSERT_EQ_U64(st.stats.file_events, 1);
	ASSERT_EQ_U64(st.stats.udp_flows, stats_full.udp_flows);
	ASSERT_EQ_U64(st.stats.udp_uncounted, stats_full.udp_uncounted);
	ASSERT_EQ_U64(st.stats.udp_uncounted_bytes, stats_full.udp_uncounted_bytes);
}

/* A 1.0 file's 56-byte statistics: read, with no UDP counts. */
TEST(record_stats_of_1_0)
{
	static uint8_t file[1024];
	uint8_t pay[REC_STATS_LEN_1_0], *p = put_file_start(file, 0);
	struct reader_stats st;
	struct event ev;
	bool trunc;

	ASSERT_EQ(REC_STATS_LEN_1_0, 56);
	ASSERT_EQ(REC_STATS_LEN_1_1, 80);
	ASSERT_EQ(REC_STATS_LEN, 96);
	for (int i = 0; i < 7; i++)
		rec__put64(pay + 8 * i, 100 + i);
	p = put_block_raw(p, REC_BLOCK_END, pay, sizeof(pay));
	ASSERT_EQ(read_mem(file, p - file, &ev, 1, &st, &trunc), 0);
	ASSERT_TRUE(st.have_stats);
	ASSERT_FALSE(trunc);
	ASSERT_EQ_U64(st.stats.boot_ns, 100);
	ASSERT_EQ_U64(st.stats.events, 101);
	ASSERT_EQ_U64(st.stats.snapshot, 102);
	ASSERT_EQ_U64(st.stats.lost, 103);
	ASSERT_EQ_U64(st.stats.filtered, 104);
	ASSERT_EQ_U64(st.stats.elapsed_ns, 105);
	ASSERT_EQ_U64(st.stats.file_events, 106);
	ASSERT_EQ_U64(st.stats.udp_flows, 0);
	ASSERT_EQ_U64(st.stats.udp_uncounted, 0);
	ASSERT_EQ_U64(st.stats.udp_uncounted_bytes, 0);

	/* a later 1.1 stats block replaces all of it, a shorter one is ignored */
	p = put_file_start(file, 1);
	p = put_block_raw(p, REC_BLOCK_STATS, pay, sizeof(pay));
	p = put_block_raw(p, REC_BLOCK_END, pay, sizeof(pay) - 1);
	ASSERT_EQ(read_mem(file, p - file, &ev, 1, &st, &trunc), 0);
	ASSERT_TRUE(st.have_stats);
	ASSERT_TRUE(st.clean_end);
	ASSERT_EQ_U64(st.stats.events, 101);
}

/* Flows counted or datagrams lost to a full flow table are news on their
 * own: a statistics block even when no event came. */
TEST(record_stats_written_when_udp_counts_change)
{
	const char *p = path_in("ustats.st");
	struct recorder_opts o = { .path = p, .ref = &ref };
	struct recorder *r = recorder__open(&o);
	struct rec_stats s = stats_full;
	struct reader_stats st;
	struct event ev;
	size_t len;
	void *data;

	ASSERT_NOT_NULL(r);
	ASSERT_EQ(recorder__stats(r, &s), 0);
	ASSERT_EQ(recorder__stats(r, &s), 0);	/* unchanged: nothing */
	s.udp_uncounted++;
	ASSERT_EQ(recorder__stats(r, &s), 0);
	s.udp_flows++;
	ASSERT_EQ(recorder__stats(r, &s), 0);
	ASSERT_EQ(recorder__close(r, NULL), 0);
	data = slurp(p, &len);
	ASSERT_EQ(read_mem(data, len, &ev, 1, &st, NULL), 0);
	ASSERT_EQ(st.blocks, 5);	/* header, three statistics, end */
	ASSERT_EQ_U64(st.stats.udp_uncounted, stats_full.udp_uncounted + 1);
	ASSERT_EQ_U64(st.stats.udp_flows, stats_full.udp_flows + 1);
}

TEST(record_header_says_1_5)
{
	const char *p = path_in("v.st");
	char err[256];
	struct reader *r;

	write_file(p, 1, 0, NULL);
	r = reader__open(p, err, sizeof(err));
	ASSERT_MSG(r, "%s", err);
	ASSERT_EQ(reader__header(r)->major, 1);
	ASSERT_EQ(reader__header(r)->minor, 7);
	reader__close(r);
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
			/* every block has its clock reference: no header is needed */
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
	int gaps;	/* events marked as following a gap */
};

static int cap_event(struct sink *s, const struct event *ev)
{
	struct capture *c = (struct capture *)s;

	if (c->n < 512)
		c->boot[c->n++] = ev->boot_ns;
	c->gaps += event__gap(ev);
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

/* A synthetic stream of kernel records of one connection, one transition
 * missing (ESTABLISHED -> FIN_WAIT1): recorded and replayed, the transition
 * after it is marked, and the replay counts one gap although the file's
 * statistics (written without a run's counts) say none. */
TEST(replay_counts_a_gap_in_a_stream)
{
	static const uint8_t seq[][3] = {	/* prev, old, new as the kernel saw them */
		{ 0, ST_TCP_CLOSE, ST_TCP_SYN_SENT },
		{ ST_TCP_SYN_SENT, ST_TCP_SYN_SENT, ST_TCP_ESTABLISHED },
		/* ESTABLISHED -> FIN_WAIT1: the kernel did not run the program */
		{ ST_TCP_ESTABLISHED, ST_TCP_FIN_WAIT1, ST_TCP_FIN_WAIT2 },
		{ ST_TCP_FIN_WAIT2, ST_TCP_FIN_WAIT2, ST_TCP_CLOSE },
	};
	const char *path = path_in("gap.st");
	const char *paths[1] = { path };
	struct recorder_opts o = { .path = path, .ref = &ref };
	struct recorder *r = recorder__open(&o);
	static struct capture cap;
	struct time_bound none = {};
	struct st_tcp_event raw;
	struct pipeline pl;
	struct replay rp;
	struct event ev;

	ASSERT_NOT_NULL(r);
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		memset(&raw, 0, sizeof(raw));
		raw.type = ST_EVENT_TCP_STATE;
		raw.ts_ns = ref.boot_ns + 1000 * i;
		raw.skaddr = 0xffff888100000000ull;
		raw.family = AF_INET;
		raw.prev_state = seq[i][0];
		raw.oldstate = seq[i][1];
		raw.newstate = seq[i][2];
		ASSERT_EQ(event__decode(&ev, &raw, sizeof(raw), &ref), 0);
		ASSERT_EQ(event__gap(&ev), i == 2);
		ASSERT_EQ(recorder__write(r, &ev), 0);
	}
	ASSERT_EQ(recorder__close(r, NULL), 0);

	memset(&cap, 0, sizeof(cap));
	cap.base.ops = &cap_ops;
	pipeline__init(&pl, NULL, 0);
	ASSERT_EQ(pipeline__add_sink(&pl, &cap.base), 0);
	ASSERT_EQ(replay__open(&rp, paths, 1), 0);
	ASSERT_EQ(replay__run(&rp, &pl, &none, &none, NULL), 0);
	replay__close(&rp);
	ASSERT_EQ(cap.n, 4);
	ASSERT_EQ(cap.gaps, 1);
	ASSERT_EQ_U64(rp.gaps, 1);
}

/* Replay hands the recordings' UDP counts to its summary, as it does lost;
 * --info names the UDP record types and prints the counts. */
TEST(replay_and_info_udp)
{
	const char *a = path_in("ua.st"), *b = path_in("ub.st"), *old = path_in("old.st");
	const char *paths[2] = { a, b };
	struct recorder_opts oa = { .path = a, .ref = &ref }, ob = { .path = b, .ref = &ref };
	struct recorder *ra = recorder__open(&oa), *rb = recorder__open(&ob);
	struct rec_stats sa = { .lost = 1, .udp_flows = 10, .udp_uncounted = 100,
				.udp_uncounted_bytes = 1000 };
	struct rec_stats sb = { .lost = 2, .udp_flows = 20, .udp_uncounted = 200,
				.udp_uncounted_bytes = 2000 };
	static struct capture cap;
	static uint8_t file[1024];
	uint8_t pay[REC_STATS_LEN_1_0] = {}, *p;
	struct time_bound none = {};
	struct pipeline pl;
	struct replay rp;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_NOT_NULL(ra);
	ASSERT_NOT_NULL(rb);
	for (int i = 0; i < 7; i++) {
		struct event ev = ev_n(i, i < 3 ? EVENT_UDP_FLOW : i < 5 ? EVENT_UDP_SOCKET :
					  EVENT_TCP_STATE);

		ASSERT_EQ(recorder__write(i % 2 ? ra : rb, &ev), 0);
	}
	ASSERT_EQ(recorder__close(ra, &sa), 0);
	ASSERT_EQ(recorder__close(rb, &sb), 0);

	memset(&cap, 0, sizeof(cap));
	cap.base.ops = &cap_ops;
	pipeline__init(&pl, NULL, 0);
	pl.kinds = UINT32_MAX;	/* whichever kinds are shown by default */
	ASSERT_EQ(pipeline__add_sink(&pl, &cap.base), 0);
	ASSERT_EQ(replay__open(&rp, paths, 2), 0);
	ASSERT_EQ(replay__run(&rp, &pl, &none, &none, NULL), 0);
	replay__close(&rp);
	ASSERT_EQ(cap.n, 7);
	ASSERT_EQ_U64(rp.lost, 3);
	ASSERT_EQ_U64(rp.udp_flows, 30);
	ASSERT_EQ_U64(rp.udp_uncounted, 300);
	ASSERT_EQ_U64(rp.udp_uncounted_bytes, 3000);

	/* a holds events 1 (udp_flow), 3 (udp_socket) and 5 (tcp_state) */
	f = open_memstream(&text, &len);
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(info__print(a, f), 0);
	fclose(f);
	ut_defer(free, text);
	ASSERT_NOT_NULL(strstr(text, "Format:            socktrace recording 1.7\n"));
	ASSERT_NOT_NULL(strstr(text, "Events:            3\n"));
	ASSERT_NOT_NULL(strstr(text, "  tcp_state:       1\n"));
	ASSERT_NOT_NULL(strstr(text, "  udp_flow:        1\n"));
	ASSERT_NOT_NULL(strstr(text, "  udp_socket:      1\n"));
	ASSERT_NOT_NULL(strstr(text, "Lost events:       1\n"));
	ASSERT_NOT_NULL(strstr(text, "UDP flows:         10\n"));
	ASSERT_NOT_NULL(strstr(text, "UDP uncounted:     100 datagrams (1000 bytes)\n"));
	ASSERT_NULL(strstr(text, "unknown"));

	/* a 1.0 file has no UDP counts to print */
	p = put_file_start(file, 0);
	p = put_block_raw(p, REC_BLOCK_END, pay, sizeof(pay));
	f = fopen(old, "wb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(file, 1, p - file, f), (size_t)(p - file));
	fclose(f);
	text = NULL;
	f = open_memstream(&text, &len);
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(info__print(old, f), 0);
	fclose(f);
	ut_defer(free, text);
	ASSERT_NOT_NULL(strstr(text, "Lost events:       0\n"));
	ASSERT_NULL(strstr(text, "UDP"));
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

/* bytes_received is the payload in the event; the record keeps the
 * kernel's count, with a FIN taken as one (1.3's meaning), and says so in
 * flag bit 5 (1.4). */
TEST(record_tcp_conn_fin_received)
{
	struct event c = ev_n(5, EVENT_TCP_CONN), back;
	uint8_t buf[REC_RECORD_MAX + 16];
	const uint8_t *b = buf + 4;

	c.conn.bytes_received = 1234;
	c.conn.flags = ST_CONN_FIN_RECEIVED;
	ASSERT(rec__encode_event(buf, &c) > 0);
	ASSERT_EQ_U64(rec__get64(b + 180), 1235);
	ASSERT_EQ(b[151], 0x20);
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, 256, &ref), 0);
	ASSERT_EQ_U64(back.conn.bytes_received, 1234);
	ASSERT_EQ(back.conn.flags, ST_CONN_FIN_RECEIVED);
	/* a 1.3 record: the count as written */
	buf[4 + 151] = 0;
	ASSERT_EQ(rec__decode_event(&back, REC_TCP_CONN, b, 224, &ref), 0);
	ASSERT_EQ_U64(back.conn.bytes_received, 1235);
}
