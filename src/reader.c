// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reader of docs/recording.md: every length read from a file is checked
 * against what is there. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>
#include "cgroup_info.h"
#include "reader.h"

struct reader {
	FILE *f;
	uint8_t *buf;		/* file bytes from offset buf_off */
	size_t cap, len, pos;
	uint64_t buf_off;
	bool eof;
	uint8_t *raw;		/* the current events block, decompressed */
	size_t raw_cap, raw_len, raw_pos;
	bool in_events;
	bool done;
	bool first_block;
	bool ticks;		/* hand back statistics blocks as EVENT_TICK */
	bool tick_pending;
	struct rec_header hdr;
	struct clock_ref ref;
	struct reader_stats st;
	/* the file's cgroup records: its key -> our info */
	struct reader_cgroup {
		uint64_t key;
		struct cgroup_info *ci;
	} *cgroups;
	size_t n_cgroups, cap_cgroups, last_cgroup;
};

static const struct cgroup_info *cgroup_find(struct reader *r, uint64_t key)
{
	if (r->last_cgroup < r->n_cgroups && r->cgroups[r->last_cgroup].key == key)
		return r->cgroups[r->last_cgroup].ci;
	for (size_t i = 0; i < r->n_cgroups; i++)
		if (r->cgroups[i].key == key) {
			r->last_cgroup = i;
			return r->cgroups[i].ci;
		}
	return NULL;
}

/* A cgroup record: every block repeats it, the first one counts. */
static int cgroup_add(struct reader *r, const uint8_t *b, size_t len)
{
	struct cgroup_info *ci;
	uint64_t key;

	if (len >= 8 && cgroup_find(r, rec__get64(b)))
		return 0;
	ci = cgroup_info__new(NULL);
	if (!ci)
		return -ENOMEM;
	if (rec__decode_cgroup(ci, &key, b, len) || !key) {
		cgroup_info__free(ci);
		return -EINVAL;
	}
	if (r->n_cgroups == r->cap_cgroups) {
		size_t cap = r->cap_cgroups ? 2 * r->cap_cgroups : 16;
		struct reader_cgroup *a = realloc(r->cgroups, cap * sizeof(*a));

		if (!a) {
			cgroup_info__free(ci);
			return -ENOMEM;
		}
		r->cgroups = a;
		r->cap_cgroups = cap;
	}
	r->cgroups[r->n_cgroups].key = key;
	r->cgroups[r->n_cgroups++].ci = ci;
	return 0;
}

/* Makes at least `need` bytes from pos available if the file has them;
 * returns how many are. */
static size_t fill(struct reader *r, size_t need)
{
	if (r->len - r->pos >= need || r->eof)
		return r->len - r->pos;
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->buf_off += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	if (need > r->cap) {
		/* a power of two that holds it: a short file (the fuzzer's
		 * inputs) keeps a small buffer, a long one's 64 KiB blocks
		 * make it large */
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *b;

		while (cap < need)
			cap *= 2;
		b = realloc(r->buf, cap);

		if (!b)
			return r->len;	/* treated as the end of the data */
		r->buf = b;
		r->cap = cap;
	}
	while (r->len < need && !r->eof) {
		size_t n = fread(r->buf + r->len, 1, r->cap - r->len, r->f);

		r->len += n;
		if (n == 0)
			r->eof = true;
	}
	return r->len;
}

static uint64_t offset(const struct reader *r)
{
	return r->buf_off + r->pos;
}

static void copy_str(char *dst, size_t dlen, const uint8_t *src, size_t n)
{
	size_t i;

	if (n > dlen - 1)
		n = dlen - 1;
	/* a file is untrusted: no control bytes reach the terminal */
	for (i = 0; i < n && src[i]; i++)
		dst[i] = src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

static void parse_header(struct reader *r, const uint8_t *b, size_t len)
{
	struct rec_header *h = &r->hdr;
	size_t off = 0;

	while (off + 4 <= len) {
		uint16_t tag = rec__get16(b + off), n = rec__get16(b + off + 2);
		const uint8_t *v = b + off + 4;

		if (n > len - off - 4) {
			r->st.bad_records++;
			break;
		}
		switch (tag) {
		case REC_HDR_HOST:
			copy_str(h->host, sizeof(h->host), v, n);
			break;
		case REC_HDR_KERNEL:
			copy_str(h->kernel, sizeof(h->kernel), v, n);
			break;
		case REC_HDR_BOOT_ID:
			copy_str(h->boot_id, sizeof(h->boot_id), v, n);
			break;
		case REC_HDR_VERSION:
			copy_str(h->version, sizeof(h->version), v, n);
			break;
		case REC_HDR_FILTER:
			copy_str(h->filter, sizeof(h->filter), v, n);
			break;
		case REC_HDR_CLOCK:
			if (n >= 16) {
				h->ref.boot_ns = rec__get64(v);
				h->ref.wall_ns = rec__get64(v + 8);
				h->have_ref = h->ref.wall_ns != EVENT_WALL_UNKNOWN;
				r->ref = h->ref;
			}
			break;
		case REC_HDR_SEQ:
			if (n >= 4)
				h->seq = rec__get32(v);
			break;
		case REC_HDR_SYN_ALERT:
			if (n >= 8)
				h->syn_alert_ns = rec__get64(v);
			break;
		case REC_HDR_CREATED:
			if (n >= 8)
				h->created_ns = rec__get64(v);
			break;
		default:
			break;	/* a field of a later minor version */
		}
		off += 4 + n;
	}
	r->st.have_header = true;
}

/* From a bad spot, finds the next block header whose own CRC holds. */
static void resync(struct reader *r)
{
	uint64_t start = offset(r);
	struct rec_block b;
	uint8_t sync[4];

	rec__put32(sync, REC_SYNC);
	r->st.bad_blocks++;
	r->pos++;
	for (;;) {
		size_t avail = fill(r, REC_BLOCK_HDR_LEN);
		uint8_t *hit;

		if (avail < REC_BLOCK_HDR_LEN) {
			/* no header fits any more: the rest is the corrupt region */
			r->pos += avail;
			r->done = true;
			break;
		}
		hit = memmem(r->buf + r->pos, avail, sync, sizeof(sync));
		if (!hit) {
			r->pos += avail - 3;	/* a marker may straddle the refill */
			continue;
		}
		r->pos = hit - r->buf;
		if (fill(r, REC_BLOCK_HDR_LEN) < REC_BLOCK_HDR_LEN)
			continue;	/* the loop ends it */
		if (rec__decode_block_header(r->buf + r->pos, &b))
			break;
		r->pos++;
	}
	r->st.bad_bytes += offset(r) - start;
}

/* Reads the next block. Returns 1 if one was handled, 0 at the end. */
static int next_block(struct reader *r)
{
	for (;;) {
		size_t avail = fill(r, REC_BLOCK_HDR_LEN);
		const uint8_t *h = r->buf + r->pos;
		uint32_t stored, raw;
		struct rec_block b;

		if (r->done || avail == 0)
			return 0;
		/* another recording appended (cat a b > c): skip its prefix */
		if (avail >= REC_PREFIX_LEN && !memcmp(h, REC_MAGIC, REC_MAGIC_LEN) &&
		    rec__get16(h + 8) == REC_MAJOR) {
			/* its times are not those of the previous one's reference */
			r->ref.wall_ns = EVENT_WALL_UNKNOWN;
			r->pos += REC_PREFIX_LEN;
			continue;
		}
		if (avail < REC_BLOCK_HDR_LEN) {
			r->st.tail_bytes = avail;
			r->pos += avail;
			return 0;
		}
		if (!rec__decode_block_header(h, &b)) {
			resync(r);
			continue;
		}
		stored = b.stored;
		raw = b.raw;
		if (stored > REC_BLOCK_MAX || raw > REC_BLOCK_MAX ||
		    (!(b.flags & REC_FLAG_ZLIB) && stored != raw)) {
			resync(r);
			continue;
		}
		avail = fill(r, REC_BLOCK_HDR_LEN + (size_t)stored);
		if (avail < REC_BLOCK_HDR_LEN + (size_t)stored) {
			r->st.tail_bytes = avail;
			r->pos += avail;
			r->done = true;
			return 0;
		}
		h = r->buf + r->pos;
		const uint8_t *payload = h + REC_BLOCK_HDR_LEN;

		if (crc32(0, payload, stored) != b.crc_stored) {
			/* the header's CRC vouches for the length: skip just this block */
			r->st.bad_blocks++;
			r->st.bad_bytes += REC_BLOCK_HDR_LEN + stored;
			r->pos += REC_BLOCK_HDR_LEN + stored;
			continue;
		}
		if (raw > r->raw_cap) {
			uint8_t *b = realloc(r->raw, raw);

			if (!b)
				return -ENOMEM;
			r->raw = b;
			r->raw_cap = raw;
		}
		if (b.flags & REC_FLAG_ZLIB) {
			uLongf out = raw;

			if (uncompress(r->raw, &out, payload, stored) != Z_OK || out != raw) {
				r->st.bad_blocks++;
				r->st.bad_bytes += REC_BLOCK_HDR_LEN + stored;
				r->pos += REC_BLOCK_HDR_LEN + stored;
				continue;
			}
		} else if (raw) {
			memcpy(r->raw, payload, raw);
		}
		r->pos += REC_BLOCK_HDR_LEN + stored;
		if (crc32(0, r->raw, raw) != b.crc_raw) {
			r->st.bad_blocks++;
			r->st.bad_bytes += REC_BLOCK_HDR_LEN + stored;
			continue;
		}
		r->st.blocks++;
		r->st.clean_end = false;
		r->raw_len = raw;
		r->raw_pos = 0;
		r->in_events = false;
		switch (b.type) {
		case REC_BLOCK_HEADER:
			parse_header(r, r->raw, raw);
			break;
		case REC_BLOCK_EVENTS:
			r->in_events = true;
			break;
		case REC_BLOCK_STATS:
		case REC_BLOCK_END:
			if (raw >= REC_STATS_LEN_1_0) {
				rec__decode_stats(r->raw, raw, &r->st.stats);
				r->st.have_stats = true;
				r->tick_pending = r->ticks;
			}
			r->st.clean_end = b.type == REC_BLOCK_END;
			break;
		default:
			break;	/* a block type of a later minor version */
		}
		return 1;
	}
}

int reader__next(struct reader *r, struct event *ev)
{
	for (;;) {
		while (r->in_events && r->raw_pos + 4 <= r->raw_len) {
			const uint8_t *rec = r->raw + r->raw_pos;
			uint16_t type = rec__get16(rec), len = rec__get16(rec + 2);

			if (len > r->raw_len - r->raw_pos - 4) {
				r->st.bad_records++;
				break;
			}
			r->raw_pos += 4 + len;
			switch (type) {
			case REC_TCP_STATE:
			case REC_TCP_SOCKET:
			case REC_SYN_RETRANS:
			case REC_CONNECT:
			case REC_SYN_ALERT:
			case REC_UDP_FLOW:
			case REC_UDP_SOCKET:
			case REC_TCP_CONN:
			case REC_DNS_ANSWER:
			case REC_DNS_QUERY:
				if (rec__decode_event(ev, type, rec + 4, len, &r->ref)) {
					r->st.bad_records++;
					continue;
				}
				if (ev->cg_key)
					ev->cg = cgroup_find(r, ev->cg_key);
				r->st.events++;
				r->st.by_type[type]++;
				if (ev->wall_ns == EVENT_WALL_UNKNOWN) {
					r->st.unknown_time++;
					return 1;
				}
				if (r->st.events == r->st.unknown_time + 1 ||
				    ev->wall_ns < r->st.first_wall)
					r->st.first_wall = ev->wall_ns;
				if (ev->wall_ns > r->st.last_wall)
					r->st.last_wall = ev->wall_ns;
				return 1;
			case REC_CGROUP:
				if (cgroup_add(r, rec + 4, len))
					r->st.bad_records++;
				break;
			case REC_CLOCK:
				if (len < REC_CLOCK_LEN) {
					r->st.bad_records++;
					continue;
				}
				r->ref.boot_ns = rec__get64(rec + 4);
				r->ref.wall_ns = rec__get64(rec + 12);
				break;
			default:
				r->st.unknown_records++;
				break;
			}
		}
		if (r->in_events && r->raw_pos < r->raw_len && r->raw_pos + 4 > r->raw_len)
			r->st.bad_records++;
		r->in_events = false;
		int n = next_block(r);

		r->st.file_bytes = offset(r);
		if (n <= 0) {
			if (n == 0 && ferror(r->f))
				return -EIO;
			return n;
		}
		if (r->tick_pending) {
			/* the recorder's clock when it took the statistics */
			r->tick_pending = false;
			memset(ev, 0, sizeof(*ev));
			ev->kind = EVENT_TICK;
			ev->boot_ns = r->st.stats.boot_ns;
			ev->wall_ns = clock_ref__wall(&r->ref, ev->boot_ns);
			return 1;
		}
	}
}

void reader__set_ticks(struct reader *r, bool on)
{
	r->ticks = on;
}

struct reader *reader__open_file(FILE *f, char *err, size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));
	size_t avail;
	int e;

	if (!r) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	r->f = f;
	/* nothing is known of the time until a clock reference */
	r->ref.wall_ns = EVENT_WALL_UNKNOWN;
	r->hdr.ref.wall_ns = EVENT_WALL_UNKNOWN;
	avail = fill(r, REC_PREFIX_LEN);
	if (ferror(f)) {
		e = EIO;
		snprintf(err, errlen, "%s", strerror(e));
		goto fail;
	}
	if (avail < REC_PREFIX_LEN || memcmp(r->buf, REC_MAGIC, REC_MAGIC_LEN)) {
		e = EBADMSG;
		snprintf(err, errlen, "not a socktrace recording%s",
			 avail == 0 ? " (empty file)" : "");
		goto fail;
	}
	r->hdr.major = rec__get16(r->buf + 8);
	r->hdr.minor = rec__get16(r->buf + 10);
	if (r->hdr.major != REC_MAJOR) {
		e = EPROTONOSUPPORT;
		snprintf(err, errlen, "recording format version %u.%u is not supported "
			 "(this socktrace reads %u.x)", r->hdr.major, r->hdr.minor, REC_MAJOR);
		goto fail;
	}
	r->pos = REC_PREFIX_LEN;
	/* the header block comes first; read it now so the caller has it */
	if (next_block(r) < 0) {
		e = ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->st.file_bytes = offset(r);
	return r;
fail:
	reader__close(r);
	errno = e;
	return NULL;
}

struct reader *reader__open(const char *path, char *err, size_t errlen)
{
	bool std = !strcmp(path, "-");
	struct stat st;
	FILE *f;
	int fd;

	fd = std ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	/* read() on a directory fails with EISDIR: say so, not "I/O error" */
	if (!fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "it is a directory, not a recording");
		errno = EISDIR;
		return NULL;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;

		close(fd);
		snprintf(err, errlen, "%s", strerror(e));
		errno = e;
		return NULL;
	}
	return reader__open_file(f, err, errlen);
}

int reader__file_id(const struct reader *r, struct rec_input *id)
{
	struct stat st;

	if (fstat(fileno(r->f), &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

const struct rec_header *reader__header(const struct reader *r)
{
	return &r->hdr;
}

const struct reader_stats *reader__stats(const struct reader *r)
{
	return &r->st;
}

bool reader__truncated(const struct reader *r)
{
	return !r->st.clean_end || r->st.tail_bytes;
}

bool reader__unusable(const struct reader *r, char *err, size_t errlen)
{
	if (r->st.blocks)
		return false;
	snprintf(err, errlen, "no readable block after the file's magic (%llu bytes of damaged data): it is not a usable recording",
		 (unsigned long long)(r->st.bad_bytes + r->st.tail_bytes));
	return true;
}

void reader__close(struct reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r->raw);
	for (size_t i = 0; i < r->n_cgroups; i++)
		cgroup_info__free(r->cgroups[i].ci);
	free(r->cgroups);
	free(r);
}
