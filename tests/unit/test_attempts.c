// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* attempts.c: connection attempts from CLOSE -> SYN_SENT to their outcome,
 * SYN alerts, the per-destination table and its histogram. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "attempts.h"
#include "hist.h"
#include "util.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (10 * SEC)		/* when the attempts start, boot clock */

struct fixture {
	struct pipeline pl;
	struct rec_sink *rec;
	struct attempts *a;
	int diag_calls;
	struct event diag_seen;
};

static void fixture_free(void *p)
{
	struct fixture *f = p;

	pipeline__free(&f->pl);	/* and the stage */
	free(f);
}

/* Pipeline in --connects mode, a recording sink, alerts after 1 s. */
static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		FAIL("out of memory");
	pipeline__init(&f->pl, NULL, 0);
	f->pl.kinds = PIPELINE_KINDS_CONNECTS;
	f->rec = rec_sink_new();
	pipeline__add_sink(&f->pl, &f->rec->base);
	ut_defer(fixture_free, f);
	f->a = attempts__new(1 * SEC);
	ASSERT_NOT_NULL(f->a);
	ASSERT_EQ(pipeline__add_stage(&f->pl, attempts__stage(f->a)), 0);
	return f;
}

/* The stage's clock at boot time t, as a live source or a recording ticks
 * it: on the wall clock of the events. */
static int tick(struct fixture *f, uint64_t t)
{
	return attempts__tick(f->a, clock_ref__wall(&test_ref, t));
}

/* curl (pid 10) on 10.0.0.1 connecting to 10.0.0.2:80 through socket sock. */
static struct event tr(uint64_t sock, int old, int new, uint64_t at)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_STATE;
	ev.boot_ns = at;
	ev.wall_ns = clock_ref__wall(&test_ref, at);
	ev.sock = sock;
	ev.ino = 500;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev.netns = 4026531840u;
	ev.family = AF_INET;
	ev.proto = IPPROTO_TCP;
	ev.laddr = addr_of("10.0.0.1");
	ev.raddr = addr_of("10.0.0.2");
	ev.lport = old == ST_TCP_CLOSE && new == ST_TCP_SYN_SENT ? 0 : 40000;
	ev.rport = 80;
	ev.old_state = old;
	ev.new_state = new;
	ev.pid = 10;
	ev.tid = 11;
	ev.owner_src = ST_OWNER_CONNECT;
	ev.role = ST_ROLE_CLIENT;
	strcpy(ev.comm, "curl");
	return ev;
}

/* The end of an attempt as the kernel reports it from softirq context:
 * the owner is whatever the kernel side remembered, here nothing. */
static struct event end_ev(uint64_t sock, int new, uint64_t at, uint64_t old_ns, int err)
{
	struct event ev = tr(sock, ST_TCP_SYN_SENT, new, at);

	ev.old_ns = old_ns;
	ev.err = err;
	ev.pid = ev.tid = 0;
	ev.comm[0] = '\0';
	ev.owner_src = ST_OWNER_UNKNOWN;
	return ev;
}

static struct event retrans_ev(uint64_t sock, uint32_t n, uint64_t at)
{
	struct event ev = tr(sock, ST_TCP_SYN_SENT, ST_TCP_SYN_SENT, at);

	ev.kind = EVENT_SYN_RETRANS;
	ev.syn_retrans = n;
	return ev;
}

static void feed(struct fixture *f, struct event ev)
{
	int err = attempts__feed(f->a, &ev);

	ASSERT_MSG(err == 0, "attempts__feed returned %d", err);
}

TEST(attempts_outcome_of_error)
{
	ASSERT_EQ(attempts__outcome(0), OUTCOME_ABORTED);
	ASSERT_EQ(attempts__outcome(ECONNREFUSED), OUTCOME_REFUSED);
	ASSERT_EQ(attempts__outcome(ETIMEDOUT), OUTCOME_TIMEOUT);
	ASSERT_EQ(attempts__outcome(EHOSTUNREACH), OUTCOME_UNREACHABLE);
	ASSERT_EQ(attempts__outcome(ENETUNREACH), OUTCOME_UNREACHABLE);
	ASSERT_EQ(attempts__outcome(EACCES), OUTCOME_UNREACHABLE);
}

TEST(attempts_established)
{
	struct fixture *f = fixture_new();
	const struct event *c;

	feed(f, tr(0x1000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	ASSERT_EQ(f->rec->n, 0);	/* nothing until the outcome */
	feed(f, end_ev(0x1000, ST_TCP_ESTABLISHED, T0 + 2 * MS, 1500000, 0));
	ASSERT_EQ(f->rec->n, 1);
	c = &f->rec->evs[0];
	ASSERT_EQ(c->kind, EVENT_CONNECT);
	ASSERT_EQ(c->outcome, OUTCOME_ESTABLISHED);
	ASSERT_EQ(c->err, 0);
	ASSERT_EQ_U64(c->elapsed_ns, 1500000);	/* the kernel's time in SYN_SENT */
	ASSERT_EQ(c->syn_retrans, 0);
	ASSERT_EQ(c->role, ST_ROLE_CLIENT);
	ASSERT_EQ(c->old_state, ST_TCP_SYN_SENT);
	ASSERT_EQ(c->new_state, ST_TCP_ESTABLISHED);
	ASSERT_EQ(c->lport, 40000);
	ASSERT_EQ(c->rport, 80);
	ASSERT_EQ_U64(c->boot_ns, T0 + 2 * MS);
	ASSERT_EQ_U64(c->sock, 0x1000);
	/* the owner from connect(), since the end has none */
	ASSERT_EQ(c->pid, 10);
	ASSERT_EQ(c->tid, 11);
	ASSERT_EQ(c->owner_src, ST_OWNER_CONNECT);
	ASSERT_STREQ(c->comm, "curl");
	/* ended: a second end for the same socket is not an attempt */
	feed(f, end_ev(0x1000, ST_TCP_CLOSE, T0 + 3 * MS, 1 * MS, 0));
	ASSERT_EQ(f->rec->n, 1);
}

TEST(attempts_failures)
{
	static const struct { int err; enum connect_outcome outcome; int out_err; } cases[] = {
		{ ECONNREFUSED, OUTCOME_REFUSED, ECONNREFUSED },
		{ ETIMEDOUT, OUTCOME_TIMEOUT, ETIMEDOUT },
		{ EHOSTUNREACH, OUTCOME_UNREACHABLE, EHOSTUNREACH },
		{ 0, OUTCOME_ABORTED, 0 },
	};
	struct fixture *f = fixture_new();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t sock = 0x2000 + i * 0x100;
		const struct event *c;

		feed(f, tr(sock, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
		/* no time from the kernel: measured from the start */
		feed(f, end_ev(sock, ST_TCP_CLOSE, T0 + 7 * MS, EVENT_OLD_NS_UNKNOWN, cases[i].err));
		ASSERT_EQ(f->rec->n, (int)i + 1);
		c = &f->rec->evs[i];
		ASSERT_EQ(c->kind, EVENT_CONNECT);
		ASSERT_EQ(c->outcome, cases[i].outcome);
		ASSERT_EQ(c->err, cases[i].out_err);
		ASSERT_EQ_U64(c->elapsed_ns, 7 * MS);
		ASSERT_EQ(c->pid, 10);
	}
}

TEST(attempts_established_has_no_error)
{
	struct fixture *f = fixture_new();

	/* an error left on the socket does not make an established attempt fail */
	feed(f, tr(0x1100, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	feed(f, end_ev(0x1100, ST_TCP_ESTABLISHED, T0 + 1 * MS, 1 * MS, ECONNRESET));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(f->rec->evs[0].outcome, OUTCOME_ESTABLISHED);
	ASSERT_EQ(f->rec->evs[0].err, 0);
}

TEST(attempts_unknown_socket_is_ignored)
{
	struct fixture *f = fixture_new();

	feed(f, end_ev(0x3000, ST_TCP_ESTABLISHED, T0, 1 * MS, 0));
	feed(f, retrans_ev(0x3000, 1, T0));
	ASSERT_EQ(tick(f, T0 + 100 * SEC), 0);
	ASSERT_EQ(f->rec->n, 0);
	/* passive opens are not attempts */
	feed(f, tr(0x3100, ST_TCP_LISTEN, ST_TCP_SYN_RECV, T0));
	feed(f, tr(0x3100, ST_TCP_SYN_RECV, ST_TCP_ESTABLISHED, T0));
	ASSERT_EQ(f->rec->n, 0);
}

TEST(attempts_simultaneous_open)
{
	struct fixture *f = fixture_new();

	feed(f, tr(0x4000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	feed(f, end_ev(0x4000, ST_TCP_SYN_RECV, T0 + 1 * MS, 1 * MS, 0));
	ASSERT_EQ(f->rec->n, 0);	/* still trying */
	/* another socket's passive open does not end it */
	feed(f, tr(0x4100, ST_TCP_SYN_RECV, ST_TCP_ESTABLISHED, T0 + 2 * MS));
	ASSERT_EQ(f->rec->n, 0);
	feed(f, tr(0x4000, ST_TCP_SYN_RECV, ST_TCP_ESTABLISHED, T0 + 3 * MS));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(f->rec->evs[0].outcome, OUTCOME_ESTABLISHED);
}

static int fake_diag(void *ctx, struct event *attempt)
{
	struct diagnosis *out = &attempt->diag;
	struct fixture *f = ctx;

	f->diag_calls++;
	f->diag_seen = *attempt;
	out->cause = DIAG_QUEUE_FULL;
	out->pid = 77;
	strcpy(out->comm, "srv");
	out->queue = 5;
	out->backlog = 4;
	return 0;
}

TEST(attempts_alert_after_threshold)
{
	struct fixture *f = fixture_new();
	const struct event *al;

	attempts__set_diagnoser(f->a, fake_diag, f);
	feed(f, tr(0x5000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	ASSERT_EQ(tick(f, T0 + 999 * MS), 0);
	ASSERT_EQ(f->rec->n, 0);
	/* a retransmit before the threshold: counted, no alert */
	feed(f, retrans_ev(0x5000, 1, T0 + 200 * MS));
	ASSERT_EQ(f->rec->n, 0);
	ASSERT_EQ(tick(f, T0 + 1 * SEC), 0);
	ASSERT_EQ(f->rec->n, 1);
	al = &f->rec->evs[0];
	ASSERT_EQ(al->kind, EVENT_SYN_ALERT);
	ASSERT_EQ_U64(al->elapsed_ns, 1 * SEC);
	ASSERT_EQ_U64(al->boot_ns, T0 + 1 * SEC);
	ASSERT_EQ_U64(al->wall_ns, clock_ref__wall(&test_ref, T0 + 1 * SEC));
	ASSERT_EQ(al->syn_retrans, 1);
	ASSERT_EQ(al->old_state, ST_TCP_SYN_SENT);
	ASSERT_EQ(al->new_state, ST_TCP_SYN_SENT);
	ASSERT_EQ(al->lport, 40000);	/* learned from the retransmit */
	ASSERT_EQ(al->pid, 10);
	ASSERT_STREQ(al->comm, "curl");
	ASSERT_EQ(al->diag.cause, DIAG_QUEUE_FULL);
	ASSERT_EQ(al->diag.pid, 77);
	ASSERT_STREQ(al->diag.comm, "srv");
	ASSERT_EQ(f->diag_calls, 1);
	ASSERT_EQ(f->diag_seen.rport, 80);
	/* once per attempt from the clock */
	ASSERT_EQ(tick(f, T0 + 5 * SEC), 0);
	ASSERT_EQ(f->rec->n, 1);
	/* and again at each later retransmit */
	feed(f, retrans_ev(0x5000, 2, T0 + 3 * SEC));
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_EQ(f->rec->evs[1].kind, EVENT_SYN_ALERT);
	ASSERT_EQ(f->rec->evs[1].syn_retrans, 2);
	ASSERT_EQ_U64(f->rec->evs[1].elapsed_ns, 3 * SEC);
	/* the end carries the largest retransmit count seen */
	feed(f, end_ev(0x5000, ST_TCP_CLOSE, T0 + 127 * SEC, 127 * SEC, ETIMEDOUT));
	ASSERT_EQ(f->rec->n, 3);
	ASSERT_EQ(f->rec->evs[2].kind, EVENT_CONNECT);
	ASSERT_EQ(f->rec->evs[2].outcome, OUTCOME_TIMEOUT);
	ASSERT_EQ(f->rec->evs[2].syn_retrans, 2);
	ASSERT_EQ(f->rec->evs[2].err, ETIMEDOUT);
	/* gone: no more alerts */
	ASSERT_EQ(tick(f, T0 + 500 * SEC), 0);
	ASSERT_EQ(f->rec->n, 3);

	/* a count in the end larger than any retransmit seen (one was lost) */
	feed(f, tr(0x5200, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	feed(f, retrans_ev(0x5200, 1, T0 + 100 * MS));
	{
		struct event e = end_ev(0x5200, ST_TCP_CLOSE, T0 + 7 * SEC, 7 * SEC, ETIMEDOUT);

		e.syn_retrans = 6;
		feed(f, e);
	}
	ASSERT_EQ(f->rec->evs[f->rec->n - 1].kind, EVENT_CONNECT);
	ASSERT_EQ(f->rec->evs[f->rec->n - 1].syn_retrans, 6);
}

TEST(attempts_alert_without_diagnoser)
{
	struct fixture *f = fixture_new();

	feed(f, tr(0x5100, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	ASSERT_EQ(tick(f, T0 + 2 * SEC), 0);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(f->rec->evs[0].diag.cause, DIAG_NONE);
	/* due at the threshold, however late the clock says so */
	ASSERT_EQ_U64(f->rec->evs[0].elapsed_ns, 1 * SEC);
}

/* An attempt found at startup is reported at once, with no start time. */
TEST(attempts_found_in_snapshot)
{
	struct fixture *f = fixture_new();
	struct event snap = tr(0, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0);
	struct event ended;

	snap.kind = EVENT_TCP_SOCKET;
	snap.old_state = 0;
	snap.lport = 40001;
	snap.owner_src = ST_OWNER_SNAPSHOT;
	feed(f, snap);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(f->rec->evs[0].kind, EVENT_CONNECT);
	ASSERT_EQ(f->rec->evs[0].outcome, OUTCOME_IN_PROGRESS);
	ASSERT_EQ_U64(f->rec->evs[0].elapsed_ns, EVENT_OLD_NS_UNKNOWN);
	ASSERT_EQ(f->rec->evs[0].new_state, ST_TCP_SYN_SENT);
	ASSERT_EQ_U64(f->pl.stats.snapshot, 1);
	/* other existing sockets are not attempts */
	snap.new_state = ST_TCP_ESTABLISHED;
	snap.lport = 40002;
	feed(f, snap);
	ASSERT_EQ(f->rec->n, 1);

	/* never alerted by the clock (no start time), at once by a retransmit */
	ASSERT_EQ(tick(f, T0 + 100 * SEC), 0);
	ASSERT_EQ(f->rec->n, 1);
	{
		struct event rt = retrans_ev(0x6000, 3, T0 + 1 * SEC);

		rt.lport = 40001;
		rt.owner_src = ST_OWNER_SNAPSHOT;	/* the kernel side's seed */
		feed(f, rt);
	}
	ASSERT_EQ(f->rec->n, 2);
	ASSERT_EQ(f->rec->evs[1].kind, EVENT_SYN_ALERT);
	ASSERT_EQ_U64(f->rec->evs[1].elapsed_ns, EVENT_OLD_NS_UNKNOWN);
	ASSERT_EQ(f->rec->evs[1].syn_retrans, 3);

	/* its end, matched by the tuple */
	ended = end_ev(0x6000, ST_TCP_ESTABLISHED, T0 + 2 * SEC, EVENT_OLD_NS_UNKNOWN, 0);
	ended.lport = 40001;
	feed(f, ended);
	ASSERT_EQ(f->rec->n, 3);
	ASSERT_EQ(f->rec->evs[2].outcome, OUTCOME_ESTABLISHED);
	ASSERT_EQ_U64(f->rec->evs[2].elapsed_ns, EVENT_OLD_NS_UNKNOWN);
	ASSERT_EQ(f->rec->evs[2].pid, 10);
	ASSERT_EQ(f->rec->evs[2].owner_src, ST_OWNER_SNAPSHOT);
}

/* Two attempts found at startup to the same destination: each end finds its
 * own, told apart by the local port. */
TEST(attempts_snapshot_matched_by_local_port)
{
	struct fixture *f = fixture_new();
	struct event a = tr(0, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0), b, e;

	a.kind = EVENT_TCP_SOCKET;
	a.old_state = 0;
	a.lport = 40001;
	b = a;
	b.lport = 40002;
	b.pid = b.tid = 20;
	strcpy(b.comm, "wget");
	feed(f, a);
	feed(f, b);
	ASSERT_EQ(f->rec->n, 2);
	e = end_ev(0x6100, ST_TCP_ESTABLISHED, T0 + 1 * SEC, EVENT_OLD_NS_UNKNOWN, 0);
	e.lport = 40001;
	feed(f, e);
	ASSERT_EQ(f->rec->n, 3);
	ASSERT_EQ(f->rec->evs[2].pid, 10);
	ASSERT_STREQ(f->rec->evs[2].comm, "curl");
	e = end_ev(0x6200, ST_TCP_CLOSE, T0 + 2 * SEC, EVENT_OLD_NS_UNKNOWN, ECONNREFUSED);
	e.lport = 40002;
	feed(f, e);
	ASSERT_EQ(f->rec->n, 4);
	ASSERT_EQ(f->rec->evs[3].pid, 20);
	ASSERT_STREQ(f->rec->evs[3].comm, "wget");
	ASSERT_EQ(f->rec->evs[3].outcome, OUTCOME_REFUSED);
}

/* When the end of an attempt was lost (ring buffer full), the kernel may
 * reuse the socket address for a new attempt: the stale one must not raise
 * alerts for a socket that has just started connecting. */
TEST(attempts_reused_socket_address_replaces_stale_attempt)
{
	struct fixture *f = fixture_new();

	feed(f, tr(0x7000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	/* ... its end never arrives; the address is reused 60 s later */
	feed(f, tr(0x7000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0 + 60 * SEC));
	ASSERT_EQ(tick(f, T0 + 60 * SEC + 500 * MS), 0);
	ASSERT_MSG(f->rec->n == 0, "%d alert(s) 0.5 s into a new attempt, elapsed %llu ns",
		   f->rec->n, (unsigned long long)f->rec->evs[0].elapsed_ns);
	feed(f, end_ev(0x7000, ST_TCP_ESTABLISHED, T0 + 60 * SEC + 600 * MS, 600 * MS, 0));
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(tick(f, T0 + 200 * SEC), 0);
	ASSERT_EQ(f->rec->n, 1);
}

TEST(attempts_many_concurrent)
{
	struct fixture *f = fixture_new();
	int n = 3000;

	/* many in flight: each end finds its own start */
	for (int i = 0; i < n; i++)
		feed(f, tr(0xffff888100000000ull + i * 0x800ull, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0 + i));
	for (int i = n - 1; i >= 0; i--) {
		struct event e = end_ev(0xffff888100000000ull + i * 0x800ull, ST_TCP_CLOSE,
					T0 + 10 * MS, EVENT_OLD_NS_UNKNOWN, ECONNREFUSED);

		f->rec->n = 0;
		feed(f, e);
		ASSERT_EQ(f->rec->n, 1);
		ASSERT_EQ_U64(f->rec->evs[0].elapsed_ns, 10 * MS - i);
	}
	ASSERT_EQ(tick(f, T0 + 100 * SEC), 0);
}

/* ---- the per-destination table ---- */

static void attempt_to(struct fixture *f, uint64_t sock, const char *raddr, uint16_t rport,
		       int new, uint64_t old_ns, int err)
{
	struct event s = tr(sock, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0);
	struct event e = end_ev(sock, new, T0 + old_ns, old_ns, err);

	s.raddr = e.raddr = addr_of(raddr);
	s.family = e.family = family_of(raddr);
	s.rport = e.rport = rport;
	feed(f, s);
	feed(f, e);
}

/* One line of text at s (up to and with its '\n') against want. */
static const char *next_line(const char *s, const char *want)
{
	const char *nl = strchr(s, '\n');
	struct jc_result r;

	ASSERT_NOT_NULL(nl);
	ASSERT_MEMEQ(s, nl - s + 1, want, strlen(want));
	ASSERT_JSON_LINE(s, nl - s + 1, &r);
	return nl + 1;
}

/* The table the stage emits at the end, rendered by a sink into m. */
static void render_table(struct fixture *f, struct memfile *m, bool json)
{
	struct sink *s = json ? sink_json__new(m->f, NULL) : sink_text__new(m->f, NULL);
	int n0 = f->rec->n;

	ASSERT_NOT_NULL(s);
	ASSERT_EQ(attempts__finish(f->a, clock_ref__wall(&test_ref, T0 + 1000 * SEC)), 0);
	for (int i = n0; i < f->rec->n; i++) {
		ASSERT_EQ(f->rec->evs[i].kind, EVENT_CONNECT_STATS);
		ASSERT_EQ(sink__event(s, &f->rec->evs[i]), 0);
	}
	ASSERT_EQ(sink__flush(s), 0);
	sink__free(s);
	f->rec->n = n0;
}

TEST(attempts_report_json)
{
	struct fixture *f = fixture_new();
	struct memfile *m = memfile_new();
	const char *out;

	/* 2 ms is the middle of its histogram bucket: reported exactly */
	attempt_to(f, 0x100, "2001:db8::1", 443, ST_TCP_CLOSE, 3 * SEC, ETIMEDOUT);
	attempt_to(f, 0x200, "10.0.0.2", 80, ST_TCP_ESTABLISHED, 2 * MS, 0);
	attempt_to(f, 0x300, "10.0.0.2", 80, ST_TCP_ESTABLISHED, 2 * MS, 0);
	attempt_to(f, 0x400, "10.0.0.2", 80, ST_TCP_ESTABLISHED, 2 * MS, 0);
	attempt_to(f, 0x500, "10.0.0.2", 80, ST_TCP_CLOSE, 1 * MS, ECONNREFUSED);
	attempt_to(f, 0x600, "10.0.0.3", 80, ST_TCP_CLOSE, 1 * MS, 0);
	attempt_to(f, 0x700, "10.0.0.3", 80, ST_TCP_CLOSE, 1 * MS, EHOSTUNREACH);
	ASSERT_EQ(f->rec->n, 7);
	render_table(f, m, true);
	out = memfile_str(m, NULL);
	ASSERT_EQ(memfile_lines(m), 3);
	/* most attempted first */
	out = next_line(out,
		"{\"type\":\"connect_stats\",\"proto\":\"tcp\",\"family\":4,\"raddr\":\"10.0.0.2\","
		"\"rport\":80,\"attempts\":4,\"established\":3,\"refused\":1,\"timeout\":0,"
		"\"unreachable\":0,\"aborted\":0,\"handshake_p50_ms\":2.000,"
		"\"handshake_p99_ms\":2.000}\n");
	out = next_line(out,
		"{\"type\":\"connect_stats\",\"proto\":\"tcp\",\"family\":4,\"raddr\":\"10.0.0.3\","
		"\"rport\":80,\"attempts\":2,\"established\":0,\"refused\":0,\"timeout\":0,"
		"\"unreachable\":1,\"aborted\":1,\"handshake_p50_ms\":null,"
		"\"handshake_p99_ms\":null}\n");
	out = next_line(out,
		"{\"type\":\"connect_stats\",\"proto\":\"tcp\",\"family\":6,\"raddr\":\"2001:db8::1\","
		"\"rport\":443,\"attempts\":1,\"established\":0,\"refused\":0,\"timeout\":1,"
		"\"unreachable\":0,\"aborted\":0,\"handshake_p50_ms\":null,"
		"\"handshake_p99_ms\":null}\n");
	ASSERT_STREQ(out, "");
}

TEST(attempts_report_text)
{
	struct fixture *f = fixture_new();
	struct memfile *m = memfile_new();
	const char *out;

	render_table(f, m, false);
	ASSERT_STREQ(memfile_str(m, NULL), "no connection attempts\n");
	render_table(f, m, true);	/* JSON: nothing */
	ASSERT_STREQ(memfile_str(m, NULL), "no connection attempts\n");

	fseek(m->f, 0, SEEK_SET);
	attempt_to(f, 0x200, "10.0.0.2", 80, ST_TCP_ESTABLISHED, 2 * MS, 0);
	attempt_to(f, 0x300, "::1", 22, ST_TCP_CLOSE, 1 * MS, ECONNREFUSED);
	attempt_to(f, 0x400, "::1", 22, ST_TCP_CLOSE, 1 * MS, ECONNREFUSED);
	render_table(f, m, false);
	out = memfile_str(m, NULL);
	ASSERT_STREQ(out,
		"\n"
		"DESTINATION                    ATTEMPTS ESTABLISHED REFUSED TIMEOUT UNREACHABLE ABORTED    P50_MS    P99_MS\n"
		"[::1]:22/tcp                          2           0       2       0           0       0         -         -\n"
		"10.0.0.2:80/tcp                       1           1       0       0           0       0     2.000     2.000\n");
}

/* ---- event time ---- */

/* An alert comes at the moment it is due, whatever ticks the clock: one
 * tick far past it, or many small ones, give the same alert. */
TEST(attempts_alert_time_is_event_time)
{
	struct fixture *f = fixture_new(), *g = fixture_new();

	feed(f, tr(0x8000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	feed(g, tr(0x8000, ST_TCP_CLOSE, ST_TCP_SYN_SENT, T0));
	ASSERT_EQ(tick(f, T0 + 37 * SEC), 0);
	for (uint64_t t = T0; t < T0 + 3 * SEC; t += 7 * MS)
		ASSERT_EQ(tick(g, t), 0);
	ASSERT_EQ(f->rec->n, 1);
	ASSERT_EQ(g->rec->n, 1);
	ASSERT_EQ_U64(f->rec->evs[0].boot_ns, T0 + 1 * SEC);
	ASSERT_EQ_U64(f->rec->evs[0].wall_ns, clock_ref__wall(&test_ref, T0 + 1 * SEC));
	ASSERT_EQ_U64(f->rec->evs[0].elapsed_ns, 1 * SEC);
	ASSERT_MEMEQ(&f->rec->evs[0], sizeof(struct event), &g->rec->evs[0], sizeof(struct event));
}

/* Through the pipeline, a source event moves the clock first: the alert
 * due before a late retransmit comes before it, with the count before it;
 * several due at once come in the order they fell due. */
TEST(attempts_alerts_before_the_event_that_passes_them)
{
	struct fixture *f = fixture_new();
	struct event rt = retrans_ev(0x9000, 1, T0 + 1500 * MS);

	ASSERT_EQ(pipeline__push(&f->pl, &(struct event){ 0 }), 0);	/* a kind nobody shows */
	f->rec->n = 0;
	for (int i = 0; i < 3; i++) {
		struct event s = tr(0x9000 + 0x100 * (2 - i), ST_TCP_CLOSE, ST_TCP_SYN_SENT,
				    T0 + i * 10 * MS);

		ASSERT_EQ(pipeline__push(&f->pl, &s), 0);
	}
	ASSERT_EQ(pipeline__push(&f->pl, &rt), 0);
	ASSERT_EQ(f->rec->n, 4);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(f->rec->evs[i].kind, EVENT_SYN_ALERT);
		ASSERT_EQ_U64(f->rec->evs[i].boot_ns, T0 + 1 * SEC + i * 10 * MS);
		ASSERT_EQ_U64(f->rec->evs[i].sock, 0x9000 + 0x100 * (2 - i));
		ASSERT_EQ(f->rec->evs[i].syn_retrans, 0);
	}
	ASSERT_EQ(f->rec->evs[3].kind, EVENT_SYN_ALERT);
	ASSERT_EQ_U64(f->rec->evs[3].sock, 0x9000);
	ASSERT_EQ(f->rec->evs[3].syn_retrans, 1);
	ASSERT_EQ_U64(f->rec->evs[3].boot_ns, T0 + 1500 * MS);
}

/* ---- histogram ---- */

TEST(hist_small_values_are_exact)
{
	struct hist *h = calloc(1, sizeof(*h));

	ASSERT_NOT_NULL(h);
	ut_defer(free, h);
	ASSERT_EQ_U64(hist__quantile(h, 0.5), 0);
	hist__add(h, 5000);
	ASSERT_EQ_U64(hist__quantile(h, 0.5), 5000);
	ASSERT_EQ_U64(hist__quantile(h, 0.0), 5000);
	ASSERT_EQ_U64(hist__quantile(h, 1.0), 5000);
	hist__add(h, 0);
	hist__add(h, 31000);
	ASSERT_EQ_U64(h->count, 3);
	ASSERT_EQ_U64(hist__quantile(h, 0.0), 0);
	ASSERT_EQ_U64(hist__quantile(h, 1.0), 31000);
}

static void assert_near(uint64_t got, double want, const char *what)
{
	ASSERT_MSG(got >= want * 0.97 && got <= want * 1.03, "%s: got %llu ns, expected %.0f ns within 3%%",
		   what, (unsigned long long)got, want);
}

TEST(hist_resolution_within_3_percent)
{
	struct hist *h = calloc(1, sizeof(*h));
	char what[64];

	ASSERT_NOT_NULL(h);
	ut_defer(free, h);
	/* one value at a time, over the whole range */
	for (uint64_t us = 1; us < 4000000000ull; us = us * 5 / 4 + 1) {
		memset(h, 0, sizeof(*h));
		hist__add(h, us * 1000);
		snprintf(what, sizeof(what), "single value %llu us", (unsigned long long)us);
		assert_near(hist__quantile(h, 0.5), us * 1000.0, what);
	}
	/* 1..1000 ms */
	memset(h, 0, sizeof(*h));
	for (int i = 1; i <= 1000; i++)
		hist__add(h, i * MS);
	assert_near(hist__quantile(h, 0.5), 500 * MS, "p50 of 1..1000 ms");
	assert_near(hist__quantile(h, 0.99), 990 * MS, "p99 of 1..1000 ms");
	assert_near(hist__quantile(h, 1.0), 1000 * MS, "max of 1..1000 ms");
}

TEST(hist_huge_values_are_clamped)
{
	struct hist *h = calloc(1, sizeof(*h));

	ASSERT_NOT_NULL(h);
	ut_defer(free, h);
	hist__add(h, UINT64_MAX);
	hist__add(h, 365 * 24 * 3600 * SEC);
	ASSERT_EQ_U64(h->count, 2);
	ASSERT(hist__quantile(h, 0.5) > 3600 * SEC);
	ASSERT_EQ_U64(h->buckets[HIST_BUCKETS - 1], 2);
}

/* The 99th percentile of a few samples is near the largest, whichever
 * usual definition (nearest rank, interpolation) is meant. */
TEST(hist_p99_of_few_samples)
{
	struct hist *h = calloc(1, sizeof(*h));

	ASSERT_NOT_NULL(h);
	ut_defer(free, h);
	hist__add(h, 1 * MS);
	hist__add(h, 100 * MS);
	ASSERT_MSG(hist__quantile(h, 0.99) >= 0.97 * 99.01 * MS,
		   "p99 of {1 ms, 100 ms}: got %llu ns",
		   (unsigned long long)hist__quantile(h, 0.99));
	memset(h, 0, sizeof(*h));
	for (int i = 1; i <= 10; i++)
		hist__add(h, i * MS);
	ASSERT_MSG(hist__quantile(h, 0.99) >= 0.97 * 9.91 * MS,
		   "p99 of 1..10 ms: got %llu ns", (unsigned long long)hist__quantile(h, 0.99));
	ASSERT(hist__quantile(h, 0.99) <= 1.03 * 10 * MS);
}
