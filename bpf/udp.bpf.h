/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* udp: UDP flows. Every datagram is counted in the kernel, in its flow's
 * entry (udp_flows); the ring buffer only carries a flow's start and its
 * socket's release (udp_close.bpf.h). Userspace reads the counts, and ends
 * flows on release or when idle. The programs are in socktrace.bpf.c; the
 * tp_btf variant shares its programs with tcp_io (sock_length.bpf.h). */
#ifndef ST_UDP_BPF_H
#define ST_UDP_BPF_H

static __always_inline bool sock_is_udp(struct sock *sk, bool direct)
{
	__u16 family;

	if (!sk)
		return false;
	family = SK_LOAD(direct, sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	return sock_protocol(sk, direct) == IPPROTO_UDP;
}

static __always_inline bool udp_filtered(const struct st_udp_key *k, __u16 family, __u16 lport)
{
	if (filter_family && family != filter_family)
		return true;
	if (filter_ports_on && !port_wanted(lport) && !port_wanted(k->rport))
		return true;
	if (filter_pids_on && !bpf_map_lookup_elem(&filter_pids, &k->pid))
		return true;
	/* the flow's cgroup is its first datagram's process's */
	return filter_cgroups_on && cgroup_skipped(bpf_get_current_cgroup_id());
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
		/* through the helper, once per flow: each load of a pointer
		 * from a tp_btf argument costs the verifier four linear
		 * searches of the kernel's BTF (btf_nested_type_is_trusted()),
		 * and the key's branches reach here on six paths */
		fresh.ino = sock_ino(sk, false);
		fresh.netns = sock_netns(sk, false);
		fresh.tid = (__u32)id;
		current_comm(fresh.comm, id);
		/* per flow, not per datagram: the process of its first one */
		fresh.cgroup_id = bpf_get_current_cgroup_id();
		fresh.vpid = current_vpid();
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

/* tp_btf variant: the cgroup sock_addr programs leave the peer of an
 * unconnected socket's datagram for sock_io_done() (sock_length.bpf.h). */
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

/* ---- fexit and kprobe variants ---- */

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

/* The flags' position and the return value's depend on the kernel (see
 * recv_flags_arg): flags, addr_len, then the return value. */
static __always_inline int udp_recv_fexit(unsigned long long *ctx, struct sock *sk,
					  struct msghdr *msg, bool v6_func)
{
	int flags = ctx_arg(ctx, recv_flags_arg), ret = ctx_arg(ctx, recv_flags_arg + 2);

	return udp_func_done(sk, msg, ret, flags, false, v6_func, true);
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
	return recv_flags_arg == ST_RECV_FLAGS_ARG_NOBLOCK ? p5 : p4;
}

#endif /* ST_UDP_BPF_H */
