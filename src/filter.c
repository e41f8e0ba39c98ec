// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cgroup_info.h"
#include "filter.h"

static bool fexpr__match(const struct fexpr *x, const struct event *ev);

bool filter__is_empty(const struct filter *f)
{
	return !f->n_pids && !f->n_ports && !f->family && !f->protos && !f->states &&
	       !f->comm[0] && !f->expr && !f->cgroup && !f->unit && !f->container && !f->pod;
}

static unsigned int proto_bit(int proto)
{
	return proto == IPPROTO_UDP ? FILTER_PROTO_UDP : FILTER_PROTO_TCP;
}

bool filter__wants_proto(const struct filter *f, int proto)
{
	/* TCP states select TCP events only */
	if (proto == IPPROTO_UDP && f->states)
		return false;
	return !f->protos || (f->protos & proto_bit(proto));
}

bool filter__match(const struct filter *f, const struct event *ev)
{
	if (f->family && ev->family != f->family)
		return false;
	if (f->protos && !(f->protos & proto_bit(ev->proto)))
		return false;
	if (f->states && ev->proto == IPPROTO_UDP)
		return false;
	if (f->states) {
		uint32_t bits = ev->new_state < 32 ? 1u << ev->new_state : 0;

		if (ev->kind == EVENT_TCP_STATE && ev->old_state < 32)
			bits |= 1u << ev->old_state;
		if (!(f->states & bits))
			return false;
	}
	if (f->n_ports) {
		int i;

		for (i = 0; i < f->n_ports; i++)
			if (f->ports[i] == ev->lport || f->ports[i] == ev->rport)
				break;
		if (i == f->n_ports)
			return false;
	}
	if (f->n_pids) {
		int i;

		for (i = 0; i < f->n_pids; i++)
			if (f->pids[i] == ev->pid)
				break;
		if (i == f->n_pids)
			return false;
	}
	if (f->comm[0] && strcmp(f->comm, ev->comm))
		return false;
	if (f->cgroup && !cgroup_info__match_path(ev->cg, f->cgroup))
		return false;
	if (f->unit && !cgroup_info__match_unit(ev->cg, f->unit))
		return false;
	if (f->container && !cgroup_info__match_container(ev->cg, f->container))
		return false;
	if (f->pod && !cgroup_info__match_pod(ev->cg, f->pod))
		return false;
	if (f->expr && !fexpr__match(f->expr, ev))
		return false;
	return true;
}

/* Calls add(f, item) for each item of a comma-separated list. */
static int for_each_item(struct filter *f, const char *list,
			 int (*add)(struct filter *f, const char *item))
{
	char *copy, *save = NULL, *tok;
	int err = 0;

	if (!list || !*list)
		return -EINVAL;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	/* strtok_r would silently skip empty items such as "1,,2" */
	if (list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
		free(copy);
		return -EINVAL;
	}
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add(f, tok);
	free(copy);
	return err;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int add_pid(struct filter *f, const char *s)
{
	unsigned long v;

	if (parse_ulong(s, 1, INT_MAX, &v))
		return -EINVAL;
	if (f->n_pids == FILTER_MAX_ITEMS)
		return -E2BIG;
	f->pids[f->n_pids++] = v;
	return 0;
}

static int add_port(struct filter *f, const char *s)
{
	unsigned long v;

	if (parse_ulong(s, 1, 65535, &v))
		return -EINVAL;
	if (f->n_ports == FILTER_MAX_ITEMS)
		return -E2BIG;
	f->ports[f->n_ports++] = v;
	return 0;
}

static int add_state(struct filter *f, const char *s)
{
	int st = tcp_state__parse(s);

	if (st < 0)
		return -EINVAL;
	f->states |= 1u << st;
	return 0;
}

int filter__add_pids(struct filter *f, const char *list)
{
	return for_each_item(f, list, add_pid);
}

int filter__add_ports(struct filter *f, const char *list)
{
	return for_each_item(f, list, add_port);
}

int filter__add_states(struct filter *f, const char *list)
{
	return for_each_item(f, list, add_state);
}

int filter__set_comm(struct filter *f, const char *comm)
{
	size_t n = strlen(comm);

	/* the kernel keeps 15 bytes of a task's name */
	if (n == 0 || n >= TASK_COMM_LEN)
		return -EINVAL;
	memcpy(f->comm, comm, n + 1);
	return 0;
}

/* ---- filter expressions (pcap-filter style) ---- */

enum fx_op {
	FX_AND = 1,
	FX_OR,
	FX_NOT,
	FX_PROTO,	/* tcp, udp */
	FX_FAMILY,	/* ip, ip6: the socket's family, as -4/-6 */
	FX_HOST,
	FX_NET,
	FX_PORT,	/* also portrange */
	FX_STATE,
	FX_PID,
	FX_COMM,
	FX_CONN,	/* retrans, rtt, bytes, tx, rx, duration OP VALUE: tcp_conn only */
	FX_ENDED,	/* ended REASON: tcp_conn ends only */
	FX_CGROUP,	/* cgroup PATH: the owner's cgroup, it and below */
	FX_UNIT,	/* unit NAME: a systemd unit or slice on its path */
	FX_CONTAINER,	/* container ID|NAME */
	FX_POD,		/* pod [NS/]NAME or UID */
	FX_NAME,	/* host NAME: the name DNS gave the remote address (rname) */
};

/* The numbers of a tcp_conn record that an expression compares. */
enum fx_metric { M_RETRANS, M_RTT, M_BYTES, M_TX, M_RX, M_DURATION };
enum fx_cmp { C_LT, C_LE, C_EQ, C_GE, C_GT };

static const struct {
	const char *name;
	enum fx_metric m;
} metrics[] = {
	{ "retrans", M_RETRANS }, { "rtt", M_RTT }, { "bytes", M_BYTES }, { "tx", M_TX },
	{ "rx", M_RX }, { "duration", M_DURATION },
};

/* src is the local side, dst the remote side */
enum fx_dir { FX_EITHER, FX_SRC, FX_DST, FX_BOTH };

/* FX_AND and FX_OR hold a list of operands (a, then each one's next), so a
 * long chain "port 1 or port 2 or ..." is not a deep tree: only '(' and
 * 'not' nest, and the parser bounds that (FILTER_MAX_DEPTH). */
struct fexpr {
	enum fx_op op;
	enum fx_dir dir;
	struct fexpr *a;	/* FX_NOT: the operand; FX_AND/FX_OR: the first one */
	struct fexpr *next;	/* the next operand of the enclosing FX_AND/FX_OR */
	int family;		/* FX_FAMILY; FX_HOST/FX_NET: of addr */
	int proto;		/* FX_PROTO */
	int bits;		/* FX_HOST/FX_NET: prefix length */
	struct in6_addr addr;
	uint32_t lo, hi;	/* ports; pid in lo; state in lo; FX_ENDED: a bit per end */
	char comm[TASK_COMM_LEN + 1];
	char name[EVENT_NAME_MAX + 1];	/* FX_NAME, without a final dot */
	enum fx_metric metric;	/* FX_CONN */
	enum fx_cmp cmp;
	uint64_t val;		/* bytes, segments, microseconds (rtt), ns (duration) */
	char *str;		/* FX_CGROUP, FX_UNIT, FX_CONTAINER, FX_POD */
};

/* Frees x and the operands after it; recursion only where the tree nests. */
static void fexpr__free(struct fexpr *x)
{
	while (x) {
		struct fexpr *next = x->next;

		fexpr__free(x->a);
		free(x->str);
		free(x);
		x = next;
	}
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int n = bits / 8, rem = bits % 8;

	if (memcmp(a, b, n))
		return false;
	if (rem) {
		uint8_t mask = 0xff << (8 - rem);

		return (a[n] & mask) == (b[n] & mask);
	}
	return true;
}

static bool is_v4_mapped(const struct in6_addr *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a->s6_addr, pfx, sizeof(pfx));
}

/* An IPv4 host or net also matches the IPv4-mapped address of an AF_INET6
 * socket: that is how the outputs print it. */
static bool addr_match(const struct fexpr *x, int family, const struct in6_addr *a)
{
	if (x->family == AF_INET) {
		if (family == AF_INET)
			return prefix_eq(a->s6_addr, x->addr.s6_addr, x->bits);
		return is_v4_mapped(a) && prefix_eq(a->s6_addr + 12, x->addr.s6_addr, x->bits);
	}
	return family == AF_INET6 && prefix_eq(a->s6_addr, x->addr.s6_addr, x->bits);
}

static bool port_in(const struct fexpr *x, uint16_t port)
{
	return port >= x->lo && port <= x->hi;
}

static bool by_dir(enum fx_dir dir, bool local, bool remote)
{
	switch (dir) {
	case FX_SRC:
		return local;
	case FX_DST:
		return remote;
	case FX_BOTH:
		return local && remote;
	default:
		return local || remote;
	}
}

static uint64_t conn_metric(const struct event *ev, enum fx_metric m)
{
	const struct tcp_conn *c = &ev->conn;

	switch (m) {
	case M_RETRANS:
		return c->total_retrans;
	case M_RTT:
		return c->srtt_us;
	case M_BYTES:
		return c->bytes_sent + c->bytes_received;
	case M_TX:
		return c->bytes_sent;
	case M_RX:
		return c->bytes_received;
	case M_DURATION:
		return ev->boot_ns > c->start_ns ? ev->boot_ns - c->start_ns : 0;
	}
	return 0;
}

static bool cmp_match(const struct fexpr *x, uint64_t v)
{
	switch (x->cmp) {
	case C_LT:
		return v < x->val;
	case C_LE:
		return v <= x->val;
	case C_EQ:
		return v == x->val;
	case C_GE:
		return v >= x->val;
	case C_GT:
		return v > x->val;
	}
	return false;
}

/* An owner term (cgroup, unit, container, pod) against the owner's cgroup. */
static bool fexpr__match_owner(const struct fexpr *x, const struct cgroup_info *ci)
{
	switch (x->op) {
	case FX_CGROUP:
		return cgroup_info__match_path(ci, x->str);
	case FX_UNIT:
		return cgroup_info__match_unit(ci, x->str);
	case FX_CONTAINER:
		return cgroup_info__match_container(ci, x->str);
	case FX_POD:
		return cgroup_info__match_pod(ci, x->str);
	default:
		return false;
	}
}

static bool fexpr__match(const struct fexpr *x, const struct event *ev)
{
	switch (x->op) {
	case FX_AND:
		for (const struct fexpr *y = x->a; y; y = y->next)
			if (!fexpr__match(y, ev))
				return false;
		return true;
	case FX_OR:
		for (const struct fexpr *y = x->a; y; y = y->next)
			if (fexpr__match(y, ev))
				return true;
		return false;
	case FX_NOT:
		return !fexpr__match(x->a, ev);
	case FX_PROTO:
		return ev->proto == x->proto;
	case FX_FAMILY:
		return ev->family == x->family;
	case FX_HOST:
	case FX_NET:
		return by_dir(x->dir, addr_match(x, ev->family, &ev->laddr),
			      addr_match(x, ev->family, &ev->raddr));
	case FX_NAME:
		/* names are the remote side's; a resolved name, never a lookup
		 * (a DNS query: the name it asked, and where its answer led) */
		if (x->dir == FX_SRC || x->dir == FX_BOTH)
			return false;
		if (ev->kind == EVENT_DNS)
			return !strcasecmp(ev->dnsq.qname, x->name) ||
			       (ev->dnsq.canonical[0] && !strcasecmp(ev->dnsq.canonical, x->name));
		return (ev->rname[0] && !strcasecmp(ev->rname, x->name)) ||
		       (ev->rname_canonical[0] && !strcasecmp(ev->rname_canonical, x->name));
	case FX_PORT:
		return by_dir(x->dir, port_in(x, ev->lport), port_in(x, ev->rport));
	case FX_STATE: {
		/* as --state: a transition matches by its old or new state */
		if (ev->new_state == x->lo)
			return true;
		return ev->kind == EVENT_TCP_STATE && ev->old_state == x->lo;
	}
	case FX_PID:
		return ev->pid == x->lo;
	case FX_COMM:
		return ev->pid && !strcmp(ev->comm, x->comm);
	case FX_CONN:
		return ev->kind == EVENT_TCP_CONN && cmp_match(x, conn_metric(ev, x->metric));
	case FX_ENDED:
		return ev->kind == EVENT_TCP_CONN && ev->conn.event == TCP_CONN_END &&
		       (x->lo & (1u << ev->conn.end));
	case FX_CGROUP:
	case FX_UNIT:
	case FX_CONTAINER:
	case FX_POD:
		return fexpr__match_owner(x, ev->cg);
	}
	return false;
}

enum tok_kind { T_END, T_WORD, T_LPAREN, T_RPAREN, T_NOT, T_AND, T_OR };

struct tok {
	enum tok_kind kind;
	const char *s;
	size_t n;
	int col;		/* 1-based */
};

struct parser {
	const char *text;
	size_t pos;
	struct tok cur;
	char *err;
	size_t errlen;
	int rc;			/* first error: -EINVAL or -ENOMEM */
	int depth;		/* '(' and 'not' around the current token */
	/* the last primitive with a value, for "port 80 or 443" */
	bool have_tmpl;
	enum fx_op tmpl_op;
	enum fx_dir tmpl_dir;
	int tmpl_proto;		/* 0, or the protocol it was qualified with */
};

#define WORD_STOP " \t\n\r\v\f()!&|"

static struct tok lex_at(const char *text, size_t *pos)
{
	struct tok t = {};
	const char *s;

	while (text[*pos] && strchr(" \t\n\r\v\f", text[*pos]))
		(*pos)++;
	s = text + *pos;
	t.s = s;
	t.col = *pos + 1;
	if (!*s) {
		t.kind = T_END;
		return t;
	}
	if (*s == '(' || *s == ')' || *s == '!') {
		t.kind = *s == '(' ? T_LPAREN : *s == ')' ? T_RPAREN : T_NOT;
		t.n = 1;
	} else if ((s[0] == '&' && s[1] == '&') || (s[0] == '|' && s[1] == '|')) {
		t.kind = s[0] == '&' ? T_AND : T_OR;
		t.n = 2;
	} else if (*s == '&' || *s == '|') {
		t.kind = T_WORD;	/* a lone '&' or '|' fails as a word */
		t.n = 1;
	} else {
		t.n = strcspn(s, WORD_STOP);
		t.kind = T_WORD;
		if (t.n == 3 && !strncmp(s, "and", 3))
			t.kind = T_AND;
		else if (t.n == 2 && !strncmp(s, "or", 2))
			t.kind = T_OR;
		else if (t.n == 3 && !strncmp(s, "not", 3))
			t.kind = T_NOT;
	}
	*pos += t.n;
	return t;
}

static void next(struct parser *p)
{
	p->cur = lex_at(p->text, &p->pos);
}

/* The token after the current one, without consuming anything. */
static struct tok peek(const struct parser *p)
{
	size_t pos = p->pos;

	return lex_at(p->text, &pos);
}

static bool is_word(const struct tok *t, const char *w)
{
	return t->kind == T_WORD && t->n == strlen(w) && !strncmp(t->s, w, t->n);
}

static struct fexpr *perr(struct parser *p, const struct tok *t, const char *expected)
{
	if (!p->rc) {
		p->rc = -EINVAL;
		if (t->kind == T_END)
			snprintf(p->err, p->errlen, "column %d: expected %s, got end of expression",
				 t->col, expected);
		else
			snprintf(p->err, p->errlen, "column %d: expected %s, got '%.*s'",
				 t->col, expected, (int)(t->n > 40 ? 40 : t->n), t->s);
	}
	return NULL;
}

/* A new node; for FX_AND/FX_OR, a and b become its first two operands. */
static struct fexpr *node(struct parser *p, enum fx_op op, struct fexpr *a, struct fexpr *b)
{
	struct fexpr *x = calloc(1, sizeof(*x));

	if (!x) {
		fexpr__free(a);
		fexpr__free(b);
		if (!p->rc) {
			p->rc = -ENOMEM;
			snprintf(p->err, p->errlen, "out of memory");
		}
		return NULL;
	}
	x->op = op;
	x->a = a;
	if (a)
		a->next = b;
	return x;
}

/* A copy of the current word, NUL-terminated, in buf; false if too long. */
static bool word(const struct tok *t, char *buf, size_t len)
{
	if (t->n >= len)
		return false;
	memcpy(buf, t->s, t->n);
	buf[t->n] = '\0';
	return true;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* A port number, or a name /etc/services knows for TCP. */
static bool parse_port(const char *s, uint32_t *out)
{
	struct servent *se;

	if (*s >= '0' && *s <= '9')
		return parse_u32(s, 65535, out);
	se = getservbyname(s, "tcp");
	if (!se)
		return false;
	*out = ntohs(se->s_port);
	return true;
}

static bool parse_addr(const char *s, struct fexpr *x)
{
	if (inet_pton(AF_INET, s, &x->addr) == 1) {
		x->family = AF_INET;
		x->bits = 32;
		return true;
	}
	if (inet_pton(AF_INET6, s, &x->addr) == 1) {
		x->family = AF_INET6;
		x->bits = 128;
		return true;
	}
	return false;
}

/* A DNS name ("api.example.test", a final dot allowed): letters, digits,
 * '-', '_' and dots, labels of 1 to 63 characters, the last one not all
 * digits (300.1.1.1 is a bad address, not a name). */
static bool parse_name(char *s, struct fexpr *x)
{
	size_t n = strlen(s), label = 0;
	bool digits = true;

	if (n && s[n - 1] == '.')
		s[--n] = '\0';
	if (!n || n > EVENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (!label)
				return false;
			label = 0;
			digits = true;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_') {
			if (++label > 63)
				return false;
			digits = digits && isdigit((unsigned char)s[i]);
		} else {
			return false;
		}
	}
	if (digits)
		return false;
	x->op = FX_NAME;
	memcpy(x->name, s, n + 1);
	return true;
}

/* "10.0.0.0/8", "2001:db8::/32" or an address (all bits); host bits must be
 * zero, as pcap-filter insists. */
static bool parse_net(char *s, struct fexpr *x)
{
	char *slash = strchr(s, '/');
	uint32_t bits;
	int max;

	if (slash)
		*slash = '\0';
	if (!parse_addr(s, x))
		return false;
	max = x->bits;
	if (slash) {
		if (!parse_u32(slash + 1, max, &bits))
			return false;
		x->bits = bits;
	}
	for (int i = x->bits; i < max; i++)
		if (x->addr.s6_addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* The value of a primitive of kind op from the current token. */
static struct fexpr *parse_value(struct parser *p, enum fx_op op, enum fx_dir dir)
{
	struct tok t = p->cur;
	char buf[EVENT_NAME_MAX + 2];
	struct fexpr *x;
	const char *what;
	bool ok = false;

	switch (op) {
	case FX_HOST:
	case FX_NAME:
		what = "an IPv4 or IPv6 address, or a DNS name";
		break;
	case FX_NET:
		what = "a network such as 10.0.0.0/8 or 2001:db8::/32 (no host bits set)";
		break;
	case FX_PORT:
		what = "a port number or service name";
		break;
	case FX_STATE:
		what = "a TCP state name such as ESTABLISHED";
		break;
	case FX_PID:
		what = "a process id";
		break;
	case FX_COMM:
		what = "a command name of 1 to 15 characters";
		break;
	case FX_CGROUP:
		what = "a cgroup path such as /system.slice/nginx.service";
		break;
	case FX_UNIT:
		what = "a systemd unit or slice name";
		break;
	case FX_CONTAINER:
		what = "a container id (or its prefix) or name";
		break;
	case FX_POD:
		what = "a pod as NAMESPACE/NAME, NAME or its uid";
		break;
	default:
		what = "a value";
	}
	if (t.kind != T_WORD)
		return perr(p, &t, what);
	x = node(p, op, NULL, NULL);
	if (!x)
		return NULL;
	x->dir = dir;
	if (op == FX_COMM) {
		ok = word(&t, x->comm, TASK_COMM_LEN);
	} else if (op == FX_CGROUP || op == FX_UNIT || op == FX_CONTAINER || op == FX_POD) {
		x->str = strndup(t.s, t.n);
		ok = x->str && (op != FX_CGROUP || t.s[0] == '/');
		if (!ok) {
			free(x->str);
			x->str = NULL;
		}
	} else if (word(&t, buf, sizeof(buf))) {
		switch (op) {
		case FX_HOST:
		case FX_NAME:
			x->op = FX_HOST;
			ok = parse_addr(buf, x);
			/* names are the remote side's (DNS answers name remote addresses) */
			if (!ok && dir != FX_SRC && dir != FX_BOTH)
				ok = parse_name(buf, x);
			else if (!ok)
				what = "an IPv4 or IPv6 address (a local address has no name)";
			break;
		case FX_NET:
			ok = parse_net(buf, x);
			break;
		case FX_PORT:
			ok = parse_port(buf, &x->lo);
			x->hi = x->lo;
			break;
		case FX_STATE: {
			int st = tcp_state__parse(buf);

			ok = st > 0;
			x->lo = st;
			break;
		}
		case FX_PID:
			ok = parse_u32(buf, INT_MAX, &x->lo) && x->lo > 0;
			break;
		default:
			break;
		}
	}
	if (!ok) {
		free(x);
		return perr(p, &t, what);
	}
	next(p);
	return x;
}

/* "portrange A-B" */
static struct fexpr *parse_range(struct parser *p, enum fx_dir dir)
{
	struct tok t = p->cur;
	const char *what = "a port range such as 1024-65535";
	char buf[32], *dash;
	struct fexpr *x;

	if (t.kind != T_WORD || !word(&t, buf, sizeof(buf)) || !(dash = strchr(buf, '-')))
		return perr(p, &t, what);
	*dash = '\0';
	x = node(p, FX_PORT, NULL, NULL);
	if (!x)
		return NULL;
	x->dir = dir;
	if (!parse_u32(buf, 65535, &x->lo) || !parse_u32(dash + 1, 65535, &x->hi) ||
	    x->lo > x->hi) {
		free(x);
		return perr(p, &t, what);
	}
	next(p);
	return x;
}

static struct fexpr *with_proto(struct parser *p, int proto, struct fexpr *x)
{
	struct fexpr *px;

	if (!proto || !x)
		return x;
	px = node(p, FX_PROTO, NULL, NULL);
	if (!px) {
		fexpr__free(x);
		return NULL;
	}
	px->proto = proto;
	return node(p, FX_AND, px, x);
}

/* [src|dst|src or dst|src and dst] host|net|port|portrange VALUE */
static struct fexpr *parse_qualified(struct parser *p, int proto)
{
	enum fx_dir dir = FX_EITHER;
	enum fx_op op;
	struct fexpr *x;
	struct tok t;

	if (is_word(&p->cur, "src") || is_word(&p->cur, "dst")) {
		dir = is_word(&p->cur, "src") ? FX_SRC : FX_DST;
		next(p);
		t = peek(p);
		if ((p->cur.kind == T_OR || p->cur.kind == T_AND) &&
		    is_word(&t, dir == FX_SRC ? "dst" : "src")) {
			dir = p->cur.kind == T_OR ? FX_EITHER : FX_BOTH;
			next(p);
			next(p);
		}
	}
	t = p->cur;
	if (is_word(&t, "host")) {
		op = FX_HOST;
	} else if (is_word(&t, "net")) {
		op = FX_NET;
	} else if (is_word(&t, "port")) {
		op = FX_PORT;
	} else if (is_word(&t, "portrange")) {
		next(p);
		x = parse_range(p, dir);
		goto done;
	} else if (dir != FX_EITHER && t.kind == T_WORD) {
		/* "src 10.0.0.1": host is implied, as in pcap-filter */
		x = parse_value(p, FX_HOST, dir);
		op = FX_HOST;
		goto done;
	} else {
		return perr(p, &t, "host, net, port or portrange");
	}
	next(p);
	x = parse_value(p, op, dir);
done:
	if (x) {
		p->have_tmpl = true;
		p->tmpl_op = x->op == FX_PORT && x->lo != x->hi ? FX_PORT : x->op;
		p->tmpl_dir = dir;
		p->tmpl_proto = proto;
		if (x->op == FX_PORT && x->lo != x->hi)
			p->have_tmpl = false;	/* no "portrange 1-2 or 3-4" */
	}
	return with_proto(p, proto, x);
}

/* A number with a unit: time units (us, ms, s, m) as nanoseconds for
 * duration or microseconds for rtt, a bare number in that metric's unit
 * (seconds for duration, ms for rtt); sizes with k, M, G (powers of 1000)
 * or KiB, MiB, GiB (of 1024). */
static bool parse_metric_value(const char *s, enum fx_metric m, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} times[] = { { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
		      { "m", 60000000000ull } };
	static const struct {
		const char *unit;
		uint64_t mult;
	} sizes[] = { { "k", 1000 }, { "K", 1000 }, { "M", 1000000 }, { "G", 1000000000ull },
		      { "KiB", 1024 }, { "MiB", 1 << 20 }, { "GiB", 1 << 30 } };
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || v < 0 || v > 1e18)
		return false;
	if (m == M_RTT || m == M_DURATION) {
		uint64_t unit = m == M_RTT ? 1000000 : 1000000000ull;	/* ms, s */

		if (*end) {
			size_t i;

			for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
				if (!strcmp(end, times[i].unit))
					break;
			if (i == sizeof(times) / sizeof(times[0]))
				return false;
			unit = times[i].ns;
		}
		v *= unit;
		if (m == M_RTT)
			v /= 1000;	/* the kernel keeps microseconds */
	} else if (*end) {
		size_t i;

		if (m == M_RETRANS)
			return false;
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (!strcmp(end, sizes[i].unit))
				break;
		if (i == sizeof(sizes) / sizeof(sizes[0]))
			return false;
		v *= sizes[i].mult;
	}
	if (v > 1.8e19)
		return false;
	*out = (uint64_t)(v + 0.5);
	return true;
}

/* "retrans > 0", "rtt >= 100ms", "bytes > 10M", "duration < 30s" */
static struct fexpr *parse_conn(struct parser *p, enum fx_metric m)
{
	static const struct {
		const char *op;
		enum fx_cmp cmp;
	} ops[] = { { "<", C_LT }, { "<=", C_LE }, { "=", C_EQ }, { "==", C_EQ }, { ">=", C_GE },
		    { ">", C_GT } };
	struct tok t = p->cur;
	char buf[64];
	struct fexpr *x;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (is_word(&t, ops[i].op))
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return perr(p, &t, "a comparison: <, <=, =, >= or > (with spaces around it)");
	next(p);
	t = p->cur;
	if (t.kind != T_WORD || !word(&t, buf, sizeof(buf)))
		return perr(p, &t, m == M_RETRANS ? "a number" :
			    m == M_RTT || m == M_DURATION ? "a time such as 100ms or 30s" :
			    "a size such as 1500, 64k, 10M or 1GiB");
	x = node(p, FX_CONN, NULL, NULL);
	if (!x)
		return NULL;
	x->metric = m;
	x->cmp = ops[i].cmp;
	if (!parse_metric_value(buf, m, &x->val)) {
		free(x);
		return perr(p, &t, m == M_RETRANS ? "a number" :
			    m == M_RTT || m == M_DURATION ? "a time such as 100ms or 30s" :
			    "a size such as 1500, 64k, 10M or 1GiB");
	}
	next(p);
	return x;
}

/* "ended fin", "ended rst" (sent or received), "ended timeout"... */
static struct fexpr *parse_ended(struct parser *p)
{
	const char *what = "an end: fin, rst, rst_sent, rst_received, timeout, keepalive, "
			   "refused, unreachable or aborted";
	struct tok t = p->cur;
	char buf[32];
	struct fexpr *x;
	uint32_t mask = 0;

	if (t.kind == T_WORD && word(&t, buf, sizeof(buf))) {
		if (!strcmp(buf, "rst"))
			mask = 1u << ST_END_RST_SENT | 1u << ST_END_RST_RECEIVED;
		for (int e = 1; e < ST_END__MAX && !mask; e++)
			if (!strcmp(buf, tcp_end__name(e)))
				mask = 1u << e;
	}
	if (!mask)
		return perr(p, &t, what);
	x = node(p, FX_ENDED, NULL, NULL);
	if (!x)
		return NULL;
	x->lo = mask;
	next(p);
	return x;
}

static bool starts_qualified(const struct tok *t)
{
	return is_word(t, "src") || is_word(t, "dst") || is_word(t, "host") ||
	       is_word(t, "net") || is_word(t, "port") || is_word(t, "portrange");
}

static bool is_keyword(const struct tok *t)
{
	static const char *const kw[] = { "tcp", "udp", "ip", "ip6", "state", "pid", "comm",
					  "cgroup", "unit", "container", "pod", "retrans", "rtt", "bytes", "tx", "rx", "duration", "ended" };

	if (starts_qualified(t))
		return true;
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (is_word(t, kw[i]))
			return true;
	return false;
}

static struct fexpr *parse_or(struct parser *p);

static struct fexpr *parse_primitive(struct parser *p)
{
	struct tok t = p->cur;
	struct fexpr *x;

	if (is_word(&t, "tcp") || is_word(&t, "udp") || is_word(&t, "ip") || is_word(&t, "ip6")) {
		bool proto = t.s[0] != 'i';

		next(p);
		if (proto && starts_qualified(&p->cur))
			return parse_qualified(p, t.s[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP);
		x = node(p, proto ? FX_PROTO : FX_FAMILY, NULL, NULL);
		if (!x)
			return NULL;
		x->proto = t.s[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
		x->family = t.n == 2 ? AF_INET : AF_INET6;
		/* "ip host X": the family and the address */
		if (!proto && starts_qualified(&p->cur)) {
			struct fexpr *q = parse_qualified(p, 0);

			return q ? node(p, FX_AND, x, q) : (fexpr__free(x), NULL);
		}
		return x;
	}
	if (starts_qualified(&t))
		return parse_qualified(p, 0);
	if (is_word(&t, "state") || is_word(&t, "pid") || is_word(&t, "comm") ||
	    is_word(&t, "cgroup") || is_word(&t, "unit") || is_word(&t, "container") ||
	    is_word(&t, "pod")) {
		enum fx_op op = is_word(&t, "state") ? FX_STATE : is_word(&t, "pid") ? FX_PID :
				is_word(&t, "comm") ? FX_COMM : is_word(&t, "cgroup") ? FX_CGROUP :
				is_word(&t, "unit") ? FX_UNIT : is_word(&t, "container") ? FX_CONTAINER :
				FX_POD;

		next(p);
		x = parse_value(p, op, FX_EITHER);
		if (x) {
			p->have_tmpl = true;
			p->tmpl_op = op;
			p->tmpl_dir = FX_EITHER;
			p->tmpl_proto = 0;
		}
		return x;
	}
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		if (is_word(&t, metrics[i].name)) {
			next(p);
			return parse_conn(p, metrics[i].m);
		}
	}
	if (is_word(&t, "ended")) {
		next(p);
		return parse_ended(p);
	}
	/* a bare value repeats the last primitive: "port 80 or 443" */
	if (t.kind == T_WORD && p->have_tmpl && !is_keyword(&t))
		return with_proto(p, p->tmpl_proto, parse_value(p, p->tmpl_op, p->tmpl_dir));
	return perr(p, &t, "a primitive (tcp, udp, ip, ip6, host, net, port, portrange, src, dst, "
		    "state, pid, comm, cgroup, unit, container, pod, retrans, rtt, bytes, tx, rx, duration, ended), 'not' or '('");
}

/* Each '(' and 'not' is a level of recursion here and in matching: bounded,
 * so that no input can exhaust the stack. */
static bool enter(struct parser *p)
{
	if (p->depth >= FILTER_MAX_DEPTH) {
		if (!p->rc) {
			p->rc = -EINVAL;
			snprintf(p->err, p->errlen,
				 "column %d: nested too deeply (at most %d levels of '(' and 'not')",
				 p->cur.col, FILTER_MAX_DEPTH);
		}
		return false;
	}
	p->depth++;
	return true;
}

static struct fexpr *parse_unary(struct parser *p)
{
	struct fexpr *x;

	if (p->cur.kind == T_NOT) {
		if (!enter(p))
			return NULL;
		next(p);
		x = parse_unary(p);
		p->depth--;
		return x ? node(p, FX_NOT, x, NULL) : NULL;
	}
	if (p->cur.kind == T_LPAREN) {
		struct tok open = p->cur;

		if (!enter(p))
			return NULL;
		next(p);
		x = parse_or(p);
		p->depth--;
		if (!x)
			return NULL;
		if (p->cur.kind != T_RPAREN) {
			char what[64];

			fexpr__free(x);
			snprintf(what, sizeof(what), "')' to close the '(' at column %d", open.col);
			return perr(p, &p->cur, what);
		}
		next(p);
		return x;
	}
	return parse_primitive(p);
}

/* One operand, then as many as follow "op" (T_AND or T_OR), as one list. */
static struct fexpr *parse_list(struct parser *p, enum tok_kind op,
				struct fexpr *(*operand)(struct parser *p))
{
	struct fexpr *first = operand(p), *x, *last;

	if (!first || p->cur.kind != op)
		return first;
	x = node(p, op == T_AND ? FX_AND : FX_OR, first, NULL);
	if (!x)
		return NULL;
	last = first;
	while (p->cur.kind == op) {
		next(p);
		last->next = operand(p);
		if (!last->next) {
			fexpr__free(x);
			return NULL;
		}
		last = last->next;
	}
	return x;
}

/* not > and > or; and/or evaluate left to right */
static struct fexpr *parse_and(struct parser *p)
{
	return parse_list(p, T_AND, parse_unary);
}

static struct fexpr *parse_or(struct parser *p)
{
	return parse_list(p, T_OR, parse_and);
}

int filter__parse(struct filter *f, const char *text, char *err, size_t errlen)
{
	struct parser p = { .text = text, .err = err, .errlen = errlen };
	struct fexpr *x;
	char *copy;

	next(&p);
	if (p.cur.kind == T_END) {
		filter__free(f);
		return 0;
	}
	x = parse_or(&p);
	if (x && p.cur.kind != T_END) {
		fexpr__free(x);
		x = NULL;
		perr(&p, &p.cur, "'and', 'or' or the end of the expression");
	}
	if (!x)
		return p.rc ? p.rc : -EINVAL;
	copy = strdup(text);
	if (!copy) {
		fexpr__free(x);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	filter__free(f);
	f->expr = x;
	f->expr_text = copy;
	return 0;
}

static int each_owner_term(const struct fexpr *x, filter_term_fn fn, void *ctx)
{
	int err;

	for (; x; x = x->next) {
		if (x->op == FX_AND || x->op == FX_OR || x->op == FX_NOT) {
			err = each_owner_term(x->a, fn, ctx);
			if (err)
				return err;
			continue;
		}
		if (x->op == FX_CGROUP && (err = fn(ctx, "cgroup", x->str)))
			return err;
		if (x->op == FX_CONTAINER && (err = fn(ctx, "container", x->str)))
			return err;
	}
	return 0;
}

/* Whether a term of the top-level AND chain rejects every event of the
 * cgroup; terms under 'or' and 'not' decide nothing alone. */
static bool owner_and_rejects(const struct fexpr *x, const struct cgroup_info *ci, bool *any)
{
	if (x->op == FX_AND) {
		for (const struct fexpr *y = x->a; y; y = y->next)
			if (owner_and_rejects(y, ci, any))
				return true;
		return false;
	}
	switch (x->op) {
	case FX_CGROUP:
	case FX_UNIT:
	case FX_CONTAINER:
	case FX_POD:
		*any = true;
		return ci && !fexpr__match_owner(x, ci);
	default:
		return false;
	}
}

bool filter__owner_rejects(const struct filter *f, const struct cgroup_info *ci)
{
	bool any = false;

	if ((f->cgroup && !cgroup_info__match_path(ci, f->cgroup)) ||
	    (f->unit && !cgroup_info__match_unit(ci, f->unit)) ||
	    (f->container && !cgroup_info__match_container(ci, f->container)) ||
	    (f->pod && !cgroup_info__match_pod(ci, f->pod)))
		return true;
	return f->expr && owner_and_rejects(f->expr, ci, &any);
}

bool filter__has_owner_and(const struct filter *f)
{
	bool any = false;

	if (f->cgroup || f->unit || f->container || f->pod)
		return true;
	if (f->expr)
		owner_and_rejects(f->expr, NULL, &any);
	return any;
}

int filter__each_owner_term(const struct filter *f, filter_term_fn fn, void *ctx)
{
	int err = 0;

	if (f->cgroup)
		err = fn(ctx, "cgroup", f->cgroup);
	if (!err && f->container)
		err = fn(ctx, "container", f->container);
	return err ?: each_owner_term(f->expr, fn, ctx);
}

void filter__free(struct filter *f)
{
	fexpr__free(f->expr);
	free(f->expr_text);
	f->expr = NULL;
	f->expr_text = NULL;
}

/* Only terms of the expression's top-level AND chain are pushed down, each
 * as the kernel's list for its field when the options left that list
 * empty: family (ip, ip6), one port (port N, either direction: the kernel
 * checks both sides, a superset of src/dst), one pid, one state. Anything
 * under 'or' or 'not', and host/net/portrange/comm, stays in userspace. */
static void push_and_terms(const struct fexpr *x, const struct filter *f, struct filter *k)
{
	if (x->op == FX_AND) {
		for (const struct fexpr *y = x->a; y; y = y->next)
			push_and_terms(y, f, k);
		return;
	}
	switch (x->op) {
	case FX_FAMILY:
		if (!k->family)
			k->family = x->family;
		break;
	case FX_PORT:
		if (!f->n_ports && !k->n_ports && x->lo == x->hi)
			k->ports[k->n_ports++] = x->lo;
		break;
	case FX_PID:
		if (!f->n_pids && !k->n_pids)
			k->pids[k->n_pids++] = x->lo;
		break;
	case FX_STATE:
		if (!f->states && !k->states)
			k->states = 1u << x->lo;
		break;
	case FX_PROTO:
		if (!k->protos)
			k->protos = proto_bit(x->proto);
		break;
	case FX_CONN:
	case FX_ENDED:
		/* only TCP connections have these numbers */
		if (!k->protos)
			k->protos = FILTER_PROTO_TCP;
		break;
	default:
		break;
	}
}

void filter__kernel(const struct filter *f, struct filter *k)
{
	memcpy(k, f, sizeof(*k));
	k->expr = NULL;
	k->expr_text = NULL;
	k->comm[0] = '\0';
	k->cgroup = k->unit = k->container = k->pod = NULL;
	if (f->expr)
		push_and_terms(f->expr, f, k);
}

/* Appends to buf, keeping it NUL-terminated; returns false when full. */
static bool cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
	return w >= 0 && (size_t)w < len - n;
}

int filter__describe(const struct filter *f, char *buf, size_t len)
{
	const char *and = "";
	bool ok = true;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	if (f->n_pids) {
		ok &= cat(buf, len, "%s(", and);
		for (int i = 0; i < f->n_pids; i++)
			ok &= cat(buf, len, "%spid %u", i ? " or " : "", f->pids[i]);
		ok &= cat(buf, len, ")");
		and = " and ";
	}
	if (f->n_ports) {
		ok &= cat(buf, len, "%s(", and);
		for (int i = 0; i < f->n_ports; i++)
			ok &= cat(buf, len, "%sport %u", i ? " or " : "", f->ports[i]);
		ok &= cat(buf, len, ")");
		and = " and ";
	}
	if (f->family) {
		ok &= cat(buf, len, "%s%s", and, f->family == AF_INET ? "ip" : "ip6");
		and = " and ";
	}
	if (f->protos == FILTER_PROTO_TCP || f->protos == FILTER_PROTO_UDP) {
		ok &= cat(buf, len, "%s%s", and, f->protos == FILTER_PROTO_TCP ? "tcp" : "udp");
		and = " and ";
	}
	if (f->states) {
		const char *or = "";

		ok &= cat(buf, len, "%s(", and);
		for (int s = 0; s < 32; s++) {
			if (!(f->states & (1u << s)))
				continue;
			ok &= cat(buf, len, "%sstate %s", or, tcp_state__name(s));
			or = " or ";
		}
		ok &= cat(buf, len, ")");
		and = " and ";
	}
	if (f->comm[0]) {
		ok &= cat(buf, len, "%scomm %s", and, f->comm);
		and = " and ";
	}
	if (f->cgroup) {
		ok &= cat(buf, len, "%scgroup %s", and, f->cgroup);
		and = " and ";
	}
	if (f->unit) {
		ok &= cat(buf, len, "%sunit %s", and, f->unit);
		and = " and ";
	}
	if (f->container) {
		ok &= cat(buf, len, "%scontainer %s", and, f->container);
		and = " and ";
	}
	if (f->pod) {
		ok &= cat(buf, len, "%spod %s", and, f->pod);
		and = " and ";
	}
	if (f->expr_text)
		ok &= cat(buf, len, *and ? "%s(%s)" : "%s%s", and, f->expr_text);
	return ok ? 0 : -ENOSPC;
}
