/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* source -> decode -> filter -> sinks. Sources push decoded events here;
 * nothing downstream knows which source an event came from. */
#ifndef ST_PIPELINE_H
#define ST_PIPELINE_H

#include <stdbool.h>
#include "filter.h"
#include "sink.h"

#define PIPELINE_MAX_SINKS 4

struct pipeline {
	const struct filter *filter;
	uint32_t kinds;		/* EVENT_KIND_BIT()s shown; others pass silently */
	struct sink *sinks[PIPELINE_MAX_SINKS];
	int n_sinks;
	uint64_t limit;		/* stop after this many live events, 0: none */
	uint64_t live_events;
	struct stats stats;
	bool done;		/* the limit was reached, or a sink failed */
	int err;		/* first sink error, e.g. -EPIPE */
	struct sink *failed;	/* the sink that returned it */
};

/* Shows transitions, existing sockets, SYN alerts and UDP flows by default. */
#define PIPELINE_KINDS_DEFAULT (EVENT_KIND_BIT(EVENT_TCP_STATE) | \
				EVENT_KIND_BIT(EVENT_TCP_SOCKET) | \
				EVENT_KIND_BIT(EVENT_SYN_ALERT) | \
				EVENT_KIND_BIT(EVENT_UDP_FLOW) | \
				EVENT_KIND_BIT(EVENT_UDP_SOCKET))
#define PIPELINE_KINDS_CONNECTS (EVENT_KIND_BIT(EVENT_CONNECT) | \
				 EVENT_KIND_BIT(EVENT_SYN_ALERT))

void pipeline__init(struct pipeline *p, const struct filter *f, uint64_t limit);
int pipeline__add_sink(struct pipeline *p, struct sink *s);
/* Returns 0, or the sink's -errno (the pipeline is then done). */
int pipeline__push(struct pipeline *p, const struct event *ev);
/* Whether the pipeline's filter lets ev through (its kind aside). */
bool pipeline__accepts(const struct pipeline *p, const struct event *ev);
/* Both return 0, or the first sink error, which ends the pipeline as in
 * pipeline__push: a write error shows up at a flush with buffered output. */
int pipeline__flush(struct pipeline *p);
int pipeline__summary(struct pipeline *p);
void pipeline__free(struct pipeline *p);

#endif /* ST_PIPELINE_H */
