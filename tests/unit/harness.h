/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A tiny unit test harness, no external library.
 *
 *   TEST(name) { ASSERT_EQ(1 + 1, 2); }
 *
 * Tests register themselves from a constructor and run in file then line
 * order. The first failed assertion records file:line and a message and ends
 * the test (longjmp back to the runner); the runner goes on with the next one.
 * Output: "ok - name" or "FAIL - name: file:line: message" per test, then
 * "unit: N passed, N failed". Exit status 1 if any test failed.
 *   build/unit_tests [SUBSTRING]   runs only the tests whose name contains it
 *
 * ut_defer() and ut_tmpdir() give cleanup that runs after the test even when
 * an assertion ended it early. */
#ifndef UNIT_HARNESS_H
#define UNIT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void ut_register(const char *name, void (*fn)(void), const char *file, int line);
__attribute__((noreturn, format(printf, 3, 4)))
void ut_fail(const char *file, int line, const char *fmt, ...);
__attribute__((noreturn))
void ut_fail_str(const char *file, int line, const char *expr,
		 const char *got, size_t got_len, const char *want, size_t want_len);
/* Runs fn(arg) after the current test, last registered first. */
void ut_defer(void (*fn)(void *), void *arg);
/* A fresh directory, removed with its contents after the current test. */
const char *ut_tmpdir(void);
/* s quoted as a C string literal into buf ("..." with \n, \xNN). */
const char *ut_quote(char *buf, size_t len, const char *s, size_t n);

#define TEST(name)							\
	static void ut_test_##name(void);				\
	__attribute__((constructor)) static void ut_reg_##name(void)	\
	{								\
		ut_register(#name, ut_test_##name, __FILE__, __LINE__);	\
	}								\
	static void ut_test_##name(void)

#define FAIL(...) ut_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)							\
	do {								\
		if (!(cond))						\
			FAIL("assertion failed: %s", #cond);		\
	} while (0)

#define ASSERT_MSG(cond, ...)						\
	do {								\
		if (!(cond))						\
			FAIL(__VA_ARGS__);				\
	} while (0)

#define ASSERT_EQ(a, b)							\
	do {								\
		long long ut_a = (long long)(a), ut_b = (long long)(b);	\
		if (ut_a != ut_b)					\
			FAIL("%s == %s: got %lld, expected %lld",	\
			     #a, #b, ut_a, ut_b);			\
	} while (0)

#define ASSERT_EQ_U64(a, b)						\
	do {								\
		unsigned long long ut_a = (a), ut_b = (b);		\
		if (ut_a != ut_b)					\
			FAIL("%s == %s: got %llu, expected %llu",	\
			     #a, #b, ut_a, ut_b);			\
	} while (0)

#define ASSERT_TRUE(a) ASSERT_MSG((a), "%s: got false, expected true", #a)
#define ASSERT_FALSE(a) ASSERT_MSG(!(a), "%s: got true, expected false", #a)
#define ASSERT_NULL(p) ASSERT_MSG((p) == NULL, "%s: expected NULL", #p)
#define ASSERT_NOT_NULL(p) ASSERT_MSG((p) != NULL, "%s: unexpected NULL", #p)

/* NUL-terminated strings; either may be NULL. */
#define ASSERT_STREQ(a, b)						\
	do {								\
		const char *ut_a = (a), *ut_b = (b);			\
		if (!(ut_a == ut_b ||					\
		      (ut_a && ut_b && !strcmp(ut_a, ut_b))))		\
			ut_fail_str(__FILE__, __LINE__, #a,		\
				    ut_a, ut_a ? strlen(ut_a) : 0,	\
				    ut_b, ut_b ? strlen(ut_b) : 0);	\
	} while (0)

/* Byte buffers with lengths. */
#define ASSERT_MEMEQ(a, alen, b, blen)					\
	do {								\
		const char *ut_a = (const char *)(a);			\
		const char *ut_b = (const char *)(b);			\
		size_t ut_al = (alen), ut_bl = (blen);			\
		if (ut_al != ut_bl || memcmp(ut_a, ut_b, ut_al))	\
			ut_fail_str(__FILE__, __LINE__, #a,		\
				    ut_a, ut_al, ut_b, ut_bl);		\
	} while (0)

#endif /* UNIT_HARNESS_H */
