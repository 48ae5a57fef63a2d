/* The io_uring engine of the raw disk backend (src/disk/raw.c): reads and
 * writes are queued as SQEs, handed to the kernel a batch at a time
 * (disk_commit), and their CQEs turned back into completed requests
 * (disk_reap), in whatever order the kernel finishes them.
 *
 * The ring is restricted before it can run anything (docs/security.md):
 * set up disabled (IORING_SETUP_R_DISABLED), given the image's
 * descriptors as registered files, then IORING_REGISTER_RESTRICTIONS
 * allows exactly the two operations used (READV, WRITEV), only on
 * registered files (IOSQE_FIXED_FILE required, no other SQE flag), and no
 * register operation at all; only then is it enabled. seccomp cannot see
 * inside io_uring_enter, so this is what keeps a compromised device thread
 * from using the ring to open, connect or read anything else.
 *
 * FLUSH ordering: a FLUSH must complete only after every WRITE submitted
 * before it is durable. IOSQE_IO_DRAIN would order an fsync SQE after the
 * earlier SQEs' CQEs, but a short write is resubmitted after its CQE, so
 * the drain could let the fsync overtake the rest of that write. Instead
 * the FLUSH waits here until no WRITE older than it is in flight
 * (resubmissions included); writes newer than it are not held back. Then
 * it is an fdatasync(2) on the thread that finds it free to go, not an
 * IORING_OP_FSYNC: a system call the host can see (the conformance
 * suite's AVP-BLK-2 watches for it with strace; an io_uring operation is
 * invisible there), at the price of that thread waiting for the sync while
 * the ring's reads and writes go on. */
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/log.h"
#include "disk/disk_internal.h"
#include "disk/raw_testing.h"

#define MAX_RING_ENTRIES 4096u

struct disk_uring {
	struct io_uring ring;
	int efd; /* signalled by the kernel for every CQE */
	unsigned int inflight; /* requests the kernel holds, SQ included */
	/* WRITEs not yet complete, oldest first: the FLUSH barrier. */
	struct disk_req *writes_head, *writes_tail;
	/* FLUSHes waiting for older writes, oldest first. */
	struct disk_req *flush_head, *flush_tail;
};

static unsigned int ring_entries(unsigned int depth)
{
	unsigned int n = 8;

	while (n < depth && n < MAX_RING_ENTRIES)
		n <<= 1;
	return n;
}

static int restrict_ring(struct io_uring *ring)
{
	/* Also leaves IORING_RESTRICTION_REGISTER_OP out: once enabled, the
	 * ring takes no new files, buffers or eventfds. */
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_FIXED_FILE },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
	};

	/* Through io_uring_register: Debian's liburing 2.3 declares
	 * io_uring_register_restrictions and io_uring_enable_rings but its
	 * shared library does not export them. */
	return io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res,
				 sizeof(res) / sizeof(res[0]));
}

static int enable_ring(struct io_uring *ring)
{
	return io_uring_register((unsigned int)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

int disk_uring_open(struct disk *d, unsigned int depth)
{
	struct io_uring_params p = { 0 };
	struct disk_uring *u;
	int files[2] = { d->fd, d->buffered_fd };
	unsigned int entries = ring_entries(depth);
	int ret;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->efd = -1;
	/* The CQ holds every request that can be in flight, so completions
	 * never overflow into the kernel's backlog. */
	p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 2;
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret) {
		free(u);
		return ret;
	}
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0)
		ret = -errno;
	if (!ret)
		ret = io_uring_register_files(&u->ring, files, d->buffered_fd >= 0 ? 2 : 1);
	if (!ret)
		ret = io_uring_register_eventfd(&u->ring, u->efd);
	if (!ret)
		ret = restrict_ring(&u->ring);
	if (!ret)
		ret = enable_ring(&u->ring);
	if (ret) {
		io_uring_queue_exit(&u->ring);
		if (u->efd >= 0)
			close(u->efd);
		free(u);
		return ret;
	}
	d->uring = u;
	return 0;
}

void disk_uring_close(struct disk *d)
{
	struct disk_uring *u = d->uring;

	if (!u)
		return;
	/* No request may outlive the buffers it points at. */
	if (disk_drain(d))
		avp_warn("disk %s: requests still in flight at close", d->path);
	io_uring_queue_exit(&u->ring);
	close(u->efd);
	free(u);
	d->uring = NULL;
}

static struct io_uring_sqe *get_sqe(struct disk_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* A full SQ: hand it over and take a fresh slot. */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static int queue_rw(struct disk *d, struct disk_req *r)
{
	struct disk_uring *u = d->uring;
	struct io_uring_sqe *sqe = get_sqe(u);
	unsigned int max = d->max_segs ? d->max_segs : IOV_MAX;
	unsigned int n = r->iovcnt > max ? max : r->iovcnt;

	if (!sqe)
		return -EBUSY;
	if (r->op == DISK_OP_READ)
		io_uring_prep_readv(sqe, (int)r->file, r->iov, n, r->offset);
	else
		io_uring_prep_writev2(sqe, (int)r->file, r->iov, n, r->offset,
				      r->dsync ? RWF_DSYNC : 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, r);
	return 0;
}

static bool flush_may_go(const struct disk_uring *u, const struct disk_req *flush)
{
	return !u->writes_head || u->writes_head->seq > flush->seq;
}

static void unlink_write(struct disk_uring *u, struct disk_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		u->writes_head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		u->writes_tail = r->prev;
	r->next = r->prev = NULL;
}

static void finish(struct disk *d, struct disk_req *r, int result)
{
	struct disk_uring *u = d->uring;

	r->result = result;
	if (r->op == DISK_OP_WRITE)
		unlink_write(u, r);
	disk_req_finish(d, r);
	disk_done_append(d, r);
}

/* Serves the waiting FLUSHes whose older writes have all completed. */
static void release_flushes(struct disk *d)
{
	struct disk_uring *u = d->uring;

	while (u->flush_head && flush_may_go(u, u->flush_head)) {
		struct disk_req *r = u->flush_head;

		u->flush_head = r->next;
		if (!u->flush_head)
			u->flush_tail = NULL;
		r->next = NULL;
		/* One fdatasync covers every FLUSH free to go: the next
		 * ones are served by this one's sync too, as nothing was
		 * written in between. */
		finish(d, r, disk_flush(d));
	}
}

int disk_uring_submit(struct disk *d, struct disk_req *r)
{
	struct disk_uring *u = d->uring;
	int ret;

	if (r->op == DISK_OP_FLUSH) {
		if (u->flush_head || !flush_may_go(u, r)) {
			r->next = NULL;
			if (u->flush_tail)
				u->flush_tail->next = r;
			else
				u->flush_head = r;
			u->flush_tail = r;
			return 0;
		}
		finish(d, r, disk_flush(d));
		return 0;
	}
	if (r->remaining == 0) {
		/* Nothing to move: done already (the ring would answer 0,
		 * which reads as an image that ended early). */
		disk_req_finish(d, r);
		disk_done_append(d, r);
		return 0;
	}
	ret = queue_rw(d, r);
	if (ret)
		return ret;
	u->inflight++;
	if (r->op == DISK_OP_WRITE) {
		r->next = NULL;
		r->prev = u->writes_tail;
		if (u->writes_tail)
			u->writes_tail->next = r;
		else
			u->writes_head = r;
		u->writes_tail = r;
	}
	return 0;
}

int disk_uring_commit(struct disk *d)
{
	int ret;

	if (!io_uring_sq_ready(&d->uring->ring))
		return 0;
	ret = io_uring_submit(&d->uring->ring);
	return ret < 0 ? ret : 0;
}

static void complete(struct disk *d, struct disk_req *r, int res)
{
	d->uring->inflight--;
	if (res == -EINTR || res == -EAGAIN) {
		res = 0; /* nothing moved: go again */
	} else if (res < 0) {
		finish(d, r, res);
		return;
	} else if (res == 0) {
		finish(d, r, -EIO); /* the image shrank under us */
		return;
	}
	r->offset += (uint64_t)res;
	r->remaining -= (size_t)res;
	disk_iov_advance(&r->iov, &r->iovcnt, (size_t)res);
	if (r->remaining == 0) {
		finish(d, r, 0);
		return;
	}
	/* Short: the rest goes again, still before any FLUSH behind it. */
	if (queue_rw(d, r))
		finish(d, r, -EBUSY);
	else
		d->uring->inflight++;
}

int disk_uring_poll(struct disk *d, bool wait)
{
	struct disk_uring *u = d->uring;
	struct io_uring_cqe *cqe;
	uint64_t count;
	int ret = 0;

	/* Reset the eventfd before looking, so a CQE posted after the look
	 * wakes the device thread again. */
	if (read(u->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		ret = -errno;
	if (wait && u->inflight) {
		ret = io_uring_submit_and_wait(&u->ring, 1);
		ret = ret < 0 ? ret : 0;
	}
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct disk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		complete(d, r, res);
	}
	release_flushes(d);
	if (io_uring_sq_ready(&u->ring)) {
		int sret = io_uring_submit(&u->ring);

		if (sret < 0 && !ret)
			ret = sret;
	}
	return ret;
}

bool disk_uring_busy(const struct disk *d)
{
	return d->uring->inflight || d->uring->flush_head;
}

int disk_uring_fd(const struct disk *d)
{
	return d->uring->efd;
}

int disk_uring_testing_raw_op(struct disk *disk, unsigned int opcode, bool fixed)
{
	static char buf[DISK_SECTOR_SIZE];
	static struct iovec iov = { buf, sizeof(buf) };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	if (!disk->uring || disk_uring_busy(disk))
		return -ENOTSUP;
	sqe = get_sqe(disk->uring);
	if (!sqe)
		return -EBUSY;
	/* A read-shaped SQE (an iovec's for READV/WRITEV): the kernel
	 * checks restrictions before it looks at the rest. */
	if (opcode == IORING_OP_FSYNC)
		io_uring_prep_fsync(sqe, fixed ? (int)DISK_FILE_MAIN : disk->fd, 0);
	else if (opcode == IORING_OP_READV || opcode == IORING_OP_WRITEV)
		io_uring_prep_rw((int)opcode, sqe, fixed ? (int)DISK_FILE_MAIN : disk->fd, &iov, 1, 0);
	else
		io_uring_prep_rw((int)opcode, sqe, fixed ? (int)DISK_FILE_MAIN : disk->fd, buf,
				 sizeof(buf), 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, NULL);
	ret = io_uring_submit_and_wait(&disk->uring->ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&disk->uring->ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&disk->uring->ring, cqe);
	return ret;
}

int disk_uring_testing_register(struct disk *disk)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

	if (!disk->uring)
		return -ENOTSUP;
	return io_uring_register_buffers(&disk->uring->ring, &iov, 1);
}
