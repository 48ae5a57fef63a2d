/* The device data paths' cost in instructions per request, for
 * regressions (scripts/bench; issue 16). No KVM: the blk and net device
 * models run against the unit tests' pretend driver (tests/unit/support/
 * vq_harness), the disk on a memfd, the tap a SOCK_SEQPACKET socketpair,
 * so what is measured is avp's own code between a kick (or the tap being
 * readable) and the completion, plus the system calls' user-side share.
 *
 *   valgrind --tool=callgrind --collect-atstart=no build/bench/datapath
 *
 * Only the device's entry points are collected (CALLGRIND_TOGGLE_COLLECT
 * around them), the driver's side is not; each workload ends with a dump
 * named after it, whose total divided by the requests (printed here as
 * "DATAPATH NAME REQUESTS") is the figure. bench/datapath.sh does the
 * division. Run without valgrind it only checks that every request
 * completed, as a smoke test. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_net.h"
#include "avp/log.h"
#include "support/vq_harness.h"

#define REQS 2000
#define QSIZE 128
#define BLK_SIZE (16u << 20)
#define FRAME 1514

/* VIRTIO 1.2, 5.2.6: request types */
#define T_IN 0
#define T_OUT 1

static void die(const char *what)
{
	fprintf(stderr, "datapath: %s\n", what);
	exit(1);
}

static void locked_notify(struct virtio_dev *dev, uint16_t q)
{
	pthread_mutex_lock(&dev->lock);
	CALLGRIND_TOGGLE_COLLECT;
	dev->ops->queue_notify(dev, q);
	CALLGRIND_TOGGLE_COLLECT;
	pthread_mutex_unlock(&dev->lock);
}

static void locked_fd_ready(struct virtio_dev *dev, int fd)
{
	pthread_mutex_lock(&dev->lock);
	CALLGRIND_TOGGLE_COLLECT;
	dev->ops->fd_ready(dev, fd, EPOLLIN);
	CALLGRIND_TOGGLE_COLLECT;
	pthread_mutex_unlock(&dev->lock);
}

static void expect_used(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint16_t head)
{
	uint32_t id, len;

	if (!vqh_used(h, dev, q, &id, &len) || id != head)
		die("a request did not complete");
}

static void blk(const char *name, uint32_t type, uint32_t bytes)
{
	struct avp_disk_cfg cfg = { 0 };
	struct vq_harness h;
	struct virtio_dev *dev;
	char path[64];
	int fd = memfd_create("avp-datapath", 0);

	if (fd < 0 || ftruncate(fd, BLK_SIZE))
		die("memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg.path = path;
	/* The synchronous backend: each request completes inside its notify,
	 * so what is counted is the device model's own work per request; with
	 * io_uring (the default) completion waits for the ring's eventfd and
	 * the copying is the kernel's, outside this program's count. */
	cfg.aio = DISK_AIO_SYNC;
	if (virtio_blk_create(&dev, &cfg))
		die("virtio_blk_create");
	vqh_init(&h, 4u << 20);
	vqh_attach(&h, dev, true, false);
	vqh_setup_queue(&h, dev, 0, QSIZE);
	if (vqh_activate(&h, dev))
		die("blk activate");
	uint64_t hdr = vqh_alloc(&h, 16), data = vqh_alloc(&h, bytes), status = vqh_alloc(&h, 1);
	uint32_t *hp = vqh_hva(&h, hdr);

	for (unsigned int i = 0; i < REQS; i++) {
		uint64_t sector = (uint64_t)(i * 7919u % (BLK_SIZE / bytes)) * (bytes / 512);
		struct vqh_buf b[3] = {
			{ hdr, 16, false }, { data, bytes, type == T_IN }, { status, 1, true },
		};

		hp[0] = type;
		memcpy(hp + 2, &sector, 8);
		uint16_t head = vqh_post(&h, dev, 0, b, 3);

		locked_notify(dev, 0);
		expect_used(&h, dev, 0, head);
		if (*(uint8_t *)vqh_hva(&h, status) != 0)
			die("a block request failed");
	}
	CALLGRIND_DUMP_STATS_AT(name);
	printf("DATAPATH %s %u\n", name, REQS);
	dev->ops->destroy(dev);
	vqh_free(&h);
	close(fd);
}

static int no_offload(int fd, unsigned int offloads)
{
	(void)fd;
	(void)offloads;
	return 0;
}

static const struct virtio_net_backend_ops backend = { .set_offload = no_offload };

static void net(void)
{
	struct avp_net_cfg cfg = { .tap = "avpbench0", .mac = { 2, 0, 0, 0, 0, 9 }, .mac_set = true };
	struct vq_harness h;
	struct virtio_dev *dev;
	uint8_t frame[VIRTIO_NET_HDR_LEN + FRAME] = { 0 }, got[sizeof(frame) + 64];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	vqh_init(&h, 4u << 20);
	if (virtio_net_create_backend(&dev, &cfg, sv[0], &backend))
		die("virtio_net_create_backend");
	vqh_attach(&h, dev, true, false);
	vqh_setup_queue(&h, dev, VIRTIO_NET_RXQ, QSIZE);
	vqh_setup_queue(&h, dev, VIRTIO_NET_TXQ, QSIZE);
	if (vqh_activate(&h, dev))
		die("net activate");
	memset(frame + VIRTIO_NET_HDR_LEN, 0xa5, 12);

	/* tx: one frame per kick, drained from the host end after */
	uint64_t tx = vqh_alloc(&h, sizeof(frame));

	memcpy(vqh_hva(&h, tx), frame, sizeof(frame));
	for (unsigned int i = 0; i < REQS; i++) {
		struct vqh_buf b = { tx, sizeof(frame), false };
		uint16_t head = vqh_post(&h, dev, VIRTIO_NET_TXQ, &b, 1);

		locked_notify(dev, VIRTIO_NET_TXQ);
		expect_used(&h, dev, VIRTIO_NET_TXQ, head);
		if (recv(sv[1], got, sizeof(got), MSG_DONTWAIT) != (ssize_t)sizeof(frame))
			die("a transmitted frame did not reach the host end");
	}
	CALLGRIND_DUMP_STATS_AT("net_tx_1514");
	printf("DATAPATH net_tx_1514 %u\n", REQS);

	/* rx: one frame from the host end, one buffer posted, then the
	 * device hears that its fd is readable */
	uint64_t rx = vqh_alloc(&h, sizeof(got));

	for (unsigned int i = 0; i < REQS; i++) {
		struct vqh_buf b = { rx, sizeof(got), true };
		uint16_t head = vqh_post(&h, dev, VIRTIO_NET_RXQ, &b, 1);

		if (send(sv[1], frame, sizeof(frame), 0) != (ssize_t)sizeof(frame))
			die("send");
		locked_fd_ready(dev, sv[0]);
		expect_used(&h, dev, VIRTIO_NET_RXQ, head);
	}
	CALLGRIND_DUMP_STATS_AT("net_rx_1514");
	printf("DATAPATH net_rx_1514 %u\n", REQS);
	dev->ops->destroy(dev);
	close(sv[1]);
	vqh_free(&h);
}

int main(void)
{
	avp_log_set_level(AVP_LOG_WARN);
	blk("blk_read_4k", T_IN, 4096);
	blk("blk_write_4k", T_OUT, 4096);
	blk("blk_read_64k", T_IN, 65536);
	net();
	return 0;
}
