/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which hook variant of each concern this kernel can run. */
#ifndef ST_PROBE_H
#define ST_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "hook_kind.h"

struct bpf_program;
struct btf;
struct socktrace_bpf;

enum concern {
	CONCERN_TCP_STATE = 0,	/* TCP state transitions (required) */
	CONCERN_RETRANS,	/* SYN retransmits (optional) */
	CONCERN_ACCEPT,		/* owner of accepted sockets (optional) */
	CONCERN_TCP_IO,		/* the process that sends or receives owns it (optional) */
	CONCERN_SO_ERROR,	/* ICMP errors that getsockopt(SO_ERROR) takes (optional) */
	CONCERN_UDP,		/* UDP datagrams sent and received */
	CONCERN_UDP_CLOSE,	/* UDP sockets released, to end their flows */
	CONCERN_TCP_CONN_UPDATE,	/* counters of live TCP connections (--interval) */
	CONCERN_RST_REASON,	/* the kernel's reason for a RST sent at a connection's end */
	CONCERN_DNS,		/* DNS answers received, to name remote addresses */
	CONCERN_DNS_QUERY,	/* DNS queries sent, for their outcomes (--dns) */
	CONCERN__MAX,
};

#define CONCERN_BIT(c) (1u << (c))
#define CONCERNS_TCP (CONCERN_BIT(CONCERN_TCP_STATE) | CONCERN_BIT(CONCERN_RETRANS) | \
		      CONCERN_BIT(CONCERN_ACCEPT) | CONCERN_BIT(CONCERN_TCP_IO) | \
		      CONCERN_BIT(CONCERN_SO_ERROR) | CONCERN_BIT(CONCERN_TCP_CONN_UPDATE) | \
		      CONCERN_BIT(CONCERN_RST_REASON))
#define CONCERNS_UDP (CONCERN_BIT(CONCERN_UDP) | CONCERN_BIT(CONCERN_UDP_CLOSE))

#define PROBE_MAX_VARIANTS 4
#define PROBE_MAX_PROGS 8
#define PROBE_MAX_PROG_TYPES 64

/* How a program attaches, as the prefix of its SEC() says; what is probed
 * before load follows from it. */
enum hook_attach {
	ATTACH_TP_BTF = 1,	/* tp_btf/TRACEPOINT: the kernel's BTF has btf_trace_TRACEPOINT */
	ATTACH_TRACEPOINT,	/* tracepoint/CATEGORY/NAME: tracefs has it */
	ATTACH_FENTRY,		/* fentry/FUNCTION: a tracing program on it loads */
	ATTACH_FEXIT,		/* fexit/FUNCTION: the same, calling bpf_get_func_ret() */
	ATTACH_KPROBE,		/* kprobe/FUNCTION: kprobes exist, and the function */
	ATTACH_KRETPROBE,	/* kretprobe/FUNCTION: the same */
	ATTACH_CGROUP,		/* cgroup/HOOK: a cgroup v2 hierarchy is mounted */
	ATTACH_ITER,		/* iter/TARGET: the kernel's BTF has bpf_iter_TARGET */
	ATTACH_CGROUP_SKB,	/* cgroup_skb/HOOK: a cgroup v2 hierarchy is mounted */
};

/* One program of a variant. off locates it in the skeleton (offsetof into
 * struct socktrace_bpf), so that a name the BPF object lacks fails the build;
 * tests/unit/test_probe.c checks the rest against the object. */
struct hook_prog {
	const char *name;
	size_t off;
	enum hook_attach attach;
	const char *target;	/* its SEC() after the prefix and the slash */
	unsigned int helpers;	/* HELPERS_*: what a cgroup program needs of its type */
};

/* Helpers that tracing programs always have, and cgroup programs only on
 * some kernels */
#define HELPERS_READ	(1u << 0)	/* bpf_probe_read_kernel() */
#define HELPERS_CURRENT	(1u << 1)	/* the current task's pid, name, cgroup */

struct hook_variant {
	enum hook_kind kind;
	const char *label;	/* as --probes prints it */
	struct hook_prog progs[PROBE_MAX_PROGS];	/* the programs it turns on */
	/* a function the kernel's BTF must have, else the variant cannot
	 * run; and why */
	const char *needs_func;
	const char *needs_why;
};

struct concern_desc {
	const char *name;
	const char *without;	/* what is missing when no variant runs */
	/* an enum the kernel's BTF must have, else no variant runs; and why */
	const char *needs_enum;
	const char *needs_why;
	/* a feature of newer kernels: going without it is no warning
	 * (--probes says why) */
	bool quiet;
	bool required;
	int n_variants;
	struct hook_variant variants[PROBE_MAX_VARIANTS];	/* preferred first */
};

struct probe_result {
	bool probed;
	bool ok;
	char why[192];		/* why it cannot run */
};

#define PROBE_RST_REASONS 64	/* enum sk_rst_reason values named */
#define PROBE_RST_REASON_LEN 32

struct probe {
	struct btf *btf;	/* running kernel's BTF, NULL if none */
	int btf_err;
	bool tracefs_ok;
	char cgroup2[256];	/* a cgroup v2 mount, "" if none */
	unsigned int wanted;	/* CONCERN_BIT()s to trace */
	int recv_flags_arg;	/* udp_recvmsg()'s flags argument: 3, or 4 before 5.19 */
	int listen_nargs;	/* inet_csk_listen_start()'s arguments: 1, or 2 on 5.10 */
	/* whether fentry/fexit programs attach: 0 not tried yet, 1 yes,
	 * -ENOTSUPP no (arm64 before 6.4) */
	int trampoline_attach;
	/* HELPERS_* sets tried, and those lacking a helper, for cgroup
	 * programs by program type (enum bpf_prog_type) */
	unsigned int cgroup_helpers_probed[PROBE_MAX_PROG_TYPES];
	unsigned int cgroup_helpers_missing[PROBE_MAX_PROG_TYPES];
	struct probe_result res[CONCERN__MAX][PROBE_MAX_VARIANTS];
	int selected[CONCERN__MAX];	/* variant index, -1 if none */
	bool forced_unavailable[CONCERN__MAX];
	enum hook_kind forced;	/* --hook, HOOK_AUTO for none */
	/* the running kernel's enum sk_rst_reason by value: SK_RST_REASON_
	 * dropped, lowercased ("tcp_abort_on_close"); "" where it has none */
	char rst_reasons[PROBE_RST_REASONS][PROBE_RST_REASON_LEN];
};

extern const struct concern_desc concerns[CONCERN__MAX];

/* Probes variants of the wanted concerns in preference order (all of them
 * with 'all') and selects one per concern; a forced kind is the only one
 * tried where a concern has it. Returns 0, or -ENOENT if a required wanted
 * concern has no usable variant. */
int probe__run(struct probe *p, enum hook_kind forced, bool all, unsigned int wanted);
/* Whether tracing cannot go on without concern c. */
bool probe__required(const struct probe *p, int c);
/* After a failed load or attach in automatic mode: moves concern 'failed'
 * (-1 if unknown: then one concern, the optional ones first) to its next
 * usable variant, or drops it if optional. Returns false if none is left. */
bool probe__fall_back(struct probe *p, int failed);
/* The concern whose selected variant has program prog, or -1. */
int probe__concern_of(const struct probe *p, const char *prog);
/* Turns on exactly the selected variants' programs before load; a program
 * that serves two concerns is on when either selected it. On failure,
 * *failed names the program. */
int probe__apply(const struct probe *p, struct socktrace_bpf *skel, const char **failed);
/* hp's program in an opened skeleton. */
struct bpf_program *probe__program(struct socktrace_bpf *skel, const struct hook_prog *hp);
/* The SEC() prefix of an attach kind: "tp_btf", "kprobe"... */
const char *hook_attach__prefix(enum hook_attach a);
void probe__print(const struct probe *p, FILE *out, bool json);
/* Gives p's vmlinux BTF to the next parse of it, libbpf's at load: one
 * parse at start-up instead of two. A fall-back parses it again. */
void probe__lend_btf(struct probe *p);
void probe__free(struct probe *p);
/* How many arguments function func takes by btf, else dflt: an fexit
 * program finds the return value after them. */
int probe__func_nargs(const struct btf *btf, const char *func, int dflt);
/* Mounts tracefs at /sys/kernel/tracing when no tracefs is visible. */
int probe__ensure_tracefs(void);

#endif /* ST_PROBE_H */
