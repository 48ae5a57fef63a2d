/* Disk image backends: what a block device model reads and writes.
 *
 * A disk is a raw image (a regular file or a host block device,
 * src/disk/raw.c). Reads, writes and flushes go through a request queue
 * (disk_submit ... disk_commit ... disk_reap) served by io_uring
 * (src/disk/uring.c) or, where io_uring is unavailable or not wanted,
 * synchronously at submission. The other calls are synchronous. All are
 * meant for a device's own thread, never a vCPU thread. All offsets and
 * lengths are in bytes; the caller range-checks them against disk_size()
 * (the backend re-checks and answers -EINVAL rather than touching bytes
 * outside the image). */
#ifndef AVP_DISK_H
#define AVP_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define DISK_SECTOR_SIZE 512u

struct disk;

/* How requests reach the image. */
enum disk_aio {
	DISK_AIO_IO_URING, /* io_uring, or synchronous where it is unavailable */
	DISK_AIO_SYNC,	   /* preadv/pwritev/fdatasync on the caller's thread */
};

/* How the host caches the image. */
enum disk_cache {
	DISK_CACHE_WRITEBACK, /* the host page cache (flush: fdatasync) */
	DISK_CACHE_NONE,      /* O_DIRECT: no host page cache (flush still syncs) */
};

struct disk_open_opts {
	bool read_only;
	enum disk_aio aio;
	enum disk_cache cache;
	/* Most requests in flight at once (sizes the ring); 0: 256. */
	unsigned int queue_depth;
};

/* Opens an image. Reports a clear error naming `path` through avp_err and
 * returns -errno: missing file, a directory, something that is neither a
 * regular file nor a block device, an empty image, a size that is not a
 * multiple of 512, or (-EBUSY) an image another process has open: writers
 * take an exclusive lock, read-only users a shared one, so two VMs never
 * write one image and nobody reads it while another writes. */
int disk_open(struct disk **out, const char *path, bool read_only);
/* The same with the options above. cache=none on a file system without
 * O_DIRECT is refused (-EINVAL, said once). aio=io_uring where io_uring
 * cannot be set up (an old kernel, a seccomp filter, the
 * kernel.io_uring_disabled sysctl) falls back to synchronous requests
 * with one warning. */
int disk_open_opts(struct disk **out, const char *path, const struct disk_open_opts *opts);
void disk_close(struct disk *disk);

/* What tells two paths of one image apart from two images. */
struct disk_identity {
	dev_t dev;
	ino_t ino;
	dev_t rdev; /* block devices: the device itself; 0 for files */
};

/* Every check disk_open makes (the same messages), then closes the image
 * again: for checking a configuration before anything is built. Changes
 * nothing in the image. Without try_lock an image another process holds
 * passes (describing a running VM's platform). Fills *id when id is not
 * NULL. */
int disk_check(const char *path, bool read_only, bool try_lock, struct disk_identity *id);

uint64_t disk_size(const struct disk *disk);
bool disk_read_only(const struct disk *disk);
const char *disk_path(const struct disk *disk);

/* Transfers exactly the iovecs' total length at `offset`, retrying short
 * transfers and EINTR. The iov array is consumed (advanced in place) as the
 * transfer progresses. 0 or -errno (-EIO when the image ends early, -EROFS
 * for writes to a read-only disk). */
int disk_preadv(struct disk *disk, struct iovec *iov, unsigned int iovcnt, uint64_t offset);
int disk_pwritev(struct disk *disk, struct iovec *iov, unsigned int iovcnt, uint64_t offset);

/* Makes completed writes durable (fdatasync). */
int disk_flush(struct disk *disk);

/* Hints that [offset, offset+len) is unused: punches a hole when the host
 * can; succeeds doing nothing when it cannot. Reads of the range afterwards
 * return either the old data or zeros. */
int disk_discard(struct disk *disk, uint64_t offset, uint64_t len);

/* Makes [offset, offset+len) read back as zeros. With may_unmap the space
 * may be deallocated; without, it stays allocated when the host allows. */
int disk_write_zeroes(struct disk *disk, uint64_t offset, uint64_t len, bool may_unmap);

/* ---- the request queue ---- */

enum disk_op { DISK_OP_READ, DISK_OP_WRITE, DISK_OP_FLUSH };

/* One request. The caller fills the first part, keeps the request and
 * the buffers alive until disk_reap hands it back, and reads result. */
struct disk_req {
	enum disk_op op;
	struct iovec *iov; /* READ/WRITE; consumed (advanced in place) */
	unsigned int iovcnt;
	uint64_t offset;
	bool dsync; /* WRITE: durable before it completes (RWF_DSYNC) */
	void *opaque;
	int result; /* at completion: 0 or -errno, as disk_preadv's */

	/* The backend's own. */
	size_t remaining;      /* bytes still to transfer */
	uint64_t seq;	       /* submission order, for FLUSH's barrier */
	struct disk_req *next; /* the in-flight or done list */
	struct disk_req *prev;
	unsigned int file;	   /* registered file index: O_DIRECT or not */
	struct iovec *user_iov; /* the caller's buffers behind a bounce buffer */
	unsigned int user_iovcnt;
	void *bounce_buf;	/* aligned copy for O_DIRECT; NULL: none */
	size_t bounce_len;
	struct iovec bounce_iov;
};

/* Queues req. A FLUSH completes only after every WRITE submitted before
 * it has completed and is durable. 0, or -errno when req was refused and
 * nothing was queued (-EINVAL: outside the image, -EROFS, -ENOMEM). */
int disk_submit(struct disk *disk, struct disk_req *req);
/* Hands what disk_submit queued to the kernel: one system call a batch. */
int disk_commit(struct disk *disk);
/* Up to max completed requests into done[]; never waits. Their count. */
unsigned int disk_reap(struct disk *disk, struct disk_req **done, unsigned int max);
/* Waits until every submitted request has completed (disk_reap then hands
 * them back). For reset and teardown: no request may outlive its buffers. */
int disk_drain(struct disk *disk);
/* Readable (an eventfd) when completions are waiting; -1 when requests
 * complete within disk_commit (the synchronous backend). */
int disk_completion_fd(const struct disk *disk);
/* "io_uring" or "sync": what serves the requests. */
const char *disk_aio_name(const struct disk *disk);
/* The O_DIRECT offset alignment (bytes; 512 or more) with cache=none,
 * else 0: a hint for the guest's preferred I/O size. */
unsigned int disk_direct_align(const struct disk *disk);

#endif
