// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the DNS answer parser (c-ares' reply parsers, as
 * dnsnames.c calls them), the name table behind it, and the query tracker
 * (dnsqueries.c): any bytes, as the kernel side captures them, must give
 * an answer or -EBADMSG without a crash, a hang or a sanitizer report.
 * Seeds: tests/fuzz/dns-seeds, real answers of dnsmasq. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dnsnames.h"
#include "dnsqueries.h"
#include "filter.h"
#include "pipeline.h"

#define SEC 1000000000ull
#define TIMEOUT (5 * SEC)

/* The input as the payload of a DNS message of socket 1, at t. */
static void dns_event(struct event *ev, enum event_kind kind, const uint8_t *data, size_t size,
		      uint64_t t)
{
	/* over TCP the message's header starts after its 2-byte length */
	size_t flags = data[0] & 1 ? 4 : 2;

	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->boot_ns = ev->wall_ns = t;
	ev->sock = 1;
	ev->netns = 1;
	ev->family = AF_INET;
	ev->proto = data[0] & 1 ? IPPROTO_TCP : IPPROTO_UDP;
	ev->lport = 40000;
	ev->rport = 53;
	ev->dns_caplen = size < ST_DNS_CAP ? size : ST_DNS_CAP;
	ev->dns_len = size < 0xffff ? size : 0xffff;
	memcpy(ev->dns, data, ev->dns_caplen);
	/* the query and the answer one bit apart (QR), so that they match */
	if (flags < ev->dns_caplen) {
		if (kind == EVENT_DNS_ANSWER)
			ev->dns[flags] |= 0x80;
		else
			ev->dns[flags] &= 0x7f;
	}
}

/* Socket 1's UDP flow, as pid 1 sent or closed it. */
static void flow_event(struct event *ev, int flow_event, uint64_t t)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = EVENT_UDP_FLOW;
	ev->flow_event = flow_event;
	ev->end_reason = flow_event == UDP_FLOW_END ? UDP_END_CLOSE : UDP_END_NONE;
	ev->boot_ns = ev->wall_ns = t;
	ev->sock = 1;
	ev->netns = 1;
	ev->pid = 1;
}

static void check(int err)
{
	/* no sink to fail: only an allocation can */
	if (err && err != -ENOMEM)
		abort();
}

static void push(struct pipeline *pl, const struct event *ev)
{
	check(pipeline__push(pl, ev));
}

/* dnsqueries__new() allocates a 1 MB owner cache, which costs ASan a
 * millisecond or two: one stage serves every input, and each input leaves
 * it as it found it. Its queries all end by the finish, the close of its
 * socket forgets the owner, and a filter no query passes keeps the
 * per-name table empty (a table of every name so far would make each
 * finish slower and each input depend on the ones before). */
static struct dnsqueries *stage_once(struct filter *f)
{
	static struct dnsqueries *q;

	if (!q) {
		q = dnsqueries__new(TIMEOUT);
		if (!q)
			abort();
		/* the owner of socket 1 is pid 1, or none */
		if (filter__add_pids(f, "2"))
			abort();
	}
	return q;
}

/* The input as a query (sent twice) and as its answer, the socket's owner
 * before or after the answer, then a tick past the timeout or not, and
 * the end of the source. */
static void dns_queries(const uint8_t *data, size_t size)
{
	static struct filter f;
	static struct pipeline pl;
	static struct event ev;
	struct dnsqueries *q = stage_once(&f);
	struct dnsqueries_stats before, after;
	bool owner_first = data[0] & 2;
	/* past the timeout, or not: then finish leaves a query pending or
	 * an answer waiting for its owner */
	uint64_t end = data[0] & 4 ? SEC + TIMEOUT + 1 : SEC + 4;

	dnsqueries__stats(q, &before);
	pipeline__init(&pl, &f, 0);
	if (pipeline__add_stage(&pl, dnsqueries__stage(q)))
		abort();
	dns_event(&ev, EVENT_DNS_QUERY, data, size, SEC);
	push(&pl, &ev);
	ev.boot_ns = ev.wall_ns = SEC + 1;
	push(&pl, &ev);
	for (int i = 0; i < 2; i++) {
		if (i == !owner_first)
			flow_event(&ev, UDP_FLOW_START, SEC + 2 + i);
		else
			dns_event(&ev, EVENT_DNS_ANSWER, data, size, SEC + 2 + i);
		push(&pl, &ev);
	}
	check(pipeline__tick(&pl, end));
	check(pipeline__finish(&pl, end + 1));
	/* the next input's socket 1 has no owner yet */
	flow_event(&ev, UDP_FLOW_END, end + 2);
	push(&pl, &ev);
	dnsqueries__stats(q, &after);
	/* one question asked, answered once at most, the table untouched */
	if (after.queries - before.queries > 1 || after.unmatched - before.unmatched > 1 ||
	    after.dropped || after.untabled)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event ev;
	struct dns_answer a;
	struct dnsnames *d;
	int n;

	if (dnsnames__parse(data, size, &a) == 0) {
		if (a.n_addrs < 0 || a.n_addrs > DNSNAMES_MAX_ADDRS ||
		    strlen(a.qname) > EVENT_NAME_MAX || strlen(a.canonical) > EVENT_NAME_MAX)
			abort();
	}
	if (size)
		dns_queries(data, size);
	/* the table, small enough to evict */
	d = dnsnames__new(4);
	if (!d)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_DNS_ANSWER;
	ev.netns = 1;
	ev.dns_caplen = size < ST_DNS_CAP ? size : ST_DNS_CAP;
	/* longer than the capture: the records that came whole are parsed */
	ev.dns_len = size < 0xffff ? size : 0xffff;
	memcpy(ev.dns, data, ev.dns_caplen);
	/* the first byte picks the transport: over TCP a 2-byte length comes first */
	ev.proto = size && (data[0] & 1) ? IPPROTO_TCP : IPPROTO_UDP;
	n = dnsnames__learn(d, &ev);
	if (n > 0) {
		ev.kind = EVENT_TCP_STATE;
		ev.family = AF_INET;
		(void)dnsnames__name(d, &ev);
	}
	dnsnames__free(d);
	return 0;
}
