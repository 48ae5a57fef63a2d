/* Raw disk images: a regular file or a host block device whose bytes are
 * the guest's sectors, one for one.
 *
 * The block device model calls in from its own thread. Reads, writes and
 * flushes go through the request queue: to io_uring (src/disk/uring.c) or,
 * without it, served right here at submission. Each transfer is re-checked
 * against the image size here too, so that a bug in a caller cannot read
 * or grow the file outside the image.
 *
 * cache=none opens the image a second time with O_DIRECT. O_DIRECT wants
 * aligned buffers, offsets and lengths; a request whose buffers are not
 * goes through an aligned bounce buffer, and one whose offset or length is
 * not (a 512-byte write on a 4 KiB-sector host) through the page-cache
 * descriptor: a read-modify-write of the enclosing block would race with
 * a concurrent write to its other sectors, which the guest may issue. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avp/disk.h"
#include "avp/log.h"
#include "disk/disk_internal.h"
#include "disk/raw_testing.h"

/* Bounce buffer for writing zeros when the host cannot fallocate them. */
#define ZERO_CHUNK (64u * 1024)
/* Alignment of our own buffers: any O_DIRECT memory alignment we meet. */
#define BUF_ALIGN 4096u

static void report_open_error(const char *path, int err, bool read_only)
{
	if (err == EISDIR) {
		avp_err("disk %s: is a directory", path);
	} else if (!read_only && (err == EACCES || err == EPERM || err == EROFS)) {
		/* The usual cause is an image the user may only read. */
		avp_err("disk %s: %s (attach it read-only?)", path, strerror(err));
	} else {
		avp_err("disk %s: %s", path, strerror(err));
	}
}

static int image_size(int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (ioctl(fd, BLKGETSIZE64, size))
		return -errno;
	return 0;
}

/* flock, not fcntl locks: flock locks belong to the open file description,
 * so they also keep a second disk_open of the same image in this process
 * out, and they are released with the fd however we exit. Except that an
 * io_uring holds its registered files until the kernel has torn the ring
 * down, which it does in the background after the process (or the ring)
 * is gone: a lock still held is tried again for a moment before the image
 * counts as another process's. */
#define LOCK_RETRIES 50
#define LOCK_RETRY_NS (10 * 1000 * 1000)

static int lock_image(int fd, bool read_only)
{
	int op = (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB;
	unsigned int tries = 0;

	for (;;) {
		if (!flock(fd, op))
			return 0;
		if (errno == EWOULDBLOCK && ++tries < LOCK_RETRIES) {
			const struct timespec pause = { .tv_nsec = LOCK_RETRY_NS };

			nanosleep(&pause, NULL);
			continue;
		}
		if (errno != EINTR)
			return -errno;
	}
}

static int check_image(struct disk *d, const char *path, bool lock, struct stat *out_st)
{
	struct stat st;
	int ret;

	if (fstat(d->fd, &st)) {
		ret = -errno;
		avp_err("disk %s: %s", path, strerror(-ret));
		return ret;
	}
	if (S_ISDIR(st.st_mode)) {
		avp_err("disk %s: is a directory", path);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		avp_err("disk %s: not a regular file or block device", path);
		return -EINVAL;
	}
	ret = lock ? lock_image(d->fd, d->read_only) : 0;
	if (ret == -EWOULDBLOCK) {
		avp_err("disk %s is in use by another process", path);
		return -EBUSY;
	}
	if (ret) {
		avp_err("disk %s: cannot lock: %s", path, strerror(-ret));
		return ret;
	}
	ret = image_size(d->fd, &st, &d->size);
	if (ret) {
		avp_err("disk %s: cannot get size: %s", path, strerror(-ret));
		return ret;
	}
	if (d->size == 0) {
		avp_err("disk %s: image is empty", path);
		return -EINVAL;
	}
	if (d->size % DISK_SECTOR_SIZE) {
		avp_err("disk %s: size %llu bytes is not a multiple of %u", path,
			(unsigned long long)d->size, DISK_SECTOR_SIZE);
		return -EINVAL;
	}
	if (out_st)
		*out_st = st;
	return 0;
}

/* O_DIRECT's alignment for the image behind fd: statx knows (Linux 6.1);
 * a block device's logical block size otherwise; else the common page
 * size, which is never too small. 0 in *off: the file cannot do O_DIRECT. */
static void direct_alignment(int fd, const struct stat *st, unsigned int *mem, unsigned int *off)
{
	struct statx stx;
	int bsz;

	if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) && (stx.stx_mask & STATX_DIOALIGN)) {
		*mem = stx.stx_dio_mem_align;
		*off = stx.stx_dio_offset_align;
		return;
	}
	if (S_ISBLK(st->st_mode) && !ioctl(fd, BLKSSZGET, &bsz) && bsz > 0) {
		*mem = *off = (unsigned int)bsz;
		return;
	}
	*mem = *off = BUF_ALIGN;
}

/* cache=none: a second descriptor of the same image with O_DIRECT, which
 * becomes d->fd; the first (which holds the lock) serves what O_DIRECT
 * cannot take. */
static int open_direct(struct disk *d, const char *path, const struct stat *st)
{
	struct stat st2;
	int fd;

	direct_alignment(d->fd, st, &d->mem_align, &d->off_align);
	if (d->off_align == 0) {
		avp_err("disk %s: cache=none: the file system cannot bypass the page cache "
			"(O_DIRECT); use cache=writeback", path);
		return -EINVAL;
	}
	fd = open(path, (d->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_DIRECT);
	if (fd < 0) {
		int err = errno;

		if (err == EINVAL)
			avp_err("disk %s: cache=none: the file system cannot bypass the page cache "
				"(O_DIRECT); use cache=writeback", path);
		else
			avp_err("disk %s: cache=none: %s", path, strerror(err));
		return -err;
	}
	/* The path may have been replaced between the two opens. */
	if (fstat(fd, &st2) || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino) {
		close(fd);
		avp_err("disk %s: changed while it was being opened", path);
		return -EAGAIN;
	}
	if (d->off_align < DISK_SECTOR_SIZE)
		d->off_align = DISK_SECTOR_SIZE;
	if (d->mem_align == 0)
		d->mem_align = 1;
	d->buffered_fd = d->fd;
	d->fd = fd;
	d->direct = true;
	return 0;
}

static int open_image(struct disk **out, const char *path, const struct disk_open_opts *o,
		      bool lock, struct stat *st)
{
	struct stat st_local;
	bool read_only = o->read_only;
	struct disk *d;
	int flags;
	int ret;

	if (!st)
		st = &st_local;

	*out = NULL;
	if (!path || !*path) {
		avp_err("disk: no image path given");
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = d->buffered_fd = -1;
	d->read_only = read_only;
	d->path = strdup(path);
	if (!d->path) {
		ret = -ENOMEM;
		goto fail;
	}
	/* O_NONBLOCK so that a FIFO given by mistake is refused instead of
	 * hanging the open; it is cleared once we know the file kind. */
	d->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (d->fd < 0) {
		ret = -errno;
		report_open_error(path, -ret, read_only);
		goto fail;
	}
	ret = check_image(d, path, lock, st);
	if (ret)
		goto fail;
	flags = fcntl(d->fd, F_GETFL);
	if (flags < 0 || fcntl(d->fd, F_SETFL, flags & ~O_NONBLOCK)) {
		ret = -errno;
		avp_err("disk %s: %s", path, strerror(-ret));
		goto fail;
	}
	if (o->cache == DISK_CACHE_NONE) {
		ret = open_direct(d, path, st);
		if (ret)
			goto fail;
	}
	*out = d;
	return 0;
fail:
	disk_close(d);
	return ret;
}

int disk_open_opts(struct disk **out, const char *path, const struct disk_open_opts *opts)
{
	int ret = open_image(out, path, opts, true, NULL);

	if (ret || opts->aio != DISK_AIO_IO_URING)
		return ret;
	ret = disk_uring_open(*out, opts->queue_depth ? opts->queue_depth : 256);
	if (ret)
		/* The one line the fallback gets: the device works, slower. */
		avp_warn("disk %s: io_uring unavailable (%s), using synchronous I/O", path,
			 strerror(-ret));
	return 0;
}

int disk_open(struct disk **out, const char *path, bool read_only)
{
	const struct disk_open_opts o = { .read_only = read_only, .aio = DISK_AIO_SYNC };

	return open_image(out, path, &o, true, NULL);
}

int disk_check(const char *path, bool read_only, bool try_lock, struct disk_identity *id)
{
	const struct disk_open_opts o = { .read_only = read_only, .aio = DISK_AIO_SYNC };
	struct disk *d;
	struct stat st;
	int ret = open_image(&d, path, &o, try_lock, &st);

	if (ret)
		return ret;
	if (id) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		id->rdev = S_ISBLK(st.st_mode) ? st.st_rdev : 0;
	}
	disk_close(d); /* drops the lock again */
	return 0;
}

void disk_close(struct disk *disk)
{
	if (!disk)
		return;
	if (disk->uring) {
		disk_uring_close(disk); /* waits for what is in flight */
		/* The ring lets go of its registered files only when the
		 * kernel has torn it down, later: drop the lock now, so that
		 * the image can be opened again at once (a reboot, a test). */
		flock(disk->fd, LOCK_UN);
		if (disk->buffered_fd >= 0)
			flock(disk->buffered_fd, LOCK_UN);
	}
	if (disk->fd >= 0)
		close(disk->fd); /* also drops the lock */
	if (disk->buffered_fd >= 0)
		close(disk->buffered_fd); /* cache=none: this one holds it */
	free(disk->path);
	free(disk);
}

uint64_t disk_size(const struct disk *disk)
{
	return disk->size;
}

bool disk_read_only(const struct disk *disk)
{
	return disk->read_only;
}

const char *disk_path(const struct disk *disk)
{
	return disk->path;
}

static bool range_ok(const struct disk *d, uint64_t offset, uint64_t len)
{
	return offset <= d->size && len <= d->size - offset;
}

/* Drops n transferred bytes (and any empty segments) from the front. */
void disk_iov_advance(struct iovec **iov, unsigned int *cnt, size_t n)
{
	while (*cnt) {
		struct iovec *v = *iov;

		if (n < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		(*iov)++;
		(*cnt)--;
	}
}

/* The iovecs' total, or -EINVAL when it is more than the image. */
static int iov_total(const struct disk *d, const struct iovec *iov, unsigned int cnt,
		     uint64_t *total)
{
	*total = 0;
	for (unsigned int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > d->size - *total)
			return -EINVAL;
		*total += iov[i].iov_len;
	}
	return 0;
}

static int fd_of(const struct disk *d, unsigned int file)
{
	return file == DISK_FILE_BUFFERED ? d->buffered_fd : d->fd;
}

/* Synchronous READ/WRITE of a prepared request, retrying short transfers. */
static int transfer(struct disk *d, struct disk_req *r)
{
	bool write = r->op == DISK_OP_WRITE;
	int fd = fd_of(d, r->file);

	disk_iov_advance(&r->iov, &r->iovcnt, 0);
	while (r->iovcnt) {
		/* A request may have more segments than one syscall takes. */
		int n = r->iovcnt > IOV_MAX ? IOV_MAX : (int)r->iovcnt;
		ssize_t got = write ? pwritev(fd, r->iov, n, (off_t)r->offset)
				    : preadv(fd, r->iov, n, (off_t)r->offset);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -EIO; /* the image shrank under us */
		r->offset += (uint64_t)got;
		r->remaining -= (size_t)got;
		disk_iov_advance(&r->iov, &r->iovcnt, (size_t)got);
	}
	if (write && r->dsync)
		return disk_flush(d);
	return 0;
}

static bool aligned(uint64_t v, unsigned int a)
{
	return v % a == 0;
}

/* cache=none: what O_DIRECT cannot take. An offset or length off the
 * host's block goes through the page cache; buffers off its memory
 * alignment through an aligned copy. */
static int prepare_direct(struct disk *d, struct disk_req *r, uint64_t total)
{
	bool bounce = false;
	size_t done = 0;

	if (!aligned(r->offset, d->off_align) || !aligned(total, d->off_align)) {
		r->file = DISK_FILE_BUFFERED;
		return 0;
	}
	for (unsigned int i = 0; i < r->iovcnt && !bounce; i++)
		bounce = !aligned((uintptr_t)r->iov[i].iov_base, d->mem_align) ||
			 !aligned(r->iov[i].iov_len, d->off_align);
	if (!bounce || total == 0)
		return 0;
	/* posix_memalign: aligned_alloc wants a size that is a multiple of
	 * the alignment, and a request may be a single sector. */
	if (posix_memalign(&r->bounce_buf, BUF_ALIGN, (size_t)total)) {
		r->bounce_buf = NULL;
		return -ENOMEM;
	}
	r->bounce_len = (size_t)total;
	if (r->op == DISK_OP_WRITE) {
		for (unsigned int i = 0; i < r->iovcnt; i++) {
			memcpy((uint8_t *)r->bounce_buf + done, r->iov[i].iov_base, r->iov[i].iov_len);
			done += r->iov[i].iov_len;
		}
	}
	r->user_iov = r->iov;
	r->user_iovcnt = r->iovcnt;
	r->bounce_iov = (struct iovec){ .iov_base = r->bounce_buf, .iov_len = r->bounce_len };
	r->iov = &r->bounce_iov;
	r->iovcnt = 1;
	return 0;
}

void disk_req_finish(struct disk *d, struct disk_req *r)
{
	size_t done = 0;

	(void)d;
	if (!r->bounce_buf)
		return;
	if (r->op == DISK_OP_READ && r->result == 0) {
		for (unsigned int i = 0; i < r->user_iovcnt; i++) {
			memcpy(r->user_iov[i].iov_base, (uint8_t *)r->bounce_buf + done,
			       r->user_iov[i].iov_len);
			done += r->user_iov[i].iov_len;
		}
	}
	free(r->bounce_buf);
	r->bounce_buf = NULL;
}

void disk_done_append(struct disk *d, struct disk_req *r)
{
	r->next = NULL;
	if (d->done_tail)
		d->done_tail->next = r;
	else
		d->done_head = r;
	d->done_tail = r;
}

static int sync_execute(struct disk *d, struct disk_req *r)
{
	return r->op == DISK_OP_FLUSH ? disk_flush(d) : transfer(d, r);
}

int disk_submit(struct disk *disk, struct disk_req *req)
{
	uint64_t total = 0;
	int ret;

	req->result = 0;
	req->next = req->prev = NULL;
	req->file = DISK_FILE_MAIN;
	req->user_iov = NULL;
	req->user_iovcnt = 0;
	req->bounce_buf = NULL;
	req->remaining = 0;
	switch (req->op) {
	case DISK_OP_WRITE:
		if (disk->read_only)
			return -EROFS;
		/* fall through */
	case DISK_OP_READ:
		if (iov_total(disk, req->iov, req->iovcnt, &total) ||
		    !range_ok(disk, req->offset, total))
			return -EINVAL;
		req->remaining = (size_t)total;
		if (disk->direct) {
			ret = prepare_direct(disk, req, total);
			if (ret)
				return ret;
		}
		break;
	case DISK_OP_FLUSH:
		break;
	default:
		return -EINVAL;
	}
	req->seq = disk->next_seq++;
	if (disk->uring) {
		ret = disk_uring_submit(disk, req);
		if (ret) {
			disk_req_finish(disk, req);
			return ret;
		}
		return 0;
	}
	req->result = sync_execute(disk, req);
	disk_req_finish(disk, req);
	disk_done_append(disk, req);
	return 0;
}

int disk_commit(struct disk *disk)
{
	return disk->uring ? disk_uring_commit(disk) : 0;
}

unsigned int disk_reap(struct disk *disk, struct disk_req **done, unsigned int max)
{
	unsigned int n = 0;

	if (disk->uring)
		disk_uring_poll(disk, false);
	while (n < max && disk->done_head) {
		struct disk_req *r = disk->done_head;

		disk->done_head = r->next;
		if (!disk->done_head)
			disk->done_tail = NULL;
		r->next = NULL;
		done[n++] = r;
	}
	return n;
}

int disk_drain(struct disk *disk)
{
	while (disk->uring && disk_uring_busy(disk)) {
		int ret = disk_uring_poll(disk, true);

		if (ret && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;
	}
	return 0;
}

int disk_completion_fd(const struct disk *disk)
{
	return disk->uring ? disk_uring_fd(disk) : -1;
}

const char *disk_aio_name(const struct disk *disk)
{
	return disk->uring ? "io_uring" : "sync";
}

unsigned int disk_direct_align(const struct disk *disk)
{
	return disk->direct ? disk->off_align : 0;
}

/* The synchronous calls: one request served here, whatever the backend
 * (the ring's requests and these never overlap in time: the device
 * thread makes both). */
static int sync_request(struct disk *d, enum disk_op op, struct iovec *iov, unsigned int cnt,
			uint64_t offset)
{
	struct disk_req r = { .op = op, .iov = iov, .iovcnt = cnt, .offset = offset };
	uint64_t total;

	if (op == DISK_OP_WRITE && d->read_only)
		return -EROFS;
	if (iov_total(d, iov, cnt, &total) || !range_ok(d, offset, total))
		return -EINVAL;
	r.remaining = (size_t)total;
	if (d->direct) {
		int ret = prepare_direct(d, &r, total);

		if (ret)
			return ret;
	}
	r.result = transfer(d, &r);
	disk_req_finish(d, &r);
	return r.result;
}

int disk_preadv(struct disk *disk, struct iovec *iov, unsigned int iovcnt, uint64_t offset)
{
	return sync_request(disk, DISK_OP_READ, iov, iovcnt, offset);
}

int disk_pwritev(struct disk *disk, struct iovec *iov, unsigned int iovcnt, uint64_t offset)
{
	return sync_request(disk, DISK_OP_WRITE, iov, iovcnt, offset);
}

int disk_flush(struct disk *disk)
{
#ifdef AVP_FAULT_FLUSH_NOOP
	/* Test build only (make faulty): the conformance suite must call
	 * AVP-BLK-2 FAIL for a flush that reports success without syncing. */
	(void)disk;
	return 0;
#endif
	while (fdatasync(disk->fd)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int do_fallocate(struct disk *d, int mode, uint64_t offset, uint64_t len)
{
	if (d->no_fallocate)
		return -EOPNOTSUPP;
	while (fallocate(d->fd, mode, (off_t)offset, (off_t)len)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The file system (or block device) lacks this fallocate mode. */
static bool unsupported(int ret)
{
	return ret == -EOPNOTSUPP || ret == -ENOSYS;
}

/* Through transfer(), so pwritev: the call every write makes, and the one
 * the device thread's seccomp role allows (pwrite64 is not in it). */
static int write_zero_bytes(struct disk *d, uint64_t offset, uint64_t len)
{
	/* Aligned, so that cache=none writes it without a bounce. */
	uint8_t *zeros = aligned_alloc(BUF_ALIGN, ZERO_CHUNK);
	int ret = 0;

	if (!zeros)
		return -ENOMEM;
	memset(zeros, 0, ZERO_CHUNK);
	while (len && !ret) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		struct iovec iov = { .iov_base = zeros, .iov_len = n };

		ret = sync_request(d, DISK_OP_WRITE, &iov, 1, offset);
		offset += n;
		len -= n;
	}
	free(zeros);
	return ret;
}

int disk_discard(struct disk *disk, uint64_t offset, uint64_t len)
{
	int ret;

	if (disk->read_only)
		return -EROFS;
	if (!range_ok(disk, offset, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	/* KEEP_SIZE: a hole at the end must not shorten the image. */
	ret = do_fallocate(disk, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
	/* Discard is only a hint (a virtio-blk device MAY deallocate, VIRTIO
	 * 1.2 5.2.6.2), so on a host that cannot punch holes it does nothing. */
	return unsupported(ret) ? 0 : ret;
}

int disk_write_zeroes(struct disk *disk, uint64_t offset, uint64_t len, bool may_unmap)
{
	int ret;

	if (disk->read_only)
		return -EROFS;
	if (!range_ok(disk, offset, len))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (may_unmap) {
		/* A hole reads back as zeros and gives the space back. */
		ret = do_fallocate(disk, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
		if (!unsupported(ret))
			return ret;
	}
	ret = do_fallocate(disk, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len);
	if (!unsupported(ret))
		return ret;
	if (!may_unmap) {
		/* No ZERO_RANGE (tmpfs, for one): punch, then allocate the
		 * range again so that it stays provisioned as asked. */
		ret = do_fallocate(disk, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
		if (!ret) {
			ret = do_fallocate(disk, FALLOC_FL_KEEP_SIZE, offset, len);
			return unsupported(ret) ? 0 : ret;
		}
		if (!unsupported(ret))
			return ret;
	}
	return write_zero_bytes(disk, offset, len);
}

void disk_raw_testing_no_fallocate(struct disk *disk)
{
	disk->no_fallocate = true;
}

void disk_testing_max_segs(struct disk *disk, unsigned int n)
{
	disk->max_segs = n;
}
