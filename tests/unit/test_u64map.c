// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* u64map.c: the cache map of cgroup ids and pids. */
#include <stdint.h>
#include <stdlib.h>
#include "harness.h"
#include "u64map.h"

TEST(u64map_put_get_replace_grow)
{
	struct u64map m = { 0 };
	void **v;

	/* empty: nothing, not even key 0 */
	ASSERT_NULL(u64map__get(&m, 0));
	ASSERT_NULL(u64map__get(&m, 42));
	/* keys that collide in the low bits, 0 among them, through several growths */
	for (uint64_t i = 0; i < 1000; i++)
		ASSERT_EQ(u64map__put(&m, i << 32, (void *)(uintptr_t)(i + 1)), 0);
	ASSERT_EQ(m.n, 1000);
	ASSERT_TRUE(m.cap >= 2 * m.n);
	for (uint64_t i = 0; i < 1000; i++) {
		v = u64map__get(&m, i << 32);
		ASSERT_NOT_NULL(v);
		ASSERT_EQ((uintptr_t)*v, i + 1);
	}
	ASSERT_NULL(u64map__get(&m, 1));
	ASSERT_NULL(u64map__get(&m, 1000ull << 32));
	/* a second put replaces; a NULL value is a value (an id that names nothing) */
	ASSERT_EQ(u64map__put(&m, 7ull << 32, NULL), 0);
	ASSERT_EQ(m.n, 1000);
	v = u64map__get(&m, 7ull << 32);
	ASSERT_NOT_NULL(v);
	ASSERT_NULL(*v);
	u64map__free(&m, false);
	ASSERT_EQ(m.cap, 0);
	ASSERT_NULL(u64map__get(&m, 0));
}

TEST(u64map_free_frees_values)
{
	struct u64map m = { 0 };

	/* ASan's leak check tells a value left behind */
	for (uint64_t i = 1; i <= 100; i++)
		ASSERT_EQ(u64map__put(&m, i * 0x9e3779b97f4a7c15ull, malloc(16)), 0);
	u64map__free(&m, true);
	ASSERT_EQ(m.n, 0);
	/* usable again after */
	ASSERT_EQ(u64map__put(&m, 5, &m), 0);
	ASSERT_EQ(*u64map__get(&m, 5), (void *)&m);
	u64map__free(&m, false);
}
