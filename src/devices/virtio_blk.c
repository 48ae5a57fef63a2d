/* virtio-blk (VIRTIO 1.2, section 5.2) on a raw disk image.
 *
 * One request queue. Requests are served on the device's own thread (the
 * transport calls queue_notify there with dev->lock held), synchronously:
 * each notify drains the whole queue and interrupts the driver once per
 * batch. Submitting through io_uring and completing out of order is the
 * obvious next step once a request may be slow enough to matter.
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

#include "avp/devices/virtio_blk.h"
#include "avp/disk.h"
#include "avp/log.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
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

struct vblk {
	struct virtio_dev dev;
	struct disk *disk;
	uint64_t capacity; /* sectors */
	bool read_only;
	bool io_error_reported;
	char id[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, no terminator when full */
	struct virtio_blk_config config;
	/* Scratch for the request being served, kept here rather than on the
	 * device thread's stack because a chain is 16 KiB. */
	struct virtq_chain chain;
	struct iovec data_iov[VIRTQ_MAX_CHAIN];
	struct virtio_blk_dwz segs[BLK_MAX_DWZ_SEG];
};

static uint64_t blk_features(struct virtio_dev *dev)
{
	const struct vblk *vb = dev->priv;
	uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ull << VIRTIO_BLK_F_FLUSH);

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
static uint8_t write_done(struct vblk *vb)
{
	int ret;

	if (virtio_has_feature(&vb->dev, VIRTIO_BLK_F_FLUSH))
		return VIRTIO_BLK_S_OK;
	ret = disk_flush(vb->disk);
	return ret ? io_failed(vb, "flush", ret) : VIRTIO_BLK_S_OK;
}

static uint8_t do_read(struct vblk *vb, uint64_t sector, size_t *data_written)
{
	const struct virtq_chain *c = &vb->chain;
	size_t len = c->in_bytes - 1; /* the writable part but the status byte */
	unsigned int n;
	int ret;

	/* The used length (data + status) has to fit its 32-bit field. */
	if (len % SECTOR_SIZE || len > UINT32_MAX - 1 || !sectors_ok(vb, sector, len / SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	n = gather(vb->data_iov, &c->iov[c->n_out], c->n_in, 0, len);
	ret = disk_preadv(vb->disk, vb->data_iov, n, sector * SECTOR_SIZE);
	if (ret)
		return io_failed(vb, "read", ret);
	*data_written = len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct vblk *vb, uint64_t sector)
{
	const struct virtq_chain *c = &vb->chain;
	size_t len = c->out_bytes - sizeof(struct virtio_blk_outhdr);
	unsigned int n;
	int ret;

	/* 5.2.6.2: IOERR, and no data written, on a read-only device. */
	if (vb->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (len % SECTOR_SIZE || !sectors_ok(vb, sector, len / SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	n = gather(vb->data_iov, c->iov, c->n_out, sizeof(struct virtio_blk_outhdr), len);
	ret = disk_pwritev(vb->disk, vb->data_iov, n, sector * SECTOR_SIZE);
	if (ret)
		return io_failed(vb, "write", ret);
	return write_done(vb);
}

static uint8_t do_flush(struct vblk *vb)
{
	int ret = disk_flush(vb->disk);

	return ret ? io_failed(vb, "flush", ret) : VIRTIO_BLK_S_OK;
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

/* Serves the request in vb->chain; returns the used length: the bytes
 * written into the writable part, status byte included. */
static uint32_t serve(struct vblk *vb)
{
	const struct virtq_chain *c = &vb->chain;
	struct virtio_blk_outhdr hdr;
	size_t data_written = 0;
	uint64_t sector;
	uint8_t status;

	/* 5.2.6: the header is device-readable and the status the last
	 * device-writable byte. Without both there is nowhere to report
	 * an error, so the chain goes back untouched. */
	if (virtq_chain_read(c, 0, &hdr, sizeof(hdr)) != sizeof(hdr) || c->in_bytes == 0) {
		avp_debug("virtio-blk %s: malformed request dropped", disk_path(vb->disk));
		return 0;
	}
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		status = do_read(vb, sector, &data_written);
		break;
	case VIRTIO_BLK_T_OUT:
		status = do_write(vb, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = do_flush(vb);
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
	virtq_chain_write(c, c->in_bytes - 1, &status, 1);
	return (uint32_t)(data_written + 1);
}

static void blk_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vblk *vb = dev->priv;
	struct virtq *vq;
	const char *broken = NULL;
	unsigned int batch = 0;
	bool held = false;
	uint16_t held_head = 0;
	uint32_t held_written = 0;

	if (q != 0)
		return; /* one request queue; the transport should not ask */
	vq = &dev->vqs[q];
	/* Each completion but the last of a batch is only pushed; the last
	 * goes through virtio_dev_complete, whose interrupt decision covers
	 * everything pushed before it (2.7.10 with EVENT_IDX). A batch ends
	 * when the queue is empty or after a queue's worth of requests, so a
	 * driver that keeps the queue full still hears about completions. */
	for (;;) {
		uint16_t head;
		uint32_t written;
		int r = virtq_pop(vq, &vb->chain);

		if (r == 0)
			break;
		if (r == -EINVAL) {
			/* Malformed chain, already consumed: give it back
			 * empty when it has a head to give back. */
			if (vb->chain.head == UINT16_MAX)
				continue;
			head = vb->chain.head;
			written = 0;
		} else if (r < 0) {
			broken = "request queue is not usable";
			break;
		} else {
			head = vb->chain.head;
			written = serve(vb);
		}
		if (held && virtq_push(vq, held_head, held_written)) {
			broken = "used ring is not in guest memory";
			held = false;
			break;
		}
		held = true;
		held_head = head;
		held_written = written;
		if (++batch >= vq->size) {
			virtio_dev_complete(dev, q, held_head, held_written);
			held = false;
			batch = 0;
		}
	}
	if (held)
		virtio_dev_complete(dev, q, held_head, held_written);
	if (broken)
		virtio_dev_needs_reset(dev, broken);
}

static void blk_destroy(struct virtio_dev *dev)
{
	struct vblk *vb = dev->priv;

	disk_close(vb->disk);
	virtio_dev_fini(dev);
	free(vb);
}

static const struct virtio_dev_ops blk_ops = {
	.type = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.features = blk_features,
	.queue_notify = blk_queue_notify,
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
}

/* With open_image false the model has no image (capacity 0): what
 * --describe shows, never activated. */
static int blk_new(struct virtio_dev **out, const struct avp_disk_cfg *cfg, bool open_image)
{
	struct vblk *vb;
	int ret;

	*out = NULL;
	vb = calloc(1, sizeof(*vb));
	if (!vb)
		return -ENOMEM;
	if (open_image) {
		ret = disk_open(&vb->disk, cfg->path, cfg->read_only);
		if (ret) {
			free(vb);
			return ret;
		}
	}
	vb->read_only = cfg->read_only;
	vb->capacity = vb->disk ? disk_size(vb->disk) / SECTOR_SIZE : 0;
	make_id(vb->id, cfg->path);
	virtio_dev_init(&vb->dev, &blk_ops, vb, &vb->config, sizeof(vb->config));
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
