/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tcp_conn: one record per TCP connection at its end, with the kernel's own
 * counters read once from struct tcp_sock (as tcp_get_info() reports them
 * to ss -ti): nothing runs per packet. handle_state() (tcp_state.bpf.h)
 * calls these, so every tcp_state hook variant has them. */
#ifndef ST_TCP_CONN_BPF_H
#define ST_TCP_CONN_BPF_H

#define EPIPE		32
#define ECONNABORTED	103
#define ECONNRESET	104
#define ETIMEDOUT	110
#define ECONNREFUSED	111

/* Boot time tracing started, set by userspace: the start of connections
 * that predate it (the snapshot saw them then). */
const volatile __u64 trace_start_ns = 0;

/* --retrans: a record per retransmit of a connection, at most one a tick. */
const volatile bool conn_retrans_on = false;
#define RETRANS_TICK_SHIFT 30	/* ~1.07 s */

/* defined in tcp_state.bpf.h, which includes this header's callers */
static __always_inline bool event_filtered(const struct st_tcp_event *e);

/* What the end record needs of the socks entry, which CLOSE deletes. */
struct conn_end {
	__u64 born;
	__u8 closed_first;
	__u8 flags;
};

/* Every transition: a new entry's birth (or first sight), and which side
 * sent the first FIN, also inferred from the state of a connection first
 * seen after it. */
static __always_inline void conn_track(struct st_sock_info *si, int oldstate, int newstate,
				       __u64 ts, bool is_new)
{
	/* or an entry that accept() or the first send made before the
	 * socket's first transition: on 6.12 the listener's process can take
	 * a child from the accept queue before the softirq that queued it
	 * moves it SYN_RECV -> ESTABLISHED (seen under qemu with fentry) */
	if (is_new || !si->born) {
		/* fentry/kprobe do not see a child's LISTEN -> SYN_RECV: its
		 * first transition, SYN_RECV -> ESTABLISHED, is its birth */
		bool birth = (oldstate == ST_TCP_CLOSE && newstate == ST_TCP_SYN_SENT) ||
			     newstate == ST_TCP_SYN_RECV ||
			     (oldstate == ST_TCP_SYN_RECV && !births_seen);

		si->born = birth || !trace_start_ns ? ts : trace_start_ns;
		si->conn_flags = birth ? 0 : ST_CONN_PREDATES;
		si->closed_first = ST_CLOSER_NONE;
	}
	if (si->closed_first)
		return;
	if (newstate == ST_TCP_FIN_WAIT1 || oldstate == ST_TCP_FIN_WAIT1 ||
	    oldstate == ST_TCP_FIN_WAIT2 || oldstate == ST_TCP_CLOSING)
		si->closed_first = ST_CLOSER_LOCAL;
	else if (newstate == ST_TCP_CLOSE_WAIT || oldstate == ST_TCP_CLOSE_WAIT ||
		 oldstate == ST_TCP_LAST_ACK)
		si->closed_first = ST_CLOSER_REMOTE;
}

static __always_inline void conn_keep(struct conn_end *ce, const struct st_sock_info *si)
{
	ce->born = si->born;
	ce->closed_first = si->closed_first;
	ce->flags = si->conn_flags;
}

/* Whether the peer's FIN was taken in order: tcp_fin() sets SOCK_DONE
 * after tcp_rcv_nxt_update() has counted the FIN's sequence number in
 * bytes_received (tcp_data_queue(), tcp_ofo_queue()); no other TCP path
 * sets it, and tcp_disconnect() clears it with the counters. */
static __always_inline bool conn_fin_received(unsigned long sk_flags)
{
	return sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE));
}

/* The counters tcp_get_info() reports, with its units: srtt_us is kept
 * times 8 and mdev_us times 4 (tcp_rtt_estimator()). BPF_CORE_READ works
 * on every hook variant's pointer. */
static __always_inline void conn_read(struct sock *sk, struct st_tcp_conn *c)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	/* bytes_sent and bytes_retrans came in 4.19 (commit ba113c3aa79a) */
	if (bpf_core_field_exists(tp->bytes_sent)) {
		c->bytes_sent = BPF_CORE_READ(tp, bytes_sent);
		c->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
	} else {
		c->flags |= ST_CONN_NO_BYTES_SENT;
	}
	c->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	/* userspace counts the payload alone */
	c->bytes_received = BPF_CORE_READ(tp, bytes_received);
	if (conn_fin_received(BPF_CORE_READ(sk, __sk_common.skc_flags)))
		c->flags |= ST_CONN_FIN_RECEIVED;
	c->segs_in = BPF_CORE_READ(tp, segs_in);
	c->segs_out = BPF_CORE_READ(tp, segs_out);
	c->total_retrans = BPF_CORE_READ(tp, total_retrans);
	c->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	c->rttvar_us = BPF_CORE_READ(tp, mdev_us) >> 2;
	c->min_rtt_us = BPF_CORE_READ(tp, rtt_min.s[0].v);
}

/* How it ended, at the transition to CLOSE. tcp_done_with_error() (and
 * before 6.10 tcp_reset()/tcp_write_err()) sets sk_err before tcp_done():
 * ECONNRESET, or EPIPE in CLOSE_WAIT, for a reset received; ETIMEDOUT, or
 * the soft ICMP error, when retransmissions or keepalives ran out;
 * tcp_abort() (ss -K) ECONNABORTED. An abort by the application
 * (tcp_disconnect(), __tcp_close() with unread data) sets the state before
 * it sends its reset and sets no error. */
static __always_inline __u8 conn_end_reason(struct sock *sk, struct st_tcp_event *e)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	int err;

	if (e->oldstate == ST_TCP_SYN_SENT) {
		/* e->err: tcp_state's reading, with the soft errors */
		if (e->err == ECONNREFUSED)
			return ST_END_REFUSED;
		if (e->err == ETIMEDOUT)
			return ST_END_TIMEOUT;
		return e->err ? ST_END_UNREACHABLE : ST_END_ABORTED;
	}
	err = BPF_CORE_READ(sk, sk_err);
	e->err = err;
	if (err == ECONNRESET || err == EPIPE)
		return ST_END_RST_RECEIVED;
	if (err == ECONNABORTED)
		return ST_END_ABORTED;
	if (err) {
		/* tcp_keepalive_timer() probes only with nothing unacked and
		 * nothing queued; the retransmission timer has data unacked.
		 * Sequence numbers, as the purge before tcp_done() zeroes
		 * packets_out (tcp_done_with_error(), 6.10) */
		__u32 nxt = BPF_CORE_READ(tp, snd_nxt);

		if (BPF_CORE_READ(tp, snd_una) == nxt && BPF_CORE_READ(tp, write_seq) == nxt)
			return ST_END_KEEPALIVE;
		return ST_END_TIMEOUT;
	}
	switch (e->oldstate) {
	case ST_TCP_FIN_WAIT2:	/* tcp_time_wait() */
	case ST_TCP_CLOSING:
	case ST_TCP_LAST_ACK:
	case ST_TCP_TIME_WAIT:
		return ST_END_FIN;
	default:
		return ST_END_RST_SENT;
	}
}

/* The end record, after the transition's own: same tuple, owner and
 * filter. Not for listeners, which carry no connection. */
static __always_inline void conn_emit(struct sock *sk, const struct st_tcp_event *t,
				      const struct conn_end *ce)
{
	struct st_tcp_conn_event *e;

	if (t->oldstate == ST_TCP_LISTEN || t->role == ST_ROLE_LISTENER)
		return;
	/* the transition's emit counted it as filtered */
	if (event_filtered(t))
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(ST_CNT_LOST);
		return;
	}
	__builtin_memcpy(&e->base, t, sizeof(e->base));
	__builtin_memset(&e->conn, 0, sizeof(e->conn));
	e->base.type = ST_EVENT_TCP_CONN;
	conn_read(sk, &e->conn);
	e->conn.start_ns = ce->born ? ce->born : trace_start_ns ? trace_start_ns : t->ts_ns;
	e->conn.flags |= ce->born ? ce->flags : ST_CONN_PREDATES;
	e->conn.closed_first = ce->closed_first;
	e->conn.state = t->oldstate;
	e->conn.end = conn_end_reason(sk, &e->base);
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
}

/* A segment of an established (or closing) connection retransmitted: a
 * record with its counters so far, at most one per connection per tick;
 * the retransmits between are counted in the next one's "held", so a storm
 * of them costs map updates, not ring buffer records. Every variant runs
 * after __tcp_retransmit_skb() counted this one in total_retrans. */
static __always_inline int conn_retrans(struct sock *sk, int state, bool direct)
{
	struct st_tcp_conn_event *e;
	struct st_sock_info *si;
	__u64 key = (__u64)sk, now = bpf_ktime_get_boot_ns();
	__u32 tick = (__u32)(now >> RETRANS_TICK_SHIFT) | 1;	/* never 0: 0 is "none yet" */
	__u16 held;

	if (!conn_retrans_on)
		return 0;
	si = bpf_map_lookup_elem(&socks, &key);
	if (!si) {
		/* a connection from before tracing: its owner as /proc named it */
		struct st_sock_info fresh = {};

		seed_take(&fresh, sock_ino(sk, direct));
		fresh.state = state;
		fresh.born = trace_start_ns;
		fresh.conn_flags = ST_CONN_PREDATES;
		bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
		si = bpf_map_lookup_elem(&socks, &key);
		if (!si)
			return 0;
	}
	if (si->retrans_tick == tick) {
		if (si->retrans_held < 0xffff)
			si->retrans_held++;
		return 0;
	}
	held = si->retrans_held;
	si->retrans_held = 0;
	si->retrans_tick = tick;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(ST_CNT_LOST);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->base.type = ST_EVENT_TCP_CONN;
	e->base.ts_ns = now;
	e->base.skaddr = key;
	e->base.old_ns = ST_OLD_NS_UNKNOWN;
	e->base.oldstate = state;
	e->base.newstate = state;
	e->base.netns = sock_netns(sk, direct);
	e->base.ino = sock_ino(sk, direct);
	event_fill_tuple(&e->base, sk, direct);
	event_owner(&e->base, si);
	if (event_filtered(&e->base)) {
		bpf_ringbuf_discard(e, 0);
		counter_inc(ST_CNT_FILTERED);
		return 0;
	}
	conn_read(sk, &e->conn);
	e->conn.start_ns = si->born ? si->born : trace_start_ns;
	e->conn.flags |= (si->born ? si->conn_flags : ST_CONN_PREDATES) | ST_CONN_RETRANS;
	e->conn.closed_first = si->closed_first;
	e->conn.state = state;
	e->conn.held = held;
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
	return 0;
}

/* The same counters through the iterator's BTF pointer: plain loads, no
 * helper call per field (the iterator runs for every connection of every
 * round, the transition once per connection). */
static __always_inline void conn_read_direct(struct tcp_sock *tp, struct st_tcp_conn *c)
{
	if (bpf_core_field_exists(tp->bytes_sent)) {
		c->bytes_sent = tp->bytes_sent;
		c->bytes_retrans = tp->bytes_retrans;
	} else {
		c->flags |= ST_CONN_NO_BYTES_SENT;
	}
	c->bytes_acked = tp->bytes_acked;
	c->bytes_received = tp->bytes_received;
	if (conn_fin_received(tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags))
		c->flags |= ST_CONN_FIN_RECEIVED;
	c->segs_in = tp->segs_in;
	c->segs_out = tp->segs_out;
	c->total_retrans = tp->total_retrans;
	c->srtt_us = tp->srtt_us >> 3;
	c->rttvar_us = tp->mdev_us >> 2;
	c->min_rtt_us = tp->rtt_min.s[0].v;
}

/* iter/tcp (--interval): the counters so far of every connection in the
 * iterator's network namespace, written to its seq_file, not the ring
 * buffer. Listeners, attempts, request and time-wait sockets have none. */
static __always_inline int conn_iter(struct bpf_iter_meta *meta, struct sock_common *skc)
{
	struct st_tcp_conn_event e = {};
	struct st_sock_info *si;
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 key;
	int state;

	if (!skc)
		return 0;
	state = skc->skc_state;
	if (state == ST_TCP_LISTEN || state == ST_TCP_SYN_SENT || state == ST_TCP_TIME_WAIT ||
	    state == ST_TCP_NEW_SYN_RECV || state == ST_TCP_CLOSE)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	key = (__u64)sk;
	e.base.type = ST_EVENT_TCP_CONN;
	e.base.skaddr = key;
	e.base.old_ns = ST_OLD_NS_UNKNOWN;
	e.base.oldstate = state;
	e.base.newstate = state;
	e.base.family = skc->skc_family;
	e.base.sport = skc->skc_num;
	e.base.dport = bpf_ntohs(skc->skc_dport);
	if (e.base.family == AF_INET) {
		__u32 *s4 = (__u32 *)e.base.saddr, *d4 = (__u32 *)e.base.daddr;

		*s4 = skc->skc_rcv_saddr;
		*d4 = skc->skc_daddr;
	} else {
		__builtin_memcpy(e.base.saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e.base.daddr, &skc->skc_v6_daddr, 16);
	}
	e.base.netns = skc->skc_net.net->ns.inum;
	e.base.ino = sock_ino(sk, true);	/* the iterator's BTF pointer */
	e.conn.start_ns = trace_start_ns;
	e.conn.flags = ST_CONN_PREDATES;
	si = bpf_map_lookup_elem(&socks, &key);
	if (!si && e.base.ino)
		si = bpf_map_lookup_elem(&seeds, &e.base.ino);
	if (si) {
		event_owner(&e.base, si);
		if (si->born) {
			e.conn.start_ns = si->born;
			e.conn.flags = si->conn_flags;
		}
		e.conn.closed_first = si->closed_first;
	}
	if (event_filtered(&e.base))
		return 0;
	conn_read_direct(tp, &e.conn);
	e.conn.flags |= ST_CONN_UPDATE;
	e.conn.state = state;
	bpf_seq_write(meta->seq, &e, sizeof(e));
	return 0;
}

#endif /* ST_TCP_CONN_BPF_H */
