/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line. Parsing has no side effects so the unit tests can run it. */
#ifndef ST_OPTS_H
#define ST_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "filter.h"
#include "hook_kind.h"

#define OPTS_MAX_FILES 64
/* Bounds of numeric options: beyond them, later arithmetic would overflow
 * (nanoseconds in a u64, the kernel's u32 ring buffer size in bytes). */
#define OPTS_MAX_DURATION_S 31536000	/* -d: 365 days */
#define OPTS_MAX_RINGBUF_KB 2097152	/* 2 GiB, the largest power of two in a u32 */
#define OPTS_MAX_ROTATE_COUNT 1000000	/* -W */
#define TIME_MAX_YEAR 2499		/* --since/--until, RFC 3339 */
#define TIME_MAX_RELATIVE_S 1e9		/* --since/--until, seconds after the first event */

/* --since/--until: an RFC 3339 time, or seconds after the first event */
struct time_bound {
	bool set;
	bool relative;
	uint64_t ns;		/* wall-clock ns, or ns after the first event */
};

struct opts {
	struct filter filter;
	enum hook_kind hook;
	bool json;
	bool numeric;		/* -n: addresses and port numbers: no names */
	bool quiet;		/* no per-event output, only the summary */
	bool cgroup_column;	/* --cgroup-column: the text output's CGROUP column */
	bool connects;		/* connection attempts and alerts only */
	bool conns;		/* TCP connections' records only */
	bool retrans;		/* records of retransmitting connections */
	uint64_t syn_alert_ms;	/* alert on attempts in SYN_SENT this long */
	bool syn_alert_set;	/* given: a replay uses it, not the recording's */
	bool snapshot;
	bool probes;
	bool verbose;
	bool help;
	bool version;
	double duration;	/* seconds, 0 for no limit */
	uint64_t count;		/* stop after this many events, 0 for no limit */
	uint32_t ringbuf_kb;
	uint64_t udp_idle_ns;	/* --udp-idle */
	uint64_t interval_ns;	/* --interval, 0: no periodic updates */
	uint32_t udp_flows;	/* kernel flow table size */
	uint32_t dns_cache;	/* --dns-cache: names kept, 0: no names */
	bool dns;		/* --dns: DNS queries and their outcomes */
	uint64_t dns_timeout_ns;	/* --dns-timeout: a query unanswered this long times out */
	bool dns_timeout_set;
	const char *btf_path;	/* custom BTF for kernels without it */
	/* recording and replay */
	const char *write_path;	/* -w, an strftime pattern with -G */
	uint64_t rotate_bytes;	/* -C MB, 0: no size rotation */
	uint32_t rotate_secs;	/* -G, 0: no time rotation */
	uint32_t rotate_count;	/* -W, 0: keep every file */
	const char *read_paths[OPTS_MAX_FILES];	/* -r */
	int n_reads;
	const char *info_paths[OPTS_MAX_FILES];	/* --info */
	int n_info;
	struct time_bound since, until;
	unsigned int file_mode;	/* --file-mode, 0: the recorder's 0600 */
	const char *user;	/* -Z: run as this user once attached */
	/* --metrics [ADDR]:PORT: serve Prometheus metrics there */
	const char *metrics;
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addrlen;
	unsigned int metrics_by;	/* --metrics-by: 1 << enum metrics_key bits */
	unsigned int metrics_cap;	/* --metrics-cap */
	bool metrics_cap_set;
	const char *live_only;	/* the first option given that replay ignores */
	char *filter_text;	/* the trailing arguments, joined by spaces */
};

#define EXIT_USAGE 2

void opts__init(struct opts *o);
/* Returns 0, or -EINVAL with a message in err; a failed parse leaves
 * nothing to free. Digit-only words after a -p value join it ("-p 1 2" is
 * "-p 1,2"). */
int opts__parse(struct opts *o, int argc, char **argv, char *err, size_t errlen);
void opts__usage(FILE *out);
void opts__free(struct opts *o);
/* RFC 3339 ("2026-11-27T17:42:06.5Z", "...+01:00") or seconds (relative).
 * Returns 0, -EINVAL (not such a time, or a date that does not exist), or
 * -ERANGE (before 1970, after TIME_MAX_YEAR, or more than
 * TIME_MAX_RELATIVE_S seconds). */
int time_bound__parse(const char *s, struct time_bound *tb);

#endif /* ST_OPTS_H */
