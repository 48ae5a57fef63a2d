/* libFuzzer target: virtio-i2c (src/devices/virtio_i2c.c) under the
 * hostile pretend driver (fuzz_guest.h), on a fake adapter.
 *
 * Input: the common grammar, whose device op posts one request: an
 * address (mostly an allowed or a refused 7-bit one, sometimes any
 * 16-bit field), flags (mostly FAIL_NEXT and M_RD, sometimes any), and a
 * buffer on either side of the chain, of any length up to a little over
 * VIRTIO_I2C_MAX_LEN, then maybe a kick. The adapter fails now and then.
 *
 * Beyond the sanitizers, what the adapter is given: only allowed
 * addresses, groups of 1 to VIRTIO_I2C_MAX_GROUP messages, lengths within
 * the limit (the allowlist is the device's security boundary). */
#include <endian.h>
#include <string.h>

#include "avp/devices/virtio_i2c.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_LOG_ERRORS_ONLY()

struct fake {
	unsigned int calls;
	bool fail;
};

static int fake_transfer(void *ctx, struct virtio_i2c_msg *msgs, unsigned int n)
{
	struct fake *f = ctx;

	f->calls++;
	FUZZ_CHECK(n >= 1 && n <= VIRTIO_I2C_MAX_GROUP);
	for (unsigned int i = 0; i < n; i++) {
		FUZZ_CHECK(msgs[i].addr == 0x50 || msgs[i].addr == 0x51 ||
			   (msgs[i].addr >= 0x60 && msgs[i].addr <= 0x67));
		FUZZ_CHECK(msgs[i].len <= VIRTIO_I2C_MAX_LEN);
		if (msgs[i].read)
			memset(msgs[i].buf, 0x5a, msgs[i].len);
	}
	return f->fail ? -5 : 0;
}

static void i2c_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	static const uint16_t addrs[] = { 0x50, 0x51, 0x60, 0x67, 0x52, 0x68, 0x00, 0x7f };
	struct fake *f = opaque;
	uint8_t how = fz_u8(z);
	uint16_t addr = how & 0x80 ? fz_u16(z) : (uint16_t)(addrs[how & 7] << 1);
	uint32_t flags = how & 0x40 ? fz_u32(z) : (how >> 3) & 3;
	uint32_t len = fz_u16(z) % (VIRTIO_I2C_MAX_LEN + 64);
	uint32_t h = fg_alloc(g, 8), b = fg_alloc(g, len ? len : 1), s = fg_alloc(g, 1);
	struct virtio_i2c_out_hdr *hdr = fg_hva(g, fg_gpa(h), 8);
	struct fg_seg segs[3];
	unsigned int n = 0;

	hdr->addr = htole16(addr);
	hdr->padding = 0;
	hdr->flags = htole32(flags);
	segs[n++] = (struct fg_seg){ fg_gpa(h), 8, false };
	if (len)
		segs[n++] = (struct fg_seg){ fg_gpa(b), len, how & 0x20 ? !(flags & 2) : !!(flags & 2) };
	segs[n++] = (struct fg_seg){ fg_gpa(s), 1, true };
	f->fail = (fz_u8(z) & 0x0f) == 0;
	fg_post(g, 0, segs, n, false, 0);
	if (!(how & 0x04))
		fg_kick(g, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { VIRTIO_I2C_F_ZERO_LENGTH_REQUEST, 29 /* EVENT_IDX */,
					   28 /* INDIRECT_DESC */ };
	static char allow[] = "0x50:0x51:0x60-0x67";
	struct avp_i2c_cfg cfg = { .dev = NULL, .allow = allow };
	struct fake f = { 0 };
	struct virtio_i2c_backend be = { .transfer = fake_transfer, .ctx = &f };
	struct fz z = { data, size };
	struct fuzz_guest g;
	struct virtio_dev *dev;

	if (virtio_i2c_create_backend(&dev, &cfg, &be))
		return 0;
	if (fg_init(&g) == 0) {
		fg_run(&g, dev, &z, wanted, 3, i2c_op, &f);
		fg_reset(&g);
	}
	dev->ops->destroy(dev);
	fg_fini(&g);
	return 0;
}
