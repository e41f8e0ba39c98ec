// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "format.h"
#include "info.h"
#include "reader.h"
#include "report.h"

int info__print(const char *path, FILE *out)
{
	const struct reader_stats *st;
	const struct rec_header *h;
	struct reader *r;
	struct event ev;
	char msg[256], t1[64], t2[64];
	int n;

	r = reader__open(path, msg, sizeof(msg));
	if (!r) {
		report__error("failed to read recording '%s': %s", path, msg);
		return 1;
	}
	while ((n = reader__next(r, &ev)) == 1)
		;
	if (n < 0) {
		report__error("failed to read recording '%s': %s", path, strerror(-n));
		reader__close(r);
		return 1;
	}
	h = reader__header(r);
	st = reader__stats(r);
	if (reader__unusable(r, msg, sizeof(msg))) {
		report__error("failed to read recording '%s': %s", path, msg);
		reader__close(r);
		return 1;
	}
	fprintf(out, "File:              %s\n", path);
	fprintf(out, "Format:            socktrace recording %u.%u\n", h->major, h->minor);
	if (!st->have_header)
		fprintf(out, "Header:            missing or corrupt\n");
	fprintf(out, "Host:              %s\n", h->host);
	fprintf(out, "Kernel:            %s\n", h->kernel);
	fprintf(out, "Boot id:           %s\n", h->boot_id);
	fprintf(out, "socktrace version: %s\n", h->version);
	fprintf(out, "Filter:            %s\n", h->filter[0] ? h->filter : "(none)");
	fprintf(out, "File number:       %u\n", h->seq);
	if (h->created_ns) {
		format__rfc3339(t1, sizeof(t1), h->created_ns);
		fprintf(out, "Created:           %s\n", t1);
	}
	if (st->events > st->unknown_time) {
		format__rfc3339(t1, sizeof(t1), st->first_wall);
		format__rfc3339(t2, sizeof(t2), st->last_wall);
		fprintf(out, "First event:       %s\n", t1);
		fprintf(out, "Last event:        %s\n", t2);
		fprintf(out, "Span:              %.6f s\n", (st->last_wall - st->first_wall) / 1e9);
	} else {
		fprintf(out, "First event:       -\nLast event:        -\nSpan:              0 s\n");
	}
	fprintf(out, "Events:            %llu\n", (unsigned long long)st->events);
	if (st->unknown_time)
		fprintf(out, "  without time:    %llu (the header's clock reference is lost)\n",
			(unsigned long long)st->unknown_time);
	for (int t = 1; t < REC_EVENT__MAX; t++) {
		char label[32];

		if (!st->by_type[t] && t > REC_TCP_SOCKET)
			continue;
		snprintf(label, sizeof(label), "%s:", rec__type_name(t));
		fprintf(out, "  %-17s%llu\n", label, (unsigned long long)st->by_type[t]);
	}
	if (st->unknown_records)
		fprintf(out, "  unknown types:   %llu\n", (unsigned long long)st->unknown_records);
	if (st->have_stats)
		fprintf(out, "Lost events:       %llu\n", (unsigned long long)st->stats.lost);
	else
		fprintf(out, "Lost events:       unknown (no statistics block)\n");
	/* 1.0 files have no UDP counts: say nothing rather than 0 */
	if (st->have_stats && h->minor >= 1) {
		fprintf(out, "UDP flows:         %llu\n", (unsigned long long)st->stats.udp_flows);
		fprintf(out, "UDP uncounted:     %llu datagrams (%llu bytes)\n",
			(unsigned long long)st->stats.udp_uncounted,
			(unsigned long long)st->stats.udp_uncounted_bytes);
	}
	if (st->have_stats && (h->major > 1 || h->minor >= 2)) {
		fprintf(out, "Gaps:              %llu transitions the kernel did not report\n",
			(unsigned long long)st->stats.gaps);
		fprintf(out, "Missed runs:       %llu\n", (unsigned long long)st->stats.missed);
	}
	fprintf(out, "Blocks:            %llu\n", (unsigned long long)st->blocks);
	fprintf(out, "Corrupt blocks:    %llu (%llu bytes skipped)\n",
		(unsigned long long)st->bad_blocks, (unsigned long long)st->bad_bytes);
	if (st->bad_records)
		fprintf(out, "Malformed records: %llu\n", (unsigned long long)st->bad_records);
	fprintf(out, "Size:              %llu bytes", (unsigned long long)st->file_bytes);
	if (st->events)
		fprintf(out, " (%.1f bytes per event)", (double)st->file_bytes / st->events);
	fprintf(out, "\n");
	if (!reader__truncated(r))
		fprintf(out, "End:               clean close\n");
	else
		fprintf(out, "End:               truncated after %llu events (%s)\n",
			(unsigned long long)st->events,
			st->tail_bytes ? "the last block is incomplete" :
					 "no end block: the recorder did not close it");
	reader__close(r);
	return 0;
}
