/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Updates of live TCP connections (--interval, and once after the startup
 * snapshot): every interval, the BPF
 * iterator over TCP sockets runs in each known network namespace and its
 * records, one per connection with its counters so far, go to the pipeline
 * as tcp_conn updates. */
#ifndef ST_TCPCONNS_H
#define ST_TCPCONNS_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"
#include "owners.h"
#include "pipeline.h"

struct tcpconns;

/* link_fd is the iter/tcp program's link. NULL with errno set. */
struct tcpconns *tcpconns__new(int link_fd, struct pipeline *pl, const struct clock_ref *ref,
			       uint64_t interval_ns);
/* Owners name the sockets the kernel side knows no owner of; the
 * namespaces they were found in are walked, with those learned later. */
void tcpconns__set_owners(struct tcpconns *t, const struct owners *o);
/* An event showed a socket of namespace netns owned by pid: a namespace
 * not known yet is opened through /proc/PID/ns/net. */
void tcpconns__learn(struct tcpconns *t, uint32_t netns, uint32_t pid);
/* Reports every connection when the interval is due at now (boot ns). */
int tcpconns__tick(struct tcpconns *t, uint64_t now_ns);
/* Reports every connection now: the counters of those the startup
 * snapshot found. */
int tcpconns__round(struct tcpconns *t, uint64_t now_ns, bool existing);
/* Namespaces the last round could not enter or read (e.g. after -Z). */
uint64_t tcpconns__failed(const struct tcpconns *t);
void tcpconns__free(struct tcpconns *t);

#endif /* ST_TCPCONNS_H */
