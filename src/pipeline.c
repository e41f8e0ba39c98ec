// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
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

static int fail(struct pipeline *p, struct sink *s, int err)
{
	if (!p->err) {
		p->err = err;
		p->failed = s;
	}
	p->done = true;
	return err;
}

int pipeline__push(struct pipeline *p, const struct event *ev)
{
	if (p->done)
		return p->err;
	if (!(p->kinds & EVENT_KIND_BIT(ev->kind)))
		return 0;
	if (p->filter && !filter__match(p->filter, ev)) {
		p->stats.filtered++;
		return 0;
	}
	for (int i = 0; i < p->n_sinks; i++) {
		int err = sink__event(p->sinks[i], ev);

		if (err)
			return fail(p, p->sinks[i], err);
	}
	p->stats.events++;
	if (ev->kind == EVENT_UDP_FLOW && ev->flow_event == UDP_FLOW_START)
		p->stats.udp_flows++;
	if (ev->kind == EVENT_TCP_SOCKET || ev->kind == EVENT_UDP_SOCKET ||
	    (ev->kind == EVENT_CONNECT && ev->outcome == OUTCOME_IN_PROGRESS)) {
		p->stats.snapshot++;
	} else if (p->limit && ++p->live_events >= p->limit) {
		p->done = true;
	}
	return 0;
}

bool pipeline__accepts(const struct pipeline *p, const struct event *ev)
{
	return !p->filter || filter__match(p->filter, ev);
}

int pipeline__flush(struct pipeline *p)
{
	int ret = 0;

	for (int i = 0; i < p->n_sinks; i++) {
		int err = sink__flush(p->sinks[i]);

		if (err && !ret)
			ret = fail(p, p->sinks[i], err);
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
}
