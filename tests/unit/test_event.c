// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* event.c: decoding kernel records, state and owner names, clock reference. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "event.h"
#include "util.h"

/* Decodes from a heap copy of exactly size bytes, so that a read past the
 * record shows under AddressSanitizer. */
static int decode_exact(struct event *ev, const struct st_tcp_event *e, size_t size)
{
	void *copy = malloc(size ? size : 1);
	int r;

	if (!copy)
		FAIL("out of memory");
	memcpy(copy, e, size);
	r = event__decode(ev, copy, size, &test_ref);
	free(copy);
	return r;
}

TEST(event_decode_ipv4)
{
	struct st_tcp_event e;
	struct event ev;
	struct in6_addr l = addr_of("127.0.0.1"), r = addr_of("10.0.0.2");

	raw_init(&e);
	/* bytes past the IPv4 address are not part of it */
	memset(e.saddr + 4, 0xaa, 12);
	memset(e.daddr + 4, 0xbb, 12);
	memset(&ev, 0x5a, sizeof(ev));
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.kind, EVENT_TCP_STATE);
	ASSERT_EQ_U64(ev.boot_ns, 1123456789ull);
	ASSERT_EQ_U64(ev.wall_ns, 1700000000123456789ull);
	ASSERT_EQ_U64(ev.sock, 0xffff888105308000ull);
	ASSERT_EQ_U64(ev.ino, 7420);
	ASSERT_EQ_U64(ev.old_ns, 174321);
	ASSERT_EQ_U64(ev.netns, 4026531833u);
	ASSERT_EQ(ev.pid, 2923);
	ASSERT_EQ(ev.tid, 2924);
	ASSERT_EQ(ev.family, AF_INET);
	ASSERT_EQ(ev.proto, IPPROTO_TCP);
	ASSERT_MEMEQ(&ev.laddr, 16, &l, 16);
	ASSERT_MEMEQ(&ev.raddr, 16, &r, 16);
	ASSERT_EQ(ev.lport, 43054);
	ASSERT_EQ(ev.rport, 22);
	ASSERT_EQ(ev.old_state, ST_TCP_SYN_SENT);
	ASSERT_EQ(ev.new_state, ST_TCP_ESTABLISHED);
	ASSERT_EQ(ev.owner_src, ST_OWNER_CONNECT);
	ASSERT_EQ(ev.role, ST_ROLE_CLIENT);
	ASSERT_STREQ(ev.comm, "python3");
}

/* The kernel side reports the state it last saw a socket in; a transition
 * from another state is a gap: the ones between were not reported. */
TEST(event_decode_prev_state_and_gap)
{
	static const struct {
		uint8_t prev, old, type;
		bool gap;
	} cases[] = {
		{ 0, ST_TCP_SYN_SENT, ST_EVENT_TCP_STATE, false },	/* first seen */
		{ ST_TCP_SYN_SENT, ST_TCP_SYN_SENT, ST_EVENT_TCP_STATE, false },
		{ ST_TCP_ESTABLISHED, ST_TCP_FIN_WAIT1, ST_EVENT_TCP_STATE, true },
		{ ST_TCP_MAX_STATES, ST_TCP_FIN_WAIT1, ST_EVENT_TCP_STATE, false },	/* junk: unknown */
		{ ST_TCP_ESTABLISHED, ST_TCP_SYN_SENT, ST_EVENT_SYN_RETRANS, false },
	};
	struct st_tcp_event e;
	struct event ev;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw_init(&e);
		e.type = cases[i].type;
		e.prev_state = cases[i].prev;
		e.oldstate = cases[i].old;
		ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
		ASSERT_EQ(ev.prev_state, cases[i].prev < ST_TCP_MAX_STATES ? cases[i].prev : 0);
		ASSERT_MSG(event__gap(&ev) == cases[i].gap, "case %zu: gap %d", i, event__gap(&ev));
	}
}

TEST(event_decode_ipv6)
{
	struct st_tcp_event e;
	struct event ev;
	struct in6_addr l = addr_of("2001:db8::1"), r = addr_of("fe80::abcd:1234");

	raw_init(&e);
	raw_set_addrs(&e, "2001:db8::1", "fe80::abcd:1234");
	e.sport = 443;
	e.dport = 65535;
	e.oldstate = ST_TCP_LISTEN;
	e.newstate = ST_TCP_SYN_RECV;
	e.owner_src = ST_OWNER_LISTENER;
	e.role = ST_ROLE_SERVER;
	e.old_ns = ST_OLD_NS_UNKNOWN;
	e.pid = 77;
	e.tid = 78;
	memcpy(e.comm, "nginx\0garbage!!", 16);
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.family, AF_INET6);
	ASSERT_MEMEQ(&ev.laddr, 16, &l, 16);
	ASSERT_MEMEQ(&ev.raddr, 16, &r, 16);
	ASSERT_EQ(ev.lport, 443);
	ASSERT_EQ(ev.rport, 65535);
	ASSERT_EQ(ev.old_state, ST_TCP_LISTEN);
	ASSERT_EQ(ev.new_state, ST_TCP_SYN_RECV);
	ASSERT_EQ(ev.owner_src, ST_OWNER_LISTENER);
	ASSERT_EQ(ev.role, ST_ROLE_SERVER);
	ASSERT_EQ_U64(ev.old_ns, EVENT_OLD_NS_UNKNOWN);
	ASSERT_EQ(ev.pid, 77);
	ASSERT_EQ(ev.tid, 78);
	ASSERT_STREQ(ev.comm, "nginx");
}

TEST(event_decode_wall_time_from_reference)
{
	struct st_tcp_event e;
	struct event ev;
	struct clock_ref ref = { .boot_ns = 5000000000ull, .wall_ns = 1600000000000000000ull };

	raw_init(&e);
	e.ts_ns = 5000000000ull + 42;
	ASSERT_EQ(event__decode(&ev, &e, sizeof(e), &ref), 0);
	ASSERT_EQ_U64(ev.boot_ns, 5000000042ull);
	ASSERT_EQ_U64(ev.wall_ns, 1600000000000000042ull);
	/* an event stamped before the reference was taken */
	e.ts_ns = 5000000000ull - 1500000000ull;
	ASSERT_EQ(event__decode(&ev, &e, sizeof(e), &ref), 0);
	ASSERT_EQ_U64(ev.wall_ns, 1600000000000000000ull - 1500000000ull);
	ASSERT_EQ_U64(clock_ref__wall(&ref, 5000000000ull), 1600000000000000000ull);
}

TEST(event_decode_short_record)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e) - 1), -EINVAL);
	ASSERT_EQ(decode_exact(&ev, &e, 0), -EINVAL);
	ASSERT_EQ(decode_exact(&ev, &e, 8), -EINVAL);
}

TEST(event_decode_unknown_type)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	e.type = 0;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), -EINVAL);
	e.type = ST_EVENT_SYN_RETRANS + 1;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), -EINVAL);
	e.type = 255;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), -EINVAL);
}

TEST(event_decode_attempt_fields)
{
	struct st_tcp_event e;
	struct event ev;

	/* a failed attempt carries the socket's error and its SYN count */
	raw_init(&e);
	e.oldstate = ST_TCP_SYN_SENT;
	e.newstate = ST_TCP_CLOSE;
	e.err = ECONNREFUSED;
	e.syn_retrans = 3;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.kind, EVENT_TCP_STATE);
	ASSERT_EQ(ev.err, ECONNREFUSED);
	ASSERT_EQ(ev.syn_retrans, 3);
	ASSERT_EQ(ev.outcome, OUTCOME_IN_PROGRESS);
	ASSERT_EQ_U64(ev.elapsed_ns, EVENT_OLD_NS_UNKNOWN);
	ASSERT_EQ(ev.diag.cause, DIAG_NONE);

	/* a SYN retransmit */
	raw_init(&e);
	e.type = ST_EVENT_SYN_RETRANS;
	e.oldstate = e.newstate = ST_TCP_SYN_SENT;
	e.old_ns = ST_OLD_NS_UNKNOWN;
	e.syn_retrans = 255;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.kind, EVENT_SYN_RETRANS);
	ASSERT_EQ(ev.syn_retrans, 255);
	ASSERT_EQ(ev.err, 0);
	ASSERT_EQ(ev.pid, 2923);
	ASSERT_STREQ(ev.comm, "python3");
	ASSERT_EQ(ev.lport, 43054);
	ASSERT_EQ_U64(ev.old_ns, EVENT_OLD_NS_UNKNOWN);
	ASSERT_EQ_U64(ev.elapsed_ns, EVENT_OLD_NS_UNKNOWN);
}

TEST(event_decode_clamps_owner_and_role)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	e.owner_src = ST_OWNER__MAX;
	e.role = ST_ROLE__MAX;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.owner_src, ST_OWNER_UNKNOWN);
	ASSERT_EQ(ev.role, ST_ROLE_UNKNOWN);
	e.owner_src = 255;
	e.role = 200;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.owner_src, ST_OWNER_UNKNOWN);
	ASSERT_EQ(ev.role, ST_ROLE_UNKNOWN);
	/* the last valid values stay */
	e.owner_src = ST_OWNER_SNAPSHOT;
	e.role = ST_ROLE_LISTENER;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.owner_src, ST_OWNER_SNAPSHOT);
	ASSERT_EQ(ev.role, ST_ROLE_LISTENER);
}

TEST(event_decode_comm_16_bytes_without_nul)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	memcpy(e.comm, "ABCDEFGHIJKLMNOP", 16);
	memset(&ev, 'x', sizeof(ev));
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(strlen(ev.comm), 16);
	ASSERT_STREQ(ev.comm, "ABCDEFGHIJKLMNOP");
}

TEST(event_decode_pid_0_has_no_comm)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	e.pid = 0;
	e.tid = 0;
	e.owner_src = ST_OWNER_UNKNOWN;
	memcpy(e.comm, "swapper/3", 10);	/* the interrupted task */
	memset(&ev, 'x', sizeof(ev));
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ(ev.pid, 0);
	ASSERT_STREQ(ev.comm, "");
}

TEST(event_decode_old_ns_zero_is_known)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	e.old_ns = 0;
	ASSERT_EQ(decode_exact(&ev, &e, sizeof(e)), 0);
	ASSERT_EQ_U64(ev.old_ns, 0);
}

TEST(event_tcp_state_name)
{
	static const char *const names[] = {
		[ST_TCP_ESTABLISHED] = "ESTABLISHED", [ST_TCP_SYN_SENT] = "SYN_SENT",
		[ST_TCP_SYN_RECV] = "SYN_RECV", [ST_TCP_FIN_WAIT1] = "FIN_WAIT1",
		[ST_TCP_FIN_WAIT2] = "FIN_WAIT2", [ST_TCP_TIME_WAIT] = "TIME_WAIT",
		[ST_TCP_CLOSE] = "CLOSE", [ST_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[ST_TCP_LAST_ACK] = "LAST_ACK", [ST_TCP_LISTEN] = "LISTEN",
		[ST_TCP_CLOSING] = "CLOSING", [ST_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
		[ST_TCP_BOUND_INACTIVE] = "BOUND_INACTIVE",
	};

	for (int s = 1; s < ST_TCP_MAX_STATES; s++) {
		ASSERT_STREQ(tcp_state__name(s), names[s]);
		/* and back */
		ASSERT_EQ(tcp_state__parse(names[s]), s);
	}
	ASSERT_STREQ(tcp_state__name(0), "UNKNOWN");
	ASSERT_STREQ(tcp_state__name(99), "UNKNOWN");
	ASSERT_STREQ(tcp_state__name(ST_TCP_MAX_STATES), "UNKNOWN");
	ASSERT_STREQ(tcp_state__name(-1), "UNKNOWN");
	ASSERT_STREQ(tcp_state__name(255), "UNKNOWN");
}

TEST(event_tcp_state_parse)
{
	char longname[1000];

	ASSERT_EQ(tcp_state__parse("SYN_SENT"), ST_TCP_SYN_SENT);
	ASSERT_EQ(tcp_state__parse("syn-sent"), ST_TCP_SYN_SENT);
	ASSERT_EQ(tcp_state__parse("Syn_Sent"), ST_TCP_SYN_SENT);
	ASSERT_EQ(tcp_state__parse("TCP_LISTEN"), ST_TCP_LISTEN);
	ASSERT_EQ(tcp_state__parse("tcp_close-wait"), ST_TCP_CLOSE_WAIT);
	ASSERT_EQ(tcp_state__parse("TCP_SYN_SENT"), ST_TCP_SYN_SENT);
	ASSERT_EQ(tcp_state__parse("established"), ST_TCP_ESTABLISHED);
	ASSERT_EQ(tcp_state__parse("new-syn-recv"), ST_TCP_NEW_SYN_RECV);
	ASSERT_EQ(tcp_state__parse("bound_inactive"), ST_TCP_BOUND_INACTIVE);

	ASSERT_EQ(tcp_state__parse(""), -EINVAL);
	ASSERT_EQ(tcp_state__parse("TCP_"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("BOGUS"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("UNKNOWN"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("SYN SENT"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("SYN_SENTX"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("SYN_SEN"), -EINVAL);
	ASSERT_EQ(tcp_state__parse(" LISTEN"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("LISTEN "), -EINVAL);
	ASSERT_EQ(tcp_state__parse("TCP_TCP_LISTEN"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("1"), -EINVAL);
	ASSERT_EQ(tcp_state__parse("LIST\xc3\x89N"), -EINVAL);

	/* overlong: a valid name followed by more, well past the buffer */
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "ESTABLISHED", 11);
	ASSERT_EQ(tcp_state__parse(longname), -EINVAL);
	/* 31 and 32 characters: around the internal buffer size */
	longname[31] = '\0';
	ASSERT_EQ(tcp_state__parse(longname), -EINVAL);
	longname[32] = '\0';
	longname[31] = 'A';
	ASSERT_EQ(tcp_state__parse(longname), -EINVAL);
	/* the TCP_ prefix is case-insensitive too */
	ASSERT_EQ(tcp_state__parse("tcp_ESTABLISHED"), ST_TCP_ESTABLISHED);
}

TEST(event_owner_and_role_names)
{
	ASSERT_STREQ(owner_src__name(ST_OWNER_UNKNOWN), "unknown");
	ASSERT_STREQ(owner_src__name(ST_OWNER_CONNECT), "connect");
	ASSERT_STREQ(owner_src__name(ST_OWNER_LISTEN), "listen");
	ASSERT_STREQ(owner_src__name(ST_OWNER_LISTENER), "listener");
	ASSERT_STREQ(owner_src__name(ST_OWNER_ACCEPT), "accept");
	ASSERT_STREQ(owner_src__name(ST_OWNER_SNAPSHOT), "proc");
	ASSERT_STREQ(owner_src__name(ST_OWNER__MAX), "unknown");
	ASSERT_STREQ(owner_src__name(-1), "unknown");
	ASSERT_STREQ(owner_src__name(255), "unknown");

	ASSERT_NULL(role__name(ST_ROLE_UNKNOWN));
	ASSERT_STREQ(role__name(ST_ROLE_CLIENT), "client");
	ASSERT_STREQ(role__name(ST_ROLE_SERVER), "server");
	ASSERT_STREQ(role__name(ST_ROLE_LISTENER), "listener");
	ASSERT_NULL(role__name(ST_ROLE__MAX));
	ASSERT_NULL(role__name(-1));
}

TEST(event_outcome_and_errno_names)
{
	ASSERT_STREQ(outcome__name(OUTCOME_IN_PROGRESS), "in_progress");
	ASSERT_STREQ(outcome__name(OUTCOME_ESTABLISHED), "established");
	ASSERT_STREQ(outcome__name(OUTCOME_REFUSED), "refused");
	ASSERT_STREQ(outcome__name(OUTCOME_TIMEOUT), "timeout");
	ASSERT_STREQ(outcome__name(OUTCOME_UNREACHABLE), "unreachable");
	ASSERT_STREQ(outcome__name(OUTCOME_ABORTED), "aborted");
	ASSERT_STREQ(outcome__name(OUTCOME__MAX), "unknown");
	ASSERT_STREQ(outcome__name(-1), "unknown");

	ASSERT_STREQ(errno__name(ECONNREFUSED), "ECONNREFUSED");
	ASSERT_STREQ(errno__name(ETIMEDOUT), "ETIMEDOUT");
	ASSERT_STREQ(errno__name(EHOSTUNREACH), "EHOSTUNREACH");
	ASSERT_STREQ(errno__name(ENETUNREACH), "ENETUNREACH");
	ASSERT_STREQ(errno__name(EACCES), "EACCES");
	ASSERT_STREQ(errno__name(ECONNRESET), "ECONNRESET");
	ASSERT_STREQ(errno__name(EPIPE), "EPIPE");
	ASSERT_NULL(errno__name(0));
	ASSERT_NULL(errno__name(ENOENT));
	ASSERT_NULL(errno__name(-ECONNREFUSED));
	ASSERT_NULL(errno__name(255));
}

TEST(event_clock_ref_init)
{
	struct clock_ref ref;
	struct timespec ts;
	uint64_t wall, boot;

	ASSERT_EQ(clock_ref__init(&ref), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	wall = ts.tv_sec * 1000000000ull + ts.tv_nsec;
	boot = clock_ref__boot_now();
	/* both taken within the last 5 seconds, and the pair converts */
	ASSERT(ref.wall_ns <= wall && wall - ref.wall_ns < 5000000000ull);
	ASSERT(ref.boot_ns <= boot && boot - ref.boot_ns < 5000000000ull);
	{
		uint64_t w = clock_ref__wall(&ref, boot);
		uint64_t d = w > wall ? w - wall : wall - w;

		ASSERT_MSG(d < 100000000ull, "wall clock from the reference is off by %llu ns",
			   (unsigned long long)d);
	}
}
