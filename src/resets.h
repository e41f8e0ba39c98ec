/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live source's resets: the kernel's reason for a RST this side sent as
 * a connection ended comes as a record of its own (st_tcp_reset_event),
 * after the end record when the kernel closed the socket first (close()
 * with unread data, SO_LINGER 0), before it otherwise (keepalive timeout,
 * ss -K). This adds it to the end record before the pipeline sees that:
 * an end that may still get one is held until the next take of the ring
 * buffer at most; a reason whose end has not come yet waits as long. */
#ifndef ST_RESETS_H
#define ST_RESETS_H

#include <stdint.h>
#include "event.h"

struct resets;

/* Where an end record goes, merged or not: the pipeline. */
typedef int (*resets_push_fn)(void *ctx, struct event *ev);

/* names[v] is the name of enum sk_rst_reason value v (n of them; "" for
 * none). NULL with errno set. */
struct resets *resets__new(const char (*names)[TCP_RST_REASON_LEN], size_t n,
			   resets_push_fn push, void *ctx);
/* A tcp_conn end record: pushed now (with the reason of a reset seen
 * before it), or held for a reset that follows. Returns push's result. */
int resets__end(struct resets *r, const struct event *ev);
/* A reset record: its reason goes to the end record of sock held, which is
 * pushed now, or waits for that end record. */
int resets__reset(struct resets *r, uint64_t sock, uint32_t reason);
/* A take of the ring buffer is done: what was held since before the
 * previous one is pushed without a reason, and resets seen then forgotten. */
int resets__tick(struct resets *r);
/* The source ends: everything held is pushed. */
int resets__flush(struct resets *r);
void resets__free(struct resets *r);

#endif /* ST_RESETS_H */
