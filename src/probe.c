// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "json_writer.h"
#include "probe.h"
#include "socktrace.h"
#include "socktrace.skel.h"

/* Table entries per SEC() prefix. offsetof() makes a program the skeleton
 * lacks a build error. */
#define PROG_H(prog, how, tgt, h) \
	{ #prog, offsetof(struct socktrace_bpf, progs.prog), how, tgt, h }
#define PROG(prog, how, tgt) PROG_H(prog, how, tgt, 0)
#define TP_BTF(prog, tp) PROG(prog, ATTACH_TP_BTF, tp)
#define TRACEPOINT(prog, cat_tp) PROG(prog, ATTACH_TRACEPOINT, cat_tp)
#define FENTRY(prog, func) PROG(prog, ATTACH_FENTRY, func)
#define FEXIT(prog, func) PROG(prog, ATTACH_FEXIT, func)
#define KPROBE(prog, func) PROG(prog, ATTACH_KPROBE, func)
#define KRETPROBE(prog, func) PROG(prog, ATTACH_KRETPROBE, func)
#define CGROUP(prog, hook) PROG(prog, ATTACH_CGROUP, hook)
#define CGROUP_H(prog, hook, h) PROG_H(prog, ATTACH_CGROUP, hook, h)
#define ITER(prog, target) PROG(prog, ATTACH_ITER, target)
#define CGROUP_SKB(prog, hook) PROG(prog, ATTACH_CGROUP_SKB, hook)

const struct concern_desc concerns[CONCERN__MAX] = {
	[CONCERN_TCP_STATE] = {
		.name = "tcp_state",
		.required = true,
		.n_variants = 4,
		/* listen() does not go through tcp_set_state(): the fentry and
		 * kprobe variants have a hook on inet_csk_listen_start() too */
		.variants = {
			{ HOOK_TP_BTF, "tp_btf/inet_sock_set_state",
			  { TP_BTF(state_btf, "inet_sock_set_state") } },
			{ HOOK_TRACEPOINT, "tracepoint/sock/inet_sock_set_state",
			  { TRACEPOINT(state_tp, "sock/inet_sock_set_state") } },
			{ HOOK_FENTRY, "fentry/tcp_set_state",
			  { FENTRY(state_fentry, "tcp_set_state"),
			    FEXIT(listen_fexit, "inet_csk_listen_start") } },
			{ HOOK_KPROBE, "kprobe/tcp_set_state",
			  { KPROBE(state_kprobe, "tcp_set_state"),
			    KPROBE(listen_kprobe, "inet_csk_listen_start"),
			    KRETPROBE(listen_kretprobe, "inet_csk_listen_start") } },
		},
	},
	[CONCERN_RETRANS] = {
		.name = "retransmit",
		.without = "connection attempts show no SYN retransmits",
		.required = false,
		.n_variants = 4,
		.variants = {
			{ HOOK_TP_BTF, "tp_btf/tcp_retransmit_skb",
			  { TP_BTF(retrans_btf, "tcp_retransmit_skb") } },
			{ HOOK_TRACEPOINT, "tracepoint/tcp/tcp_retransmit_skb",
			  { TRACEPOINT(retrans_tp, "tcp/tcp_retransmit_skb") } },
			{ HOOK_FENTRY, "fexit/tcp_retransmit_skb+tcp_send_loss_probe",
			  { FEXIT(retrans_fexit, "tcp_retransmit_skb"),
			    FENTRY(tlp_fentry, "tcp_send_loss_probe"),
			    FEXIT(tlp_fexit, "tcp_send_loss_probe") } },
			{ HOOK_KPROBE, "kretprobe/tcp_retransmit_skb+tcp_send_loss_probe",
			  { KPROBE(retrans_kprobe, "tcp_retransmit_skb"),
			    KRETPROBE(retrans_kretprobe, "tcp_retransmit_skb"),
			    KPROBE(tlp_kprobe, "tcp_send_loss_probe"),
			    KRETPROBE(tlp_kretprobe, "tcp_send_loss_probe") } },
		},
	},
	[CONCERN_ACCEPT] = {
		.name = "accept",
		.without = "accepted sockets keep their listener's owner",
		.required = false,
		.n_variants = 4,
		/* What runs at the end of accept() first: fexit and kretprobe
		 * miss an accept() that was already waiting when they attached,
		 * as a server's usually is. The cgroup hook before the syscall
		 * tracepoints, which slow every syscall of the host while
		 * attached and take tens of ms to detach (accept.bpf.h). */
		.variants = {
			{ HOOK_CGROUP, "cgroup/getpeername{4,6}",
			  { CGROUP_H(accept_peer4, "getpeername4", HELPERS_READ | HELPERS_CURRENT),
			    CGROUP_H(accept_peer6, "getpeername6", HELPERS_READ | HELPERS_CURRENT) } },
			{ HOOK_TRACEPOINT, "tracepoint/syscalls/sys_exit_accept{,4}",
			  { TRACEPOINT(accept4_tp, "syscalls/sys_exit_accept4"),
			    TRACEPOINT(accept_tp, "syscalls/sys_exit_accept") } },
			{ HOOK_FENTRY, "fexit/inet_csk_accept",
			  { FEXIT(accept_fexit, "inet_csk_accept") } },
			{ HOOK_KPROBE, "kretprobe/inet_csk_accept",
			  { KRETPROBE(accept_kretprobe, "inet_csk_accept") } },
		},
	},
	[CONCERN_TCP_IO] = {
		.name = "tcp_io",
		.without = "a connection keeps the owner that accepted it when another process serves it",
		.required = false,
		.n_variants = 4,
		/* fentry and kprobes run for TCP only; the tracepoints for every
		 * socket (tp_btf shares its programs with UDP flows) */
		.variants = {
			{ HOOK_FENTRY, "fentry/tcp_{send,recv}msg",
			  { FENTRY(tcp_send_fentry, "tcp_sendmsg"),
			    FENTRY(tcp_recv_fentry, "tcp_recvmsg") } },
			{ HOOK_TP_BTF, "tp_btf/sock_{send,recv}_length",
			  { TP_BTF(io_send_btf, "sock_send_length"),
			    TP_BTF(io_recv_btf, "sock_recv_length") } },
			{ HOOK_TRACEPOINT, "tracepoint/sock/sock_{send,recv}_length",
			  { TRACEPOINT(tcp_send_tp, "sock/sock_send_length"),
			    TRACEPOINT(tcp_recv_tp, "sock/sock_recv_length") } },
			{ HOOK_KPROBE, "kprobe/tcp_{send,recv}msg",
			  { KPROBE(tcp_send_kprobe, "tcp_sendmsg"),
			    KPROBE(tcp_recv_kprobe, "tcp_recvmsg") } },
		},
	},
	[CONCERN_SO_ERROR] = {
		.name = "so_error",
		.without = "an attempt whose ICMP error the application read with getsockopt(SO_ERROR) shows as aborted",
		.required = false,
		.n_variants = 2,
		.variants = {
			{ HOOK_CGROUP, "cgroup/getsockopt",
			  { CGROUP_H(so_error_cg, "getsockopt", HELPERS_READ) },
			  .needs_func = "tcp_done_with_error",
			  .needs_why = "no tcp_done_with_error() in the kernel (Linux 6.10 and stable "
				       "updates): an application can take the error before the socket "
				       "reaches CLOSE, and getsockopt() can fail where a cgroup program runs" },
			{ HOOK_TRACEPOINT, "tracepoint/syscalls/sys_enter_getsockopt",
			  { TRACEPOINT(so_error_tp, "syscalls/sys_enter_getsockopt") } },
		},
	},
	[CONCERN_UDP] = {
		.name = "udp",
		.without = "UDP flows are not traced",
		.required = false,
		.n_variants = 3,
		/* fexit and kprobes run for UDP only; the tracepoints run for
		 * every socket's send and receive, and need the cgroup hooks to
		 * learn the peer of an unconnected socket */
		.variants = {
			{ HOOK_FENTRY, "fexit/udp{,v6}_{send,recv}msg",
			  { FEXIT(udp_send_fexit, "udp_sendmsg"),
			    FEXIT(udp6_send_fexit, "udpv6_sendmsg"),
			    FEXIT(udp_recv_fexit4, "udp_recvmsg"),
			    FEXIT(udp_recv_fexit6, "udpv6_recvmsg") } },
			{ HOOK_KPROBE, "kprobe/udp{,v6}_{send,recv}msg",
			  { KPROBE(udp_send_kprobe, "udp_sendmsg"),
			    KRETPROBE(udp_send_kretprobe, "udp_sendmsg"),
			    KPROBE(udp6_send_kprobe, "udpv6_sendmsg"),
			    KRETPROBE(udp6_send_kretprobe, "udpv6_sendmsg"),
			    KPROBE(udp_recv_kprobe, "udp_recvmsg"),
			    KRETPROBE(udp_recv_kretprobe, "udp_recvmsg"),
			    KPROBE(udp6_recv_kprobe, "udpv6_recvmsg"),
			    KRETPROBE(udp6_recv_kretprobe, "udpv6_recvmsg") } },
			{ HOOK_TP_BTF, "tp_btf/sock_{send,recv}_length+cgroup/{send,recv}msg{4,6}",
			  { TP_BTF(io_send_btf, "sock_send_length"),
			    TP_BTF(io_recv_btf, "sock_recv_length"),
			    CGROUP(udp_sendmsg4, "sendmsg4"),
			    CGROUP(udp_sendmsg6, "sendmsg6"),
			    CGROUP(udp_recvmsg4, "recvmsg4"),
			    CGROUP(udp_recvmsg6, "recvmsg6") } },
		},
	},
	[CONCERN_UDP_CLOSE] = {
		.name = "udp_close",
		.without = "UDP flows end only when idle, not when their socket closes",
		.required = false,
		.n_variants = 1,
		.variants = {
			{ HOOK_CGROUP, "cgroup/sock_release",
			  { CGROUP(udp_release, "sock_release") } },
		},
	},
	[CONCERN_TCP_CONN_UPDATE] = {
		.name = "tcp_conn_update",
		.without = "no counters of live TCP connections (--interval, the startup snapshot)",
		.required = false,
		.n_variants = 1,
		.variants = {
			{ HOOK_ITER, "iter/tcp", { ITER(conn_iter_tcp, "tcp") } },
		},
	},
	[CONCERN_RST_REASON] = {
		.name = "rst_reason",
		.without = "TCP connections' end records have no reset_reason",
		.needs_enum = "sk_rst_reason",
		.needs_why = "tcp_send_reset has no reason before Linux 6.10 (no enum sk_rst_reason in the kernel's BTF)",
		.quiet = true,
		.required = false,
		.n_variants = 2,
		.variants = {
			{ HOOK_TP_BTF, "tp_btf/tcp_send_reset",
			  { TP_BTF(rst_btf, "tcp_send_reset") } },
			{ HOOK_TRACEPOINT, "tracepoint/tcp/tcp_send_reset",
			  { TRACEPOINT(rst_tp, "tcp/tcp_send_reset") } },
		},
	},
	[CONCERN_DNS] = {
		.name = "dns",
		.without = "remote addresses have no names (rname)",
		.required = false,
		.n_variants = 1,
		/* cgroup_skb/ingress on the root cgroup sees every datagram a
		 * local socket receives, in every network namespace, with its
		 * payload, for about 1 % of a loopback connection storm's rate
		 * (docs/performance.md); the socket-level hooks that run here
		 * (sock_recv_length) see lengths, not payloads */
		.variants = {
			{ HOOK_CGROUP, "cgroup_skb/ingress",
			  { CGROUP_SKB(dns_ingress, "ingress") } },
		},
	},
	[CONCERN_DNS_QUERY] = {
		.name = "dns_query",
		.without = "DNS queries have no outcomes (--dns)",
		.required = false,
		.n_variants = 1,
		/* the way out of the same cgroup hook: a query is seen as it
		 * leaves, in its sender's network namespace */
		.variants = {
			{ HOOK_CGROUP, "cgroup_skb/egress",
			  { CGROUP_SKB(dns_egress, "egress") } },
		},
	},
};

static const char *const tracefs_dirs[] = {
	"/sys/kernel/tracing",
	"/sys/kernel/debug/tracing",
};

static bool tracefs_has_events(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/events", dir);
	return access(path, F_OK) == 0;
}

int probe__ensure_tracefs(void)
{
	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]); i++)
		if (tracefs_has_events(tracefs_dirs[i]))
			return 0;
	/* classic tracepoints are attached through tracefs ids */
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	return 0;
}

static bool tracepoint_exists(const char *cat_name)
{
	char path[256];

	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/id", tracefs_dirs[i], cat_name);
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

/* The kernel's ENOTSUPP, which strerror() does not know */
#define ENOTSUPP_KERNEL 524

/* Whether fentry/fexit programs attach at all: on arm64 before 6.4 (no
 * ftrace direct calls, commit 2aa6ac03516d) they load and every attach
 * fails with ENOTSUPP. Tried on the first function only, as each attach
 * and detach patches kernel text (in the 6.1 test guest, --hook fentry was
 * ready after 2.9 s with every probe attached, 0.66 s without); a function
 * that still cannot be attached fails the real attach, and in automatic
 * mode its concern falls back then. */
static int trampoline_try_attach(struct probe *p, int prog_fd)
{
	int link_fd, err;

	if (p->trampoline_attach)
		return p->trampoline_attach > 0 ? 0 : p->trampoline_attach;
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	if (link_fd >= 0) {
		p->trampoline_attach = 1;
		close(link_fd);
		return 0;
	}
	err = -errno;
	/* other errors may be this function's alone: the next one tries again */
	if (err == -ENOTSUPP_KERNEL)
		p->trampoline_attach = err;
	return err;
}

/* Loads an empty tracing program: the only reliable test, as a kernel may
 * know the BTF id and still refuse (lockdown, EPERM). The fexit programs
 * read the return value from their context, not with bpf_get_func_ret()
 * (5.17+): they load where fexit does, 5.5+. An fentry/fexit program is
 * also attached, but once per run (see trampoline_try_attach()). */
static int tracing_try_load(struct probe *p, const char *name, int kind,
			    enum bpf_attach_type type, char *why, size_t len)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	int id, prog_fd, err;

	if (!p->btf) {
		snprintf(why, len, "the kernel has no BTF");
		return -ENOENT;
	}
	id = btf__find_by_name_kind(p->btf, name, kind);
	if (id < 0) {
		snprintf(why, len, "%s not in the kernel's BTF", name);
		return -ENOENT;
	}
	opts.attach_btf_id = id;
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (prog_fd < 0) {
		err = -errno;
		snprintf(why, len, "program load failed: %s", strerror(-err));
		return err;
	}
	err = type == BPF_TRACE_RAW_TP ? 0 : trampoline_try_attach(p, prog_fd);
	close(prog_fd);
	if (err == -ENOTSUPP_KERNEL)
		snprintf(why, len, "loads, but does not attach: the kernel has no trampolines "
			 "to kernel functions (ENOTSUPP; arm64 before 6.4)");
	else if (err)
		snprintf(why, len, "loads, but does not attach: %s", strerror(-err));
	return err;
}

static int kprobe_check(const struct btf *btf, const char *func, char *why, size_t len)
{
	/* libbpf uses the kprobe PMU, or the legacy kprobe_events file */
	if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) &&
	    access("/sys/kernel/tracing/kprobe_events", F_OK) &&
	    access("/sys/kernel/debug/tracing/kprobe_events", F_OK)) {
		snprintf(why, len, "kprobes not supported by this kernel (CONFIG_KPROBES)");
		return -EOPNOTSUPP;
	}
	if (btf && btf__find_by_name_kind(btf, func, BTF_KIND_FUNC) < 0) {
		snprintf(why, len, "function %s not found (inlined or absent)", func);
		return -ENOENT;
	}
	return 0;
}

static int tracepoint_check(bool tracefs_ok, const char *cat_name, char *why, size_t len)
{
	const char *slash = strchr(cat_name, '/');

	if (!tracefs_ok) {
		snprintf(why, len, "tracefs is not mounted and could not be mounted");
		return -ENOENT;
	}
	if (!tracepoint_exists(cat_name)) {
		snprintf(why, len, "tracepoint %.*s:%s not found", (int)(slash ? slash - cat_name : 0),
			 cat_name, slash ? slash + 1 : cat_name);
		return -ENOENT;
	}
	return 0;
}

static int cgroup_check(const struct probe *p, char *why, size_t len)
{
	if (!p->cgroup2[0]) {
		snprintf(why, len, "no cgroup v2 hierarchy is mounted");
		return -ENOENT;
	}
	return 0;
}

/* Whether the helpers a cgroup program asks for (HELPERS_*) exist for its
 * type: tracing programs have them all, cgroup program types have them on
 * the kernels of the test matrix (5.10 on) but by type and kernel options,
 * not everywhere. One small test load per helper, once per program type
 * and set. */
static int cgroup_helpers_check(struct probe *p, const struct hook_prog *hp,
				char *why, size_t len)
{
	static const struct {
		unsigned int set;
		enum bpf_func_id id;
	} needs[] = {
		{ HELPERS_READ, BPF_FUNC_probe_read_kernel },
		{ HELPERS_CURRENT, BPF_FUNC_get_current_pid_tgid },
		{ HELPERS_CURRENT, BPF_FUNC_get_current_comm },
		{ HELPERS_CURRENT, BPF_FUNC_get_current_task },
		{ HELPERS_CURRENT, BPF_FUNC_get_current_cgroup_id },
		{ HELPERS_CURRENT, BPF_FUNC_probe_read_kernel_str },
	};
	enum bpf_attach_type attach;
	enum bpf_prog_type type;
	unsigned int *probed, *missing, lack;
	char sec[64];

	/* the type libbpf gives the program, from its SEC() */
	snprintf(sec, sizeof(sec), "%s/%s", hook_attach__prefix(hp->attach), hp->target);
	if (libbpf_prog_type_by_name(sec, &type, &attach) || type >= PROBE_MAX_PROG_TYPES) {
		snprintf(why, len, "libbpf does not know SEC(\"%s\")", sec);
		return -ENOTSUP;
	}
	probed = &p->cgroup_helpers_probed[type];
	missing = &p->cgroup_helpers_missing[type];
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
		if ((hp->helpers & ~*probed & needs[i].set) &&
		    libbpf_probe_bpf_helper(type, needs[i].id, NULL) != 1)
			*missing |= needs[i].set;
	*probed |= hp->helpers;
	lack = hp->helpers & *missing;
	if (lack) {
		snprintf(why, len, "cgroup/%s programs cannot %s on this kernel", hp->target,
			 lack & HELPERS_READ ? "read kernel memory" : "name the current process");
		return -ENOTSUP;
	}
	return 0;
}

/* The first cgroup2 mount in /proc/self/mountinfo: "... MOUNTPOINT ... - cgroup2 ...". */
static void find_cgroup2(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], mnt[512], fstype[64];

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 && strlen(mnt) < len) {
			strcpy(out, mnt);
			break;
		}
	}
	fclose(f);
}

int probe__func_nargs(const struct btf *btf, const char *func, int dflt)
{
	const struct btf_type *t;
	int id;

	if (!btf || (id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC)) < 0)
		return dflt;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	return t && btf_is_func_proto(t) ? btf_vlen(t) : dflt;
}

/* udp_recvmsg() lost its noblock argument in 5.19 (commit ec095263a965):
 * its flags are then the fourth argument instead of the fifth. */
static int recv_flags_arg(const struct btf *btf)
{
	/* sk, msg, len, noblock, flags, addr_len */
	return probe__func_nargs(btf, "udp_recvmsg", 5) == 6 ? ST_RECV_FLAGS_ARG_NOBLOCK :
								ST_RECV_FLAGS_ARG;
}

/* Whether program hp can attach on this kernel, by its attach kind; if not,
 * why. */
static int prog_check(struct probe *p, const struct hook_prog *hp, char *why, size_t len)
{
	char tp[128];

	switch (hp->attach) {
	case ATTACH_TP_BTF:
		snprintf(tp, sizeof(tp), "btf_trace_%s", hp->target);
		return tracing_try_load(p, tp, BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len);
	case ATTACH_TRACEPOINT:
		return tracepoint_check(p->tracefs_ok, hp->target, why, len);
	case ATTACH_FENTRY:
		return tracing_try_load(p, hp->target, BTF_KIND_FUNC, BPF_TRACE_FENTRY, why, len);
	case ATTACH_FEXIT:
		return tracing_try_load(p, hp->target, BTF_KIND_FUNC, BPF_TRACE_FEXIT, why, len);
	case ATTACH_KPROBE:
	case ATTACH_KRETPROBE:
		return kprobe_check(p->btf, hp->target, why, len);
	case ATTACH_CGROUP:
		if (cgroup_check(p, why, len))
			return -ENOENT;
		return hp->helpers ? cgroup_helpers_check(p, hp, why, len) : 0;
	case ATTACH_CGROUP_SKB:
		return cgroup_check(p, why, len);
	case ATTACH_ITER:
		snprintf(tp, sizeof(tp), "bpf_iter_%s", hp->target);
		if (!p->btf || btf__find_by_name_kind(p->btf, tp, BTF_KIND_FUNC) < 0) {
			snprintf(why, len, "no BPF iterator over %s (Linux 5.9+)", hp->target);
			return -ENOENT;
		}
		return 0;
	}
	snprintf(why, len, "not implemented");
	return -ENOTSUP;
}

/* A variant can run when each of its programs can; the first that cannot
 * says why. */
static int variant_check(struct probe *p, int c, int v, char *why, size_t len)
{
	const struct hook_variant *hv = &concerns[c].variants[v];
	const char *needs = concerns[c].needs_enum;
	int err = 0;

	if (needs && (!p->btf || btf__find_by_name_kind(p->btf, needs, BTF_KIND_ENUM) < 0)) {
		snprintf(why, len, "%s", concerns[c].needs_why);
		return -ENOENT;
	}
	if (hv->needs_func &&
	    (!p->btf || btf__find_by_name_kind(p->btf, hv->needs_func, BTF_KIND_FUNC) < 0)) {
		snprintf(why, len, "%s", hv->needs_why);
		return -ENOENT;
	}
	for (int i = 0; i < PROBE_MAX_PROGS && hv->progs[i].name && !err; i++)
		err = prog_check(p, &hv->progs[i], why, len);
	return err;
}

static bool concern_has_kind(int c, enum hook_kind kind)
{
	for (int v = 0; v < concerns[c].n_variants; v++)
		if (concerns[c].variants[v].kind == kind)
			return true;
	return false;
}

bool probe__required(const struct probe *p, int c)
{
	if (!(p->wanted & CONCERN_BIT(c)))
		return false;
	/* UDP is what the user asked for when TCP is not */
	return concerns[c].required ||
	       (c == CONCERN_UDP && !(p->wanted & CONCERN_BIT(CONCERN_TCP_STATE)));
}

/* enum sk_rst_reason's names, from the running kernel rather than a
 * table: the list grows (MPTCP's came with it, more since). */
static void rst_reasons_load(struct probe *p)
{
	static const char prefix[] = "SK_RST_REASON_";
	const struct btf_type *t;
	const struct btf_enum *e;
	int id;

	if (!p->btf || (id = btf__find_by_name_kind(p->btf, "sk_rst_reason", BTF_KIND_ENUM)) < 0)
		return;
	t = btf__type_by_id(p->btf, id);
	e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, e++) {
		const char *name = btf__name_by_offset(p->btf, e->name_off);
		char *out;
		size_t j;

		if (!name || e->val < 0 || e->val >= PROBE_RST_REASONS)
			continue;
		if (!strncmp(name, prefix, sizeof(prefix) - 1))
			name += sizeof(prefix) - 1;
		out = p->rst_reasons[e->val];
		for (j = 0; name[j] && j < PROBE_RST_REASON_LEN - 1; j++)
			out[j] = name[j] >= 'A' && name[j] <= 'Z' ? name[j] - 'A' + 'a' : name[j];
		out[j] = '\0';
	}
}

#define HUGE_PAGE_SIZE (2u << 20)
#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* the range heap_reserve_huge() gave huge pages, until the parse is done */
static uintptr_t huge_lo, huge_hi;
static bool heap_trim_due;	/* the parse's heap goes back by probe__free() */

/* Grows the heap once by size bytes in transparent huge pages (madvise
 * mode), for the vmlinux BTF's buffers to come from: on a VM where the
 * first touch of a 4 KiB page is expensive (40-60 us on a paravirtualised
 * one) their page faults were most of the parse. Without huge pages it is
 * only a larger heap. */
static void heap_reserve_huge(size_t size)
{
	uintptr_t lo, hi;
	char *mem;

	size = (size + HUGE_PAGE_SIZE - 1) & ~(size_t)(HUGE_PAGE_SIZE - 1);
	/* from the heap (not mmap), and kept there once freed; glibc's own
	 * thresholds rise as far after the first large free() */
	if (size > (16u << 20) || mallopt(M_MMAP_THRESHOLD, size + HUGE_PAGE_SIZE) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, 2 * (size + HUGE_PAGE_SIZE)) != 1)
		return;
	mem = malloc(size);
	if (!mem)
		return;
	lo = ((uintptr_t)mem + HUGE_PAGE_SIZE - 1) & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
	hi = ((uintptr_t)mem + size) & ~(uintptr_t)(HUGE_PAGE_SIZE - 1);
	/* an error (no THP) leaves 4 KiB pages: slower, not wrong */
	if (hi > lo && !madvise((void *)lo, hi - lo, MADV_HUGEPAGE)) {
		huge_lo = lo;
		huge_hi = hi;
	}
	free(mem);
	heap_trim_due = true;
}

/* Small pages again for what the heap holds after the parse: an
 * allocation there would fault in a whole 2 MiB page, and keep it. */
static void heap_end_huge(void)
{
	if (huge_hi)
		madvise((void *)huge_lo, huge_hi - huge_lo, MADV_NOHUGEPAGE);
	huge_lo = huge_hi = 0;
}

/* btf__load_vmlinux_btf() reads the file into one buffer and copies it
 * into another. A kernel that lets its BTF be mapped (6.15+) saves the
 * read and the first buffer: btf__new() copies from the mapping. */
static struct btf *vmlinux_btf_load(void)
{
	struct btf *btf = NULL;
	struct stat st;
	void *mem = MAP_FAILED;
	int fd, err;

	fd = open(VMLINUX_BTF, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && st.st_size > 0)
		mem = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (mem == MAP_FAILED) {
		if (fd >= 0 && !stat(VMLINUX_BTF, &st))
			heap_reserve_huge(st.st_size * 5 / 2);
		btf = btf__load_vmlinux_btf();
		heap_end_huge();
		return btf;
	}
	/* the copy, and the type index (4 bytes a type) */
	heap_reserve_huge(st.st_size * 3 / 2);
	btf = btf__new(mem, st.st_size);
	err = btf ? 0 : -errno;
	munmap(mem, st.st_size);
	if (err)
		btf = btf__load_vmlinux_btf();
	heap_end_huge();
	return btf;
}

int probe__run(struct probe *p, enum hook_kind forced, bool all, unsigned int wanted)
{
	int err = 0;

	memset(p, 0, sizeof(*p));
	p->wanted = wanted;
	p->forced = forced;
	p->btf = vmlinux_btf_load();
	if (!p->btf)
		p->btf_err = -errno;
	p->tracefs_ok = probe__ensure_tracefs() == 0;
	find_cgroup2(p->cgroup2, sizeof(p->cgroup2));
	p->recv_flags_arg = recv_flags_arg(p->btf);
	/* sk, backlog before 6.1 */
	p->listen_nargs = probe__func_nargs(p->btf, "inet_csk_listen_start", 1);
	rst_reasons_load(p);

	for (int c = 0; c < CONCERN__MAX; c++) {
		bool only = forced != HOOK_AUTO && concern_has_kind(c, forced);

		p->selected[c] = -1;
		if (!(wanted & CONCERN_BIT(c)))
			continue;
		for (int v = 0; v < concerns[c].n_variants; v++) {
			struct probe_result *r = &p->res[c][v];

			if (only && concerns[c].variants[v].kind != forced)
				continue;
			if (!all && p->selected[c] >= 0)
				break;
			r->probed = true;
			r->ok = variant_check(p, c, v, r->why, sizeof(r->why)) == 0;
			if (r->ok && p->selected[c] < 0)
				p->selected[c] = v;
		}
		if (p->selected[c] < 0) {
			p->forced_unavailable[c] = only;
			if (probe__required(p, c))
				err = -ENOENT;
		}
	}
	return err;
}

/* Moves concern c from its selected variant to the next usable one, or
 * drops it if optional; false if neither is possible. */
static bool concern_fall_back(struct probe *p, int c)
{
	bool only = p->forced != HOOK_AUTO && concern_has_kind(c, p->forced);
	int cur = p->selected[c];

	if (cur < 0)
		return false;
	for (int v = cur + 1; v < concerns[c].n_variants; v++) {
		struct probe_result *r = &p->res[c][v];

		/* --hook: never another kind where the concern has that one */
		if (only && concerns[c].variants[v].kind != p->forced)
			continue;

		if (!r->probed) {
			r->probed = true;
			r->ok = variant_check(p, c, v, r->why, sizeof(r->why)) == 0;
		}
		if (r->ok) {
			snprintf(p->res[c][cur].why, sizeof(p->res[c][cur].why),
				 "failed to load or attach with the other programs");
			p->res[c][cur].ok = false;
			p->selected[c] = v;
			return true;
		}
	}
	if (probe__required(p, c))
		return false;
	snprintf(p->res[c][cur].why, sizeof(p->res[c][cur].why),
		 "failed to load or attach with the other programs");
	p->res[c][cur].ok = false;
	p->selected[c] = -1;
	return true;
}

bool probe__fall_back(struct probe *p, int failed)
{
	if (!p->btf && !p->btf_err) {
		p->btf = btf__load_vmlinux_btf();
		if (!p->btf)
			p->btf_err = -errno;
	}
	if (failed >= 0 && failed < CONCERN__MAX)
		return concern_fall_back(p, failed);
	/* unknown culprit (a load failure): the optional concerns first */
	for (int c = CONCERN__MAX - 1; c >= 0; c--)
		if (concern_fall_back(p, c))
			return true;
	return false;
}

int probe__concern_of(const struct probe *p, const char *prog)
{
	for (int c = 0; c < CONCERN__MAX; c++) {
		const struct hook_variant *hv;

		if (p->selected[c] < 0)
			continue;
		hv = &concerns[c].variants[p->selected[c]];
		for (int i = 0; i < PROBE_MAX_PROGS && hv->progs[i].name; i++)
			if (!strcmp(hv->progs[i].name, prog))
				return c;
	}
	return -1;
}

struct bpf_program *probe__program(struct socktrace_bpf *skel, const struct hook_prog *hp)
{
	return *(struct bpf_program **)((char *)skel + hp->off);
}

int probe__apply(const struct probe *p, struct socktrace_bpf *skel, const char **failed)
{
	struct bpf_program *prog;
	int err;

	/* every program off, then the selected variants' on: a program two
	 * concerns share stays on when either selected it */
	bpf_object__for_each_program(prog, skel->obj) {
		err = bpf_program__set_autoload(prog, false);
		if (err) {
			*failed = bpf_program__name(prog);
			return err;
		}
	}
	for (int c = 0; c < CONCERN__MAX; c++) {
		const struct hook_variant *hv;

		if (p->selected[c] < 0)
			continue;
		hv = &concerns[c].variants[p->selected[c]];
		for (int i = 0; i < PROBE_MAX_PROGS && hv->progs[i].name; i++) {
			err = bpf_program__set_autoload(probe__program(skel, &hv->progs[i]), true);
			if (err) {
				*failed = hv->progs[i].name;
				return err;
			}
		}
	}
	return 0;
}

const char *hook_attach__prefix(enum hook_attach a)
{
	switch (a) {
	case ATTACH_TP_BTF:
		return "tp_btf";
	case ATTACH_TRACEPOINT:
		return "tracepoint";
	case ATTACH_FENTRY:
		return "fentry";
	case ATTACH_FEXIT:
		return "fexit";
	case ATTACH_KPROBE:
		return "kprobe";
	case ATTACH_KRETPROBE:
		return "kretprobe";
	case ATTACH_CGROUP:
		return "cgroup";
	case ATTACH_ITER:
		return "iter";
	case ATTACH_CGROUP_SKB:
		return "cgroup_skb";
	}
	return "?";
}

static const char *result_status(const struct probe *p, int c, int v)
{
	const struct probe_result *r = &p->res[c][v];

	if (p->selected[c] == v)
		return "selected";
	if (!(p->wanted & CONCERN_BIT(c)))
		return "not wanted";
	if (!r->probed)
		return "not probed";
	return r->ok ? "available" : "unavailable";
}

void probe__print(const struct probe *p, FILE *out, bool json)
{
	struct json_writer w = {};

	if (json) {
		json__begin(&w);
		json__key_str(&w, "type", "probes");
		json__key_bool(&w, "btf", p->btf != NULL);
		json__key_bool(&w, "tracefs", p->tracefs_ok);
		json__key(&w, "concerns");
		json__array(&w);
		for (int c = 0; c < CONCERN__MAX; c++) {
			json__elem(&w);
			json__key_str(&w, "name", concerns[c].name);
			json__key_str(&w, "selected", p->selected[c] >= 0 ?
				      concerns[c].variants[p->selected[c]].label : NULL);
			json__key(&w, "variants");
			json__array(&w);
			for (int v = 0; v < concerns[c].n_variants; v++) {
				const struct probe_result *r = &p->res[c][v];

				json__elem(&w);
				json__key_str(&w, "variant", concerns[c].variants[v].label);
				json__key_str(&w, "kind", hook_kind__name(concerns[c].variants[v].kind));
				json__key_str(&w, "status", result_status(p, c, v));
				json__key_str(&w, "reason", r->probed && !r->ok ? r->why : NULL);
				json__close(&w);
			}
			json__close_array(&w);
			json__close(&w);
		}
		json__close_array(&w);
		json__end(&w);
		fwrite(w.buf, 1, w.len, out);
		json__free(&w);
		return;
	}

	fprintf(out, "kernel BTF: %s\n", p->btf ? "yes" : "no");
	fprintf(out, "tracefs:    %s\n\n", p->tracefs_ok ? "yes" : "no");
	fprintf(out, "%-10s %-40s %s\n", "CONCERN", "VARIANT", "STATUS");
	for (int c = 0; c < CONCERN__MAX; c++) {
		for (int v = 0; v < concerns[c].n_variants; v++) {
			const struct probe_result *r = &p->res[c][v];

			fprintf(out, "%-10s %-40s %s", v ? "" : concerns[c].name,
				concerns[c].variants[v].label, result_status(p, c, v));
			if (r->probed && !r->ok)
				fprintf(out, ": %s", r->why);
			fputc('\n', out);
		}
	}
}

/* The vmlinux BTF the probes parsed, for libbpf's load to take instead of
 * parsing the same 5 MB again (10 to 100 ms of start-up, most of it page
 * faults on fresh memory). libbpf gets it from btf__load_vmlinux_btf(),
 * which the link wraps (Makefile); with a shared libbpf the wrap does not
 * reach libbpf's own call, and it parses again: slower, not wrong. */
static struct btf *lent_btf;

struct btf *__real_btf__load_vmlinux_btf(void);

struct btf *__wrap_btf__load_vmlinux_btf(void)
{
	struct btf *btf = lent_btf;

	if (!btf)
		return __real_btf__load_vmlinux_btf();
	/* the caller owns and frees it, as a freshly parsed one */
	lent_btf = NULL;
	return btf;
}

void probe__lend_btf(struct probe *p)
{
	btf__free(lent_btf);
	lent_btf = p->btf;
	p->btf = NULL;
}

void probe__free(struct probe *p)
{
	btf__free(p->btf);
	p->btf = NULL;
	/* a load that needed no vmlinux BTF left it */
	btf__free(lent_btf);
	lent_btf = NULL;
	/* the parse's heap back to the system, once: at exit it would only
	 * cost time */
	if (heap_trim_due)
		malloc_trim(0);
	heap_trim_due = false;
}
