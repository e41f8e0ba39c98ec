/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* accept: the process accept() hands a connection to owns it. The programs
 * are in socktrace.bpf.c. */
#ifndef ST_ACCEPT_BPF_H
#define ST_ACCEPT_BPF_H

/* accept() handed sk to the current process: it owns it from now on. */
static __always_inline int handle_accept(struct sock *sk, bool direct)
{
	struct st_sock_info *si, fresh = {};
	__u64 key = (__u64)sk;

	if (!sk || sock_protocol(sk, direct) != IPPROTO_TCP)
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

#endif /* ST_ACCEPT_BPF_H */
