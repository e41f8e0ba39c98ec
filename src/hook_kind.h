/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kinds of kernel hook a concern's variant attaches with, as --hook and
 * --probes name them. */
#ifndef ST_HOOK_KIND_H
#define ST_HOOK_KIND_H

enum hook_kind {
	HOOK_AUTO = 0,
	HOOK_TP_BTF,
	HOOK_TRACEPOINT,
	HOOK_FENTRY,
	HOOK_KPROBE,
	HOOK_CGROUP,		/* cgroup socket hooks: never forced, only reported */
	HOOK_ITER,		/* BPF iterators: never forced, only reported */
	HOOK__MAX,
};

/* "auto", "tp_btf", ...; "?" for a value out of range. */
const char *hook_kind__name(enum hook_kind h);
/* The kind of that name, or -EINVAL. */
int hook_kind__parse(const char *s);

#endif /* ST_HOOK_KIND_H */
