/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* retransmit: SYNs retransmitted while connecting. The programs are in
 * socktrace.bpf.c. */
#ifndef ST_RETRANSMIT_BPF_H
#define ST_RETRANSMIT_BPF_H

/* The SYNs sent again before this one. tcp_retransmit_timer() counts a
 * retransmit in icsk_retransmits before it calls tcp_retransmit_skb() (on
 * every kernel with a BPF ring buffer; since 6.7 in tcp_update_rto_stats()),
 * so at the tracepoint and at the function's entry alike it already holds
 * this one. (total_retrans does not do for both: __tcp_retransmit_skb()
 * adds to it after the entry and before the tracepoint.) */
static __always_inline __u8 syn_retrans_before(struct sock *sk)
{
	/* with the helper whatever the variant: icsk_retransmits is past the
	 * end of the struct sock the verifier knows sk as (a first retransmit
	 * of a socket from before the start only) */
	__u8 n = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_retransmits);

	return n ? n - 1 : 0;
}

/* A SYN retransmitted while connecting: counted per socket, and reported
 * so that userspace can raise an alert at each one. */
static __always_inline int handle_retrans(struct sock *sk, int state, bool direct)
{
	struct st_sock_info *si;
	struct st_tcp_event *e;
	__u64 key = (__u64)sk;

	if (state != ST_TCP_SYN_SENT)
		return conn_retrans(sk, state, direct);	/* tcp_conn.bpf.h: --retrans */
	si = bpf_map_lookup_elem(&socks, &key);
	if (!si) {
		/* connecting since before we attached: the owner /proc named,
		 * and the kernel's own count of the SYNs sent again */
		struct st_sock_info fresh = {};

		seed_take(&fresh, sock_ino(sk, false));
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
	/* pointers through the helper: a SYN retransmit is rare, and each
	 * pointer load from a tp_btf argument costs the verifier four linear
	 * searches of the kernel's BTF (see handle_udp()) */
	e->netns = sock_netns(sk, false);
	e->ino = sock_ino(sk, false);
	event_fill_tuple(e, sk, direct);
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

/* Since Linux 6.16 the tracepoint also fires for a retransmit that failed
 * (its new err argument and field): no SYN left then. The tp_btf argument
 * and the field came in the same patch. */
static __always_inline bool retrans_has_err(void)
{
	return bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err);
}

/* The layout of this tracepoint's first fields has not changed since 4.15. */
struct tcp_retransmit_skb_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
};

#endif /* ST_RETRANSMIT_BPF_H */
