// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "replay.h"
#include "report.h"

int replay__open(struct replay *rp, const char *const *paths, int n)
{
	char msg[256];

	memset(rp, 0, sizeof(*rp));
	for (int i = 0; i < n; i++) {
		rp->paths[i] = paths[i];
		rp->readers[i] = reader__open(paths[i], msg, sizeof(msg));
		if (!rp->readers[i]) {
			int err = -errno;

			report__error("failed to read recording '%s': %s", paths[i], msg);
			replay__close(rp);
			return err;
		}
		rp->n = i + 1;
	}
	return 0;
}

static void warn_file(const char *path, struct reader *r)
{
	const struct reader_stats *st = reader__stats(r);

	if (st->bad_blocks)
		report__warning("%s: skipped %llu corrupt block%s (%llu bytes)",
				path, (unsigned long long)st->bad_blocks, st->bad_blocks == 1 ? "" : "s",
				(unsigned long long)st->bad_bytes);
	if (st->unknown_records)
		report__warning("%s: skipped %llu records of types this version does not know (a newer socktrace wrote them)",
				path, (unsigned long long)st->unknown_records);
	if (st->bad_records)
		report__warning("%s: skipped %llu malformed records",
				path, (unsigned long long)st->bad_records);
	if (st->unknown_time)
		report__warning("%s: the wall-clock time of %llu event%s is unknown (the header block is damaged and the file has no clock record before them): shown as '?', and --since/--until do not match them",
				path, (unsigned long long)st->unknown_time, st->unknown_time == 1 ? "" : "s");
	if (reader__truncated(r))
		report__warning("%s: truncated after %llu events (%s)",
				path, (unsigned long long)st->events,
				st->tail_bytes ? "the last block is incomplete" :
				"no end block: the recorder did not close it");
}

/* An event without a time is in no window: neither before nor after TIME. */
static bool in_window(uint64_t wall, uint64_t base, const struct time_bound *since,
		      const struct time_bound *until)
{
	if (wall == EVENT_WALL_UNKNOWN)
		return !since->set && !until->set;
	if (since->set && wall < (since->relative ? base + since->ns : since->ns))
		return false;
	if (until->set && wall >= (until->relative ? base + until->ns : until->ns))
		return false;
	return true;
}

/* The end of the window on the wall clock, UINT64_MAX if none (yet). */
static uint64_t window_end(uint64_t base, const struct time_bound *until)
{
	if (!until->set)
		return UINT64_MAX;
	if (!until->relative)
		return until->ns;
	return base == UINT64_MAX ? UINT64_MAX : base + until->ns;
}

/* The stages' clock: the recording's, never past the window. */
static void replay__tick(struct replay *rp, struct pipeline *pl, uint64_t wall, uint64_t boot,
			 uint64_t end)
{
	if (wall == EVENT_WALL_UNKNOWN)
		return;
	if (wall > end)
		wall = end;
	if (rp->end_wall != EVENT_WALL_UNKNOWN && wall < rp->end_wall)
		return;
	rp->end_wall = wall;
	rp->end_boot = boot;
	pipeline__tick(pl, wall);
}

int replay__run(struct replay *rp, struct pipeline *pl, const struct time_bound *since,
		const struct time_bound *until, volatile sig_atomic_t *stop)
{
	struct event heads[OPTS_MAX_FILES];
	uint64_t gaps[OPTS_MAX_FILES] = {};
	bool have[OPTS_MAX_FILES] = {};
	bool legacy[OPTS_MAX_FILES];
	uint64_t base = UINT64_MAX;
	bool any = false;
	char msg[256];
	int err = 0;

	rp->end_wall = EVENT_WALL_UNKNOWN;
	for (int i = 0; i < rp->n; i++) {
		int n;

		reader__set_ticks(rp->readers[i], true);
		/* before 1.2 a recording held the SYN alerts its run showed */
		legacy[i] = reader__header(rp->readers[i])->major == 1 &&
			    reader__header(rp->readers[i])->minor < 2;
		n = reader__next(rp->readers[i], &heads[i]);
		if (n < 0) {
			err = n;
			report__error("failed to read recording '%s': %s",
				      rp->paths[i], strerror(-n));
			goto out;
		}
		have[i] = n == 1;
	}
	/* a merge by wall clock: the one clock that recordings of different
	 * hosts or boots share; an event without a time goes out where it
	 * stands in its file */
	while (!pl->done && !(stop && *stop)) {
		struct event *ev;
		int best = -1, n;

		for (int i = 0; i < rp->n; i++) {
			if (!have[i])
				continue;
			if (heads[i].wall_ns == EVENT_WALL_UNKNOWN) {
				best = i;
				break;
			}
			if (best < 0 || heads[i].wall_ns < heads[best].wall_ns)
				best = i;
		}
		if (best < 0)
			break;
		ev = &heads[best];
		if (ev->kind == EVENT_TICK) {
			replay__tick(rp, pl, ev->wall_ns, ev->boot_ns, window_end(base, until));
			goto next;
		}
		if (event__gap(ev))
			gaps[best]++;
		/* seconds after the first event: the first that has a time */
		if (base == UINT64_MAX && ev->wall_ns != EVENT_WALL_UNKNOWN)
			base = ev->wall_ns;
		if (!in_window(ev->wall_ns, base, since, until)) {
			pl->stats.filtered++;
			goto next;
		}
		if (ev->wall_ns != EVENT_WALL_UNKNOWN) {
			if (!any || ev->wall_ns < rp->first_wall)
				rp->first_wall = ev->wall_ns;
			if (ev->wall_ns > rp->last_wall)
				rp->last_wall = ev->wall_ns;
			any = true;
		}
		if (EVENT_KIND_BIT(ev->kind) & EVENT_KINDS_DERIVED) {
			/* an older socktrace recorded what it showed: shown as
			 * recorded (its own run's diagnosis included) */
			pipeline__show(pl, ev);
			goto next;
		}
		ev->legacy = legacy[best];
		/* pipeline__push() ticks the stages to its time */
		if (ev->wall_ns != EVENT_WALL_UNKNOWN &&
		    (rp->end_wall == EVENT_WALL_UNKNOWN || ev->wall_ns > rp->end_wall)) {
			rp->end_wall = ev->wall_ns;
			rp->end_boot = ev->boot_ns;
		}
		pipeline__push(pl, ev);
next:
		n = reader__next(rp->readers[best], &heads[best]);
		if (n < 0) {
			err = n;
			report__error("failed to read recording '%s': %s",
				      rp->paths[best], strerror(-n));
			goto out;
		}
		have[best] = n == 1;
	}
out:
	for (int i = 0; i < rp->n; i++) {
		const struct reader_stats *st = reader__stats(rp->readers[i]);

		if (st->have_stats) {
			rp->lost += st->stats.lost;
			rp->udp_flows += st->stats.udp_flows;
			rp->udp_uncounted += st->stats.udp_uncounted;
			rp->udp_uncounted_bytes += st->stats.udp_uncounted_bytes;
			rp->missed += st->stats.missed;
		}
		/* the run's count, which a filtered or killed recording's own
		 * marked events may not reach; or what they show */
		rp->gaps += st->have_stats && st->stats.gaps > gaps[i] ? st->stats.gaps : gaps[i];
		/* warnings only about files read to their end */
		if (have[i] || err)
			continue;
		if (reader__unusable(rp->readers[i], msg, sizeof(msg))) {
			report__error("failed to read recording '%s': %s", rp->paths[i],
				      msg);
			err = -EBADMSG;
			continue;
		}
		warn_file(rp->paths[i], rp->readers[i]);
	}
	return err;
}

void replay__close(struct replay *rp)
{
	for (int i = 0; i < rp->n; i++)
		reader__close(rp->readers[i]);
	rp->n = 0;
}
