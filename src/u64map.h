/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A map from 64-bit keys (cgroup ids, pids, hashes) to pointers: open
 * addressing at most half full, never shrinks. For the caches of things
 * that are few next to events; a zeroed struct u64map is an empty map. */
#ifndef ST_U64MAP_H
#define ST_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map_entry {
	uint64_t key;
	void *val;
	bool used;
};

struct u64map {
	struct u64map_entry *e;
	size_t cap, n;
};

/* The value's slot of key, or NULL when key is not in m. */
void **u64map__get(struct u64map *m, uint64_t key);
/* Adds key or replaces its value; 0 or -ENOMEM (m is unchanged then). */
int u64map__put(struct u64map *m, uint64_t key, void *val);
/* Empties m, freeing each value with free() when free_vals. */
void u64map__free(struct u64map *m, bool free_vals);

#endif /* ST_U64MAP_H */
