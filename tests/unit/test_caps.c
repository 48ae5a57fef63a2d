/* A guest cannot make avp allocate host memory without bound (docs/limits.md).
 *
 * Each test drives a device past one of its caps with the pretend driver
 * and checks two things: the request fails (or is trimmed) the documented
 * way, and the host heap did not grow while the device served it. The
 * device models allocate everything they need when they are created, so
 * "did not grow" is exact up to a little slack for libc internals; a
 * per-request leak of even a few bytes over thousands of requests, or one
 * buffer sized from a guest value, is far above it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/devices.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"
#include "avp/log.h"
#include "support/vq_harness.h"

#define RAM_SIZE (8u << 20)
#define SLACK 4096 /* bytes of heap growth put down to libc, not the device */
#define MIB (1u << 20)

/* ---- measuring the heap ---- */

#ifdef __SANITIZE_ADDRESS__
/* ASan replaces malloc, so ask its allocator (sanitizer/allocator_interface.h,
 * which gcc does not ship). */
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
	/* Every test here is single-threaded, so the main arena is all. */
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}
#endif

static void assert_no_growth(size_t before, const char *what)
{
	size_t now = heap_in_use();

	if (now > before + SLACK)
		fail_msg("%s: the host heap grew by %zu bytes", what, now - before);
}

/* ---- small helpers over the harness ---- */

static void fd_ready(struct virtio_dev *dev, int fd)
{
	pthread_mutex_lock(&dev->lock);
	dev->ops->fd_ready(dev, fd, EPOLLIN);
	pthread_mutex_unlock(&dev->lock);
}

static void expect_used(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint16_t head,
			uint32_t len)
{
	uint32_t id, got;

	assert_true(vqh_used(h, dev, q, &id, &got));
	assert_int_equal(id, head);
	assert_int_equal(got, len);
}

/* ---- the virtqueue: chain length ---- */

/* One indirect table one entry longer than VIRTQ_MAX_CHAIN: refused as a
 * whole, without touching the device; the queue stays usable. */
static void test_chain_longer_than_cap_refused(void **state)
{
	struct vq_harness h;
	struct virtio_dev dev;
	static const struct virtio_dev_ops ops = { .type = "caps", .num_queues = 1 };
	static struct virtq_chain chain;
	struct vqh_buf *bufs = calloc(VIRTQ_MAX_CHAIN + 1, sizeof(*bufs));
	uint64_t data;
	uint16_t head;
	size_t before;

	(void)state;
	assert_non_null(bufs);
	vqh_init(&h, RAM_SIZE);
	virtio_dev_init(&dev, &ops, NULL, NULL, 0);
	vqh_attach(&h, &dev, false, true);
	vqh_setup_queue(&h, &dev, 0, 16);
	data = vqh_alloc(&h, VIRTQ_MAX_CHAIN + 1);
	for (unsigned int i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		bufs[i] = (struct vqh_buf){ data + i, 1, false };

	before = heap_in_use();
	head = vqh_post_indirect(&h, &dev, 0, bufs, VIRTQ_MAX_CHAIN + 1);
	assert_int_equal(virtq_pop(&dev.vqs[0], &chain), -EINVAL);
	assert_int_equal(chain.head, head);
	assert_int_equal(chain.n_out + chain.n_in, 0);
	/* Exactly the cap is fine. */
	head = vqh_post_indirect(&h, &dev, 0, bufs, VIRTQ_MAX_CHAIN);
	assert_int_equal(virtq_pop(&dev.vqs[0], &chain), 1);
	assert_int_equal(chain.head, head);
	assert_int_equal(chain.n_out, VIRTQ_MAX_CHAIN);
	assert_no_growth(before, "over-long chain");

	free(bufs);
	vqh_free(&h);
	pthread_mutex_destroy(&dev.lock);
}

/* ---- virtio-net ---- */

struct net {
	struct vq_harness h;
	struct virtio_dev *dev;
	int host;
	int dev_fd;
};

static void net_start(struct net *n, uint16_t rx_size)
{
	struct avp_net_cfg cfg = { .tap = "caps0" };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	n->host = sv[1];
	n->dev_fd = sv[0];
	vqh_init(&n->h, RAM_SIZE);
	assert_int_equal(virtio_net_create_fd(&n->dev, &cfg, sv[0]), 0);
	vqh_attach(&n->h, n->dev, false, true); /* with MRG_RXBUF */
	vqh_setup_queue(&n->h, n->dev, VIRTIO_NET_RXQ, rx_size);
	vqh_setup_queue(&n->h, n->dev, VIRTIO_NET_TXQ, 256);
	assert_int_equal(vqh_activate(&n->h, n->dev), 0);
}

static void net_stop(struct net *n)
{
	n->dev->ops->destroy(n->dev);
	close(n->host);
	vqh_free(&n->h);
}

static ssize_t host_recv(struct net *n, void *buf, size_t len)
{
	return recv(n->host, buf, len, MSG_DONTWAIT | MSG_TRUNC);
}

/* A 1 MiB frame is far above any MTU: dropped, its chain returned, and
 * nothing sized from it allocated. Then the largest frame we do send
 * (VIRTIO_NET_MAX_TX_FRAME) still goes out whole. */
static void test_net_tx_oversized_frame_dropped(void **state)
{
	static uint8_t frame[VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_TX_FRAME];
	struct net n;
	uint64_t big;
	uint16_t head;
	size_t before;

	(void)state;
	net_start(&n, 256);
	big = vqh_alloc(&n.h, VIRTIO_NET_HDR_LEN + MIB);
	memset(vqh_hva(&n.h, big) + VIRTIO_NET_HDR_LEN, 0x5a, MIB);

	before = heap_in_use();
	for (int i = 0; i < 100; i++) {
		struct vqh_buf b = { big, VIRTIO_NET_HDR_LEN + MIB, false };

		head = vqh_post(&n.h, n.dev, VIRTIO_NET_TXQ, &b, 1);
		vqh_kick(&n.h, n.dev, VIRTIO_NET_TXQ);
		expect_used(&n.h, n.dev, VIRTIO_NET_TXQ, head, 0);
	}
	assert_no_growth(before, "1 MiB TX frames");
	assert_true(host_recv(&n, frame, sizeof(frame)) < 0); /* nothing sent */

	{
		struct vqh_buf b = { big, VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_TX_FRAME, false };

		memset(vqh_hva(&n.h, big), 0, VIRTIO_NET_HDR_LEN);
		head = vqh_post(&n.h, n.dev, VIRTIO_NET_TXQ, &b, 1);
		vqh_kick(&n.h, n.dev, VIRTIO_NET_TXQ);
		expect_used(&n.h, n.dev, VIRTIO_NET_TXQ, head, 0);
		assert_int_equal(host_recv(&n, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	}
	net_stop(&n);
}

/* A TX chain of VIRTQ_MAX_CHAIN segments (more than writev takes with our
 * header in front) goes through the preallocated linear buffer; one more
 * segment and the chain is refused. Neither allocates. */
static void test_net_tx_longest_chain(void **state)
{
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 64 * VIRTQ_MAX_CHAIN];
	struct vqh_buf *bufs = calloc(VIRTQ_MAX_CHAIN + 1, sizeof(*bufs));
	struct net n;
	uint64_t data;
	uint8_t *p;
	uint16_t head;
	size_t before;
	size_t frame_len = 64 * VIRTQ_MAX_CHAIN - VIRTIO_NET_HDR_LEN;

	(void)state;
	assert_non_null(bufs);
	net_start(&n, 256);
	data = vqh_alloc(&n.h, 64 * (VIRTQ_MAX_CHAIN + 1));
	p = vqh_hva(&n.h, data);
	for (size_t i = 0; i < 64 * (VIRTQ_MAX_CHAIN + 1); i++)
		p[i] = i < VIRTIO_NET_HDR_LEN ? 0 : (uint8_t)(i * 7);
	for (unsigned int i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		bufs[i] = (struct vqh_buf){ data + 64 * i, 64, false };

	before = heap_in_use();
	head = vqh_post_indirect(&n.h, n.dev, VIRTIO_NET_TXQ, bufs, VIRTQ_MAX_CHAIN + 1);
	vqh_kick(&n.h, n.dev, VIRTIO_NET_TXQ);
	expect_used(&n.h, n.dev, VIRTIO_NET_TXQ, head, 0);
	assert_true(host_recv(&n, frame, sizeof(frame)) < 0);

	head = vqh_post_indirect(&n.h, n.dev, VIRTIO_NET_TXQ, bufs, VIRTQ_MAX_CHAIN);
	vqh_kick(&n.h, n.dev, VIRTIO_NET_TXQ);
	expect_used(&n.h, n.dev, VIRTIO_NET_TXQ, head, 0);
	assert_no_growth(before, "1024-segment TX chains");
	/* Our zero header, then the frame exactly as the guest laid it out. */
	assert_int_equal(host_recv(&n, frame, sizeof(frame)), (ssize_t)(VIRTIO_NET_HDR_LEN + frame_len));
	assert_memory_equal(frame + VIRTIO_NET_HDR_LEN, p + VIRTIO_NET_HDR_LEN, frame_len);

	net_stop(&n);
	free(bufs);
}

/* 10000 minimum-size frames in a row, each in its own chain: served
 * within the per-wakeup budget, no growth. */
static void test_net_tx_many_tiny_frames(void **state)
{
	static uint8_t frame[256];
	struct net n;
	uint64_t buf;
	size_t before;
	unsigned int sent = 0, received = 0;

	(void)state;
	net_start(&n, 256);
	buf = vqh_alloc(&n.h, VIRTIO_NET_HDR_LEN + 60);
	before = heap_in_use();
	while (sent < 10000) {
		struct vqh_buf b = { buf, VIRTIO_NET_HDR_LEN + 60, false };
		uint32_t id, len;

		for (int i = 0; i < 100; i++, sent++)
			vqh_post(&n.h, n.dev, VIRTIO_NET_TXQ, &b, 1);
		vqh_kick(&n.h, n.dev, VIRTIO_NET_TXQ);
		for (int i = 0; i < 100; i++)
			assert_true(vqh_used(&n.h, n.dev, VIRTIO_NET_TXQ, &id, &len));
		while (host_recv(&n, frame, sizeof(frame)) > 0)
			received++;
	}
	assert_no_growth(before, "10000 tiny TX frames");
	assert_int_equal(received, 10000);
	net_stop(&n);
}

/* Host frames the guest posts no buffers for stay in the socket's own
 * bounded queue: the device takes none, and does not buffer them. A frame
 * bigger than all the guest's buffers together (mergeable) is dropped and
 * the buffers come back empty. */
static void test_net_rx_no_buffers_no_growth(void **state)
{
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 9000];
	struct net n;
	int pending_before, pending_after;
	size_t before;
	unsigned int queued = 0;
	uint16_t heads[4];

	(void)state;
	net_start(&n, 256);
	memset(frame, 0, sizeof(frame));
	memset(frame + VIRTIO_NET_HDR_LEN, 0xee, 64);
	while (queued < 10000 && send(n.host, frame, VIRTIO_NET_HDR_LEN + 64, MSG_DONTWAIT) > 0)
		queued++;
	assert_true(queued > 10);
	assert_int_equal(ioctl(n.dev_fd, FIONREAD, &pending_before), 0);

	before = heap_in_use();
	vqh_kick(&n.h, n.dev, VIRTIO_NET_RXQ); /* no buffers posted */
	fd_ready(n.dev, n.dev_fd);
	assert_no_growth(before, "frames with no RX buffers");
	assert_int_equal(ioctl(n.dev_fd, FIONREAD, &pending_after), 0);
	assert_int_equal(pending_after, pending_before);

	net_stop(&n);

	/* A 9000-byte frame for a 4-entry ring of 100-byte buffers: once the
	 * device holds the whole ring and the frame still does not fit, it
	 * gives every buffer back empty and drops the frame, holding nothing. */
	net_start(&n, 4);
	for (int i = 0; i < 4; i++) {
		struct vqh_buf b = { vqh_alloc(&n.h, 100), 100, true };

		heads[i] = vqh_post(&n.h, n.dev, VIRTIO_NET_RXQ, &b, 1);
	}
	assert_int_equal(send(n.host, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	before = heap_in_use();
	fd_ready(n.dev, n.dev_fd);
	assert_no_growth(before, "RX frame larger than the ring");
	for (int i = 0; i < 4; i++)
		expect_used(&n.h, n.dev, VIRTIO_NET_RXQ, heads[i], 0);
	net_stop(&n);
}

/* ---- virtio-blk ---- */

struct blk {
	char path[256];
	struct vq_harness h;
	struct virtio_dev *dev;
	uint64_t hdr, status, data;
};

static void blk_start(struct blk *b, uint16_t qsize)
{
	const char *tmp = getenv("TMPDIR");
	struct avp_disk_cfg cfg = { 0 };
	int fd;

	snprintf(b->path, sizeof(b->path), "%s/avp-caps-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(b->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	cfg.path = b->path;
	assert_int_equal(virtio_blk_create(&b->dev, &cfg), 0);
	vqh_init(&b->h, RAM_SIZE);
	vqh_attach(&b->h, b->dev, false, true);
	vqh_setup_queue(&b->h, b->dev, 0, qsize);
	assert_int_equal(vqh_activate(&b->h, b->dev), 0);
	b->hdr = vqh_alloc(&b->h, 16);
	b->status = vqh_alloc(&b->h, 1);
}

static void blk_stop(struct blk *b)
{
	b->dev->ops->destroy(b->dev);
	vqh_free(&b->h);
	unlink(b->path);
}

static void blk_hdr(struct blk *b, uint32_t type, uint64_t sector)
{
	uint8_t *p = vqh_hva(&b->h, b->hdr);
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memset(p, 0, 16);
	memcpy(p, &t, 4);
	memcpy(p + 8, &s, 8);
}

static uint8_t blk_status(struct blk *b)
{
	return *(uint8_t *)vqh_hva(&b->h, b->status);
}

/* 10000 small requests in a row (reads of one sector and GET_IDs), posted
 * a hundred at a time: all complete OK, no growth. */
static void test_blk_many_tiny_requests(void **state)
{
	struct blk b;
	size_t before;
	unsigned int done = 0;

	(void)state;
	blk_start(&b, 256);
	b.data = vqh_alloc(&b.h, 512);
	before = heap_in_use();
	while (done < 10000) {
		uint32_t id, len;
		int n = 0;

		for (int i = 0; i < 100; i++) {
			bool get_id = (done / 100) % 2;
			struct vqh_buf bufs[3] = {
				{ b.hdr, 16, false }, { b.data, get_id ? 20 : 512, true },
				{ b.status, 1, true },
			};

			/* Every request of a batch shares one header: all reads
			 * of sector 5, or all GET_IDs. */
			blk_hdr(&b, get_id ? 8 : 0, 5);
			if (get_id)
				vqh_post(&b.h, b.dev, 0, bufs, 3);
			else
				vqh_post_indirect(&b.h, b.dev, 0, bufs, 3);
			n++;
		}
		vqh_kick(&b.h, b.dev, 0);
		for (int i = 0; i < n; i++) {
			assert_true(vqh_used(&b.h, b.dev, 0, &id, &len));
			assert_int_equal(blk_status(&b), 0);
		}
		done += (unsigned int)n;
		/* The indirect tables come from the harness's bump allocator:
		 * reset it so 10000 requests fit in RAM (guest memory, not the
		 * host heap this test watches). */
		b.h.next_free = b.data + 512;
	}
	assert_no_growth(before, "10000 tiny block requests");
	blk_stop(&b);
}

/* A discard with far more segments than max_discard_seg, and one segment
 * above max_discard_sectors: refused before any I/O, nothing allocated. */
static void test_blk_discard_caps(void **state)
{
	struct blk b;
	uint64_t segs;
	uint8_t *p;
	size_t before;
	uint16_t head;
	const unsigned int nseg = 10000;

	(void)state;
	blk_start(&b, 16);
	segs = vqh_alloc(&b.h, 16ull * nseg);
	p = vqh_hva(&b.h, segs);
	for (unsigned int i = 0; i < nseg; i++) {
		uint64_t sector = htole64(i % 2048);
		uint32_t num = htole32(1);

		memcpy(p + 16 * i, &sector, 8);
		memcpy(p + 16 * i + 8, &num, 4);
	}
	before = heap_in_use();
	blk_hdr(&b, 11, 0);
	head = vqh_post(&b.h, b.dev, 0,
			(struct vqh_buf[]){ { b.hdr, 16, false }, { segs, 16 * nseg, false },
					    { b.status, 1, true } },
			3);
	vqh_kick(&b.h, b.dev, 0);
	expect_used(&b.h, b.dev, 0, head, 1);
	assert_int_equal(blk_status(&b), 2); /* UNSUPP: more than 32 segments */

	/* One segment of 2^22 + 1 sectors: above max_discard_sectors. */
	{
		uint32_t num = htole32((1u << 22) + 1);

		memcpy(p + 8, &num, 4);
	}
	head = vqh_post(&b.h, b.dev, 0,
			(struct vqh_buf[]){ { b.hdr, 16, false }, { segs, 16, false },
					    { b.status, 1, true } },
			3);
	vqh_kick(&b.h, b.dev, 0);
	expect_used(&b.h, b.dev, 0, head, 1);
	assert_int_equal(blk_status(&b), 1); /* IOERR */
	assert_no_growth(before, "discard past its caps");
	blk_stop(&b);
}

/* ---- virtio-console ---- */

/* 1 MiB of guest output in one chain goes straight from guest memory to
 * the host end; host input the guest has no buffer for stays in the pipe. */
static void test_console_no_buffering(void **state)
{
	struct vq_harness h;
	struct virtio_dev *dev;
	int in[2];
	int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	uint64_t big;
	uint16_t head;
	size_t before;
	int pending_before, pending_after;
	static char input[32768];

	(void)state;
	assert_true(out >= 0);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(virtio_console_create_fds(&dev, out, in[0]), 0);
	vqh_init(&h, RAM_SIZE);
	vqh_attach(&h, dev, false, true);
	vqh_setup_queue(&h, dev, VIRTIO_CONSOLE_RXQ, 16);
	vqh_setup_queue(&h, dev, VIRTIO_CONSOLE_TXQ, 16);
	assert_int_equal(vqh_activate(&h, dev), 0);
	big = vqh_alloc(&h, MIB);
	memset(vqh_hva(&h, big), 'x', MIB);
	memset(input, 'i', sizeof(input));
	assert_int_equal(write(in[1], input, sizeof(input)), (ssize_t)sizeof(input));
	assert_int_equal(ioctl(in[0], FIONREAD, &pending_before), 0);

	before = heap_in_use();
	head = vqh_post(&h, dev, VIRTIO_CONSOLE_TXQ, &(struct vqh_buf){ big, MIB, false }, 1);
	vqh_kick(&h, dev, VIRTIO_CONSOLE_TXQ);
	expect_used(&h, dev, VIRTIO_CONSOLE_TXQ, head, 0);
	vqh_kick(&h, dev, VIRTIO_CONSOLE_RXQ); /* no receive buffers */
	fd_ready(dev, in[0]);
	assert_no_growth(before, "console with a 1 MiB write and unread input");
	assert_int_equal(ioctl(in[0], FIONREAD, &pending_after), 0);
	assert_int_equal(pending_after, pending_before);

	dev->ops->destroy(dev);
	close(in[1]);
	vqh_free(&h);
}

/* ---- virtio-rng ---- */

/* A 1 MiB receive buffer gets VIRTIO_RNG_MAX_REQUEST bytes, not more. */
static void test_rng_request_capped(void **state)
{
	struct vq_harness h;
	struct virtio_dev *dev;
	uint64_t big;
	uint8_t *p;
	uint16_t head;
	size_t before;

	(void)state;
	assert_int_equal(virtio_rng_create(&dev), 0);
	vqh_init(&h, RAM_SIZE);
	vqh_attach(&h, dev, false, true);
	vqh_setup_queue(&h, dev, 0, 16);
	assert_int_equal(vqh_activate(&h, dev), 0);
	big = vqh_alloc(&h, MIB);
	p = vqh_hva(&h, big);
	memset(p, 0xa5, MIB);

	before = heap_in_use();
	for (int i = 0; i < 50; i++) {
		head = vqh_post(&h, dev, 0, &(struct vqh_buf){ big, MIB, true }, 1);
		vqh_kick(&h, dev, 0);
		expect_used(&h, dev, 0, head, VIRTIO_RNG_MAX_REQUEST);
	}
	assert_no_growth(before, "1 MiB entropy requests");
	for (size_t i = VIRTIO_RNG_MAX_REQUEST; i < MIB; i++)
		if (p[i] != 0xa5)
			fail_msg("byte %zu past the cap was written", i);

	dev->ops->destroy(dev);
	vqh_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_longer_than_cap_refused),
		cmocka_unit_test(test_net_tx_oversized_frame_dropped),
		cmocka_unit_test(test_net_tx_longest_chain),
		cmocka_unit_test(test_net_tx_many_tiny_frames),
		cmocka_unit_test(test_net_rx_no_buffers_no_growth),
		cmocka_unit_test(test_blk_many_tiny_requests),
		cmocka_unit_test(test_blk_discard_caps),
		cmocka_unit_test(test_console_no_buffering),
		cmocka_unit_test(test_rng_request_capped),
	};

	/* Refused requests are expected here; keep their warnings quiet. */
	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
