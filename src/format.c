// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "event.h"
#include "format.h"

/* Writes the decimal digits of v (< 1000) and returns the end. */
static char *put_u8(char *p, unsigned int v)
{
	if (v >= 100)
		*p++ = '0' + v / 100;
	if (v >= 10)
		*p++ = '0' + v / 10 % 10;
	*p++ = '0' + v % 10;
	return p;
}

int format__addr(char *buf, size_t len, int family, const struct in6_addr *addr)
{
	const uint8_t *b = addr->s6_addr;

	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(addr)) {
		family = AF_INET;
		b += 12;
	}
	/* IPv4 by hand: inet_ntop goes through sprintf, hot under load */
	if (family == AF_INET && len >= 16) {
		char *p = buf;

		for (int i = 0; i < 4; i++) {
			p = put_u8(p, b[i]);
			*p++ = i < 3 ? '.' : '\0';
		}
		return 0;
	}
	if (!inet_ntop(family, b, buf, len))
		return -errno;
	return 0;
}

int format__sock(char *buf, size_t len, int family, const struct in6_addr *addr,
		 uint16_t port, const char *proto)
{
	char a[ADDR_STRLEN];
	bool v6;
	int n;

	if (format__addr(a, sizeof(a), family, addr))
		strcpy(a, "?");
	v6 = strchr(a, ':') != NULL;
	n = snprintf(buf, len, v6 ? "[%s]:%u/%s" : "%s:%u/%s", a, port, proto);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* Converting the date part is the slow bit; events come many per second. */
struct tm_cache {
	time_t sec;
	struct tm tm;
	bool valid;
};

int format__rfc3339(char *buf, size_t len, uint64_t wall_ns)
{
	/* the "YYYY-MM-DDTHH:MM:SS." part, formatted once per second */
	static char prefix[32];
	static size_t prefix_len;
	static time_t prefix_sec = -1;
	time_t sec = wall_ns / 1000000000ull;
	uint32_t ns = wall_ns % 1000000000ull;

	if (sec != prefix_sec) {
		struct tm tm;
		int n;

		gmtime_r(&sec, &tm);
		n = snprintf(prefix, sizeof(prefix), "%04d-%02d-%02dT%02d:%02d:%02d.",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (n < 0 || (size_t)n >= sizeof(prefix))
			return -ENOSPC;
		prefix_len = n;
		prefix_sec = sec;
	}
	if (prefix_len + 11 > len)
		return -ENOSPC;
	memcpy(buf, prefix, prefix_len);
	for (int i = 8; i >= 0; i--) {
		buf[prefix_len + i] = '0' + ns % 10;
		ns /= 10;
	}
	buf[prefix_len + 9] = 'Z';
	buf[prefix_len + 10] = '\0';
	return 0;
}

int format__clock(char *buf, size_t len, uint64_t wall_ns)
{
	static char prefix[16];
	static time_t prefix_sec = -1;
	time_t sec = wall_ns / 1000000000ull;
	uint32_t us = wall_ns % 1000000000ull / 1000;

	if (len < 16)
		return -ENOSPC;
	/* a replayed event whose clock reference was lost */
	if (wall_ns == EVENT_WALL_UNKNOWN) {
		strcpy(buf, "?");
		return 0;
	}
	if (sec != prefix_sec) {
		struct tm tm;

		localtime_r(&sec, &tm);
		snprintf(prefix, sizeof(prefix), "%02d:%02d:%02d.", tm.tm_hour % 100,
			 tm.tm_min % 100, tm.tm_sec % 100);
		prefix_sec = sec;
	}
	memcpy(buf, prefix, 9);
	for (int i = 5; i >= 0; i--) {
		buf[9 + i] = '0' + us % 10;
		us /= 10;
	}
	buf[15] = '\0';
	return 0;
}

int format__u64(char *buf, uint64_t v)
{
	char tmp[21];
	int i = sizeof(tmp), n;

	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	n = sizeof(tmp) - i;
	memcpy(buf, tmp + i, n);
	buf[n] = '\0';
	return n;
}

/* ---- JSON ---- */

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

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid;
 * its code point in *out. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *out)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*out = cp;
	return len;
}

static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	uint32_t cp;

	return utf8_decode(s, n, &cp);
}

/* Characters a terminal acts on rather than shows: C1 controls (U+0080 to
 * U+009F; CSI is U+009B) and the bidi embeddings, overrides and isolates,
 * which reorder the rest of the line. */
static bool cp_is_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

int format__text_escape(char *dst, size_t len, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	int width = 0;

	if (!len)
		return 0;
	for (size_t i = 0; i < n && s[i]; ) {
		unsigned char c = s[i];
		uint32_t cp = c;
		size_t l = 1;

		if (c >= 0x80)
			l = utf8_decode(s + i, n - i, &cp);
		if (c == '\\') {
			if (o + 2 >= len)
				break;
			dst[o++] = '\\';
			dst[o++] = '\\';
			width += 2;
		} else if (l && cp >= 0x20 && cp != 0x7f && !cp_is_control(cp)) {
			if (o + l >= len)
				break;
			memcpy(dst + o, s + i, l);
			o += l;
			width += format__cp_width(cp);
		} else {
			/* each byte of a control character or of what is not UTF-8 */
			if (!l)
				l = 1;
			if (o + 4 * l >= len)
				break;
			for (size_t k = 0; k < l; k++) {
				dst[o++] = '\\';
				dst[o++] = 'x';
				dst[o++] = hex[s[i + k] >> 4];
				dst[o++] = hex[s[i + k] & 15];
			}
			width += 4 * l;
		}
		i += l;
	}
	dst[o] = '\0';
	return width;
}

int format__text_width(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int width = 0;

	while (*s) {
		uint32_t cp;
		size_t l;

		if (*s < 0x80) {
			width++;
			s++;
			continue;
		}
		l = utf8_decode(s, strlen((const char *)s), &cp);
		width += l ? format__cp_width(cp) : 1;
		s += l ? l : 1;
	}
	return width;
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
