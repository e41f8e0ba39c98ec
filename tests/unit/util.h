/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the unit tests. Everything allocated here is released
 * after the test through ut_defer(). */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include "event.h"
#include "format.h"
#include "services.h"
#include "sink.h"
#include "json_check.h"
#include "harness.h"

/* An in-memory FILE (open_memstream). */
struct memfile {
	FILE *f;
	char *buf;
	size_t len;
};

struct memfile *memfile_new(void);
/* Flushes and returns the text written so far ("" if none). */
const char *memfile_str(struct memfile *m, size_t *len);
/* Number of '\n' in the text written so far. */
size_t memfile_lines(struct memfile *m);

/* "10.1.2.3" or "::1" -> the address as event.h stores it (IPv4 in the first
 * 4 bytes, the rest zero). Fails the test on a bad literal. */
struct in6_addr addr_of(const char *text);
int family_of(const char *text);

/* A well-formed kernel record: IPv4 127.0.0.1:43054 -> 10.0.0.2:22,
 * SYN_SENT -> ESTABLISHED, pid 2923 tid 2924 "python3", connect/client. */
void raw_init(struct st_tcp_event *e);
void raw_set_addrs(struct st_tcp_event *e, const char *saddr, const char *daddr);

/* The clock reference the tests use: boot 1 s = 2023-11-14T22:13:20Z. */
extern const struct clock_ref test_ref;

/* An empty service table, or one with the given port/name pairs
 * (NULL-terminated: port, "name", port, "name", ..., 0). */
struct services *svc_new(int port, ...);
/* Adds a "udp" entry to a table of svc_new(). */
void svc_set_udp(struct services *s, int port, const char *name);
/* fclose(f) after the test. */
void defer_fclose(FILE *f);
/* services__free(s) after the test. */
void defer_services_free(struct services *s);

/* A sink that keeps a copy of every event it gets, REC_SINK_EVENTS at most
 * (then -ENOSPC). A pipeline may own it: its free does nothing, the test's
 * end releases it, so make it before deferring the pipeline's free (the
 * last deferred runs first). */
#define REC_SINK_EVENTS 64
struct rec_sink {
	struct sink base;
	struct event evs[REC_SINK_EVENTS];
	int n;
};

struct rec_sink *rec_sink_new(void);

/* Writes a file (fails the test on error); returns its path. */
const char *write_file(const char *dir, const char *name, const char *content);

/* Checks one JSON Lines record with json_check_line and fails the test with
 * the checker's reason. */
#define ASSERT_JSON_LINE(s, n, r)					\
	do {								\
		const char *ut_s = (s);					\
		size_t ut_n = (n);					\
		if (!json_check_line(ut_s, ut_n, (r))) {		\
			char ut_q[2048];				\
			FAIL("invalid JSON line (%s at byte %zu): %s",	\
			     (r)->err, (r)->err_at,			\
			     ut_quote(ut_q, sizeof(ut_q), ut_s, ut_n));	\
		}							\
	} while (0)

#endif /* UNIT_UTIL_H */
