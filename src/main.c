// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* socktrace: live TCP connection and UDP flow tracing with the owning process.
 * Order of work: parse, check, probe, open/configure/load/attach, snapshot,
 * poll, then detach, drain and summarise. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "attempts.h"
#include "cgroups.h"
#include "diagnose.h"
#include "dnsnames.h"
#include "dnsqueries.h"
#include "event.h"
#include "info.h"
#include "live.h"
#include "metrics.h"
#include "opts.h"
#include "owners.h"
#include "pipeline.h"
#include "probe.h"
#include "reader.h"
#include "record.h"
#include "recorder.h"
#include "replay.h"
#include "notify.h"
#include "report.h"
#include "services.h"
#include "sink.h"
#include "snapshot.h"

#ifndef SOCKTRACE_VERSION
#define SOCKTRACE_VERSION "0.1.0"
#endif

#define POLL_MS 100

static volatile sig_atomic_t exiting, reload;
/* glibc ignores the size given to setvbuf() without a buffer */
static char stdout_buf[1 << 16];
static bool verbose;

static void sig_handler(int sig)
{
	(void)sig;
	exiting = 1;
}

static void reload_handler(int sig)
{
	(void)sig;
	reload = 1;
}

/* A closed terminal or ssh session (SIGHUP) ends the run like Ctrl-C: with
 * a summary and a recording that ends cleanly. A service has no terminal:
 * there SIGHUP is systemctl reload, which starts the recording's next file. */
static void catch_signals(void)
{
	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);
	signal(SIGHUP, notify__enabled() ? reload_handler : sig_handler);
	signal(SIGPIPE, SIG_IGN);	/* a closed stdout shows up as EPIPE */
}

/* The reader of a pipe is gone (POLLERR; a socket's peer: POLLHUP), even
 * if nothing is written: a quiet filter must not keep the programs
 * attached for nobody. A regular file never reports either. */
static bool output_closed(int fd)
{
	struct pollfd p = { .fd = fd };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* Loading tracing programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN
 * before 5.8); the snapshot enters other network namespaces (CAP_SYS_ADMIN). */
static int check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	if (has_cap(data, CAP_SYS_ADMIN))
		return 0;
	if (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))
		return 0;
	return -EPERM;
}

/* --btf: libbpf would only fail at load time, with one of its own error
 * codes ("Unknown error 4001"). */
static int check_btf_file(const char *path)
{
	struct stat st;
	struct btf *btf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		report__error("failed to read BTF file '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	close(fd);
	if (S_ISDIR(st.st_mode)) {
		report__error("failed to read BTF file '%s': %s", path, strerror(EISDIR));
		return -EINVAL;
	}
	btf = btf__parse(path, NULL);
	if (!btf) {
		report__error("'%s' is not a BTF file: expected raw BTF (as "
			      "/sys/kernel/btf/vmlinux) or an ELF file with a .BTF section", path);
		return -EINVAL;
	}
	btf__free(btf);
	return 0;
}

/* A ring buffer the kernel refuses (not enough memory) fails every load
 * attempt of every hook variant alike: after a failed load, try it alone
 * before falling back to other variants. */
static int check_ringbuf(uint32_t kb)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "st_rb_check", 0, 0, kb * 1024, NULL);

	if (fd < 0) {
		int err = errno;

		report__error("failed to create a ring buffer of %u KiB: %s%s", kb,
			      strerror(err), err == ENOMEM ? " (a smaller --ringbuf-kb helps)" : "");
		return -err;
	}
	close(fd);
	return 0;
}

/* -Z USER: whom the run becomes once the programs are attached. */
struct run_as {
	const char *name;
	uid_t uid;
	gid_t gid;
};

/* Returns 0, or a message in msg. */
static int run_as__resolve(struct run_as *ra, const char *user, char *msg, size_t len)
{
	struct passwd *pw;
	char *end;

	errno = 0;
	pw = getpwnam(user);
	if (!pw && user[0] >= '0' && user[0] <= '9') {
		unsigned long uid = strtoul(user, &end, 10);

		if (!*end && uid < UINT32_MAX)
			pw = getpwuid(uid);
	}
	if (!pw) {
		snprintf(msg, len, "unknown user '%s'", user);
		return -EINVAL;
	}
	if (!pw->pw_uid) {
		snprintf(msg, len, "-Z %s: that user is root, there would be nothing to drop", user);
		return -EINVAL;
	}
	ra->name = user;
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	return 0;
}

/* No supplementary groups, the group, then the user (the other order would
 * leave no right to change the group); then make sure there is no way
 * back. Returns 0, or -errno with a message in msg. */
static int run_as__drop(const struct run_as *ra, char *msg, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[2] = {};
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int err;

	if (setgroups(0, NULL) || setgid(ra->gid) || setuid(ra->uid)) {
		err = -errno;
		snprintf(msg, len, "failed to drop privileges to user '%s': %s", ra->name,
			 strerror(-err));
		return err;
	}
	/* execve() of a set-user-ID program cannot give them back either */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (!setuid(0) || !seteuid(0) || getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) ||
	    ru != ra->uid || eu != ra->uid || su != ra->uid ||
	    rg != ra->gid || eg != ra->gid || sg != ra->gid || getgroups(0, NULL) != 0 ||
	    syscall(SYS_capget, &hdr, caps) ||
	    caps[0].effective || caps[1].effective || caps[0].permitted || caps[1].permitted) {
		snprintf(msg, len, "dropping privileges to user '%s' did not take: the process could regain them",
			 ra->name);
		return -EPERM;
	}
	return 0;
}

/* Before anything is attached: a child drops privileges as the run will,
 * then does what the run does without them: read and update BPF maps
 * through fds it holds (the counters, UDP flows and listeners; Linux
 * before 5.19 refuses that to an unprivileged process when
 * kernel.unprivileged_bpf_disabled is set), and with rotation create
 * files in the recording's directory. Returns 0, or -1 with the reason
 * printed. */
static int run_as__check(const struct run_as *ra, const struct opts *o)
{
	char msg[PATH_MAX + 256] = "", dir[PATH_MAX];
	uint32_t key = 0, next;
	uint64_t val = 1;
	int map, pfd[2], status = 0;
	ssize_t n;
	pid_t pid;

	map = bpf_map_create(BPF_MAP_TYPE_HASH, "st_runas", sizeof(key), sizeof(val), 1, NULL);
	if (map < 0 || bpf_map_update_elem(map, &key, &val, BPF_ANY)) {
		report__error("-Z: failed to create a BPF map: %s", strerror(errno));
		if (map >= 0)
			close(map);
		return -1;
	}
	dir[0] = '\0';
	if (o->write_path && strcmp(o->write_path, "-") && (o->rotate_bytes || o->rotate_secs)) {
		char name[PATH_MAX];
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		if (!o->rotate_secs || !strftime(name, sizeof(name), o->write_path, &tm))
			snprintf(name, sizeof(name), "%s", o->write_path);
		snprintf(dir, sizeof(dir), "%s", dirname(name));
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		close(map);
		report__error("-Z: failed to create a pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int err;

		close(pfd[0]);
		err = run_as__drop(ra, msg, sizeof(msg));
		if (!err && dir[0] && access(dir, W_OK | X_OK)) {
			err = -errno;
			snprintf(msg, sizeof(msg), "user '%s' cannot create files in '%s' (%s), which rotation (-C/-G) does once privileges are dropped",
				 ra->name, dir, strerror(-err));
		}
		if (!err && (bpf_map_lookup_elem(map, &key, &val) ||
			     bpf_map_get_next_key(map, NULL, &next) ||
			     bpf_map_update_elem(map, &key, &val, BPF_ANY))) {
			err = -errno;
			snprintf(msg, sizeof(msg), "this kernel does not let user '%s' use the BPF maps socktrace reads while it runs (%s; kernel.unprivileged_bpf_disabled before Linux 5.19): run without -Z",
				 ra->name, strerror(-err));
		}
		if (err && write(pfd[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(err ? 1 : 0);
	}
	close(pfd[1]);
	close(map);
	if (pid < 0) {
		close(pfd[0]);
		report__error("-Z: failed to fork: %s", strerror(errno));
		return -1;
	}
	n = read(pfd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		report__error("-Z %s: %s", ra->name,
			      msg[0] ? msg : "the check of the unprivileged run failed");
		return -1;
	}
	return 0;
}

struct snapshot_ctx {
	struct live *live;
	struct pipeline *pl;		/* NULL: seed the kernel side, show nothing */
	int seed_err;
};

static int snapshot_push(const struct event *ev, void *ctx)
{
	struct snapshot_ctx *sc = ctx;
	int err;

	/* the owners /proc names go to the kernel side, shown or not: a
	 * socket's later events name them after they closed their files */
	live__seed_listener(sc->live, ev);
	err = live__seed(sc->live, ev);
	if (err && !sc->seed_err)
		sc->seed_err = err;
	/* source events: sockets already in SYN_SENT are attempts in progress */
	return sc->pl ? pipeline__push(sc->pl, ev) : 0;
}

/* Why a concern has no hook: one message each, the reasons of its variants
 * on the lines after the first. */
static void report_no_hook(const struct probe *p, enum hook_kind forced)
{
	for (int c = 0; c < CONCERN__MAX; c++) {
		char why[1024] = "";
		size_t n = 0;

		if (p->selected[c] >= 0 || !(p->wanted & CONCERN_BIT(c)) ||
		    (concerns[c].quiet && !probe__required(p, c)))
			continue;
		for (int v = 0; v < concerns[c].n_variants && n < sizeof(why); v++)
			if (p->res[c][v].probed && !p->res[c][v].ok)
				n += snprintf(why + n, sizeof(why) - n, "\n  %-40s %s",
					      concerns[c].variants[v].label, p->res[c][v].why);
		if (!probe__required(p, c) && !p->forced_unavailable[c])
			report__warning("no hook for %s: %s", concerns[c].name, concerns[c].without);
		else if (!probe__required(p, c))
			/* an optional concern goes without, forced or not */
			report__warning("hook variant '%s' is not usable for %s on this kernel, so %s:%s",
					hook_kind__name(forced), concerns[c].name,
					concerns[c].without, why);
		else if (p->forced_unavailable[c])
			report__error("hook variant '%s' is not usable for %s on this kernel:%s",
				      hook_kind__name(forced), concerns[c].name, why);
		else
			report__error("no usable hook for %s on this kernel:%s", concerns[c].name, why);
	}
}

static bool fatal_no_hook(const struct probe *p)
{
	for (int c = 0; c < CONCERN__MAX; c++)
		if (p->selected[c] < 0 && probe__required(p, c))
			return true;
	return false;
}

/* -w: a recorder, as one more sink of the pipeline. NULL if that failed
 * (the reason has been printed; *usage says it is a usage error). */
static struct recorder *add_recorder(struct pipeline *pl, const struct opts *o,
				     const struct clock_ref *ref, const struct rec_header *origin,
				     const struct run_as *ra, const struct rec_input *inputs,
				     int n_inputs, uint64_t syn_alert_ns, bool *usage)
{
	char filter[1024], why[PATH_MAX + 256];
	struct recorder_opts ro = {
		.path = o->write_path,
		.rotate_bytes = o->rotate_bytes,
		.rotate_secs = o->rotate_secs,
		.rotate_count = o->rotate_count,
		.filter_text = filter,
		.ref = ref,
		.origin = origin,
		.mode = o->file_mode,
		.chown = ra != NULL,
		.uid = ra ? ra->uid : 0,
		.gid = ra ? ra->gid : 0,
		.inputs = inputs,
		.n_inputs = n_inputs,
		.err = why,
		.errlen = sizeof(why),
		.syn_alert_ns = syn_alert_ns,
	};
	struct recorder *r;

	filter__describe(&o->filter, filter, sizeof(filter));
	r = recorder__open(&ro);
	if (!r) {
		/* -r X -w X would truncate X while it is read */
		*usage = errno == EBUSY;
		report__error("failed to create recording '%s': %s", o->write_path, why);
		return NULL;
	}
	pipeline__set_recorder(pl, sink_record__new(r));
	if (!pl->recorder) {
		report__error("failed to create output: %s", strerror(ENOMEM));
		recorder__close(r, NULL);
		return NULL;
	}
	return r;
}

/* "failed to write recording 'PATH': reason", or what the next file of a
 * rotation could not be opened for. */
static void report_rec_error(const struct recorder *r, const char *path, int err)
{
	const char *why = r ? recorder__error(r) : NULL;

	if (why)
		report__error("failed to continue recording: %s", why);
	else if (!strcmp(path, "-"))
		report__error("failed to write recording to standard output: %s",
			      strerror(-err));
	else
		report__error("failed to write recording '%s': %s", path,
			      strerror(-err));
}

/* systemctl reload: RELOADING=1, the recording's next file, READY=1. */
static int service_reload(struct recorder *rec)
{
	const char *what = "nothing to reopen without -w";
	int err = 0;

	notify__send("RELOADING=1");
	if (rec)
		err = recorder__reopen(rec, &what);
	if (err) {
		report_rec_error(rec, recorder__path(rec), err);
		return err;
	}
	fprintf(stderr, "socktrace: reload: %s%s%s\n", what, rec ? ": " : "",
		rec ? recorder__path(rec) : "");
	notify__send("READY=1");
	return 0;
}

/* The statistics as of boot_ns, the source's clock: a replay ticks its
 * stages there, as the run did. */
static void rec_stats_of(struct rec_stats *rs, const struct stats *st, uint64_t boot_ns)
{
	memset(rs, 0, sizeof(*rs));
	rs->boot_ns = boot_ns;
	rs->events = st->events;
	rs->snapshot = st->snapshot;
	rs->lost = st->lost;
	rs->filtered = st->filtered;
	rs->elapsed_ns = st->elapsed_ns;
	rs->udp_flows = st->udp_flows;
	rs->udp_uncounted = st->udp_uncounted;
	rs->udp_uncounted_bytes = st->udp_uncounted_bytes;
	rs->gaps = st->gaps;
	rs->missed = st->missed;
}

/* What the live source takes of the command line. */
static void live_opts_of(struct live_opts *lo, const struct opts *o)
{
	memset(lo, 0, sizeof(*lo));
	lo->btf_path = o->btf_path;
	lo->ringbuf_kb = o->ringbuf_kb;
	/* what the kernel can check; userspace still applies the whole filter */
	filter__kernel(&o->filter, &lo->filter);
	lo->udp_flows = o->udp_flows;
	lo->udp_idle_ns = o->udp_idle_ns;
	lo->interval_ns = o->interval_ns;
	lo->verbose = o->verbose;
	lo->retrans = o->retrans;
	lo->cgroup_skip = !o->probes && filter__has_owner_and(&o->filter);
}

struct cgroup_skip_ctx {
	struct live *live;
	const struct filter *filter;
	bool warned;
};

/* A cgroup seen for the first time whose events the filter drops, all of
 * them: the kernel side drops them from now on. */
static void skip_rejected_cgroup(void *ctx, uint64_t id, const struct cgroup_info *ci)
{
	struct cgroup_skip_ctx *sc = ctx;
	int err;

	if (!sc->live || !filter__owner_rejects(sc->filter, ci))
		return;
	err = live__skip_cgroup(sc->live, id);
	if (err && !sc->warned) {
		report__warning("failed to filter cgroups in the kernel: %s", strerror(-err));
		sc->warned = true;
	}
}

/* The concerns the filter leaves something to trace for; DNS answers when
 * names are on (--dns-cache) or queries are traced (--dns), and these. */
static unsigned int wanted_concerns(const struct filter *f, uint32_t dns_cache, bool dns)
{
	struct filter k;
	unsigned int wanted = 0;

	filter__kernel(f, &k);
	if (filter__wants_proto(&k, IPPROTO_TCP))
		wanted |= CONCERNS_TCP;
	if (filter__wants_proto(&k, IPPROTO_UDP))
		wanted |= CONCERNS_UDP;
	if (wanted && (dns_cache || dns))
		wanted |= CONCERN_BIT(CONCERN_DNS);
	if (wanted && dns)
		wanted |= CONCERN_BIT(CONCERN_DNS_QUERY);
	return wanted;
}

static unsigned int protos_of(unsigned int wanted)
{
	return (wanted & CONCERNS_TCP ? FILTER_PROTO_TCP : 0) |
	       (wanted & CONCERNS_UDP ? FILTER_PROTO_UDP : 0);
}

static void counters_to_stats(struct stats *st, struct live *live,
			      const uint64_t counters[ST_CNT__MAX])
{
	st->lost = counters[ST_CNT_LOST];
	st->udp_uncounted = counters[ST_CNT_UDP_UNCOUNTED];
	st->udp_uncounted_bytes = counters[ST_CNT_UDP_UNCOUNTED_BYTES];
	st->gaps = counters[ST_CNT_GAPS];
	st->missed = live__prog_misses(live);
	st->dns_lost = counters[ST_CNT_DNS_LOST];
	st->dns_truncated = counters[ST_CNT_DNS_TRUNCATED];
}

/* The kernel counts the datagrams it could not count before any filter
 * that runs in userspace: it cannot know of them. */
static const char *uncounted_scope(const struct opts *o)
{
	if (o->n_reads)
		return filter__is_empty(&o->filter) ? "" :
		       " (the recording's count: the replay's filter does not apply to it)";
	if (o->filter.expr || o->filter.comm[0])
		return " (counted before the filter expression and --comm, which run in userspace: "
		       "it includes datagrams of flows they exclude)";
	return "";
}

/* Summary on stdout (sinks) and stderr, then the recording's end block.
 * Returns the exit status: 1 if an output or the recording could not be
 * written (a reader of stdout that went away is no error, as for any tool
 * in a pipe). */
/* What the counts tell: before the summary, which JSON readers take as the
 * last line. */
static void warn_counts(const struct stats *st, const struct opts *o, bool live)
{
	if (live && st->lost)
		report__warning("the ring buffer overflowed: %llu events lost; a larger --ringbuf-kb or a narrower filter helps",
				(unsigned long long)st->lost);
	if (st->gaps)
		report__warning("the kernel did not report %llu TCP transitions (of any socket, counted before the filters): a socket's next transition started from another state, or its address was reused unseen; another tracer attaching to or detaching from the same tracepoints causes it",
				(unsigned long long)st->gaps);
	if (st->missed)
		report__warning("the kernel skipped socktrace's programs %llu times (another BPF program was running on that CPU): events may be missing",
				(unsigned long long)st->missed);
	if (st->dns_lost)
		report__warning("%llu DNS answers were lost (the ring buffer was full): the addresses they named have no names",
				(unsigned long long)st->dns_lost);
	if (st->dns_evictions)
		report__warning("%llu names were dropped from the name table before they expired: a larger --dns-cache keeps them",
				(unsigned long long)st->dns_evictions);
	if (st->udp_uncounted)
		report__warning("%llu UDP datagrams (%llu bytes) were not counted: the kernel's flow table was full; a larger --udp-flows or a shorter --udp-idle helps%s",
				(unsigned long long)st->udp_uncounted,
				(unsigned long long)st->udp_uncounted_bytes, uncounted_scope(o));
}

/* The name table (--dns-cache), which DNS answers fill, live or replayed. */
static int names_open(struct pipeline *pl, const struct opts *o, struct dnsnames **names)
{
	*names = NULL;
	if (!o->dns_cache)
		return 0;
	*names = dnsnames__new(o->dns_cache);
	if (!*names) {
		report__error("failed to create the name table: %s", strerror(errno));
		return -1;
	}
	pipeline__set_names(pl, *names, o->numeric);
	return 0;
}

/* What the run shows: one display, or --dns's queries with another. */
static uint32_t display_kinds(const struct opts *o)
{
	uint32_t kinds = o->connects ? PIPELINE_KINDS_CONNECTS :
			 o->conns ? PIPELINE_KINDS_CONNS :
			 o->dns ? 0 : PIPELINE_KINDS_DEFAULT;

	return kinds | (o->dns ? PIPELINE_KINDS_DNS : 0);
}

/* --dns: the query tracker, after the attempt tracker. */
static int dns_stage_add(struct pipeline *pl, const struct opts *o, struct dnsqueries **dq)
{
	int err;

	*dq = NULL;
	if (!o->dns)
		return 0;
	*dq = dnsqueries__new(o->dns_timeout_ns);
	err = pipeline__add_stage(pl, *dq ? dnsqueries__stage(*dq) : NULL);
	if (err) {
		dnsqueries__free(*dq);
		*dq = NULL;
		report__error("failed to create the DNS query tracker: %s", strerror(-err));
		return -1;
	}
	return 0;
}

/* What the query stage's counts warn of. */
static void warn_dns(const struct dnsqueries_stats *st)
{
	if (st->dropped)
		report__warning("%llu DNS queries were forgotten before they ended: more than %d waited for an answer at once",
				(unsigned long long)st->dropped, DNSQUERIES_MAX_PENDING);
	if (st->untabled)
		report__warning("%llu DNS queries are not in the table: it has room for %d names",
				(unsigned long long)st->untabled, DNSQUERIES_MAX_NAMES);
}

static int finish(struct pipeline *pl, const struct opts *o, struct services *svc,
		  struct recorder *rec, const struct dnsqueries *dq, uint64_t end_boot,
		  uint64_t end_wall, bool live)
{
	struct dnsqueries_stats qs = { 0 };
	char path[PATH_MAX] = "";
	struct rec_stats rs;
	int err, out_err = 0, rec_err = 0, ret = 0;

	pipeline__flush(pl);
	if (pl->names) {
		struct dnsnames_stats ds;

		dnsnames__stats(pl->names, &ds);
		pl->stats.dns_answers = ds.answers;
		pl->stats.dns_unparsed = ds.unparsed;
		pl->stats.dns_evictions = ds.evictions;
	}
	if (dq) {
		dnsqueries__stats(dq, &qs);
		pl->stats.dns_queries = qs.queries;
		pl->stats.dns_queries_unparsed = qs.unparsed;
		pl->stats.dns_unmatched = qs.unmatched;
	}
	/* the stages' tables, at the source's last time */
	if (!pl->err)
		pipeline__finish(pl, end_wall);
	if (!pl->err) {
		warn_counts(&pl->stats, o, live);
		warn_dns(&qs);
		pipeline__summary(pl);
	}
	if (o->quiet && o->json && !pl->err) {
		struct sink *js = sink_json__new(stdout, svc);

		if (js)
			out_err = sink__summary(js, &pl->stats);
		sink__free(js);
	}
	pipeline__flush(pl);
	/* text and JSON sinks write to stdout; the recorder's sink has no FILE */
	if (pl->err && pl->failed && pl->failed->out)
		out_err = pl->err;
	else if (pl->err)
		rec_err = pl->err;
	/* what stdio still holds, and what was printed around the sinks */
	if (fflush(stdout) && !out_err)
		out_err = -errno;
	if (ferror(stdout) && !out_err)
		out_err = -EIO;
	if (rec)
		snprintf(path, sizeof(path), "%s", recorder__path(rec));
	/* -w - into a pipe whose reader is gone: as for any output */
	if (rec_err && !(rec_err == -EPIPE && !strcmp(path, "-"))) {
		report_rec_error(rec, path, rec_err);
		ret = 1;
	}
	rec_stats_of(&rs, &pl->stats, end_boot);
	err = recorder__close(rec, &rs);
	if (err && !rec_err && !(err == -EPIPE && !strcmp(path, "-"))) {
		report_rec_error(NULL, path, err);
		ret = 1;
	}
	if (out_err && out_err != -EPIPE) {
		report__error("failed to write output: %s", strerror(-out_err));
		ret = 1;
	}
	if (ret)
		return ret;
	fprintf(stderr, "socktrace: %llu events (%llu existing sockets), %llu lost, %llu filtered\n",
		(unsigned long long)pl->stats.events, (unsigned long long)pl->stats.snapshot,
		(unsigned long long)pl->stats.lost, (unsigned long long)pl->stats.filtered);
	return 0;
}

/* The sink of -j or the text output, with its --cgroup-column. */
static struct sink *output_sink(const struct opts *o, const struct services *svc)
{
	struct sink *s;

	if (o->json)
		return sink_json__new(stdout, svc);
	s = sink_text__new(stdout, svc);
	if (s && o->cgroup_column)
		sink_text__set_cgroup_column(s, true);
	return s;
}

/* Cgroup paths and container names, as options or expression terms, name
 * what exists on this host: a typo would silently show nothing. A container
 * that starts later can still match by its id or name; one that names two
 * is ambiguous. */
static int check_owner_term(void *ctx, const char *kind, const char *value)
{
	struct cgroups *c = ctx;
	int n;

	if (!strcmp(kind, "cgroup") && !cgroups__path_exists(c, value)) {
		report__error("no cgroup %s on this host", value);
		return -ENOENT;
	}
	if (!strcmp(kind, "container") && (n = cgroups__count_containers(c, value)) > 1) {
		report__error("container %s is ambiguous: it names %d containers", value, n);
		return -EINVAL;
	}
	return 0;
}

static int check_cgroup_filters(struct cgroups *c, const struct filter *f)
{
	return filter__each_owner_term(f, check_owner_term, c);
}

/* --metrics: counters, and the server that answers scrapes from now on.
 * NULL if that failed (the reason has been printed). */
static struct metrics *metrics_open(const struct opts *o)
{
	struct metrics_info info = {
		.version = SOCKTRACE_VERSION,
		.libbpf = libbpf_version_string(),
		.ringbuf_bytes = (uint64_t)o->ringbuf_kb * 1024,
		.by = o->metrics_by,
		.cap = o->metrics_cap,
	};
	struct metrics *m;
	struct utsname u;
	int err;

	info.kernel = uname(&u) ? "" : u.release;
	m = metrics__new(&info);
	if (!m) {
		report__error("failed to create the metrics: %s", strerror(errno));
		return NULL;
	}
	err = metrics__listen(m, (const struct sockaddr *)&o->metrics_addr, o->metrics_addrlen);
	if (err) {
		report__error("failed to serve metrics on %s: %s%s", o->metrics, strerror(-err),
			      err == -EADDRINUSE ? " (another process listens on that port)" :
			      err == -ELIBACC ? " (libmicrohttpd: Debian package libmicrohttpd12)" : "");
		metrics__free(m);
		return NULL;
	}
	return m;
}

/* -r: no BPF and no privileges, the same pipeline as live. */
static int replay_main(struct opts *o)
{
	uint64_t syn_alert_ns = o->syn_alert_ms * 1000000ull;
	struct attempts *attempts;
	struct recorder *rec = NULL;
	struct services *svc = NULL;
	struct dnsnames *names = NULL;
	struct dnsqueries *dq = NULL;
	struct replay rp;
	struct pipeline pl;
	int err, ret = 1;

	if (replay__open(&rp, o->read_paths, o->n_reads))
		return 1;
	pipeline__init(&pl, &o->filter, o->count);
	pl.kinds = display_kinds(o);
	/* the live run's threshold, as its recording says, unless given */
	if (!o->syn_alert_set && reader__header(rp.readers[0])->syn_alert_ns)
		syn_alert_ns = reader__header(rp.readers[0])->syn_alert_ns;
	attempts = attempts__new(syn_alert_ns);
	err = pipeline__add_stage(&pl, attempts ? attempts__stage(attempts) : NULL);
	if (err) {
		attempts__free(attempts);
		report__error("failed to create the attempt tracker: %s", strerror(-err));
		goto out;
	}
	if (dns_stage_add(&pl, o, &dq))
		goto out;
	/* -n: no table, no names shown (host NAME still matches) */
	svc = o->numeric ? NULL : services__load("/etc/services", "tcp");
	if (names_open(&pl, o, &names))
		goto out;
	err = 0;
	if (!o->quiet)
		err = pipeline__add_sink(&pl, output_sink(o, svc));
	if (err) {
		report__error("failed to create output: %s", strerror(-err));
		goto out;
	}
	catch_signals();
	if (o->write_path) {
		const struct rec_header *h = reader__header(rp.readers[0]);
		struct rec_input inputs[OPTS_MAX_FILES];
		bool usage = false;

		for (int i = 0; i < rp.n; i++) {
			inputs[i].path = rp.paths[i];
			err = reader__file_id(rp.readers[i], &inputs[i]);
			if (err) {
				report__error("failed to read recording '%s': %s",
					      rp.paths[i], strerror(-err));
				goto out;
			}
		}
		rec = add_recorder(&pl, o, h->have_ref ? &h->ref : NULL, h, NULL, inputs, rp.n,
				   syn_alert_ns, &usage);
		if (!rec) {
			if (usage)
				ret = EXIT_USAGE;
			goto out;
		}
	}
	err = replay__run(&rp, &pl, &o->since, &o->until, &exiting);
	pl.stats.lost = rp.lost;
	pl.stats.elapsed_ns = rp.last_wall - rp.first_wall;
	pl.stats.udp_flows = rp.udp_flows;
	pl.stats.udp_uncounted = rp.udp_uncounted;
	pl.stats.udp_uncounted_bytes = rp.udp_uncounted_bytes;
	pl.stats.gaps = rp.gaps;
	pl.stats.missed = rp.missed;
	ret = finish(&pl, o, svc, rec, dq, rp.end_boot, rp.end_wall, false);
	rec = NULL;
	if (err)
		ret = 1;
out:
	recorder__close(rec, NULL);
	pipeline__free(&pl);
	dnsnames__free(names);
	replay__close(&rp);
	services__free(svc);
	return ret;
}

/* Loads and attaches what the probes selected; NULL, l closed, if that
 * fails. libbpf takes the probes' vmlinux BTF, and its CO-RE relocations
 * search only the part of it they can reach. */
static struct live *start_tracing(struct live *l, const struct live_opts *lo, struct probe *p,
				  struct pipeline *pl, const struct clock_ref *ref, int *failed)
{
	int err;

	if (!l)
		return NULL;
	err = live__core_btf(l, p->btf, lo->verbose);
	if (err) {
		report__error("failed to write the kernel's BTF for libbpf: %s", strerror(-err));
		live__close(l);
		return NULL;
	}
	probe__lend_btf(p);
	if (live__start(l, lo, p, pl, ref, failed)) {
		live__close(l);
		return NULL;
	}
	return l;
}

int main(int argc, char **argv)
{
	uint64_t counters[ST_CNT__MAX] = {}, start_ns, deadline_ns = 0;
	struct services *svc = NULL;
	struct dnsnames *names = NULL;
	struct dnsqueries *dq = NULL;
	struct owners *owners = NULL;
	struct attempts *attempts = NULL;
	struct diagnoser diag;
	struct probe probe = {};
	struct pipeline pl;
	struct clock_ref ref;
	struct live *live = NULL;
	struct live_opts lo;
	struct recorder *rec = NULL;
	struct run_as run_as, *ra = NULL;
	struct cgroups *cgroups = NULL;
	struct cgroup_skip_ctx skip_ctx = {};
	struct metrics *metrics = NULL;
	uint64_t stats_ns = 0, metrics_ns = 0, now;
	unsigned int wanted;
	bool usage = false, closed = false, watch_stdout;
	struct opts o;
	char msg[PATH_MAX + 256];
	int err, ret = 1, failed, selected[CONCERN__MAX];

	report__set_journal(notify__stderr_is_journal());
	opts__init(&o);
	pipeline__init(&pl, &o.filter, 0);
	if (opts__parse(&o, argc, argv, msg, sizeof(msg))) {
		fprintf(stderr, "%ssocktrace: %s\nTry 'socktrace --help' for more information.\n",
			notify__stderr_is_journal() ? "<3>" : "", msg);
		return EXIT_USAGE;
	}
	if (o.help) {
		opts__usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("socktrace %s (libbpf %s)\n", SOCKTRACE_VERSION, libbpf_version_string());
		return 0;
	}
	if (o.n_info) {
		ret = 0;
		for (int i = 0; i < o.n_info; i++) {
			if (i)
				printf("\n");
			ret |= info__print(o.info_paths[i], stdout);
		}
		err = fflush(stdout) ? -errno : ferror(stdout) ? -EIO : 0;
		if (err) {
			report__error("failed to write output: %s", strerror(-err));
			ret = 1;
		}
		opts__free(&o);
		return ret;
	}
	/* large writes: under a connection storm the output is the hot path;
	 * set before anything is written to stdout, an error object included */
	setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
	if (o.json)
		report__set_json(stdout);
	if (o.n_reads) {
		ret = replay_main(&o);
		opts__free(&o);
		return ret;
	}
	if (o.user) {
		if (run_as__resolve(&run_as, o.user, msg, sizeof(msg))) {
			fprintf(stderr, "socktrace: %s\nTry 'socktrace --help' for more information.\n", msg);
			opts__free(&o);
			return EXIT_USAGE;
		}
		ra = &run_as;
	}
	verbose = o.verbose;
	libbpf_set_print(libbpf_print);

	if (check_privileges()) {
		report__error("permission denied: run as root, or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN");
		return 1;
	}
	if (!o.btf_path && access("/sys/kernel/btf/vmlinux", R_OK)) {
		report__error("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): "
			      "it needs CONFIG_DEBUG_INFO_BTF=y, or give the kernel's BTF with --btf FILE");
		return 1;
	}
	if (o.btf_path && check_btf_file(o.btf_path))
		return 1;

	/* --probes: the DNS query hook too, which only --dns attaches */
	wanted = wanted_concerns(&o.filter, o.dns_cache, o.dns || o.probes);
	if (!wanted) {
		report__error("the filter matches no protocol: --state selects TCP only");
		opts__free(&o);
		return EXIT_USAGE;
	}
	/* before anything is loaded: a port in use fails the run at once */
	if (o.metrics && !o.probes && !(metrics = metrics_open(&o)))
		goto cleanup;
	if (!o.probes) {
		cgroups = cgroups__new();
		if (!cgroups) {
			report__error("failed to set up cgroup names: %s", strerror(errno));
			goto cleanup;
		}
		if (check_cgroup_filters(cgroups, &o.filter)) {
			ret = EXIT_USAGE;
			goto cleanup;
		}
		if (verbose) {
			cgroups__describe(cgroups, msg, sizeof(msg));
			fprintf(stderr, "socktrace: %s\n", msg);
		}
		pipeline__set_cgroups(&pl, cgroups);
	}
	live_opts_of(&lo, &o);
	/* its maps are created while the probes run */
	if (!o.probes) {
		live = live__new(&lo);
		if (!live)
			goto cleanup;
	}
	err = probe__run(&probe, o.hook, o.probes, wanted);
	if (o.probes) {
		probe__print(&probe, stdout, o.json);
		probe__free(&probe);
		return 0;
	}
	report_no_hook(&probe, o.hook);
	if (fatal_no_hook(&probe) || err)
		goto cleanup;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		report__error("this kernel has no BPF ring buffer (Linux 5.8 or later is needed)");
		goto cleanup;
	}
	if (ra && run_as__check(ra, &o))
		goto cleanup;

	clock_ref__init(&ref);
	/* -n: no table, no names shown (host NAME still matches) */
	svc = o.numeric ? NULL : services__load("/etc/services", "tcp");
	if (metrics)
		metrics__set_services(metrics, svc);
	if (names_open(&pl, &o, &names))
		goto cleanup;
	pl.limit = o.count;
	pl.kinds = display_kinds(&o);
	attempts = attempts__new(o.syn_alert_ms * 1000000ull);
	err = pipeline__add_stage(&pl, attempts ? attempts__stage(attempts) : NULL);
	if (err) {
		attempts__free(attempts);
		report__error("failed to create the attempt tracker: %s", strerror(-err));
		goto cleanup;
	}
	if (dns_stage_add(&pl, &o, &dq))
		goto cleanup;
	/* after the attempt tracker: the metrics count its outcomes and alerts */
	if (metrics && (err = pipeline__add_stage(&pl, metrics__stage(metrics)))) {
		report__error("failed to add the metrics: %s", strerror(-err));
		goto cleanup;
	}
	err = 0;
	if (!o.quiet)
		err = pipeline__add_sink(&pl, output_sink(&o, svc));
	if (err) {
		report__error("failed to create output: %s", strerror(-err));
		goto cleanup;
	}
	/* from here on a signal ends the run cleanly */
	catch_signals();
	if (o.write_path) {
		rec = add_recorder(&pl, &o, &ref, NULL, ra, NULL, 0, o.syn_alert_ms * 1000000ull,
				   &usage);
		if (!rec)
			goto cleanup;
	}
	watch_stdout = !o.quiet || (o.write_path && !strcmp(o.write_path, "-"));

	start_ns = clock_ref__boot_now();
	failed = -1;
	live = start_tracing(live, &lo, &probe, &pl, &ref, &failed);
	/* a variant that probed fine may still need what this kernel lacks,
	 * or load and not attach; a ring buffer the kernel refuses is none
	 * of that */
	if (!live && failed < 0 && check_ringbuf(o.ringbuf_kb))
		goto cleanup;
	memcpy(selected, probe.selected, sizeof(selected));
	/* under --hook too: an optional concern that fails is dropped, with
	 * a warning, rather than ending the run */
	while (!live && probe__fall_back(&probe, failed)) {
		if (failed >= 0)
			fprintf(stderr, "socktrace: %s did not load or attach: retrying with the next hook variants\n",
				concerns[failed].name);
		else
			fprintf(stderr, "socktrace: retrying with the next hook variants\n");
		failed = -1;
		live = start_tracing(live__new(&lo), &lo, &probe, &pl, &ref, &failed);
	}
	if (!live)
		goto cleanup;
	/* what the retries left without a hook says so, as probing does */
	for (int c = 0; c < CONCERN__MAX; c++)
		if (selected[c] >= 0 && probe.selected[c] < 0)
			report__warning("no hook for %s: %s (its programs did not load with the others; -v shows why)",
					concerns[c].name, concerns[c].without);
	for (int c = 0; metrics && c < CONCERN__MAX; c++)
		if ((wanted & CONCERN_BIT(c)) && probe.selected[c] >= 0)
			metrics__set_hook(metrics, concerns[c].name,
					  concerns[c].variants[probe.selected[c]].label);
	probe__free(&probe);
	if (o.duration > 0)
		deadline_ns = start_ns + (uint64_t)(o.duration * 1e9);

	/* Attached first, then listed: a socket that changes state meanwhile
	 * shows up twice rather than not at all. Listed even when not shown,
	 * so that the kernel side knows the owners of existing sockets. */
	owners = owners__scan("/proc");
	if (!owners) {
		report__error("failed to scan /proc: %s", strerror(errno));
		goto cleanup;
	}
	live__set_owners(live, owners);
	skip_ctx.live = live;
	skip_ctx.filter = &o.filter;
	if (lo.cgroup_skip)
		cgroups__set_new_id_fn(cgroups, skip_rejected_cgroup, &skip_ctx);
	{
		struct snapshot_ctx sc = { .live = live, .pl = o.snapshot ? &pl : NULL };
		struct snapshot_gaps gaps;

		err = snapshot__run(owners, &ref, protos_of(wanted), snapshot_push, &sc, &gaps);
		if (err && !pl.err)
			report__warning("failed to list existing sockets: %s",
					strerror(-err));
		/* the counters of the connections just listed */
		if (o.snapshot && !pl.done) {
			err = live__conns_now(live);
			if (err && !pl.err)
				report__warning("failed to read the counters of existing connections: %s",
						strerror(-err));
		}
		/* without CAP_SYS_ADMIN or CAP_SYS_PTRACE: what is missing, once */
		snapshot__warn(&gaps);
		if (sc.seed_err)
			report__warning("failed to pass the owners of existing sockets to the kernel: %s",
					strerror(-sc.seed_err));
		if (live__seeds_full(live))
			report__warning("%llu existing sockets were too many to pass their owners to the kernel: their events after their owner closes them show no owner",
					(unsigned long long)live__seeds_full(live));
	}
	diagnoser__init(&diag, live__listener_owner, live, owners);
	attempts__set_diagnoser(attempts, diagnoser__run, &diag);
	pipeline__flush(&pl);
	/* attached and listed: what is left needs no privileges (-Z) */
	if (ra && run_as__drop(ra, msg, sizeof(msg))) {
		report__error("%s", msg);
		goto cleanup;
	}
	/* tests and scripts wait for this line: every later transition is seen */
	fprintf(stderr, "socktrace: tracing %s (", (wanted & CONCERNS_UDP) && probe.selected[CONCERN_UDP] >= 0 ?
		(wanted & CONCERNS_TCP ? "TCP and UDP" : "UDP") : "TCP");
	for (int c = 0, n = 0; c < CONCERN__MAX; c++)
		if (wanted & CONCERN_BIT(c))
			fprintf(stderr, "%s%s", n++ ? "; " : "", probe.selected[c] >= 0 ?
				concerns[c].variants[probe.selected[c]].label : "-");
	fprintf(stderr, "), Ctrl-C to stop\n");
	/* Type=notify: the service is up once every program is attached */
	if (notify__enabled() && (err = notify__send("READY=1\nSTATUS=tracing")))
		report__warning("failed to notify the service manager: %s", strerror(-err));

	now = clock_ref__boot_now();
	while (!exiting && !pl.done) {
		int timeout = POLL_MS;

		if (reload) {
			reload = 0;
			if (service_reload(rec))
				goto cleanup;
		}

		if (deadline_ns) {
			uint64_t now = clock_ref__boot_now();

			if (now >= deadline_ns)
				break;
			if ((deadline_ns - now) / 1000000 < (uint64_t)timeout)
				timeout = (deadline_ns - now) / 1000000 + 1;
		}
		err = live__poll(live, timeout, &now);
		if (err < 0) {
			report__error("failed to poll ring buffer: %s", strerror(-err));
			goto cleanup;
		}
		/* everything before now was fed: what is due by then may go */
		pipeline__tick(&pl, clock_ref__wall(&ref, now));
		/* a failed write ends the pipeline, and so the loop */
		pipeline__flush(&pl);
		if (watch_stdout && output_closed(STDOUT_FILENO)) {
			closed = true;
			break;
		}
		/* what the kernel counts is read at most 4 times a second */
		if (metrics && now - metrics_ns >= 250000000ull) {
			struct stats st = pl.stats;

			metrics_ns = now;
			live__counters(live, counters);
			counters_to_stats(&st, live, counters);
			metrics__set_stats(metrics, &st, counters[ST_CNT_FILTERED]);
		}
		/* a statistics block a second: lost events show up in the file */
		if (rec && !pl.done && now - stats_ns >= 1000000000ull) {
			struct rec_stats rs;
			struct stats st = pl.stats;

			stats_ns = now;
			live__counters(live, counters);
			counters_to_stats(&st, live, counters);
			st.filtered += counters[ST_CNT_FILTERED];
			st.elapsed_ns = stats_ns - start_ns;
			/* at the time the stages were ticked to */
			rec_stats_of(&rs, &st, now);
			err = recorder__stats(rec, &rs);
			/* -w - into a pipe whose reader is gone */
			if (err == -EPIPE && !strcmp(recorder__path(rec), "-")) {
				closed = true;
				break;
			}
			if (err) {
				report_rec_error(rec, recorder__path(rec), err);
				goto cleanup;
			}
		}
	}

	/* Stop producing, then take what is still queued (nobody reads a
	 * closed output). */
	notify__send("STOPPING=1");
	live__detach(live);
	if (!pl.done && !closed)
		live__drain(live, &now);
	/* the totals of flows still active: the end of a recording has them */
	if (!pl.done && !closed)
		live__finish(live, now);
	live__counters(live, counters);
	counters_to_stats(&pl.stats, live, counters);
	pl.stats.filtered += counters[ST_CNT_FILTERED];
	pl.stats.elapsed_ns = now - start_ns;
	if (verbose)
		fprintf(stderr, "socktrace: %llu events filtered in the kernel, %llu cgroups skipped there\n",
			(unsigned long long)counters[ST_CNT_FILTERED],
			(unsigned long long)live__cgroups_skipped(live));
	/* the end of the source's clock: the recording's end block has it */
	ret = finish(&pl, &o, svc, rec, dq, now, clock_ref__wall(&ref, now), true);
	rec = NULL;
cleanup:
	if (usage)
		ret = EXIT_USAGE;
	recorder__close(rec, NULL);
	/* the live source last: it joins the detaches still waiting for RCU,
	 * and the rest is freed meanwhile */
	pipeline__free(&pl);
	/* after the pipeline, whose stage it was */
	metrics__free(metrics);
	dnsnames__free(names);
	if (verbose && cgroups__gone(cgroups))
		fprintf(stderr, "socktrace: %llu processes exited before their cgroup could be read\n",
			(unsigned long long)cgroups__gone(cgroups));
	if (verbose && cgroups) {
		uint64_t lookups, slowest_ns;

		cgroups__timing(cgroups, &lookups, &slowest_ns);
		fprintf(stderr, "socktrace: %llu cgroups named, the slowest in %.0f us\n",
			(unsigned long long)lookups, slowest_ns / 1e3);
	}
	cgroups__free(cgroups);
	owners__free(owners);
	services__free(svc);
	live__close(live);
	probe__free(&probe);
	opts__free(&o);
	return ret;
}
