// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "btfmin.h"

/* The local types' essential names, an open-addressed hash set. */
struct name_set {
	const char **name;
	size_t *len;
	size_t cap;	/* a power of two, at least twice the names */
};

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static size_t name_slot(const struct name_set *set, const char *s, size_t len)
{
	size_t i = name_hash(s, len) & (set->cap - 1);

	while (set->name[i] && (set->len[i] != len || memcmp(set->name[i], s, len)))
		i = (i + 1) & (set->cap - 1);
	return i;
}

static bool name_set__has(const struct name_set *set, const char *s, size_t len)
{
	return set->name[name_slot(set, s, len)] != NULL;
}

static void name_set__add(struct name_set *set, const char *s, size_t len)
{
	size_t i = name_slot(set, s, len);

	set->name[i] = s;
	set->len[i] = len;
}

static void name_set__free(struct name_set *set)
{
	free(set->name);
	free(set->len);
}

size_t btfmin__essential_len(const char *name)
{
	size_t n = strlen(name);

	/* libbpf's bpf_core_essential_name_len(): the last "X___Y" */
	for (size_t i = n < 5 ? 0 : n - 4; i-- > 0;)
		if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' &&
		    name[i + 3] == '_' && name[i + 4] != '_')
			return i + 1;
	return n;
}

/* The kinds CO-RE finds candidates of by name (libbpf pairs a local type
 * with target types of its own kind, enum with enum64). */
static bool named_kind(const struct btf_type *t)
{
	switch (btf_kind(t)) {
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
		return true;
	default:
		return false;
	}
}

static int name_set__init(struct name_set *set, const struct btf *local)
{
	__u32 n = btf__type_cnt(local);

	set->cap = 16;
	while (set->cap < 2 * (size_t)n)
		set->cap *= 2;
	set->name = calloc(set->cap, sizeof(*set->name));
	set->len = calloc(set->cap, sizeof(*set->len));
	if (!set->name || !set->len)
		return -ENOMEM;
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(local, id);
		const char *name = btf__name_by_offset(local, t->name_off);

		if (named_kind(t) && name && name[0])
			name_set__add(set, name, btfmin__essential_len(name));
	}
	return 0;
}

struct closure {
	const struct btf *btf;
	uint8_t *kept;
	__u32 *stack;
	__u32 depth;
};

static void closure__mark(struct closure *c, __u32 id)
{
	if (!id || c->kept[id])
		return;
	c->kept[id] = 1;
	c->stack[c->depth++] = id;
}

/* What a kept type holds by value; a pointer's target is not followed. */
static void closure__follow(struct closure *c, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(c->btf, id);
	const struct btf_member *m;
	const struct btf_param *p;

	switch (btf_kind(t)) {
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		closure__mark(c, t->type);
		break;
	case BTF_KIND_ARRAY:
		closure__mark(c, btf_array(t)->type);
		closure__mark(c, btf_array(t)->index_type);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		m = btf_members(t);
		for (__u16 i = 0; i < btf_vlen(t); i++)
			closure__mark(c, m[i].type);
		break;
	case BTF_KIND_FUNC_PROTO:
		closure__mark(c, t->type);
		p = btf_params(t);
		for (__u16 i = 0; i < btf_vlen(t); i++)
			closure__mark(c, p[i].type);
		break;
	default:
		break;
	}
}

/* An old id to its new one; a pointer's target that was not kept is void. */
static int remap(__u32 *id, const __u32 *new_id, bool pointee)
{
	if (!*id)
		return 0;
	if (!new_id[*id] && !pointee)
		return -EINVAL;
	*id = new_id[*id];
	return 0;
}

static int remap_type(struct btf_type *t, const __u32 *new_id)
{
	struct btf_member *m;
	struct btf_param *p;
	int err = 0;

	switch (btf_kind(t)) {
	case BTF_KIND_PTR:
		return remap(&t->type, new_id, true);
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		return remap(&t->type, new_id, false);
	case BTF_KIND_ARRAY:
		err = remap(&btf_array(t)->type, new_id, false);
		return err ? err : remap(&btf_array(t)->index_type, new_id, false);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		m = btf_members(t);
		for (__u16 i = 0; i < btf_vlen(t) && !err; i++)
			err = remap(&m[i].type, new_id, false);
		return err;
	case BTF_KIND_FUNC_PROTO:
		err = remap(&t->type, new_id, false);
		p = btf_params(t);
		for (__u16 i = 0; i < btf_vlen(t) && !err; i++)
			err = remap(&p[i].type, new_id, false);
		return err;
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		return 0;
	default:
		/* FUNC, VAR, DATASEC, DECL_TAG: nothing held by value leads here */
		return -EINVAL;
	}
}

/* The kept types, in their order, into a new BTF whose ids are then
 * renumbered: btf__add_type() copies a type's ids as they are. */
static struct btf *copy_kept(const struct btf *vmlinux, const uint8_t *kept, __u32 *new_id)
{
	__u32 n = btf__type_cnt(vmlinux), next = 1;
	struct btf *out = btf__new_empty();
	int err = 0;

	if (!out)
		return NULL;
	for (__u32 id = 1; id < n && !err; id++) {
		if (!kept[id])
			continue;
		new_id[id] = next++;
		err = btf__add_type(out, vmlinux, btf__type_by_id(vmlinux, id));
		if (err > 0)
			err = (__u32)err == new_id[id] ? 0 : -EINVAL;
	}
	for (__u32 id = 1; id < next && !err; id++)
		/* a type of out's own, which it lets its owner change */
		err = remap_type((struct btf_type *)btf__type_by_id(out, id), new_id);
	if (err) {
		btf__free(out);
		errno = -err;
		return NULL;
	}
	return out;
}

struct btf *btfmin__new(const struct btf *local, const struct btf *vmlinux)
{
	__u32 n = btf__type_cnt(vmlinux);
	struct name_set names = {};
	struct closure c = { .btf = vmlinux };
	__u32 *new_id = NULL;
	struct btf *out = NULL;
	int err;

	err = name_set__init(&names, local);
	c.kept = calloc(n, 1);
	c.stack = calloc(n, sizeof(*c.stack));
	new_id = calloc(n, sizeof(*new_id));
	if (err || !c.kept || !c.stack || !new_id) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(vmlinux, id);
		const char *name;

		if (!named_kind(t) || !t->name_off)
			continue;
		name = btf__name_by_offset(vmlinux, t->name_off);
		if (name && name_set__has(&names, name, btfmin__essential_len(name)))
			closure__mark(&c, id);
	}
	while (c.depth)
		closure__follow(&c, c.stack[--c.depth]);
	out = copy_kept(vmlinux, c.kept, new_id);
	if (!out)
		err = -errno;
out:
	name_set__free(&names);
	free(c.kept);
	free(c.stack);
	free(new_id);
	if (err)
		errno = -err;
	return err ? NULL : out;
}
