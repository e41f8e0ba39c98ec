// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"

bool filter__is_empty(const struct filter *f)
{
	return !f->n_pids && !f->n_ports && !f->family && !f->states && !f->comm[0];
}

bool filter__match(const struct filter *f, const struct event *ev)
{
	if (f->family && ev->family != f->family)
		return false;
	if (f->states) {
		uint32_t bits = ev->new_state < 32 ? 1u << ev->new_state : 0;

		if (ev->kind == EVENT_TCP_STATE && ev->old_state < 32)
			bits |= 1u << ev->old_state;
		if (!(f->states & bits))
			return false;
	}
	if (f->n_ports) {
		int i;

		for (i = 0; i < f->n_ports; i++)
			if (f->ports[i] == ev->lport || f->ports[i] == ev->rport)
				break;
		if (i == f->n_ports)
			return false;
	}
	if (f->n_pids) {
		int i;

		for (i = 0; i < f->n_pids; i++)
			if (f->pids[i] == ev->pid)
				break;
		if (i == f->n_pids)
			return false;
	}
	if (f->comm[0] && strcmp(f->comm, ev->comm))
		return false;
	return true;
}

/* Calls add(f, item) for each item of a comma-separated list. */
static int for_each_item(struct filter *f, const char *list,
			 int (*add)(struct filter *f, const char *item))
{
	char *copy, *save = NULL, *tok;
	int err = 0;

	if (!list || !*list)
		return -EINVAL;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	/* strtok_r would silently skip empty items such as "1,,2" */
	if (list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
		free(copy);
		return -EINVAL;
	}
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add(f, tok);
	free(copy);
	return err;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int add_pid(struct filter *f, const char *s)
{
	unsigned long v;

	if (parse_ulong(s, 1, INT_MAX, &v))
		return -EINVAL;
	if (f->n_pids == FILTER_MAX_ITEMS)
		return -E2BIG;
	f->pids[f->n_pids++] = v;
	return 0;
}

static int add_port(struct filter *f, const char *s)
{
	unsigned long v;

	if (parse_ulong(s, 1, 65535, &v))
		return -EINVAL;
	if (f->n_ports == FILTER_MAX_ITEMS)
		return -E2BIG;
	f->ports[f->n_ports++] = v;
	return 0;
}

static int add_state(struct filter *f, const char *s)
{
	int st = tcp_state__parse(s);

	if (st < 0)
		return -EINVAL;
	f->states |= 1u << st;
	return 0;
}

int filter__add_pids(struct filter *f, const char *list)
{
	return for_each_item(f, list, add_pid);
}

int filter__add_ports(struct filter *f, const char *list)
{
	return for_each_item(f, list, add_port);
}

int filter__add_states(struct filter *f, const char *list)
{
	return for_each_item(f, list, add_state);
}

int filter__set_comm(struct filter *f, const char *comm)
{
	size_t n = strlen(comm);

	/* the kernel keeps 15 bytes of a task's name */
	if (n == 0 || n >= TASK_COMM_LEN)
		return -EINVAL;
	memcpy(f->comm, comm, n + 1);
	return 0;
}
