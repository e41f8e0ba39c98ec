// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "format.h"
#include "probe.h"
#include "socktrace.h"

const struct concern_desc concerns[CONCERN__MAX] = {
	[CONCERN_TCP_STATE] = {
		.name = "tcp_state",
		.required = true,
		.n_variants = 4,
		.variants = {
			{ HOOK_TP_BTF, "tp_btf/inet_sock_set_state", { "state_btf" } },
			{ HOOK_TRACEPOINT, "tracepoint/sock/inet_sock_set_state", { "state_tp" } },
			{ HOOK_FENTRY, "fentry/tcp_set_state", { "state_fentry", "listen_fexit" } },
			{ HOOK_KPROBE, "kprobe/tcp_set_state", { "state_kprobe", "listen_kprobe",
								"listen_kretprobe" } },
		},
	},
	[CONCERN_RETRANS] = {
		.name = "retransmit",
		.without = "connection attempts show no SYN retransmits",
		.required = false,
		.n_variants = 4,
		.variants = {
			{ HOOK_TP_BTF, "tp_btf/tcp_retransmit_skb", { "retrans_btf" } },
			{ HOOK_TRACEPOINT, "tracepoint/tcp/tcp_retransmit_skb", { "retrans_tp" } },
			{ HOOK_FENTRY, "fentry/tcp_retransmit_skb", { "retrans_fentry" } },
			{ HOOK_KPROBE, "kprobe/tcp_retransmit_skb", { "retrans_kprobe" } },
		},
	},
	[CONCERN_ACCEPT] = {
		.name = "accept",
		.without = "accepted sockets keep their listener's owner",
		.required = false,
		.n_variants = 3,
		/* The syscall exit first: fexit and kretprobe miss an accept()
		 * that was already waiting when they attached, as a server's
		 * usually is. */
		.variants = {
			{ HOOK_TRACEPOINT, "tracepoint/syscalls/sys_exit_accept{,4}",
			  { "accept4_tp", "accept_tp" } },
			{ HOOK_FENTRY, "fexit/inet_csk_accept", { "accept_fexit" } },
			{ HOOK_KPROBE, "kretprobe/inet_csk_accept", { "accept_kretprobe" } },
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
			  { "tcp_send_fentry", "tcp_recv_fentry" } },
			{ HOOK_TP_BTF, "tp_btf/sock_{send,recv}_length",
			  { "io_send_btf", "io_recv_btf" } },
			{ HOOK_TRACEPOINT, "tracepoint/sock/sock_{send,recv}_length",
			  { "tcp_send_tp", "tcp_recv_tp" } },
			{ HOOK_KPROBE, "kprobe/tcp_{send,recv}msg",
			  { "tcp_send_kprobe", "tcp_recv_kprobe" } },
		},
	},
	[CONCERN_SO_ERROR] = {
		.name = "so_error",
		.without = "an attempt whose ICMP error the application read with getsockopt(SO_ERROR) shows as aborted",
		.required = false,
		.n_variants = 1,
		.variants = {
			{ HOOK_TRACEPOINT, "tracepoint/syscalls/sys_enter_getsockopt",
			  { "so_error_tp" } },
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
			  { "udp_send_fexit", "udp6_send_fexit", "udp_recv_fexit4", "udp_recv_fexit6" } },
			{ HOOK_KPROBE, "kprobe/udp{,v6}_{send,recv}msg",
			  { "udp_send_kprobe", "udp_send_kretprobe", "udp6_send_kprobe",
			    "udp6_send_kretprobe", "udp_recv_kprobe", "udp_recv_kretprobe",
			    "udp6_recv_kprobe", "udp6_recv_kretprobe" } },
			{ HOOK_TP_BTF, "tp_btf/sock_{send,recv}_length+cgroup/{send,recv}msg{4,6}",
			  { "io_send_btf", "io_recv_btf", "udp_sendmsg4", "udp_sendmsg6",
			    "udp_recvmsg4", "udp_recvmsg6" } },
		},
	},
	[CONCERN_UDP_CLOSE] = {
		.name = "udp_close",
		.without = "UDP flows end only when idle, not when their socket closes",
		.required = false,
		.n_variants = 1,
		.variants = {
			{ HOOK_CGROUP, "cgroup/sock_release", { "udp_release" } },
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

static bool tracepoint_exists(const char *cat, const char *name)
{
	char path[256];

	for (size_t i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/%s/id", tracefs_dirs[i], cat, name);
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

/* Loads an empty tracing program: the only reliable test, as a kernel may
 * know the BTF id and still refuse (lockdown, EPERM). It is not attached:
 * each attach and detach of a function's trampoline patches kernel text
 * (in the 6.1 test guest, --hook fentry was ready after 2.9 s with the
 * probes attached, 0.66 s without). A function that loads and still cannot
 * be attached fails the real attach, and its concern falls back then. */
static int tracing_try_load(const struct btf *btf, const char *name, int kind,
			    enum bpf_attach_type type, char *why, size_t len)
{
	/* fexit programs call bpf_get_func_ret() (5.17+): the probe does too */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_func_ret },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	bool fexit = type == BPF_TRACE_FEXIT;
	int id, prog_fd, err;

	if (!btf) {
		snprintf(why, len, "the kernel has no BTF");
		return -ENOENT;
	}
	id = btf__find_by_name_kind(btf, name, kind);
	if (id < 0) {
		snprintf(why, len, "%s not in the kernel's BTF", name);
		return -ENOENT;
	}
	opts.attach_btf_id = id;
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", fexit ? insns : insns + 3,
				fexit ? 5 : 2, &opts);
	if (prog_fd < 0) {
		err = -errno;
		snprintf(why, len, "program load failed: %s", strerror(-err));
		return err;
	}
	close(prog_fd);
	return 0;
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

static int tracepoint_check(bool tracefs_ok, const char *cat, const char *const *names,
			    char *why, size_t len)
{
	if (!tracefs_ok) {
		snprintf(why, len, "tracefs is not mounted and could not be mounted");
		return -ENOENT;
	}
	for (; *names; names++) {
		if (!tracepoint_exists(cat, *names)) {
			snprintf(why, len, "tracepoint %s:%s not found", cat, *names);
			return -ENOENT;
		}
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

/* udp_recvmsg() lost its noblock argument in 5.19 (commit ec095263a965):
 * its flags are then the fourth argument instead of the fifth. */
static int recv_flags_arg(const struct btf *btf)
{
	const struct btf_type *t;
	int id;

	if (!btf || (id = btf__find_by_name_kind(btf, "udp_recvmsg", BTF_KIND_FUNC)) < 0)
		return ST_RECV_FLAGS_ARG;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	/* sk, msg, len, noblock, flags, addr_len */
	return t && btf_is_func_proto(t) && btf_vlen(t) == 6 ? ST_RECV_FLAGS_ARG_NOBLOCK :
							      ST_RECV_FLAGS_ARG;
}

static int variant_check(struct probe *p, int c, int v, char *why, size_t len)
{
	static const char *const udp_funcs[] = { "udp_sendmsg", "udpv6_sendmsg", "udp_recvmsg",
						  "udpv6_recvmsg" };
	int err = 0;

	static const char *const state_tp[] = { "inet_sock_set_state", NULL };
	static const char *const accept_tp[] = { "sys_exit_accept4", "sys_exit_accept", NULL };
	static const char *const retrans_tp[] = { "tcp_retransmit_skb", NULL };
	static const char *const io_tp[] = { "sock_send_length", "sock_recv_length", NULL };
	static const char *const so_error_tp[] = { "sys_enter_getsockopt", NULL };

	switch (c * 16 + concerns[c].variants[v].kind) {
	case CONCERN_TCP_STATE * 16 + HOOK_TP_BTF:
		return tracing_try_load(p->btf, "btf_trace_inet_sock_set_state",
					BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len);
	case CONCERN_TCP_STATE * 16 + HOOK_TRACEPOINT:
		return tracepoint_check(p->tracefs_ok, "sock", state_tp, why, len);
	case CONCERN_TCP_STATE * 16 + HOOK_FENTRY:
		/* and fexit/inet_csk_listen_start, for listen() */
		return tracing_try_load(p->btf, "tcp_set_state", BTF_KIND_FUNC,
					BPF_TRACE_FENTRY, why, len) ?:
		       tracing_try_load(p->btf, "inet_csk_listen_start", BTF_KIND_FUNC,
					BPF_TRACE_FEXIT, why, len);
	case CONCERN_TCP_STATE * 16 + HOOK_KPROBE:
		return kprobe_check(p->btf, "tcp_set_state", why, len) ?:
		       kprobe_check(p->btf, "inet_csk_listen_start", why, len);
	case CONCERN_RETRANS * 16 + HOOK_TP_BTF:
		return tracing_try_load(p->btf, "btf_trace_tcp_retransmit_skb",
					BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len);
	case CONCERN_RETRANS * 16 + HOOK_TRACEPOINT:
		return tracepoint_check(p->tracefs_ok, "tcp", retrans_tp, why, len);
	case CONCERN_RETRANS * 16 + HOOK_FENTRY:
		return tracing_try_load(p->btf, "tcp_retransmit_skb", BTF_KIND_FUNC,
					BPF_TRACE_FENTRY, why, len);
	case CONCERN_RETRANS * 16 + HOOK_KPROBE:
		return kprobe_check(p->btf, "tcp_retransmit_skb", why, len);
	case CONCERN_ACCEPT * 16 + HOOK_FENTRY:
		return tracing_try_load(p->btf, "inet_csk_accept", BTF_KIND_FUNC,
					BPF_TRACE_FEXIT, why, len);
	case CONCERN_ACCEPT * 16 + HOOK_KPROBE:
		return kprobe_check(p->btf, "inet_csk_accept", why, len);
	case CONCERN_ACCEPT * 16 + HOOK_TRACEPOINT:
		return tracepoint_check(p->tracefs_ok, "syscalls", accept_tp, why, len);
	case CONCERN_TCP_IO * 16 + HOOK_FENTRY:
		return tracing_try_load(p->btf, "tcp_sendmsg", BTF_KIND_FUNC,
					BPF_TRACE_FENTRY, why, len) ?:
		       tracing_try_load(p->btf, "tcp_recvmsg", BTF_KIND_FUNC,
					BPF_TRACE_FENTRY, why, len);
	case CONCERN_TCP_IO * 16 + HOOK_TP_BTF:
		/* sock_send_length and sock_recv_length came in 6.3 */
		return tracing_try_load(p->btf, "btf_trace_sock_send_length",
					BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len) ?:
		       tracing_try_load(p->btf, "btf_trace_sock_recv_length",
					BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len);
	case CONCERN_TCP_IO * 16 + HOOK_TRACEPOINT:
		return tracepoint_check(p->tracefs_ok, "sock", io_tp, why, len);
	case CONCERN_TCP_IO * 16 + HOOK_KPROBE:
		return kprobe_check(p->btf, "tcp_sendmsg", why, len) ?:
		       kprobe_check(p->btf, "tcp_recvmsg", why, len);
	case CONCERN_SO_ERROR * 16 + HOOK_TRACEPOINT:
		return tracepoint_check(p->tracefs_ok, "syscalls", so_error_tp, why, len);
	case CONCERN_UDP * 16 + HOOK_FENTRY:
		for (int i = 0; i < 4 && !err; i++)
			err = tracing_try_load(p->btf, udp_funcs[i], BTF_KIND_FUNC,
					       BPF_TRACE_FEXIT, why, len);
		return err;
	case CONCERN_UDP * 16 + HOOK_KPROBE:
		for (int i = 0; i < 4 && !err; i++)
			err = kprobe_check(p->btf, udp_funcs[i], why, len);
		return err;
	case CONCERN_UDP * 16 + HOOK_TP_BTF:
		/* sock_send_length and sock_recv_length came in 6.3 */
		return tracing_try_load(p->btf, "btf_trace_sock_send_length",
					BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len) ?:
		       tracing_try_load(p->btf, "btf_trace_sock_recv_length",
					BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, why, len) ?:
		       cgroup_check(p, why, len);
	case CONCERN_UDP_CLOSE * 16 + HOOK_CGROUP:
		return cgroup_check(p, why, len);
	}
	snprintf(why, len, "not implemented");
	return -ENOTSUP;
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

int probe__run(struct probe *p, enum hook_kind forced, bool all, unsigned int wanted)
{
	int err = 0;

	memset(p, 0, sizeof(*p));
	p->wanted = wanted;
	p->btf = btf__load_vmlinux_btf();
	if (!p->btf)
		p->btf_err = -errno;
	p->tracefs_ok = probe__ensure_tracefs() == 0;
	find_cgroup2(p->cgroup2, sizeof(p->cgroup2));
	p->recv_flags_arg = recv_flags_arg(p->btf);

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
	int cur = p->selected[c];

	if (cur < 0)
		return false;
	for (int v = cur + 1; v < concerns[c].n_variants; v++) {
		struct probe_result *r = &p->res[c][v];

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
		for (int i = 0; i < PROBE_MAX_PROGS && hv->progs[i]; i++)
			if (!strcmp(hv->progs[i], prog))
				return c;
	}
	return -1;
}

int probe__apply(const struct probe *p, struct bpf_object *obj)
{
	/* off first, then on: a program two concerns share stays on when one
	 * of them selected it */
	for (int pass = 0; pass < 2; pass++) {
		for (int c = 0; c < CONCERN__MAX; c++) {
			for (int v = 0; v < concerns[c].n_variants; v++) {
				const struct hook_variant *hv = &concerns[c].variants[v];

				if (pass && p->selected[c] != v)
					continue;
				for (int i = 0; i < PROBE_MAX_PROGS && hv->progs[i]; i++) {
					struct bpf_program *prog;

					prog = bpf_object__find_program_by_name(obj, hv->progs[i]);
					if (!prog)
						return -ENOENT;
					bpf_program__set_autoload(prog, pass);
				}
			}
		}
	}
	return 0;
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
		fwrite(w.buf, 1, w.len, out);
		fputs(",\"concerns\":[", out);
		for (int c = 0; c < CONCERN__MAX; c++) {
			fprintf(out, "%s{\"name\":\"%s\",\"selected\":", c ? "," : "", concerns[c].name);
			if (p->selected[c] >= 0)
				fprintf(out, "\"%s\"", concerns[c].variants[p->selected[c]].label);
			else
				fputs("null", out);
			fputs(",\"variants\":[", out);
			for (int v = 0; v < concerns[c].n_variants; v++) {
				const struct probe_result *r = &p->res[c][v];

				json__reset(&w);
				json__begin(&w);
				json__key_str(&w, "variant", concerns[c].variants[v].label);
				json__key_str(&w, "kind", hook_kind__name(concerns[c].variants[v].kind));
				json__key_str(&w, "status", result_status(p, c, v));
				json__key_str(&w, "reason", r->probed && !r->ok ? r->why : NULL);
				json__end(&w);
				w.len--;	/* drop the newline */
				fprintf(out, "%s%.*s", v ? "," : "", (int)w.len, w.buf);
			}
			fputs("]}", out);
		}
		fputs("]}\n", out);
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

void probe__free(struct probe *p)
{
	btf__free(p->btf);
	p->btf = NULL;
}
