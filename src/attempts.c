// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "attempts.h"
#include "format.h"

#define ATTEMPT_BUCKETS 4096

struct attempt {
	struct attempt *next;	/* hash chain */
	struct event ev;	/* tuple and owner, from the latest event */
	uint64_t start_ns;	/* SYN_SENT entered, 0 if before tracing */
	bool alerted;		/* the threshold alert was raised */
};

struct dest {
	struct dest *next;
	int family;
	struct in6_addr raddr;
	uint16_t rport;
	uint64_t n[OUTCOME__MAX];
	struct hist handshake;
};

struct attempts {
	struct pipeline *pl;
	const struct clock_ref *ref;
	uint64_t alert_ns;
	attempts_diag_fn diag;
	void *diag_ctx;
	struct attempt *table[ATTEMPT_BUCKETS];	/* by socket address */
	struct attempt *orphans;	/* in SYN_SENT at startup: no socket address */
	size_t active;
	struct dest *dests;
};

static size_t bucket_of(uint64_t sock)
{
	return (sock * 0x9e3779b97f4a7c15ull) >> 52;
}

struct attempts *attempts__new(struct pipeline *pl, const struct clock_ref *ref,
			       uint64_t alert_ns)
{
	struct attempts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->pl = pl;
	a->ref = ref;
	a->alert_ns = alert_ns;
	return a;
}

void attempts__set_diagnoser(struct attempts *a, attempts_diag_fn fn, void *ctx)
{
	a->diag = fn;
	a->diag_ctx = ctx;
}

enum connect_outcome attempts__outcome(int err)
{
	switch (err) {
	case 0:
		return OUTCOME_ABORTED;
	case ECONNREFUSED:
		return OUTCOME_REFUSED;
	case ETIMEDOUT:
		return OUTCOME_TIMEOUT;
	default:
		/* EHOSTUNREACH, ENETUNREACH, EACCES (ICMP admin prohibited)... */
		return OUTCOME_UNREACHABLE;
	}
}

static bool same_tuple(const struct event *a, const struct event *b)
{
	return a->netns == b->netns && a->family == b->family && a->lport == b->lport &&
	       a->rport == b->rport && !memcmp(&a->raddr, &b->raddr, sizeof(a->raddr));
}

/* Finds the attempt of ev's socket and unlinks it when 'take'. */
static struct attempt *attempt_find(struct attempts *a, const struct event *ev, bool take)
{
	struct attempt **pp;

	for (pp = &a->table[bucket_of(ev->sock)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->ev.sock == ev->sock)
			goto found;
	}
	for (pp = &a->orphans; *pp; pp = &(*pp)->next) {
		if (same_tuple(&(*pp)->ev, ev))
			goto found;
	}
	return NULL;
found:;
	struct attempt *at = *pp;

	if (take) {
		*pp = at->next;
		a->active--;
	}
	return at;
}

static void attempt_add(struct attempts *a, struct attempt *at, bool orphan)
{
	struct attempt **head = orphan ? &a->orphans : &a->table[bucket_of(at->ev.sock)];

	at->next = *head;
	*head = at;
	a->active++;
}

static struct dest *dest_get(struct attempts *a, const struct event *ev)
{
	struct dest *d;

	for (d = a->dests; d; d = d->next)
		if (d->family == ev->family && d->rport == ev->rport &&
		    !memcmp(&d->raddr, &ev->raddr, sizeof(d->raddr)))
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->family = ev->family;
	d->raddr = ev->raddr;
	d->rport = ev->rport;
	d->next = a->dests;
	a->dests = d;
	return d;
}

/* Emits a derived event built from the attempt's latest event. */
static int attempt_emit(struct attempts *a, struct attempt *at, enum event_kind kind,
			uint64_t now)
{
	struct event ev = at->ev;

	ev.kind = kind;
	ev.boot_ns = now;
	ev.wall_ns = clock_ref__wall(a->ref, now);
	ev.old_state = ST_TCP_SYN_SENT;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.role = ST_ROLE_CLIENT;
	if (kind == EVENT_SYN_ALERT || ev.outcome == OUTCOME_IN_PROGRESS) {
		ev.new_state = ST_TCP_SYN_SENT;
		ev.elapsed_ns = at->start_ns ? now - at->start_ns : EVENT_OLD_NS_UNKNOWN;
	}
	if (kind == EVENT_SYN_ALERT) {
		memset(&ev.diag, 0, sizeof(ev.diag));
		if (a->diag)
			a->diag(a->diag_ctx, &ev);
		/* connect() picks the port after CLOSE -> SYN_SENT: keep it */
		if (!at->ev.lport && ev.lport) {
			at->ev.lport = ev.lport;
			at->ev.laddr = ev.laddr;
		}
	}
	return pipeline__push(a->pl, &ev);
}

static int attempts__start(struct attempts *a, const struct event *ev, bool snapshot)
{
	struct attempt *at;

	/* a socket address reused after an end we did not see */
	if (!snapshot)
		free(attempt_find(a, ev, true));
	at = calloc(1, sizeof(*at));
	if (!at)
		return -ENOMEM;
	at->ev = *ev;
	at->ev.outcome = OUTCOME_IN_PROGRESS;
	at->ev.syn_retrans = 0;
	at->start_ns = snapshot ? 0 : ev->boot_ns;
	attempt_add(a, at, snapshot);
	/* found at startup: report it now, its start time unknown */
	return snapshot ? attempt_emit(a, at, EVENT_CONNECT, ev->boot_ns) : 0;
}

static int attempts__retrans(struct attempts *a, const struct event *ev)
{
	struct attempt *at = attempt_find(a, ev, false);
	uint64_t sock;

	if (!at)
		return 0;
	/* the retransmit knows the local port, which connect() picked late */
	sock = at->ev.sock;
	memcpy(at->ev.comm, ev->comm, sizeof(at->ev.comm));
	at->ev.laddr = ev->laddr;
	at->ev.lport = ev->lport;
	at->ev.syn_retrans = ev->syn_retrans;
	at->ev.sock = sock ? sock : ev->sock;
	/* repeated at each further retransmit once past the threshold */
	if (!at->start_ns || ev->boot_ns - at->start_ns >= a->alert_ns) {
		at->alerted = true;
		return attempt_emit(a, at, EVENT_SYN_ALERT, ev->boot_ns);
	}
	return 0;
}

static int attempts__end(struct attempts *a, const struct event *ev)
{
	struct attempt *at = attempt_find(a, ev, true);
	struct event out;
	struct dest *d;
	int err;

	if (!at)
		return 0;
	out = *ev;
	out.kind = EVENT_CONNECT;
	out.role = ST_ROLE_CLIENT;
	out.syn_retrans = ev->syn_retrans > at->ev.syn_retrans ? ev->syn_retrans :
								 at->ev.syn_retrans;
	out.outcome = ev->new_state == ST_TCP_CLOSE ? attempts__outcome(ev->err) :
						      OUTCOME_ESTABLISHED;
	out.err = out.outcome == OUTCOME_ESTABLISHED || out.outcome == OUTCOME_ABORTED ? 0 : ev->err;
	if (ev->old_ns != EVENT_OLD_NS_UNKNOWN)
		out.elapsed_ns = ev->old_ns;
	else
		out.elapsed_ns = at->start_ns ? ev->boot_ns - at->start_ns : EVENT_OLD_NS_UNKNOWN;
	if (!out.pid) {
		out.pid = at->ev.pid;
		out.tid = at->ev.tid;
		out.owner_src = at->ev.owner_src;
		memcpy(out.comm, at->ev.comm, sizeof(out.comm));
	}
	d = dest_get(a, &out);
	if (d) {
		d->n[out.outcome]++;
		if (out.outcome == OUTCOME_ESTABLISHED && out.elapsed_ns != EVENT_OLD_NS_UNKNOWN)
			hist__add(&d->handshake, out.elapsed_ns);
	}
	free(at);
	err = pipeline__push(a->pl, &out);
	return err;
}

int attempts__feed(struct attempts *a, const struct event *ev)
{
	switch (ev->kind) {
	case EVENT_TCP_STATE:
		if (ev->old_state == ST_TCP_CLOSE && ev->new_state == ST_TCP_SYN_SENT)
			return attempts__start(a, ev, false);
		/* SYN_SENT -> SYN_RECV is a simultaneous open: still trying */
		if (ev->old_state == ST_TCP_SYN_SENT && ev->new_state != ST_TCP_SYN_RECV)
			return attempts__end(a, ev);
		if (ev->old_state == ST_TCP_SYN_RECV && a->active)
			return attempts__end(a, ev);
		return 0;
	case EVENT_TCP_SOCKET:
		if (ev->new_state == ST_TCP_SYN_SENT)
			return attempts__start(a, ev, true);
		return 0;
	case EVENT_SYN_RETRANS:
		return attempts__retrans(a, ev);
	default:
		return 0;
	}
}

int attempts__tick(struct attempts *a, uint64_t now)
{
	int err = 0;

	if (!a->active)
		return 0;
	for (size_t b = 0; b < ATTEMPT_BUCKETS && !err; b++) {
		for (struct attempt *at = a->table[b]; at && !err; at = at->next) {
			if (at->alerted || !at->start_ns || now - at->start_ns < a->alert_ns)
				continue;
			at->alerted = true;
			err = attempt_emit(a, at, EVENT_SYN_ALERT, now);
		}
	}
	return err;
}

/* ---- per-destination table ---- */

static int dest_cmp(const void *x, const void *y)
{
	const struct dest *a = *(const struct dest *const *)x, *b = *(const struct dest *const *)y;
	uint64_t na = 0, nb = 0;

	for (int i = 0; i < OUTCOME__MAX; i++) {
		na += a->n[i];
		nb += b->n[i];
	}
	return na < nb ? 1 : na > nb ? -1 : 0;
}

static void ms_text(char *buf, size_t len, uint64_t ns, bool have)
{
	if (have)
		snprintf(buf, len, "%.3f", ns / 1e6);
	else
		snprintf(buf, len, "-");
}

int attempts__report(struct attempts *a, FILE *out, bool json)
{
	struct json_writer w = {};
	struct dest **v, *d;
	size_t n = 0, i;

	for (d = a->dests; d; d = d->next)
		n++;
	if (!n) {
		if (!json)
			fprintf(out, "no connection attempts\n");
		return 0;
	}
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0, d = a->dests; d; d = d->next)
		v[i++] = d;
	qsort(v, n, sizeof(*v), dest_cmp);

	if (!json)
		fprintf(out, "\n%-30s %8s %11s %7s %7s %11s %7s %9s %9s\n", "DESTINATION", "ATTEMPTS",
			"ESTABLISHED", "REFUSED", "TIMEOUT", "UNREACHABLE", "ABORTED", "P50_MS",
			"P99_MS");
	for (i = 0; i < n; i++) {
		uint64_t total = 0, p50, p99;
		bool have;
		char sock[SOCK_STRLEN], addr[ADDR_STRLEN], s50[32], s99[32];

		d = v[i];
		for (int k = OUTCOME_ESTABLISHED; k < OUTCOME__MAX; k++)
			total += d->n[k];
		have = d->handshake.count > 0;
		p50 = hist__quantile(&d->handshake, 0.50);
		p99 = hist__quantile(&d->handshake, 0.99);
		if (!json) {
			format__sock(sock, sizeof(sock), d->family, &d->raddr, d->rport, "tcp");
			ms_text(s50, sizeof(s50), p50, have);
			ms_text(s99, sizeof(s99), p99, have);
			fprintf(out, "%-30s %8llu %11llu %7llu %7llu %11llu %7llu %9s %9s\n", sock,
				(unsigned long long)total,
				(unsigned long long)d->n[OUTCOME_ESTABLISHED],
				(unsigned long long)d->n[OUTCOME_REFUSED],
				(unsigned long long)d->n[OUTCOME_TIMEOUT],
				(unsigned long long)d->n[OUTCOME_UNREACHABLE],
				(unsigned long long)d->n[OUTCOME_ABORTED], s50, s99);
			continue;
		}
		json__reset(&w);
		json__begin(&w);
		json__key_str(&w, "type", "connect_stats");
		json__key_str(&w, "proto", "tcp");
		json__key_u64(&w, "family", d->family == AF_INET ? 4 : 6);
		format__addr(addr, sizeof(addr), d->family, &d->raddr);
		json__key_str(&w, "raddr", addr);
		json__key_u64(&w, "rport", d->rport);
		json__key_u64(&w, "attempts", total);
		for (int k = OUTCOME_ESTABLISHED; k < OUTCOME__MAX; k++)
			json__key_u64(&w, outcome__name(k), d->n[k]);
		if (have) {
			json__key_fixed(&w, "handshake_p50_ms", p50 / 1000, 3);
			json__key_fixed(&w, "handshake_p99_ms", p99 / 1000, 3);
		} else {
			json__key_null(&w, "handshake_p50_ms");
			json__key_null(&w, "handshake_p99_ms");
		}
		json__end(&w);
		fwrite(w.buf, 1, w.len, out);
	}
	json__free(&w);
	free(v);
	return 0;
}

void attempts__free(struct attempts *a)
{
	if (!a)
		return;
	for (size_t b = 0; b < ATTEMPT_BUCKETS; b++) {
		while (a->table[b]) {
			struct attempt *at = a->table[b];

			a->table[b] = at->next;
			free(at);
		}
	}
	while (a->orphans) {
		struct attempt *at = a->orphans;

		a->orphans = at->next;
		free(at);
	}
	while (a->dests) {
		struct dest *d = a->dests;

		a->dests = d->next;
		free(d);
	}
	free(a);
}

/* ---- histogram ---- */

/* Values below HIST_SUB us are exact; above, each power of two is split
 * into HIST_SUB buckets. */
static size_t hist_bucket(uint64_t us)
{
	int msb, shift;
	size_t b;

	if (us < HIST_SUB)
		return us;
	msb = 63 - __builtin_clzll(us);
	shift = msb - __builtin_ctz(HIST_SUB);
	b = (size_t)(shift + 1) * HIST_SUB + ((us >> shift) - HIST_SUB);
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t hist_value(size_t b)
{
	size_t shift, sub;

	if (b < HIST_SUB)
		return b;
	shift = b / HIST_SUB - 1;
	sub = b % HIST_SUB;
	/* the middle of the bucket */
	return ((HIST_SUB + sub) << shift) + ((1ull << shift) >> 1);
}

void hist__add(struct hist *h, uint64_t ns)
{
	h->buckets[hist_bucket(ns / 1000)]++;
	h->count++;
}

uint64_t hist__quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	/* nearest rank: the smallest value with at least q of the samples */
	rank = (uint64_t)ceil(q * h->count);
	if (rank < 1)
		rank = 1;
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank)
			return hist_value(b) * 1000;
	}
	return hist_value(HIST_BUCKETS - 1) * 1000;
}
