// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* socktrace kernel side: TCP state transitions and UDP flows, with the
 * process that owns each socket.
 *
 * Every concern has several hook variants (tp_btf, tracepoint, fentry,
 * kprobe); each is a thin wrapper around one handler, and userspace turns on
 * exactly one variant per concern with bpf_program__set_autoload(). The
 * sock_{send,recv}_length programs serve two concerns (TCP owners by I/O and
 * UDP flows): one program per tracepoint, so a datagram pays for one run. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "socktrace.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define MSG_PEEK	2
#define SOL_SOCKET	1
#define SO_ERROR	4
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define EEXIST		17

#define MAX_SOCKS	65536
#define MAX_LISTENERS	8192
#define MAX_FILTER	64
#define MAX_THREADS	8192	/* threads inside a send or receive at once */
#define MAX_SEEDS	65536	/* sockets found at startup, resized by userspace */
/* the largest record and its ring buffer header */
#define RECORD_SPACE	(sizeof(struct st_udp_event) + 8)

/* Filters, set by userspace before load; 0/false means off. */
const volatile __u16 filter_family = 0;
const volatile bool filter_pids_on = false;
const volatile bool filter_ports_on = false;
/* Ports to trace, a bit each: a load and a test on every datagram's path,
 * where a hash map took two lookups. */
const volatile __u64 filter_port_bits[65536 / 64] = {};
const volatile __u32 filter_states = 0;	/* bit per state: old or new matches */
/* Wake the reader only once this much data waits (0: every record). The
 * reader polls with a short timeout, so a quiet host still sees events soon. */
const volatile __u64 wakeup_bytes = 0;
/* Position of udp_recvmsg()'s flags: 3, or 4 before 5.19 dropped noblock
 * (commit ec095263a965). Userspace reads it from the kernel's BTF. */
const volatile __u32 recv_flags_arg = 3;
/* Which concerns the shared sock_{send,recv}_length programs serve. */
const volatile bool tcp_io_on = false;
const volatile bool udp_io_on = false;
/* The tcp_state hook sees a listener's child born (LISTEN -> SYN_RECV): the
 * tracepoints do, tcp_set_state() does not. */
const volatile bool births_seen = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);	/* resized by userspace */
} events SEC(".maps");

/* Keyed by the sock pointer: valid from the first transition to CLOSE. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct st_sock_info);
} socks SEC(".maps");

/* Owner of each listening port, handed down to the sockets it creates. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_LISTENERS);
	__type(key, struct st_listener_key);
	__type(value, struct st_sock_info);
} listeners SEC(".maps");

/* Owners of the TCP sockets found at startup, by socket inode: userspace
 * cannot name a socket's address. A socket's first event moves its entry to
 * socks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_SEEDS);
	__type(key, __u64);
	__type(value, struct st_sock_info);
} seeds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FILTER);
	__type(key, __u32);
	__type(value, __u8);
} filter_pids SEC(".maps");

static __always_inline bool port_wanted(__u16 port)
{
	return filter_port_bits[port >> 6] & (1ULL << (port & 63));
}

static __always_inline void counter_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

static __always_inline void counter_inc(__u32 idx)
{
	counter_add(idx, 1);
}

/* Wake the reader only for the record that crosses the wakeup mark: a
 * forced wakeup per record is an IPI per record. One missed under a race
 * costs at most the reader's poll period. */
static __always_inline long ringbuf_wakeup_flags(void)
{
	__u64 avail;

	if (!wakeup_bytes)
		return 0;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return avail >= wakeup_bytes && avail < wakeup_bytes + 4 * RECORD_SPACE ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* The name of the current process: its thread group leader's, not the name
 * of the thread that makes the call (dig does its I/O in a thread named
 * isc-net-0000; ps, ss and /proc/PID/comm name the process). */
static __always_inline void current_comm(char comm[TASK_COMM_LEN])
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	__builtin_memset(comm, 0, TASK_COMM_LEN);
	if (!leader || bpf_core_read_str(comm, TASK_COMM_LEN, &leader->comm) < 0)
		bpf_get_current_comm(comm, TASK_COMM_LEN);
}

static __always_inline void owner_take(struct st_sock_info *si, __u64 id, __u8 src)
{
	si->pid = id >> 32;
	si->tid = (__u32)id;
	si->owner_src = src;
	current_comm(si->comm);
}

static __always_inline void owner_from_current(struct st_sock_info *si, __u8 src, __u8 role)
{
	owner_take(si, bpf_get_current_pid_tgid(), src);
	si->role = role;
}

/* A socket of the startup scan: its owner from /proc, moved to socks. */
static __always_inline bool seed_take(struct st_sock_info *si, __u64 ino)
{
	struct st_sock_info *s;

	if (!ino)
		return false;
	s = bpf_map_lookup_elem(&seeds, &ino);
	if (!s)
		return false;
	*si = *s;
	bpf_map_delete_elem(&seeds, &ino);
	return true;
}

static __always_inline __u32 sock_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The socket's inode, as /proc/PID/fd and ss show it; 0 once orphaned. */
static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!sock)
		return 0;
	/* struct socket is the first member of struct socket_alloc */
	sa = (struct socket_alloc *)sock;
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* sk_protocol was a bitfield before 5.6 (commit bf9765145b85); the probed
 * bitfield read works for both layouts. */
static __always_inline __u16 sock_protocol(struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

static __always_inline bool event_filtered(const struct st_tcp_event *e)
{
	if (filter_family && e->family != filter_family)
		return true;
	if (filter_states &&
	    !(filter_states & ((1u << e->oldstate) | (1u << e->newstate))))
		return true;
	if (filter_ports_on && !port_wanted(e->sport) && !port_wanted(e->dport))
		return true;
	/* An unknown owner passes: userspace may still name it from /proc. */
	if (filter_pids_on && e->pid && !bpf_map_lookup_elem(&filter_pids, &e->pid))
		return true;
	return false;
}

static __always_inline void event_fill_tuple(struct st_tcp_event *e, struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* On the way to CLOSE, inet_put_port() clears skc_num before the state
	 * changes; inet_sport still holds the port the socket had. */
	if (!e->sport)
		e->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline struct st_sock_info *listener_lookup(struct st_listener_key *lk,
							    const struct st_tcp_event *e)
{
	struct st_sock_info *li;

	lk->netns = e->netns;
	lk->port = e->sport;
	lk->family = e->family;
	__builtin_memcpy(lk->addr, e->saddr, sizeof(lk->addr));
	li = bpf_map_lookup_elem(&listeners, lk);
	if (li)
		return li;
	__builtin_memset(lk->addr, 0, sizeof(lk->addr));
	return bpf_map_lookup_elem(&listeners, lk);
}

/* Filters, then copies the record into the ring buffer. */
static __always_inline void emit_record(struct sock *sk, struct st_tcp_event *r)
{
	struct st_tcp_event *e;

	if (event_filtered(r)) {
		counter_inc(ST_CNT_FILTERED);
		return;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(ST_CNT_LOST);
		return;
	}
	__builtin_memcpy(e, r, sizeof(*e));
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
}

static __always_inline int handle_state(struct sock *sk, int oldstate, int newstate, __u16 proto)
{
	struct st_sock_info fresh = {}, *si;
	struct st_listener_key lk = {};
	struct st_tcp_event tmp = {};
	__u64 key = (__u64)sk, birth_ts = 0;
	bool is_new = false;

	if (proto != IPPROTO_TCP || oldstate == newstate)
		return 0;

	/* Build the record on the stack first so the filters can look at it
	 * without reserving ring buffer space. */
	tmp.type = ST_EVENT_TCP_STATE;
	tmp.ts_ns = bpf_ktime_get_boot_ns();
	tmp.skaddr = key;
	tmp.old_ns = ST_OLD_NS_UNKNOWN;
	tmp.oldstate = oldstate;
	tmp.newstate = newstate;
	tmp.netns = sock_netns(sk);
	tmp.ino = sock_ino(sk);
	event_fill_tuple(&tmp, sk);

	si = bpf_map_lookup_elem(&socks, &key);
	/* connect(), listen() and a listener's clone start a socket's life: an
	 * entry found then is an earlier socket's at the same address, whose
	 * CLOSE the kernel did not report (entries go at CLOSE) */
	if (si && ((oldstate == ST_TCP_CLOSE && newstate == ST_TCP_SYN_SENT) ||
		   (oldstate == ST_TCP_CLOSE && newstate == ST_TCP_LISTEN) ||
		   (oldstate == ST_TCP_LISTEN && newstate == ST_TCP_SYN_RECV))) {
		if (si->state)
			counter_inc(ST_CNT_GAPS);
		si = NULL;
	}
	if (oldstate == ST_TCP_CLOSE && (newstate == ST_TCP_SYN_SENT || newstate == ST_TCP_LISTEN)) {
		/* connect() and listen() change state in the caller's context */
		owner_from_current(&fresh, newstate == ST_TCP_LISTEN ? ST_OWNER_LISTEN : ST_OWNER_CONNECT,
				   newstate == ST_TCP_LISTEN ? ST_ROLE_LISTENER : ST_ROLE_CLIENT);
		si = NULL;
	} else if (si) {
		if (si->birth_pending) {
			birth_ts = si->ts;
			si->birth_pending = 0;
		}
		if (si->ts)
			tmp.old_ns = tmp.ts_ns - si->ts;
		si->ts = tmp.ts_ns;
		tmp.prev_state = si->state;
	} else if (seed_take(&fresh, tmp.ino)) {
		/* it existed at startup: its owner as /proc named it */
	} else if (oldstate == ST_TCP_LISTEN && newstate == ST_TCP_CLOSE) {
		/* a listener we did not see start (userspace seeded it) */
		struct st_sock_info *li = listener_lookup(&lk, &tmp);

		if (li)
			fresh = *li;
		fresh.role = ST_ROLE_LISTENER;
	} else if (oldstate == ST_TCP_LISTEN || oldstate == ST_TCP_SYN_RECV ||
		   newstate == ST_TCP_SYN_RECV) {
		/* A child of a listener, created in softirq: its owner is the
		 * listener's until accept() says otherwise. The clone still
		 * carries the listener's state, hence oldstate LISTEN. */
		struct st_sock_info *li = listener_lookup(&lk, &tmp);

		/* a child is born and established in one softirq, so none is
		 * first seen in SYN_RECV unless its birth went unreported */
		if (oldstate == ST_TCP_SYN_RECV && births_seen)
			counter_inc(ST_CNT_GAPS);
		if (li) {
			fresh = *li;
			fresh.owner_src = ST_OWNER_LISTENER;
		}
		fresh.role = ST_ROLE_SERVER;
		/* Before 6.x's reordering, inet_csk_clone_lock() sets SYN_RECV
		 * before it copies the peer's address and port from the request:
		 * report the birth with the next transition, tuple complete. */
		fresh.birth_pending = oldstate == ST_TCP_LISTEN && !tmp.dport;
	}
	if (!si) {
		fresh.ts = tmp.ts_ns;
		si = &fresh;
		is_new = true;
	}
	/* A transition from a state other than the last one seen: the kernel
	 * did not run this program for the ones between (a tracepoint being
	 * attached or detached by another tracer, recursion protection).
	 * Counted here, before any filter. */
	if (tmp.prev_state && tmp.prev_state != oldstate)
		counter_inc(ST_CNT_GAPS);
	si->state = newstate;

	/* On the way to CLOSE the port is released (inet_put_port) before the
	 * state changes: show the one the connection had. */
	if (tmp.sport)
		si->lport = tmp.sport;
	else
		tmp.sport = si->lport;
	if (oldstate == ST_TCP_SYN_SENT && newstate == ST_TCP_CLOSE) {
		/* every failure path sets sk_err before tcp_done(): tcp_reset()
		 * ECONNREFUSED, tcp_write_err() ETIMEDOUT or the soft ICMP
		 * error, tcp_v4_err() the ICMP error. An ICMP error that came
		 * while connect() held the socket is only in sk_err_soft, or
		 * was taken from there by getsockopt(SO_ERROR) before the
		 * application's close(); 0 means close() without an error. */
		tmp.err = BPF_CORE_READ(sk, sk_err);
		if (!tmp.err)
			tmp.err = BPF_CORE_READ(sk, sk_err_soft);
		if (!tmp.err)
			tmp.err = si->soft_err;
	}
	tmp.syn_retrans = si->syn_retrans;
	tmp.pid = si->pid;
	tmp.tid = si->tid;
	tmp.owner_src = si->owner_src;
	tmp.role = si->role;
	__builtin_memcpy(tmp.comm, si->comm, sizeof(tmp.comm));

	if (newstate == ST_TCP_CLOSE)
		bpf_map_delete_elem(&socks, &key);
	else if (is_new && bpf_map_update_elem(&socks, &key, si, BPF_ANY))
		counter_inc(ST_CNT_NO_OWNER_SLOT);

	if (is_new && si->birth_pending)
		return 0;

	if (newstate == ST_TCP_LISTEN || (oldstate == ST_TCP_LISTEN && si->role == ST_ROLE_LISTENER)) {
		lk.netns = tmp.netns;
		lk.port = tmp.sport;
		lk.family = tmp.family;
		__builtin_memcpy(lk.addr, tmp.saddr, sizeof(lk.addr));
		if (newstate == ST_TCP_LISTEN)
			bpf_map_update_elem(&listeners, &lk, si, BPF_ANY);
		else
			bpf_map_delete_elem(&listeners, &lk);
	}

	if (birth_ts) {
		/* the birth deferred until the tuple was known (child case above) */
		struct st_tcp_event birth = tmp;

		birth.ts_ns = birth_ts;
		birth.old_ns = ST_OLD_NS_UNKNOWN;
		birth.oldstate = ST_TCP_LISTEN;
		birth.newstate = ST_TCP_SYN_RECV;
		birth.prev_state = 0;
		birth.err = 0;
		emit_record(sk, &birth);
	}
	emit_record(sk, &tmp);
	return 0;
}

/* The SYNs sent again before this one. tcp_retransmit_timer() counts a
 * retransmit in icsk_retransmits before it calls tcp_retransmit_skb() (on
 * every kernel with a BPF ring buffer; since 6.7 in tcp_update_rto_stats()),
 * so at the tracepoint and at the function's entry alike it already holds
 * this one. (total_retrans does not do for both: __tcp_retransmit_skb()
 * adds to it after the entry and before the tracepoint.) */
static __always_inline __u8 syn_retrans_before(struct sock *sk)
{
	__u8 n = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_retransmits);

	return n ? n - 1 : 0;
}

/* A SYN retransmitted while connecting: counted per socket, and reported
 * so that userspace can raise an alert at each one. */
static __always_inline int handle_retrans(struct sock *sk, int state)
{
	struct st_sock_info *si;
	struct st_tcp_event *e;
	__u64 key = (__u64)sk;

	if (state != ST_TCP_SYN_SENT)
		return 0;
	si = bpf_map_lookup_elem(&socks, &key);
	if (!si) {
		/* connecting since before we attached: the owner /proc named,
		 * and the kernel's own count of the SYNs sent again */
		struct st_sock_info fresh = {};

		seed_take(&fresh, sock_ino(sk));
		fresh.role = ST_ROLE_CLIENT;
		fresh.state = ST_TCP_SYN_SENT;
		fresh.ts = 0;
		fresh.syn_retrans = syn_retrans_before(sk);
		bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
		si = bpf_map_lookup_elem(&socks, &key);
		if (!si)
			return 0;
	}
	if (si->syn_retrans < 255)
		si->syn_retrans++;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(ST_CNT_LOST);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = ST_EVENT_SYN_RETRANS;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->skaddr = key;
	e->old_ns = ST_OLD_NS_UNKNOWN;
	e->netns = sock_netns(sk);
	e->ino = sock_ino(sk);
	event_fill_tuple(e, sk);
	e->oldstate = state;
	e->newstate = state;
	e->syn_retrans = si->syn_retrans;
	e->pid = si->pid;
	e->tid = si->tid;
	e->owner_src = si->owner_src;
	e->role = si->role;
	__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	/* rare and urgent: wake the reader now */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	counter_inc(ST_CNT_EVENTS);
	return 0;
}

/* accept() handed sk to the current process: it owns it from now on. */
static __always_inline int handle_accept(struct sock *sk)
{
	struct st_sock_info *si, fresh = {};
	__u64 key = (__u64)sk;

	if (!sk || sock_protocol(sk) != IPPROTO_TCP)
		return 0;
	si = bpf_map_lookup_elem(&socks, &key);
	if (!si) {
		/* its state time is unknown (ts 0) */
		owner_from_current(&fresh, ST_OWNER_ACCEPT, ST_ROLE_SERVER);
		bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
		return 0;
	}
	owner_from_current(si, ST_OWNER_ACCEPT, ST_ROLE_SERVER);
	return 0;
}

/* ---- TCP state transitions ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, struct sock *sk, int oldstate, int newstate)
{
	return handle_state(sk, oldstate, newstate, sock_protocol(sk));
}

SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return handle_state((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate,
			    ctx->protocol);
}

/* tcp_set_state() runs before the store, so sk_state is still the old one.
 * It does not see the SYN_RECV a listener's child is born in. */
SEC("fentry/tcp_set_state")
int BPF_PROG(state_fentry, struct sock *sk, int state)
{
	return handle_state(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, IPPROTO_TCP);
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(state_kprobe, struct sock *sk, int state)
{
	return handle_state(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, IPPROTO_TCP);
}

/* listen() moves a socket to LISTEN with inet_sk_state_store(), not with
 * tcp_set_state(): the fentry and kprobe variants need their own hook. */
SEC("fexit/inet_csk_listen_start")
int BPF_PROG(listen_fexit, struct sock *sk)
{
	__u64 ret = 0;

	if (bpf_get_func_ret(ctx, &ret) || (int)ret)
		return 0;
	return handle_state(sk, ST_TCP_CLOSE, ST_TCP_LISTEN, sock_protocol(sk));
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);	/* thread id */
	__type(value, __u64);	/* struct sock * */
} listen_args SEC(".maps");

SEC("kprobe/inet_csk_listen_start")
int BPF_KPROBE(listen_kprobe, struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 skp = (__u64)sk;

	bpf_map_update_elem(&listen_args, &tid, &skp, BPF_ANY);
	return 0;
}

SEC("kretprobe/inet_csk_listen_start")
int BPF_KRETPROBE(listen_kretprobe, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *skp = bpf_map_lookup_elem(&listen_args, &tid);
	struct sock *sk;

	if (!skp)
		return 0;
	sk = (struct sock *)*skp;
	bpf_map_delete_elem(&listen_args, &tid);
	if (ret)
		return 0;
	return handle_state(sk, ST_TCP_CLOSE, ST_TCP_LISTEN, sock_protocol(sk));
}

/* ---- SYN retransmits ---- */

/* Since Linux 6.16 the tracepoint also fires for a retransmit that failed
 * (its new err argument and field): no SYN left then. The tp_btf argument
 * and the field came in the same patch. */
static __always_inline bool retrans_has_err(void)
{
	return bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retrans_btf, struct sock *sk)
{
	/* a dead branch on kernels without the argument: never verified */
	if (retrans_has_err() && (int)ctx[2])
		return 0;
	return handle_retrans(sk, BPF_CORE_READ(sk, __sk_common.skc_state));
}

/* The layout of this tracepoint's first fields has not changed since 4.15. */
struct tcp_retransmit_skb_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retrans_tp(struct tcp_retransmit_skb_ctx *ctx)
{
	if (retrans_has_err() &&
	    BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb *)ctx, err))
		return 0;
	return handle_retrans((struct sock *)ctx->skaddr, ctx->state);
}

SEC("fentry/tcp_retransmit_skb")
int BPF_PROG(retrans_fentry, struct sock *sk)
{
	return handle_retrans(sk, BPF_CORE_READ(sk, __sk_common.skc_state));
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(retrans_kprobe, struct sock *sk)
{
	return handle_retrans(sk, BPF_CORE_READ(sk, __sk_common.skc_state));
}

/* ---- accept() ownership ---- */

SEC("fexit/inet_csk_accept")
int BPF_PROG(accept_fexit)
{
	__u64 ret = 0;

	/* the argument list changed in 6.10; the return value did not */
	if (bpf_get_func_ret(ctx, &ret))
		return 0;
	return handle_accept((struct sock *)ret);
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(accept_kretprobe, struct sock *sk)
{
	return handle_accept(sk);
}

/* The sock behind the current process's fd, following the fd table; NULL
 * if the fd is not a socket's. */
static __always_inline struct sock *sock_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds, *file = NULL;
	struct socket *sock;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	/* the private_data of a file that is not a socket is something else */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_tp(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept(sock_of_fd(ctx->ret));
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_tp(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept(sock_of_fd(ctx->ret));
}

/* ---- the error of a failed connect() ---- */

/* getsockopt(SO_ERROR) returns sk_err_soft and clears it: an ICMP error
 * that arrived while connect() held the socket (tcp_v4_err() and
 * tcp_v6_err() cannot close it then) is gone before the application's
 * close() moves the socket to CLOSE. Keep it for that transition. */
SEC("tracepoint/syscalls/sys_enter_getsockopt")
int so_error_tp(struct trace_event_raw_sys_enter *ctx)
{
	struct st_sock_info *si;
	struct sock *sk;
	__u64 key;
	int soft;

	if (ctx->args[1] != SOL_SOCKET || ctx->args[2] != SO_ERROR)
		return 0;
	sk = sock_of_fd((int)ctx->args[0]);
	if (!sk || sock_protocol(sk) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != ST_TCP_SYN_SENT)
		return 0;
	soft = BPF_CORE_READ(sk, sk_err_soft);
	if (!soft || BPF_CORE_READ(sk, sk_err))
		return 0;
	key = (__u64)sk;
	si = bpf_map_lookup_elem(&socks, &key);
	if (si)
		si->soft_err = soft;
	return 0;
}

/* ---- UDP flows ----
 *
 * Every datagram is counted in the kernel, in its flow's entry; the ring
 * buffer only carries a flow's start and its socket's release. Userspace
 * reads the counts, and ends flows on release or when idle. */

/* Resized by userspace (--udp-flows). A hash, not an LRU: a full table must
 * be counted, never silently make room by dropping a flow's counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct st_udp_key);
	__type(value, struct st_udp_flow);
} udp_flows SEC(".maps");

/* Sockets that have flows, so that their release is reported. Resized
 * with udp_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} udp_socks SEC(".maps");

struct udp_peer {
	union {
		__u8 addr[16];
		__u32 addr32[4];
	};
	__u32 tid;		/* the thread that left it */
	__u16 port;		/* host byte order */
	__u16 family;		/* 0: unknown, or already taken */
};

/* The peer of the datagram a thread is sending or receiving on a socket,
 * left by the cgroup sock_addr hooks for the send/recv tracepoints that
 * follow. Socket storage: found through the socket, no lookup by key, and
 * freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct udp_peer);
} udp_peers SEC(".maps");

/* tp_btf and fentry programs get BTF pointers they can load from directly
 * (no helper call); a kprobe's must go through bpf_probe_read_kernel(). */
#define SK_LOAD(direct, sk, field) ((direct) ? (sk)->field : BPF_CORE_READ(sk, field))

static __always_inline void sk_load_addr(bool direct, void *dst, const void *src, int len)
{
	if (direct)
		__builtin_memcpy(dst, src, len);
	else
		bpf_probe_read_kernel(dst, len, src);
}

static __always_inline bool sock_is_udp(struct sock *sk, bool direct)
{
	__u16 family;

	if (!sk)
		return false;
	family = SK_LOAD(direct, sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	/* sk_protocol was a bitfield before 5.6 (commit bf9765145b85) */
	return (direct ? BPF_CORE_READ_BITFIELD(sk, sk_protocol) : sock_protocol(sk)) ==
	       IPPROTO_UDP;
}

static __always_inline bool udp_filtered(const struct st_udp_key *k, __u16 family, __u16 lport)
{
	if (filter_family && family != filter_family)
		return true;
	if (filter_ports_on && !port_wanted(lport) && !port_wanted(k->rport))
		return true;
	if (filter_pids_on && !bpf_map_lookup_elem(&filter_pids, &k->pid))
		return true;
	return false;
}

static __always_inline void udp_emit_start(const struct st_udp_key *k,
					   const struct st_udp_flow *f)
{
	struct st_udp_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* userspace still finds the flow in the table */
		counter_inc(ST_CNT_LOST);
		return;
	}
	e->ts_ns = f->first_ns;
	e->type = ST_EVENT_UDP_START;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	e->key = *k;
	e->flow = *f;
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
}

/* One datagram of ret bytes sent (tx) or received on sk by the current
 * process (id: its pid_tgid). peer is where it went or came from, if the
 * caller knows; else the socket's connected peer, or none. */
static __always_inline void handle_udp(struct sock *sk, long ret, bool tx, __u64 id,
				       const struct udp_peer *peer, bool direct)
{
	struct st_udp_key key = {};
	struct st_udp_flow *f;
	__u16 family, lport;
	__u32 tick;
	long err;

	if (ret < 0)
		return;		/* a failed send or receive moved no data */
	key.skaddr = (__u64)sk;
	key.pid = id >> 32;
	family = SK_LOAD(direct, sk, __sk_common.skc_family);
	lport = SK_LOAD(direct, sk, __sk_common.skc_num);
	if (peer && peer->family) {
		key.rport = peer->port;
		if (peer->family == family) {
			__builtin_memcpy(key.raddr, peer->addr, 16);
		} else if (peer->family == AF_INET) {
			/* an IPv4 peer of an IPv6 socket: v4-mapped */
			key.raddr[10] = 0xff;
			key.raddr[11] = 0xff;
			__builtin_memcpy(&key.raddr[12], peer->addr, 4);
		}
	} else {
		key.rport = bpf_ntohs(SK_LOAD(direct, sk, __sk_common.skc_dport));
		if (family == AF_INET)
			sk_load_addr(direct, key.raddr, &sk->__sk_common.skc_daddr, 4);
		else
			sk_load_addr(direct, key.raddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	if (udp_filtered(&key, family, lport))
		return;
	/* reading the clock cost more than the rest of the count (85 of 270 ns
	 * per call, kernel.bpf_stats_enabled): a flow's latest time is taken
	 * once per tick, its first datagram's exactly */
	tick = (__u32)bpf_jiffies64();

	f = bpf_map_lookup_elem(&udp_flows, &key);
	if (!f) {
		struct st_udp_flow fresh = {};
		__u8 one = 1;

		fresh.first_ns = bpf_ktime_get_boot_ns();
		fresh.last_ns = fresh.first_ns;
		fresh.last_tick = tick;
		if (tx) {
			fresh.tx_bytes = ret;
			fresh.tx_packets = 1;
		} else {
			fresh.rx_bytes = ret;
			fresh.rx_packets = 1;
		}
		fresh.ino = sock_ino(sk);
		fresh.netns = sock_netns(sk);
		fresh.tid = (__u32)id;
		current_comm(fresh.comm);
		fresh.family = family;
		fresh.lport = lport;
		if (family == AF_INET)
			sk_load_addr(direct, fresh.laddr, &sk->__sk_common.skc_rcv_saddr, 4);
		else
			sk_load_addr(direct, fresh.laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		err = bpf_map_update_elem(&udp_flows, &key, &fresh, BPF_NOEXIST);
		if (!err) {
			bpf_map_update_elem(&udp_socks, &key.skaddr, &one, BPF_ANY);
			udp_emit_start(&key, &fresh);
			return;
		}
		/* another CPU created it first (EEXIST), or the table is full */
		f = err == -EEXIST ? bpf_map_lookup_elem(&udp_flows, &key) : NULL;
		if (!f) {
			counter_inc(ST_CNT_UDP_UNCOUNTED);
			counter_add(ST_CNT_UDP_UNCOUNTED_BYTES, ret);
			return;
		}
	}
	if (tx) {
		__sync_fetch_and_add(&f->tx_bytes, ret);
		__sync_fetch_and_add(&f->tx_packets, 1);
	} else {
		__sync_fetch_and_add(&f->rx_bytes, ret);
		__sync_fetch_and_add(&f->rx_packets, 1);
	}
	if (f->last_tick != tick) {
		f->last_tick = tick;
		f->last_ns = bpf_ktime_get_boot_ns();
	}
}

/* ---- TCP owners by I/O ----
 *
 * A process that sends or receives on a TCP socket uses it: it owns it from
 * now on. A server that accepts and forks (sshd, PostgreSQL, inetd) hands
 * the connection to the child that serves it and closes its own copy; the
 * child's first read makes it the owner. Send and receive run in the
 * caller's context, never in softirq. One lookup per call; an update only
 * when the owner changes. */
static __always_inline void handle_tcp_io(struct sock *sk, bool direct)
{
	struct st_sock_info *si, fresh = {};
	__u64 key = (__u64)sk, id = bpf_get_current_pid_tgid();

	si = bpf_map_lookup_elem(&socks, &key);
	if (si) {
		if (si->pid != id >> 32)
			owner_take(si, id, ST_OWNER_IO);
		return;
	}
	/* a recv() on a listener says nothing about its connections */
	if (SK_LOAD(direct, sk, __sk_common.skc_state) == ST_TCP_LISTEN)
		return;
	/* not seen since we attached: it existed at startup, or its entry
	 * made room for others */
	if (!seed_take(&fresh, sock_ino(sk)) || fresh.pid != id >> 32)
		owner_take(&fresh, id, ST_OWNER_IO);
	bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
}

/* sock_sendmsg()/sock_recvmsg() returned, on any socket. For UDP, the peer
 * of an unconnected socket was left behind by the cgroup hook that ran
 * inside udp_sendmsg() or udp_recvmsg() on this thread. */
static __always_inline int sock_io_done(struct sock *sk, int ret, int flags, bool tx)
{
	struct udp_peer peer = {}, *p;
	__u16 family;
	__u64 id;

	if (!sk)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	/* sk_protocol was a bitfield before 5.6 (commit bf9765145b85) */
	switch (BPF_CORE_READ_BITFIELD(sk, sk_protocol)) {
	case IPPROTO_TCP:
		if (tcp_io_on)
			handle_tcp_io(sk, true);
		return 0;
	case IPPROTO_UDP:
		if (udp_io_on)
			break;
		return 0;
	default:
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	/* a socket without storage (most connected ones) has no peer waiting:
	 * one load instead of a helper call */
	p = sk->sk_bpf_storage ? bpf_sk_storage_get(&udp_peers, sk, NULL, 0) : NULL;
	if (p && p->family) {
		if (p->tid == (__u32)id)
			peer = *p;
		p->family = 0;
	}
	if (!tx && (flags & MSG_PEEK))
		return 0;	/* the read that follows counts it */
	handle_udp(sk, ret, tx, id, &peer, true);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(io_send_btf, struct sock *sk, int ret, int flags)
{
	return sock_io_done(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(io_recv_btf, struct sock *sk, int ret, int flags)
{
	return sock_io_done(sk, ret, flags, false);
}

/* The other variants of TCP owners by I/O; each runs for TCP only. */
SEC("tracepoint/sock/sock_send_length")
int tcp_send_tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP && ctx->sk)
		handle_tcp_io(ctx->sk, false);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int tcp_recv_tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP && ctx->sk)
		handle_tcp_io(ctx->sk, false);
	return 0;
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(tcp_send_fentry, struct sock *sk)
{
	handle_tcp_io(sk, true);
	return 0;
}

SEC("fentry/tcp_recvmsg")
int BPF_PROG(tcp_recv_fentry, struct sock *sk)
{
	handle_tcp_io(sk, true);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_send_kprobe, struct sock *sk)
{
	handle_tcp_io(sk, false);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(tcp_recv_kprobe, struct sock *sk)
{
	handle_tcp_io(sk, false);
	return 0;
}

static __always_inline void udp_peer_stash(struct bpf_sock_addr *ctx, bool v6)
{
	struct udp_peer *p;

	p = bpf_sk_storage_get(&udp_peers, ctx->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!p)
		return;
	p->tid = (__u32)bpf_get_current_pid_tgid();
	p->port = bpf_ntohs((__u16)ctx->user_port);
	if (v6) {
		p->addr32[0] = ctx->user_ip6[0];
		p->addr32[1] = ctx->user_ip6[1];
		p->addr32[2] = ctx->user_ip6[2];
		p->addr32[3] = ctx->user_ip6[3];
	} else {
		p->addr32[0] = ctx->user_ip4;
	}
	p->family = v6 ? AF_INET6 : AF_INET;
}

/* Destination of a sendto() on an unconnected socket; 1 lets it through. */
SEC("cgroup/sendmsg4")
int udp_sendmsg4(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, false);
	return 1;
}

SEC("cgroup/sendmsg6")
int udp_sendmsg6(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, true);
	return 1;
}

/* Source address recvfrom() is about to return. */
SEC("cgroup/recvmsg4")
int udp_recvmsg4(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, false);
	return 1;
}

SEC("cgroup/recvmsg6")
int udp_recvmsg6(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, true);
	return 1;
}

/* The address in a msghdr: where sendto() sends, or where recvfrom() says
 * the datagram came from. Kernel memory: the syscall copied it in. */
static __always_inline void peer_from_msg(struct msghdr *msg, struct udp_peer *p)
{
	void *name = BPF_CORE_READ(msg, msg_name);
	struct sockaddr_in6 sin6;
	__u16 family = 0;

	if (!name || bpf_probe_read_kernel(&family, sizeof(family), name))
		return;
	if (family == AF_INET) {
		struct sockaddr_in sin;

		if (bpf_probe_read_kernel(&sin, sizeof(sin), name))
			return;
		p->addr32[0] = sin.sin_addr.s_addr;
		p->port = bpf_ntohs(sin.sin_port);
		p->family = AF_INET;
	} else if (family == AF_INET6) {
		if (bpf_probe_read_kernel(&sin6, sizeof(sin6), name))
			return;
		__builtin_memcpy(p->addr, &sin6.sin6_addr, 16);
		p->port = bpf_ntohs(sin6.sin6_port);
		p->family = AF_INET6;
	}
}

static __always_inline int udp_func_done(struct sock *sk, struct msghdr *msg, long ret,
					 int flags, bool tx, bool v6_func, bool direct)
{
	struct udp_peer peer = {};

	if (!sock_is_udp(sk, direct))
		return 0;
	/* udpv6_sendmsg() hands IPv4 destinations to udp_sendmsg(): count the
	 * datagram once, in the IPv6 function */
	if (!v6_func && SK_LOAD(direct, sk, __sk_common.skc_family) == AF_INET6)
		return 0;
	if (!tx && (flags & MSG_PEEK))
		return 0;
	if (ret >= 0 && msg)
		peer_from_msg(msg, &peer);
	handle_udp(sk, ret, tx, bpf_get_current_pid_tgid(), &peer, direct);
	return 0;
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(udp_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	return udp_func_done(sk, msg, ret, 0, true, false, true);
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(udp6_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	return udp_func_done(sk, msg, ret, 0, true, true, true);
}

/* The flags' position and the return value's depend on the kernel (see
 * recv_flags_arg): read them through the helpers. */
static __always_inline int udp_recv_fexit(unsigned long long *ctx, struct sock *sk,
					  struct msghdr *msg, bool v6_func)
{
	__u64 flags = 0, ret = 0;

	if (bpf_get_func_arg(ctx, recv_flags_arg, &flags) || bpf_get_func_ret(ctx, &ret))
		return 0;
	return udp_func_done(sk, msg, (int)ret, (int)flags, false, v6_func, true);
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(udp_recv_fexit4, struct sock *sk, struct msghdr *msg)
{
	return udp_recv_fexit(ctx, sk, msg, false);
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(udp_recv_fexit6, struct sock *sk, struct msghdr *msg)
{
	return udp_recv_fexit(ctx, sk, msg, true);
}

/* kprobe variant: the arguments wait in a map for the kretprobe. */
struct udp_args {
	__u64 sk;
	__u64 msg;
	__u32 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct udp_args);
} udp_args SEC(".maps");

static __always_inline int udp_kprobe_enter(struct sock *sk, struct msghdr *msg, int flags,
					    bool v6_func)
{
	struct udp_args a = { .sk = (__u64)sk, .msg = (__u64)msg, .flags = flags };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	/* the nested udp_sendmsg() of an IPv6 socket must not overwrite the
	 * arguments of its udpv6_sendmsg() */
	if (!v6_func && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6)
		return 0;
	bpf_map_update_elem(&udp_args, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int udp_kprobe_exit(long ret, bool tx, bool v6_func)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct udp_args *a = bpf_map_lookup_elem(&udp_args, &tid);
	struct msghdr *msg;
	struct sock *sk;
	int flags;

	if (!a)
		return 0;
	/* locals, so that CO-RE relocates the reads from sk, not from udp_args */
	sk = (struct sock *)a->sk;
	msg = (struct msghdr *)a->msg;
	flags = a->flags;
	/* the udp_sendmsg() nested in udpv6_sendmsg() returns first: the
	 * arguments are its caller's */
	if (!v6_func && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6)
		return 0;
	bpf_map_delete_elem(&udp_args, &tid);
	return udp_func_done(sk, msg, ret, flags, tx, v6_func, false);
}

static __always_inline int recv_flags(struct pt_regs *ctx)
{
	long p4 = PT_REGS_PARM4(ctx), p5 = PT_REGS_PARM5(ctx);

	/* both loads at fixed offsets: the verifier refuses a ctx load at an
	 * offset computed from recv_flags_arg, which clang would make */
	barrier_var(p4);
	barrier_var(p5);
	return recv_flags_arg == 4 ? p5 : p4;
}

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(udp_send_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, 0, false);
}

SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(udp_send_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, true, false);
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(udp6_send_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, 0, true);
}

SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(udp6_send_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, true, true);
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(udp_recv_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, recv_flags(ctx), false);
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(udp_recv_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, false, false);
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(udp6_recv_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, recv_flags(ctx), true);
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(udp6_recv_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, false, true);
}

/* A UDP socket is released (its last close()): its flows end. The context
 * is the struct sock itself. */
SEC("cgroup/sock_release")
int udp_release(struct bpf_sock *ctx)
{
	struct st_udp_event *e;
	__u64 skaddr;

	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	skaddr = (__u64)ctx;
	if (!bpf_map_lookup_elem(&udp_socks, &skaddr))
		return 1;
	bpf_map_delete_elem(&udp_socks, &skaddr);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* the flows still end, once idle */
		counter_inc(ST_CNT_LOST);
		return 1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->type = ST_EVENT_UDP_CLOSE;
	e->key.skaddr = skaddr;
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
