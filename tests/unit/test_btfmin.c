// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* btfmin: the reduced BTF holds every type CO-RE can match a local type
 * with, laid out as in the whole BTF down to each pointer, and not what
 * only a pointer leads to. Checked on small BTFs built here, on the BPF
 * object's own BTF reduced against itself, and on the running kernel's
 * BTF where it is readable (no privilege needed). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "btfmin.h"
#include "socktrace.skel.h"
#include "util.h"

static void btf_destroy(void *btf)
{
	btf__free(btf);
}

static void skel_destroy(void *skel)
{
	socktrace_bpf__destroy(skel);
}

static struct btf *btf_new(void)
{
	struct btf *btf = btf__new_empty();

	ASSERT_NOT_NULL(btf);
	ut_defer(btf_destroy, btf);
	return btf;
}

static struct btf *minimize(const struct btf *local, const struct btf *full)
{
	struct btf *min = btfmin__new(local, full);

	ASSERT_MSG(min, "btfmin__new: %s", strerror(errno));
	ut_defer(btf_destroy, min);
	return min;
}

static int find(const struct btf *btf, const char *name, int kind)
{
	return btf__find_by_name_kind(btf, name, kind);
}

/* The same type by value: kind, name, size, members (names, offsets,
 * types), array shape, enum values; a pointer by its kind alone. */
static void same_type(const struct btf *a, __u32 ida, const struct btf *b, __u32 idb,
		      const char *path, int depth)
{
	const struct btf_type *ta = btf__type_by_id(a, ida), *tb = btf__type_by_id(b, idb);

	ASSERT_MSG(ta && tb, "%s: type %u or %u missing", path, ida, idb);
	ASSERT_MSG(btf_kind(ta) == btf_kind(tb), "%s: kind %u, expected %u", path,
		   btf_kind(ta), btf_kind(tb));
	ASSERT_MSG(!strcmp(btf__name_by_offset(a, ta->name_off), btf__name_by_offset(b, tb->name_off)),
		   "%s: named %s, expected %s", path, btf__name_by_offset(a, ta->name_off),
		   btf__name_by_offset(b, tb->name_off));
	ASSERT_MSG(btf_vlen(ta) == btf_vlen(tb), "%s: vlen %u, expected %u", path,
		   btf_vlen(ta), btf_vlen(tb));
	if (depth > 16 || btf_is_ptr(ta) || btf_is_fwd(ta))
		return;
	switch (btf_kind(ta)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		ASSERT_EQ(ta->size, tb->size);
		if (btf_is_int(ta))
			ASSERT_EQ(*(const __u32 *)(ta + 1), *(const __u32 *)(tb + 1));
		if (btf_is_enum(ta))
			for (__u16 i = 0; i < btf_vlen(ta); i++)
				ASSERT_EQ(btf_enum(ta)[i].val, btf_enum(tb)[i].val);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		ASSERT_MSG(ta->size == tb->size, "%s: size %u, expected %u", path, ta->size,
			   tb->size);
		for (__u16 i = 0; i < btf_vlen(ta); i++) {
			const struct btf_member *ma = btf_members(ta) + i, *mb = btf_members(tb) + i;
			char sub[256];

			snprintf(sub, sizeof(sub), "%.200s.%s", path,
				 btf__name_by_offset(b, mb->name_off));
			ASSERT_MSG(ma->offset == mb->offset, "%s: offset %u, expected %u", sub,
				   ma->offset, mb->offset);
			ASSERT_MSG(!strcmp(btf__name_by_offset(a, ma->name_off),
					   btf__name_by_offset(b, mb->name_off)), "%s: renamed", sub);
			same_type(a, ma->type, b, mb->type, sub, depth + 1);
		}
		break;
	case BTF_KIND_ARRAY:
		ASSERT_EQ(btf_array(ta)->nelems, btf_array(tb)->nelems);
		same_type(a, btf_array(ta)->type, b, btf_array(tb)->type, path, depth + 1);
		break;
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		ASSERT_EQ(!ta->type, !tb->type);
		if (ta->type)
			same_type(a, ta->type, b, tb->type, path, depth + 1);
		break;
	case BTF_KIND_FUNC_PROTO:
		same_type(a, ta->type, b, tb->type, path, depth + 1);
		for (__u16 i = 0; i < btf_vlen(ta); i++)
			same_type(a, btf_params(ta)[i].type, b, btf_params(tb)[i].type, path,
				  depth + 1);
		break;
	}
}

/* Every type of full that CO-RE could pair a named type of local with is
 * in min, the same by value. Returns how many were checked. */
static int check_reduced(const struct btf *local, const struct btf *full, const struct btf *min)
{
	int checked = 0;

	for (__u32 lid = 1; lid < btf__type_cnt(local); lid++) {
		const struct btf_type *lt = btf__type_by_id(local, lid);
		const char *name = btf__name_by_offset(local, lt->name_off);
		char ess[128];
		int fid, mid;

		if (!name || !name[0] || !(btf_is_composite(lt) || btf_is_any_enum(lt) ||
					   btf_is_typedef(lt) || btf_is_int(lt)))
			continue;
		snprintf(ess, sizeof(ess), "%.*s", (int)btfmin__essential_len(name), name);
		fid = find(full, ess, btf_kind(lt));
		if (fid < 0)
			continue;
		mid = find(min, ess, btf_kind(lt));
		ASSERT_MSG(mid > 0, "%s (local [%u]) is not in the reduced BTF", ess, lid);
		same_type(min, mid, full, fid, ess, 0);
		checked++;
	}
	return checked;
}

TEST(btfmin_essential_name)
{
	ASSERT_EQ(btfmin__essential_len("sock"), 4);
	ASSERT_EQ(btfmin__essential_len("sock___old"), 4);
	ASSERT_EQ(btfmin__essential_len("a___b___c"), 5);
	ASSERT_EQ(btfmin__essential_len("__sk_buff"), 9);
	ASSERT_EQ(btfmin__essential_len("foo___"), 6);
	ASSERT_EQ(btfmin__essential_len("x____y"), 6);
	ASSERT_EQ(btfmin__essential_len(""), 0);
}

TEST(btfmin_keeps_what_values_hold_not_what_pointers_reach)
{
	struct btf *full = btf_new(), *local = btf_new(), *min;
	const struct btf_type *big;
	int id;

	/* full: [1] int, [2] inner, [3] big, [4] int *, [5] other, [6] other *,
	 * [7] int[2], [8] unrelated, [9] sock */
	ASSERT_EQ(btf__add_int(full, "int", 4, BTF_INT_SIGNED), 1);
	ASSERT_EQ(btf__add_struct(full, "inner", 4), 2);
	ASSERT_EQ(btf__add_field(full, "a", 1, 0, 0), 0);
	ASSERT_EQ(btf__add_struct(full, "big", 32), 3);
	ASSERT_EQ(btf__add_field(full, "in", 2, 0, 0), 0);
	ASSERT_EQ(btf__add_field(full, "p", 4, 64, 0), 0);
	ASSERT_EQ(btf__add_field(full, "o", 6, 128, 0), 0);
	ASSERT_EQ(btf__add_field(full, "arr", 7, 192, 0), 0);
	ASSERT_EQ(btf__add_ptr(full, 1), 4);
	ASSERT_EQ(btf__add_struct(full, "other", 4), 5);
	ASSERT_EQ(btf__add_field(full, "x", 1, 0, 0), 0);
	ASSERT_EQ(btf__add_ptr(full, 5), 6);
	ASSERT_EQ(btf__add_array(full, 1, 1, 2), 7);
	ASSERT_EQ(btf__add_struct(full, "unrelated", 4), 8);
	ASSERT_EQ(btf__add_field(full, "y", 1, 0, 0), 0);
	ASSERT_EQ(btf__add_struct(full, "sock", 4), 9);
	ASSERT_EQ(btf__add_field(full, "s", 1, 0, 0), 0);
	/* local: big, and sock under a flavor's name */
	ASSERT_EQ(btf__add_int(local, "int", 4, BTF_INT_SIGNED), 1);
	ASSERT_EQ(btf__add_struct(local, "big", 0), 2);
	ASSERT_EQ(btf__add_struct(local, "sock___old", 0), 3);

	min = minimize(local, full);
	ASSERT(find(min, "big", BTF_KIND_STRUCT) > 0);
	ASSERT(find(min, "inner", BTF_KIND_STRUCT) > 0);
	ASSERT(find(min, "sock", BTF_KIND_STRUCT) > 0);
	ASSERT(find(min, "int", BTF_KIND_INT) > 0);
	ASSERT_EQ(find(min, "other", BTF_KIND_STRUCT), -ENOENT);
	ASSERT_EQ(find(min, "unrelated", BTF_KIND_STRUCT), -ENOENT);
	/* int, inner, big, int *, other * (now void *), int[2], sock */
	ASSERT_EQ(btf__type_cnt(min) - 1, 7);
	id = find(min, "big", BTF_KIND_STRUCT);
	big = btf__type_by_id(min, id);
	same_type(min, id, full, 3, "big", 0);
	/* p still points at int; o at nothing kept: void */
	ASSERT_EQ(btf_kind(btf__type_by_id(min, btf__type_by_id(min, btf_members(big)[1].type)->type)),
		  BTF_KIND_INT);
	ASSERT_EQ(btf__type_by_id(min, btf_members(big)[2].type)->type, 0);
	ASSERT_EQ(check_reduced(local, full, min), 3);
}

/* The BPF object's BTF holds vmlinux.h's definitions of every type it
 * uses: reduced against itself, each of them must come out whole. */
TEST(btfmin_object_btf_against_itself)
{
	struct socktrace_bpf *skel = socktrace_bpf__open();
	const struct btf *local;
	struct btf *min;

	ASSERT_MSG(skel, "failed to open the BPF skeleton: %s", strerror(errno));
	ut_defer(skel_destroy, skel);
	local = bpf_object__btf(skel->obj);
	ASSERT_NOT_NULL(local);
	min = minimize(local, local);
	ASSERT(btf__type_cnt(min) < btf__type_cnt(local));
	ASSERT(find(min, "sock", BTF_KIND_STRUCT) > 0);
	ASSERT(find(min, "tcp_sock", BTF_KIND_STRUCT) > 0);
	ASSERT(check_reduced(local, local, min) > 50);
}

/* The kernel this runs on: every type socktrace's programs name is in the
 * reduced BTF as the kernel has it. */
TEST(btfmin_running_kernel)
{
	struct socktrace_bpf *skel;
	struct btf *full, *min;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		/* no kernel BTF here: the two tests above still ran */
		fprintf(stderr, "btfmin_running_kernel: /sys/kernel/btf/vmlinux unreadable, nothing to compare\n");
		return;
	}
	full = btf__parse("/sys/kernel/btf/vmlinux", NULL);
	ASSERT_MSG(full, "btf__parse: %s", strerror(errno));
	ut_defer(btf_destroy, full);
	skel = socktrace_bpf__open();
	ASSERT_MSG(skel, "failed to open the BPF skeleton: %s", strerror(errno));
	ut_defer(skel_destroy, skel);
	min = minimize(bpf_object__btf(skel->obj), full);
	ASSERT(btf__type_cnt(min) * 20 < btf__type_cnt(full));
	ASSERT(check_reduced(bpf_object__btf(skel->obj), full, min) > 20);
}
