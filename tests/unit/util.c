// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "util.h"

const struct clock_ref test_ref = {
	.boot_ns = 1000000000ull,
	.wall_ns = 1700000000000000000ull,	/* 2023-11-14T22:13:20Z */
};

static void memfile_free(void *p)
{
	struct memfile *m = p;

	if (m->f)
		fclose(m->f);
	free(m->buf);
	free(m);
}

struct memfile *memfile_new(void)
{
	struct memfile *m = calloc(1, sizeof(*m));

	if (!m)
		FAIL("out of memory");
	m->f = open_memstream(&m->buf, &m->len);
	if (!m->f) {
		free(m);
		FAIL("open_memstream failed");
	}
	ut_defer(memfile_free, m);
	return m;
}

const char *memfile_str(struct memfile *m, size_t *len)
{
	fflush(m->f);
	if (len)
		*len = m->len;
	return m->buf ? m->buf : "";
}

size_t memfile_lines(struct memfile *m)
{
	size_t len, n = 0;
	const char *s = memfile_str(m, &len);

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

int family_of(const char *text)
{
	return strchr(text, ':') ? AF_INET6 : AF_INET;
}

struct in6_addr addr_of(const char *text)
{
	struct in6_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(family_of(text), text, &a) != 1)
		FAIL("bad address literal '%s' in the test", text);
	return a;
}

void raw_set_addrs(struct st_tcp_event *e, const char *saddr, const char *daddr)
{
	struct in6_addr s = addr_of(saddr), d = addr_of(daddr);

	memcpy(e->saddr, &s, 16);
	memcpy(e->daddr, &d, 16);
	e->family = family_of(saddr);
}

void raw_init(struct st_tcp_event *e)
{
	memset(e, 0, sizeof(*e));
	e->ts_ns = test_ref.boot_ns + 123456789;
	e->skaddr = 0xffff888105308000ull;
	e->old_ns = 174321;
	e->ino = 7420;
	e->netns = 4026531833u;
	e->pid = 2923;
	e->tid = 2924;
	raw_set_addrs(e, "127.0.0.1", "10.0.0.2");
	e->sport = 43054;
	e->dport = 22;
	e->type = ST_EVENT_TCP_STATE;
	e->oldstate = ST_TCP_SYN_SENT;
	e->newstate = ST_TCP_ESTABLISHED;
	e->owner_src = ST_OWNER_CONNECT;
	e->role = ST_ROLE_CLIENT;
	memcpy(e->comm, "python3", 8);
}

static void svc_free(void *p)
{
	services__free(p);
}

static void file_close(void *f)
{
	fclose(f);
}

void defer_fclose(FILE *f)
{
	ut_defer(file_close, f);
}

void defer_services_free(struct services *s)
{
	ut_defer(svc_free, s);
}

struct services *svc_new(int port, ...)
{
	struct services *s = calloc(1, sizeof(*s));
	va_list ap;

	if (!s)
		FAIL("out of memory");
	ut_defer(svc_free, s);
	va_start(ap, port);
	while (port) {
		const char *name = va_arg(ap, const char *);

		free(s->names[port]);
		s->names[port] = strdup(name);
		port = va_arg(ap, int);
	}
	va_end(ap);
	return s;
}

void svc_set_udp(struct services *s, int port, const char *name)
{
	free(s->udp[port]);
	s->udp[port] = strdup(name);
}

static int rec_event(struct sink *s, const struct event *ev)
{
	struct rec_sink *r = (struct rec_sink *)s;

	if (r->n == REC_SINK_EVENTS)
		return -ENOSPC;
	r->evs[r->n++] = *ev;
	return 0;
}

/* pipeline__free() frees its sinks; this one goes after the test */
static void rec_free(struct sink *s)
{
	(void)s;
}

static const struct sink_ops rec_ops = { .event = rec_event, .free = rec_free };

struct rec_sink *rec_sink_new(void)
{
	struct rec_sink *r = calloc(1, sizeof(*r));

	if (!r)
		FAIL("out of memory");
	r->base.ops = &rec_ops;
	ut_defer(free, r);
	return r;
}

const char *write_file(const char *dir, const char *name, const char *content)
{
	static char paths[8][4096];
	static int next;
	char *path = paths[next++ % 8];
	FILE *f;

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		FAIL("cannot create %s", path);
	if (fputs(content, f) == EOF || fclose(f))
		FAIL("cannot write %s", path);
	return path;
}
