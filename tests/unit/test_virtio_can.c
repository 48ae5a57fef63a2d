/* virtio-can against the pretend driver and a socketpair "bus": frames
 * both ways with every byte checked, START/STOP, bus-off, the acceptance
 * rules, and a hostile driver answered NOT_OK without a frame sent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <errno.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/api_cmd.h"
#include "avp/vm.h"
#include "support/can_fixture.h"

#define F(bit) (1ull << (bit))
#define OK VIRTIO_CAN_RESULT_OK
#define NOT_OK VIRTIO_CAN_RESULT_NOT_OK

static struct avp_can_cfg open_cfg; /* no rules */

static int setup(void **state)
{
	*state = canf_new(&open_cfg, 0, true);
	return 0;
}

static int setup_no_fd(void **state)
{
	*state = canf_new(&open_cfg, F(VIRTIO_CAN_F_CAN_FD), true);
	return 0;
}

static int setup_no_rtr(void **state)
{
	*state = canf_new(&open_cfg, F(VIRTIO_CAN_F_RTR_FRAMES), true);
	return 0;
}

static int setup_rules(void **state)
{
	static struct avp_can_cfg cfg;
	char why[160];

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(avp_can_rules_parse("0x300-0x3ff", &cfg.tx, why, sizeof(why)), 0);
	assert_int_equal(avp_can_rules_parse("std:0x100-0x1ff+ext:0x18000000-0x18ffffff", &cfg.rx,
					     why, sizeof(why)), 0);
	*state = canf_new(&cfg, 0, true);
	return 0;
}

static int teardown(void **state)
{
	canf_free(*state);
	return 0;
}

struct msg {
	struct virtio_can_hdr h;
	uint8_t sdu[VIRTIO_CAN_MAX_FD];
};

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* A TX request of hdr + sdu_len bytes; its result byte. */
static int tx(struct can_fixture *f, uint32_t flags, uint32_t id, uint16_t len, size_t sdu_len)
{
	struct msg m = { 0 };
	uint64_t in;
	uint32_t used;

	m.h.msg_type = htole16(VIRTIO_CAN_TX);
	m.h.length = htole16(len);
	m.h.flags = htole32(flags);
	m.h.can_id = htole32(id);
	fill(m.sdu, sizeof(m.sdu), (uint8_t)id);
	in = canf_request(f, VIRTIO_CAN_TXQ, &m, VIRTIO_CAN_HDR_LEN + sdu_len, 1);
	assert_true(canf_used(f, VIRTIO_CAN_TXQ, &used));
	assert_int_equal(used, 1);
	return *(uint8_t *)vqh_hva(&f->h, in);
}

static struct virtio_can_stats stats(struct can_fixture *f)
{
	struct virtio_can_stats s;

	virtio_can_get_stats(f->dev, &s);
	return s;
}

static bool nothing_sent(struct can_fixture *f)
{
	uint8_t buf[128];

	return canf_host_recv(f, buf, sizeof(buf)) == 0;
}

static void test_identity(void **state)
{
	struct can_fixture *f = *state;
	uint64_t feat = f->dev->ops->features(f->dev);

	assert_int_equal(f->dev->ops->device_id, 36);
	assert_int_equal(f->dev->ops->num_queues, 3);
	assert_int_equal(f->dev->config_len, 2);
	assert_true(feat & F(VIRTIO_CAN_F_CAN_CLASSIC));
	assert_true(feat & F(VIRTIO_CAN_F_CAN_FD));
	assert_true(feat & F(VIRTIO_CAN_F_RTR_FRAMES));
	/* A write to a raw socket does not say the frame left: not offered. */
	assert_false(feat & F(VIRTIO_CAN_F_LATE_TX_ACK));
}

static void test_no_fd_on_classic_interface(void **state)
{
	struct can_fixture *f = canf_new(&open_cfg, 0, false);

	(void)state;
	assert_false(f->dev->ops->features(f->dev) & F(VIRTIO_CAN_F_CAN_FD));
	canf_free(f);
}

static void test_fd_off(void **state)
{
	struct avp_can_cfg cfg = { .fd_mode = AVP_CAN_FD_OFF };
	struct can_fixture *f = canf_new(&cfg, 0, true);

	(void)state;
	assert_false(f->dev->ops->features(f->dev) & F(VIRTIO_CAN_F_CAN_FD));
	canf_free(f);
}

static void test_fd_on_needs_fd_interface(void **state)
{
	struct avp_can_cfg cfg = { .fd_mode = AVP_CAN_FD_ON };
	struct socketcan sc = { .fd = -1, .link_fd = -1, .up = true, .name = "vcantest" };
	struct virtio_dev *dev = NULL;

	(void)state;
	assert_int_equal(virtio_can_create_backend(&dev, &cfg, &sc), -EINVAL);
	assert_null(dev);
}

static void test_tx_while_stopped(void **state)
{
	struct can_fixture *f = *state;

	/* "Initially the CAN controller is in the STOPPED state." */
	assert_int_equal(tx(f, 0, 0x123, 8, 8), NOT_OK);
	assert_true(nothing_sent(f));
	assert_int_equal(stats(f).tx_failed, 1);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, 0, 0x123, 8, 8), OK);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_STOP), OK);
	assert_int_equal(tx(f, 0, 0x123, 8, 8), NOT_OK);
}

static void test_tx_classic(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf;
	uint8_t want[8];

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, 0, 0x123, 8, 8), OK);
	assert_int_equal(canf_host_recv(f, &cf, sizeof(cf) + 1), CAN_MTU);
	assert_int_equal(cf.can_id, 0x123);
	assert_int_equal(cf.len, 8);
	fill(want, 8, 0x23);
	assert_memory_equal(cf.data, want, 8);
	assert_int_equal(stats(f).tx_frames, 1);
}

static void test_tx_fd_extended(void **state)
{
	struct can_fixture *f = *state;
	struct canfd_frame ff;
	uint8_t want[64];

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_FD | VIRTIO_CAN_FLAGS_EXTENDED, 0x1abcdef0, 64, 64), OK);
	assert_int_equal(canf_host_recv(f, &ff, sizeof(ff) + 1), CANFD_MTU);
	assert_int_equal(ff.can_id, 0x1abcdef0u | CAN_EFF_FLAG);
	assert_int_equal(ff.len, 64);
	assert_true(ff.flags & CANFD_FDF);
	fill(want, 64, 0xf0);
	assert_memory_equal(ff.data, want, 64);
}

static void test_tx_rtr(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	/* An RTR frame's length is the DLC asked for; no payload follows. */
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_RTR, 0x7ff, 4, 0), OK);
	assert_int_equal(canf_host_recv(f, &cf, sizeof(cf)), CAN_MTU);
	assert_int_equal(cf.can_id, 0x7ffu | CAN_RTR_FLAG);
	assert_int_equal(cf.len, 4);
}

static void test_hostile_tx(void **state)
{
	struct can_fixture *f = *state;
	uint8_t junk[8] = { 1, 0, 8, 0 };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, 0, 0x123, 8, 7), NOT_OK);	/* DLC beyond the payload */
	assert_int_equal(tx(f, 0, 0x123, 9, 9), NOT_OK);	/* classic with 9 bytes */
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_FD, 0x123, 65, 64), NOT_OK);
	assert_int_equal(tx(f, 0, 0x800, 1, 1), NOT_OK);	/* not an 11-bit ID */
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_EXTENDED, 0x20000000, 1, 1), NOT_OK);
	assert_int_equal(tx(f, 0x1000, 0x123, 1, 1), NOT_OK); /* undefined flag */
	assert_int_equal(tx(f, 0x80000000u, 0x123, 1, 1), NOT_OK);
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_RTR | VIRTIO_CAN_FLAGS_FD, 0x123, 1, 1), NOT_OK);
	assert_int_equal(stats(f).tx_invalid, 8);

	/* Shorter than the header. */
	canf_request(f, VIRTIO_CAN_TXQ, junk, sizeof(junk), 1);
	assert_true(canf_used(f, VIRTIO_CAN_TXQ, &used));
	assert_int_equal(used, 1);
	/* No room for the result: used with 0 bytes, nothing sent. */
	{
		struct msg m = { .h = { .msg_type = htole16(VIRTIO_CAN_TX), .length = htole16(1) } };

		canf_request(f, VIRTIO_CAN_TXQ, &m, VIRTIO_CAN_HDR_LEN + 1, 0);
		assert_true(canf_used(f, VIRTIO_CAN_TXQ, &used));
		assert_int_equal(used, 0);
	}
	/* Not a TX message. */
	{
		struct msg m = { .h = { .msg_type = htole16(VIRTIO_CAN_RX), .length = htole16(1) } };
		uint64_t in = canf_request(f, VIRTIO_CAN_TXQ, &m, VIRTIO_CAN_HDR_LEN + 1, 1);

		assert_true(canf_used(f, VIRTIO_CAN_TXQ, &used));
		assert_int_equal(*(uint8_t *)vqh_hva(&f->h, in), NOT_OK);
	}
	/* Nothing but the readable part. */
	canf_request(f, VIRTIO_CAN_TXQ, NULL, 0, 4);
	assert_true(canf_used(f, VIRTIO_CAN_TXQ, &used));
	assert_true(nothing_sent(f));
	assert_int_equal(stats(f).tx_frames, 0);
}

static void test_fd_not_negotiated(void **state)
{
	struct can_fixture *f = *state;
	struct canfd_frame ff = { .can_id = 0x100, .len = 12, .flags = CANFD_FDF };
	struct can_frame cf = { .can_id = 0x101, .len = 2 };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_FD, 0x100, 8, 8), NOT_OK);
	assert_true(nothing_sent(f));
	/* Without FD, Rx buffers of 16 + 8 bytes are enough; an FD frame
	 * from the bus is dropped, the classic one after it delivered. */
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 8);
	canf_host_send(f, &ff, CANFD_MTU);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(stats(f).rx_dropped, 1);
	canf_host_send(f, &cf, CAN_MTU);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(used, VIRTIO_CAN_HDR_LEN + 2);
}

static void test_rtr_not_negotiated(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x101 | CAN_RTR_FLAG, .len = 2 };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_RTR, 0x100, 0, 0), NOT_OK);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &cf, CAN_MTU);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
}

static void test_unknown_control(void **state)
{
	struct can_fixture *f = *state;
	uint32_t used;

	assert_int_equal(canf_ctrl(f, 0x0203), NOT_OK);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_TX), NOT_OK);
	/* Too short to hold msg_type, and no result room: no crash. */
	canf_request(f, VIRTIO_CAN_CTRLQ, "\x01", 1, 1);
	assert_true(canf_used(f, VIRTIO_CAN_CTRLQ, &used));
	canf_request(f, VIRTIO_CAN_CTRLQ, "\x01\x02", 2, 0);
	assert_true(canf_used(f, VIRTIO_CAN_CTRLQ, &used));
	assert_int_equal(used, 0);
}

static void test_rx_classic_and_fd(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x321, .len = 5 };
	struct canfd_frame ff = { .can_id = 0x1234567 | CAN_EFF_FLAG, .len = 48, .flags = CANFD_FDF };
	uint64_t b1, b2;
	uint32_t used;
	const uint8_t *p;

	fill(cf.data, 8, 1);
	fill(ff.data, 64, 2);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	b1 = canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	b2 = canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &cf, CAN_MTU);
	canf_host_send(f, &ff, CANFD_MTU);

	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(used, VIRTIO_CAN_HDR_LEN + 5);
	p = vqh_hva(&f->h, b1);
	assert_int_equal(p[0] | p[1] << 8, VIRTIO_CAN_RX);
	assert_int_equal(p[2] | p[3] << 8, 5);
	assert_int_equal(p[8] | p[9] << 8, 0);
	assert_int_equal(p[12] | p[13] << 8, 0x321);
	assert_memory_equal(p + 16, cf.data, 5);
	assert_int_equal(p[16 + 5], 0xee); /* nothing past the frame */

	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(used, VIRTIO_CAN_HDR_LEN + 48);
	p = vqh_hva(&f->h, b2);
	assert_int_equal(p[2], 48);
	assert_int_equal(p[8] | p[9] << 8, VIRTIO_CAN_FLAGS_FD | VIRTIO_CAN_FLAGS_EXTENDED);
	assert_int_equal(p[12] | p[13] << 8 | p[14] << 16 | p[15] << 24, 0x1234567);
	assert_memory_equal(p + 16, ff.data, 48);
	assert_int_equal(stats(f).rx_frames, 2);
}

static void test_rx_waits_for_buffers(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x10, .len = 1, .data = { 0x5a } };
	uint32_t used;
	uint64_t b;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	canf_host_send(f, &cf, CAN_MTU);
	/* No buffer: the socket is left alone (its queue holds the frame). */
	assert_false(f->frames_watched);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	b = canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, b))[16], 0x5a);
}

static void test_rx_small_buffer_returned(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x10, .len = 1 };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	/* With FD negotiated a buffer must hold 16 + 64 bytes. */
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 8);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(used, 0);
	canf_host_send(f, &cf, CAN_MTU);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
}

static void test_rx_stopped_drops(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x10, .len = 1, .data = { 1 } };
	uint32_t used;

	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &cf, CAN_MTU);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(stats(f).rx_dropped, 1);
	/* Not delivered late: the next START sees only new frames. */
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	cf.data[0] = 2;
	canf_host_send(f, &cf, CAN_MTU);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
}

static void test_rx_junk_sizes_dropped(void **state)
{
	struct can_fixture *f = *state;
	uint8_t junk[40] = { 0 };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, junk, sizeof(junk));
	canf_host_send(f, junk, 3);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(stats(f).rx_dropped, 2);
}

static void test_busoff_on_link_down(void **state)
{
	struct can_fixture *f = *state;
	unsigned int irqs;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	/* Another interface going down is no news. */
	canf_link(f, CANF_IFINDEX + 1, false, false);
	assert_int_equal(le16toh(*(uint16_t *)f->dev->config), 0);
	irqs = f->h.irqs;
	f->h.isr_bits = 0;
	canf_link(f, CANF_IFINDEX, false, false);
	assert_int_equal(le16toh(*(uint16_t *)f->dev->config), VIRTIO_CAN_S_CTRL_BUSOFF);
	assert_true(f->h.irqs > irqs);
	assert_true(f->h.isr_bits & 2); /* configuration change */
	assert_int_equal(stats(f).busoff, 1);
	/* Stopped now; START fails while the interface is down. */
	assert_int_equal(tx(f, 0, 0x1, 0, 0), NOT_OK);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), NOT_OK);
	canf_link(f, CANF_IFINDEX, true, false);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(le16toh(*(uint16_t *)f->dev->config), 0);
	assert_int_equal(tx(f, 0, 0x1, 0, 0), OK);
	/* Deleted: never back. */
	canf_link(f, CANF_IFINDEX, false, true);
	assert_int_equal(le16toh(*(uint16_t *)f->dev->config), VIRTIO_CAN_S_CTRL_BUSOFF);
	canf_link(f, CANF_IFINDEX, true, false);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), NOT_OK);
}

static void test_busoff_error_frame(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame err = { .can_id = CAN_ERR_FLAG | CAN_ERR_BUSOFF, .len = CAN_ERR_DLC };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &err, CAN_MTU);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used)); /* never shown as a frame */
	assert_int_equal(le16toh(*(uint16_t *)f->dev->config), VIRTIO_CAN_S_CTRL_BUSOFF);
	/* The link is still up (a real controller restarts): START works. */
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
}

static void test_error_event_not_fatal(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x10, .len = 1 };
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	/* EPOLLERR whose error a write already read: nothing to read, and
	 * the socket is fine. */
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->frame_fd, EPOLLIN | EPOLLERR);
	pthread_mutex_unlock(&f->dev->lock);
	canf_host_send(f, &cf, CAN_MTU);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
}

static void test_busoff_drains_stale_frames(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x10, .len = 1, .data = { 1 } };
	uint32_t used;
	uint64_t b;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	/* No Rx buffer: the frame waits in the socket, unwatched. */
	canf_host_send(f, &cf, CAN_MTU);
	assert_false(f->frames_watched);
	canf_link(f, CANF_IFINDEX, false, false);
	assert_true(f->frames_watched); /* the stopped device drains it */
	canf_fd_ready(f, f->frame_fd);
	assert_int_equal(stats(f).rx_dropped, 1);
	canf_link(f, CANF_IFINDEX, true, false);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	b = canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	cf.data[0] = 2;
	canf_host_send(f, &cf, CAN_MTU);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, b))[16], 2);
}

static void test_bus_hangup(void **state)
{
	struct can_fixture *f = *state;
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	close(f->host);
	f->host = -1;
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->frame_fd, EPOLLIN | EPOLLHUP);
	pthread_mutex_unlock(&f->dev->lock);
	/* Stopped for good, and said so; the buffer stays with the device. */
	assert_false(f->frames_watched);
	assert_int_equal(le16toh(*(uint16_t *)f->dev->config), VIRTIO_CAN_S_CTRL_BUSOFF);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), NOT_OK);
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
}

/* Requests in one burst: two descriptors each, within the 64-entry ring. */
#define NBURST 30

/* Posts TX requests for IDs first..first+n-1 (one byte each) without
 * waiting for answers; their result bytes' gpas into res. */
static void tx_burst(struct can_fixture *f, uint32_t first, unsigned int n, uint64_t *res)
{
	for (unsigned int i = 0; i < n; i++) {
		struct msg m = { 0 };

		m.h.msg_type = htole16(VIRTIO_CAN_TX);
		m.h.length = htole16(1);
		m.h.can_id = htole32(first + i);
		m.sdu[0] = (uint8_t)i;
		res[i] = canf_request(f, VIRTIO_CAN_TXQ, &m, VIRTIO_CAN_HDR_LEN + 1, 1);
	}
}

/* A small send buffer on the device's socket: the "host queue" fills after
 * a few frames. */
static void small_host_queue(struct can_fixture *f)
{
	int one = 1;

	assert_int_equal(setsockopt(f->frame_fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)), 0);
}

static void test_tx_waits_for_host_queue(void **state)
{
	struct can_fixture *f = *state;
	uint64_t res[NBURST];
	unsigned int done = 0, got = 0;
	struct can_frame cf;
	uint32_t used;

	small_host_queue(f);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	tx_burst(f, 0x100, NBURST, res);
	while (canf_used(f, VIRTIO_CAN_TXQ, &used))
		done++;
	/* Some went out, then one waits and the rest wait behind it. */
	assert_true(done > 0 && done < NBURST);
	assert_true(f->timer_watched);
	assert_int_equal(stats(f).tx_failed, 0);
	/* The bus drains; each retry sends the waiting frame and what follows
	 * until the queue is full again. */
	for (int round = 0; round < 100 && done < NBURST; round++) {
		while (canf_host_recv(f, &cf, sizeof(cf)) == CAN_MTU) {
			assert_int_equal(cf.can_id, 0x100 + got); /* in order, none lost */
			got++;
		}
		canf_fd_ready(f, f->timer_fd);
		while (canf_used(f, VIRTIO_CAN_TXQ, &used))
			done++;
	}
	assert_int_equal(done, NBURST);
	while (canf_host_recv(f, &cf, sizeof(cf)) == CAN_MTU) {
		assert_int_equal(cf.can_id, 0x100 + got);
		got++;
	}
	assert_int_equal(got, NBURST);
	for (unsigned int i = 0; i < NBURST; i++)
		assert_int_equal(*(uint8_t *)vqh_hva(&f->h, res[i]), OK);
	assert_int_equal(stats(f).tx_frames, NBURST);
}

static void test_stop_cancels_waiting_frame(void **state)
{
	struct can_fixture *f = *state;
	uint64_t res[NBURST];
	unsigned int done = 0;
	uint32_t used;

	small_host_queue(f);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	tx_burst(f, 0x100, NBURST, res);
	while (canf_used(f, VIRTIO_CAN_TXQ, &used))
		done++;
	assert_true(done < NBURST);
	/* "On transition to the STOPPED state the device cancels all CAN
	 * messages already pending for transmission" with NOT_OK, and what
	 * is queued behind is answered NOT_OK as well. */
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_STOP), OK);
	while (canf_used(f, VIRTIO_CAN_TXQ, &used))
		done++;
	assert_int_equal(done, NBURST);
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, res[0]), OK);
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, res[NBURST - 1]), NOT_OK);
	/* The timer finds nothing to send any more. */
	canf_fd_ready(f, f->timer_fd);
	assert_false(canf_used(f, VIRTIO_CAN_TXQ, &used));
}

static void test_busoff_cancels_waiting_frame(void **state)
{
	struct can_fixture *f = *state;
	uint64_t res[NBURST];
	unsigned int done = 0;
	uint32_t used;

	small_host_queue(f);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	tx_burst(f, 0x100, NBURST, res);
	while (canf_used(f, VIRTIO_CAN_TXQ, &used))
		done++;
	assert_true(done < NBURST);
	canf_link(f, CANF_IFINDEX, false, false);
	/* "...all CAN messages pending for transmission are put into the used
	 * queue with NOT_OK": the waiting one at once. */
	assert_true(canf_used(f, VIRTIO_CAN_TXQ, &used));
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, res[done]), NOT_OK);
}

static void test_reset_stops(void **state)
{
	struct can_fixture *f = *state;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_false(f->frames_watched);
}

static void test_rules_tx(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, 0, 0x2ff, 1, 1), NOT_OK);
	assert_int_equal(tx(f, 0, 0x400, 1, 1), NOT_OK);
	/* Without a prefix a range takes extended IDs as well. */
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_EXTENDED, 0x1000, 1, 1), NOT_OK);
	assert_true(nothing_sent(f));
	assert_int_equal(stats(f).tx_refused, 3);
	assert_int_equal(tx(f, 0, 0x300, 1, 1), OK);
	assert_int_equal(tx(f, VIRTIO_CAN_FLAGS_EXTENDED, 0x3ff, 1, 1), OK);
	assert_int_equal(canf_host_recv(f, &cf, sizeof(cf)), CAN_MTU);
	assert_int_equal(cf.can_id, 0x300);
	assert_int_equal(canf_host_recv(f, &cf, sizeof(cf)), CAN_MTU);
	assert_int_equal(cf.can_id, 0x3ffu | CAN_EFF_FLAG);
}

static void test_rules_rx(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame std_in = { .can_id = 0x150, .len = 1 };
	struct can_frame std_out = { .can_id = 0x250, .len = 1 };
	struct can_frame ext_std_range = { .can_id = 0x150 | CAN_EFF_FLAG, .len = 1 };
	struct can_frame ext_in = { .can_id = 0x18123456 | CAN_EFF_FLAG, .len = 1 };
	uint64_t b;
	uint32_t used;

	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	b = canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &std_out, CAN_MTU);
	canf_host_send(f, &ext_std_range, CAN_MTU); /* std: ranges are std only */
	assert_false(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(stats(f).rx_refused, 2);
	canf_host_send(f, &std_in, CAN_MTU);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, b))[12] | ((uint8_t *)vqh_hva(&f->h, b))[13] << 8,
			 0x150);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &ext_in, CAN_MTU);
	assert_true(canf_used(f, VIRTIO_CAN_RXQ, &used));
}

static uint64_t reply_count(struct json_object *dev, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(dev, key, &v));
	return (uint64_t)json_object_get_int64(v);
}

/* The control socket's "can" command: the rules and the counters of every
 * CAN device (what avp state shows). */
static void test_can_command(void **state)
{
	struct can_fixture *f = *state;
	struct can_frame cf = { .can_id = 0x250, .len = 1 };
	struct vm *vm = calloc(1, sizeof(*vm));
	const struct api_command *cmd;
	struct json_object *reply, *dev;

	assert_non_null(vm);
	assert_int_equal(canf_ctrl(f, VIRTIO_CAN_SET_CTRL_MODE_START), OK);
	assert_int_equal(tx(f, 0, 0x2ff, 1, 1), NOT_OK); /* refused by tx */
	assert_int_equal(tx(f, 0, 0x300, 1, 1), OK);
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	canf_host_send(f, &cf, CAN_MTU); /* refused by rx */

	assert_int_equal(virtio_can_register_api(vm, f->dev), 0);
	cmd = vm_api_find(vm, "can");
	assert_non_null(cmd);
	reply = json_object_new_object();
	assert_int_equal(cmd->fn(cmd->opaque, NULL, reply), 0);
	dev = json_object_array_get_idx(json_object_object_get(reply, "can"), 0);
	assert_non_null(dev);
	assert_string_equal(json_object_get_string(json_object_object_get(dev, "interface")), "vcantest");
	assert_string_equal(json_object_get_string(json_object_object_get(dev, "tx_rules")),
			    "both:0x300-0x3ff");
	assert_string_equal(json_object_get_string(json_object_object_get(dev, "rx_rules")),
			    "std:0x100-0x1ff+ext:0x18000000-0x18ffffff");
	assert_true(json_object_get_boolean(json_object_object_get(dev, "started")));
	assert_false(json_object_get_boolean(json_object_object_get(dev, "busoff")));
	assert_int_equal(reply_count(dev, "tx_frames"), 1);
	assert_int_equal(reply_count(dev, "tx_refused"), 1);
	assert_int_equal(reply_count(dev, "rx_refused"), 1);
	assert_int_equal(reply_count(dev, "rx_frames"), 0);
	json_object_put(reply);
	free(vm);
}

/* ---- the rules' grammar ---- */

static void expect_bad(const char *text, const char *fragment)
{
	struct avp_can_rules r;
	char why[160] = "";

	assert_int_equal(avp_can_rules_parse(text, &r, why, sizeof(why)), -EINVAL);
	if (!strstr(why, fragment))
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", text, why, fragment);
}

static void test_rules_grammar(void **state)
{
	struct avp_can_rules r;
	char why[160], text[256];

	(void)state;
	assert_int_equal(avp_can_rules_parse("std:0x100-0x1ff+ext:256+0x7ff", &r, why, sizeof(why)), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.r[0].kind, AVP_CAN_STD);
	assert_int_equal(r.r[1].lo, 256);
	assert_int_equal(r.r[1].hi, 256);
	assert_int_equal(r.r[2].kind, AVP_CAN_BOTH);
	avp_can_rules_format(&r, text, sizeof(text));
	assert_string_equal(text, "std:0x100-0x1ff+ext:0x100-0x100+both:0x7ff-0x7ff");
	assert_true(avp_can_rules_allow(&r, 0x100, true));
	assert_false(avp_can_rules_allow(&r, 0x101, true));
	assert_true(avp_can_rules_allow(&r, 0x7ff, true));

	assert_int_equal(avp_can_rules_parse("none", &r, why, sizeof(why)), 0);
	assert_false(avp_can_rules_allow(&r, 0, false));
	avp_can_rules_format(&r, text, sizeof(text));
	assert_string_equal(text, "none");
	memset(&r, 0, sizeof(r));
	assert_true(avp_can_rules_allow(&r, 0x1fffffff, true));

	expect_bad("std:0x800", "11-bit");
	expect_bad("ext:0x20000000", "29-bit");
	expect_bad("0x200-0x100", "ends before");
	expect_bad("0x100-0x1ff+std:0x1f0", "overlaps");
	expect_bad("std:1-5+ext:1-5+both:5", "overlaps");
	expect_bad("0x100+", "empty range");
	expect_bad("+0x100", "empty range");
	expect_bad("0x", "not a range");
	expect_bad("abc", "not a range");
	expect_bad("std:", "not a range");
	expect_bad("1-", "not a range");
	expect_bad("-1", "not a range");
	expect_bad("fd:1", "not a range");
	expect_bad("1-2-3", "not a range");
	expect_bad("99999999999", "29-bit");
	expect_bad("0+1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16", "at most 16");
	/* std and ext ranges of the same numbers do not overlap. */
	assert_int_equal(avp_can_rules_parse("std:1-5+ext:1-5", &r, why, sizeof(why)), 0);
}

static void test_link_parse(void **state)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} m[2];
	bool up = true, gone = false;

	(void)state;
	memset(m, 0, sizeof(m));
	m[0].h.nlmsg_len = sizeof(m[0]);
	m[0].h.nlmsg_type = RTM_NEWLINK;
	m[0].ifi.ifi_index = 3;
	m[0].ifi.ifi_flags = IFF_UP; /* up but not running: no carrier */
	m[1] = m[0];
	m[1].ifi.ifi_index = 4;
	assert_int_equal(socketcan_link_parse(m, sizeof(m), 3, &up, &gone), 1);
	assert_false(up);
	assert_int_equal(socketcan_link_parse(m, sizeof(m), 5, &up, &gone), 0);
	m[1].ifi.ifi_index = 3;
	m[1].ifi.ifi_flags = IFF_UP | IFF_RUNNING;
	assert_int_equal(socketcan_link_parse(m, sizeof(m), 3, &up, &gone), 1);
	assert_true(up);
	/* A length past the buffer ends the walk. */
	m[0].h.nlmsg_len = 4096;
	up = false;
	assert_int_equal(socketcan_link_parse(m, sizeof(m), 3, &up, &gone), 0);
	assert_false(up);
	m[0].h.nlmsg_len = sizeof(m[0]);
	m[0].h.nlmsg_type = RTM_DELLINK;
	assert_int_equal(socketcan_link_parse(m, sizeof(m[0]), 3, &up, &gone), 1);
	assert_true(gone);
	assert_int_equal(socketcan_link_parse(m + 1, sizeof(m[1]), 3, &up, &gone), 1);
	assert_false(up); /* deleted stays down */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test(test_no_fd_on_classic_interface),
		cmocka_unit_test(test_fd_off),
		cmocka_unit_test(test_fd_on_needs_fd_interface),
		cmocka_unit_test_setup_teardown(test_tx_while_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_classic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_fd_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_rtr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_not_negotiated, setup_no_fd, teardown),
		cmocka_unit_test_setup_teardown(test_rtr_not_negotiated, setup_no_rtr, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_classic_and_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_small_buffer_returned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_stopped_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_junk_sizes_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busoff_on_link_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busoff_error_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_event_not_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busoff_drains_stale_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_waits_for_host_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_cancels_waiting_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busoff_cancels_waiting_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_tx, setup_rules, teardown),
		cmocka_unit_test_setup_teardown(test_rules_rx, setup_rules, teardown),
		cmocka_unit_test_setup_teardown(test_can_command, setup_rules, teardown),
		cmocka_unit_test(test_rules_grammar),
		cmocka_unit_test(test_link_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
