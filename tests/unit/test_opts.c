// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* opts.c: the command line, its defaults and every error message. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "hook_kind.h"
#include "opts.h"
#include "util.h"

#define MAX_ARGS 16

/* Parses "socktrace" followed by the NULL-terminated arguments into o (after
 * opts__init), from writable copies as main() would get them. */
static int parse(struct opts *o, char *err, size_t errlen, ...)
{
	char *argv[MAX_ARGS + 2];
	char store[MAX_ARGS][1024];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = "socktrace";
	va_start(ap, errlen);
	while ((a = va_arg(ap, const char *))) {
		if (argc > MAX_ARGS)
			FAIL("too many arguments for the test helper");
		snprintf(store[argc - 1], sizeof(store[0]), "%s", a);
		argv[argc] = store[argc - 1];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	opts__init(o);
	err[0] = '\0';
	return opts__parse(o, argc, argv, err, errlen);
}

#define PARSE_OK(o, ...) do {						\
		char ut_err[512];					\
		int ut_r = parse(o, ut_err, sizeof(ut_err), __VA_ARGS__, NULL);	\
		ASSERT_MSG(ut_r == 0, "parse failed with %d: %s", ut_r, ut_err);	\
	} while (0)

#define PARSE_ERR(msg, ...) do {					\
		struct opts ut_o;					\
		char ut_err[512];					\
		int ut_r = parse(&ut_o, ut_err, sizeof(ut_err), __VA_ARGS__, NULL);	\
		opts__free(&ut_o);	/* what a failed parse kept */	\
		ASSERT_MSG(ut_r == -EINVAL, "parse returned %d, expected -EINVAL (%s)",	\
			   ut_r, ut_err);				\
		ASSERT_STREQ(ut_err, msg);				\
	} while (0)

TEST(opts_defaults)
{
	struct opts o;
	char err[128];

	ASSERT_EQ(parse(&o, err, sizeof(err), NULL), 0);
	ASSERT_TRUE(o.snapshot);
	ASSERT_EQ(o.ringbuf_kb, 8192);
	ASSERT_EQ(o.hook, HOOK_AUTO);
	ASSERT_FALSE(o.json);
	ASSERT_FALSE(o.numeric);
	ASSERT_FALSE(o.probes);
	ASSERT_FALSE(o.verbose);
	ASSERT_FALSE(o.help);
	ASSERT_FALSE(o.version);
	ASSERT(o.duration == 0);
	ASSERT_EQ(o.count, 0);
	ASSERT_NULL(o.btf_path);
	ASSERT_FALSE(o.quiet);
	ASSERT_FALSE(o.connects);
	ASSERT_EQ_U64(o.syn_alert_ms, 1000);
	ASSERT_TRUE(filter__is_empty(&o.filter));
}

TEST(opts_filters)
{
	struct opts o;

	PARSE_OK(&o, "-p", "1,2,3");
	ASSERT_EQ(o.filter.n_pids, 3);
	ASSERT_EQ(o.filter.pids[0], 1);
	ASSERT_EQ(o.filter.pids[2], 3);
	PARSE_OK(&o, "--pid", "2147483647", "-p", "42");
	ASSERT_EQ(o.filter.n_pids, 2);
	ASSERT_EQ(o.filter.pids[0], 2147483647);
	ASSERT_EQ(o.filter.pids[1], 42);
	PARSE_OK(&o, "--pid=7", "-p8");
	ASSERT_EQ(o.filter.n_pids, 2);
	ASSERT_EQ(o.filter.pids[1], 8);

	PARSE_OK(&o, "--comm", "sshd");
	ASSERT_STREQ(o.filter.comm, "sshd");
	PARSE_OK(&o, "--comm=Web Content");
	ASSERT_STREQ(o.filter.comm, "Web Content");
	PARSE_OK(&o, "--comm", "abcdefghijklmno");	/* 15: the most a comm has */
	ASSERT_STREQ(o.filter.comm, "abcdefghijklmno");

	PARSE_OK(&o, "-P", "22,443", "--port", "65535", "--port=1");
	ASSERT_EQ(o.filter.n_ports, 4);
	ASSERT_EQ(o.filter.ports[0], 22);
	ASSERT_EQ(o.filter.ports[1], 443);
	ASSERT_EQ(o.filter.ports[2], 65535);
	ASSERT_EQ(o.filter.ports[3], 1);

	PARSE_OK(&o, "-4");
	ASSERT_EQ(o.filter.family, AF_INET);
	PARSE_OK(&o, "--ipv6");
	ASSERT_EQ(o.filter.family, AF_INET6);

	PARSE_OK(&o, "--state", "LISTEN,syn-sent", "--state=tcp_established");
	ASSERT_EQ(o.filter.states, 1u << ST_TCP_LISTEN | 1u << ST_TCP_SYN_SENT |
				   1u << ST_TCP_ESTABLISHED);
	ASSERT_FALSE(filter__is_empty(&o.filter));
}

TEST(opts_64_items_fit)
{
	struct opts o;
	char list[512], *p = list;

	for (int i = 1; i <= FILTER_MAX_ITEMS; i++)
		p += sprintf(p, "%s%d", i > 1 ? "," : "", i);
	PARSE_OK(&o, "-P", list);
	ASSERT_EQ(o.filter.n_ports, FILTER_MAX_ITEMS);
	PARSE_OK(&o, "-p", list);
	ASSERT_EQ(o.filter.n_pids, FILTER_MAX_ITEMS);
}

TEST(opts_output_and_run)
{
	struct opts o;

	PARSE_OK(&o, "-j", "--no-snapshot", "-v", "--probes");
	ASSERT_TRUE(o.json);
	ASSERT_FALSE(o.snapshot);
	ASSERT_TRUE(o.verbose);
	ASSERT_TRUE(o.probes);
	PARSE_OK(&o, "--json", "--verbose");
	ASSERT_TRUE(o.json);
	ASSERT_TRUE(o.snapshot);
	PARSE_OK(&o, "-h");
	ASSERT_TRUE(o.help);
	PARSE_OK(&o, "--help");
	ASSERT_TRUE(o.help);
	PARSE_OK(&o, "--version");
	ASSERT_TRUE(o.version);
	ASSERT_FALSE(o.help);

	PARSE_OK(&o, "-d", "2.5");
	ASSERT(o.duration == 2.5);
	PARSE_OK(&o, "--duration", "10");
	ASSERT(o.duration == 10);
	PARSE_OK(&o, "-d", "0.001");
	ASSERT(o.duration == 0.001);

	PARSE_OK(&o, "-c", "10");
	ASSERT_EQ_U64(o.count, 10);
	ASSERT_FALSE(o.numeric);
	PARSE_OK(&o, "--count", "18446744073709551615");
	ASSERT_EQ_U64(o.count, UINT64_MAX);
	PARSE_OK(&o, "-n");
	ASSERT_TRUE(o.numeric);
	ASSERT_EQ_U64(o.count, 0);
	PARSE_OK(&o, "--numeric", "-c3");
	ASSERT_TRUE(o.numeric);
	ASSERT_EQ_U64(o.count, 3);

	PARSE_OK(&o, "--btf", "/tmp/vmlinux.btf");
	ASSERT_STREQ(o.btf_path, "/tmp/vmlinux.btf");

	PARSE_OK(&o, "--ringbuf-kb", "64");
	ASSERT_EQ(o.ringbuf_kb, 64);
	PARSE_OK(&o, "--ringbuf-kb", "4");
	ASSERT_EQ(o.ringbuf_kb, 4);
	PARSE_OK(&o, "--ringbuf-kb=2097152");
	ASSERT_EQ(o.ringbuf_kb, 2097152);

	/* grouped short options */
	PARSE_OK(&o, "-j4v");
	ASSERT_TRUE(o.json);
	ASSERT_EQ(o.filter.family, AF_INET);
	ASSERT_TRUE(o.verbose);
	PARSE_OK(&o, "-jc5");
	ASSERT_EQ_U64(o.count, 5);
	PARSE_OK(&o, "-jnc", "7");
	ASSERT_TRUE(o.numeric);
	ASSERT_EQ_U64(o.count, 7);
}

TEST(opts_attempts)
{
	struct opts o;

	PARSE_OK(&o, "-q", "--connects");
	ASSERT_TRUE(o.quiet);
	ASSERT_TRUE(o.connects);
	PARSE_OK(&o, "--quiet", "-j");
	ASSERT_TRUE(o.quiet);
	ASSERT_FALSE(o.connects);
	PARSE_OK(&o, "--syn-alert", "1");
	ASSERT_EQ_U64(o.syn_alert_ms, 1);
	PARSE_OK(&o, "--syn-alert=86400000");
	ASSERT_EQ_U64(o.syn_alert_ms, 86400000);
	PARSE_OK(&o, "--syn-alert", "250", "--connects");
	ASSERT_EQ_U64(o.syn_alert_ms, 250);
}

TEST(opts_dns_cache)
{
	struct opts o;

	PARSE_OK(&o, "-j");
	ASSERT_EQ_U64(o.dns_cache, 8192);
	/* 0: no names and no DNS hook, as --help says */
	PARSE_OK(&o, "--dns-cache", "0");
	ASSERT_EQ_U64(o.dns_cache, 0);
	PARSE_OK(&o, "--dns-cache=4194304");
	ASSERT_EQ_U64(o.dns_cache, 4194304);
	PARSE_ERR("invalid DNS cache size '00': expected 0 to 4194304", "--dns-cache", "00");
	PARSE_ERR("invalid DNS cache size '-0': expected 0 to 4194304", "--dns-cache", "-0");
	PARSE_ERR("invalid DNS cache size '4194305': expected 0 to 4194304", "--dns-cache", "4194305");
}

TEST(opts_dns_queries)
{
	struct opts o;

	PARSE_OK(&o, "-j");
	ASSERT_FALSE(o.dns);
	ASSERT_EQ_U64(o.dns_timeout_ns, 5000000000ull);
	PARSE_OK(&o, "--dns", "--dns-timeout", "0.5");
	ASSERT_TRUE(o.dns);
	ASSERT_EQ_U64(o.dns_timeout_ns, 500000000ull);
	/* with names off the queries still have their answers */
	PARSE_OK(&o, "--dns", "--dns-cache", "0", "--connects");
	ASSERT_TRUE(o.dns && o.connects && !o.dns_cache);
	PARSE_ERR("--dns-timeout needs --dns", "--dns-timeout", "5");
	PARSE_ERR("invalid DNS timeout '0': expected seconds, more than 0 and at most 3600",
		  "--dns", "--dns-timeout", "0");
	PARSE_ERR("invalid DNS timeout '3601': expected seconds, more than 0 and at most 3600",
		  "--dns", "--dns-timeout", "3601");
	PARSE_ERR("-w - writes the recording to standard output, where --dns prints its table",
		  "--dns", "-q", "-w", "-");
}

TEST(opts_error_syn_alert)
{
	static const char *const bad[] = {
		"0", "-1", "abc", "", "1.5", "86400001", "18446744073709551616", "+5", "010",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "invalid alert threshold '%s': expected milliseconds, 1 to 86400000", bad[i]);
		PARSE_ERR(msg, "--syn-alert", bad[i]);
	}
	PARSE_ERR("option '--syn-alert' needs an argument", "--syn-alert");
}

TEST(opts_hooks)
{
	static const struct { const char *name; enum hook_kind kind; } hooks[] = {
		{ "auto", HOOK_AUTO }, { "tp_btf", HOOK_TP_BTF }, { "tracepoint", HOOK_TRACEPOINT },
		{ "fentry", HOOK_FENTRY }, { "kprobe", HOOK_KPROBE },
	};
	struct opts o;

	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		PARSE_OK(&o, "--hook", hooks[i].name);
		ASSERT_EQ(o.hook, hooks[i].kind);
		ASSERT_STREQ(hook_kind__name(hooks[i].kind), hooks[i].name);
		ASSERT_EQ(hook_kind__parse(hooks[i].name), hooks[i].kind);
	}
	ASSERT_STREQ(hook_kind__name(HOOK__MAX), "?");
	ASSERT_STREQ(hook_kind__name(-1), "?");
	ASSERT_EQ(hook_kind__parse("KPROBE"), -EINVAL);
	ASSERT_EQ(hook_kind__parse(""), -EINVAL);
}

TEST(opts_error_unknown_option)
{
	PARSE_ERR("unknown option '--bogus'", "--bogus");
	PARSE_ERR("unknown option '--bogus=1'", "-j", "--bogus=1");
	PARSE_ERR("unknown option '-x'", "-x");
	PARSE_ERR("unknown option '-x'", "-jx");
	PARSE_ERR("unknown option '-x'", "-4", "-x", "-j");
	/* after a positional argument that getopt moves to the end */
	PARSE_ERR("unknown option '--bogus'", "stray", "--bogus");
	/* ambiguous abbreviation: --verbose or --version */
	PARSE_ERR("option '--ver' is ambiguous: --verbose, --version", "--ver");
	PARSE_ERR("option '--p' is ambiguous: --pid, --pod, --port, --probes", "--p", "1");
	PARSE_ERR("option '--u' is ambiguous: --unit, --udp, --udp-idle, --udp-flows, --until, --user", "--u=1");
	PARSE_ERR("unknown option '--=1'", "--=1");
}

/* getopt reports a flag given a value through optopt, as if it were an
 * unknown short option: "unknown option '-j'" for --json=yes. */
TEST(opts_error_long_option_with_argument)
{
	PARSE_ERR("option '--json' does not take an argument", "--json=yes");
	PARSE_ERR("option '--json' does not take an argument", "--js=1");
	PARSE_ERR("option '--no-snapshot' does not take an argument", "-4", "--no-snapshot=");
	PARSE_ERR("option '--connects' does not take an argument", "--connects=1");
	PARSE_ERR("option '--verbose' does not take an argument", "--verb=x");
	PARSE_ERR("option '--help' does not take an argument", "--help=me");
}

TEST(opts_error_missing_argument)
{
	PARSE_ERR("option '-p' needs an argument", "-p");
	PARSE_ERR("option '-p' needs an argument", "-j", "-p");
	PARSE_ERR("option '--pid' needs an argument", "--pid");
	PARSE_ERR("option '--hook' needs an argument", "-4", "--hook");
	PARSE_ERR("option '-d' needs an argument", "-d");
	PARSE_ERR("option '--ringbuf-kb' needs an argument", "--ringbuf-kb");
	/* an abbreviation, and a short option at the end of a group */
	PARSE_ERR("option '--pid' needs an argument", "--pi");
	PARSE_ERR("option '--ringbuf-kb' needs an argument", "--ring");
	PARSE_ERR("option '-p' needs an argument", "-jp");
	PARSE_ERR("option '-c' needs an argument", "-4jc");
}

TEST(opts_error_pids)
{
	char list[512], *p = list;

	PARSE_ERR("invalid pid list '1,,2': expected PID[,PID...]", "-p", "1,,2");
	PARSE_ERR("invalid pid list '0': expected PID[,PID...]", "-p", "0");
	PARSE_ERR("invalid pid list 'abc': expected PID[,PID...]", "-p", "abc");
	PARSE_ERR("invalid pid list '': expected PID[,PID...]", "-p", "");
	PARSE_ERR("invalid pid list '1,': expected PID[,PID...]", "-p", "1,");
	PARSE_ERR("invalid pid list ',1': expected PID[,PID...]", "-p", ",1");
	PARSE_ERR("invalid pid list '-1': expected PID[,PID...]", "-p", "-1");
	PARSE_ERR("invalid pid list '+1': expected PID[,PID...]", "-p", "+1");
	PARSE_ERR("invalid pid list ' 1': expected PID[,PID...]", "-p", " 1");
	PARSE_ERR("invalid pid list '1x': expected PID[,PID...]", "-p", "1x");
	PARSE_ERR("invalid pid list '2147483648': expected PID[,PID...]", "-p", "2147483648");
	PARSE_ERR("invalid pid list '99999999999999999999999': expected PID[,PID...]",
		  "-p", "99999999999999999999999");
	for (int i = 1; i <= FILTER_MAX_ITEMS + 1; i++)
		p += sprintf(p, "%s%d", i > 1 ? "," : "", i);
	PARSE_ERR("too many pids (at most 64)", "-p", list);
}

TEST(opts_error_ports)
{
	char list[512], *p = list;

	PARSE_ERR("invalid port list '0': expected PORT[,PORT...] with ports 1-65535", "-P", "0");
	PARSE_ERR("invalid port list '65536': expected PORT[,PORT...] with ports 1-65535",
		  "-P", "65536");
	PARSE_ERR("invalid port list '22,,80': expected PORT[,PORT...] with ports 1-65535",
		  "--port", "22,,80");
	PARSE_ERR("invalid port list 'http': expected PORT[,PORT...] with ports 1-65535",
		  "-P", "http");
	for (int i = 1; i <= FILTER_MAX_ITEMS + 1; i++)
		p += sprintf(p, "%s%d", i > 1 ? "," : "", i);
	PARSE_ERR("too many ports (at most 64)", "-P", list);
	/* the limit holds across several options too */
	PARSE_ERR("too many ports (at most 64)", "-P", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,"
		  "17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32", "-P",
		  "33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,"
		  "59,60,61,62,63,64,65");
}

TEST(opts_error_comm)
{
	PARSE_ERR("invalid command name 'abcdefghijklmnop': 1 to 15 characters",
		  "--comm", "abcdefghijklmnop");
	PARSE_ERR("invalid command name '': 1 to 15 characters", "--comm", "");
}

TEST(opts_error_family)
{
	PARSE_ERR("-4 and -6 exclude each other", "-4", "-6");
	PARSE_ERR("-4 and -6 exclude each other", "-6", "-4");
	PARSE_ERR("-4 and -6 exclude each other", "--ipv4", "--ipv6");
	PARSE_ERR("-4 and -6 exclude each other", "-46");
}

/* Saying the same family twice is not a conflict. */
TEST(opts_repeated_family_is_not_a_conflict)
{
	struct opts o;

	PARSE_OK(&o, "-4", "-4");
	ASSERT_EQ(o.filter.family, AF_INET);
	PARSE_OK(&o, "-6", "--ipv6");
	ASSERT_EQ(o.filter.family, AF_INET6);
}

TEST(opts_error_state)
{
	PARSE_ERR("invalid state list 'bogus': expected names such as LISTEN,SYN_SENT,ESTABLISHED",
		  "--state", "bogus");
	PARSE_ERR("invalid state list 'LISTEN,,CLOSE': expected names such as LISTEN,SYN_SENT,ESTABLISHED",
		  "--state", "LISTEN,,CLOSE");
	PARSE_ERR("invalid state list 'LISTEN,UNKNOWN': expected names such as LISTEN,SYN_SENT,ESTABLISHED",
		  "--state", "LISTEN,UNKNOWN");
}

TEST(opts_error_duration)
{
	static const char *const bad[] = {
		"0", "-1", "abc", "", "1x", "-0", "inf", "nan", "1e999", "0.0",
		/* in ns, beyond a u64: the deadline would wrap and stop at once */
		"2e10", "31536000.5", "1e300",
	};
	struct opts o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "invalid duration '%s': expected seconds, more than 0 and at most 31536000", bad[i]);
		PARSE_ERR(msg, "-d", bad[i]);
	}
	PARSE_OK(&o, "-d", "31536000");
	ASSERT(o.duration == 31536000);
}

TEST(opts_error_count)
{
	static const char *const bad[] = {
		"0", "-1", "abc", "", "5x", "+5", " 5", "18446744073709551616", "00",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "invalid count '%s': expected an integer from 1 to 18446744073709551615", bad[i]);
		PARSE_ERR(msg, "--count", bad[i]);
		/* what starts as a number (or is empty) is a count, also after -c */
		if (!bad[i][0] || strchr("0123456789+-. ", bad[i][0]))
			PARSE_ERR(msg, "-c", bad[i]);
	}
	/* --count always was the count: a name there is a bad count */
	PARSE_ERR("invalid count 'sshd': expected an integer from 1 to 18446744073709551615",
		  "--count", "sshd");
	PARSE_ERR("option '--numeric' does not take an argument", "--numeric=5");
}

TEST(opts_error_hook)
{
	PARSE_ERR("invalid hook 'bogus': expected auto, tp_btf, tracepoint, fentry or kprobe",
		  "--hook", "bogus");
	PARSE_ERR("invalid hook '': expected auto, tp_btf, tracepoint, fentry or kprobe",
		  "--hook", "");
}

TEST(opts_error_ringbuf)
{
	static const char *const bad[] = {
		"3", "1000", "0", "2", "1", "8388608", "4096x", "", "-4", "18446744073709551616", "064",
		/* 4 GiB: the kernel's size is a u32 of bytes */
		"4194304",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "invalid ring buffer size '%s': expected a power of two from 4 to 2097152 KiB",
			 bad[i]);
		PARSE_ERR(msg, "--ringbuf-kb", bad[i]);
	}
}

/* Trailing arguments are a filter expression (branch record): joined by
 * spaces, wherever getopt found them; a bad one names its column. */
#define EXPR_ERR(text, col, got, ...)					\
	PARSE_ERR("invalid filter expression '" text "': column " col	\
		  ": expected a primitive (tcp, udp, ip, ip6, host, net, port, portrange, "	\
		  "src, dst, state, pid, comm, cgroup, unit, container, pod, retrans, rtt, bytes, tx, rx, duration, ended), 'not' or '(', got '" got "'", __VA_ARGS__)

TEST(opts_positional_expression)
{
	struct opts o;

	EXPR_ERR("foo", "1", "foo", "foo");
	EXPR_ERR("foo", "1", "foo", "-j", "foo");
	EXPR_ERR("foo", "1", "foo", "foo", "-j");
	EXPR_ERR("foo", "1", "foo", "-j", "--", "foo");
	EXPR_ERR("-j", "1", "-j", "--", "-j");
	/* a bare value after and/or repeats the last primitive, here port */
	PARSE_ERR("invalid filter expression 'port 80 and bar': column 13: expected a port "
		  "number or service name, got 'bar'", "port", "80", "-j", "and", "bar");
	PARSE_OK(&o, "port", "80", "-j", "and", "not", "host 10.0.0.1");
	ASSERT_TRUE(o.json);
	ASSERT_STREQ(o.filter_text, "port 80 and not host 10.0.0.1");
	ASSERT_NOT_NULL(o.filter.expr);
	opts__free(&o);
}

/* -c and -n swapped to follow tcpdump (and ss -n): the old spellings "-c
 * NAME" and "-n COUNT" are errors that say what to write now, not a count
 * of a process name or a filter for a process called "10". */
TEST(opts_old_spelling_errors)
{
	struct opts o;

	PARSE_ERR("-c is now the count (as tcpdump's); use --comm sshd", "-c", "sshd");
	PARSE_ERR("-c is now the count (as tcpdump's); use --comm sshd", "-jcsshd");
	PARSE_ERR("-c is now the count (as tcpdump's); use --comm st-fc_a.1", "-c", "st-fc_a.1");
	PARSE_ERR("-c is now the count (as tcpdump's); use --comm 'Web Content'",
		  "-c", "Web Content");
	PARSE_ERR("-c is now the count (as tcpdump's); use --comm 'it'\\''s'", "-c", "it's");
	PARSE_ERR("-c is now the count (as tcpdump's); use --comm 'a*'", "-c", "a*");

	/* -n takes nothing: the count goes to the expression, which fails */
	PARSE_ERR("-n no longer takes a count: use -c 5", "-n", "5");
	PARSE_ERR("-n no longer takes a count: use -c 5", "-j", "-n", "5", "-P", "80");
	PARSE_ERR("-n no longer takes a count: use -c 10", "-n", "10", "port", "80");
	PARSE_ERR("-n no longer takes a count: use -c 4", "-jn", "4");
	PARSE_ERR("-n no longer takes a count: use -c 5", "port", "80", "-n", "5");
	/* glued: no option is a digit but -4 and -6 */
	PARSE_ERR("-n no longer takes a count: use -c 5", "-n5");
	PARSE_ERR("-n no longer takes a count: use -c 10", "-jn10");
	PARSE_ERR("-n no longer takes a count: use -c 46", "-n46");
	PARSE_OK(&o, "-n4");
	ASSERT_TRUE(o.numeric);
	ASSERT_EQ(o.filter.family, AF_INET);
	PARSE_OK(&o, "-tn6");
	ASSERT_TRUE(o.numeric);
	ASSERT_EQ(o.filter.family, AF_INET6);

	/* a number after -n that the expression takes is no old count */
	PARSE_OK(&o, "port", "-n", "80");
	ASSERT_TRUE(o.numeric);
	ASSERT_STREQ(o.filter_text, "port 80");
	opts__free(&o);
	/* nor is one that did not follow -n, or followed --numeric */
	EXPR_ERR("5", "1", "5", "-n", "-j", "5");
	EXPR_ERR("5", "1", "5", "--numeric", "5");
	/* nor "-n5" as the value of an option ("-w-n5" is a file name) */
	PARSE_OK(&o, "-w-n5", "-q");
	ASSERT_STREQ(o.write_path, "-n5");
	ASSERT_FALSE(o.numeric);
	PARSE_OK(&o, "-n", "-w-n5", "-q");
	ASSERT_TRUE(o.numeric);
	ASSERT_STREQ(o.write_path, "-n5");
}

TEST(opts_parse_twice)
{
	struct opts o;
	char err[256];

	/* an error in the middle of a group leaves getopt inside "-xj" */
	ASSERT_EQ(parse(&o, err, sizeof(err), "-xj", NULL), -EINVAL);
	ASSERT_STREQ(err, "unknown option '-x'");
	PARSE_OK(&o, "-4");
	ASSERT_FALSE(o.json);
	ASSERT_EQ(o.filter.family, AF_INET);

	ASSERT_EQ(parse(&o, err, sizeof(err), "-p", NULL), -EINVAL);
	PARSE_OK(&o, "-p", "5");
	ASSERT_EQ(o.filter.n_pids, 1);

	PARSE_OK(&o, "-j", "-P", "22");
	ASSERT_TRUE(o.json);
	PARSE_OK(&o, "-P", "80");
	ASSERT_FALSE(o.json);
	ASSERT_EQ(o.filter.n_ports, 1);
	ASSERT_EQ(o.filter.ports[0], 80);

	/* and a parse with no options after one that had some */
	ASSERT_EQ(parse(&o, err, sizeof(err), NULL), 0);
	ASSERT_TRUE(filter__is_empty(&o.filter));
}

TEST(opts_error_message_is_truncated_safely)
{
	struct opts o;
	char *err = malloc(16);
	char argv0[] = "socktrace", a1[] = "--hook", a2[] = "a-very-long-and-wrong-hook-name";
	char *argv[] = { argv0, a1, a2, NULL };

	ASSERT_NOT_NULL(err);
	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 3, argv, err, 16), -EINVAL);
	ASSERT_STREQ(err, "invalid hook 'a");
	free(err);
}

TEST(opts_usage_mentions_every_option)
{
	struct memfile *m = memfile_new();
	const char *out;
	static const char *const opts[] = {
		"--pid", "--comm", "--port", "--ipv4", "--ipv6", "--state", "--json",
		"--no-snapshot", "--duration", "--count", "--hook", "--probes", "--btf",
		"--quiet", "--connects", "--syn-alert", "--numeric",
		"--ringbuf-kb", "--verbose", "--help", "--version",
	};

	opts__usage(m->f);
	out = memfile_str(m, NULL);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		ASSERT_MSG(strstr(out, opts[i]), "usage does not mention %s", opts[i]);
}

TEST(opts_udp)
{
	struct opts o;

	PARSE_OK(&o, "-u");
	ASSERT_EQ(o.filter.protos, FILTER_PROTO_UDP);
	ASSERT_EQ_U64(o.udp_idle_ns, 10000000000ull);
	ASSERT_EQ_U64(o.interval_ns, 0);
	ASSERT_EQ(o.udp_flows, 16384);
	PARSE_OK(&o, "--tcp");
	ASSERT_EQ(o.filter.protos, FILTER_PROTO_TCP);
	PARSE_OK(&o, "-t", "-u");	/* both, as without either */
	ASSERT_EQ(o.filter.protos, FILTER_PROTO_TCP | FILTER_PROTO_UDP);
	PARSE_OK(&o, "--udp-idle", "0.5", "--interval", "2", "--udp-flows", "100000");
	ASSERT_EQ_U64(o.udp_idle_ns, 500000000ull);
	ASSERT_EQ_U64(o.interval_ns, 2000000000ull);
	ASSERT_EQ(o.udp_flows, 100000);

	PARSE_ERR("invalid idle timeout '0': expected seconds, more than 0 and at most 86400",
		  "--udp-idle", "0");
	PARSE_ERR("invalid idle timeout '1s': expected seconds, more than 0 and at most 86400",
		  "--udp-idle", "1s");
	PARSE_ERR("invalid interval '0.05': expected seconds, 0.1 to 86400", "--interval", "0.05");
	PARSE_ERR("invalid interval 'nan': expected seconds, 0.1 to 86400", "--interval", "nan");
	PARSE_ERR("invalid flow table size '8': expected 16 to 4194304", "--udp-flows", "8");
	PARSE_ERR("invalid flow table size '-5': expected 16 to 4194304", "--udp-flows", "-5");
	PARSE_ERR("option '--udp-idle' needs an argument", "--udp-idle");
}

/* "-p $(pidof nginx)": the shell splits the pids into words. */
TEST(opts_pid_words)
{
	struct opts o;

	PARSE_OK(&o, "-p", "1", "2", "3", "port 80");
	ASSERT_EQ(o.filter.n_pids, 3);
	ASSERT_EQ(o.filter.pids[0], 1);
	ASSERT_EQ(o.filter.pids[1], 2);
	ASSERT_EQ(o.filter.pids[2], 3);
	ASSERT_STREQ(o.filter_text, "port 80");
	opts__free(&o);
	PARSE_OK(&o, "-p", "1", "2", "3", "port", "80");
	ASSERT_EQ(o.filter.n_pids, 3);
	ASSERT_STREQ(o.filter_text, "port 80");
	opts__free(&o);
	PARSE_OK(&o, "--pid=1", "2");
	ASSERT_EQ(o.filter.n_pids, 2);
	ASSERT_EQ(o.filter.pids[1], 2);
	ASSERT_NULL(o.filter_text);
	PARSE_OK(&o, "-p1", "2", "-j");
	ASSERT_EQ(o.filter.n_pids, 2);
	ASSERT_EQ(o.filter.pids[1], 2);
	PARSE_OK(&o, "-jp", "4", "5");
	ASSERT_TRUE(o.json);
	ASSERT_EQ(o.filter.n_pids, 2);
	ASSERT_EQ(o.filter.pids[1], 5);
	PARSE_OK(&o, "--pid", "6,7", "8", "--pi", "9", "10");
	ASSERT_EQ(o.filter.n_pids, 5);
	ASSERT_EQ(o.filter.pids[4], 10);
	/* what other options keep still points at their own words */
	PARSE_OK(&o, "--btf", "/x.btf", "-p", "11", "12", "-w", "a.st", "--comm", "13");
	ASSERT_EQ(o.filter.n_pids, 2);
	ASSERT_STREQ(o.btf_path, "/x.btf");
	ASSERT_STREQ(o.write_path, "a.st");
	ASSERT_STREQ(o.filter.comm, "13");
	/* only right after a pid list, and not after "--" */
	PARSE_ERR("invalid filter expression '2': column 1: expected a primitive (tcp, udp, ip, "
		  "ip6, host, net, port, portrange, src, dst, state, pid, comm, cgroup, unit, container, pod, retrans, rtt, bytes, tx, rx, duration, ended), 'not' or '(', "
		  "got '2'", "-p", "1", "-j", "2");
	PARSE_ERR("invalid filter expression '2': column 1: expected a primitive (tcp, udp, ip, "
		  "ip6, host, net, port, portrange, src, dst, state, pid, comm, cgroup, unit, container, pod, retrans, rtt, bytes, tx, rx, duration, ended), 'not' or '(', "
		  "got '2'", "--comm", "x", "2");
	PARSE_ERR("invalid filter expression '2': column 1: expected a primitive (tcp, udp, ip, "
		  "ip6, host, net, port, portrange, src, dst, state, pid, comm, cgroup, unit, container, pod, retrans, rtt, bytes, tx, rx, duration, ended), 'not' or '(', "
		  "got '2'", "-p", "1", "--", "2");
	PARSE_ERR("invalid pid list '1,0': expected PID[,PID...]", "-p", "1", "0");
	PARSE_ERR("option '-p' needs an argument", "-p");
}

TEST(opts_time_bounds)
{
	static const char *const no_such_date[] = {
		"2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
		"2026-01-01T24:00:00Z",
	};
	static const char *const out_of_range[] = {
		"1e12", "2e10", "1000000001", "1969-12-31T23:59:59Z", "2500-01-01T00:00:00Z",
		"1970-01-01T00:30:00+01:00",
	};
	struct time_bound tb;
	struct opts o;

	for (size_t i = 0; i < sizeof(no_such_date) / sizeof(no_such_date[0]); i++) {
		char msg[200];

		ASSERT_EQ(time_bound__parse(no_such_date[i], &tb), -EINVAL);
		snprintf(msg, sizeof(msg), "invalid time '%s': expected RFC 3339 (2026-11-27T17:42:06Z) "
			 "with a date that exists, or seconds after the first event", no_such_date[i]);
		PARSE_ERR(msg, "-r", "x", "--since", no_such_date[i]);
	}
	for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
		char msg[200];

		ASSERT_EQ(time_bound__parse(out_of_range[i], &tb), -ERANGE);
		snprintf(msg, sizeof(msg), "invalid time '%s': out of range: RFC 3339 times from 1970 "
			 "to 2499, relative times at most 1000000000 seconds", out_of_range[i]);
		PARSE_ERR(msg, "-r", "x", "--until", out_of_range[i]);
	}
	ASSERT_EQ(time_bound__parse("2024-02-29T00:00:00Z", &tb), 0);
	ASSERT_EQ_U64(tb.ns, 1709164800ull * 1000000000ull);
	ASSERT_EQ(time_bound__parse("2000-02-29T12:00:00Z", &tb), 0);
	ASSERT_EQ(time_bound__parse("2499-12-31T23:59:59.999999999Z", &tb), 0);
	ASSERT_EQ_U64(tb.ns, 16725225599999999999ull);
	ASSERT_EQ(time_bound__parse("1000000000", &tb), 0);
	ASSERT_TRUE(tb.relative);
	ASSERT_EQ_U64(tb.ns, 1000000000ull * 1000000000ull);

	/* an empty window, when both bounds are of one kind */
	PARSE_ERR("--since 2026-11-27T18:00:00Z is not before --until 2026-11-27T17:00:00Z: "
		  "nothing would be replayed", "-r", "x", "--since", "2026-11-27T18:00:00Z",
		  "--until", "2026-11-27T17:00:00Z");
	PARSE_ERR("--since 2026-11-27T18:00:00+01:00 is not before --until 2026-11-27T17:00:00Z: "
		  "nothing would be replayed", "-r", "x", "--since", "2026-11-27T18:00:00+01:00",
		  "--until", "2026-11-27T17:00:00Z");
	PARSE_ERR("--since 60 is not before --until 30: nothing would be replayed",
		  "-r", "x", "--until", "30", "--since", "60");
	PARSE_ERR("--since 5 is not before --until 5.0: nothing would be replayed",
		  "-r", "x", "--since", "5", "--until", "5.0");
	PARSE_OK(&o, "-r", "x", "--since", "2026-11-27T17:00:00Z", "--until", "2026-11-27T17:00:00.001Z");
	/* one of each: known only once the first event is read */
	PARSE_OK(&o, "-r", "x", "--since", "2026-11-27T17:00:00Z", "--until", "60");
	PARSE_OK(&o, "-r", "x", "--since", "60", "--until", "2026-11-27T17:00:00Z");
}

/* Every numeric option names its bound, beyond which later arithmetic
 * would overflow. */
TEST(opts_numeric_bounds)
{
	struct opts o;

	PARSE_ERR("invalid file count '1000001': expected 1 to 1000000", "-w", "x", "-C", "1", "-W",
		  "1000001");
	PARSE_OK(&o, "-w", "x", "-C", "1", "-W", "1000000");
	ASSERT_EQ(o.rotate_count, 1000000);
	PARSE_ERR("invalid rotation interval '1000000001': expected seconds, 1 to 1000000000",
		  "-w", "x", "-G", "1000000001");
	PARSE_ERR("invalid rotation interval '0': expected seconds, 1 to 1000000000", "-w", "x",
		  "-G", "0");
	PARSE_ERR("invalid file size '1e10': expected megabytes, more than 0 and at most 1000000000",
		  "-w", "x", "-C", "1e10");
	PARSE_ERR("invalid flow table size '4194305': expected 16 to 4194304", "--udp-flows",
		  "4194305");
	PARSE_ERR("invalid idle timeout '86401': expected seconds, more than 0 and at most 86400",
		  "--udp-idle", "86401");
	PARSE_ERR("invalid interval '1e300': expected seconds, 0.1 to 86400", "--interval", "1e300");
}

/* main() returns at once on a usage error: a failed parse must not leave
 * the expression's text or tree behind (LeakSanitizer found 9 bytes, the
 * text of "port foo"). */
TEST(opts_failed_parse_keeps_nothing)
{
	static const char *const cases[][4] = {
		{ "port", "foo" },
		{ "port", "80", "-C", "1" },	/* the expression parses, an option check fails */
		{ "-p", "1", "2", "(" },
	};
	struct opts o;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(parse(&o, err, sizeof(err), cases[i][0], cases[i][1], cases[i][2],
				cases[i][3], NULL), -EINVAL);
		ASSERT_NULL(o.filter_text);
		ASSERT_NULL(o.filter.expr);
		ASSERT_NULL(o.filter.expr_text);
	}
}

/* An expression too long for a message is quoted in part: the reason
 * still shows. */
TEST(opts_long_expression_error_keeps_the_reason)
{
	char *text = malloc(40000), err[256];
	char argv0[] = "socktrace", *argv[] = { argv0, text, NULL };
	struct opts o;

	ASSERT_NOT_NULL(text);
	memset(text, '(', 30000);
	strcpy(text + 30000, "port 80");
	opts__init(&o);
	ASSERT_EQ(opts__parse(&o, 2, argv, err, sizeof(err)), -EINVAL);
	free(text);
	ASSERT_MSG(strstr(err, "nested too deeply") != NULL, "error: %s", err);
	ASSERT_MSG(strlen(err) < 200, "error: %s", err);
}
