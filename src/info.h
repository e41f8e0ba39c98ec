/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --info: capinfos for recordings. */
#ifndef ST_INFO_H
#define ST_INFO_H

#include <stdio.h>

/* Prints what FILE holds: host, span, counts, state. Returns 0, or 1 if it
 * cannot be read as a recording. */
int info__print(const char *path, FILE *out);

#endif /* ST_INFO_H */
