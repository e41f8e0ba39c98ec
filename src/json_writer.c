// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "format.h"
#include "json_writer.h"

static void json__grow(struct json_writer *w, size_t more)
{
	size_t cap = w->cap ? w->cap : 512;
	char *nb;

	if (w->len + more <= w->cap)
		return;
	while (cap < w->len + more)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		perror("socktrace: out of memory");
		exit(1);
	}
	w->buf = nb;
	w->cap = cap;
}

static void json__put(struct json_writer *w, const char *s, size_t n)
{
	json__grow(w, n);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void json__putc(struct json_writer *w, char c)
{
	json__grow(w, 1);
	w->buf[w->len++] = c;
}

void json__reset(struct json_writer *w)
{
	w->len = 0;
	w->need_comma = false;
}

void json__free(struct json_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void json__begin(struct json_writer *w)
{
	json__putc(w, '{');
	w->need_comma = false;
}

void json__end(struct json_writer *w)
{
	json__put(w, "}\n", 2);
	w->need_comma = false;
}

void json__close(struct json_writer *w)
{
	json__putc(w, '}');
	w->need_comma = true;
}

void json__array(struct json_writer *w)
{
	json__putc(w, '[');
	w->need_comma = false;
}

void json__elem(struct json_writer *w)
{
	if (w->need_comma)
		json__putc(w, ',');
	json__putc(w, '{');
	w->need_comma = false;
}

void json__close_array(struct json_writer *w)
{
	json__putc(w, ']');
	w->need_comma = true;
}

static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	uint32_t cp;

	return format__utf8_decode(s, n, &cp);
}


/* Control bytes and bytes that are not UTF-8 become \u00XX, so the output
 * is always valid JSON text and the original byte values stay readable. */
void json__str(struct json_writer *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	static const char hex[] = "0123456789abcdef";

	json__grow(w, n * 6 + 2);
	w->buf[w->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		size_t l;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			/* copy the whole run of plain characters at once */
			size_t j = i + 1;

			while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\')
				j++;
			memcpy(w->buf + w->len, s + i, j - i);
			w->len += j - i;
			i = j - 1;
			continue;
		}
		switch (c) {
		case '"':  memcpy(w->buf + w->len, "\\\"", 2); w->len += 2; continue;
		case '\\': memcpy(w->buf + w->len, "\\\\", 2); w->len += 2; continue;
		case '\n': memcpy(w->buf + w->len, "\\n", 2); w->len += 2; continue;
		case '\t': memcpy(w->buf + w->len, "\\t", 2); w->len += 2; continue;
		case '\r': memcpy(w->buf + w->len, "\\r", 2); w->len += 2; continue;
		}
		if (c >= 0x80 && (l = utf8_seq_len(s + i, n - i))) {
			memcpy(w->buf + w->len, s + i, l);
			w->len += l;
			i += l - 1;
			continue;
		}
		memcpy(w->buf + w->len, "\\u00", 4);
		w->buf[w->len + 4] = hex[c >> 4];
		w->buf[w->len + 5] = hex[c & 15];
		w->len += 6;
	}
	w->buf[w->len++] = '"';
}

void json__key(struct json_writer *w, const char *key)
{
	size_t kl = strlen(key);

	json__grow(w, kl + 4);
	if (w->need_comma)
		w->buf[w->len++] = ',';
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, key, kl);	/* keys are ours: no escaping */
	w->len += kl;
	w->buf[w->len++] = '"';
	w->buf[w->len++] = ':';
	w->need_comma = true;
}

void json__key_str(struct json_writer *w, const char *key, const char *val)
{
	if (!val) {
		json__key_null(w, key);
		return;
	}
	json__key(w, key);
	json__str(w, val, strlen(val));
}

void json__key_strn(struct json_writer *w, const char *key, const char *val, size_t n)
{
	json__key(w, key);
	json__str(w, val, strnlen(val, n));
}

static void json__u64(struct json_writer *w, uint64_t v)
{
	char tmp[21];
	int i = sizeof(tmp);

	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	json__put(w, tmp + i, sizeof(tmp) - i);
}

void json__key_u64(struct json_writer *w, const char *key, uint64_t val)
{
	json__key(w, key);
	json__u64(w, val);
}

void json__key_i64(struct json_writer *w, const char *key, int64_t val)
{
	json__key(w, key);
	if (val < 0) {
		json__putc(w, '-');
		json__u64(w, -(uint64_t)val);
	} else {
		json__u64(w, val);
	}
}

void json__key_null(struct json_writer *w, const char *key)
{
	json__key(w, key);
	json__put(w, "null", 4);
}

void json__key_bool(struct json_writer *w, const char *key, bool val)
{
	json__key(w, key);
	json__put(w, val ? "true" : "false", val ? 4 : 5);
}

void json__key_fixed(struct json_writer *w, const char *key, uint64_t val, int decimals)
{
	uint64_t div = 1;
	char frac[20];

	for (int i = 0; i < decimals; i++)
		div *= 10;
	json__key(w, key);
	json__u64(w, val / div);
	if (decimals > 0) {
		uint64_t f = val % div;

		for (int i = decimals - 1; i >= 0; i--) {
			frac[i] = '0' + f % 10;
			f /= 10;
		}
		json__putc(w, '.');
		json__put(w, frac, decimals);
	}
}
