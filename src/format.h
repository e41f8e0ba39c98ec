/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Formatting shared by the renderers: addresses, times, numbers, and text
 * for a terminal (escaping, display widths). */
#ifndef ST_FORMAT_H
#define ST_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */
#define SOCK_STRLEN (ADDR_STRLEN + 2 + 1 + 5 + 4 + 1)

/* An IPv4-mapped IPv6 address prints as IPv4. */
int format__addr(char *buf, size_t len, int family, const struct in6_addr *addr);
/* "127.0.0.1:80/tcp", "[::1]:80/tcp" */
int format__sock(char *buf, size_t len, int family, const struct in6_addr *addr,
		 uint16_t port, const char *proto);
/* RFC 3339, UTC, nanoseconds: 2026-11-27T17:42:06.123456789Z */
int format__rfc3339(char *buf, size_t len, uint64_t wall_ns);
/* Local time of day with microseconds: 17:42:06.123456; "?" for
 * EVENT_WALL_UNKNOWN */
int format__clock(char *buf, size_t len, uint64_t wall_ns);

/* Terminal columns of a code point: 0 (combining, format), 1, or 2 (East
 * Asian wide, emoji); fixed tables, whatever the locale. */
int format__cp_width(uint32_t cp);
/* n bytes of src (up to a NUL) for a terminal, into dst (len bytes, NUL
 * included; 4 * n + 1 is always enough): valid UTF-8 stays, a backslash
 * is doubled, and each byte of a control character (C0, DEL, C1, bidi
 * overrides) or of what is not UTF-8 becomes \xNN. Returns the display
 * width of what it wrote. */
int format__text_escape(char *dst, size_t len, const char *src, size_t n);
/* Display width of a UTF-8 string; a byte that is not UTF-8 counts one. */
int format__text_width(const char *s);
/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid;
 * its code point in *out. The JSON writer keeps what it accepts as is. */
size_t format__utf8_decode(const unsigned char *s, size_t n, uint32_t *out);

/* Decimal digits of v into buf (at least 21 bytes); returns the length. */
int format__u64(char *buf, uint64_t v);

#endif /* ST_FORMAT_H */
