// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include "cgroups.h"
#include "dnsnames.h"
#include "pipeline.h"

void pipeline__init(struct pipeline *p, const struct filter *f, uint64_t limit)
{
	memset(p, 0, sizeof(*p));
	p->filter = f;
	p->limit = limit;
	p->kinds = PIPELINE_KINDS_DEFAULT;
}

int pipeline__add_sink(struct pipeline *p, struct sink *s)
{
	if (!s)
		return -ENOMEM;
	if (p->n_sinks == PIPELINE_MAX_SINKS)
		return -E2BIG;
	p->sinks[p->n_sinks++] = s;
	return 0;
}

void pipeline__set_recorder(struct pipeline *p, struct sink *rec)
{
	p->recorder = rec;
}

void pipeline__set_names(struct pipeline *p, struct dnsnames *names, bool hidden)
{
	p->names = names;
	p->names_hidden = hidden;
}

void pipeline__set_cgroups(struct pipeline *p, struct cgroups *c)
{
	p->cgroups = c;
}

int pipeline__add_stage(struct pipeline *p, struct stage *s)
{
	if (!s)
		return -ENOMEM;
	if (p->n_stages == PIPELINE_MAX_STAGES)
		return -E2BIG;
	s->pl = p;
	s->index = p->n_stages;
	p->stages[p->n_stages++] = s;
	return 0;
}

static int fail(struct pipeline *p, struct sink *s, int err)
{
	if (!p->err) {
		p->err = err;
		p->failed = s;
	}
	p->done = true;
	return err;
}

/* Selection: the kinds shown, then the sinks. A table at the end is shown
 * even once the count limit was reached; nothing after a sink failed. */
int pipeline__show(struct pipeline *p, const struct event *ev)
{
	bool table = ev->kind == EVENT_CONNECT_STATS || ev->kind == EVENT_DNS_STATS;
	struct event plain;

	if (p->err || (p->done && !table))
		return p->err;
	if (!(p->kinds & EVENT_KIND_BIT(ev->kind)))
		return 0;
	if (p->names_hidden && ev->rname[0]) {
		plain = *ev;
		plain.rname[0] = plain.rname_canonical[0] = '\0';
		ev = &plain;
	}
	for (int i = 0; i < p->n_sinks; i++) {
		int err = sink__event(p->sinks[i], ev);

		if (err)
			return fail(p, p->sinks[i], err);
	}
	if (table)
		return 0;	/* a table row is not an event */
	p->stats.events++;
	if (ev->kind == EVENT_UDP_FLOW && ev->flow_event == UDP_FLOW_START)
		p->stats.udp_flows++;
	if (ev->kind == EVENT_TCP_SOCKET || ev->kind == EVENT_UDP_SOCKET ||
	    (ev->kind == EVENT_CONNECT && ev->outcome == OUTCOME_IN_PROGRESS) ||
	    (ev->kind == EVENT_TCP_CONN && (ev->conn.flags & TCP_CONN_EXISTING))) {
		p->stats.snapshot++;
	} else if (p->limit && ++p->live_events >= p->limit) {
		p->done = true;
	}
	return 0;
}

bool pipeline__wants(const struct pipeline *p, const struct event *ev)
{
	return !p->filter || filter__match(p->filter, ev);
}

/* Whether the run keeps ev: what the filter drops is counted. */
static bool pipeline__keep(struct pipeline *p, const struct event *ev)
{
	if (pipeline__wants(p, ev))
		return true;
	p->stats.filtered++;
	return false;
}

/* The stages from 'first' on, then selection. */
static int pipeline__pass(struct pipeline *p, const struct event *ev, int first)
{
	for (int i = first; i < p->n_stages && !p->done; i++) {
		int err = p->stages[i]->ops->event(p->stages[i], ev);

		if (err)
			return err;
	}
	return pipeline__show(p, ev);
}

/* A DNS message is recorded and given to the stages (the query tracker),
 * never filtered or shown: an answer names what follows it, whatever the
 * filter, and a query's outcome is filtered as its own event. */
static int pipeline__dns(struct pipeline *p, const struct event *ev)
{
	if (p->recorder) {
		int err = sink__event(p->recorder, ev);

		if (err)
			return fail(p, p->recorder, err);
	}
	if (p->names && ev->kind == EVENT_DNS_ANSWER)
		dnsnames__learn(p->names, ev);
	for (int i = 0; i < p->n_stages && !p->done; i++) {
		int err = p->stages[i]->ops->event(p->stages[i], ev);

		if (err)
			return err;
	}
	return p->err;
}

/* ev with the name of its remote address, as it is now: in *named when it
 * has one (or had one a stage kept), else ev itself, uncopied. */
static const struct event *pipeline__named(struct pipeline *p, const struct event *ev,
					  struct event *named)
{
	const char *name, *canonical = "";

	if (!p->names || !dnsnames__wants(ev))
		return ev;
	name = dnsnames__find(p->names, ev, &canonical);
	if (!name && !ev->rname[0])
		return ev;
	*named = *ev;
	strcpy(named->rname, name ? name : "");
	strcpy(named->rname_canonical, canonical);
	return named;
}

int pipeline__push(struct pipeline *p, const struct event *ev)
{
	bool keep, needed = false;
	struct event named;
	int err;

	if (p->done)
		return p->err;
	/* the owner's cgroup and, for a socket found in /proc, its pid in its
	 * own namespace: both cached per cgroup and process */
	if (p->cgroups && !ev->cg && ev->pid) {
		named = *ev;
		named.cg = cgroups__find(p->cgroups, ev->cgroup_id, ev->pid);
		if (!named.vpid)
			named.vpid = cgroups__vpid(p->cgroups, ev->pid);
		ev = &named;
	}
	/* what a stage learns of a socket (its owner) counts before what
	 * falls due by this event's time: the same however the clock ticks */
	for (int i = 0; i < p->n_stages && !p->done; i++) {
		err = p->stages[i]->ops->observe ? p->stages[i]->ops->observe(p->stages[i], ev) : 0;
		if (err < 0)
			return err;
		needed |= err > 0;
	}
	/* what is due before this event comes before it: the same order
	 * whenever the source's clock is ticked otherwise */
	err = pipeline__tick(p, ev->wall_ns);
	if (err)
		return err;
	if (ev->kind == EVENT_DNS_ANSWER || ev->kind == EVENT_DNS_QUERY)
		return pipeline__dns(p, ev);
	ev = pipeline__named(p, ev, &named);
	keep = pipeline__keep(p, ev);
	/* the recorder keeps the source stream, whatever is shown */
	if (p->recorder && (keep || needed)) {
		err = sink__event(p->recorder, ev);
		if (err)
			return fail(p, p->recorder, err);
	}
	if (!keep)
		return 0;
	return pipeline__pass(p, ev, 0);
}

int pipeline__emit(struct stage *s, const struct event *ev)
{
	bool table = ev->kind == EVENT_CONNECT_STATS || ev->kind == EVENT_DNS_STATS;
	struct pipeline *p = s->pl;
	struct event named;

	if (p->err || (p->done && !table))
		return p->err;
	ev = pipeline__named(p, ev, &named);
	/* a table row sums what the filter kept; it has no owner to match */
	if (!table && !pipeline__keep(p, ev))
		return 0;
	return pipeline__pass(p, ev, s->index + 1);
}

int pipeline__tick(struct pipeline *p, uint64_t now_wall)
{
	if (p->done || now_wall == EVENT_WALL_UNKNOWN || now_wall <= p->now)
		return p->err;
	p->now = now_wall;
	for (int i = 0; i < p->n_stages && !p->done; i++) {
		int err = p->stages[i]->ops->tick ?
			  p->stages[i]->ops->tick(p->stages[i], now_wall) : 0;

		if (err)
			return err;
	}
	return p->err;
}

int pipeline__finish(struct pipeline *p, uint64_t now_wall)
{
	int err = pipeline__tick(p, now_wall);

	for (int i = 0; i < p->n_stages && !p->err && !err; i++)
		if (p->stages[i]->ops->finish)
			err = p->stages[i]->ops->finish(p->stages[i], now_wall);
	return err ? err : p->err;
}

int pipeline__flush(struct pipeline *p)
{
	int ret = 0;

	for (int i = 0; i <= p->n_sinks; i++) {
		struct sink *s = i < p->n_sinks ? p->sinks[i] : p->recorder;
		int err = s ? sink__flush(s) : 0;

		if (err && !ret)
			ret = fail(p, s, err);
	}
	return ret;
}

int pipeline__summary(struct pipeline *p)
{
	int ret = 0;

	for (int i = 0; i < p->n_sinks; i++) {
		int err = sink__summary(p->sinks[i], &p->stats);

		if (err && !ret)
			ret = fail(p, p->sinks[i], err);
	}
	return ret;
}

void pipeline__free(struct pipeline *p)
{
	for (int i = 0; i < p->n_sinks; i++)
		sink__free(p->sinks[i]);
	p->n_sinks = 0;
	sink__free(p->recorder);
	p->recorder = NULL;
	for (int i = 0; i < p->n_stages; i++)
		if (p->stages[i]->ops->free)
			p->stages[i]->ops->free(p->stages[i]);
	p->n_stages = 0;
}
