// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* metrics.c: what the events count, the exposition in both formats, label
 * escaping, --metrics addresses. No server is started. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
