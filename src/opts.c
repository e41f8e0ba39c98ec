// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "opts.h"

static const char *const hook_names[HOOK__MAX] = {
	[HOOK_AUTO] = "auto",
	[HOOK_TP_BTF] = "tp_btf",
	[HOOK_TRACEPOINT] = "tracepoint",
	[HOOK_FENTRY] = "fentry",
	[HOOK_KPROBE] = "kprobe",
	[HOOK_CGROUP] = "cgroup",
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
	OPT_SINCE,
	OPT_UNTIL,
	OPT_INFO,
	OPT_UDP_IDLE,
	OPT_INTERVAL,
	OPT_UDP_FLOWS,
	OPT_FILE_MODE,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, 'c' },
	{ "port", required_argument, NULL, 'P' },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "tcp", no_argument, NULL, 't' },
	{ "udp", no_argument, NULL, 'u' },
	{ "udp-idle", required_argument, NULL, OPT_UDP_IDLE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "udp-flows", required_argument, NULL, OPT_UDP_FLOWS },
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
	{ "write", required_argument, NULL, 'w' },
	{ "read", required_argument, NULL, 'r' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "info", required_argument, NULL, OPT_INFO },
	{ "file-mode", required_argument, NULL, OPT_FILE_MODE },
	{ "user", required_argument, NULL, 'Z' },
	{},
};

/* Options that change only how the kernel side runs or what live tracing
 * does over time: with -r they would be silently ignored. */
static const struct {
	int opt;
	const char *name;
} live_only_opts[] = {
	{ OPT_HOOK, "--hook" },
	{ OPT_BTF, "--btf" },
	{ OPT_RINGBUF, "--ringbuf-kb" },
	{ OPT_PROBES, "--probes" },
	{ OPT_UDP_FLOWS, "--udp-flows" },
	{ OPT_UDP_IDLE, "--udp-idle" },
	{ OPT_INTERVAL, "--interval" },
	{ OPT_NO_SNAPSHOT, "--no-snapshot" },
	{ OPT_SYN_ALERT, "--syn-alert" },
	{ 'd', "-d/--duration" },
	{ 'Z', "-Z/--user" },
};

static const char *live_only_name(int opt)
{
	for (size_t i = 0; i < sizeof(live_only_opts) / sizeof(live_only_opts[0]); i++)
		if (live_only_opts[i].opt == opt)
			return live_only_opts[i].name;
	return NULL;
}

void opts__usage(FILE *out)
{
	fprintf(out,
"Usage: socktrace [OPTIONS] [EXPRESSION]\n"
"       socktrace -r FILE [-r FILE...] [OPTIONS] [EXPRESSION]\n"
"       socktrace --info FILE\n"
"Trace TCP connections and UDP flows live, with the owning process:\n"
"TCP state transitions, UDP flows with their datagram and byte counts.\n"
"\n"
"EXPRESSION selects events as pcap-filter does (see README.md):\n"
"  tcp, udp, ip, ip6, [src|dst] host ADDR, [src|dst] net CIDR,\n"
"  [src|dst] port N, [src|dst] portrange A-B, state NAME, pid N, comm NAME,\n"
"  combined with not/!, and/&&, or/|| and parentheses; src is the local\n"
"  side, dst the remote side.\n"
"\n"
"Filters (combined with AND, and with the expression):\n"
"  -p, --pid PID[,PID]       only sockets owned by these processes\n"
"  -c, --comm COMM           only sockets owned by a process of this name\n"
"  -P, --port PORT[,PORT]    only sockets with this local or remote port\n"
"  -4, --ipv4                only IPv4 sockets\n"
"  -6, --ipv6                only IPv6 sockets\n"
"  -t, --tcp                 only TCP (with -u: both, the default)\n"
"  -u, --udp                 only UDP\n"
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
"UDP flows (one per socket, peer and process):\n"
"      --udp-idle SECONDS    a flow without datagrams this long ends (default 10)\n"
"      --interval SECONDS    report the counts of active flows this often\n"
"      --udp-flows N         flows the kernel counts at once (default 16384);\n"
"                            datagrams beyond are counted as uncounted\n"
"Record and replay:\n"
"  -w, --write FILE          record the events that pass the filters to FILE\n"
"                            (with -q: record only); docs/recording.md;\n"
"                            -w - -q writes the recording to stdout\n"
"  -C MB                     start a new file once one reaches MB megabytes\n"
"                            (FILE, FILE1, FILE2, ...)\n"
"  -G SECONDS                start a new file every SECONDS; FILE is an\n"
"                            strftime pattern such as trace-%%Y%%m%%d-%%H%%M%%S.st\n"
"  -W COUNT                  with -C or -G: keep only the last COUNT files\n"
"                            (with -C they are FILE0 .. FILE<COUNT-1>, reused)\n"
"      --file-mode MODE      create recordings with this octal mode, less the\n"
"                            umask (default 0600: they hold connection data)\n"
"  -r, --read FILE           replay a recording instead of tracing (no root\n"
"                            needed); several are merged in time order; -r -\n"
"                            reads stdin\n"
"      --since TIME          replay events at or after TIME: RFC 3339\n"
"                            (2026-11-27T17:42:06Z) or seconds after the first\n"
"      --until TIME          replay events before TIME (same forms)\n"
"      --info FILE           describe a recording: host, span, counts, state\n"
"Run:\n"
"  -d, --duration SECONDS    stop after this long\n"
"  -n, --count N             stop after N events\n"
"      --hook KIND           force a hook variant where a concern has one:\n"
"                            auto, tp_btf, tracepoint, fentry, kprobe\n"
"      --probes              print the hook variants this kernel supports\n"
"      --btf FILE            kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
"      --ringbuf-kb KB       ring buffer size (default 8192, a power of two)\n"
"  -Z, --user USER           once attached, run as USER (as tcpdump -Z); with\n"
"                            -C/-G, USER must be able to create files there\n"
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
	o->ringbuf_kb = 8192;
	o->syn_alert_ms = 1000;
	o->udp_idle_ns = 10000000000ull;
	o->udp_flows = 16384;
}

/* A number of seconds in (0, max], as nanoseconds. */
static int parse_seconds(const char *s, double max, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !isfinite(v) || v <= 0 || v > max)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e9);
	return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* What replay and "-" (stdin, stdout) allow. */
static int check_files(const struct opts *o, char *err, size_t errlen)
{
	bool w_stdout = o->write_path && !strcmp(o->write_path, "-");
	int stdin_reads = 0;

	if (o->n_reads && o->live_only)
		return fail(err, errlen, "%s applies to live tracing only: it has no effect with -r",
			    o->live_only);
	for (int i = 0; i < o->n_reads; i++)
		stdin_reads += !strcmp(o->read_paths[i], "-");
	if (stdin_reads > 1)
		return fail(err, errlen, "-r - can be given only once: standard input is read once");
	if (o->file_mode && (!o->write_path || w_stdout))
		return fail(err, errlen, "--file-mode needs -w FILE");
	if (!w_stdout)
		return 0;
	if (o->rotate_bytes || o->rotate_secs || o->rotate_count)
		return fail(err, errlen, "-w - writes to standard output: -C, -G and -W need a file name");
	/* anything else on stdout would be mixed into the recording */
	if (!o->quiet || o->json)
		return fail(err, errlen, "-w - writes the recording to standard output: it needs -q, without -j");
	if (o->connects && !o->n_reads)
		return fail(err, errlen, "-w - writes the recording to standard output, where --connects prints its table");
	return 0;
}

int opts__parse(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	char *end;
	int c, r;

	optind = 0;	/* full re-initialisation, so parsing can run twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:c:P:46tud:n:jqvhw:r:C:G:W:Z:", long_opts, NULL)) != -1) {
		if (!o->live_only)
			o->live_only = live_only_name(c);
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
		case 't':
			o->filter.protos |= FILTER_PROTO_TCP;
			break;
		case 'u':
			o->filter.protos |= FILTER_PROTO_UDP;
			break;
		case OPT_UDP_IDLE:
			if (parse_seconds(optarg, 86400, &o->udp_idle_ns))
				return fail(err, errlen, "invalid idle timeout '%s': expected seconds, more than 0 and at most 86400",
					    optarg);
			break;
		case OPT_INTERVAL:
			if (parse_seconds(optarg, 86400, &o->interval_ns) || o->interval_ns < 100000000)
				return fail(err, errlen, "invalid interval '%s': expected seconds, 0.1 to 86400",
					    optarg);
			break;
		case OPT_UDP_FLOWS: {
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' || optarg[0] > '9' || n < 16 || n > (1ul << 22))
				return fail(err, errlen, "invalid flow table size '%s': expected 16 to 4194304",
					    optarg);
			o->udp_flows = n;
			break;
		}
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
		case 'w':
			if (o->write_path)
				return fail(err, errlen, "-w can be given only once");
			if (!*optarg)
				return fail(err, errlen, "invalid file name '': expected a path");
			o->write_path = optarg;
			break;
		case 'r':
			if (o->n_reads == OPTS_MAX_FILES)
				return fail(err, errlen, "too many -r files (at most %d)", OPTS_MAX_FILES);
			o->read_paths[o->n_reads++] = optarg;
			break;
		case OPT_INFO:
			if (o->n_info == OPTS_MAX_FILES)
				return fail(err, errlen, "too many --info files (at most %d)", OPTS_MAX_FILES);
			o->info_paths[o->n_info++] = optarg;
			break;
		case 'C': {
			double mb;

			errno = 0;
			mb = strtod(optarg, &end);
			if (errno || *end || end == optarg || !isfinite(mb) || mb <= 0 || mb > 1e9)
				return fail(err, errlen, "invalid file size '%s': expected a positive number of megabytes",
					    optarg);
			/* tcpdump's unit: 1,000,000 bytes */
			o->rotate_bytes = mb * 1e6 < 4096 ? 4096 : (uint64_t)(mb * 1e6);
			break;
		}
		case 'G':
		case 'W': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' || optarg[0] > '9' || v > 1000000000)
				return fail(err, errlen, "invalid %s '%s': expected a positive integer",
					    c == 'G' ? "rotation interval" : "file count", optarg);
			if (c == 'G')
				o->rotate_secs = v;
			else
				o->rotate_count = v;
			break;
		}
		case OPT_SINCE:
		case OPT_UNTIL:
			if (time_bound__parse(optarg, c == OPT_SINCE ? &o->since : &o->until))
				return fail(err, errlen, "invalid time '%s': expected RFC 3339 (2026-11-27T17:42:06Z) or seconds after the first event",
					    optarg);
			break;
		case OPT_FILE_MODE: {
			unsigned long mode;

			errno = 0;
			mode = strtoul(optarg, &end, 8);
			if (errno || *end || !*optarg || optarg[0] == '-' || optarg[0] == '+' ||
			    mode > 0777 || (mode & 0600) != 0600)
				return fail(err, errlen, "invalid file mode '%s': expected octal, at most 0777, that lets the owner read and write (0600, 0640, 0644...)",
					    optarg);
			o->file_mode = mode;
			break;
		}
		case 'Z':
			if (!*optarg)
				return fail(err, errlen, "invalid user '': expected a user name");
			o->user = optarg;
			break;
		case ':':
			return fail(err, errlen, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		size_t len = 0;
		char msg[200];

		for (int i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		free(o->filter_text);
		o->filter_text = malloc(len);
		if (!o->filter_text)
			return fail(err, errlen, "out of memory");
		o->filter_text[0] = '\0';
		for (int i = optind; i < argc; i++) {
			if (i > optind)
				strcat(o->filter_text, " ");
			strcat(o->filter_text, argv[i]);
		}
		r = filter__parse(&o->filter, o->filter_text, msg, sizeof(msg));
		if (r)
			return fail(err, errlen, "invalid filter expression '%s': %s", o->filter_text, msg);
	}
	if ((o->rotate_bytes || o->rotate_secs || o->rotate_count) && !o->write_path)
		return fail(err, errlen, "-C, -G and -W need -w FILE");
	if (o->rotate_count && !o->rotate_bytes && !o->rotate_secs)
		return fail(err, errlen, "-W needs -C or -G");
	if ((o->since.set || o->until.set) && !o->n_reads)
		return fail(err, errlen, "--since and --until need -r FILE");
	if (o->n_info && (o->n_reads || o->write_path))
		return fail(err, errlen, "--info excludes -r and -w");
	return check_files(o, err, errlen);
}

void opts__free(struct opts *o)
{
	filter__free(&o->filter);
	free(o->filter_text);
	o->filter_text = NULL;
}

static bool digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + (*s)[i] - '0';
	}
	*s += n;
	*out = v;
	return true;
}

int time_bound__parse(const char *s, struct time_bound *tb)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0;
	uint64_t frac = 0, scale = 1000000000ull;
	struct tm tm = {};
	const char *p = s;
	int64_t secs;
	char *end;

	if (!*s)
		return -EINVAL;
	if (!strchr(s, '-') && !strchr(s, ':')) {
		double v;

		errno = 0;
		v = strtod(s, &end);
		if (errno || *end || end == s || !isfinite(v) || v < 0 || v > 1e12)
			return -EINVAL;
		tb->set = true;
		tb->relative = true;
		tb->ns = (uint64_t)(v * 1e9 + 0.5);
		return 0;
	}
	if (!digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' ||
	    !digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &m) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		oh *= sign;
		om *= sign;
	} else {
		return -EINVAL;
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	secs = timegm(&tm) - (oh * 3600 + om * 60);
	if (secs < 0)
		return -EINVAL;
	tb->set = true;
	tb->relative = false;
	tb->ns = (uint64_t)secs * 1000000000ull + frac;
	return 0;
}
