/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The one decoded event type every source produces and every sink renders. */
#ifndef ST_EVENT_H
#define ST_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <linux/types.h>
#include "socktrace.h"

struct cgroup_info;

/* Source events are what a source observes (recorded, replayed); derived
 * events are what the pipeline's stages make of them (re-derived on
 * replay, never recorded). */
enum event_kind {
	EVENT_TCP_STATE = 1,	/* source: a live transition */
	EVENT_TCP_SOCKET,	/* source: a socket that existed when tracing started */
	EVENT_SYN_RETRANS,	/* source: a SYN retransmit (feeds the attempt tracker) */
	EVENT_CONNECT,		/* derived: a connection attempt's outcome */
	EVENT_SYN_ALERT,	/* derived: an attempt stuck in SYN_SENT */
	EVENT_UDP_FLOW,		/* source: a UDP flow started, was updated, or ended */
	EVENT_UDP_SOCKET,	/* source: a UDP socket that existed when tracing started */
	EVENT_CONNECT_STATS,	/* derived: one destination's attempts, at the end */
	EVENT_TICK,		/* replay: a recording's clock reached this time; never shown */
	EVENT_TCP_CONN,		/* source: a TCP connection's counters, at its end or so far */
	EVENT_DNS_ANSWER,	/* source: a DNS answer a local socket received; names
				 * remote addresses, never shown itself */
	EVENT_DNS_QUERY,	/* source: a DNS query a local socket sent (--dns),
				 * never shown itself */
	EVENT_DNS,		/* derived: a DNS query's outcome (--dns) */
	EVENT_DNS_STATS,	/* derived: one name's queries, at the end (--dns) */
	EVENT__MAX,
};

#define EVENT_KIND_BIT(k) (1u << (k))
#define EVENT_KINDS_DERIVED (EVENT_KIND_BIT(EVENT_CONNECT) | EVENT_KIND_BIT(EVENT_SYN_ALERT) | \
			     EVENT_KIND_BIT(EVENT_CONNECT_STATS) | EVENT_KIND_BIT(EVENT_DNS) | \
			     EVENT_KIND_BIT(EVENT_DNS_STATS))

/* How a connection attempt ended. */
enum connect_outcome {
	OUTCOME_IN_PROGRESS = 0,	/* found in SYN_SENT at startup */
	OUTCOME_ESTABLISHED,
	OUTCOME_REFUSED,		/* RST received */
	OUTCOME_TIMEOUT,		/* the SYN retries ran out */
	OUTCOME_UNREACHABLE,		/* an ICMP error, or no route */
	OUTCOME_ABORTED,		/* closed by the application */
	OUTCOME__MAX,
};

/* What a local listener tells about a hung attempt. */
enum diag_cause {
	DIAG_NONE = 0,
	DIAG_QUEUE_FULL,	/* the listener's accept queue is full */
	DIAG_LISTENING,		/* a listener exists and has room */
	DIAG_NO_LISTENER,	/* a local address, but nothing listens */
};

struct diagnosis {
	enum diag_cause cause;
	uint32_t pid;		/* listener's owner, 0 if unknown */
	char comm[TASK_COMM_LEN + 1];
	uint32_t queue;		/* connections waiting for accept() */
	uint32_t backlog;	/* the listen() backlog */
};

/* What an EVENT_UDP_FLOW reports. */
enum udp_flow_event {
	UDP_FLOW_START = 1,	/* its first datagram, in either direction */
	UDP_FLOW_UPDATE,	/* counts so far (--interval, and when tracing stops) */
	UDP_FLOW_END,
	UDP_FLOW__MAX,
};

enum udp_end_reason {
	UDP_END_NONE = 0,
	UDP_END_CLOSE,		/* the socket was closed */
	UDP_END_IDLE,		/* no datagram for --udp-idle seconds */
	UDP_END__MAX,
};

/* What an EVENT_TCP_CONN reports. */
enum tcp_conn_event {
	TCP_CONN_END = 1,	/* it ended: the counters are final */
	TCP_CONN_UPDATE,	/* counters so far of a live one (--interval) */
	TCP_CONN_RETRANS,	/* it retransmitted: counters so far (--retrans) */
	TCP_CONN__MAX,
};

#define TCP_RST_REASON_LEN 32

/* A TCP connection's counters, as the kernel keeps them (tcp_info). */
struct tcp_conn {
	uint8_t event;		/* enum tcp_conn_event */
	uint8_t end;		/* enum st_tcp_end, for TCP_CONN_END */
	uint8_t closed_first;	/* enum st_tcp_closer */
	uint8_t flags;		/* ST_CONN_PREDATES, ST_CONN_NO_BYTES_SENT */
	uint8_t state;		/* its state then (before CLOSE, for an end) */
	uint64_t start_ns;	/* boot ns of SYN_SENT or SYN_RECV, or tracing's start */
	uint64_t bytes_sent;	/* payload, retransmissions included */
	uint64_t bytes_acked;	/* sequence space: payload, SYN and FIN */
	uint64_t bytes_received;	/* payload, in order (not the FIN) */
	uint64_t bytes_retrans;
	uint32_t segs_in;
	uint32_t segs_out;
	uint32_t total_retrans;
	uint32_t srtt_us;
	uint32_t rttvar_us;
	uint32_t min_rtt_us;	/* TCP_CONN_NO_RTT when there was no sample */
	uint16_t held;		/* TCP_CONN_RETRANS: retransmits since the last record
				 * that had no record of their own */
	/* TCP_CONN_END: the kernel's reason for the RST this side sent as it
	 * ended (enum sk_rst_reason, lowercased, SK_RST_REASON_ dropped), ""
	 * if none or the kernel has none (before 6.10) */
	char rst_reason[TCP_RST_REASON_LEN];
};

#define TCP_CONN_NO_RTT UINT32_MAX
/* flags: an update of the round after the startup snapshot, counted with
 * the snapshot (never by the kernel side, which has bits 0x01 to 0x04) */
#define TCP_CONN_EXISTING 0x08
#define TCP_CONN_FLAGS (ST_CONN_PREDATES | ST_CONN_NO_BYTES_SENT | TCP_CONN_EXISTING | \
			ST_CONN_FIN_RECEIVED)

#define EVENT_OLD_NS_UNKNOWN UINT64_MAX
/* the longest DNS name in presentation form, without the final dot */
#define EVENT_NAME_MAX 253

/* How a DNS query ended (EVENT_DNS). */
enum dns_outcome {
	DNS_OUTCOME_ANSWERED = 1,	/* an answer came; its rcode says which */
	DNS_OUTCOME_TIMEOUT,		/* none within --dns-timeout */
	DNS_OUTCOME_PENDING,		/* none yet when the source ended */
	DNS_OUTCOME__MAX,
};

/* addresses an EVENT_DNS carries; n_addrs counts them all */
#define EVENT_DNS_ADDRS 8

struct dns_ip {
	int family;		/* AF_INET or AF_INET6 */
	struct in6_addr addr;	/* IPv4 in the first 4 bytes */
};

/* EVENT_DNS: a query (its server in raddr:rport, its socket in laddr:lport,
 * sock and the owner fields) and how it ended; EVENT_DNS_STATS: one name's
 * queries (qname, qtype and the counts). */
struct dns_query {
	char qname[EVENT_NAME_MAX + 1];
	char canonical[EVENT_NAME_MAX + 1];	/* the end of the answer's CNAME chain, "" if qname */
	uint16_t qtype;		/* A 1, AAAA 28... */
	uint16_t id;		/* the message id */
	uint8_t outcome;	/* enum dns_outcome */
	uint8_t rcode;		/* the answer's: 0 NOERROR, 3 NXDOMAIN... */
	bool truncated;		/* TC: the answer did not fit (the client asks over TCP) */
	uint32_t tries;		/* sent this many times under one id (retransmits) */
	uint64_t latency_ns;	/* the first try to the answer, or to the timeout */
	uint32_t n_addrs;	/* A and AAAA records in the answer */
	struct dns_ip addrs[EVENT_DNS_ADDRS];
	/* EVENT_DNS_STATS */
	uint64_t queries, answered, errors, timeouts;	/* errors: rcode not NOERROR */
	bool have_latency;	/* at least one was answered */
	uint64_t latency_p50_ns, latency_p99_ns;
};

/* wall_ns of a replayed event whose clock reference was lost (a damaged
 * header of an old recording); a clock_ref with this wall_ns gives it. */
#define EVENT_WALL_UNKNOWN UINT64_MAX

struct event {
	enum event_kind kind;
	uint64_t boot_ns;	/* CLOCK_BOOTTIME */
	uint64_t wall_ns;	/* CLOCK_REALTIME, from the clock reference, or
				 * EVENT_WALL_UNKNOWN */
	uint64_t sock;		/* kernel socket identity, 0 if unknown */
	uint64_t ino;		/* socket inode, 0 if unknown */
	uint64_t old_ns;	/* time in the old state, or EVENT_OLD_NS_UNKNOWN */
	uint32_t netns;
	uint32_t pid;		/* 0 if unknown */
	uint32_t tid;
	int family;		/* AF_INET or AF_INET6 */
	int proto;		/* IPPROTO_TCP */
	struct in6_addr laddr;	/* IPv4 as the first 4 bytes */
	struct in6_addr raddr;
	uint16_t lport;		/* host byte order */
	uint16_t rport;
	uint8_t old_state;	/* 0 for a snapshot */
	uint8_t new_state;	/* for a snapshot: the current state */
	uint8_t owner_src;	/* enum st_owner_src */
	uint8_t role;		/* enum st_role */
	uint8_t prev_state;	/* the state the kernel side last saw the socket in
				 * before this transition, 0 if unknown */
	char comm[TASK_COMM_LEN + 1];
	uint32_t vpid;		/* the owner's pid in its own pid namespace, 0 if unknown */
	uint64_t cgroup_id;	/* the owner's cgroup v2 id as the kernel gave it (a DNS
				 * answer: its receiving socket's), 0 if unknown; in a
				 * replay as recorded, on the recording's host */
	const struct cgroup_info *cg;	/* what the cgroup is called (cgroup_info.h), NULL if unknown */
	uint64_t cg_key;	/* replay: the key of the recording's cgroup record, 0 none */
	/* connection attempts (EVENT_SYN_RETRANS, EVENT_CONNECT, EVENT_SYN_ALERT;
	 * err also on a SYN_SENT -> CLOSE transition) */
	uint32_t syn_retrans;
	int err;		/* errno the application got, 0 if none */
	enum connect_outcome outcome;
	uint64_t elapsed_ns;	/* in SYN_SENT, EVENT_OLD_NS_UNKNOWN if unknown */
	struct diagnosis diag;
	/* UDP flows (EVENT_UDP_FLOW); a flow's counts are totals since start */
	uint8_t flow_event;	/* enum udp_flow_event */
	uint8_t end_reason;	/* enum udp_end_reason, for UDP_FLOW_END */
	uint64_t first_ns;	/* boot ns of the flow's first datagram */
	uint64_t last_ns;	/* and of its latest */
	uint64_t duration_ns;	/* first datagram to last (to close for a close) */
	uint64_t tx_bytes;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t rx_packets;
	/* a TCP connection (EVENT_TCP_CONN); err is sk_err at its end */
	struct tcp_conn conn;
	/* a destination's attempts (EVENT_CONNECT_STATS): raddr, rport and
	 * family name it; family 0 says there were none */
	uint64_t outcomes[OUTCOME__MAX];	/* attempts ended so, by outcome */
	uint64_t handshake_p50_ns;		/* of the established ones */
	uint64_t handshake_p99_ns;
	bool have_handshake;			/* at least one was established */
	/* replay: from a recording of format 1.0 or 1.1, which holds the SYN
	 * alerts its run showed (and no SYN retransmits to derive them from) */
	bool legacy;
	/* a DNS answer or query (EVENT_DNS_ANSWER, EVENT_DNS_QUERY): raddr and
	 * family are its server's, laddr, lport and sock the local socket's,
	 * proto UDP or TCP (then dns holds a segment's payload, which starts
	 * with the message's 2-byte length); the payload as received or sent,
	 * cut at ST_DNS_CAP bytes */
	uint16_t dns_len;	/* the payload's length in the datagram */
	uint16_t dns_caplen;	/* bytes in dns */
	uint8_t dns[ST_DNS_CAP];
	/* derived from earlier DNS answers (dnsnames.h), never recorded: the
	 * name a process of this network namespace resolved to raddr, "" if
	 * none, and the end of its CNAME chain when that differs ("" if not) */
	char rname[EVENT_NAME_MAX + 1];
	char rname_canonical[EVENT_NAME_MAX + 1];
	struct dns_query dnsq;	/* EVENT_DNS, EVENT_DNS_STATS */
};


/* Boot-clock to wall-clock conversion, from one reference pair. */
struct clock_ref {
	uint64_t boot_ns;
	uint64_t wall_ns;
};

int clock_ref__init(struct clock_ref *ref);
/* EVENT_WALL_UNKNOWN when the reference's wall time is. */
uint64_t clock_ref__wall(const struct clock_ref *ref, uint64_t boot_ns);
uint64_t clock_ref__boot_now(void);

/* Raw kernel record -> event. Returns 0 or -EINVAL for a short or unknown
 * record. */
int event__decode(struct event *ev, const void *data, size_t size,
		  const struct clock_ref *ref);
/* A kernel record's connection counters; unknown values read as 0. */
void tcp_conn__decode(struct tcp_conn *c, const struct st_tcp_conn *k);

/* A transition from a state other than the one the socket was last seen
 * in: the kernel did not report the transitions between. */
static inline bool event__gap(const struct event *ev)
{
	return ev->kind == EVENT_TCP_STATE && ev->prev_state && ev->prev_state != ev->old_state;
}

const char *tcp_state__name(int state);
/* Returns the state number, or -EINVAL. Accepts "SYN_SENT", "syn-sent",
 * "TCP_SYN_SENT". */
int tcp_state__parse(const char *name);
const char *owner_src__name(int src);
const char *role__name(int role);
const char *outcome__name(int outcome);
const char *udp_flow_event__name(int fe);	/* "start", "update", "end" */
const char *udp_end_reason__name(int r);	/* "close", "idle", NULL for none */
const char *tcp_conn_event__name(int ce);	/* "end", "update" */
const char *tcp_end__name(int end);		/* "fin", "rst_sent"...; NULL for none */
const char *tcp_closer__name(int c);		/* "local", "remote"; NULL for none */
/* "ECONNREFUSED" for ECONNREFUSED, NULL for 0 or an unnamed errno. */
const char *errno__name(int err);
/* "A", "AAAA", "CNAME"...; NULL for a DNS type without a name here. */
const char *dns_type__name(unsigned int type);
/* "NOERROR", "NXDOMAIN"...; NULL for a code without a name here. */
const char *dns_rcode__name(unsigned int rcode);
/* "answered", "timeout", "pending"; NULL for none. */
const char *dns_outcome__name(int outcome);

#endif /* ST_EVENT_H */
