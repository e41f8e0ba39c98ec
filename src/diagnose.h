/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Why an attempt hangs in SYN_SENT, when its destination is on this host:
 * a listener whose accept queue is full, or no listener at all. */
#ifndef ST_DIAGNOSE_H
#define ST_DIAGNOSE_H

#include "event.h"
#include "live.h"
#include "snapshot.h"

struct diagnoser {
	struct live *live;		/* listener owners the kernel side knows */
	const struct owners *owners;	/* and those found in /proc at startup */
	uint32_t self_netns;
};

int diagnoser__init(struct diagnoser *d, struct live *live, const struct owners *owners);
/* attempts_diag_fn: fills out (cause DIAG_NONE when nothing is known). */
int diagnoser__run(void *ctx, struct event *attempt);

#endif /* ST_DIAGNOSE_H */
