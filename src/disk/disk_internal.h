/* What the raw image code (src/disk/raw.c) and its io_uring engine
 * (src/disk/uring.c) share. Not for anyone outside src/disk/. */
#ifndef AVP_DISK_INTERNAL_H
#define AVP_DISK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avp/disk.h"

struct disk_uring;

struct disk {
	int fd;		 /* the image; O_DIRECT with cache=none */
	int buffered_fd; /* cache=none: the image through the page cache, for
			  * requests O_DIRECT cannot take; -1 otherwise */
	bool read_only;
	bool no_fallocate; /* tests: behave as on a file system without it */
	bool direct;
	unsigned int mem_align; /* O_DIRECT buffer alignment (direct only) */
	unsigned int off_align; /* O_DIRECT offset and length alignment */
	uint64_t size;
	char *path;
	uint64_t next_seq;
	/* Completed requests not yet reaped, oldest first. */
	struct disk_req *done_head, *done_tail;
	struct disk_uring *uring; /* NULL: synchronous requests */
	unsigned int max_segs;	  /* tests: at most this many iovecs a submission (0: IOV_MAX) */
};

/* The registered file indices of the ring. */
#define DISK_FILE_MAIN 0u
#define DISK_FILE_BUFFERED 1u

#include <sys/uio.h>

void disk_iov_advance(struct iovec **iov, unsigned int *cnt, size_t n);
void disk_done_append(struct disk *d, struct disk_req *r);
/* Called once a READ/WRITE has transferred everything (or failed): undoes
 * the bounce buffer (copying a read out to the caller's buffers). */
void disk_req_finish(struct disk *d, struct disk_req *r);

/* ---- src/disk/uring.c ---- */

/* Sets up a restricted ring on d's files. 0, or -errno (the caller falls
 * back to synchronous requests). */
int disk_uring_open(struct disk *d, unsigned int depth);
void disk_uring_close(struct disk *d);
int disk_uring_submit(struct disk *d, struct disk_req *r);
int disk_uring_commit(struct disk *d);
/* Moves what the kernel completed onto d's done list; waits for at least
 * one completion when wait is set. 0 or -errno. */
int disk_uring_poll(struct disk *d, bool wait);
bool disk_uring_busy(const struct disk *d);
int disk_uring_fd(const struct disk *d);

#endif
