// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "dnsmsg.h"

void put8(struct msg *m, unsigned v)
{
	m->b[m->n++] = v;
}

void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

void put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		put8(m, l);
		memcpy(m->b + m->n, name, l);
		m->n += l;
		name += l + (dot ? 1 : 0);
	}
	put8(m, 0);
}

void start(struct msg *m, int rcode, int ancount, const char *qname, int qtype)
{
	memset(m, 0, sizeof(*m));
	put16(m, 0x1234);
	put16(m, 0x8180 | rcode);
	put16(m, 1);
	put16(m, ancount);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

void rr_cname(struct msg *m, const char *owner, const char *target, uint32_t ttl)
{
	size_t len_at;

	put_name(m, owner);
	put16(m, 5);
	put16(m, 1);
	put32(m, ttl);
	len_at = m->n;
	put16(m, 0);
	put_name(m, target);
	m->b[len_at] = (m->n - len_at - 2) >> 8;
	m->b[len_at + 1] = (m->n - len_at - 2) & 0xff;
}

void rr_a_ptr(struct msg *m, const char *addr, uint32_t ttl)
{
	struct in_addr a;

	inet_pton(AF_INET, addr, &a);
	put16(m, 0xc00c);
	put16(m, 1);
	put16(m, 1);
	put32(m, ttl);
	put16(m, 4);
	memcpy(m->b + m->n, &a, 4);
	m->n += 4;
}

void rr_a(struct msg *m, const char *owner, const char *addr, uint32_t ttl)
{
	struct in_addr a;

	inet_pton(AF_INET, addr, &a);
	put_name(m, owner);
	put16(m, 1);
	put16(m, 1);
	put32(m, ttl);
	put16(m, 4);
	memcpy(m->b + m->n, &a, 4);
	m->n += 4;
}

struct event answer(const struct msg *m, uint32_t netns, uint64_t boot_ns)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_DNS_ANSWER;
	ev.boot_ns = boot_ns;
	ev.wall_ns = boot_ns;
	ev.netns = netns;
	ev.family = AF_INET;
	ev.proto = IPPROTO_UDP;
	ev.rport = 53;
	ev.dns_len = ev.dns_caplen = m->n < ST_DNS_CAP ? m->n : ST_DNS_CAP;
	memcpy(ev.dns, m->b, ev.dns_caplen);
	return ev;
}
