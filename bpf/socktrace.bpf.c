// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* socktrace kernel side: TCP state transitions and UDP flows, with the
 * process that owns each socket.
 *
 * Every concern has several hook variants (tp_btf, tracepoint, fentry,
 * kprobe); each is a thin wrapper around one handler, and userspace turns on
 * exactly one variant per concern (concerns[] in src/probe.c, which names
 * these programs through the skeleton). This file holds every program, as
 * thin wrappers in sections named as --probes names the concerns; each
 * concern's handlers and private maps are in CONCERN.bpf.h, what they share
 * (settings, maps, helpers) in common.bpf.h. The sock_{send,recv}_length
 * programs serve two concerns (tcp_io and udp): one program per tracepoint,
 * so a datagram pays for one run; their handler is in sock_length.bpf.h.
 *
 * One compilation unit, not one object per concern linked with `bpftool gen
 * object`: both gave the same instructions for every program, but the link
 * needs every shared map and setting declared extern (or weak) outside the
 * object that defines it, that object first in the link, and the two shared
 * programs still need the tcp_io and udp handlers as headers. Measured on a
 * 2-CPU host: this file builds in about 3 s whatever changed; the linked
 * objects took 2 s after a change to one concern and 10 to 13 s from clean
 * or after a change to common.bpf.h (vmlinux.h parsed once per object). */
#include "common.bpf.h"
#include "tcp_conn.bpf.h"
#include "tcp_state.bpf.h"
#include "retransmit.bpf.h"
#include "tcp_io.bpf.h"
#include "accept.bpf.h"
#include "so_error.bpf.h"
#include "udp.bpf.h"
#include "udp_close.bpf.h"
#include "sock_length.bpf.h"
#include "rst_reason.bpf.h"
#include "dns.bpf.h"

/* ---- tcp_state (tcp_state.bpf.h) ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, struct sock *sk, int oldstate, int newstate)
{
	return handle_state(sk, oldstate, newstate, sock_protocol(sk, true), true);
}

SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return handle_state((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate,
			    ctx->protocol, false);
}

/* tcp_set_state() runs before the store, so sk_state is still the old one.
 * It does not see the SYN_RECV a listener's child is born in. */
SEC("fentry/tcp_set_state")
int BPF_PROG(state_fentry, struct sock *sk, int state)
{
	return handle_state(sk, sk->__sk_common.skc_state, state, IPPROTO_TCP, true);
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(state_kprobe, struct sock *sk, int state)
{
	return handle_state(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, IPPROTO_TCP,
			    false);
}

/* listen() moves a socket to LISTEN with inet_sk_state_store(), not with
 * tcp_set_state(): the fentry and kprobe variants need their own hook. */
SEC("fexit/inet_csk_listen_start")
int BPF_PROG(listen_fexit, struct sock *sk)
{
	if ((int)ctx_arg(ctx, listen_nargs))
		return 0;
	return handle_state(sk, ST_TCP_CLOSE, ST_TCP_LISTEN, sock_protocol(sk, true), true);
}

SEC("kprobe/inet_csk_listen_start")
int BPF_KPROBE(listen_kprobe, struct sock *sk)
{
	return listen_kprobe_enter(sk);
}

SEC("kretprobe/inet_csk_listen_start")
int BPF_KRETPROBE(listen_kretprobe, int ret)
{
	return listen_kprobe_exit(ret);
}

/* ---- tcp_conn_update (tcp_conn.bpf.h): --interval ---- */

SEC("iter/tcp")
int conn_iter_tcp(struct bpf_iter__tcp *ctx)
{
	return conn_iter(ctx->meta, ctx->sk_common);
}

/* ---- retransmit (retransmit.bpf.h) ---- */

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retrans_btf, struct sock *sk)
{
	/* a dead branch on kernels without the argument: never verified */
	if (retrans_has_err() && (int)ctx[2])
		return 0;
	return handle_retrans(sk, sk->__sk_common.skc_state, true);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retrans_tp(struct tcp_retransmit_skb_ctx *ctx)
{
	if (retrans_has_err() &&
	    BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb *)ctx, err))
		return 0;
	return handle_retrans((struct sock *)ctx->skaddr, ctx->state, false);
}

/* At the return: after the retransmit was counted, as at the tracepoint;
 * tail loss probes apart (retransmit.bpf.h). */
SEC("fexit/tcp_retransmit_skb")
int BPF_PROG(retrans_fexit, struct sock *sk, struct sk_buff *skb, int segs, int ret)
{
	return retrans_done(sk, ret, true);
}

SEC("fentry/tcp_send_loss_probe")
int BPF_PROG(tlp_fentry, struct sock *sk)
{
	return tlp_enter(sk);
}

SEC("fexit/tcp_send_loss_probe")
int BPF_PROG(tlp_fexit, struct sock *sk)
{
	if (!tlp_exit((__u64)sk))
		return 0;
	return handle_retrans(sk, sk->__sk_common.skc_state, true);
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(retrans_kprobe, struct sock *sk)
{
	return retrans_kprobe_enter(sk);
}

SEC("kretprobe/tcp_retransmit_skb")
int BPF_KRETPROBE(retrans_kretprobe, int ret)
{
	return retrans_kprobe_exit(ret);
}

SEC("kprobe/tcp_send_loss_probe")
int BPF_KPROBE(tlp_kprobe, struct sock *sk)
{
	return tlp_enter(sk);
}

SEC("kretprobe/tcp_send_loss_probe")
int BPF_KRETPROBE(tlp_kretprobe)
{
	struct sock *sk = (struct sock *)tlp_exit(0);

	if (!sk)
		return 0;
	return handle_retrans(sk, BPF_CORE_READ(sk, __sk_common.skc_state), false);
}

/* ---- accept (accept.bpf.h) ---- */

SEC("fexit/inet_csk_accept")
int BPF_PROG(accept_fexit)
{
	/* The return value, typed struct sock * by the slot after the
	 * arguments (bpf_get_func_ret() gives a number, whose fields need the
	 * helper). The argument list changed in 6.10: (sk, arg), struct
	 * proto_accept_arg new with it; before, (sk, flags, err, kern). A
	 * constant condition, so the verifier sees only the kernel's slot. */
	if (bpf_core_type_exists(struct proto_accept_arg))
		return handle_accept((struct sock *)ctx[2], true);
	return handle_accept((struct sock *)ctx[4], true);
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(accept_kretprobe, struct sock *sk)
{
	return handle_accept(sk, false);
}

SEC("cgroup/getpeername4")
int accept_peer4(struct bpf_sock_addr *ctx)
{
	handle_peer_name(ctx);
	return 1;
}

SEC("cgroup/getpeername6")
int accept_peer6(struct bpf_sock_addr *ctx)
{
	handle_peer_name(ctx);
	return 1;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_tp(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept(sock_of_fd(ctx->ret), false);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_tp(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept(sock_of_fd(ctx->ret), false);
}

/* ---- so_error (so_error.bpf.h) ---- */

SEC("cgroup/getsockopt")
int so_error_cg(struct bpf_sockopt *ctx)
{
	handle_so_error_taken(ctx);
	/* ctx holds at most a page of optval: for a longer one, 0 leaves the
	 * kernel's result as it is (and the kernel's log without a message) */
	if (ctx->optlen > 4096)
		ctx->optlen = 0;
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_getsockopt")
int so_error_tp(struct trace_event_raw_sys_enter *ctx)
{
	return handle_so_error(ctx);
}

/* ---- tcp_io and udp, shared (sock_length.bpf.h) ----
 *
 * tcp_io's and udp's tp_btf variant: one program per tracepoint for both,
 * so that a datagram pays for one run. */

SEC("tp_btf/sock_send_length")
int BPF_PROG(io_send_btf, struct sock *sk, int ret, int flags)
{
	return sock_io_done(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(io_recv_btf, struct sock *sk, int ret, int flags)
{
	return sock_io_done(sk, ret, flags, false);
}

/* ---- tcp_io (tcp_io.bpf.h); the tp_btf variant is above ---- */

/* The other variants of TCP owners by I/O; each runs for TCP only. */
SEC("tracepoint/sock/sock_send_length")
int tcp_send_tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP && ctx->sk)
		handle_tcp_io(ctx->sk, false);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int tcp_recv_tp(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP && ctx->sk)
		handle_tcp_io(ctx->sk, false);
	return 0;
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(tcp_send_fentry, struct sock *sk)
{
	handle_tcp_io(sk, true);
	return 0;
}

SEC("fentry/tcp_recvmsg")
int BPF_PROG(tcp_recv_fentry, struct sock *sk)
{
	handle_tcp_io(sk, true);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_send_kprobe, struct sock *sk)
{
	handle_tcp_io(sk, false);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(tcp_recv_kprobe, struct sock *sk)
{
	handle_tcp_io(sk, false);
	return 0;
}

/* ---- udp (udp.bpf.h); the tp_btf variant's sock_*_length programs are above ---- */

/* Destination of a sendto() on an unconnected socket; 1 lets it through. */
SEC("cgroup/sendmsg4")
int udp_sendmsg4(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, false);
	return 1;
}

SEC("cgroup/sendmsg6")
int udp_sendmsg6(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, true);
	return 1;
}

/* Source address recvfrom() is about to return. */
SEC("cgroup/recvmsg4")
int udp_recvmsg4(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, false);
	return 1;
}

SEC("cgroup/recvmsg6")
int udp_recvmsg6(struct bpf_sock_addr *ctx)
{
	udp_peer_stash(ctx, true);
	return 1;
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(udp_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	return udp_func_done(sk, msg, ret, 0, true, false, true);
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(udp6_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	return udp_func_done(sk, msg, ret, 0, true, true, true);
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(udp_recv_fexit4, struct sock *sk, struct msghdr *msg)
{
	return udp_recv_fexit(ctx, sk, msg, false);
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(udp_recv_fexit6, struct sock *sk, struct msghdr *msg)
{
	return udp_recv_fexit(ctx, sk, msg, true);
}

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(udp_send_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, 0, false);
}

SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(udp_send_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, true, false);
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(udp6_send_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, 0, true);
}

SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(udp6_send_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, true, true);
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(udp_recv_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, recv_flags(ctx), false);
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(udp_recv_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, false, false);
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(udp6_recv_kprobe, struct sock *sk, struct msghdr *msg)
{
	return udp_kprobe_enter(sk, msg, recv_flags(ctx), true);
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(udp6_recv_kretprobe, int ret)
{
	return udp_kprobe_exit(ret, false, true);
}

/* ---- rst_reason (rst_reason.bpf.h) ---- */

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(rst_btf, const struct sock *sk, const struct sk_buff *skb)
{
	/* a dead branch on kernels without the argument: never verified */
	if (!send_reset_has_reason() || !sk)
		return 0;
	return handle_send_reset(sk, !skb, sk->__sk_common.skc_state, (__u32)ctx[2]);
}

SEC("tracepoint/tcp/tcp_send_reset")
int rst_tp(struct trace_event_raw_tcp_send_reset *ctx)
{
	if (!send_reset_has_reason())
		return 0;
	return handle_send_reset(BPF_CORE_READ(ctx, skaddr), !BPF_CORE_READ(ctx, skbaddr),
				 BPF_CORE_READ(ctx, state), BPF_CORE_READ(ctx, reason));
}

/* ---- udp_close (udp_close.bpf.h) ---- */

SEC("cgroup/sock_release")
int udp_release(struct bpf_sock *ctx)
{
	return handle_udp_release(ctx);
}

/* ---- dns (dns.bpf.h) ---- */

SEC("cgroup_skb/ingress")
int dns_ingress(struct __sk_buff *skb)
{
	return handle_dns_skb(skb, false);
}

/* ---- dns_query (dns.bpf.h) ---- */

SEC("cgroup_skb/egress")
int dns_egress(struct __sk_buff *skb)
{
	return handle_dns_skb(skb, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
