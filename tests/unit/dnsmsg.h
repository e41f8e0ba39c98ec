/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* DNS messages built byte by byte, and the source event that carries one:
 * shared by the tests of the name table and of the query tracker. */
#ifndef UNIT_DNSMSG_H
#define UNIT_DNSMSG_H

#include <stddef.h>
#include <stdint.h>
#include "event.h"

/* A DNS message under construction. */
struct msg {
	uint8_t b[4096];
	size_t n;
};

void put8(struct msg *m, unsigned v);
void put16(struct msg *m, unsigned v);
void put32(struct msg *m, uint32_t v);
/* "web.example.test" as labels, uncompressed. */
void put_name(struct msg *m, const char *name);
/* Header (a response of id 0x1234, rcode), then the question. */
void start(struct msg *m, int rcode, int ancount, const char *qname, int qtype);
void rr_cname(struct msg *m, const char *owner, const char *target, uint32_t ttl);
/* An A record whose owner is a compression pointer to offset 12 (the
 * question's name). */
void rr_a_ptr(struct msg *m, const char *addr, uint32_t ttl);
void rr_a(struct msg *m, const char *owner, const char *addr, uint32_t ttl);
/* m as an EVENT_DNS_ANSWER over UDP from port 53, received in netns at
 * boot_ns (the wall clock reads the same); no socket. */
struct event answer(const struct msg *m, uint32_t netns, uint64_t boot_ns);

#endif /* UNIT_DNSMSG_H */
