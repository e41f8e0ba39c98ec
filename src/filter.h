/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Event filter: the same code for live tracing and replay. The cheap parts
 * (pid, port, family, state) are also pushed down into the kernel. */
#ifndef ST_FILTER_H
#define ST_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"

#define FILTER_MAX_ITEMS 64	/* matches the kernel-side filter maps */

struct filter {
	uint32_t pids[FILTER_MAX_ITEMS];
	int n_pids;
	uint16_t ports[FILTER_MAX_ITEMS];	/* either side */
	int n_ports;
	int family;		/* AF_INET, AF_INET6 or 0 for both */
	uint32_t states;	/* bit per TCP state; old or new state matches */
	char comm[TASK_COMM_LEN + 1];	/* exact match when non-empty */
};

bool filter__match(const struct filter *f, const struct event *ev);
bool filter__is_empty(const struct filter *f);

int filter__add_pids(struct filter *f, const char *list);
int filter__add_ports(struct filter *f, const char *list);
int filter__add_states(struct filter *f, const char *list);
int filter__set_comm(struct filter *f, const char *comm);

#endif /* ST_FILTER_H */
