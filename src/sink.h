/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Sinks render decoded events; the pipeline feeds every sink the same event. */
#ifndef ST_SINK_H
#define ST_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "event.h"
#include "services.h"

struct stats {
	uint64_t events;	/* events handed to the sinks */
	uint64_t snapshot;	/* of which startup snapshot entries */
	uint64_t filtered;	/* dropped by filters, kernel and userspace */
	uint64_t lost;		/* the kernel could not deliver them */
	uint64_t elapsed_ns;
	uint64_t udp_flows;		/* UDP flows started */
	uint64_t udp_uncounted;		/* datagrams not counted: flow table full */
	uint64_t udp_uncounted_bytes;
	uint64_t gaps;		/* transitions the kernel did not report (a socket's
				 * next one started from another state) */
	uint64_t missed;	/* runs of the BPF programs the kernel skipped */
	uint64_t dns_answers;	/* DNS answers seen (names) */
	uint64_t dns_unparsed;	/* of which malformed, or cut by the capture bound */
	uint64_t dns_evictions;	/* names dropped for room before they expired */
	uint64_t dns_lost;	/* answers the kernel could not deliver */
	uint64_t dns_truncated;	/* answers longer than the capture bound (cut) */
	uint64_t dns_queries;	/* --dns: queries seen, a retransmit once */
	uint64_t dns_queries_unparsed;	/* of which no question parsed */
	uint64_t dns_unmatched;	/* --dns: answers to no query seen */
};

struct sink;

struct sink_ops {
	int (*event)(struct sink *s, const struct event *ev);
	int (*flush)(struct sink *s);
	int (*summary)(struct sink *s, const struct stats *st);
	void (*free)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	FILE *out;
	const struct services *svc;
};

struct sink *sink_text__new(FILE *out, const struct services *svc);
struct sink *sink_json__new(FILE *out, const struct services *svc);
/* --cgroup-column: a CGROUP column after COMM. */
void sink_text__set_cgroup_column(struct sink *s, bool on);

static inline int sink__event(struct sink *s, const struct event *ev)
{
	return s->ops->event(s, ev);
}

static inline int sink__flush(struct sink *s)
{
	return s->ops->flush ? s->ops->flush(s) : 0;
}

static inline int sink__summary(struct sink *s, const struct stats *st)
{
	return s->ops->summary ? s->ops->summary(s, st) : 0;
}

static inline void sink__free(struct sink *s)
{
	if (s)
		s->ops->free(s);
}

enum service_side { SERVICE_NONE, SERVICE_LOCAL, SERVICE_REMOTE };

/* Which port names the service: the remote one for a client, the local one
 * for a server or listener, else the one /etc/services knows (lower first).
 * An ephemeral client port that happens to be registered stays unnamed.
 * UDP events have no role and are named from the "udp" entries by their
 * ports: 40000 -> 53 is the remote "domain", a server on 53 the local one. */
enum service_side sink__service(const struct services *svc, const struct event *ev,
				const char **name);

#endif /* ST_SINK_H */
