/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Port -> service name, from /etc/services, for the renderers. */
#ifndef ST_SERVICES_H
#define ST_SERVICES_H

#include <stdint.h>

/* names holds the protocol given to services__load(); udp always holds the
 * "udp" entries, so that UDP events are named whatever the caller asked for
 * (53/udp is "domain"). */
struct services {
	char *names[65536];
	char *udp[65536];
};

/* proto: "tcp" or "udp", what services__name() answers for. */
struct services *services__load(const char *path, const char *proto);
const char *services__name(const struct services *s, uint16_t port);
/* The name for an IP protocol: the udp table for IPPROTO_UDP, else names. */
const char *services__lookup(const struct services *s, uint16_t port, int ipproto);
void services__free(struct services *s);

#endif /* ST_SERVICES_H */
