/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small strict JSON syntax checker (RFC 8259), so that escaping bugs in
 * the JSON writer cannot hide behind exact-string comparisons. */
#ifndef UNIT_JSON_CHECK_H
#define UNIT_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JC_MAX_KEYS 64

struct jc_result {
	char err[160];			/* why the text is not valid JSON */
	size_t err_at;			/* byte offset of the error */
	int n_keys;			/* keys of the top-level object, in order */
	char keys[JC_MAX_KEYS][32];
	size_t val_off[JC_MAX_KEYS];	/* and where their values are */
	size_t val_len[JC_MAX_KEYS];
};

/* Any JSON text: one value, whitespace around it allowed. Strings must be
 * valid UTF-8 without raw control bytes, \u surrogates must pair, numbers
 * follow the grammar (no leading zeros, no "1."), an object has no
 * duplicate keys. */
bool json_check(const char *s, size_t n, struct jc_result *r);

/* One JSON Lines record: an object starting at byte 0, then exactly one
 * '\n' which is the last byte. */
bool json_check_line(const char *s, size_t n, struct jc_result *r);

/* The raw text of the value of top-level key in the text r was made from
 * (e.g. "\"sshd\"", "null", "42"), or NULL without that key. */
const char *json_field(const struct jc_result *r, const char *text, const char *key,
		     size_t *len);

/* Decodes the string literal s[0..n) (with its quotes) as socktrace means
 * it: \u00XX is the byte XX, other escapes as JSON. Returns the length
 * written to out, or -1 if it is not one valid string literal. */
ssize_t json_unescape(const char *s, size_t n, char *out, size_t outlen);

#endif /* UNIT_JSON_CHECK_H */
