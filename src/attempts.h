/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Connection attempts, a pipeline stage: from CLOSE -> SYN_SENT to their
 * outcome, with SYN retransmits, alerts for attempts stuck in SYN_SENT, and
 * per-destination statistics. Takes source events; derives EVENT_CONNECT,
 * EVENT_SYN_ALERT and, at the end, EVENT_CONNECT_STATS. */
#ifndef ST_ATTEMPTS_H
#define ST_ATTEMPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "event.h"
#include "pipeline.h"

struct attempts;

/* Fills attempt->diag with what a local listener tells about the attempt's
 * destination, and its local address if still unknown; 0 or -errno. */
typedef int (*attempts_diag_fn)(void *ctx, struct event *attempt);

/* A pipeline stage: alerts after alert_ns in SYN_SENT. NULL with errno set. */
struct attempts *attempts__new(uint64_t alert_ns);
/* The stage to add to a pipeline, which then owns (and frees) it. */
struct stage *attempts__stage(struct attempts *a);
/* Live only: a diagnosis for each alert. */
void attempts__set_diagnoser(struct attempts *a, attempts_diag_fn fn, void *ctx);
/* Takes tcp_state, tcp_socket and SYN retransmit events; others are ignored. */
int attempts__feed(struct attempts *a, const struct event *ev);
/* Raises the alerts due by now_wall on the source's clock. */
int attempts__tick(struct attempts *a, uint64_t now_wall);
/* Emits the per-destination table (EVENT_CONNECT_STATS). */
int attempts__finish(struct attempts *a, uint64_t now_wall);
void attempts__free(struct attempts *a);

/* The outcome of SYN_SENT -> CLOSE, from the error the socket carried. */
enum connect_outcome attempts__outcome(int err);

#endif /* ST_ATTEMPTS_H */
