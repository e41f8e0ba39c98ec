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
	uint64_t packets[DIR__MAX];
	uint64_t bytes[DIR__MAX];
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
};

static int metrics__stage_event(struct stage *s, const struct event *ev);

static const struct stage_ops metrics_stage_ops = {
	.event = metrics__stage_event,
};

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
	if (!m->version || !m->libbpf || !m->kernel || !m->table) {
		metrics__free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
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
	struct entry **pp, *e;
	int old = -1;

	if (!ev->sock)
		return;
	e = table_find(m, false, ev->sock, &none, 0, new && new != ST_TCP_CLOSE, &pp);
	if (e && e->state)
		old = e->state;
	if (e && (!new || new == ST_TCP_CLOSE))
		table_remove(m, pp);
	else if (e)
		e->state = new;
	pthread_mutex_lock(&m->lock);
	if (ev->kind == EVENT_TCP_STATE && ev->old_state < TCP_STATES && new)
		m->c.trans[ev->old_state][new]++;
	if (old > 0 && m->c.sockets[old] > 0)
		m->c.sockets[old]--;
	if (e && new && new != ST_TCP_CLOSE)
		m->c.sockets[new]++;
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
	struct entry **pp, *e;

	e = table_find(m, true, ev->sock, &ev->raddr, ev->rport, true, &pp);
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
	}
	if (!e)
		m->c.untracked++;
	pthread_mutex_unlock(&m->lock);
}

static void count_connect(struct metrics *m, const struct event *ev)
{
	size_t b = 0;

	/* found in SYN_SENT at startup: its outcome comes later */
	if (ev->outcome == OUTCOME_IN_PROGRESS || ev->outcome >= OUTCOME__MAX)
		return;
	if (ev->outcome == OUTCOME_ESTABLISHED && ev->elapsed_ns != EVENT_OLD_NS_UNKNOWN)
		while (b < HS_BUCKETS && ev->elapsed_ns > hs_bounds[b] * 1e9)
			b++;
	pthread_mutex_lock(&m->lock);
	m->c.outcomes[ev->outcome]++;
	if (ev->outcome == OUTCOME_ESTABLISHED && ev->elapsed_ns != EVENT_OLD_NS_UNKNOWN) {
		m->c.hs_buckets[b]++;
		m->c.hs_count++;
		m->c.hs_sum_ns += ev->elapsed_ns;
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
		pthread_mutex_lock(&m->lock);
		m->c.syn_retrans++;
		pthread_mutex_unlock(&m->lock);
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

static void render(FILE *f, const struct counts *c, const struct metrics *m, int n_hooks,
		   bool om)
{
	uint64_t cum = 0;

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

	put_family(f, om, "socktrace_tcp_connect_attempts", "counter",
		   "TCP connection attempts (connect()), by how they ended.");
	for (int o = OUTCOME_ESTABLISHED; o < OUTCOME__MAX; o++) {
		fprintf(f, "socktrace_tcp_connect_attempts_total{");
		put_label(f, "outcome", outcome__name(o), true);
		fprintf(f, "} %llu\n", (unsigned long long)c->outcomes[o]);
	}

	put_family(f, om, "socktrace_tcp_handshake_seconds", "histogram",
		   "Time from SYN_SENT to ESTABLISHED of the established attempts.");
	for (size_t b = 0; b <= HS_BUCKETS; b++) {
		cum += c->hs_buckets[b];
		if (b < HS_BUCKETS)
			fprintf(f, "socktrace_tcp_handshake_seconds_bucket{le=\"%g\"} %llu\n",
				hs_bounds[b], (unsigned long long)cum);
		else
			fprintf(f, "socktrace_tcp_handshake_seconds_bucket{le=\"+Inf\"} %llu\n",
				(unsigned long long)cum);
	}
	fprintf(f, "socktrace_tcp_handshake_seconds_sum ");
	put_seconds(f, c->hs_sum_ns);
	fprintf(f, "\nsocktrace_tcp_handshake_seconds_count %llu\n",
		(unsigned long long)c->hs_count);

	put_counter(f, om, "socktrace_tcp_syn_retransmits",
		    "SYN retransmits of connection attempts.", c->syn_retrans);
	put_counter(f, om, "socktrace_tcp_syn_alerts",
		    "Alerts on attempts that stayed in SYN_SENT (--syn-alert), one more at each SYN retransmit.",
		    c->alerts);

	put_family(f, om, "socktrace_tcp_sockets", "gauge",
		   "TCP sockets now, by state (those the filters keep, seen since tracing started).");
	for (int s = 1; s < TCP_STATES; s++) {
		if (s == ST_TCP_CLOSE || !tcp_state__name(s) || !strcmp(tcp_state__name(s), "UNKNOWN"))
			continue;
		fprintf(f, "socktrace_tcp_sockets{");
		put_label(f, "state", tcp_state__name(s), true);
		fprintf(f, "} %lld\n", (long long)c->sockets[s]);
	}

	put_family(f, om, "socktrace_udp_datagrams", "counter",
		   "UDP datagrams, by direction (tx sent, rx received).");
	for (int d = 0; d < DIR__MAX; d++)
		fprintf(f, "socktrace_udp_datagrams_total{direction=\"%s\"} %llu\n", dir_names[d],
			(unsigned long long)c->udp_datagrams[d]);
	put_family(f, om, "socktrace_udp_bytes", "counter",
		   "UDP payload bytes, by direction (tx sent, rx received).");
	for (int d = 0; d < DIR__MAX; d++)
		fprintf(f, "socktrace_udp_bytes_total{direction=\"%s\"} %llu\n", dir_names[d],
			(unsigned long long)c->udp_bytes[d]);

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
	struct counts *c = malloc(sizeof(*c));
	int n_hooks;
	FILE *f;

	if (!c)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	memcpy(c, &m->c, sizeof(*c));
	n_hooks = m->n_hooks;
	pthread_mutex_unlock(&m->lock);
	*out = NULL;
	f = open_memstream(out, len);
	if (!f) {
		free(c);
		return -errno;
	}
	/* hooks are only appended: the first n_hooks are complete */
	render(f, c, m, n_hooks, openmetrics);
	free(c);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
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
