// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the recording reader: any bytes must give a clear
 * outcome (an open error, or events and counts) without a crash, a hang or
 * a sanitizer report. Seeds: tests/fuzz/seeds, small real recordings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "reader.h"

/* ASan holds freed memory back from reuse for 256 MB of frees by default,
 * so every allocation gets fresh pages: page faults were a quarter of the
 * time. An input frees well under a megabyte; 16 MB holds dozens of them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader *r;
	struct event ev;
	char err[256];
	uint64_t n = 0;
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	r = reader__open_file(f, err, sizeof(err));
	if (!r)
		return 0;
	while (reader__next(r, &ev) == 1)
		n++;
	(void)reader__truncated(r);
	(void)reader__header(r);
	if (reader__stats(r)->events != n)
		abort();
	reader__close(r);
	return 0;
}
