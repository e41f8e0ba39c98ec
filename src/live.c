// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/btf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "btfmin.h"
#include "live.h"
#include "owners.h"
#include "report.h"
#include "resets.h"
#include "tcpconns.h"
#include "udpflows.h"
#include "socktrace.skel.h"

#define LIVE_MAX_CGROUP_LINKS 16
#define LIVE_MAX_SLOW_LINKS 16
#define LIVE_PIDS_SEEN 256	/* listeners' owners whose exit was asked */
#define HEIR_RECHECK_NS 100000000ull
#define LIVE_MAX_EARLY_MAPS 16

struct live {
	struct socktrace_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *cg_links[LIVE_MAX_CGROUP_LINKS];
	int n_cg_links;
	uint64_t cgroups_skipped;	/* entries put in cgroup_skip */
	struct pid_seen {
		uint32_t pid;
		bool gone;
		uint64_t checked_ns;
	} pids_seen[LIVE_PIDS_SEEN];
	pthread_t slow[LIVE_MAX_SLOW_LINKS];	/* detaching, joined at close */
	int n_slow;
	struct udpflows *udp;
	struct tcpconns *conns;	/* --interval updates of TCP connections */
	struct resets *resets;	/* end records waiting for their reset reason */
	struct pipeline *pl;
	const struct clock_ref *ref;
	const struct owners *owners;
	uint64_t bad_records;
	uint64_t seeds_full;	/* startup sockets the seeds map had no room for */
	/* maps created before the load, largest first (live__new()) */
	struct bpf_map *early[LIVE_MAX_EARLY_MAPS];
	int early_fd[LIVE_MAX_EARLY_MAPS];	/* fd, or -errno */
	int n_early;
	int next_early;		/* the next to create, by either thread */
	pthread_t early_thread;
	bool early_running;
	/* the BTF libbpf relocates against (btf_custom_path), written before
	 * the load: -1 when --btf names one */
	int core_btf_fd;
	bool core_btf_written;
	char core_btf_path[32];
};

static int live__push(void *ctx, struct event *ev)
{
	struct live *l = ctx;

	/* once the pipeline is done (count limit, sink error) it drops events */
	pipeline__push(l->pl, ev);
	return 0;
}

/* The kernel side's entry of the listener on addr (key holds the rest):
 * the exact address, then the wildcard of its family; key is left as found. */
static int live__listener_get(struct live *l, struct st_listener_key *key,
			      const struct in6_addr *addr, struct st_sock_info *li)
{
	int err;

	memcpy(key->addr, addr, key->family == AF_INET ? 4 : 16);
	err = bpf_map__lookup_elem(l->skel->maps.listeners, key, sizeof(*key), li, sizeof(*li), 0);
	if (err) {
		memset(key->addr, 0, sizeof(key->addr));
		err = bpf_map__lookup_elem(l->skel->maps.listeners, key, sizeof(*key),
					   li, sizeof(*li), 0);
	}
	return err;
}

/* Whether pid has exited: asked at most every HEIR_RECHECK_NS per pid
 * (a small cache; a zombie counts as alive until reaped). */
static bool live__pid_gone(struct live *l, uint32_t pid, uint64_t now)
{
	struct pid_seen *ps = &l->pids_seen[pid % LIVE_PIDS_SEEN];

	if (ps->pid != pid || now - ps->checked_ns >= HEIR_RECHECK_NS) {
		ps->pid = pid;
		ps->checked_ns = now;
		ps->gone = kill(pid, 0) && errno == ESRCH;
	}
	return ps->gone;
}

/* A child a listener gave the owner that called listen(), and that process
 * has exited: a daemon forked after listen() and has not accept()ed yet
 * (nginx, dnsmasq). Names the process holding the listener now, the one
 * `ss -tlnp` names, and tells the kernel side, whose next children carry
 * it. Found by a scan of /proc, once per listener and exited owner. */
static void live__listener_heir(struct live *l, struct event *ev)
{
	struct st_listener_key key = { .netns = ev->netns, .port = ev->lport, .family = ev->family };
	char comm[TASK_COMM_LEN + 1];
	struct st_sock_info li;
	uint32_t pid;
	int err;

	if (!live__pid_gone(l, ev->pid, clock_ref__boot_now()))
		return;
	err = live__listener_get(l, &key, &ev->laddr, &li);
	if (err || !li.listen_ino)
		return;
	if (li.pid == ev->pid) {
		struct st_sock_info now;
		uint32_t heir;

		if (owners__holder("/proc", li.listen_ino, &heir, comm)) {
			/* nobody: not scanned for again */
			li.listen_ino = 0;
		} else {
			li.pid = li.tid = heir;
			memcpy(li.comm, comm, sizeof(li.comm));
			li.owner_src = ST_OWNER_SNAPSHOT;
			/* the heir's cgroup and namespace pid: from /proc, until
			 * its accept() tells the kernel side */
			li.cgroup_id = 0;
			li.vpid = 0;
		}
		/* an accept() during the scan named the owner first: that one wins */
		if (!bpf_map__lookup_elem(l->skel->maps.listeners, &key, sizeof(key), &now,
					  sizeof(now), 0) && now.pid != ev->pid)
			li = now;
		else
			bpf_map__update_elem(l->skel->maps.listeners, &key, sizeof(key), &li,
					     sizeof(li), BPF_EXIST);
		if (!li.listen_ino)
			return;
	}
	/* the heir, or whom an accept() named since this child was born */
	pid = li.pid;
	memcpy(comm, li.comm, TASK_COMM_LEN);
	comm[TASK_COMM_LEN] = '\0';
	ev->pid = ev->tid = pid;
	memcpy(ev->comm, comm, sizeof(ev->comm));
	ev->cgroup_id = li.cgroup_id;
	ev->vpid = li.vpid;
}

static int live__handle(void *ctx, void *data, size_t size)
{
	const struct st_udp_event *ue = data;
	const struct st_tcp_reset_event *re = data;
	struct live *l = ctx;
	struct event ev;

	if (size >= sizeof(*re) && re->type == ST_EVENT_TCP_RESET) {
		if (l->resets)
			resets__reset(l->resets, re->skaddr, re->reason);
		return 0;
	}
	if (size >= sizeof(*ue) && ue->type == ST_EVENT_UDP_START) {
		if (l->udp)
			udpflows__start(l->udp, ue);
		return 0;
	}
	if (size >= sizeof(*ue) && ue->type == ST_EVENT_UDP_CLOSE) {
		if (l->udp)
			udpflows__close(l->udp, ue->key.skaddr, ue->ts_ns);
		return 0;
	}
	if (event__decode(&ev, data, size, l->ref)) {
		l->bad_records++;
		return 0;
	}
	/* a namespace created after the startup scan: its connections too */
	if (l->conns && ev.kind == EVENT_TCP_STATE && ev.pid)
		tcpconns__learn(l->conns, ev.netns, ev.pid);
	if (ev.owner_src == ST_OWNER_LISTENER && ev.pid)
		live__listener_heir(l, &ev);
	if (!ev.pid && owners__lookup(l->owners, ev.ino, &ev.pid, ev.comm)) {
		ev.tid = ev.pid;
		ev.owner_src = ST_OWNER_SNAPSHOT;
	}
	if (l->resets && ev.kind == EVENT_TCP_CONN && ev.conn.event == TCP_CONN_END)
		return resets__end(l->resets, &ev);
	return live__push(l, &ev);
}

static int live__fill_filters(struct live *l, const struct filter *f)
{
	__u8 one = 1;
	int err;

	for (int i = 0; i < f->n_pids; i++) {
		err = bpf_map__update_elem(l->skel->maps.filter_pids, &f->pids[i],
					   sizeof(f->pids[i]), &one, sizeof(one), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

/* The skeleton cannot attach cgroup programs: they go on the root of the
 * cgroup v2 hierarchy, where they see every process's sockets. */
static int live__attach_cgroup(struct live *l, const char *cgroup2, const char **failed)
{
	struct bpf_program *prog;
	int fd, err = 0;

	fd = cgroup2[0] ? open(cgroup2, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	bpf_object__for_each_program(prog, l->skel->obj) {
		enum bpf_prog_type type = bpf_program__type(prog);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) ||
		    (type != BPF_PROG_TYPE_CGROUP_SOCK && type != BPF_PROG_TYPE_CGROUP_SOCK_ADDR &&
		     type != BPF_PROG_TYPE_CGROUP_SKB && type != BPF_PROG_TYPE_CGROUP_SOCKOPT))
			continue;
		if (fd < 0 || l->n_cg_links == LIVE_MAX_CGROUP_LINKS) {
			err = fd < 0 ? -ENOENT : -E2BIG;
			*failed = bpf_program__name(prog);
			break;
		}
		link = bpf_program__attach_cgroup(prog, fd);
		if (!link) {
			err = -errno;
			*failed = bpf_program__name(prog);
			break;
		}
		l->cg_links[l->n_cg_links++] = link;
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* The program the skeleton's attach stopped at: the first one it attaches
 * that has no link. */
static const char *live__unattached(const struct live *l)
{
	const struct bpf_object_skeleton *s = l->skel->skeleton;

	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *prog = *s->progs[i].prog;
		enum bpf_prog_type type = bpf_program__type(prog);

		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog) ||
		    *s->progs[i].link || type == BPF_PROG_TYPE_CGROUP_SOCK ||
		    type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR || type == BPF_PROG_TYPE_CGROUP_SKB)
			continue;
		return bpf_program__name(prog);
	}
	return NULL;
}

/* Maps whose creation costs: the kernel preallocates and walks every
 * element of a hash map (bpf_lru_populate(), pcpu_freelist_populate()),
 * 10 to 30 ms for the larger ones on a VM whose fresh pages are slow. */
static bool live__map_early(const struct bpf_map *map)
{
	switch (bpf_map__type(map)) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_RINGBUF:
		return bpf_map__autocreate(map) && !bpf_map__is_internal(map);
	default:
		return false;
	}
}

static size_t live__map_bytes(const struct bpf_map *map)
{
	return (size_t)bpf_map__max_entries(map) * (bpf_map__key_size(map) + bpf_map__value_size(map));
}

/* Creates the next early map not taken yet; false when none is left. The
 * map has no BTF of its key and value: none of them holds a field that
 * needs it (lock, timer, kptr). */
static bool live__create_early_map(struct live *l)
{
	int i = __atomic_fetch_add(&l->next_early, 1, __ATOMIC_RELAXED);
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct bpf_map *map;
	int fd;

	if (i >= l->n_early)
		return false;
	map = l->early[i];
	opts.map_flags = bpf_map__map_flags(map);
	opts.numa_node = bpf_map__numa_node(map);
	opts.map_extra = bpf_map__map_extra(map);
	fd = bpf_map_create(bpf_map__type(map), bpf_map__name(map), bpf_map__key_size(map),
			    bpf_map__value_size(map), bpf_map__max_entries(map), &opts);
	l->early_fd[i] = fd < 0 ? -errno : fd;
	return true;
}

static void *live__early_maps_thread(void *arg)
{
	while (live__create_early_map(arg))
		;
	return NULL;
}

/* Creates the costly maps in a thread while the caller probes. */
static void live__start_early_maps(struct live *l)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, l->skel->obj) {
		int i = l->n_early;

		if (!live__map_early(map) || l->n_early == LIVE_MAX_EARLY_MAPS)
			continue;
		/* largest first: the last one left to the loader is a small one */
		for (; i > 0 && live__map_bytes(l->early[i - 1]) < live__map_bytes(map); i--)
			l->early[i] = l->early[i - 1];
		l->early[i] = map;
		l->n_early++;
	}
	for (int i = 0; i < l->n_early; i++)
		l->early_fd[i] = -ENOENT;
	/* without the thread, live__start() creates them all */
	l->early_running = !pthread_create(&l->early_thread, NULL, live__early_maps_thread, l);
}

static void live__join_early_maps(struct live *l)
{
	if (l->early_running)
		pthread_join(l->early_thread, NULL);
	l->early_running = false;
}

/* Joins the map thread, helping it first. A map that failed is left to
 * libbpf, which reports its error as it would have. */
static int live__take_early_maps(struct live *l)
{
	int err = 0;

	while (live__create_early_map(l))
		;
	live__join_early_maps(l);
	for (int i = 0; i < l->n_early; i++) {
		if (l->early_fd[i] < 0)
			continue;
		if (!err)
			err = bpf_map__reuse_fd(l->early[i], l->early_fd[i]);
		close(l->early_fd[i]);
		l->early_fd[i] = -ENOENT;
	}
	l->n_early = 0;
	return err;
}

struct live *live__new(const struct live_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = o->btf_path);
	size_t rb_size = (size_t)o->ringbuf_kb * 1024;
	struct live *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	/* libbpf reads the file by its path at load time, after
	 * live__core_btf(); without /proc, libbpf's whole BTF */
	l->core_btf_fd = o->btf_path || access("/proc/self/fd", X_OK) ? -1 :
			 memfd_create("socktrace-core-btf", MFD_CLOEXEC);
	if (l->core_btf_fd >= 0) {
		snprintf(l->core_btf_path, sizeof(l->core_btf_path), "/proc/self/fd/%d",
			 l->core_btf_fd);
		open_opts.btf_custom_path = l->core_btf_path;
	}
	l->skel = socktrace_bpf__open_opts(&open_opts);
	if (!l->skel) {
		err = -errno;
		report__error("failed to open BPF object: %s", strerror(-err));
		goto fail;
	}
	err = bpf_map__set_max_entries(l->skel->maps.events, rb_size);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.udp_flows, o->udp_flows);
	/* a socket with flows has at least one */
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.udp_socks, o->udp_flows);
	if (!err && !o->cgroup_skip)
		err = bpf_map__set_max_entries(l->skel->maps.cgroup_skip, 1);
	if (err) {
		report__error("failed to configure BPF object: %s", strerror(-err));
		goto fail;
	}
	live__start_early_maps(l);
	return l;
fail:
	live__close(l);
	errno = -err;
	return NULL;
}

static int live__write_core_btf(struct live *l, const struct btf *btf)
{
	const char *data;
	__u32 size, off = 0;

	data = btf__raw_data(btf, &size);
	if (!data)
		return -errno;
	while (off < size) {
		ssize_t n = pwrite(l->core_btf_fd, data + off, size - off, off);

		if (n < 0)
			return -errno;
		off += n;
	}
	l->core_btf_written = true;
	return 0;
}

int live__core_btf(struct live *l, const struct btf *vmlinux, bool verbose)
{
	struct btf *min;
	int err;

	if (l->core_btf_fd < 0 || l->core_btf_written || !vmlinux)
		return 0;
	min = btfmin__new(bpf_object__btf(l->skel->obj), vmlinux);
	if (!min) {
		err = -errno;
		report__warning("failed to reduce the kernel's BTF for CO-RE: %s", strerror(-err));
		return live__write_core_btf(l, vmlinux);
	}
	if (verbose)
		fprintf(stderr, "socktrace: CO-RE relocates against %u of the kernel's %u BTF types\n",
			btf__type_cnt(min) - 1, btf__type_cnt(vmlinux) - 1);
	err = live__write_core_btf(l, min);
	btf__free(min);
	return err;
}

/* Without the probes' BTF (they could not parse it): a parse of its own,
 * reduced the same way. */
static int live__core_btf_parse(struct live *l)
{
	struct btf *btf;
	int err;

	if (l->core_btf_fd < 0 || l->core_btf_written)
		return 0;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return -errno;
	err = live__core_btf(l, btf, false);
	btf__free(btf);
	return err;
}

int live__start(struct live *l, const struct live_opts *o, const struct probe *p,
		struct pipeline *pl, const struct clock_ref *ref, int *failed)
{
	const char *failed_prog = NULL;
	const struct filter *f = &o->filter;
	size_t rb_size = (size_t)o->ringbuf_kb * 1024;
	int err;

	l->pl = pl;
	l->ref = ref;
	l->skel->rodata->filter_family = f->family;
	l->skel->rodata->filter_pids_on = f->n_pids > 0;
	l->skel->rodata->filter_ports_on = f->n_ports > 0;
	for (int i = 0; i < f->n_ports; i++)
		l->skel->rodata->filter_port_bits[f->ports[i] >> 6] |= 1ULL << (f->ports[i] & 63);
	l->skel->rodata->filter_states = f->states;
	l->skel->rodata->filter_cgroups_on = o->cgroup_skip;
	l->skel->rodata->trace_start_ns = clock_ref__boot_now();
	l->skel->rodata->conn_retrans_on = o->retrans;
	/* batch wakeups: at most 16 per buffer's worth of data */
	l->skel->rodata->wakeup_bytes = rb_size / 16;
	l->skel->rodata->recv_flags_arg = p->recv_flags_arg;
	l->skel->rodata->listen_nargs = p->listen_nargs;
	l->skel->rodata->tcp_io_on = p->selected[CONCERN_TCP_IO] >= 0;
	l->skel->rodata->udp_io_on = p->selected[CONCERN_UDP] >= 0;
	/* the tracepoints see a listener's child born; tcp_set_state() not */
	if (p->selected[CONCERN_TCP_STATE] >= 0) {
		enum hook_kind k = concerns[CONCERN_TCP_STATE].variants[p->selected[CONCERN_TCP_STATE]].kind;

		l->skel->rodata->births_seen = k == HOOK_TP_BTF || k == HOOK_TRACEPOINT;
	}
	err = probe__apply(p, l->skel, &failed_prog);
	if (err) {
		report__error("failed to select BPF program %s: %s", failed_prog,
			      strerror(-err));
		return err;
	}
	err = live__take_early_maps(l);
	if (err) {
		report__error("failed to create BPF maps: %s", strerror(-err));
		return err;
	}
	err = live__core_btf_parse(l);
	if (err) {
		report__error("failed to read the kernel's BTF: %s", strerror(-err));
		return err;
	}

	err = socktrace_bpf__load(l->skel);
	/* read by now: its memory back */
	if (l->core_btf_fd >= 0)
		close(l->core_btf_fd);
	l->core_btf_fd = -1;
	if (err) {
		report__error("failed to load BPF programs: %s%s", strerror(-err),
			      o->verbose ? "" : " (run with -v for the verifier's log)");
		return err;
	}
	err = live__fill_filters(l, f);
	if (err) {
		report__error("failed to set kernel filters: %s", strerror(-err));
		return err;
	}
	err = socktrace_bpf__attach(l->skel);
	if (err)
		failed_prog = live__unattached(l);
	else
		err = live__attach_cgroup(l, p->cgroup2, &failed_prog);
	if (err) {
		report__error("failed to attach BPF program %s: %s",
			      failed_prog ? failed_prog : "(unknown)", strerror(-err));
		if (failed_prog)
			*failed = probe__concern_of(p, failed_prog);
		return err;
	}
	if (p->selected[CONCERN_UDP] >= 0) {
		struct udpflows_opts uo = { .idle_ns = o->udp_idle_ns, .interval_ns = o->interval_ns };

		l->udp = udpflows__new(bpf_map__fd(l->skel->maps.udp_flows), o->udp_flows, pl,
				       ref, &uo);
		if (!l->udp) {
			err = -errno;
			report__error("failed to create the UDP flow table: %s",
				      strerror(-err));
			return err;
		}
	}
	if (p->selected[CONCERN_TCP_CONN_UPDATE] >= 0) {
		l->conns = tcpconns__new(bpf_link__fd(l->skel->links.conn_iter_tcp), pl, ref,
					 o->interval_ns);
		if (!l->conns) {
			err = -errno;
			report__error("failed to create the TCP connection updates: %s",
				      strerror(-err));
			return err;
		}
	}
	if (p->selected[CONCERN_RST_REASON] >= 0) {
		l->resets = resets__new((const char (*)[TCP_RST_REASON_LEN])p->rst_reasons,
					PROBE_RST_REASONS, live__push, l);
		if (!l->resets) {
			err = -errno;
			report__error("failed to create the reset reasons: %s", strerror(-err));
			return err;
		}
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), live__handle, l, NULL);
	if (!l->rb) {
		err = -errno;
		report__error("failed to create ring buffer: %s", strerror(-err));
		return err;
	}
	return 0;
}

int live__seed_listener(struct live *l, const struct event *ev)
{
	struct st_listener_key key = {
		.netns = ev->netns,
		.port = ev->lport,
		.family = ev->family,
	};
	struct st_sock_info val = {
		.pid = ev->pid,
		.tid = ev->tid,
		.owner_src = ST_OWNER_SNAPSHOT,
		.role = ST_ROLE_LISTENER,
		.lport = ev->lport,
		.listen_ino = (uint32_t)ev->ino,
	};

	if (ev->new_state != ST_TCP_LISTEN || !ev->pid)
		return 0;
	memcpy(key.addr, &ev->laddr, ev->family == AF_INET ? 4 : 16);
	memcpy(val.comm, ev->comm, sizeof(val.comm));
	/* a listener the kernel side saw start itself knows better */
	return bpf_map__update_elem(l->skel->maps.listeners, &key, sizeof(key),
				    &val, sizeof(val), BPF_NOEXIST);
}

int live__seed(struct live *l, const struct event *ev)
{
	struct st_sock_info val = {
		.pid = ev->pid,
		.tid = ev->tid,
		.owner_src = ST_OWNER_SNAPSHOT,
		.role = ev->role,
		.lport = ev->lport,
	};
	__u64 ino = ev->ino;
	int err;

	if (ev->kind != EVENT_TCP_SOCKET || !ev->pid || !ino)
		return 0;
	memcpy(val.comm, ev->comm, sizeof(val.comm));
	err = bpf_map__update_elem(l->skel->maps.seeds, &ino, sizeof(ino), &val, sizeof(val),
				   BPF_NOEXIST);
	if (err == -EEXIST)
		return 0;
	if (err == -E2BIG || err == -ENOMEM)
		l->seeds_full++;
	return err == -E2BIG || err == -ENOMEM ? 0 : err;
}

uint64_t live__seeds_full(const struct live *l)
{
	return l->seeds_full;
}

uint64_t live__prog_misses(const struct live *l)
{
	struct bpf_program *prog;
	uint64_t n = 0;

	bpf_object__for_each_program(prog, l->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		n += info.recursion_misses;
	}
	return n;
}

int live__listener_owner(void *ctx, const struct event *ev, const struct in6_addr *addr,
			 uint16_t port, uint32_t *pid, char *comm)
{
	struct live *l = ctx;
	struct st_listener_key key = { .netns = ev->netns, .port = port, .family = ev->family };
	struct st_sock_info val;
	int err;

	err = live__listener_get(l, &key, addr, &val);
	if (err || !val.pid)
		return -ENOENT;
	*pid = val.pid;
	memcpy(comm, val.comm, TASK_COMM_LEN);
	comm[TASK_COMM_LEN] = '\0';
	return 0;
}

int live__skip_cgroup(struct live *l, uint64_t id)
{
	__u8 one = 1;
	int err;

	err = bpf_map__update_elem(l->skel->maps.cgroup_skip, &id, sizeof(id), &one,
				   sizeof(one), BPF_ANY);
	if (!err)
		l->cgroups_skipped++;
	return err == -E2BIG || err == -ENOMEM ? 0 : err;
}

uint64_t live__cgroups_skipped(const struct live *l)
{
	return l->cgroups_skipped;
}

void live__set_owners(struct live *l, const struct owners *owners)
{
	l->owners = owners;
	tcpconns__set_owners(l->conns, owners);
}

/* Takes what the ring buffer holds; what the kernel submitted before *now
 * is in it (a program stamps an event before it reserves its record). */
static int live__take(struct live *l, uint64_t *now)
{
	int n;

	*now = clock_ref__boot_now();
	n = ring_buffer__consume(l->rb);
	if (n < 0)
		return n;
	/* ends held since the take before this one had this one for their reset */
	if (l->resets)
		resets__tick(l->resets);
	/* flows idle, due for an update, or whose start record was lost */
	if (l->udp) {
		int err = udpflows__tick(l->udp, *now);

		if (err)
			return err;
	}
	if (l->conns) {
		int err = tcpconns__tick(l->conns, *now);

		if (err)
			return err;
	}
	return n;
}

int live__conns_now(struct live *l)
{
	return tcpconns__round(l->conns, clock_ref__boot_now(), true);
}

int live__poll(struct live *l, int timeout_ms, uint64_t *now)
{
	int n = ring_buffer__poll(l->rb, timeout_ms), m;

	if (n == -EINTR)
		n = 0;
	if (n < 0)
		return n;
	/* The kernel side wakes us only once enough data waits: after a
	 * quiet timeout too, take what arrived without a wakeup. */
	m = live__take(l, now);
	return m < 0 ? m : n + m;
}

int live__drain(struct live *l, uint64_t *now)
{
	int n = live__take(l, now);

	/* detached: no reset is still to come */
	resets__flush(l->resets);
	return n;
}

int live__finish(struct live *l, uint64_t now)
{
	return l->udp ? udpflows__finish(l->udp, now) : 0;
}

int live__counters(struct live *l, uint64_t out[ST_CNT__MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(l->skel->maps.counters);
	__u64 *vals;

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < ST_CNT__MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	/* a record that arrived but could not be decoded is lost all the same */
	out[ST_CNT_LOST] += l->bad_records;
	free(vals);
	return 0;
}

static void *live__destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Detaching a classic tracepoint or a kprobe waits for RCU grace periods
 * (perf_trace_event_unreg(): 17 to 28 ms, strace -T on the close()), the
 * others take under a millisecond. The slow ones detach in threads that
 * live__close() joins: their wait overlaps the drain and the clean-up. */
void live__detach(struct live *l)
{
	const struct bpf_object_skeleton *s = l->skel->skeleton;

	/* the slow ones first: their grace periods run one after the other
	 * (perf_trace_destroy() holds event_mutex across each), so the
	 * sooner the first starts, the sooner the last ends */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < s->prog_cnt; i++) {
			struct bpf_link *link = *s->progs[i].link;
			enum bpf_prog_type type = bpf_program__type(*s->progs[i].prog);
			bool slow = type == BPF_PROG_TYPE_TRACEPOINT || type == BPF_PROG_TYPE_KPROBE;

			if (!link || slow != !pass)
				continue;
			*s->progs[i].link = NULL;
			if (slow && l->n_slow < LIVE_MAX_SLOW_LINKS &&
			    !pthread_create(&l->slow[l->n_slow], NULL, live__destroy_link, link))
				l->n_slow++;
			else
				bpf_link__destroy(link);
		}
	}
	for (int i = 0; i < l->n_cg_links; i++)
		bpf_link__destroy(l->cg_links[i]);
	l->n_cg_links = 0;
}

static void live__detach_wait(struct live *l)
{
	for (int i = 0; i < l->n_slow; i++)
		pthread_join(l->slow[i], NULL);
	l->n_slow = 0;
}

void live__close(struct live *l)
{
	if (!l)
		return;
	/* nothing more to create: the thread finishes the map it has */
	__atomic_store_n(&l->next_early, l->n_early, __ATOMIC_RELAXED);
	live__join_early_maps(l);
	for (int i = 0; i < l->n_early; i++)
		if (l->early_fd[i] >= 0)
			close(l->early_fd[i]);
	if (l->core_btf_fd >= 0)
		close(l->core_btf_fd);
	if (!l->skel) {
		free(l);
		return;
	}
	live__detach(l);
	udpflows__free(l->udp);
	tcpconns__free(l->conns);
	resets__free(l->resets);
	ring_buffer__free(l->rb);
	socktrace_bpf__destroy(l->skel);
	live__detach_wait(l);
	free(l);
}
