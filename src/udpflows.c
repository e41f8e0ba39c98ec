// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "udpflows.h"

/* At most this often the kernel table is read whole. */
#define SWEEP_MIN_NS 100000000ull
#define SWEEP_MAX_NS 1000000000ull
#define CLOSED_MAX 4096

struct flow {
	struct st_udp_key key;
	struct st_udp_flow reported;	/* the counts the last event showed */
	struct flow *next;		/* in its by-key bucket */
	struct flow *next_sock;		/* in its by-socket bucket */
};

/* A release whose socket had flows this tracker did not know (their start
 * was lost): the next sweep ends them. */
struct closed {
	uint64_t skaddr;
	uint64_t ts_ns;
};

struct udpflows {
	int map_fd;
	struct pipeline *pl;
	const struct clock_ref *ref;
	struct udpflows_opts o;
	uint64_t sweep_ns;		/* period of sweeps */
	uint64_t next_sweep;
	uint64_t next_report;		/* when the interval's updates are due */
	struct flow **by_key;
	struct flow **by_sock;
	uint32_t mask;			/* buckets - 1 */
	struct closed closed[CLOSED_MAX];
	int n_closed;
	struct st_udp_key *ended;	/* keys to remove after a sweep */
	uint32_t max_flows;
	/* the table as one sweep read it */
	struct st_udp_key *keys;
	struct st_udp_flow *vals;
	bool no_batch;			/* the kernel cannot read hash maps in batches */
};

static uint32_t hash_bytes(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint32_t hash_sock(uint64_t skaddr)
{
	/* slab addresses: the low bits are alignment */
	return (uint32_t)((skaddr >> 6) * 2654435761u);
}

struct udpflows *udpflows__new(int map_fd, uint32_t max_flows, struct pipeline *pl,
			       const struct clock_ref *ref, const struct udpflows_opts *o)
{
	struct udpflows *u = calloc(1, sizeof(*u));
	uint32_t buckets = 1024;

	if (!u)
		return NULL;
	while (buckets < max_flows && buckets < (1u << 22))
		buckets <<= 1;
	u->map_fd = map_fd;
	u->pl = pl;
	u->ref = ref;
	u->o = *o;
	u->max_flows = max_flows;
	u->mask = buckets - 1;
	u->by_key = calloc(buckets, sizeof(*u->by_key));
	u->by_sock = calloc(buckets, sizeof(*u->by_sock));
	u->ended = calloc(max_flows, sizeof(*u->ended));
	u->keys = calloc(max_flows, sizeof(*u->keys));
	u->vals = calloc(max_flows, sizeof(*u->vals));
	if (!u->by_key || !u->by_sock || !u->ended || !u->keys || !u->vals) {
		udpflows__free(u);
		errno = ENOMEM;
		return NULL;
	}
	/* an idle flow ends at most a quarter of the timeout late */
	u->sweep_ns = o->idle_ns / 4;
	if (o->interval_ns && o->interval_ns < u->sweep_ns)
		u->sweep_ns = o->interval_ns;
	if (u->sweep_ns < SWEEP_MIN_NS)
		u->sweep_ns = SWEEP_MIN_NS;
	if (u->sweep_ns > SWEEP_MAX_NS)
		u->sweep_ns = SWEEP_MAX_NS;
	return u;
}

static struct flow *flow_find(const struct udpflows *u, const struct st_udp_key *k)
{
	struct flow *f = u->by_key[hash_bytes(k, sizeof(*k)) & u->mask];

	for (; f; f = f->next)
		if (!memcmp(&f->key, k, sizeof(*k)))
			return f;
	return NULL;
}

static struct flow *flow_add(struct udpflows *u, const struct st_udp_key *k,
			     const struct st_udp_flow *v)
{
	struct flow *f = calloc(1, sizeof(*f));
	uint32_t hk = hash_bytes(k, sizeof(*k)) & u->mask, hs = hash_sock(k->skaddr) & u->mask;

	if (!f)
		return NULL;
	f->key = *k;
	f->reported = *v;
	f->next = u->by_key[hk];
	u->by_key[hk] = f;
	f->next_sock = u->by_sock[hs];
	u->by_sock[hs] = f;
	return f;
}

static void flow_remove(struct udpflows *u, struct flow *f)
{
	struct flow **pp = &u->by_key[hash_bytes(&f->key, sizeof(f->key)) & u->mask];

	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	pp = &u->by_sock[hash_sock(f->key.skaddr) & u->mask];
	while (*pp != f)
		pp = &(*pp)->next_sock;
	*pp = f->next_sock;
	free(f);
}

static void flow_event(struct udpflows *u, const struct st_udp_key *k,
		       const struct st_udp_flow *v, int what, int reason, uint64_t ts)
{
	struct event ev;
	size_t alen = v->family == AF_INET ? 4 : 16;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_UDP_FLOW;
	ev.boot_ns = ts;
	ev.wall_ns = clock_ref__wall(u->ref, ts);
	ev.sock = k->skaddr;
	ev.ino = v->ino;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev.netns = v->netns;
	ev.pid = k->pid;
	ev.tid = v->tid;
	ev.family = v->family == AF_INET ? AF_INET : AF_INET6;
	ev.proto = IPPROTO_UDP;
	memcpy(&ev.laddr, v->laddr, alen);
	memcpy(&ev.raddr, k->raddr, alen);
	ev.lport = v->lport;
	ev.rport = k->rport;
	ev.owner_src = ST_OWNER_TRAFFIC;
	memcpy(ev.comm, v->comm, TASK_COMM_LEN);
	ev.cgroup_id = v->cgroup_id;
	ev.vpid = v->vpid;
	ev.flow_event = what;
	ev.end_reason = reason;
	ev.first_ns = v->first_ns;
	ev.last_ns = v->last_ns;
	/* a closed flow lasted until its close; others until their last datagram */
	ev.duration_ns = (reason == UDP_END_CLOSE && ts > v->first_ns ? ts : v->last_ns) -
			 v->first_ns;
	ev.tx_bytes = v->tx_bytes;
	ev.rx_bytes = v->rx_bytes;
	ev.tx_packets = v->tx_packets;
	ev.rx_packets = v->rx_packets;
	pipeline__push(u->pl, &ev);
}

static bool counts_differ(const struct st_udp_flow *a, const struct st_udp_flow *b)
{
	return a->tx_packets != b->tx_packets || a->rx_packets != b->rx_packets ||
	       a->tx_bytes != b->tx_bytes || a->rx_bytes != b->rx_bytes;
}

/* Removes the flow from the kernel table and returns its final counts in v
 * (left as it is if the kernel no longer has it). */
static void kernel_take(struct udpflows *u, const struct st_udp_key *k, struct st_udp_flow *v)
{
	struct st_udp_flow last;

	/* atomic on 5.14+; before, a datagram between the two may go uncounted */
	if (!bpf_map_lookup_and_delete_elem(u->map_fd, k, &last)) {
		*v = last;
		return;
	}
	if (!bpf_map_lookup_elem(u->map_fd, k, &last))
		*v = last;
	bpf_map_delete_elem(u->map_fd, k);
}

void udpflows__start(struct udpflows *u, const struct st_udp_event *rec)
{
	/* a sweep may have found it first */
	if (flow_find(u, &rec->key))
		return;
	if (!flow_add(u, &rec->key, &rec->flow))
		return;		/* the next sweep tries again */
	flow_event(u, &rec->key, &rec->flow, UDP_FLOW_START, UDP_END_NONE, rec->flow.first_ns);
}

void udpflows__close(struct udpflows *u, uint64_t skaddr, uint64_t ts_ns)
{
	struct flow *f = u->by_sock[hash_sock(skaddr) & u->mask], *next;

	for (; f; f = next) {
		struct st_udp_flow v;

		next = f->next_sock;
		if (f->key.skaddr != skaddr)
			continue;
		v = f->reported;
		kernel_take(u, &f->key, &v);
		flow_event(u, &f->key, &v, UDP_FLOW_END, UDP_END_CLOSE, ts_ns);
		flow_remove(u, f);
	}
	if (u->n_closed < CLOSED_MAX) {
		u->closed[u->n_closed].skaddr = skaddr;
		u->closed[u->n_closed].ts_ns = ts_ns;
		u->n_closed++;
	}
}

/* When the socket of a flow found in the table was released, if it was. */
static uint64_t closed_at(const struct udpflows *u, const struct st_udp_key *k,
			  const struct st_udp_flow *v)
{
	for (int i = 0; i < u->n_closed; i++)
		/* a later socket at the same address started after the release */
		if (u->closed[i].skaddr == k->skaddr && v->first_ns <= u->closed[i].ts_ns)
			return u->closed[i].ts_ns;
	return 0;
}

/* Copies the kernel table into u->keys/u->vals: in batches (5.6+), a few
 * system calls for the whole table, else one key at a time. Returns the
 * number of flows or -errno. */
static long table_read(struct udpflows *u)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t n = 0, count;
	uint64_t batch = 0;
	void *prev = NULL;
	int err;

	while (!u->no_batch) {
		count = u->max_flows - n;
		err = bpf_map_lookup_batch(u->map_fd, n ? &batch : NULL, &batch, u->keys + n,
					   u->vals + n, &count, &opts);
		if (err == -ENOSPC)
			return n;	/* flows added meanwhile: the next sweep has them */
		if (err && err != -ENOENT) {
			if (n || (err != -EINVAL && err != -ENOTSUP && err != -EOPNOTSUPP))
				return err;
			u->no_batch = true;	/* before 5.6 */
			break;
		}
		n += count;
		if (err == -ENOENT || n >= u->max_flows)
			return n;
	}
	while (n < u->max_flows && !(err = bpf_map_get_next_key(u->map_fd, prev, &u->keys[n]))) {
		prev = &u->keys[n];
		/* one removed meanwhile is skipped: the next key follows it */
		if (!bpf_map_lookup_elem(u->map_fd, &u->keys[n], &u->vals[n]))
			n++;
	}
	return n;
}

/* Reads the whole kernel table once. final: report every flow (tracing
 * stops). */
static int sweep(struct udpflows *u, uint64_t now, bool final)
{
	bool report = final || (u->o.interval_ns && now >= u->next_report);
	uint32_t n_ended = 0;
	struct st_udp_flow v;
	long n = table_read(u);

	if (n < 0)
		return n;
	for (long i = 0; i < n; i++) {
		const struct st_udp_key *key = &u->keys[i];
		struct flow *f = flow_find(u, key);
		uint64_t closed;

		v = u->vals[i];
		if (!f) {
			/* its start record was lost, or is still on its way */
			f = flow_add(u, key, &v);
			if (!f)
				return -ENOMEM;
			flow_event(u, key, &v, UDP_FLOW_START, UDP_END_NONE, v.first_ns);
			closed = closed_at(u, key, &v);
			if (closed) {
				flow_event(u, key, &v, UDP_FLOW_END, UDP_END_CLOSE, closed);
				u->ended[n_ended++] = *key;
				continue;
			}
		}
		if (!final && now > v.last_ns && now - v.last_ns >= u->o.idle_ns) {
			u->ended[n_ended++] = *key;
			continue;
		}
		if (report && (final || counts_differ(&v, &f->reported))) {
			flow_event(u, key, &v, UDP_FLOW_UPDATE, UDP_END_NONE, now);
			f->reported = v;
		}
	}

	/* removing while reading would disturb the walk: end flows after it */
	for (uint32_t i = 0; i < n_ended; i++) {
		struct flow *f = flow_find(u, &u->ended[i]);

		if (!f)
			continue;
		v = f->reported;
		kernel_take(u, &u->ended[i], &v);
		if (!closed_at(u, &u->ended[i], &v))
			flow_event(u, &u->ended[i], &v, UDP_FLOW_END, UDP_END_IDLE, now);
		flow_remove(u, f);
	}
	u->n_closed = 0;
	if (report && u->o.interval_ns)
		u->next_report = now + u->o.interval_ns;
	return 0;
}

int udpflows__tick(struct udpflows *u, uint64_t now_ns)
{
	if (!u->next_sweep) {
		u->next_sweep = now_ns + u->sweep_ns;
		u->next_report = now_ns + u->o.interval_ns;
		return 0;
	}
	if (now_ns < u->next_sweep)
		return 0;
	u->next_sweep = now_ns + u->sweep_ns;
	return sweep(u, now_ns, false);
}

int udpflows__finish(struct udpflows *u, uint64_t now_ns)
{
	return sweep(u, now_ns, true);
}

void udpflows__free(struct udpflows *u)
{
	if (!u)
		return;
	if (u->by_key) {
		for (uint32_t b = 0; b <= u->mask; b++) {
			struct flow *f = u->by_key[b], *next;

			for (; f; f = next) {
				next = f->next;
				free(f);
			}
		}
	}
	free(u->by_key);
	free(u->by_sock);
	free(u->ended);
	free(u->keys);
	free(u->vals);
	free(u);
}
