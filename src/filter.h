/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Event filter: the same code for live tracing and replay. The cheap parts
 * (pid, port, family, state) are also pushed down into the kernel.
 * Two layers, ANDed: the option lists (-p, -P, -4/-6, --state, -c) and an
 * optional pcap-filter style expression ("tcp and dst port 443"). */
#ifndef ST_FILTER_H
#define ST_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

#define FILTER_MAX_ITEMS 64	/* matches the kernel-side filter maps */
#define FILTER_MAX_DEPTH 100	/* nested '(' and 'not' in an expression */

struct fexpr;

#define FILTER_PROTO_TCP 1u
#define FILTER_PROTO_UDP 2u

struct filter {
	uint32_t pids[FILTER_MAX_ITEMS];
	int n_pids;
	uint16_t ports[FILTER_MAX_ITEMS];	/* either side */
	int n_ports;
	int family;		/* AF_INET, AF_INET6 or 0 for both */
	unsigned int protos;	/* FILTER_PROTO_* bits, 0 for both */
	uint32_t states;	/* bit per TCP state; old or new state matches */
	char comm[TASK_COMM_LEN + 1];	/* exact match when non-empty */
	/* the owner's cgroup (cgroup_info.h), userspace only; NULL for none */
	const char *cgroup;	/* --cgroup PATH: it and below */
	const char *unit;	/* --unit NAME: a unit or slice on its path */
	const char *container;	/* --container ID|NAME: an id prefix or a name */
	const char *pod;	/* --pod [NS/]NAME, or a pod uid */
	struct fexpr *expr;	/* parsed expression, NULL for none */
	char *expr_text;	/* its text, as given */
};

bool filter__match(const struct filter *f, const struct event *ev);
bool filter__is_empty(const struct filter *f);
/* Whether f can match any event of the protocol (IPPROTO_TCP, IPPROTO_UDP). */
bool filter__wants_proto(const struct filter *f, int proto);

int filter__add_pids(struct filter *f, const char *list);
int filter__add_ports(struct filter *f, const char *list);
int filter__add_states(struct filter *f, const char *list);
int filter__set_comm(struct filter *f, const char *comm);

/* Parses a filter expression into f (replacing an earlier one). Returns 0,
 * -ENOMEM, or -EINVAL with "column N: expected X, got Y" in err. Text that
 * is empty or only blanks sets no expression. '(' and 'not' nest at most
 * FILTER_MAX_DEPTH deep; and/or chains have no limit. */
int filter__parse(struct filter *f, const char *text, char *err, size_t errlen);
/* Calls fn for every cgroup path and container name the filter names,
 * options and expression terms alike (kind "cgroup" or "container"); stops
 * at and returns fn's first nonzero return. */
typedef int (*filter_term_fn)(void *ctx, const char *kind, const char *value);
int filter__each_owner_term(const struct filter *f, filter_term_fn fn, void *ctx);
struct cgroup_info;
/* Whether the filter drops every event whose owner is in the cgroup ci,
 * whatever else the event holds: its cgroup options, or an owner term of
 * the expression's top-level AND chain, rejects ci. Lets the kernel skip
 * the cgroup's events (live__skip_cgroup()). */
bool filter__owner_rejects(const struct filter *f, const struct cgroup_info *ci);
/* Whether filter__owner_rejects() can reject anything. */
bool filter__has_owner_and(const struct filter *f);
/* Releases the expression; the option lists need no freeing. */
void filter__free(struct filter *f);
/* The part of f the kernel side can check (lists only, no expression): it
 * lets through at least every event that f matches. */
void filter__kernel(const struct filter *f, struct filter *k);
/* The whole filter as one expression ("" for none), e.g. for a recording's
 * header: "(port 80) and ip and (tcp)". -ENOSPC if it was cut. */
int filter__describe(const struct filter *f, char *buf, size_t len);

#endif /* ST_FILTER_H */
