// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* format.c's JSON writer, and the strict checker the sink tests rely on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_writer.h"
#include "util.h"

static void writer_free(void *p)
{
	json__free(p);
	free(p);
}

static struct json_writer *writer_new(void)
{
	struct json_writer *w = calloc(1, sizeof(*w));

	if (!w)
		FAIL("out of memory");
	ut_defer(writer_free, w);
	return w;
}

/* The writer's buffer against a string literal (which may hold NULs). */
#define ASSERT_W(w, lit) ASSERT_MEMEQ((w)->buf, (w)->len, lit, sizeof(lit) - 1)

/* json__str of n bytes into a fresh buffer. */
static struct json_writer *esc(struct json_writer *w, const char *s, size_t n)
{
	json__reset(w);
	json__str(w, s, n);
	return w;
}

#define ASSERT_ESC(w, in, out) do {					\
		esc(w, in, sizeof(in) - 1);				\
		ASSERT_W(w, out);					\
	} while (0)

TEST(json_str_plain_and_specials)
{
	struct json_writer *w = writer_new();

	ASSERT_ESC(w, "", "\"\"");
	ASSERT_ESC(w, "python3", "\"python3\"");
	ASSERT_ESC(w, "a\"b", "\"a\\\"b\"");
	ASSERT_ESC(w, "a\\b", "\"a\\\\b\"");
	ASSERT_ESC(w, "\"\\\"", "\"\\\"\\\\\\\"\"");
	ASSERT_ESC(w, "x\ny\tz\r", "\"x\\ny\\tz\\r\"");
	ASSERT_ESC(w, "/ <>&'", "\"/ <>&'\"");
	ASSERT_ESC(w, " ~", "\" ~\"");
}

TEST(json_str_control_bytes)
{
	struct json_writer *w = writer_new();

	ASSERT_ESC(w, "\x01", "\"\\u0001\"");
	ASSERT_ESC(w, "\x1f", "\"\\u001f\"");
	ASSERT_ESC(w, "a\x01" "b\x1f" "c", "\"a\\u0001b\\u001fc\"");
	ASSERT_ESC(w, "\b\f\x0b\x1b", "\"\\u0008\\u000c\\u000b\\u001b\"");
	ASSERT_ESC(w, "a\0b", "\"a\\u0000b\"");
}

TEST(json_str_del_is_escaped)
{
	struct json_writer *w = writer_new();

	/* DEL is a control character: docs/json.md says those are \u00XX */
	ASSERT_ESC(w, "\x7f", "\"\\u007f\"");
	ASSERT_ESC(w, "a\x7f" "b", "\"a\\u007fb\"");
}

TEST(json_str_valid_utf8_unchanged)
{
	struct json_writer *w = writer_new();

	ASSERT_ESC(w, "\xc3\xa9", "\"\xc3\xa9\"");			/* U+00E9 */
	ASSERT_ESC(w, "\xc2\x80", "\"\xc2\x80\"");			/* U+0080 */
	ASSERT_ESC(w, "\xdf\xbf", "\"\xdf\xbf\"");			/* U+07FF */
	ASSERT_ESC(w, "\xe0\xa0\x80", "\"\xe0\xa0\x80\"");		/* U+0800 */
	ASSERT_ESC(w, "\xe2\x82\xac", "\"\xe2\x82\xac\"");		/* U+20AC */
	ASSERT_ESC(w, "\xed\x9f\xbf", "\"\xed\x9f\xbf\"");		/* U+D7FF */
	ASSERT_ESC(w, "\xee\x80\x80", "\"\xee\x80\x80\"");		/* U+E000 */
	ASSERT_ESC(w, "\xef\xbf\xbf", "\"\xef\xbf\xbf\"");		/* U+FFFF */
	ASSERT_ESC(w, "\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"");	/* U+10000 */
	ASSERT_ESC(w, "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");	/* U+1F600 */
	ASSERT_ESC(w, "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");	/* U+10FFFF */
	ASSERT_ESC(w, "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80!",
		   "\"caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80!\"");
}

TEST(json_str_invalid_utf8_escaped_per_byte)
{
	struct json_writer *w = writer_new();

	ASSERT_ESC(w, "\x80", "\"\\u0080\"");				/* lone continuation */
	ASSERT_ESC(w, "\xbf", "\"\\u00bf\"");
	ASSERT_ESC(w, "a\xe2\x82", "\"a\\u00e2\\u0082\"");		/* truncated at the end */
	ASSERT_ESC(w, "\xf0\x9f\x98", "\"\\u00f0\\u009f\\u0098\"");
	ASSERT_ESC(w, "\xc3", "\"\\u00c3\"");
	ASSERT_ESC(w, "\xc0\x80", "\"\\u00c0\\u0080\"");		/* overlong NUL */
	ASSERT_ESC(w, "\xc1\xbf", "\"\\u00c1\\u00bf\"");		/* overlong */
	ASSERT_ESC(w, "\xe0\x80\x80", "\"\\u00e0\\u0080\\u0080\"");	/* overlong */
	ASSERT_ESC(w, "\xe0\x9f\xbf", "\"\\u00e0\\u009f\\u00bf\"");	/* overlong U+07FF */
	ASSERT_ESC(w, "\xf0\x80\x80\x80", "\"\\u00f0\\u0080\\u0080\\u0080\"");
	ASSERT_ESC(w, "\xf0\x8f\xbf\xbf", "\"\\u00f0\\u008f\\u00bf\\u00bf\"");
	ASSERT_ESC(w, "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");	/* surrogate U+D800 */
	ASSERT_ESC(w, "\xed\xbf\xbf", "\"\\u00ed\\u00bf\\u00bf\"");	/* surrogate U+DFFF */
	ASSERT_ESC(w, "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");	/* > U+10FFFF */
	ASSERT_ESC(w, "\xf5\x80\x80\x80", "\"\\u00f5\\u0080\\u0080\\u0080\"");
	ASSERT_ESC(w, "\xf8\x88\x80\x80\x80", "\"\\u00f8\\u0088\\u0080\\u0080\\u0080\"");
	ASSERT_ESC(w, "\xfe\xff", "\"\\u00fe\\u00ff\"");
	/* a bad lead byte does not swallow what follows it */
	ASSERT_ESC(w, "\xc3" "A", "\"\\u00c3A\"");
	ASSERT_ESC(w, "\xe2\x82" "A", "\"\\u00e2\\u0082A\"");
	ASSERT_ESC(w, "\xe2" "\xc3\xa9", "\"\\u00e2\xc3\xa9\"");
	ASSERT_ESC(w, "\x80\xc3\xa9", "\"\\u0080\xc3\xa9\"");
	ASSERT_ESC(w, "\xc3\xa9\x80", "\"\xc3\xa9\\u0080\"");
}

TEST(json_str_length_is_respected)
{
	struct json_writer *w = writer_new();

	esc(w, "abc", 2);
	ASSERT_W(w, "\"ab\"");
	esc(w, "\xe2\x82\xac", 2);	/* cut inside a sequence */
	ASSERT_W(w, "\"\\u00e2\\u0082\"");
	esc(w, "xyz", 0);
	ASSERT_W(w, "\"\"");
}

TEST(json_key_str)
{
	struct json_writer *w = writer_new();
	static const char comm[16] = "ab\0cd";	/* a field of the kernel's, NUL inside */

	json__begin(w);
	json__key_str(w, "comm", "a\"b\\c\nd");
	json__key_str(w, "role", NULL);
	json__key_strn(w, "n", "abcdef", 4);
	json__key_strn(w, "z", comm, sizeof(comm));
	json__key_strn(w, "e", "\x01\x7f", 1);
	json__end(w);
	ASSERT_W(w, "{\"comm\":\"a\\\"b\\\\c\\nd\",\"role\":null,\"n\":\"abcd\",\"z\":\"ab\",\"e\":\"\\u0001\"}\n");
}

TEST(json_object_structure)
{
	struct json_writer *w = writer_new();

	json__begin(w);
	json__end(w);
	ASSERT_W(w, "{}\n");

	json__reset(w);
	json__begin(w);
	json__key_str(w, "a", "x");
	json__key_u64(w, "b", 1);
	json__key_null(w, "c");
	json__key_bool(w, "d", true);
	json__key_bool(w, "e", false);
	json__end(w);
	ASSERT_W(w, "{\"a\":\"x\",\"b\":1,\"c\":null,\"d\":true,\"e\":false}\n");

	/* reuse after reset: no leading comma, nothing left over */
	json__reset(w);
	json__begin(w);
	json__key_u64(w, "only", 2);
	json__end(w);
	ASSERT_W(w, "{\"only\":2}\n");

	/* two objects back to back without a reset */
	json__begin(w);
	json__key_u64(w, "next", 3);
	json__end(w);
	ASSERT_W(w, "{\"only\":2}\n{\"next\":3}\n");
}

TEST(json_nested_object)
{
	struct json_writer *w = writer_new();
	struct jc_result r;

	json__begin(w);
	json__key_str(w, "type", "x");
	json__key(w, "inner");
	json__begin(w);
	json__key_str(w, "cause", "listening");
	json__key_u64(w, "queue", 3);
	json__close(w);
	json__key_u64(w, "after", 1);
	json__key(w, "empty");
	json__begin(w);
	json__close(w);
	json__end(w);
	ASSERT_W(w, "{\"type\":\"x\",\"inner\":{\"cause\":\"listening\",\"queue\":3},"
		    "\"after\":1,\"empty\":{}}\n");
	ASSERT(json_check_line(w->buf, w->len, &r));
	ASSERT_EQ(r.n_keys, 4);

	/* a nested object last */
	json__reset(w);
	json__begin(w);
	json__key(w, "d");
	json__begin(w);
	json__key_null(w, "p");
	json__close(w);
	json__end(w);
	ASSERT_W(w, "{\"d\":{\"p\":null}}\n");
}

TEST(json_numbers)
{
	struct json_writer *w = writer_new();

	json__begin(w);
	json__key_u64(w, "u0", 0);
	json__key_u64(w, "umax", UINT64_MAX);
	json__key_i64(w, "i0", 0);
	json__key_i64(w, "ineg", -1);
	json__key_i64(w, "imin", INT64_MIN);
	json__key_i64(w, "imax", INT64_MAX);
	json__end(w);
	ASSERT_W(w, "{\"u0\":0,\"umax\":18446744073709551615,\"i0\":0,\"ineg\":-1,"
		    "\"imin\":-9223372036854775808,\"imax\":9223372036854775807}\n");
}

/* Around every power of ten, where the digit count changes. */
TEST(json_u64_digit_counts)
{
	struct json_writer *w = writer_new();
	uint64_t p = 1;

	for (int i = 0; i < 20; i++, p *= 10) {
		uint64_t vals[3] = { p - 1, p, p + 1 };

		for (int j = 0; j < 3; j++) {
			char want[32];

			snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[j]);
			json__reset(w);
			json__u64(w, vals[j]);
			ASSERT_MEMEQ(w->buf, w->len, want, strlen(want));
		}
	}
}

/* Names, addresses, times: copied as they are, quoted; true and false. */
TEST(json_plain_and_bool)
{
	struct json_writer *w = writer_new();

	json__begin(w);
	json__key_plain(w, "a", "127.0.0.1xyz", 9);
	json__key_plain(w, "e", "", 0);
	json__key_bool(w, "t", true);
	json__key_bool(w, "f", false);
	json__end(w);
	ASSERT_W(w, "{\"a\":\"127.0.0.1\",\"e\":\"\",\"t\":true,\"f\":false}\n");
}

TEST(json_fixed)
{
	struct json_writer *w = writer_new();

	json__begin(w);
	json__key_fixed(w, "a", 0, 3);
	json__key_fixed(w, "b", 1234567, 3);
	json__key_fixed(w, "c", 5, 3);
	json__key_fixed(w, "d", 1234567, 6);
	json__key_fixed(w, "e", 42, 0);
	json__key_fixed(w, "f", 1000, 3);
	json__key_fixed(w, "g", UINT64_MAX, 3);
	json__key_fixed(w, "h", UINT64_MAX, 19);
	json__end(w);
	ASSERT_W(w, "{\"a\":0.000,\"b\":1234.567,\"c\":0.005,\"d\":1.234567,\"e\":42,"
		    "\"f\":1.000,\"g\":18446744073709551.615,\"h\":1.8446744073709551615}\n");
}

/* Every byte alone: valid JSON, and decoding \u00XX gives the byte back. */
TEST(json_str_every_byte)
{
	struct json_writer *w = writer_new();
	struct jc_result r;

	for (int b = 0; b < 256; b++) {
		char in = b, out[8], want[16];
		ssize_t n;

		esc(w, &in, 1);
		ASSERT_MSG(json_check(w->buf, w->len, &r), "byte 0x%02x: invalid JSON string (%s)",
			   b, r.err);
		n = json_unescape(w->buf, w->len, out, sizeof(out));
		ASSERT_MSG(n == 1 && (unsigned char)out[0] == b, "byte 0x%02x does not round-trip", b);
		if (b == 0x7f)
			continue;	/* json_str_del_is_escaped */
		if (b == '"' || b == '\\')
			snprintf(want, sizeof(want), "\"\\%c\"", b);
		else if (b == '\n' || b == '\t' || b == '\r')
			snprintf(want, sizeof(want), "\"\\%c\"", b == '\n' ? 'n' : b == '\t' ? 't' : 'r');
		else if (b < 0x20 || b >= 0x80)
			snprintf(want, sizeof(want), "\"\\u%04x\"", b);
		else
			snprintf(want, sizeof(want), "\"%c\"", b);
		ASSERT_MEMEQ(w->buf, w->len, want, strlen(want));
	}
}

/* Every pair of bytes: valid JSON that round-trips. */
TEST(json_str_every_byte_pair)
{
	struct json_writer *w = writer_new();
	struct jc_result r;

	for (int i = 0; i < 65536; i++) {
		char in[2] = { (char)(i >> 8), (char)i }, out[16];
		ssize_t n;

		esc(w, in, 2);
		ASSERT_MSG(json_check(w->buf, w->len, &r), "bytes %02x %02x: invalid JSON string (%s)",
			   i >> 8, i & 0xff, r.err);
		n = json_unescape(w->buf, w->len, out, sizeof(out));
		ASSERT_MSG(n == 2 && !memcmp(in, out, 2), "bytes %02x %02x do not round-trip",
			   i >> 8, i & 0xff);
	}
}

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 0x2545f4914f6cdd1dull) >> 32;
}

static size_t put_cp(unsigned char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = 0xc0 | cp >> 6;
		p[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = 0xe0 | cp >> 12;
		p[1] = 0x80 | (cp >> 6 & 0x3f);
		p[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	p[0] = 0xf0 | cp >> 18;
	p[1] = 0x80 | (cp >> 12 & 0x3f);
	p[2] = 0x80 | (cp >> 6 & 0x3f);
	p[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* Random byte soup biased towards the interesting bytes. */
TEST(json_str_random_bytes)
{
	static const unsigned char pool[] = {
		'a', 'Z', '0', ' ', '"', '\\', '\n', '\t', '\r', 0x00, 0x01, 0x1f, 0x7f,
		0x80, 0x8f, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
		0xf5, 0xff, 0xa0, 0x9f, 0x90,
	};
	struct json_writer *w = writer_new();
	struct jc_result r;

	for (int iter = 0; iter < 20000; iter++) {
		unsigned char in[48];
		char out[64];
		size_t n = rnd() % sizeof(in);
		ssize_t got;

		for (size_t i = 0; i < n; i++)
			in[i] = rnd() % 3 ? pool[rnd() % sizeof(pool)] : rnd();
		esc(w, (char *)in, n);
		if (!json_check(w->buf, w->len, &r)) {
			char q[512];

			FAIL("iteration %d: invalid JSON (%s) for input %s", iter, r.err,
			     ut_quote(q, sizeof(q), (char *)in, n));
		}
		got = json_unescape(w->buf, w->len, out, sizeof(out));
		if (got != (ssize_t)n || memcmp(in, out, n)) {
			char q[512];

			FAIL("iteration %d: input %s does not round-trip", iter,
			     ut_quote(q, sizeof(q), (char *)in, n));
		}
	}
}

/* Random valid UTF-8 without characters that need an escape passes as is. */
TEST(json_str_random_valid_utf8)
{
	struct json_writer *w = writer_new();

	for (int iter = 0; iter < 5000; iter++) {
		unsigned char in[128], want[140];
		size_t n = 0, chars = rnd() % 24;

		for (size_t i = 0; i < chars; i++) {
			uint32_t cp;

			switch (rnd() % 4) {
			case 0: cp = 0x20 + rnd() % 0x5f; break;	/* ASCII, no DEL */
			case 1: cp = 0xa0 + rnd() % (0x800 - 0xa0); break;
			case 2: cp = 0x800 + rnd() % (0x10000 - 0x800); break;
			default: cp = 0x10000 + rnd() % (0x110000 - 0x10000); break;
			}
			if (cp == '"' || cp == '\\' || (cp >= 0xd800 && cp <= 0xdfff))
				cp = 'x';
			n += put_cp(in + n, cp);
		}
		esc(w, (char *)in, n);
		want[0] = '"';
		memcpy(want + 1, in, n);
		want[n + 1] = '"';
		ASSERT_MEMEQ(w->buf, w->len, want, n + 2);
	}
}

TEST(json_writer_grows)
{
	struct json_writer *w = writer_new();
	size_t n = 100000;
	char *big = malloc(n);
	struct jc_result r;

	ASSERT_NOT_NULL(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7 % 255 + 1);	/* every byte but NUL */
	json__begin(w);
	json__key_strn(w, "a", big, n);	/* strnlen: no NUL in big */
	for (int i = 0; i < 1000; i++)
		json__key_u64(w, i % 2 ? "odd" : "even", i);
	json__end(w);
	free(big);
	/* duplicate keys on purpose: only check the first part */
	ASSERT(w->len > n);
	ASSERT(w->cap >= w->len);
	{
		static const char head[] = "{\"a\":\"\\u0001\\u0008\\u000f\\u0016\\u001d$+29@GNU\\\\";
		static const char tail[] = ",\"odd\":999}\n";

		ASSERT_MEMEQ(w->buf, sizeof(head) - 1, head, sizeof(head) - 1);
		ASSERT_MEMEQ(w->buf + w->len - (sizeof(tail) - 1), sizeof(tail) - 1,
			     tail, sizeof(tail) - 1);
	}
	json__reset(w);
	json__str(w, "ok", 2);
	ASSERT(json_check(w->buf, w->len, &r));
}

/* ---- the checker itself: it must reject what it is there to catch ---- */

static bool jc(const char *s)
{
	struct jc_result r;

	return json_check(s, strlen(s), &r);
}

TEST(json_checker_accepts)
{
	struct jc_result r;
	const char *line = "{\"a\":1,\"b\":\"x\\u00e9\\n\",\"c\":null,\"d\":true,\"e\":false}\n";

	ASSERT(jc("{}"));
	ASSERT(jc("[]"));
	ASSERT(jc("0"));
	ASSERT(jc("-0.5e+3"));
	ASSERT(jc("1E5"));
	ASSERT(jc("\"\\ud83d\\ude00\""));
	ASSERT(jc("\"\\/\\b\\f\\n\\r\\t\\\"\\\\\""));
	ASSERT(jc("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\""));
	ASSERT(jc(" {\"a\" : [1, {\"b\": []}, \"c\"], \"d\": {}} "));
	ASSERT(json_check_line(line, strlen(line), &r));
	ASSERT_EQ(r.n_keys, 5);
	ASSERT_STREQ(r.keys[0], "a");
	ASSERT_STREQ(r.keys[4], "e");
}

TEST(json_checker_rejects)
{
	static const char *const bad[] = {
		"", "{", "}", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":01}", "{\"a\":1.}",
		"{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":nul}",
		"{\"a\":1}{", "{\"a\":1} x", "{\"a\":1,\"a\":2}", "{\"a\":\"\x01\"}",
		"{\"a\":\"\n\"}", "{\"a\":\"\x80\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":\"\\q\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"x}", "[1,]", "[1 2]", "'a'",
		"{\"a\":NaN}", "{\"a\":Infinity}",
	};
	struct jc_result r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char q[256];

		ASSERT_MSG(!jc(bad[i]), "the checker accepted %s",
			   ut_quote(q, sizeof(q), bad[i], strlen(bad[i])));
	}
	ASSERT(!json_check_line("{}", 2, &r));		/* no newline */
	ASSERT(!json_check_line("{}\n\n", 4, &r));	/* two */
	ASSERT(!json_check_line("{\"a\":\"\n\"}\n", 10, &r));
	ASSERT(!json_check_line("[]\n", 3, &r));	/* not an object */
	ASSERT(!json_check_line(" {}\n", 4, &r));
	ASSERT(json_check_line("{}\n", 3, &r));
}
