/* Test seam of the raw backend: lets a unit test take the paths a file
 * system without fallocate (vfat, exfat, NFS < 4.2, many FUSE ones) would
 * take, on any machine. Nothing outside tests calls it. */
#ifndef AVP_DISK_RAW_TESTING_H
#define AVP_DISK_RAW_TESTING_H

struct disk;

/* From now on every fallocate mode is "not supported" on this disk. */
void disk_raw_testing_no_fallocate(struct disk *disk);

#endif
