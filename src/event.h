/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The one decoded event type every source produces and every sink renders. */
#ifndef ST_EVENT_H
#define ST_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <linux/types.h>
#include "socktrace.h"

enum event_kind {
	EVENT_TCP_STATE = 1,	/* a live transition */
	EVENT_TCP_SOCKET,	/* a socket that existed when tracing started */
};

#define EVENT_OLD_NS_UNKNOWN UINT64_MAX

struct event {
	enum event_kind kind;
	uint64_t boot_ns;	/* CLOCK_BOOTTIME */
	uint64_t wall_ns;	/* CLOCK_REALTIME, from the clock reference */
	uint64_t sock;		/* kernel socket identity, 0 if unknown */
	uint64_t ino;		/* socket inode, 0 if unknown */
	uint64_t old_ns;	/* time in the old state, or EVENT_OLD_NS_UNKNOWN */
	uint32_t netns;
	uint32_t pid;		/* 0 if unknown */
	uint32_t tid;
	int family;		/* AF_INET or AF_INET6 */
	int proto;		/* IPPROTO_TCP */
	struct in6_addr laddr;	/* IPv4 as the first 4 bytes */
	struct in6_addr raddr;
	uint16_t lport;		/* host byte order */
	uint16_t rport;
	uint8_t old_state;	/* 0 for a snapshot */
	uint8_t new_state;	/* for a snapshot: the current state */
	uint8_t owner_src;	/* enum st_owner_src */
	uint8_t role;		/* enum st_role */
	char comm[TASK_COMM_LEN + 1];
};

/* Boot-clock to wall-clock conversion, from one reference pair. */
struct clock_ref {
	uint64_t boot_ns;
	uint64_t wall_ns;
};

int clock_ref__init(struct clock_ref *ref);
uint64_t clock_ref__wall(const struct clock_ref *ref, uint64_t boot_ns);
uint64_t clock_ref__boot_now(void);

/* Raw kernel record -> event. Returns 0 or -EINVAL for a short or unknown
 * record. */
int event__decode(struct event *ev, const void *data, size_t size,
		  const struct clock_ref *ref);

const char *tcp_state__name(int state);
/* Returns the state number, or -EINVAL. Accepts "SYN_SENT", "syn-sent",
 * "TCP_SYN_SENT". */
int tcp_state__parse(const char *name);
const char *owner_src__name(int src);
const char *role__name(int role);

#endif /* ST_EVENT_H */
