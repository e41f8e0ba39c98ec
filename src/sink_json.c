// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSON lines: one object per event, then one summary object. The fields are
 * documented in docs/json.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "sink.h"

struct sink_json {
	struct sink base;
	struct json_writer w;
};

static int json__write(struct sink *s, struct json_writer *w)
{
	if (fwrite(w->buf, 1, w->len, s->out) != w->len)
		return -errno;
	return 0;
}

static int jsink__event(struct sink *s, const struct event *ev)
{
	struct json_writer *w = &((struct sink_json *)s)->w;
	char buf[64];
	const char *svc;

	json__reset(w);
	json__begin(w);
	json__key_str(w, "type", ev->kind == EVENT_TCP_SOCKET ? "tcp_socket" : "tcp_state");
	format__rfc3339(buf, sizeof(buf), ev->wall_ns);
	json__key_str(w, "time", buf);
	json__key_u64(w, "boot_ns", ev->boot_ns);
	json__key_str(w, "proto", "tcp");
	json__key_u64(w, "family", ev->family == AF_INET ? 4 : 6);
	format__addr(buf, sizeof(buf), ev->family, &ev->laddr);
	json__key_str(w, "laddr", buf);
	json__key_u64(w, "lport", ev->lport);
	format__addr(buf, sizeof(buf), ev->family, &ev->raddr);
	json__key_str(w, "raddr", buf);
	json__key_u64(w, "rport", ev->rport);
	sink__service(s->svc, ev, &svc);
	json__key_str(w, "service", svc);
	json__key_u64(w, "netns", ev->netns);
	if (ev->sock) {
		static const char hex[] = "0123456789abcdef";
		char *p = buf + sizeof(buf);
		uint64_t v = ev->sock;

		*--p = '\0';
		do {
			*--p = hex[v & 15];
			v >>= 4;
		} while (v);
		*--p = 'x';
		*--p = '0';
		json__key_str(w, "sock", p);
	} else {
		json__key_null(w, "sock");
	}
	json__key_u64(w, "ino", ev->ino);
	if (ev->pid) {
		json__key_u64(w, "pid", ev->pid);
		json__key_u64(w, "tid", ev->tid);
		json__key_str(w, "comm", ev->comm);
	} else {
		json__key_null(w, "pid");
		json__key_null(w, "tid");
		json__key_null(w, "comm");
	}
	json__key_str(w, "owner", owner_src__name(ev->owner_src));
	json__key_str(w, "role", role__name(ev->role));
	if (ev->kind == EVENT_TCP_SOCKET) {
		json__key_str(w, "state", tcp_state__name(ev->new_state));
	} else {
		json__key_str(w, "old", tcp_state__name(ev->old_state));
		json__key_str(w, "new", tcp_state__name(ev->new_state));
		if (ev->old_ns == EVENT_OLD_NS_UNKNOWN)
			json__key_null(w, "old_ms");
		else
			json__key_fixed(w, "old_ms", ev->old_ns / 1000, 3);
	}
	json__end(w);
	return json__write(s, w);
}

static int jsink__summary(struct sink *s, const struct stats *st)
{
	struct json_writer *w = &((struct sink_json *)s)->w;

	json__reset(w);
	json__begin(w);
	json__key_str(w, "type", "summary");
	json__key_u64(w, "events", st->events);
	json__key_u64(w, "snapshot", st->snapshot);
	json__key_u64(w, "lost", st->lost);
	json__key_u64(w, "filtered", st->filtered);
	json__key_fixed(w, "elapsed_s", st->elapsed_ns / 1000000, 3);
	json__end(w);
	return json__write(s, w);
}

static int jsink__flush(struct sink *s)
{
	return fflush(s->out) ? -errno : 0;
}

static void jsink__free(struct sink *s)
{
	struct sink_json *j = (struct sink_json *)s;

	json__free(&j->w);
	free(j);
}

static const struct sink_ops json_ops = {
	.event = jsink__event,
	.flush = jsink__flush,
	.summary = jsink__summary,
	.free = jsink__free,
};

struct sink *sink_json__new(FILE *out, const struct services *svc)
{
	struct sink_json *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->base.ops = &json_ops;
	j->base.out = out;
	j->base.svc = svc;
	return &j->base;
}
