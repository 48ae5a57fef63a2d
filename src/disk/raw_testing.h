/* Test seam of the raw backend: lets a unit test take the paths a file
 * system without fallocate (vfat, exfat, NFS < 4.2, many FUSE ones) would
 * take, on any machine. Nothing outside tests calls it. */
#ifndef AVP_DISK_RAW_TESTING_H
#define AVP_DISK_RAW_TESTING_H

#include <stdbool.h>

struct disk;

/* From now on every fallocate mode is "not supported" on this disk. */
void disk_raw_testing_no_fallocate(struct disk *disk);

/* From now on each io_uring submission carries at most n iovecs, so a
 * request of more segments completes short and is resubmitted, as a
 * request longer than IOV_MAX segments would. */
void disk_testing_max_segs(struct disk *disk, unsigned int n);

/* io_uring only: submits one raw SQE of `opcode` to the disk's ring
 * (through registered file 0 when fixed, the image's plain descriptor
 * otherwise) and waits for it; the CQE's result. The ring's restrictions
 * must refuse anything the backend does not use. -ENOTSUP without a ring. */
int disk_uring_testing_raw_op(struct disk *disk, unsigned int opcode, bool fixed);
/* io_uring only: what the kernel answers to registering a buffer on the
 * live ring (the restrictions allow no register operation). */
int disk_uring_testing_register(struct disk *disk);

#endif
