// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include "hook_kind.h"

static const char *const hook_names[HOOK__MAX] = {
	[HOOK_AUTO] = "auto",
	[HOOK_TP_BTF] = "tp_btf",
	[HOOK_TRACEPOINT] = "tracepoint",
	[HOOK_FENTRY] = "fentry",
	[HOOK_KPROBE] = "kprobe",
	[HOOK_CGROUP] = "cgroup",
	[HOOK_ITER] = "iter",
};

const char *hook_kind__name(enum hook_kind h)
{
	return h >= 0 && h < HOOK__MAX ? hook_names[h] : "?";
}

int hook_kind__parse(const char *s)
{
	for (int h = 0; h < HOOK__MAX; h++)
		if (!strcmp(s, hook_names[h]))
			return h;
	return -EINVAL;
}
