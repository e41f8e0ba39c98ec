// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The test runner: the one main() of build/unit_tests. See harness.h. */
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

struct ut_test {
	const char *name;
	void (*fn)(void);
	const char *file;
	int line;
};

struct ut_defer {
	void (*fn)(void *);
	void *arg;
};

static struct ut_test *tests;
static size_t n_tests, cap_tests;

static struct ut_defer defers[256];
static size_t n_defers;

static jmp_buf ut_jmp;
static char ut_msg[8192];
static const char *volatile ut_current;
static volatile unsigned ut_passed, ut_failed;

void ut_register(const char *name, void (*fn)(void), const char *file, int line)
{
	if (n_tests == cap_tests) {
		cap_tests = cap_tests ? cap_tests * 2 : 64;
		tests = realloc(tests, cap_tests * sizeof(*tests));
		if (!tests) {
			perror("unit: out of memory");
			exit(2);
		}
	}
	tests[n_tests++] = (struct ut_test){ name, fn, file, line };
}

void ut_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(ut_msg, sizeof(ut_msg), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(ut_msg + n, sizeof(ut_msg) - n, fmt, ap);
	va_end(ap);
	longjmp(ut_jmp, 1);
}

const char *ut_quote(char *buf, size_t len, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	bool truncated = false;
	size_t o = 0;

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	if (!s) {
		snprintf(buf, len, "NULL");
		return buf;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (o + 8 >= len) {	/* room for an escape, "..." and NUL */
			memcpy(buf + o, "...", 3);
			o += 3;
			truncated = true;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (c < 0x20 || c >= 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = c;
		}
	}
	if (!truncated)
		buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void ut_fail_str(const char *file, int line, const char *expr,
		 const char *got, size_t got_len, const char *want, size_t want_len)
{
	char g[3000], w[3000];
	size_t i = 0;

	if (got && want)
		while (i < got_len && i < want_len && got[i] == want[i])
			i++;
	ut_fail(file, line, "%s: got %s, expected %s (first difference at byte %zu)",
		expr, ut_quote(g, sizeof(g), got, got_len),
		ut_quote(w, sizeof(w), want, want_len), i);
}

void ut_defer(void (*fn)(void *), void *arg)
{
	if (n_defers == sizeof(defers) / sizeof(defers[0])) {
		fprintf(stderr, "unit: too many deferred cleanups in one test\n");
		abort();
	}
	defers[n_defers++] = (struct ut_defer){ fn, arg };
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void rm_tree(void *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

const char *ut_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/socktrace-unit.XXXXXX", base) < 0)
		FAIL("out of memory");
	if (!mkdtemp(path)) {
		free(path);
		FAIL("mkdtemp in %s failed", base);
	}
	ut_defer(rm_tree, path);
	return path;
}

static void run_defers(void)
{
	while (n_defers) {
		struct ut_defer d = defers[--n_defers];

		d.fn(d.arg);
	}
}

static int cmp_test(const void *a, const void *b)
{
	const struct ut_test *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	return c ? c : x->line - y->line;
}

/* Prints the output with every control byte escaped: one line per test. */
static void print_escaped(const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

#if defined(__SANITIZE_ADDRESS__)
#define UT_CATCH_SIGNALS 0	/* keep the sanitizer's own report */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UT_CATCH_SIGNALS 0
#endif
#endif
#ifndef UT_CATCH_SIGNALS
#define UT_CATCH_SIGNALS 1
#endif

/* A crash still names the test and ends with the result line. */
static void on_crash(int sig)
{
	char buf[512];
	const char *name = ut_current ? ut_current : "?";
	const char *what = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" :
			   sig == SIGFPE ? "SIGFPE" : sig == SIGILL ? "SIGILL" :
			   sig == SIGABRT ? "SIGABRT" : "signal";
	int n;

	/* snprintf is not async-signal-safe, but the process is going down */
	n = snprintf(buf, sizeof(buf), "FAIL - %s: crashed with %s (%d)\nunit: %u passed, %u failed\n",
		     name, what, sig, ut_passed, ut_failed + 1);
	if (n > 0)
		(void)!write(STDOUT_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	volatile unsigned matched = 0;

	if (argc > 2 || (only && (!strcmp(only, "-h") || !strcmp(only, "--help")))) {
		fprintf(stderr, "usage: %s [SUBSTRING]  run the tests whose name contains SUBSTRING\n",
			argv[0]);
		return 2;
	}
	/* format__clock and the text sink print local time */
	setenv("TZ", "UTC", 1);
	tzset();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (UT_CATCH_SIGNALS) {
		signal(SIGSEGV, on_crash);
		signal(SIGBUS, on_crash);
		signal(SIGFPE, on_crash);
		signal(SIGILL, on_crash);
		signal(SIGABRT, on_crash);
	}
	/* a sink writing to a closed pipe must see EPIPE, not die */
	signal(SIGPIPE, SIG_IGN);

	qsort(tests, n_tests, sizeof(*tests), cmp_test);
	for (size_t i = 0; i < n_tests; i++) {
		const struct ut_test *t = &tests[i];

		if (only && !strstr(t->name, only))
			continue;
		matched++;
		ut_current = t->name;
		ut_msg[0] = '\0';
		if (setjmp(ut_jmp) == 0) {
			t->fn();
			run_defers();
			printf("ok - %s\n", t->name);
			ut_passed++;
		} else {
			run_defers();
			printf("FAIL - %s: ", t->name);
			print_escaped(ut_msg);
			putchar('\n');
			ut_failed++;
		}
		fflush(stdout);
	}
	ut_current = NULL;
	printf("unit: %u passed, %u failed\n", ut_passed, ut_failed);
	free(tests);
	if (only && !matched) {
		fprintf(stderr, "unit: no test name contains '%s'\n", only);
		return 2;
	}
	return ut_failed ? 1 : 0;
}
