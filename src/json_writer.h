/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small JSON writer into a growing buffer, for the JSON output; strings
 * are escaped so that any byte sequence (a comm with quotes or control
 * bytes) stays valid.
 *
 * Every event goes through here, so the calls a line is made of are inline:
 * a key given as a string literal costs no strlen() (the compiler folds
 * it), and the room check is one comparison. */
#ifndef ST_JSON_WRITER_H
#define ST_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
/* After json__key(): an array of objects, each opened with json__elem()
 * and closed with json__close(), the array with json__close_array(). */
void json__array(struct json_writer *w);
void json__elem(struct json_writer *w);
/* An element of an array of strings. */
void json__elem_str(struct json_writer *w, const char *s, size_t n);
void json__close_array(struct json_writer *w);
/* Appends the escaped form of n bytes of s, with quotes. */
void json__str(struct json_writer *w, const char *s, size_t n);
/* Appends v in decimal. */
void json__u64(struct json_writer *w, uint64_t v);
/* A fixed-point number: val / 10^decimals, e.g. 1234567 with 6 -> 1.234567 */
void json__fixed(struct json_writer *w, uint64_t val, int decimals);
/* Makes room for more bytes: the slow path of json__reserve(). */
void json__grow(struct json_writer *w, size_t more);

static inline void json__reserve(struct json_writer *w, size_t more)
{
	if (w->len + more > w->cap)
		json__grow(w, more);
}

/* A key of kl bytes, for a value that follows; keys are ours: no escaping. */
static inline void json__key_n(struct json_writer *w, const char *key, size_t kl)
{
	char *p;

	json__reserve(w, kl + 4);
	p = w->buf + w->len;
	if (w->need_comma)
		*p++ = ',';
	*p++ = '"';
	memcpy(p, key, kl);
	p += kl;
	*p++ = '"';
	*p++ = ':';
	w->len = p - w->buf;
	w->need_comma = true;
}

/* A key, for a nested value. */
static inline void json__key(struct json_writer *w, const char *key)
{
	json__key_n(w, key, strlen(key));
}

static inline void json__key_null(struct json_writer *w, const char *key)
{
	json__key(w, key);
	json__reserve(w, 4);
	memcpy(w->buf + w->len, "null", 4);
	w->len += 4;
}

static inline void json__key_str(struct json_writer *w, const char *key, const char *val)
{
	if (!val) {
		json__key_null(w, key);
		return;
	}
	json__key(w, key);
	json__str(w, val, strlen(val));
}

static inline void json__key_strn(struct json_writer *w, const char *key, const char *val,
				  size_t n)
{
	json__key(w, key);
	json__str(w, val, strnlen(val, n));
}

/* A string value of n bytes that the caller built from characters that need
 * no escaping (printable ASCII but '"' and '\\'): numbers, addresses, times,
 * the names of states and kinds. Copied as is, quoted. */
static inline void json__key_plain(struct json_writer *w, const char *key, const char *val,
				   size_t n)
{
	char *p;

	json__key(w, key);
	json__reserve(w, n + 2);
	p = w->buf + w->len;
	*p++ = '"';
	memcpy(p, val, n);
	p[n] = '"';
	w->len += n + 2;
}

static inline void json__key_u64(struct json_writer *w, const char *key, uint64_t val)
{
	json__key(w, key);
	json__u64(w, val);
}

static inline void json__key_i64(struct json_writer *w, const char *key, int64_t val)
{
	json__key(w, key);
	if (val < 0) {
		json__reserve(w, 1);
		w->buf[w->len++] = '-';
		json__u64(w, -(uint64_t)val);
	} else {
		json__u64(w, val);
	}
}

static inline void json__key_bool(struct json_writer *w, const char *key, bool val)
{
	json__key(w, key);
	json__reserve(w, 5);
	/* five bytes either way: "true" and its NUL, one fixed-size copy */
	memcpy(w->buf + w->len, val ? "true" : "false", 5);
	w->len += val ? 4 : 5;
}

static inline void json__key_fixed(struct json_writer *w, const char *key, uint64_t val,
				   int decimals)
{
	json__key(w, key);
	json__fixed(w, val, decimals);
}

#endif /* ST_JSON_WRITER_H */
