/* Raw disk images: a regular file or a host block device whose bytes are
 * the guest's sectors, one for one.
 *
 * Every call is synchronous; the block device model runs them on its own
 * thread. Each transfer is re-checked against the image size here too, so
 * that a bug in a caller cannot read or grow the file outside the image. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/disk.h"
#include "avp/log.h"
#include "disk/raw_testing.h"

/* Bounce buffer for writing zeros when the host cannot fallocate them. */
#define ZERO_CHUNK (64u * 1024)

struct disk {
	int fd;
	bool read_only;
	bool no_fallocate; /* tests: behave as on a file system without it */
	uint64_t size;
	char *path;
};

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
 * out, and they are released with the fd however we exit. */
static int lock_image(int fd, bool read_only)
{
	int op = (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB;

	for (;;) {
		if (!flock(fd, op))
			return 0;
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

static int open_image(struct disk **out, const char *path, bool read_only, bool lock,
		      struct stat *st)
{
	struct disk *d;
	int flags;
	int ret;

	*out = NULL;
	if (!path || !*path) {
		avp_err("disk: no image path given");
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
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
	*out = d;
	return 0;
fail:
	disk_close(d);
	return ret;
}

int disk_open(struct disk **out, const char *path, bool read_only)
{
	return open_image(out, path, read_only, true, NULL);
}

int disk_check(const char *path, bool read_only, bool try_lock, struct disk_identity *id)
{
	struct disk *d;
	struct stat st;
	int ret = open_image(&d, path, read_only, try_lock, &st);

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
	if (disk->fd >= 0)
		close(disk->fd); /* also drops the lock */
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
static void iov_advance(struct iovec **iov, unsigned int *cnt, size_t n)
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

static int transfer(struct disk *d, struct iovec *iov, unsigned int cnt, uint64_t offset,
		    bool write)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > d->size - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	if (!range_ok(d, offset, total))
		return -EINVAL;
	iov_advance(&iov, &cnt, 0);
	while (cnt) {
		/* A request may have more segments than one syscall takes. */
		int n = cnt > IOV_MAX ? IOV_MAX : (int)cnt;
		ssize_t r = write ? pwritev(d->fd, iov, n, (off_t)offset)
				  : preadv(d->fd, iov, n, (off_t)offset);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* the image shrank under us */
		offset += (uint64_t)r;
		iov_advance(&iov, &cnt, (size_t)r);
	}
	return 0;
}

int disk_preadv(struct disk *disk, struct iovec *iov, unsigned int iovcnt, uint64_t offset)
{
	return transfer(disk, iov, iovcnt, offset, false);
}

int disk_pwritev(struct disk *disk, struct iovec *iov, unsigned int iovcnt, uint64_t offset)
{
	if (disk->read_only)
		return -EROFS;
	return transfer(disk, iov, iovcnt, offset, true);
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
	uint8_t *zeros = calloc(1, ZERO_CHUNK);
	int ret = 0;

	if (!zeros)
		return -ENOMEM;
	while (len && !ret) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		struct iovec iov = { .iov_base = zeros, .iov_len = n };

		ret = transfer(d, &iov, 1, offset, true);
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
