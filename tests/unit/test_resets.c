// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live source's reset reasons (resets.c): an end record gets the
 * reason of the RST its socket sent, whichever of the two the ring buffer
 * gives first; an end that may get one waits until the next take at most,
 * and what cannot get one is not held. */
#include <errno.h>
#include <string.h>
#include "resets.h"
#include "util.h"

static const char names[][TCP_RST_REASON_LEN] = {
	"not_specified", "no_socket", "", "", "", "", "", "", "", "", "",
	"tcp_abort_on_close", "tcp_abort_on_linger", "", "tcp_state", "tcp_keepalive_timeout",
};

struct pushed {
	struct event ev[8];
	int n;
};

static int push(void *ctx, struct event *ev)
{
	struct pushed *p = ctx;

	ASSERT(p->n < 8);
	p->ev[p->n++] = *ev;
	return 0;
}

static void free_resets(void *r)
{
	resets__free(r);
}

static struct resets *resets_new(struct pushed *p)
{
	struct resets *r;

	memset(p, 0, sizeof(*p));
	r = resets__new(names, sizeof(names) / sizeof(names[0]), push, p);
	ASSERT_NOT_NULL(r);
	ut_defer(free_resets, r);
	return r;
}

static struct event end_of(uint64_t sock, uint8_t end)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_CONN;
	ev.sock = sock;
	ev.conn.event = TCP_CONN_END;
	ev.conn.end = end;
	return ev;
}

TEST(resets_reason_after_the_end)
{
	struct pushed p;
	struct resets *r = resets_new(&p);
	struct event ev = end_of(0x1000, ST_END_RST_SENT);

	/* close() with unread data: CLOSE, then the RST */
	ASSERT_EQ(resets__end(r, &ev), 0);
	ASSERT_EQ(p.n, 0);
	ASSERT_EQ(resets__reset(r, 0x1000, 11), 0);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(p.ev[0].sock, 0x1000);
	ASSERT_STREQ(p.ev[0].conn.rst_reason, "tcp_abort_on_close");
	/* the record is gone: a later tick pushes nothing more */
	resets__tick(r);
	resets__tick(r);
	ASSERT_EQ(p.n, 1);
}

TEST(resets_reason_before_the_end)
{
	struct pushed p;
	struct resets *r = resets_new(&p);
	struct event ev = end_of(0x2000, ST_END_KEEPALIVE);

	/* a keepalive timeout: the RST, then CLOSE; the end is not held */
	resets__reset(r, 0x2000, 15);
	ASSERT_EQ(p.n, 0);
	resets__tick(r);
	ASSERT_EQ(resets__end(r, &ev), 0);
	ASSERT_EQ(p.n, 1);
	ASSERT_STREQ(p.ev[0].conn.rst_reason, "tcp_keepalive_timeout");
}

TEST(resets_end_waits_one_take_at_most)
{
	struct pushed p;
	struct resets *r = resets_new(&p);
	struct event a = end_of(0x3000, ST_END_RST_RECEIVED), b = end_of(0x4000, ST_END_RST_SENT);

	/* a reset received: no RST of ours follows; held through the take
	 * it came in and the next */
	resets__end(r, &a);
	resets__tick(r);
	ASSERT_EQ(p.n, 0);
	resets__end(r, &b);
	resets__tick(r);
	ASSERT_EQ(p.n, 1);
	ASSERT_EQ(p.ev[0].sock, 0x3000);
	ASSERT_STREQ(p.ev[0].conn.rst_reason, "");
	/* the source ends: the rest goes */
	ASSERT_EQ(resets__flush(r), 0);
	ASSERT_EQ(p.n, 2);
	ASSERT_EQ(p.ev[1].sock, 0x4000);
}

TEST(resets_what_gets_none_is_not_held)
{
	struct pushed p;
	struct resets *r = resets_new(&p);
	struct event fin = end_of(0x5000, ST_END_FIN), up = end_of(0x6000, ST_END_RST_SENT);

	up.conn.event = TCP_CONN_UPDATE;
	resets__end(r, &fin);
	resets__end(r, &up);
	ASSERT_EQ(p.n, 2);
	ASSERT_STREQ(p.ev[0].conn.rst_reason, "");
	/* a reset whose end never comes is forgotten after the next take */
	resets__reset(r, 0x7000, 14);
	resets__tick(r);
	resets__tick(r);
	fin.sock = 0x7000;
	fin.conn.end = ST_END_TIMEOUT;
	resets__end(r, &fin);
	ASSERT_EQ(p.n, 3);
	ASSERT_STREQ(p.ev[2].conn.rst_reason, "");
}

TEST(resets_unnamed_reason_is_its_number)
{
	struct pushed p;
	struct resets *r = resets_new(&p);
	struct event ev = end_of(0x8000, ST_END_RST_SENT);

	resets__end(r, &ev);
	resets__reset(r, 0x8000, 70);
	ASSERT_EQ(p.n, 1);
	ASSERT_STREQ(p.ev[0].conn.rst_reason, "70");
	ev.sock = 0x9000;
	resets__end(r, &ev);
	resets__reset(r, 0x9000, 3);	/* a value this kernel names "" */
	ASSERT_STREQ(p.ev[1].conn.rst_reason, "3");
}
