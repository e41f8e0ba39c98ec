/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every concern shares: settings userspace writes before load (the
 * const volatile rodata), the maps, and helpers. Included once, by
 * socktrace.bpf.c, before the concern headers. */
#ifndef ST_COMMON_BPF_H
#define ST_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "socktrace.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define MSG_PEEK	2
#define SOL_SOCKET	1
#define SO_ERROR	4
#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define EEXIST		17

#define MAX_SOCKS	65536
#define MAX_LISTENERS	8192
#define MAX_FILTER	64
#define MAX_THREADS	8192	/* threads inside a send or receive at once */
#define MAX_SEEDS	65536	/* sockets found at startup, resized by userspace */
/* the largest record and its ring buffer header */
#define RECORD_SPACE	(sizeof(struct st_tcp_conn_event) + 8)

/* ---- settings ---- */

/* Filters, set by userspace before load; 0/false means off. */
const volatile __u16 filter_family = 0;
const volatile bool filter_pids_on = false;
const volatile bool filter_ports_on = false;
/* Ports to trace, a bit each: a load and a test on every datagram's path,
 * where a hash map took two lookups. */
const volatile __u64 filter_port_bits[65536 / 64] = {};
const volatile __u32 filter_states = 0;	/* bit per state: old or new matches */
/* --cgroup, --unit, --container, --pod: cgroup_skip holds what they reject */
const volatile bool filter_cgroups_on = false;
/* Wake the reader only once this much data waits (0: every record). The
 * reader polls with a short timeout, so a quiet host still sees events soon. */
const volatile __u64 wakeup_bytes = 0;
/* Position of udp_recvmsg()'s flags: 3, or 4 before 5.19 dropped noblock
 * (commit ec095263a965). Userspace reads it from the kernel's BTF. */
const volatile __u32 recv_flags_arg = ST_RECV_FLAGS_ARG;
/* How many arguments inet_csk_listen_start() takes: its fexit program
 * finds the return value after them. It lost its backlog after 5.10.
 * Userspace reads it from the kernel's BTF. */
const volatile __u32 listen_nargs = 1;
/* Which concerns the shared sock_{send,recv}_length programs serve. */
const volatile bool tcp_io_on = false;
const volatile bool udp_io_on = false;
/* The tcp_state hook sees a listener's child born (LISTEN -> SYN_RECV): the
 * tracepoints do, tcp_set_state() does not. */
const volatile bool births_seen = false;

/* ---- maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);	/* resized by userspace */
} events SEC(".maps");

/* Keyed by the sock pointer: valid from the first transition to CLOSE. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct st_sock_info);
} socks SEC(".maps");

/* Owner of each listening port, handed down to the sockets it creates. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_LISTENERS);
	__type(key, struct st_listener_key);
	__type(value, struct st_sock_info);
} listeners SEC(".maps");

/* Owners of the TCP sockets found at startup, by socket inode: userspace
 * cannot name a socket's address. A socket's first event moves its entry to
 * socks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAX_SEEDS);
	__type(key, __u64);
	__type(value, struct st_sock_info);
} seeds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FILTER);
	__type(key, __u32);
	__type(value, __u8);
} filter_pids SEC(".maps");

/* Cgroup ids whose every event the userspace filter drops, added as
 * userspace first resolves each id: a cgroup made later is learnt from its
 * first event. Sized by userspace (1 entry when no cgroup filter is on);
 * once full, the rest is filtered in userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_skip SEC(".maps");

/* Resized by userspace (--udp-flows). A hash, not an LRU: a full table must
 * be counted, never silently make room by dropping a flow's counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct st_udp_key);
	__type(value, struct st_udp_flow);
} udp_flows SEC(".maps");

/* Sockets that have flows, so that their release is reported. Resized
 * with udp_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} udp_socks SEC(".maps");

struct udp_peer {
	union {
		__u8 addr[16];
		__u32 addr32[4];
	};
	__u32 tid;		/* the thread that left it */
	__u16 port;		/* host byte order */
	__u16 family;		/* 0: unknown, or already taken */
};

/* The peer of the datagram a thread is sending or receiving on a socket,
 * left by the cgroup sock_addr hooks for the send/recv tracepoints that
 * follow. Socket storage: found through the socket, no lookup by key, and
 * freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct udp_peer);
} udp_peers SEC(".maps");

/* ---- helpers ---- */

static __always_inline bool port_wanted(__u16 port)
{
	return filter_port_bits[port >> 6] & (1ULL << (port & 63));
}

static __always_inline bool cgroup_skipped(__u64 id)
{
	return filter_cgroups_on && id && bpf_map_lookup_elem(&cgroup_skip, &id);
}

static __always_inline void counter_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n;
}

static __always_inline void counter_inc(__u32 idx)
{
	counter_add(idx, 1);
}

/* Wake the reader only for the record that crosses the wakeup mark: a
 * forced wakeup per record is an IPI per record. One missed under a race
 * costs at most the reader's poll period. */
static __always_inline long ringbuf_wakeup_flags(void)
{
	__u64 avail;

	if (!wakeup_bytes)
		return 0;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return avail >= wakeup_bytes && avail < wakeup_bytes + 4 * RECORD_SPACE ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* The name of the current process (id: its pid_tgid): its thread group
 * leader's, not the name of the thread that makes the call (dig does its
 * I/O in a thread named isc-net-0000; ps, ss and /proc/PID/comm name the
 * process). The leader's own call needs no walk to the leader: one helper
 * call instead of two reads. */
static __always_inline void current_comm(char comm[TASK_COMM_LEN], __u64 id)
{
	struct task_struct *task, *leader;

	__builtin_memset(comm, 0, TASK_COMM_LEN);
	if (id >> 32 == (__u32)id) {
		bpf_get_current_comm(comm, TASK_COMM_LEN);
		return;
	}
	task = (struct task_struct *)bpf_get_current_task();
	leader = BPF_CORE_READ(task, group_leader);
	if (!leader || bpf_core_read_str(comm, TASK_COMM_LEN, &leader->comm) < 0)
		bpf_get_current_comm(comm, TASK_COMM_LEN);
}

/* The current process's tgid in its own pid namespace (what getpid()
 * says inside a container): its leader's struct pid, at that pid's level. */
static __always_inline __u32 current_vpid(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	struct upid up = {};
	unsigned int level;

	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	/* pid namespaces nest at most 32 deep (MAX_PID_NS_LEVEL) */
	if (level > 32 || bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level]))
		return 0;
	return up.nr;
}

/* The owner is taken in its process context: its cgroup with it, so that a
 * close in softirq still names the service or container. */
static __always_inline void owner_take(struct st_sock_info *si, __u64 id, __u8 src)
{
	si->pid = id >> 32;
	si->tid = (__u32)id;
	si->owner_src = src;
	current_comm(si->comm, id);
	si->cgroup_id = bpf_get_current_cgroup_id();
	si->vpid = current_vpid();
}

/* Another entry's owner (not its state, role or times). */
static __always_inline void owner_copy(struct st_sock_info *dst, const struct st_sock_info *src)
{
	dst->pid = src->pid;
	dst->tid = src->tid;
	dst->owner_src = src->owner_src;
	__builtin_memcpy(dst->comm, src->comm, sizeof(dst->comm));
	dst->cgroup_id = src->cgroup_id;
	dst->vpid = src->vpid;
}

/* A record's owner fields, from what the socket's entry remembers. */
static __always_inline void event_owner(struct st_tcp_event *e, const struct st_sock_info *si)
{
	e->pid = si->pid;
	e->tid = si->tid;
	e->owner_src = si->owner_src;
	e->role = si->role;
	__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	e->cgroup_id = si->cgroup_id;
	e->vpid = si->vpid;
}

static __always_inline void owner_from_current(struct st_sock_info *si, __u8 src, __u8 role)
{
	owner_take(si, bpf_get_current_pid_tgid(), src);
	si->role = role;
}

/* A socket of the startup scan: its owner from /proc, moved to socks. */
static __always_inline bool seed_take(struct st_sock_info *si, __u64 ino)
{
	struct st_sock_info *s;

	if (!ino)
		return false;
	s = bpf_map_lookup_elem(&seeds, &ino);
	if (!s)
		return false;
	*si = *s;
	bpf_map_delete_elem(&seeds, &ino);
	return true;
}

/* tp_btf and fentry programs get BTF pointers they can load from directly:
 * a plain load, CO-RE relocated like the helper's address, and exception
 * table protected (a fault reads 0). Their pointers' pointer fields are
 * BTF pointers too. A tracepoint's or a kprobe's pointer is a number to the
 * verifier: it must go through bpf_probe_read_kernel(). direct is a
 * constant in every program, so each gets one path. */
#define SK_LOAD(direct, sk, field) ((direct) ? (sk)->field : BPF_CORE_READ(sk, field))

static __always_inline void sk_load_addr(bool direct, void *dst, const void *src, int len)
{
	if (direct)
		__builtin_memcpy(dst, src, len);
	else
		bpf_probe_read_kernel(dst, len, src);
}

static __always_inline __u32 sock_netns(struct sock *sk, bool direct)
{
	if (direct)
		return sk->__sk_common.skc_net.net->ns.inum;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The socket's inode, as /proc/PID/fd and ss show it; 0 once orphaned. */
static __always_inline __u64 sock_ino(struct sock *sk, bool direct)
{
	struct socket *sock = SK_LOAD(direct, sk, sk_socket);
	struct socket_alloc *sa;

	if (!sock)
		return 0;
	/* the verifier knows sock as a struct socket, and the inode is past
	 * its end: a socket's file points at the same inode (a kernel
	 * socket has no file) */
	if (direct && sock->file)
		return sock->file->f_inode->i_ino;
	/* struct socket is the first member of struct socket_alloc */
	sa = (struct socket_alloc *)sock;
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* sk_protocol was a bitfield before 5.6 (commit bf9765145b85); both reads
 * work for both layouts. */
static __always_inline __u16 sock_protocol(struct sock *sk, bool direct)
{
	if (direct)
		return BPF_CORE_READ_BITFIELD(sk, sk_protocol);
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

static __always_inline void event_fill_tuple(struct st_tcp_event *e, struct sock *sk, bool direct)
{
	e->family = SK_LOAD(direct, sk, __sk_common.skc_family);
	e->sport = SK_LOAD(direct, sk, __sk_common.skc_num);
	/* On the way to CLOSE, inet_put_port() clears skc_num before the state
	 * changes; inet_sport still holds the port the socket had. Read with
	 * the helper either way: inet_sport is past the end of the struct
	 * sock the verifier knows sk as. */
	if (!e->sport)
		e->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(SK_LOAD(direct, sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		sk_load_addr(direct, e->saddr, &sk->__sk_common.skc_rcv_saddr, 4);
		sk_load_addr(direct, e->daddr, &sk->__sk_common.skc_daddr, 4);
	} else {
		sk_load_addr(direct, e->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		sk_load_addr(direct, e->daddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
}

/* ctx[n] of an fentry/fexit program (an argument or, after the arguments,
 * the return value) for an n that is a setting: the verifier wants a fixed
 * offset and, n being known at load, checks only the case taken. Each case
 * is an asm load, which clang cannot merge into a load at a computed offset.
 * bpf_get_func_arg() and bpf_get_func_ret() would do, but need 5.17. */
#define CTX_LOAD(v, ctx, off) asm volatile("%0 = *(u64 *)(%1 + " #off ")" : "=r"(v) : "r"(ctx))

static __always_inline __u64 ctx_arg(unsigned long long *ctx, __u32 n)
{
	__u64 v = 0;

	switch (n) {
	case 1: CTX_LOAD(v, ctx, 8); break;
	case 2: CTX_LOAD(v, ctx, 16); break;
	case 3: CTX_LOAD(v, ctx, 24); break;
	case 4: CTX_LOAD(v, ctx, 32); break;
	case 5: CTX_LOAD(v, ctx, 40); break;
	case 6: CTX_LOAD(v, ctx, 48); break;
	}
	return v;
}

/* The sock behind the current process's fd, following the fd table; NULL
 * if the fd is not a socket's. */
static __always_inline struct sock *sock_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds, *file = NULL;
	struct socket *sock;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	/* the private_data of a file that is not a socket is something else */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

#endif /* ST_COMMON_BPF_H */
