/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* tcp_io: TCP owners by I/O. The programs are in socktrace.bpf.c; the tp_btf
 * variant shares its programs with udp (sock_length.bpf.h). */
#ifndef ST_TCP_IO_BPF_H
#define ST_TCP_IO_BPF_H

/* A process that sends or receives on a TCP socket uses it: it owns it from
 * now on. A server that accepts and forks (sshd, PostgreSQL, inetd) hands
 * the connection to the child that serves it and closes its own copy; the
 * child's first read makes it the owner. Send and receive run in the
 * caller's context, never in softirq. One lookup per call (about 100 ns,
 * docs/performance.md); an update only when the owner changes. */
static __always_inline bool tcp_io_skipped(struct sock *sk, bool direct)
{
	/* the kernel-side filters drop every event of this socket: whose it
	 * is does not matter (dead code when they are off) */
	if (filter_family && SK_LOAD(direct, sk, __sk_common.skc_family) != filter_family)
		return true;
	return filter_ports_on && !port_wanted(SK_LOAD(direct, sk, __sk_common.skc_num)) &&
	       !port_wanted(bpf_ntohs(SK_LOAD(direct, sk, __sk_common.skc_dport)));
}

/* The current process used sk, whose entry in socks (or NULL) is si. */
static __always_inline void tcp_io_own(struct sock *sk, bool direct, struct st_sock_info *si)
{
	struct st_sock_info fresh = {};
	__u64 key = (__u64)sk, id = bpf_get_current_pid_tgid();

	if (si) {
		if (si->pid != id >> 32)
			owner_take(si, id, ST_OWNER_IO);
		return;
	}
	/* a recv() on a listener says nothing about its connections */
	if (SK_LOAD(direct, sk, __sk_common.skc_state) == ST_TCP_LISTEN)
		return;
	/* not seen since we attached: it existed at startup, or its entry
	 * made room for others (the inode through the helper: see handle_udp()) */
	if (!seed_take(&fresh, sock_ino(sk, false)) || fresh.pid != id >> 32)
		owner_take(&fresh, id, ST_OWNER_IO);
	bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
}

static __always_inline void handle_tcp_io(struct sock *sk, bool direct)
{
	__u64 key = (__u64)sk;

	if (tcp_io_skipped(sk, direct))
		return;
	tcp_io_own(sk, direct, bpf_map_lookup_elem(&socks, &key));
}

#endif /* ST_TCP_IO_BPF_H */
