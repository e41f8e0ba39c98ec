/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* so_error: the ICMP error of a connect() that getsockopt(SO_ERROR) takes
 * away before close(). The program is in socktrace.bpf.c. */
#ifndef ST_SO_ERROR_BPF_H
#define ST_SO_ERROR_BPF_H

/* getsockopt(SO_ERROR) returns sk_err_soft and clears it: an ICMP error
 * that arrived while connect() held the socket (tcp_v4_err() and
 * tcp_v6_err() cannot close it then) is gone before the application's
 * close() moves the socket to CLOSE. Keep it for that transition. */
static __always_inline int handle_so_error(struct trace_event_raw_sys_enter *ctx)
{
	struct st_sock_info *si;
	struct sock *sk;
	__u64 key;
	int soft;

	if (ctx->args[1] != SOL_SOCKET || ctx->args[2] != SO_ERROR)
		return 0;
	sk = sock_of_fd((int)ctx->args[0]);
	if (!sk || sock_protocol(sk, false) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != ST_TCP_SYN_SENT)
		return 0;
	soft = BPF_CORE_READ(sk, sk_err_soft);
	if (!soft || BPF_CORE_READ(sk, sk_err))
		return 0;
	key = (__u64)sk;
	si = bpf_map_lookup_elem(&socks, &key);
	if (si)
		si->soft_err = soft;
	return 0;
}

#endif /* ST_SO_ERROR_BPF_H */
