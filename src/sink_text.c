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

/* Column widths of TEXT_HEADER_FMT; a longer value pushes the line out. */
enum { W_TIME = 15, W_PID = 7, W_COMM = 15, W_SOCK = 30, W_STATE = 11 };

static char *put_col(char *p, const char *s, int width, const char *sep)
{
	size_t n = strlen(s), m = strlen(sep);

	memcpy(p, s, n);
	p += n;
	for (; (int)n < width; n++)
		*p++ = ' ';
	memcpy(p, sep, m);
	return p + m;
}

static void sock_text(char *buf, size_t len, const struct event *ev, bool local,
		      const char *service)
{
	const char *proto = ev->proto == IPPROTO_UDP ? "udp" : "tcp";
	size_t n;

	/* a UDP flow whose peer the application did not name */
	if (!local && ev->proto == IPPROTO_UDP && !ev->rport &&
	    IN6_IS_ADDR_UNSPECIFIED(&ev->raddr)) {
		strcpy(buf, "*:*/udp");
		return;
	}
	format__sock(buf, len, ev->family, local ? &ev->laddr : &ev->raddr,
		     local ? ev->lport : ev->rport, proto);
	n = strlen(buf);
	if (service)
		snprintf(buf + n, len - n, "(%s)", service);
}

/* A process name is chosen by the process: keep its control bytes away
 * from the terminal. */
static const char *text__safe(char *dst, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i < TASK_COMM_LEN; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
	return dst;
}

/* "CONNECT     -> refused     0.236 syn_retrans=0 ECONNREFUSED", or for an
 * alert "SYN_SENT    !! ALERT       1002.345 syn_retrans=1 <diagnosis>". */
static char *text__attempt(char *p, char *end, const struct event *ev)
{
	const struct diagnosis *d = &ev->diag;
	char ms[32];
	size_t room;
	int n;

	if (ev->elapsed_ns == EVENT_OLD_NS_UNKNOWN)
		strcpy(ms, "-");
	else
		snprintf(ms, sizeof(ms), "%.3f", ev->elapsed_ns / 1e6);
	if (ev->kind == EVENT_CONNECT) {
		p = put_col(p, "CONNECT", W_STATE, " -> ");
		p = put_col(p, outcome__name(ev->outcome), W_STATE, " ");
	} else {
		p = put_col(p, "SYN_SENT", W_STATE, " !! ");
		p = put_col(p, "ALERT", W_STATE, " ");
	}
	room = end - p;
	n = snprintf(p, room, "%s syn_retrans=%u", ms, ev->syn_retrans);
	if (ev->kind == EVENT_CONNECT && ev->err && n < (int)room) {
		const char *name = errno__name(ev->err);

		n += name ? snprintf(p + n, room - n, " %s", name) :
			    snprintf(p + n, room - n, " errno=%d", ev->err);
	}
	if (ev->kind == EVENT_CONNECT && ev->outcome == OUTCOME_IN_PROGRESS && n < (int)room)
		n += snprintf(p + n, room - n, " (started before tracing)");
	if (ev->kind == EVENT_SYN_ALERT && n < (int)room) {
		char owner[48] = "owner unknown", comm[TASK_COMM_LEN + 1];

		if (d->pid)
			snprintf(owner, sizeof(owner), "%u/%s", d->pid, text__safe(comm, d->comm));
		switch (d->cause) {
		case DIAG_QUEUE_FULL:
			n += snprintf(p + n, room - n, " local listener %s: accept queue full (%u/%u)",
				      owner, d->queue, d->backlog);
			break;
		case DIAG_LISTENING:
			n += snprintf(p + n, room - n, " local listener %s: accept queue %u/%u",
				      owner, d->queue, d->backlog);
			break;
		case DIAG_NO_LISTENER:
			n += snprintf(p + n, room - n, " local address: nothing listens on this port");
			break;
		case DIAG_NONE:
			break;
		}
	}
	if (n >= (int)room - 1)
		n = room - 2;
	p += n;
	*p++ = '\n';
	return p;
}

static char *put_u64(char *p, uint64_t v)
{
	return p + format__u64(p, v);
}

/* Seconds with milliseconds, rounded: "1.234s". */
static char *put_secs(char *p, uint64_t ns)
{
	uint64_t ms = (ns + 500000) / 1000000;

	p = put_u64(p, ms / 1000);
	*p++ = '.';
	*p++ = '0' + ms % 1000 / 100;
	*p++ = '0' + ms % 100 / 10;
	*p++ = '0' + ms % 10;
	*p++ = 's';
	return p;
}

/* "UDP END        tx=3/300B rx=3/300B 1.234s idle": packets/bytes each
 * way since the flow started, first datagram to last, why it ended. At
 * most 140 bytes: with the columns before it, line[] has room. */
static char *text__udp_flow(char *p, const struct event *ev)
{
	static const char *const names[UDP_FLOW__MAX] = {
		[UDP_FLOW_START] = "UDP START",
		[UDP_FLOW_UPDATE] = "UDP UPDATE",
		[UDP_FLOW_END] = "UDP END",
	};
	const char *reason = udp_end_reason__name(ev->end_reason);
	const char *name = ev->flow_event < UDP_FLOW__MAX && names[ev->flow_event] ?
			   names[ev->flow_event] : "UDP ?";

	p = put_col(p, name, W_STATE, "    ");
	memcpy(p, "tx=", 3);
	p = put_u64(p + 3, ev->tx_packets);
	*p++ = '/';
	p = put_u64(p, ev->tx_bytes);
	memcpy(p, "B rx=", 5);
	p = put_u64(p + 5, ev->rx_packets);
	*p++ = '/';
	p = put_u64(p, ev->rx_bytes);
	memcpy(p, "B ", 2);
	p = put_secs(p + 2, ev->duration_ns);
	if (ev->flow_event == UDP_FLOW_END && reason) {
		*p++ = ' ';
		p = put_col(p, reason, 0, "");
	}
	*p++ = '\n';
	return p;
}

static const char *udp_state__name(int state)
{
	switch (state) {
	case ST_TCP_ESTABLISHED:
		return "CONNECTED";
	case ST_TCP_CLOSE:
		return "BOUND";
	default:
		return "UNKNOWN";
	}
}

/* Built by hand rather than with fprintf: under load this is the hot path. */
static int text__event(struct sink *s, const struct event *ev)
{
	struct sink_text *t = (struct sink_text *)s;
	char tbuf[32], pid[24], ms[32], lbuf[SOCK_STRLEN + 40], rbuf[SOCK_STRLEN + 40];
	char line[512], *p = line, comm[TASK_COMM_LEN + 1];
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
		format__u64(pid, ev->pid);
	else
		strcpy(pid, "-");
	if (ev->kind == EVENT_TCP_STATE && ev->old_ns != EVENT_OLD_NS_UNKNOWN) {
		uint64_t us = (ev->old_ns + 500) / 1000;
		int n = format__u64(ms, us / 1000);

		ms[n] = '.';
		ms[n + 1] = '0' + us % 1000 / 100;
		ms[n + 2] = '0' + us % 100 / 10;
		ms[n + 3] = '0' + us % 10;
		ms[n + 4] = '\0';
	} else {
		strcpy(ms, "-");
	}
	old = ev->kind == EVENT_TCP_SOCKET || ev->kind == EVENT_UDP_SOCKET ? "(existing)" :
	      tcp_state__name(ev->old_state);

	p = put_col(p, tbuf, W_TIME, " ");
	p = put_col(p, pid, W_PID, " ");
	p = put_col(p, ev->pid ? text__safe(comm, ev->comm) : "-", W_COMM, " ");
	p = put_col(p, lbuf, W_SOCK, " ");
	p = put_col(p, rbuf, W_SOCK, " ");
	if (ev->kind == EVENT_CONNECT || ev->kind == EVENT_SYN_ALERT) {
		p = text__attempt(p, line + sizeof(line), ev);
	} else if (ev->kind == EVENT_UDP_FLOW) {
		p = text__udp_flow(p, ev);
	} else {
		p = put_col(p, old, W_STATE, " -> ");
		p = put_col(p, ev->kind == EVENT_UDP_SOCKET ? udp_state__name(ev->new_state) :
			    tcp_state__name(ev->new_state), W_STATE, " ");
		if (event__gap(ev)) {
			p = put_col(p, ms, 0, " (gap: last seen in ");
			p = put_col(p, tcp_state__name(ev->prev_state), 0, ")\n");
		} else {
			p = put_col(p, ms, 0, "\n");
		}
	}
	if (fwrite(line, 1, p - line, s->out) != (size_t)(p - line))
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
