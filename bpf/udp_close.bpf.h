/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* udp_close: a UDP socket's release ends its flows. The program is in
 * socktrace.bpf.c. */
#ifndef ST_UDP_CLOSE_BPF_H
#define ST_UDP_CLOSE_BPF_H

/* A UDP socket is released (its last close()): its flows end. The context
 * is the struct sock itself. */
static __always_inline int handle_udp_release(struct bpf_sock *ctx)
{
	struct st_udp_event *e;
	__u64 skaddr;

	if (ctx->protocol != IPPROTO_UDP)
		return 1;
	skaddr = (__u64)ctx;
	if (!bpf_map_lookup_elem(&udp_socks, &skaddr))
		return 1;
	bpf_map_delete_elem(&udp_socks, &skaddr);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* the flows still end, once idle */
		counter_inc(ST_CNT_LOST);
		return 1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->type = ST_EVENT_UDP_CLOSE;
	e->key.skaddr = skaddr;
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
	return 1;
}

#endif /* ST_UDP_CLOSE_BPF_H */
