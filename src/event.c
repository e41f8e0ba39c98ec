// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include "event.h"

static const char *const state_names[ST_TCP_MAX_STATES] = {
	[ST_TCP_ESTABLISHED] = "ESTABLISHED",
	[ST_TCP_SYN_SENT] = "SYN_SENT",
	[ST_TCP_SYN_RECV] = "SYN_RECV",
	[ST_TCP_FIN_WAIT1] = "FIN_WAIT1",
	[ST_TCP_FIN_WAIT2] = "FIN_WAIT2",
	[ST_TCP_TIME_WAIT] = "TIME_WAIT",
	[ST_TCP_CLOSE] = "CLOSE",
	[ST_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[ST_TCP_LAST_ACK] = "LAST_ACK",
	[ST_TCP_LISTEN] = "LISTEN",
	[ST_TCP_CLOSING] = "CLOSING",
	[ST_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
	[ST_TCP_BOUND_INACTIVE] = "BOUND_INACTIVE",
};

static const char *const owner_names[ST_OWNER__MAX] = {
	[ST_OWNER_UNKNOWN] = "unknown",
	[ST_OWNER_CONNECT] = "connect",
	[ST_OWNER_LISTEN] = "listen",
	[ST_OWNER_LISTENER] = "listener",
	[ST_OWNER_ACCEPT] = "accept",
	[ST_OWNER_SNAPSHOT] = "proc",
	[ST_OWNER_TRAFFIC] = "traffic",
	[ST_OWNER_IO] = "io",
};

static const char *const role_names[ST_ROLE__MAX] = {
	[ST_ROLE_UNKNOWN] = NULL,
	[ST_ROLE_CLIENT] = "client",
	[ST_ROLE_SERVER] = "server",
	[ST_ROLE_LISTENER] = "listener",
};

static uint64_t ts_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t clock_ref__boot_now(void)
{
	return ts_ns(CLOCK_BOOTTIME);
}

/* Take the pair whose two boot-clock reads are closest together: the wall
 * read between them is then known within that window. */
int clock_ref__init(struct clock_ref *ref)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 5; i++) {
		uint64_t b0 = ts_ns(CLOCK_BOOTTIME);
		uint64_t w = ts_ns(CLOCK_REALTIME);
		uint64_t b1 = ts_ns(CLOCK_BOOTTIME);

		if (b1 - b0 < best) {
			best = b1 - b0;
			ref->boot_ns = b0 + (b1 - b0) / 2;
			ref->wall_ns = w;
		}
	}
	return 0;
}

uint64_t clock_ref__wall(const struct clock_ref *ref, uint64_t boot_ns)
{
	if (ref->wall_ns == EVENT_WALL_UNKNOWN)
		return EVENT_WALL_UNKNOWN;
	return ref->wall_ns + (boot_ns - ref->boot_ns);
}

/* A DNS answer or query: its server in raddr, its socket in laddr:lport,
 * its payload as captured. */
static int event__decode_dns(struct event *ev, const struct st_dns_event *d,
			     const struct clock_ref *ref)
{
	if ((d->family != 4 && d->family != 6) || d->caplen > ST_DNS_CAP || d->caplen > d->len)
		return -EINVAL;
	memset(ev, 0, sizeof(*ev));
	ev->kind = d->dir == ST_DNS_QUERY ? EVENT_DNS_QUERY : EVENT_DNS_ANSWER;
	ev->boot_ns = d->ts_ns;
	ev->wall_ns = clock_ref__wall(ref, d->ts_ns);
	ev->old_ns = EVENT_OLD_NS_UNKNOWN;
	ev->elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev->netns = d->netns;
	ev->cgroup_id = d->cgroup_id;
	ev->family = d->family == 4 ? AF_INET : AF_INET6;
	ev->proto = d->proto == IPPROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(&ev->raddr, d->server, d->family == 4 ? 4 : 16);
	ev->rport = 53;
	memcpy(&ev->laddr, d->client, d->family == 4 ? 4 : 16);
	ev->lport = d->lport;
	ev->sock = d->skaddr;
	ev->dns_len = d->len;
	ev->dns_caplen = d->caplen;
	memcpy(ev->dns, d->data, d->caplen);
	return 0;
}

int event__decode(struct event *ev, const void *data, size_t size,
		  const struct clock_ref *ref)
{
	const struct st_tcp_event *e = data;

	if (size >= sizeof(struct st_dns_event) && e->type == ST_EVENT_DNS)
		return event__decode_dns(ev, data, ref);
	if (size < sizeof(*e) ||
	    (e->type != ST_EVENT_TCP_STATE && e->type != ST_EVENT_SYN_RETRANS &&
	     e->type != ST_EVENT_TCP_CONN) ||
	    (e->type == ST_EVENT_TCP_CONN && size < sizeof(struct st_tcp_conn_event)))
		return -EINVAL;

	memset(ev, 0, sizeof(*ev));
	ev->kind = e->type == ST_EVENT_TCP_STATE ? EVENT_TCP_STATE :
		   e->type == ST_EVENT_TCP_CONN ? EVENT_TCP_CONN : EVENT_SYN_RETRANS;
	ev->syn_retrans = e->syn_retrans;
	ev->err = e->err;
	ev->elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev->boot_ns = e->ts_ns;
	ev->wall_ns = clock_ref__wall(ref, e->ts_ns);
	ev->sock = e->skaddr;
	ev->ino = e->ino;
	ev->old_ns = e->old_ns == ST_OLD_NS_UNKNOWN ? EVENT_OLD_NS_UNKNOWN : e->old_ns;
	ev->netns = e->netns;
	ev->pid = e->pid;
	ev->tid = e->tid;
	ev->family = e->family == AF_INET ? AF_INET : AF_INET6;
	ev->proto = IPPROTO_TCP;
	if (ev->family == AF_INET) {
		memcpy(&ev->laddr, e->saddr, 4);
		memcpy(&ev->raddr, e->daddr, 4);
	} else {
		memcpy(&ev->laddr, e->saddr, 16);
		memcpy(&ev->raddr, e->daddr, 16);
	}
	ev->lport = e->sport;
	ev->rport = e->dport;
	ev->old_state = e->oldstate;
	ev->new_state = e->newstate;
	ev->owner_src = e->owner_src < ST_OWNER__MAX ? e->owner_src : ST_OWNER_UNKNOWN;
	ev->role = e->role < ST_ROLE__MAX ? e->role : ST_ROLE_UNKNOWN;
	ev->prev_state = e->prev_state < ST_TCP_MAX_STATES ? e->prev_state : 0;
	if (ev->pid) {
		memcpy(ev->comm, e->comm, TASK_COMM_LEN);
		ev->vpid = e->vpid;
		ev->cgroup_id = e->cgroup_id;
	}
	ev->comm[TASK_COMM_LEN] = '\0';
	if (ev->kind == EVENT_TCP_CONN)
		tcp_conn__decode(&ev->conn, &((const struct st_tcp_conn_event *)data)->conn);
	return 0;
}

void tcp_conn__decode(struct tcp_conn *c, const struct st_tcp_conn *k)
{
	c->event = k->flags & ST_CONN_RETRANS ? TCP_CONN_RETRANS :
		   k->flags & ST_CONN_UPDATE ? TCP_CONN_UPDATE : TCP_CONN_END;
	c->held = c->event == TCP_CONN_RETRANS ? k->held : 0;
	c->end = k->end < ST_END__MAX && c->event == TCP_CONN_END ? k->end : ST_END_UNKNOWN;
	c->closed_first = k->closed_first < ST_CLOSER__MAX ? k->closed_first : ST_CLOSER_NONE;
	c->flags = k->flags & (ST_CONN_PREDATES | ST_CONN_NO_BYTES_SENT | ST_CONN_FIN_RECEIVED);
	c->state = k->state < ST_TCP_MAX_STATES ? k->state : 0;
	c->start_ns = k->start_ns;
	c->bytes_sent = k->bytes_sent;
	c->bytes_acked = k->bytes_acked;
	/* the payload: tcpi_bytes_received counts a FIN taken as one */
	c->bytes_received = k->bytes_received -
			    (k->bytes_received && (k->flags & ST_CONN_FIN_RECEIVED));
	c->bytes_retrans = k->bytes_retrans;
	c->segs_in = k->segs_in;
	c->segs_out = k->segs_out;
	c->total_retrans = k->total_retrans;
	c->srtt_us = k->srtt_us;
	c->rttvar_us = k->rttvar_us;
	c->min_rtt_us = k->min_rtt_us;
}

const char *tcp_state__name(int state)
{
	if (state <= 0 || state >= ST_TCP_MAX_STATES || !state_names[state])
		return "UNKNOWN";
	return state_names[state];
}

int tcp_state__parse(const char *name)
{
	char buf[32];
	size_t i;

	if (!strncasecmp(name, "TCP_", 4))
		name += 4;
	for (i = 0; name[i] && i < sizeof(buf) - 1; i++)
		buf[i] = name[i] == '-' ? '_' : toupper((unsigned char)name[i]);
	if (name[i])
		return -EINVAL;
	buf[i] = '\0';
	for (int s = 1; s < ST_TCP_MAX_STATES; s++)
		if (state_names[s] && !strcmp(buf, state_names[s]))
			return s;
	return -EINVAL;
}

const char *owner_src__name(int src)
{
	return src >= 0 && src < ST_OWNER__MAX ? owner_names[src] : "unknown";
}

static const char *const outcome_names[OUTCOME__MAX] = {
	[OUTCOME_IN_PROGRESS] = "in_progress",
	[OUTCOME_ESTABLISHED] = "established",
	[OUTCOME_REFUSED] = "refused",
	[OUTCOME_TIMEOUT] = "timeout",
	[OUTCOME_UNREACHABLE] = "unreachable",
	[OUTCOME_ABORTED] = "aborted",
};

const char *outcome__name(int outcome)
{
	return outcome >= 0 && outcome < OUTCOME__MAX ? outcome_names[outcome] : "unknown";
}

static const char *const flow_event_names[UDP_FLOW__MAX] = {
	[UDP_FLOW_START] = "start",
	[UDP_FLOW_UPDATE] = "update",
	[UDP_FLOW_END] = "end",
};

static const char *const conn_event_names[TCP_CONN__MAX] = {
	[TCP_CONN_END] = "end",
	[TCP_CONN_UPDATE] = "update",
	[TCP_CONN_RETRANS] = "retrans",
};

const char *tcp_conn_event__name(int ce)
{
	return ce > 0 && ce < TCP_CONN__MAX ? conn_event_names[ce] : "unknown";
}

static const char *const tcp_end_names[ST_END__MAX] = {
	[ST_END_FIN] = "fin",
	[ST_END_RST_SENT] = "rst_sent",
	[ST_END_RST_RECEIVED] = "rst_received",
	[ST_END_TIMEOUT] = "timeout",
	[ST_END_KEEPALIVE] = "keepalive",
	[ST_END_REFUSED] = "refused",
	[ST_END_UNREACHABLE] = "unreachable",
	[ST_END_ABORTED] = "aborted",
};

const char *tcp_end__name(int end)
{
	return end > 0 && end < ST_END__MAX ? tcp_end_names[end] : NULL;
}

const char *tcp_closer__name(int c)
{
	return c == ST_CLOSER_LOCAL ? "local" : c == ST_CLOSER_REMOTE ? "remote" : NULL;
}

const char *udp_flow_event__name(int fe)
{
	return fe > 0 && fe < UDP_FLOW__MAX ? flow_event_names[fe] : "unknown";
}

static const char *const end_reason_names[UDP_END__MAX] = {
	[UDP_END_CLOSE] = "close",
	[UDP_END_IDLE] = "idle",
};

const char *udp_end_reason__name(int r)
{
	return r > 0 && r < UDP_END__MAX ? end_reason_names[r] : NULL;
}

const char *errno__name(int err)
{
	switch (err) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTDOWN: return "EHOSTDOWN";
	case ENETDOWN: return "ENETDOWN";
	case ECONNRESET: return "ECONNRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EPROTO: return "EPROTO";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EMSGSIZE: return "EMSGSIZE";
	case EPIPE: return "EPIPE";
	}
	return NULL;
}

const char *role__name(int role)
{
	return role > 0 && role < ST_ROLE__MAX ? role_names[role] : NULL;
}

const char *dns_type__name(unsigned int type)
{
	static const struct {
		unsigned int type;
		const char *name;
	} types[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 35, "NAPTR" },
		{ 43, "DS" }, { 48, "DNSKEY" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" },
		{ 257, "CAA" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return NULL;
}

const char *dns_rcode__name(unsigned int rcode)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : NULL;
}

const char *dns_outcome__name(int outcome)
{
	switch (outcome) {
	case DNS_OUTCOME_ANSWERED:
		return "answered";
	case DNS_OUTCOME_TIMEOUT:
		return "timeout";
	case DNS_OUTCOME_PENDING:
		return "pending";
	default:
		return NULL;
	}
}
