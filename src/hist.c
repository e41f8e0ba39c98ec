// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <stddef.h>
#include "hist.h"

/* Values below HIST_SUB us are exact; above, each power of two is split
 * into HIST_SUB buckets. */
static size_t hist_bucket(uint64_t us)
{
	int msb, shift;
	size_t b;

	if (us < HIST_SUB)
		return us;
	msb = 63 - __builtin_clzll(us);
	shift = msb - __builtin_ctz(HIST_SUB);
	b = (size_t)(shift + 1) * HIST_SUB + ((us >> shift) - HIST_SUB);
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t hist_value(size_t b)
{
	size_t shift, sub;

	if (b < HIST_SUB)
		return b;
	shift = b / HIST_SUB - 1;
	sub = b % HIST_SUB;
	/* the middle of the bucket */
	return ((HIST_SUB + sub) << shift) + ((1ull << shift) >> 1);
}

void hist__add(struct hist *h, uint64_t ns)
{
	h->buckets[hist_bucket(ns / 1000)]++;
	h->count++;
}

uint64_t hist__quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	/* nearest rank: the smallest value with at least q of the samples */
	rank = (uint64_t)ceil(q * h->count);
	if (rank < 1)
		rank = 1;
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank)
			return hist_value(b) * 1000;
	}
	return hist_value(HIST_BUCKETS - 1) * 1000;
}
