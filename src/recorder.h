/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The recorder: writes the events that passed the filter into recordings
 * (record.h), rotating files as tcpdump's -C, -G and -W do. */
#ifndef ST_RECORDER_H
#define ST_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "event.h"
#include "record.h"
#include "sink.h"

/* zlib level 3: a third of level 6's CPU on event blocks for 4% more bytes
 * (11.6 instead of 11.2 per event on a connection storm, bench/) */
#define RECORD_ZLEVEL 3

/* New files are 0600: they hold a host's connection metadata. */
#define REC_FILE_MODE 0600

struct recorder_opts {
	const char *path;		/* an strftime pattern with rotate_secs; "-": stdout */
	uint64_t rotate_bytes;		/* 0: no size rotation */
	uint32_t rotate_secs;		/* 0: no time rotation */
	uint32_t rotate_count;		/* 0: keep every file */
	const char *filter_text;	/* stored in each header */
	const struct clock_ref *ref;	/* the source's clock reference */
	const struct rec_header *origin;	/* replay: host, kernel, boot id */
	int level;			/* zlib level, 0 for RECORD_ZLEVEL */
	uint64_t syn_alert_ns;		/* stored in each header, for replay's alerts */
	unsigned int mode;		/* of new files, before the umask; 0: REC_FILE_MODE */
	bool chown;			/* -Z: the files belong to uid:gid */
	uid_t uid;
	gid_t gid;
	const struct rec_input *inputs;	/* never written into, whatever the name */
	int n_inputs;
	char *err;			/* if not NULL: why recorder__open failed */
	size_t errlen;
};

struct recorder;

/* Creates the first file and writes its header. NULL with errno set and,
 * with o->err, a reason. Besides the errors of open(2) and write(2):
 * EBUSY: a file the recorder would write (the first one, with -W any of
 * the ring, with -C a numbered one that exists) is one of o->inputs;
 * ELOOP: the file is a symbolic link, which is never followed;
 * EPERM: an existing file belongs to another user or has other names. */
struct recorder *recorder__open(const struct recorder_opts *o);
int recorder__write(struct recorder *r, const struct event *ev);
/* Writes the pending events as a block when force, or when the oldest is a
 * second old; starts the next file when -G says so. */
int recorder__flush(struct recorder *r, bool force);
/* Writes a statistics block if anything changed since the last one. */
int recorder__stats(struct recorder *r, const struct rec_stats *st);
/* Flushes, writes the end block (st may be NULL), closes and frees. */
int recorder__close(struct recorder *r, const struct rec_stats *st);
/* SIGHUP to a service: with -C or -G the next file starts now (unless -G
 * names the same one), a plain -w FILE that was moved or removed (as
 * logrotate does) starts anew at FILE, and one still in place is kept.
 * *what says which. */
int recorder__reopen(struct recorder *r, const char **what);
/* The file being written. */
const char *recorder__path(const struct recorder *r);
/* Why the last file could not be opened (a rotation), or NULL. */
const char *recorder__error(const struct recorder *r);
uint64_t recorder__bytes(const struct recorder *r);	/* over all files */

/* A sink that records (sink_record.c); its free does not close the
 * recorder. */
struct sink *sink_record__new(struct recorder *r);

#endif /* ST_RECORDER_H */
