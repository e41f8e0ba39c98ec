// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "opts.h"

static const char *const hook_names[HOOK__MAX] = {
	[HOOK_AUTO] = "auto",
	[HOOK_TP_BTF] = "tp_btf",
	[HOOK_TRACEPOINT] = "tracepoint",
	[HOOK_FENTRY] = "fentry",
	[HOOK_KPROBE] = "kprobe",
};

enum {
	OPT_HOOK = 0x100,
	OPT_PROBES,
	OPT_NO_SNAPSHOT,
	OPT_STATE,
	OPT_BTF,
	OPT_RINGBUF,
	OPT_VERSION,
	OPT_CONNECTS,
	OPT_SYN_ALERT,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, 'c' },
	{ "port", required_argument, NULL, 'P' },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "no-snapshot", no_argument, NULL, OPT_NO_SNAPSHOT },
	{ "connects", no_argument, NULL, OPT_CONNECTS },
	{ "syn-alert", required_argument, NULL, OPT_SYN_ALERT },
	{ "hook", required_argument, NULL, OPT_HOOK },
	{ "probes", no_argument, NULL, OPT_PROBES },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "ringbuf-kb", required_argument, NULL, OPT_RINGBUF },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{},
};

void opts__usage(FILE *out)
{
	fprintf(out,
"Usage: socktrace [OPTIONS]\n"
"Trace TCP connections live: state transitions with the owning process.\n"
"\n"
"Filters (combined with AND):\n"
"  -p, --pid PID[,PID]       only sockets owned by these processes\n"
"  -c, --comm COMM           only sockets owned by a process of this name\n"
"  -P, --port PORT[,PORT]    only sockets with this local or remote port\n"
"  -4, --ipv4                only IPv4 sockets\n"
"  -6, --ipv6                only IPv6 sockets\n"
"      --state STATE[,...]   only transitions from or to these states\n"
"                            (LISTEN, SYN_SENT, ESTABLISHED, CLOSE, ...)\n"
"Output:\n"
"  -j, --json                one JSON object per line, then a summary line\n"
"  -q, --quiet               no output per event: count them, print the summary\n"
"      --no-snapshot         do not list the sockets that already exist\n"
"      --connects            connection attempts and their outcomes only, and\n"
"                            a per-destination table at exit\n"
"      --syn-alert MS        alert when an attempt stays in SYN_SENT this long\n"
"                            (default 1000), again at each SYN retransmit\n"
"Run:\n"
"  -d, --duration SECONDS    stop after this long\n"
"  -n, --count N             stop after N events\n"
"      --hook KIND           force a hook variant where a concern has one:\n"
"                            auto, tp_btf, tracepoint, fentry, kprobe\n"
"      --probes              print the hook variants this kernel supports\n"
"      --btf FILE            kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
"      --ringbuf-kb KB       ring buffer size (default 4096, a power of two)\n"
"  -v, --verbose             print libbpf debug messages\n"
"  -h, --help                show this help\n"
"      --version             print the version\n"
"\n"
"Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

const char *hook_kind__name(enum hook_kind h)
{
	return h >= 0 && h < HOOK__MAX ? hook_names[h] : "?";
}

int hook_kind__parse(const char *s)
{
	for (int h = 0; h < HOOK__MAX; h++)
		if (!strcmp(s, hook_names[h]))
			return h;
	return -EINVAL;
}

void opts__init(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->snapshot = true;
	o->ringbuf_kb = 4096;
	o->syn_alert_ms = 1000;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int opts__parse(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	char *end;
	int c, r;

	optind = 0;	/* full re-initialisation, so parsing can run twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:c:P:46d:n:jqvh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			r = filter__add_pids(&o->filter, optarg);
			if (r == -E2BIG)
				return fail(err, errlen, "too many pids (at most %d)", FILTER_MAX_ITEMS);
			if (r)
				return fail(err, errlen, "invalid pid list '%s': expected PID[,PID...]", optarg);
			break;
		case 'c':
			if (filter__set_comm(&o->filter, optarg))
				return fail(err, errlen, "invalid command name '%s': 1 to %d characters",
					    optarg, TASK_COMM_LEN - 1);
			break;
		case 'P':
			r = filter__add_ports(&o->filter, optarg);
			if (r == -E2BIG)
				return fail(err, errlen, "too many ports (at most %d)", FILTER_MAX_ITEMS);
			if (r)
				return fail(err, errlen, "invalid port list '%s': expected PORT[,PORT...] with ports 1-65535",
					    optarg);
			break;
		case '4':
		case '6':
			if (o->filter.family && o->filter.family != (c == '4' ? AF_INET : AF_INET6))
				return fail(err, errlen, "-4 and -6 exclude each other");
			o->filter.family = c == '4' ? AF_INET : AF_INET6;
			break;
		case OPT_STATE:
			if (filter__add_states(&o->filter, optarg))
				return fail(err, errlen, "invalid state list '%s': expected names such as LISTEN,SYN_SENT,ESTABLISHED",
					    optarg);
			break;
		case 'd':
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || *end || end == optarg || !isfinite(o->duration) || o->duration <= 0)
				return fail(err, errlen, "invalid duration '%s': expected a positive number of seconds",
					    optarg);
			break;
		case 'n':
			errno = 0;
			o->count = strtoull(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' || optarg[0] > '9')
				return fail(err, errlen, "invalid count '%s': expected a positive integer", optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_NO_SNAPSHOT:
			o->snapshot = false;
			break;
		case OPT_CONNECTS:
			o->connects = true;
			break;
		case OPT_SYN_ALERT:
			errno = 0;
			o->syn_alert_ms = strtoull(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' || optarg[0] > '9' ||
			    o->syn_alert_ms > 86400000)
				return fail(err, errlen, "invalid alert threshold '%s': expected milliseconds, 1 to 86400000",
					    optarg);
			break;
		case OPT_HOOK:
			r = hook_kind__parse(optarg);
			if (r < 0)
				return fail(err, errlen, "invalid hook '%s': expected auto, tp_btf, tracepoint, fentry or kprobe",
					    optarg);
			o->hook = r;
			break;
		case OPT_PROBES:
			o->probes = true;
			break;
		case OPT_BTF:
			o->btf_path = optarg;
			break;
		case OPT_RINGBUF: {
			unsigned long kb;

			errno = 0;
			kb = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' || optarg[0] > '9' ||
			    kb < 4 || kb > (1ul << 22) || (kb & (kb - 1)))
				return fail(err, errlen, "invalid ring buffer size '%s': expected a power of two from 4 to 4194304 KiB",
					    optarg);
			o->ringbuf_kb = kb;
			break;
		}
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			o->help = true;
			break;
		case OPT_VERSION:
			o->version = true;
			break;
		case ':':
			return fail(err, errlen, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	return 0;
}
