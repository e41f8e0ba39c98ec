// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* dnsnames.c: DNS answers parsed with c-ares (CNAME chains, compression,
 * malformed and truncated messages, 0 and 100 answers), the name table
 * (TTL and grace, network namespaces, LRU evictions), the pipeline that
 * names events before the filter, and the dns_answer record. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "dnsmsg.h"
#include "dnsnames.h"
#include "filter.h"
#include "harness.h"
#include "pipeline.h"
#include "record.h"

#define NS 1000000000ull

static struct dns_answer *parse(const struct msg *m, int *ret)
{
	static struct dns_answer a;

	*ret = dnsnames__parse(m->b, m->n, &a);
	return &a;
}

TEST(dns_parse_a_and_ttl)
{
	struct msg m;
	struct dns_answer *a;
	int r;

	start(&m, 0, 2, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 300);
	rr_a_ptr(&m, "198.51.100.11", 60);
	a = parse(&m, &r);
	ASSERT_EQ(r, 0);
	ASSERT_STREQ(a->qname, "web.example.test");
	ASSERT_STREQ(a->canonical, "web.example.test");
	ASSERT_EQ(a->n_addrs, 2);
	ASSERT_EQ(a->addrs[0].family, AF_INET);
	ASSERT_EQ(a->addrs[0].ttl, 300);
	ASSERT_EQ(a->addrs[1].ttl, 60);
	ASSERT_EQ(a->addrs[1].addr.s6_addr[3], 11);
}

TEST(dns_parse_cname_chain)
{
	struct msg m;
	struct dns_answer *a;
	int r;

	/* alias -> www -> web; c-ares' hostent would say www */
	start(&m, 0, 3, "alias.example.test", 1);
	rr_cname(&m, "alias.example.test", "www.example.test", 600);
	rr_cname(&m, "www.example.test", "web.example.test", 600);
	rr_a(&m, "web.example.test", "198.51.100.10", 600);
	a = parse(&m, &r);
	ASSERT_EQ(r, 0);
	ASSERT_STREQ(a->qname, "alias.example.test");
	ASSERT_STREQ(a->canonical, "web.example.test");
	ASSERT_EQ(a->n_addrs, 1);
}

TEST(dns_parse_cname_loop_ends)
{
	struct msg m;
	struct dns_answer *a;
	int r;

	/* a -> b -> a, and no address: no names, no endless walk */
	start(&m, 0, 2, "a.example.test", 1);
	rr_cname(&m, "a.example.test", "b.example.test", 60);
	rr_cname(&m, "b.example.test", "a.example.test", 60);
	a = parse(&m, &r);
	ASSERT_TRUE(r == 0 || r == -EBADMSG);
	ASSERT_EQ(a->n_addrs, 0);
}

TEST(dns_parse_aaaa)
{
	struct msg m;
	struct dns_answer *a;
	struct in6_addr v6;
	int r;

	inet_pton(AF_INET6, "2001:db8:100::10", &v6);
	start(&m, 0, 1, "web.example.test", 28);
	put16(&m, 0xc00c);
	put16(&m, 28);
	put16(&m, 1);
	put32(&m, 120);
	put16(&m, 16);
	memcpy(m.b + m.n, &v6, 16);
	m.n += 16;
	a = parse(&m, &r);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(a->n_addrs, 1);
	ASSERT_EQ(a->addrs[0].family, AF_INET6);
	ASSERT_EQ(memcmp(&a->addrs[0].addr, &v6, 16), 0);
}

TEST(dns_parse_zero_answers_and_nxdomain)
{
	struct msg m;
	struct dns_answer *a;
	int r;

	start(&m, 0, 0, "web.example.test", 1);
	a = parse(&m, &r);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(a->n_addrs, 0);
	start(&m, 3, 0, "nosuch.example.test", 1);
	a = parse(&m, &r);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(a->n_addrs, 0);
	ASSERT_STREQ(a->qname, "nosuch.example.test");
}

TEST(dns_parse_hundred_answers)
{
	struct msg m;
	struct dns_answer *a;
	char addr[32];
	int r;

	start(&m, 0, 100, "many.example.test", 1);
	for (int i = 0; i < 100; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		rr_a_ptr(&m, addr, 30);
	}
	a = parse(&m, &r);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(a->n_addrs, 100);
	ASSERT_EQ(a->addrs[99].addr.s6_addr[3], 99);
}

TEST(dns_parse_malformed)
{
	struct msg m, t;
	int r;

	/* a query, not a response */
	start(&m, 0, 1, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 300);
	m.b[2] &= 0x7f;
	parse(&m, &r);
	ASSERT_EQ(r, -EBADMSG);
	/* every truncation of a good answer: an error or fewer addresses */
	start(&m, 0, 2, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 300);
	rr_a_ptr(&m, "198.51.100.11", 300);
	for (size_t n = 0; n < m.n; n++) {
		struct dns_answer *a;

		t = m;
		t.n = n;
		a = parse(&t, &r);
		ASSERT_MSG(r == -EBADMSG || a->n_addrs < 2, "cut at %zu: %d addresses", n, a->n_addrs);
	}
	/* a compression pointer to itself (a loop) as the answer's owner */
	start(&m, 0, 1, "web.example.test", 1);
	put16(&m, 0xc000 | m.n);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0xc6336401);
	parse(&m, &r);
	ASSERT_EQ(r, -EBADMSG);
	/* a pointer beyond the message */
	start(&m, 0, 1, "web.example.test", 1);
	put16(&m, 0xc000 | 0x3fff);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put32(&m, 0xc6336401);
	parse(&m, &r);
	ASSERT_EQ(r, -EBADMSG);
	/* a question name that is a pointer loop */
	memset(&m, 0, sizeof(m));
	put16(&m, 1);
	put16(&m, 0x8180);
	put16(&m, 1);
	put16(&m, 0);
	put32(&m, 0);
	put16(&m, 0xc00c);
	put16(&m, 1);
	put16(&m, 1);
	parse(&m, &r);
	ASSERT_EQ(r, -EBADMSG);
	/* an rdlength past the end */
	start(&m, 0, 1, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 300);
	m.b[m.n - 5] = 0xff;
	parse(&m, &r);
	ASSERT_EQ(r, -EBADMSG);
}

static struct event conn(int family, const char *raddr, uint32_t netns, uint64_t boot_ns)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_STATE;
	ev.family = family;
	ev.proto = IPPROTO_TCP;
	ev.boot_ns = boot_ns;
	ev.wall_ns = boot_ns;
	ev.netns = netns;
	ev.rport = 443;
	ev.old_state = ST_TCP_CLOSE;
	ev.new_state = ST_TCP_SYN_SENT;
	inet_pton(family, raddr, &ev.raddr);
	return ev;
}

TEST(dns_names_ttl_netns_mapped)
{
	struct dnsnames *d = dnsnames__new(16);
	struct event a, c;
	struct msg m;

	ASSERT_NOT_NULL(d);
	start(&m, 0, 3, "alias.example.test", 1);
	rr_cname(&m, "alias.example.test", "www.example.test", 600);
	rr_cname(&m, "www.example.test", "web.example.test", 600);
	rr_a(&m, "web.example.test", "198.51.100.10", 5);
	a = answer(&m, 7, 100 * NS);
	ASSERT_EQ(dnsnames__learn(d, &a), 1);
	c = conn(AF_INET, "198.51.100.10", 7, 101 * NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "alias.example.test");
	ASSERT_STREQ(c.rname_canonical, "web.example.test");
	/* a dual-stack socket's IPv4-mapped peer */
	c = conn(AF_INET6, "::ffff:198.51.100.10", 7, 102 * NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	/* another namespace */
	c = conn(AF_INET, "198.51.100.10", 8, 102 * NS);
	ASSERT_FALSE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "");
	/* within TTL and grace, then after */
	c = conn(AF_INET, "198.51.100.10", 7, 100 * NS + 5 * NS + DNSNAMES_GRACE_NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	c = conn(AF_INET, "198.51.100.10", 7, 100 * NS + 5 * NS + DNSNAMES_GRACE_NS + 1);
	ASSERT_FALSE(dnsnames__name(d, &c));
	dnsnames__free(d);
}

/* An answer of 40 A records (674 bytes) as the kernel captured it, cut at
 * 512: the 29 records that came whole name their addresses; over TCP
 * (2 bytes of length first) too. */
TEST(dns_names_cut_answer)
{
	struct dnsnames *d = dnsnames__new(64);
	struct dnsnames_stats st;
	struct event a, c;
	struct msg m;
	char addr[32];

	ASSERT_NOT_NULL(d);
	start(&m, 0, 40, "web.example.test", 1);
	for (int i = 0; i < 40; i++) {
		snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		rr_a_ptr(&m, addr, 600);
	}
	ASSERT_EQ(m.n, 12 + 22 + 40 * 16);
	a = answer(&m, 5, NS);
	a.dns_len = m.n;
	ASSERT_EQ(a.dns_caplen, ST_DNS_CAP);
	ASSERT_EQ(dnsnames__learn(d, &a), 29);
	c = conn(AF_INET, "198.51.100.29", 5, 2 * NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "web.example.test");
	c = conn(AF_INET, "198.51.100.30", 5, 2 * NS);
	ASSERT_FALSE(dnsnames__name(d, &c));
	/* over TCP: the length says 674, the segment's capture holds 510 */
	memmove(m.b + 2, m.b, m.n);
	m.b[0] = m.n >> 8;
	m.b[1] = m.n & 0xff;
	m.n += 2;
	a = answer(&m, 6, NS);
	a.proto = IPPROTO_TCP;
	a.dns_len = m.n;
	ASSERT_EQ(dnsnames__learn(d, &a), 29);
	/* cut inside the question: nothing */
	a = answer(&m, 7, NS);
	a.proto = IPPROTO_TCP;
	a.dns_caplen = 2 + 20;
	ASSERT_EQ(dnsnames__learn(d, &a), -EBADMSG);
	dnsnames__stats(d, &st);
	ASSERT_EQ_U64(st.answers, 3);
	ASSERT_EQ_U64(st.unparsed, 1);
	dnsnames__free(d);
}

TEST(dns_names_per_cgroup)
{
	struct dnsnames *d = dnsnames__new(16);
	struct event a, c;
	struct msg m;

	/* two containers in one namespace resolve one address under two
	 * names; a third resolved nothing */
	ASSERT_NOT_NULL(d);
	start(&m, 0, 1, "alpha.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 600);
	a = answer(&m, 7, 10 * NS);
	a.cgroup_id = 100;
	ASSERT_EQ(dnsnames__learn(d, &a), 1);
	start(&m, 0, 1, "beta.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 600);
	a = answer(&m, 7, 11 * NS);
	a.cgroup_id = 200;
	ASSERT_EQ(dnsnames__learn(d, &a), 1);
	c = conn(AF_INET, "198.51.100.10", 7, 12 * NS);
	c.cgroup_id = 100;
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "alpha.example.test");
	c.cgroup_id = 200;
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "beta.example.test");
	/* no answer of its own, or no cgroup known: the namespace's latest */
	c.cgroup_id = 300;
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "beta.example.test");
	c.cgroup_id = 0;
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "beta.example.test");
	/* the cgroup's own name does not cross namespaces */
	c = conn(AF_INET, "198.51.100.10", 8, 12 * NS);
	c.cgroup_id = 100;
	ASSERT_FALSE(dnsnames__name(d, &c));
	dnsnames__free(d);
}

TEST(dns_names_lru_evicts)
{
	struct dnsnames *d = dnsnames__new(2);
	struct dnsnames_stats st;
	struct event a, c;
	struct msg m;
	char name[64], addr[32];

	ASSERT_NOT_NULL(d);
	for (int i = 1; i <= 3; i++) {
		snprintf(name, sizeof(name), "h%d.example.test", i);
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		start(&m, 0, 1, name, 1);
		rr_a_ptr(&m, addr, 600);
		a = answer(&m, 1, i * NS);
		ASSERT_EQ(dnsnames__learn(d, &a), 1);
		if (i == 2) {
			/* h1 used: h2 is then the least recently used */
			c = conn(AF_INET, "203.0.113.1", 1, 2 * NS);
			ASSERT_TRUE(dnsnames__name(d, &c));
		}
	}
	c = conn(AF_INET, "203.0.113.2", 1, 4 * NS);
	ASSERT_FALSE(dnsnames__name(d, &c));
	c = conn(AF_INET, "203.0.113.1", 1, 4 * NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	c = conn(AF_INET, "203.0.113.3", 1, 4 * NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	dnsnames__stats(d, &st);
	ASSERT_EQ_U64(st.evictions, 1);
	ASSERT_EQ_U64(st.answers, 3);
	ASSERT_EQ_U64(st.named, 3);
	dnsnames__free(d);
}

/* A sink that keeps what it is shown. */
struct keep {
	struct sink base;
	struct event evs[8];
	int n;
};

static int keep__event(struct sink *s, const struct event *ev)
{
	struct keep *k = (struct keep *)s;

	if (k->n < 8)
		k->evs[k->n++] = *ev;
	return 0;
}

static void keep__free(struct sink *s)
{
	(void)s;
}

static const struct sink_ops keep_ops = { .event = keep__event, .free = keep__free };

TEST(dns_pipeline_names_before_filter)
{
	struct keep shown = { .base.ops = &keep_ops }, rec = { .base.ops = &keep_ops };
	struct dnsnames *d = dnsnames__new(16);
	struct pipeline p;
	struct filter f;
	struct event a, c;
	struct msg m;
	char err[256];

	ASSERT_NOT_NULL(d);
	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__parse(&f, "host web.example.test", err, sizeof(err)), 0);
	pipeline__init(&p, &f, 0);
	pipeline__set_names(&p, d, false);
	ASSERT_EQ(pipeline__add_sink(&p, &shown.base), 0);
	pipeline__set_recorder(&p, &rec.base);
	start(&m, 0, 1, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 600);
	/* the answer matches no filter, and is recorded all the same */
	a = answer(&m, 3, 10 * NS);
	ASSERT_EQ(pipeline__push(&p, &a), 0);
	c = conn(AF_INET, "198.51.100.10", 3, 11 * NS);
	ASSERT_EQ(pipeline__push(&p, &c), 0);
	c = conn(AF_INET, "198.51.100.11", 3, 12 * NS);
	ASSERT_EQ(pipeline__push(&p, &c), 0);
	ASSERT_EQ(shown.n, 1);
	ASSERT_STREQ(shown.evs[0].rname, "web.example.test");
	ASSERT_EQ(rec.n, 2);
	ASSERT_EQ(rec.evs[0].kind, EVENT_DNS_ANSWER);
	/* -n: the filter still matches the name, which is not shown */
	pipeline__set_names(&p, d, true);
	c = conn(AF_INET, "198.51.100.10", 3, 13 * NS);
	ASSERT_EQ(pipeline__push(&p, &c), 0);
	ASSERT_EQ(shown.n, 2);
	ASSERT_STREQ(shown.evs[1].rname, "");
	p.n_sinks = 0;
	p.recorder = NULL;
	pipeline__free(&p);
	filter__free(&f);
	dnsnames__free(d);
}

TEST(dns_record_round_trip)
{
	uint8_t buf[REC_RECORD_MAX];
	struct clock_ref ref = { .boot_ns = 0, .wall_ns = 0 };
	struct event a, back;
	struct msg m;
	size_t n;

	start(&m, 0, 1, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 600);
	a = answer(&m, 4026531840u, 5 * NS);
	a.cgroup_id = 0x1234567890ull;
	a.sock = 0xffff888100dd24c0ull;
	a.lport = 42951;
	inet_pton(AF_INET, "192.0.2.1", &a.raddr);
	inet_pton(AF_INET, "192.0.2.2", &a.laddr);
	n = rec__encode_event(buf, &a);
	ASSERT_EQ(n, 4 + REC_DNS_LEN + m.n + REC_DNS_TRAILER_LEN);
	ASSERT_EQ(rec__get16(buf), REC_DNS_ANSWER);
	ASSERT_EQ(rec__get16(buf + 2), n - 4);
	ASSERT_EQ(rec__decode_event(&back, REC_DNS_ANSWER, buf + 4, n - 4, &ref), 0);
	ASSERT_EQ(back.kind, EVENT_DNS_ANSWER);
	ASSERT_EQ(back.netns, 4026531840u);
	ASSERT_EQ_U64(back.cgroup_id, 0x1234567890ull);
	ASSERT_EQ(back.dns_caplen, m.n);
	ASSERT_EQ(memcmp(back.dns, m.b, m.n), 0);
	ASSERT_EQ(memcmp(&back.raddr, &a.raddr, 16), 0);
	ASSERT_EQ_U64(back.sock, a.sock);
	ASSERT_EQ(back.lport, 42951);
	ASSERT_EQ(memcmp(&back.laddr, &a.laddr, 16), 0);
	/* a 1.6 body, without the socket: its cgroup, no socket */
	ASSERT_EQ(rec__decode_event(&back, REC_DNS_ANSWER, buf + 4, n - 4 - REC_DNS_SOCK_LEN,
				    &ref), 0);
	ASSERT_EQ_U64(back.cgroup_id, 0x1234567890ull);
	ASSERT_EQ_U64(back.sock, 0);
	ASSERT_EQ(back.lport, 0);
	/* a 1.5 body, without the cgroup: the answer is the namespace's */
	ASSERT_EQ(rec__decode_event(&back, REC_DNS_ANSWER, buf + 4, n - 4 - REC_DNS_TRAILER_LEN,
				    &ref), 0);
	ASSERT_EQ_U64(back.cgroup_id, 0);
	ASSERT_EQ(memcmp(back.dns, m.b, m.n), 0);
	/* a query: its own record type, the same body */
	a.kind = EVENT_DNS_QUERY;
	ASSERT_EQ(rec__encode_event(buf, &a), n);
	ASSERT_EQ(rec__get16(buf), REC_DNS_QUERY);
	ASSERT_EQ(rec__decode_event(&back, REC_DNS_QUERY, buf + 4, n - 4, &ref), 0);
	ASSERT_EQ(back.kind, EVENT_DNS_QUERY);
	ASSERT_EQ_U64(back.sock, a.sock);
	/* a body shorter than its payload length, a payload above the bound */
	ASSERT_EQ(rec__decode_event(&back, REC_DNS_ANSWER, buf + 4,
				    n - 5 - REC_DNS_TRAILER_LEN, &ref), -EINVAL);
	rec__put16(buf + 4 + 16, ST_DNS_CAP + 1);
	ASSERT_EQ(rec__decode_event(&back, REC_DNS_ANSWER, buf + 4, n - 4, &ref), -EINVAL);
}

TEST(dns_names_over_tcp)
{
	struct dnsnames *d = dnsnames__new(16);
	struct dnsnames_stats st;
	struct event a, c;
	struct msg m;

	ASSERT_NOT_NULL(d);
	start(&m, 0, 1, "web.example.test", 1);
	rr_a_ptr(&m, "198.51.100.10", 600);
	/* a segment's payload: the 2-byte length, then the message */
	memmove(m.b + 2, m.b, m.n);
	m.b[0] = (m.n) >> 8;
	m.b[1] = (m.n) & 0xff;
	m.n += 2;
	a = answer(&m, 9, NS);
	a.proto = IPPROTO_TCP;
	ASSERT_EQ(dnsnames__learn(d, &a), 1);
	c = conn(AF_INET, "198.51.100.10", 9, 2 * NS);
	ASSERT_TRUE(dnsnames__name(d, &c));
	ASSERT_STREQ(c.rname, "web.example.test");
	/* a segment in the middle of a longer message, a lone length */
	a.dns_caplen = a.dns_len = 20;
	memset(a.dns, 0x41, 20);
	ASSERT_EQ(dnsnames__learn(d, &a), -EBADMSG);
	a.dns_caplen = a.dns_len = 1;
	ASSERT_EQ(dnsnames__learn(d, &a), -EBADMSG);
	dnsnames__stats(d, &st);
	ASSERT_EQ_U64(st.unparsed, 2);
	dnsnames__free(d);
}
