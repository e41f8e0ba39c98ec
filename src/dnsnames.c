// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <ares.h>
#include "dnsnames.h"

#define DNS_HDR_LEN 12
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define NIL UINT32_MAX

/* cgroup_id 0: the namespace's latest answer, whoever received it */
struct name_key {
	uint32_t netns;
	uint32_t family;
	uint64_t cgroup_id;
	struct in6_addr addr;
};

struct name_entry {
	struct name_key key;
	uint64_t expires_ns;	/* boot ns: the answer's time, TTL and grace */
	uint32_t next;		/* in its hash chain, or in the free list */
	uint32_t lru_prev, lru_next;	/* most recently used at the head */
	char name[EVENT_NAME_MAX + 1];
	char canonical[EVENT_NAME_MAX + 1];	/* "" when it is name */
};

struct dnsnames {
	uint32_t capacity;
	uint32_t n_buckets;	/* a power of two */
	uint32_t *buckets;
	struct name_entry *entries;
	uint32_t free_head;	/* entries removed, to reuse first */
	uint32_t n_used;	/* entries[] taken so far: the rest is untouched memory */
	uint32_t lru_head, lru_tail;
	struct dnsnames_stats st;
};

struct dnsnames *dnsnames__new(uint32_t capacity)
{
	struct dnsnames *d;

	if (!capacity) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->capacity = capacity;
	d->n_buckets = 16;
	while (d->n_buckets < capacity * 2ull && d->n_buckets < (1u << 30))
		d->n_buckets <<= 1;
	d->buckets = malloc(sizeof(*d->buckets) * d->n_buckets);
	d->entries = calloc(capacity, sizeof(*d->entries));
	if (!d->buckets || !d->entries) {
		dnsnames__free(d);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < d->n_buckets; i++)
		d->buckets[i] = NIL;
	/* entries are taken in order: a table that stays small touches
	 * (and so costs resident memory for) only what it holds */
	d->free_head = NIL;
	d->lru_head = d->lru_tail = NIL;
	return d;
}

void dnsnames__free(struct dnsnames *d)
{
	if (!d)
		return;
	free(d->buckets);
	free(d->entries);
	free(d);
}

/* Copies a name c-ares expanded, cut to the longest a DNS name can be;
 * a byte that is not printable ASCII (c-ares passes some through) becomes
 * '?', so that a name is plain text in every output. */
static void name_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, EVENT_NAME_MAX);

	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] > 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[n] = '\0';
}

#define DNS_TYPE_CNAME 5
#define DNS_MAX_CNAMES 16	/* links followed; a longer chain ends there */

struct cname_link {
	char owner[EVENT_NAME_MAX + 1];
	char target[EVENT_NAME_MAX + 1];
};

/* Where the CNAME chain from qname ends. c-ares 1.18's hostent does not
 * say: its h_name is the first link's target, and its aliases the owners
 * (alias -> www -> web gives h_name www). So the answer section is walked
 * here, with c-ares' name expansion (compression pointers, their loops and
 * bounds) and a bounds check on every fixed field. Returns 0 or -EBADMSG. */
static int cname_chain(const uint8_t *msg, int len, int off, int ancount, const char *qname,
		       char *canonical)
{
	struct cname_link links[DNS_MAX_CNAMES];
	int n = 0;
	const char *cur = qname;

	for (int i = 0; i < ancount; i++) {
		unsigned char *owner, *target;
		long enclen;
		int type, rdlen;

		if (off >= len ||
		    ares_expand_name(msg + off, msg, len, (char **)&owner, &enclen) != ARES_SUCCESS)
			return -EBADMSG;
		off += enclen;
		if (off + 10 > len) {
			ares_free_string(owner);
			return -EBADMSG;
		}
		type = msg[off] << 8 | msg[off + 1];
		rdlen = msg[off + 8] << 8 | msg[off + 9];
		off += 10;
		if (off + rdlen > len) {
			ares_free_string(owner);
			return -EBADMSG;
		}
		if (type == DNS_TYPE_CNAME && n < DNS_MAX_CNAMES &&
		    ares_expand_name(msg + off, msg, len, (char **)&target, &enclen) == ARES_SUCCESS) {
			name_copy(links[n].owner, (const char *)owner);
			name_copy(links[n].target, (const char *)target);
			n++;
			ares_free_string(target);
		}
		ares_free_string(owner);
		off += rdlen;
	}
	/* each link once at most: a loop ends */
	for (int step = 0; step < n; step++) {
		int j;

		for (j = 0; j < n && strcasecmp(links[j].owner, cur); j++)
			;
		if (j == n)
			break;
		cur = links[j].target;
	}
	name_copy(canonical, cur);
	return 0;
}

int dnsnames__parse(const uint8_t *msg, size_t len, struct dns_answer *out)
{
	struct ares_addrttl a4[DNSNAMES_MAX_ADDRS];
	struct ares_addr6ttl a6[DNSNAMES_MAX_ADDRS];
	int n = DNSNAMES_MAX_ADDRS, status, qtype;
	struct hostent *host = NULL;
	unsigned char *qname;
	long enclen;

	out->qname[0] = out->canonical[0] = '\0';
	out->n_addrs = 0;
	/* a response (QR) to one question */
	if (len < DNS_HDR_LEN || len > INT_MAX || !(msg[2] & 0x80) ||
	    msg[4] != 0 || msg[5] != 1)
		return -EBADMSG;
	if (ares_expand_name(msg + DNS_HDR_LEN, msg, (int)len, (char **)&qname, &enclen) !=
	    ARES_SUCCESS)
		return -EBADMSG;
	name_copy(out->qname, (const char *)qname);
	ares_free_string(qname);
	if (enclen < 1 || DNS_HDR_LEN + (size_t)enclen + 4 > len)
		return -EBADMSG;
	qtype = msg[DNS_HDR_LEN + enclen] << 8 | msg[DNS_HDR_LEN + enclen + 1];
	/* NXDOMAIN, SERVFAIL...: no addresses */
	if ((msg[3] & 0x0f) != 0 || (qtype != DNS_TYPE_A && qtype != DNS_TYPE_AAAA))
		return 0;
	if (qtype == DNS_TYPE_A)
		status = ares_parse_a_reply(msg, (int)len, &host, a4, &n);
	else
		status = ares_parse_aaaa_reply(msg, (int)len, &host, a6, &n);
	if (status == ARES_ENODATA || status == ARES_ENOTFOUND)
		return 0;
	if (status != ARES_SUCCESS) {
		if (host)
			ares_free_hostent(host);
		return -EBADMSG;
	}
	if (host)
		ares_free_hostent(host);
	if (cname_chain(msg, (int)len, DNS_HDR_LEN + enclen + 4, msg[6] << 8 | msg[7],
			out->qname, out->canonical))
		return -EBADMSG;
	for (int i = 0; i < n && i < DNSNAMES_MAX_ADDRS; i++) {
		struct dns_addr *a = &out->addrs[out->n_addrs++];

		memset(a, 0, sizeof(*a));
		if (qtype == DNS_TYPE_A) {
			a->family = AF_INET;
			memcpy(&a->addr, &a4[i].ipaddr, 4);
			a->ttl = a4[i].ttl < 0 ? 0 : (uint32_t)a4[i].ttl;
		} else {
			a->family = AF_INET6;
			memcpy(&a->addr, &a6[i].ip6addr, 16);
			a->ttl = a6[i].ttl < 0 ? 0 : (uint32_t)a6[i].ttl;
		}
	}
	return 0;
}

/* An IPv4-mapped IPv6 address (a dual-stack socket's IPv4 peer) is the
 * IPv4 address a DNS A record gave. */
static void key_make(struct name_key *k, uint32_t netns, uint64_t cgroup_id, int family,
		     const struct in6_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->netns = netns;
	k->cgroup_id = cgroup_id;
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a)) {
		k->family = AF_INET;
		memcpy(&k->addr, &a->s6_addr[12], 4);
	} else {
		k->family = family;
		memcpy(&k->addr, a, family == AF_INET ? 4 : 16);
	}
}

static uint32_t key_hash(const struct name_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void lru_unlink(struct dnsnames *d, uint32_t i)
{
	struct name_entry *e = &d->entries[i];

	if (e->lru_prev != NIL)
		d->entries[e->lru_prev].lru_next = e->lru_next;
	else
		d->lru_head = e->lru_next;
	if (e->lru_next != NIL)
		d->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		d->lru_tail = e->lru_prev;
}

static void lru_push(struct dnsnames *d, uint32_t i)
{
	struct name_entry *e = &d->entries[i];

	e->lru_prev = NIL;
	e->lru_next = d->lru_head;
	if (d->lru_head != NIL)
		d->entries[d->lru_head].lru_prev = i;
	d->lru_head = i;
	if (d->lru_tail == NIL)
		d->lru_tail = i;
}

/* The entry of k, or NIL; *link is the chain slot that points at it. */
static uint32_t find(struct dnsnames *d, const struct name_key *k, uint32_t **link)
{
	uint32_t *l = &d->buckets[key_hash(k) & (d->n_buckets - 1)];

	while (*l != NIL && memcmp(&d->entries[*l].key, k, sizeof(*k)))
		l = &d->entries[*l].next;
	*link = l;
	return *l;
}

static void remove_entry(struct dnsnames *d, uint32_t i)
{
	uint32_t *link;

	find(d, &d->entries[i].key, &link);
	*link = d->entries[i].next;
	lru_unlink(d, i);
	d->entries[i].next = d->free_head;
	d->free_head = i;
}

static void insert(struct dnsnames *d, const struct name_key *k, uint64_t expires_ns,
		   const char *name, const char *canonical)
{
	struct name_entry *e;
	uint32_t *link, i = find(d, k, &link);

	if (i == NIL) {
		if (d->free_head == NIL && d->n_used == d->capacity) {
			/* full: the least recently used goes */
			remove_entry(d, d->lru_tail);
			d->st.evictions++;
			find(d, k, &link);
		}
		if (d->free_head != NIL) {
			i = d->free_head;
			d->free_head = d->entries[i].next;
		} else {
			i = d->n_used++;
		}
		e = &d->entries[i];
		e->key = *k;
		e->next = *link;
		*link = i;
	} else {
		lru_unlink(d, i);
	}
	e = &d->entries[i];
	lru_push(d, i);
	e->expires_ns = expires_ns;
	name_copy(e->name, name);
	if (strcasecmp(name, canonical))
		name_copy(e->canonical, canonical);
	else
		e->canonical[0] = '\0';
}

/* A message cut at len (by the capture bound, or a TCP segment that holds
 * the start of a longer answer) into out: the header and question, then
 * the answer records that arrived whole, with the counts set to match (the
 * authority and additional sections go), so that the reply parsers take
 * what is there. Returns out's length, or 0 when not even the question
 * arrived whole. */
static size_t dns_keep_whole(const uint8_t *msg, size_t len, uint8_t *out)
{
	int ancount, n, off, end, rdlen;
	unsigned char *name;
	long enclen;

	if (len < DNS_HDR_LEN || len > ST_DNS_CAP ||
	    ares_expand_name(msg + DNS_HDR_LEN, msg, (int)len, (char **)&name, &enclen) !=
	    ARES_SUCCESS)
		return 0;
	ares_free_string(name);
	off = end = DNS_HDR_LEN + (int)enclen + 4;
	if (end > (int)len)
		return 0;
	ancount = msg[6] << 8 | msg[7];
	for (n = 0; n < ancount; n++) {
		if (ares_expand_name(msg + off, msg, (int)len, (char **)&name, &enclen) !=
		    ARES_SUCCESS)
			break;
		ares_free_string(name);
		off += (int)enclen;
		if (off + 10 > (int)len)
			break;
		rdlen = msg[off + 8] << 8 | msg[off + 9];
		off += 10 + rdlen;
		if (off > (int)len)
			break;
		end = off;
	}
	memcpy(out, msg, end);
	out[6] = n >> 8;
	out[7] = n & 0xff;
	memset(out + 8, 0, 4);
	return end;
}

size_t dnsnames__message(const struct event *ev, uint8_t *whole, const uint8_t **msg)
{
	size_t len = ev->dns_caplen, mlen = ev->dns_len;

	*msg = ev->dns;
	/* over TCP a message follows its 2-byte length; a segment that holds
	 * the rest of a longer message does not parse */
	if (ev->proto == IPPROTO_TCP) {
		mlen = len >= 2 ? (size_t)(ev->dns[0] << 8 | ev->dns[1]) : 0;
		*msg += 2;
		len = len < 2 ? 0 : mlen < len - 2 ? mlen : len - 2;
	}
	/* cut: the records that came whole */
	if (len < mlen && ev->kind == EVENT_DNS_ANSWER) {
		len = dns_keep_whole(*msg, len, whole);
		*msg = whole;
	}
	return len;
}

int dnsnames__question(const uint8_t *msg, size_t len, char *qname, uint16_t *qtype)
{
	unsigned char *name;
	long enclen;

	qname[0] = '\0';
	if (len < DNS_HDR_LEN || len > INT_MAX || msg[4] != 0 || msg[5] != 1 ||
	    ares_expand_name(msg + DNS_HDR_LEN, msg, (int)len, (char **)&name, &enclen) !=
	    ARES_SUCCESS)
		return -EBADMSG;
	name_copy(qname, (const char *)name);
	ares_free_string(name);
	if (enclen < 1 || DNS_HDR_LEN + (size_t)enclen + 4 > len)
		return -EBADMSG;
	*qtype = msg[DNS_HDR_LEN + enclen] << 8 | msg[DNS_HDR_LEN + enclen + 1];
	return 0;
}

int dnsnames__learn(struct dnsnames *d, const struct event *ev)
{
	uint8_t whole[ST_DNS_CAP];
	const uint8_t *msg;
	size_t len = dnsnames__message(ev, whole, &msg);
	struct dns_answer *a;
	int n;

	d->st.answers++;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (dnsnames__parse(msg, len, a)) {
		d->st.unparsed++;
		free(a);
		return -EBADMSG;
	}
	for (int i = 0; i < a->n_addrs; i++) {
		uint64_t expires = ev->boot_ns + a->addrs[i].ttl * 1000000000ull + DNSNAMES_GRACE_NS;
		struct name_key k;

		/* the receiver's cgroup's own name first, then the namespace's */
		key_make(&k, ev->netns, 0, a->addrs[i].family, &a->addrs[i].addr);
		insert(d, &k, expires, a->qname, a->canonical);
		if (ev->cgroup_id) {
			k.cgroup_id = ev->cgroup_id;
			insert(d, &k, expires, a->qname, a->canonical);
		}
	}
	n = a->n_addrs;
	d->st.named += n;
	free(a);
	return n;
}

bool dnsnames__wants(const struct event *ev)
{
	switch (ev->kind) {
	case EVENT_TCP_STATE:
	case EVENT_TCP_SOCKET:
	case EVENT_SYN_RETRANS:
	case EVENT_CONNECT:
	case EVENT_SYN_ALERT:
	case EVENT_UDP_FLOW:
	case EVENT_UDP_SOCKET:
	case EVENT_TCP_CONN:
		return true;
	default:
		return false;
	}
}

/* The live entry of k at time now, or NIL; an expired one goes. */
static uint32_t lookup_key(struct dnsnames *d, const struct name_key *k, uint64_t now)
{
	uint32_t *link, i = find(d, k, &link);

	if (i == NIL)
		return NIL;
	if (now > d->entries[i].expires_ns) {
		remove_entry(d, i);
		return NIL;
	}
	lru_unlink(d, i);
	lru_push(d, i);
	return i;
}

/* The name of ev's remote address: the one an answer to the owner's cgroup
 * gave (two containers sharing a namespace may resolve one address under
 * different names), else the namespace's latest. NIL when none is live. */
static uint32_t lookup(struct dnsnames *d, const struct event *ev)
{
	struct name_key k;
	uint32_t i;

	/* most events, on a host that resolved nothing lately: no hashing */
	if (d->lru_head == NIL || (ev->family != AF_INET && ev->family != AF_INET6))
		return NIL;
	key_make(&k, ev->netns, ev->cgroup_id, ev->family, &ev->raddr);
	if (ev->cgroup_id && (i = lookup_key(d, &k, ev->boot_ns)) != NIL)
		return i;
	k.cgroup_id = 0;
	return lookup_key(d, &k, ev->boot_ns);
}

const char *dnsnames__find(struct dnsnames *d, const struct event *ev, const char **canonical)
{
	uint32_t i = lookup(d, ev);

	if (i == NIL)
		return NULL;
	*canonical = d->entries[i].canonical;
	return d->entries[i].name;
}

bool dnsnames__name(struct dnsnames *d, struct event *ev)
{
	const char *canonical, *name = dnsnames__find(d, ev, &canonical);

	ev->rname[0] = ev->rname_canonical[0] = '\0';
	if (!name)
		return false;
	strcpy(ev->rname, name);
	strcpy(ev->rname_canonical, canonical);
	return true;
}

void dnsnames__stats(const struct dnsnames *d, struct dnsnames_stats *st)
{
	*st = d->st;
}
