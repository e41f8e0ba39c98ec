/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tcp_state: every TCP state transition, with the socket's owner. The
 * programs (tp_btf, tracepoint, fentry/fexit, kprobe/kretprobe) are in
 * socktrace.bpf.c. */
#ifndef ST_TCP_STATE_BPF_H
#define ST_TCP_STATE_BPF_H

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
	return cgroup_skipped(e->cgroup_id);
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

/* A listener closes: the owner accept() last gave its entry in listeners
 * (see listener_owner_refresh()) is newer than the one listen() gave it.
 * The entry is this listener's if it holds the time of this listener's
 * LISTEN (its only transition so far): SO_REUSEPORT listeners share a key. */
static __always_inline void listener_owner_update(struct st_sock_info *si,
						  struct st_listener_key *lk,
						  const struct st_tcp_event *e)
{
	struct st_sock_info *li = listener_lookup(lk, e);

	if (li && li->ts == si->ts && li->pid != si->pid)
		owner_copy(si, li);
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

static __always_inline int handle_state(struct sock *sk, int oldstate, int newstate, __u16 proto,
					bool direct)
{
	struct st_sock_info fresh = {}, *si;
	struct st_listener_key lk = {};
	struct st_tcp_event tmp = {};
	struct conn_end ce = {};
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
	tmp.netns = sock_netns(sk, direct);
	tmp.ino = sock_ino(sk, direct);
	event_fill_tuple(&tmp, sk, direct);

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
		/* who holds the listener once this owner exits: userspace asks /proc */
		if (newstate == ST_TCP_LISTEN)
			fresh.listen_ino = tmp.ino;
		si = NULL;
	} else if (si) {
		if (oldstate == ST_TCP_LISTEN && newstate == ST_TCP_CLOSE &&
		    si->role == ST_ROLE_LISTENER)
			listener_owner_update(si, &lk, &tmp);
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
	conn_track(si, oldstate, newstate, tmp.ts_ns, is_new);

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
		tmp.err = SK_LOAD(direct, sk, sk_err);
		if (!tmp.err)
			tmp.err = SK_LOAD(direct, sk, sk_err_soft);
		if (!tmp.err)
			tmp.err = si->soft_err;
	}
	tmp.syn_retrans = si->syn_retrans;
	event_owner(&tmp, si);

	if (newstate == ST_TCP_CLOSE) {
		conn_keep(&ce, si);
		bpf_map_delete_elem(&socks, &key);
	} else if (is_new && bpf_map_update_elem(&socks, &key, si, BPF_ANY))
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
	if (newstate == ST_TCP_CLOSE)
		conn_emit(sk, &tmp, &ce);
	return 0;
}

/* kprobe variant of listen(): the socket waits here for the kretprobe. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);	/* thread id */
	__type(value, __u64);	/* struct sock * */
} listen_args SEC(".maps");

static __always_inline int listen_kprobe_enter(struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 skp = (__u64)sk;

	bpf_map_update_elem(&listen_args, &tid, &skp, BPF_ANY);
	return 0;
}

static __always_inline int listen_kprobe_exit(int ret)
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
	return handle_state(sk, ST_TCP_CLOSE, ST_TCP_LISTEN, sock_protocol(sk, false), false);
}

#endif /* ST_TCP_STATE_BPF_H */
