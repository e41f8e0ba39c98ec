/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* dns: the DNS answers local sockets receive, for names of remote
 * addresses; dns_query: the queries they send (--dns), matched to their
 * answers in userspace. The programs are in socktrace.bpf.c. */
#ifndef ST_DNS_BPF_H
#define ST_DNS_BPF_H

#define ST_ETH_P_IP	0x0800
#define ST_ETH_P_IPV6	0x86DD
#define ST_DNS_PORT	53
/* IPv6 extension headers an answer may come behind (<linux/in6.h>):
 * hop-by-hop options, routing, destination options. A fragment header is
 * gone once the datagram is reassembled, before any socket sees it. */
#define ST_IPV6_HOPOPTS	0
#define ST_IPV6_ROUTING	43
#define ST_IPV6_DSTOPTS	60
#define ST_IPV6_EXT_MAX	4	/* headers followed; an answer behind more is not seen */
#define ST_L4_OFF_MAX	512	/* where the UDP or TCP header may start, at most */

/* Headers as the packet holds them, fixed by their RFCs: read without
 * CO-RE, where vmlinux.h's copies would each cost a search of the kernel's
 * BTF at load (about 0.7 ms apiece, docs/performance.md). */
struct st_ip4_hdr {
	__u8 version_ihl;	/* the header's length in 32-bit words, low nibble */
	__u8 tos;
	__be16 tot_len, id, frag_off;
	__u8 ttl, protocol;
	__be16 check;
	__be32 saddr, daddr;
};

struct st_ip6_hdr {
	__be32 version_flow;
	__be16 payload_len;
	__u8 nexthdr, hop_limit;
	__u8 saddr[16], daddr[16];
};

struct st_ip6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;		/* in 8-byte units, not counting the first 8 */
};

struct st_udp_hdr {
	__be16 source, dest, len, check;
};

struct st_tcp_hdr {
	__be16 source, dest;
	__be32 seq, ack_seq;
	__u8 doff_res;		/* the data offset in 32-bit words, high nibble */
	__u8 flags;
	__be16 window, check, urg_ptr;
};

/* The local socket's address, as a number. A PTR_TO_SOCK_COMMON cannot be
 * offset (the verifier forbids arithmetic on socket pointers): its value
 * is read as a number, which CAP_PERFMON allows, then walked with CO-RE
 * reads. */
static __always_inline __u64 skb_sock(struct __sk_buff *skb)
{
	struct bpf_sock *bsk = skb->sk;
	__u64 addr = 0;

	if (bsk)
		bpf_probe_read_kernel(&addr, sizeof(addr), &bsk);
	return addr;
}

/* Every packet a local socket receives passes here (cgroup_skb/ingress runs
 * in sk_filter(), for TCP segments too), and with --dns every packet it
 * sends (egress, in ip_finish_output()): everything but a UDP datagram or
 * a TCP segment with data from port 53 (to port 53 for a query) leaves
 * after a few loads from the linear header (the IP and the UDP or TCP
 * header were pulled before sk_filter(), and are built in line on the way
 * out). Always returns 1: the packet passes. */
static __always_inline int handle_dns_skb(struct __sk_buff *skb, bool query)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 l4, off, len;
	__u16 sport, dport;
	__u64 cap, n, sk;	/* 64 bits: the register tested is the one passed */
	struct st_dns_event *e;
	__u8 family, proto;

	if (skb->protocol == bpf_htons(ST_ETH_P_IP)) {
		struct st_ip4_hdr *ip = data;

		if ((void *)(ip + 1) > end)
			return 1;
		proto = ip->protocol;
		l4 = (ip->version_ihl & 0x0f) * 4;
		family = 4;
	} else if (skb->protocol == bpf_htons(ST_ETH_P_IPV6)) {
		struct st_ip6_hdr *ip6 = data;

		if ((void *)(ip6 + 1) > end)
			return 1;
		proto = ip6->nexthdr;
		l4 = sizeof(*ip6);
		family = 6;
		/* unrolled: 5.10's verifier takes no loop it cannot count */
#pragma unroll
		for (int i = 0; i < ST_IPV6_EXT_MAX; i++) {
			struct st_ip6_opt_hdr *opt = data + l4;

			if (proto != ST_IPV6_HOPOPTS && proto != ST_IPV6_ROUTING &&
			    proto != ST_IPV6_DSTOPTS)
				break;
			if ((void *)(opt + 1) > end)
				return 1;
			proto = opt->nexthdr;
			l4 += (opt->hdrlen + 1) * 8;
			if (l4 > ST_L4_OFF_MAX)
				return 1;
		}
	} else {
		return 1;
	}
	if (l4 < 20 || l4 > ST_L4_OFF_MAX)
		return 1;
	if (proto == IPPROTO_UDP) {
		struct st_udp_hdr *udp = data + l4;

		if ((void *)(udp + 1) > end)
			return 1;
		sport = udp->source;
		dport = udp->dest;
		if ((query ? dport : sport) != bpf_htons(ST_DNS_PORT))
			return 1;
		len = bpf_ntohs(udp->len);
		if (len <= sizeof(*udp) || l4 + len > skb->len)
			return 1;
		off = l4 + sizeof(*udp);
		len -= sizeof(*udp);
	} else if (proto == IPPROTO_TCP) {
		struct st_tcp_hdr *tcp = data + l4;

		/* DNS over TCP: a segment's payload, most often one whole answer
		 * after its 2-byte length; ACKs and handshakes carry none */
		if ((void *)(tcp + 1) > end)
			return 1;
		sport = tcp->source;
		dport = tcp->dest;
		if ((query ? dport : sport) != bpf_htons(ST_DNS_PORT))
			return 1;
		off = l4 + (tcp->doff_res >> 4) * 4;
		if (off >= skb->len)
			return 1;
		len = skb->len - off;
	} else {
		return 1;
	}
	cap = len;
	if (cap > ST_DNS_CAP) {
		cap = ST_DNS_CAP;
		counter_inc(ST_CNT_DNS_TRUNCATED);
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(ST_CNT_DNS_LOST);
		return 1;
	}
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->type = ST_EVENT_DNS;
	e->family = family;
	e->len = len > 0xffff ? 0xffff : len;
	e->caplen = cap;
	e->proto = proto;
	e->dir = query ? ST_DNS_QUERY : ST_DNS_ANSWER;
	e->pad = 0;
	sk = skb_sock(skb);
	e->skaddr = sk;
	e->netns = sk ? BPF_CORE_READ((struct sock *)sk, __sk_common.skc_net.net, ns.inum) : 0;
	e->lport = bpf_ntohs(query ? sport : dport);
	/* the socket's cgroup, set when it was created: names are kept per
	 * cgroup too, so that a connection carries its own process's answer */
	e->cgroup_id = bpf_skb_cgroup_id(skb);
	__builtin_memset(e->server, 0, sizeof(e->server));
	__builtin_memset(e->client, 0, sizeof(e->client));
	/* the source address, then the destination */
	if (family == 4) {
		bpf_skb_load_bytes(skb, 12, query ? e->client : e->server, 4);
		bpf_skb_load_bytes(skb, 16, query ? e->server : e->client, 4);
	} else {
		bpf_skb_load_bytes(skb, 8, query ? e->client : e->server, 16);
		bpf_skb_load_bytes(skb, 24, query ? e->server : e->client, 16);
	}
	/* The verifier must see 1 <= size <= ST_DNS_CAP in the register
	 * passed. The compiler knows cap's bounds and would drop the test, or
	 * fold "cap < 1 || cap > CAP" into one test of cap - 1, whose bounds
	 * 5.10's verifier does not carry back to cap: test cap - 1 in a
	 * register of its own and pass it plus one. */
	n = cap - 1;
	asm volatile("" : "+r"(n));
	if (n >= ST_DNS_CAP || bpf_skb_load_bytes(skb, off, e->data, n + 1)) {
		bpf_ringbuf_discard(e, 0);
		counter_inc(ST_CNT_DNS_LOST);
		return 1;
	}
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags());
	counter_inc(ST_CNT_EVENTS);
	return 1;
}

#endif /* ST_DNS_BPF_H */
