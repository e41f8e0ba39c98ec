/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* btfmin: the part of the kernel's BTF that CO-RE relocations can reach,
 * for libbpf's candidate search (btf_custom_path). libbpf 1.1 scans every
 * type of the kernel's BTF once per local type relocated: 22 scans of
 * 126,622 types, about 20 ms of each start-up (docs/performance.md). */
#ifndef SOCKTRACE_BTFMIN_H
#define SOCKTRACE_BTFMIN_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

/* A new BTF holding the types of vmlinux whose name (without a ___flavor
 * suffix) a named type of local has, and every type they hold by value:
 * members, array elements, typedefs and modifiers. A pointer to a type not
 * held becomes a void pointer: a relocation never walks through a pointer
 * (each dereference is a relocation of its own, rooted at a named type),
 * and libbpf matches a pointer field by its kind alone. NULL with errno on
 * failure. */
struct btf *btfmin__new(const struct btf *local, const struct btf *vmlinux);

/* The essential name's length, as libbpf's CO-RE matching takes it: name
 * up to a "___" between two characters that are not underscores. */
size_t btfmin__essential_len(const char *name);

#endif /* SOCKTRACE_BTFMIN_H */
