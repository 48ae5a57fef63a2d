/* virtio-net with several queue pairs (queues=N): the control queue's
 * VQ_PAIRS_SET and its hostile cases, each pair on its own backend fd (a
 * SOCK_SEQPACKET socketpair per pair standing in for a multi-queue tap's
 * queues) and the attach/detach of the tap queues, against the pretend
 * driver. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/devices/virtio_net.h"
#include "avp/net/tap.h"
#include "support/link_up.h"
#include "support/vq_harness.h"

#define NP 3 /* pairs of the fixture's device */
#define QSIZE 64
#define HDR VIRTIO_NET_HDR_LEN
#define CTRLQ (2 * NP)
#define FB(bit) (1ull << VIRTIO_NET_F_##bit)

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int host[NP];	/* our end of pair p's socketpair */
	int dev_fd[NP]; /* the device's end */
	bool watched[NP];
};

/* The fake tap queue control: which fds the kernel would hand frames. */
static struct {
	int fd[NP];
	bool attached[NP];
	unsigned int calls;
	int fail; /* -errno to return */
} fake;

static int fake_offload(int fd, unsigned int offloads)
{
	(void)fd;
	(void)offloads;
	return 0;
}

static int fake_set_queue(int fd, bool attach)
{
	fake.calls++;
	if (fake.fail)
		return fake.fail;
	for (int i = 0; i < NP; i++)
		if (fake.fd[i] == fd)
			fake.attached[i] = attach;
	return 0;
}

static const struct virtio_net_backend_ops fake_backend = {
	.set_offload = fake_offload,
	.set_queue = fake_set_queue,
};

static int pair_of(struct fixture *f, int fd)
{
	for (int i = 0; i < NP; i++)
		if (f->dev_fd[i] == fd)
			return i;
	return -1;
}

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;
	int p = pair_of(f, fd);

	(void)events;
	if (p >= 0)
		f->watched[p] = true;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct fixture *f = (struct fixture *)dev->transport;
	int p = pair_of(f, fd);

	if (p >= 0)
		f->watched[p] = false;
	return 0;
}

/* A device of NP pairs whose driver accepted every feature but drop;
 * not yet DRIVER_OK when activate is false. */
static struct fixture *make(uint64_t drop, bool activate)
{
	static struct fixture f;
	struct avp_net_cfg cfg = { .tap = "avpmq0", .mac = { 2, 0, 0, 0, 0, 9 }, .mac_set = true };
	int fds[NP];

	memset(&f, 0, sizeof(f));
	memset(&fake, 0, sizeof(fake));
	for (int i = 0; i < NP; i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
		f.host[i] = sv[1];
		f.dev_fd[i] = fds[i] = fake.fd[i] = sv[0];
		fake.attached[i] = true; /* as opened */
	}
	vqh_init(&f.h, 8 << 20);
	assert_int_equal(virtio_net_create_pairs(&f.dev, &cfg, fds, NP, &fake_backend), 0);
	vqh_attach(&f.h, f.dev, true, true);
	f.dev->driver_features &= ~drop;
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	for (uint16_t q = 0; q < f.dev->ops->num_queues; q++)
		vqh_setup_queue(&f.h, f.dev, q, QSIZE);
	if (activate)
		assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	return &f;
}

static int setup(void **state)
{
	*state = make(0, true);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	for (int i = 0; i < NP; i++)
		close(f->host[i]);
	vqh_free(&f->h);
	return 0;
}

/* Posts one control command (out: class, command, data; in: ack_len
 * bytes) on queue q and kicks. The ack, or -1 when the device wrote
 * nothing; *used_len gets what it reported. */
static int ctrl_on(struct fixture *f, uint16_t q, const uint8_t *out, uint32_t out_len,
		   uint32_t ack_len, uint32_t *used_len)
{
	struct vqh_buf b[2];
	unsigned int n = 0;
	uint32_t id, len;
	uint16_t head;
	uint8_t *ack = NULL;

	if (out_len) {
		b[n] = (struct vqh_buf){ vqh_alloc(&f->h, out_len), out_len, false };
		memcpy(vqh_hva(&f->h, b[n].gpa), out, out_len);
		n++;
	}
	if (ack_len) {
		b[n] = (struct vqh_buf){ vqh_alloc(&f->h, ack_len), ack_len, true };
		ack = vqh_hva(&f->h, b[n].gpa);
		memset(ack, 0xee, ack_len);
		n++;
	}
	head = vqh_post(&f->h, f->dev, q, b, n);
	vqh_kick(&f->h, f->dev, q);
	assert_true(vqh_used(&f->h, f->dev, q, &id, &len));
	assert_int_equal(id, head);
	if (used_len)
		*used_len = len;
	return len ? ack[ack_len - 1] : -1;
}

static int set_pairs(struct fixture *f, uint16_t pairs)
{
	uint8_t cmd[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET };
	uint16_t le = htole16(pairs);

	memcpy(cmd + 2, &le, 2);
	return ctrl_on(f, CTRLQ, cmd, sizeof(cmd), 1, NULL);
}

/* Pair p's receive queue gets one frame the host sent on pair p's fd. */
static void expect_rx_on(struct fixture *f, int p, uint8_t seed)
{
	uint8_t msg[HDR + 60] = { 0 };
	struct vqh_buf b = { vqh_alloc(&f->h, 2048), 2048, true };
	uint32_t id, len;
	uint16_t head;

	memset(msg + HDR, seed, 60);
	head = vqh_post(&f->h, f->dev, VIRTIO_NET_RXQ_OF(p), &b, 1);
	vqh_kick(&f->h, f->dev, VIRTIO_NET_RXQ_OF(p));
	assert_int_equal(send(f->host[p], msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->dev_fd[p], EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_NET_RXQ_OF(p), &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(msg));
	assert_memory_equal((uint8_t *)vqh_hva(&f->h, b.gpa) + HDR, msg + HDR, 60);
}

/* ---- negotiation ---- */

static void test_mq_offered(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = f->dev->ops->features(f->dev);
	struct virtio_net_config cfg;

	assert_true(feat & FB(CTRL_VQ));
	assert_true(feat & FB(MQ));
	assert_int_equal(f->dev->ops->num_queues, 2 * NP + 1);
	memcpy(&cfg, f->dev->config, sizeof(cfg));
	assert_int_equal(le16toh(cfg.max_virtqueue_pairs), NP);
	assert_int_equal(virtio_net_max_pairs(f->dev), NP);
	/* One pair until the driver asks for more (5.1.6.5.5): only pair
	 * 0's tap queue gets frames, only it is watched. */
	assert_true(fake.attached[0]);
	assert_false(fake.attached[1]);
	assert_false(fake.attached[2]);
	assert_true(f->watched[0]);
	assert_false(f->watched[1]);
}

static void test_single_pair_has_no_control_queue(void **state)
{
	struct avp_net_cfg cfg = { .tap = "avpmq1" };
	struct virtio_dev *dev;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	memset(&fake, 0, sizeof(fake));
	assert_int_equal(virtio_net_create_pairs(&dev, &cfg, sv, 1, &fake_backend), 0);
	assert_int_equal(dev->ops->num_queues, 2);
	assert_int_equal(dev->ops->features(dev) & (FB(CTRL_VQ) | FB(MQ)), 0);
	assert_int_equal(fake.calls, 0); /* a single-queue tap is never asked */
	dev->ops->destroy(dev);
	close(sv[1]);
}

static void test_bad_pair_counts_refused(void **state)
{
	struct avp_net_cfg cfg = { .tap = "avpmq2" };
	struct virtio_dev *dev = NULL;
	int fds[VIRTIO_NET_MAX_PAIRS + 1] = { -1 };

	(void)state;
	assert_int_equal(virtio_net_create_pairs(&dev, &cfg, fds, 0, &fake_backend), -EINVAL);
	for (int i = 0; i <= VIRTIO_NET_MAX_PAIRS; i++)
		fds[i] = dup(0);
	assert_int_equal(virtio_net_create_pairs(&dev, &cfg, fds, VIRTIO_NET_MAX_PAIRS + 1,
						 &fake_backend), -EINVAL);
	close(fds[VIRTIO_NET_MAX_PAIRS]); /* the ones past the limit stay the caller's */
	assert_null(dev);
}

/* ---- VQ_PAIRS_SET ---- */

static void test_pairs_set_accepted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(set_pairs(f, 2), VIRTIO_NET_OK);
	assert_true(fake.attached[1]);
	assert_false(fake.attached[2]);
	assert_true(f->watched[1]);
	assert_false(f->watched[2]);
	assert_int_equal(set_pairs(f, NP), VIRTIO_NET_OK);
	assert_true(fake.attached[2]);
	assert_int_equal(set_pairs(f, 1), VIRTIO_NET_OK);
	assert_false(fake.attached[1]);
	assert_false(fake.attached[2]);
	assert_false(f->watched[1]);
}

static void test_pairs_set_out_of_range_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(set_pairs(f, 0), VIRTIO_NET_ERR);
	assert_int_equal(set_pairs(f, NP + 1), VIRTIO_NET_ERR);
	assert_int_equal(set_pairs(f, 0x8000), VIRTIO_NET_ERR);
	assert_int_equal(set_pairs(f, 0xffff), VIRTIO_NET_ERR);
	assert_false(fake.attached[1]); /* nothing changed */
	assert_true(fake.attached[0]);
}

static void test_other_commands_refused(void **state)
{
	struct fixture *f = *state;
	const uint8_t promisc[] = { VIRTIO_NET_CTRL_RX, 0, 1 };
	const uint8_t unknown[] = { 0x7f, 0x33, 1, 2, 3 };
	const uint8_t mq_other[] = { VIRTIO_NET_CTRL_MQ, 1, 2, 0 };

	assert_int_equal(ctrl_on(f, CTRLQ, promisc, sizeof(promisc), 1, NULL), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_on(f, CTRLQ, unknown, sizeof(unknown), 1, NULL), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_on(f, CTRLQ, mq_other, sizeof(mq_other), 1, NULL), VIRTIO_NET_ERR);
	assert_false(fake.attached[1]);
}

/* ---- the control queue's hostile cases ---- */

static void test_ctrl_short_and_garbage(void **state)
{
	struct fixture *f = *state;
	const uint8_t short_data[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2 };
	const uint8_t long_data[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0, 0 };
	const uint8_t only_class[] = { VIRTIO_NET_CTRL_MQ };
	const uint8_t cmd[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	uint32_t len;

	assert_int_equal(ctrl_on(f, CTRLQ, short_data, sizeof(short_data), 1, NULL), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_on(f, CTRLQ, long_data, sizeof(long_data), 1, NULL), VIRTIO_NET_ERR);
	assert_int_equal(ctrl_on(f, CTRLQ, only_class, sizeof(only_class), 1, NULL), VIRTIO_NET_ERR);
	/* No command at all, only room for the ack. */
	assert_int_equal(ctrl_on(f, CTRLQ, NULL, 0, 1, NULL), VIRTIO_NET_ERR);
	/* No room for the ack: given back with nothing written, not obeyed. */
	assert_int_equal(ctrl_on(f, CTRLQ, cmd, sizeof(cmd), 0, &len), -1);
	assert_int_equal(len, 0);
	assert_false(fake.attached[1]);
	/* A longer writable part: the ack is its last byte. */
	assert_int_equal(ctrl_on(f, CTRLQ, cmd, sizeof(cmd), 8, &len), VIRTIO_NET_OK);
	assert_int_equal(len, 8);
	assert_true(fake.attached[1]);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_ctrl_broken_ring_needs_reset(void **state)
{
	struct fixture *f = *state;

	uint16_t *avail = vqh_hva(&f->h, f->dev->vqs[CTRLQ].avail_gpa);

	/* The avail index jumps past the ring's size: the driver broke it. */
	avail[1] = QSIZE + 1;
	vqh_kick(&f->h, f->dev, CTRLQ);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(f->watched[0]); /* quiesced until the reset */
}

static void test_ctrl_before_driver_ok_refused(void **state)
{
	struct fixture *f = make(0, false);
	const uint8_t cmd[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };

	*state = f;
	assert_int_equal(ctrl_on(f, CTRLQ, cmd, sizeof(cmd), 1, NULL), VIRTIO_NET_ERR);
	assert_false(fake.attached[1]);
}

/* CTRL_VQ without MQ: the control queue is 2 (5.1.2) and VQ_PAIRS_SET is
 * refused; queue 2 is no receive queue then. */
static void test_ctrl_without_mq(void **state)
{
	struct fixture *f = make(FB(MQ), true);
	const uint8_t cmd[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };

	*state = f;
	assert_int_equal(ctrl_on(f, 2, cmd, sizeof(cmd), 1, NULL), VIRTIO_NET_ERR);
	assert_false(fake.attached[1]);
	assert_false(f->watched[1]);
}

/* No CTRL_VQ at all: a kick on the would-be control queue does nothing. */
static void test_no_ctrl_vq_ignores_queue(void **state)
{
	struct fixture *f = make(FB(MQ) | FB(CTRL_VQ), true);
	const uint8_t cmd[] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 };
	struct vqh_buf b = { vqh_alloc(&f->h, sizeof(cmd)), sizeof(cmd), false };
	uint32_t id, len;

	*state = f;
	memcpy(vqh_hva(&f->h, b.gpa), cmd, sizeof(cmd));
	vqh_post(&f->h, f->dev, CTRLQ, &b, 1);
	vqh_kick(&f->h, f->dev, CTRLQ);
	assert_false(vqh_used(&f->h, f->dev, CTRLQ, &id, &len));
	assert_false(fake.attached[1]);
}

/* ---- frames per pair ---- */

static void test_tx_on_pair_reaches_its_fd(void **state)
{
	struct fixture *f = *state;
	struct vqh_buf b = { vqh_alloc(&f->h, HDR + 60), HDR + 60, false };
	uint8_t out[256];
	uint32_t id, len;

	assert_int_equal(set_pairs(f, 2), VIRTIO_NET_OK);
	memset(vqh_hva(&f->h, b.gpa), 0, HDR);
	memset((uint8_t *)vqh_hva(&f->h, b.gpa) + HDR, 0x5a, 60);
	vqh_post(&f->h, f->dev, VIRTIO_NET_TXQ_OF(1), &b, 1);
	vqh_kick(&f->h, f->dev, VIRTIO_NET_TXQ_OF(1));
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_NET_TXQ_OF(1), &id, &len));
	assert_int_equal(recv(f->host[1], out, sizeof(out), MSG_DONTWAIT), HDR + 60);
	assert_int_equal(out[HDR], 0x5a);
	assert_int_equal(recv(f->host[0], out, sizeof(out), MSG_DONTWAIT), -1);

	/* A disabled pair's transmit queue still drains, through pair 0. */
	assert_int_equal(set_pairs(f, 1), VIRTIO_NET_OK);
	vqh_post(&f->h, f->dev, VIRTIO_NET_TXQ_OF(2), &b, 1);
	vqh_kick(&f->h, f->dev, VIRTIO_NET_TXQ_OF(2));
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_NET_TXQ_OF(2), &id, &len));
	assert_int_equal(recv(f->host[0], out, sizeof(out), MSG_DONTWAIT), HDR + 60);
	assert_int_equal(recv(f->host[2], out, sizeof(out), MSG_DONTWAIT), -1);
}

static void test_rx_per_pair(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	expect_rx_on(f, 0, 1);
	/* Pair 1 is not enabled: its fd is not served. */
	{
		uint8_t msg[HDR + 60] = { 0 };
		struct vqh_buf b = { vqh_alloc(&f->h, 2048), 2048, true };

		vqh_post(&f->h, f->dev, VIRTIO_NET_RXQ_OF(1), &b, 1);
		vqh_kick(&f->h, f->dev, VIRTIO_NET_RXQ_OF(1));
		assert_int_equal(send(f->host[1], msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
		pthread_mutex_lock(&f->dev->lock);
		f->dev->ops->fd_ready(f->dev, f->dev_fd[1], EPOLLIN);
		pthread_mutex_unlock(&f->dev->lock);
		assert_false(vqh_used(&f->h, f->dev, VIRTIO_NET_RXQ_OF(1), &id, &len));
		/* Enabled, the waiting frame goes into the chain posted before. */
		assert_int_equal(set_pairs(f, NP), VIRTIO_NET_OK);
		vqh_kick(&f->h, f->dev, VIRTIO_NET_RXQ_OF(1));
		assert_true(vqh_used(&f->h, f->dev, VIRTIO_NET_RXQ_OF(1), &id, &len));
		assert_int_equal(len, sizeof(msg));
	}
	expect_rx_on(f, 2, 3);
	expect_rx_on(f, 1, 4);
}

static void test_reset_back_to_one_pair(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(set_pairs(f, NP), VIRTIO_NET_OK);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_true(fake.attached[0]);
	assert_false(fake.attached[1]);
	assert_false(fake.attached[2]);
	assert_false(f->watched[2]);
}

/* A tap that refuses TUNSETQUEUE: said, not fatal, and a pair whose
 * queue stayed detached still transmits (through pair 0). */
static void test_set_queue_failure_not_fatal(void **state)
{
	struct fixture *f = *state;
	struct vqh_buf b = { vqh_alloc(&f->h, HDR + 60), HDR + 60, false };
	uint8_t out[256];
	uint32_t id, len;

	fake.fail = -EPERM;
	assert_int_equal(set_pairs(f, 2), VIRTIO_NET_OK);
	assert_false(fake.attached[1]);
	memset(vqh_hva(&f->h, b.gpa), 0, HDR + 60);
	vqh_post(&f->h, f->dev, VIRTIO_NET_TXQ_OF(1), &b, 1);
	vqh_kick(&f->h, f->dev, VIRTIO_NET_TXQ_OF(1));
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_NET_TXQ_OF(1), &id, &len));
	assert_int_equal(recv(f->host[0], out, sizeof(out), MSG_DONTWAIT), HDR + 60);
}

/* ---- a real multi-queue tap (skipped where taps cannot be made) ---- */

static void skip_without_tun(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("skipping real tap test: /dev/net/tun: %s\n", strerror(errno));
		skip();
	}
	close(fd);
}

/* Two queues of one new tap: both fds name the same interface, and a
 * queue detaches and attaches again (TUNSETQUEUE). */
static void test_real_tap_two_queues(void **state)
{
	char ifname[IFNAMSIZ];
	uint8_t frame[HDR + 60];
	int fds[2];
	int n;

	(void)state;
	skip_without_tun();
	n = tap_open_queues("avpq%d", ifname, fds, 2);
	if (n < 0) {
		printf("skipping real tap test: cannot create a tap here: %s\n", strerror(-n));
		skip();
	}
	assert_int_equal(n, 2);
	assert_memory_equal(ifname, "avpq", 4);
	/* Both queues on that one interface: no second tap was made. */
	{
		struct ifreq ifr = { 0 };

		assert_int_equal(ioctl(fds[1], TUNGETIFF, &ifr), 0);
		assert_string_equal(ifr.ifr_name, ifname);
		assert_true(ifr.ifr_flags & IFF_MULTI_QUEUE);
	}
	assert_int_equal(test_set_link_up(ifname), 0);
	assert_int_equal(tap_set_queue(fds[1], false), 0);
	/* Detached it is: detaching again is refused. */
	assert_int_equal(tap_set_queue(fds[1], false), -EINVAL);
	assert_int_equal(tap_set_queue(fds[1], true), 0);
	assert_int_equal(tap_set_queue(fds[1], true), -EINVAL);
	memset(frame, 0, HDR);
	memset(frame + HDR, 0xff, 60);
	assert_int_equal(write(fds[1], frame, sizeof(frame)), (ssize_t)sizeof(frame));
	close(fds[0]);
	close(fds[1]);
}

/* A persistent tap made with (multi) or without multi_queue, as `ip
 * tuntap add` would; its name in ifname. */
static bool make_persistent_tap(char ifname[IFNAMSIZ], bool multi)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0) };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	bool ok;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "avpp%%d");
	ok = fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, 1) == 0;
	if (ok)
		memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void remove_persistent_tap(const char *ifname, bool multi)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0) };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 0), 0);
	close(fd);
}

/* A tap made by others without multi_queue: queues=2 falls back to one
 * fd rather than failing; one made with it serves a single pair too. */
static void test_real_tap_flag_mismatch(void **state)
{
	char ifname[IFNAMSIZ];
	int fds[2];

	(void)state;
	skip_without_tun();
	if (!make_persistent_tap(ifname, false)) {
		printf("skipping real tap test: cannot create a persistent tap here\n");
		skip();
	}
	assert_int_equal(tap_open_queues(ifname, NULL, fds, 2), 1);
	close(fds[0]);
	remove_persistent_tap(ifname, false);

	assert_true(make_persistent_tap(ifname, true));
	assert_int_equal(tap_open_queues(ifname, NULL, fds, 1), 1);
	close(fds[0]);
	assert_int_equal(tap_open_queues(ifname, NULL, fds, 2), 2);
	close(fds[0]);
	close(fds[1]);
	remove_persistent_tap(ifname, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mq_offered, setup, teardown),
		cmocka_unit_test(test_single_pair_has_no_control_queue),
		cmocka_unit_test(test_bad_pair_counts_refused),
		cmocka_unit_test_setup_teardown(test_pairs_set_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pairs_set_out_of_range_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_commands_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_short_and_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_broken_ring_needs_reset, setup, teardown),
		cmocka_unit_test_teardown(test_ctrl_before_driver_ok_refused, teardown),
		cmocka_unit_test_teardown(test_ctrl_without_mq, teardown),
		cmocka_unit_test_teardown(test_no_ctrl_vq_ignores_queue, teardown),
		cmocka_unit_test_setup_teardown(test_tx_on_pair_reaches_its_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_per_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_back_to_one_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_queue_failure_not_fatal, setup, teardown),
		cmocka_unit_test(test_real_tap_two_queues),
		cmocka_unit_test(test_real_tap_flag_mismatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
