// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* format.c: addresses, sockets, times, integers, /etc/services. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "format.h"
#include "services.h"
#include "util.h"

static const char *addr_str(char *buf, size_t len, const char *text)
{
	struct in6_addr a = addr_of(text);
	int r = format__addr(buf, len, family_of(text), &a);

	ASSERT_MSG(r == 0, "format__addr(%s) returned %d", text, r);
	return buf;
}

TEST(format_addr_ipv4)
{
	char buf[ADDR_STRLEN];

	ASSERT_STREQ(addr_str(buf, sizeof(buf), "10.1.2.3"), "10.1.2.3");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "0.0.0.0"), "0.0.0.0");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "255.255.255.255"), "255.255.255.255");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "192.168.100.7"), "192.168.100.7");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "1.20.199.200"), "1.20.199.200");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "100.10.9.109"), "100.10.9.109");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "127.0.0.1"), "127.0.0.1");
}

TEST(format_addr_ipv4_every_octet)
{
	char buf[ADDR_STRLEN], want[32];

	for (int v = 0; v < 256; v++) {
		struct in6_addr a;

		memset(&a, 0, sizeof(a));
		a.s6_addr[0] = v;
		a.s6_addr[1] = 255 - v;
		a.s6_addr[2] = v / 2;
		a.s6_addr[3] = v % 10;
		snprintf(want, sizeof(want), "%d.%d.%d.%d", v, 255 - v, v / 2, v % 10);
		ASSERT_EQ(format__addr(buf, sizeof(buf), AF_INET, &a), 0);
		ASSERT_STREQ(buf, want);
	}
}

TEST(format_addr_ipv6)
{
	char buf[ADDR_STRLEN];

	ASSERT_STREQ(addr_str(buf, sizeof(buf), "::1"), "::1");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "::"), "::");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "fe80:0:0:0:1:2:3:4"), "fe80::1:2:3:4");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(format_addr_ipv4_mapped_prints_as_ipv4)
{
	char buf[ADDR_STRLEN];

	ASSERT_STREQ(addr_str(buf, sizeof(buf), "::ffff:10.1.2.3"), "10.1.2.3");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "::ffff:0.0.0.0"), "0.0.0.0");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "::ffff:255.255.255.255"), "255.255.255.255");
	/* not mapped: IPv4-compatible and NAT64 stay IPv6 */
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "64:ff9b::a01:203"), "64:ff9b::a01:203");
	ASSERT_STREQ(addr_str(buf, sizeof(buf), "::1:ffff:a01:203"), "::1:ffff:a01:203");
}

TEST(format_addr_small_buffer)
{
	struct in6_addr v4 = addr_of("192.168.100.200"), v6 = addr_of("2001:db8::1");
	struct in6_addr mapped = addr_of("::ffff:192.168.100.200");
	char *buf;

	/* exact-size heap buffers: an overflow shows under AddressSanitizer */
	buf = malloc(16);
	ASSERT_EQ(format__addr(buf, 16, AF_INET, &v4), 0);
	ASSERT_STREQ(buf, "192.168.100.200");
	free(buf);
	buf = malloc(16);
	ASSERT_EQ(format__addr(buf, 16, AF_INET6, &mapped), 0);
	ASSERT_STREQ(buf, "192.168.100.200");
	free(buf);
	buf = malloc(8);
	ASSERT_EQ(format__addr(buf, 8, AF_INET, &v4), -ENOSPC);
	free(buf);
	buf = malloc(8);
	ASSERT_EQ(format__addr(buf, 8, AF_INET6, &mapped), -ENOSPC);
	free(buf);
	buf = malloc(11);
	ASSERT_EQ(format__addr(buf, 11, AF_INET6, &v6), -ENOSPC);
	free(buf);
	buf = malloc(12);
	ASSERT_EQ(format__addr(buf, 12, AF_INET6, &v6), 0);
	ASSERT_STREQ(buf, "2001:db8::1");
	free(buf);
}

static const char *sock_str(char *buf, size_t len, const char *text, uint16_t port)
{
	struct in6_addr a = addr_of(text);
	int r = format__sock(buf, len, family_of(text), &a, port, "tcp");

	ASSERT_MSG(r == 0, "format__sock(%s, %u) returned %d", text, port, r);
	return buf;
}

TEST(format_sock)
{
	char buf[SOCK_STRLEN];

	ASSERT_STREQ(sock_str(buf, sizeof(buf), "10.1.2.3", 80), "10.1.2.3:80/tcp");
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "::1", 443), "[::1]:443/tcp");
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "::ffff:10.1.2.3", 8080), "10.1.2.3:8080/tcp");
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "0.0.0.0", 0), "0.0.0.0:0/tcp");
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "::", 0), "[::]:0/tcp");
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "2001:db8::1", 65535), "[2001:db8::1]:65535/tcp");
	/* the longest one fits SOCK_STRLEN */
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
		     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535/tcp");
	ASSERT_STREQ(sock_str(buf, sizeof(buf), "255.255.255.255", 65535), "255.255.255.255:65535/tcp");
}

TEST(format_sock_small_buffer)
{
	struct in6_addr a = addr_of("10.1.2.3");
	char *buf = malloc(10);

	ASSERT_EQ(format__sock(buf, 10, AF_INET, &a, 80, "tcp"), -ENOSPC);
	ASSERT_EQ(strlen(buf), 9);	/* truncated, still terminated */
	free(buf);
	buf = malloc(16);
	ASSERT_EQ(format__sock(buf, 16, AF_INET, &a, 80, "tcp"), 0);
	ASSERT_STREQ(buf, "10.1.2.3:80/tcp");
	free(buf);
}

static const char *rfc3339(char *buf, uint64_t ns)
{
	int r = format__rfc3339(buf, 64, ns);

	ASSERT_MSG(r == 0, "format__rfc3339(%llu) returned %d", (unsigned long long)ns, r);
	return buf;
}

TEST(format_rfc3339_known_instants)
{
	char buf[64];

	ASSERT_STREQ(rfc3339(buf, 0), "1970-01-01T00:00:00.000000000Z");
	ASSERT_STREQ(rfc3339(buf, 1), "1970-01-01T00:00:00.000000001Z");
	ASSERT_STREQ(rfc3339(buf, 999999999), "1970-01-01T00:00:00.999999999Z");
	ASSERT_STREQ(rfc3339(buf, 1000000000), "1970-01-01T00:00:01.000000000Z");
	ASSERT_STREQ(rfc3339(buf, 1700000000123456789ull), "2023-11-14T22:13:20.123456789Z");
	/* leap days */
	ASSERT_STREQ(rfc3339(buf, 1709210096000000001ull), "2024-02-29T12:34:56.000000001Z");
	ASSERT_STREQ(rfc3339(buf, 951868799500000000ull), "2000-02-29T23:59:59.500000000Z");
	/* past 2038 and 2100 (not a leap year) */
	ASSERT_STREQ(rfc3339(buf, 2147483648000000000ull), "2038-01-19T03:14:08.000000000Z");
	ASSERT_STREQ(rfc3339(buf, 4107542400000000000ull - 1), "2100-02-28T23:59:59.999999999Z");
	ASSERT_STREQ(rfc3339(buf, 4107542400000000000ull), "2100-03-01T00:00:00.000000000Z");
	ASSERT_STREQ(rfc3339(buf, UINT64_MAX), "2554-07-21T23:34:33.709551615Z");
}

TEST(format_rfc3339_cache_follows_the_second)
{
	char buf[64];

	/* the date part is cached per second: going back and forth must not
	 * reuse a stale one */
	ASSERT_STREQ(rfc3339(buf, 1700000000000000005ull), "2023-11-14T22:13:20.000000005Z");
	ASSERT_STREQ(rfc3339(buf, 1700000000999999999ull), "2023-11-14T22:13:20.999999999Z");
	ASSERT_STREQ(rfc3339(buf, 1700000001000000000ull), "2023-11-14T22:13:21.000000000Z");
	ASSERT_STREQ(rfc3339(buf, 1700000000000000001ull), "2023-11-14T22:13:20.000000001Z");
	ASSERT_STREQ(rfc3339(buf, 0), "1970-01-01T00:00:00.000000000Z");
	ASSERT_STREQ(rfc3339(buf, 1700000000000000001ull), "2023-11-14T22:13:20.000000001Z");
}

TEST(format_rfc3339_small_buffer)
{
	char *buf = malloc(30);

	/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" is 30 bytes plus the NUL */
	ASSERT_EQ(format__rfc3339(buf, 30, 1700000000123456789ull), -ENOSPC);
	free(buf);
	buf = malloc(31);
	ASSERT_EQ(format__rfc3339(buf, 31, 1700000000123456789ull), 0);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.123456789Z");
	free(buf);
}

static const char *clock_str(char *buf, uint64_t ns)
{
	int r = format__clock(buf, 16, ns);

	ASSERT_MSG(r == 0, "format__clock(%llu) returned %d", (unsigned long long)ns, r);
	return buf;
}

static void restore_utc(void *unused)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TEST(format_clock_utc)
{
	char buf[16], *small;

	setenv("TZ", "UTC", 1);
	tzset();
	ASSERT_STREQ(clock_str(buf, 0), "00:00:00.000000");
	/* microseconds are truncated, not rounded */
	ASSERT_STREQ(clock_str(buf, 1234567890123456789ull), "23:31:30.123456");
	ASSERT_STREQ(clock_str(buf, 1234567890999999999ull), "23:31:30.999999");
	ASSERT_STREQ(clock_str(buf, 1234567891000000999ull), "23:31:31.000000");
	ASSERT_STREQ(clock_str(buf, 1709251199000001000ull), "23:59:59.000001");
	ASSERT_STREQ(clock_str(buf, 1234567890000000001ull), "23:31:30.000000");
	small = malloc(15);
	ASSERT_EQ(format__clock(small, 15, 0), -ENOSPC);
	free(small);
}

TEST(format_clock_local_time)
{
	char buf[16];

	ut_defer(restore_utc, NULL);
	setenv("TZ", "XST-2", 1);	/* POSIX: two hours east of UTC */
	tzset();
	/* 2011-03-13T07:06:40.654321Z */
	ASSERT_STREQ(clock_str(buf, 1300000000654321000ull), "09:06:40.654321");
	setenv("TZ", "YST+5", 1);	/* five hours west */
	tzset();
	ASSERT_STREQ(clock_str(buf, 1300000100000000000ull), "02:08:20.000000");
}

TEST(format_u64)
{
	char buf[21];

	ASSERT_EQ(format__u64(buf, 0), 1);
	ASSERT_STREQ(buf, "0");
	ASSERT_EQ(format__u64(buf, 7), 1);
	ASSERT_STREQ(buf, "7");
	ASSERT_EQ(format__u64(buf, 1000), 4);
	ASSERT_STREQ(buf, "1000");
	ASSERT_EQ(format__u64(buf, UINT64_MAX), 20);
	ASSERT_STREQ(buf, "18446744073709551615");
}

/* ---- /etc/services ---- */

static const char services_text[] =
	"# Network services, Internet style\n"
	"#\n"
	"tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n"
	"ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\n"
	"http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
	"www-alt\t\t80/tcp\n"			/* a duplicate port: the first wins */
	"domain\t\t53/udp\n"
	"domain\t\t53/tcp\n"
	"bootps\t\t67/udp\n"			/* udp only */
	"kerberos\t88/tcp\t\tkerberos5 krb5 kerberos-sec\t# Kerberos v5\n"
	"   # an indented comment 7/tcp\n"
	"#disabled\t81/tcp\n"			/* commented out */
	"# 82/tcp\n"
	"\n"
	"garbage\n"				/* malformed: no port */
	"noslash\t\t99\n"
	"badport\t\t12x/tcp\n"
	"empty\t\t/tcp\n"
	"zero\t\t0/tcp\n"			/* port 0 is ignored */
	"toobig\t\t70000/tcp\n"			/* 70000 & 0xffff = 4464 */
	"wayoff\t\t4294967297/tcp\n"		/* 2^32 + 1 */
	"negative\t-1/tcp\n"
	"noproto\t\t10/\n"
	"tcpx\t\t11/tcpx\n"
	"sctponly\t9/sctp\n"
	"https\t\t443/tcp\t\t\t\t# http protocol over TLS/SSL\n"
	"https\t\t443/udp\n"
	"http-alt\t8080/tcp\twebcache\r\n"	/* CRLF */
	"max\t\t65535/tcp\n"
	"last\t\t5432/tcp";			/* no newline at the end */

TEST(services_load_tcp)
{
	const char *dir = ut_tmpdir();
	const char *path = write_file(dir, "services", services_text);
	struct services *s = services__load(path, "tcp");
	static const struct { int port; const char *name; } want[] = {
		{ 1, "tcpmux" }, { 22, "ssh" }, { 80, "http" }, { 53, "domain" },
		{ 88, "kerberos" }, { 443, "https" }, { 8080, "http-alt" },
		{ 65535, "max" }, { 5432, "last" },
	};
	int named = 0, unexpected = -1;

	ASSERT_NOT_NULL(s);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ASSERT_STREQ(services__name(s, want[i].port), want[i].name);
	/* only those */
	for (int p = 0; p < 65536; p++) {
		size_t i;

		if (!services__name(s, p))
			continue;
		named++;
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (want[i].port == p)
				break;
		if (i == sizeof(want) / sizeof(want[0]) && unexpected < 0)
			unexpected = p;
	}
	ASSERT_MSG(unexpected < 0, "port %d has the unexpected name '%s'", unexpected,
		   services__name(s, unexpected < 0 ? 0 : unexpected));
	ASSERT_EQ(named, sizeof(want) / sizeof(want[0]));
	ASSERT_NULL(services__name(s, 67));
	ASSERT_NULL(services__name(s, 4464));
	ASSERT_NULL(services__name(s, 0));
	ASSERT_NULL(services__name(s, 12));
	ASSERT_NULL(services__name(s, 99));
	ASSERT_NULL(services__name(s, 81));
	ASSERT_NULL(services__name(s, 7));
	services__free(s);
}

TEST(services_load_udp)
{
	const char *dir = ut_tmpdir();
	const char *path = write_file(dir, "services", services_text);
	struct services *s = services__load(path, "udp");

	ASSERT_NOT_NULL(s);
	ASSERT_STREQ(services__name(s, 53), "domain");
	ASSERT_STREQ(services__name(s, 67), "bootps");
	ASSERT_STREQ(services__name(s, 443), "https");
	ASSERT_NULL(services__name(s, 22));
	ASSERT_NULL(services__name(s, 80));
	services__free(s);
}

/* The table main.c loads for "tcp" names UDP events from the udp entries:
 * the two protocols do not share names (67 is only udp, 22 only tcp). */
TEST(services_load_tcp_keeps_udp_names)
{
	const char *dir = ut_tmpdir();
	const char *path = write_file(dir, "services", services_text);
	struct services *s = services__load(path, "tcp");

	ASSERT_NOT_NULL(s);
	defer_services_free(s);
	ASSERT_STREQ(services__lookup(s, 53, IPPROTO_UDP), "domain");
	ASSERT_STREQ(services__lookup(s, 67, IPPROTO_UDP), "bootps");
	ASSERT_STREQ(services__lookup(s, 443, IPPROTO_UDP), "https");
	ASSERT_NULL(services__lookup(s, 22, IPPROTO_UDP));
	ASSERT_NULL(services__lookup(s, 80, IPPROTO_UDP));
	ASSERT_NULL(services__lookup(s, 0, IPPROTO_UDP));
	ASSERT_STREQ(services__lookup(s, 22, IPPROTO_TCP), "ssh");
	ASSERT_STREQ(services__lookup(s, 53, IPPROTO_TCP), "domain");
	ASSERT_NULL(services__lookup(s, 67, IPPROTO_TCP));
	ASSERT_NULL(services__name(s, 67));
	ASSERT_NULL(services__lookup(NULL, 53, IPPROTO_UDP));
	for (int p = 0; p < 65536; p++)
		ASSERT_MSG(p == 53 || p == 67 || p == 443 || !services__lookup(s, p, IPPROTO_UDP),
			   "port %d/udp named \"%s\"", p, services__lookup(s, p, IPPROTO_UDP));
}

TEST(services_load_missing_file)
{
	const char *dir = ut_tmpdir();
	char path[4200];
	struct services *s;

	snprintf(path, sizeof(path), "%s/no-such-file", dir);
	s = services__load(path, "tcp");
	ASSERT_NOT_NULL(s);
	for (int p = 0; p < 65536; p++)
		ASSERT_NULL(services__name(s, p));
	services__free(s);
	ASSERT_NULL(services__name(NULL, 22));
	services__free(NULL);
}

TEST(services_load_long_lines)
{
	const char *dir = ut_tmpdir();
	char *text = malloc(4096), *p = text;
	const char *path;
	struct services *s;

	ASSERT_NOT_NULL(text);
	/* a name longer than the parser keeps, and a line longer than its
	 * line buffer (many aliases) */
	p += sprintf(p, "%s 7/tcp\n", "a-very-long-service-name-that-goes-on-and-on-and-on-and-on-and-on-x");
	p += sprintf(p, "aliases 9/tcp");
	for (int i = 0; i < 100; i++)
		p += sprintf(p, " alias%d", i);
	p += sprintf(p, "\nafter 19/tcp\n");
	path = write_file(dir, "services", text);
	free(text);
	s = services__load(path, "tcp");
	ASSERT_NOT_NULL(s);
	defer_services_free(s);
	ASSERT_STREQ(services__name(s, 9), "aliases");
	ASSERT_STREQ(services__name(s, 19), "after");
	/* the overlong name is cut to what the parser keeps, or dropped */
	if (services__name(s, 7))
		ASSERT(!strncmp(services__name(s, 7), "a-very-long-service-name", 24));
	for (int port = 1; port < 65536; port++)
		ASSERT_MSG(port == 7 || port == 9 || port == 19 || !services__name(s, port),
			   "port %d named '%s' by a piece of a long line", port,
			   services__name(s, port));
}
