// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --metrics: the counters, their exposition, the HTTP server.
 *
 * The event loop counts; libmicrohttpd answers scrapes from its own thread,
 * which copies the counters under a mutex and renders the copy: a scrape
 * holds the lock for a memcpy, never the event loop for a slow client. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include "cgroup_info.h"
#include "event.h"
#include "metrics.h"

#define TCP_STATES 16			/* the kernel's states are 1 .. ST_TCP_MAX_STATES - 1 */
_Static_assert(ST_TCP_MAX_STATES <= TCP_STATES, "a TCP state has no counter");
#define MAX_HOOKS 16
#define TABLE_BUCKETS (1u << 14)
#define TABLE_MAX (1u << 20)		/* sockets and flows followed at once */

/* Handshake times, in seconds: loopback is ~0.1 ms, a SYN retransmit 1 s. */
static const double hs_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
#define HS_BUCKETS (sizeof(hs_bounds) / sizeof(hs_bounds[0]))

enum { DIR_TX, DIR_RX, DIR__MAX };
static const char *const dir_names[DIR__MAX] = { "tx", "rx" };

/* What a scrape copies. */
struct counts {
	uint64_t trans[TCP_STATES][TCP_STATES];
	uint64_t outcomes[OUTCOME__MAX];
	uint64_t hs_buckets[HS_BUCKETS + 1];	/* not cumulative; the last is +Inf */
	uint64_t hs_count;
	uint64_t hs_sum_ns;
	uint64_t syn_retrans;
	uint64_t alerts;
	int64_t sockets[TCP_STATES];
	uint64_t udp_datagrams[DIR__MAX];
	uint64_t udp_bytes[DIR__MAX];
	/* TCP connection ends (tcp_conn records): how, bytes, retransmits, RTT */
	uint64_t ends[ST_END__MAX];
	uint64_t conn_bytes[DIR__MAX];
	uint64_t conn_retrans;
	uint64_t rtt_buckets[HS_BUCKETS + 1];
	uint64_t rtt_count;
	uint64_t rtt_sum_us;
	uint64_t events, lost, gaps, filtered, missed;
	uint64_t untracked;		/* sockets and flows beyond TABLE_MAX */
};

/* A TCP socket's state, or a UDP flow's totals so far. */
struct entry {
	struct entry *next;
	uint64_t sock;
	struct in6_addr raddr;		/* UDP: the flow's peer */
	uint16_t rport;
	uint8_t udp;
	uint8_t state;
	uint32_t set[2];		/* --metrics-by: its label set in the socket gauge,
					 * or in the UDP datagram and byte families */
	uint64_t packets[DIR__MAX];
	uint64_t bytes[DIR__MAX];
};

/* --metrics-by: the families that take the extra labels. */
enum {
	BY_ENTRIES,			/* transitions by the state entered */
	BY_ATTEMPTS,
	BY_RETRANS,
	BY_SOCKETS,
	BY_UDP_DATAGRAMS,
	BY_UDP_BYTES,
	BY__MAX,
};

static const char *const key_names[METRICS_BY__MAX] = {
	[METRICS_BY_UNIT] = "unit",
	[METRICS_BY_CONTAINER] = "container",
	[METRICS_BY_POD] = "pod",
	[METRICS_BY_COMM] = "comm",
	[METRICS_BY_SERVICE] = "service",
};

/* One family's label sets: the first cap distinct ones keep a row of their
 * own, for good; the rest share the last row, "other". First seen rather
 * than most counted: a row never changes hands, so an exported series
 * never vanishes nor goes back. */
struct by_family {
	const char *name;		/* the family, as socktrace_metrics_folded_total names it */
	int width;			/* counters per row */
	bool all_columns;		/* every column of a row in use, 0 or not */
	uint32_t n;			/* rows in use but other; grows under lock */
	bool other;			/* other in use; under lock */
	uint64_t folded;		/* events, sockets and flows put in other; under lock */
	char **key;			/* [cap] values, NUL-terminated each: the event loop's */
	char **labels;			/* [cap] ",comm=\"curl\"...", set before n counts it */
	uint64_t *hash;			/* [cap] */
	uint32_t *len;			/* [cap] of key */
	uint32_t *index;		/* [buckets] row + 1, 0 empty: the event loop's */
	uint32_t buckets;
	uint64_t *v;			/* [(cap + 1) * width], under lock; a gauge's are int64 */
	uint32_t *seen;			/* [cap + 1] columns ever counted, under lock */
};

struct metrics {
	struct stage stage;		/* first: the stage's address is the metrics' */
	pthread_mutex_t lock;
	struct counts c;		/* under lock */
	char *hooks[MAX_HOOKS][2];	/* concern, variant; set before serving */
	int n_hooks;
	char *version, *libbpf, *kernel;
	uint64_t ringbuf_bytes;
	struct entry **table;		/* the event loop's only */
	uint32_t n_entries;
	struct MHD_Daemon *daemon;
	unsigned int by, cap;		/* --metrics-by, --metrics-cap */
	struct by_family fam[BY__MAX];	/* with by only */
	char *other_labels;		/* ",comm=\"other\"..." */
	const struct services *svc;
};

/* An event's values of the --metrics-by keys, built once per event. */
struct label_set {
	bool built;
	size_t len;
	uint64_t hash;
	char key[METRICS_BY__MAX * (METRICS_LABEL_MAX + 1)];
};

static int metrics__stage_event(struct stage *s, const struct event *ev);

static const struct stage_ops metrics_stage_ops = {
	.event = metrics__stage_event,
};

static int by_init(struct metrics *m, unsigned int by, unsigned int cap);
static void by_free(struct metrics *m);
static uint32_t by_row(struct metrics *m, int f, const struct event *ev, struct label_set *ls);
static void by_add(struct metrics *m, int f, uint32_t row, int col, int64_t delta);

int metrics__parse_by(const char *s, unsigned int *by)
{
	unsigned int mask = 0;
	const char *p = s;

	do {
		size_t n = strcspn(p, ",");
		int k;

		for (k = 0; k < METRICS_BY__MAX; k++)
			if (strlen(key_names[k]) == n && !strncmp(p, key_names[k], n))
				break;
		if (k == METRICS_BY__MAX)
			return -EINVAL;
		mask |= 1u << k;
		p += n;
	} while (*p++ == ',');
	*by = mask;
	return 0;
}

int metrics__parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = s;
	unsigned long port;
	size_t n;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		n = close - h;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = colon - s;
	}
	if (n >= sizeof(host) || colon[1] < '1' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!n)
		strcpy(host, METRICS_DEFAULT_ADDR);
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	}
	return 0;
}

struct metrics *metrics__new(const struct metrics_info *info)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->stage.ops = &metrics_stage_ops;
	pthread_mutex_init(&m->lock, NULL);
	m->version = strdup(info->version ? info->version : "");
	m->libbpf = strdup(info->libbpf ? info->libbpf : "");
	m->kernel = strdup(info->kernel ? info->kernel : "");
	m->ringbuf_bytes = info->ringbuf_bytes;
	m->table = calloc(TABLE_BUCKETS, sizeof(*m->table));
	if (!m->version || !m->libbpf || !m->kernel || !m->table ||
	    (info->by && by_init(m, info->by, info->cap))) {
		metrics__free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void metrics__set_services(struct metrics *m, const struct services *svc)
{
	m->svc = svc;
}

struct stage *metrics__stage(struct metrics *m)
{
	return &m->stage;
}

int metrics__set_hook(struct metrics *m, const char *concern, const char *variant)
{
	if (m->n_hooks == MAX_HOOKS)
		return -E2BIG;
	m->hooks[m->n_hooks][0] = strdup(concern);
	m->hooks[m->n_hooks][1] = strdup(variant);
	if (!m->hooks[m->n_hooks][0] || !m->hooks[m->n_hooks][1]) {
		free(m->hooks[m->n_hooks][0]);
		free(m->hooks[m->n_hooks][1]);
		return -ENOMEM;
	}
	pthread_mutex_lock(&m->lock);
	m->n_hooks++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void metrics__set_stats(struct metrics *m, const struct stats *st, uint64_t kernel_filtered)
{
	pthread_mutex_lock(&m->lock);
	m->c.events = st->events;
	m->c.lost = st->lost;
	m->c.gaps = st->gaps;
	m->c.filtered = st->filtered + kernel_filtered;
	m->c.missed = st->missed;
	pthread_mutex_unlock(&m->lock);
}

static uint32_t entry_hash(uint64_t sock, const struct in6_addr *raddr, uint16_t rport)
{
	uint64_t h = sock * 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 4; i++)
		h = (h ^ raddr->s6_addr32[i]) * 0x100000001b3ull;
	h ^= rport;
	return (uint32_t)(h ^ (h >> 29)) & (TABLE_BUCKETS - 1);
}

/* The entry of a TCP socket (raddr zero, rport 0) or a UDP flow; a new one
 * if create (NULL when the table is full or out of memory). */
static struct entry *table_find(struct metrics *m, bool udp, uint64_t sock,
				const struct in6_addr *raddr, uint16_t rport, bool create,
				struct entry ***prev)
{
	struct entry **pp = &m->table[entry_hash(sock, raddr, rport)], *e;

	for (; (e = *pp); pp = &e->next)
		if (e->sock == sock && e->udp == udp && e->rport == rport &&
		    !memcmp(&e->raddr, raddr, sizeof(*raddr)))
			break;
	if (prev)
		*prev = pp;
	if (e || !create)
		return e;
	if (m->n_entries == TABLE_MAX || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->sock = sock;
	e->udp = udp;
	e->raddr = *raddr;
	e->rport = rport;
	*pp = e;
	m->n_entries++;
	return e;
}

static void table_remove(struct metrics *m, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	free(e);
	m->n_entries--;
}

/* The gauge of live sockets by state: each socket in one state, until CLOSE. */
static void count_tcp_state(struct metrics *m, const struct event *ev)
{
	static const struct in6_addr none;
	uint8_t new = ev->new_state < TCP_STATES ? ev->new_state : 0;
	/* states the kernel names only: the pairs stay within 13 x 13 */
	bool trans = ev->kind == EVENT_TCP_STATE && ev->old_state > 0 &&
		     ev->old_state < ST_TCP_MAX_STATES && new && new < ST_TCP_MAX_STATES;
	uint32_t row = 0, entry_row = 0;
	struct entry **pp, *e;
	struct label_set ls;
	int old = -1;

	if (!ev->sock)
		return;
	ls.built = false;
	e = table_find(m, false, ev->sock, &none, 0, new && new != ST_TCP_CLOSE, &pp);
	if (e && e->state)
		old = e->state;
	/* a socket keeps the labels of its first event: its gauge rows match */
	if (m->by && e && !e->state)
		e->set[0] = by_row(m, BY_SOCKETS, ev, &ls);
	if (m->by && e)
		row = e->set[0];
	if (m->by && trans)
		entry_row = by_row(m, BY_ENTRIES, ev, &ls);
	if (e && (!new || new == ST_TCP_CLOSE))
		table_remove(m, pp);
	else if (e)
		e->state = new;
	pthread_mutex_lock(&m->lock);
	if (trans) {
		m->c.trans[ev->old_state][new]++;
		if (m->by)
			by_add(m, BY_ENTRIES, entry_row, new, 1);
	}
	if (old > 0 && m->c.sockets[old] > 0) {
		m->c.sockets[old]--;
		if (m->by)
			by_add(m, BY_SOCKETS, row, old, -1);
	}
	if (e && new && new != ST_TCP_CLOSE) {
		m->c.sockets[new]++;
		if (m->by)
			by_add(m, BY_SOCKETS, row, new, 1);
	}
	if (!e && new && new != ST_TCP_CLOSE)
		m->c.untracked++;
	pthread_mutex_unlock(&m->lock);
}

/* A flow reports totals since its start: count what is new since its last
 * report. */
static void count_udp_flow(struct metrics *m, const struct event *ev)
{
	uint64_t now[2][DIR__MAX] = {
		{ ev->tx_packets, ev->rx_packets },
		{ ev->tx_bytes, ev->rx_bytes },
	};
	uint64_t delta[2][DIR__MAX];
	uint32_t rows[2] = { 0, 0 };
	struct entry **pp, *e;
	struct label_set ls;

	ls.built = false;
	e = table_find(m, true, ev->sock, &ev->raddr, ev->rport, true, &pp);
	/* a flow keeps the labels of its first report (state: they are set) */
	if (m->by && e && !e->state) {
		e->set[0] = by_row(m, BY_UDP_DATAGRAMS, ev, &ls);
		e->set[1] = by_row(m, BY_UDP_BYTES, ev, &ls);
		e->state = 1;
	}
	if (m->by && e) {
		rows[0] = e->set[0];
		rows[1] = e->set[1];
	} else if (m->by) {
		rows[0] = by_row(m, BY_UDP_DATAGRAMS, ev, &ls);
		rows[1] = by_row(m, BY_UDP_BYTES, ev, &ls);
	}
	for (int d = 0; d < DIR__MAX; d++) {
		uint64_t pkts = e ? e->packets[d] : 0, bytes = e ? e->bytes[d] : 0;

		/* fewer than before: another flow of a reused socket address */
		delta[0][d] = now[0][d] >= pkts ? now[0][d] - pkts : now[0][d];
		delta[1][d] = now[1][d] >= bytes ? now[1][d] - bytes : now[1][d];
		if (e) {
			e->packets[d] = now[0][d];
			e->bytes[d] = now[1][d];
		}
	}
	if (e && ev->flow_event == UDP_FLOW_END)
		table_remove(m, pp);
	pthread_mutex_lock(&m->lock);
	for (int d = 0; d < DIR__MAX; d++) {
		m->c.udp_datagrams[d] += delta[0][d];
		m->c.udp_bytes[d] += delta[1][d];
		if (m->by) {
			by_add(m, BY_UDP_DATAGRAMS, rows[0], d, delta[0][d]);
			by_add(m, BY_UDP_BYTES, rows[1], d, delta[1][d]);
		}
	}
	if (!e)
		m->c.untracked++;
	pthread_mutex_unlock(&m->lock);
}

static void count_connect(struct metrics *m, const struct event *ev)
{
	struct label_set ls;
	uint32_t row = 0;
	size_t b = 0;

	/* found in SYN_SENT at startup: its outcome comes later */
	if (ev->outcome == OUTCOME_IN_PROGRESS || ev->outcome >= OUTCOME__MAX)
		return;
	ls.built = false;
	if (m->by)
		row = by_row(m, BY_ATTEMPTS, ev, &ls);
	if (ev->outcome == OUTCOME_ESTABLISHED && ev->elapsed_ns != EVENT_OLD_NS_UNKNOWN)
		while (b < HS_BUCKETS && ev->elapsed_ns > hs_bounds[b] * 1e9)
			b++;
	pthread_mutex_lock(&m->lock);
	m->c.outcomes[ev->outcome]++;
	if (m->by)
		by_add(m, BY_ATTEMPTS, row, ev->outcome, 1);
	if (ev->outcome == OUTCOME_ESTABLISHED && ev->elapsed_ns != EVENT_OLD_NS_UNKNOWN) {
		m->c.hs_buckets[b]++;
		m->c.hs_count++;
		m->c.hs_sum_ns += ev->elapsed_ns;
	}
	pthread_mutex_unlock(&m->lock);
}

static void count_retrans(struct metrics *m, const struct event *ev)
{
	struct label_set ls;
	uint32_t row = 0;

	ls.built = false;
	if (m->by)
		row = by_row(m, BY_RETRANS, ev, &ls);
	pthread_mutex_lock(&m->lock);
	m->c.syn_retrans++;
	if (m->by)
		by_add(m, BY_RETRANS, row, 0, 1);
	pthread_mutex_unlock(&m->lock);
}

/* A connection's end: its final counters (retransmissions included in
 * the bytes sent, as tcpi_bytes_sent), and its smoothed RTT if it had one. */
static void count_conn_end(struct metrics *m, const struct event *ev)
{
	const struct tcp_conn *c = &ev->conn;
	size_t b = 0;

	while (c->srtt_us && b < HS_BUCKETS && c->srtt_us > hs_bounds[b] * 1e6)
		b++;
	pthread_mutex_lock(&m->lock);
	if (c->end < ST_END__MAX)
		m->c.ends[c->end]++;
	if (!(c->flags & ST_CONN_NO_BYTES_SENT))
		m->c.conn_bytes[DIR_TX] += c->bytes_sent;
	m->c.conn_bytes[DIR_RX] += c->bytes_received;
	m->c.conn_retrans += c->total_retrans;
	if (c->srtt_us) {
		m->c.rtt_buckets[b]++;
		m->c.rtt_count++;
		m->c.rtt_sum_us += c->srtt_us;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics__feed(struct metrics *m, const struct event *ev)
{
	switch (ev->kind) {
	case EVENT_TCP_STATE:
	case EVENT_TCP_SOCKET:
		count_tcp_state(m, ev);
		break;
	case EVENT_UDP_FLOW:
		count_udp_flow(m, ev);
		break;
	case EVENT_CONNECT:
		count_connect(m, ev);
		break;
	case EVENT_SYN_RETRANS:
		count_retrans(m, ev);
		break;
	case EVENT_TCP_CONN:
		if (ev->conn.event == TCP_CONN_END)
			count_conn_end(m, ev);
		break;
	case EVENT_SYN_ALERT:
		pthread_mutex_lock(&m->lock);
		m->c.alerts++;
		pthread_mutex_unlock(&m->lock);
		break;
	default:
		break;
	}
}

static int metrics__stage_event(struct stage *s, const struct event *ev)
{
	metrics__feed((struct metrics *)s, ev);
	return 0;
}

/* ---- --metrics-by ---- */

static const struct {
	const char *name;
	int width;
	bool all_columns;
} by_families[BY__MAX] = {
	[BY_ENTRIES] = { "socktrace_tcp_state_entries", TCP_STATES, false },
	[BY_ATTEMPTS] = { "socktrace_tcp_connect_attempts", OUTCOME__MAX, true },
	[BY_RETRANS] = { "socktrace_tcp_syn_retransmits", 1, true },
	[BY_SOCKETS] = { "socktrace_tcp_sockets", TCP_STATES, false },
	[BY_UDP_DATAGRAMS] = { "socktrace_udp_datagrams", DIR__MAX, true },
	[BY_UDP_BYTES] = { "socktrace_udp_bytes", DIR__MAX, true },
};

static int by_init(struct metrics *m, unsigned int by, unsigned int cap)
{
	size_t len = 1;

	m->by = by;
	m->cap = cap ? cap : METRICS_DEFAULT_CAP;
	for (int k = 0; k < METRICS_BY__MAX; k++)
		if (by & (1u << k))
			len += strlen(key_names[k]) + sizeof(",=\"other\"");
	m->other_labels = malloc(len);
	if (!m->other_labels)
		return -ENOMEM;
	m->other_labels[0] = '\0';
	for (int k = 0; k < METRICS_BY__MAX; k++)
		if (by & (1u << k))
			sprintf(m->other_labels + strlen(m->other_labels), ",%s=\"other\"", key_names[k]);
	for (int f = 0; f < BY__MAX; f++) {
		struct by_family *bf = &m->fam[f];

		bf->name = by_families[f].name;
		bf->width = by_families[f].width;
		bf->all_columns = by_families[f].all_columns;
		/* at most half full: probes stay short */
		for (bf->buckets = 16; bf->buckets < 2 * m->cap; bf->buckets *= 2)
			;
		bf->key = calloc(m->cap, sizeof(*bf->key));
		bf->labels = calloc(m->cap, sizeof(*bf->labels));
		bf->hash = calloc(m->cap, sizeof(*bf->hash));
		bf->len = calloc(m->cap, sizeof(*bf->len));
		bf->index = calloc(bf->buckets, sizeof(*bf->index));
		bf->v = calloc((size_t)(m->cap + 1) * bf->width, sizeof(*bf->v));
		bf->seen = calloc(m->cap + 1, sizeof(*bf->seen));
		if (!bf->key || !bf->labels || !bf->hash || !bf->len || !bf->index || !bf->v ||
		    !bf->seen)
			return -ENOMEM;
	}
	return 0;
}

static void by_free(struct metrics *m)
{
	for (int f = 0; f < BY__MAX; f++) {
		struct by_family *bf = &m->fam[f];

		for (uint32_t i = 0; i < bf->n; i++) {
			free(bf->key[i]);
			free(bf->labels[i]);
		}
		free(bf->key);
		free(bf->labels);
		free(bf->hash);
		free(bf->len);
		free(bf->index);
		free(bf->v);
		free(bf->seen);
	}
	free(m->other_labels);
}

size_t metrics__label_value(const char *in, size_t len, char *out)
{
	size_t i = 0, n = 0;

	while (i < len && in[i]) {
		unsigned char c = in[i];
		size_t need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			      (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t j;

		/* a complete sequence, or a '?' for its first byte */
		for (j = 1; need && j < need; j++)
			if (i + j >= len || ((unsigned char)in[i + j] & 0xc0) != 0x80)
				break;
		if (!need || j < need || (need == 2 && c < 0xc2) || (need == 4 && c > 0xf4))
			need = 0;
		if (n + (need ? need : 1) > METRICS_LABEL_MAX)
			break;
		if (need) {
			memcpy(out + n, in + i, need);
			n += need;
			i += need;
		} else {
			out[n++] = '?';
			i++;
		}
	}
	out[n] = '\0';
	return n;
}

/* The service label: the name the text output gives, else the port it
 * would name (the remote one of a client, the local one of a server). */
static const char *service_value(const struct metrics *m, const struct event *ev, char *buf,
				 size_t len)
{
	bool udp = ev->proto == IPPROTO_UDP;
	const char *name;
	uint16_t port;

	if (sink__service(m->svc, ev, &name) != SERVICE_NONE)
		return name;
	if (!udp && ev->role == ST_ROLE_CLIENT)
		port = ev->rport;
	else if (!udp && (ev->role == ST_ROLE_SERVER || ev->role == ST_ROLE_LISTENER))
		port = ev->lport;
	else
		port = !ev->lport ? ev->rport : !ev->rport ? ev->lport :
		       ev->lport < ev->rport ? ev->lport : ev->rport;
	if (!port)
		return "";
	snprintf(buf, len, "%u", port);
	return buf;
}

/* The event's value of key k; "" when unknown. */
static const char *key_value(const struct metrics *m, const struct event *ev, int k, char *buf,
			     size_t len)
{
	const char *const *f = ev->cg ? (const char *const *)ev->cg->f : NULL;

	switch (k) {
	case METRICS_BY_UNIT:
		return f && f[CGF_UNIT] ? f[CGF_UNIT] : "";
	case METRICS_BY_CONTAINER:
		if (f && f[CGF_CONTAINER_NAME])
			return f[CGF_CONTAINER_NAME];
		if (f && f[CGF_CONTAINER_ID])
			snprintf(buf, len, "%s:%.12s", f[CGF_RUNTIME] ? f[CGF_RUNTIME] : "container",
				 f[CGF_CONTAINER_ID]);
		else
			buf[0] = '\0';
		return buf;
	case METRICS_BY_POD:
		if (f && f[CGF_POD_NAME])
			snprintf(buf, len, "%s/%s", f[CGF_POD_NS] ? f[CGF_POD_NS] : "", f[CGF_POD_NAME]);
		else
			snprintf(buf, len, "%s", f && f[CGF_POD_UID] ? f[CGF_POD_UID] : "");
		return buf;
	case METRICS_BY_COMM:
		if (!ev->pid)
			return "";
		snprintf(buf, len, "%.*s", TASK_COMM_LEN, ev->comm);
		return buf;
	default:
		return service_value(m, ev, buf, len);
	}
}

static void label_set_build(const struct metrics *m, const struct event *ev, struct label_set *ls)
{
	char buf[2 * METRICS_LABEL_MAX + 2];
	uint64_t h = 0xcbf29ce484222325ull;
	bool all_other = true;

	ls->len = 0;
	for (int k = 0; k < METRICS_BY__MAX; k++) {
		const char *v;
		size_t n;

		if (!(m->by & (1u << k)))
			continue;
		v = key_value(m, ev, k, buf, sizeof(buf));
		n = metrics__label_value(v, strlen(v), ls->key + ls->len);
		all_other = all_other && !strcmp(ls->key + ls->len, "other");
		ls->len += n + 1;
	}
	for (size_t i = 0; i < ls->len; i++)
		h = (h ^ (unsigned char)ls->key[i]) * 0x100000001b3ull;
	/* a process named "other": its series would be other's */
	ls->hash = all_other ? 0 : h | 1;
	ls->built = true;
}

/* ",unit=\"nginx.service\",comm=\"nginx\"" for a set's values. */
static char *labels_text(const struct metrics *m, const char *key)
{
	char esc[4 * METRICS_LABEL_MAX + 1];
	size_t len = 0, cap = 64;
	char *out = malloc(cap), *p;

	for (int k = 0; out && k < METRICS_BY__MAX; k++) {
		size_t need;

		if (!(m->by & (1u << k)))
			continue;
		metrics__escape(key, esc, sizeof(esc));
		key += strlen(key) + 1;
		need = len + strlen(key_names[k]) + strlen(esc) + 5;
		if (need > cap) {
			p = realloc(out, need);
			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
			cap = need;
		}
		len += sprintf(out + len, ",%s=\"%s\"", key_names[k], esc);
	}
	if (out && !len)
		out[0] = '\0';
	return out;
}

/* Other's row, counting one more fold. */
static uint32_t by_fold(struct metrics *m, struct by_family *bf)
{
	pthread_mutex_lock(&m->lock);
	bf->folded++;
	pthread_mutex_unlock(&m->lock);
	return m->cap;
}

/* The event's row in family f: its own, a new one while there is room,
 * else other (row cap). */
static uint32_t by_row(struct metrics *m, int f, const struct event *ev, struct label_set *ls)
{
	struct by_family *bf = &m->fam[f];
	uint32_t b, row;

	if (!ls->built)
		label_set_build(m, ev, ls);
	if (!ls->hash)
		return by_fold(m, bf);
	for (b = ls->hash & (bf->buckets - 1); bf->index[b]; b = (b + 1) & (bf->buckets - 1)) {
		row = bf->index[b] - 1;
		if (bf->hash[row] == ls->hash && bf->len[row] == ls->len &&
		    !memcmp(bf->key[row], ls->key, ls->len))
			return row;
	}
	if (bf->n == m->cap)
		return by_fold(m, bf);
	row = bf->n;
	bf->key[row] = malloc(ls->len);
	if (!bf->key[row])
		return by_fold(m, bf);
	memcpy(bf->key[row], ls->key, ls->len);
	bf->labels[row] = labels_text(m, ls->key);
	if (!bf->labels[row]) {
		free(bf->key[row]);
		return by_fold(m, bf);
	}
	bf->hash[row] = ls->hash;
	bf->len[row] = ls->len;
	bf->index[b] = row + 1;
	pthread_mutex_lock(&m->lock);
	bf->n++;
	pthread_mutex_unlock(&m->lock);
	return row;
}

/* Under lock. */
static void by_add(struct metrics *m, int f, uint32_t row, int col, int64_t delta)
{
	struct by_family *bf = &m->fam[f];

	bf->v[(size_t)row * bf->width + col] += delta;
	bf->seen[row] |= 1u << col;
	if (row == m->cap)
		bf->other = true;
}

/* ---- exposition ---- */

size_t metrics__escape(const char *in, char *out, size_t n)
{
	size_t len = 0;

	for (; *in; in++) {
		const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" :
				  *in == '\n' ? "\\n" : NULL;
		char one[2] = { *in, '\0' };

		for (const char *r = rep ? rep : one; *r; r++, len++)
			if (len + 1 < n)
				out[len] = *r;
	}
	if (n)
		out[len < n ? len : n - 1] = '\0';
	return len;
}

/* One label value, escaped. */
static void put_label(FILE *f, const char *name, const char *value, bool first)
{
	char buf[512];

	if (metrics__escape(value, buf, sizeof(buf)) >= sizeof(buf))
		buf[sizeof(buf) - 1] = '\0';	/* a kernel release is never that long */
	fprintf(f, "%s%s=\"%s\"", first ? "" : ",", name, buf);
}

/* HELP and TYPE: OpenMetrics names a counter's family without _total, the
 * text format names it as its samples. */
static void put_family(FILE *f, bool om, const char *name, const char *type, const char *help)
{
	const char *suffix = !om && !strcmp(type, "counter") ? "_total" : "";

	fprintf(f, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, suffix, help, name, suffix, type);
}

static void put_counter(FILE *f, bool om, const char *name, const char *help, uint64_t v)
{
	put_family(f, om, name, "counter", help);
	fprintf(f, "%s_total %llu\n", name, (unsigned long long)v);
}

static void put_gauge(FILE *f, bool om, const char *name, const char *help, uint64_t v)
{
	put_family(f, om, name, "gauge", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void put_seconds(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%09llu", (unsigned long long)(ns / 1000000000ull),
		(unsigned long long)(ns % 1000000000ull));
}

/* A family's --metrics-by rows as a scrape copies them: the n own rows,
 * then other's. */
struct by_copy {
	uint32_t n;
	bool other;
	uint64_t folded;
	uint64_t *v;
	uint32_t *seen;
};

/* One family's samples by row: name{base="..",<labels>} value, for the
 * columns in use; names: each column's base label value (NULL: none). */
static void put_by(FILE *f, const struct metrics *m, const struct by_copy *bc, int fam,
		   const char *sample, const char *base, const char *(*name)(int), bool gauge)
{
	const struct by_family *bf = &m->fam[fam];

	for (uint32_t r = 0; r <= bc->n; r++) {
		const char *labels = r < bc->n ? bf->labels[r] : m->other_labels;

		if (r == bc->n && !bc->other)
			break;
		for (int col = 0; col < bf->width; col++) {
			const uint64_t v = bc->v[(size_t)r * bf->width + col];
			const char *bv = name ? name(col) : NULL;

			if (name && !bv)
				continue;
			if (!bf->all_columns && !(bc->seen[r] & (1u << col)))
				continue;
			fprintf(f, "%s{", sample);
			if (bv)
				fprintf(f, "%s=\"%s\"", base, bv);
			/* no base label: the set's leading comma goes */
			fprintf(f, "%s} ", bv ? labels : labels + 1);
			if (gauge)
				fprintf(f, "%lld\n", (long long)v);
			else
				fprintf(f, "%llu\n", (unsigned long long)v);
		}
	}
}

static const char *state_col(int s)
{
	const char *n = s > 0 ? tcp_state__name(s) : NULL;

	return n && strcmp(n, "UNKNOWN") ? n : NULL;
}

static const char *live_state_col(int s)
{
	return s == ST_TCP_CLOSE ? NULL : state_col(s);
}

static const char *outcome_col(int o)
{
	return o >= OUTCOME_ESTABLISHED ? outcome__name(o) : NULL;
}

static const char *dir_col(int d)
{
	return dir_names[d];
}

/* A histogram over hs_bounds: buckets[] not cumulative, the last +Inf. */
static void put_histogram(FILE *f, bool om, const char *name, const char *help,
			  const uint64_t *buckets, uint64_t count, uint64_t sum_ns)
{
	uint64_t cum = 0;

	put_family(f, om, name, "histogram", help);
	for (size_t b = 0; b <= HS_BUCKETS; b++) {
		cum += buckets[b];
		if (b < HS_BUCKETS)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, hs_bounds[b],
				(unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	}
	fprintf(f, "%s_sum ", name);
	put_seconds(f, sum_ns);
	fprintf(f, "\n%s_count %llu\n", name, (unsigned long long)count);
}

static void render(FILE *f, const struct counts *c, const struct metrics *m,
		   const struct by_copy *by, int n_hooks, bool om)
{

	put_family(f, om, "socktrace_tcp_transitions", "counter",
		   "TCP state transitions, by old and new state.");
	for (int o = 0; o < TCP_STATES; o++)
		for (int n = 0; n < TCP_STATES; n++) {
			if (!c->trans[o][n])
				continue;
			fprintf(f, "socktrace_tcp_transitions_total{");
			put_label(f, "old_state", tcp_state__name(o), true);
			put_label(f, "new_state", tcp_state__name(n), false);
			fprintf(f, "} %llu\n", (unsigned long long)c->trans[o][n]);
		}
	if (by) {
		put_family(f, om, "socktrace_tcp_state_entries", "counter",
			   "TCP state transitions, by new state and the --metrics-by labels.");
		put_by(f, m, &by[BY_ENTRIES], BY_ENTRIES, "socktrace_tcp_state_entries_total",
		       "new_state", state_col, false);
	}

	put_family(f, om, "socktrace_tcp_connect_attempts", "counter",
		   "TCP connection attempts (connect()), by how they ended.");
	if (by)
		put_by(f, m, &by[BY_ATTEMPTS], BY_ATTEMPTS, "socktrace_tcp_connect_attempts_total",
		       "outcome", outcome_col, false);
	for (int o = OUTCOME_ESTABLISHED; !by && o < OUTCOME__MAX; o++) {
		fprintf(f, "socktrace_tcp_connect_attempts_total{");
		put_label(f, "outcome", outcome__name(o), true);
		fprintf(f, "} %llu\n", (unsigned long long)c->outcomes[o]);
	}

	put_histogram(f, om, "socktrace_tcp_handshake_seconds",
		      "Time from SYN_SENT to ESTABLISHED of the established attempts.",
		      c->hs_buckets, c->hs_count, c->hs_sum_ns);

	if (by) {
		put_family(f, om, "socktrace_tcp_syn_retransmits", "counter",
			   "SYN retransmits of connection attempts.");
		put_by(f, m, &by[BY_RETRANS], BY_RETRANS, "socktrace_tcp_syn_retransmits_total",
		       NULL, NULL, false);
	} else {
		put_counter(f, om, "socktrace_tcp_syn_retransmits",
			    "SYN retransmits of connection attempts.", c->syn_retrans);
	}
	put_counter(f, om, "socktrace_tcp_syn_alerts",
		    "Alerts on attempts that stayed in SYN_SENT (--syn-alert), one more at each SYN retransmit.",
		    c->alerts);

	put_family(f, om, "socktrace_tcp_sockets", "gauge",
		   "TCP sockets now, by state (those the filters keep, seen since tracing started).");
	if (by)
		put_by(f, m, &by[BY_SOCKETS], BY_SOCKETS, "socktrace_tcp_sockets", "state",
		       live_state_col, true);
	for (int s = 1; !by && s < TCP_STATES; s++) {
		if (!live_state_col(s))
			continue;
		fprintf(f, "socktrace_tcp_sockets{");
		put_label(f, "state", tcp_state__name(s), true);
		fprintf(f, "} %lld\n", (long long)c->sockets[s]);
	}

	put_family(f, om, "socktrace_udp_datagrams", "counter",
		   "UDP datagrams, by direction (tx sent, rx received).");
	if (by)
		put_by(f, m, &by[BY_UDP_DATAGRAMS], BY_UDP_DATAGRAMS, "socktrace_udp_datagrams_total",
		       "direction", dir_col, false);
	for (int d = 0; !by && d < DIR__MAX; d++)
		fprintf(f, "socktrace_udp_datagrams_total{direction=\"%s\"} %llu\n", dir_names[d],
			(unsigned long long)c->udp_datagrams[d]);
	put_family(f, om, "socktrace_udp_bytes", "counter",
		   "UDP payload bytes, by direction (tx sent, rx received).");
	if (by)
		put_by(f, m, &by[BY_UDP_BYTES], BY_UDP_BYTES, "socktrace_udp_bytes_total",
		       "direction", dir_col, false);
	for (int d = 0; !by && d < DIR__MAX; d++)
		fprintf(f, "socktrace_udp_bytes_total{direction=\"%s\"} %llu\n", dir_names[d],
			(unsigned long long)c->udp_bytes[d]);

	put_family(f, om, "socktrace_tcp_connections_ended", "counter",
		   "TCP connections that ended, attempts included, by how (tcp_conn's ended).");
	for (int e = 1; e < ST_END__MAX; e++) {
		fprintf(f, "socktrace_tcp_connections_ended_total{");
		put_label(f, "ended", tcp_end__name(e), true);
		fprintf(f, "} %llu\n", (unsigned long long)c->ends[e]);
	}
	put_family(f, om, "socktrace_tcp_connection_bytes", "counter",
		   "Payload bytes of the TCP connections that ended: sent (retransmissions included) and received.");
	for (int d = 0; d < DIR__MAX; d++)
		fprintf(f, "socktrace_tcp_connection_bytes_total{direction=\"%s\"} %llu\n",
			dir_names[d], (unsigned long long)c->conn_bytes[d]);
	put_counter(f, om, "socktrace_tcp_connection_retransmits",
		    "Segments the TCP connections that ended retransmitted.", c->conn_retrans);
	put_histogram(f, om, "socktrace_tcp_connection_rtt_seconds",
		      "Smoothed round-trip time of the TCP connections that ended with an RTT sample.",
		      c->rtt_buckets, c->rtt_count, c->rtt_sum_us * 1000);

	put_counter(f, om, "socktrace_events", "Events the filters kept.", c->events);
	put_counter(f, om, "socktrace_events_lost",
		    "Events the kernel could not deliver: the ring buffer was full.", c->lost);
	put_counter(f, om, "socktrace_events_filtered",
		    "Events the filters dropped, in the kernel and in userspace.", c->filtered);
	put_counter(f, om, "socktrace_tcp_transition_gaps",
		    "TCP transitions the kernel did not report (a socket's next one started from another state).",
		    c->gaps);
	put_counter(f, om, "socktrace_bpf_program_misses",
		    "Runs of socktrace's BPF programs the kernel skipped.", c->missed);
	put_counter(f, om, "socktrace_metrics_untracked",
		    "Sockets and UDP flows the metrics could not follow (table full).", c->untracked);
	if (by) {
		put_family(f, om, "socktrace_metrics_folded", "counter",
			   "Events, sockets and UDP flows counted under other: their --metrics-by labels came after --metrics-cap others.");
		for (int i = 0; i < BY__MAX; i++) {
			fprintf(f, "socktrace_metrics_folded_total{");
			put_label(f, "family", m->fam[i].name, true);
			fprintf(f, "} %llu\n", (unsigned long long)by[i].folded);
		}
	}
	put_gauge(f, om, "socktrace_ringbuf_size_bytes", "Size of the BPF ring buffer.",
		  m->ringbuf_bytes);

	put_family(f, om, "socktrace_build_info", "gauge",
		   "Versions of socktrace, of the libbpf it was built with, and of the running kernel.");
	fprintf(f, "socktrace_build_info{");
	put_label(f, "version", m->version, true);
	put_label(f, "libbpf", m->libbpf, false);
	put_label(f, "kernel", m->kernel, false);
	fprintf(f, "} 1\n");

	put_family(f, om, "socktrace_hook_info", "gauge",
		   "The hook variant that runs for each concern.");
	for (int i = 0; i < n_hooks; i++) {
		fprintf(f, "socktrace_hook_info{");
		put_label(f, "concern", m->hooks[i][0], true);
		put_label(f, "variant", m->hooks[i][1], false);
		fprintf(f, "} 1\n");
	}
	if (om)
		fprintf(f, "# EOF\n");
}

int metrics__render(struct metrics *m, bool openmetrics, char **out, size_t *len)
{
	struct by_copy by[BY__MAX] = {};
	struct counts *c = malloc(sizeof(*c));
	int n_hooks, err = 0;
	FILE *f;

	if (!c)
		return -ENOMEM;
	/* the largest a copy can be, allocated before the lock is taken */
	for (int i = 0; m->by && i < BY__MAX; i++) {
		by[i].v = malloc((size_t)(m->cap + 1) * m->fam[i].width * sizeof(*by[i].v));
		by[i].seen = malloc((m->cap + 1) * sizeof(*by[i].seen));
		if (!by[i].v || !by[i].seen)
			err = -ENOMEM;
	}
	*out = NULL;
	if (err)
		goto out;
	pthread_mutex_lock(&m->lock);
	memcpy(c, &m->c, sizeof(*c));
	n_hooks = m->n_hooks;
	for (int i = 0; m->by && i < BY__MAX; i++) {
		const struct by_family *bf = &m->fam[i];
		size_t row = bf->width * sizeof(*bf->v);

		by[i].n = bf->n;
		by[i].other = bf->other;
		by[i].folded = bf->folded;
		memcpy(by[i].v, bf->v, bf->n * row);
		memcpy(by[i].v + (size_t)bf->n * bf->width, bf->v + (size_t)m->cap * bf->width, row);
		memcpy(by[i].seen, bf->seen, bf->n * sizeof(*bf->seen));
		by[i].seen[bf->n] = bf->seen[m->cap];
	}
	pthread_mutex_unlock(&m->lock);
	f = open_memstream(out, len);
	if (!f) {
		err = -errno;
		goto out;
	}
	/* hooks and rows are only appended: the first n_hooks and n are complete */
	render(f, c, m, m->by ? by : NULL, n_hooks, openmetrics);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		err = -ENOMEM;
	}
out:
	for (int i = 0; i < BY__MAX; i++) {
		free(by[i].v);
		free(by[i].seen);
	}
	free(c);
	return err;
}

bool metrics__wants_openmetrics(const char *accept)
{
	return accept && strstr(accept, "application/openmetrics-text");
}

/* ---- HTTP ---- */

/* libmicrohttpd is opened when --metrics asks for it, not linked: the
 * binary keeps running on hosts without it and the GnuTLS it brings. */
static struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
} mhd;

/* 0, or -ELIBACC when the library or one of its functions is missing. */
static int mhd_open(void)
{
	static const char *const sonames[] = { "libmicrohttpd.so.12", "libmicrohttpd.so" };
	void *h = NULL;

	if (mhd.start_daemon)
		return 0;
	for (size_t i = 0; !h && i < sizeof(sonames) / sizeof(sonames[0]); i++)
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -ELIBACC;
#define MHD_SYM(f) (mhd.f = (__typeof__(mhd.f))dlsym(h, "MHD_" #f))
	if (!MHD_SYM(stop_daemon) || !MHD_SYM(create_response_from_buffer) ||
	    !MHD_SYM(add_response_header) || !MHD_SYM(queue_response) ||
	    !MHD_SYM(destroy_response) || !MHD_SYM(lookup_connection_value) ||
	    !MHD_SYM(start_daemon)) {
		mhd.start_daemon = NULL;
		dlclose(h);
		return -ELIBACC;
	}
#undef MHD_SYM
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *type, char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = mhd.create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = mhd.queue_response(conn, status, r);
	mhd.destroy_response(r);
	return ret;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload_data,
			     size_t *upload_data_size, void **con_cls)
{
	static const char text_type[] = "text/plain; version=0.0.4; charset=utf-8";
	static const char om_type[] = "application/openmetrics-text; version=1.0.0; charset=utf-8";
	struct metrics *m = cls;
	const char *accept;
	size_t len;
	char *body;
	bool om;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     "only GET\n", 9, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
			     "socktrace serves /metrics\n", 26, MHD_RESPMEM_PERSISTENT);
	accept = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	om = metrics__wants_openmetrics(accept);
	if (metrics__render(m, om, &body, &len))
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     "out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
	return reply(conn, MHD_HTTP_OK, om ? om_type : text_type, body, len, MHD_RESPMEM_MUST_FREE);
}

int metrics__listen(struct metrics *m, const struct sockaddr *addr, socklen_t len)
{
	sigset_t all, old;
	int fd, one = 1, err;

	err = mhd_open();
	if (err)
		return err;
	/* bound here rather than by libmicrohttpd, which would not say why */
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, addr, len) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	/* signals stay with the event loop: its thread is the one they wake */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	m->daemon = mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				     serve, m,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->daemon) {
		close(fd);
		return -EIO;
	}
	return 0;
}

void metrics__free(struct metrics *m)
{
	if (!m)
		return;
	/* the server first: it reads what follows */
	if (m->daemon)
		mhd.stop_daemon(m->daemon);
	for (uint32_t b = 0; m->table && b < TABLE_BUCKETS; b++)
		while (m->table[b])
			table_remove(m, &m->table[b]);
	free(m->table);
	if (m->by)
		by_free(m);
	for (int i = 0; i < m->n_hooks; i++) {
		free(m->hooks[i][0]);
		free(m->hooks[i][1]);
	}
	free(m->version);
	free(m->libbpf);
	free(m->kernel);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
