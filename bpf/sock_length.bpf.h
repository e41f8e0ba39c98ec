/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tp_btf/sock_{send,recv}_length, the variant tcp_io and udp share: one
 * program per tracepoint, so a datagram pays for one run. The programs
 * (io_send_btf, io_recv_btf) are in socktrace.bpf.c; the rodata tcp_io_on
 * and udp_io_on say which concerns they serve. */
#ifndef ST_SOCK_LENGTH_BPF_H
#define ST_SOCK_LENGTH_BPF_H

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

#endif /* ST_SOCK_LENGTH_BPF_H */
