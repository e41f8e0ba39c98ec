/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small JSON writer into a growing buffer, for the JSON output; strings
 * are escaped so that any byte sequence (a comm with quotes or control
 * bytes) stays valid. */
#ifndef ST_JSON_WRITER_H
#define ST_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_writer {
	char *buf;
	size_t len;
	size_t cap;
	bool need_comma;
};

void json__reset(struct json_writer *w);
void json__free(struct json_writer *w);
void json__begin(struct json_writer *w);
void json__end(struct json_writer *w);	/* closes the object and adds '\n' */
void json__close(struct json_writer *w);	/* closes a nested object */
void json__key(struct json_writer *w, const char *key);	/* a key, for a nested value */
/* After json__key(): an array of objects, each opened with json__elem()
 * and closed with json__close(), the array with json__close_array(). */
void json__array(struct json_writer *w);
void json__elem(struct json_writer *w);
void json__close_array(struct json_writer *w);
void json__key_str(struct json_writer *w, const char *key, const char *val);
void json__key_strn(struct json_writer *w, const char *key, const char *val, size_t n);
void json__key_u64(struct json_writer *w, const char *key, uint64_t val);
void json__key_i64(struct json_writer *w, const char *key, int64_t val);
void json__key_null(struct json_writer *w, const char *key);
void json__key_bool(struct json_writer *w, const char *key, bool val);
/* A fixed-point number: val / 10^decimals, e.g. 1234567 with 6 -> 1.234567 */
void json__key_fixed(struct json_writer *w, const char *key, uint64_t val, int decimals);
/* Appends the escaped form of n bytes of s, with quotes. */
void json__str(struct json_writer *w, const char *s, size_t n);

#endif /* ST_JSON_WRITER_H */
