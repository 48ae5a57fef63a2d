/* virtio-i2c against the pretend driver and a fake adapter: groups run as
 * one transaction, reads come back, and what must never reach the adapter
 * (addresses outside the allowlist, 10-bit addresses, reserved flags,
 * buffers on the wrong side, over-long ones) fails the whole group with
 * VIRTIO_I2C_MSG_ERR. Also the allowlist grammar and the SMBus mapping the
 * host side uses on SMBus-only adapters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <linux/i2c.h>
#include <string.h>

#include "avp/devices/virtio_i2c.h"
#include "devices/i2c_host.h"
#include "support/vq_harness.h"

#define QSIZE 128 /* 34 requests of 3 descriptors */

struct fake {
	unsigned int calls;
	unsigned int n;
	struct virtio_i2c_msg msgs[VIRTIO_I2C_MAX_GROUP];
	uint8_t written[VIRTIO_I2C_MAX_GROUP][16];
	int ret;
};

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	struct fake fake;
};

static int fake_transfer(void *ctx, struct virtio_i2c_msg *msgs, unsigned int n)
{
	struct fake *fk = ctx;

	fk->calls++;
	fk->n = n;
	for (unsigned int i = 0; i < n; i++) {
		fk->msgs[i] = msgs[i];
		if (!msgs[i].read)
			memcpy(fk->written[i], msgs[i].buf, msgs[i].len < 16 ? msgs[i].len : 16);
	}
	if (fk->ret)
		return fk->ret;
	for (unsigned int i = 0; i < n; i++)
		if (msgs[i].read)
			for (unsigned int b = 0; b < msgs[i].len; b++)
				msgs[i].buf[b] = (uint8_t)(0xa0 + b);
	return 0;
}

static int setup_features(void **state, bool negotiate)
{
	static struct fixture f;
	static char allow[] = "0x50:0x51:0x60-0x62";
	struct avp_i2c_cfg cfg = { .dev = NULL, .allow = allow };
	struct virtio_i2c_backend be;

	memset(&f, 0, sizeof(f));
	be = (struct virtio_i2c_backend){ .transfer = fake_transfer, .ctx = &f.fake };
	vqh_init(&f.h, 4 << 20);
	assert_int_equal(virtio_i2c_create_backend(&f.dev, &cfg, &be), 0);
	vqh_attach(&f.h, f.dev, true, false);
	if (!negotiate)
		f.dev->driver_features &= ~(1ull << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST);
	vqh_setup_queue(&f.h, f.dev, 0, QSIZE);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	setup_features(state, true);
	assert_int_equal(vqh_activate(&((struct fixture *)*state)->h, ((struct fixture *)*state)->dev), 0);
	return 0;
}

static int setup_nofeature(void **state)
{
	return setup_features(state, false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	vqh_free(&f->h);
	return 0;
}

struct req {
	uint16_t head;
	uint8_t *buf;	 /* read: where the data lands */
	uint8_t *status; /* the status byte */
};

/* Posts one request: header (addr as the driver encodes it, flags), then
 * a buffer of len bytes on the side `read` says, then the status byte. */
static struct req post(struct fixture *f, uint16_t addr_field, uint32_t flags, bool read,
		       const uint8_t *data, uint32_t len)
{
	uint64_t hg = vqh_alloc(&f->h, 8), bg = vqh_alloc(&f->h, len ? len : 1),
		 sg = vqh_alloc(&f->h, 1);
	struct virtio_i2c_out_hdr *hdr = vqh_hva(&f->h, hg);
	struct vqh_buf b[3];
	unsigned int n = 0;
	struct req r;

	hdr->addr = htole16(addr_field);
	hdr->flags = htole32(flags);
	b[n++] = (struct vqh_buf){ hg, 8, false };
	if (len) {
		if (data)
			memcpy(vqh_hva(&f->h, bg), data, len);
		b[n++] = (struct vqh_buf){ bg, len, read };
	}
	b[n++] = (struct vqh_buf){ sg, 1, true };
	r.buf = vqh_hva(&f->h, bg);
	r.status = vqh_hva(&f->h, sg);
	*r.status = 0xee;
	r.head = vqh_post(&f->h, f->dev, 0, b, n);
	return r;
}

static void expect_done(struct fixture *f, const struct req *r, uint32_t len, uint8_t status)
{
	uint32_t id, got;

	assert_true(vqh_used(&f->h, f->dev, 0, &id, &got));
	assert_int_equal(id, r->head);
	assert_int_equal(got, len);
	assert_int_equal(*r->status, status);
}

#define ADDR(a) ((uint16_t)((a) << 1))
#define RD VIRTIO_I2C_FLAGS_M_RD
#define NEXT VIRTIO_I2C_FLAGS_FAIL_NEXT

static void test_identity(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->dev->ops->device_id, 34);
	assert_int_equal(f->dev->ops->num_queues, 1);
	assert_int_equal(f->dev->config_len, 0);
	assert_int_equal(f->dev->ops->features(f->dev), 1u << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST);
}

static void test_driver_without_feature_refused(void **state)
{
	struct fixture *f = *state;

	/* "MUST reject any driver that doesn't negotiate this feature" */
	assert_int_equal(vqh_activate(&f->h, f->dev), -EINVAL);
}

static void test_write_then_read_is_one_transfer(void **state)
{
	struct fixture *f = *state;
	const uint8_t reg = 0x10;
	struct req w = post(f, ADDR(0x50), NEXT, false, &reg, 1);
	struct req r = post(f, ADDR(0x50), RD, true, NULL, 4);

	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(f->fake.calls, 1);
	assert_int_equal(f->fake.n, 2);
	assert_int_equal(f->fake.msgs[0].addr, 0x50);
	assert_false(f->fake.msgs[0].read);
	assert_int_equal(f->fake.msgs[0].len, 1);
	assert_int_equal(f->fake.written[0][0], 0x10);
	assert_true(f->fake.msgs[1].read);
	assert_int_equal(f->fake.msgs[1].len, 4);
	expect_done(f, &w, 1, VIRTIO_I2C_MSG_OK);
	expect_done(f, &r, 5, VIRTIO_I2C_MSG_OK);
	assert_int_equal(r.buf[0], 0xa0);
	assert_int_equal(r.buf[3], 0xa3);
}

static void test_zero_length(void **state)
{
	struct fixture *f = *state;
	struct req w = post(f, ADDR(0x61), 0, false, NULL, 0);
	struct req r = post(f, ADDR(0x61), RD, true, NULL, 0);

	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(f->fake.calls, 2); /* two groups of one */
	assert_int_equal(f->fake.msgs[0].len, 0);
	assert_true(f->fake.msgs[0].read);
	expect_done(f, &w, 1, VIRTIO_I2C_MSG_OK);
	expect_done(f, &r, 1, VIRTIO_I2C_MSG_OK);
}

static void test_address_not_allowed(void **state)
{
	struct fixture *f = *state;
	const uint8_t reg = 0;
	/* allowed, then not: the whole group fails, nothing forwarded */
	struct req a = post(f, ADDR(0x50), NEXT, false, &reg, 1);
	struct req b = post(f, ADDR(0x52), RD, true, NULL, 2);
	struct req c = post(f, ADDR(0x63), 0, false, &reg, 1);
	struct req d = post(f, ADDR(0x08), 0, false, &reg, 1);

	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(f->fake.calls, 0);
	expect_done(f, &a, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &b, 3, VIRTIO_I2C_MSG_ERR);
	assert_int_equal(b.buf[0], 0); /* nothing read into it */
	expect_done(f, &c, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &d, 1, VIRTIO_I2C_MSG_ERR);
}

static void test_hostile_headers(void **state)
{
	struct fixture *f = *state;
	const uint8_t reg = 0;
	/* 10-bit form of 0x050 (11110 A9 A8 0, then A7-A0) */
	struct req tenbit = post(f, (uint16_t)(0x50 << 8 | 0xf0), 0, false, &reg, 1);
	struct req oddbit = post(f, ADDR(0x50) | 1, 0, false, &reg, 1);
	struct req high = post(f, 0x1a0, 0, false, &reg, 1);
	struct req reserved = post(f, ADDR(0x50), 1u << 2, false, &reg, 1);
	struct req top = post(f, ADDR(0x50), 0x80000000u, false, &reg, 1);
	/* M_RD with the buffer device-readable, and a write with a
	 * device-writable buffer: direction and buffers disagree */
	struct req rd_wrong = post(f, ADDR(0x50), RD, false, &reg, 1);
	struct req wr_wrong = post(f, ADDR(0x50), 0, true, NULL, 2);
	struct req ok = post(f, ADDR(0x51), 0, false, &reg, 1);

	vqh_kick(&f->h, f->dev, 0);
	expect_done(f, &tenbit, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &oddbit, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &high, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &reserved, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &top, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &rd_wrong, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &wr_wrong, 3, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &ok, 1, VIRTIO_I2C_MSG_OK);
	assert_int_equal(f->fake.calls, 1); /* only the last one */
	assert_int_equal(f->fake.msgs[0].addr, 0x51);
}

static void test_bad_lengths(void **state)
{
	struct fixture *f = *state;
	uint64_t hg = vqh_alloc(&f->h, 8), sg = vqh_alloc(&f->h, 4);
	struct vqh_buf shorthdr[] = { { hg, 6, false }, { sg, 1, true } };
	struct vqh_buf nostatus[] = { { hg, 8, false } };
	uint8_t *st = vqh_hva(&f->h, sg);
	struct req big;
	uint32_t id, len;

	*(uint16_t *)vqh_hva(&f->h, hg) = htole16(ADDR(0x50));
	/* A header shorter than 8 bytes: ERR. */
	*st = 0xee;
	vqh_post(&f->h, f->dev, 0, shorthdr, 2);
	vqh_kick(&f->h, f->dev, 0);
	assert_true(vqh_used(&f->h, f->dev, 0, &id, &len));
	assert_int_equal(len, 1);
	assert_int_equal(*st, VIRTIO_I2C_MSG_ERR);
	/* No status byte: returned with nothing written. */
	vqh_post(&f->h, f->dev, 0, nostatus, 1);
	vqh_kick(&f->h, f->dev, 0);
	assert_true(vqh_used(&f->h, f->dev, 0, &id, &len));
	assert_int_equal(len, 0);
	/* A read longer than the device takes. */
	big = post(f, ADDR(0x50), RD, true, NULL, VIRTIO_I2C_MAX_LEN + 1);
	vqh_kick(&f->h, f->dev, 0);
	expect_done(f, &big, VIRTIO_I2C_MAX_LEN + 2, VIRTIO_I2C_MSG_ERR);
	assert_int_equal(f->fake.calls, 0);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_adapter_failure(void **state)
{
	struct fixture *f = *state;
	const uint8_t reg = 0x10;
	struct req w, r, next;

	f->fake.ret = -EREMOTEIO; /* no ACK */
	w = post(f, ADDR(0x50), NEXT, false, &reg, 1);
	r = post(f, ADDR(0x50), RD, true, NULL, 2);
	vqh_kick(&f->h, f->dev, 0);
	expect_done(f, &w, 1, VIRTIO_I2C_MSG_ERR);
	expect_done(f, &r, 3, VIRTIO_I2C_MSG_ERR);
	assert_int_equal(r.buf[0], 0);
	/* The next group is tried afresh. */
	f->fake.ret = 0;
	next = post(f, ADDR(0x50), 0, false, &reg, 1);
	vqh_kick(&f->h, f->dev, 0);
	expect_done(f, &next, 1, VIRTIO_I2C_MSG_OK);
}

static void test_fail_next_carries(void **state)
{
	struct fixture *f = *state;
	const uint8_t reg = 0;
	/* A group whose last request still says FAIL_NEXT, failing: the
	 * request after it (next kick) fails without being tried. */
	struct req a = post(f, ADDR(0x52), NEXT, false, &reg, 1);
	struct req b;

	vqh_kick(&f->h, f->dev, 0);
	expect_done(f, &a, 1, VIRTIO_I2C_MSG_ERR);
	b = post(f, ADDR(0x50), 0, false, &reg, 1);
	vqh_kick(&f->h, f->dev, 0);
	expect_done(f, &b, 1, VIRTIO_I2C_MSG_ERR);
	assert_int_equal(f->fake.calls, 0);
}

static void test_long_group_split(void **state)
{
	struct fixture *f = *state;
	const uint8_t reg = 0;
	struct req r[VIRTIO_I2C_MAX_GROUP + 2];
	uint32_t id, len;

	for (unsigned int i = 0; i < VIRTIO_I2C_MAX_GROUP + 2; i++)
		r[i] = post(f, ADDR(0x50), i == VIRTIO_I2C_MAX_GROUP + 1 ? 0 : NEXT, false, &reg, 1);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(f->fake.calls, 2);
	assert_int_equal(f->fake.n, 2);
	for (unsigned int i = 0; i < VIRTIO_I2C_MAX_GROUP + 2; i++)
		expect_done(f, &r[i], 1, VIRTIO_I2C_MSG_OK);
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
}

static void test_parse_allow(void **state)
{
	uint8_t map[16];
	const char *why = NULL;

	(void)state;
	assert_int_equal(virtio_i2c_parse_allow("0x50", map, &why), 0);
	assert_int_equal(map[0x50 / 8], 1u << (0x50 % 8));
	assert_int_equal(virtio_i2c_parse_allow("0x50-0x57:0x08:119", map, &why), 0);
	assert_int_equal(map[0x50 / 8], 0xff);
	assert_int_equal(map[1], 1);
	assert_int_equal(map[0x77 / 8], 0x80);
	assert_int_equal(virtio_i2c_parse_allow("", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow(NULL, map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("0x07", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("0x78", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("0x50:", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("0x50:0x50", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("0x57-0x50", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("-0x50", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("0x50x", map, &why), -EINVAL);
	assert_int_equal(virtio_i2c_parse_allow("+80", map, &why), -EINVAL);
}

static void test_smbus_mapping(void **state)
{
	uint8_t reg = 0x10, data[3] = { 0x10, 0x34, 0x12 }, rd[32];
	struct virtio_i2c_msg w1 = { 0x50, false, 1, &reg };
	struct virtio_i2c_msg w3 = { 0x50, false, 3, data };
	struct virtio_i2c_msg wr[2] = { { 0x50, false, 1, &reg }, { 0x50, true, 2, rd } };
	struct virtio_i2c_msg blk[2] = { { 0x50, false, 1, &reg }, { 0x50, true, 8, rd } };
	struct virtio_i2c_msg quick = { 0x50, true, 0, NULL };
	struct virtio_i2c_msg other[2] = { { 0x50, false, 1, &reg }, { 0x51, true, 1, rd } };
	struct i2c_host_smbus t;
	const unsigned long all = I2C_FUNC_SMBUS_QUICK | I2C_FUNC_SMBUS_BYTE |
				  I2C_FUNC_SMBUS_BYTE_DATA | I2C_FUNC_SMBUS_WORD_DATA |
				  I2C_FUNC_SMBUS_I2C_BLOCK;

	(void)state;
	assert_int_equal(i2c_host_smbus_of(&w1, 1, all, &t), 0);
	assert_int_equal(t.size, I2C_SMBUS_BYTE);
	assert_int_equal(t.command, 0x10);
	assert_int_equal(i2c_host_smbus_of(&w3, 1, all, &t), 0);
	assert_int_equal(t.size, I2C_SMBUS_WORD_DATA);
	assert_int_equal(t.block[0] | t.block[1] << 8, 0x1234);
	assert_int_equal(i2c_host_smbus_of(wr, 2, all, &t), 0);
	assert_int_equal(t.size, I2C_SMBUS_WORD_DATA);
	assert_int_equal(t.read_write, I2C_SMBUS_READ);
	t.block[0] = 0xcd;
	t.block[1] = 0xab;
	i2c_host_smbus_result(&t, wr, 2);
	assert_int_equal(rd[0], 0xcd);
	assert_int_equal(rd[1], 0xab);
	assert_int_equal(i2c_host_smbus_of(blk, 2, all, &t), 0);
	assert_int_equal(t.size, I2C_SMBUS_I2C_BLOCK_DATA);
	assert_int_equal(t.block[0], 8);
	assert_int_equal(i2c_host_smbus_of(&quick, 1, all, &t), 0);
	assert_int_equal(t.size, I2C_SMBUS_QUICK);
	assert_int_equal(t.read_write, I2C_SMBUS_READ);
	/* What SMBus cannot say, or the adapter cannot do. */
	assert_int_equal(i2c_host_smbus_of(other, 2, all, &t), -EOPNOTSUPP);
	assert_int_equal(i2c_host_smbus_of(&quick, 1, I2C_FUNC_SMBUS_BYTE, &t), -EOPNOTSUPP);
	assert_int_equal(i2c_host_smbus_of(blk, 2, I2C_FUNC_SMBUS_BYTE_DATA, &t), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_without_feature_refused, setup_nofeature,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_then_read_is_one_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adapter_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_next_carries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_group_split, setup, teardown),
		cmocka_unit_test(test_parse_allow),
		cmocka_unit_test(test_smbus_mapping),
	};

	return cmocka_run_group_tests_name("virtio_i2c", tests, NULL, NULL);
}
