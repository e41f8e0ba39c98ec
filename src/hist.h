/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Log-linear histogram of durations: ~3% resolution, 1 us to ~19 hours. */
#ifndef ST_HIST_H
#define ST_HIST_H

#include <stdint.h>

#define HIST_SUB 32
#define HIST_BUCKETS (32 * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t buckets[HIST_BUCKETS];
};

void hist__add(struct hist *h, uint64_t ns);
/* The q-quantile (0..1) in ns; 0 for an empty histogram. */
uint64_t hist__quantile(const struct hist *h, double q);

#endif /* ST_HIST_H */
