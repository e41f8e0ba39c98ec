// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dnsnames.h"
#include "dnsqueries.h"
#include "hist.h"

#define QUERY_BUCKETS 4096
#define OWNER_SLOTS 16384	/* a direct-mapped cache: a collision forgets, never mixes */
#define NAME_BUCKETS 1024

#define DNS_HDR_LEN 12
#define DNS_QR 0x80		/* in the third byte: a response */
#define DNS_TC 0x02		/* in the third byte: truncated */

/* Who owns a socket, as an event in process context told. */
struct owner {
	uint64_t sock;		/* 0: a free slot */
	uint32_t netns;
	uint32_t pid, tid, vpid;
	uint64_t cgroup_id;
	const struct cgroup_info *cg;
	uint8_t owner_src;
	char comm[TASK_COMM_LEN + 1];
};

struct query {
	struct query *hnext;		/* its hash chain, by socket and id */
	struct query *snext;		/* its socket's chain */
	struct query *prev, *next;	/* in pending (by first send) or held */
	bool answered;			/* then in held, waiting for its owner */
	bool owned;			/* the owner fields are set */
	bool cached;			/* from before the query: the socket's next
					 * flow start names its sender instead */
	uint64_t first_wall;
	uint64_t due;			/* held: when it goes without an owner */
	struct event ev;		/* the EVENT_DNS it becomes */
};

struct query_list {
	struct query *head, *tail;
};

struct name_row {
	struct name_row *next;
	char qname[EVENT_NAME_MAX + 1];
	uint16_t qtype;
	uint64_t queries, answered, errors, timeouts;
	struct hist *latency;	/* of the answered ones, allocated at the first */
};

struct dnsqueries {
	struct stage stage;	/* first: the pipeline hands back &stage */
	uint64_t timeout_ns;
	struct query *table[QUERY_BUCKETS];
	struct query *by_sock[QUERY_BUCKETS];
	struct query_list pending;	/* no answer yet, oldest first */
	struct query_list held;		/* answered, owner not known yet; by answer */
	size_t n_pending;
	struct owner *owners;		/* OWNER_SLOTS */
	struct name_row *names[NAME_BUCKETS];
	size_t n_names;
	struct dnsqueries_stats st;
};

static const struct stage_ops dnsqueries_ops;

struct dnsqueries *dnsqueries__new(uint64_t timeout_ns)
{
	struct dnsqueries *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->owners = calloc(OWNER_SLOTS, sizeof(*q->owners));
	if (!q->owners) {
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	q->stage.ops = &dnsqueries_ops;
	q->timeout_ns = timeout_ns;
	return q;
}

struct stage *dnsqueries__stage(struct dnsqueries *q)
{
	return &q->stage;
}

static uint64_t mix(uint64_t x)
{
	return x * 0x9e3779b97f4a7c15ull;
}

static struct query **bucket_of(struct dnsqueries *q, uint32_t netns, uint64_t sock, uint16_t id)
{
	return &q->table[mix(sock ^ ((uint64_t)netns << 16) ^ id) >> 52];
}

static struct query **sock_bucket_of(struct dnsqueries *q, uint64_t sock)
{
	return &q->by_sock[mix(sock) >> 52];
}

static void list_push(struct query_list *l, struct query *e)
{
	e->next = NULL;
	e->prev = l->tail;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static void list_unlink(struct query_list *l, struct query *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
}

/* ---- owners ---- */

static struct owner *owner_slot(struct dnsqueries *q, uint64_t sock)
{
	return &q->owners[mix(sock) >> 50];	/* 14 bits: OWNER_SLOTS */
}

static const struct owner *owner_find(struct dnsqueries *q, uint64_t sock, uint32_t netns)
{
	const struct owner *o = owner_slot(q, sock);

	return sock && o->sock == sock && o->netns == netns ? o : NULL;
}

static void owner_apply(struct event *ev, const struct owner *o)
{
	ev->pid = o->pid;
	ev->tid = o->tid;
	ev->vpid = o->vpid;
	ev->cgroup_id = o->cgroup_id;
	ev->cg = o->cg;
	ev->owner_src = o->owner_src;
	memcpy(ev->comm, o->comm, sizeof(ev->comm));
}

/* ---- the table ---- */

static struct name_row *row_of(struct dnsqueries *q, const char *qname, uint16_t qtype)
{
	uint32_t h = 2166136261u;
	struct name_row **b, *r;

	for (const char *c = qname; *c; c++)
		h = (h ^ (uint8_t)(*c | 0x20)) * 16777619u;
	b = &q->names[(h ^ qtype) % NAME_BUCKETS];
	for (r = *b; r; r = r->next)
		if (r->qtype == qtype && !strcasecmp(r->qname, qname))
			return r;
	if (q->n_names == DNSQUERIES_MAX_NAMES)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	strcpy(r->qname, qname);
	r->qtype = qtype;
	r->next = *b;
	*b = r;
	q->n_names++;
	return r;
}

static void row_count(struct dnsqueries *q, const struct dns_query *d)
{
	struct name_row *r = row_of(q, d->qname, d->qtype);

	if (!r) {
		q->st.untabled++;
		return;
	}
	r->queries++;
	if (d->outcome == DNS_OUTCOME_TIMEOUT)
		r->timeouts++;
	if (d->outcome != DNS_OUTCOME_ANSWERED)
		return;
	r->answered++;
	if (d->rcode)
		r->errors++;
	if (!r->latency)
		r->latency = calloc(1, sizeof(*r->latency));
	if (r->latency)
		hist__add(r->latency, d->latency_ns);
}

/* ---- queries ---- */

static void query_unhash(struct dnsqueries *q, struct query *e)
{
	struct query **l = bucket_of(q, e->ev.netns, e->ev.sock, e->ev.dnsq.id);

	while (*l != e)
		l = &(*l)->hnext;
	*l = e->hnext;
	for (l = sock_bucket_of(q, e->ev.sock); *l != e; l = &(*l)->snext)
		;
	*l = e->snext;
}

static void query_own(struct query *e, const struct owner *o)
{
	owner_apply(&e->ev, o);
	e->owned = true;
}

/* Emits e as it stands and forgets it. */
static int query_end(struct dnsqueries *q, struct query *e)
{
	int err;

	list_unlink(e->answered ? &q->held : &q->pending, e);
	if (!e->answered)
		q->n_pending--;
	query_unhash(q, e);
	/* the table sums what the filter keeps, as the lines do */
	if (pipeline__wants(q->stage.pl, &e->ev))
		row_count(q, &e->ev.dnsq);
	err = pipeline__emit(&q->stage, &e->ev);
	free(e);
	return err;
}

/* The query of ev's socket with message id id that asks qname and qtype
 * and has no answer yet. One socket may have two under one id (a resolver
 * that numbers each socket's queries from the same start). */
static struct query *query_find(struct dnsqueries *q, const struct event *ev, uint16_t id,
				const char *qname, uint16_t qtype)
{
	struct query *e;

	for (e = *bucket_of(q, ev->netns, ev->sock, id); e; e = e->hnext)
		if (e->ev.sock == ev->sock && e->ev.netns == ev->netns && e->ev.dnsq.id == id &&
		    e->ev.lport == ev->lport && !e->answered && e->ev.dnsq.qtype == qtype &&
		    !strcasecmp(e->ev.dnsq.qname, qname))
			return e;
	return NULL;
}

static int query_sent(struct dnsqueries *q, const struct event *ev, const uint8_t *msg,
		      size_t len)
{
	uint16_t id = msg[0] << 8 | msg[1], qtype;
	char qname[EVENT_NAME_MAX + 1];
	const struct owner *o;
	struct query *e, **b;

	/* a standard query (opcode 0) of one question */
	if ((msg[2] & DNS_QR) || (msg[2] & 0x78))
		return 0;
	if (dnsnames__question(msg, len, qname, &qtype)) {
		q->st.unparsed++;
		return 0;
	}
	e = query_find(q, ev, id, qname, qtype);
	if (e) {
		e->ev.dnsq.tries++;	/* sent again: the first try's time stays */
		return 0;
	}
	if (q->n_pending == DNSQUERIES_MAX_PENDING) {
		struct query *old = q->pending.head;

		list_unlink(&q->pending, old);
		query_unhash(q, old);
		q->n_pending--;
		q->st.dropped++;
		free(old);
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ev.kind = EVENT_DNS;
	e->ev.boot_ns = ev->boot_ns;
	e->ev.wall_ns = ev->wall_ns;
	e->ev.sock = ev->sock;
	e->ev.netns = ev->netns;
	e->ev.family = ev->family;
	e->ev.proto = ev->proto;
	e->ev.laddr = ev->laddr;
	e->ev.lport = ev->lport;
	e->ev.raddr = ev->raddr;
	e->ev.rport = ev->rport;
	e->ev.cgroup_id = ev->cgroup_id;	/* the socket's, until its owner is known */
	e->ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	e->ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	strcpy(e->ev.dnsq.qname, qname);
	e->ev.dnsq.qtype = qtype;
	e->ev.dnsq.id = id;
	e->ev.dnsq.tries = 1;
	e->first_wall = ev->wall_ns;
	b = bucket_of(q, ev->netns, ev->sock, id);
	e->hnext = *b;
	*b = e;
	b = sock_bucket_of(q, ev->sock);
	e->snext = *b;
	*b = e;
	/* a socket that sent before (glibc's A and AAAA share one) */
	if ((o = owner_find(q, ev->sock, ev->netns))) {
		query_own(e, o);
		e->cached = true;
	}
	list_push(&q->pending, e);
	q->n_pending++;
	q->st.queries++;
	return 0;
}

static int answer_received(struct dnsqueries *q, const struct event *ev, const uint8_t *msg,
			   size_t len)
{
	uint16_t id = msg[0] << 8 | msg[1], qtype;
	char qname[EVENT_NAME_MAX + 1];
	struct dns_answer *a;
	struct dns_query *d;
	struct query *e;

	if (!(msg[2] & DNS_QR))
		return 0;
	/* counted by dnsnames as well: dns_unparsed */
	if (dnsnames__question(msg, len, qname, &qtype))
		return 0;
	/* the same question: an answer to another query is not this one's */
	e = query_find(q, ev, id, qname, qtype);
	if (!e) {
		q->st.unmatched++;
		return 0;
	}
	d = &e->ev.dnsq;
	d->outcome = DNS_OUTCOME_ANSWERED;
	d->rcode = msg[3] & 0x0f;
	d->truncated = msg[2] & DNS_TC;
	d->latency_ns = ev->boot_ns > e->ev.boot_ns ? ev->boot_ns - e->ev.boot_ns : 0;
	e->ev.boot_ns = ev->boot_ns;
	e->ev.wall_ns = ev->wall_ns;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (!dnsnames__parse(msg, len, a)) {
		if (strcasecmp(a->canonical, a->qname))
			strcpy(d->canonical, a->canonical);
		d->n_addrs = a->n_addrs;
		for (int i = 0; i < a->n_addrs && i < EVENT_DNS_ADDRS; i++) {
			d->addrs[i].family = a->addrs[i].family;
			d->addrs[i].addr = a->addrs[i].addr;
		}
	}
	free(a);
	list_unlink(&q->pending, e);
	q->n_pending--;
	e->answered = true;
	list_push(&q->held, e);
	if (e->owned)
		return query_end(q, e);
	/* its socket's first datagram is reported after the send: wait, as
	 * long as a query waits for its answer, or until the socket closes */
	e->due = ev->wall_ns + q->timeout_ns;
	return 0;
}

/* An event in process context names its socket's owner, for the queries it
 * sent (it may close before they end); answers that waited for it go now,
 * and when the socket closes, with or without it. Returns 1 for an event a
 * recording needs whatever the filter, so that a replay learns the same
 * owners: one of a socket with queries, or one to port 53 (the queries'
 * sockets, and their ends, which forget an owner). */
static int owner_learn(struct dnsqueries *q, const struct event *ev)
{
	bool queried = false, gone, start;
	struct owner *o;
	int err = 0;

	if (!ev->sock)
		return 0;
	for (struct query *e = *sock_bucket_of(q, ev->sock); e && !queried; e = e->snext)
		queried = e->ev.sock == ev->sock && e->ev.netns == ev->netns;
	/* the socket is gone: its address may come back as another's */
	gone = (ev->kind == EVENT_UDP_FLOW && ev->flow_event == UDP_FLOW_END &&
		ev->end_reason == UDP_END_CLOSE) ||
	       (ev->kind == EVENT_TCP_STATE && ev->new_state == ST_TCP_CLOSE);
	/* a flow's first datagram: its process sent the query before it, even
	 * when the socket had another owner (shared, or its close went unseen) */
	start = ev->kind == EVENT_UDP_FLOW && ev->flow_event == UDP_FLOW_START;
	o = owner_slot(q, ev->sock);
	if (ev->pid) {
		o->sock = ev->sock;
		o->netns = ev->netns;
		o->pid = ev->pid;
		o->tid = ev->tid;
		o->vpid = ev->vpid;
		o->cgroup_id = ev->cgroup_id;
		o->cg = ev->cg;
		o->owner_src = ev->owner_src;
		memcpy(o->comm, ev->comm, sizeof(o->comm));
	}
	if (!queried)
		goto out;
	for (struct query *e = *sock_bucket_of(q, ev->sock), *next; e && !err; e = next) {
		next = e->snext;
		if (e->ev.sock != ev->sock || e->ev.netns != ev->netns)
			continue;
		if (ev->pid && (!e->owned || (e->cached && start && !e->answered))) {
			query_own(e, o);
			e->cached = false;
		}
		if (e->answered && (e->owned || gone))
			err = query_end(q, e);
	}
out:
	if (gone && o->sock == ev->sock)
		o->sock = 0;
	if (err)
		return err;
	return queried || ev->rport == 53;
}

int dnsqueries__feed(struct dnsqueries *q, const struct event *ev)
{
	uint8_t whole[ST_DNS_CAP];
	const uint8_t *msg;
	size_t len;

	switch (ev->kind) {
	case EVENT_DNS_QUERY:
	case EVENT_DNS_ANSWER:
		len = dnsnames__message(ev, whole, &msg);
		if (len < DNS_HDR_LEN) {
			q->st.unparsed += ev->kind == EVENT_DNS_QUERY;
			return 0;
		}
		return ev->kind == EVENT_DNS_QUERY ? query_sent(q, ev, msg, len) :
						     answer_received(q, ev, msg, len);
	default:
		return 0;
	}
}

int dnsqueries__observe(struct dnsqueries *q, const struct event *ev)
{
	switch (ev->kind) {
	case EVENT_UDP_FLOW:
	case EVENT_UDP_SOCKET:
	case EVENT_TCP_STATE:
	case EVENT_TCP_SOCKET:
		return owner_learn(q, ev);
	default:
		return 0;
	}
}

int dnsqueries__tick(struct dnsqueries *q, uint64_t now_wall)
{
	int err = 0;

	/* every query waits as long: the oldest falls due first */
	while (!err && q->pending.head && q->pending.head->first_wall + q->timeout_ns <= now_wall) {
		struct query *e = q->pending.head;

		e->ev.dnsq.outcome = DNS_OUTCOME_TIMEOUT;
		e->ev.dnsq.latency_ns = q->timeout_ns;
		e->ev.boot_ns += q->timeout_ns;
		e->ev.wall_ns += q->timeout_ns;
		err = query_end(q, e);
	}
	/* answers wait as long too, in the order they came */
	while (!err && q->held.head && q->held.head->due <= now_wall)
		err = query_end(q, q->held.head);
	return err;
}

static int row_cmp(const void *x, const void *y)
{
	const struct name_row *a = *(const struct name_row *const *)x;
	const struct name_row *b = *(const struct name_row *const *)y;
	int c;

	if (a->queries != b->queries)
		return a->queries < b->queries ? 1 : -1;
	c = strcasecmp(a->qname, b->qname);
	return c ? c : a->qtype - b->qtype;
}

int dnsqueries__finish(struct dnsqueries *q, uint64_t now_wall)
{
	struct event ev = { .kind = EVENT_DNS_STATS, .proto = IPPROTO_UDP, .wall_ns = now_wall };
	struct name_row **v;
	size_t n = 0;
	int err = 0;

	while (!err && q->held.head)
		err = query_end(q, q->held.head);
	while (!err && q->pending.head) {
		struct query *e = q->pending.head;

		e->ev.dnsq.outcome = DNS_OUTCOME_PENDING;
		e->ev.dnsq.latency_ns = 0;
		err = query_end(q, e);
	}
	if (err)
		return err;
	if (!q->n_names)
		return pipeline__emit(&q->stage, &ev);
	v = calloc(q->n_names, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t b = 0; b < NAME_BUCKETS; b++)
		for (struct name_row *r = q->names[b]; r; r = r->next)
			v[n++] = r;
	qsort(v, n, sizeof(*v), row_cmp);
	for (size_t i = 0; i < n && !err; i++) {
		struct dns_query *d = &ev.dnsq;

		strcpy(d->qname, v[i]->qname);
		d->qtype = v[i]->qtype;
		d->queries = v[i]->queries;
		d->answered = v[i]->answered;
		d->errors = v[i]->errors;
		d->timeouts = v[i]->timeouts;
		d->have_latency = v[i]->latency && v[i]->latency->count;
		d->latency_p50_ns = d->have_latency ? hist__quantile(v[i]->latency, 0.50) : 0;
		d->latency_p99_ns = d->have_latency ? hist__quantile(v[i]->latency, 0.99) : 0;
		err = pipeline__emit(&q->stage, &ev);
	}
	free(v);
	return err;
}

void dnsqueries__stats(const struct dnsqueries *q, struct dnsqueries_stats *st)
{
	*st = q->st;
}

void dnsqueries__free(struct dnsqueries *q)
{
	if (!q)
		return;
	for (struct query_list *l = &q->pending; l; l = l == &q->pending ? &q->held : NULL) {
		while (l->head) {
			struct query *e = l->head;

			l->head = e->next;
			free(e);
		}
	}
	for (size_t b = 0; b < NAME_BUCKETS; b++) {
		while (q->names[b]) {
			struct name_row *r = q->names[b];

			q->names[b] = r->next;
			free(r->latency);
			free(r);
		}
	}
	free(q->owners);
	free(q);
}

static int stage_event(struct stage *s, const struct event *ev)
{
	return dnsqueries__feed((struct dnsqueries *)s, ev);
}

static int stage_observe(struct stage *s, const struct event *ev)
{
	return dnsqueries__observe((struct dnsqueries *)s, ev);
}

static int stage_tick(struct stage *s, uint64_t now_wall)
{
	return dnsqueries__tick((struct dnsqueries *)s, now_wall);
}

static int stage_finish(struct stage *s, uint64_t now_wall)
{
	return dnsqueries__finish((struct dnsqueries *)s, now_wall);
}

static void stage_free(struct stage *s)
{
	dnsqueries__free((struct dnsqueries *)s);
}

static const struct stage_ops dnsqueries_ops = {
	.event = stage_event,
	.observe = stage_observe,
	.tick = stage_tick,
	.finish = stage_finish,
	.free = stage_free,
};
