/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --metrics: counters fed by the pipeline (a stage after the attempt
 * tracker: it sees every event the filter keeps, source and derived) and by
 * the run's statistics, served in the Prometheus text format or OpenMetrics
 * over HTTP (libmicrohttpd). docs/metrics.md names the families. */
#ifndef ST_METRICS_H
#define ST_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "pipeline.h"
#include "sink.h"

#define METRICS_DEFAULT_ADDR "127.0.0.1"
#define METRICS_DEFAULT_CAP 100
#define METRICS_MAX_CAP 1000
/* Longer label values are cut (at a UTF-8 character's start). */
#define METRICS_LABEL_MAX 255

/* --metrics-by keys, in the order their labels appear. */
enum metrics_key {
	METRICS_BY_UNIT,
	METRICS_BY_CONTAINER,
	METRICS_BY_POD,
	METRICS_BY_COMM,
	METRICS_BY_SERVICE,
	METRICS_BY__MAX,
};

struct metrics;

/* What socktrace_build_info and socktrace_ringbuf_size_bytes say. */
struct metrics_info {
	const char *version;
	const char *libbpf;
	const char *kernel;
	uint64_t ringbuf_bytes;
	unsigned int by;	/* --metrics-by: 1 << enum metrics_key bits, 0: none */
	unsigned int cap;	/* --metrics-cap: label sets kept per family */
};

/* "[ADDR]:PORT": ":9464" (METRICS_DEFAULT_ADDR), "0.0.0.0:9464",
 * "[::1]:9464". Returns 0, or -EINVAL. */
int metrics__parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* "comm,service" as 1 << enum metrics_key bits. Returns 0, or -EINVAL for
 * an unknown or empty key. */
int metrics__parse_by(const char *s, unsigned int *by);

/* NULL with errno set. */
struct metrics *metrics__new(const struct metrics_info *info);
/* Binds addr and serves scrapes from libmicrohttpd's own thread. Returns 0
 * or -errno (-EADDRINUSE: the port is taken). */
int metrics__listen(struct metrics *m, const struct sockaddr *addr, socklen_t len);
/* The stage to add to a pipeline, after the attempt tracker; the metrics
 * keep owning it (free it with metrics__free(), after the pipeline). */
struct stage *metrics__stage(struct metrics *m);
/* The services table that names the service label (NULL: port numbers
 * only, as with -n); not owned, it must outlive the metrics' last event. */
void metrics__set_services(struct metrics *m, const struct services *svc);
/* One event the filter kept (what the stage does). */
void metrics__feed(struct metrics *m, const struct event *ev);
/* The run's statistics so far; kernel_filtered: what the kernel side's
 * filter dropped, which st->filtered does not count yet. */
void metrics__set_stats(struct metrics *m, const struct stats *st, uint64_t kernel_filtered);
/* The hook variant that runs for a concern (socktrace_hook_info). */
int metrics__set_hook(struct metrics *m, const char *concern, const char *variant);
/* The exposition as of now, in a new buffer (*out, free() it). Returns 0 or
 * -errno. */
int metrics__render(struct metrics *m, bool openmetrics, char **out, size_t *len);
/* Stops serving and frees. */
void metrics__free(struct metrics *m);

/* A label value as the text formats want it: \\, \" and \n escaped. Returns
 * the length it needs (as snprintf). */
size_t metrics__escape(const char *in, char *out, size_t n);
/* in as a label value: invalid UTF-8 bytes as '?', cut at METRICS_LABEL_MAX
 * bytes; out holds METRICS_LABEL_MAX + 1. Returns the length. */
size_t metrics__label_value(const char *in, size_t len, char *out);
/* Whether an Accept header asks for OpenMetrics. */
bool metrics__wants_openmetrics(const char *accept);

#endif /* ST_METRICS_H */
