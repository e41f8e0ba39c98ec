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

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid;
 * its code point in *out. */
size_t format__utf8_decode(const unsigned char *s, size_t n, uint32_t *out)
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
			l = format__utf8_decode(s + i, n - i, &cp);
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
		l = format__utf8_decode(s, strlen((const char *)s), &cp);
		width += l ? format__cp_width(cp) : 1;
		s += l ? l : 1;
	}
	return width;
}
