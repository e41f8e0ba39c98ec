// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Recorder of docs/recording.md, with tcpdump's rotation (-C, -G, -W). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <zlib.h>
#include "cgroup_info.h"
#include "recorder.h"

#ifndef SOCKTRACE_VERSION
#define SOCKTRACE_VERSION "0.1.0"
#endif

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct recorder {
	struct recorder_opts o;
	char *filter;			/* o.filter_text: ours, for later files */
	int fd;
	char path[PATH_MAX];
	uint8_t *raw;			/* pending records */
	size_t raw_len;
	uint8_t *z;
	size_t z_cap;
	/* One deflate state for every block: compress2() set up and freed
	 * its 256 KiB per block, and glibc gave that memory back to the
	 * kernel each time (brk calls and page faults, more CPU than the
	 * compression itself). deflateReset() gives the same output. */
	z_stream zs;
	bool zs_ready;
	uint64_t block_mono;		/* when the first pending record came */
	uint64_t file_mono;		/* when this file was opened */
	uint64_t file_bytes;
	uint64_t file_events;
	uint64_t total_bytes;
	uint32_t period_files;		/* files opened in this -G period */
	uint32_t seq;
	char **ring;			/* -W: the files kept, oldest first */
	uint32_t ring_n;
	struct clock_ref ref;		/* what the reader will assume */
	uint64_t *cg_keys;		/* cgroup records in the pending block */
	size_t n_cg, cap_cg;
	struct rec_stats last;
	bool have_last;
	char host[256], kernel[256], boot_id[64];
	char msg[PATH_MAX + 256];	/* why a file was refused */
};

#define RAW_CAP (REC_BLOCK_TARGET + 256)

static int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i = 0;

	memcpy(v, iov, n * sizeof(*v));
	while (i < n) {
		ssize_t w = writev(fd, v + i, n - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < n && (size_t)w >= v[i].iov_len) {
			w -= v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= w;
		}
	}
	return 0;
}

/* The zlib stream of len bytes of data into r->z (zlen bytes, compressBound
 * of len), as compress2() at the recorder's level writes it. */
static int deflate_block(struct recorder *r, const uint8_t *data, size_t len, uLongf *zlen)
{
	int ret;

	if (!r->zs_ready) {
		if (deflateInit(&r->zs, r->o.level ? r->o.level : RECORD_ZLEVEL) != Z_OK)
			return -ENOMEM;
		r->zs_ready = true;
	} else if (deflateReset(&r->zs) != Z_OK) {
		return -EINVAL;
	}
	r->zs.next_in = (Bytef *)data;
	r->zs.avail_in = len;
	r->zs.next_out = r->z;
	r->zs.avail_out = *zlen;
	ret = deflate(&r->zs, Z_FINISH);
	if (ret != Z_STREAM_END)
		return -ENOSPC;
	*zlen = r->zs.total_out;
	return 0;
}

/* One block in one writev: a recorder killed meanwhile leaves at most this
 * block incomplete. */
static int put_block(struct recorder *r, int type, const uint8_t *data, size_t len, bool compress)
{
	uint8_t h[REC_BLOCK_HDR_LEN];
	const uint8_t *stored = data;
	size_t stored_len = len;
	uint32_t crc_raw = crc32(0, data, len);
	int flags = 0, err;

	if (compress && len > 0) {
		uLongf zlen = compressBound(len);

		if (zlen > r->z_cap) {
			uint8_t *z = realloc(r->z, zlen);

			if (!z)
				return -ENOMEM;
			r->z = z;
			r->z_cap = zlen;
		}
		if (!deflate_block(r, data, len, &zlen) && zlen < len) {
			stored = r->z;
			stored_len = zlen;
			flags = REC_FLAG_ZLIB;
		}
	}
	struct rec_block b = {
		.type = type,
		.flags = flags,
		.stored = stored_len,
		.raw = len,
		.crc_stored = flags ? crc32(0, stored, stored_len) : crc_raw,
		.crc_raw = crc_raw,
	};
	rec__encode_block_header(h, &b);
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)stored, stored_len } };

	err = write_all(r->fd, iov, 2);
	if (err)
		return err;
	r->file_bytes += sizeof(h) + stored_len;
	r->total_bytes += sizeof(h) + stored_len;
	return 0;
}

static size_t put_field(uint8_t *b, int tag, const void *val, size_t len)
{
	if (len > 1024)
		len = 1024;
	rec__put16(b, tag);
	rec__put16(b + 2, len);
	memcpy(b + 4, val, len);
	return 4 + len;
}

static int write_header(struct recorder *r)
{
	uint8_t pfx[REC_PREFIX_LEN], b[4096], v[16];
	const char *filter = r->o.filter_text ? r->o.filter_text : "";
	size_t n = 0;
	int err;

	memcpy(pfx, REC_MAGIC, REC_MAGIC_LEN);
	rec__put16(pfx + 8, REC_MAJOR);
	rec__put16(pfx + 10, REC_MINOR);
	struct iovec iov = { pfx, sizeof(pfx) };

	err = write_all(r->fd, &iov, 1);
	if (err)
		return err;
	r->file_bytes += sizeof(pfx);
	r->total_bytes += sizeof(pfx);

	n += put_field(b + n, REC_HDR_HOST, r->host, strlen(r->host));
	n += put_field(b + n, REC_HDR_KERNEL, r->kernel, strlen(r->kernel));
	n += put_field(b + n, REC_HDR_BOOT_ID, r->boot_id, strlen(r->boot_id));
	n += put_field(b + n, REC_HDR_VERSION, SOCKTRACE_VERSION, strlen(SOCKTRACE_VERSION));
	n += put_field(b + n, REC_HDR_FILTER, filter, strlen(filter));
	rec__put64(v, r->ref.boot_ns);
	rec__put64(v + 8, r->ref.wall_ns);
	n += put_field(b + n, REC_HDR_CLOCK, v, 16);
	rec__put32(v, r->seq);
	n += put_field(b + n, REC_HDR_SEQ, v, 4);
	rec__put64(v, wall_ns());
	n += put_field(b + n, REC_HDR_CREATED, v, 8);
	if (r->o.syn_alert_ns) {
		rec__put64(v, r->o.syn_alert_ns);
		n += put_field(b + n, REC_HDR_SYN_ALERT, v, 8);
	}
	return put_block(r, REC_BLOCK_HEADER, b, n, false);
}

static int digits(uint32_t v)
{
	int d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* tcpdump's names: FILE, FILE1, FILE2, ... with -C; FILE0 .. FILE<W-1> with
 * -C and -W; FILE an strftime pattern with -G. */
static int make_name(struct recorder *r, char *out, size_t len)
{
	char base[PATH_MAX];
	int n;

	if (r->o.rotate_secs) {
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		if (!strftime(base, sizeof(base), r->o.path, &tm))
			return -ENAMETOOLONG;
	} else {
		snprintf(base, sizeof(base), "%s", r->o.path);
	}
	if (!r->o.rotate_bytes)
		n = snprintf(out, len, "%s", base);
	else if (r->o.rotate_count)
		n = snprintf(out, len, "%s%0*u", base, digits(r->o.rotate_count - 1),
			     r->period_files % r->o.rotate_count);
	else if (r->period_files)
		n = snprintf(out, len, "%s%u", base, r->period_files);
	else
		n = snprintf(out, len, "%s", base);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* -W: forget a name that is reused (its file is truncated) and remove the
 * oldest file once COUNT are kept. */
static int ring_add(struct recorder *r, const char *path)
{
	char *copy;

	if (!r->o.rotate_count)
		return 0;
	for (uint32_t i = 0; i < r->ring_n; i++) {
		if (strcmp(r->ring[i], path))
			continue;
		free(r->ring[i]);
		memmove(r->ring + i, r->ring + i + 1, (r->ring_n - i - 1) * sizeof(char *));
		r->ring_n--;
		break;
	}
	if (r->ring_n == r->o.rotate_count) {
		unlink(r->ring[0]);
		free(r->ring[0]);
		memmove(r->ring, r->ring + 1, (r->ring_n - 1) * sizeof(char *));
		r->ring_n--;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	r->ring[r->ring_n++] = copy;
	return 0;
}

static int refuse(struct recorder *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* The input a file is, or NULL. */
static const struct rec_input *input_of(const struct recorder *r, const struct stat *st)
{
	for (int i = 0; i < r->o.n_inputs; i++)
		if (r->o.inputs[i].dev == st->st_dev && r->o.inputs[i].ino == st->st_ino)
			return &r->o.inputs[i];
	return NULL;
}

/* Writing into an input would destroy it while it is read. */
static int check_not_input(struct recorder *r, const char *path)
{
	const struct rec_input *in;
	struct stat st;

	if (stat(path, &st))
		return 0;
	in = input_of(r, &st);
	if (in)
		return refuse(r, -EBUSY, "'%s' is the same file as the input '%s'", path, in->path);
	return 0;
}

static bool is_number(const char *s)
{
	if (*s == '0' || !*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Before the first file: every name this recorder may write that exists
 * now, so that -r X -w X (also through a link, or a rotation name such as
 * X1) fails before anything is truncated. */
static int check_names(struct recorder *r)
{
	char path[PATH_MAX], dir[PATH_MAX], base[PATH_MAX];
	const char *dname, *bname;
	struct dirent *de;
	size_t n;
	DIR *d;
	int err;

	if (!r->o.n_inputs || !strcmp(r->o.path, "-"))
		return 0;
	err = make_name(r, path, sizeof(path));
	if (!err)
		err = check_not_input(r, path);
	for (uint32_t i = 1; !err && i < r->o.rotate_count && r->o.rotate_bytes; i++) {
		r->period_files = i;
		err = make_name(r, path, sizeof(path));
		if (!err)
			err = check_not_input(r, path);
	}
	r->period_files = 0;
	if (err || !r->o.rotate_bytes || r->o.rotate_count)
		return err;
	/* -C alone: FILE1, FILE2, ... as far as they exist */
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	dname = dirname(dir);
	bname = basename(base);
	n = strlen(bname);
	d = opendir(dname);
	if (!d)
		return 0;
	while (!err && (de = readdir(d))) {
		if (strncmp(de->d_name, bname, n) || !is_number(de->d_name + n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dname, de->d_name);
		err = check_not_input(r, path);
	}
	closedir(d);
	return err;
}

/* Opens one recording file without following a symbolic link at its end,
 * and only if it is new, or ours with no other name: a world-writable
 * directory can hold files and links that another user planted. */
static int open_path(struct recorder *r, const char *path)
{
	mode_t mode = r->o.mode ? r->o.mode : REC_FILE_MODE;
	const struct rec_input *in;
	struct stat st;
	int fd, err = 0;

	/* O_NONBLOCK: a planted FIFO must not block the open */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
	/* the kernel may refuse another user's link in a sticky directory
	 * (EACCES) before O_NOFOLLOW does (ELOOP): say what is there */
	if (fd < 0) {
		err = -errno;
		if (lstat(path, &st))
			return refuse(r, err, "'%s': %s", path, strerror(-err));
	} else if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return refuse(r, err, "'%s': %s", path, strerror(-err));
	}
	if (S_ISLNK(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return refuse(r, -ELOOP, "'%s' is a symbolic link: socktrace does not follow one (remove it, or name its target)",
			      path);
	}
	in = input_of(r, &st);
	if (in) {
		if (fd >= 0)
			close(fd);
		return refuse(r, -EBUSY, "'%s' is the same file as the input '%s'", path, in->path);
	}
	/* a device such as /dev/null only root can create */
	if (!S_ISCHR(st.st_mode) && st.st_uid != geteuid() &&
	    !(r->o.chown && st.st_uid == r->o.uid)) {
		if (fd >= 0)
			close(fd);
		return refuse(r, -EPERM, "'%s' belongs to another user (uid %u): socktrace does not write into other users' files",
			      path, (unsigned int)st.st_uid);
	}
	if (fd < 0)
		return refuse(r, err, "'%s': %s", path, strerror(-err));
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		close(fd);
		return refuse(r, -EPERM, "'%s' has %lu names (hard links): socktrace writes only into a file of one name",
			      path, (unsigned long)st.st_nlink);
	}
	err = fcntl(fd, F_SETFL, 0) ? -errno : 0;
	if (!err && S_ISREG(st.st_mode) && ftruncate(fd, 0))
		err = -errno;
	/* -Z: the files are the unprivileged user's, so that rotation can remove them */
	if (!err && r->o.chown && st.st_uid != r->o.uid && fchown(fd, r->o.uid, r->o.gid))
		err = -errno;
	if (err) {
		close(fd);
		return refuse(r, err, "'%s': %s", path, strerror(-err));
	}
	return fd;
}

static int open_file(struct recorder *r)
{
	char path[PATH_MAX];
	int err;

	r->msg[0] = '\0';
	if (!strcmp(r->o.path, "-")) {
		struct stat st;
		const struct rec_input *in;

		/* the shell opened it: only make sure it is not an input (>> X) */
		if (!fstat(STDOUT_FILENO, &st) && (in = input_of(r, &st)))
			return refuse(r, -EBUSY, "standard output is the input '%s'", in->path);
		r->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (r->fd < 0)
			return refuse(r, -errno, "standard output: %s", strerror(errno));
		snprintf(r->path, sizeof(r->path), "-");
		goto opened;
	}
	err = make_name(r, path, sizeof(path));
	if (err)
		return refuse(r, err, "'%s': %s", r->o.path, strerror(-err));
	err = ring_add(r, path);
	if (err)
		return err;
	r->fd = open_path(r, path);
	if (r->fd < 0)
		return r->fd;
	snprintf(r->path, sizeof(r->path), "%s", path);
opened:
	r->file_bytes = 0;
	r->file_events = 0;
	r->file_mono = mono_ns();
	err = write_header(r);
	r->seq++;
	r->period_files++;
	return err;
}

static int write_end(struct recorder *r, const struct rec_stats *st)
{
	struct rec_stats s = {};
	uint8_t b[REC_STATS_LEN];

	if (st)
		s = *st;
	else if (r->have_last)
		s = r->last;
	s.file_events = r->file_events;
	rec__encode_stats(b, &s);
	return put_block(r, REC_BLOCK_END, b, sizeof(b), false);
}

static int flush_block(struct recorder *r)
{
	int err;

	if (!r->raw_len)
		return 0;
	err = put_block(r, REC_BLOCK_EVENTS, r->raw, r->raw_len, true);
	r->raw_len = 0;
	r->n_cg = 0;	/* each block names its cgroups again: it stands alone */
	return err;
}

static int close_file(struct recorder *r, const struct rec_stats *st)
{
	int err = flush_block(r), err2;

	if (!err)
		err = write_end(r, st);
	err2 = close(r->fd) ? -errno : 0;
	r->fd = -1;
	return err ? err : err2;
}

static int rotate(struct recorder *r, bool new_period)
{
	int err = close_file(r, NULL);

	if (err)
		return err;
	if (new_period)
		r->period_files = 0;
	return open_file(r);
}

int recorder__reopen(struct recorder *r, const char **what)
{
	char path[PATH_MAX];
	struct stat now, ours;
	int err;

	if (!strcmp(r->o.path, "-")) {
		*what = "standard output cannot be reopened";
		return 0;
	}
	if (r->o.rotate_bytes) {
		*what = "started the next file";
		return rotate(r, false);
	}
	err = make_name(r, path, sizeof(path));
	if (err)
		return err;
	if (r->o.rotate_secs && strcmp(path, r->path)) {
		*what = "started the next file";
		return rotate(r, true);
	}
	/* logrotate's way: the file was moved or removed, a new one takes its
	 * name; a file still in place is kept (reopening would truncate it) */
	if (fstat(r->fd, &ours))
		return -errno;
	if (!stat(path, &now) && now.st_dev == ours.st_dev && now.st_ino == ours.st_ino) {
		*what = "the file is still in place: kept";
		return 0;
	}
	*what = "the file was moved: started a new one";
	return rotate(r, false);
}

/* A full file is replaced only when the next event comes, so that no empty
 * file is left at the end; a -G period ends on time. */
static int check_rotation(struct recorder *r, bool event_next)
{
	if (r->o.rotate_secs && mono_ns() - r->file_mono >= (uint64_t)r->o.rotate_secs * 1000000000ull)
		return rotate(r, true);
	if (event_next && r->o.rotate_bytes && r->file_bytes >= r->o.rotate_bytes)
		return rotate(r, false);
	return 0;
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

struct recorder *recorder__open(const struct recorder_opts *o)
{
	struct recorder *r = calloc(1, sizeof(*r));
	struct utsname u;
	int err = -ENOMEM;

	if (!r) {
		if (o->err)
			snprintf(o->err, o->errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	r->o = *o;
	r->fd = -1;
	r->filter = strdup(o->filter_text ? o->filter_text : "");
	r->o.filter_text = r->filter;
	r->raw = malloc(RAW_CAP);
	if (o->rotate_count)
		r->ring = calloc(o->rotate_count, sizeof(char *));
	if (!r->raw || !r->filter || (o->rotate_count && !r->ring))
		goto fail;
	/* no reference: the header says the wall time is unknown */
	r->ref.wall_ns = EVENT_WALL_UNKNOWN;
	if (o->ref)
		r->ref = *o->ref;
	if (o->origin) {
		snprintf(r->host, sizeof(r->host), "%s", o->origin->host);
		snprintf(r->kernel, sizeof(r->kernel), "%s", o->origin->kernel);
		snprintf(r->boot_id, sizeof(r->boot_id), "%s", o->origin->boot_id);
	} else {
		if (!uname(&u)) {
			snprintf(r->host, sizeof(r->host), "%s", u.nodename);
			snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
		}
		read_line("/proc/sys/kernel/random/boot_id", r->boot_id, sizeof(r->boot_id));
	}
	err = check_names(r);
	if (!err)
		err = open_file(r);
	if (err)
		goto fail;
	return r;
fail:
	if (o->err)
		snprintf(o->err, o->errlen, "%s", r->msg[0] ? r->msg : strerror(-err));
	if (r->fd >= 0)
		close(r->fd);
	for (uint32_t i = 0; i < r->ring_n; i++)
		free(r->ring[i]);
	free(r->ring);
	free(r->raw);
	free(r->cg_keys);
	free(r->filter);
	free(r);
	errno = -err;
	return NULL;
}

static void put_clock(struct recorder *r)
{
	uint8_t *b = r->raw + r->raw_len;

	rec__put16(b, REC_CLOCK);
	rec__put16(b + 2, REC_CLOCK_LEN);
	rec__put64(b + 4, r->ref.boot_ns);
	rec__put64(b + 12, r->ref.wall_ns);
	r->raw_len += 4 + REC_CLOCK_LEN;
}

/* The names of the event's cgroup, once per block, before the event. */
static void put_cgroup(struct recorder *r, const struct cgroup_info *ci)
{
	for (size_t i = 0; i < r->n_cg; i++)
		if (r->cg_keys[i] == ci->key)
			return;
	if (r->n_cg == r->cap_cg) {
		size_t cap = r->cap_cg ? 2 * r->cap_cg : 32;
		uint64_t *k = realloc(r->cg_keys, cap * sizeof(*k));

		if (!k)
			return;	/* then the event goes without its names */
		r->cg_keys = k;
		r->cap_cg = cap;
	}
	r->cg_keys[r->n_cg++] = ci->key;
	r->raw_len += rec__encode_cgroup(r->raw + r->raw_len, ci);
}

int recorder__write(struct recorder *r, const struct event *ev)
{
	size_t n;
	int err;

	if (r->fd < 0)
		return -EBADF;
	err = check_rotation(r, true);
	if (err)
		return err;
	if (r->raw_len + 4 + REC_CLOCK_LEN + 4 + REC_CGROUP_MAX + REC_RECORD_MAX > REC_BLOCK_TARGET) {
		err = flush_block(r);
		if (!err)
			err = check_rotation(r, true);
		if (err)
			return err;
	}
	if (!r->raw_len)
		r->block_mono = mono_ns();
	/* the reader derives wall time from boot time and the last clock
	 * reference: record a new one whenever that would be wrong, and (1.2)
	 * at the start of every block, so that a damaged header costs no time */
	if (clock_ref__wall(&r->ref, ev->boot_ns) != ev->wall_ns) {
		r->ref.boot_ns = ev->boot_ns;
		r->ref.wall_ns = ev->wall_ns;
		put_clock(r);
	} else if (!r->raw_len) {
		put_clock(r);
	}
	if (ev->cg)
		put_cgroup(r, ev->cg);
	n = rec__encode_event(r->raw + r->raw_len, ev);
	if (!n)
		return 0;	/* a kind this format cannot hold yet */
	r->raw_len += n;
	r->file_events++;
	if (mono_ns() - r->block_mono >= 1000000000ull)
		return recorder__flush(r, true);
	return 0;
}

int recorder__flush(struct recorder *r, bool force)
{
	int err = 0;

	if (r->fd < 0)
		return -EBADF;
	if (r->raw_len && (force || mono_ns() - r->block_mono >= 1000000000ull))
		err = flush_block(r);
	return err ? err : check_rotation(r, false);
}

int recorder__stats(struct recorder *r, const struct rec_stats *st)
{
	uint8_t b[REC_STATS_LEN];
	struct rec_stats s = *st;
	int err;

	if (r->fd < 0)
		return -EBADF;
	if (r->have_last && r->last.events == st->events && r->last.lost == st->lost &&
	    r->last.filtered == st->filtered && r->last.udp_flows == st->udp_flows &&
	    r->last.udp_uncounted == st->udp_uncounted && r->last.gaps == st->gaps &&
	    r->last.missed == st->missed)
		return 0;
	r->last = *st;
	r->have_last = true;
	err = flush_block(r);
	if (err)
		return err;
	s.file_events = r->file_events;
	rec__encode_stats(b, &s);
	err = put_block(r, REC_BLOCK_STATS, b, sizeof(b), false);
	return err ? err : check_rotation(r, false);
}

int recorder__close(struct recorder *r, const struct rec_stats *st)
{
	int err = 0;

	if (!r)
		return 0;
	if (r->fd >= 0)
		err = close_file(r, st);
	for (uint32_t i = 0; i < r->ring_n; i++)
		free(r->ring[i]);
	free(r->ring);
	free(r->raw);
	free(r->cg_keys);
	free(r->z);
	if (r->zs_ready)
		deflateEnd(&r->zs);
	free(r->filter);
	free(r);
	return err;
}

const char *recorder__path(const struct recorder *r)
{
	return r->path;
}

const char *recorder__error(const struct recorder *r)
{
	return r->msg[0] ? r->msg : NULL;
}

uint64_t recorder__bytes(const struct recorder *r)
{
	return r->total_bytes;
}
