// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "format.h"
#include "json_writer.h"

void json__grow(struct json_writer *w, size_t more)
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
	json__reserve(w, n);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void json__putc(struct json_writer *w, char c)
{
	json__reserve(w, 1);
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

void json__elem_str(struct json_writer *w, const char *s, size_t n)
{
	if (w->need_comma)
		json__putc(w, ',');
	json__str(w, s, n);
	w->need_comma = true;
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


/* 1 for the bytes a string cannot hold as they are: control bytes, '"',
 * '\\', DEL and every byte of a multibyte sequence (checked as UTF-8). */
static const unsigned char json_special[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f ... 0xff] = 1,
};

/* Control bytes and bytes that are not UTF-8 become \u00XX, so the output
 * is always valid JSON text and the original byte values stay readable. */
void json__str(struct json_writer *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	static const char hex[] = "0123456789abcdef";
	char *p;
	size_t i = 0;

	json__reserve(w, n * 6 + 2);
	p = w->buf + w->len;
	*p++ = '"';
	while (i < n) {
		unsigned char c;
		size_t j = i, l;

		/* copy the whole run of plain characters at once */
		while (j < n && !json_special[s[j]])
			j++;
		memcpy(p, s + i, j - i);
		p += j - i;
		if (j == n)
			break;
		c = s[j];
		i = j + 1;
		switch (c) {
		case '"':  *p++ = '\\'; *p++ = '"'; continue;
		case '\\': *p++ = '\\'; *p++ = '\\'; continue;
		case '\n': *p++ = '\\'; *p++ = 'n'; continue;
		case '\t': *p++ = '\\'; *p++ = 't'; continue;
		case '\r': *p++ = '\\'; *p++ = 'r'; continue;
		}
		if (c >= 0x80 && (l = utf8_seq_len(s + j, n - j))) {
			memcpy(p, s + j, l);
			p += l;
			i = j + l;
			continue;
		}
		memcpy(p, "\\u00", 4);
		p[4] = hex[c >> 4];
		p[5] = hex[c & 15];
		p += 6;
	}
	*p++ = '"';
	w->len = p - w->buf;
}

/* Two digits at a time: half the divisions. */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static const uint64_t pow10[20] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
	100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
	10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

/* Decimal digits of v: log10 from its bit length (1233 / 4096 ~ log10(2)),
 * then one comparison. */
static int dec_digits(uint64_t v)
{
	int t;

	if (v < 10)
		return 1;
	t = (64 - __builtin_clzll(v)) * 1233 >> 12;
	return t + 1 - (v < pow10[t]);
}

void json__u64(struct json_writer *w, uint64_t v)
{
	int n = dec_digits(v);
	char *p;

	json__reserve(w, n);
	p = w->buf + w->len + n;
	w->len += n;
	while (v >= 100) {
		const char *d = digit_pairs + (v % 100) * 2;

		v /= 100;
		*--p = d[1];
		*--p = d[0];
	}
	if (v >= 10) {
		*--p = digit_pairs[v * 2 + 1];
		*--p = digit_pairs[v * 2];
	} else {
		*--p = '0' + v;
	}
}

void json__fixed(struct json_writer *w, uint64_t val, int decimals)
{
	uint64_t div = 1;
	char frac[20];

	for (int i = 0; i < decimals; i++)
		div *= 10;
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
