// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* replay.c with the attempt stage: recordings of an older socktrace, the
 * recorder's clock as ticks, and the source stream a recording keeps. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "attempts.h"
#include "pipeline.h"
#include "reader.h"
#include "record.h"
#include "recorder.h"
#include "replay.h"
#include "util.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* A sink that keeps a copy of what it is shown. */
struct keep {
	struct sink base;
	struct event evs[256];
	int n;
	int by_kind[EVENT__MAX];
};

static int keep_event(struct sink *s, const struct event *ev)
{
	struct keep *k = (struct keep *)s;

	if (k->n < 256)
		k->evs[k->n++] = *ev;
	k->by_kind[ev->kind]++;
	return 0;
}

static void keep_free(struct sink *s)
{
	(void)s;
}

static const struct sink_ops keep_ops = { .event = keep_event, .free = keep_free };

/* tests/unit/data/NAME, written by socktrace 0.1.0 (format 1.1) while it
 * traced real loopback attempts with -P 47201,47202 (47211,47212 for the
 * --connects one) --syn-alert 500: one refused, one established at once,
 * one hung in SYN_SENT until its listener accepted (2 s, 2 SYN
 * retransmits), one abandoned in SYN_SENT after 1.3 s. */
static const char *data_path(const char *name)
{
	static char path[PATH_MAX];
	char src[PATH_MAX];

	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(path, sizeof(path), "%s/data/%s", dirname(src), name);
	return path;
}

/* Replays paths into a pipeline that shows kinds, with an attempt stage
 * alerting after alert_ns; what it showed lands in k. */
static void replay_into(const char *const *paths, int n, uint32_t kinds, uint64_t alert_ns,
			struct keep *k, struct replay *rp, struct pipeline *pl)
{
	struct time_bound none = {};
	struct attempts *a = attempts__new(alert_ns);

	memset(k, 0, sizeof(*k));
	k->base.ops = &keep_ops;
	pipeline__init(pl, NULL, 0);
	pl->kinds = kinds;
	ASSERT_NOT_NULL(a);
	ASSERT_EQ(pipeline__add_stage(pl, attempts__stage(a)), 0);
	ASSERT_EQ(pipeline__add_sink(pl, &k->base), 0);
	ASSERT_EQ(replay__open(rp, paths, n), 0);
	ASSERT_EQ(replay__run(rp, pl, &none, &none, NULL), 0);
	ASSERT_EQ(pipeline__finish(pl, rp->end_wall), 0);
	replay__close(rp);
	pipeline__free(pl);
}

static int count(const struct keep *k, enum event_kind kind, int outcome)
{
	int n = 0;

	for (int i = 0; i < k->n; i++)
		n += k->evs[i].kind == kind && (outcome < 0 || (int)k->evs[i].outcome == outcome);
	return n;
}

/* A 1.1 recording made in the default mode holds transitions and the SYN
 * alerts its run showed: replayed as it was, without a second alert of its
 * own; with --connects, the attempts are derived from its transitions
 * (the 1.1 reader could not), the alerts still the recorded ones. */
TEST(replay_1_1_default_mode_recording)
{
	const char *paths[1] = { data_path("record-1.1-default.st") };
	static struct keep k;
	struct replay rp;
	struct pipeline pl;

	replay_into(paths, 1, PIPELINE_KINDS_DEFAULT, 500 * MS, &k, &rp, &pl);
	ASSERT_EQ(k.by_kind[EVENT_TCP_STATE], 24);
	ASSERT_EQ(k.by_kind[EVENT_SYN_ALERT], 5);
	ASSERT_EQ(k.by_kind[EVENT_CONNECT], 0);

	replay_into(paths, 1, PIPELINE_KINDS_CONNECTS, 500 * MS, &k, &rp, &pl);
	ASSERT_EQ(k.by_kind[EVENT_TCP_STATE], 0);
	ASSERT_EQ(k.by_kind[EVENT_SYN_ALERT], 5);
	ASSERT_EQ(count(&k, EVENT_CONNECT, OUTCOME_ESTABLISHED), 2);
	ASSERT_EQ(count(&k, EVENT_CONNECT, OUTCOME_REFUSED), 1);
	ASSERT_EQ(count(&k, EVENT_CONNECT, OUTCOME_ABORTED), 1);
	ASSERT_EQ(count(&k, EVENT_CONNECT, -1), 4);
	/* the table, as that run printed it: 3 to the hung port, 1 refused */
	ASSERT_EQ(k.by_kind[EVENT_CONNECT_STATS], 2);
	for (int i = 0; i < k.n; i++) {
		const struct event *e = &k.evs[i];

		if (e->kind != EVENT_CONNECT_STATS)
			continue;
		if (e->rport == 47201) {
			ASSERT_EQ_U64(e->outcomes[OUTCOME_ESTABLISHED], 2);
			ASSERT_EQ_U64(e->outcomes[OUTCOME_ABORTED], 1);
		} else {
			ASSERT_EQ(e->rport, 47202);
			ASSERT_EQ_U64(e->outcomes[OUTCOME_REFUSED], 1);
		}
	}
}

/* A 1.1 recording made with --connects holds only what that run showed:
 * its connect and syn_alert records, replayed as they are. */
TEST(replay_1_1_connects_recording)
{
	const char *paths[1] = { data_path("record-1.1-connects.st") };
	static struct keep k;
	struct replay rp;
	struct pipeline pl;

	replay_into(paths, 1, PIPELINE_KINDS_CONNECTS, 500 * MS, &k, &rp, &pl);
	ASSERT_EQ(count(&k, EVENT_CONNECT, -1), 4);
	ASSERT_EQ(k.by_kind[EVENT_SYN_ALERT], 5);
	/* nothing to derive a table from: a table without rows */
	ASSERT_EQ(k.by_kind[EVENT_CONNECT_STATS], 1);
	ASSERT_EQ(k.evs[k.n - 1].family, 0);
}

/* The recorder keeps the source stream whatever is shown, SYN
 * retransmits included; the statistics blocks come back as ticks at the
 * recorder's clock; a replay derives the alerts again, at the same times
 * as the run, up to the end block's time and no further. */
TEST(replay_derives_alerts_from_the_source_stream)
{
	char path[512];
	const char *paths[1] = { path };
	struct recorder_opts o = { .path = path, .ref = &test_ref, .syn_alert_ns = 1 * SEC };
	struct recorder *r;
	uint64_t t0 = test_ref.boot_ns + 10 * SEC;
	static struct keep k;
	struct rec_stats st = { .boot_ns = t0 + 2500 * MS };
	struct pipeline pl, live;
	struct attempts *a;
	struct replay rp;
	struct event ev;
	static struct keep lk;

	snprintf(path, sizeof(path), "%s/stream.st", ut_tmpdir());
	r = recorder__open(&o);
	ASSERT_NOT_NULL(r);
	/* the live run: --connects, the recorder after the filter */
	memset(&lk, 0, sizeof(lk));
	lk.base.ops = &keep_ops;
	pipeline__init(&live, NULL, 0);
	live.kinds = PIPELINE_KINDS_CONNECTS;
	a = attempts__new(1 * SEC);
	ASSERT_NOT_NULL(a);
	ASSERT_EQ(pipeline__add_stage(&live, attempts__stage(a)), 0);
	ASSERT_EQ(pipeline__add_sink(&live, &lk.base), 0);
	pipeline__set_recorder(&live, sink_record__new(r));
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_TCP_STATE;
	ev.family = AF_INET;
	ev.proto = IPPROTO_TCP;
	ev.sock = 0x1000;
	ev.rport = 80;
	ev.pid = 7;
	strcpy(ev.comm, "curl");
	ev.old_ns = ev.elapsed_ns = EVENT_OLD_NS_UNKNOWN;
	ev.old_state = ST_TCP_CLOSE;
	ev.new_state = ST_TCP_SYN_SENT;
	ev.boot_ns = t0;
	ev.wall_ns = clock_ref__wall(&test_ref, t0);
	ASSERT_EQ(pipeline__push(&live, &ev), 0);
	ev.kind = EVENT_SYN_RETRANS;
	ev.old_state = ev.new_state = ST_TCP_SYN_SENT;
	ev.lport = 40000;
	ev.syn_retrans = 1;
	ev.boot_ns = t0 + 1010 * MS;
	ev.wall_ns = clock_ref__wall(&test_ref, ev.boot_ns);
	ASSERT_EQ(pipeline__push(&live, &ev), 0);
	/* the run ends at 2.5 s, the attempt still hanging */
	ASSERT_EQ(pipeline__finish(&live, clock_ref__wall(&test_ref, st.boot_ns)), 0);
	pipeline__free(&live);
	ASSERT_EQ(recorder__close(r, &st), 0);
	/* threshold alert at 1 s (count 0), then one at the retransmit */
	ASSERT_EQ(lk.by_kind[EVENT_SYN_ALERT], 2);
	ASSERT_EQ_U64(lk.evs[0].boot_ns, t0 + 1 * SEC);
	ASSERT_EQ(lk.evs[0].syn_retrans, 0);
	ASSERT_EQ(lk.evs[1].syn_retrans, 1);

	/* the file: the source stream only, and the run's threshold */
	{
		char err[256];
		struct reader *rd = reader__open(path, err, sizeof(err));
		struct event e;
		int n = 0, ticks = 0;

		ASSERT_NOT_NULL(rd);
		ASSERT_EQ_U64(reader__header(rd)->syn_alert_ns, 1 * SEC);
		reader__set_ticks(rd, true);
		while (reader__next(rd, &e) == 1) {
			if (e.kind == EVENT_TICK) {
				ticks++;
				ASSERT_EQ_U64(e.boot_ns, st.boot_ns);
				continue;
			}
			ASSERT_MSG(!(EVENT_KIND_BIT(e.kind) & EVENT_KINDS_DERIVED),
				   "a derived event (kind %d) was recorded", e.kind);
			n++;
		}
		ASSERT_EQ(n, 2);
		ASSERT_EQ(ticks, 1);
		ASSERT_EQ_U64(reader__stats(rd)->by_type[REC_SYN_RETRANS], 1);
		reader__close(rd);
	}

	/* replayed: the same alerts, the same times and counts */
	replay_into(paths, 1, PIPELINE_KINDS_CONNECTS, 1 * SEC, &k, &rp, &pl);
	ASSERT_EQ(k.by_kind[EVENT_SYN_ALERT], 2);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(k.evs[i].kind, lk.evs[i].kind);
		ASSERT_EQ_U64(k.evs[i].boot_ns, lk.evs[i].boot_ns);
		ASSERT_EQ_U64(k.evs[i].wall_ns, lk.evs[i].wall_ns);
		ASSERT_EQ_U64(k.evs[i].elapsed_ns, lk.evs[i].elapsed_ns);
		ASSERT_EQ(k.evs[i].syn_retrans, lk.evs[i].syn_retrans);
	}
	ASSERT_EQ_U64(rp.end_boot, st.boot_ns);
	/* a shorter threshold is the replay's own: due at 0.5 s */
	replay_into(paths, 1, PIPELINE_KINDS_CONNECTS, 500 * MS, &k, &rp, &pl);
	ASSERT_EQ_U64(k.evs[0].boot_ns, t0 + 500 * MS);
}
