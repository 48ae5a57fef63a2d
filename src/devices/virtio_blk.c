/* virtio-blk (VIRTIO 1.2, section 5.2) on a raw disk image.
 *
 * One request queue per vCPU by default (VIRTIO_BLK_F_MQ, queues=N), all
 * served by the device's one thread (the transport calls queue_notify
 * there with dev->lock held) and one disk request queue: each notify
 * turns the queue's new chains into disk requests, hands the batch to the
 * kernel with one io_uring_enter, and completes whatever has finished;
 * the rest complete, out of order, when the ring's eventfd wakes the
 * thread (fd_ready). One thread rather than one per queue: the work per
 * request on this side is a few hundred nanoseconds, the I/O is the
 * kernel's, and the guest's per-CPU queues already spare it the lock
 * contention MQ is for (README, "Disk I/O"). Reads, writes and flushes are
 * asynchronous; GET_ID, discard and write zeroes are served at once.
 *
 * Everything in a request comes from the driver and may change while we
 * look at it: the header and the discard/write-zeroes segments are copied
 * out once and only the copies are checked and used; sector ranges are
 * checked against the capacity without overflow before any I/O. */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "avp/devices/virtio_blk.h"
#include "avp/disk.h"
#include "avp/log.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_DWZ_F_UNMAP 1u

#define SECTOR_SIZE 512u
/* Limits we advertise for discard and write zeroes: 2 GiB a segment, a
 * few segments a request, so one request stays bounded work. */
#define BLK_MAX_DWZ_SECTORS (1u << 22)
#define BLK_MAX_DWZ_SEG 32u
/* Discard granularity hint: 4 KiB, the block size of most host file
 * systems, so the guest's discards map onto whole host blocks. */
#define BLK_DISCARD_ALIGN_SECTORS 8u

/* 5.2.4, little-endian; up to and including unused1 (nothing we offer
 * uses the fields after it). */
struct virtio_blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

static_assert(offsetof(struct virtio_blk_config, capacity) == 0, "capacity");
static_assert(offsetof(struct virtio_blk_config, seg_max) == 12, "seg_max");
static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "blk_size");
static_assert(offsetof(struct virtio_blk_config, writeback) == 32, "writeback");
static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "num_queues");
static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36, "max_discard_sectors");
static_assert(offsetof(struct virtio_blk_config, max_discard_seg) == 40, "max_discard_seg");
static_assert(offsetof(struct virtio_blk_config, discard_sector_alignment) == 44,
	      "discard_sector_alignment");
static_assert(offsetof(struct virtio_blk_config, max_write_zeroes_sectors) == 48,
	      "max_write_zeroes_sectors");
static_assert(offsetof(struct virtio_blk_config, max_write_zeroes_seg) == 52,
	      "max_write_zeroes_seg");
static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56,
	      "write_zeroes_may_unmap");
static_assert(sizeof(struct virtio_blk_config) == 60, "config size");

/* The device-readable request header (5.2.6), little-endian. */
struct virtio_blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
static_assert(sizeof(struct virtio_blk_outhdr) == 16, "request header");

/* One discard / write zeroes segment (5.2.6), little-endian on the wire. */
struct virtio_blk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
static_assert(sizeof(struct virtio_blk_dwz) == 16, "discard/write zeroes segment");

/* BLK_SPARE_MAX request records of up to BLK_SPARE_SEGS data segments (a
 * 4 KiB page, or a few) are allocated with the device and recycled
 * through vblk.spare; a request that needs more segments, or finds none
 * spare, is allocated on its own. */
#define BLK_SPARE_SEGS 4
#define BLK_SPARE_MAX 32
#define BLK_SPARE_BYTES (sizeof(struct blk_req) + BLK_SPARE_SEGS * sizeof(struct iovec))

/* A read, write or flush handed to the disk, until it completes. */
struct blk_req {
	struct disk_req dr;
	struct blk_req *next_spare; /* on vblk.spare */
	bool spare;		    /* one of the device's records: recycled, not freed */
	uint16_t q;
	uint16_t head;
	uint8_t *status; /* the chain's last writable byte, in guest RAM */
	uint32_t data_len; /* bytes the guest gets on success, status aside */
	struct iovec iov[]; /* the data segments */
};

struct vblk {
	struct virtio_dev dev;
	/* This device's copy of blk_ops: num_queues is per device. */
	struct virtio_dev_ops ops;
	struct disk *disk;
	uint64_t capacity; /* sectors */
	bool read_only;
	bool io_error_reported;
	uint16_t nqueues;
	unsigned int inflight; /* blk_reqs the disk holds */
	/* Request records allocated with the device (spare_slab, about
	 * 5 KiB), the free ones on the spare list: malloc and free per
	 * request cost a fifth of its instructions (bench/datapath.c). */
	uint8_t *spare_slab;
	struct blk_req *spare;
	/* Per queue: chains the disk holds, and whether serving the queue
	 * stopped because that is a whole queue's worth. A driver cannot have
	 * more outstanding; a hostile one that republishes heads could. */
	unsigned int q_inflight[VIRTIO_MAX_QUEUES];
	bool throttled[VIRTIO_MAX_QUEUES];
	char id[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, no terminator when full */
	struct virtio_blk_config config;
	/* Scratch for the request being served, kept here rather than on the
	 * device thread's stack because a chain is 16 KiB. */
	struct virtq_chain chain;
	struct virtio_blk_dwz segs[BLK_MAX_DWZ_SEG];
	/* Completions not yet published, one per queue (nqueues of them,
	 * allocated with the device: 1.5 KiB each, zeroed and so resident,
	 * docs/footprint.md): published as a group, with one interrupt
	 * decision per group. */
	struct vblk_done {
		uint16_t head[VIRTQ_MAX_SIZE];
		uint32_t len[VIRTQ_MAX_SIZE];
		unsigned int n;
	} done[];
};

static uint64_t blk_features(struct virtio_dev *dev)
{
	const struct vblk *vb = dev->priv;
	uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ull << VIRTIO_BLK_F_FLUSH);

	if (vb->nqueues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	if (vb->config.physical_block_exp)
		f |= 1ull << VIRTIO_BLK_F_TOPOLOGY;

	/* No SIZE_MAX: a segment is at most a descriptor's 4 GiB anyway. */
	if (vb->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	else
		f |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static bool sectors_ok(const struct vblk *vb, uint64_t sector, uint64_t count)
{
	return sector <= vb->capacity && count <= vb->capacity - sector;
}

/* Points dst at bytes [off, off + len) of the segments src[0 .. n) and
 * returns how many iovecs that took (at most n). */
static unsigned int gather(struct iovec *dst, const struct iovec *src, unsigned int n, size_t off,
			   size_t len)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		size_t take;

		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		take = src[i].iov_len - off;
		if (take > len)
			take = len;
		dst[k++] = (struct iovec){ .iov_base = (uint8_t *)src[i].iov_base + off, .iov_len = take };
		len -= take;
		off = 0;
	}
	return k;
}

static uint8_t io_failed(struct vblk *vb, const char *what, int err)
{
	/* Host I/O errors repeat for every request; say it once. */
	if (!vb->io_error_reported)
		avp_warn("virtio-blk %s: %s failed: %s", disk_path(vb->disk), what, strerror(-err));
	else
		avp_debug("virtio-blk %s: %s failed: %s", disk_path(vb->disk), what, strerror(-err));
	vb->io_error_reported = true;
	return VIRTIO_BLK_S_IOERR;
}

/* 5.2.6.2: when FLUSH was offered but not negotiated, a write must be
 * stable before its completion is reported. */
static bool writethrough(const struct vblk *vb)
{
	return !virtio_has_feature(&vb->dev, VIRTIO_BLK_F_FLUSH);
}

static uint8_t write_done(struct vblk *vb)
{
	int ret;

	if (!writethrough(vb))
		return VIRTIO_BLK_S_OK;
	ret = disk_flush(vb->disk);
	return ret ? io_failed(vb, "flush", ret) : VIRTIO_BLK_S_OK;
}

/* The chain's last device-writable byte: where the status goes (5.2.6). */
static uint8_t *status_byte(const struct virtq_chain *c)
{
	for (unsigned int i = c->n_out + c->n_in; i-- > c->n_out;)
		if (c->iov[i].iov_len)
			return (uint8_t *)c->iov[i].iov_base + c->iov[i].iov_len - 1;
	return NULL;
}

/* A request with room for nseg data segments, zeroed but for the
 * segments (gather fills those). */
static struct blk_req *req_alloc(struct vblk *vb, unsigned int nseg)
{
	struct blk_req *r = vb->spare;

	if (nseg > BLK_SPARE_SEGS || !r)
		return calloc(1, sizeof(*r) + nseg * sizeof(struct iovec));
	vb->spare = r->next_spare;
	memset(r, 0, sizeof(*r));
	r->spare = true;
	return r;
}

static void req_free(struct vblk *vb, struct blk_req *r)
{
	if (!r->spare) {
		free(r);
		return;
	}
	r->next_spare = vb->spare;
	vb->spare = r;
}

static int make_spares(struct vblk *vb)
{
	vb->spare_slab = calloc(BLK_SPARE_MAX, BLK_SPARE_BYTES);
	if (!vb->spare_slab)
		return -ENOMEM;
	for (unsigned int i = 0; i < BLK_SPARE_MAX; i++) {
		struct blk_req *r = (struct blk_req *)(void *)(vb->spare_slab + i * BLK_SPARE_BYTES);

		r->spare = true;
		req_free(vb, r);
	}
	return 0;
}

/* Hands a READ, WRITE or FLUSH of the chain to the disk. 0 when it was
 * taken (it completes in complete_reaped), else the status to answer at
 * once. */
static int start_io(struct vblk *vb, uint16_t q, enum disk_op op, uint64_t sector, uint8_t *status)
{
	const struct virtq_chain *c = &vb->chain;
	struct blk_req *r;
	size_t len = 0;
	unsigned int nseg = 0;
	int ret;

	if (op == DISK_OP_READ) {
		len = c->in_bytes - 1; /* the writable part but the status byte */
		nseg = c->n_in;
		/* The used length (data + status) has to fit its 32-bit field. */
		if (len % SECTOR_SIZE || len > UINT32_MAX - 1 ||
		    !sectors_ok(vb, sector, len / SECTOR_SIZE))
			return VIRTIO_BLK_S_IOERR;
	} else if (op == DISK_OP_WRITE) {
		len = c->out_bytes - sizeof(struct virtio_blk_outhdr);
		nseg = c->n_out;
		/* 5.2.6.2: IOERR, and no data written, on a read-only device. */
		if (vb->read_only || len % SECTOR_SIZE || !sectors_ok(vb, sector, len / SECTOR_SIZE))
			return VIRTIO_BLK_S_IOERR;
	}
	r = req_alloc(vb, nseg);
	if (!r)
		return VIRTIO_BLK_S_IOERR;
	r->q = q;
	r->head = c->head;
	r->status = status;
	r->dr.op = op;
	r->dr.opaque = r;
	r->dr.offset = sector * SECTOR_SIZE;
	if (op == DISK_OP_READ) {
		r->dr.iovcnt = gather(r->iov, &c->iov[c->n_out], c->n_in, 0, len);
		r->data_len = (uint32_t)len;
	} else if (op == DISK_OP_WRITE) {
		r->dr.iovcnt = gather(r->iov, c->iov, c->n_out, sizeof(struct virtio_blk_outhdr), len);
		r->dr.dsync = writethrough(vb);
	}
	r->dr.iov = r->iov;
	ret = disk_submit(vb->disk, &r->dr);
	if (ret) {
		req_free(vb, r);
		return io_failed(vb, op == DISK_OP_FLUSH ? "flush" : op == DISK_OP_READ ? "read" : "write",
				 ret);
	}
	vb->inflight++;
	vb->q_inflight[q]++;
	return 0;
}

static uint8_t do_get_id(struct vblk *vb, size_t *data_written)
{
	const struct virtq_chain *c = &vb->chain;
	size_t len = c->in_bytes - 1;
	size_t n = len < VIRTIO_BLK_ID_BYTES ? len : VIRTIO_BLK_ID_BYTES;

	/* Drivers pass exactly 20 bytes (5.2.6.1); a shorter buffer gets
	 * what fits rather than an error. */
	*data_written = virtq_chain_write(c, 0, vb->id, n);
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_discard_write_zeroes(struct vblk *vb, uint32_t type)
{
	const struct virtq_chain *c = &vb->chain;
	bool discard = type == VIRTIO_BLK_T_DISCARD;
	size_t len = c->out_bytes - sizeof(struct virtio_blk_outhdr);
	size_t nseg = len / sizeof(struct virtio_blk_dwz);

	/* These write too: 5.2.6.2 wants IOERR on a read-only device. */
	if (vb->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (!virtio_has_feature(&vb->dev, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
		return VIRTIO_BLK_S_UNSUPP;
	if (len == 0 || len % sizeof(struct virtio_blk_dwz))
		return VIRTIO_BLK_S_IOERR;
	/* More segments than max_*_seg: a request shape we do not support. */
	if (nseg > BLK_MAX_DWZ_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	/* One copy of all segments, then validate the copy as a whole before
	 * touching the image, so the driver cannot swap a segment between
	 * the check and the use. */
	if (virtq_chain_read(c, sizeof(struct virtio_blk_outhdr), vb->segs, len) != len)
		return VIRTIO_BLK_S_IOERR;
	for (size_t i = 0; i < nseg; i++) {
		struct virtio_blk_dwz *s = &vb->segs[i];

		s->sector = le64toh(s->sector);
		s->num_sectors = le32toh(s->num_sectors);
		s->flags = le32toh(s->flags);
		/* 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP. */
		if ((s->flags & ~VIRTIO_BLK_DWZ_F_UNMAP) || (discard && s->flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (s->num_sectors > BLK_MAX_DWZ_SECTORS ||
		    !sectors_ok(vb, s->sector, s->num_sectors))
			return VIRTIO_BLK_S_IOERR;
	}
	for (size_t i = 0; i < nseg; i++) {
		const struct virtio_blk_dwz *s = &vb->segs[i];
		uint64_t off = s->sector * SECTOR_SIZE;
		uint64_t bytes = (uint64_t)s->num_sectors * SECTOR_SIZE;
		int ret;

		if (discard)
			ret = disk_discard(vb->disk, off, bytes);
		else
			ret = disk_write_zeroes(vb->disk, off, bytes,
						s->flags & VIRTIO_BLK_DWZ_F_UNMAP);
		/* 5.2.6: after IOERR the segments' state is indeterminate. */
		if (ret)
			return io_failed(vb, discard ? "discard" : "write zeroes", ret);
	}
	return write_done(vb);
}

/* Publishes queue q's completions gathered so far. */
static void publish(struct vblk *vb, uint16_t q)
{
	struct vblk_done *d = &vb->done[q];
	unsigned int n = d->n;

	d->n = 0;
	/* After a needs-reset the rings are the driver's to rebuild. */
	if (n && !(vb->dev.status & VIRTIO_STATUS_NEEDS_RESET))
		virtio_dev_complete_many(&vb->dev, q, d->head, d->len, n);
}

static void add_done(struct vblk *vb, uint16_t q, uint16_t head, uint32_t written)
{
	struct vblk_done *d = &vb->done[q];

	d->head[d->n] = head;
	d->len[d->n] = written;
	d->n++;
	/* A queue's worth: publish now, so that a driver keeping the queue
	 * full still hears about completions (and a group fits the ring). */
	if (d->n >= vb->dev.vqs[q].size)
		publish(vb, q);
}

static void publish_all(struct vblk *vb)
{
	for (uint16_t q = 0; q < vb->nqueues; q++)
		publish(vb, q);
}

static const char *op_name(enum disk_op op)
{
	return op == DISK_OP_READ ? "read" : op == DISK_OP_WRITE ? "write" : "flush";
}

/* Turns the disk's finished requests into used entries (publish is the
 * caller's); with drop, frees them unanswered (reset). */
static void complete_reaped(struct vblk *vb, bool drop)
{
	struct disk_req *done[64];
	unsigned int n;

	while ((n = disk_reap(vb->disk, done, 64)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			struct blk_req *r = done[i]->opaque;
			uint8_t status = VIRTIO_BLK_S_OK;
			uint32_t written = 1;

			vb->inflight--;
			vb->q_inflight[r->q]--;
			if (!drop) {
				if (r->dr.result)
					status = io_failed(vb, op_name(r->dr.op), r->dr.result);
				else
					written += r->data_len;
				*r->status = status;
				add_done(vb, r->q, r->head, written);
			}
			req_free(vb, r);
		}
	}
}

/* Serves the request in vb->chain. 0 when the disk took it; otherwise
 * answered at once, and *used is the used length: the bytes written into
 * the writable part, status byte included. */
static int serve(struct vblk *vb, uint16_t q, uint32_t *used)
{
	const struct virtq_chain *c = &vb->chain;
	struct virtio_blk_outhdr hdr;
	size_t data_written = 0;
	uint64_t sector;
	uint8_t *status_at = status_byte(c);
	uint8_t status;

	/* 5.2.6: the header is device-readable and the status the last
	 * device-writable byte. Without both there is nowhere to report
	 * an error, so the chain goes back untouched. */
	if (virtq_chain_read(c, 0, &hdr, sizeof(hdr)) != sizeof(hdr) || !status_at) {
		avp_debug("virtio-blk %s: malformed request dropped", disk_path(vb->disk));
		*used = 0;
		return 1;
	}
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		status = (uint8_t)start_io(vb, q, DISK_OP_READ, sector, status_at);
		if (!status)
			return 0;
		break;
	case VIRTIO_BLK_T_OUT:
		status = (uint8_t)start_io(vb, q, DISK_OP_WRITE, sector, status_at);
		if (!status)
			return 0;
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = (uint8_t)start_io(vb, q, DISK_OP_FLUSH, 0, status_at);
		if (!status)
			return 0;
		break;
	case VIRTIO_BLK_T_GET_ID:
		status = do_get_id(vb, &data_written);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = do_discard_write_zeroes(vb, le32toh(hdr.type));
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*status_at = status;
	*used = (uint32_t)(data_written + 1);
	return 1;
}

/* Takes queue q's new chains; false when the ring is broken (the
 * device then needs a reset). */
static bool serve_queue(struct vblk *vb, uint16_t q)
{
	struct virtq *vq = &vb->dev.vqs[q];

	vb->throttled[q] = false;
	for (;;) {
		uint32_t written = 0;
		int r;

		if (vb->q_inflight[q] + vb->done[q].n >= vq->size) {
			vb->throttled[q] = true; /* resumed by complete_and_resume */
			return true;
		}
		r = virtq_pop(vq, &vb->chain);
		if (r == 0)
			return true;
		if (r == -EINVAL) {
			/* Malformed chain, already consumed: give it back
			 * empty when it has a head to give back. */
			if (vb->chain.head == UINT16_MAX)
				continue;
		} else if (r < 0) {
			return false;
		} else if (serve(vb, q, &written) == 0) {
			continue; /* the disk has it */
		}
		add_done(vb, q, vb->chain.head, written);
	}
}

/* Hands what was queued to the kernel, completes what has finished, and
 * serves again the queues that waited for room. */
static void commit_and_complete(struct vblk *vb)
{
	const char *broken = NULL;
	int ret;

	for (;;) {
		bool again = false;

		/* The whole batch in one system call. */
		ret = disk_commit(vb->disk);
		if (ret)
			io_failed(vb, "submission", ret);
		/* What finished already (all of it, without io_uring) goes
		 * out with this batch's interrupt. */
		complete_reaped(vb, false);
		for (uint16_t q = 0; q < vb->nqueues && !broken; q++) {
			if (!vb->throttled[q] || !vb->dev.vqs[q].ready ||
			    vb->q_inflight[q] + vb->done[q].n >= vb->dev.vqs[q].size)
				continue;
			if (!serve_queue(vb, q))
				broken = "request queue is not usable";
			again = true;
		}
		if (!again || broken)
			break;
	}
	publish_all(vb);
	if (broken)
		virtio_dev_needs_reset(&vb->dev, broken);
}

static void blk_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vblk *vb = dev->priv;

	if (q >= vb->nqueues)
		return; /* the transport should not ask */
	if (!serve_queue(vb, q)) {
		/* What was taken before the break still completes. */
		disk_commit(vb->disk);
		complete_reaped(vb, false);
		publish_all(vb);
		virtio_dev_needs_reset(dev, "request queue is not usable");
		return;
	}
	commit_and_complete(vb);
}

static void blk_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vblk *vb = dev->priv;

	(void)events;
	if (fd != disk_completion_fd(vb->disk))
		return;
	commit_and_complete(vb);
}

static int blk_activate(struct virtio_dev *dev)
{
	struct vblk *vb = dev->priv;
	int fd = vb->disk ? disk_completion_fd(vb->disk) : -1;

	return fd < 0 ? 0 : virtio_dev_watch_fd(dev, fd, EPOLLIN);
}

/* Nothing in flight may outlive the rings it answers to: wait for it,
 * then forget it (the driver gets no answer for it after a reset). */
static void drop_inflight(struct vblk *vb)
{
	if (!vb->disk)
		return;
	if (disk_drain(vb->disk))
		avp_warn("virtio-blk %s: waiting for requests in flight failed", disk_path(vb->disk));
	complete_reaped(vb, true);
	for (uint16_t q = 0; q < vb->nqueues; q++) {
		vb->done[q].n = 0;
		vb->throttled[q] = false;
	}
}

static void blk_reset(struct virtio_dev *dev)
{
	drop_inflight(dev->priv);
}

static void blk_destroy(struct virtio_dev *dev)
{
	struct vblk *vb = dev->priv;

	drop_inflight(vb);
	disk_close(vb->disk);
	/* After the disk: should the drain above have failed, a request the
	 * kernel still held is gone with the disk, not written afterwards. */
	free(vb->spare_slab);
	virtio_dev_fini(dev);
	free(vb);
}

static const struct virtio_dev_ops blk_ops = {
	.type = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1, /* each device's copy says how many */
	.features = blk_features,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.fd_ready = blk_fd_ready,
	.reset = blk_reset,
	.destroy = blk_destroy,
};

/* A serial number that stays the same for the same image across runs, so
 * the guest's /dev/disk/by-id names are stable: "avp-" and a 64-bit FNV-1a
 * hash of the image's canonical path, exactly 20 characters. */
static void make_id(char id[VIRTIO_BLK_ID_BYTES], const char *path)
{
	char *canon = realpath(path, NULL);
	const char *p = canon ? canon : path;
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[VIRTIO_BLK_ID_BYTES + 1];

	for (; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 0x100000001b3ull;
	}
	free(canon);
	snprintf(buf, sizeof(buf), "avp-%016llx", (unsigned long long)h);
	memcpy(id, buf, VIRTIO_BLK_ID_BYTES);
}

static void fill_config(struct vblk *vb)
{
	struct virtio_blk_config *cfg = &vb->config;

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(vb->capacity);
	/* Header and status take a descriptor each (5.2.3 SEG_MAX counts the
	 * data segments). */
	cfg->seg_max = htole32((uint32_t)vb->dev.queue_max - 2);
	cfg->blk_size = htole32(SECTOR_SIZE);
	cfg->max_discard_sectors = htole32(BLK_MAX_DWZ_SECTORS);
	cfg->max_discard_seg = htole32(BLK_MAX_DWZ_SEG);
	cfg->discard_sector_alignment = htole32(BLK_DISCARD_ALIGN_SECTORS);
	cfg->max_write_zeroes_sectors = htole32(BLK_MAX_DWZ_SECTORS);
	cfg->max_write_zeroes_seg = htole32(BLK_MAX_DWZ_SEG);
	/* Write zeroes with unmap punches a hole in the image. */
	cfg->write_zeroes_may_unmap = 1;
	cfg->num_queues = htole16(vb->nqueues);
	/* cache=none on a host whose blocks are bigger than a sector: say so
	 * (5.2.4 topology), so that the guest's I/O stays on whole host
	 * blocks and O_DIRECT takes it as it is. Smaller requests still work
	 * (through the page cache); the logical block size stays 512, as the
	 * image's partition table and file systems expect. */
	if (vb->disk && disk_direct_align(vb->disk) > SECTOR_SIZE) {
		unsigned int per = disk_direct_align(vb->disk) / SECTOR_SIZE;
		uint8_t exp = 0;

		while ((1u << exp) < per && exp < 15)
			exp++;
		cfg->physical_block_exp = exp;
		cfg->min_io_size = htole16((uint16_t)(1u << exp));
	}
}

/* With open_image false the model has no image (capacity 0): what
 * --describe shows, never activated. */
static int blk_new(struct virtio_dev **out, const struct avp_disk_cfg *cfg, bool open_image)
{
	const uint16_t nqueues = cfg->queues == 0 ? 1
				 : cfg->queues > VIRTIO_BLK_MAX_QUEUES ? VIRTIO_BLK_MAX_QUEUES
								   : (uint16_t)cfg->queues;
	struct vblk *vb;
	int ret;

	*out = NULL;
	vb = calloc(1, sizeof(*vb) + nqueues * sizeof(vb->done[0]));
	if (!vb)
		return -ENOMEM;
	vb->nqueues = nqueues;
	if (open_image) {
		const struct disk_open_opts o = {
			.read_only = cfg->read_only,
			.aio = cfg->aio,
			.cache = cfg->cache,
			/* Every chain of every queue can be in flight. */
			.queue_depth = vb->nqueues * (unsigned int)VIRTQ_MAX_SIZE,
		};

		ret = make_spares(vb);
		if (!ret)
			ret = disk_open_opts(&vb->disk, cfg->path, &o);
		if (ret) {
			free(vb->spare_slab);
			free(vb);
			return ret;
		}
	}
	vb->read_only = cfg->read_only;
	vb->capacity = vb->disk ? disk_size(vb->disk) / SECTOR_SIZE : 0;
	make_id(vb->id, cfg->path);
	vb->ops = blk_ops;
	vb->ops.num_queues = vb->nqueues;
	virtio_dev_init(&vb->dev, &vb->ops, vb, &vb->config, sizeof(vb->config));
	fill_config(vb);
	*out = &vb->dev;
	return 0;
}

int virtio_blk_create(struct virtio_dev **out, const struct avp_disk_cfg *cfg)
{
	return blk_new(out, cfg, true);
}

int virtio_blk_create_model(struct virtio_dev **out, const struct avp_disk_cfg *cfg)
{
	return blk_new(out, cfg, false);
}
