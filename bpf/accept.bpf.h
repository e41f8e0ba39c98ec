/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* accept: the process accept() hands a connection to owns it. The programs
 * are in socktrace.bpf.c; the cgroup variant's handler needs tcp_io's. */
#ifndef ST_ACCEPT_BPF_H
#define ST_ACCEPT_BPF_H

/* The entry in listeners of the listener sk was born from, or NULL; lk
 * holds its key. */
static __always_inline struct st_sock_info *sock_listener(struct sock *sk, bool direct,
							  struct st_listener_key *lk)
{
	struct st_tcp_event tmp = {};

	tmp.netns = sock_netns(sk, direct);
	event_fill_tuple(&tmp, sk, direct);
	return listener_lookup(lk, &tmp);
}

/* accept() is I/O on the listener as well: a daemon that forks after
 * listen() (nginx, dnsmasq, anything that calls daemon(3)) leaves the
 * listener owned by a process that has exited, while the acceptor serves
 * the port. The children born from now on are handed to the acceptor until
 * their own accept(). Replaced whole, not written in place, as a child may
 * be copying the entry on another CPU. */
static __always_inline void listener_owner_refresh(struct sock *sk, struct st_listener_key *lk,
						   struct st_sock_info *li, __u64 id)
{
	struct st_sock_info upd;

	/* SO_REUSEPORT listeners share the key: which of them this child came
	 * from is unknown here (a child keeps its listener's flag) */
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		return;
	/* an heir userspace found in /proc is confirmed here, with its cgroup
	 * and namespace pid, which /proc did not give */
	if (!li || (li->pid == id >> 32 && li->owner_src == ST_OWNER_ACCEPT))
		return;
	upd = *li;
	owner_take(&upd, id, ST_OWNER_ACCEPT);
	bpf_map_update_elem(&listeners, lk, &upd, BPF_EXIST);
}

/* accept() handed sk, whose entry in socks (or NULL) is si, to the current
 * process: it owns it from now on. */
static __always_inline void accept_own(struct sock *sk, struct st_sock_info *si)
{
	struct st_sock_info fresh = {};
	__u64 key = (__u64)sk;

	if (si) {
		owner_from_current(si, ST_OWNER_ACCEPT, ST_ROLE_SERVER);
		return;
	}
	/* its state time is unknown (ts 0) */
	owner_from_current(&fresh, ST_OWNER_ACCEPT, ST_ROLE_SERVER);
	bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
}

/* The fexit, kretprobe and tracepoint variants: accept() returned sk. */
static __always_inline int handle_accept(struct sock *sk, bool direct)
{
	struct st_listener_key lk = {};
	__u64 key = (__u64)sk;

	if (!sk || sock_protocol(sk, direct) != IPPROTO_TCP)
		return 0;
	listener_owner_refresh(sk, &lk, sock_listener(sk, direct, &lk),
			       bpf_get_current_pid_tgid());
	accept_own(sk, bpf_map_lookup_elem(&socks, &key));
	return 0;
}

/* The cgroup variant. accept() asks the new socket for its peer's address
 * when the caller wants it (servers do: nginx, sshd, PostgreSQL, Python,
 * Go), which runs the cgroup getpeername hook in the acceptor's context,
 * after any wait; getpeername() runs it too. On a connection its listener
 * still owns (or one queued before socktrace attached, which it has no
 * entry for), that is the acceptor; on any other, a use like I/O. An
 * accept(fd, NULL, NULL) (libuv) is not seen: its first I/O names the owner
 * (tcp_io). No syscall tracepoint: those slow every syscall of the host
 * while attached, and their detach waits for grace periods. */
static __always_inline void handle_peer_name(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *bsk = ctx->sk;
	struct st_listener_key lk = {};
	struct st_sock_info *si, *li;
	struct sock *sk = NULL;
	__u64 key;

	if (ctx->protocol != IPPROTO_TCP)
		return;
	/* its address as a number, as skb_sock() does */
	bpf_probe_read_kernel(&sk, sizeof(sk), &bsk);
	if (!sk)
		return;
	key = (__u64)sk;
	si = bpf_map_lookup_elem(&socks, &key);
	/* accepted: its listener still owns it, or it has no entry and its
	 * local address is a known listener's */
	li = !si || si->owner_src == ST_OWNER_LISTENER ? sock_listener(sk, false, &lk) : NULL;
	if (si ? si->owner_src == ST_OWNER_LISTENER : li != NULL) {
		listener_owner_refresh(sk, &lk, li, bpf_get_current_pid_tgid());
		accept_own(sk, si);
	} else if (!tcp_io_skipped(sk, false)) {
		tcp_io_own(sk, false, si);
	}
}

#endif /* ST_ACCEPT_BPF_H */
