/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Why an attempt hangs in SYN_SENT, when its destination is on this host:
 * a listener whose accept queue is full, or no listener at all. */
#ifndef ST_DIAGNOSE_H
#define ST_DIAGNOSE_H

#include "event.h"
#include "owners.h"

/* What a live source knows about the owner of the listener on (addr,
 * port) in ev's namespace and family: 0 and pid, comm, or -ENOENT. */
typedef int (*listener_owner_fn)(void *ctx, const struct event *ev, const struct in6_addr *addr,
				 uint16_t port, uint32_t *pid, char *comm);

struct diagnoser {
	listener_owner_fn listener_owner;	/* the kernel side's listeners */
	void *listener_ctx;
	const struct owners *owners;	/* and those found in /proc at startup */
	uint32_t self_netns;
};

int diagnoser__init(struct diagnoser *d, listener_owner_fn fn, void *ctx,
		    const struct owners *owners);
/* attempts_diag_fn: fills out (cause DIAG_NONE when nothing is known). */
int diagnoser__run(void *ctx, struct event *attempt);

#endif /* ST_DIAGNOSE_H */
