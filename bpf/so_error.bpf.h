/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* so_error: the error of a connect() that getsockopt(SO_ERROR) takes away
 * before the socket reaches CLOSE. The program is in socktrace.bpf.c. */
#ifndef ST_SO_ERROR_BPF_H
#define ST_SO_ERROR_BPF_H

/* getsockopt(SO_ERROR) returns sk_err, else sk_err_soft, and clears it,
 * without the socket lock. Two ways an attempt's error is gone before the
 * transition to CLOSE reads it:
 * - an ICMP error that arrived while connect() held the socket
 *   (tcp_v4_err() and tcp_v6_err() cannot close it then) is only in
 *   sk_err_soft until the application's close();
 * - tcp_write_err() and tcp_reset() set sk_err and wake the application
 *   before tcp_done(): a non-blocking connect()'s poll returns, and its
 *   SO_ERROR on another CPU can clear sk_err first (seen under qemu).
 * Keep what it is about to take for that transition. */
static __always_inline int handle_so_error(struct trace_event_raw_sys_enter *ctx)
{
	struct st_sock_info *si;
	struct sock *sk;
	__u64 key;
	int err;

	if (ctx->args[1] != SOL_SOCKET || ctx->args[2] != SO_ERROR)
		return 0;
	sk = sock_of_fd((int)ctx->args[0]);
	if (!sk || sock_protocol(sk, false) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != ST_TCP_SYN_SENT)
		return 0;
	err = BPF_CORE_READ(sk, sk_err);
	if (!err)
		err = BPF_CORE_READ(sk, sk_err_soft);
	if (!err)
		return 0;
	key = (__u64)sk;
	si = bpf_map_lookup_elem(&socks, &key);
	if (si)
		si->soft_err = err;
	return 0;
}

/* The cgroup variant runs after the kernel's getsockopt(): what it took is
 * the value it returns. Only where tcp_done_with_error() exists (Linux 6.10,
 * and stable updates of some earlier kernels, as Debian's 6.1; src/probe.c): it moves the socket to
 * CLOSE, which reads sk_err, before it wakes the application. Kernels
 * without it wake the application first, and the older of them fail a
 * getsockopt() with optval NULL (a size query) with EFAULT while any cgroup
 * getsockopt program runs (fixed in 6.5). No syscall tracepoint: see
 * handle_peer_name(). */
static __always_inline void handle_so_error_taken(struct bpf_sockopt *ctx)
{
	struct bpf_sock *bsk = ctx->sk;
	struct st_sock_info *si;
	struct sock *sk = NULL;
	int *val = ctx->optval;
	__u64 key;
	int err;

	if (ctx->level != SOL_SOCKET || ctx->optname != SO_ERROR || ctx->retval)
		return;
	if ((void *)(val + 1) > ctx->optval_end || !(err = *val))
		return;
	bpf_probe_read_kernel(&sk, sizeof(sk), &bsk);
	if (!sk || bsk->protocol != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != ST_TCP_SYN_SENT)
		return;
	key = (__u64)sk;
	si = bpf_map_lookup_elem(&socks, &key);
	if (si)
		si->soft_err = err;
}

#endif /* ST_SO_ERROR_BPF_H */
