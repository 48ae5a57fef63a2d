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
#include <json-c/json.h>
#include <linux/input-event-codes.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/log.h"
#include "avp/vm.h"
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

/* ---- virtio-vsock ---- */

struct vsock {
	struct vq_harness h;
	struct virtio_dev *dev;
	char dir[64];
	char path[96];
	char listen_path[108]; /* fits sun_path */
	int listener; /* "PATH_5000": a host program that never accepts */
	uint64_t tx_buf, rx_buf;
	unsigned int rx_posted; /* receive buffers the device holds */
	unsigned int ops[8];	/* packets the guest received, by op */
};

#define VS_TX_PAYLOAD (32u * 1024)
#define VS_RX_BUF 256

static void vsock_start(struct vsock *v)
{
	struct avp_vsock_cfg cfg = { .cid = 3 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *tmp = getenv("TMPDIR");

	snprintf(v->dir, sizeof(v->dir), "%s/avp-caps-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(v->dir));
	snprintf(v->path, sizeof(v->path), "%s/v.sock", v->dir);
	snprintf(v->listen_path, sizeof(v->listen_path), "%s_5000", v->path);
	v->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(v->listener >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", v->listen_path);
	assert_int_equal(bind(v->listener, (struct sockaddr *)&a, sizeof(a)), 0);
	/* Room in the backlog for every stream the device may open. */
	assert_int_equal(listen(v->listener, 2 * VSOCK_MAX_CONNS), 0);
	cfg.socket = v->path;
	assert_int_equal(virtio_vsock_create(&v->dev, &cfg), 0);
	vqh_init(&v->h, RAM_SIZE);
	vqh_attach(&v->h, v->dev, false, true);
	vqh_setup_queue(&v->h, v->dev, VSOCK_RXQ, 256);
	vqh_setup_queue(&v->h, v->dev, VSOCK_TXQ, 256);
	vqh_setup_queue(&v->h, v->dev, VSOCK_EVQ, 16);
	assert_int_equal(vqh_activate(&v->h, v->dev), 0);
	v->tx_buf = vqh_alloc(&v->h, VSOCK_HDR_LEN + VS_TX_PAYLOAD);
	v->rx_buf = vqh_alloc(&v->h, 256u * VS_RX_BUF);
}

static void vsock_stop(struct vsock *v)
{
	v->dev->ops->destroy(v->dev);
	vqh_free(&v->h);
	close(v->listener);
	unlink(v->listen_path);
	assert_int_equal(rmdir(v->dir), 0);
}

/* Keeps the receive queue full and reads what the device sent: the head
 * of a one-buffer chain names its buffer. Counts the packets by op. */
static void vsock_drain_rx(struct vsock *v)
{
	uint32_t id, len;
	bool more = true;

	while (more) {
		more = false;
		for (; v->rx_posted < 256; v->rx_posted++) {
			uint16_t slot = v->h.next_desc[VSOCK_RXQ] % 256;
			struct vqh_buf r = { v->rx_buf + (uint64_t)slot * VS_RX_BUF, VS_RX_BUF, true };

			vqh_post(&v->h, v->dev, VSOCK_RXQ, &r, 1);
		}
		vqh_kick(&v->h, v->dev, VSOCK_RXQ);
		while (vqh_used(&v->h, v->dev, VSOCK_RXQ, &id, &len)) {
			const struct virtio_vsock_hdr *hdr =
				vqh_hva(&v->h, v->rx_buf + (uint64_t)id * VS_RX_BUF);

			v->rx_posted--;
			more = true;
			if (len >= VSOCK_HDR_LEN && le16toh(hdr->op) < 8)
				v->ops[le16toh(hdr->op)]++;
		}
	}
}

/* One guest packet to the host's port 5000 from guest port sport. */
static void vsock_tx(struct vsock *v, uint16_t op, uint32_t sport, uint32_t len)
{
	struct virtio_vsock_hdr hdr = {
		.src_cid = htole64(3),
		.dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(sport),
		.dst_port = htole32(5000),
		.len = htole32(len),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),
		.buf_alloc = htole32(256 * 1024),
	};
	struct vqh_buf b = { v->tx_buf, VSOCK_HDR_LEN + len, false };
	uint32_t id, got;

	memcpy(vqh_hva(&v->h, v->tx_buf), &hdr, sizeof(hdr));
	vqh_post(&v->h, v->dev, VSOCK_TXQ, &b, 1);
	vqh_kick(&v->h, v->dev, VSOCK_TXQ);
	/* Taken at once, unless replies wait for rx buffers (5.10.6.1). */
	for (int tries = 0; !vqh_used(&v->h, v->dev, VSOCK_TXQ, &id, &got); tries++) {
		assert_true(tries < 10);
		assert_false(v->dev->status & VIRTIO_STATUS_NEEDS_RESET);
		vsock_drain_rx(v);
		vqh_kick(&v->h, v->dev, VSOCK_TXQ);
	}
}

/* Streams: the host's share (VSOCK_HOST_CONNS) at once, and every further
 * connection request is refused with RST, allocating nothing. */
static void test_vsock_stream_cap(void **state)
{
	struct vsock v = { .rx_posted = 0 };
	size_t before;

	(void)state;
	vsock_start(&v);
	for (uint32_t i = 0; i < VSOCK_HOST_CONNS; i++)
		vsock_tx(&v, VIRTIO_VSOCK_OP_REQUEST, 10000 + i, 0);
	vsock_drain_rx(&v);
	assert_int_equal(v.ops[VIRTIO_VSOCK_OP_RESPONSE], VSOCK_HOST_CONNS);

	before = heap_in_use();
	for (uint32_t i = 0; i < 2000; i++) {
		vsock_tx(&v, VIRTIO_VSOCK_OP_REQUEST, 20000 + i, 0);
		if (i % 32 == 31)
			vsock_drain_rx(&v);
	}
	vsock_drain_rx(&v);
	assert_no_growth(before, "2000 vsock connections past the cap");
	assert_int_equal(v.ops[VIRTIO_VSOCK_OP_RST], 2000);
	vsock_stop(&v);
}

/* Guest data the host program does not read: what its socket does not
 * take is held up to the credit (VSOCK_BUF_ALLOC) and no more; a guest
 * that sends past it gets its stream reset. */
static void test_vsock_unread_data_capped(void **state)
{
	struct vsock v = { .rx_posted = 0 };
	size_t before, now;
	uint64_t sent = 0;

	(void)state;
	vsock_start(&v);
	vsock_tx(&v, VIRTIO_VSOCK_OP_REQUEST, 10000, 0);
	vsock_drain_rx(&v);
	assert_int_equal(v.ops[VIRTIO_VSOCK_OP_RESPONSE], 1);

	before = heap_in_use();
	/* Nobody accepts on PATH_5000: the socket fills, then the stream's
	 * buffer, then the guest overruns its credit. */
	while (v.ops[VIRTIO_VSOCK_OP_RST] == 0 && sent < (64u << 20)) {
		vsock_tx(&v, VIRTIO_VSOCK_OP_RW, 10000, VS_TX_PAYLOAD);
		sent += VS_TX_PAYLOAD;
		vsock_drain_rx(&v);
	}
	assert_int_equal(v.ops[VIRTIO_VSOCK_OP_RST], 1);
	/* Keep going on the dead stream: RST, nothing held. */
	for (int i = 0; i < 100; i++)
		vsock_tx(&v, VIRTIO_VSOCK_OP_RW, 10000, VS_TX_PAYLOAD);
	vsock_drain_rx(&v);
	now = heap_in_use();
	if (now > before + VSOCK_BUF_ALLOC + VSOCK_CONNECT_LINE_MAX + SLACK)
		fail_msg("one stream's unread data: the heap grew by %zu bytes", now - before);
	vsock_stop(&v);
}

/* ---- virtio-gpu ---- */

struct gpu {
	struct vq_harness h;
	struct virtio_dev *dev;
	uint64_t req, resp;
};

static void gpu_start(struct gpu *g)
{
	struct avp_gpu_cfg cfg = { 0 };

	assert_int_equal(virtio_gpu_create(&g->dev, &cfg), 0);
	vqh_init(&g->h, RAM_SIZE);
	vqh_attach(&g->h, g->dev, false, true);
	vqh_setup_queue(&g->h, g->dev, VIRTIO_GPU_CTRLQ, 256);
	vqh_setup_queue(&g->h, g->dev, VIRTIO_GPU_CURSORQ, 16);
	assert_int_equal(vqh_activate(&g->h, g->dev), 0);
	/* Room for the longest request here: 65537 backing entries. */
	g->req = vqh_alloc(&g->h, sizeof(struct virtio_gpu_resource_attach_backing) +
					  (VIRTIO_GPU_MAX_BACKING_ENTRIES + 1ull) *
						  sizeof(struct virtio_gpu_mem_entry));
	g->resp = vqh_alloc(&g->h, sizeof(struct virtio_gpu_ctrl_hdr));
}

static void gpu_stop(struct gpu *g)
{
	g->dev->ops->destroy(g->dev);
	vqh_free(&g->h);
}

/* Sends the request already at g->req; returns the response type. */
static uint32_t gpu_send(struct gpu *g, uint32_t len)
{
	struct vqh_buf b[2] = { { g->req, len, false },
				{ g->resp, sizeof(struct virtio_gpu_ctrl_hdr), true } };
	const struct virtio_gpu_ctrl_hdr *r = vqh_hva(&g->h, g->resp);
	uint32_t id, got;

	vqh_post(&g->h, g->dev, VIRTIO_GPU_CTRLQ, b, 2);
	vqh_kick(&g->h, g->dev, VIRTIO_GPU_CTRLQ);
	assert_true(vqh_used(&g->h, g->dev, VIRTIO_GPU_CTRLQ, &id, &got));
	assert_int_equal(got, sizeof(*r));
	return le32toh(r->type);
}

static uint32_t gpu_create(struct gpu *g, uint32_t id, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d *c = vqh_hva(&g->h, g->req);

	*c = (struct virtio_gpu_resource_create_2d){
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D),
		.resource_id = htole32(id),
		.format = htole32(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM),
		.width = htole32(w),
		.height = htole32(h),
	};
	return gpu_send(g, sizeof(*c));
}

static uint32_t gpu_unref(struct gpu *g, uint32_t id)
{
	struct virtio_gpu_resource_unref *c = vqh_hva(&g->h, g->req);

	*c = (struct virtio_gpu_resource_unref){
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_UNREF),
		.resource_id = htole32(id),
	};
	return gpu_send(g, sizeof(*c));
}

/* ATTACH_BACKING claiming nr entries, carrying `carried` of them (each
 * one page of guest RAM). */
static uint32_t gpu_attach(struct gpu *g, uint32_t id, uint32_t nr, uint32_t carried)
{
	struct virtio_gpu_resource_attach_backing *c = vqh_hva(&g->h, g->req);
	struct virtio_gpu_mem_entry *e = (void *)(c + 1);

	*c = (struct virtio_gpu_resource_attach_backing){
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING),
		.resource_id = htole32(id),
		.nr_entries = htole32(nr),
	};
	for (uint32_t i = 0; i < carried; i++)
		e[i] = (struct virtio_gpu_mem_entry){ htole64(VQH_RAM_GPA), htole32(4096), 0 };
	return gpu_send(g, (uint32_t)(sizeof(*c) + (uint64_t)carried * sizeof(*e)));
}

/* VIRTIO_GPU_MAX_RESOURCES resources, then no more; the host budget
 * (VIRTIO_GPU_MAX_HOST_BYTES) for pixels and backing tables, then no
 * more; backing tables longer than their request, or than
 * VIRTIO_GPU_MAX_BACKING_ENTRIES: all refused without allocating. */
static void test_gpu_caps(void **state)
{
	struct gpu g;
	size_t before;

	(void)state;
	gpu_start(&g);
	for (uint32_t id = 1; id <= VIRTIO_GPU_MAX_RESOURCES; id++)
		assert_int_equal(gpu_create(&g, id, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	before = heap_in_use();
	for (uint32_t id = 1000; id < 3000; id++)
		assert_int_equal(gpu_create(&g, id, 1, 1), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_no_growth(before, "2000 GPU resources past the count cap");
	for (uint32_t id = 1; id <= VIRTIO_GPU_MAX_RESOURCES; id++)
		assert_int_equal(gpu_unref(&g, id), VIRTIO_GPU_RESP_OK_NODATA);

	/* 8192 x 8192 x 4 bytes is the whole budget. */
	assert_int_equal(gpu_create(&g, 1, 8192, 8192), VIRTIO_GPU_RESP_OK_NODATA);
	before = heap_in_use();
	assert_int_equal(gpu_create(&g, 2, 1, 1), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(gpu_create(&g, 3, VIRTIO_GPU_MAX_RESOURCE_DIM, VIRTIO_GPU_MAX_RESOURCE_DIM),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(gpu_attach(&g, 1, 1, 1), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_no_growth(before, "GPU allocations past the byte budget");
	assert_int_equal(gpu_unref(&g, 1), VIRTIO_GPU_RESP_OK_NODATA);

	assert_int_equal(gpu_create(&g, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
	before = heap_in_use();
	/* A huge nr_entries the request does not carry costs nothing. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(gpu_attach(&g, 1, 0xffffffffu, 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* One entry past the cap, all of them carried. */
	assert_int_equal(gpu_attach(&g, 1, VIRTIO_GPU_MAX_BACKING_ENTRIES + 1,
				    VIRTIO_GPU_MAX_BACKING_ENTRIES + 1),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_no_growth(before, "GPU backing tables past their caps");
	/* Exactly the cap is a table of 1 MiB, charged to the budget. */
	assert_int_equal(gpu_attach(&g, 1, VIRTIO_GPU_MAX_BACKING_ENTRIES,
				    VIRTIO_GPU_MAX_BACKING_ENTRIES),
			 VIRTIO_GPU_RESP_OK_NODATA);
	gpu_stop(&g);
}

/* ---- virtio-sound ---- */

/* More I/O messages than a stream holds (VIRTIO_SND_MAX_QUEUED), messages
 * past the segment and size caps, and *_INFO requests for huge ranges:
 * nothing allocates (the device allocated everything when created). */
static void test_snd_caps(void **state)
{
	struct vq_harness h;
	struct virtio_dev *dev;
	struct avp_sound_cfg cfg = { 0 };
	uint64_t req = 0, resp = 0, hdr, frames, status;
	uint32_t id, len;
	unsigned int done = 0;
	size_t before;

	(void)state;
	assert_int_equal(virtio_snd_create(&dev, &cfg), 0);
	vqh_init(&h, RAM_SIZE);
	vqh_attach(&h, dev, false, true);
	for (uint16_t q = 0; q < VIRTIO_SND_NUM_QUEUES; q++)
		vqh_setup_queue(&h, dev, q, 256);
	assert_int_equal(vqh_activate(&h, dev), 0);
	req = vqh_alloc(&h, 32);
	resp = vqh_alloc(&h, 4);
	hdr = vqh_alloc(&h, 4);
	frames = vqh_alloc(&h, VIRTIO_SND_MAX_IO_BYTES + 4);
	status = vqh_alloc(&h, 8);
	{
		struct virtio_snd_pcm_set_params p = {
			.hdr = { { htole32(VIRTIO_SND_R_PCM_SET_PARAMS) }, 0 },
			.buffer_bytes = htole32(4 * 4096),
			.period_bytes = htole32(4096),
			.channels = 2,
			.format = VIRTIO_SND_PCM_FMT_S16,
			.rate = VIRTIO_SND_PCM_RATE_48000,
		};
		struct virtio_snd_pcm_hdr prep = { { htole32(VIRTIO_SND_R_PCM_PREPARE) }, 0 };
		struct vqh_buf b[2] = { { req, sizeof(p), false }, { resp, 4, true } };

		memcpy(vqh_hva(&h, req), &p, sizeof(p));
		vqh_post(&h, dev, VIRTIO_SND_CONTROLQ, b, 2);
		memcpy(vqh_hva(&h, req + 24), &prep, sizeof(prep)); /* after p */
		b[0] = (struct vqh_buf){ req + 24, sizeof(prep), false };
		vqh_post(&h, dev, VIRTIO_SND_CONTROLQ, b, 2);
		vqh_kick(&h, dev, VIRTIO_SND_CONTROLQ);
		for (int i = 0; i < 2; i++) {
			assert_true(vqh_used(&h, dev, VIRTIO_SND_CONTROLQ, &id, &len));
			assert_int_equal(le32toh(*(uint32_t *)vqh_hva(&h, resp)), VIRTIO_SND_S_OK);
		}
	}
	memset(vqh_hva(&h, hdr), 0, 4); /* stream 0 */

	before = heap_in_use();
	/* 73 segments, and one byte of frames past the cap: S_BAD_MSG. */
	{
		struct vqh_buf b[VIRTIO_SND_MAX_IO_SEGS + 1];

		b[0] = (struct vqh_buf){ hdr, 4, false };
		for (unsigned int i = 1; i < VIRTIO_SND_MAX_IO_SEGS; i++)
			b[i] = (struct vqh_buf){ frames + 4 * i, 4, false };
		b[VIRTIO_SND_MAX_IO_SEGS] = (struct vqh_buf){ status, 8, true };
		vqh_post_indirect(&h, dev, VIRTIO_SND_TXQ, b, VIRTIO_SND_MAX_IO_SEGS + 1);
		b[1] = (struct vqh_buf){ frames, VIRTIO_SND_MAX_IO_BYTES + 4, false };
		b[2] = (struct vqh_buf){ status, 8, true };
		vqh_post(&h, dev, VIRTIO_SND_TXQ, b, 3);
		vqh_kick(&h, dev, VIRTIO_SND_TXQ);
		for (int i = 0; i < 2; i++) {
			assert_true(vqh_used(&h, dev, VIRTIO_SND_TXQ, &id, &len));
			assert_int_equal(le32toh(*(uint32_t *)vqh_hva(&h, status)), VIRTIO_SND_S_BAD_MSG);
		}
	}
	/* 200 good messages on a prepared stream: 64 are held (none is
	 * completed before START), the rest stay in the ring. */
	for (int i = 0; i < 200; i++) {
		struct vqh_buf b[3] = { { hdr, 4, false }, { frames, 4096, false }, { status, 8, true } };

		vqh_post_indirect(&h, dev, VIRTIO_SND_TXQ, b, 3);
	}
	vqh_kick(&h, dev, VIRTIO_SND_TXQ);
	vqh_kick(&h, dev, VIRTIO_SND_TXQ);
	while (vqh_used(&h, dev, VIRTIO_SND_TXQ, &id, &len))
		done++;
	assert_int_equal(done, 0);
	/* PCM_INFO for 2^32 - 1 items of 256 bytes. */
	for (int i = 0; i < 100; i++) {
		struct virtio_snd_query_info q = { { htole32(VIRTIO_SND_R_PCM_INFO) }, 0,
						   htole32(0xffffffffu), htole32(256) };
		struct vqh_buf b[2] = { { req, sizeof(q), false }, { resp, 4, true } };

		memcpy(vqh_hva(&h, req), &q, sizeof(q));
		vqh_post(&h, dev, VIRTIO_SND_CONTROLQ, b, 2);
		vqh_kick(&h, dev, VIRTIO_SND_CONTROLQ);
		assert_true(vqh_used(&h, dev, VIRTIO_SND_CONTROLQ, &id, &len));
		assert_int_equal(le32toh(*(uint32_t *)vqh_hva(&h, resp)), VIRTIO_SND_S_BAD_MSG);
	}
	assert_no_growth(before, "sound messages and queries past the caps");
	/* RELEASE hands back exactly the held ones. */
	{
		struct virtio_snd_pcm_hdr rel = { { htole32(VIRTIO_SND_R_PCM_RELEASE) }, 0 };
		struct vqh_buf b[2] = { { req, sizeof(rel), false }, { resp, 4, true } };

		memcpy(vqh_hva(&h, req), &rel, sizeof(rel));
		vqh_post(&h, dev, VIRTIO_SND_CONTROLQ, b, 2);
		vqh_kick(&h, dev, VIRTIO_SND_CONTROLQ);
		assert_true(vqh_used(&h, dev, VIRTIO_SND_CONTROLQ, &id, &len));
		while (vqh_used(&h, dev, VIRTIO_SND_TXQ, &id, &len))
			done++;
		assert_int_equal(done, VIRTIO_SND_MAX_QUEUED);
	}
	dev->ops->destroy(dev);
	vqh_free(&h);
}

/* ---- virtio-input ---- */

static int input_key(struct vm *vm)
{
	const struct api_command *cmd = vm_api_find(vm, "input");
	json_object *args = json_tokener_parse("{\"key\":\"KEY_A\"}");
	json_object *reply = json_object_new_object();
	int ret;

	assert_non_null(cmd);
	ret = cmd->fn(cmd->opaque, args, reply);
	json_object_put(args);
	json_object_put(reply);
	return ret;
}

/* Events wait in a ring of VIRTIO_INPUT_RING while the guest posts no
 * buffers; further requests are refused, not buffered. Status buffers
 * are returned unread, however many. */
static void test_input_caps(void **state)
{
	static struct vm vm; /* only its command table is used */
	struct avp_input_cfg kc = { .kind = AVP_INPUT_KEYBOARD };
	struct vq_harness h;
	struct virtio_dev *dev;
	unsigned int queued = 0, refused = 0, done = 0;
	uint64_t buf;
	uint32_t id, len;
	size_t before;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(virtio_input_create(&dev, &kc), 0);
	assert_int_equal(virtio_input_register_api(&vm, dev), 0);
	vqh_init(&h, RAM_SIZE);
	vqh_attach(&h, dev, false, true);
	vqh_setup_queue(&h, dev, VIRTIO_INPUT_EVENTQ, 64);
	vqh_setup_queue(&h, dev, VIRTIO_INPUT_STATUSQ, 256);
	assert_int_equal(vqh_activate(&h, dev), 0);
	buf = vqh_alloc(&h, 8);

	/* A click is 4 events (press, SYN, release, SYN). The heap is
	 * measured once the ring is full and json-c (the test's requests
	 * and replies) has warmed up libc's caches. */
	before = 0;
	for (int i = 0; i < 1000; i++) {
		int ret;

		if (i == 100)
			before = heap_in_use();
		ret = input_key(&vm);

		if (ret == 0)
			queued++;
		else if (ret == -ENOSPC)
			refused++;
	}
	assert_int_equal(queued, VIRTIO_INPUT_RING / 4);
	assert_int_equal(refused, 1000 - VIRTIO_INPUT_RING / 4);
	for (int i = 0; i < 10000; i++) {
		struct vqh_buf b = { buf, 8, false };

		vqh_post(&h, dev, VIRTIO_INPUT_STATUSQ, &b, 1);
		if (i % 200 == 199) {
			unsigned int got;

			/* VIRTIO_INPUT_BUDGET per kick (a device thread would
			 * call itself back for the rest). */
			do {
				vqh_kick(&h, dev, VIRTIO_INPUT_STATUSQ);
				for (got = 0; vqh_used(&h, dev, VIRTIO_INPUT_STATUSQ, &id, &len); got++)
					done++;
			} while (got);
		}
	}
	assert_no_growth(before, "input requests past the ring, 10000 status buffers");
	assert_int_equal(done, 10000);
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
		cmocka_unit_test(test_vsock_stream_cap),
		cmocka_unit_test(test_vsock_unread_data_capped),
		cmocka_unit_test(test_gpu_caps),
		cmocka_unit_test(test_snd_caps),
		cmocka_unit_test(test_input_caps),
	};

	/* Refused requests are expected here; keep their warnings quiet. */
	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
