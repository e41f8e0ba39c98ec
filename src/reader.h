/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The reader of recordings: hands their events back as the same struct
 * event the recorder was given, with the original wall-clock times. */
#ifndef ST_READER_H
#define ST_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "event.h"
#include "record.h"

struct reader_stats {
	uint64_t events;		/* decoded events */
	uint64_t by_type[REC_EVENT__MAX];	/* by enum rec_record_type */
	uint64_t unknown_records;	/* types this version does not know */
	uint64_t bad_records;		/* malformed inside a good block */
	uint64_t blocks;		/* good blocks */
	uint64_t bad_blocks;		/* corrupt blocks or regions skipped */
	uint64_t bad_bytes;		/* bytes skipped with them */
	uint64_t tail_bytes;		/* an incomplete last block */
	uint64_t file_bytes;		/* bytes consumed */
	bool clean_end;			/* the last block is an end block */
	bool have_header;
	bool have_stats;
	struct rec_stats stats;		/* the last statistics or end block */
	uint64_t first_wall, last_wall;	/* earliest and latest event with a time */
	uint64_t unknown_time;		/* events without a wall-clock time */
};

struct reader;

/* Opens a recording ("-": standard input) and reads its prefix and header.
 * NULL with errno set and a reason in err: EBADMSG for a file that is not a
 * recording, EPROTONOSUPPORT for an unknown major version, EISDIR for a
 * directory. */
struct reader *reader__open(const char *path, char *err, size_t errlen);
/* The same on an open stream, which the reader then owns. */
struct reader *reader__open_file(FILE *f, char *err, size_t errlen);
/* With on, reader__next() also returns each statistics and end block as an
 * EVENT_TICK at the recorder's clock when it wrote it (for replay's
 * stages). */
void reader__set_ticks(struct reader *r, bool on);
/* Returns 1 with the next event, 0 at the end, -errno on a read error.
 * Corrupt and truncated parts are skipped and counted, never fatal. */
int reader__next(struct reader *r, struct event *ev);
const struct rec_header *reader__header(const struct reader *r);
const struct reader_stats *reader__stats(const struct reader *r);
/* The file's device and inode, for the recorder's o->inputs. */
int reader__file_id(const struct reader *r, struct rec_input *id);
/* The file ended without an end block, or in the middle of a block. */
bool reader__truncated(const struct reader *r);
/* At the end: not one block was readable after the file's magic, which
 * makes it no recording at all rather than a damaged one; why in err. */
bool reader__unusable(const struct reader *r, char *err, size_t errlen);
void reader__close(struct reader *r);

#endif /* ST_READER_H */
