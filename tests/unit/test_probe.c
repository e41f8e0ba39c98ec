// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The hook variant table (concerns[] in probe.c) against the BPF object it
 * selects programs from, opened but not loaded (no privilege needed): every
 * program a variant lists exists with the SEC() the table says, every
 * program of the object belongs to a variant, and probe__apply() turns on
 * exactly the selected variants' programs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "probe.h"
#include "socktrace.skel.h"
#include "util.h"

/* tcp_io's and udp's tp_btf variants share these on purpose: one program
 * per tracepoint, so a datagram pays for one run (bpf/sock_length.bpf.h) */
static const char *const shared_progs[] = { "io_send_btf", "io_recv_btf" };

static void skel_destroy(void *skel)
{
	socktrace_bpf__destroy(skel);
}

static struct socktrace_bpf *skel_open(void)
{
	struct socktrace_bpf *skel = socktrace_bpf__open();

	ASSERT_MSG(skel, "failed to open the BPF skeleton: %s", strerror(errno));
	ut_defer(skel_destroy, skel);
	return skel;
}

static int n_progs(const struct hook_variant *hv)
{
	int n = 0;

	while (n < PROBE_MAX_PROGS && hv->progs[n].name)
		n++;
	return n;
}

static bool variant_lists(const struct hook_variant *hv, struct socktrace_bpf *skel,
			  const struct bpf_program *prog)
{
	for (int i = 0; i < n_progs(hv); i++)
		if (probe__program(skel, &hv->progs[i]) == prog)
			return true;
	return false;
}

/* The attach kinds a variant of this kind may use: --hook KIND forces it. */
static bool attach_fits_kind(enum hook_attach a, enum hook_kind kind)
{
	switch (kind) {
	case HOOK_TP_BTF:	/* udp's learns unconnected peers from cgroup hooks */
		return a == ATTACH_TP_BTF || a == ATTACH_CGROUP;
	case HOOK_TRACEPOINT:
		return a == ATTACH_TRACEPOINT;
	case HOOK_FENTRY:
		return a == ATTACH_FENTRY || a == ATTACH_FEXIT;
	case HOOK_KPROBE:
		return a == ATTACH_KPROBE || a == ATTACH_KRETPROBE;
	case HOOK_CGROUP:
		return a == ATTACH_CGROUP || a == ATTACH_CGROUP_SKB;
	case HOOK_ITER:
		return a == ATTACH_ITER;
	default:
		return false;
	}
}

TEST(probe_table_shape)
{
	for (int c = 0; c < CONCERN__MAX; c++) {
		const struct concern_desc *cd = &concerns[c];

		ASSERT_MSG(cd->name, "concern %d has no name", c);
		ASSERT_MSG(cd->n_variants >= 1 && cd->n_variants <= PROBE_MAX_VARIANTS,
			   "%s: %d variants", cd->name, cd->n_variants);
		ASSERT_MSG(cd->required || cd->without, "%s: optional, but no 'without'", cd->name);
		for (int v = 0; v < PROBE_MAX_VARIANTS; v++) {
			const struct hook_variant *hv = &cd->variants[v];

			if (v >= cd->n_variants) {
				ASSERT_MSG(!hv->label && !hv->progs[0].name,
					   "%s: a variant after n_variants (%d)", cd->name, cd->n_variants);
				continue;
			}
			ASSERT_MSG(hv->label, "%s: variant %d has no label", cd->name, v);
			ASSERT_MSG(n_progs(hv) > 0, "%s %s: no program", cd->name, hv->label);
			/* --hook KIND picks a concern's variant by kind */
			for (int w = 0; w < v; w++)
				ASSERT_MSG(cd->variants[w].kind != hv->kind, "%s: two %s variants",
					   cd->name, hook_kind__name(hv->kind));
		}
	}
}

TEST(probe_table_programs_exist)
{
	struct socktrace_bpf *skel = skel_open();
	char sec[256];

	for (int c = 0; c < CONCERN__MAX; c++) {
		for (int v = 0; v < concerns[c].n_variants; v++) {
			const struct hook_variant *hv = &concerns[c].variants[v];

			for (int i = 0; i < n_progs(hv); i++) {
				const struct hook_prog *hp = &hv->progs[i];
				struct bpf_program *prog = probe__program(skel, hp);

				ASSERT_MSG(prog, "%s %s: no program %s in the object", concerns[c].name,
					   hv->label, hp->name);
				ASSERT_STREQ(bpf_program__name(prog), hp->name);
				/* what the probe checks is what the program attaches to */
				snprintf(sec, sizeof(sec), "%s/%s", hook_attach__prefix(hp->attach),
					 hp->target);
				ASSERT_STREQ(bpf_program__section_name(prog), sec);
				ASSERT_MSG(attach_fits_kind(hp->attach, hv->kind),
					   "%s %s: %s is %s in a %s variant", concerns[c].name, hv->label,
					   hp->name, hook_attach__prefix(hp->attach),
					   hook_kind__name(hv->kind));
			}
		}
	}
}

TEST(probe_object_programs_in_table)
{
	struct socktrace_bpf *skel = skel_open();
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		bool shared = false;
		int listed = 0;

		for (size_t i = 0; i < sizeof(shared_progs) / sizeof(shared_progs[0]); i++)
			shared |= !strcmp(name, shared_progs[i]);
		for (int c = 0; c < CONCERN__MAX; c++)
			for (int v = 0; v < concerns[c].n_variants; v++)
				listed += variant_lists(&concerns[c].variants[v], skel, prog);
		ASSERT_MSG(listed, "program %s (%s) is in no variant of concerns[]: it would never load",
			   name, bpf_program__section_name(prog));
		ASSERT_MSG(listed == (shared ? 2 : 1), "program %s is in %d variants", name, listed);
		n++;
	}
	ASSERT_EQ(n, skel->skeleton->prog_cnt);
}

TEST(probe_shared_programs_serve_tcp_io_and_udp)
{
	struct socktrace_bpf *skel = skel_open();
	const struct hook_variant *io = NULL, *udp = NULL;

	for (int v = 0; v < concerns[CONCERN_TCP_IO].n_variants; v++)
		if (concerns[CONCERN_TCP_IO].variants[v].kind == HOOK_TP_BTF)
			io = &concerns[CONCERN_TCP_IO].variants[v];
	for (int v = 0; v < concerns[CONCERN_UDP].n_variants; v++)
		if (concerns[CONCERN_UDP].variants[v].kind == HOOK_TP_BTF)
			udp = &concerns[CONCERN_UDP].variants[v];
	ASSERT_NOT_NULL(io);
	ASSERT_NOT_NULL(udp);
	for (size_t i = 0; i < sizeof(shared_progs) / sizeof(shared_progs[0]); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj,
									    shared_progs[i]);

		ASSERT_MSG(prog, "no program %s", shared_progs[i]);
		ASSERT_MSG(variant_lists(io, skel, prog), "tcp_io's tp_btf lacks %s", shared_progs[i]);
		ASSERT_MSG(variant_lists(udp, skel, prog), "udp's tp_btf lacks %s", shared_progs[i]);
	}
}

/* After probe__apply() with sel[c] as each concern's selection, a program is
 * on iff a selected variant lists it. */
static void check_apply(struct socktrace_bpf *skel, const int sel[CONCERN__MAX])
{
	struct probe p = {};
	struct bpf_program *prog;
	const char *failed = NULL;

	memcpy(p.selected, sel, sizeof(p.selected));
	ASSERT_EQ(probe__apply(&p, skel, &failed), 0);
	ASSERT_NULL(failed);
	bpf_object__for_each_program(prog, skel->obj) {
		bool want = false;

		for (int c = 0; c < CONCERN__MAX; c++)
			if (sel[c] >= 0)
				want |= variant_lists(&concerns[c].variants[sel[c]], skel, prog);
		ASSERT_MSG(bpf_program__autoload(prog) == want, "%s: autoload %d, expected %d",
			   bpf_program__name(prog), bpf_program__autoload(prog), want);
	}
}

TEST(probe_apply_turns_on_exactly_the_selected)
{
	struct socktrace_bpf *skel = skel_open();
	int sel[CONCERN__MAX];

	/* each variant alone */
	for (int c = 0; c < CONCERN__MAX; c++) {
		for (int v = 0; v < concerns[c].n_variants; v++) {
			for (int k = 0; k < CONCERN__MAX; k++)
				sel[k] = -1;
			sel[c] = v;
			check_apply(skel, sel);
		}
	}
	/* every concern on its first, then on its last variant */
	for (int c = 0; c < CONCERN__MAX; c++)
		sel[c] = 0;
	check_apply(skel, sel);
	for (int c = 0; c < CONCERN__MAX; c++)
		sel[c] = concerns[c].n_variants - 1;
	check_apply(skel, sel);
}

TEST(probe_apply_shared_program_stays_on)
{
	struct socktrace_bpf *skel = skel_open();
	int sel[CONCERN__MAX];

	for (int c = 0; c < CONCERN__MAX; c++)
		sel[c] = -1;
	/* tcp_io on tp_btf, udp on another variant: udp's unselected tp_btf
	 * variant lists the same programs and must not turn them off */
	for (int v = 0; v < concerns[CONCERN_TCP_IO].n_variants; v++)
		if (concerns[CONCERN_TCP_IO].variants[v].kind == HOOK_TP_BTF)
			sel[CONCERN_TCP_IO] = v;
	for (int v = 0; v < concerns[CONCERN_UDP].n_variants; v++)
		if (concerns[CONCERN_UDP].variants[v].kind != HOOK_TP_BTF)
			sel[CONCERN_UDP] = v;
	ASSERT(sel[CONCERN_TCP_IO] >= 0 && sel[CONCERN_UDP] >= 0);
	check_apply(skel, sel);
	ASSERT_TRUE(bpf_program__autoload(skel->progs.io_send_btf));
	ASSERT_TRUE(bpf_program__autoload(skel->progs.io_recv_btf));
}

/* fentry/fexit work from 5.5 on x86_64, bpf_get_func_arg(), _ret() and
 * _arg_cnt() came in 5.17: a program that called them would make every
 * fexit variant fail to load on 5.10 (EINVAL), as they once did. */
TEST(probe_fentry_programs_use_no_helper_newer_than_fexit)
{
	struct socktrace_bpf *skel = skel_open();
	struct bpf_program *prog;
	int n_tracing = 0;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		const struct bpf_insn *insn = bpf_program__insns(prog);
		size_t n = bpf_program__insn_cnt(prog);

		if (strncmp(sec, "fentry/", 7) && strncmp(sec, "fexit/", 6))
			continue;
		n_tracing++;
		for (size_t i = 0; i < n; i++) {
			int id = insn[i].imm;

			if (insn[i].code != (BPF_JMP | BPF_CALL) || insn[i].src_reg)
				continue;
			ASSERT_MSG(id != BPF_FUNC_get_func_arg && id != BPF_FUNC_get_func_ret &&
				   id != BPF_FUNC_get_func_arg_cnt,
				   "%s (%s) calls helper %d, which needs 5.17", bpf_program__name(prog),
				   sec, id);
		}
	}
	ASSERT(n_tracing > 0);
}

static void btf_destroy(void *btf)
{
	btf__free(btf);
}

TEST(probe_func_nargs_from_btf)
{
	struct btf *btf = btf__new_empty();
	int int_id, sk_id, proto;

	ASSERT_NOT_NULL(btf);
	ut_defer(btf_destroy, btf);
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	sk_id = btf__add_ptr(btf, int_id);
	/* 5.10's inet_csk_listen_start(struct sock *sk, int backlog) */
	proto = btf__add_func_proto(btf, int_id);
	ASSERT(proto > 0);
	ASSERT_EQ(btf__add_func_param(btf, "sk", sk_id), 0);
	ASSERT_EQ(btf__add_func_param(btf, "backlog", int_id), 0);
	ASSERT(btf__add_func(btf, "inet_csk_listen_start", BTF_FUNC_GLOBAL, proto) > 0);
	/* a type of that name that is no function does not count */
	ASSERT(btf__add_typedef(btf, "inet_csk_accept", int_id) > 0);

	ASSERT_EQ(probe__func_nargs(btf, "inet_csk_listen_start", 1), 2);
	ASSERT_EQ(probe__func_nargs(btf, "inet_csk_accept", 2), 2);
	ASSERT_EQ(probe__func_nargs(btf, "inet_csk_accept", 4), 4);
	ASSERT_EQ(probe__func_nargs(NULL, "inet_csk_listen_start", 1), 1);
}

/* Every variant probed usable: what probe__fall_back() picks then is the
 * table's order, within the forced kind. */
static void probe_all_ok(struct probe *p, enum hook_kind forced)
{
	memset(p, 0, sizeof(*p));
	p->btf_err = -ENOENT;	/* no BTF loaded for this */
	p->forced = forced;
	p->wanted = ~0u;
	for (int c = 0; c < CONCERN__MAX; c++)
		for (int v = 0; v < concerns[c].n_variants; v++)
			p->res[c][v].probed = p->res[c][v].ok = true;
}

/* A failed optional concern falls back under --hook too: to the next
 * variant of the forced kind, else it is dropped; never to another kind. */
TEST(probe_fall_back_keeps_the_forced_kind)
{
	int tested = 0;

	for (int c = 0; c < CONCERN__MAX; c++) {
		for (int v = 0; v + 1 < concerns[c].n_variants; v++) {
			enum hook_kind k = concerns[c].variants[v].kind;
			int next = -1;
			struct probe p;

			for (int w = v + 1; w < concerns[c].n_variants && next < 0; w++)
				if (concerns[c].variants[w].kind == k)
					next = w;
			probe_all_ok(&p, k);
			for (int o = 0; o < CONCERN__MAX; o++)
				p.selected[o] = -1;
			p.selected[c] = v;
			if (next < 0 && probe__required(&p, c)) {
				ASSERT_FALSE(probe__fall_back(&p, c));
				continue;
			}
			ASSERT_TRUE(probe__fall_back(&p, c));
			ASSERT_MSG(p.selected[c] == next, "%s variant %d under its kind: selected %d, expected %d",
				   concerns[c].name, v, p.selected[c], next);
			/* without --hook the next variant of any kind */
			probe_all_ok(&p, HOOK_AUTO);
			for (int o = 0; o < CONCERN__MAX; o++)
				p.selected[o] = -1;
			p.selected[c] = v;
			ASSERT_TRUE(probe__fall_back(&p, c));
			ASSERT_EQ(p.selected[c], v + 1);
			tested++;
		}
	}
	ASSERT_MSG(tested > 0, "no concern has two variants");
}
