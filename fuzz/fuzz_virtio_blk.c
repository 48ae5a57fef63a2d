/* libFuzzer target: virtio-blk (src/devices/virtio_blk.c) on a small raw
 * image in a memfd, driven through the hostile pretend driver of
 * fuzz/support/fuzz_guest.c with fuzzer-chosen descriptors and buffer
 * contents.
 *
 * Input: u8 disk shape (bit 0 read-only, the rest the image size in
 * sectors), then the common grammar (fuzz_guest.h). The input's last byte
 * (taken off the end, so that older corpus entries keep their meaning)
 * picks the request queues (bits 0-1: 1 to 4, VIRTIO_BLK_F_MQ; the pretend
 * driver has at most FG_MAX_QUEUES) and the
 * backend (bit 3: io_uring, else synchronous; io_uring's completions
 * arrive through the watched eventfd, FG_OP_POLL). The device op builds
 * one plausible request (header, data segments, status byte; discard and
 * write-zeroes segments from the input) so the fuzzer reaches the request
 * logic quickly; the raw ops cover everything malformed.
 *
 * After every run the image must still be exactly its size: the device
 * must never write outside it, and so never grow it. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/devices/virtio_blk.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define SECTOR 512u

struct blk_ctx {
	int img_fd;
	char path[64];
};

/* One image for the whole process: a memfd, reopened by path through
 * /proc like any file the user names. */
static struct blk_ctx ctx = { .img_fd = -1 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	ctx.img_fd = memfd_create("avp-fuzz-blk", MFD_CLOEXEC);
	if (ctx.img_fd < 0) {
		perror("memfd_create");
		return 0;
	}
	snprintf(ctx.path, sizeof(ctx.path), "/proc/self/fd/%d", ctx.img_fd);
	return 0;
}

static const uint32_t req_types[] = { 0 /* IN */, 1 /* OUT */, 4 /* FLUSH */, 8 /* GET_ID */,
				      11 /* DISCARD */, 13 /* WRITE_ZEROES */ };

static void blk_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	uint8_t sel = fz_u8(z);
	uint8_t shape = fz_u8(z);
	unsigned int ndata = shape & 3;
	bool indirect = shape & 0x80;
	struct fg_seg segs[FG_MAX_SEGS];
	unsigned int n = 0;
	uint32_t type = sel % 7 < 6 ? req_types[sel % 7] : fz_u32(z);
	uint16_t q = g->nqueues > 1 ? (uint16_t)(fz_u8(z) % g->nqueues) : 0;
	uint64_t sector = sel & 0x80 ? fz_u64(z) : fz_u16(z);
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr = { htole32(type), 0, htole64(sector) };
	uint32_t off = fg_alloc(g, sizeof(hdr));

	(void)opaque;
	memcpy(g->ram + off, &hdr, sizeof(hdr));
	segs[n++] = (struct fg_seg){ fg_gpa(off), sizeof(hdr), false };

	if (type == 11 || type == 13) {
		/* The device-readable segment list (5.2.6). */
		unsigned int nseg = fz_u8(z) % 40; /* a few past the advertised 32 */
		uint32_t lo = fg_alloc(g, 16 * nseg);

		for (unsigned int i = 0; i < nseg; i++) {
			struct {
				uint64_t sector;
				uint32_t num, flags;
			} s = { htole64(fz_u16(z)), htole32(fz_u16(z)), htole32(fz_u8(z) & 3) };

			memcpy(g->ram + lo + 16 * i, &s, sizeof(s));
		}
		if (nseg)
			segs[n++] = (struct fg_seg){ fg_gpa(lo), 16 * nseg, false };
	} else {
		/* Data: writable for reads and GET_ID, readable otherwise;
		 * mostly whole sectors, sometimes not. */
		for (unsigned int i = 0; i < ndata; i++) {
			uint16_t l = fz_u16(z);
			uint32_t len = l & 0x8000 ? l & 0x7fff : SECTOR * (1u + (l & 7));
			uint32_t doff = fg_alloc(g, len);

			segs[n++] = (struct fg_seg){ fg_gpa(doff), len, type == 0 || type == 8 };
		}
	}
	if (!(shape & 0x40)) /* the status byte, unless the request lacks it */
		segs[n++] = (struct fg_seg){ fg_gpa(fg_alloc(g, 1)), 1, true };
	fg_post(g, q, segs, n, indirect, fg_alloc(g, 16 * FG_MAX_SEGS));
	if (shape & 0x20)
		fg_kick(g, q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */,
					   9 /* FLUSH */, 13 /* DISCARD */, 14 /* WRITE_ZEROES */,
					   5 /* RO */ };
	struct fz z = { data, size };
	struct fuzz_guest g;
	struct virtio_dev *dev;
	struct avp_disk_cfg cfg = { 0 };
	uint8_t shape, opts;
	off_t img_size;
	struct stat st;

	if (ctx.img_fd < 0 || size < 2)
		return 0;
	opts = data[size - 1];
	z.n = size - 1;
	shape = fz_u8(&z);
	img_size = (off_t)SECTOR * (1 + (shape >> 1));
	/* A fresh, zeroed image of the chosen size for every run. */
	if (ftruncate(ctx.img_fd, 0) || ftruncate(ctx.img_fd, img_size))
		return 0;
	cfg.path = ctx.path;
	cfg.read_only = shape & 1;
	cfg.queues = 1u + (opts & 3u);
	cfg.aio = opts & 8 ? DISK_AIO_IO_URING : DISK_AIO_SYNC;
	if (virtio_blk_create(&dev, &cfg))
		return 0;
	if (fg_init(&g) == 0) {
		fg_run(&g, dev, &z, wanted, sizeof(wanted) / sizeof(wanted[0]), blk_op, NULL);
		fg_reset(&g);
	}
	dev->ops->destroy(dev);
	fg_fini(&g);
	FUZZ_CHECK(fstat(ctx.img_fd, &st) == 0 && st.st_size == img_size);
	return 0;
}
