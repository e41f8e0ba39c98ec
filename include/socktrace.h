/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by the BPF programs and the userspace loader. Fixed-width
 * fields only, no pointers: a kernel pointer travels as __u64. */
#ifndef SOCKTRACE_H
#define SOCKTRACE_H

#define TASK_COMM_LEN 16

/* What a record in the ring buffer is. */
enum st_event_type {
	ST_EVENT_TCP_STATE = 1,		/* a TCP state transition */
	ST_EVENT_SYN_RETRANS,		/* a SYN retransmitted in SYN_SENT */
	ST_EVENT_UDP_START,		/* first datagram of a UDP flow */
	ST_EVENT_UDP_CLOSE,		/* a UDP socket with flows was released */
	ST_EVENT_TCP_CONN,		/* a TCP connection's counters: at its end, or (iterator) so far */
	ST_EVENT_TCP_RESET,		/* a RST this side sent as a connection ended, with its reason */
	ST_EVENT_DNS,			/* a DNS message a local socket received or sent (struct st_dns_event) */
};

/* How the owner of a socket was learned. Never from the task that happened
 * to be interrupted by a softirq. */
enum st_owner_src {
	ST_OWNER_UNKNOWN = 0,
	ST_OWNER_CONNECT,	/* connect(): CLOSE -> SYN_SENT, process context */
	ST_OWNER_LISTEN,	/* listen(): -> LISTEN, process context */
	ST_OWNER_LISTENER,	/* passive child: inherited from its listener */
	ST_OWNER_ACCEPT,	/* accept() returned it to this process */
	ST_OWNER_SNAPSHOT,	/* userspace: found in /proc at startup */
	ST_OWNER_TRAFFIC,	/* UDP: the process that sent or received */
	ST_OWNER_IO,		/* TCP: sent or received on it after its recorded owner */
	ST_OWNER__MAX,
};

enum st_role {
	ST_ROLE_UNKNOWN = 0,
	ST_ROLE_CLIENT,		/* active open */
	ST_ROLE_SERVER,		/* passive open (accepted socket) */
	ST_ROLE_LISTENER,
	ST_ROLE__MAX,
};

/* Per-CPU counters, index into the "counters" map. */
enum st_counter {
	ST_CNT_EVENTS = 0,	/* records submitted to the ring buffer */
	ST_CNT_LOST,		/* records the ring buffer could not take */
	ST_CNT_FILTERED,	/* records dropped by in-kernel filters */
	ST_CNT_NO_OWNER_SLOT,	/* socket map update failed */
	ST_CNT_UDP_UNCOUNTED,	/* datagrams not counted: the flow table was full */
	ST_CNT_UDP_UNCOUNTED_BYTES,	/* and their bytes */
	ST_CNT_GAPS,		/* transitions whose old state is not the last one seen */
	ST_CNT_DNS_LOST,	/* DNS messages the ring buffer could not take */
	ST_CNT_DNS_TRUNCATED,	/* DNS messages longer than ST_DNS_CAP: cut */
	ST_CNT__MAX,
};

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum st_tcp_state {
	ST_TCP_ESTABLISHED = 1,
	ST_TCP_SYN_SENT,
	ST_TCP_SYN_RECV,
	ST_TCP_FIN_WAIT1,
	ST_TCP_FIN_WAIT2,
	ST_TCP_TIME_WAIT,
	ST_TCP_CLOSE,
	ST_TCP_CLOSE_WAIT,
	ST_TCP_LAST_ACK,
	ST_TCP_LISTEN,
	ST_TCP_CLOSING,
	ST_TCP_NEW_SYN_RECV,
	ST_TCP_BOUND_INACTIVE,
	ST_TCP_MAX_STATES,
};

#define ST_OLD_NS_UNKNOWN ((__u64)-1)

/* udp_recvmsg()'s flags argument, counted from 0: the fourth, or the fifth
 * before 5.19 dropped noblock (the BPF side's rodata recv_flags_arg). */
#define ST_RECV_FLAGS_ARG		3
#define ST_RECV_FLAGS_ARG_NOBLOCK	4

/* Every ring buffer record starts with ts_ns and type. */

/* One TCP state transition, as the kernel side writes it. Addresses are in
 * network byte order (IPv4 in the first 4 bytes), ports in host order. */
struct st_tcp_event {
	__u64 ts_ns;		/* CLOCK_BOOTTIME */
	__u8 type;		/* enum st_event_type */
	__u8 oldstate;
	__u8 newstate;
	__u8 owner_src;		/* enum st_owner_src */
	__u8 role;		/* enum st_role */
	__u8 err;		/* sk_err at SYN_SENT -> CLOSE (ECONNREFUSED...) */
	__u8 syn_retrans;	/* SYNs retransmitted so far (saturates at 255) */
	__u8 prev_state;	/* the socket's state as last seen, 0 if unknown */
	__u64 skaddr;		/* socket identity while it lives */
	__u64 old_ns;		/* time spent in the old state, or UNKNOWN */
	__u64 ino;		/* socket inode (0 once orphaned) */
	__u32 netns;		/* network namespace inode number */
	__u32 pid;		/* owner tgid, 0 if unknown */
	__u32 tid;		/* owner thread */
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 pad1;
	char comm[TASK_COMM_LEN];
	__u32 vpid;		/* owner tgid in its own pid namespace, 0 if unknown */
	__u64 cgroup_id;	/* owner's cgroup v2 id, taken with the owner; 0 if unknown */
};

_Static_assert(sizeof(struct st_tcp_event) == 120, "st_tcp_event layout changed");

/* How a TCP connection ended, decided at its transition to CLOSE. */
enum st_tcp_end {
	ST_END_UNKNOWN = 0,
	ST_END_FIN,		/* both sides closed (FIN); closed_first says who began */
	ST_END_RST_SENT,	/* this side reset it: close() with unread data, SO_LINGER 0 */
	ST_END_RST_RECEIVED,	/* the peer reset it (sk_err ECONNRESET, or EPIPE in CLOSE_WAIT) */
	ST_END_TIMEOUT,		/* retransmissions ran out (tcp_retries2, TCP_USER_TIMEOUT) */
	ST_END_KEEPALIVE,	/* keepalive probes went unanswered */
	ST_END_REFUSED,		/* the connect() was refused (RST to the SYN) */
	ST_END_UNREACHABLE,	/* the connect() failed with an ICMP error */
	ST_END_ABORTED,		/* closed before it was established, or killed (ss -K) */
	ST_END__MAX,
};

/* Which side sent the first FIN. */
enum st_tcp_closer {
	ST_CLOSER_NONE = 0,
	ST_CLOSER_LOCAL,	/* ESTABLISHED -> FIN_WAIT1 */
	ST_CLOSER_REMOTE,	/* ESTABLISHED -> CLOSE_WAIT */
	ST_CLOSER__MAX,
};

#define ST_CONN_PREDATES	0x01	/* it predates tracing: start is tracing's, not its birth */
#define ST_CONN_NO_BYTES_SENT	0x02	/* kernel before 4.19: no bytes_sent, bytes_retrans */
#define ST_CONN_UPDATE		0x04	/* counters so far of a live connection (--interval) */
#define ST_CONN_RETRANS		0x10	/* a segment of it was retransmitted (--retrans) */
#define ST_CONN_FIN_RECEIVED	0x20	/* the peer's FIN was taken in order: one of bytes_received */

/* A connection's counters, from struct tcp_sock as tcp_get_info() reports
 * them (ss -ti, TCP_INFO): read once, at its end or by the iterator. */
struct st_tcp_conn {
	__u64 start_ns;		/* CLOCK_BOOTTIME of SYN_SENT or SYN_RECV, or tracing's start */
	__u64 bytes_sent;	/* payload sent, retransmissions included */
	__u64 bytes_acked;	/* sequence space acked: payload, and the SYN and FIN */
	__u64 bytes_received;	/* sequence space received in order: payload, and the FIN
				 * (ST_CONN_FIN_RECEIVED) */
	__u64 bytes_retrans;
	__u32 segs_in;
	__u32 segs_out;
	__u32 total_retrans;	/* segments retransmitted */
	__u32 srtt_us;		/* smoothed RTT */
	__u32 rttvar_us;	/* mean deviation, as tcpi_rttvar */
	__u32 min_rtt_us;	/* ~0 when there was no sample */
	__u8 end;		/* enum st_tcp_end, 0 for an update */
	__u8 closed_first;	/* enum st_tcp_closer */
	__u8 flags;		/* ST_CONN_* */
	__u8 state;		/* the state it was in (its last before CLOSE) */
	__u16 held;		/* ST_CONN_RETRANS: retransmits since the last such record
				 * that had none of their own (at most one a second) */
	__u16 pad;
};

struct st_tcp_conn_event {
	struct st_tcp_event base;	/* type ST_EVENT_TCP_CONN, newstate CLOSE */
	struct st_tcp_conn conn;
};

_Static_assert(sizeof(struct st_tcp_conn) == 72, "st_tcp_conn layout changed");
_Static_assert(sizeof(struct st_tcp_conn_event) == 192, "st_tcp_conn_event layout changed");

/* A RST this side sent as a connection ended, and the kernel's reason
 * (tcp:tcp_send_reset, 6.10+): tcp_send_active_reset() (no skb), or the
 * answer of a socket tcp_reset() had just closed. Userspace adds the
 * reason to the connection's end record, which comes before it when the
 * kernel closed the socket first (close() with unread data, SO_LINGER 0)
 * and after it otherwise (keepalive timeout, ss -K). */
struct st_tcp_reset_event {
	__u64 ts_ns;
	__u8 type;		/* ST_EVENT_TCP_RESET */
	__u8 state;		/* the socket's, as the RST went out */
	__u16 pad;
	__u32 reason;		/* enum sk_rst_reason */
	__u64 skaddr;
};

_Static_assert(sizeof(struct st_tcp_reset_event) == 24, "st_tcp_reset_event layout changed");

/* A UDP flow: one socket, one owner, one peer. A peer the application did
 * not ask for (recv() on an unconnected socket) is all zeros. Only what
 * tells flows of one socket apart is in the key, which every datagram
 * hashes: the socket implies its family, local address and network
 * namespace, which the flow's value carries. */
struct st_udp_key {
	__u64 skaddr;
	__u32 pid;		/* tgid that sent or received */
	__u16 rport;		/* host byte order */
	__u16 pad;
	__u8 raddr[16];		/* network byte order, IPv4 in the first 4 */
};

/* Counted in the kernel for every datagram; userspace reads, reports and
 * removes flows. */
struct st_udp_flow {
	__u64 first_ns;		/* CLOCK_BOOTTIME of the first datagram */
	__u64 last_ns;		/* and of the latest, to within a kernel tick */
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 rx_packets;
	__u64 ino;		/* socket inode */
	__u32 tid;		/* thread of the first datagram */
	__u32 netns;		/* network namespace inode number */
	char comm[TASK_COMM_LEN];
	/* the socket's local side at the first datagram; a socket bound to
	 * the wildcard address keeps it */
	__u8 laddr[16];
	__u16 lport;
	__u16 family;		/* AF_INET or AF_INET6 */
	__u32 last_tick;	/* jiffies (low bits) when last_ns was taken */
	__u64 cgroup_id;	/* the cgroup v2 id of the first datagram's process */
	__u32 vpid;		/* and its tgid in its own pid namespace */
	__u32 pad;
};

/* ST_EVENT_UDP_START carries the flow as created; ST_EVENT_UDP_CLOSE only
 * ts_ns and key.skaddr. */
struct st_udp_event {
	__u64 ts_ns;
	__u8 type;
	__u8 pad[7];
	struct st_udp_key key;
	struct st_udp_flow flow;
};

_Static_assert(sizeof(struct st_udp_key) == 32, "st_udp_key layout changed");
_Static_assert(sizeof(struct st_udp_flow) == 120, "st_udp_flow layout changed");
_Static_assert(sizeof(struct st_udp_event) == 168, "st_udp_event layout changed");

/* DNS messages: the payload of a UDP datagram, or of a TCP segment, from
 * port 53 that a local socket receives (answers), or (--dns) to port 53
 * that it sends (queries), cut at ST_DNS_CAP bytes (a classic DNS message
 * over UDP is at most 512 bytes without EDNS0). */
#define ST_DNS_CAP 512

enum st_dns_dir {
	ST_DNS_ANSWER = 0,	/* received from port 53 (cgroup_skb/ingress) */
	ST_DNS_QUERY = 1,	/* sent to port 53 (cgroup_skb/egress) */
};

struct st_dns_event {
	__u64 ts_ns;
	__u8 type;		/* ST_EVENT_DNS */
	__u8 family;		/* 4 or 6 */
	__u16 len;		/* the payload's length in the datagram */
	__u16 caplen;		/* bytes in data: min(len, ST_DNS_CAP) */
	__u8 proto;		/* IPPROTO_UDP, or IPPROTO_TCP: a segment's payload,
				 * which starts with the message's length */
	__u8 dir;		/* enum st_dns_dir */
	__u32 netns;		/* the local socket's network namespace */
	__u16 lport;		/* the local socket's port, host order */
	__u16 pad;
	__u64 cgroup_id;	/* the local socket's cgroup v2 id: whose message */
	__u8 server[16];	/* the server's address, IPv4 in the first 4 */
	__u64 skaddr;		/* the local socket's identity, 0 if none */
	__u8 client[16];	/* the local address */
	__u8 data[ST_DNS_CAP];
};

_Static_assert(sizeof(struct st_dns_event) == 584, "st_dns_event layout changed");

/* What the kernel side remembers about a socket between transitions, and
 * about each listening port (userspace seeds listeners found at startup). */
struct st_sock_info {
	__u64 ts;		/* when it entered its current state, 0 unknown */
	__u32 pid;
	__u32 tid;
	__u8 owner_src;
	__u8 role;
	__u16 lport;		/* last known local port */
	__u8 syn_retrans;
	__u8 birth_pending;	/* a child born before its tuple was set */
	__u8 state;		/* the state of its latest transition, 0 unknown */
	__u8 soft_err;		/* the error getsockopt(SO_ERROR) took away in SYN_SENT */
	char comm[TASK_COMM_LEN];	/* the process's name, not the thread's */
	__u64 born;		/* tcp_conn: SYN_SENT or SYN_RECV, or tracing's start */
	__u8 closed_first;	/* tcp_conn: enum st_tcp_closer */
	__u8 conn_flags;	/* tcp_conn: ST_CONN_PREDATES */
	__u16 retrans_held;	/* --retrans: retransmits not reported in this tick */
	__u32 retrans_tick;	/* --retrans: the tick (2^30 ns) of the last report */
	__u64 cgroup_id;	/* the owner's cgroup v2 id, taken with the owner */
	__u32 vpid;		/* the owner's tgid in its own pid namespace */
	__u32 listen_ino;	/* a listener's (and its children's) socket inode:
				 * get_next_ino() gives 32 bits */
};

_Static_assert(sizeof(struct st_sock_info) == 72, "st_sock_info layout changed");

/* A listener is found by its exact local address, then by the wildcard of
 * its family: two listeners may share a port on different addresses. */
struct st_listener_key {
	__u32 netns;
	__u16 port;
	__u16 family;
	__u8 addr[16];		/* IPv4 in the first 4 bytes */
};

#endif /* SOCKTRACE_H */
