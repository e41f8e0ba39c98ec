// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fuzzer's block cache (alloc_cache.c) must leave ASan able to see
 * what it sees without it. `alloc_cache_test CASE` does one thing wrong
 * (CASE 1 to 4), for ASan to report, or (CASE 0) only right things, for
 * it to pass; tests/run.sh runs every case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (256u << 10)	/* the reader's read buffer */

void *fuzz_realloc(void *p, size_t n);
void fuzz_free(void *p);

/* volatile: the compiler must not drop the bad reads */
static volatile char sink;

int main(int argc, char **argv)
{
	int c = argc > 1 ? atoi(argv[1]) : -1;
	char *p = fuzz_realloc(NULL, BIG), *q;

	if (!p)
		return 2;
	memset(p, 1, BIG);
	switch (c) {
	case 0:		/* reuse, shrink, grow, keep the contents */
		fuzz_free(p);
		p = fuzz_realloc(NULL, BIG / 2);
		if ((unsigned char)p[0] != 0xbe)
			return 3;
		memset(p, 2, BIG / 2);
		q = fuzz_realloc(p, 2 * BIG);
		if (!q || q[BIG / 2 - 1] != 2)
			return 4;
		q[2 * BIG - 1] = 0;
		fuzz_free(q);
		p = fuzz_realloc(fuzz_realloc(NULL, 100), BIG);
		fuzz_free(p);
		puts("alloc_cache_test: ok");
		return 0;
	case 1:		/* use after free */
		fuzz_free(p);
		sink = p[10];
		break;
	case 2:		/* one past the size asked for */
		sink = p[BIG];
		break;
	case 3:		/* a reused block, past its new size */
		fuzz_free(p);
		p = fuzz_realloc(NULL, BIG / 4);
		sink = p[BIG / 4 + 5];
		break;
	case 4:		/* the old block after realloc() moved it */
		q = fuzz_realloc(p, 2 * BIG);
		sink = p[0];
		fuzz_free(q);
		break;
	default:
		fprintf(stderr, "usage: alloc_cache_test 0|1|2|3|4\n");
		return 2;
	}
	puts("alloc_cache_test: ASan reported nothing");
	return 0;
}
