// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The format of docs/recording.md: blocks and records as bytes, for the
 * recorder (recorder.c) and the reader (reader.c). Every field is encoded
 * one by one in little-endian, never as a C struct. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>
#include "cgroup_info.h"
#include "record.h"

void rec__put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

void rec__put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

void rec__put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

uint16_t rec__get16(const uint8_t *p)
{
	return p[0] | (uint16_t)p[1] << 8;
}

uint32_t rec__get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t rec__get64(const uint8_t *p)
{
	return rec__get32(p) | (uint64_t)rec__get32(p + 4) << 32;
}

static const struct {
	int rec;
	enum event_kind kind;
	const char *name;
} rec_types[] = {
	{ REC_TCP_STATE, EVENT_TCP_STATE, "tcp_state" },
	{ REC_TCP_SOCKET, EVENT_TCP_SOCKET, "tcp_socket" },
	{ REC_SYN_RETRANS, EVENT_SYN_RETRANS, "syn_retrans" },
	{ REC_CONNECT, EVENT_CONNECT, "connect" },
	{ REC_SYN_ALERT, EVENT_SYN_ALERT, "syn_alert" },
	{ REC_UDP_FLOW, EVENT_UDP_FLOW, "udp_flow" },
	{ REC_UDP_SOCKET, EVENT_UDP_SOCKET, "udp_socket" },
	{ REC_TCP_CONN, EVENT_TCP_CONN, "tcp_conn" },
	{ REC_DNS_ANSWER, EVENT_DNS_ANSWER, "dns_answer" },
	{ REC_DNS_QUERY, EVENT_DNS_QUERY, "dns_query" },
};

/* The body of a record of this kind, before the tail. */
static size_t body_len(enum event_kind kind)
{
	return kind == EVENT_UDP_FLOW ? REC_UDP_FLOW_LEN :
	       kind == EVENT_TCP_CONN ? REC_TCP_CONN_LEN : REC_EVENT_LEN;
}

static size_t type_len(int type)
{
	if (type == REC_DNS_ANSWER || type == REC_DNS_QUERY)
		return REC_DNS_LEN;
	return type == REC_UDP_FLOW ? REC_UDP_FLOW_LEN :
	       type == REC_TCP_CONN ? REC_TCP_CONN_LEN : REC_EVENT_LEN;
}

#define N_REC_TYPES (sizeof(rec_types) / sizeof(rec_types[0]))

const char *rec__type_name(int type)
{
	for (size_t i = 0; i < N_REC_TYPES; i++)
		if (rec_types[i].rec == type)
			return rec_types[i].name;
	return "unknown";
}

/* The 1.2 fields, after the body of the record's type. Returns the body's
 * whole length. */
static size_t encode_tail(uint8_t *t, const struct event *ev)
{
	size_t body = body_len(ev->kind);

	t[0] = ev->prev_state;
	t[1] = 0;
	rec__put16(t + 2, 0);
	rec__put32(t + 4, ev->vpid);
	rec__put64(t + 8, ev->cgroup_id);
	rec__put64(t + 16, ev->cg ? ev->cg->key : 0);
	return body + REC_TAIL_LEN;
}

/* tcp_conn (1.3): the connection's counters after the common body. */
static void encode_conn(uint8_t *b, const struct tcp_conn *c)
{
	b[148] = c->event;
	b[149] = c->end;
	b[150] = c->closed_first;
	b[151] = c->flags;
	b[152] = c->state;
	b[153] = 0;
	rec__put16(b + 154, c->held);
	rec__put64(b + 156, c->start_ns);
	rec__put64(b + 164, c->bytes_sent);
	rec__put64(b + 172, c->bytes_acked);
	/* the kernel's count, as 1.3 wrote it: with the FIN (1.4: flag bit 5) */
	rec__put64(b + 180, c->bytes_received + !!(c->flags & ST_CONN_FIN_RECEIVED));
	rec__put64(b + 188, c->bytes_retrans);
	rec__put32(b + 196, c->segs_in);
	rec__put32(b + 200, c->segs_out);
	rec__put32(b + 204, c->total_retrans);
	rec__put32(b + 208, c->srtt_us);
	rec__put32(b + 212, c->rttvar_us);
	rec__put32(b + 216, c->min_rtt_us);
}

static void decode_conn(struct tcp_conn *c, const uint8_t *b)
{
	c->event = b[148] < TCP_CONN__MAX ? b[148] : 0;
	c->end = b[149] < ST_END__MAX ? b[149] : ST_END_UNKNOWN;
	c->closed_first = b[150] < ST_CLOSER__MAX ? b[150] : ST_CLOSER_NONE;
	c->flags = b[151] & TCP_CONN_FLAGS;
	c->state = b[152] < ST_TCP_MAX_STATES ? b[152] : 0;
	c->held = c->event == TCP_CONN_RETRANS ? rec__get16(b + 154) : 0;
	c->start_ns = rec__get64(b + 156);
	c->bytes_sent = rec__get64(b + 164);
	c->bytes_acked = rec__get64(b + 172);
	c->bytes_received = rec__get64(b + 180);
	if (c->bytes_received && (c->flags & ST_CONN_FIN_RECEIVED))
		c->bytes_received--;
	c->bytes_retrans = rec__get64(b + 188);
	c->segs_in = rec__get32(b + 196);
	c->segs_out = rec__get32(b + 200);
	c->total_retrans = rec__get32(b + 204);
	c->srtt_us = rec__get32(b + 208);
	c->rttvar_us = rec__get32(b + 212);
	c->min_rtt_us = rec__get32(b + 216);
}

/* dns_answer (1.5): the answer as the kernel captured it, with its server
 * and network namespace, (1.6) after the payload the receiving socket's
 * cgroup id, (1.7) then its identity, address and port; dns_query (1.7)
 * the same for a query. What they name and how the queries ended is
 * derived again on replay. */
static size_t encode_dns(uint8_t *buf, const struct event *ev)
{
	uint8_t *b = buf + 4, *t;
	size_t cap = ev->dns_caplen <= ST_DNS_CAP ? ev->dns_caplen : ST_DNS_CAP;

	rec__put16(buf, ev->kind == EVENT_DNS_QUERY ? REC_DNS_QUERY : REC_DNS_ANSWER);
	rec__put16(buf + 2, REC_DNS_LEN + cap + REC_DNS_TRAILER_LEN);
	rec__put64(b, ev->boot_ns);
	rec__put32(b + 8, ev->netns);
	b[12] = ev->family == AF_INET ? 4 : 6;
	b[13] = ev->proto == IPPROTO_TCP ? REC_DNS_TCP : 0;
	rec__put16(b + 14, ev->dns_len);
	rec__put16(b + 16, cap);
	rec__put16(b + 18, 0);
	memcpy(b + 20, &ev->raddr, 16);
	memcpy(b + REC_DNS_LEN, ev->dns, cap);
	t = b + REC_DNS_LEN + cap;
	rec__put64(t, ev->cgroup_id);
	rec__put64(t + 8, ev->sock);
	memcpy(t + 16, &ev->laddr, 16);
	rec__put16(t + 32, ev->lport);
	rec__put16(t + 34, 0);
	return 4 + REC_DNS_LEN + cap + REC_DNS_TRAILER_LEN;
}

static int decode_dns(struct event *ev, int type, const uint8_t *b, size_t len,
		      const struct clock_ref *ref)
{
	uint16_t cap = rec__get16(b + 16);
	const uint8_t *t = b + REC_DNS_LEN + cap;

	if ((b[12] != 4 && b[12] != 6) || cap > ST_DNS_CAP || len < REC_DNS_LEN + (size_t)cap ||
	    cap > rec__get16(b + 14))
		return -EINVAL;
	ev->kind = type == REC_DNS_QUERY ? EVENT_DNS_QUERY : EVENT_DNS_ANSWER;
	ev->boot_ns = rec__get64(b);
	ev->wall_ns = clock_ref__wall(ref, ev->boot_ns);
	ev->old_ns = EVENT_OLD_NS_UNKNOWN;
	ev->elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev->netns = rec__get32(b + 8);
	ev->family = b[12] == 4 ? AF_INET : AF_INET6;
	ev->proto = b[13] & REC_DNS_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(&ev->raddr, b + 20, 16);
	ev->rport = 53;
	ev->dns_len = rec__get16(b + 14);
	ev->dns_caplen = cap;
	memcpy(ev->dns, b + REC_DNS_LEN, cap);
	/* a 1.5 answer has no cgroup: its names are the namespace's */
	if (len >= REC_DNS_LEN + (size_t)cap + REC_DNS_CGROUP_LEN)
		ev->cgroup_id = rec__get64(t);
	/* before 1.7, no socket: its queries' outcomes are not derived */
	if (len >= REC_DNS_LEN + (size_t)cap + REC_DNS_TRAILER_LEN) {
		ev->sock = rec__get64(t + 8);
		memcpy(&ev->laddr, t + 16, 16);
		ev->lport = rec__get16(t + 32);
	}
	return 0;
}

size_t rec__encode_event(uint8_t *buf, const struct event *ev)
{
	uint8_t *b = buf + 4;
	size_t i;

	if (ev->kind == EVENT_DNS_ANSWER || ev->kind == EVENT_DNS_QUERY)
		return encode_dns(buf, ev);
	for (i = 0; i < N_REC_TYPES; i++)
		if (rec_types[i].kind == ev->kind)
			break;
	if (i == N_REC_TYPES)
		return 0;
	rec__put16(buf, rec_types[i].rec);
	rec__put16(buf + 2, body_len(ev->kind) + REC_TAIL_LEN +
		   (ev->kind == EVENT_TCP_CONN ? REC_CONN_RST_LEN : 0));
	rec__put64(b + 0, ev->boot_ns);
	rec__put64(b + 8, ev->sock);
	rec__put64(b + 16, ev->ino);
	rec__put64(b + 24, ev->old_ns);
	rec__put32(b + 32, ev->netns);
	rec__put32(b + 36, ev->pid);
	rec__put32(b + 40, ev->tid);
	b[44] = ev->family == AF_INET ? 4 : 6;
	b[45] = ev->proto;
	b[46] = ev->old_state;
	b[47] = ev->new_state;
	b[48] = ev->owner_src;
	b[49] = ev->role;
	rec__put16(b + 50, ev->lport);
	rec__put16(b + 52, ev->rport);
	memcpy(b + 54, &ev->laddr, 16);
	memcpy(b + 70, &ev->raddr, 16);
	memset(b + 86, 0, TASK_COMM_LEN);
	memcpy(b + 86, ev->comm, strnlen(ev->comm, TASK_COMM_LEN - 1));
	rec__put32(b + 102, ev->syn_retrans);
	rec__put32(b + 106, (uint32_t)ev->err);
	b[110] = ev->outcome;
	b[111] = ev->diag.cause;
	rec__put64(b + 112, ev->elapsed_ns);
	rec__put32(b + 120, ev->diag.pid);
	rec__put32(b + 124, ev->diag.queue);
	rec__put32(b + 128, ev->diag.backlog);
	memset(b + 132, 0, TASK_COMM_LEN);
	memcpy(b + 132, ev->diag.comm, strnlen(ev->diag.comm, TASK_COMM_LEN - 1));
	if (ev->kind == EVENT_TCP_CONN) {
		size_t n;

		encode_conn(b, &ev->conn);
		n = encode_tail(b + REC_TCP_CONN_LEN, ev);
		/* 1.4: the reset reason, NUL-padded */
		memset(b + n, 0, REC_CONN_RST_LEN);
		memcpy(b + n, ev->conn.rst_reason,
		       strnlen(ev->conn.rst_reason, REC_CONN_RST_LEN - 1));
		return 4 + n + REC_CONN_RST_LEN;
	}
	if (ev->kind != EVENT_UDP_FLOW)
		return 4 + encode_tail(b + REC_EVENT_LEN, ev);
	b[148] = ev->flow_event;
	b[149] = ev->end_reason;
	rec__put16(b + 150, 0);
	rec__put32(b + 152, 0);
	rec__put64(b + 156, ev->first_ns);
	rec__put64(b + 164, ev->last_ns);
	rec__put64(b + 172, ev->duration_ns);
	rec__put64(b + 180, ev->tx_bytes);
	rec__put64(b + 188, ev->rx_bytes);
	rec__put64(b + 196, ev->tx_packets);
	rec__put64(b + 204, ev->rx_packets);
	return 4 + encode_tail(b + REC_UDP_FLOW_LEN, ev);
}

/* A reset reason (1.4) as a kernel names it: lowercase letters, digits and
 * underscores, or nothing; a file is untrusted input. */
static void decode_rst_reason(char *out, const uint8_t *b)
{
	size_t n;

	for (n = 0; n < REC_CONN_RST_LEN - 1 && b[n]; n++) {
		if (!((b[n] >= 'a' && b[n] <= 'z') || (b[n] >= '0' && b[n] <= '9') || b[n] == '_')) {
			n = 0;
			break;
		}
		out[n] = b[n];
	}
	out[n] = '\0';
}

/* The 1.2 fields, if the body has them (n bytes after its type's body). */
static void decode_tail(struct event *ev, const uint8_t *t, size_t n)
{
	if (n < REC_TAIL_LEN_1_2)
		return;
	ev->prev_state = t[0] < ST_TCP_MAX_STATES ? t[0] : 0;
	if (n < REC_TAIL_LEN)
		return;
	ev->vpid = rec__get32(t + 4);
	ev->cgroup_id = rec__get64(t + 8);
	ev->cg_key = rec__get64(t + 16);
}

int rec__decode_event(struct event *ev, int type, const uint8_t *b, size_t len,
		      const struct clock_ref *ref)
{
	size_t i;

	/* longer bodies carry fields of a later minor version */
	if (len < type_len(type))
		return -EINVAL;
	memset(ev, 0, sizeof(*ev));
	if (type == REC_DNS_ANSWER || type == REC_DNS_QUERY)
		return decode_dns(ev, type, b, len, ref);
	for (i = 0; i < N_REC_TYPES; i++)
		if (rec_types[i].rec == type)
			break;
	if (i == N_REC_TYPES || (b[44] != 4 && b[44] != 6))
		return -EINVAL;
	ev->kind = rec_types[i].kind;
	ev->boot_ns = rec__get64(b);
	ev->wall_ns = clock_ref__wall(ref, ev->boot_ns);
	ev->sock = rec__get64(b + 8);
	ev->ino = rec__get64(b + 16);
	ev->old_ns = rec__get64(b + 24);
	ev->netns = rec__get32(b + 32);
	ev->pid = rec__get32(b + 36);
	ev->tid = rec__get32(b + 40);
	ev->family = b[44] == 4 ? AF_INET : AF_INET6;
	ev->proto = b[45];
	ev->old_state = b[46];
	ev->new_state = b[47];
	ev->owner_src = b[48] < ST_OWNER__MAX ? b[48] : ST_OWNER_UNKNOWN;
	ev->role = b[49] < ST_ROLE__MAX ? b[49] : ST_ROLE_UNKNOWN;
	ev->lport = rec__get16(b + 50);
	ev->rport = rec__get16(b + 52);
	memcpy(&ev->laddr, b + 54, 16);
	memcpy(&ev->raddr, b + 70, 16);
	memcpy(ev->comm, b + 86, TASK_COMM_LEN);
	ev->comm[TASK_COMM_LEN] = '\0';
	ev->syn_retrans = rec__get32(b + 102);
	ev->err = (int32_t)rec__get32(b + 106);
	ev->outcome = b[110] < OUTCOME__MAX ? b[110] : OUTCOME_IN_PROGRESS;
	ev->diag.cause = b[111] <= DIAG_NO_LISTENER ? b[111] : DIAG_NONE;
	ev->elapsed_ns = rec__get64(b + 112);
	ev->diag.pid = rec__get32(b + 120);
	ev->diag.queue = rec__get32(b + 124);
	ev->diag.backlog = rec__get32(b + 128);
	memcpy(ev->diag.comm, b + 132, TASK_COMM_LEN);
	ev->diag.comm[TASK_COMM_LEN] = '\0';
	if (ev->kind == EVENT_TCP_CONN) {
		decode_conn(&ev->conn, b);
		decode_tail(ev, b + REC_TCP_CONN_LEN, len - REC_TCP_CONN_LEN);
		if (len >= REC_TCP_CONN_LEN + REC_TAIL_LEN + REC_CONN_RST_LEN)
			decode_rst_reason(ev->conn.rst_reason,
					  b + REC_TCP_CONN_LEN + REC_TAIL_LEN);
		return 0;
	}
	if (ev->kind != EVENT_UDP_FLOW) {
		decode_tail(ev, b + REC_EVENT_LEN, len - REC_EVENT_LEN);
		return 0;
	}
	ev->flow_event = b[148] < UDP_FLOW__MAX ? b[148] : 0;
	ev->end_reason = b[149] < UDP_END__MAX ? b[149] : UDP_END_NONE;
	ev->first_ns = rec__get64(b + 156);
	ev->last_ns = rec__get64(b + 164);
	ev->duration_ns = rec__get64(b + 172);
	ev->tx_bytes = rec__get64(b + 180);
	ev->rx_bytes = rec__get64(b + 188);
	ev->tx_packets = rec__get64(b + 196);
	ev->rx_packets = rec__get64(b + 204);
	decode_tail(ev, b + REC_UDP_FLOW_LEN, len - REC_UDP_FLOW_LEN);
	return 0;
}

void rec__encode_stats(uint8_t *b, const struct rec_stats *st)
{
	rec__put64(b + 0, st->boot_ns);
	rec__put64(b + 8, st->events);
	rec__put64(b + 16, st->snapshot);
	rec__put64(b + 24, st->lost);
	rec__put64(b + 32, st->filtered);
	rec__put64(b + 40, st->elapsed_ns);
	rec__put64(b + 48, st->file_events);
	rec__put64(b + 56, st->udp_flows);
	rec__put64(b + 64, st->udp_uncounted);
	rec__put64(b + 72, st->udp_uncounted_bytes);
	rec__put64(b + 80, st->gaps);
	rec__put64(b + 88, st->missed);
}

/* A 1.0 payload has no UDP counts, a 1.1 payload no gaps. */
void rec__decode_stats(const uint8_t *b, size_t len, struct rec_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->boot_ns = rec__get64(b + 0);
	st->events = rec__get64(b + 8);
	st->snapshot = rec__get64(b + 16);
	st->lost = rec__get64(b + 24);
	st->filtered = rec__get64(b + 32);
	st->elapsed_ns = rec__get64(b + 40);
	st->file_events = rec__get64(b + 48);
	if (len < REC_STATS_LEN_1_1)
		return;
	st->udp_flows = rec__get64(b + 56);
	st->udp_uncounted = rec__get64(b + 64);
	st->udp_uncounted_bytes = rec__get64(b + 72);
	if (len < REC_STATS_LEN)
		return;
	st->gaps = rec__get64(b + 80);
	st->missed = rec__get64(b + 88);
}

void rec__encode_block_header(uint8_t *h, const struct rec_block *b)
{
	rec__put32(h, REC_SYNC);
	h[4] = b->type;
	h[5] = b->flags;
	rec__put16(h + 6, 0);
	rec__put32(h + 8, b->stored);
	rec__put32(h + 12, b->raw);
	rec__put32(h + 16, b->crc_stored);
	rec__put32(h + 20, b->crc_raw);
	rec__put32(h + 24, crc32(0, h, 24));
}

bool rec__decode_block_header(const uint8_t *h, struct rec_block *b)
{
	if (rec__get32(h) != REC_SYNC || rec__get32(h + 24) != crc32(0, h, 24))
		return false;
	b->type = h[4];
	b->flags = h[5];
	b->stored = rec__get32(h + 8);
	b->raw = rec__get32(h + 12);
	b->crc_stored = rec__get32(h + 16);
	b->crc_raw = rec__get32(h + 20);
	return true;
}

size_t rec__encode_cgroup(uint8_t *buf, const struct cgroup_info *ci)
{
	uint8_t *b = buf + 4;
	size_t n = 8;

	rec__put16(buf, REC_CGROUP);
	rec__put64(b, ci->key);
	for (int f = 1; f < CGF__MAX; f++) {
		size_t len = ci->f[f] ? strlen(ci->f[f]) : 0;

		if (!ci->f[f] || n + 4 + len > REC_CGROUP_MAX)
			continue;
		rec__put16(b + n, f);
		rec__put16(b + n + 2, len);
		memcpy(b + n + 4, ci->f[f], len);
		n += 4 + len;
	}
	rec__put16(buf + 2, n);
	return 4 + n;
}

int rec__decode_cgroup(struct cgroup_info *ci, uint64_t *key, const uint8_t *b, size_t len)
{
	size_t n = 8;

	if (len < 8)
		return -EINVAL;
	*key = rec__get64(b);
	while (n + 4 <= len) {
		uint16_t f = rec__get16(b + n), fl = rec__get16(b + n + 2);

		if (fl > len - n - 4)
			return -EINVAL;
		/* fields of a later version are skipped */
		if (f > 0 && f < CGF__MAX && cgroup_info__set(ci, f, (const char *)b + n + 4, fl))
			return -ENOMEM;
		n += 4 + fl;
	}
	return ci->f[CGF_PATH] ? 0 : -EINVAL;
}
