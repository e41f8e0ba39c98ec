// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sink.c, sink_json.c, sink_text.c: which port names the service, and the
 * exact lines both renderers write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "sink.h"
#include "util.h"

/* ---- sink__service ---- */

static struct event ports_event(int role, uint16_t lport, uint16_t rport)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_STATE;
	ev.family = AF_INET;
	ev.role = role;
	ev.lport = lport;
	ev.rport = rport;
	return ev;
}

#define ASSERT_SERVICE(svc, role, lport, rport, want_side, want_name) do {	\
		struct event ut_ev = ports_event(role, lport, rport);		\
		const char *ut_name = "unset";					\
		enum service_side ut_side = sink__service(svc, &ut_ev, &ut_name);	\
		ASSERT_MSG(ut_side == (want_side),				\
			   "role %d, ports %d -> %d: side %d, expected %d",	\
			   role, lport, rport, ut_side, want_side);		\
		ASSERT_STREQ(ut_name, want_name);				\
	} while (0)

TEST(sink_service_by_role)
{
	struct services *s = svc_new(22, "ssh", 80, "http", 443, "https", 8080, "http-alt",
				     50000, "ephemeral", 0);

	/* a client: the remote port only, even if its own port is registered */
	ASSERT_SERVICE(s, ST_ROLE_CLIENT, 50000, 22, SERVICE_REMOTE, "ssh");
	ASSERT_SERVICE(s, ST_ROLE_CLIENT, 50000, 40000, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_CLIENT, 22, 40000, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_CLIENT, 0, 443, SERVICE_REMOTE, "https");
	/* a server or listener: the local port only */
	ASSERT_SERVICE(s, ST_ROLE_SERVER, 22, 80, SERVICE_LOCAL, "ssh");
	ASSERT_SERVICE(s, ST_ROLE_SERVER, 40000, 80, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_LISTENER, 8080, 0, SERVICE_LOCAL, "http-alt");
	ASSERT_SERVICE(s, ST_ROLE_LISTENER, 40000, 0, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_LISTENER, 8080, 80, SERVICE_LOCAL, "http-alt");
	ASSERT_SERVICE(s, ST_ROLE_SERVER, 8080, 80, SERVICE_LOCAL, "http-alt");
	/* unknown role: the lower registered port */
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 443, 22, SERVICE_REMOTE, "ssh");
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 22, 443, SERVICE_LOCAL, "ssh");
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 80, 50000, SERVICE_LOCAL, "http");
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 50000, 80, SERVICE_REMOTE, "http");
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 40000, 8080, SERVICE_REMOTE, "http-alt");
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 8080, 40000, SERVICE_LOCAL, "http-alt");
	/* neither registered */
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 40000, 40001, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 0, 0, SERVICE_NONE, NULL);
}

TEST(sink_service_edge_cases)
{
	struct services *s = svc_new(22, "ssh", 0);
	struct event ev = ports_event(ST_ROLE_UNKNOWN, 22, 22);
	const char *name = "unset";

	/* no table at all */
	ASSERT_SERVICE(NULL, ST_ROLE_CLIENT, 40000, 22, SERVICE_NONE, NULL);
	ASSERT_SERVICE(NULL, ST_ROLE_UNKNOWN, 22, 80, SERVICE_NONE, NULL);
	/* a role value past the enum is treated as unknown */
	ASSERT_SERVICE(s, 7, 40000, 22, SERVICE_REMOTE, "ssh");
	/* the same port on both sides: named once */
	ASSERT(sink__service(s, &ev, &name) != SERVICE_NONE);
	ASSERT_STREQ(name, "ssh");
	/* port 0 is never looked up, even if a table had a name for it */
	s->names[0] = strdup("zero");
	ASSERT_SERVICE(s, ST_ROLE_CLIENT, 40000, 0, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_LISTENER, 0, 0, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 0, 0, SERVICE_NONE, NULL);
}

/* UDP: named from the udp entries, by the ports alone (a role is ignored). */
TEST(sink_service_udp)
{
	struct services *s = svc_new(22, "ssh", 80, "http", 0);
	static const struct {
		int role;
		uint16_t lport, rport;
		enum service_side side;
		const char *name;
	} cases[] = {
		{ ST_ROLE_UNKNOWN, 40000, 53, SERVICE_REMOTE, "domain" },	/* a resolver's query */
		{ ST_ROLE_UNKNOWN, 53, 40000, SERVICE_LOCAL, "domain" },	/* the server's side */
		{ ST_ROLE_UNKNOWN, 53, 0, SERVICE_LOCAL, "domain" },	/* peer unknown */
		{ ST_ROLE_UNKNOWN, 123, 123, SERVICE_REMOTE, "ntp" },
		{ ST_ROLE_UNKNOWN, 123, 53, SERVICE_REMOTE, "domain" },	/* the lower one */
		{ ST_ROLE_UNKNOWN, 53, 123, SERVICE_LOCAL, "domain" },
		{ ST_ROLE_UNKNOWN, 40000, 22, SERVICE_NONE, NULL },	/* 22 is tcp only */
		{ ST_ROLE_UNKNOWN, 80, 40000, SERVICE_NONE, NULL },
		{ ST_ROLE_UNKNOWN, 40000, 40001, SERVICE_NONE, NULL },
		{ ST_ROLE_CLIENT, 53, 40000, SERVICE_LOCAL, "domain" },
		{ ST_ROLE_LISTENER, 40000, 53, SERVICE_REMOTE, "domain" },
	};

	svc_set_udp(s, 53, "domain");
	svc_set_udp(s, 123, "ntp");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev = ports_event(cases[i].role, cases[i].lport, cases[i].rport);
		const char *name = "unset";

		ev.kind = EVENT_UDP_FLOW;
		ev.proto = IPPROTO_UDP;
		ASSERT_MSG(sink__service(s, &ev, &name) == cases[i].side,
			   "case %zu: ports %u -> %u: side %d", i, cases[i].lport, cases[i].rport,
			   sink__service(s, &ev, &name));
		ASSERT_STREQ(name, cases[i].name);
	}
	/* and a TCP event is not named from the udp entries */
	ASSERT_SERVICE(s, ST_ROLE_CLIENT, 40000, 53, SERVICE_NONE, NULL);
	ASSERT_SERVICE(s, ST_ROLE_UNKNOWN, 123, 40000, SERVICE_NONE, NULL);
}

/* ---- events the renderers are fed ---- */

static struct event live_event(void)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	if (event__decode(&ev, &e, sizeof(e), &test_ref))
		FAIL("event__decode failed on the default record");
	return ev;
}

/* A transition nobody owns: IPv4-mapped addresses, no role, no old time. */
static struct event orphan_event(void)
{
	struct st_tcp_event e;
	struct event ev;

	raw_init(&e);
	raw_set_addrs(&e, "::ffff:10.1.2.3", "::ffff:10.9.8.7");
	e.ts_ns = test_ref.boot_ns + 1123456789;
	e.skaddr = 0xffff88810530a000ull;
	e.ino = 0;
	e.old_ns = ST_OLD_NS_UNKNOWN;
	e.pid = 0;
	e.tid = 0;
	e.sport = 8080;
	e.dport = 51000;
	e.oldstate = ST_TCP_ESTABLISHED;
	e.newstate = ST_TCP_FIN_WAIT1;
	e.owner_src = ST_OWNER_UNKNOWN;
	e.role = ST_ROLE_UNKNOWN;
	if (event__decode(&ev, &e, sizeof(e), &test_ref))
		FAIL("event__decode failed");
	return ev;
}

/* A socket of the startup snapshot, as snapshot.c builds it. */
static struct event snapshot_event(void)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_SOCKET;
	ev.boot_ns = 2000000000;
	ev.wall_ns = clock_ref__wall(&test_ref, ev.boot_ns);
	ev.ino = 12345;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.netns = 4026531840u;
	ev.family = AF_INET6;
	ev.proto = IPPROTO_TCP;
	ev.laddr = addr_of("::");
	ev.raddr = addr_of("::");
	ev.lport = 22;
	ev.rport = 0;
	ev.new_state = ST_TCP_LISTEN;
	ev.role = ST_ROLE_LISTENER;
	ev.pid = 1;
	ev.tid = 1;
	ev.owner_src = ST_OWNER_SNAPSHOT;
	strcpy(ev.comm, "sshd");
	return ev;
}

static void sink_free(void *s)
{
	sink__free(s);
}

static struct sink *json_sink(FILE *f, const struct services *svc)
{
	struct sink *s = sink_json__new(f, svc);

	ASSERT_NOT_NULL(s);
	ut_defer(sink_free, s);
	return s;
}

static struct sink *text_sink(FILE *f, const struct services *svc)
{
	struct sink *s = sink_text__new(f, svc);

	ASSERT_NOT_NULL(s);
	ut_defer(sink_free, s);
	return s;
}

static const char *const state_keys[] = {
	"type", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr", "rport",
	"rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner", "role",
	"old", "new", "old_ms", "gap", NULL,
};
static const char *const socket_keys[] = {
	"type", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr", "rport",
	"rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner", "role",
	"state", NULL,
};

static const char *const connect_keys[] = {
	"type", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr", "rport",
	"rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner", "role",
	"outcome", "elapsed_ms", "syn_retrans", "error", "errno", NULL,
};
static const char *const alert_keys[] = {
	"type", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr", "rport",
	"rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner", "role",
	"elapsed_ms", "syn_retrans", "diagnosis", NULL,
};

static void check_keys(const struct jc_result *r, const char *const *keys)
{
	int n = 0;

	for (; keys[n]; n++) {
		ASSERT_MSG(n < r->n_keys, "key %d missing: expected \"%s\"", n, keys[n]);
		ASSERT_MSG(!strcmp(r->keys[n], keys[n]), "key %d is \"%s\", expected \"%s\"",
			   n, r->keys[n], keys[n]);
	}
	ASSERT_EQ(r->n_keys, n);
}

/* Renders one event into a fresh memory file; returns the text. */
static const char *render(struct sink *(*mk)(FILE *, const struct services *),
			  const struct services *svc, const struct event *ev, size_t *len)
{
	struct memfile *m = memfile_new();
	struct sink *s = mk(m->f, svc);

	ASSERT_EQ(sink__event(s, ev), 0);
	ASSERT_EQ(sink__flush(s), 0);
	return memfile_str(m, len);
}

/* ---- JSON sink ---- */

TEST(sink_json_state_event)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = live_event();
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out,
		"{\"type\":\"tcp_state\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"boot_ns\":1123456789,"
		"\"proto\":\"tcp\",\"family\":4,\"laddr\":\"127.0.0.1\",\"lport\":43054,"
		"\"raddr\":\"10.0.0.2\",\"rport\":22,\"rname\":null,\"rname_canonical\":null,\"service\":\"ssh\",\"netns\":4026531833,"
		"\"sock\":\"0xffff888105308000\",\"ino\":7420,\"pid\":2923,\"tid\":2924,"
		"\"comm\":\"python3\",\"owner\":\"connect\",\"role\":\"client\","
		"\"old\":\"SYN_SENT\",\"new\":\"ESTABLISHED\",\"old_ms\":0.174,\"gap\":false}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, state_keys);
}

/* A transition after a gap is marked in both renderers, with the state the
 * socket was last seen in. */
TEST(sink_gap_marked)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = live_event();
	struct jc_result r;
	const char *out;
	size_t len;

	ev.old_state = ST_TCP_FIN_WAIT1;
	ev.new_state = ST_TCP_FIN_WAIT2;
	ev.prev_state = ST_TCP_ESTABLISHED;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_NOT_NULL(strstr(out, "\"old\":\"FIN_WAIT1\",\"new\":\"FIN_WAIT2\",\"old_ms\":0.174,"
				    "\"gap\":true}\n"));
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, state_keys);
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, "FIN_WAIT1   -> FIN_WAIT2   0.174 (gap: last seen in ESTABLISHED)\n"));
	/* the state it was last seen in is the old one: no gap */
	ev.prev_state = ST_TCP_FIN_WAIT1;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NULL(strstr(out, "gap"));
}

TEST(sink_json_unknown_owner_and_old_time)
{
	struct services *svc = svc_new(22, "ssh", 8080, "http-alt", 0);
	struct event ev = orphan_event();
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out,
		"{\"type\":\"tcp_state\",\"time\":\"2023-11-14T22:13:21.123456789Z\",\"boot_ns\":2123456789,"
		"\"proto\":\"tcp\",\"family\":6,\"laddr\":\"10.1.2.3\",\"lport\":8080,"
		"\"raddr\":\"10.9.8.7\",\"rport\":51000,\"rname\":null,\"rname_canonical\":null,\"service\":\"http-alt\",\"netns\":4026531833,"
		"\"sock\":\"0xffff88810530a000\",\"ino\":0,\"pid\":null,\"tid\":null,"
		"\"comm\":null,\"owner\":\"unknown\",\"role\":null,"
		"\"old\":\"ESTABLISHED\",\"new\":\"FIN_WAIT1\",\"old_ms\":null,\"gap\":false}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, state_keys);
}

TEST(sink_json_snapshot_event)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = snapshot_event();
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out,
		"{\"type\":\"tcp_socket\",\"time\":\"2023-11-14T22:13:21.000000000Z\",\"boot_ns\":2000000000,"
		"\"proto\":\"tcp\",\"family\":6,\"laddr\":\"::\",\"lport\":22,"
		"\"raddr\":\"::\",\"rport\":0,\"rname\":null,\"rname_canonical\":null,\"service\":\"ssh\",\"netns\":4026531840,"
		"\"sock\":null,\"ino\":12345,\"pid\":1,\"tid\":1,"
		"\"comm\":\"sshd\",\"owner\":\"proc\",\"role\":\"listener\",\"state\":\"LISTEN\"}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, socket_keys);

	/* without an owner */
	ev.pid = ev.tid = 0;
	ev.comm[0] = '\0';
	ev.owner_src = ST_OWNER_UNKNOWN;
	ev.new_state = ST_TCP_TIME_WAIT;
	ev.role = ST_ROLE_SERVER;
	ev.rport = 50532;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, socket_keys);
	ASSERT(strstr(out, ",\"pid\":null,\"tid\":null,\"comm\":null,\"owner\":\"unknown\","
			   "\"role\":\"server\",\"state\":\"TIME_WAIT\"}\n"));
}

TEST(sink_json_old_ms)
{
	static const struct { uint64_t ns; const char *ms; } cases[] = {
		/* rounded to the microsecond, as the text output does */
		{ 0, "0.000" }, { 499, "0.000" }, { 500, "0.001" }, { 1499, "0.001" },
		{ 174321, "0.174" }, { 1234567890, "1234.568" }, { 60000000000ull, "60000.000" },
	};
	struct event ev = live_event();
	struct jc_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len, vlen;
		const char *out, *v;

		ev.old_ns = cases[i].ns;
		out = render(json_sink, NULL, &ev, &len);
		ASSERT_JSON_LINE(out, len, &r);
		v = json_field(&r, out, "old_ms", &vlen);
		ASSERT_NOT_NULL(v);
		ASSERT_MEMEQ(v, vlen, cases[i].ms, strlen(cases[i].ms));
	}
}

TEST(sink_json_comm_escaping)
{
	struct event ev = live_event();
	struct jc_result r;
	size_t len, vlen;
	const char *out, *v;
	char decoded[64];

	strcpy(ev.comm, "a\"b\\\n\x01\xff\xc3\xa9{}:,");
	out = render(json_sink, NULL, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, state_keys);
	v = json_field(&r, out, "comm", &vlen);
	ASSERT_NOT_NULL(v);
	{
		static const char want[] = "\"a\\\"b\\\\\\n\\u0001\\u00ff\xc3\xa9{}:,\"";

		ASSERT_MEMEQ(v, vlen, want, sizeof(want) - 1);
	}
	ASSERT_EQ(json_unescape(v, vlen, decoded, sizeof(decoded)), strlen(ev.comm));
	ASSERT_MEMEQ(decoded, strlen(ev.comm), ev.comm, strlen(ev.comm));
}

TEST(sink_json_summary)
{
	struct memfile *m = memfile_new();
	struct sink *s = json_sink(m->f, NULL);
	struct stats st = {
		.events = 26, .snapshot = 2, .lost = 0, .filtered = 0, .elapsed_ns = 3001234567ull,
	};
	struct jc_result r;
	size_t len;
	const char *out;

	ASSERT_EQ(sink__summary(s, &st), 0);
	out = memfile_str(m, &len);
	ASSERT_STREQ(out, "{\"type\":\"summary\",\"events\":26,\"snapshot\":2,\"lost\":0,"
			  "\"filtered\":0,\"elapsed_s\":3.001,\"udp_flows\":0,\"udp_uncounted\":0,"
			  "\"udp_uncounted_bytes\":0,\"gaps\":0,\"missed\":0,\"dns_answers\":0,\"dns_unparsed\":0,\"dns_evictions\":0,\"dns_lost\":0,\"dns_truncated\":0,\"dns_queries\":0,\"dns_queries_unparsed\":0,\"dns_unmatched\":0}\n");
	ASSERT_JSON_LINE(out, len, &r);

	st = (struct stats){
		.events = UINT64_MAX, .snapshot = UINT64_MAX - 1, .lost = 7,
		.filtered = 123456789, .elapsed_ns = 999999, .udp_flows = 12,
		.udp_uncounted = 345, .udp_uncounted_bytes = UINT64_MAX, .gaps = 3,
		.missed = 4, .dns_queries = 5, .dns_queries_unparsed = 6, .dns_unmatched = 8,
	};
	fseek(m->f, 0, SEEK_SET);
	ASSERT_EQ(sink__summary(s, &st), 0);
	out = memfile_str(m, &len);
	ASSERT_STREQ(out, "{\"type\":\"summary\",\"events\":18446744073709551615,"
			  "\"snapshot\":18446744073709551614,\"lost\":7,\"filtered\":123456789,"
			  "\"elapsed_s\":0.000,\"udp_flows\":12,\"udp_uncounted\":345,"
			  "\"udp_uncounted_bytes\":18446744073709551615,\"gaps\":3,"
			  "\"missed\":4,\"dns_answers\":0,\"dns_unparsed\":0,\"dns_evictions\":0,"
			  "\"dns_lost\":0,\"dns_truncated\":0,\"dns_queries\":5,\"dns_queries_unparsed\":6,\"dns_unmatched\":8}\n");
	ASSERT_JSON_LINE(out, len, &r);
}

TEST(sink_json_several_lines)
{
	struct services *svc = svc_new(22, "ssh", 8080, "http-alt", 0);
	struct memfile *m = memfile_new();
	struct sink *s = json_sink(m->f, svc);
	struct event evs[3] = { snapshot_event(), live_event(), orphan_event() };
	struct stats st = { .events = 3, .snapshot = 1 };
	const char *out, *line;
	size_t len;
	int n = 0;

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(sink__event(s, &evs[i]), 0);
	ASSERT_EQ(sink__summary(s, &st), 0);
	ASSERT_EQ(sink__flush(s), 0);
	out = memfile_str(m, &len);
	/* each record stands alone: nothing carried over from the one before */
	for (line = out; line < out + len; n++) {
		const char *nl = memchr(line, '\n', out + len - line);
		struct jc_result r;

		ASSERT_NOT_NULL(nl);
		ASSERT_JSON_LINE(line, nl - line + 1, &r);
		if (n == 0)
			check_keys(&r, socket_keys);
		else if (n < 3)
			check_keys(&r, state_keys);
		else
			ASSERT_EQ(r.n_keys, 19);	/* the summary */
		line = nl + 1;
	}
	ASSERT_EQ(n, 4);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint8_t rnd8(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 0x2545f4914f6cdd1dull) >> 56;
}

/* Random records, decoded and rendered: every line valid, fields in order,
 * the comm decodes back to the bytes of the record. */
TEST(sink_json_random_records)
{
	struct services *svc = svc_new(22, "ssh", 80, "h\"t\\tp", 443, "https", 0);
	struct memfile *m = memfile_new();
	struct sink *s = json_sink(m->f, svc);

	for (int iter = 0; iter < 3000; iter++) {
		struct st_tcp_event e;
		struct event ev;
		struct jc_result r;
		const char *out, *v;
		size_t len, vlen;
		char decoded[64];

		for (size_t i = 0; i < sizeof(e); i++)
			((uint8_t *)&e)[i] = rnd8();
		e.type = ST_EVENT_TCP_STATE;
		/* the owner's namespace pid and cgroup have keys of their own */
		e.vpid = 0;
		e.cgroup_id = 0;
		e.family = rnd8() % 3 == 0 ? AF_INET : rnd8() % 2 ? AF_INET6 : rnd8();
		if (rnd8() % 2)
			e.old_ns = ST_OLD_NS_UNKNOWN;
		if (rnd8() % 4 == 0)
			e.pid = 0;
		if (rnd8() % 2)
			e.dport = rnd8() % 2 ? 22 : 443;
		if (rnd8() % 3 == 0)
			e.sport = 80;
		ASSERT_EQ(event__decode(&ev, &e, sizeof(e), &test_ref), 0);
		if (iter % 2)
			ev.kind = EVENT_TCP_SOCKET;
		fseek(m->f, 0, SEEK_SET);
		ASSERT_EQ(sink__event(s, &ev), 0);
		out = memfile_str(m, &len);
		ASSERT_JSON_LINE(out, len, &r);
		check_keys(&r, iter % 2 ? socket_keys : state_keys);
		v = json_field(&r, out, "comm", &vlen);
		if (!ev.pid) {
			ASSERT_MEMEQ(v, vlen, "null", 4);
			continue;
		}
		ASSERT_EQ(json_unescape(v, vlen, decoded, sizeof(decoded)), strlen(ev.comm));
		ASSERT_MEMEQ(decoded, strlen(ev.comm), ev.comm, strlen(ev.comm));
	}
}

static FILE *open_full(bool buffered)
{
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		FAIL("cannot open /dev/full");
	defer_fclose(f);
	if (!buffered)
		setvbuf(f, NULL, _IONBF, 0);
	return f;
}

TEST(sink_json_write_error)
{
	struct event ev = live_event();
	struct sink *s;

	/* buffered: the error shows at the flush */
	s = json_sink(open_full(true), NULL);
	ASSERT_EQ(sink__event(s, &ev), 0);
	ASSERT_EQ(sink__flush(s), -ENOSPC);
	/* unbuffered: at the write itself */
	s = json_sink(open_full(false), NULL);
	ASSERT_EQ(sink__event(s, &ev), -ENOSPC);
	ASSERT_EQ(sink__summary(s, &(struct stats){ 0 }), -ENOSPC);
}

/* ---- text sink ---- */

static const char text_header[] =
	"TIME            PID     COMM            LOCAL                          REMOTE"
	"                         OLD            NEW         MS\n";

TEST(sink_text_header_and_line)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = live_event();
	const char *out = render(text_sink, svc, &ev, NULL);

	ASSERT_STREQ(out,
		"TIME            PID     COMM            LOCAL                          REMOTE"
		"                         OLD            NEW         MS\n"
		"22:13:20.123456 2923    python3         127.0.0.1:43054/tcp            "
		"10.0.0.2:22/tcp(ssh)           SYN_SENT    -> ESTABLISHED 0.174\n");
}

/* Where each column starts in the header. */
static const char *const columns[] = { "TIME", "PID", "COMM", "LOCAL", "REMOTE", "OLD", "NEW", "MS" };

TEST(sink_text_columns_align)
{
	struct services *svc = svc_new(22, "ssh", 8080, "http-alt", 0);
	struct event evs[3] = { live_event(), snapshot_event(), orphan_event() };
	const char *out;
	const char *line;
	int off[8];

	for (int c = 0; c < 8; c++) {
		const char *p = strstr(text_header, columns[c]);

		ASSERT_NOT_NULL(p);
		off[c] = p - text_header;
		ASSERT(c == 0 || text_header[off[c] - 1] == ' ');
	}
	for (int i = 0; i < 3; i++) {
		out = render(text_sink, svc, &evs[i], NULL);
		ASSERT(!strncmp(out, text_header, strlen(text_header)));
		line = out + strlen(text_header);
		ASSERT_EQ(strlen(line), off[7] + strcspn(line + off[7], "\n") + 1);
		/* every value starts at its column, after a blank */
		for (int c = 1; c < 8; c++) {
			char q[300];

			ASSERT_MSG(line[off[c] - 1] == ' ' && line[off[c]] != ' ',
				   "event %d: column %s does not start at %d in %s", i, columns[c],
				   off[c], ut_quote(q, sizeof(q), line, strlen(line)));
		}
		/* the arrow sits between OLD and NEW */
		ASSERT(!strncmp(line + off[6] - 4, " -> ", 4));
	}
}

TEST(sink_text_unknown_owner_and_existing)
{
	struct services *svc = svc_new(22, "ssh", 8080, "http-alt", 0);
	struct event ev = orphan_event();
	const char *out = render(text_sink, svc, &ev, NULL);

	ASSERT_STREQ(out + strlen(text_header),
		"22:13:21.123456 -       -               10.1.2.3:8080/tcp(http-alt)    "
		"10.9.8.7:51000/tcp             ESTABLISHED -> FIN_WAIT1   -\n");

	ev = snapshot_event();
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		"22:13:21.000000 1       sshd            [::]:22/tcp(ssh)               "
		"[::]:0/tcp                     (existing)  -> LISTEN      -\n");

	/* a snapshot entry has no time in its old state even if one were set */
	ev.old_ns = 5000000;
	ev.old_state = ST_TCP_SYN_RECV;
	ev.pid = 0;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		"22:13:21.000000 -       -               [::]:22/tcp(ssh)               "
		"[::]:0/tcp                     (existing)  -> LISTEN      -\n");
}

TEST(sink_text_service_side_and_ipv6)
{
	struct services *svc = svc_new(22, "ssh", 80, "http", 0);
	struct event ev = live_event();
	const char *out, *line;

	/* a server on [::1]:22 talking to a client whose port is registered */
	ev.family = AF_INET6;
	ev.laddr = addr_of("::1");
	ev.raddr = addr_of("2001:db8::2");
	ev.lport = 22;
	ev.rport = 80;
	ev.role = ST_ROLE_SERVER;
	out = render(text_sink, svc, &ev, NULL);
	line = out + strlen(text_header);
	ASSERT(!strncmp(line + 40, "[::1]:22/tcp(ssh) ", 18));
	ASSERT(!strncmp(line + 71, "[2001:db8::2]:80/tcp ", 21));
	ASSERT_NULL(strstr(line, "(http)"));

	/* the same ports as a client: the remote side is named */
	ev.role = ST_ROLE_CLIENT;
	out = render(text_sink, svc, &ev, NULL);
	line = out + strlen(text_header);
	ASSERT(!strncmp(line + 40, "[::1]:22/tcp ", 13));
	ASSERT(!strncmp(line + 71, "[2001:db8::2]:80/tcp(http) ", 27));
	ASSERT_NULL(strstr(line, "(ssh)"));

	/* no table: no names at all */
	out = render(text_sink, NULL, &ev, NULL);
	ASSERT_NULL(strchr(out + strlen(text_header), '('));
}

TEST(sink_text_ms)
{
	static const struct { uint64_t ns; const char *ms; } cases[] = {
		{ 0, "0.000\n" }, { 499, "0.000\n" }, { 1499, "0.001\n" }, { 1500, "0.002\n" },
		{ 174321, "0.174\n" }, { 1234567890, "1234.568\n" }, { 999999499, "999.999\n" },
		{ 60000000000ull, "60000.000\n" },
	};
	struct event ev = live_event();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *out, *ms;

		ev.old_ns = cases[i].ns;
		out = render(text_sink, NULL, &ev, NULL);
		ms = out + strlen(text_header) + 129;
		ASSERT_MEMEQ(ms, strlen(ms), cases[i].ms, strlen(cases[i].ms));
	}
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ASSERT_STREQ(render(text_sink, NULL, &ev, NULL) + strlen(text_header) + 129, "-\n");
}

TEST(sink_text_header_once)
{
	struct memfile *m = memfile_new();
	struct sink *s = text_sink(m->f, NULL);
	struct event ev = live_event();
	const char *out;

	for (int i = 0; i < 3; i++)
		ASSERT_EQ(sink__event(s, &ev), 0);
	ASSERT_EQ(sink__summary(s, &(struct stats){ .events = 3 }), 0);
	ASSERT_EQ(sink__flush(s), 0);
	out = memfile_str(m, NULL);
	ASSERT_EQ(memfile_lines(m), 4);
	ASSERT(!strncmp(out, text_header, strlen(text_header)));
	ASSERT_NULL(strstr(out + 1, "TIME"));
}

TEST(sink_text_long_values_stay_in_bounds)
{
	struct services *svc = svc_new(65535,
		"a-service-name-of-sixty-three-characters-which-is-the-most-kept", 0);
	struct event ev = live_event();
	const char *out;

	ev.family = AF_INET6;
	ev.laddr = addr_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	ev.raddr = addr_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ev.lport = 65534;
	ev.rport = 65535;
	ev.pid = 4294967295u;
	memcpy(ev.comm, "ABCDEFGHIJKLMNOP", 17);
	ev.old_state = ST_TCP_BOUND_INACTIVE;
	ev.new_state = ST_TCP_NEW_SYN_RECV;
	ev.old_ns = UINT64_MAX - 1;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_EQ(strlen(out) - strlen(text_header), strcspn(out + strlen(text_header), "\n") + 1);
	ASSERT_NOT_NULL(strstr(out, " 4294967295 ABCDEFGHIJKLMNOP [ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65534/tcp "));
	ASSERT_NOT_NULL(strstr(out, "BOUND_INACTIVE -> NEW_SYN_RECV "));
}

/* A process name is any bytes a process chose (prctl(PR_SET_NAME)): the
 * text sink must keep one event on one line and not pass control bytes
 * (terminal escapes) through. */
TEST(sink_text_comm_control_bytes_stay_on_one_line)
{
	static const char *const comms[] = { "evil\nline", "a\rb", "\x1b[2J\x1b[H", "tab\there", "del\x7f" };
	struct event ev = live_event();

	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		const char *out, *line;
		char q[600];

		strcpy(ev.comm, comms[i]);
		out = render(text_sink, NULL, &ev, NULL);
		line = out + strlen(text_header);
		for (const char *p = line; *p; p++)
			ASSERT_MSG(((unsigned char)*p >= 0x20 && *p != 0x7f) || (*p == '\n' && !p[1]),
				   "comm %s: control byte 0x%02x at %zu in the line %s",
				   ut_quote(q, 40, comms[i], strlen(comms[i])), (unsigned char)*p,
				   (size_t)(p - line), ut_quote(q + 40, sizeof(q) - 40, line, strlen(line)));
	}
}

TEST(sink_text_write_error)
{
	struct event ev = live_event();
	struct sink *s;

	s = text_sink(open_full(true), NULL);
	ASSERT_EQ(sink__event(s, &ev), 0);
	ASSERT_EQ(sink__flush(s), -ENOSPC);
	s = text_sink(open_full(false), NULL);
	ASSERT_EQ(sink__event(s, &ev), -ENOSPC);
}

/* ---- connection attempts and alerts ---- */

static struct event connect_event(void)
{
	struct event ev = live_event();

	ev.kind = EVENT_CONNECT;
	ev.old_state = ST_TCP_SYN_SENT;
	ev.new_state = ST_TCP_CLOSE;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.outcome = OUTCOME_REFUSED;
	ev.err = ECONNREFUSED;
	ev.elapsed_ns = 236000;
	ev.syn_retrans = 0;
	return ev;
}

static struct event alert_event(enum diag_cause cause)
{
	struct event ev = live_event();

	ev.kind = EVENT_SYN_ALERT;
	ev.old_state = ev.new_state = ST_TCP_SYN_SENT;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.elapsed_ns = 1002345000;
	ev.syn_retrans = 1;
	ev.diag.cause = cause;
	ev.diag.pid = 77;
	strcpy(ev.diag.comm, "srv");
	ev.diag.queue = 5;
	ev.diag.backlog = 4;
	return ev;
}

#define COMMON_JSON							\
	"\"time\":\"2023-11-14T22:13:20.123456789Z\",\"boot_ns\":1123456789,"	\
	"\"proto\":\"tcp\",\"family\":4,\"laddr\":\"127.0.0.1\",\"lport\":43054,"	\
	"\"raddr\":\"10.0.0.2\",\"rport\":22,\"rname\":null,\"rname_canonical\":null,\"service\":\"ssh\",\"netns\":4026531833,"	\
	"\"sock\":\"0xffff888105308000\",\"ino\":7420,\"pid\":2923,\"tid\":2924,"	\
	"\"comm\":\"python3\",\"owner\":\"connect\",\"role\":\"client\","

TEST(sink_json_connect)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = connect_event();
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out, "{\"type\":\"connect\"," COMMON_JSON
			  "\"outcome\":\"refused\",\"elapsed_ms\":0.236,\"syn_retrans\":0,"
			  "\"error\":\"ECONNREFUSED\",\"errno\":111}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, connect_keys);

	ev.outcome = OUTCOME_ESTABLISHED;
	ev.err = 0;
	ev.syn_retrans = 2;
	ev.new_state = ST_TCP_ESTABLISHED;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, connect_keys);
	ASSERT_NOT_NULL(strstr(out, ",\"outcome\":\"established\",\"elapsed_ms\":0.236,"
				    "\"syn_retrans\":2,\"error\":null,\"errno\":null}\n"));

	/* started before tracing: no elapsed time */
	ev.outcome = OUTCOME_IN_PROGRESS;
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, ",\"outcome\":\"in_progress\",\"elapsed_ms\":null,"));

	/* an errno without a name keeps its number */
	ev.outcome = OUTCOME_UNREACHABLE;
	ev.err = 200;
	ev.syn_retrans = 0;
	ev.elapsed_ns = 3000000000ull;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, ",\"outcome\":\"unreachable\",\"elapsed_ms\":3000.000,"
				    "\"syn_retrans\":0,\"error\":null,\"errno\":200}\n"));
}

TEST(sink_json_syn_alert)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = alert_event(DIAG_QUEUE_FULL);
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out, "{\"type\":\"syn_alert\"," COMMON_JSON
			  "\"elapsed_ms\":1002.345,\"syn_retrans\":1,\"diagnosis\":{"
			  "\"cause\":\"accept_queue_full\",\"listener_pid\":77,"
			  "\"listener_comm\":\"srv\",\"accept_queue\":5,\"backlog\":4}}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, alert_keys);

	ev = alert_event(DIAG_LISTENING);
	ev.diag.pid = 0;
	ev.diag.comm[0] = '\0';
	ev.diag.queue = 0;
	ev.diag.backlog = 128;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, alert_keys);
	ASSERT_NOT_NULL(strstr(out, ",\"diagnosis\":{\"cause\":\"listening\",\"listener_pid\":null,"
				    "\"listener_comm\":null,\"accept_queue\":0,\"backlog\":128}}\n"));

	ev = alert_event(DIAG_NO_LISTENER);
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, ",\"diagnosis\":{\"cause\":\"no_listener\"}}\n"));

	ev = alert_event(DIAG_NONE);
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, alert_keys);
	ASSERT_NOT_NULL(strstr(out, ",\"elapsed_ms\":1002.345,\"syn_retrans\":1,\"diagnosis\":null}\n"));

	/* a listener's name is escaped like any comm */
	ev = alert_event(DIAG_LISTENING);
	strcpy(ev.diag.comm, "a\"\n\xff");
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, "\"listener_comm\":\"a\\\"\\n\\u00ff\""));
}

#define COMMON_TEXT							\
	"22:13:20.123456 2923    python3         127.0.0.1:43054/tcp            "	\
	"10.0.0.2:22/tcp(ssh)           "

TEST(sink_text_connect)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = connect_event();
	const char *out = render(text_sink, svc, &ev, NULL);

	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "CONNECT     -> refused     0.236 syn_retrans=0 ECONNREFUSED\n");
	ev.outcome = OUTCOME_ESTABLISHED;
	ev.err = 0;
	ev.elapsed_ns = 1500000;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "CONNECT     -> established 1.500 syn_retrans=0\n");
	ev.outcome = OUTCOME_IN_PROGRESS;
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "CONNECT     -> in_progress - syn_retrans=0 (started before tracing)\n");
	ev.outcome = OUTCOME_UNREACHABLE;
	ev.err = 200;
	ev.syn_retrans = 6;
	ev.elapsed_ns = 127000000000ull;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "CONNECT     -> unreachable 127000.000 syn_retrans=6 errno=200\n");
}

TEST(sink_text_syn_alert)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = alert_event(DIAG_QUEUE_FULL);
	const char *out = render(text_sink, svc, &ev, NULL);

	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "SYN_SENT    !! ALERT       1002.345 syn_retrans=1 "
		     "local listener 77/srv: accept queue full (5/4)\n");
	ev = alert_event(DIAG_LISTENING);
	ev.diag.pid = 0;
	ev.diag.queue = 0;
	ev.diag.backlog = 128;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "SYN_SENT    !! ALERT       1002.345 syn_retrans=1 "
		     "local listener owner unknown: accept queue 0/128\n");
	ev = alert_event(DIAG_NO_LISTENER);
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "SYN_SENT    !! ALERT       1002.345 syn_retrans=1 "
		     "local address: nothing listens on this port\n");
	ev = alert_event(DIAG_NONE);
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		     COMMON_TEXT "SYN_SENT    !! ALERT       - syn_retrans=1\n");
}

/* The listener's name in an alert is a process name too. */
TEST(sink_text_alert_listener_comm_stays_on_one_line)
{
	struct event ev = alert_event(DIAG_QUEUE_FULL);
	const char *out, *line;
	char q[600];

	strcpy(ev.diag.comm, "evil\n\x1b[2J");
	out = render(text_sink, NULL, &ev, NULL);
	line = out + strlen(text_header);
	for (const char *p = line; *p; p++)
		ASSERT_MSG(((unsigned char)*p >= 0x20 && *p != 0x7f) || (*p == '\n' && !p[1]),
			   "control byte 0x%02x at %zu in the line %s", (unsigned char)*p,
			   (size_t)(p - line), ut_quote(q, sizeof(q), line, strlen(line)));
}

TEST(sink_text_attempt_long_line_is_cut_cleanly)
{
	struct services *svc = svc_new(65535,
		"a-service-name-of-sixty-three-characters-which-is-the-most-kept", 0);
	struct event ev = alert_event(DIAG_QUEUE_FULL);
	const char *out, *line;

	ev.family = AF_INET6;
	ev.laddr = addr_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	ev.raddr = addr_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ev.lport = 65534;
	ev.rport = 65535;
	ev.pid = 4294967295u;
	ev.diag.pid = 4294967295u;
	ev.diag.queue = ev.diag.backlog = 4294967295u;
	strcpy(ev.diag.comm, "ABCDEFGHIJKLMNOP");
	memcpy(ev.comm, "ABCDEFGHIJKLMNOP", 17);
	ev.elapsed_ns = UINT64_MAX - 1;
	ev.syn_retrans = 4294967295u;
	out = render(text_sink, svc, &ev, NULL);
	line = out + strlen(text_header);
	ASSERT_EQ(strlen(line), strcspn(line, "\n") + 1);
	ASSERT_NOT_NULL(strstr(line, "!! ALERT "));
}

/* ---- UDP ---- */

/* A DNS query's flow: 10.0.0.1:40000 -> 10.0.0.53:53, 3 datagrams out and
 * 2 back, first at boot 2 s (22:13:21Z), event at boot 4.123456789 s. */
static struct event udp_flow_event(enum udp_flow_event fe, enum udp_end_reason why)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_UDP_FLOW;
	ev.flow_event = fe;
	ev.end_reason = why;
	ev.boot_ns = 4123456789ull;
	ev.wall_ns = clock_ref__wall(&test_ref, ev.boot_ns);
	ev.sock = 0xffff888112345600ull;
	ev.ino = 9001;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.netns = 4026531833u;
	ev.pid = 4242;
	ev.tid = 4243;
	ev.family = AF_INET;
	ev.proto = IPPROTO_UDP;
	ev.laddr = addr_of("10.0.0.1");
	ev.raddr = addr_of("10.0.0.53");
	ev.lport = 40000;
	ev.rport = 53;
	ev.owner_src = ST_OWNER_TRAFFIC;
	strcpy(ev.comm, "dig");
	ev.first_ns = 2000000000ull;
	ev.last_ns = 3234567890ull;
	ev.duration_ns = 1234567890ull;
	ev.tx_bytes = 300;
	ev.rx_bytes = 1200;
	ev.tx_packets = 3;
	ev.rx_packets = 2;
	return ev;
}

/* A socket of the UDP snapshot: an mDNS responder bound to [::]:5353. */
static struct event udp_socket_event(int state)
{
	struct event ev = snapshot_event();

	ev.kind = EVENT_UDP_SOCKET;
	ev.proto = IPPROTO_UDP;
	ev.lport = 5353;
	ev.role = ST_ROLE_UNKNOWN;
	ev.new_state = state;
	ev.pid = 612;
	ev.tid = 612;
	strcpy(ev.comm, "avahi-daemon");
	return ev;
}

static struct services *udp_services(void)
{
	struct services *svc = svc_new(22, "ssh", 5353, "not-udp", 0);

	svc_set_udp(svc, 53, "domain");
	svc_set_udp(svc, 5353, "mdns");
	return svc;
}

static const char *const udp_flow_keys[] = {
	"type", "event", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr",
	"rport", "rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner",
	"tx_bytes", "rx_bytes", "tx_packets", "rx_packets", "duration_ms", "first_time",
	"reason", NULL,
};
static const char *const udp_socket_keys[] = {
	"type", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr", "rport",
	"rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner", "state", NULL,
};

TEST(sink_json_udp_flow_end)
{
	struct services *svc = udp_services();
	struct event ev = udp_flow_event(UDP_FLOW_END, UDP_END_IDLE);
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out,
		"{\"type\":\"udp_flow\",\"event\":\"end\",\"time\":\"2023-11-14T22:13:23.123456789Z\","
		"\"boot_ns\":4123456789,\"proto\":\"udp\",\"family\":4,\"laddr\":\"10.0.0.1\","
		"\"lport\":40000,\"raddr\":\"10.0.0.53\",\"rport\":53,\"rname\":null,\"rname_canonical\":null,\"service\":\"domain\","
		"\"netns\":4026531833,\"sock\":\"0xffff888112345600\",\"ino\":9001,\"pid\":4242,"
		"\"tid\":4243,\"comm\":\"dig\",\"owner\":\"traffic\",\"tx_bytes\":300,"
		"\"rx_bytes\":1200,\"tx_packets\":3,\"rx_packets\":2,\"duration_ms\":1234.568,"
		"\"first_time\":\"2023-11-14T22:13:21.000000000Z\",\"reason\":\"idle\"}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, udp_flow_keys);

	ev.end_reason = UDP_END_CLOSE;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, ",\"reason\":\"close\"}\n"));
	/* an end the source could not explain */
	ev.end_reason = UDP_END_NONE;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, ",\"reason\":null}\n"));
}

TEST(sink_json_udp_flow_start_and_update)
{
	struct services *svc = udp_services();
	struct event ev = udp_flow_event(UDP_FLOW_START, UDP_END_NONE);
	struct jc_result r;
	const char *out, *v;
	size_t len, vlen;

	/* the first datagram: the flow starts at the event */
	ev.first_ns = ev.last_ns = ev.boot_ns;
	ev.duration_ns = 0;
	ev.tx_bytes = 40;
	ev.tx_packets = 1;
	ev.rx_bytes = ev.rx_packets = 0;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, udp_flow_keys);
	ASSERT_NOT_NULL(strstr(out, "{\"type\":\"udp_flow\",\"event\":\"start\",\"time\":"));
	ASSERT_NOT_NULL(strstr(out, ",\"owner\":\"traffic\",\"tx_bytes\":40,\"rx_bytes\":0,"
				    "\"tx_packets\":1,\"rx_packets\":0,\"duration_ms\":0.000,"
				    "\"first_time\":\"2023-11-14T22:13:23.123456789Z\",\"reason\":null}\n"));

	/* an update: reason stays null even if a source left one set */
	ev = udp_flow_event(UDP_FLOW_UPDATE, UDP_END_IDLE);
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, udp_flow_keys);
	v = json_field(&r, out, "event", &vlen);
	ASSERT_MEMEQ(v, vlen, "\"update\"", 8);
	v = json_field(&r, out, "reason", &vlen);
	ASSERT_MEMEQ(v, vlen, "null", 4);
	v = json_field(&r, out, "tx_packets", &vlen);
	ASSERT_MEMEQ(v, vlen, "3", 1);
	v = json_field(&r, out, "first_time", &vlen);
	ASSERT_MEMEQ(v, vlen, "\"2023-11-14T22:13:21.000000000Z\"", 32);
	ASSERT_NULL(strstr(out, "\"role\""));
	ASSERT_NULL(strstr(out, "\"old"));
	ASSERT_NULL(strstr(out, "\"new\""));

	/* no first datagram time: null rather than a made-up instant */
	ev.first_ns = 0;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	v = json_field(&r, out, "first_time", &vlen);
	ASSERT_MEMEQ(v, vlen, "null", 4);
}

/* An unconnected socket on the wildcard, peer unknown, owner not known. */
TEST(sink_json_udp_flow_wildcard_and_unknown_peer)
{
	struct services *svc = udp_services();
	struct event ev = udp_flow_event(UDP_FLOW_END, UDP_END_CLOSE);
	struct jc_result r;
	size_t len;
	const char *out;

	ev.family = AF_INET6;
	ev.laddr = addr_of("::");
	ev.raddr = addr_of("::");
	ev.lport = 5353;
	ev.rport = 0;
	ev.pid = ev.tid = 0;
	ev.comm[0] = '\0';
	ev.owner_src = ST_OWNER_UNKNOWN;
	ev.tx_bytes = UINT64_MAX;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, udp_flow_keys);
	ASSERT_NOT_NULL(strstr(out, "\"proto\":\"udp\",\"family\":6,\"laddr\":\"::\",\"lport\":5353,"
				    "\"raddr\":\"::\",\"rport\":0,\"rname\":null,\"rname_canonical\":null,\"service\":\"mdns\","));
	ASSERT_NOT_NULL(strstr(out, "\"pid\":null,\"tid\":null,\"comm\":null,\"owner\":\"unknown\","
				    "\"tx_bytes\":18446744073709551615,"));
}

TEST(sink_json_udp_socket)
{
	struct services *svc = udp_services();
	struct event ev = udp_socket_event(ST_TCP_CLOSE);
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out,
		"{\"type\":\"udp_socket\",\"time\":\"2023-11-14T22:13:21.000000000Z\","
		"\"boot_ns\":2000000000,\"proto\":\"udp\",\"family\":6,\"laddr\":\"::\","
		"\"lport\":5353,\"raddr\":\"::\",\"rport\":0,\"rname\":null,\"rname_canonical\":null,\"service\":\"mdns\","
		"\"netns\":4026531840,\"sock\":null,\"ino\":12345,\"pid\":612,\"tid\":612,"
		"\"comm\":\"avahi-daemon\",\"owner\":\"proc\",\"state\":\"bound\"}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, udp_socket_keys);

	ev = udp_socket_event(ST_TCP_ESTABLISHED);
	ev.raddr = addr_of("2001:db8::53");
	ev.rport = 53;
	ev.lport = 41000;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, udp_socket_keys);
	ASSERT_NOT_NULL(strstr(out, "\"raddr\":\"2001:db8::53\",\"rport\":53,\"rname\":null,\"rname_canonical\":null,\"service\":\"domain\","));
	ASSERT_NOT_NULL(strstr(out, ",\"state\":\"connected\"}\n"));

	ev.new_state = ST_TCP_LISTEN;	/* not a UDP state */
	out = render(json_sink, svc, &ev, &len);
	ASSERT_NOT_NULL(strstr(out, ",\"state\":\"unknown\"}\n"));
}

/* proto follows the event; TCP kinds stay "tcp". */
TEST(sink_json_proto_per_event)
{
	struct event tcp = live_event(), udp = udp_flow_event(UDP_FLOW_START, UDP_END_NONE);
	struct jc_result r;
	const char *out, *v;
	size_t len, vlen;

	out = render(json_sink, NULL, &tcp, &len);
	ASSERT_JSON_LINE(out, len, &r);
	v = json_field(&r, out, "proto", &vlen);
	ASSERT_MEMEQ(v, vlen, "\"tcp\"", 5);
	out = render(json_sink, NULL, &udp, &len);
	ASSERT_JSON_LINE(out, len, &r);
	v = json_field(&r, out, "proto", &vlen);
	ASSERT_MEMEQ(v, vlen, "\"udp\"", 5);
	v = json_field(&r, out, "service", &vlen);
	ASSERT_MEMEQ(v, vlen, "null", 4);
}

/* Random flow values: always valid JSON with the same keys. */
TEST(sink_json_udp_random_flows)
{
	struct services *svc = udp_services();
	struct memfile *m = memfile_new();
	struct sink *s = json_sink(m->f, svc);

	for (int iter = 0; iter < 2000; iter++) {
		struct event ev = udp_flow_event(UDP_FLOW_START, UDP_END_NONE);
		uint64_t *counts[] = { &ev.first_ns, &ev.duration_ns, &ev.tx_bytes, &ev.rx_bytes,
				       &ev.tx_packets, &ev.rx_packets, &ev.boot_ns };
		struct jc_result r;
		const char *out;
		size_t len;

		for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
			for (int b = 0; b < 8; b++)
				*counts[i] = *counts[i] << 8 | rnd8();
		ev.flow_event = rnd8() % 5;
		ev.end_reason = rnd8() % 5;
		for (int i = 0; i < TASK_COMM_LEN; i++)
			ev.comm[i] = rnd8();
		ev.comm[TASK_COMM_LEN] = '\0';
		fseek(m->f, 0, SEEK_SET);
		ASSERT_EQ(sink__event(s, &ev), 0);
		out = memfile_str(m, &len);
		ASSERT_JSON_LINE(out, len, &r);
		check_keys(&r, udp_flow_keys);
	}
}

TEST(sink_text_udp_flow)
{
	struct services *svc = udp_services();
	struct event ev = udp_flow_event(UDP_FLOW_END, UDP_END_IDLE);
	const char *out = render(text_sink, svc, &ev, NULL);

	ASSERT_STREQ(out + strlen(text_header),
		"22:13:23.123456 4242    dig             10.0.0.1:40000/udp             "
		"10.0.0.53:53/udp(domain)       UDP END        tx=3/300B rx=2/1200B 1.235s idle\n");

	ev.end_reason = UDP_END_CLOSE;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header) + 102,
		"UDP END        tx=3/300B rx=2/1200B 1.235s close\n");
	ev.end_reason = UDP_END_NONE;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header) + 102,
		"UDP END        tx=3/300B rx=2/1200B 1.235s\n");

	ev = udp_flow_event(UDP_FLOW_START, UDP_END_IDLE);
	ev.duration_ns = 0;
	ev.tx_packets = 1;
	ev.tx_bytes = 40;
	ev.rx_packets = ev.rx_bytes = 0;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header) + 102,
		"UDP START      tx=1/40B rx=0/0B 0.000ms\n");

	/* under a second in milliseconds, to the microsecond; rounded up to
	 * a second from 999.9995 ms */
	ev.duration_ns = 412499;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, " rx=0/0B 0.412ms\n"));
	ev.duration_ns = 999999499;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, " rx=0/0B 999.999ms\n"));
	ev.duration_ns = 999999500;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, " rx=0/0B 1.000s\n"));

	ev = udp_flow_event(UDP_FLOW_UPDATE, UDP_END_NONE);
	ev.duration_ns = 60000499999ull;
	ev.tx_packets = ev.tx_bytes = ev.rx_packets = ev.rx_bytes = UINT64_MAX;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header) + 102,
		"UDP UPDATE     tx=18446744073709551615/18446744073709551615B "
		"rx=18446744073709551615/18446744073709551615B 60.000s\n");

	ev.flow_event = 0;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT(!strncmp(out + strlen(text_header) + 102, "UDP ?          tx=", 18));
}

TEST(sink_text_udp_wildcard_unknown_peer_and_sockets)
{
	struct services *svc = udp_services();
	struct event ev = udp_flow_event(UDP_FLOW_END, UDP_END_CLOSE);
	const char *out;

	ev.family = AF_INET6;
	ev.laddr = addr_of("::");
	ev.raddr = addr_of("::");
	ev.lport = 5353;
	ev.rport = 0;
	ev.pid = 0;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		"22:13:23.123456 -       -               [::]:5353/udp(mdns)            "
		"*:*/udp                        UDP END        tx=3/300B rx=2/1200B 1.235s close\n");

	/* a peer at port 0 of a real address is shown as it is */
	ev.raddr = addr_of("10.0.0.9");
	ev.family = AF_INET;
	ev.laddr = addr_of("0.0.0.0");
	out = render(text_sink, svc, &ev, NULL);
	ASSERT(!strncmp(out + strlen(text_header) + 40,
			"0.0.0.0:5353/udp(mdns)         10.0.0.9:0/udp ", 46));

	ev = udp_socket_event(ST_TCP_CLOSE);
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		"22:13:21.000000 612     avahi-daemon    [::]:5353/udp(mdns)            "
		"*:*/udp                        (existing)  -> BOUND       -\n");
	ev = udp_socket_event(ST_TCP_ESTABLISHED);
	ev.raddr = addr_of("2001:db8::53");
	ev.lport = 41000;
	ev.rport = 53;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_STREQ(out + strlen(text_header),
		"22:13:21.000000 612     avahi-daemon    [::]:41000/udp                 "
		"[2001:db8::53]:53/udp(domain)  (existing)  -> CONNECTED   -\n");
}

/* The UDP lines keep the columns up to OLD; their counts start at NEW. */
TEST(sink_text_udp_columns_align)
{
	struct services *svc = udp_services();
	struct event evs[3] = {
		udp_flow_event(UDP_FLOW_START, UDP_END_NONE),
		udp_flow_event(UDP_FLOW_UPDATE, UDP_END_NONE),
		udp_socket_event(ST_TCP_CLOSE),
	};
	int off[8];

	for (int c = 0; c < 8; c++)
		off[c] = strstr(text_header, columns[c]) - text_header;
	for (int i = 0; i < 3; i++) {
		const char *out = render(text_sink, svc, &evs[i], NULL);
		const char *line = out + strlen(text_header);

		for (int c = 1; c < 7; c++) {
			char q[300];

			ASSERT_MSG(line[off[c] - 1] == ' ' && line[off[c]] != ' ',
				   "event %d: column %s does not start at %d in %s", i, columns[c],
				   off[c], ut_quote(q, sizeof(q), line, strlen(line)));
		}
		if (evs[i].kind == EVENT_UDP_FLOW)
			ASSERT(!strncmp(line + off[6], "tx=", 3));
	}
}

/* ---- text: bytes a process chose, wide characters, long values ---- */

/* The terminal column at which needle starts in line (display width of what
 * comes before it), -1 if absent. */
static int col_of(const char *line, const char *needle)
{
	const char *at = strstr(line, needle);
	char prefix[1024];

	if (!at || (size_t)(at - line) >= sizeof(prefix))
		return -1;
	memcpy(prefix, line, at - line);
	prefix[at - line] = '\0';
	return format__text_width(prefix);
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			(*p & 0xf8) == 0xf0 ? 4 : 0;

		if (!n || (n == 2 && *p < 0xc2))
			return false;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

/* As the JSON output: valid UTF-8 stays, control characters and bytes that
 * are not UTF-8 become \xNN (grep called the output binary). */
TEST(sink_text_comm_escaped)
{
	static const struct { const char *comm, *text; } cases[] = {
		{ "x\xffy\xc3\xa9", "x\\xffy\xc3\xa9" },
		{ "\x1b[2J", "\\x1b[2J" },
		{ "a\\b", "a\\\\b" },
		{ "\xc2\x9b" "1m", "\\xc2\\x9b1m" },		/* C1 CSI */
		{ "ab\xe2\x80\xae" "cd", "ab\\xe2\\x80\\xaecd" },	/* right-to-left override */
		{ "\xe6\x97\xa5\xe6\x9c", "\xe6\x97\xa5\\xe6\\x9c" },	/* cut in a character */
		{ "\xc0\xaf\xed\xa0\x80", "\\xc0\\xaf\\xed\\xa0\\x80" },	/* overlong, surrogate */
		{ "tab\there\x7f", "tab\\x09here\\x7f" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
	};
	struct event ev = live_event();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *out, *line;
		char want[128], q[400];

		memset(ev.comm, 0, sizeof(ev.comm));
		strcpy(ev.comm, cases[i].comm);
		out = render(text_sink, NULL, &ev, NULL);
		line = out + strlen(text_header);
		snprintf(want, sizeof(want), "2923    %s ", cases[i].text);
		ASSERT_MSG(!strncmp(line + 16, want, strlen(want)), "comm %s: line %s", cases[i].text,
			   ut_quote(q, sizeof(q), line, strlen(line)));
		ASSERT_MSG(valid_utf8(out), "comm %s: output is not UTF-8", cases[i].text);
	}

	/* the owner named in an alert too */
	ev.kind = EVENT_SYN_ALERT;
	ev.diag.cause = DIAG_QUEUE_FULL;
	ev.diag.pid = 7;
	strcpy(ev.diag.comm, "q\xff\x1b");
	ASSERT_NOT_NULL(strstr(render(text_sink, NULL, &ev, NULL), " local listener 7/q\\xff\\x1b: "));
}

/* Columns are counted in terminal cells, not bytes: CJK and emoji take two,
 * a combining accent none. */
TEST(sink_text_wide_comm_keeps_columns)
{
	static const char *const comms[] = {
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",		/* 3 CJK: 6 cells in 9 bytes */
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80x",		/* 2 emoji and x: 5 cells */
		"e\xcc\x81t\xc3\xa9",				/* e + U+0301, t, é: 3 cells */
		"\xef\xbd\x86\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c",	/* fullwidth "full": 8 */
		"\xea\xb0\x80\xe1\x85\xa1",			/* Hangul syllable + medial vowel: 2 */
	};
	struct event ev = live_event();

	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		const char *out, *line;
		char q[400];

		memset(ev.comm, 0, sizeof(ev.comm));
		strcpy(ev.comm, comms[i]);
		out = render(text_sink, NULL, &ev, NULL);
		line = out + strlen(text_header);
		ASSERT_MSG(col_of(line, "127.0.0.1:43054/tcp") == 40 && col_of(line, "10.0.0.2:22") == 71 &&
			   col_of(line, "SYN_SENT") == 102,
			   "comm %zu: LOCAL at %d, REMOTE at %d, OLD at %d (expected 40, 71, 102) in %s", i,
			   col_of(line, "127.0.0.1:43054/tcp"), col_of(line, "10.0.0.2:22"),
			   col_of(line, "SYN_SENT"), ut_quote(q, sizeof(q), line, strlen(line)));
	}
	ASSERT_EQ(format__cp_width('a'), 1);
	ASSERT_EQ(format__cp_width(0x301), 0);
	ASSERT_EQ(format__cp_width(0x200b), 0);
	ASSERT_EQ(format__cp_width(0x4e00), 2);
	ASSERT_EQ(format__cp_width(0x1f600), 2);
	ASSERT_EQ(format__cp_width(0xff21), 2);
	ASSERT_EQ(format__cp_width(0x2a6df), 2);
	ASSERT_EQ(format__cp_width(0xe9), 1);
	ASSERT_EQ(format__cp_width(0x10ffff), 1);
}

/* A value longer than its column widens it for good: the lines that
 * follow keep the columns of the widest value so far, so they stay
 * aligned with each other. */
TEST(sink_text_long_values_widen_columns)
{
	struct services *svc = svc_new(65535, "a-long-service", 0);
	struct memfile *m = memfile_new();
	struct sink *s = text_sink(m->f, svc);
	struct event normal = live_event(), wide = live_event(), after = orphan_event();
	const char *out, *l[4];
	char q[1200];

	wide.family = AF_INET6;
	wide.laddr = addr_of("2001:db8:1234:5678:9abc:def0:1234:5678");
	wide.raddr = addr_of("2001:db8::2");
	wide.lport = 65535;
	wide.role = ST_ROLE_SERVER;
	memset(wide.comm, 0, sizeof(wide.comm));
	memcpy(wide.comm, "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0", 16);
	wide.pid = 4194304;
	ASSERT_EQ(sink__event(s, &normal), 0);
	ASSERT_EQ(sink__event(s, &wide), 0);
	ASSERT_EQ(sink__event(s, &after), 0);
	ASSERT_EQ(sink__event(s, &normal), 0);
	ASSERT_EQ(sink__flush(s), 0);
	out = memfile_str(m, NULL);
	ASSERT(!strncmp(out, text_header, strlen(text_header)));
	l[0] = out + strlen(text_header);
	for (int i = 1; i < 4; i++) {
		l[i] = strchr(l[i - 1], '\n');
		ASSERT_NOT_NULL(l[i]);
		l[i]++;
	}
	ut_quote(q, sizeof(q), l[0], strlen(l[0]));
	/* the first line has the header's columns */
	ASSERT_MSG(col_of(l[0], "10.0.0.2:22") == 71, "%s", q);
	ASSERT_NOT_NULL(strstr(l[1], " [2001:db8:1234:5678:9abc:def0:1234:5678]:65535/tcp(a-long-service) "));
	ASSERT_NOT_NULL(strstr(l[1], " 4194304 \\xff\\xfe"));
	/* then every line has the columns of the widest values */
	for (int i = 2; i < 4; i++) {
		const char *remote = i == 2 ? "10.9.8.7:51000" : "10.0.0.2:22";

		ASSERT_MSG(col_of(l[i], remote) == col_of(l[1], "[2001:db8::2]:22") &&
			   col_of(l[i], " -> ") == col_of(l[1], " -> ") &&
			   col_of(l[i], i == 2 ? "10.1.2.3" : "127.0.0.1") == col_of(l[1], "[2001:db8"),
			   "line %d does not keep the widened columns: %s", i, q);
	}
	ASSERT_EQ(col_of(l[1], "[2001:db8"), 16 + 8 + 64 + 1);
}

/* ---- TCP connections ---- */

static const char *const conn_keys[] = {
	"type", "event", "time", "boot_ns", "proto", "family", "laddr", "lport", "raddr", "rport",
	"rname", "rname_canonical", "service", "netns", "sock", "ino", "pid", "tid", "comm", "owner", "role",
	"state", "start_time", "predates", "duration_ms", "bytes_sent", "bytes_retrans",
	"bytes_acked", "bytes_received", "segs_out", "segs_in", "retrans", "srtt_ms",
	"rttvar_ms", "min_rtt_ms", "ended", "reset_reason", "closed_first", "error", "errno", NULL,
};

/* The end record as the kernel side writes it, decoded. */
static struct event conn_event(void)
{
	struct st_tcp_conn_event e;
	struct event ev;

	memset(&e, 0, sizeof(e));
	raw_init(&e.base);
	e.base.type = ST_EVENT_TCP_CONN;
	e.base.oldstate = ST_TCP_FIN_WAIT2;
	e.base.newstate = ST_TCP_CLOSE;
	e.conn.start_ns = e.base.ts_ns - 1000000000ull;
	e.conn.bytes_sent = 1000;
	e.conn.bytes_acked = 1002;
	e.conn.bytes_received = 301;
	e.conn.segs_out = 6;
	e.conn.segs_in = 5;
	e.conn.total_retrans = 1;
	e.conn.bytes_retrans = 100;
	e.conn.srtt_us = 34;
	e.conn.rttvar_us = 19;
	e.conn.min_rtt_us = 11;
	e.conn.end = ST_END_FIN;
	e.conn.closed_first = ST_CLOSER_LOCAL;
	e.conn.state = ST_TCP_FIN_WAIT2;
	/* the peer's FIN: the kernel counts it as a byte received, the
	 * decoded event does not */
	e.conn.bytes_received = 301;
	e.conn.flags = ST_CONN_FIN_RECEIVED;
	if (event__decode(&ev, &e, sizeof(e), &test_ref))
		FAIL("event__decode failed on a tcp_conn record");
	ASSERT_EQ_U64(ev.conn.bytes_received, 300);
	ASSERT_EQ(ev.conn.flags, ST_CONN_FIN_RECEIVED);
	e.conn.flags = 0;
	/* a record cut short is not decoded */
	ASSERT_EQ(event__decode(&ev, &e, sizeof(e) - 1, &test_ref), -EINVAL);
	if (event__decode(&ev, &e, sizeof(e), &test_ref))
		FAIL("event__decode failed on a tcp_conn record");
	ASSERT_EQ(ev.kind, EVENT_TCP_CONN);
	ASSERT_EQ(ev.conn.event, TCP_CONN_END);
	return ev;
}

TEST(sink_json_tcp_conn)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = conn_event();
	struct jc_result r;
	size_t len;
	const char *out = render(json_sink, svc, &ev, &len);

	ASSERT_STREQ(out,
		"{\"type\":\"tcp_conn\",\"event\":\"end\",\"time\":\"2023-11-14T22:13:20.123456789Z\","
		"\"boot_ns\":1123456789,\"proto\":\"tcp\",\"family\":4,\"laddr\":\"127.0.0.1\","
		"\"lport\":43054,\"raddr\":\"10.0.0.2\",\"rport\":22,\"rname\":null,\"rname_canonical\":null,\"service\":\"ssh\","
		"\"netns\":4026531833,\"sock\":\"0xffff888105308000\",\"ino\":7420,\"pid\":2923,"
		"\"tid\":2924,\"comm\":\"python3\",\"owner\":\"connect\",\"role\":\"client\","
		"\"state\":\"FIN_WAIT2\",\"start_time\":\"2023-11-14T22:13:19.123456789Z\","
		"\"predates\":false,\"duration_ms\":1000.000,\"bytes_sent\":1000,\"bytes_retrans\":100,"
		"\"bytes_acked\":1002,\"bytes_received\":301,\"segs_out\":6,\"segs_in\":5,"
		"\"retrans\":1,\"srtt_ms\":0.034,\"rttvar_ms\":0.019,\"min_rtt_ms\":0.011,"
		"\"ended\":\"fin\",\"reset_reason\":null,\"closed_first\":\"local\",\"error\":null,"
		"\"errno\":null}\n");
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, conn_keys);

	/* a reset received, on a connection that predates tracing, on a
	 * kernel without bytes_sent, no RTT sample */
	ev.conn.end = ST_END_RST_RECEIVED;
	ev.conn.closed_first = ST_CLOSER_NONE;
	ev.conn.flags = ST_CONN_PREDATES | ST_CONN_NO_BYTES_SENT;
	ev.conn.min_rtt_us = TCP_CONN_NO_RTT;
	ev.err = ECONNRESET;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, conn_keys);
	ASSERT_NOT_NULL(strstr(out, "\"predates\":true,"));
	ASSERT_NOT_NULL(strstr(out, "\"bytes_sent\":null,\"bytes_retrans\":null,"));
	ASSERT_NOT_NULL(strstr(out, "\"min_rtt_ms\":null,\"ended\":\"rst_received\","
				    "\"reset_reason\":null,\"closed_first\":null,\"error\":\"ECONNRESET\","
				    "\"errno\":104}\n"));

	/* a RST this side sent, with the kernel's reason */
	ev.conn.end = ST_END_RST_SENT;
	ev.err = 0;
	strcpy(ev.conn.rst_reason, "tcp_abort_on_close");
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, conn_keys);
	ASSERT_NOT_NULL(strstr(out, "\"ended\":\"rst_sent\",\"reset_reason\":\"tcp_abort_on_close\","
				    "\"closed_first\":null,"));
	ev.conn.rst_reason[0] = '\0';

	/* an update: nothing ended yet */
	ev.conn.event = TCP_CONN_UPDATE;
	ev.conn.end = ST_END_UNKNOWN;
	ev.err = 0;
	ev.conn.state = ST_TCP_ESTABLISHED;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	check_keys(&r, conn_keys);
	ASSERT_NOT_NULL(strstr(out, "\"type\":\"tcp_conn\",\"event\":\"update\","));
	ASSERT_NOT_NULL(strstr(out, "\"state\":\"ESTABLISHED\","));
	ASSERT_NOT_NULL(strstr(out, "\"ended\":null,"));

	/* a retransmit (--retrans): the ones it held, after the rest */
	ev.conn.event = TCP_CONN_RETRANS;
	ev.conn.held = 17;
	out = render(json_sink, svc, &ev, &len);
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_NOT_NULL(strstr(out, "\"type\":\"tcp_conn\",\"event\":\"retrans\","));
	ASSERT_NOT_NULL(strstr(out, "\"errno\":null,\"held\":17}\n"));
}

TEST(sink_text_tcp_conn)
{
	struct services *svc = svc_new(22, "ssh", 0);
	struct event ev = conn_event();
	const char *out = render(text_sink, svc, &ev, NULL);

	ASSERT_NOT_NULL(strstr(out, "TCP END        tx=1000B rx=301B segs=6/5 retrans=1 "
				    "rtt=0.034ms 1.000s fin local\n"));
	ev.conn.end = ST_END_TIMEOUT;
	ev.conn.closed_first = ST_CLOSER_NONE;
	ev.conn.flags = ST_CONN_PREDATES;
	ev.err = ETIMEDOUT;
	ev.conn.srtt_us = 123456;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, "rtt=123.456ms 1.000s+ timeout ETIMEDOUT\n"));
	ev.conn.event = TCP_CONN_UPDATE;
	ev.err = 0;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, "TCP UPDATE     tx=1000B"));
	ASSERT_NOT_NULL(strstr(out, " 1.000s+\n"));
	ev.conn.event = TCP_CONN_RETRANS;
	ev.conn.held = 4;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, "TCP RETRANS    tx=1000B"));
	ASSERT_NOT_NULL(strstr(out, " 1.000s+ held=4\n"));

	/* the kernel's reason for the RST it sent, after how it ended */
	ev = conn_event();
	ev.conn.end = ST_END_RST_SENT;
	ev.conn.closed_first = ST_CLOSER_REMOTE;
	strcpy(ev.conn.rst_reason, "tcp_abort_on_close");
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, " 1.000s rst_sent reset=tcp_abort_on_close remote\n"));
	ev.conn.event = TCP_CONN_UPDATE;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NULL(strstr(out, "reset="));

	/* a loopback connection's end, a fraction of a millisecond after its
	 * start: not 0.000s */
	ev = conn_event();
	ev.conn.start_ns = ev.boot_ns - 305500;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, "rtt=0.034ms 0.306ms fin local\n"));
	ev.conn.start_ns = ev.boot_ns - 20000000;
	out = render(text_sink, svc, &ev, NULL);
	ASSERT_NOT_NULL(strstr(out, "rtt=0.034ms 20.000ms fin local\n"));
}
