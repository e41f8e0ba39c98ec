// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "u64map.h"

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

static struct u64map_entry *u64map_slot(struct u64map *m, uint64_t key)
{
	size_t i = mix(key) & (m->cap - 1);

	while (m->e[i].used && m->e[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return &m->e[i];
}

void **u64map__get(struct u64map *m, uint64_t key)
{
	struct u64map_entry *e;

	if (!m->cap)
		return NULL;
	e = u64map_slot(m, key);
	return e->used ? &e->val : NULL;
}

int u64map__put(struct u64map *m, uint64_t key, void *val)
{
	struct u64map_entry *e;

	if (2 * (m->n + 1) > m->cap) {
		struct u64map old = *m;

		m->cap = old.cap ? 2 * old.cap : 64;
		m->e = calloc(m->cap, sizeof(*m->e));
		if (!m->e) {
			*m = old;
			return -ENOMEM;
		}
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.e[i].used)
				u64map__put(m, old.e[i].key, old.e[i].val);
		free(old.e);
	}
	e = u64map_slot(m, key);
	if (!e->used)
		m->n++;
	e->used = true;
	e->key = key;
	e->val = val;
	return 0;
}

void u64map__free(struct u64map *m, bool free_vals)
{
	for (size_t i = 0; free_vals && i < m->cap; i++)
		if (m->e[i].used)
			free(m->e[i].val);
	free(m->e);
	memset(m, 0, sizeof(*m));
}
