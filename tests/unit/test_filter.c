// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* filter.c: matching and the list parsers. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "filter.h"
#include "util.h"

/* pid 100 "curl", 10.0.0.1:40000 -> 10.0.0.2:443, SYN_SENT -> ESTABLISHED */
static struct event ev_base(void)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_STATE;
	ev.family = AF_INET;
	ev.laddr = addr_of("10.0.0.1");
	ev.raddr = addr_of("10.0.0.2");
	ev.lport = 40000;
	ev.rport = 443;
	ev.pid = 100;
	ev.tid = 100;
	strcpy(ev.comm, "curl");
	ev.old_state = ST_TCP_SYN_SENT;
	ev.new_state = ST_TCP_ESTABLISHED;
	ev.role = ST_ROLE_CLIENT;
	return ev;
}

TEST(filter_empty_matches_everything)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	ASSERT_TRUE(filter__is_empty(&f));
	ASSERT_TRUE(filter__match(&f, &ev));
	ev.pid = 0;
	ev.comm[0] = '\0';
	ev.family = AF_INET6;
	ev.kind = EVENT_TCP_SOCKET;
	ev.old_state = 0;
	ASSERT_TRUE(filter__match(&f, &ev));
}

TEST(filter_pid)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_pids(&f, "5,100"), 0);
	ASSERT_FALSE(filter__is_empty(&f));
	ASSERT_TRUE(filter__match(&f, &ev));
	ev.pid = 101;
	ASSERT_FALSE(filter__match(&f, &ev));
	ev.pid = 5;
	ASSERT_TRUE(filter__match(&f, &ev));
	ev.pid = 0;	/* unknown owner: not one of them */
	ASSERT_FALSE(filter__match(&f, &ev));
}

TEST(filter_port_either_side)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_ports(&f, "443"), 0);
	ASSERT_TRUE(filter__match(&f, &ev));		/* remote */
	ev.lport = 443;
	ev.rport = 50000;
	ASSERT_TRUE(filter__match(&f, &ev));		/* local */
	ev.lport = 444;
	ASSERT_FALSE(filter__match(&f, &ev));
	ASSERT_EQ(filter__add_ports(&f, "1,50000"), 0);
	ASSERT_TRUE(filter__match(&f, &ev));
	ASSERT_EQ(f.n_ports, 3);
}

TEST(filter_family)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	f.family = AF_INET6;
	ASSERT_FALSE(filter__is_empty(&f));
	ASSERT_FALSE(filter__match(&f, &ev));
	ev.family = AF_INET6;
	ASSERT_TRUE(filter__match(&f, &ev));
	f.family = AF_INET;
	ASSERT_FALSE(filter__match(&f, &ev));
}

TEST(filter_comm_exact)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__set_comm(&f, "curl"), 0);
	ASSERT_FALSE(filter__is_empty(&f));
	ASSERT_TRUE(filter__match(&f, &ev));
	strcpy(ev.comm, "curl2");
	ASSERT_FALSE(filter__match(&f, &ev));
	strcpy(ev.comm, "cur");
	ASSERT_FALSE(filter__match(&f, &ev));
	strcpy(ev.comm, "CURL");
	ASSERT_FALSE(filter__match(&f, &ev));
	ev.comm[0] = '\0';
	ASSERT_FALSE(filter__match(&f, &ev));

	ASSERT_EQ(filter__set_comm(&f, ""), -EINVAL);
	ASSERT_EQ(filter__set_comm(&f, "abcdefghijklmnop"), -EINVAL);
	ASSERT_EQ(filter__set_comm(&f, "abcdefghijklmno"), 0);
	ASSERT_STREQ(f.comm, "abcdefghijklmno");
}

TEST(filter_state_transition_old_or_new)
{
	struct filter f;
	struct event ev = ev_base();	/* SYN_SENT -> ESTABLISHED */

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_states(&f, "SYN_SENT"), 0);
	ASSERT_TRUE(filter__match(&f, &ev));
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_states(&f, "established"), 0);
	ASSERT_TRUE(filter__match(&f, &ev));
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_states(&f, "LISTEN,CLOSE"), 0);
	ASSERT_FALSE(filter__match(&f, &ev));
	ev.old_state = ST_TCP_CLOSE;
	ASSERT_TRUE(filter__match(&f, &ev));
}

TEST(filter_state_snapshot_current_only)
{
	struct filter f;
	struct event ev = ev_base();

	ev.kind = EVENT_TCP_SOCKET;
	ev.old_state = ST_TCP_CLOSE;	/* meaningless for a snapshot */
	ev.new_state = ST_TCP_LISTEN;
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_states(&f, "CLOSE"), 0);
	ASSERT_FALSE(filter__match(&f, &ev));
	ASSERT_EQ(filter__add_states(&f, "LISTEN"), 0);
	ASSERT_TRUE(filter__match(&f, &ev));
	/* the same record as a transition matches on its old state */
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_states(&f, "CLOSE"), 0);
	ev.kind = EVENT_TCP_STATE;
	ASSERT_TRUE(filter__match(&f, &ev));
}

/* States outside what a filter can name (a corrupt record, a future kernel
 * state) match no state filter. */
TEST(filter_state_out_of_range)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_states(&f, "SYN_RECV"), 0);	/* bit 3 */
	ev.old_state = 99;	/* 99 % 32 == 3 */
	ev.new_state = 35;	/* 35 % 32 == 3 */
	ASSERT_FALSE(filter__match(&f, &ev));
	ev.kind = EVENT_TCP_SOCKET;
	ev.new_state = 67;	/* 67 % 32 == 3 */
	ASSERT_FALSE(filter__match(&f, &ev));
}

TEST(filter_combined_is_and)
{
	struct filter f;
	struct event ev = ev_base();

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_pids(&f, "100"), 0);
	ASSERT_EQ(filter__add_ports(&f, "443"), 0);
	ASSERT_EQ(filter__set_comm(&f, "curl"), 0);
	ASSERT_EQ(filter__add_states(&f, "ESTABLISHED"), 0);
	f.family = AF_INET;
	ASSERT_TRUE(filter__match(&f, &ev));

	/* each criterion alone can veto */
	{
		struct event e = ev;

		e.pid = 7;
		ASSERT_FALSE(filter__match(&f, &e));
		e = ev;
		e.rport = 80;
		ASSERT_FALSE(filter__match(&f, &e));
		e = ev;
		strcpy(e.comm, "wget");
		ASSERT_FALSE(filter__match(&f, &e));
		e = ev;
		e.old_state = ST_TCP_ESTABLISHED;
		e.new_state = ST_TCP_FIN_WAIT1;
		ASSERT_TRUE(filter__match(&f, &e));	/* old state matches */
		e.old_state = ST_TCP_FIN_WAIT1;
		e.new_state = ST_TCP_FIN_WAIT2;
		ASSERT_FALSE(filter__match(&f, &e));
		e = ev;
		e.family = AF_INET6;
		ASSERT_FALSE(filter__match(&f, &e));
	}
}

TEST(filter_list_parsers)
{
	struct filter f;
	char list[600], *p = list;

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_pids(&f, NULL), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, ""), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, ","), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, "1,,2"), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, "1,2,"), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, "0"), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, "2147483648"), -EINVAL);
	ASSERT_EQ(filter__add_pids(&f, "18446744073709551617"), -EINVAL);
	ASSERT_EQ(f.n_pids, 0);
	ASSERT_EQ(filter__add_pids(&f, "2147483647"), 0);
	ASSERT_EQ(f.pids[0], 2147483647);

	ASSERT_EQ(filter__add_ports(&f, "0"), -EINVAL);
	ASSERT_EQ(filter__add_ports(&f, "65536"), -EINVAL);
	ASSERT_EQ(filter__add_ports(&f, "65535,1"), 0);
	ASSERT_EQ(f.n_ports, 2);

	ASSERT_EQ(filter__add_states(&f, "LISTEN,bogus"), -EINVAL);
	ASSERT_EQ(filter__add_states(&f, ""), -EINVAL);

	memset(&f, 0, sizeof(f));
	for (int i = 1; i <= FILTER_MAX_ITEMS + 1; i++)
		p += sprintf(p, "%s%d", i > 1 ? "," : "", i);
	ASSERT_EQ(filter__add_ports(&f, list), -E2BIG);
	ASSERT_EQ(f.n_ports, FILTER_MAX_ITEMS);
	ASSERT_EQ(filter__add_pids(&f, list), -E2BIG);
	ASSERT_EQ(f.n_pids, FILTER_MAX_ITEMS);
}

TEST(filter_protocol)
{
	struct filter f, k;
	struct event ev = ev_base();
	char buf[128];

	memset(&f, 0, sizeof(f));
	ev.proto = IPPROTO_UDP;
	ev.kind = EVENT_UDP_FLOW;
	ev.old_state = ev.new_state = 0;
	ASSERT_TRUE(filter__match(&f, &ev));
	ASSERT_TRUE(filter__wants_proto(&f, IPPROTO_UDP));
	f.protos = FILTER_PROTO_TCP;
	ASSERT_FALSE(filter__is_empty(&f));
	ASSERT_FALSE(filter__match(&f, &ev));
	ASSERT_FALSE(filter__wants_proto(&f, IPPROTO_UDP));
	ASSERT_TRUE(filter__wants_proto(&f, IPPROTO_TCP));
	ASSERT_EQ(filter__describe(&f, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "tcp");
	f.protos = FILTER_PROTO_UDP;
	ASSERT_TRUE(filter__match(&f, &ev));
	ev.proto = IPPROTO_TCP;
	ASSERT_FALSE(filter__match(&f, &ev));
	f.protos = FILTER_PROTO_TCP | FILTER_PROTO_UDP;
	ASSERT_TRUE(filter__match(&f, &ev));

	/* TCP states leave nothing of UDP */
	memset(&f, 0, sizeof(f));
	f.states = 1u << ST_TCP_CLOSE;
	ASSERT_FALSE(filter__wants_proto(&f, IPPROTO_UDP));
	ev.proto = IPPROTO_UDP;
	ev.new_state = ST_TCP_CLOSE;	/* an unconnected UDP socket's state */
	ev.kind = EVENT_UDP_SOCKET;
	ASSERT_FALSE(filter__match(&f, &ev));

	/* 'udp' in an expression decides what the kernel side loads */
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "udp and port 53", buf, sizeof(buf)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.protos, FILTER_PROTO_UDP);
	ASSERT_FALSE(filter__wants_proto(&k, IPPROTO_TCP));
	filter__free(&f);
	ASSERT_EQ(filter__parse(&f, "udp or port 80", buf, sizeof(buf)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.protos, 0);
	filter__free(&f);
}
