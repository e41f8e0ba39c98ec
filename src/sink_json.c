// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSON lines: one object per event, then one summary object. The fields are
 * documented in docs/json.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "format.h"
#include "json_writer.h"
#include "cgroup_info.h"
#include "sink.h"

struct sink_json {
	struct sink base;
	struct json_writer w;
};

static int jsink__write(struct sink *s, struct json_writer *w)
{
	if (fwrite(w->buf, 1, w->len, s->out) != w->len)
		return -errno;
	return 0;
}

static const char *const kind_names[EVENT__MAX] = {
	[EVENT_TCP_STATE] = "tcp_state",
	[EVENT_TCP_SOCKET] = "tcp_socket",
	[EVENT_SYN_RETRANS] = "syn_retrans",
	[EVENT_CONNECT] = "connect",
	[EVENT_SYN_ALERT] = "syn_alert",
	[EVENT_UDP_FLOW] = "udp_flow",
	[EVENT_UDP_SOCKET] = "udp_socket",
	[EVENT_CONNECT_STATS] = "connect_stats",
	[EVENT_TCP_CONN] = "tcp_conn",
	[EVENT_DNS] = "dns",
	[EVENT_DNS_STATS] = "dns_stats",
};

static const char *const cause_names[] = {
	[DIAG_NONE] = NULL,
	[DIAG_QUEUE_FULL] = "accept_queue_full",
	[DIAG_LISTENING] = "listening",
	[DIAG_NO_LISTENER] = "no_listener",
};

static void jsink__ms(struct json_writer *w, const char *key, uint64_t ns)
{
	if (ns == EVENT_OLD_NS_UNKNOWN)
		json__key_null(w, key);
	else
		json__key_fixed(w, key, (ns + 500) / 1000, 3);
}

/* The fields of connection attempts and SYN alerts. */
static void jsink__attempt(struct json_writer *w, const struct event *ev)
{
	const struct diagnosis *d = &ev->diag;

	if (ev->kind == EVENT_CONNECT)
		json__key_str(w, "outcome", outcome__name(ev->outcome));
	jsink__ms(w, "elapsed_ms", ev->elapsed_ns);
	json__key_u64(w, "syn_retrans", ev->syn_retrans);
	if (ev->kind == EVENT_CONNECT) {
		json__key_str(w, "error", ev->err ? errno__name(ev->err) : NULL);
		if (ev->err)
			json__key_u64(w, "errno", ev->err);
		else
			json__key_null(w, "errno");
		return;
	}
	if (d->cause == DIAG_NONE) {
		json__key_null(w, "diagnosis");
		return;
	}
	json__key(w, "diagnosis");
	json__begin(w);
	json__key_str(w, "cause", cause_names[d->cause]);
	if (d->cause != DIAG_NO_LISTENER) {
		if (d->pid) {
			json__key_u64(w, "listener_pid", d->pid);
			json__key_str(w, "listener_comm", d->comm);
		} else {
			json__key_null(w, "listener_pid");
			json__key_null(w, "listener_comm");
		}
		json__key_u64(w, "accept_queue", d->queue);
		json__key_u64(w, "backlog", d->backlog);
	}
	json__close(w);
}

/* The owner's cgroup and what it is called; each key only where it applies. */
static void jsink__cgroup(struct json_writer *w, const struct event *ev)
{
	const struct cgroup_info *ci = ev->cg;

	if (ev->pid && ev->cgroup_id)
		json__key_u64(w, "cgroup_id", ev->cgroup_id);
	if (!ci || !ci->f[CGF_PATH])
		return;
	json__key_str(w, "cgroup", ci->f[CGF_PATH]);
	if (ci->f[CGF_UNIT])
		json__key_str(w, "unit", ci->f[CGF_UNIT]);
	if (ci->f[CGF_SLICE])
		json__key_str(w, "slice", ci->f[CGF_SLICE]);
	if (ci->f[CGF_CONTAINER_ID]) {
		json__key(w, "container");
		json__begin(w);
		json__key_str(w, "runtime", ci->f[CGF_RUNTIME]);
		json__key_str(w, "id", ci->f[CGF_CONTAINER_ID]);
		json__key_str(w, "name", ci->f[CGF_CONTAINER_NAME]);
		json__close(w);
	}
	if (ci->f[CGF_POD_UID]) {
		json__key(w, "pod");
		json__begin(w);
		json__key_str(w, "namespace", ci->f[CGF_POD_NS]);
		json__key_str(w, "name", ci->f[CGF_POD_NAME]);
		json__key_str(w, "uid", ci->f[CGF_POD_UID]);
		json__key_str(w, "qos", ci->f[CGF_POD_QOS]);
		json__close(w);
	}
}

/* A UDP flow's counts; its tuple and owner are those of every event. */
static void jsink__udp_flow(struct json_writer *w, const struct event *ev)
{
	char buf[64];

	json__key_u64(w, "tx_bytes", ev->tx_bytes);
	json__key_u64(w, "rx_bytes", ev->rx_bytes);
	json__key_u64(w, "tx_packets", ev->tx_packets);
	json__key_u64(w, "rx_packets", ev->rx_packets);
	json__key_fixed(w, "duration_ms", (ev->duration_ns + 500) / 1000, 3);
	if (ev->first_ns && ev->wall_ns != EVENT_WALL_UNKNOWN) {
		/* first_ns is boot time: shift the event's own wall time back */
		format__rfc3339(buf, sizeof(buf), ev->wall_ns - (ev->boot_ns - ev->first_ns));
		json__key_str(w, "first_time", buf);
	} else {
		json__key_null(w, "first_time");
	}
	json__key_str(w, "reason", ev->flow_event == UDP_FLOW_END ?
				   udp_end_reason__name(ev->end_reason) : NULL);
}

static void jsink__us_ms(struct json_writer *w, const char *key, uint32_t us)
{
	json__key_fixed(w, key, us, 3);
}

/* A TCP connection's counters (docs/json.md); its tuple and owner are those
 * of every event. */
static void jsink__tcp_conn(struct json_writer *w, const struct event *ev)
{
	const struct tcp_conn *c = &ev->conn;
	bool end = c->event == TCP_CONN_END;
	char buf[64];

	json__key_str(w, "state", tcp_state__name(c->state));
	if (ev->wall_ns != EVENT_WALL_UNKNOWN && c->start_ns <= ev->boot_ns) {
		format__rfc3339(buf, sizeof(buf), ev->wall_ns - (ev->boot_ns - c->start_ns));
		json__key_str(w, "start_time", buf);
	} else {
		json__key_null(w, "start_time");
	}
	json__key_bool(w, "predates", c->flags & ST_CONN_PREDATES);
	json__key_fixed(w, "duration_ms", c->start_ns <= ev->boot_ns ?
			(ev->boot_ns - c->start_ns + 500) / 1000 : 0, 3);
	if (c->flags & ST_CONN_NO_BYTES_SENT) {
		json__key_null(w, "bytes_sent");
		json__key_null(w, "bytes_retrans");
	} else {
		json__key_u64(w, "bytes_sent", c->bytes_sent);
		json__key_u64(w, "bytes_retrans", c->bytes_retrans);
	}
	json__key_u64(w, "bytes_acked", c->bytes_acked);
	json__key_u64(w, "bytes_received", c->bytes_received);
	json__key_u64(w, "segs_out", c->segs_out);
	json__key_u64(w, "segs_in", c->segs_in);
	json__key_u64(w, "retrans", c->total_retrans);
	jsink__us_ms(w, "srtt_ms", c->srtt_us);
	jsink__us_ms(w, "rttvar_ms", c->rttvar_us);
	if (c->min_rtt_us == TCP_CONN_NO_RTT)
		json__key_null(w, "min_rtt_ms");
	else
		jsink__us_ms(w, "min_rtt_ms", c->min_rtt_us);
	json__key_str(w, "ended", end ? tcp_end__name(c->end) : NULL);
	json__key_str(w, "reset_reason", end && c->rst_reason[0] ? c->rst_reason : NULL);
	json__key_str(w, "closed_first", tcp_closer__name(c->closed_first));
	json__key_str(w, "error", end && ev->err ? errno__name(ev->err) : NULL);
	if (end && ev->err)
		json__key_u64(w, "errno", ev->err);
	else
		json__key_null(w, "errno");
	if (c->event == TCP_CONN_RETRANS)
		json__key_u64(w, "held", c->held);
}

static const char *udp_state__name(int state)
{
	switch (state) {
	case ST_TCP_ESTABLISHED:
		return "connected";
	case ST_TCP_CLOSE:
		return "bound";
	default:
		return "unknown";
	}
}

/* One destination of the --connects table; none for a table without rows. */
static int jsink__connect_stats(struct sink *s, struct json_writer *w, const struct event *ev)
{
	uint64_t total = 0;
	char addr[64];

	if (!ev->family)
		return 0;
	for (int k = OUTCOME_ESTABLISHED; k < OUTCOME__MAX; k++)
		total += ev->outcomes[k];
	json__reset(w);
	json__begin(w);
	json__key_str(w, "type", "connect_stats");
	json__key_str(w, "proto", "tcp");
	json__key_u64(w, "family", ev->family == AF_INET ? 4 : 6);
	format__addr(addr, sizeof(addr), ev->family, &ev->raddr);
	json__key_str(w, "raddr", addr);
	json__key_u64(w, "rport", ev->rport);
	json__key_u64(w, "attempts", total);
	for (int k = OUTCOME_ESTABLISHED; k < OUTCOME__MAX; k++)
		json__key_u64(w, outcome__name(k), ev->outcomes[k]);
	if (ev->have_handshake) {
		json__key_fixed(w, "handshake_p50_ms", ev->handshake_p50_ns / 1000, 3);
		json__key_fixed(w, "handshake_p99_ms", ev->handshake_p99_ns / 1000, 3);
	} else {
		json__key_null(w, "handshake_p50_ms");
		json__key_null(w, "handshake_p99_ms");
	}
	json__end(w);
	return jsink__write(s, w);
}

/* A DNS type's name, or its number for a type without one here. */
static void jsink__dns_type(struct json_writer *w, unsigned int type)
{
	const char *name = dns_type__name(type);

	if (name)
		json__key_str(w, "qtype", name);
	else
		json__key_u64(w, "qtype", type);
}

/* A query's question and how it ended. */
static void jsink__dns(struct json_writer *w, const struct event *ev)
{
	const struct dns_query *d = &ev->dnsq;
	const char *rc = dns_rcode__name(d->rcode);
	bool answered = d->outcome == DNS_OUTCOME_ANSWERED;
	char addr[64];

	json__key_str(w, "qname", d->qname);
	jsink__dns_type(w, d->qtype);
	json__key_u64(w, "id", d->id);
	json__key_str(w, "outcome", dns_outcome__name(d->outcome));
	if (!answered)
		json__key_null(w, "rcode");
	else if (rc)
		json__key_str(w, "rcode", rc);
	else
		json__key_u64(w, "rcode", d->rcode);
	if (d->outcome == DNS_OUTCOME_PENDING)
		json__key_null(w, "latency_ms");
	else
		json__key_fixed(w, "latency_ms", (d->latency_ns + 500) / 1000, 3);
	json__key_bool(w, "truncated", d->truncated);
	json__key_str(w, "canonical", d->canonical[0] ? d->canonical : NULL);
	json__key(w, "addrs");
	json__array(w);
	for (uint32_t i = 0; i < d->n_addrs && i < EVENT_DNS_ADDRS; i++) {
		format__addr(addr, sizeof(addr), d->addrs[i].family, &d->addrs[i].addr);
		json__elem_str(w, addr, strlen(addr));
	}
	json__close_array(w);
	json__key_u64(w, "n_addrs", d->n_addrs);
	json__key_u64(w, "tries", d->tries);
}

/* One name of the --dns table; none for a table without rows. */
static int jsink__dns_stats(struct sink *s, struct json_writer *w, const struct event *ev)
{
	const struct dns_query *d = &ev->dnsq;

	if (!d->qname[0])
		return 0;
	json__reset(w);
	json__begin(w);
	json__key_str(w, "type", "dns_stats");
	json__key_str(w, "qname", d->qname);
	jsink__dns_type(w, d->qtype);
	json__key_u64(w, "queries", d->queries);
	json__key_u64(w, "answered", d->answered);
	json__key_u64(w, "errors", d->errors);
	json__key_u64(w, "timeouts", d->timeouts);
	if (d->have_latency) {
		json__key_fixed(w, "latency_p50_ms", d->latency_p50_ns / 1000, 3);
		json__key_fixed(w, "latency_p99_ms", d->latency_p99_ns / 1000, 3);
	} else {
		json__key_null(w, "latency_p50_ms");
		json__key_null(w, "latency_p99_ms");
	}
	json__end(w);
	return jsink__write(s, w);
}

/* A name of ours (a kind, state, owner or role; NULL: none): nothing to
 * escape. */
static void jsink__name(struct json_writer *w, const char *key, const char *name)
{
	if (name)
		json__key_plain(w, key, name, strlen(name));
	else
		json__key_null(w, key);
}

/* An address as format__addr() writes it: digits, '.', ':' and hex. */
static void jsink__addr(struct json_writer *w, const char *key, int family,
			const struct in6_addr *addr)
{
	char buf[64];

	if (format__addr(buf, sizeof(buf), family, addr))
		strcpy(buf, "?");
	json__key_plain(w, key, buf, strlen(buf));
}

static int jsink__event(struct sink *s, const struct event *ev)
{
	struct json_writer *w = &((struct sink_json *)s)->w;
	bool udp = ev->kind == EVENT_UDP_FLOW || ev->kind == EVENT_UDP_SOCKET;
	char buf[64];
	const char *svc;

	if (ev->kind == EVENT_CONNECT_STATS)
		return jsink__connect_stats(s, w, ev);
	if (ev->kind == EVENT_DNS_STATS)
		return jsink__dns_stats(s, w, ev);
	json__reset(w);
	json__begin(w);
	jsink__name(w, "type", ev->kind < EVENT__MAX && kind_names[ev->kind] ?
			       kind_names[ev->kind] : "unknown");
	if (ev->kind == EVENT_UDP_FLOW)
		json__key_str(w, "event", udp_flow_event__name(ev->flow_event));
	else if (ev->kind == EVENT_TCP_CONN)
		json__key_str(w, "event", tcp_conn_event__name(ev->conn.event));
	/* a replayed event whose clock reference was lost */
	if (ev->wall_ns == EVENT_WALL_UNKNOWN) {
		json__key_null(w, "time");
	} else {
		format__rfc3339(buf, sizeof(buf), ev->wall_ns);
		json__key_plain(w, "time", buf, strlen(buf));
	}
	json__key_u64(w, "boot_ns", ev->boot_ns);
	json__key_plain(w, "proto", ev->proto == IPPROTO_UDP ? "udp" : "tcp", 3);
	json__key_u64(w, "family", ev->family == AF_INET ? 4 : 6);
	jsink__addr(w, "laddr", ev->family, &ev->laddr);
	json__key_u64(w, "lport", ev->lport);
	jsink__addr(w, "raddr", ev->family, &ev->raddr);
	json__key_u64(w, "rport", ev->rport);
	json__key_str(w, "rname", ev->rname[0] ? ev->rname : NULL);
	json__key_str(w, "rname_canonical", ev->rname_canonical[0] ? ev->rname_canonical : NULL);
	sink__service(s->svc, ev, &svc);
	json__key_str(w, "service", svc);
	json__key_u64(w, "netns", ev->netns);
	if (ev->sock) {
		static const char hex[] = "0123456789abcdef";
		char *p = buf + sizeof(buf);
		uint64_t v = ev->sock;

		*--p = '\0';
		do {
			*--p = hex[v & 15];
			v >>= 4;
		} while (v);
		*--p = 'x';
		*--p = '0';
		json__key_plain(w, "sock", p, buf + sizeof(buf) - 1 - p);
	} else {
		json__key_null(w, "sock");
	}
	json__key_u64(w, "ino", ev->ino);
	if (ev->pid) {
		json__key_u64(w, "pid", ev->pid);
		json__key_u64(w, "tid", ev->tid);
		json__key_str(w, "comm", ev->comm);
	} else {
		json__key_null(w, "pid");
		json__key_null(w, "tid");
		json__key_null(w, "comm");
	}
	if (ev->pid && ev->vpid)
		json__key_u64(w, "vpid", ev->vpid);
	jsink__cgroup(w, ev);
	jsink__name(w, "owner", owner_src__name(ev->owner_src));
	if (!udp && ev->kind != EVENT_DNS)
		jsink__name(w, "role", role__name(ev->role));
	if (ev->kind == EVENT_UDP_FLOW) {
		jsink__udp_flow(w, ev);
	} else if (ev->kind == EVENT_TCP_CONN) {
		jsink__tcp_conn(w, ev);
	} else if (ev->kind == EVENT_UDP_SOCKET) {
		json__key_str(w, "state", udp_state__name(ev->new_state));
	} else if (ev->kind == EVENT_TCP_SOCKET) {
		json__key_str(w, "state", tcp_state__name(ev->new_state));
	} else if (ev->kind == EVENT_CONNECT || ev->kind == EVENT_SYN_ALERT) {
		jsink__attempt(w, ev);
	} else if (ev->kind == EVENT_DNS) {
		jsink__dns(w, ev);
	} else {
		jsink__name(w, "old", tcp_state__name(ev->old_state));
		jsink__name(w, "new", tcp_state__name(ev->new_state));
		if (ev->old_ns == EVENT_OLD_NS_UNKNOWN)
			json__key_null(w, "old_ms");
		else
			json__key_fixed(w, "old_ms", (ev->old_ns + 500) / 1000, 3);
		json__key_bool(w, "gap", event__gap(ev));
	}
	json__end(w);
	return jsink__write(s, w);
}

static int jsink__summary(struct sink *s, const struct stats *st)
{
	struct json_writer *w = &((struct sink_json *)s)->w;

	json__reset(w);
	json__begin(w);
	json__key_str(w, "type", "summary");
	json__key_u64(w, "events", st->events);
	json__key_u64(w, "snapshot", st->snapshot);
	json__key_u64(w, "lost", st->lost);
	json__key_u64(w, "filtered", st->filtered);
	json__key_fixed(w, "elapsed_s", st->elapsed_ns / 1000000, 3);
	json__key_u64(w, "udp_flows", st->udp_flows);
	json__key_u64(w, "udp_uncounted", st->udp_uncounted);
	json__key_u64(w, "udp_uncounted_bytes", st->udp_uncounted_bytes);
	json__key_u64(w, "gaps", st->gaps);
	json__key_u64(w, "missed", st->missed);
	json__key_u64(w, "dns_answers", st->dns_answers);
	json__key_u64(w, "dns_unparsed", st->dns_unparsed);
	json__key_u64(w, "dns_evictions", st->dns_evictions);
	json__key_u64(w, "dns_lost", st->dns_lost);
	json__key_u64(w, "dns_truncated", st->dns_truncated);
	json__key_u64(w, "dns_queries", st->dns_queries);
	json__key_u64(w, "dns_queries_unparsed", st->dns_queries_unparsed);
	json__key_u64(w, "dns_unmatched", st->dns_unmatched);
	json__end(w);
	return jsink__write(s, w);
}

static int jsink__flush(struct sink *s)
{
	return fflush(s->out) ? -errno : 0;
}

static void jsink__free(struct sink *s)
{
	struct sink_json *j = (struct sink_json *)s;

	json__free(&j->w);
	free(j);
}

static const struct sink_ops json_ops = {
	.event = jsink__event,
	.flush = jsink__flush,
	.summary = jsink__summary,
	.free = jsink__free,
};

struct sink *sink_json__new(FILE *out, const struct services *svc)
{
	struct sink_json *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->base.ops = &json_ops;
	j->base.out = out;
	j->base.svc = svc;
	return &j->base;
}
