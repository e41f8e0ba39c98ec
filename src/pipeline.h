/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* source -> filter -> recorder -> stages -> selection -> sinks.
 *
 * A source (the live ring buffer, or recordings) pushes what it observes:
 * source events. The filter decides what the run keeps; the recorder keeps
 * that source stream, whatever is shown, so that a replay can derive
 * everything again. Stages (the attempt tracker; later connection
 * statistics, names) take events and emit derived events, and are ticked
 * by the source's clock, never the wall clock of the machine that runs
 * them. Selection (display kinds) picks what the sinks show. Live tracing
 * and replay run the same pipeline; nothing downstream knows the source. */
#ifndef ST_PIPELINE_H
#define ST_PIPELINE_H

#include <stdbool.h>
#include "filter.h"
#include "sink.h"

#define PIPELINE_MAX_SINKS 4
#define PIPELINE_MAX_STAGES 4

struct pipeline;
struct stage;
struct dnsnames;

struct stage_ops {
	/* An event that passed the filter: from the source, or derived by an
	 * earlier stage. */
	int (*event)(struct stage *s, const struct event *ev);
	/* Optional: every source event, before the filter, for what a stage
	 * must know of sockets whatever the filter keeps (their owners).
	 * Returns 1 when the recording needs ev even if the filter drops it
	 * (a replay must learn the same), 0, or -errno. */
	int (*observe)(struct stage *s, const struct event *ev);
	/* The source's clock (wall-clock ns of its events) reached now:
	 * emit what is due by then. */
	int (*tick)(struct stage *s, uint64_t now_wall);
	/* The source has nothing more: emit what is left (tables). */
	int (*finish)(struct stage *s, uint64_t now_wall);
	void (*free)(struct stage *s);
};

struct stage {
	const struct stage_ops *ops;
	struct pipeline *pl;	/* set by pipeline__add_stage() */
	int index;		/* its place: it sees what stages before it derive */
};

struct pipeline {
	const struct filter *filter;
	uint32_t kinds;		/* EVENT_KIND_BIT()s shown; others pass silently */
	struct sink *recorder;	/* the source stream that passes the filter */
	struct stage *stages[PIPELINE_MAX_STAGES];
	int n_stages;
	struct sink *sinks[PIPELINE_MAX_SINKS];
	int n_sinks;
	uint64_t limit;		/* stop after this many live events, 0: none */
	uint64_t live_events;
	struct stats stats;
	bool done;		/* the limit was reached, or a sink failed */
	int err;		/* first sink error, e.g. -EPIPE */
	struct sink *failed;	/* the sink that returned it */
	uint64_t now;		/* the stages' clock: the latest tick (wall ns) */
	struct dnsnames *names;	/* names remote addresses, before the filter; NULL: none */
	bool names_hidden;	/* -n: names match filters but are not shown */
	/* live: names each source event's cgroup before the filter sees it
	 * (a replay's events come named by their recording) */
	struct cgroups *cgroups;
};

/* Shows transitions, existing sockets, SYN alerts, UDP flows and TCP
 * connections' ends by default. */
#define PIPELINE_KINDS_DEFAULT (EVENT_KIND_BIT(EVENT_TCP_STATE) | \
				EVENT_KIND_BIT(EVENT_TCP_SOCKET) | \
				EVENT_KIND_BIT(EVENT_SYN_ALERT) | \
				EVENT_KIND_BIT(EVENT_UDP_FLOW) | \
				EVENT_KIND_BIT(EVENT_UDP_SOCKET) | \
				EVENT_KIND_BIT(EVENT_TCP_CONN))
#define PIPELINE_KINDS_CONNS EVENT_KIND_BIT(EVENT_TCP_CONN)
#define PIPELINE_KINDS_CONNECTS (EVENT_KIND_BIT(EVENT_CONNECT) | \
				 EVENT_KIND_BIT(EVENT_SYN_ALERT) | \
				 EVENT_KIND_BIT(EVENT_CONNECT_STATS))
#define PIPELINE_KINDS_DNS (EVENT_KIND_BIT(EVENT_DNS) | EVENT_KIND_BIT(EVENT_DNS_STATS))

void pipeline__init(struct pipeline *p, const struct filter *f, uint64_t limit);
int pipeline__add_sink(struct pipeline *p, struct sink *s);
/* The recorder's sink: it gets every source event that passes the filter. */
void pipeline__set_recorder(struct pipeline *p, struct sink *rec);
/* DNS answers (EVENT_DNS_ANSWER) feed names, which every later event with a
 * remote address of the same network namespace then carries, before the
 * filter sees it (host NAME). Answers and queries pass no filter: they are
 * recorded whatever the filter keeps, so that a replay names the same
 * addresses, and go to the stages (the query tracker, whose outcomes the
 * filter sees).
 * hidden (-n): the names are not shown. The pipeline does not own names. */
void pipeline__set_names(struct pipeline *p, struct dnsnames *names, bool hidden);
void pipeline__set_cgroups(struct pipeline *p, struct cgroups *c);
/* Stages see events in the order they were added. */
int pipeline__add_stage(struct pipeline *p, struct stage *s);
/* A source event: the stages' clock moves to its time, then it is
 * filtered, recorded, fed to the stages, shown if selected. Returns 0, or a
 * sink's -errno (the pipeline is then done). */
int pipeline__push(struct pipeline *p, const struct event *ev);
/* Whether the filter keeps ev (nothing is counted). */
bool pipeline__wants(const struct pipeline *p, const struct event *ev);
/* A derived event of stage s: filtered, fed to the stages after s, shown
 * if selected. */
int pipeline__emit(struct stage *s, const struct event *ev);
/* A derived event a recording of an older version holds: shown if
 * selected, as it was recorded; neither recorded again nor staged. */
int pipeline__show(struct pipeline *p, const struct event *ev);
/* The source's clock reached now (wall ns); it never goes back. */
int pipeline__tick(struct pipeline *p, uint64_t now_wall);
/* The source ended at now: last ticks, then what the stages have left. */
int pipeline__finish(struct pipeline *p, uint64_t now_wall);
/* Both return 0, or the first sink error, which ends the pipeline as in
 * pipeline__push: a write error shows up at a flush with buffered output. */
int pipeline__flush(struct pipeline *p);
int pipeline__summary(struct pipeline *p);
/* Frees the sinks, the recorder's sink (which does not close the recorder)
 * and the stages. */
void pipeline__free(struct pipeline *p);

#endif /* ST_PIPELINE_H */
