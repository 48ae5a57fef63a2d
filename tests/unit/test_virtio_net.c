/* virtio-net against the pretend driver, with a SOCK_SEQPACKET socketpair
 * standing in for the tap (one frame with its header per message), plus
 * one test on a real tap when the host allows it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/devices.h"
#include "avp/devices/virtio_net.h"
#include "avp/net/tap.h"
#include "support/vq_harness.h"

#define QSIZE 256
#define HDR VIRTIO_NET_HDR_LEN
#define RXQ VIRTIO_NET_RXQ
#define TXQ VIRTIO_NET_TXQ

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int host;	     /* our end of the socketpair ("the host network") */
	int dev_fd;	     /* the device's end */
	bool tap_watched;
	int resched_fd; /* the other fd the device watches */
	unsigned int watch_calls;
	uint8_t frame[70000];
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	assert_true(events & EPOLLIN);
	f->watch_calls++;
	if (fd == f->dev_fd)
		f->tap_watched = true;
	else
		f->resched_fd = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct fixture *f = (struct fixture *)dev->transport;

	if (fd == f->dev_fd)
		f->tap_watched = false;
	return 0;
}

static struct fixture *make_fixture(uint16_t rx_size)
{
	static struct fixture f;
	struct avp_net_cfg cfg = { .tap = "avptest0", .mac = { 2, 0, 0, 0, 0, 7 }, .mac_set = true };
	int sv[2];

	memset(&f, 0, sizeof(f));
	f.resched_fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f.host = sv[1];
	f.dev_fd = sv[0];
	vqh_init(&f.h, 8 << 20);
	assert_int_equal(virtio_net_create_fd(&f.dev, &cfg, sv[0]), 0);
	vqh_attach(&f.h, f.dev, true, true);
	f.dev->watch_fd = spy_watch;
	f.dev->unwatch_fd = spy_unwatch;
	vqh_setup_queue(&f.h, f.dev, RXQ, rx_size);
	vqh_setup_queue(&f.h, f.dev, TXQ, QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	assert_true(f.tap_watched);
	assert_true(f.resched_fd >= 0);
	return &f;
}

static int setup(void **state)
{
	*state = make_fixture(QSIZE);
	return 0;
}

static int setup_small_ring(void **state)
{
	*state = make_fixture(8);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	close(f->host);
	vqh_free(&f->h);
	return 0;
}

static void fd_ready(struct fixture *f, int fd)
{
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, fd, EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* The host sends one frame of len bytes with a header the tap might
 * produce (DATA_VALID set, junk where num_buffers goes). */
static void host_send(struct fixture *f, size_t len, uint8_t seed)
{
	uint8_t *msg = malloc(HDR + len);

	memset(msg, 0, HDR);
	msg[0] = 2;			      /* VIRTIO_NET_HDR_F_DATA_VALID */
	msg[10] = 0xaa, msg[11] = 0x55; /* the tap leaves these alone */
	fill_pattern(msg + HDR, len, seed);
	assert_int_equal(send(f->host, msg, HDR + len, 0), (ssize_t)(HDR + len));
	free(msg);
}

/* Next message the device sent, or -1 when none. */
static ssize_t host_recv(struct fixture *f, uint8_t *buf, size_t len)
{
	return recv(f->host, buf, len, MSG_DONTWAIT);
}

static bool dev_fd_readable(struct fixture *f)
{
	struct pollfd p = { .fd = f->dev_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static uint16_t post_rx(struct fixture *f, uint32_t len, uint64_t *gpa)
{
	struct vqh_buf b = { vqh_alloc(&f->h, len + 16), len, true };

	if (gpa)
		*gpa = b.gpa;
	return vqh_post(&f->h, f->dev, RXQ, &b, 1);
}

static void expect_used(struct fixture *f, uint16_t q, uint16_t head, uint32_t len)
{
	uint32_t id, got;

	assert_true(vqh_used(&f->h, f->dev, q, &id, &got));
	assert_int_equal(id, head);
	assert_int_equal(got, len);
}

static void expect_no_used(struct fixture *f, uint16_t q)
{
	uint32_t id, len;

	assert_false(vqh_used(&f->h, f->dev, q, &id, &len));
}

static uint16_t hdr_num_buffers(const uint8_t *hdr)
{
	uint16_t v;

	memcpy(&v, hdr + 10, 2);
	return le16toh(v);
}

/* ---- identity ---- */

static void test_config_and_features(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = f->dev->ops->features(f->dev);
	struct virtio_net_config cfg;

	assert_int_equal(f->dev->ops->device_id, VIRTIO_ID_NET);
	assert_int_equal(f->dev->ops->num_queues, 2);
	assert_true(feat & (1ull << VIRTIO_NET_F_MAC));
	assert_true(feat & (1ull << VIRTIO_NET_F_STATUS));
	assert_true(feat & (1ull << VIRTIO_NET_F_MRG_RXBUF));
	/* No offloads: the guest must never get GSO or partial checksums. */
	assert_int_equal(feat & 0x3fc7, 0); /* CSUM..HOST_UFO, bits 0-1 and 6-13 */
	assert_int_equal(f->dev->config_len, 10);
	memcpy(&cfg, f->dev->config, sizeof(cfg));
	assert_memory_equal(cfg.mac, ((uint8_t[]){ 2, 0, 0, 0, 0, 7 }), 6);
	assert_int_equal(le16toh(cfg.status), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(le16toh(cfg.max_virtqueue_pairs), 1);
}

static void mac_for(const char *tap, uint8_t mac[6])
{
	struct avp_net_cfg cfg = { .tap = (char *)tap };
	struct virtio_dev *dev;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(virtio_net_create_fd(&dev, &cfg, sv[0]), 0);
	memcpy(mac, dev->config, 6);
	dev->ops->destroy(dev);
	close(sv[1]);
}

static void test_mac_derived_from_name(void **state)
{
	uint8_t a[6], b[6], c[6];

	(void)state;
	mac_for("avp0", a);
	mac_for("avp0", b);
	mac_for("avp1", c);
	assert_memory_equal(a, b, 6);		     /* stable */
	assert_memory_not_equal(a, c, 6);	     /* per name */
	assert_memory_equal(a, ((uint8_t[]){ 0x52, 0x54, 0x00 }), 3);
	assert_int_equal(a[0] & 3, 2);		     /* local, unicast */
}

/* ---- transmit ---- */

static void test_tx_frame(void **state)
{
	struct fixture *f = *state;
	uint64_t h = vqh_alloc(&f->h, HDR), d = vqh_alloc(&f->h, 60);
	struct vqh_buf bufs[] = { { h, HDR, false }, { d, 60, false } };
	uint8_t out[200];
	uint16_t head;

	memset(vqh_hva(&f->h, h), 0xff, HDR); /* junk flags: never passed on */
	fill_pattern(vqh_hva(&f->h, d), 60, 1);
	head = vqh_post(&f->h, f->dev, TXQ, bufs, 2);
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);

	assert_int_equal(host_recv(f, out, sizeof(out)), HDR + 60);
	assert_true(memcmp(out, (uint8_t[HDR]){ 0 }, HDR) == 0);
	assert_memory_equal(out + HDR, vqh_hva(&f->h, d), 60);
	assert_int_equal(host_recv(f, out, sizeof(out)), -1);
}

static void test_tx_header_split_across_segments(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 5), b = vqh_alloc(&f->h, 27), c = vqh_alloc(&f->h, 40);
	struct vqh_buf bufs[] = { { a, 5, false }, { b, 27, false }, { c, 40, false } };
	uint8_t want[60], out[200];
	uint16_t head;

	fill_pattern(vqh_hva(&f->h, b), 27, 9);
	fill_pattern(vqh_hva(&f->h, c), 40, 77);
	memcpy(want, (uint8_t *)vqh_hva(&f->h, b) + 7, 20);
	memcpy(want + 20, vqh_hva(&f->h, c), 40);
	head = vqh_post(&f->h, f->dev, TXQ, bufs, 3);
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);
	assert_int_equal(host_recv(f, out, sizeof(out)), HDR + 60);
	assert_memory_equal(out + HDR, want, 60);
}

static void test_tx_short_and_runt_chains_dropped(void **state)
{
	struct fixture *f = *state;
	struct vqh_buf shorter = { vqh_alloc(&f->h, 8), 8, false };	    /* < header */
	struct vqh_buf runt = { vqh_alloc(&f->h, HDR + 10), HDR + 10, false }; /* < Ethernet */
	struct vqh_buf ok = { vqh_alloc(&f->h, HDR + 64), HDR + 64, false };
	uint16_t h1 = vqh_post(&f->h, f->dev, TXQ, &shorter, 1);
	uint16_t h2 = vqh_post(&f->h, f->dev, TXQ, &runt, 1);
	uint16_t h3 = vqh_post(&f->h, f->dev, TXQ, &ok, 1);
	uint8_t out[200];

	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, h1, 0);
	expect_used(f, TXQ, h2, 0);
	expect_used(f, TXQ, h3, 0);
	/* Only the good one came out. */
	assert_int_equal(host_recv(f, out, sizeof(out)), HDR + 64);
	assert_int_equal(host_recv(f, out, sizeof(out)), -1);
}

static void test_tx_oversized_dropped(void **state)
{
	struct fixture *f = *state;
	uint32_t len = HDR + VIRTIO_NET_MAX_TX_FRAME + 1;
	struct vqh_buf big = { vqh_alloc(&f->h, len), len, false };
	uint16_t head = vqh_post(&f->h, f->dev, TXQ, &big, 1);
	uint8_t out[16];

	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);
	assert_int_equal(host_recv(f, out, sizeof(out)), -1);
}

static void test_tx_writable_before_readable(void **state)
{
	struct fixture *f = *state;
	struct vqh_buf bufs[] = { { vqh_alloc(&f->h, 64), 64, true },
				  { vqh_alloc(&f->h, HDR + 64), HDR + 64, false } };
	uint16_t head = vqh_post(&f->h, f->dev, TXQ, bufs, 2);
	uint8_t out[200];

	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0); /* malformed: back, unsent */
	assert_int_equal(host_recv(f, out, sizeof(out)), -1);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_tx_work_per_wakeup_bounded(void **state)
{
	struct fixture *f = *state;
	unsigned int total = VIRTIO_NET_TX_BUDGET + 5, n = 0, sent = 0;
	uint8_t out[200];
	uint32_t id, len;
	struct pollfd p;

	for (unsigned int i = 0; i < total; i++) {
		struct vqh_buf b = { vqh_alloc(&f->h, HDR + 60), HDR + 60, false };

		vqh_post(&f->h, f->dev, TXQ, &b, 1);
	}
	vqh_kick(&f->h, f->dev, TXQ);
	while (vqh_used(&f->h, f->dev, TXQ, &id, &len))
		n++;
	assert_int_equal(n, VIRTIO_NET_TX_BUDGET);

	/* It asked to be called back rather than lose the rest. */
	p = (struct pollfd){ .fd = f->resched_fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 1);
	fd_ready(f, f->resched_fd);
	while (vqh_used(&f->h, f->dev, TXQ, &id, &len))
		n++;
	assert_int_equal(n, total);
	assert_int_equal(poll(&p, 1, 0), 0);
	while (host_recv(f, out, sizeof(out)) == HDR + 60)
		sent++;
	assert_int_equal(sent, total);
}

/* ---- receive ---- */

static void test_rx_frame(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	uint16_t head = post_rx(f, 2048, &gpa);
	uint8_t *buf = vqh_hva(&f->h, gpa);
	uint8_t want[100];

	vqh_kick(&f->h, f->dev, RXQ);
	host_send(f, 100, 3);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, head, HDR + 100);
	/* Our header: no flags without GUEST_CSUM, num_buffers 1. */
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[1], VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(hdr_num_buffers(buf), 1);
	fill_pattern(want, 100, 3);
	assert_memory_equal(buf + HDR, want, 100);
	assert_int_equal(buf[HDR + 100], 0); /* nothing past the frame */
	assert_true(f->h.irqs > 0);
}

static void test_rx_no_buffers_unwatches_then_delivers(void **state)
{
	struct fixture *f = *state;
	unsigned int calls;
	uint64_t gpa;
	uint16_t head;

	host_send(f, 80, 5);
	fd_ready(f, f->dev_fd);
	/* No receive buffer: the device stops watching the tap and leaves
	 * the frame where it is. */
	assert_false(f->tap_watched);
	assert_true(dev_fd_readable(f));
	expect_no_used(f, RXQ);
	/* A spurious wakeup changes nothing and does not re-arm. */
	calls = f->watch_calls;
	fd_ready(f, f->dev_fd);
	assert_false(f->tap_watched);
	assert_int_equal(f->watch_calls, calls);
	assert_true(dev_fd_readable(f));

	head = post_rx(f, 1600, &gpa);
	post_rx(f, 1600, NULL);
	vqh_kick(&f->h, f->dev, RXQ);
	expect_used(f, RXQ, head, HDR + 80);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, gpa))[HDR], 5);
	/* Watching again while it holds a buffer for the next frame; the
	 * fd is drained. */
	assert_true(f->tap_watched);
	assert_false(dev_fd_readable(f));
}

static void test_rx_readable_only_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t ro = vqh_alloc(&f->h, 2048);
	struct vqh_buf bad = { ro, 2048, false };
	uint16_t h1 = vqh_post(&f->h, f->dev, RXQ, &bad, 1);
	uint64_t gpa;
	uint16_t h2 = post_rx(f, 2048, &gpa);
	uint8_t zero[2048] = { 0 };

	host_send(f, 64, 1);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, h1, 0);
	expect_used(f, RXQ, h2, HDR + 64);
	assert_memory_equal(vqh_hva(&f->h, ro), zero, sizeof(zero));
}

static void test_rx_writable_before_readable(void **state)
{
	struct fixture *f = *state;
	uint64_t w = vqh_alloc(&f->h, 2048), r = vqh_alloc(&f->h, 64);
	struct vqh_buf bad[] = { { w, 2048, true }, { r, 64, false } };
	uint16_t h1 = vqh_post(&f->h, f->dev, RXQ, bad, 2);
	uint16_t h2 = post_rx(f, 2048, NULL);
	uint8_t zero[2048] = { 0 };

	host_send(f, 64, 1);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, h1, 0);
	expect_used(f, RXQ, h2, HDR + 64);
	assert_memory_equal(vqh_hva(&f->h, w), zero, sizeof(zero));
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_rx_chain_smaller_than_header(void **state)
{
	struct fixture *f = *state;
	uint16_t h1 = post_rx(f, HDR - 1, NULL);
	uint16_t h2 = post_rx(f, 2048, NULL);

	host_send(f, 64, 1);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, h1, 0);
	expect_used(f, RXQ, h2, HDR + 64);
}

static void test_rx_mergeable(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa[4];
	uint16_t head[4];
	uint8_t *want = f->frame;

	for (unsigned int i = 0; i < 4; i++)
		head[i] = post_rx(f, 1024, &gpa[i]);
	host_send(f, 3000, 11);
	fd_ready(f, f->dev_fd);
	/* 3012 bytes in 1024-byte chains: 1024 + 1024 + 964, the first ones
	 * full (5.1.6.4), the header in the first. */
	expect_used(f, RXQ, head[0], 1024);
	expect_used(f, RXQ, head[1], 1024);
	expect_used(f, RXQ, head[2], 964);
	expect_no_used(f, RXQ);
	assert_int_equal(hdr_num_buffers(vqh_hva(&f->h, gpa[0])), 3);
	fill_pattern(want, 3000, 11);
	assert_memory_equal((uint8_t *)vqh_hva(&f->h, gpa[0]) + HDR, want, 1024 - HDR);
	assert_memory_equal(vqh_hva(&f->h, gpa[1]), want + 1024 - HDR, 1024);
	assert_memory_equal(vqh_hva(&f->h, gpa[2]), want + 2048 - HDR, 964);
}

static void test_rx_mergeable_waits_for_more_buffers(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa0;
	uint16_t h0 = post_rx(f, 1024, &gpa0);
	uint16_t h1 = post_rx(f, 1024, NULL);
	uint16_t h2;

	host_send(f, 2500, 4);
	host_send(f, 100, 8);
	fd_ready(f, f->dev_fd);
	/* Half a frame is never shown to the driver. */
	expect_no_used(f, RXQ);
	assert_false(f->tap_watched);

	h2 = post_rx(f, 1024, NULL);
	vqh_kick(&f->h, f->dev, RXQ);
	expect_used(f, RXQ, h0, 1024);
	expect_used(f, RXQ, h1, 1024);
	expect_used(f, RXQ, h2, 2512 - 2048);
	assert_int_equal(hdr_num_buffers(vqh_hva(&f->h, gpa0)), 3);
	/* The second frame waits in the fd, not lost. */
	assert_true(dev_fd_readable(f));
	assert_false(f->tap_watched);
	h0 = post_rx(f, 1024, NULL);
	vqh_kick(&f->h, f->dev, RXQ);
	expect_used(f, RXQ, h0, HDR + 100);
}

static void test_rx_without_mrg_drops_oversized(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	uint16_t head;

	f->dev->driver_features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	head = post_rx(f, 512, &gpa);
	post_rx(f, 512, NULL);
	host_send(f, 1000, 1); /* does not fit one buffer: dropped */
	host_send(f, 100, 2);
	fd_ready(f, f->dev_fd);
	/* The first buffer was kept for the frame that fits. */
	expect_used(f, RXQ, head, HDR + 100);
	expect_no_used(f, RXQ);
	assert_int_equal(hdr_num_buffers(vqh_hva(&f->h, gpa)), 1);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, gpa))[HDR], 2);
}

static void test_rx_frame_larger_than_whole_ring(void **state)
{
	struct fixture *f = *state; /* 8-entry receive ring */
	uint16_t head[8];
	uint16_t next;

	for (unsigned int i = 0; i < 8; i++)
		head[i] = post_rx(f, 64, NULL);
	host_send(f, 1000, 1);
	fd_ready(f, f->dev_fd);
	/* 8 x 64 bytes can never hold it: every chain comes back empty
	 * instead of the device waiting forever. */
	for (unsigned int i = 0; i < 8; i++)
		expect_used(f, RXQ, head[i], 0);
	expect_no_used(f, RXQ);
	/* And receiving goes on. */
	next = post_rx(f, 64, NULL);
	host_send(f, 40, 1);
	vqh_kick(&f->h, f->dev, RXQ);
	expect_used(f, RXQ, next, HDR + 40);
}

static void test_rx_work_per_wakeup_bounded(void **state)
{
	struct fixture *f = *state;
	unsigned int total = VIRTIO_NET_RX_BUDGET + 3, n = 0;
	uint32_t id, len;

	for (unsigned int i = 0; i < total; i++) {
		post_rx(f, 256, NULL);
		host_send(f, 60, (uint8_t)i);
	}
	fd_ready(f, f->dev_fd);
	while (vqh_used(&f->h, f->dev, RXQ, &id, &len))
		n++;
	assert_int_equal(n, VIRTIO_NET_RX_BUDGET);
	/* Still watched: the readable tap brings the device back. */
	assert_true(f->tap_watched);
	fd_ready(f, f->dev_fd);
	while (vqh_used(&f->h, f->dev, RXQ, &id, &len))
		n++;
	assert_int_equal(n, total);
}

static void test_reset_stops_watching(void **state)
{
	struct fixture *f = *state;

	post_rx(f, 1024, NULL);
	post_rx(f, 1024, NULL);
	host_send(f, 3000, 1); /* held half-delivered */
	fd_ready(f, f->dev_fd);
	expect_no_used(f, RXQ);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_false(f->tap_watched);

	/* After a new DRIVER_OK the device starts afresh. */
	vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	assert_true(f->tap_watched);
	uint16_t head = post_rx(f, 1024, NULL);
	host_send(f, 50, 1);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, head, HDR + 50);
}

static void test_broken_ring_quiesces(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, f->dev->vqs[RXQ].avail_gpa);

	avail[1] = QSIZE + 1; /* more entries than the ring has */
	host_send(f, 60, 1);
	fd_ready(f, f->dev_fd);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	/* A readable tap must not keep waking a dead device. */
	assert_false(f->tap_watched);
}

static void test_host_end_closed(void **state)
{
	struct fixture *f = *state;

	post_rx(f, 1024, NULL);
	close(f->host);
	f->host = socket(AF_UNIX, SOCK_SEQPACKET, 0); /* for teardown */
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->dev_fd, EPOLLIN | EPOLLHUP);
	pthread_mutex_unlock(&f->dev->lock);
	assert_false(f->tap_watched);
	/* A kick does not bring back a dead backend. */
	vqh_kick(&f->h, f->dev, RXQ);
	assert_false(f->tap_watched);
}

static void test_error_with_nothing_to_read(void **state)
{
	struct fixture *f = *state;

	post_rx(f, 1024, NULL);
	/* epoll keeps reporting an error condition: waiting on it again
	 * would spin, so the device gives up on the backend. */
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->dev_fd, EPOLLERR);
	pthread_mutex_unlock(&f->dev->lock);
	assert_false(f->tap_watched);
	expect_no_used(f, RXQ);
	/* Transmitting still works (the error was on the read side). */
	{
		struct vqh_buf b = { vqh_alloc(&f->h, HDR + 60), HDR + 60, false };
		uint16_t head = vqh_post(&f->h, f->dev, TXQ, &b, 1);
		uint8_t out[100];

		vqh_kick(&f->h, f->dev, TXQ);
		expect_used(f, TXQ, head, 0);
		assert_int_equal(host_recv(f, out, sizeof(out)), HDR + 60);
	}
}

/* ---- tap ---- */

static void test_tap_name_checks(void **state)
{
	char name[IFNAMSIZ];

	(void)state;
	assert_int_equal(tap_open("avp-name-too-long0", name), -ENAMETOOLONG);
	assert_int_equal(tap_open("", name), -EINVAL);
}

static int set_link_up(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = -1;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return ret;
}

static long read_stat(const char *ifname, const char *stat)
{
	char path[128];
	long v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, stat);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	if (fscanf(fp, "%ld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

/* Next completed receive chain holding `frame`, skipping whatever else the
 * host stack sent meanwhile (IPv6 autoconfiguration on a fresh link). */
static bool rx_find(struct vq_harness *h, struct virtio_dev *dev, const uint64_t *gpa_of,
		    const uint8_t *frame, size_t len)
{
	uint32_t id, got;

	while (vqh_used(h, dev, RXQ, &id, &got)) {
		const uint8_t *p = vqh_hva(h, gpa_of[id]);

		assert_int_equal(hdr_num_buffers(p), 1);
		if (got == HDR + len && memcmp(p + HDR, frame, len) == 0)
			return true;
	}
	return false;
}

/* A real tap end to end: a frame the guest transmits reaches the host's
 * interface, and a frame the host sends on the interface reaches the
 * guest's receive buffer with our header. */
static void test_real_tap(void **state)
{
	struct vq_harness h;
	struct avp_net_cfg cfg = { 0 };
	struct virtio_dev *dev;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	char ifname[IFNAMSIZ];
	uint8_t frame[60] = { 0 };
	uint64_t gpa_of[16];
	long before;
	int pkt, fd;
	bool found = false;
	uint32_t id, len;

	(void)state;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("skipping real tap test: /dev/net/tun: %s\n", strerror(errno));
		skip();
	}
	close(fd);
	fd = tap_open("avpt%d", ifname);
	if (fd < 0) {
		printf("skipping real tap test: cannot create a tap here: %s\n", strerror(-fd));
		skip();
	}
	assert_memory_equal(ifname, "avpt", 4);
	assert_true(if_nametoindex(ifname) > 0);
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (pkt < 0) {
		printf("skipping real tap test: packet socket: %s\n", strerror(errno));
		close(fd);
		skip();
	}
	assert_int_equal(set_link_up(ifname), 0);

	cfg.tap = ifname;
	assert_int_equal(virtio_net_create_fd(&dev, &cfg, fd), 0);
	vqh_init(&h, 1 << 20);
	vqh_attach(&h, dev, true, true);
	vqh_setup_queue(&h, dev, RXQ, 16);
	vqh_setup_queue(&h, dev, TXQ, 16);
	assert_int_equal(vqh_activate(&h, dev), 0);

	/* Guest to host: the interface counts what the guest sent. */
	before = read_stat(ifname, "rx_packets");
	assert_true(before >= 0);
	{
		uint64_t t = vqh_alloc(&h, HDR + sizeof(frame));
		uint8_t *p = vqh_hva(&h, t);
		struct vqh_buf b = { t, HDR + sizeof(frame), false };
		uint16_t head;

		memset(p + HDR, 0xff, 6);		/* broadcast */
		memcpy(p + HDR + 6, dev->config, 6);	/* from the guest's MAC */
		p[HDR + 12] = 0x88, p[HDR + 13] = 0xb5; /* local experimental */
		head = vqh_post(&h, dev, TXQ, &b, 1);
		vqh_kick(&h, dev, TXQ);
		assert_true(vqh_used(&h, dev, TXQ, &id, &len));
		assert_int_equal(id, head);
	}
	assert_true(read_stat(ifname, "rx_packets") >= before + 1);

	/* Host to guest: send on the interface; the tap hands it to us. */
	for (unsigned int i = 0; i < 16; i++) {
		struct vqh_buf b = { vqh_alloc(&h, 2048), 2048, true };

		gpa_of[vqh_post(&h, dev, RXQ, &b, 1)] = b.gpa;
	}
	vqh_kick(&h, dev, RXQ);
	memset(frame, 0xff, 6);
	frame[6] = 0x02;
	frame[12] = 0x88, frame[13] = 0xb5;
	memcpy(frame + 14, "avp-real-tap", 12);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	assert_int_equal(sendto(pkt, frame, sizeof(frame), 0, (struct sockaddr *)&sll, sizeof(sll)),
			 (ssize_t)sizeof(frame));
	for (unsigned int tries = 0; tries < 100 && !found; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 10) == 1) {
			pthread_mutex_lock(&dev->lock);
			dev->ops->fd_ready(dev, fd, EPOLLIN);
			pthread_mutex_unlock(&dev->lock);
		}
		found = rx_find(&h, dev, gpa_of, frame, sizeof(frame));
	}
	assert_true(found);
	close(pkt);
	dev->ops->destroy(dev); /* closes the tap: the interface goes away */
	vqh_free(&h);
	assert_int_equal(if_nametoindex(ifname), 0);
}

/* The public constructor names the tap it could not open. */
static void test_create_reports_bad_tap(void **state)
{
	struct avp_net_cfg cfg = { .tap = "avp-name-too-long0" };
	struct virtio_dev *dev;

	(void)state;
	assert_int_equal(virtio_net_create(&dev, &cfg), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_features, setup, teardown),
		cmocka_unit_test(test_mac_derived_from_name),
		cmocka_unit_test_setup_teardown(test_tx_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_header_split_across_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_short_and_runt_chains_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_oversized_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_writable_before_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_work_per_wakeup_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_no_buffers_unwatches_then_delivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_readable_only_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_writable_before_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_chain_smaller_than_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable_waits_for_more_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_without_mrg_drops_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_frame_larger_than_whole_ring, setup_small_ring,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_work_per_wakeup_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stops_watching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_quiesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_end_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_with_nothing_to_read, setup, teardown),
		cmocka_unit_test(test_tap_name_checks),
		cmocka_unit_test(test_create_reports_bad_tap),
		cmocka_unit_test(test_real_tap),
	};

	return cmocka_run_group_tests_name("virtio_net", tests, NULL, NULL);
}
