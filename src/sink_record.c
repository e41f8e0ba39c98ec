// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include "recorder.h"
#include "sink.h"

struct sink_record {
	struct sink base;
	struct recorder *r;
};

static int rsink__event(struct sink *s, const struct event *ev)
{
	return recorder__write(((struct sink_record *)s)->r, ev);
}

static int rsink__flush(struct sink *s)
{
	return recorder__flush(((struct sink_record *)s)->r, false);
}

static void rsink__free(struct sink *s)
{
	free(s);
}

static const struct sink_ops record_ops = {
	.event = rsink__event,
	.flush = rsink__flush,
	.free = rsink__free,
};

struct sink *sink_record__new(struct recorder *r)
{
	struct sink_record *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &record_ops;
	s->r = r;
	return &s->base;
}
