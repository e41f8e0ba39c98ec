// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* realloc() and free() of the recording reader under the fuzzer (its object
 * has them renamed with objcopy, see the Makefile).
 *
 * The reader reads through a buffer of 256 KiB, allocated per file. ASan's
 * allocator serves a block that large with mmap() and gives it back with
 * munmap() and an madvise() of its shadow, which cost ~0.5 ms with their
 * TLB shootdowns: twenty times what a small input costs to parse. Large
 * blocks are kept here for the next input instead, poisoned while unused
 * and beyond the size asked for, so that ASan still reports a use after
 * free or an overflow; as ASan does, the start of a block handed out is
 * filled with 0xbe. Smaller blocks go to the usual allocator. */
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#define BIG_BLOCK (64u << 10)	/* ASan's size classes end at 128 KiB */
#define SLOTS 4
#define FILL_LEN 4096		/* ASan's max_malloc_fill_size */

static struct {
	void *p;
	size_t cap;
	size_t len;
	bool used;
} slots[SLOTS];

void *fuzz_realloc(void *p, size_t n);
void fuzz_free(void *p);

static int slot_of(const void *p)
{
	for (int i = 0; i < SLOTS; i++)
		if (p && slots[i].used && slots[i].p == p)
			return i;
	return -1;
}

/* Slot i's block as n bytes, of which the first keep are kept. */
static void *slot_hand_out(int i, size_t n, size_t keep)
{
	slots[i].used = true;
	slots[i].len = n;
	ASAN_POISON_MEMORY_REGION(slots[i].p, slots[i].cap);
	ASAN_UNPOISON_MEMORY_REGION(slots[i].p, n);
	if (keep < n)
		memset((char *)slots[i].p + keep, 0xbe, n - keep < FILL_LEN ? n - keep : FILL_LEN);
	return slots[i].p;
}

/* A free slot with room for n bytes, else a free slot given a new block;
 * -1 if every slot is in use or out of memory. */
static int slot_get(size_t n)
{
	int empty = -1;

	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].used)
			continue;
		if (slots[i].cap >= n)
			return i;
		empty = i;
	}
	if (empty < 0)
		return -1;
	if (slots[empty].p) {
		ASAN_UNPOISON_MEMORY_REGION(slots[empty].p, slots[empty].cap);
		free(slots[empty].p);
	}
	slots[empty].p = malloc(n);
	slots[empty].cap = slots[empty].p ? n : 0;
	return slots[empty].p ? empty : -1;
}

void *fuzz_realloc(void *p, size_t n)
{
	int s = slot_of(p), t;
	size_t old;
	void *q;

	if (s < 0 && n < BIG_BLOCK)
		return realloc(p, n);
	if (s >= 0 && n == 0) {
		fuzz_free(p);
		return NULL;
	}
	if (s >= 0 && n <= slots[s].cap)
		return slot_hand_out(s, n, slots[s].len);
	t = slot_get(n);
	if (t < 0)
		return s < 0 ? realloc(p, n) : NULL;
	old = s >= 0 ? slots[s].len : p ? malloc_usable_size(p) : 0;
	if (old > n)
		old = n;
	q = slot_hand_out(t, n, old);
	if (old)
		memcpy(q, p, old);
	fuzz_free(p);
	return q;
}

void fuzz_free(void *p)
{
	int s = slot_of(p);

	if (s < 0) {
		free(p);
		return;
	}
	slots[s].used = false;
	ASAN_POISON_MEMORY_REGION(p, slots[s].cap);
}
