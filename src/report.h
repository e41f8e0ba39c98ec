/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Errors and warnings, one way: a line on stderr ("socktrace: failed to
 * ...", "socktrace: warning: ..."), and with -j also an object on stdout,
 * {"type":"error","message":...} or "warning", as bpftool's p_err() does,
 * so that a consumer of the JSON lines learns of them too. */
#ifndef ST_REPORT_H
#define ST_REPORT_H

#include <stdbool.h>
#include <stdio.h>

/* JSON objects go to out from now on (NULL: none). */
void report__set_json(FILE *out);
/* The lines go to err instead of stderr (NULL: stderr again); for tests. */
void report__set_stream(FILE *err);
/* Lines carry journald's priority prefix ("<3>", "<4>"): stderr is the
 * journal's stream. */
void report__set_journal(bool on);
void report__error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report__warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Errors and warnings reported so far. */
unsigned int report__count(bool errors);

#endif /* ST_REPORT_H */
