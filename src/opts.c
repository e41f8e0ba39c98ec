// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "metrics.h"
#include "opts.h"

enum {
	OPT_HOOK = 0x100,
	OPT_PROBES,
	OPT_NO_SNAPSHOT,
	OPT_STATE,
	OPT_BTF,
	OPT_RINGBUF,
	OPT_VERSION,
	OPT_CONNECTS,
	OPT_CONNS,
	OPT_RETRANS,
	OPT_SYN_ALERT,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_INFO,
	OPT_UDP_IDLE,
	OPT_INTERVAL,
	OPT_UDP_FLOWS,
	OPT_FILE_MODE,
	OPT_COMM,
	OPT_CGROUP,
	OPT_UNIT,
	OPT_CONTAINER,
	OPT_POD,
	OPT_CGROUP_COLUMN,
	OPT_DNS_CACHE,
	OPT_DNS,
	OPT_DNS_TIMEOUT,
	OPT_METRICS,
	OPT_METRICS_BY,
	OPT_METRICS_CAP,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "unit", required_argument, NULL, OPT_UNIT },
	{ "container", required_argument, NULL, OPT_CONTAINER },
	{ "pod", required_argument, NULL, OPT_POD },
	{ "cgroup-column", no_argument, NULL, OPT_CGROUP_COLUMN },
	{ "port", required_argument, NULL, 'P' },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "tcp", no_argument, NULL, 't' },
	{ "udp", no_argument, NULL, 'u' },
	{ "udp-idle", required_argument, NULL, OPT_UDP_IDLE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "udp-flows", required_argument, NULL, OPT_UDP_FLOWS },
	{ "dns-cache", required_argument, NULL, OPT_DNS_CACHE },
	{ "dns", no_argument, NULL, OPT_DNS },
	{ "dns-timeout", required_argument, NULL, OPT_DNS_TIMEOUT },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "metrics-by", required_argument, NULL, OPT_METRICS_BY },
	{ "metrics-cap", required_argument, NULL, OPT_METRICS_CAP },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'c' },
	{ "numeric", no_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "no-snapshot", no_argument, NULL, OPT_NO_SNAPSHOT },
	{ "connects", no_argument, NULL, OPT_CONNECTS },
	{ "conns", no_argument, NULL, OPT_CONNS },
	{ "retrans", no_argument, NULL, OPT_RETRANS },
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
	{ OPT_RETRANS, "--retrans" },
	{ OPT_NO_SNAPSHOT, "--no-snapshot" },
	{ OPT_METRICS, "--metrics" },
	{ OPT_METRICS_BY, "--metrics-by" },
	{ OPT_METRICS_CAP, "--metrics-cap" },
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
"  cgroup PATH, unit NAME, container ID|NAME, pod [NS/]NAME,\n"
"  combined with not/!, and/&&, or/|| and parentheses; src is the local\n"
"  side, dst the remote side.\n"
"\n"
"Filters (combined with AND, and with the expression):\n"
"  -p, --pid PID[,PID]       only sockets owned by these processes; pids as\n"
"                            separate words work too: -p $(pidof NAME)\n"
"      --comm NAME           only sockets owned by a process of this name\n"
"      --cgroup PATH         only sockets whose owner is in this cgroup or below\n"
"                            (a path under the cgroup2 mount: /system.slice)\n"
"      --unit NAME           only sockets of this systemd unit or slice\n"
"      --container ID|NAME   only sockets of this container (an id prefix or name)\n"
"      --pod [NS/]NAME       only sockets of this Kubernetes pod (or its uid)\n"
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
"  -n, --numeric             numeric addresses and ports: no names of remote\n"
"                            addresses from DNS answers, no service names from\n"
"                            /etc/services (JSON: \"rname\" and \"service\" null)\n"
"      --cgroup-column       a CGROUP column after COMM: pod, container, unit\n"
"                            or cgroup path of the owner\n"
"      --no-snapshot         do not list the sockets that already exist (their\n"
"                            owners are still looked up, for later events)\n"
"      --connects            connection attempts and their outcomes only, and\n"
"                            a per-destination table at exit\n"
"      --conns               one line per TCP connection, at its end (and\n"
"                            with --interval its counters so far)\n"
"      --retrans             a TCP RETRANS line when a connection retransmits\n"
"                            (at most one a second per connection)\n"
"      --syn-alert MS        alert when an attempt stays in SYN_SENT this long\n"
"                            (default 1000), again at each SYN retransmit\n"
"UDP flows (one per socket, peer and process):\n"
"      --udp-idle SECONDS    a flow without datagrams this long ends (default 10)\n"
"      --interval SECONDS    report the counts of active flows, and the\n"
"                            counters of TCP connections, this often\n"
"      --udp-flows N         flows the kernel counts at once (default 16384);\n"
"                            datagrams beyond are counted as uncounted\n"
"Names (from the DNS answers the host's processes receive):\n"
"      --dns-cache N         names kept per run, least recently used dropped\n"
"                            first (default 8192; 0: no names, no DNS hook)\n"
"      --dns                 DNS queries only: owner, name, type, answer code,\n"
"                            addresses, latency (or timeout); a per-name table\n"
"                            at exit. With --connects or --conns: theirs too\n"
"      --dns-timeout SECONDS a query unanswered this long times out (default 5)\n"
"Metrics:\n"
"      --metrics [ADDR]:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                            (ADDR 127.0.0.1 if omitted, [::1]:PORT for IPv6);\n"
"                            docs/metrics.md\n"
"      --metrics-by KEY,...  break counters down by these labels: unit,\n"
"                            container, pod, comm, service\n"
"      --metrics-cap N       label sets kept per family with --metrics-by, the\n"
"                            first N seen; later ones count as other (default\n"
"                            100, 1 to 1000)\n"
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
"                            (2026-11-27T17:42:06Z, up to 2499) or seconds\n"
"                            after the first event (up to 1000000000)\n"
"      --until TIME          replay events before TIME (same forms)\n"
"      --info FILE           describe a recording: host, span, counts, state\n"
"Run:\n"
"  -d, --duration SECONDS    stop after this long (at most 31536000)\n"
"  -c, --count COUNT         stop after COUNT events\n"
"      --hook KIND           force a hook variant where a concern has one:\n"
"                            auto, tp_btf, tracepoint, fentry, kprobe\n"
"      --probes              print the hook variants this kernel supports\n"
"      --btf FILE            kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
"      --ringbuf-kb KB       ring buffer size, a power of two from 4 to 2097152\n"
"                            (default 8192)\n"
"  -Z, --user USER           once attached, run as USER (as tcpdump -Z); with\n"
"                            -C/-G, USER must be able to create files there\n"
"  -v, --verbose             print libbpf debug messages\n"
"  -h, --help                show this help\n"
"      --version             print the version\n"
"\n"
"Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

void opts__init(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->snapshot = true;
	o->ringbuf_kb = 8192;
	o->syn_alert_ms = 1000;
	o->udp_idle_ns = 10000000000ull;
	o->udp_flows = 16384;
	o->dns_cache = 8192;
	o->dns_timeout_ns = 5000000000ull;
	o->metrics_cap = METRICS_DEFAULT_CAP;
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

/* A decimal integer in [min, max], digits only (no sign, no leading zero:
 * "0" itself where min allows it). */
static int parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!min && !strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	if (s[0] < '1' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
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

/* The long option that "--name" (n bytes, an exact name or an abbreviation)
 * means; NULL if none, or if it is ambiguous (*ambiguous then set). */
static const struct option *long_opt_find(const char *name, size_t n, bool *ambiguous)
{
	const struct option *found = NULL;

	*ambiguous = false;
	for (const struct option *lo = long_opts; lo->name; lo++) {
		if (strncmp(lo->name, name, n))
			continue;
		if (strlen(lo->name) == n)
			return lo;
		if (found)
			*ambiguous = true;
		found = lo;
	}
	return *ambiguous ? NULL : found;
}

/* What getopt_long() found wrong with arg (a '?' or ':' return). */
static int getopt_fail(int c, const char *arg, char *err, size_t errlen)
{
	const struct option *lo;
	const char *name, *eq;
	bool ambiguous;
	size_t n;

	if (strncmp(arg, "--", 2) || !arg[2]) {
		if (c == ':')
			return fail(err, errlen, "option '-%c' needs an argument", optopt);
		return fail(err, errlen, "unknown option '-%c'", optopt);
	}
	name = arg + 2;
	eq = strchr(name, '=');
	n = eq ? (size_t)(eq - name) : strlen(name);
	if (!n)
		return fail(err, errlen, "unknown option '%s'", arg);
	lo = long_opt_find(name, n, &ambiguous);
	if (ambiguous) {
		char list[200] = "";
		size_t len = 0;

		for (const struct option *o = long_opts; o->name && len < sizeof(list); o++)
			if (!strncmp(o->name, name, n))
				len += snprintf(list + len, sizeof(list) - len, "%s--%s",
						len ? ", " : "", o->name);
		return fail(err, errlen, "option '--%.*s' is ambiguous: %s", (int)n, name, list);
	}
	if (!lo)
		return fail(err, errlen, "unknown option '%s'", arg);
	if (c == ':' || (lo->has_arg == required_argument && !eq))
		return fail(err, errlen, "option '--%s' needs an argument", lo->name);
	if (lo->has_arg == no_argument && eq)
		return fail(err, errlen, "option '--%s' does not take an argument", lo->name);
	return fail(err, errlen, "invalid option '%s'", arg);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

#define SHORT_OPTS ":p:c:P:46tud:njqvhw:r:C:G:W:Z:"

/* value, then ",WORD" for each of the n words: a new string, NULL if out of
 * memory. */
static char *join_words(const char *value, char **words, int n)
{
	size_t len = strlen(value) + 1;
	char *s;

	for (int k = 0; k < n; k++)
		len += strlen(words[k]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, value);
	for (int k = 0; k < n; k++) {
		strcat(s, ",");
		strcat(s, words[k]);
	}
	return s;
}

/* "-p $(pidof nginx)" gives "-p 1 2 3": the digit-only words right after a
 * -p/--pid value join it, as "-p 1,2,3". Returns a copy of argv with those
 * words joined (new strings are kept in owned[], for the caller to free),
 * and its length in *out_argc; NULL when out of memory. */
static char **join_pid_words(int argc, char **argv, int *out_argc, char **owned, int *n_owned)
{
	char **out = calloc(argc + 1, sizeof(*out));
	int n = 0;

	if (!out)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int value = -1;		/* index in out of the word that holds a -p value */
		bool pid = false;
		int words;

		out[n++] = argv[i];
		if (i == 0 || a[0] != '-' || !a[1])
			continue;
		if (!strcmp(a, "--")) {
			while (++i < argc)
				out[n++] = argv[i];
			break;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			const struct option *lo;
			bool ambiguous;

			lo = long_opt_find(a + 2, len, &ambiguous);
			if (!lo || lo->has_arg != required_argument)
				continue;
			pid = lo->val == 'p';
			if (eq)
				value = n - 1;
			else if (i + 1 < argc)
				value = n, out[n++] = argv[++i];
		} else {
			/* a group such as -jp: the first option that takes a value ends it */
			for (int j = 1; a[j]; j++) {
				const char *o = strchr(SHORT_OPTS + 1, a[j]);

				if (!o || a[j] == ':')
					break;
				if (o[1] != ':')
					continue;
				pid = a[j] == 'p';
				if (a[j + 1])
					value = n - 1;
				else if (i + 1 < argc)
					value = n, out[n++] = argv[++i];
				break;
			}
		}
		if (!pid || value < 0)
			continue;
		for (words = 0; i + 1 + words < argc && all_digits(argv[i + 1 + words]); words++)
			;
		if (!words)
			continue;
		owned[*n_owned] = join_words(out[value], argv + i + 1, words);
		if (!owned[*n_owned]) {
			free(out);
			return NULL;
		}
		out[value] = owned[(*n_owned)++];
		i += words;
	}
	out[n] = NULL;
	*out_argc = n;
	return out;
}

/* -n took a count before it followed tcpdump. getopt_long() has just
 * returned an -n: *count is set to the word after it when that is a number
 * ("-n 5", which now goes to the expression: an error only if that fails to
 * parse). Returns -EINVAL, with *count the digits, for "-n5": no option is a
 * digit but -4 and -6, so that is an old count (and "-n4" is -n -4). */
static int old_count(int argc, char **argv, const char **count)
{
	const char *w = optind < argc ? argv[optind] : NULL, *n = NULL;

	if (!w)
		return 0;
	/* -n inside a group: optind is still at that word; the options before
	 * it take no value ("-w-n5" is a file name) */
	for (int j = 1; w[0] == '-' && w[1] != '-' && w[j] && !n; j++) {
		const char *o = strchr(SHORT_OPTS + 1, w[j]);

		if (!o || w[j] == ':' || o[1] == ':')
			break;
		if (w[j] == 'n')
			n = w + j;
	}
	if (n && all_digits(n + 1) && strcmp(n + 1, "4") && strcmp(n + 1, "6")) {
		*count = n + 1;
		return -EINVAL;
	}
	/* -n ended its word: optind is at the next one, which getopt_long()
	 * has not moved yet */
	if (all_digits(w))
		*count = w;
	return 0;
}

/* s as a shell word, for an error message to suggest: quoted when it
 * needs to be, cut when long (a comm has at most 15 characters anyway). */
static const char *shell_quote(const char *s, char *buf, size_t len)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789_-.,:/@%+=";
	size_t n = 0;

	if (*s && !s[strspn(s, plain)])
		return s;
	buf[n++] = '\'';
	for (; *s && n + 6 < len; s++) {
		/* ' ends the quoted part, \' is a quote, ' opens the next part */
		if (*s == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *s;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* An expression as an error message quotes it: long ones are cut. */
static const char *expr_quote(const char *text, char *buf, size_t len)
{
	if (strlen(text) < len)
		return text;
	snprintf(buf, len, "%.*s...", (int)len - 4, text);
	return buf;
}

static int time_fail(char *err, size_t errlen, const char *s, int r)
{
	if (r == -ERANGE)
		return fail(err, errlen, "invalid time '%s': out of range: RFC 3339 times from 1970 to %d, "
			    "relative times at most %.0f seconds", s, TIME_MAX_YEAR, TIME_MAX_RELATIVE_S);
	return fail(err, errlen, "invalid time '%s': expected RFC 3339 (2026-11-27T17:42:06Z) with a date "
		    "that exists, or seconds after the first event", s);
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
	if ((o->connects || o->dns) && !o->n_reads)
		return fail(err, errlen, "-w - writes the recording to standard output, where %s prints its table",
			    o->connects ? "--connects" : "--dns");
	return 0;
}

static int parse_args(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	const char *since = NULL, *until = NULL, *n_count = NULL;
	unsigned long long v;
	int c, r, longindex;
	char *end, quoted[64];

	optind = 0;	/* full re-initialisation, so parsing can run twice */
	opterr = 0;
	/* longindex stays -1 for a short option: -c and --count differ in errors */
	while ((longindex = -1,
		c = getopt_long(argc, argv, SHORT_OPTS, long_opts, &longindex)) != -1) {
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
		case OPT_CGROUP:
			if (optarg[0] != '/')
				return fail(err, errlen, "invalid cgroup path '%s': it starts with / (the cgroup2 mount's root)",
					    optarg);
			o->filter.cgroup = optarg;
			break;
		case OPT_UNIT:
		case OPT_CONTAINER:
		case OPT_POD:
			if (!optarg[0])
				return fail(err, errlen, "--%s needs a value", c == OPT_UNIT ? "unit" :
					    c == OPT_CONTAINER ? "container" : "pod");
			*(c == OPT_UNIT ? &o->filter.unit : c == OPT_CONTAINER ? &o->filter.container :
			  &o->filter.pod) = optarg;
			break;
		case OPT_CGROUP_COLUMN:
			o->cgroup_column = true;
			break;
		case OPT_COMM:
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
		case OPT_UDP_FLOWS:
			if (parse_uint(optarg, 16, 1u << 22, &v))
				return fail(err, errlen, "invalid flow table size '%s': expected 16 to 4194304",
					    optarg);
			o->udp_flows = v;
			break;
		case OPT_METRICS:
			if (metrics__parse_addr(optarg, &o->metrics_addr, &o->metrics_addrlen))
				return fail(err, errlen, "invalid metrics address '%s': expected [ADDR]:PORT with an IP address and a port from 1 to 65535 (:9464, 0.0.0.0:9464, [::1]:9464)",
					    optarg);
			o->metrics = optarg;
			break;
		case OPT_METRICS_BY:
			if (metrics__parse_by(optarg, &o->metrics_by))
				return fail(err, errlen, "invalid metrics breakdown '%s': expected keys among unit, container, pod, comm, service, separated by commas",
					    optarg);
			break;
		case OPT_METRICS_CAP:
			if (parse_uint(optarg, 1, METRICS_MAX_CAP, &v))
				return fail(err, errlen, "invalid metrics cap '%s': expected 1 to %d",
					    optarg, METRICS_MAX_CAP);
			o->metrics_cap = v;
			o->metrics_cap_set = true;
			break;
		case OPT_DNS_CACHE:
			if (parse_uint(optarg, 0, 1u << 22, &v))
				return fail(err, errlen, "invalid DNS cache size '%s': expected 0 to 4194304",
					    optarg);
			o->dns_cache = v;
			break;
		case OPT_DNS:
			o->dns = true;
			break;
		case OPT_DNS_TIMEOUT:
			if (parse_seconds(optarg, 3600, &o->dns_timeout_ns))
				return fail(err, errlen, "invalid DNS timeout '%s': expected seconds, more than 0 and at most 3600",
					    optarg);
			o->dns_timeout_set = true;
			break;
		case OPT_STATE:
			if (filter__add_states(&o->filter, optarg))
				return fail(err, errlen, "invalid state list '%s': expected names such as LISTEN,SYN_SENT,ESTABLISHED",
					    optarg);
			break;
		case 'd': {
			uint64_t ns;

			/* the deadline is a boot-clock time in ns: it must not wrap */
			if (parse_seconds(optarg, OPTS_MAX_DURATION_S, &ns))
				return fail(err, errlen, "invalid duration '%s': expected seconds, more than 0 and at most %d",
					    optarg, OPTS_MAX_DURATION_S);
			o->duration = strtod(optarg, NULL);
			break;
		}
		case 'c':
			/* "-c NAME" selected a process before -c followed tcpdump;
			 * "-c 5x" or "-c -1" are bad counts */
			if (longindex < 0 && *optarg && !strchr("0123456789+-. ", *optarg))
				return fail(err, errlen, "-c is now the count (as tcpdump's); use --comm %s",
					    shell_quote(optarg, quoted, sizeof(quoted)));
			if (parse_uint(optarg, 1, UINT64_MAX, &v))
				return fail(err, errlen, "invalid count '%s': expected an integer from 1 to %llu",
					    optarg, (unsigned long long)UINT64_MAX);
			o->count = v;
			break;
		case 'n':
			o->numeric = true;
			r = longindex < 0 ? old_count(argc, argv, &n_count) : 0;
			if (r)
				return fail(err, errlen, "-n no longer takes a count: use -c %s", n_count);
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
		case OPT_CONNS:
			o->conns = true;
			break;
		case OPT_RETRANS:
			o->retrans = true;
			break;
		case OPT_SYN_ALERT:
			if (parse_uint(optarg, 1, 86400000, &v))
				return fail(err, errlen, "invalid alert threshold '%s': expected milliseconds, 1 to 86400000",
					    optarg);
			o->syn_alert_ms = v;
			o->syn_alert_set = true;
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
			if (!*optarg)
				return fail(err, errlen, "invalid BTF file name '': expected a path");
			o->btf_path = optarg;
			break;
		case OPT_RINGBUF:
			/* the kernel's ring buffer size is a u32 of bytes, a power of two */
			if (parse_uint(optarg, 4, OPTS_MAX_RINGBUF_KB, &v) || (v & (v - 1)))
				return fail(err, errlen, "invalid ring buffer size '%s': expected a power of two from 4 to %u KiB",
					    optarg, OPTS_MAX_RINGBUF_KB);
			o->ringbuf_kb = v;
			break;
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
				return fail(err, errlen, "invalid file size '%s': expected megabytes, more than 0 and at most 1000000000",
					    optarg);
			/* tcpdump's unit: 1,000,000 bytes */
			o->rotate_bytes = mb * 1e6 < 4096 ? 4096 : (uint64_t)(mb * 1e6);
			break;
		}
		case 'G':
			if (parse_uint(optarg, 1, 1000000000, &v))
				return fail(err, errlen, "invalid rotation interval '%s': expected seconds, 1 to 1000000000",
					    optarg);
			o->rotate_secs = v;
			break;
		case 'W':
			/* the recorder keeps the name of each file it may reuse */
			if (parse_uint(optarg, 1, OPTS_MAX_ROTATE_COUNT, &v))
				return fail(err, errlen, "invalid file count '%s': expected 1 to %d",
					    optarg, OPTS_MAX_ROTATE_COUNT);
			o->rotate_count = v;
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			r = time_bound__parse(optarg, c == OPT_SINCE ? &o->since : &o->until);
			if (r)
				return time_fail(err, errlen, optarg, r);
			*(c == OPT_SINCE ? &since : &until) = optarg;
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
		default:
			return getopt_fail(c, argv[optind - 1], err, errlen);
		}
	}
	if (optind < argc) {
		size_t len = 0;
		char msg[320], quoted[64];

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
		/* "-n 5" counted before -n followed tcpdump: 5 is now the expression */
		if (r && n_count)
			return fail(err, errlen, "-n no longer takes a count: use -c %s", n_count);
		if (r)
			return fail(err, errlen, "invalid filter expression '%s': %s",
				    expr_quote(o->filter_text, quoted, sizeof(quoted)), msg);
	}
	if ((o->rotate_bytes || o->rotate_secs || o->rotate_count) && !o->write_path)
		return fail(err, errlen, "-C, -G and -W need -w FILE");
	if (o->metrics_by && !o->metrics)
		return fail(err, errlen, "--metrics-by needs --metrics");
	if (o->metrics_cap_set && !o->metrics_by)
		return fail(err, errlen, "--metrics-cap needs --metrics-by");
	if (o->dns_timeout_set && !o->dns)
		return fail(err, errlen, "--dns-timeout needs --dns");
	if (o->conns && o->connects)
		return fail(err, errlen, "--conns and --connects choose different displays: one of them");
	if (o->rotate_count && !o->rotate_bytes && !o->rotate_secs)
		return fail(err, errlen, "-W needs -C or -G");
	if ((o->since.set || o->until.set) && !o->n_reads)
		return fail(err, errlen, "--since and --until need -r FILE");
	/* a relative and an absolute bound meet only once the file is read */
	if (o->since.set && o->until.set && o->since.relative == o->until.relative &&
	    o->since.ns >= o->until.ns)
		return fail(err, errlen, "--since %s is not before --until %s: nothing would be replayed",
			    since, until);
	if (o->n_info && (o->n_reads || o->write_path))
		return fail(err, errlen, "--info excludes -r and -w");
	return check_files(o, err, errlen);
}

int opts__parse(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	char **owned, **args;
	int n_owned = 0, n_args, r;

	owned = calloc(argc + 1, sizeof(*owned));
	args = owned ? join_pid_words(argc, argv, &n_args, owned, &n_owned) : NULL;
	if (!args)
		r = fail(err, errlen, "out of memory");
	else
		r = parse_args(o, n_args, args, err, errlen);
	/* nothing that points into args outlives it: optarg strings the
	 * options keep (paths) are argv's own, joined ones are only parsed */
	for (int i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	free(args);
	/* a failed parse keeps nothing to free */
	if (r)
		opts__free(o);
	return r;
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

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
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
		if (errno || *end || end == s || !isfinite(v) || v < 0)
			return -EINVAL;
		/* added to the first event's wall-clock ns, which must not wrap */
		if (v > TIME_MAX_RELATIVE_S)
			return -ERANGE;
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
	/* RFC 3339 allows a leap second (:60); timegm() carries it over */
	if (*p || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 ||
	    sec > 60)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	secs = timegm(&tm) - (oh * 3600 + om * 60);
	/* wall-clock ns in a u64 reach 2554; this leaves room to add to them */
	if (secs < 0 || Y > TIME_MAX_YEAR)
		return -ERANGE;
	tb->set = true;
	tb->relative = false;
	tb->ns = (uint64_t)secs * 1000000000ull + frac;
	return 0;
}
