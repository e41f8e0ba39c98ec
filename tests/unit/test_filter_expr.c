// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* filter.c: the expression language against a fixed set of events, its
 * syntax errors, and what goes down to the kernel. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cgroup_info.h"
#include "filter.h"
#include "harness.h"

static struct in6_addr addr6(const char *s)
{
	struct in6_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a) != 1 && inet_pton(AF_INET6, s, &a) != 1)
		FAIL("bad address literal %s", s);
	return a;
}

static struct event mk(int kind, int family, const char *l, int lport, const char *r, int rport,
		       int old, int new, int pid, const char *comm)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.family = family;
	ev.proto = IPPROTO_TCP;
	ev.laddr = addr6(l);
	ev.raddr = addr6(r);
	ev.lport = lport;
	ev.rport = rport;
	ev.old_state = old;
	ev.new_state = new;
	ev.pid = pid;
	if (pid)
		strcpy(ev.comm, comm);
	return ev;
}

#define N_EV 4

static void events(struct event ev[N_EV])
{
	/* e0: client 10.0.0.1:40000 -> 10.0.0.2:443 */
	ev[0] = mk(EVENT_TCP_STATE, AF_INET, "10.0.0.1", 40000, "10.0.0.2", 443,
		   ST_TCP_SYN_SENT, ST_TCP_ESTABLISHED, 100, "curl");
	/* e1: server 10.0.0.2:443 <- 192.168.1.5:5555 */
	ev[1] = mk(EVENT_TCP_STATE, AF_INET, "10.0.0.2", 443, "192.168.1.5", 5555,
		   ST_TCP_LISTEN, ST_TCP_SYN_RECV, 200, "nginx");
	/* e2: IPv6 2001:db8::1:8080 -> [2001:db8:1::2]:22 */
	ev[2] = mk(EVENT_TCP_STATE, AF_INET6, "2001:db8::1", 8080, "2001:db8:1::2", 22,
		   ST_TCP_ESTABLISHED, ST_TCP_FIN_WAIT1, 300, "ssh");
	/* e3: an existing AF_INET6 socket with IPv4-mapped addresses, no owner */
	ev[3] = mk(EVENT_TCP_SOCKET, AF_INET6, "::ffff:10.0.0.7", 1234, "::ffff:10.1.2.3", 80,
		   0, ST_TCP_ESTABLISHED, 0, "");
}

static const struct {
	const char *expr;
	unsigned want;		/* bit i: event i matches */
} table[] = {
	{ "tcp", 0xf },
	{ "udp", 0x0 },
	{ "ip", 0x3 },
	{ "ip6", 0xc },
	{ "host 10.0.0.2", 0x3 },
	{ "src host 10.0.0.2", 0x2 },
	{ "dst host 10.0.0.2", 0x1 },
	{ "src 10.0.0.2", 0x2 },
	{ "host 10.0.0.7", 0x8 },
	{ "host ::ffff:10.0.0.7", 0x8 },
	{ "ip host 10.0.0.7", 0x0 },
	{ "net 10.0.0.0/8", 0xb },
	{ "dst net 10.1.0.0/16", 0x8 },
	{ "net 2001:db8::/32", 0x4 },
	{ "src net 2001:db8:1::/48", 0x0 },
	{ "dst net 2001:db8:1::/48", 0x4 },
	{ "net 192.168.1.5", 0x2 },
	{ "port 443", 0x3 },
	{ "src port 443", 0x2 },
	{ "dst port 443", 0x1 },
	{ "src or dst port 443", 0x3 },
	{ "src and dst port 443", 0x0 },
	{ "port ssh", 0x4 },
	{ "portrange 1-1024", 0xf },
	{ "src portrange 1-1024", 0x2 },
	{ "dst portrange 5000-6000", 0x2 },
	{ "state ESTABLISHED", 0xd },
	{ "state listen", 0x2 },
	{ "state syn-recv", 0x2 },
	{ "pid 100", 0x1 },
	{ "comm ssh", 0x4 },
	{ "comm curl or comm nginx", 0x3 },
	{ "not pid 100", 0xe },
	{ "! pid 100", 0xe },
	{ "port 443 and not src port 443", 0x1 },
	/* and binds tighter than or */
	{ "ip or port 22 and pid 300", 0x7 },
	{ "port 22 and pid 300 or ip", 0x7 },
	{ "(ip or port 22) and pid 300", 0x4 },
	{ "ip6 and (pid 300 or port 80)", 0xc },
	/* not binds tighter than and */
	{ "not ip and not state ESTABLISHED", 0x0 },
	{ "!ip && !port 22", 0x8 },
	{ "not (port 443 or port 22)", 0x8 },
	{ "not not ip", 0x3 },
	{ "state ESTABLISHED and not state FIN_WAIT1", 0x9 },
	/* a bare value repeats the last primitive, as in pcap-filter */
	{ "port 443 or 22", 0x7 },
	{ "dst port 443 or 80", 0x9 },
	{ "tcp dst port 80", 0x8 },
	{ "udp dst port 80 or 443", 0x0 },
	{ "pid 100 or 300", 0x5 },
	{ "((port 443))", 0x3 },
	{ "port 443 || port 22 && comm nobody", 0x3 },
};

TEST(filter_expr_table)
{
	struct event ev[N_EV];
	char err[256];

	events(ev);
	for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
		struct filter f;
		unsigned got = 0;

		memset(&f, 0, sizeof(f));
		if (filter__parse(&f, table[t].expr, err, sizeof(err)))
			FAIL("'%s' does not parse: %s", table[t].expr, err);
		for (int i = 0; i < N_EV; i++)
			if (filter__match(&f, &ev[i]))
				got |= 1u << i;
		filter__free(&f);
		ASSERT_MSG(got == table[t].want, "'%s' matches events 0x%x, expected 0x%x",
			   table[t].expr, got, table[t].want);
	}
}

TEST(filter_expr_ands_with_options)
{
	struct event ev[N_EV];
	struct filter f;
	char err[256];

	events(ev);
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_ports(&f, "443"), 0);
	ASSERT_EQ(filter__parse(&f, "ip6 or pid 200", err, sizeof(err)), 0);
	ASSERT_FALSE(filter__is_empty(&f));
	ASSERT_FALSE(filter__match(&f, &ev[0]));
	ASSERT_TRUE(filter__match(&f, &ev[1]));
	ASSERT_FALSE(filter__match(&f, &ev[2]));
	/* a blank expression sets none */
	ASSERT_EQ(filter__parse(&f, "  ", err, sizeof(err)), 0);
	ASSERT_NULL(f.expr);
	ASSERT_TRUE(filter__match(&f, &ev[0]));
	filter__free(&f);
}

static const struct {
	const char *expr;
	const char *msg;
} errors[] = {
	{ "port", "column 5: expected a port number or service name, got end of expression" },
	{ "port 70000", "column 6: expected a port number or service name, got '70000'" },
	{ "host 300.1.1.1", "column 6: expected an IPv4 or IPv6 address, or a DNS name, got '300.1.1.1'" },
	{ "host a..test", "column 6: expected an IPv4 or IPv6 address, or a DNS name, got 'a..test'" },
	{ "net 10.0.0.1/8", "column 5: expected a network such as 10.0.0.0/8 or 2001:db8::/32 (no host bits set), got '10.0.0.1/8'" },
	{ "net 10.0.0.0/33", "column 5: expected a network" },
	{ "port 80 and", "column 12: expected a primitive" },
	{ "port 80 and or port 1", "column 13: expected a primitive" },
	{ "(port 80", "column 9: expected ')' to close the '(' at column 1, got end of expression" },
	{ "port 80)", "column 8: expected 'and', 'or' or the end of the expression, got ')'" },
	{ "port 80 port 81", "column 9: expected 'and', 'or' or the end of the expression, got 'port'" },
	{ "portrange 5-1", "column 11: expected a port range such as 1024-65535, got '5-1'" },
	{ "portrange 5", "column 11: expected a port range" },
	{ "pid 0", "column 5: expected a process id, got '0'" },
	{ "comm abcdefghijklmnop", "column 6: expected a command name of 1 to 15 characters" },
	{ "state FOO", "column 7: expected a TCP state name such as ESTABLISHED, got 'FOO'" },
	{ "foo", "column 1: expected a primitive" },
	{ "src foo", "column 5: expected an IPv4 or IPv6 address (a local address has no name), got 'foo'" },
	{ "src", "column 4: expected host, net, port or portrange, got end of expression" },
	{ "port 80 & 443", "column 9: expected 'and', 'or' or the end of the expression, got '&'" },
	{ "not", "column 4: expected a primitive" },
	{ "()", "column 2: expected a primitive" },
	{ "port 80 or tcp 443", "column 16: expected 'and', 'or' or the end of the expression, got '443'" },
};

TEST(filter_expr_syntax_errors)
{
	char err[256];

	for (size_t t = 0; t < sizeof(errors) / sizeof(errors[0]); t++) {
		struct filter f;
		int r;

		memset(&f, 0, sizeof(f));
		err[0] = '\0';
		r = filter__parse(&f, errors[t].expr, err, sizeof(err));
		ASSERT_MSG(r == -EINVAL, "'%s' parsed (%d), expected an error", errors[t].expr, r);
		ASSERT_MSG(!strncmp(err, errors[t].msg, strlen(errors[t].msg)),
			   "'%s': error '%s', expected '%s'", errors[t].expr, err, errors[t].msg);
		ASSERT_NULL(f.expr);
	}
}

TEST(filter_expr_kernel_pushdown)
{
	struct filter f, k;
	char err[256];

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "ip and port 80 and (pid 5 or pid 6) and state LISTEN",
				err, sizeof(err)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.family, AF_INET);
	ASSERT_EQ(k.n_ports, 1);
	ASSERT_EQ(k.ports[0], 80);
	ASSERT_EQ(k.n_pids, 0);		/* under an or: userspace only */
	ASSERT_EQ(k.states, 1u << ST_TCP_LISTEN);
	ASSERT_NULL(k.expr);

	ASSERT_EQ(filter__parse(&f, "port 80 or port 81", err, sizeof(err)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.n_ports, 0);
	ASSERT_EQ(filter__parse(&f, "not ip6 and portrange 1-5 and src port 9", err, sizeof(err)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.family, 0);
	ASSERT_EQ(k.n_ports, 1);	/* the kernel's either-side check is a superset */
	ASSERT_EQ(k.ports[0], 9);

	/* the options' lists win; the expression still applies in userspace */
	ASSERT_EQ(filter__add_ports(&f, "443"), 0);
	ASSERT_EQ(filter__parse(&f, "port 80", err, sizeof(err)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.n_ports, 1);
	ASSERT_EQ(k.ports[0], 443);
	filter__free(&f);
}

TEST(filter_describe)
{
	struct filter f;
	char err[256], buf[256];

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__describe(&f, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "");
	ASSERT_EQ(filter__add_pids(&f, "1,2"), 0);
	ASSERT_EQ(filter__add_states(&f, "LISTEN"), 0);
	f.family = AF_INET6;
	ASSERT_EQ(filter__parse(&f, "tcp or port 80", err, sizeof(err)), 0);
	ASSERT_EQ(filter__describe(&f, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "(pid 1 or pid 2) and ip6 and (state LISTEN) and (tcp or port 80)");
	/* what it describes parses again */
	ASSERT_EQ(filter__parse(&f, buf, err, sizeof(err)), 0);
	filter__free(&f);
}

static char *repeat(const char *prefix, int n, const char *middle, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), lm = strlen(middle);
	char *s = malloc(n * (lp + ls) + lm + 1), *p = s;

	if (!s)
		FAIL("out of memory");
	for (int i = 0; i < n; i++, p += lp)
		memcpy(p, prefix, lp);
	memcpy(p, middle, lm);
	p += lm;
	for (int i = 0; i < n; i++, p += ls)
		memcpy(p, suffix, ls);
	*p = '\0';
	return s;
}

/* Parentheses and 'not' recurse in the parser and in matching: 30,000 of
 * them overflowed the stack. */
TEST(filter_expr_depth_limit)
{
	static const struct {
		const char *open, *close;
		int n;
		int ok;
	} cases[] = {
		{ "(", ")", 100, 1 }, { "(", ")", 101, 0 }, { "(", ")", 30000, 0 },
		{ "!", "", 100, 1 }, { "!", "", 101, 0 }, { "!", "", 100000, 0 },
		{ "not ", "", 100, 1 }, { "not (", ")", 50, 1 }, { "not (", ")", 51, 0 },
	};
	struct event ev[N_EV];
	char err[256];

	events(ev);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = repeat(cases[i].open, cases[i].n, "port 443", cases[i].close);
		struct filter f;
		int r;

		memset(&f, 0, sizeof(f));
		err[0] = '\0';
		r = filter__parse(&f, text, err, sizeof(err));
		free(text);
		if (cases[i].ok) {
			ASSERT_MSG(r == 0, "%d x '%s': %s", cases[i].n, cases[i].open, err);
			/* an even number of nots is none */
			ASSERT_TRUE(filter__match(&f, &ev[0]));
			ASSERT_FALSE(filter__match(&f, &ev[2]));
			filter__free(&f);
			continue;
		}
		ASSERT_MSG(r == -EINVAL, "%d x '%s' parsed (%d)", cases[i].n, cases[i].open, r);
		ASSERT_MSG(strstr(err, "nested too deeply (at most 100 levels of '(' and 'not')"),
			   "%d x '%s': error '%s'", cases[i].n, cases[i].open, err);
		ASSERT_NULL(f.expr);
	}
	/* where: the column of the 101st level */
	{
		char *text = repeat("(", 101, "port 443", ")");
		struct filter f;

		memset(&f, 0, sizeof(f));
		ASSERT_EQ(filter__parse(&f, text, err, sizeof(err)), -EINVAL);
		free(text);
		ASSERT_STREQ(err, "column 101: nested too deeply (at most 100 levels of '(' and 'not')");
	}
}

/* "port 1 or port 2 or ..." has no nesting limit: a chain of any length is
 * matched, pushed down and freed without recursing once per term. */
TEST(filter_expr_long_chains)
{
	const int n = 500000;
	char *text = malloc((size_t)n * 24), *p = text, err[256];
	struct event ev[N_EV];
	struct filter f, k;

	ASSERT_NOT_NULL(text);
	events(ev);
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%sport %d", i ? " or " : "", 23000 + i % 10000);
	strcpy(p, " or port 22");
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, text, err, sizeof(err)), 0);
	ASSERT_FALSE(filter__match(&f, &ev[0]));
	ASSERT_TRUE(filter__match(&f, &ev[2]));		/* the last term */
	filter__free(&f);

	p = text;
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%snot port %d", i ? " and " : "", 23000 + i % 10000);
	strcpy(p, " and pid 300");
	ASSERT_EQ(filter__parse(&f, text, err, sizeof(err)), 0);
	free(text);
	ASSERT_TRUE(filter__match(&f, &ev[2]));
	ASSERT_FALSE(filter__match(&f, &ev[0]));
	filter__kernel(&f, &k);
	ASSERT_EQ(k.n_pids, 1);
	ASSERT_EQ(k.pids[0], 300);
	filter__free(&f);
}

/* ---- the numbers of tcp_conn records ---- */

static struct event conn_ev(int end, uint32_t retrans, uint32_t srtt_us, uint64_t tx, uint64_t rx,
			    uint64_t secs)
{
	struct event ev = mk(EVENT_TCP_CONN, AF_INET, "10.0.0.1", 40000, "10.0.0.2", 443,
			     ST_TCP_FIN_WAIT2, ST_TCP_CLOSE, 100, "curl");

	ev.boot_ns = 10000000000000ull;
	ev.conn.event = end ? TCP_CONN_END : TCP_CONN_UPDATE;
	ev.conn.end = end;
	ev.conn.total_retrans = retrans;
	ev.conn.srtt_us = srtt_us;
	ev.conn.bytes_sent = tx;
	ev.conn.bytes_received = rx;
	ev.conn.start_ns = ev.boot_ns - secs * 1000000000ull;
	return ev;
}

TEST(filter_expr_tcp_conn_numbers)
{
	static const struct {
		const char *expr;
		unsigned want;	/* bit i: event i matches */
	} cases[] = {
		{ "retrans > 0", 0x6 },
		{ "retrans >= 3", 0x4 },
		{ "retrans = 0", 0x1 },
		{ "retrans == 1", 0x2 },
		{ "not retrans > 0", 0x9 },	/* e3 is a transition: no numbers */
		{ "rtt > 100ms", 0x4 },
		{ "rtt > 100", 0x4 },		/* milliseconds */
		{ "rtt < 500us", 0x1 },
		{ "rtt <= 0.1s", 0x3 },
		{ "bytes > 10M", 0x4 },
		{ "bytes >= 2KiB", 0x6 },
		{ "tx > 1k and rx < 1k", 0x6 },
		{ "duration > 30s", 0x6 },
		{ "duration > 60", 0x4 },	/* seconds */
		{ "duration < 2m", 0x3 },
		{ "ended rst", 0x6 },
		{ "ended rst_received", 0x4 },
		{ "ended fin", 0x1 },
		{ "ended timeout", 0x0 },
		{ "ended fin or port 443", 0xf },
		{ "retrans > 0 and ended rst_sent", 0x2 },
	};
	struct event ev[4] = {
		conn_ev(ST_END_FIN, 0, 50, 100, 200, 1),
		conn_ev(ST_END_RST_SENT, 1, 100000, 2000, 48, 59),
		conn_ev(ST_END_RST_RECEIVED, 7, 250000, 20000000, 5, 3600),
	};
	struct event other[N_EV];
	char err[256];

	events(other);
	ev[3] = other[0];	/* e3: a transition, which has none of these numbers */
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct filter f;
		unsigned got = 0;

		memset(&f, 0, sizeof(f));
		if (filter__parse(&f, cases[t].expr, err, sizeof(err)))
			FAIL("'%s' does not parse: %s", cases[t].expr, err);
		for (int i = 0; i < 4; i++)
			if (filter__match(&f, &ev[i]))
				got |= 1u << i;
		filter__free(&f);
		ASSERT_MSG(got == cases[t].want, "'%s' matches events 0x%x, expected 0x%x",
			   cases[t].expr, got, cases[t].want);
	}
	/* an update has not ended */
	{
		struct filter f = {};
		struct event up = conn_ev(0, 0, 1, 1, 1, 1);

		ASSERT_EQ(filter__parse(&f, "ended fin", err, sizeof(err)), 0);
		ASSERT_FALSE(filter__match(&f, &up));
		filter__free(&f);
	}
}

TEST(filter_expr_tcp_conn_errors_and_pushdown)
{
	static const struct {
		const char *expr;
		const char *msg;
	} bad[] = {
		{ "retrans", "column 8: expected a comparison" },
		{ "retrans >", "column 10: expected a number, got end of expression" },
		{ "retrans > 1k", "column 11: expected a number, got '1k'" },
		{ "rtt > fast", "column 7: expected a time such as 100ms or 30s, got 'fast'" },
		{ "rtt > 5h", "column 7: expected a time" },
		{ "bytes ~ 5", "column 7: expected a comparison" },
		{ "bytes > 10X", "column 9: expected a size such as 1500, 64k, 10M or 1GiB" },
		{ "ended", "column 6: expected an end: fin, rst" },
		{ "ended soon", "column 7: expected an end" },
	};
	struct filter f, k;
	char err[256];

	for (size_t t = 0; t < sizeof(bad) / sizeof(bad[0]); t++) {
		memset(&f, 0, sizeof(f));
		err[0] = '\0';
		ASSERT_MSG(filter__parse(&f, bad[t].expr, err, sizeof(err)) == -EINVAL,
			   "'%s' parsed", bad[t].expr);
		ASSERT_MSG(!strncmp(err, bad[t].msg, strlen(bad[t].msg)),
			   "'%s': error '%s', expected '%s'", bad[t].expr, err, bad[t].msg);
	}
	/* only TCP has these: the kernel side need not trace UDP */
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "retrans > 0 and port 80", err, sizeof(err)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.protos, FILTER_PROTO_TCP);
	ASSERT_FALSE(filter__wants_proto(&k, IPPROTO_UDP));
	ASSERT_EQ(filter__parse(&f, "ended rst or udp", err, sizeof(err)), 0);
	filter__kernel(&f, &k);
	ASSERT_EQ(k.protos, 0);
	filter__free(&f);
}

struct terms_seen {
	char buf[256];
	int stop_at;	/* return -EINVAL at this call, 0 for never */
	int calls;
};

static int note_term(void *ctx, const char *kind, const char *value)
{
	struct terms_seen *t = ctx;
	size_t n = strlen(t->buf);

	snprintf(t->buf + n, sizeof(t->buf) - n, "%s%s=%s", n ? "," : "", kind, value);
	return ++t->calls == t->stop_at ? -EINVAL : 0;
}

/* What main checks against the host: every cgroup path and container name,
 * under 'or' and 'not' too, and nothing else. */
TEST(filter_each_owner_term)
{
	struct terms_seen t = {};
	struct filter f = {};
	char err[256];

	f.cgroup = "/opt.slice";
	f.container = "web";
	ASSERT_EQ(filter__parse(&f, "port 80 and (container db or not cgroup /a/b) and unit x.service"
				" and pod ns/p", err, sizeof(err)), 0);
	ASSERT_EQ(filter__each_owner_term(&f, note_term, &t), 0);
	ASSERT_STREQ(t.buf, "cgroup=/opt.slice,container=web,container=db,cgroup=/a/b");
	memset(&t, 0, sizeof(t));
	t.stop_at = 3;
	ASSERT_EQ(filter__each_owner_term(&f, note_term, &t), -EINVAL);
	ASSERT_EQ(t.calls, 3);
	filter__free(&f);
}

/* What the kernel may drop by cgroup: only what the options or the
 * top-level AND chain reject, whatever else an event holds. */
TEST(filter_owner_rejects)
{
	struct cgroup_info *web = cgroup_info__new("/system.slice/nginx.service");
	struct cgroup_info *db = cgroup_info__new("/system.slice/postgresql.service");
	struct filter f = {};
	char err[256];

	ASSERT_NOT_NULL(web);
	ASSERT_NOT_NULL(db);
	ASSERT_FALSE(filter__has_owner_and(&f));
	ASSERT_FALSE(filter__owner_rejects(&f, db));
	f.unit = "nginx.service";
	ASSERT_TRUE(filter__has_owner_and(&f));
	ASSERT_FALSE(filter__owner_rejects(&f, web));
	ASSERT_TRUE(filter__owner_rejects(&f, db));
	f.unit = NULL;
	ASSERT_EQ(filter__parse(&f, "port 80 and (tcp and cgroup /system.slice/nginx.service)",
				err, sizeof(err)), 0);
	ASSERT_TRUE(filter__has_owner_and(&f));
	ASSERT_FALSE(filter__owner_rejects(&f, web));
	ASSERT_TRUE(filter__owner_rejects(&f, db));
	ASSERT_EQ(filter__parse(&f, "port 80 or unit nginx.service", err, sizeof(err)), 0);
	ASSERT_FALSE(filter__has_owner_and(&f));
	ASSERT_FALSE(filter__owner_rejects(&f, db));
	ASSERT_EQ(filter__parse(&f, "not unit nginx.service", err, sizeof(err)), 0);
	ASSERT_FALSE(filter__owner_rejects(&f, web));
	ASSERT_FALSE(filter__owner_rejects(&f, db));
	filter__free(&f);
	cgroup_info__free(web);
	cgroup_info__free(db);
}

/* host NAME: a connection by the name its address was resolved under, a DNS
 * query by the name it asked or where its answer's CNAME chain ended. */
TEST(filter_host_name_matches_dns_queries)
{
	struct event conn = mk(EVENT_TCP_STATE, AF_INET, "10.0.0.1", 40000, "192.0.2.10", 443,
			       ST_TCP_SYN_SENT, ST_TCP_ESTABLISHED, 7, "curl");
	struct event q = mk(EVENT_DNS, AF_INET, "10.0.0.1", 40001, "10.0.0.53", 53, 0, 0, 7,
			    "curl");
	struct filter f;
	char err[256];

	strcpy(conn.rname, "www.example.test");
	strcpy(conn.rname_canonical, "web.example.test");
	strcpy(q.dnsq.qname, "WWW.example.test");
	strcpy(q.dnsq.canonical, "web.example.test");
	/* a query's rname is not its name: only qname and canonical count */
	strcpy(q.rname, "other.example.test");
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "host www.example.test", err, sizeof(err)), 0);
	ASSERT(filter__match(&f, &conn));
	ASSERT(filter__match(&f, &q));
	filter__free(&f);
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "dst host web.example.test", err, sizeof(err)), 0);
	ASSERT(filter__match(&f, &q));
	filter__free(&f);
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "host other.example.test", err, sizeof(err)), 0);
	ASSERT(!filter__match(&f, &q));
	filter__free(&f);
}
