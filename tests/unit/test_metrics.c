// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* metrics.c: what the events count, the exposition in both formats, label
 * escaping, --metrics addresses. No server is started. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "cgroup_info.h"
#include "event.h"
#include "metrics.h"
#include "opts.h"
#include "harness.h"

static void metrics_free_arg(void *p)
{
	metrics__free(p);
}

static struct metrics *new_metrics(const char *kernel)
{
	struct metrics_info info = {
		.version = "1.2.3", .libbpf = "v1.1", .kernel = kernel, .ringbuf_bytes = 4096,
	};
	struct metrics *m = metrics__new(&info);

	ASSERT_NOT_NULL(m);
	ut_defer(metrics_free_arg, m);
	return m;
}

/* The exposition, kept until the test ends. */
static char *render(struct metrics *m, bool om)
{
	size_t len;
	char *out;

	ASSERT_EQ(metrics__render(m, om, &out, &len), 0);
	ut_defer(free, out);
	ASSERT_EQ(strlen(out), len);
	return out;
}

#define ASSERT_HAS(text, line) \
	ASSERT_MSG(strstr(text, line "\n"), "no line '%s' in:\n%s", line, text)
#define ASSERT_HASNT(text, s) \
	ASSERT_MSG(!strstr(text, s), "unexpected '%s' in:\n%s", s, text)

static void feed_state(struct metrics *m, uint64_t sock, int old, int new)
{
	struct event ev = { .kind = EVENT_TCP_STATE, .sock = sock, .old_state = old,
			    .new_state = new };

	metrics__feed(m, &ev);
}

TEST(metrics_escape)
{
	char buf[64];

	ASSERT_EQ(metrics__escape("a\\b\"c\nd", buf, sizeof(buf)), 10);
	ASSERT_STREQ(buf, "a\\\\b\\\"c\\nd");
	ASSERT_EQ(metrics__escape("plain", buf, sizeof(buf)), 5);
	ASSERT_STREQ(buf, "plain");
	/* cut, still terminated; the length it needs */
	ASSERT_EQ(metrics__escape("\"\"\"", buf, 4), 6);
	ASSERT_STREQ(buf, "\\\"\\");
}

TEST(metrics_label_escaped_in_exposition)
{
	struct metrics *m = new_metrics("6.1 \"odd\"\\\n");
	char *t = render(m, false);

	ASSERT_HAS(t, "socktrace_build_info{version=\"1.2.3\",libbpf=\"v1.1\",kernel=\"6.1 \\\"odd\\\"\\\\\\n\"} 1");
}

TEST(metrics_text_format)
{
	struct metrics *m = new_metrics("6.18");
	struct stats st = { .events = 7, .lost = 2, .filtered = 3, .gaps = 1 };
	char *t;

	ASSERT_EQ(metrics__set_hook(m, "tcp_state", "tp_btf/inet_sock_set_state"), 0);
	feed_state(m, 0x10, ST_TCP_CLOSE, ST_TCP_SYN_SENT);
	feed_state(m, 0x10, ST_TCP_SYN_SENT, ST_TCP_ESTABLISHED);
	feed_state(m, 0x20, ST_TCP_CLOSE, ST_TCP_SYN_SENT);
	metrics__set_stats(m, &st, 4);
	t = render(m, false);
	ASSERT_HAS(t, "# HELP socktrace_tcp_transitions_total TCP state transitions, by old and new state.");
	ASSERT_HAS(t, "# TYPE socktrace_tcp_transitions_total counter");
	ASSERT_HAS(t, "socktrace_tcp_transitions_total{old_state=\"CLOSE\",new_state=\"SYN_SENT\"} 2");
	ASSERT_HAS(t, "socktrace_tcp_transitions_total{old_state=\"SYN_SENT\",new_state=\"ESTABLISHED\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"SYN_SENT\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"ESTABLISHED\"} 1");
	ASSERT_HASNT(t, "socktrace_tcp_sockets{state=\"CLOSE\"}");
	ASSERT_HAS(t, "socktrace_events_total 7");
	ASSERT_HAS(t, "socktrace_events_lost_total 2");
	ASSERT_HAS(t, "socktrace_events_filtered_total 7");
	ASSERT_HAS(t, "socktrace_tcp_transition_gaps_total 1");
	ASSERT_HAS(t, "# TYPE socktrace_ringbuf_size_bytes gauge");
	ASSERT_HAS(t, "socktrace_ringbuf_size_bytes 4096");
	ASSERT_HAS(t, "socktrace_hook_info{concern=\"tcp_state\",variant=\"tp_btf/inet_sock_set_state\"} 1");
	/* every outcome, seen or not, so that a query finds a 0 */
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"timeout\"} 0");
	ASSERT_HASNT(t, "# EOF");

	/* closed: out of the gauge */
	feed_state(m, 0x10, ST_TCP_ESTABLISHED, ST_TCP_CLOSE);
	feed_state(m, 0x20, ST_TCP_SYN_SENT, ST_TCP_CLOSE);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"SYN_SENT\"} 0");
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"ESTABLISHED\"} 0");
}

TEST(metrics_openmetrics_format)
{
	struct metrics *m = new_metrics("6.18");
	char *t = render(m, true);
	size_t n = strlen(t);

	/* a counter's family has no _total, its samples have */
	ASSERT_HAS(t, "# TYPE socktrace_tcp_syn_retransmits counter");
	ASSERT_HAS(t, "# HELP socktrace_tcp_syn_retransmits SYN retransmits of connection attempts.");
	ASSERT_HAS(t, "socktrace_tcp_syn_retransmits_total 0");
	ASSERT_HASNT(t, "# TYPE socktrace_tcp_syn_retransmits_total");
	ASSERT_HAS(t, "# TYPE socktrace_tcp_handshake_seconds histogram");
	ASSERT_TRUE(n > 6 && !strcmp(t + n - 6, "# EOF\n"));
}

TEST(metrics_histogram_cumulative)
{
	struct metrics *m = new_metrics("6.18");
	struct event ev = { .kind = EVENT_CONNECT, .outcome = OUTCOME_ESTABLISHED };
	char *t;

	ev.elapsed_ns = 50000;		/* 50 us: the first bucket */
	metrics__feed(m, &ev);
	ev.elapsed_ns = 1000000;	/* 1 ms: on a bound, which includes it */
	metrics__feed(m, &ev);
	ev.elapsed_ns = 3000000000ull;	/* 3 s */
	metrics__feed(m, &ev);
	ev.elapsed_ns = 100000000000ull;	/* 100 s: only +Inf */
	metrics__feed(m, &ev);
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;	/* counted, not timed */
	metrics__feed(m, &ev);
	ev.outcome = OUTCOME_REFUSED;
	ev.elapsed_ns = 1000;
	metrics__feed(m, &ev);
	ev.outcome = OUTCOME_IN_PROGRESS;	/* found at startup: not ended */
	metrics__feed(m, &ev);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"0.0001\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"0.0005\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"0.001\"} 2");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"2.5\"} 2");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"5\"} 3");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"60\"} 3");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_bucket{le=\"+Inf\"} 4");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_count 4");
	ASSERT_HAS(t, "socktrace_tcp_handshake_seconds_sum 103.001050000");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"established\"} 5");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\"} 1");
}

TEST(metrics_udp_deltas)
{
	struct metrics *m = new_metrics("6.18");
	struct event ev = { .kind = EVENT_UDP_FLOW, .sock = 0x30, .rport = 53,
			    .flow_event = UDP_FLOW_START, .tx_packets = 1, .tx_bytes = 40 };
	char *t;

	metrics__feed(m, &ev);
	/* totals since the start: only what is new counts */
	ev.flow_event = UDP_FLOW_UPDATE;
	ev.tx_packets = 3;
	ev.tx_bytes = 120;
	ev.rx_packets = 2;
	ev.rx_bytes = 300;
	metrics__feed(m, &ev);
	ev.flow_event = UDP_FLOW_END;
	ev.tx_packets = 4;
	ev.tx_bytes = 160;
	metrics__feed(m, &ev);
	/* the same socket and peer again: a new flow */
	ev.flow_event = UDP_FLOW_START;
	ev.tx_packets = 1;
	ev.tx_bytes = 10;
	ev.rx_packets = ev.rx_bytes = 0;
	metrics__feed(m, &ev);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_udp_datagrams_total{direction=\"tx\"} 5");
	ASSERT_HAS(t, "socktrace_udp_datagrams_total{direction=\"rx\"} 2");
	ASSERT_HAS(t, "socktrace_udp_bytes_total{direction=\"tx\"} 170");
	ASSERT_HAS(t, "socktrace_udp_bytes_total{direction=\"rx\"} 300");
}

TEST(metrics_alerts_and_retransmits)
{
	struct metrics *m = new_metrics("6.18");
	struct event ev = { .kind = EVENT_SYN_RETRANS };
	char *t;

	metrics__feed(m, &ev);
	metrics__feed(m, &ev);
	ev.kind = EVENT_SYN_ALERT;
	metrics__feed(m, &ev);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_syn_retransmits_total 2");
	ASSERT_HAS(t, "socktrace_tcp_syn_alerts_total 1");
}

TEST(metrics_accept_header)
{
	ASSERT_TRUE(metrics__wants_openmetrics("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"));
	ASSERT_FALSE(metrics__wants_openmetrics("text/plain;version=0.0.4"));
	ASSERT_FALSE(metrics__wants_openmetrics(NULL));
}

TEST(metrics_parse_addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	char buf[INET6_ADDRSTRLEN];
	socklen_t len;

	ASSERT_EQ(metrics__parse_addr(":9464", &ss, &len), 0);
	ASSERT_EQ(a4->sin_family, AF_INET);
	ASSERT_EQ(ntohs(a4->sin_port), 9464);
	ASSERT_STREQ(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "127.0.0.1");
	ASSERT_EQ(len, sizeof(*a4));
	ASSERT_EQ(metrics__parse_addr("0.0.0.0:1", &ss, &len), 0);
	ASSERT_STREQ(inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof(buf)), "0.0.0.0");
	ASSERT_EQ(metrics__parse_addr("[::1]:65535", &ss, &len), 0);
	ASSERT_EQ(a6->sin6_family, AF_INET6);
	ASSERT_EQ(ntohs(a6->sin6_port), 65535);
	ASSERT_EQ(len, sizeof(*a6));
	ASSERT_STREQ(inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf)), "::1");

	static const char *const bad[] = {
		"", "9464", ":", ":0", ":65536", ":09464", ":94a", "localhost:9464",
		"::1:9464", "[::1]9464", "[::1]:", "[127.0.0.1]:80", "1.2.3.4.5:80",
		"[::1:80", ":-1", ": 80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(metrics__parse_addr(bad[i], &ss, &len) == -EINVAL,
			   "'%s' parsed", bad[i]);
}

TEST(metrics_option)
{
	char *argv[] = { "socktrace", "-q", "--metrics", "[::]:9464", NULL };
	char *bad[] = { "socktrace", "--metrics", "host:80", NULL };
	char *replay[] = { "socktrace", "-r", "x.st", "--metrics", ":9464", NULL };
	struct opts o;
	char err[512];

	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 4, argv, err, sizeof(err)), 0);
	ASSERT_STREQ(o.metrics, "[::]:9464");
	ASSERT_EQ(o.metrics_addr.ss_family, AF_INET6);
	opts__free(&o);

	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 3, bad, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "invalid metrics address 'host:80': expected [ADDR]:PORT with an IP address and a port from 1 to 65535 (:9464, 0.0.0.0:9464, [::1]:9464)");
	opts__free(&o);

	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 5, replay, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "--metrics applies to live tracing only: it has no effect with -r");
	opts__free(&o);
}

/* ---- --metrics-by ---- */

static struct metrics *new_metrics_by(unsigned int by, unsigned int cap)
{
	struct metrics_info info = {
		.version = "1.2.3", .libbpf = "v1.1", .kernel = "6.18", .ringbuf_bytes = 4096,
		.by = by, .cap = cap,
	};
	struct metrics *m = metrics__new(&info);

	ASSERT_NOT_NULL(m);
	ut_defer(metrics_free_arg, m);
	return m;
}

/* A refused attempt of comm to port, or an unknown owner's (comm NULL). */
static void feed_attempt(struct metrics *m, const char *comm, uint16_t port, int outcome)
{
	struct event ev = { .kind = EVENT_CONNECT, .proto = IPPROTO_TCP, .role = ST_ROLE_CLIENT,
			    .lport = 40000, .rport = port, .outcome = outcome,
			    .elapsed_ns = 1000 };

	if (comm) {
		ev.pid = 100;
		strncpy(ev.comm, comm, TASK_COMM_LEN);
	}
	metrics__feed(m, &ev);
}

/* Sample lines (not comments) that start with prefix. */
static int count_samples(const char *t, const char *prefix)
{
	int n = 0;

	for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (*l != '#' && *l != '\n' && !strncmp(l, prefix, strlen(prefix)))
			n++;
	return n;
}

TEST(metrics_by_parse)
{
	unsigned int by;

	ASSERT_EQ(metrics__parse_by("comm", &by), 0);
	ASSERT_EQ(by, 1u << METRICS_BY_COMM);
	ASSERT_EQ(metrics__parse_by("service,unit,pod,container,comm", &by), 0);
	ASSERT_EQ(by, (1u << METRICS_BY__MAX) - 1);
	ASSERT_EQ(metrics__parse_by("comm,comm", &by), 0);
	ASSERT_EQ(by, 1u << METRICS_BY_COMM);
	static const char *const bad[] = { "", ",", "comm,", ",comm", "Comm", "pid", "comm,,unit",
					   "commx", "com" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(metrics__parse_by(bad[i], &by) == -EINVAL, "'%s' parsed", bad[i]);
}

TEST(metrics_by_labels)
{
	struct metrics *m = new_metrics_by(1u << METRICS_BY_COMM | 1u << METRICS_BY_SERVICE, 10);
	struct services *svc = calloc(1, sizeof(*svc));
	char *t;

	ASSERT_NOT_NULL(svc);
	ut_defer(free, svc);
	svc->names[443] = "https";
	metrics__set_services(m, svc);
	feed_attempt(m, "curl", 443, OUTCOME_ESTABLISHED);
	feed_attempt(m, "curl", 443, OUTCOME_REFUSED);
	feed_attempt(m, "curl", 8080, OUTCOME_REFUSED);	/* unnamed: the port */
	feed_attempt(m, NULL, 443, OUTCOME_TIMEOUT);	/* unknown owner: "" */
	feed_attempt(m, "a\"b\\c", 443, OUTCOME_REFUSED);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"established\",comm=\"curl\",service=\"https\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"curl\",service=\"https\"} 1");
	/* every outcome of a set in use, 0 until seen */
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"timeout\",comm=\"curl\",service=\"https\"} 0");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"curl\",service=\"8080\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"timeout\",comm=\"\",service=\"https\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"a\\\"b\\\\c\",service=\"https\"} 1");
	ASSERT_HASNT(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\"} ");
	ASSERT_HASNT(t, "\"other\"");
	ASSERT_HAS(t, "socktrace_metrics_folded_total{family=\"socktrace_tcp_connect_attempts\"} 0");
	/* no -n table: port numbers only */
	metrics__set_services(m, NULL);
	feed_attempt(m, "curl", 443, OUTCOME_REFUSED);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"curl\",service=\"443\"} 1");
}

TEST(metrics_by_cap_folds_into_other)
{
	struct metrics *m = new_metrics_by(1u << METRICS_BY_COMM, 2);
	char *t;

	feed_attempt(m, "first", 80, OUTCOME_REFUSED);
	feed_attempt(m, "second", 80, OUTCOME_REFUSED);
	feed_attempt(m, "third", 80, OUTCOME_REFUSED);
	feed_attempt(m, "fourth", 80, OUTCOME_ESTABLISHED);
	feed_attempt(m, "first", 80, OUTCOME_REFUSED);	/* kept: still its own */
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"first\"} 2");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"second\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"other\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"established\",comm=\"other\"} 1");
	ASSERT_HASNT(t, "comm=\"third\"");
	ASSERT_HAS(t, "socktrace_metrics_folded_total{family=\"socktrace_tcp_connect_attempts\"} 2");
	ASSERT_HAS(t, "socktrace_metrics_folded_total{family=\"socktrace_udp_datagrams\"} 0");
	ASSERT_EQ(count_samples(t, "socktrace_tcp_connect_attempts_total{"), 3 * (OUTCOME__MAX - 1));
	/* a process really named other is counted with them: one series */
	feed_attempt(m, "other", 80, OUTCOME_REFUSED);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_connect_attempts_total{outcome=\"refused\",comm=\"other\"} 2");
	ASSERT_EQ(count_samples(t, "socktrace_tcp_connect_attempts_total{"), 3 * (OUTCOME__MAX - 1));
	/* other families have rows of their own */
	{
		struct event ev = { .kind = EVENT_SYN_RETRANS, .pid = 1, .comm = "third" };

		metrics__feed(m, &ev);
	}
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_syn_retransmits_total{comm=\"third\"} 1");
	ASSERT_HAS(t, "socktrace_metrics_folded_total{family=\"socktrace_tcp_syn_retransmits\"} 0");
}

TEST(metrics_by_gauge_keeps_a_sockets_labels)
{
	struct metrics *m = new_metrics_by(1u << METRICS_BY_COMM, 1);
	struct event ev = { .kind = EVENT_TCP_STATE, .proto = IPPROTO_TCP, .sock = 0x10,
			    .pid = 7, .comm = "nginx", .old_state = ST_TCP_CLOSE,
			    .new_state = ST_TCP_LISTEN, .role = ST_ROLE_LISTENER, .lport = 80 };
	char *t;

	metrics__feed(m, &ev);
	/* another socket: no room left */
	ev.sock = 0x20;
	ev.new_state = ST_TCP_SYN_SENT;
	strcpy(ev.comm, "curl");
	metrics__feed(m, &ev);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"LISTEN\",comm=\"nginx\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"SYN_SENT\",comm=\"other\"} 1");
	ASSERT_HASNT(t, "socktrace_tcp_sockets{state=\"ESTABLISHED\"");
	ASSERT_HAS(t, "socktrace_tcp_state_entries_total{new_state=\"LISTEN\",comm=\"nginx\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_state_entries_total{new_state=\"SYN_SENT\",comm=\"other\"} 1");
	ASSERT_HAS(t, "socktrace_metrics_folded_total{family=\"socktrace_tcp_sockets\"} 1");
	/* the listener closes, its owner unknown by then: its own row goes down */
	ev.sock = 0x10;
	ev.pid = 0;
	ev.old_state = ST_TCP_LISTEN;
	ev.new_state = ST_TCP_CLOSE;
	metrics__feed(m, &ev);
	t = render(m, false);
	/* exported once, a series stays, at 0 */
	ASSERT_HAS(t, "socktrace_tcp_sockets{state=\"LISTEN\",comm=\"nginx\"} 0");
	ASSERT_HAS(t, "socktrace_tcp_state_entries_total{new_state=\"CLOSE\",comm=\"other\"} 1");
	ASSERT_HAS(t, "socktrace_tcp_transitions_total{old_state=\"LISTEN\",new_state=\"CLOSE\"} 1");
}

TEST(metrics_by_udp_and_cgroup_keys)
{
	struct metrics *m = new_metrics_by((1u << METRICS_BY__MAX) - 1, 4);
	struct cgroup_info *ci = cgroup_info__new("/kubepods.slice/kubepods-besteffort.slice/"
						  "kubepods-besteffort-pod1b4e28ba_2fa1_11d2_883f_0016d3cca427.slice/"
						  "cri-containerd-0123456789abcdef0123.scope");
	struct event ev = { .kind = EVENT_UDP_FLOW, .proto = IPPROTO_UDP, .sock = 0x30, .pid = 9,
			    .comm = "dig", .lport = 40000, .rport = 5353,
			    .flow_event = UDP_FLOW_START, .tx_packets = 1, .tx_bytes = 40 };
	char *t;

	ASSERT_NOT_NULL(ci);
	ut_defer((void (*)(void *))cgroup_info__free, ci);
	ev.cg = ci;
	metrics__feed(m, &ev);
	ev.flow_event = UDP_FLOW_END;
	ev.tx_packets = 3;
	ev.tx_bytes = 120;
	metrics__feed(m, &ev);
	t = render(m, false);
	/* no unit: "" as for any value not known */
	ASSERT_HAS(t, "socktrace_udp_datagrams_total{direction=\"tx\",unit=\"\",container=\"containerd:0123456789ab\",pod=\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\",comm=\"dig\",service=\"5353\"} 3");
	ASSERT_HAS(t, "socktrace_udp_bytes_total{direction=\"rx\",unit=\"\",container=\"containerd:0123456789ab\",pod=\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\",comm=\"dig\",service=\"5353\"} 0");
	/* named pods and containers by their names */
	ASSERT_EQ(cgroup_info__set(ci, CGF_POD_NS, "web", 3), 0);
	ASSERT_EQ(cgroup_info__set(ci, CGF_POD_NAME, "front-1", 7), 0);
	ASSERT_EQ(cgroup_info__set(ci, CGF_CONTAINER_NAME, "nginx", 5), 0);
	ASSERT_EQ(cgroup_info__set(ci, CGF_UNIT, "cri-containerd-0123456789abcdef0123.scope", 41), 0);
	ev.sock = 0x31;
	ev.flow_event = UDP_FLOW_START;
	metrics__feed(m, &ev);
	t = render(m, false);
	ASSERT_HAS(t, "socktrace_udp_datagrams_total{direction=\"tx\",unit=\"cri-containerd-0123456789abcdef0123.scope\",container=\"nginx\",pod=\"web/front-1\",comm=\"dig\",service=\"5353\"} 3");
}

TEST(metrics_by_label_value)
{
	char out[METRICS_LABEL_MAX + 1], in[400];

	ASSERT_EQ(metrics__label_value("caf\xc3\xa9", 5, out), 5);
	ASSERT_STREQ(out, "caf\xc3\xa9");
	/* a comm cut in a character, a stray byte, an overlong form */
	ASSERT_EQ(metrics__label_value("ab\xe2\x82", 4, out), 4);
	ASSERT_STREQ(out, "ab??");
	ASSERT_EQ(metrics__label_value("\xff" "x\xc0\xaf", 4, out), 4);
	ASSERT_STREQ(out, "?x??");
	memset(in, 'a', sizeof(in));
	in[sizeof(in) - 1] = '\0';
	ASSERT_EQ(metrics__label_value(in, strlen(in), out), METRICS_LABEL_MAX);
	/* cut before a character that would not fit whole */
	memset(in, 'a', METRICS_LABEL_MAX - 1);
	memcpy(in + METRICS_LABEL_MAX - 1, "\xc3\xa9", 3);
	ASSERT_EQ(metrics__label_value(in, strlen(in), out), METRICS_LABEL_MAX - 1);
}

/* docs/metrics.md: at most 35 x (cap + 1) + 253 series, whatever happens;
 * here every bounded thing at its most. */
TEST(metrics_by_worst_case_series)
{
	const unsigned int cap = 3;
	struct metrics *m = new_metrics_by((1u << METRICS_BY__MAX) - 1, cap);
	char comm[16], *t;
	int series = 0;

	for (int i = 0; i < 16; i++) {
		char c[16];

		snprintf(c, sizeof(c), "c%d", i);
		ASSERT_EQ(metrics__set_hook(m, c, "v"), 0);
	}
	for (int o = 0; o < 16; o++)
		for (int n = 0; n < 16; n++)
			feed_state(m, 0x1000 + o * 16 + n, o, n);
	for (unsigned int i = 0; i < cap + 5; i++) {
		snprintf(comm, sizeof(comm), "p%u", i);
		for (int s = 1; s < 16; s++) {
			struct event ev = { .kind = EVENT_TCP_STATE, .sock = 0x100000 + i * 16 + s,
					    .pid = 1, .old_state = ST_TCP_CLOSE, .new_state = s };

			strcpy(ev.comm, comm);
			metrics__feed(m, &ev);
		}
		for (int o = 0; o < OUTCOME__MAX; o++)
			feed_attempt(m, comm, 80, o);
		{
			struct event ev = { .kind = EVENT_SYN_RETRANS, .pid = 1, .rport = 80 };
			struct event u = { .kind = EVENT_UDP_FLOW, .proto = IPPROTO_UDP,
					   .sock = 0x900000 + i, .pid = 1, .rport = 53,
					   .flow_event = UDP_FLOW_START, .tx_packets = 1,
					   .rx_packets = 1, .tx_bytes = 1, .rx_bytes = 1 };

			strcpy(ev.comm, comm);
			strcpy(u.comm, comm);
			metrics__feed(m, &ev);
			metrics__feed(m, &u);
		}
	}
	t = render(m, false);
	for (const char *l = t; *l; l = strchr(l, '\n') + 1)
		series += *l != '#';
	ASSERT_MSG(series == 35 * (cap + 1) + 253, "%d series, not %u", series, 35 * (cap + 1) + 253);
	ASSERT_EQ(count_samples(t, "socktrace_tcp_transitions_total{"), 13 * 13);
	ASSERT_HAS(t, "socktrace_metrics_folded_total{family=\"socktrace_tcp_connect_attempts\"} 25");
}

TEST(metrics_by_options)
{
	char *ok[] = { "socktrace", "--metrics", ":9464", "--metrics-by", "comm,service",
		       "--metrics-cap", "1000", NULL };
	char *unknown[] = { "socktrace", "--metrics", ":9464", "--metrics-by", "comm,pid", NULL };
	char *alone[] = { "socktrace", "--metrics-by", "comm", NULL };
	char *cap_alone[] = { "socktrace", "--metrics", ":9464", "--metrics-cap", "5", NULL };
	char *big[] = { "socktrace", "--metrics", ":9464", "--metrics-by", "unit",
			"--metrics-cap", "1001", NULL };
	char *zero[] = { "socktrace", "--metrics", ":9464", "--metrics-by", "unit",
			 "--metrics-cap", "0", NULL };
	struct opts o;
	char err[512];

	opts__init(&o);
	ASSERT_EQ(o.metrics_cap, METRICS_DEFAULT_CAP);
	ASSERT_EQ(opts__parse(&o, 7, ok, err, sizeof(err)), 0);
	ASSERT_EQ(o.metrics_by, 1u << METRICS_BY_COMM | 1u << METRICS_BY_SERVICE);
	ASSERT_EQ(o.metrics_cap, 1000);
	opts__free(&o);

	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 5, unknown, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "invalid metrics breakdown 'comm,pid': expected keys among unit, container, pod, comm, service, separated by commas");
	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 3, alone, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "--metrics-by needs --metrics");
	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 5, cap_alone, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "--metrics-cap needs --metrics-by");
	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 7, big, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "invalid metrics cap '1001': expected 1 to 1000");
	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 7, zero, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "invalid metrics cap '0': expected 1 to 1000");
}
