/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names of remote addresses, from the DNS answers the host's processes
 * receive: address -> name per network namespace, and per receiving
 * socket's cgroup within it, for the answer's TTL and
 * a grace period, in a table of bounded size (least recently used first
 * out). Fed by EVENT_DNS_ANSWER source events, so replay rebuilds the same
 * names; the names themselves are derived, never recorded. */
#ifndef ST_DNSNAMES_H
#define ST_DNSNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

/* A name stays this long after its TTL ran out: a client connects a moment
 * after its cache entry expired, to the address it had. */
#define DNSNAMES_GRACE_NS (10ull * 1000000000ull)
/* Addresses taken from one answer; an answer has rarely more than a dozen. */
#define DNSNAMES_MAX_ADDRS 128

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	struct in6_addr addr;	/* IPv4 in the first 4 bytes */
	uint32_t ttl;		/* seconds, the least along its CNAME chain */
};

/* What one answer says. */
struct dns_answer {
	char qname[EVENT_NAME_MAX + 1];		/* the name asked */
	char canonical[EVENT_NAME_MAX + 1];	/* the end of its CNAME chain, or qname */
	int n_addrs;
	struct dns_addr addrs[DNSNAMES_MAX_ADDRS];
};

struct dnsnames_stats {
	uint64_t answers;	/* answers seen */
	uint64_t unparsed;	/* of which malformed, truncated or not a response */
	uint64_t named;		/* addresses learned */
	uint64_t evictions;	/* names dropped for room before they expired */
};

struct dnsnames;

/* A table of at most capacity names (1 or more). NULL and errno on failure. */
struct dnsnames *dnsnames__new(uint32_t capacity);
void dnsnames__free(struct dnsnames *d);
/* Parses one DNS message (an answer to an A or AAAA question) with c-ares'
 * reply parsers. Returns 0 (also for an answer without addresses:
 * NXDOMAIN, NODATA), or -EBADMSG for a message that does not parse. */
int dnsnames__parse(const uint8_t *msg, size_t len, struct dns_answer *out);
/* The DNS message of an EVENT_DNS_ANSWER or EVENT_DNS_QUERY in *msg (after a
 * TCP segment's length; an answer cut by the capture or its segment down to
 * the records that came whole, in whole[ST_DNS_CAP]). Returns its length. */
size_t dnsnames__message(const struct event *ev, uint8_t *whole, const uint8_t **msg);
/* The one question of a DNS message (query or answer): its name and type.
 * Returns 0 or -EBADMSG. */
int dnsnames__question(const uint8_t *msg, size_t len, char *qname, uint16_t *qtype);
/* Learns the addresses of an EVENT_DNS_ANSWER in its network namespace and
 * for its cgroup (ev->cgroup_id, the receiving socket's; 0 if unknown): two
 * entries of the table each. Returns the number learned, or -EBADMSG. */
int dnsnames__learn(struct dnsnames *d, const struct event *ev);
/* Whether an event of this kind has a remote address to name. */
bool dnsnames__wants(const struct event *ev);
/* Sets ev->rname (and rname_canonical) when ev->raddr was resolved in
 * ev->netns and its name had not expired at ev's time: the name an answer
 * to ev's owner's cgroup gave, else the namespace's latest; else clears
 * them. */
bool dnsnames__name(struct dnsnames *d, struct event *ev);
/* The name dnsnames__name() would give ev, and its canonical name ("" if
 * the same), valid until the table changes; NULL when none: most events
 * need no copy. */
const char *dnsnames__find(struct dnsnames *d, const struct event *ev, const char **canonical);
void dnsnames__stats(const struct dnsnames *d, struct dnsnames_stats *st);

#endif /* ST_DNSNAMES_H */
