// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* dnsqueries.c: DNS queries matched to their answers (socket, id and
 * question), the owner learned before or after the answer or never,
 * timeouts, retransmits, DNS over TCP, the per-name table at the end,
 * malformed messages, and the filter on the owner through a pipeline. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "dnsmsg.h"
#include "dnsqueries.h"
#include "filter.h"
#include "pipeline.h"
#include "util.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (100 * SEC)		/* the first query; both clocks read the same */
#define TIMEOUT (5 * SEC)
#define NETNS 4026531840u
#define SOCK 0xffff888100dd24c0ull	/* dig's socket */
#define SOCK2 0xffff888100dd3000ull	/* another one */
#define LPORT 42951
#define ID 0x1234		/* start()'s message id */
#define DIG_PID 4242
#define DIG_CGROUP 88		/* dig's cgroup; a query carries its socket's */
#define SOCK_CGROUP 77

struct fixture {
	struct pipeline pl;
	struct rec_sink *rec;	/* what the pipeline shows */
	struct dnsqueries *q;
	struct filter filter;
};

static void fixture_free(void *p)
{
	struct fixture *f = p;

	pipeline__free(&f->pl);	/* and the stage */
	filter__free(&f->filter);
	free(f);
}

/* A --dns pipeline (queries time out after 5 s) that shows its outcomes
 * and table to a keeping sink; comm, when not NULL, is its --comm. */
static struct fixture *fixture_new(const char *comm)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		FAIL("out of memory");
	/* released after the pipeline that holds it */
	f->rec = rec_sink_new();
	ut_defer(fixture_free, f);
	if (comm)
		ASSERT_EQ(filter__set_comm(&f->filter, comm), 0);
	pipeline__init(&f->pl, comm ? &f->filter : NULL, 0);
	f->pl.kinds = PIPELINE_KINDS_DNS;
	ASSERT_EQ(pipeline__add_sink(&f->pl, &f->rec->base), 0);
	f->q = dnsqueries__new(TIMEOUT);
	ASSERT_NOT_NULL(f->q);
	ASSERT_EQ(pipeline__add_stage(&f->pl, dnsqueries__stage(f->q)), 0);
	return f;
}

/* As a source pushes it: the stage's clock moves to its time first. */
static void push(struct fixture *f, struct event ev)
{
	int err = pipeline__push(&f->pl, &ev);

	ASSERT_MSG(err == 0, "pipeline__push returned %d", err);
}

static void tick(struct fixture *f, uint64_t t)
{
	int err = pipeline__tick(&f->pl, t);

	ASSERT_MSG(err == 0, "pipeline__tick returned %d", err);
}

static struct dnsqueries_stats stats_of(struct fixture *f)
{
	struct dnsqueries_stats st;

	dnsqueries__stats(f->q, &st);
	return st;
}

/* The n-th event shown, which must be an EVENT_DNS. */
static const struct dns_query *shown_dns(struct fixture *f, int n)
{
	ASSERT_MSG(f->rec->n > n, "%d events shown, expected more than %d", f->rec->n, n);
	ASSERT_EQ(f->rec->evs[n].kind, EVENT_DNS);
	return &f->rec->evs[n].dnsq;
}

static void set_id(struct msg *m, uint16_t id)
{
	m->b[0] = id >> 8;
	m->b[1] = id & 0xff;
}

/* Over TCP the message follows its 2-byte length. */
static void tcp_frame(struct msg *m)
{
	memmove(m->b + 2, m->b, m->n);
	m->b[0] = m->n >> 8;
	m->b[1] = m->n & 0xff;
	m->n += 2;
}

/* m as socket sock (192.0.2.1:LPORT) sent it (EVENT_DNS_QUERY) to, or
 * received it (EVENT_DNS_ANSWER) from, 192.0.2.53:53 at t. */
static struct event dns_ev(enum event_kind kind, const struct msg *m, uint64_t sock, uint64_t t)
{
	struct event ev = answer(m, NETNS, t);

	ev.kind = kind;
	ev.sock = sock;
	ev.cgroup_id = SOCK_CGROUP;
	ev.laddr = addr_of("192.0.2.1");
	ev.lport = LPORT;
	ev.raddr = addr_of("192.0.2.53");
	return ev;
}

/* A standard query (RD) of one question. */
static struct event query_ev(uint64_t sock, uint16_t id, const char *qname, int qtype, uint64_t t)
{
	struct msg m;

	start(&m, 0, 0, qname, qtype);
	set_id(&m, id);
	m.b[2] = 0x01;
	m.b[3] = 0x00;
	return dns_ev(EVENT_DNS_QUERY, &m, sock, t);
}

/* web.example.test A: 198.51.100.10 and .11 */
static struct event web_answer(uint64_t sock, uint16_t id, uint64_t t)
{
	struct msg m;

	start(&m, 0, 2, "web.example.test", 1);
	set_id(&m, id);
	rr_a_ptr(&m, "198.51.100.10", 300);
	rr_a_ptr(&m, "198.51.100.11", 300);
	return dns_ev(EVENT_DNS_ANSWER, &m, sock, t);
}

/* dig's UDP flow on sock, reported in process context (it has the owner). */
static struct event flow(uint64_t sock, int flow_event, uint64_t t)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_UDP_FLOW;
	ev.flow_event = flow_event;
	ev.boot_ns = ev.first_ns = ev.last_ns = t;
	ev.wall_ns = t;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.sock = sock;
	ev.netns = NETNS;
	ev.family = AF_INET;
	ev.proto = IPPROTO_UDP;
	ev.laddr = addr_of("192.0.2.1");
	ev.lport = LPORT;
	ev.raddr = addr_of("192.0.2.53");
	ev.rport = 53;
	ev.pid = DIG_PID;
	ev.tid = DIG_PID + 1;
	ev.vpid = 7;
	ev.cgroup_id = DIG_CGROUP;
	ev.owner_src = ST_OWNER_TRAFFIC;
	strcpy(ev.comm, "dig");
	return ev;
}

static void assert_addr(const struct dns_ip *ip, const char *want)
{
	struct in6_addr a = addr_of(want);

	ASSERT_EQ(ip->family, family_of(want));
	ASSERT_MSG(!memcmp(&ip->addr, &a, sizeof(a)), "address is not %s", want);
}

static void assert_dig_owner(const struct event *ev)
{
	ASSERT_EQ(ev->pid, DIG_PID);
	ASSERT_EQ(ev->tid, DIG_PID + 1);
	ASSERT_EQ(ev->vpid, 7);
	ASSERT_EQ_U64(ev->cgroup_id, DIG_CGROUP);
	ASSERT_EQ(ev->owner_src, ST_OWNER_TRAFFIC);
	ASSERT_STREQ(ev->comm, "dig");
}

static void assert_no_owner(const struct event *ev)
{
	ASSERT_EQ(ev->pid, 0);
	ASSERT_STREQ(ev->comm, "");
	ASSERT_EQ_U64(ev->cgroup_id, SOCK_CGROUP);	/* the socket's */
}

TEST(dnsqueries_udp_answered)
{
	struct fixture *f = fixture_new(NULL);
	struct in6_addr server = addr_of("192.0.2.53");
	const struct dns_query *d;
	struct dnsqueries_stats st;
	const struct event *ev;

	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	/* the flow's first datagram is reported after the send returned */
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	ASSERT_EQ(f->rec->n, 0);
	push(f, web_answer(SOCK, ID, T0 + 12 * MS));
	ASSERT_EQ(f->rec->n, 1);
	d = shown_dns(f, 0);
	ev = &f->rec->evs[0];
	ASSERT_EQ(d->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_EQ(d->rcode, 0);
	ASSERT_STREQ(d->qname, "web.example.test");
	ASSERT_STREQ(d->canonical, "");
	ASSERT_EQ(d->qtype, 1);
	ASSERT_EQ(d->id, ID);
	ASSERT_EQ(d->tries, 1);
	ASSERT_FALSE(d->truncated);
	ASSERT_EQ(d->n_addrs, 2);
	assert_addr(&d->addrs[0], "198.51.100.10");
	assert_addr(&d->addrs[1], "198.51.100.11");
	ASSERT_EQ_U64(d->latency_ns, 12 * MS);
	/* at the answer's time, on the querying socket, to its server */
	ASSERT_EQ_U64(ev->boot_ns, T0 + 12 * MS);
	ASSERT_EQ_U64(ev->wall_ns, T0 + 12 * MS);
	ASSERT_EQ_U64(ev->sock, SOCK);
	ASSERT_EQ(ev->netns, NETNS);
	ASSERT_EQ(ev->proto, IPPROTO_UDP);
	ASSERT_EQ(ev->family, AF_INET);
	ASSERT_EQ(ev->lport, LPORT);
	ASSERT_EQ(ev->rport, 53);
	ASSERT_EQ(memcmp(&ev->raddr, &server, sizeof(server)), 0);
	assert_dig_owner(ev);
	st = stats_of(f);
	ASSERT_EQ_U64(st.queries, 1);
	ASSERT_EQ_U64(st.unmatched, 0);
	ASSERT_EQ_U64(st.unparsed, 0);
	/* nothing more: not also a timeout */
	tick(f, T0 + 2 * TIMEOUT);
	ASSERT_EQ(f->rec->n, 1);
}

TEST(dnsqueries_owner_after_answer)
{
	struct fixture *f = fixture_new(NULL);
	const uint64_t at = T0 + 12 * MS;	/* the answer */
	struct event softirq = flow(SOCK, UDP_FLOW_UPDATE, T0 - 1 * MS);

	/* an event outside process context names no owner, before the
	 * query or after its answer */
	softirq.pid = softirq.tid = 0;
	softirq.comm[0] = '\0';
	push(f, softirq);
	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, web_answer(SOCK, ID, at));
	/* its owner is not known yet: it waits */
	ASSERT_EQ(f->rec->n, 0);
	/* the same answer again answers nothing */
	push(f, web_answer(SOCK, ID, at + 1));
	ASSERT_EQ_U64(stats_of(f).unmatched, 1);
	softirq.boot_ns = softirq.wall_ns = at + 1 * MS;
	push(f, softirq);
	tick(f, at + TIMEOUT / 2);
	ASSERT_EQ(f->rec->n, 0);
	push(f, flow(SOCK, UDP_FLOW_START, at + TIMEOUT / 2 + 1));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(shown_dns(f, 0)->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_EQ_U64(shown_dns(f, 0)->latency_ns, 12 * MS);
	ASSERT_EQ(shown_dns(f, 0)->n_addrs, 2);
	ASSERT_EQ_U64(f->rec->evs[0].boot_ns, at);
	assert_dig_owner(&f->rec->evs[0]);
	tick(f, T0 + 2 * TIMEOUT);
	ASSERT_EQ(f->rec->n, 1);
}

TEST(dnsqueries_owner_wait_runs_out)
{
	struct fixture *f = fixture_new(NULL);
	const uint64_t at = T0 + 12 * MS;	/* the answer */
	struct event elsewhere = flow(SOCK, UDP_FLOW_START, at + 1 * MS);

	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, web_answer(SOCK, ID, at));
	/* a socket of that identity in another namespace is not this one */
	elsewhere.netns = NETNS + 1;
	push(f, elsewhere);
	tick(f, at + TIMEOUT - 1);
	ASSERT_EQ(f->rec->n, 0);
	tick(f, at + TIMEOUT);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(shown_dns(f, 0)->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_EQ_U64(shown_dns(f, 0)->latency_ns, 12 * MS);
	ASSERT_EQ_U64(f->rec->evs[0].boot_ns, at);
	assert_no_owner(&f->rec->evs[0]);
	/* an owner too late changes nothing */
	push(f, flow(SOCK, UDP_FLOW_START, at + TIMEOUT + 1));
	tick(f, T0 + 2 * TIMEOUT);
	ASSERT_EQ(f->rec->n, 1);
}

/* An answer waiting for its owner: the socket's close names it (its flow's
 * end has the process), or ends the wait without one. */
TEST(dnsqueries_owner_wait_ends_at_close)
{
	struct fixture *f = fixture_new(NULL);
	const uint64_t at = T0 + 12 * MS;	/* the answers */
	struct event end = flow(SOCK, UDP_FLOW_END, at + 2 * MS);
	struct event gone = end;

	end.end_reason = UDP_END_CLOSE;
	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, web_answer(SOCK, ID, at));
	push(f, end);
	ASSERT_EQ(f->rec->n, 1);
	assert_dig_owner(&f->rec->evs[0]);
	/* a close whose event names no process: the answer goes unowned */
	push(f, query_ev(SOCK2, ID, "web.example.test", 1, T0 + 20 * MS));
	push(f, web_answer(SOCK2, ID, T0 + 30 * MS));
	gone.sock = SOCK2;
	gone.end_reason = UDP_END_CLOSE;
	gone.boot_ns = gone.wall_ns = T0 + 31 * MS;
	gone.pid = gone.tid = 0;
	gone.comm[0] = '\0';
	push(f, gone);
	ASSERT_EQ(f->rec->n, 2);
	assert_no_owner(&f->rec->evs[1]);
	ASSERT_EQ(shown_dns(f, 1)->outcome, DNS_OUTCOME_ANSWERED);
}

TEST(dnsqueries_owner_outlives_close)
{
	struct fixture *f = fixture_new(NULL);
	struct event end;

	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	end = flow(SOCK, UDP_FLOW_END, T0 + 2 * MS);
	end.end_reason = UDP_END_CLOSE;
	push(f, end);
	/* the socket's address again, another socket's: not dig's */
	push(f, query_ev(SOCK, ID + 1, "other.example.test", 1, T0 + 3 * MS));
	tick(f, T0 + TIMEOUT + 3 * MS);
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_STREQ(shown_dns(f, 0)->qname, "web.example.test");
	ASSERT_EQ(shown_dns(f, 0)->outcome, DNS_OUTCOME_TIMEOUT);
	assert_dig_owner(&f->rec->evs[0]);
	ASSERT_STREQ(shown_dns(f, 1)->qname, "other.example.test");
	ASSERT_EQ(shown_dns(f, 1)->outcome, DNS_OUTCOME_TIMEOUT);
	assert_no_owner(&f->rec->evs[1]);
}

TEST(dnsqueries_timeout)
{
	struct fixture *f = fixture_new(NULL);
	const struct dns_query *d;

	push(f, query_ev(SOCK, ID, "web.example.test", 28, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	tick(f, T0 + TIMEOUT - 1);
	ASSERT_EQ(f->rec->n, 0);
	tick(f, T0 + TIMEOUT);
	ASSERT_EQ(f->rec->n, 1);
	d = shown_dns(f, 0);
	ASSERT_EQ(d->outcome, DNS_OUTCOME_TIMEOUT);
	ASSERT_STREQ(dns_outcome__name(d->outcome), "timeout");
	ASSERT_EQ_U64(d->latency_ns, TIMEOUT);
	ASSERT_EQ(d->qtype, 28);
	ASSERT_EQ(d->rcode, 0);
	ASSERT_EQ(d->n_addrs, 0);
	ASSERT_EQ(d->tries, 1);
	/* when it timed out, not when it was sent */
	ASSERT_EQ_U64(f->rec->evs[0].boot_ns, T0 + TIMEOUT);
	ASSERT_EQ_U64(f->rec->evs[0].wall_ns, T0 + TIMEOUT);
	assert_dig_owner(&f->rec->evs[0]);
	/* once only; an answer after it answers nothing */
	tick(f, T0 + 2 * TIMEOUT);
	push(f, web_answer(SOCK, ID, T0 + 2 * TIMEOUT + 1));
	tick(f, T0 + 3 * TIMEOUT);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ_U64(stats_of(f).unmatched, 1);
}

TEST(dnsqueries_nxdomain)
{
	struct fixture *f = fixture_new(NULL);
	const struct dns_query *d;
	struct msg m;

	push(f, query_ev(SOCK, ID, "nosuch.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	start(&m, 3, 0, "nosuch.example.test", 1);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 4 * MS));
	ASSERT_EQ(f->rec->n, 1);
	d = shown_dns(f, 0);
	ASSERT_EQ(d->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_EQ(d->rcode, 3);
	ASSERT_STREQ(dns_rcode__name(d->rcode), "NXDOMAIN");
	ASSERT_EQ(d->n_addrs, 0);
	ASSERT_STREQ(d->canonical, "");
	ASSERT_EQ_U64(d->latency_ns, 4 * MS);
}

TEST(dnsqueries_cname_chain)
{
	struct fixture *f = fixture_new(NULL);
	const struct dns_query *d;
	struct msg m;

	push(f, query_ev(SOCK, ID, "alias.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	start(&m, 0, 3, "alias.example.test", 1);
	rr_cname(&m, "alias.example.test", "www.example.test", 600);
	rr_cname(&m, "www.example.test", "web.example.test", 600);
	rr_a(&m, "web.example.test", "198.51.100.10", 600);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 2 * MS));
	ASSERT_EQ(f->rec->n, 1);
	d = shown_dns(f, 0);
	ASSERT_STREQ(d->qname, "alias.example.test");
	ASSERT_STREQ(d->canonical, "web.example.test");
	ASSERT_EQ(d->n_addrs, 1);
	assert_addr(&d->addrs[0], "198.51.100.10");
}

TEST(dnsqueries_addresses_beyond_the_first_8)
{
	struct fixture *f = fixture_new(NULL);
	const struct dns_query *d;
	struct msg m;
	char addr[32];

	push(f, query_ev(SOCK, ID, "many.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	start(&m, 0, 10, "many.example.test", 1);
	for (int i = 0; i < 10; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		rr_a_ptr(&m, addr, 30);
	}
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 2 * MS));
	d = shown_dns(f, 0);
	ASSERT_EQ(d->n_addrs, 10);
	assert_addr(&d->addrs[0], "203.0.113.0");
	assert_addr(&d->addrs[EVENT_DNS_ADDRS - 1], "203.0.113.7");
}

TEST(dnsqueries_answers_that_do_not_match)
{
	struct fixture *f = fixture_new(NULL);
	struct event a;
	struct msg m;
	int n = 0;

	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	/* another socket, namespace, local port, id */
	a = web_answer(SOCK2, ID, T0 + 2 * MS);
	push(f, a);
	ASSERT_EQ_U64(stats_of(f).unmatched, ++n);
	a = web_answer(SOCK, ID, T0 + 2 * MS);
	a.netns = NETNS + 1;
	push(f, a);
	ASSERT_EQ_U64(stats_of(f).unmatched, ++n);
	a = web_answer(SOCK, ID, T0 + 2 * MS);
	a.lport = LPORT + 1;
	push(f, a);
	ASSERT_EQ_U64(stats_of(f).unmatched, ++n);
	push(f, web_answer(SOCK, ID + 1, T0 + 2 * MS));
	ASSERT_EQ_U64(stats_of(f).unmatched, ++n);
	/* the same id, another question: an answer to another query */
	start(&m, 0, 1, "www.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 300);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 3 * MS));
	ASSERT_EQ_U64(stats_of(f).unmatched, ++n);
	start(&m, 0, 0, "web.example.test", 28);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 3 * MS));
	ASSERT_EQ_U64(stats_of(f).unmatched, ++n);
	ASSERT_EQ(f->rec->n, 0);
	/* the answer (the name's case changed, as 0x20 randomization does) */
	start(&m, 0, 1, "WEB.Example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 300);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 5 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(shown_dns(f, 0)->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_EQ_U64(shown_dns(f, 0)->latency_ns, 5 * MS);
	ASSERT_EQ_U64(stats_of(f).unmatched, n);
	/* and once only */
	push(f, web_answer(SOCK, ID, T0 + 6 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ_U64(stats_of(f).unmatched, n + 1);
}

TEST(dnsqueries_two_questions_under_one_id)
{
	struct fixture *f = fixture_new(NULL);
	struct msg m;

	push(f, flow(SOCK, UDP_FLOW_START, T0));
	/* one socket, one id, two questions: neither is a retransmit */
	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0 + 1 * MS));
	push(f, query_ev(SOCK, ID, "web.example.test", 28, T0 + 2 * MS));
	ASSERT_EQ_U64(stats_of(f).queries, 2);
	/* the older one's answer first: it is that query's */
	push(f, web_answer(SOCK, ID, T0 + 4 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(shown_dns(f, 0)->qtype, 1);
	ASSERT_EQ(shown_dns(f, 0)->tries, 1);
	ASSERT_EQ_U64(shown_dns(f, 0)->latency_ns, 3 * MS);
	/* then the newer one's */
	start(&m, 0, 0, "web.example.test", 28);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 7 * MS));
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_EQ(shown_dns(f, 1)->qtype, 28);
	ASSERT_EQ(shown_dns(f, 1)->tries, 1);
	ASSERT_EQ_U64(shown_dns(f, 1)->latency_ns, 5 * MS);
	ASSERT_EQ_U64(stats_of(f).unmatched, 0);
}

TEST(dnsqueries_retransmit)
{
	struct fixture *f = fixture_new(NULL);

	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0 + 1 * SEC));
	push(f, web_answer(SOCK, ID, T0 + 1 * SEC + 5 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(shown_dns(f, 0)->tries, 2);
	ASSERT_EQ_U64(shown_dns(f, 0)->latency_ns, 1 * SEC + 5 * MS);
	ASSERT_EQ_U64(stats_of(f).queries, 1);
	/* unanswered: the timeout runs from the first try */
	push(f, query_ev(SOCK, ID + 1, "web.example.test", 1, T0 + 2 * SEC));
	push(f, query_ev(SOCK, ID + 1, "web.example.test", 1, T0 + 6 * SEC));
	push(f, query_ev(SOCK, ID + 1, "web.example.test", 1, T0 + 6 * SEC + 1));
	tick(f, T0 + 2 * SEC + TIMEOUT - 1);
	ASSERT_EQ(f->rec->n, 1);
	tick(f, T0 + 2 * SEC + TIMEOUT);
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_EQ(shown_dns(f, 1)->outcome, DNS_OUTCOME_TIMEOUT);
	ASSERT_EQ(shown_dns(f, 1)->tries, 3);
	ASSERT_EQ_U64(stats_of(f).queries, 2);
}

TEST(dnsqueries_over_tcp)
{
	struct fixture *f = fixture_new(NULL);
	struct event q, a, conn;
	struct msg m;

	/* over UDP the answer did not fit (TC) */
	push(f, query_ev(SOCK, ID, "big.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	start(&m, 0, 0, "big.example.test", 1);
	m.b[2] |= 0x02;
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 2 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_TRUE(shown_dns(f, 0)->truncated);
	/* so dig asks again over TCP, from a socket of its own */
	conn = flow(SOCK2, 0, T0 + 3 * MS);
	conn.kind = EVENT_TCP_STATE;
	conn.proto = IPPROTO_TCP;
	conn.old_state = ST_TCP_CLOSE;
	conn.new_state = ST_TCP_SYN_SENT;
	conn.owner_src = ST_OWNER_CONNECT;
	push(f, conn);
	q = query_ev(SOCK2, ID + 1, "big.example.test", 1, T0 + 4 * MS);
	memcpy(m.b, q.dns, q.dns_caplen);
	m.n = q.dns_caplen;
	tcp_frame(&m);
	q = dns_ev(EVENT_DNS_QUERY, &m, SOCK2, T0 + 4 * MS);
	q.proto = IPPROTO_TCP;
	push(f, q);
	start(&m, 0, 1, "big.example.test", 1);
	set_id(&m, ID + 1);
	rr_a_ptr(&m, "198.51.100.20", 60);
	tcp_frame(&m);
	a = dns_ev(EVENT_DNS_ANSWER, &m, SOCK2, T0 + 9 * MS);
	a.proto = IPPROTO_TCP;
	push(f, a);
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_EQ(f->rec->evs[1].proto, IPPROTO_TCP);
	ASSERT_EQ_U64(f->rec->evs[1].sock, SOCK2);
	ASSERT_EQ(shown_dns(f, 1)->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_FALSE(shown_dns(f, 1)->truncated);
	ASSERT_EQ_U64(shown_dns(f, 1)->latency_ns, 5 * MS);
	ASSERT_EQ(shown_dns(f, 1)->n_addrs, 1);
	assert_addr(&shown_dns(f, 1)->addrs[0], "198.51.100.20");
	ASSERT_EQ(f->rec->evs[1].pid, DIG_PID);
	ASSERT_EQ(f->rec->evs[1].owner_src, ST_OWNER_CONNECT);
}

/* A table row, which must be an EVENT_DNS_STATS. */
static const struct dns_query *shown_row(struct fixture *f, int n, const char *qname, int qtype)
{
	ASSERT_MSG(f->rec->n > n, "%d events shown, expected more than %d", f->rec->n, n);
	ASSERT_EQ(f->rec->evs[n].kind, EVENT_DNS_STATS);
	ASSERT_STREQ(f->rec->evs[n].dnsq.qname, qname);
	ASSERT_EQ(f->rec->evs[n].dnsq.qtype, qtype);
	return &f->rec->evs[n].dnsq;
}

static void assert_near(uint64_t got, uint64_t want)
{
	/* the histogram's resolution */
	ASSERT_MSG(got >= want * 97 / 100 && got <= want * 103 / 100, "got %llu, expected ~%llu",
		   (unsigned long long)got, (unsigned long long)want);
}

TEST(dnsqueries_finish_pending_and_table)
{
	struct fixture *f = fixture_new(NULL);
	const uint64_t end = T0 + 9 * SEC;
	const struct dns_query *d;
	struct msg m;
	int n;

	push(f, flow(SOCK, UDP_FLOW_START, T0 - 1 * MS));
	push(f, query_ev(SOCK, 1, "web.example.test", 1, T0));
	push(f, web_answer(SOCK, 1, T0 + 10 * MS));
	push(f, query_ev(SOCK, 2, "web.example.test", 1, T0 + 1 * SEC));
	push(f, web_answer(SOCK, 2, T0 + 1 * SEC + 10 * MS));
	push(f, query_ev(SOCK, 3, "web.example.test", 28, T0 + 2 * SEC));
	push(f, query_ev(SOCK, 4, "nosuch.example.test", 1, T0 + 3 * SEC));
	start(&m, 3, 0, "nosuch.example.test", 1);
	set_id(&m, 4);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 3 * SEC + 20 * MS));
	push(f, query_ev(SOCK, 5, "other.test", 1, T0 + 8 * SEC));
	/* answered, its owner not known yet when the source ends */
	push(f, query_ev(SOCK2, 6, "held.example.test", 1, end - 100 * MS));
	start(&m, 0, 0, "held.example.test", 1);
	set_id(&m, 6);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK2, end - 50 * MS));
	/* two answers, NXDOMAIN, the AAAA timeout (due at T0 + 7 s) */
	ASSERT_EQ(f->rec->n, 4);
	ASSERT_EQ(shown_dns(f, 2)->rcode, 3);
	ASSERT_EQ(shown_dns(f, 3)->outcome, DNS_OUTCOME_TIMEOUT);
	ASSERT_EQ(shown_dns(f, 3)->qtype, 28);
	ASSERT_EQ(pipeline__finish(&f->pl, end), 0);
	/* what was left: the held answer, then the pending query */
	d = shown_dns(f, 4);
	ASSERT_STREQ(d->qname, "held.example.test");
	ASSERT_EQ(d->outcome, DNS_OUTCOME_ANSWERED);
	ASSERT_EQ(f->rec->evs[4].pid, 0);
	d = shown_dns(f, 5);
	ASSERT_STREQ(d->qname, "other.test");
	ASSERT_EQ(d->outcome, DNS_OUTCOME_PENDING);
	ASSERT_STREQ(dns_outcome__name(d->outcome), "pending");
	ASSERT_EQ_U64(d->latency_ns, 0);
	assert_dig_owner(&f->rec->evs[5]);
	/* the table: most asked first, then by name and type */
	n = 6;
	d = shown_row(f, n++, "web.example.test", 1);
	ASSERT_EQ_U64(d->queries, 2);
	ASSERT_EQ_U64(d->answered, 2);
	ASSERT_EQ_U64(d->errors, 0);
	ASSERT_EQ_U64(d->timeouts, 0);
	ASSERT_TRUE(d->have_latency);
	assert_near(d->latency_p50_ns, 10 * MS);
	assert_near(d->latency_p99_ns, 10 * MS);
	d = shown_row(f, n++, "held.example.test", 1);
	ASSERT_EQ_U64(d->queries, 1);
	ASSERT_EQ_U64(d->answered, 1);
	ASSERT_TRUE(d->have_latency);
	assert_near(d->latency_p50_ns, 50 * MS);
	d = shown_row(f, n++, "nosuch.example.test", 1);
	ASSERT_EQ_U64(d->queries, 1);
	ASSERT_EQ_U64(d->answered, 1);
	ASSERT_EQ_U64(d->errors, 1);
	ASSERT_EQ_U64(d->timeouts, 0);
	ASSERT_TRUE(d->have_latency);
	assert_near(d->latency_p50_ns, 20 * MS);
	d = shown_row(f, n++, "other.test", 1);
	ASSERT_EQ_U64(d->queries, 1);
	ASSERT_EQ_U64(d->answered, 0);
	ASSERT_EQ_U64(d->timeouts, 0);
	ASSERT_FALSE(d->have_latency);
	ASSERT_EQ_U64(d->latency_p50_ns, 0);
	d = shown_row(f, n++, "web.example.test", 28);
	ASSERT_EQ_U64(d->queries, 1);
	ASSERT_EQ_U64(d->answered, 0);
	ASSERT_EQ_U64(d->errors, 0);
	ASSERT_EQ_U64(d->timeouts, 1);
	ASSERT_FALSE(d->have_latency);
	ASSERT_EQ_U64(d->latency_p50_ns, 0);
	ASSERT_EQ(f->rec->n, n);
	ASSERT_EQ_U64(stats_of(f).queries, 6);
}

TEST(dnsqueries_finish_empty)
{
	struct fixture *f = fixture_new(NULL);

	ASSERT_EQ(pipeline__finish(&f->pl, T0), 0);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(f->rec->evs[0].kind, EVENT_DNS_STATS);
	ASSERT_STREQ(f->rec->evs[0].dnsq.qname, "");
	ASSERT_EQ_U64(f->rec->evs[0].dnsq.queries, 0);
	ASSERT_FALSE(f->rec->evs[0].dnsq.have_latency);
}

TEST(dnsqueries_malformed)
{
	struct fixture *f = fixture_new(NULL);
	struct event ev;
	struct msg m;
	int unparsed = 0;

	push(f, flow(SOCK, UDP_FLOW_START, T0));
	/* shorter than a header, or nothing */
	memset(&m, 0, sizeof(m));
	m.n = 5;
	push(f, dns_ev(EVENT_DNS_QUERY, &m, SOCK, T0 + 1));
	ASSERT_EQ_U64(stats_of(f).unparsed, ++unparsed);
	/* answers are the name table's to count (dns_unparsed) */
	m.b[2] = 0x80;
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 2));
	ASSERT_EQ_U64(stats_of(f).unparsed, unparsed);
	m.n = 0;
	push(f, dns_ev(EVENT_DNS_QUERY, &m, SOCK, T0 + 3));
	ASSERT_EQ_U64(stats_of(f).unparsed, ++unparsed);
	/* a label that runs past the end */
	ev = query_ev(SOCK, ID, "web.example.test", 1, T0 + 4);
	ev.dns[12] = 0x3f;
	push(f, ev);
	ASSERT_EQ_U64(stats_of(f).unparsed, ++unparsed);
	/* cut before the question's type */
	ev = query_ev(SOCK, ID, "web.example.test", 1, T0 + 5);
	ev.dns_caplen = ev.dns_len = ev.dns_caplen - 3;
	push(f, ev);
	ASSERT_EQ_U64(stats_of(f).unparsed, ++unparsed);
	/* two questions */
	ev = query_ev(SOCK, ID, "web.example.test", 1, T0 + 6);
	ev.dns[5] = 2;
	push(f, ev);
	ASSERT_EQ_U64(stats_of(f).unparsed, ++unparsed);
	/* an answer whose question's name is a pointer to itself */
	start(&m, 0, 0, "web.example.test", 1);
	m.b[12] = 0xc0;
	m.b[13] = 12;
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK, T0 + 7));
	ASSERT_EQ_U64(stats_of(f).unparsed, unparsed);
	ASSERT_EQ_U64(stats_of(f).unmatched, 0);
	/* a TCP segment of one byte */
	ev = query_ev(SOCK, ID, "web.example.test", 1, T0 + 8);
	ev.proto = IPPROTO_TCP;
	ev.dns_caplen = ev.dns_len = 1;
	push(f, ev);
	ASSERT_EQ_U64(stats_of(f).unparsed, ++unparsed);
	/* not a query: a response sent (a server's), another opcode */
	ev = query_ev(SOCK, ID, "web.example.test", 1, T0 + 9);
	ev.dns[2] |= 0x80;
	push(f, ev);
	ev = query_ev(SOCK, ID, "web.example.test", 1, T0 + 10);
	ev.dns[2] |= 0x10;	/* opcode 2, STATUS */
	push(f, ev);
	ASSERT_EQ_U64(stats_of(f).queries, 0);
	ASSERT_EQ_U64(stats_of(f).unparsed, unparsed);
	ASSERT_EQ(f->rec->n, 0);
	/* and after all that, a query and its answer */
	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0 + 1 * MS));
	push(f, web_answer(SOCK, ID, T0 + 2 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(shown_dns(f, 0)->n_addrs, 2);
}

TEST(dnsqueries_pending_bound)
{
	struct fixture *f = fixture_new(NULL);
	struct dnsqueries_stats st;

	/* only the table: one row */
	f->pl.kinds = EVENT_KIND_BIT(EVENT_DNS_STATS);
	for (uint64_t i = 0; i <= DNSQUERIES_MAX_PENDING; i++)
		push(f, query_ev(SOCK + i * 64, ID, "web.example.test", 1, T0 + i));
	st = stats_of(f);
	ASSERT_EQ_U64(st.queries, DNSQUERIES_MAX_PENDING + 1);
	ASSERT_EQ_U64(st.dropped, 1);
	/* the oldest was forgotten: its answer is none of the others' */
	push(f, web_answer(SOCK, ID, T0 + 1 * SEC));
	ASSERT_EQ_U64(stats_of(f).unmatched, 1);
	push(f, web_answer(SOCK + 64, ID, T0 + 1 * SEC));
	ASSERT_EQ_U64(stats_of(f).unmatched, 1);
	ASSERT_EQ(pipeline__finish(&f->pl, T0 + 2 * SEC), 0);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ_U64(f->rec->evs[0].dnsq.queries, DNSQUERIES_MAX_PENDING);
	ASSERT_EQ_U64(f->rec->evs[0].dnsq.answered, 1);
}

/* dig's query on SOCK and curl's on SOCK2, each answered; curl's flow
 * is one the filter drops. */
static void dig_and_curl(struct fixture *f)
{
	struct event curl = flow(SOCK2, UDP_FLOW_START, T0 + 3 * MS);
	struct msg m;

	curl.pid = 5000;
	strcpy(curl.comm, "curl");
	push(f, query_ev(SOCK, ID, "web.example.test", 1, T0));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 1 * MS));
	push(f, query_ev(SOCK2, ID, "api.example.test", 1, T0 + 2 * MS));
	push(f, curl);
	/* curl's flow of a socket with no query, not to port 53 */
	curl.sock = SOCK2 + 64;
	curl.rport = 443;
	curl.boot_ns = curl.wall_ns = T0 + 4 * MS;
	push(f, curl);
	push(f, web_answer(SOCK, ID, T0 + 10 * MS));
	start(&m, 0, 1, "api.example.test", 1);
	rr_a_ptr(&m, "198.51.100.30", 60);
	push(f, dns_ev(EVENT_DNS_ANSWER, &m, SOCK2, T0 + 11 * MS));
}

TEST(dnsqueries_comm_filter_keeps_the_owners_queries)
{
	struct rec_sink *rec = rec_sink_new();	/* released after the pipeline */
	struct fixture *f = fixture_new("dig");
	int curl_flows = 0;

	pipeline__set_recorder(&f->pl, &rec->base);
	dig_and_curl(f);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_STREQ(shown_dns(f, 0)->qname, "web.example.test");
	assert_dig_owner(&f->rec->evs[0]);
	/* the table counts what the filter kept */
	ASSERT_EQ(pipeline__finish(&f->pl, T0 + 1 * SEC), 0);
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_STREQ(shown_row(f, 1, "web.example.test", 1)->qname, "web.example.test");
	ASSERT_EQ_U64(f->rec->evs[1].dnsq.queries, 1);
	/* the recording holds the flow that owns a query, whatever the
	 * filter, so that a replay learns the same owner; not the other */
	for (int i = 0; i < rec->n; i++) {
		ASSERT_TRUE(rec->evs[i].sock != SOCK2 + 64);
		curl_flows += rec->evs[i].kind == EVENT_UDP_FLOW && rec->evs[i].sock == SOCK2;
	}
	ASSERT_EQ(curl_flows, 1);
}

/* A socket's address reused after a close socktrace did not see: the
 * cached owner is the old socket's, and the new flow's start names the
 * query's sender instead. A flow to port 53 is recorded whatever the
 * filter, with the query or without: its end forgets an owner on replay. */
TEST(dnsqueries_flow_start_overrides_a_stale_owner)
{
	struct rec_sink *rec = rec_sink_new();	/* released after the pipeline */
	struct fixture *f = fixture_new("dig");
	struct event py = flow(SOCK, UDP_FLOW_START, T0 + 1 * MS);
	int flows = 0;

	pipeline__set_recorder(&f->pl, &rec->base);
	py.pid = 5001;
	strcpy(py.comm, "python3");
	push(f, query_ev(SOCK, ID, "old.example.test", 1, T0));
	push(f, py);
	/* python's end is lost; dig's socket gets the same address */
	push(f, query_ev(SOCK, ID + 1, "web.example.test", 1, T0 + 100 * MS));
	push(f, flow(SOCK, UDP_FLOW_START, T0 + 101 * MS));
	push(f, web_answer(SOCK, ID + 1, T0 + 110 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_STREQ(shown_dns(f, 0)->qname, "web.example.test");
	assert_dig_owner(&f->rec->evs[0]);
	for (int i = 0; i < rec->n; i++)
		flows += rec->evs[i].kind == EVENT_UDP_FLOW;
	ASSERT_EQ(flows, 2);
}

/* A filter that drops the flow (it has no name) keeps the query it owns:
 * its owner is known all the same. */
TEST(dnsqueries_host_filter_still_learns_the_owner)
{
	struct fixture *f = fixture_new(NULL);
	char err[256];

	ASSERT_EQ(filter__parse(&f->filter, "host web.example.test", err, sizeof(err)), 0);
	f->pl.filter = &f->filter;
	dig_and_curl(f);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_STREQ(shown_dns(f, 0)->qname, "web.example.test");
	assert_dig_owner(&f->rec->evs[0]);
}

TEST(dnsqueries_names)
{
	ASSERT_STREQ(dns_type__name(1), "A");
	ASSERT_STREQ(dns_type__name(5), "CNAME");
	ASSERT_STREQ(dns_type__name(28), "AAAA");
	ASSERT_STREQ(dns_type__name(65), "HTTPS");
	ASSERT_STREQ(dns_type__name(255), "ANY");
	ASSERT_STREQ(dns_type__name(257), "CAA");
	ASSERT_NULL(dns_type__name(0));
	ASSERT_NULL(dns_type__name(99));
	ASSERT_STREQ(dns_rcode__name(0), "NOERROR");
	ASSERT_STREQ(dns_rcode__name(2), "SERVFAIL");
	ASSERT_STREQ(dns_rcode__name(3), "NXDOMAIN");
	ASSERT_STREQ(dns_rcode__name(5), "REFUSED");
	ASSERT_STREQ(dns_rcode__name(10), "NOTZONE");
	ASSERT_NULL(dns_rcode__name(11));
	ASSERT_NULL(dns_rcode__name(15));
	ASSERT_STREQ(dns_outcome__name(DNS_OUTCOME_ANSWERED), "answered");
	ASSERT_STREQ(dns_outcome__name(DNS_OUTCOME_TIMEOUT), "timeout");
	ASSERT_STREQ(dns_outcome__name(DNS_OUTCOME_PENDING), "pending");
	ASSERT_NULL(dns_outcome__name(0));
	ASSERT_NULL(dns_outcome__name(DNS_OUTCOME__MAX));
}
