// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "resets.h"

/* Ends and reasons that wait at once: resets come one per connection, and
 * a take lasts about 100 ms; more are pushed (or dropped) early. */
#define RESETS_HELD 256
#define RESETS_SEEN 64

struct held {
	struct event ev;
	uint64_t take;		/* the take it came in */
};

struct seen {
	uint64_t sock;		/* 0: free */
	uint32_t reason;
	uint64_t take;
};

struct resets {
	char (*names)[TCP_RST_REASON_LEN];
	size_t n_names;
	resets_push_fn push;
	void *ctx;
	uint64_t take;		/* takes so far */
	struct held *held;	/* oldest first */
	size_t n_held;
	struct seen seen[RESETS_SEEN];
	size_t next_seen;	/* the slot the next one takes when all are used */
};

struct resets *resets__new(const char (*names)[TCP_RST_REASON_LEN], size_t n,
			   resets_push_fn push, void *ctx)
{
	struct resets *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->held = calloc(RESETS_HELD, sizeof(*r->held));
	r->names = n ? calloc(n, TCP_RST_REASON_LEN) : NULL;
	if (!r->held || (n && !r->names)) {
		resets__free(r);
		errno = ENOMEM;
		return NULL;
	}
	if (n)
		memcpy(r->names, names, n * TCP_RST_REASON_LEN);
	r->n_names = n;
	r->push = push;
	r->ctx = ctx;
	return r;
}

/* The kernel's name of the reason, or its number where this kernel's BTF
 * has none (a value newer than the names read at start cannot happen: the
 * names are the running kernel's). */
static void resets__name(const struct resets *r, uint32_t reason, char *out)
{
	if (reason < r->n_names && r->names[reason][0])
		snprintf(out, TCP_RST_REASON_LEN, "%s", r->names[reason]);
	else
		snprintf(out, TCP_RST_REASON_LEN, "%u", reason);
}

/* Pushes held end i and closes the gap, keeping the order. */
static int resets__release(struct resets *r, size_t i)
{
	struct event ev = r->held[i].ev;

	memmove(&r->held[i], &r->held[i + 1], (r->n_held - i - 1) * sizeof(*r->held));
	r->n_held--;
	return r->push(r->ctx, &ev);
}

/* The ends a reset can follow, the kernel having closed the socket before
 * it sent the RST: rst_sent (close() with unread data, SO_LINGER 0), and
 * rst_received (tcp_reset() on data after close, then the answer). */
static bool resets__may_follow(const struct event *ev)
{
	return ev->conn.end == ST_END_RST_SENT || ev->conn.end == ST_END_RST_RECEIVED;
}

int resets__end(struct resets *r, const struct event *ev)
{
	struct event copy;

	for (size_t i = 0; i < RESETS_SEEN; i++) {
		struct seen *s = &r->seen[i];

		if (!s->sock || s->sock != ev->sock)
			continue;
		copy = *ev;
		resets__name(r, s->reason, copy.conn.rst_reason);
		s->sock = 0;
		return r->push(r->ctx, &copy);
	}
	if (ev->kind != EVENT_TCP_CONN || ev->conn.event != TCP_CONN_END || !resets__may_follow(ev)) {
		copy = *ev;
		return r->push(r->ctx, &copy);
	}
	if (r->n_held == RESETS_HELD) {
		int err = resets__release(r, 0);

		if (err)
			return err;
	}
	r->held[r->n_held].ev = *ev;
	r->held[r->n_held].take = r->take;
	r->n_held++;
	return 0;
}

int resets__reset(struct resets *r, uint64_t sock, uint32_t reason)
{
	struct seen *slot = NULL;

	if (!sock)
		return 0;
	/* the latest end of that socket: a pointer is reused only after its
	 * socket was freed */
	for (size_t i = r->n_held; i-- > 0;) {
		if (r->held[i].ev.sock != sock)
			continue;
		resets__name(r, reason, r->held[i].ev.conn.rst_reason);
		return resets__release(r, i);
	}
	for (size_t i = 0; i < RESETS_SEEN && !slot; i++)
		if (!r->seen[i].sock)
			slot = &r->seen[i];
	if (!slot) {
		/* all wait: the oldest slot goes, it would be dropped soon */
		slot = &r->seen[r->next_seen];
		r->next_seen = (r->next_seen + 1) % RESETS_SEEN;
	}
	slot->sock = sock;
	slot->reason = reason;
	slot->take = r->take;
	return 0;
}

int resets__tick(struct resets *r)
{
	int err = 0;

	/* what came in the take before this one has had this one to wait */
	while (r->n_held && r->held[0].take < r->take && !err)
		err = resets__release(r, 0);
	for (size_t i = 0; i < RESETS_SEEN; i++)
		if (r->seen[i].sock && r->seen[i].take < r->take)
			r->seen[i].sock = 0;
	r->take++;
	return err;
}

int resets__flush(struct resets *r)
{
	int err = 0;

	while (r && r->n_held && !err)
		err = resets__release(r, 0);
	return err;
}

void resets__free(struct resets *r)
{
	if (!r)
		return;
	free(r->held);
	free(r->names);
	free(r);
}
