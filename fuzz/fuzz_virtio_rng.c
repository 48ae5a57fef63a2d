/* libFuzzer target: virtio-rng (src/devices/virtio_rng.c) through the
 * common grammar of the hostile pretend driver (fuzz_guest.h). Beyond the
 * sanitizers: a request is answered with exactly as many random bytes as
 * its writable part holds, up to VIRTIO_RNG_MAX_REQUEST. */
#include <stdlib.h>

#include "avp/devices/virtio_rng.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

/* Posts one request of 1-4 buffers in the data area (the first one maybe
 * device-readable, which the device must skip) and kicks; when it was the
 * only request pending, its completion must say exactly min(writable
 * bytes, cap), since getrandom does not fail. Checked right after the
 * kick, before the driver can scribble on the used ring. */
static void rng_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	const struct virtq *vq = &g->dev->vqs[0];
	uint8_t shape = fz_u8(z);
	unsigned int n = 1 + (shape & 3);
	struct fg_seg segs[4];
	uint64_t writable = 0;
	uint16_t before = vq->used_idx;
	bool alone = vq->ready && vq->last_avail_idx == g->avail_idx[0];
	uint16_t head;
	uint16_t *used;

	(void)opaque;
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = fz_u16(z) % (FG_RAM_SIZE - g->data_off);

		segs[i] = (struct fg_seg){ fg_gpa(fg_alloc(g, len)), len, !(i == 0 && (shape & 4)) };
		if (segs[i].writable)
			writable += len;
	}
	/* fg_alloc wraps: later buffers may overlap earlier ones, which only
	 * matters to the guest. */
	head = fg_post(g, 0, segs, n, shape & 8, fg_alloc(g, 16 * FG_MAX_SEGS));
	/* An indirect chain without INDIRECT_DESC is refused (0 bytes). */
	alone = alone && n <= g->qsize && (!(shape & 8) || vq->indirect);
	fg_kick(g, 0);
	used = fg_hva(g, vq->used_gpa, 6 + 8u * g->qsize);
	/* Only then is the used ring ours to read: other pending chains may
	 * point anywhere, the used ring included, and get random bytes. */
	if (!alone || !vq->ready || vq->used_idx == before)
		return;
	FUZZ_CHECK(vq->used_idx == (uint16_t)(before + 1));
	uint32_t *elem = (uint32_t *)(used + 2) + 2u * (before % g->qsize);

	FUZZ_CHECK(elem[0] == head);
	FUZZ_CHECK(elem[1] == (writable < VIRTIO_RNG_MAX_REQUEST ? writable : VIRTIO_RNG_MAX_REQUEST));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */ };
	struct fz z = { data, size };
	struct fuzz_guest g;
	struct virtio_dev *dev;

	if (virtio_rng_create(&dev))
		return 0;
	if (fg_init(&g) == 0) {
		fg_run(&g, dev, &z, wanted, 2, rng_op, NULL);
		fg_reset(&g);
	}
	dev->ops->destroy(dev);
	fg_fini(&g);
	return 0;
}
