/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The file source: recordings into the pipeline, merged in time order. */
#ifndef ST_REPLAY_H
#define ST_REPLAY_H

#include <signal.h>
#include "opts.h"
#include "pipeline.h"
#include "reader.h"

struct replay {
	struct reader *readers[OPTS_MAX_FILES];
	const char *paths[OPTS_MAX_FILES];
	int n;
	uint64_t first_wall, last_wall;	/* of the events replayed */
	uint64_t lost;			/* as the recordings counted it */
	uint64_t udp_flows;		/* and these too */
	uint64_t udp_uncounted;
	uint64_t udp_uncounted_bytes;
	uint64_t gaps;			/* recorded, or counted in files without statistics */
	uint64_t missed;
	uint64_t end_wall, end_boot;	/* the recordings' clock at the end (window's) */
};

/* Opens every file; prints why one cannot be read. Returns 0 or -errno. */
int replay__open(struct replay *rp, const char *const *paths, int n);
/* Feeds the events within [since, until) to the pipeline in wall-clock
 * order until the end, the pipeline is done or *stop is set, and ticks its
 * stages with the recordings' clock (every event, every statistics block).
 * Prints the warnings about truncated and corrupt files. Returns 0 or
 * -errno. */
int replay__run(struct replay *rp, struct pipeline *pl, const struct time_bound *since,
		const struct time_bound *until, volatile sig_atomic_t *stop);
void replay__close(struct replay *rp);

#endif /* ST_REPLAY_H */
