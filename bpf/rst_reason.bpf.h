/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* rst_reason: the kernel's reason for a RST this side sent as a connection
 * ended (the tcp_send_reset tracepoint's, Linux 6.10+), for the tcp_conn
 * end record. The programs are in socktrace.bpf.c.
 *
 * A record of its own, merged in userspace, not the end record emitted
 * here: __tcp_close() and tcp_disconnect() move the socket to CLOSE before
 * they send the RST, so the end record is out by then, and whether a RST
 * follows a CLOSE at all is known only when it does (the live source holds
 * an end record that may get one until its next take). */
#ifndef ST_RST_REASON_BPF_H
#define ST_RST_REASON_BPF_H

/* Only a connection's end has a record to add the reason to: an active
 * reset (tcp_send_active_reset() passes no skb), or the answer of a socket
 * tcp_reset() just closed (data after close: tcp_rcv_state_process());
 * not the answers of listeners, request and time-wait sockets, nor of a
 * socket that lives on (a bad SYN-ACK in SYN_SENT). */
static __always_inline int handle_send_reset(const void *sk, bool active, int state,
					     __u32 reason)
{
	struct st_tcp_reset_event *e;

	if (!sk || (!active && state != ST_TCP_CLOSE))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(ST_CNT_LOST);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->type = ST_EVENT_TCP_RESET;
	e->state = state;
	e->pad = 0;
	e->reason = reason;
	e->skaddr = (__u64)sk;
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
	return 0;
}

/* The reason argument and field came in 6.10, with enum sk_rst_reason
 * (the "rstreason" series); the tp_btf argument with the field. */
static __always_inline bool send_reset_has_reason(void)
{
	return bpf_core_field_exists(struct trace_event_raw_tcp_send_reset, reason);
}

#endif /* ST_RST_REASON_BPF_H */
