/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* DNS queries, a pipeline stage (--dns): each query a local socket sent
 * (EVENT_DNS_QUERY) is matched to its answer (EVENT_DNS_ANSWER, same socket
 * and message id, same question), or times out. Derives one EVENT_DNS per
 * query with its owner, name, type, answer code, addresses and latency,
 * and at the end one EVENT_DNS_STATS per name.
 *
 * The kernel sees a query leave without knowing its process: the owner is
 * the socket's, as the UDP flow or TCP transitions of the same socket told
 * it (in process context). A flow's first datagram is reported after its
 * send returns, so after the query, and may come after the answer: an
 * answer whose socket's owner is not known yet waits for it as long as a
 * query waits for its answer, or until the socket closes. */
#ifndef ST_DNSQUERIES_H
#define ST_DNSQUERIES_H

#include <stdint.h>
#include "event.h"
#include "pipeline.h"

#define DNSQUERIES_MAX_PENDING 16384	/* queries awaiting an answer at once */
#define DNSQUERIES_MAX_NAMES 4096	/* rows of the table; later names are counted apart */

struct dnsqueries_stats {
	uint64_t queries;	/* queries seen (retransmits of one id count once) */
	uint64_t unparsed;	/* queries whose question did not parse (answers':
				 * dnsnames_stats) */
	uint64_t unmatched;	/* answers to no query seen (sent before tracing) */
	uint64_t dropped;	/* queries forgotten for room before they ended */
	uint64_t untabled;	/* queries of names beyond the table's rows */
};

struct dnsqueries;

/* A stage: a query without an answer after timeout_ns times out. NULL and
 * errno on failure. */
struct dnsqueries *dnsqueries__new(uint64_t timeout_ns);
/* The stage to add to a pipeline, which then owns (and frees) it. */
struct stage *dnsqueries__stage(struct dnsqueries *q);
/* Takes DNS queries and answers; others are ignored. */
int dnsqueries__feed(struct dnsqueries *q, const struct event *ev);
/* Takes the owners of sockets from UDP flows and TCP events, whatever the
 * filter keeps (a query's outcome is filtered on its own); others are
 * ignored. Returns 1 for an event of a socket with queries, which a
 * recording keeps whatever the filter (a replay learns the same owner),
 * else 0 or -errno. */
int dnsqueries__observe(struct dnsqueries *q, const struct event *ev);
/* Emits the timeouts due by now_wall on the source's clock, and answers
 * that waited as long for their owner. */
int dnsqueries__tick(struct dnsqueries *q, uint64_t now_wall);
/* Emits what is left: answers still waiting for an owner, and queries
 * still waiting for an answer (outcome "pending"); then the per-name table. */
int dnsqueries__finish(struct dnsqueries *q, uint64_t now_wall);
void dnsqueries__stats(const struct dnsqueries *q, struct dnsqueries_stats *st);
void dnsqueries__free(struct dnsqueries *q);

#endif /* ST_DNSQUERIES_H */
