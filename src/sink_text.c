// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One aligned line per event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup_info.h"
#include "format.h"
#include "sink.h"

enum { COL_TIME, COL_PID, COL_COMM, COL_LOCAL, COL_REMOTE, COL_OLD, COL_NEW, COL_CGROUP, COL__MAX };

#define TEXT_HEADER_FMT "%-15s %-7s %-15s %-30s %-30s %-11s    %-11s %s\n"
#define TEXT_HEADER_FMT_CGROUP "%-15s %-7s %-15s %-24s %-30s %-30s %-11s    %-11s %s\n"

/* The widths of TEXT_HEADER_FMT, in terminal columns. A longer value widens
 * its column for its line and every later one (the widest value so far),
 * so lines stay aligned with each other. */
static const int min_width[COL__MAX] = { 15, 7, 15, 30, 30, 11, 11, 24 };

struct sink_text {
	struct sink base;
	bool header_done;
	bool table_header_done;
	bool dns_header_done;
	bool cgroup_column;	/* --cgroup-column */
	int width[COL__MAX];
};

/* s, which is dw terminal columns wide, padded to the column's width, then
 * sep. */
static char *put_col(struct sink_text *t, char *p, int col, const char *s, int dw, const char *sep)
{
	size_t n = strlen(s), m = strlen(sep);

	if (dw > t->width[col])
		t->width[col] = dw;
	memcpy(p, s, n);
	p += n;
	for (; dw < t->width[col]; dw++)
		*p++ = ' ';
	memcpy(p, sep, m);
	return p + m;
}

/* The same for ASCII text such as a state name or an address. */
static char *put_ascii(struct sink_text *t, char *p, int col, const char *s, const char *sep)
{
	return put_col(t, p, col, s, format__text_width(s), sep);
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
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
	/* the name the process resolved, in place of the address (tcpdump) */
	if (!local && ev->rname[0])
		snprintf(buf, len, "%s:%u/%s", ev->rname, ev->rport, proto);
	else
		format__sock(buf, len, ev->family, local ? &ev->laddr : &ev->raddr,
			     local ? ev->lport : ev->rport, proto);
	n = strlen(buf);
	if (service)
		snprintf(buf + n, len - n, "(%s)", service);
}

/* A process name is any bytes the process chose: as the JSON output, keep
 * valid UTF-8 and escape control characters and other bytes (\xNN), so
 * that nothing reaches the terminal but text. */
#define COMM_TEXT_LEN (4 * TASK_COMM_LEN + 1)

/* "CONNECT     -> refused     0.236 syn_retrans=0 ECONNREFUSED", or for an
 * alert "SYN_SENT    !! ALERT       1002.345 syn_retrans=1 <diagnosis>". */
static char *text__attempt(struct sink_text *t, char *p, char *end, const struct event *ev)
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
		p = put_ascii(t, p, COL_OLD, "CONNECT", " -> ");
		p = put_ascii(t, p, COL_NEW, outcome__name(ev->outcome), " ");
	} else {
		p = put_ascii(t, p, COL_OLD, "SYN_SENT", " !! ");
		p = put_ascii(t, p, COL_NEW, "ALERT", " ");
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
		char owner[24 + COMM_TEXT_LEN] = "owner unknown", comm[COMM_TEXT_LEN];

		if (d->pid) {
			format__text_escape(comm, sizeof(comm), d->comm, TASK_COMM_LEN);
			snprintf(owner, sizeof(owner), "%u/%s", d->pid, comm);
		}
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

/* Three decimals of v / unit, rounded: "0.412". */
static char *put_milli(char *p, uint64_t v, uint64_t unit)
{
	uint64_t m = (v + unit / 2000) / (unit / 1000);

	p = put_u64(p, m / 1000);
	*p++ = '.';
	*p++ = '0' + m % 1000 / 100;
	*p++ = '0' + m % 100 / 10;
	*p++ = '0' + m % 10;
	return p;
}

/* A duration in the unit that shows it: "0.412ms" under a second (a
 * loopback connection lasts less than a millisecond), "1.234s" from one. */
static char *put_duration(char *p, uint64_t ns)
{
	if (ns < 999999500) {
		p = put_milli(p, ns, 1000000);
		*p++ = 'm';
	} else {
		p = put_milli(p, ns, 1000000000);
	}
	*p++ = 's';
	return p;
}

/* "UDP END        tx=3/300B rx=3/300B 1.234s idle": packets/bytes each
 * way since the flow started, first datagram to last, why it ended. At
 * most 140 bytes: with the columns before it, line[] has room. */
static char *text__udp_flow(struct sink_text *t, char *p, const struct event *ev)
{
	static const char *const names[UDP_FLOW__MAX] = {
		[UDP_FLOW_START] = "UDP START",
		[UDP_FLOW_UPDATE] = "UDP UPDATE",
		[UDP_FLOW_END] = "UDP END",
	};
	const char *reason = udp_end_reason__name(ev->end_reason);
	const char *name = ev->flow_event < UDP_FLOW__MAX && names[ev->flow_event] ?
			   names[ev->flow_event] : "UDP ?";

	/* the counts start where NEW does */
	p = put_ascii(t, p, COL_OLD, name, "    ");
	memcpy(p, "tx=", 3);
	p = put_u64(p + 3, ev->tx_packets);
	*p++ = '/';
	p = put_u64(p, ev->tx_bytes);
	memcpy(p, "B rx=", 5);
	p = put_u64(p + 5, ev->rx_packets);
	*p++ = '/';
	p = put_u64(p, ev->rx_bytes);
	memcpy(p, "B ", 2);
	p = put_duration(p + 2, ev->duration_ns);
	if (ev->flow_event == UDP_FLOW_END && reason) {
		*p++ = ' ';
		p = put_str(p, reason);
	}
	*p++ = '\n';
	return p;
}

/* Microseconds as milliseconds with 3 decimals: "0.034ms". */
static char *put_us_ms(char *p, uint32_t us)
{
	p = put_u64(p, us / 1000);
	*p++ = '.';
	*p++ = '0' + us % 1000 / 100;
	*p++ = '0' + us % 100 / 10;
	*p++ = '0' + us % 10;
	return put_str(p, "ms");
}

/* "TCP END        tx=1000B rx=300B segs=6/5 retrans=0 rtt=0.034ms 1.234s
 * fin local": the kernel's byte counts (bytes_sent, bytes_received: the
 * payload), segments out/in, retransmitted segments, smoothed
 * RTT, first sight to end ("+" when it predates tracing), how it ended
 * (and the kernel's reason for the RST this side sent, "reset=..."), who
 * sent the first FIN, and the error. At most 240 bytes. */
static char *text__tcp_conn(struct sink_text *t, char *p, const struct event *ev)
{
	const struct tcp_conn *c = &ev->conn;
	const char *end = tcp_end__name(c->end), *first = tcp_closer__name(c->closed_first);

	p = put_ascii(t, p, COL_OLD, c->event == TCP_CONN_UPDATE ? "TCP UPDATE" :
		      c->event == TCP_CONN_RETRANS ? "TCP RETRANS" : "TCP END", "    ");
	memcpy(p, "tx=", 3);
	p = put_u64(p + 3, c->bytes_sent);
	memcpy(p, "B rx=", 5);
	p = put_u64(p + 5, c->bytes_received);
	memcpy(p, "B segs=", 7);
	p = put_u64(p + 7, c->segs_out);
	*p++ = '/';
	p = put_u64(p, c->segs_in);
	p = put_str(p, " retrans=");
	p = put_u64(p, c->total_retrans);
	p = put_str(p, " rtt=");
	p = put_us_ms(p, c->srtt_us);
	*p++ = ' ';
	p = put_duration(p, ev->boot_ns > c->start_ns ? ev->boot_ns - c->start_ns : 0);
	if (c->flags & ST_CONN_PREDATES)
		*p++ = '+';
	if (c->event == TCP_CONN_END && end) {
		*p++ = ' ';
		p = put_str(p, end);
	}
	if (c->event == TCP_CONN_END && c->rst_reason[0]) {
		p = put_str(p, " reset=");
		p = put_str(p, c->rst_reason);
	}
	if (first) {
		*p++ = ' ';
		p = put_str(p, first);
	}
	if (c->event == TCP_CONN_RETRANS) {
		p = put_str(p, " held=");
		p = put_u64(p, c->held);
	}
	if (c->event == TCP_CONN_END && ev->err) {
		const char *en = errno__name(ev->err);

		*p++ = ' ';
		if (en)
			p = put_str(p, en);
		else
			p = put_u64(p, (uint64_t)ev->err);
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
static void ms_text(char *buf, size_t len, uint64_t ns, bool have)
{
	if (have)
		snprintf(buf, len, "%.3f", ns / 1e6);
	else
		snprintf(buf, len, "-");
}

/* A row of the per-destination table of --connects, under its own header. */
static int text__connect_stats(struct sink_text *t, const struct event *ev)
{
	char sock[SOCK_STRLEN], s50[32], s99[32];
	uint64_t total = 0;
	FILE *out = t->base.out;

	if (!ev->family)
		return fprintf(out, "no connection attempts\n") < 0 ? -errno : 0;
	if (!t->table_header_done) {
		fprintf(out, "\n%-30s %8s %11s %7s %7s %11s %7s %9s %9s\n", "DESTINATION",
			"ATTEMPTS", "ESTABLISHED", "REFUSED", "TIMEOUT", "UNREACHABLE", "ABORTED",
			"P50_MS", "P99_MS");
		t->table_header_done = true;
	}
	for (int k = OUTCOME_ESTABLISHED; k < OUTCOME__MAX; k++)
		total += ev->outcomes[k];
	format__sock(sock, sizeof(sock), ev->family, &ev->raddr, ev->rport, "tcp");
	ms_text(s50, sizeof(s50), ev->handshake_p50_ns, ev->have_handshake);
	ms_text(s99, sizeof(s99), ev->handshake_p99_ns, ev->have_handshake);
	if (fprintf(out, "%-30s %8llu %11llu %7llu %7llu %11llu %7llu %9s %9s\n", sock,
		    (unsigned long long)total,
		    (unsigned long long)ev->outcomes[OUTCOME_ESTABLISHED],
		    (unsigned long long)ev->outcomes[OUTCOME_REFUSED],
		    (unsigned long long)ev->outcomes[OUTCOME_TIMEOUT],
		    (unsigned long long)ev->outcomes[OUTCOME_UNREACHABLE],
		    (unsigned long long)ev->outcomes[OUTCOME_ABORTED], s50, s99) < 0)
		return -errno;
	return 0;
}

/* A DNS type by name, or its number: "AAAA", "TYPE99". */
static void dns_type_text(char *buf, size_t len, unsigned int type)
{
	const char *name = dns_type__name(type);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "TYPE%u", type);
}

/* "DNS            A alpha.example.test NOERROR 0.412ms 192.0.2.10 192.0.2.11":
 * the question, how it ended and when, the CNAME chain's end ("->
 * name"), the addresses (the first EVENT_DNS_ADDRS, then "+N"), retries. */
static char *text__dns(struct sink_text *t, char *p, char *end, const struct event *ev)
{
	const struct dns_query *d = &ev->dnsq;
	const char *rc = dns_rcode__name(d->rcode);
	char type[16], addr[ADDR_STRLEN];
	size_t room;
	int n;

	dns_type_text(type, sizeof(type), d->qtype);
	p = put_ascii(t, p, COL_OLD, "DNS", "    ");
	room = end - p;
	n = snprintf(p, room, "%s %s ", type, d->qname);
	if (d->outcome != DNS_OUTCOME_ANSWERED)
		n += snprintf(p + n, room - n, "%s", dns_outcome__name(d->outcome));
	else if (rc)
		n += snprintf(p + n, room - n, "%s", rc);
	else
		n += snprintf(p + n, room - n, "RCODE%u", d->rcode);
	if (d->outcome != DNS_OUTCOME_PENDING && n < (int)room - 32) {
		p[n++] = ' ';
		n = put_duration(p + n, d->latency_ns) - p;
	}
	if (d->truncated && n < (int)room)
		n += snprintf(p + n, room - n, " truncated");
	if (d->canonical[0] && n < (int)room)
		n += snprintf(p + n, room - n, " -> %s", d->canonical);
	for (uint32_t i = 0; i < d->n_addrs && i < EVENT_DNS_ADDRS && n < (int)room; i++) {
		format__addr(addr, sizeof(addr), d->addrs[i].family, &d->addrs[i].addr);
		n += snprintf(p + n, room - n, " %s", addr);
	}
	if (d->n_addrs > EVENT_DNS_ADDRS && n < (int)room)
		n += snprintf(p + n, room - n, " +%u", d->n_addrs - EVENT_DNS_ADDRS);
	if (d->tries > 1 && n < (int)room)
		n += snprintf(p + n, room - n, " tries=%u", d->tries);
	if (n >= (int)room - 1)
		n = room - 2;
	p += n;
	*p++ = '\n';
	return p;
}

/* A row of the per-name table of --dns, under its own header. */
static int text__dns_stats(struct sink_text *t, const struct event *ev)
{
	const struct dns_query *d = &ev->dnsq;
	char type[16], s50[32], s99[32];
	FILE *out = t->base.out;

	if (!d->qname[0])
		return fprintf(out, "no DNS queries\n") < 0 ? -errno : 0;
	if (!t->dns_header_done) {
		fprintf(out, "\n%-40s %-6s %8s %8s %7s %7s %9s %9s\n", "NAME", "TYPE", "QUERIES",
			"ANSWERED", "ERRORS", "TIMEOUT", "P50_MS", "P99_MS");
		t->dns_header_done = true;
	}
	dns_type_text(type, sizeof(type), d->qtype);
	ms_text(s50, sizeof(s50), d->latency_p50_ns, d->have_latency);
	ms_text(s99, sizeof(s99), d->latency_p99_ns, d->have_latency);
	if (fprintf(out, "%-40s %-6s %8llu %8llu %7llu %7llu %9s %9s\n", d->qname, type,
		    (unsigned long long)d->queries, (unsigned long long)d->answered,
		    (unsigned long long)d->errors, (unsigned long long)d->timeouts, s50, s99) < 0)
		return -errno;
	return 0;
}

static int text__event(struct sink *s, const struct event *ev)
{
	struct sink_text *t = (struct sink_text *)s;
	char tbuf[32], pid[24], ms[32], lbuf[SOCK_STRLEN + 40],
	     rbuf[SOCK_STRLEN + EVENT_NAME_MAX + 40];
	/* every column at its widest, and the longest tail (an alert's) */
	char line[2048], *p = line, comm[COMM_TEXT_LEN];
	const char *svc, *old;
	enum service_side side;
	int comm_w;

	if (ev->kind == EVENT_CONNECT_STATS)
		return text__connect_stats(t, ev);
	if (ev->kind == EVENT_DNS_STATS)
		return text__dns_stats(t, ev);
	if (!t->header_done) {
		if (t->cgroup_column)
			fprintf(s->out, TEXT_HEADER_FMT_CGROUP, "TIME", "PID", "COMM", "CGROUP", "LOCAL",
				"REMOTE", "OLD", "NEW", "MS");
		else
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

	if (ev->pid) {
		comm_w = format__text_escape(comm, sizeof(comm), ev->comm, TASK_COMM_LEN);
	} else {
		strcpy(comm, "-");
		comm_w = 1;
	}

	p = put_ascii(t, p, COL_TIME, tbuf, " ");
	p = put_ascii(t, p, COL_PID, pid, " ");
	p = put_col(t, p, COL_COMM, comm, comm_w, " ");
	if (t->cgroup_column) {
		char cgl[256], cge[4 * sizeof(cgl)];
		int cgw;

		/* names come from the host's files: escaped as a comm is */
		if (ev->pid && ev->cg) {
			cgroup_info__label(ev->cg, cgl, sizeof(cgl));
			cgw = format__text_escape(cge, sizeof(cge), cgl, strlen(cgl));
		} else {
			strcpy(cge, "-");
			cgw = 1;
		}
		p = put_col(t, p, COL_CGROUP, cge, cgw, " ");
	}
	p = put_ascii(t, p, COL_LOCAL, lbuf, " ");
	p = put_ascii(t, p, COL_REMOTE, rbuf, " ");
	if (ev->kind == EVENT_CONNECT || ev->kind == EVENT_SYN_ALERT) {
		p = text__attempt(t, p, line + sizeof(line), ev);
	} else if (ev->kind == EVENT_UDP_FLOW) {
		p = text__udp_flow(t, p, ev);
	} else if (ev->kind == EVENT_TCP_CONN) {
		p = text__tcp_conn(t, p, ev);
	} else if (ev->kind == EVENT_DNS) {
		p = text__dns(t, p, line + sizeof(line), ev);
	} else {
		p = put_ascii(t, p, COL_OLD, old, " -> ");
		p = put_ascii(t, p, COL_NEW, ev->kind == EVENT_UDP_SOCKET ?
			      udp_state__name(ev->new_state) : tcp_state__name(ev->new_state), " ");
		p = put_str(p, ms);
		if (event__gap(ev)) {
			p = put_str(p, " (gap: last seen in ");
			p = put_str(p, tcp_state__name(ev->prev_state));
			*p++ = ')';
		}
		*p++ = '\n';
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

void sink_text__set_cgroup_column(struct sink *s, bool on)
{
	((struct sink_text *)s)->cgroup_column = on;
}

struct sink *sink_text__new(FILE *out, const struct services *svc)
{
	struct sink_text *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->base.ops = &text_ops;
	t->base.out = out;
	t->base.svc = svc;
	memcpy(t->width, min_width, sizeof(t->width));
	return &t->base;
}
