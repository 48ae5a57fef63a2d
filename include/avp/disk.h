/* Disk image backends: what a block device model reads and writes.
 *
 * Today a disk is a raw image (a regular file or a host block device,
 * src/disk/raw.c). The calls are synchronous and meant for a device's own
 * thread, never a vCPU thread. All offsets and lengths are in bytes; the
 * caller range-checks them against disk_size() (the backend re-checks and
 * answers -EINVAL rather than touching bytes outside the image). */
#ifndef AVP_DISK_H
#define AVP_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define DISK_SECTOR_SIZE 512u

struct disk;

/* Opens an image. Reports a clear error naming `path` through avp_err and
 * returns -errno: missing file, a directory, something that is neither a
 * regular file nor a block device, an empty image, a size that is not a
 * multiple of 512, or (-EBUSY) an image another process has open: writers
 * take an exclusive lock, read-only users a shared one, so two VMs never
 * write one image and nobody reads it while another writes. */
int disk_open(struct disk **out, const char *path, bool read_only);
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

#endif
