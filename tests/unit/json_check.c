// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "json_check.h"

#define JC_MAX_DEPTH 16

struct jc {
	const unsigned char *start, *p, *end;
	struct jc_result *r;
	bool failed;
};

static bool jc_err(struct jc *j, const char *fmt, ...)
{
	va_list ap;

	if (j->failed)
		return false;
	j->failed = true;
	j->r->err_at = j->p - j->start;
	va_start(ap, fmt);
	vsnprintf(j->r->err, sizeof(j->r->err), fmt, ap);
	va_end(ap);
	return false;
}

static void jc_ws(struct jc *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jc_hex4(struct jc *j, unsigned *out)
{
	unsigned v = 0;

	if (j->end - j->p < 4)
		return jc_err(j, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->p[i]);

		if (h < 0)
			return jc_err(j, "bad hex digit in \\u escape");
		v = v << 4 | h;
	}
	j->p += 4;
	*out = v;
	return true;
}

/* Strict UTF-8: no overlong forms, no surrogates, at most U+10FFFF. */
static size_t utf8_valid_len(const unsigned char *s, const unsigned char *end)
{
	size_t len, n = end - s;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A string literal; its raw bytes between the quotes go to key if not NULL. */
static bool jc_string(struct jc *j, char *key, size_t keylen)
{
	const unsigned char *begin;

	if (j->p >= j->end || *j->p != '"')
		return jc_err(j, "expected a string");
	begin = ++j->p;
	for (;;) {
		unsigned char c;

		if (j->p >= j->end)
			return jc_err(j, "unterminated string");
		c = *j->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return jc_err(j, "raw control byte 0x%02x in a string", c);
		if (c == '\\') {
			unsigned u, lo;

			if (++j->p >= j->end)
				return jc_err(j, "truncated escape");
			c = *j->p++;
			if (strchr("\"\\/bfnrt", c) && c)
				continue;
			if (c != 'u')
				return jc_err(j, "bad escape \\%c", c);
			if (!jc_hex4(j, &u))
				return false;
			if (u >= 0xdc00 && u <= 0xdfff)
				return jc_err(j, "lone low surrogate \\u%04x", u);
			if (u >= 0xd800 && u <= 0xdbff) {
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
					return jc_err(j, "high surrogate \\u%04x without its pair", u);
				j->p += 2;
				if (!jc_hex4(j, &lo))
					return false;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jc_err(j, "high surrogate \\u%04x followed by \\u%04x", u, lo);
			}
			continue;
		}
		if (c >= 0x80) {
			size_t l = utf8_valid_len(j->p, j->end);

			if (!l)
				return jc_err(j, "invalid UTF-8 byte 0x%02x in a string", c);
			j->p += l;
			continue;
		}
		j->p++;
	}
	if (key) {
		size_t n = j->p - begin;

		if (n >= keylen)
			n = keylen - 1;
		memcpy(key, begin, n);
		key[n] = '\0';
	}
	j->p++;
	return true;
}

static bool jc_digits(struct jc *j)
{
	const unsigned char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static bool jc_number(struct jc *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return jc_err(j, "truncated number");
	if (*j->p == '0') {
		j->p++;
		if (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			return jc_err(j, "leading zero in a number");
	} else if (!jc_digits(j)) {
		return jc_err(j, "expected a digit");
	}
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!jc_digits(j))
			return jc_err(j, "expected a digit after '.'");
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!jc_digits(j))
			return jc_err(j, "expected a digit in the exponent");
	}
	return true;
}

static bool jc_literal(struct jc *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return jc_err(j, "bad literal");
	j->p += n;
	return true;
}

static bool jc_value(struct jc *j, int depth);

static bool jc_object(struct jc *j, int depth)
{
	char keys[JC_MAX_KEYS][32];
	int n = 0;

	j->p++;	/* '{' */
	jc_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		char key[32];

		jc_ws(j);
		if (!jc_string(j, key, sizeof(key)))
			return false;
		for (int i = 0; i < n; i++)
			if (!strcmp(keys[i], key))
				return jc_err(j, "duplicate key \"%s\"", key);
		if (n == JC_MAX_KEYS)
			return jc_err(j, "more than %d keys in an object", JC_MAX_KEYS);
		memcpy(keys[n++], key, sizeof(key));
		jc_ws(j);
		if (j->p >= j->end || *j->p != ':')
			return jc_err(j, "expected ':'");
		j->p++;
		jc_ws(j);
		if (depth == 0) {
			memcpy(j->r->keys[j->r->n_keys], key, sizeof(key));
			j->r->val_off[j->r->n_keys] = j->p - j->start;
		}
		if (!jc_value(j, depth + 1))
			return false;
		if (depth == 0) {
			j->r->val_len[j->r->n_keys] = j->p - j->start - j->r->val_off[j->r->n_keys];
			j->r->n_keys++;
		}
		jc_ws(j);
		if (j->p >= j->end)
			return jc_err(j, "unterminated object");
		if (*j->p == '}') {
			j->p++;
			return true;
		}
		if (*j->p != ',')
			return jc_err(j, "expected ',' or '}'");
		j->p++;
	}
}

static bool jc_array(struct jc *j, int depth)
{
	j->p++;	/* '[' */
	jc_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return true;
	}
	for (;;) {
		if (!jc_value(j, depth + 1))
			return false;
		jc_ws(j);
		if (j->p >= j->end)
			return jc_err(j, "unterminated array");
		if (*j->p == ']') {
			j->p++;
			return true;
		}
		if (*j->p != ',')
			return jc_err(j, "expected ',' or ']'");
		j->p++;
	}
}

static bool jc_value(struct jc *j, int depth)
{
	if (depth > JC_MAX_DEPTH)
		return jc_err(j, "nested too deep");
	jc_ws(j);
	if (j->p >= j->end)
		return jc_err(j, "expected a value");
	switch (*j->p) {
	case '{':
		return jc_object(j, depth);
	case '[':
		return jc_array(j, depth);
	case '"':
		return jc_string(j, NULL, 0);
	case 't':
		return jc_literal(j, "true");
	case 'f':
		return jc_literal(j, "false");
	case 'n':
		return jc_literal(j, "null");
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return jc_number(j);
		return jc_err(j, "unexpected byte 0x%02x", *j->p);
	}
}

bool json_check(const char *s, size_t n, struct jc_result *r)
{
	struct jc j = {
		.start = (const unsigned char *)s,
		.p = (const unsigned char *)s,
		.end = (const unsigned char *)s + n,
		.r = r,
	};

	memset(r, 0, sizeof(*r));
	if (!jc_value(&j, 0))
		return false;
	jc_ws(&j);
	if (j.p != j.end)
		return jc_err(&j, "trailing bytes after the value");
	return true;
}

bool json_check_line(const char *s, size_t n, struct jc_result *r)
{
	const char *nl = n ? memchr(s, '\n', n) : NULL;

	memset(r, 0, sizeof(*r));
	if (!n || s[0] != '{') {
		snprintf(r->err, sizeof(r->err), "a line must start with '{'");
		return false;
	}
	if (!nl || nl != s + n - 1) {
		r->err_at = nl ? (size_t)(nl - s) : n;
		snprintf(r->err, sizeof(r->err), "a line must end with its only '\\n'");
		return false;
	}
	return json_check(s, n - 1, r);
}

const char *json_field(const struct jc_result *r, const char *text, const char *key,
		     size_t *len)
{
	for (int i = 0; i < r->n_keys; i++) {
		if (!strcmp(r->keys[i], key)) {
			*len = r->val_len[i];
			return text + r->val_off[i];
		}
	}
	return NULL;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | (cp >> 6 & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | (cp >> 12 & 0x3f);
	out[2] = 0x80 | (cp >> 6 & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

ssize_t json_unescape(const char *s, size_t n, char *out, size_t outlen)
{
	struct jc_result r;
	size_t o = 0, i = 1;

	if (!json_check(s, n, &r) || n < 2 || s[0] != '"')
		return -1;
	while (i < n - 1) {
		unsigned char c = s[i++];
		uint32_t cp;
		char tmp[4];
		size_t l;

		if (c != '\\') {
			if (o >= outlen)
				return -1;
			out[o++] = c;
			continue;
		}
		c = s[i++];
		switch (c) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			cp = hexval(s[i]) << 12 | hexval(s[i + 1]) << 8 |
			     hexval(s[i + 2]) << 4 | hexval(s[i + 3]);
			i += 4;
			if (cp < 0x100) {	/* socktrace's byte escape */
				c = cp;
				break;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo = hexval(s[i + 2]) << 12 | hexval(s[i + 3]) << 8 |
					      hexval(s[i + 4]) << 4 | hexval(s[i + 5]);

				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			l = put_utf8(tmp, cp);
			if (o + l > outlen)
				return -1;
			memcpy(out + o, tmp, l);
			o += l;
			continue;
		}
		if (o >= outlen)
			return -1;
		out[o++] = c;
	}
	return o;
}
