/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Recordings: the file format of docs/recording.md, its constants and the
 * encoding of its blocks and records. recorder.h writes recordings,
 * reader.h reads them. */
#ifndef ST_RECORD_H
#define ST_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "event.h"

#define REC_MAGIC "\x89STR\r\n\x1a\n"
#define REC_MAGIC_LEN 8
#define REC_PREFIX_LEN 12	/* magic, u16 major, u16 minor */
#define REC_MAJOR 1
#define REC_MINOR 7

#define REC_SYNC 0x4b425453u	/* "STBK" as it appears in the file */
#define REC_BLOCK_HDR_LEN 28
#define REC_BLOCK_MAX (16u << 20)	/* readers reject longer payloads */
#define REC_BLOCK_TARGET (64u << 10)	/* writers flush at this much raw data */
#define REC_FLAG_ZLIB 0x01

enum rec_block_type {
	REC_BLOCK_HEADER = 1,
	REC_BLOCK_EVENTS = 2,
	REC_BLOCK_STATS = 3,
	REC_BLOCK_END = 4,
};

/* Event records carry their kind; their numbers are the file's, mapped to
 * enum event_kind explicitly. */
enum rec_record_type {
	REC_TCP_STATE = 1,
	REC_TCP_SOCKET = 2,
	REC_SYN_RETRANS = 3,
	REC_CONNECT = 4,
	REC_SYN_ALERT = 5,
	REC_UDP_FLOW = 6,	/* 1.1 */
	REC_UDP_SOCKET = 7,	/* 1.1 */
	REC_TCP_CONN = 8,	/* 1.3 */
	REC_DNS_ANSWER = 9,	/* 1.5: a DNS answer, the source of names */
	REC_DNS_QUERY = 10,	/* 1.7: a DNS query (--dns), as a dns_answer's body */
	REC_EVENT__MAX,
	REC_CLOCK = 64,		/* 1.2: first in every events block */
	REC_CGROUP = 65,	/* 1.4: a cgroup's names, before the first event of a block naming it */
};

#define REC_EVENT_LEN 148	/* the body every event record starts with */
#define REC_UDP_FLOW_LEN 212	/* the common body, then the flow's counts */
#define REC_TCP_CONN_LEN 220	/* 1.3: the common body, then the connection's counters */
#define REC_TAIL_LEN 24		/* appended to every event body: 1.2 prev_state, 1.4 vpid, cgroup */
#define REC_TAIL_LEN_1_2 4	/* prev_state only */
#define REC_CONN_RST_LEN 32	/* 1.4: after a tcp_conn record's tail, its reset reason */
#define REC_CGROUP_MAX 4096	/* the longest cgroup record body written */
#define REC_DNS_LEN 36		/* 1.5: a DNS answer's body before its payload */
#define REC_DNS_CGROUP_LEN 8	/* 1.6: after its payload, the receiving socket's cgroup id */
#define REC_DNS_SOCK_LEN 28	/* 1.7: then the local socket: identity, address, port */
#define REC_DNS_TRAILER_LEN (REC_DNS_CGROUP_LEN + REC_DNS_SOCK_LEN)
#define REC_DNS_TCP 0x01	/* a DNS answer's flag: a TCP segment's payload */
/* the longest record written: a DNS answer with a whole payload */
#define REC_RECORD_MAX (4 + REC_DNS_LEN + ST_DNS_CAP + REC_DNS_TRAILER_LEN)
_Static_assert(REC_DNS_LEN + ST_DNS_CAP + REC_DNS_TRAILER_LEN >= REC_TCP_CONN_LEN + REC_TAIL_LEN + REC_CONN_RST_LEN,
	       "REC_RECORD_MAX is not the longest record");
#define REC_CLOCK_LEN 16
#define REC_STATS_LEN 96
#define REC_STATS_LEN_1_1 80	/* without gaps and missed runs */
#define REC_STATS_LEN_1_0 56	/* without the UDP counts */

/* The header block's fields (tag, length, value): recorder.c writes them,
 * reader.c parses them. */
enum rec_header_tag {
	REC_HDR_HOST = 1,
	REC_HDR_KERNEL = 2,
	REC_HDR_BOOT_ID = 3,
	REC_HDR_VERSION = 4,
	REC_HDR_FILTER = 5,
	REC_HDR_CLOCK = 6,
	REC_HDR_SEQ = 7,
	REC_HDR_CREATED = 8,
	REC_HDR_SYN_ALERT = 9,	/* 1.2: --syn-alert of the run, ns */
};

struct rec_header {
	uint16_t major, minor;
	char host[256];
	char kernel[256];
	char boot_id[64];
	char version[64];
	char filter[1024];
	struct clock_ref ref;
	bool have_ref;
	uint32_t seq;		/* file number within a rotated recording */
	uint64_t created_ns;	/* wall clock when the file was opened */
	uint64_t syn_alert_ns;	/* the run's alert threshold, 0 if not recorded */
};

struct rec_stats {
	uint64_t boot_ns;	/* when the statistics were taken */
	uint64_t events;	/* events that passed the filter so far (run) */
	uint64_t snapshot;	/* of which existing sockets */
	uint64_t lost;		/* lost by the kernel so far (run) */
	uint64_t filtered;	/* dropped by the filters so far (run) */
	uint64_t elapsed_ns;	/* since tracing started */
	uint64_t file_events;	/* events in this file */
	uint64_t udp_flows;	/* UDP flows started so far (run); 0 before 1.1 */
	uint64_t udp_uncounted;	/* datagrams the kernel could not count (run) */
	uint64_t udp_uncounted_bytes;
	uint64_t gaps;		/* 1.2: transitions the kernel did not report (run) */
	uint64_t missed;	/* 1.2: program runs the kernel skipped (run) */
};

/* A file the recorder must never write into: a recording being read. */
struct rec_input {
	dev_t dev;
	ino_t ino;
	const char *path;	/* as the user named it, for messages */
};

/* A block header's fields, after its sync marker and before its own CRC. */
struct rec_block {
	uint8_t type;		/* enum rec_block_type */
	uint8_t flags;		/* REC_FLAG_* */
	uint32_t stored;	/* payload bytes in the file */
	uint32_t raw;		/* payload bytes decompressed */
	uint32_t crc_stored;
	uint32_t crc_raw;
};

/* Little-endian encoding of one field. */
void rec__put16(uint8_t *p, uint16_t v);
void rec__put32(uint8_t *p, uint32_t v);
void rec__put64(uint8_t *p, uint64_t v);
uint16_t rec__get16(const uint8_t *p);
uint32_t rec__get32(const uint8_t *p);
uint64_t rec__get64(const uint8_t *p);
/* Encodes one event record (type, length, body) into buf of at least
 * REC_RECORD_MAX bytes; returns its length, 0 for a kind the format does
 * not know. */
size_t rec__encode_event(uint8_t *buf, const struct event *ev);
/* Decodes the body b (len bytes) of an event record of that type, its
 * wall-clock time from ref. 0, or -EINVAL for a body shorter than its
 * type's, a type or an address family the format does not know. */
int rec__decode_event(struct event *ev, int type, const uint8_t *b, size_t len,
		      const struct clock_ref *ref);
/* A statistics or end block's payload: REC_STATS_LEN bytes written; len
 * (at least REC_STATS_LEN_1_0) read, the fields of later versions 0. */
void rec__encode_stats(uint8_t *b, const struct rec_stats *st);
void rec__decode_stats(const uint8_t *b, size_t len, struct rec_stats *st);
/* REC_BLOCK_HDR_LEN bytes at h. Decoding returns false, and fills nothing,
 * unless the sync marker and the header's own CRC hold. */
void rec__encode_block_header(uint8_t *h, const struct rec_block *b);
bool rec__decode_block_header(const uint8_t *h, struct rec_block *b);
const char *rec__type_name(int type);
struct cgroup_info;
/* A cgroup record (type, length, body: its key and names) into buf of at
 * least 4 + REC_CGROUP_MAX bytes; returns its length. Names that do not
 * fit are left out, the path first in. */
size_t rec__encode_cgroup(uint8_t *buf, const struct cgroup_info *ci);
/* The body b (len bytes) of a cgroup record into ci (its key is the
 * file's, in *key). 0, -EINVAL for a malformed one, -ENOMEM. */
int rec__decode_cgroup(struct cgroup_info *ci, uint64_t *key, const uint8_t *b, size_t len);

#endif /* ST_RECORD_H */
