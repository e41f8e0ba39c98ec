// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One aligned line per event. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sink.h"

struct sink_text {
	struct sink base;
	bool header_done;
};

#define TEXT_HEADER_FMT "%-15s %-7s %-15s %-30s %-30s %-11s    %-11s %s\n"
#define TEXT_LINE_FMT   "%-15s %-7s %-15s %-30s %-30s %-11s -> %-11s %s\n"

static void sock_text(char *buf, size_t len, const struct event *ev, bool local,
		      const char *service)
{
	size_t n;

	format__sock(buf, len, ev->family, local ? &ev->laddr : &ev->raddr,
		     local ? ev->lport : ev->rport, "tcp");
	n = strlen(buf);
	if (service)
		snprintf(buf + n, len - n, "(%s)", service);
}

static int text__event(struct sink *s, const struct event *ev)
{
	struct sink_text *t = (struct sink_text *)s;
	char tbuf[32], pid[16], ms[32], lbuf[SOCK_STRLEN + 40], rbuf[SOCK_STRLEN + 40];
	const char *svc, *old;
	enum service_side side;

	if (!t->header_done) {
		fprintf(s->out, TEXT_HEADER_FMT, "TIME", "PID", "COMM", "LOCAL", "REMOTE",
			"OLD", "NEW", "MS");
		t->header_done = true;
	}
	format__clock(tbuf, sizeof(tbuf), ev->wall_ns);
	side = sink__service(s->svc, ev, &svc);
	sock_text(lbuf, sizeof(lbuf), ev, true, side == SERVICE_LOCAL ? svc : NULL);
	sock_text(rbuf, sizeof(rbuf), ev, false, side == SERVICE_REMOTE ? svc : NULL);
	if (ev->pid)
		snprintf(pid, sizeof(pid), "%u", ev->pid);
	else
		strcpy(pid, "-");
	if (ev->kind == EVENT_TCP_STATE && ev->old_ns != EVENT_OLD_NS_UNKNOWN)
		snprintf(ms, sizeof(ms), "%.3f", ev->old_ns / 1e6);
	else
		strcpy(ms, "-");
	old = ev->kind == EVENT_TCP_SOCKET ? "(existing)" : tcp_state__name(ev->old_state);
	if (fprintf(s->out, TEXT_LINE_FMT, tbuf, pid, ev->pid ? ev->comm : "-", lbuf, rbuf,
		    old, tcp_state__name(ev->new_state), ms) < 0)
		return -errno;
	return 0;
}

static int text__flush(struct sink *s)
{
	return fflush(s->out) ? -errno : 0;
}

static void text__free(struct sink *s)
{
	free(s);
}

static const struct sink_ops text_ops = {
	.event = text__event,
	.flush = text__flush,
	.free = text__free,
};

struct sink *sink_text__new(FILE *out, const struct services *svc)
{
	struct sink_text *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->base.ops = &text_ops;
	t->base.out = out;
	t->base.svc = svc;
	return &t->base;
}
