/* The virtio-can wire format, transcribed from the VIRTIO 1.4 text
 * (device-types/can/description.tex) as byte offsets and literal numbers,
 * and held against what the device reads and writes in guest memory.
 *
 * Nothing here comes from avp/devices/virtio_can.h: no struct, no macro
 * but the ones checked against literals at the top. A misreading shared by
 * the device and its header (or the guest driver written from the same
 * text) fails here. In particular the 2023 RFC header, which circulates
 * with early patches, differs: it has RTR_FRAMES at bit 3 and LATE_TX_ACK
 * at bit 2, and a fixed 64-byte payload.
 *
 * From the spec:
 *   Device ID 36. Virtqueues: 0 Txq, 1 Rxq, 2 Controlq.
 *   Feature bits: CAN_CLASSIC 0, CAN_FD 1, RTR_FRAMES 2, LATE_TX_ACK 3.
 *   struct virtio_can_config { le16 status; }   BUSOFF = 1 << 0
 *   RESULT_OK 0, RESULT_NOT_OK 1
 *   struct virtio_can_control_out { le16 msg_type; }  START 0x0201, STOP 0x0202
 *   struct virtio_can_control_in { u8 result; }
 *   struct virtio_can_tx_out / virtio_can_rx:
 *     0  le16 msg_type        (TX 0x0001, RX 0x0101)
 *     2  le16 length
 *     4  u8   reserved_classic_dlc
 *     5  u8   padding
 *     6  le16 reserved_xl_priority
 *     8  le32 flags           (RTR 0x2000, FD 0x4000, EXTENDED 0x8000)
 *     12 le32 can_id
 *     16 u8   sdu[length]
 *   struct virtio_can_tx_in { u8 result; } */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/can.h>
#include <string.h>

#include "support/can_fixture.h"

/* Queue and feature numbers as literals: the fixture and device headers
 * are not trusted here. */
enum { TXQ = 0, RXQ = 1, CTRLQ = 2 };
enum { F_CLASSIC = 0, F_FD = 1, F_RTR = 2, F_LATE_TX_ACK = 3 };

static struct avp_can_cfg cfg;

static int setup(void **state)
{
	*state = canf_new(&cfg, 0, true);
	return 0;
}

static int setup_no_rtr(void **state)
{
	*state = canf_new(&cfg, 1ull << F_RTR, true);
	return 0;
}

static int teardown(void **state)
{
	canf_free(*state);
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* A control request from raw bytes; the result byte. */
static int control(struct can_fixture *f, uint16_t msg_type)
{
	uint8_t req[2];
	uint64_t in;
	uint32_t len;

	put16(req, msg_type);
	in = canf_request(f, CTRLQ, req, sizeof(req), 1);
	assert_true(canf_used(f, CTRLQ, &len));
	assert_int_equal(len, 1);
	return *(uint8_t *)vqh_hva(&f->h, in);
}

/* A TX request built byte by byte at the spec's offsets; the result. */
static int tx_raw(struct can_fixture *f, uint16_t type, uint16_t length, uint32_t flags,
		  uint32_t id, const uint8_t *sdu, size_t sdu_len)
{
	uint8_t req[16 + 64] = { 0 };
	uint64_t in;
	uint32_t used;

	put16(req + 0, type);
	put16(req + 2, length);
	put32(req + 8, flags);
	put32(req + 12, id);
	memcpy(req + 16, sdu, sdu_len);
	in = canf_request(f, TXQ, req, 16 + sdu_len, 1);
	assert_true(canf_used(f, TXQ, &used));
	assert_int_equal(used, 1);
	return *(uint8_t *)vqh_hva(&f->h, in);
}

static void test_header_constants(void **state)
{
	(void)state;
	assert_int_equal(VIRTIO_ID_CAN, 36);
	assert_int_equal(VIRTIO_CAN_F_CAN_CLASSIC, 0);
	assert_int_equal(VIRTIO_CAN_F_CAN_FD, 1);
	assert_int_equal(VIRTIO_CAN_F_RTR_FRAMES, 2);
	assert_int_equal(VIRTIO_CAN_F_LATE_TX_ACK, 3);
	assert_int_equal(VIRTIO_CAN_TXQ, 0);
	assert_int_equal(VIRTIO_CAN_RXQ, 1);
	assert_int_equal(VIRTIO_CAN_CTRLQ, 2);
	assert_int_equal(VIRTIO_CAN_S_CTRL_BUSOFF, 1);
	assert_int_equal(VIRTIO_CAN_RESULT_OK, 0);
	assert_int_equal(VIRTIO_CAN_RESULT_NOT_OK, 1);
	assert_int_equal(VIRTIO_CAN_SET_CTRL_MODE_START, 0x0201);
	assert_int_equal(VIRTIO_CAN_SET_CTRL_MODE_STOP, 0x0202);
	assert_int_equal(VIRTIO_CAN_TX, 0x0001);
	assert_int_equal(VIRTIO_CAN_RX, 0x0101);
	assert_int_equal(VIRTIO_CAN_FLAGS_RTR, 0x2000);
	assert_int_equal(VIRTIO_CAN_FLAGS_FD, 0x4000);
	assert_int_equal(VIRTIO_CAN_FLAGS_EXTENDED, 0x8000);
	assert_int_equal(VIRTIO_CAN_HDR_LEN, 16);
}

static void test_device_identity(void **state)
{
	struct can_fixture *f = *state;
	uint64_t feat = f->dev->ops->features(f->dev);

	assert_int_equal(f->dev->ops->device_id, 36);
	assert_int_equal(f->dev->ops->num_queues, 3);
	/* The RFC's numbering would offer bit 3 for RTR. */
	assert_int_equal(feat & 0xffffff, (1u << F_CLASSIC) | (1u << F_FD) | (1u << F_RTR));
	/* config: one le16, status, 0 at first. */
	assert_int_equal(f->dev->config_len, 2);
	assert_int_equal(get16(f->dev->config), 0);
}

static void test_control_messages(void **state)
{
	struct can_fixture *f = *state;

	assert_int_equal(control(f, 0x0201), 0); /* START: OK */
	assert_int_equal(control(f, 0x0202), 0); /* STOP: OK */
	assert_int_equal(control(f, 0x0101), 1); /* not a control message */
}

static void test_tx_bytes(void **state)
{
	struct can_fixture *f = *state;
	uint8_t sdu[64];
	struct canfd_frame out;

	for (int i = 0; i < 64; i++)
		sdu[i] = (uint8_t)(0xa0 ^ i);
	assert_int_equal(control(f, 0x0201), 0);

	/* Classic, standard ID, 3 bytes: the request is 16 + 3 bytes long,
	 * no fixed 64-byte payload. */
	assert_int_equal(tx_raw(f, 0x0001, 3, 0, 0x5a5, sdu, 3), 0);
	assert_int_equal(canf_host_recv(f, &out, sizeof(out)), 16);
	assert_int_equal(out.can_id, 0x5a5);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, sdu, 3);

	/* Extended ID: flags 0x8000, 29 bits in can_id. */
	assert_int_equal(tx_raw(f, 0x0001, 1, 0x8000, 0x1fffffff, sdu, 1), 0);
	assert_int_equal(canf_host_recv(f, &out, sizeof(out)), 16);
	assert_int_equal(out.can_id, 0x1fffffffu | CAN_EFF_FLAG);

	/* FD: flags 0x4000, 64 bytes. */
	assert_int_equal(tx_raw(f, 0x0001, 64, 0x4000, 0x10, sdu, 64), 0);
	assert_int_equal(canf_host_recv(f, &out, sizeof(out)), 72);
	assert_int_equal(out.len, 64);
	assert_memory_equal(out.data, sdu, 64);

	/* RTR: flags 0x2000, length the DLC, no sdu bytes. */
	assert_int_equal(tx_raw(f, 0x0001, 2, 0x2000, 0x11, sdu, 0), 0);
	assert_int_equal(canf_host_recv(f, &out, sizeof(out)), 16);
	assert_int_equal(out.can_id, 0x11u | CAN_RTR_FLAG);
	assert_int_equal(out.len, 2);

	/* Bit 0x1000 is no flag of the spec's: NOT_OK. */
	assert_int_equal(tx_raw(f, 0x0001, 1, 0x1000, 0x10, sdu, 1), 1);
	/* The RX message type on Txq: NOT_OK. */
	assert_int_equal(tx_raw(f, 0x0101, 1, 0, 0x10, sdu, 1), 1);
	assert_int_equal(canf_host_recv(f, &out, sizeof(out)), 0);
}

static void test_rtr_is_bit_2(void **state)
{
	struct can_fixture *f = *state;
	uint8_t sdu[1] = { 0 };

	/* Feature bit 2 not negotiated: RTR frames refused, classic ones not. */
	assert_int_equal(control(f, 0x0201), 0);
	assert_int_equal(tx_raw(f, 0x0001, 1, 0x2000, 0x10, sdu, 0), 1);
	assert_int_equal(tx_raw(f, 0x0001, 1, 0, 0x10, sdu, 1), 0);
}

static void test_rx_bytes(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x7ff | CAN_RTR_FLAG, .len = 6 };
	struct canfd_frame ff = { .can_id = 0x1234 | CAN_EFF_FLAG, .len = 20, .flags = CANFD_FDF };
	const uint8_t *p;
	uint64_t b1, b2;
	uint32_t used;

	for (int i = 0; i < 64; i++)
		ff.data[i] = (uint8_t)(i * 3);
	assert_int_equal(control(f, 0x0201), 0);
	b1 = canf_post_rx(f, 16 + 64);
	b2 = canf_post_rx(f, 16 + 64);
	canf_host_send(f, &cf, sizeof(cf));
	canf_host_send(f, &ff, sizeof(ff));

	assert_true(canf_used(f, RXQ, &used));
	assert_int_equal(used, 16); /* RTR: header only */
	p = vqh_hva(&f->h, b1);
	assert_int_equal(get16(p + 0), 0x0101);
	assert_int_equal(get16(p + 2), 6);
	assert_int_equal(p[4], 0);
	assert_int_equal(p[5], 0);
	assert_int_equal(get16(p + 6), 0);
	assert_int_equal(get32(p + 8), 0x2000);
	assert_int_equal(get32(p + 12), 0x7ff);
	assert_int_equal(p[16], 0xee); /* untouched */

	assert_true(canf_used(f, RXQ, &used));
	assert_int_equal(used, 16 + 20);
	p = vqh_hva(&f->h, b2);
	assert_int_equal(get16(p + 0), 0x0101);
	assert_int_equal(get16(p + 2), 20);
	assert_int_equal(get32(p + 8), 0x4000 | 0x8000);
	/* "The 3 most significant bits of can_id ... are 0." */
	assert_int_equal(get32(p + 12), 0x1234);
	assert_memory_equal(p + 16, ff.data, 20);
	assert_int_equal(p[16 + 20], 0xee);
}

static void test_busoff_bit(void **state)
{
	struct can_fixture *f = *state;

	assert_int_equal(control(f, 0x0201), 0);
	canf_link(f, CANF_IFINDEX, false, false);
	/* status at offset 0, little-endian, bit 0. */
	assert_int_equal(f->dev->config[0], 1);
	assert_int_equal(f->dev->config[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_constants),
		cmocka_unit_test_setup_teardown(test_device_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtr_is_bit_2, setup_no_rtr, teardown),
		cmocka_unit_test_setup_teardown(test_rx_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busoff_bit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
