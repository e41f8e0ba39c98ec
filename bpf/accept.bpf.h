/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* accept: the process accept() hands a connection to owns it. The programs
 * are in socktrace.bpf.c. */
#ifndef ST_ACCEPT_BPF_H
#define ST_ACCEPT_BPF_H

/* accept() is I/O on the listener as well: a daemon that forks after
 * listen() (nginx, dnsmasq, anything that calls daemon(3)) leaves the
 * listener owned by a process that has exited, while the acceptor serves
 * the port. The children born from now on are handed to the acceptor until
 * their own accept(). Replaced whole, not written in place, as a child may
 * be copying the entry on another CPU. */
static __always_inline void listener_owner_refresh(struct sock *sk, bool direct, __u64 id)
{
	struct st_listener_key lk = {};
	struct st_tcp_event tmp = {};
	struct st_sock_info *li, upd;

	/* SO_REUSEPORT listeners share the key: which of them this child came
	 * from is unknown here (a child keeps its listener's flag) */
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		return;
	tmp.netns = sock_netns(sk, direct);
	event_fill_tuple(&tmp, sk, direct);
	li = listener_lookup(&lk, &tmp);
	/* an heir userspace found in /proc is confirmed here, with its cgroup
	 * and namespace pid, which /proc did not give */
	if (!li || (li->pid == id >> 32 && li->owner_src == ST_OWNER_ACCEPT))
		return;
	upd = *li;
	owner_take(&upd, id, ST_OWNER_ACCEPT);
	bpf_map_update_elem(&listeners, &lk, &upd, BPF_EXIST);
}

/* accept() handed sk to the current process: it owns it from now on. */
static __always_inline int handle_accept(struct sock *sk, bool direct)
{
	struct st_sock_info *si, fresh = {};
	__u64 key = (__u64)sk;

	if (!sk || sock_protocol(sk, direct) != IPPROTO_TCP)
		return 0;
	listener_owner_refresh(sk, direct, bpf_get_current_pid_tgid());
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

#endif /* ST_ACCEPT_BPF_H */
