/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* retransmit: SYNs retransmitted while connecting. The programs are in
 * socktrace.bpf.c. */
#ifndef ST_RETRANSMIT_BPF_H
#define ST_RETRANSMIT_BPF_H

/* The SYNs sent again before this one. tcp_retransmit_timer() counts a
 * retransmit in icsk_retransmits before it calls tcp_retransmit_skb() (on
 * every kernel with a BPF ring buffer; since 6.7 in tcp_update_rto_stats()),
 * so at the tracepoint and at the function's return alike it already holds
 * this one. */
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
	event_owner(e, si);
	/* rare and urgent: wake the reader now */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	counter_inc(ST_CNT_EVENTS);
	return 0;
}

/* The fentry and kprobe variants run where the tracepoint's count holds
 * this retransmit: at the return of tcp_retransmit_skb(), as
 * __tcp_retransmit_skb() adds the segments to total_retrans (and
 * RetransSegs) before it transmits, so the entry had one less. A
 * retransmit that failed is not reported, as before 6.16 the tracepoint
 * does not fire for it: the next record's count has it. Tail loss probes
 * call __tcp_retransmit_skb() directly, which Debian's 6.1 has inlined into
 * tcp_retransmit_skb() (its fexit saw no other retransmit): they are
 * found at the return of tcp_send_loss_probe() by total_retrans. */
static __always_inline int retrans_done(struct sock *sk, int ret, bool direct)
{
	if (ret)
		return 0;
	return handle_retrans(sk, SK_LOAD(direct, sk, __sk_common.skc_state), direct);
}

/* The kprobe's socket for the kretprobe, per thread: a timer's retransmit
 * in softirq can interrupt one in process context (the backlog runs with
 * BHs on, preemptible), on the same thread, so a stack of two. */
struct retrans_args {
	__u64 sk[2];
	__u32 depth;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);	/* thread id */
	__type(value, struct retrans_args);
} retrans_args SEC(".maps");

static __always_inline int retrans_kprobe_enter(struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct retrans_args *a = bpf_map_lookup_elem(&retrans_args, &tid), fresh = {};

	if (!a) {
		fresh.sk[0] = (__u64)sk;
		fresh.depth = 1;
		bpf_map_update_elem(&retrans_args, &tid, &fresh, BPF_ANY);
		return 0;
	}
	/* deeper: a return was missed (kretprobe maxactive), start again */
	if (a->depth >= 2)
		a->depth = 0;
	a->sk[a->depth & 1] = (__u64)sk;
	a->depth++;
	return 0;
}

static __always_inline int retrans_kprobe_exit(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct retrans_args *a = bpf_map_lookup_elem(&retrans_args, &tid);
	struct sock *sk;

	if (!a || !a->depth)
		return 0;
	a->depth--;
	sk = (struct sock *)a->sk[a->depth & 1];
	if (!a->depth)
		bpf_map_delete_elem(&retrans_args, &tid);
	return retrans_done(sk, ret, false);
}

/* A tail loss probe's socket and its total_retrans at the entry. Per CPU:
 * tcp_send_loss_probe() runs in the write timer's softirq, or from
 * release_sock() under its spinlock with BHs off; never interrupted by
 * another, never migrated. */
struct tlp_entry {
	__u64 sk;
	__u32 total_retrans;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tlp_entry);
} tlp_entries SEC(".maps");

static __always_inline int tlp_enter(struct sock *sk)
{
	struct tlp_entry *t = bpf_map_lookup_elem(&tlp_entries, &(__u32){ 0 });

	if (!t)
		return 0;
	t->sk = (__u64)sk;
	/* with the helper whatever the variant: past the end of struct sock */
	t->total_retrans = BPF_CORE_READ((struct tcp_sock *)sk, total_retrans);
	return 0;
}

/* The entry's socket if the probe retransmitted (total_retrans grew), else
 * 0: one that sent new data, or nothing, did not. sk_arg is the fexit's
 * argument, 0 for the kretprobe. The caller reads through its own pointer:
 * the fexit's, typed, for direct loads. */
static __always_inline __u64 tlp_exit(__u64 sk_arg)
{
	struct tlp_entry *t = bpf_map_lookup_elem(&tlp_entries, &(__u32){ 0 });
	__u64 sk;
	__u32 before;

	if (!t || !t->sk || (sk_arg && t->sk != sk_arg))
		return 0;
	sk = t->sk;
	before = t->total_retrans;
	t->sk = 0;
	if (BPF_CORE_READ((struct tcp_sock *)sk, total_retrans) == before)
		return 0;
	return sk;
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
