/* virtio-net against the pretend driver, with a SOCK_SEQPACKET socketpair
 * standing in for the tap (one frame with its header per message) and a
 * fake for the tap's offload control, plus one test on a real tap when the
 * host allows it. */
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

#include "avp/devices/virtio_net.h"
#include "avp/net/tap.h"
#include "support/link_up.h"
#include "support/vq_harness.h"

#define QSIZE 256
#define HDR VIRTIO_NET_HDR_LEN
#define RXQ VIRTIO_NET_RXQ
#define TXQ VIRTIO_NET_TXQ

/* Every offload feature, both directions. */
#define OFFLOADS                                                                               \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |                      \
	 (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |                \
	 (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                  \
	 (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_HOST_ECN))
#define FB(bit) (1ull << VIRTIO_NET_F_##bit)

/* The fake tap control: what the device last set, how often, and what
 * the next calls return. */
static struct {
	unsigned int offloads;
	unsigned int calls;
	int fail; /* -errno to return */
} fake_tap;

static int fake_set_offload(int fd, unsigned int offloads)
{
	(void)fd;
	fake_tap.calls++;
	if (fake_tap.fail)
		return fake_tap.fail;
	fake_tap.offloads = offloads;
	return 0;
}

static const struct virtio_net_backend_ops fake_backend = { .set_offload = fake_set_offload };

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

/* A device whose driver accepted every offered feature but `drop`. */
static struct fixture *make_fixture_without(uint16_t rx_size, uint64_t drop)
{
	static struct fixture f;
	struct avp_net_cfg cfg = { .tap = "avptest0", .mac = { 2, 0, 0, 0, 0, 7 }, .mac_set = true };
	int sv[2];

	memset(&f, 0, sizeof(f));
	memset(&fake_tap, 0, sizeof(fake_tap));
	f.resched_fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f.host = sv[1];
	f.dev_fd = sv[0];
	vqh_init(&f.h, 8 << 20);
	assert_int_equal(virtio_net_create_backend(&f.dev, &cfg, sv[0], &fake_backend), 0);
	vqh_attach(&f.h, f.dev, true, true);
	f.dev->driver_features &= ~drop;
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f.h, f.dev, RXQ, rx_size);
	vqh_setup_queue(&f.h, f.dev, TXQ, QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	assert_true(f.tap_watched);
	assert_true(f.resched_fd >= 0);
	return &f;
}

/* The tests of plain frames: a driver that accepted no offloads. */
static int setup(void **state)
{
	*state = make_fixture_without(QSIZE, OFFLOADS);
	return 0;
}

static int setup_small_ring(void **state)
{
	*state = make_fixture_without(8, OFFLOADS);
	return 0;
}

static int setup_offloads(void **state)
{
	*state = make_fixture_without(QSIZE, 0);
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

/* The host sends one frame of len bytes with header hdr. */
static void host_send_hdr(struct fixture *f, const struct virtio_net_hdr_v1 *hdr, size_t len,
			  uint8_t seed)
{
	uint8_t *msg = malloc(HDR + len);

	memcpy(msg, hdr, HDR);
	fill_pattern(msg + HDR, len, seed);
	assert_int_equal(send(f->host, msg, HDR + len, 0), (ssize_t)(HDR + len));
	free(msg);
}

/* The host sends one frame of len bytes with a header the tap might
 * produce (DATA_VALID set, junk where num_buffers goes). */
static void host_send(struct fixture *f, size_t len, uint8_t seed)
{
	struct virtio_net_hdr_v1 hdr = { .flags = VIRTIO_NET_HDR_F_DATA_VALID,
					 .num_buffers = htole16(0x55aa) };

	host_send_hdr(f, &hdr, len, seed);
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
	/* Checksum and TCP segmentation offloads, both ways (AVP-NET-3). */
	assert_int_equal(feat & OFFLOADS, OFFLOADS);
	/* Nothing untested: no GSO (6), UFO (10, 14), USO (54-56), no
	 * GUEST_HDRLEN (59). */
	assert_int_equal(feat & ((1ull << 6) | (1ull << 10) | (1ull << 14) | (7ull << 54) | (1ull << 59)),
			 0);
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

/* Takes EVENT_IDX back from queue q: a driver without it that leaves
 * interrupts enabled asks for one on every used chain, so only the
 * device's batching keeps it to one per batch. */
static void without_event_idx(struct fixture *f, uint16_t q)
{
	f->dev->driver_features &= ~(1ull << VIRTIO_F_EVENT_IDX);
	f->dev->vqs[q].event_idx = false;
}

/* A batch of frames costs the driver one interrupt, not one per frame;
 * a kick that finds nothing raises none. */
static void test_tx_batch_interrupts_once(void **state)
{
	struct fixture *f = *state;
	unsigned int n = 0;
	uint32_t id, len;

	without_event_idx(f, TXQ);
	for (unsigned int i = 0; i < 10; i++) {
		struct vqh_buf b = { vqh_alloc(&f->h, HDR + 60), HDR + 60, false };

		vqh_post(&f->h, f->dev, TXQ, &b, 1);
	}
	f->h.irqs = 0;
	vqh_kick(&f->h, f->dev, TXQ);
	while (vqh_used(&f->h, f->dev, TXQ, &id, &len))
		n++;
	assert_int_equal(n, 10);
	assert_int_equal(f->h.irqs, 1);
	vqh_kick(&f->h, f->dev, TXQ);
	assert_int_equal(f->h.irqs, 1);
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

static void test_rx_batch_interrupts_once(void **state)
{
	struct fixture *f = *state;
	unsigned int n = 0;
	uint32_t id, len;

	without_event_idx(f, RXQ);
	for (unsigned int i = 0; i < 10; i++) {
		post_rx(f, 256, NULL);
		host_send(f, 60, (uint8_t)i);
	}
	f->h.irqs = 0;
	fd_ready(f, f->dev_fd);
	while (vqh_used(&f->h, f->dev, RXQ, &id, &len))
		n++;
	assert_int_equal(n, 10);
	assert_int_equal(f->h.irqs, 1);
	/* Nothing more to read: the wake-up delivers nothing and stays quiet. */
	fd_ready(f, f->dev_fd);
	assert_int_equal(f->h.irqs, 1);
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


/* ---- offloads (AVP-NET-3) ---- */

static void reset_dev(struct fixture *f)
{
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
}

static void test_tap_offloads_follow_negotiation(void **state)
{
	struct fixture *f = *state; /* every offload accepted */

	assert_int_equal(fake_tap.offloads,
			 TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 | TAP_OFFLOAD_TSO_ECN);
	assert_int_equal(fake_tap.calls, 1);
	/* Reset: off again, for a driver that may accept fewer. */
	reset_dev(f);
	assert_int_equal(fake_tap.offloads, 0);
	assert_int_equal(fake_tap.calls, 2);

	/* The next driver takes GUEST_CSUM and GUEST_TSO6 only. */
	f->dev->driver_features &= ~(FB(GUEST_TSO4) | FB(GUEST_ECN));
	vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	assert_int_equal(fake_tap.offloads, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO6);
	reset_dev(f);

	/* TSO without GUEST_CSUM breaks 5.1.3.1 (and the kernel refuses
	 * it): no offloads. */
	f->dev->driver_features = (f->dev->driver_features | FB(GUEST_TSO4)) & ~FB(GUEST_CSUM);
	fake_tap.calls = 0;
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	assert_int_equal(fake_tap.offloads, 0);
	assert_int_equal(fake_tap.calls, 0); /* already off: nothing to do */
}

static void test_tap_offloads_off_without_negotiation(void **state)
{
	struct fixture *f = *state; /* no offloads accepted */

	assert_int_equal(fake_tap.calls, 0);
	assert_int_equal(fake_tap.offloads, 0);
	reset_dev(f);
	assert_int_equal(fake_tap.calls, 0);
}

static void test_tap_offload_failure_not_fatal(void **state)
{
	struct fixture *f = make_fixture_without(QSIZE, OFFLOADS);
	uint16_t head;

	*state = f;
	/* A driver accepting offloads on a backend that cannot set them. */
	reset_dev(f);
	f->dev->driver_features |= OFFLOADS;
	fake_tap.fail = -ENOTTY;
	vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	assert_int_equal(fake_tap.calls, 1);
	assert_true(f->tap_watched);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	head = post_rx(f, 2048, NULL);
	host_send(f, 100, 1);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, head, HDR + 100);
}

/* Transmits one frame of len bytes behind header hdr (in its own
 * descriptor); returns what reached the host, out holding it. */
static ssize_t tx_with_hdr(struct fixture *f, const struct virtio_net_hdr_v1 *hdr, size_t len,
			   uint8_t *out, size_t out_len)
{
	uint64_t h = vqh_alloc(&f->h, HDR), d = vqh_alloc(&f->h, len);
	struct vqh_buf bufs[] = { { h, HDR, false }, { d, (uint32_t)len, false } };
	uint16_t head;

	memcpy(vqh_hva(&f->h, h), hdr, HDR);
	fill_pattern(vqh_hva(&f->h, d), len, 5);
	head = vqh_post(&f->h, f->dev, TXQ, bufs, 2);
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	return host_recv(f, out, out_len);
}

static struct virtio_net_hdr_v1 tso_hdr(uint8_t gso_type, uint16_t mss)
{
	/* Ethernet + IPv6 + TCP: checksum at 54 + 16. */
	return (struct virtio_net_hdr_v1){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = gso_type,
		.hdr_len = htole16(74),
		.gso_size = htole16(mss),
		.csum_start = htole16(54),
		.csum_offset = htole16(16),
	};
}

static void test_tx_offload_headers_pass_unchanged(void **state)
{
	struct fixture *f = *state;
	uint8_t *out = f->frame, want[4000];
	const struct virtio_net_hdr_v1 good[] = {
		tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1440),
		tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460),
		tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 536),
		/* partial checksum, no GSO; the checksum's last byte is the
		 * frame's last */
		{ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = htole16(34),
		  .csum_offset = htole16(3000 - 34 - 2) },
		{ 0 },
	};

	fill_pattern(want, sizeof(want), 5);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(tx_with_hdr(f, &good[i], 3000, out, sizeof(f->frame)), HDR + 3000);
		assert_memory_equal(out, &good[i], HDR);
		assert_memory_equal(out + HDR, want, 3000);
	}
}

static void test_tx_gso_frame_of_64k(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 hdr = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1440);
	size_t len = 65535 - 40 + 54; /* the largest IPv6 TCP segment */

	assert_int_equal(tx_with_hdr(f, &hdr, len, f->frame, sizeof(f->frame)), (ssize_t)(HDR + len));
	assert_memory_equal(f->frame, &hdr, HDR);
}

/* Each header class a correct driver never writes is dropped, and the
 * next good frame still goes out. */
static void check_bad_tx_hdr(struct fixture *f, const struct virtio_net_hdr_v1 *bad, size_t len)
{
	struct virtio_net_hdr_v1 good = tso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0);
	uint8_t out[4200];

	good.gso_size = 0;
	good.hdr_len = 0;
	assert_int_equal(tx_with_hdr(f, bad, len, out, sizeof(out)), -1);
	assert_int_equal(tx_with_hdr(f, &good, 200, out, sizeof(out)), HDR + 200);
	assert_memory_equal(out, &good, HDR);
}

static void test_tx_bad_headers_dropped(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h;

	/* UDP fragmentation (3) and USO (5) were never offered. */
	h = tso_hdr(3, 1400);
	check_bad_tx_hdr(f, &h, 3000);
	h = tso_hdr(5, 1400);
	check_bad_tx_hdr(f, &h, 3000);
	/* ECN alone, without a GSO type. */
	h = tso_hdr(VIRTIO_NET_HDR_GSO_ECN, 1400);
	check_bad_tx_hdr(f, &h, 3000);
	/* gso_size 0 */
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 0);
	check_bad_tx_hdr(f, &h, 3000);
	/* GSO without NEEDS_CSUM */
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1440);
	h.flags = 0;
	check_bad_tx_hdr(f, &h, 3000);
	/* checksum outside the frame: one byte past, far past, wrapping */
	h = tso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0);
	h.gso_size = 0;
	h.csum_start = htole16(34);
	h.csum_offset = htole16(3000 - 34 - 1);
	check_bad_tx_hdr(f, &h, 3000);
	h.csum_start = htole16(0xffff);
	h.csum_offset = htole16(0xffff);
	check_bad_tx_hdr(f, &h, 3000);
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1400);
	h.csum_start = htole16(2990);
	check_bad_tx_hdr(f, &h, 3000);
	/* hdr_len past the frame */
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1400);
	h.hdr_len = htole16(3001);
	check_bad_tx_hdr(f, &h, 3000);
}

static void test_tx_gso_not_negotiated_dropped(void **state)
{
	struct fixture *f = make_fixture_without(QSIZE, FB(HOST_TSO4) | FB(HOST_ECN));
	struct virtio_net_hdr_v1 h;
	uint8_t out[4200];

	*state = f;
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);
	check_bad_tx_hdr(f, &h, 3000);
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, 1440);
	check_bad_tx_hdr(f, &h, 3000);
	/* TCPV6 was negotiated. */
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1440);
	assert_int_equal(tx_with_hdr(f, &h, 3000, out, sizeof(out)), HDR + 3000);
	assert_memory_equal(out, &h, HDR);
}

static void test_tx_needs_csum_without_csum_dropped(void **state)
{
	/* A driver breaking 5.1.3.1: HOST_TSO4 without CSUM. Its header
	 * counts, and may not ask for checksums. */
	struct fixture *f = make_fixture_without(QSIZE, FB(CSUM));
	struct virtio_net_hdr_v1 h = tso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0);
	uint8_t out[4200];

	*state = f;
	h.gso_size = 0;
	h.hdr_len = 0;
	assert_int_equal(tx_with_hdr(f, &h, 3000, out, sizeof(out)), -1);
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);
	assert_int_equal(tx_with_hdr(f, &h, 3000, out, sizeof(out)), -1);
	h = (struct virtio_net_hdr_v1){ 0 };
	assert_int_equal(tx_with_hdr(f, &h, 3000, out, sizeof(out)), HDR + 3000);
}

/* A 3000-byte frame behind h goes out with an all-zero header. */
static void expect_tx_zero_hdr(struct fixture *f, const struct virtio_net_hdr_v1 *h)
{
	uint8_t out[4200];

	assert_int_equal(tx_with_hdr(f, h, 3000, out, sizeof(out)), HDR + 3000);
	assert_memory_equal(out, (uint8_t[HDR]){ 0 }, HDR);
}

static void test_tx_header_trimmed(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { .flags = 0xfe, /* every flag but NEEDS_CSUM */
				       .hdr_len = htole16(0xffff), .gso_size = htole16(7),
				       .csum_start = htole16(0xffff), .num_buffers = htole16(3) };

	/* Unknown flags are ignored (5.1.6.2.2), fields meaningless without
	 * GSO or NEEDS_CSUM are cleared: the kernel sees a plain frame. */
	expect_tx_zero_hdr(f, &h);
}

/* A header split across descriptors (as the walker allows) is gathered
 * whole before it is checked. */
static void test_tx_offload_header_split(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 hdr = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);
	uint64_t a = vqh_alloc(&f->h, 5), b = vqh_alloc(&f->h, HDR - 5 + 100);
	struct vqh_buf bufs[] = { { a, 5, false }, { b, HDR - 5 + 100, false } };
	uint8_t out[200];
	uint16_t head;

	memcpy(vqh_hva(&f->h, a), &hdr, 5);
	memcpy(vqh_hva(&f->h, b), (uint8_t *)&hdr + 5, HDR - 5);
	fill_pattern((uint8_t *)vqh_hva(&f->h, b) + HDR - 5, 100, 1);
	head = vqh_post(&f->h, f->dev, TXQ, bufs, 2);
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);
	assert_int_equal(host_recv(f, out, sizeof(out)), HDR + 100);
	assert_memory_equal(out, &hdr, HDR);
}

static void test_tx_no_offloads_header_ignored(void **state)
{
	struct fixture *f = *state; /* no offloads */
	struct virtio_net_hdr_v1 h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);

	/* As before offloads existed: the driver's header is never passed
	 * on, our zero one is. */
	expect_tx_zero_hdr(f, &h);
}

static void test_rx_gso_frame_delivered(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 hdr = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1440);
	struct virtio_net_hdr_v1 got, want = hdr;
	uint64_t gpa;
	uint16_t head = post_rx(f, 8192, &gpa);

	hdr.num_buffers = htole16(0x1234); /* the tap's junk */
	host_send_hdr(f, &hdr, 5000, 9);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, head, HDR + 5000);
	memcpy(&got, vqh_hva(&f->h, gpa), HDR);
	want.num_buffers = htole16(1);
	assert_memory_equal(&got, &want, HDR);
	fill_pattern(f->frame, 5000, 9);
	assert_memory_equal((uint8_t *)vqh_hva(&f->h, gpa) + HDR, f->frame, 5000);
}

static void test_rx_checksum_flags_with_guest_csum(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	uint16_t head = post_rx(f, 2048, &gpa);
	const uint8_t *buf = vqh_hva(&f->h, gpa);

	host_send(f, 100, 3); /* DATA_VALID */
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, head, HDR + 100);
	/* With GUEST_CSUM the driver may skip its own check (5.1.6.4.2). */
	assert_int_equal(buf[0], VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(hdr_num_buffers(buf), 1);
}

/* Sends bad, then a plain frame; only the plain one reaches the driver. */
static void check_rx_dropped(struct fixture *f, const struct virtio_net_hdr_v1 *bad)
{
	uint64_t gpa;
	uint16_t head = post_rx(f, 8192, &gpa);

	host_send_hdr(f, bad, 3000, 1);
	host_send(f, 64, 77);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, head, HDR + 64);
	expect_no_used(f, RXQ);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, gpa))[HDR], 77);
}

static void test_rx_gso_dropped_without_negotiation(void **state)
{
	struct fixture *f = *state; /* no offloads */
	struct virtio_net_hdr_v1 h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);

	check_rx_dropped(f, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE; /* NEEDS_CSUM alone */
	check_rx_dropped(f, &h);
}

static void test_rx_gso_kind_not_negotiated_dropped(void **state)
{
	struct fixture *f = make_fixture_without(QSIZE, FB(GUEST_TSO4) | FB(GUEST_ECN));
	struct virtio_net_hdr_v1 h;

	*state = f;
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);
	check_rx_dropped(f, &h);
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, 1440);
	check_rx_dropped(f, &h);
	h = tso_hdr(3, 1440); /* UDP */
	check_rx_dropped(f, &h);
	h = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1440);
	h.flags = 0; /* GSO always has NEEDS_CSUM */
	check_rx_dropped(f, &h);
}

/* A GSO frame a little over 64 KiB crosses many merged buffers. */
static void test_rx_65k_gso_frame_merged(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 hdr = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);
	size_t len = 65 * 1024, off = 0;
	uint64_t gpa[40];
	uint16_t head[40];
	unsigned int n = (unsigned int)((HDR + len + 2047) / 2048);

	assert_true(n <= 40);
	for (unsigned int i = 0; i < 40; i++)
		head[i] = post_rx(f, 2048, &gpa[i]);
	host_send_hdr(f, &hdr, len, 21);
	fd_ready(f, f->dev_fd);
	fill_pattern(f->frame, len, 21);
	for (unsigned int i = 0; i < n; i++) {
		size_t want = i + 1 < n ? 2048 : HDR + len - 2048ull * (n - 1);
		const uint8_t *p = vqh_hva(&f->h, gpa[i]);
		size_t skip = i == 0 ? HDR : 0;

		expect_used(f, RXQ, head[i], (uint32_t)want);
		assert_memory_equal(p + skip, f->frame + off, want - skip);
		off += want - skip;
	}
	expect_no_used(f, RXQ);
	assert_int_equal(off, len);
	assert_int_equal(hdr_num_buffers(vqh_hva(&f->h, gpa[0])), n);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, gpa[0]))[1], VIRTIO_NET_HDR_GSO_TCPV4);
}

/* Without MRG_RXBUF a driver taking TSO must post big buffers (5.1.6.3.1):
 * a GSO frame goes into one that fits, and is dropped, never overflowing,
 * when the buffer is too small. */
static void test_rx_gso_without_mrg_needs_big_buffers(void **state)
{
	struct fixture *f = make_fixture_without(QSIZE, FB(MRG_RXBUF));
	struct virtio_net_hdr_v1 hdr = tso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1460);
	size_t len = 65000;
	uint64_t small, big;
	uint16_t hs, hb;

	*state = f;
	hs = post_rx(f, 4096, &small);
	host_send_hdr(f, &hdr, len, 2);
	host_send(f, 60, 3);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, hs, HDR + 60); /* the big frame was dropped */
	/* Nothing past the buffer (post_rx leaves 16 bytes after it). */
	assert_memory_equal((uint8_t *)vqh_hva(&f->h, small) + 4096, (uint8_t[16]){ 0 }, 16);

	hb = post_rx(f, 65562, &big);
	host_send_hdr(f, &hdr, len, 2);
	fd_ready(f, f->dev_fd);
	expect_used(f, RXQ, hb, HDR + len);
	assert_int_equal(hdr_num_buffers(vqh_hva(&f->h, big)), 1);
	fill_pattern(f->frame, len, 2);
	assert_memory_equal((uint8_t *)vqh_hva(&f->h, big) + HDR, f->frame, len);
}

/* ---- tap ---- */

static void test_tap_name_checks(void **state)
{
	char name[IFNAMSIZ];

	(void)state;
	assert_int_equal(tap_open("avp-name-too-long0", name), -ENAMETOOLONG);
	assert_int_equal(tap_open("", name), -EINVAL);
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

/* A new tap (fd) named avptN, or the test is skipped where the host has
 * no /dev/net/tun or does not let us create one. */
static int real_tap_or_skip(char ifname[IFNAMSIZ])
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

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
	return fd;
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
	fd = real_tap_or_skip(ifname);
	assert_memory_equal(ifname, "avpt", 4);
	assert_true(if_nametoindex(ifname) > 0);
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (pkt < 0) {
		printf("skipping real tap test: packet socket: %s\n", strerror(errno));
		close(fd);
		skip();
	}
	assert_int_equal(test_set_link_up(ifname), 0);

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

/* The offloads the device asks for are ones a real tap takes, and the
 * kernel's rule the device follows (no TSO without CSUM) is real. */
static void test_real_tap_offloads(void **state)
{
	char ifname[IFNAMSIZ];
	int fd = real_tap_or_skip(ifname);

	(void)state;
	assert_int_equal(tap_set_offload(fd, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 |
						 TAP_OFFLOAD_TSO_ECN),
			 0);
	assert_int_equal(tap_set_offload(fd, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO6), 0);
	assert_int_equal(tap_set_offload(fd, TAP_OFFLOAD_TSO4), -EINVAL);
	assert_int_equal(tap_set_offload(fd, 0), 0);
	assert_int_equal(tap_set_offload(-1, 0), -EBADF);
	close(fd);
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
		cmocka_unit_test_setup_teardown(test_tx_batch_interrupts_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_batch_interrupts_once, setup, teardown),
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
		cmocka_unit_test_setup_teardown(test_tap_offloads_follow_negotiation, setup_offloads,
						teardown),
		cmocka_unit_test_setup_teardown(test_tap_offloads_off_without_negotiation, setup, teardown),
		cmocka_unit_test_teardown(test_tap_offload_failure_not_fatal, teardown),
		cmocka_unit_test_setup_teardown(test_tx_offload_headers_pass_unchanged, setup_offloads,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_gso_frame_of_64k, setup_offloads, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bad_headers_dropped, setup_offloads, teardown),
		cmocka_unit_test_teardown(test_tx_gso_not_negotiated_dropped, teardown),
		cmocka_unit_test_teardown(test_tx_needs_csum_without_csum_dropped, teardown),
		cmocka_unit_test_setup_teardown(test_tx_header_trimmed, setup_offloads, teardown),
		cmocka_unit_test_setup_teardown(test_tx_offload_header_split, setup_offloads, teardown),
		cmocka_unit_test_setup_teardown(test_tx_no_offloads_header_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_gso_frame_delivered, setup_offloads, teardown),
		cmocka_unit_test_setup_teardown(test_rx_checksum_flags_with_guest_csum, setup_offloads,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_gso_dropped_without_negotiation, setup, teardown),
		cmocka_unit_test_teardown(test_rx_gso_kind_not_negotiated_dropped, teardown),
		cmocka_unit_test_setup_teardown(test_rx_65k_gso_frame_merged, setup_offloads, teardown),
		cmocka_unit_test_teardown(test_rx_gso_without_mrg_needs_big_buffers, teardown),
		cmocka_unit_test(test_tap_name_checks),
		cmocka_unit_test(test_create_reports_bad_tap),
		cmocka_unit_test(test_real_tap),
		cmocka_unit_test(test_real_tap_offloads),
	};

	return cmocka_run_group_tests_name("virtio_net", tests, NULL, NULL);
}
