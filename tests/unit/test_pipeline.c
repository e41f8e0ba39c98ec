// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* pipeline.c: filtering, counting, the live-event limit and sink errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "pipeline.h"
#include "util.h"

/* A sink that counts what it gets and fails on request. */
struct mock_sink {
	struct sink base;
	int events;		/* events accepted */
	int calls;		/* event() calls, failed ones included */
	int fail_at;		/* the call number that fails, 0: never */
	int err;		/* what it fails with */
	int flushes, flush_err;
	int summaries, summary_err;
	struct stats last;
	int *freed;
};

static int mock_event(struct sink *s, const struct event *ev)
{
	struct mock_sink *m = (struct mock_sink *)s;

	if (++m->calls == m->fail_at)
		return m->err;
	m->events++;
	return 0;
}

static int mock_flush(struct sink *s)
{
	struct mock_sink *m = (struct mock_sink *)s;

	m->flushes++;
	return m->flush_err;
}

static int mock_summary(struct sink *s, const struct stats *st)
{
	struct mock_sink *m = (struct mock_sink *)s;

	m->summaries++;
	m->last = *st;
	return m->summary_err;
}

static void mock_free(struct sink *s)
{
	struct mock_sink *m = (struct mock_sink *)s;

	if (m->freed)
		(*m->freed)++;
	free(m);
}

static const struct sink_ops mock_ops = {
	.event = mock_event,
	.flush = mock_flush,
	.summary = mock_summary,
	.free = mock_free,
};

static struct mock_sink *mock_new(void)
{
	struct mock_sink *m = calloc(1, sizeof(*m));

	if (!m)
		FAIL("out of memory");
	m->base.ops = &mock_ops;
	return m;
}

static void pipeline_free_cb(void *p)
{
	pipeline__free(p);
}

/* A pipeline with one mock sink, freed after the test. */
static struct mock_sink *setup(struct pipeline *p, const struct filter *f, uint64_t limit)
{
	struct mock_sink *m = mock_new();

	pipeline__init(p, f, limit);
	ut_defer(pipeline_free_cb, p);
	ASSERT_EQ(pipeline__add_sink(p, &m->base), 0);
	return m;
}

static struct event ev_port(enum event_kind kind, uint16_t lport)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.family = AF_INET;
	ev.lport = lport;
	ev.rport = 40000;
	ev.new_state = ST_TCP_ESTABLISHED;
	ev.old_state = kind == EVENT_TCP_STATE ? ST_TCP_SYN_RECV : 0;
	return ev;
}

TEST(pipeline_no_filter_passes_everything)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *m = setup(&p, NULL, 0);
	struct event ev = ev_port(EVENT_TCP_STATE, 22);

	for (int i = 0; i < 10; i++)
		ASSERT_EQ(pipeline__push(&p, &ev), 0);
	ASSERT_EQ(m->events, 10);
	ASSERT_EQ_U64(p.stats.events, 10);
	ASSERT_EQ_U64(p.stats.filtered, 0);
	ASSERT_FALSE(p.done);
}

TEST(pipeline_counts_filtered)
{
	static struct pipeline p;	/* freed after the test returns */
	struct filter f;
	struct mock_sink *m;
	struct event yes = ev_port(EVENT_TCP_STATE, 22), no = ev_port(EVENT_TCP_STATE, 23);
	struct event snap_yes = ev_port(EVENT_TCP_SOCKET, 22), snap_no = ev_port(EVENT_TCP_SOCKET, 80);

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_ports(&f, "22"), 0);
	m = setup(&p, &f, 0);
	ASSERT_EQ(pipeline__push(&p, &yes), 0);
	ASSERT_EQ(pipeline__push(&p, &no), 0);
	ASSERT_EQ(pipeline__push(&p, &no), 0);
	ASSERT_EQ(pipeline__push(&p, &snap_yes), 0);
	ASSERT_EQ(pipeline__push(&p, &snap_no), 0);
	ASSERT_EQ(pipeline__push(&p, &yes), 0);
	ASSERT_EQ(m->events, 3);
	ASSERT_EQ_U64(p.stats.events, 3);
	ASSERT_EQ_U64(p.stats.snapshot, 1);
	ASSERT_EQ_U64(p.stats.filtered, 3);
}

TEST(pipeline_limit_counts_live_events_only)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *m = setup(&p, NULL, 2);
	struct event live = ev_port(EVENT_TCP_STATE, 22), snap = ev_port(EVENT_TCP_SOCKET, 22);

	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_FALSE(p.done);
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_FALSE(p.done);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_FALSE(p.done);
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(p.err, 0);
	/* done: later events go nowhere and are not counted */
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_EQ(m->events, 6);
	ASSERT_EQ_U64(p.stats.events, 6);
	ASSERT_EQ_U64(p.stats.snapshot, 4);
	ASSERT_EQ_U64(p.live_events, 2);
}

TEST(pipeline_limit_ignores_filtered)
{
	static struct pipeline p;	/* freed after the test returns */
	struct filter f;
	struct mock_sink *m;
	struct event yes = ev_port(EVENT_TCP_STATE, 22), no = ev_port(EVENT_TCP_STATE, 23);

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_ports(&f, "22"), 0);
	m = setup(&p, &f, 1);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(pipeline__push(&p, &no), 0);
	ASSERT_FALSE(p.done);
	ASSERT_EQ(pipeline__push(&p, &yes), 0);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(m->events, 1);
	ASSERT_EQ_U64(p.stats.filtered, 5);
}

TEST(pipeline_sink_error_stops)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *m = setup(&p, NULL, 0);
	struct event ev = ev_port(EVENT_TCP_STATE, 22);

	m->fail_at = 3;
	m->err = -EPIPE;
	ASSERT_EQ(pipeline__push(&p, &ev), 0);
	ASSERT_EQ(pipeline__push(&p, &ev), 0);
	ASSERT_EQ(pipeline__push(&p, &ev), -EPIPE);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(p.err, -EPIPE);
	/* the error sticks, and the sink is not called again */
	ASSERT_EQ(pipeline__push(&p, &ev), -EPIPE);
	ASSERT_EQ(pipeline__push(&p, &ev), -EPIPE);
	ASSERT_EQ(m->calls, 3);
	ASSERT_EQ(m->events, 2);
	ASSERT_EQ_U64(p.stats.events, 2);
}

TEST(pipeline_several_sinks)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *a = setup(&p, NULL, 0), *b = mock_new(), *c, *d, *e;
	struct event ev = ev_port(EVENT_TCP_STATE, 22);
	int freed = 0;

	ASSERT_EQ(pipeline__add_sink(&p, &b->base), 0);
	ASSERT_EQ(pipeline__push(&p, &ev), 0);
	ASSERT_EQ(a->events, 1);
	ASSERT_EQ(b->events, 1);
	b->fail_at = 2;
	b->err = -ENOSPC;
	ASSERT_EQ(pipeline__push(&p, &ev), -ENOSPC);
	ASSERT_EQ(a->events, 2);
	ASSERT_EQ(b->calls, 2);
	ASSERT_EQ_U64(p.stats.events, 1);

	ASSERT_EQ(pipeline__add_sink(&p, NULL), -ENOMEM);
	c = mock_new();
	d = mock_new();
	e = mock_new();
	ASSERT_EQ(pipeline__add_sink(&p, &c->base), 0);
	ASSERT_EQ(pipeline__add_sink(&p, &d->base), 0);
	ASSERT_EQ(pipeline__add_sink(&p, &e->base), -E2BIG);
	e->freed = &freed;
	mock_free(&e->base);
	a->freed = b->freed = c->freed = d->freed = &freed;
	pipeline__free(&p);
	ASSERT_EQ(freed, 5);
	ASSERT_EQ(p.n_sinks, 0);
}

TEST(pipeline_flush_and_summary)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *a = setup(&p, NULL, 0), *b = mock_new();
	struct event ev = ev_port(EVENT_TCP_STATE, 22), snap = ev_port(EVENT_TCP_SOCKET, 22);

	ASSERT_EQ(pipeline__add_sink(&p, &b->base), 0);
	ASSERT_EQ(pipeline__flush(&p), 0);
	ASSERT_EQ(pipeline__push(&p, &ev), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	p.stats.lost = 4;
	ASSERT_EQ(pipeline__summary(&p), 0);
	ASSERT_EQ(a->summaries, 1);
	ASSERT_EQ(b->summaries, 1);
	ASSERT_EQ_U64(b->last.events, 2);
	ASSERT_EQ_U64(b->last.snapshot, 1);
	ASSERT_EQ_U64(b->last.lost, 4);
	ASSERT_FALSE(p.done);
	ASSERT_EQ(p.err, 0);
}

/* Buffered output fails at a flush (a full disk, a closed pipe): that ends
 * the pipeline as a failed event does, and says which sink failed. */
TEST(pipeline_flush_error_ends_it)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *a = setup(&p, NULL, 0), *b = mock_new();
	struct event ev = ev_port(EVENT_TCP_STATE, 22);

	ASSERT_EQ(pipeline__add_sink(&p, &b->base), 0);
	b->flush_err = -ENOSPC;
	a->flush_err = 0;
	ASSERT_EQ(pipeline__flush(&p), -ENOSPC);
	ASSERT_EQ(a->flushes, 1);
	ASSERT_EQ(b->flushes, 1);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(p.err, -ENOSPC);
	ASSERT_TRUE(p.failed == &b->base);
	ASSERT_EQ(pipeline__push(&p, &ev), -ENOSPC);
	ASSERT_EQ(a->events, 0);
	/* every sink is still flushed; the first error stays */
	a->flush_err = -EIO;
	ASSERT_EQ(pipeline__flush(&p), -EIO);
	ASSERT_EQ(a->flushes, 2);
	ASSERT_EQ(b->flushes, 2);
	ASSERT_EQ(p.err, -ENOSPC);
	ASSERT_TRUE(p.failed == &b->base);
}

/* A summary that cannot be written is an error of the run too. */
TEST(pipeline_summary_error_recorded)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *a = setup(&p, NULL, 0);

	a->summary_err = -EPIPE;
	ASSERT_EQ(pipeline__summary(&p), -EPIPE);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(p.err, -EPIPE);
	ASSERT_TRUE(p.failed == &a->base);
}

/* With the real JSON sink: the summary counts what was written. */
TEST(pipeline_json_end_to_end)
{
	static struct pipeline p;	/* freed after the test returns */
	struct filter f;
	struct memfile *m = memfile_new();
	struct event live = ev_port(EVENT_TCP_STATE, 22), other = ev_port(EVENT_TCP_STATE, 25);
	struct event snap = ev_port(EVENT_TCP_SOCKET, 22);
	const char *out, *last;
	size_t len;
	struct jc_result r;

	memset(&f, 0, sizeof(f));
	ASSERT_EQ(filter__add_ports(&f, "22"), 0);
	pipeline__init(&p, &f, 2);
	ut_defer(pipeline_free_cb, &p);
	ASSERT_EQ(pipeline__add_sink(&p, sink_json__new(m->f, NULL)), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_EQ(pipeline__push(&p, &other), 0);
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	p.stats.elapsed_ns = 1500000000;
	ASSERT_EQ(pipeline__summary(&p), 0);
	ASSERT_EQ(pipeline__flush(&p), 0);
	ASSERT_EQ(memfile_lines(m), 4);
	out = memfile_str(m, &len);
	last = out + len - 1;
	while (last > out && last[-1] != '\n')
		last--;
	ASSERT_STREQ(last, "{\"type\":\"summary\",\"events\":3,\"snapshot\":1,\"lost\":0,"
			   "\"filtered\":1,\"elapsed_s\":1.500,\"udp_flows\":0,\"udp_uncounted\":0,"
			   "\"udp_uncounted_bytes\":0,\"gaps\":0,\"missed\":0,\"dns_answers\":0,\"dns_unparsed\":0,\"dns_evictions\":0,\"dns_lost\":0,\"dns_truncated\":0,\"dns_queries\":0,\"dns_queries_unparsed\":0,\"dns_unmatched\":0}\n");
	ASSERT_JSON_LINE(last, strlen(last), &r);
}

TEST(pipeline_kinds_default_and_connects)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *m = setup(&p, NULL, 0);
	struct event live = ev_port(EVENT_TCP_STATE, 22), snap = ev_port(EVENT_TCP_SOCKET, 22);
	struct event conn = ev_port(EVENT_CONNECT, 22), alert = ev_port(EVENT_SYN_ALERT, 22);
	struct event retrans = ev_port(EVENT_SYN_RETRANS, 22);

	/* default: transitions, existing sockets and alerts */
	ASSERT_EQ(p.kinds, PIPELINE_KINDS_DEFAULT);
	conn.outcome = OUTCOME_ESTABLISHED;
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_EQ(pipeline__push(&p, &alert), 0);
	ASSERT_EQ(pipeline__push(&p, &conn), 0);
	ASSERT_EQ(pipeline__push(&p, &retrans), 0);
	ASSERT_EQ(m->events, 3);
	ASSERT_EQ_U64(p.stats.events, 3);
	ASSERT_EQ_U64(p.stats.filtered, 0);	/* not shown is not filtered */

	/* --connects: attempts and alerts only */
	p.kinds = PIPELINE_KINDS_CONNECTS;
	ASSERT_EQ(pipeline__push(&p, &live), 0);
	ASSERT_EQ(pipeline__push(&p, &snap), 0);
	ASSERT_EQ(pipeline__push(&p, &retrans), 0);
	ASSERT_EQ(m->events, 3);
	ASSERT_EQ(pipeline__push(&p, &conn), 0);
	ASSERT_EQ(pipeline__push(&p, &alert), 0);
	ASSERT_EQ(m->events, 5);
	ASSERT_EQ_U64(p.stats.events, 5);
	ASSERT_EQ_U64(p.stats.filtered, 0);
}

TEST(pipeline_in_progress_connect_counts_as_snapshot)
{
	static struct pipeline p;	/* freed after the test returns */
	struct mock_sink *m = setup(&p, NULL, 2);
	struct event conn = ev_port(EVENT_CONNECT, 22), started = ev_port(EVENT_CONNECT, 22);

	p.kinds = PIPELINE_KINDS_CONNECTS;
	started.outcome = OUTCOME_IN_PROGRESS;
	conn.outcome = OUTCOME_REFUSED;
	ASSERT_EQ(pipeline__push(&p, &started), 0);
	ASSERT_EQ(pipeline__push(&p, &started), 0);
	ASSERT_EQ(pipeline__push(&p, &started), 0);
	ASSERT_FALSE(p.done);
	ASSERT_EQ_U64(p.stats.snapshot, 3);
	ASSERT_EQ(pipeline__push(&p, &conn), 0);
	ASSERT_FALSE(p.done);
	ASSERT_EQ(pipeline__push(&p, &conn), 0);
	ASSERT_TRUE(p.done);
	ASSERT_EQ(m->events, 5);
	ASSERT_EQ_U64(p.stats.events, 5);
}
