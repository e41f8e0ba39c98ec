// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "attempts.h"
#include "hist.h"

#define ATTEMPT_BUCKETS 4096

struct attempt {
	struct attempt *next;	/* hash chain */
	struct event ev;	/* tuple and owner, from the latest event */
	uint64_t start_ns;	/* SYN_SENT entered (boot clock), 0 if before tracing */
	uint64_t start_wall;	/* and on the source's wall clock */
	bool alerted;		/* the threshold alert was raised */
	bool legacy;		/* its recording holds its alerts already */
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
	struct stage stage;	/* first: the pipeline hands back &stage */
	uint64_t alert_ns;
	attempts_diag_fn diag;
	void *diag_ctx;
	struct attempt *table[ATTEMPT_BUCKETS];	/* by socket address */
	struct attempt *orphans;	/* in SYN_SENT at startup: no socket address */
	size_t active;
	uint64_t next_due;	/* wall time of the earliest threshold alert due */
	struct dest *dests;
};

static const struct stage_ops attempts_ops;

static size_t bucket_of(uint64_t sock)
{
	return (sock * 0x9e3779b97f4a7c15ull) >> 52;
}

struct attempts *attempts__new(uint64_t alert_ns)
{
	struct attempts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->stage.ops = &attempts_ops;
	a->alert_ns = alert_ns;
	a->next_due = UINT64_MAX;
	return a;
}

struct stage *attempts__stage(struct attempts *a)
{
	return &a->stage;
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

/* When the threshold alert of an attempt is due, on the source's clock;
 * UINT64_MAX if it has none (its start is unknown, or it was raised). */
static uint64_t alert_due(const struct attempts *a, const struct attempt *at)
{
	if (at->alerted || at->legacy || !at->start_ns || at->start_wall == EVENT_WALL_UNKNOWN)
		return UINT64_MAX;
	return at->start_wall + a->alert_ns;
}

static void attempt_add(struct attempts *a, struct attempt *at, bool orphan)
{
	struct attempt **head = orphan ? &a->orphans : &a->table[bucket_of(at->ev.sock)];
	uint64_t due = alert_due(a, at);

	at->next = *head;
	*head = at;
	a->active++;
	if (due < a->next_due)
		a->next_due = due;
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

/* Emits a derived event built from the attempt's latest event, at (boot,
 * wall) on the source's clocks. */
static int attempt_emit(struct attempts *a, struct attempt *at, enum event_kind kind,
			uint64_t boot, uint64_t wall)
{
	struct event ev = at->ev;

	ev.kind = kind;
	ev.boot_ns = boot;
	ev.wall_ns = wall;
	ev.old_state = ST_TCP_SYN_SENT;
	ev.old_ns = EVENT_OLD_NS_UNKNOWN;
	ev.prev_state = 0;
	ev.role = ST_ROLE_CLIENT;
	if (kind == EVENT_SYN_ALERT || ev.outcome == OUTCOME_IN_PROGRESS) {
		ev.new_state = ST_TCP_SYN_SENT;
		ev.elapsed_ns = at->start_ns ? boot - at->start_ns : EVENT_OLD_NS_UNKNOWN;
	}
	if (kind == EVENT_SYN_ALERT) {
		/* what the live host tells (a replay has no host to ask); it
		 * may name the local port connect() picked, for this alert */
		memset(&ev.diag, 0, sizeof(ev.diag));
		if (a->diag)
			a->diag(a->diag_ctx, &ev);
	}
	return pipeline__emit(&a->stage, &ev);
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
	if (!snapshot)
		at->ev.syn_retrans = 0;
	at->start_ns = snapshot ? 0 : ev->boot_ns;
	at->start_wall = snapshot ? EVENT_WALL_UNKNOWN : ev->wall_ns;
	at->legacy = ev->legacy;
	attempt_add(a, at, snapshot);
	/* found at startup: report it now, its start time unknown */
	return snapshot ? attempt_emit(a, at, EVENT_CONNECT, ev->boot_ns, ev->wall_ns) : 0;
}

static int attempts__retrans(struct attempts *a, const struct event *ev)
{
	struct attempt *at = attempt_find(a, ev, false);
	uint64_t sock;

	if (!at)
		return 0;
	/* the retransmit knows the local port, which connect() picked late;
	 * the owner only if the kernel side knows it */
	sock = at->ev.sock;
	if (ev->pid) {
		at->ev.pid = ev->pid;
		at->ev.tid = ev->tid;
		at->ev.owner_src = ev->owner_src;
		memcpy(at->ev.comm, ev->comm, sizeof(at->ev.comm));
	}
	at->ev.laddr = ev->laddr;
	at->ev.lport = ev->lport;
	at->ev.syn_retrans = ev->syn_retrans;
	at->ev.sock = sock ? sock : ev->sock;
	/* repeated at each further retransmit once past the threshold */
	if (!at->legacy && (!at->start_ns || ev->boot_ns - at->start_ns >= a->alert_ns)) {
		at->alerted = true;
		return attempt_emit(a, at, EVENT_SYN_ALERT, ev->boot_ns, ev->wall_ns);
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
	out.prev_state = 0;
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
		out.cg = at->ev.cg;
	}
	/* the table counts the attempts the filter kept, like the events */
	d = dest_get(a, &out);
	if (d) {
		d->n[out.outcome]++;
		if (out.outcome == OUTCOME_ESTABLISHED && out.elapsed_ns != EVENT_OLD_NS_UNKNOWN)
			hist__add(&d->handshake, out.elapsed_ns);
	}
	free(at);
	err = pipeline__emit(&a->stage, &out);
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

/* An attempt alerts once it has been in SYN_SENT for the threshold, at the
 * moment it is due: the same alert, with the same times, whenever and
 * however often the source's clock is ticked. Alerts due together come in
 * the order they fell due. */
static int due_cmp(const void *x, const void *y)
{
	const struct attempt *a = *(const struct attempt *const *)x;
	const struct attempt *b = *(const struct attempt *const *)y;

	if (a->start_wall != b->start_wall)
		return a->start_wall < b->start_wall ? -1 : 1;
	return a->ev.sock < b->ev.sock ? -1 : a->ev.sock > b->ev.sock;
}

int attempts__tick(struct attempts *a, uint64_t now_wall)
{
	struct attempt **due_now;
	uint64_t next = UINT64_MAX;
	size_t n = 0;
	int err = 0;

	if (!a->active || now_wall < a->next_due)
		return 0;
	due_now = calloc(a->active, sizeof(*due_now));
	if (!due_now)
		return -ENOMEM;
	for (size_t b = 0; b < ATTEMPT_BUCKETS; b++) {
		for (struct attempt *at = a->table[b]; at; at = at->next) {
			uint64_t due = alert_due(a, at);

			if (due <= now_wall)
				due_now[n++] = at;
			else if (due < next)
				next = due;
		}
	}
	qsort(due_now, n, sizeof(*due_now), due_cmp);
	for (size_t i = 0; i < n && !err; i++) {
		struct attempt *at = due_now[i];

		at->alerted = true;
		err = attempt_emit(a, at, EVENT_SYN_ALERT, at->start_ns + a->alert_ns,
				   at->start_wall + a->alert_ns);
	}
	free(due_now);
	a->next_due = next;
	return err;
}

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

/* The per-destination table: one EVENT_CONNECT_STATS per destination, most
 * attempts first; one with family 0 when there was none. */
int attempts__finish(struct attempts *a, uint64_t now_wall)
{
	struct event ev = { .kind = EVENT_CONNECT_STATS, .proto = IPPROTO_TCP,
			    .wall_ns = now_wall };
	struct dest **v, *d;
	size_t n = 0, i;
	int err = 0;

	for (d = a->dests; d; d = d->next)
		n++;
	if (!n)
		return pipeline__emit(&a->stage, &ev);
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0, d = a->dests; d; d = d->next)
		v[i++] = d;
	qsort(v, n, sizeof(*v), dest_cmp);
	for (i = 0; i < n && !err; i++) {
		d = v[i];
		ev.family = d->family;
		ev.raddr = d->raddr;
		ev.rport = d->rport;
		memcpy(ev.outcomes, d->n, sizeof(ev.outcomes));
		ev.have_handshake = d->handshake.count > 0;
		ev.handshake_p50_ns = hist__quantile(&d->handshake, 0.50);
		ev.handshake_p99_ns = hist__quantile(&d->handshake, 0.99);
		err = pipeline__emit(&a->stage, &ev);
	}
	free(v);
	return err;
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

static int stage_event(struct stage *s, const struct event *ev)
{
	return attempts__feed((struct attempts *)s, ev);
}

static int stage_tick(struct stage *s, uint64_t now_wall)
{
	return attempts__tick((struct attempts *)s, now_wall);
}

static int stage_finish(struct stage *s, uint64_t now_wall)
{
	return attempts__finish((struct attempts *)s, now_wall);
}

static void stage_free(struct stage *s)
{
	attempts__free((struct attempts *)s);
}

static const struct stage_ops attempts_ops = {
	.event = stage_event,
	.tick = stage_tick,
	.finish = stage_finish,
	.free = stage_free,
};
