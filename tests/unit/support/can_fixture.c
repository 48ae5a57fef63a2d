#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "can_fixture.h"

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct can_fixture *f = (struct can_fixture *)dev->transport;

	assert_true(events & EPOLLIN);
	if (fd == f->frame_fd) {
		f->frames_watched = true;
	} else if (fd == f->link_fd) {
		/* always watched */
	} else if (f->resched_fd < 0 || fd == f->resched_fd) {
		f->resched_fd = fd; /* activate watches it first */
	} else {
		f->timer_fd = fd;
		f->timer_watched = true;
	}
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct can_fixture *f = (struct can_fixture *)dev->transport;

	if (fd == f->frame_fd)
		f->frames_watched = false;
	if (fd == f->timer_fd)
		f->timer_watched = false;
	return 0;
}

struct can_fixture *canf_new(const struct avp_can_cfg *cfg, uint64_t drop, bool fd_capable)
{
	static struct can_fixture f;
	struct socketcan sc = { .ifindex = CANF_IFINDEX, .up = true, .fd_capable = fd_capable };
	int sv[2], lv[2];

	memset(&f, 0, sizeof(f));
	f.resched_fd = f.timer_fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, lv), 0);
	f.host = sv[1];
	f.link_host = lv[1];
	f.frame_fd = sc.fd = sv[0];
	f.link_fd = sc.link_fd = lv[0];
	snprintf(sc.name, sizeof(sc.name), "vcantest");
	vqh_init(&f.h, 8 << 20);
	assert_int_equal(virtio_can_create_backend(&f.dev, cfg, &sc), 0);
	vqh_attach(&f.h, f.dev, true, true);
	f.dev->driver_features &= ~drop;
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	for (uint16_t q = 0; q < 3; q++)
		vqh_setup_queue(&f.h, f.dev, q, CANF_QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	assert_true(f.frames_watched);
	assert_true(f.resched_fd >= 0);
	return &f;
}

void canf_free(struct can_fixture *f)
{
	f->dev->ops->destroy(f->dev);
	if (f->host >= 0)
		close(f->host);
	close(f->link_host);
	vqh_free(&f->h);
}

void canf_fd_ready(struct can_fixture *f, int fd)
{
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, fd, EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
}

uint64_t canf_request(struct can_fixture *f, uint16_t q, const void *req, size_t len, size_t in_len)
{
	struct vqh_buf b[2];
	unsigned int n = 0;
	uint64_t in = 0;

	if (len) {
		uint64_t gpa = vqh_alloc(&f->h, len);

		memcpy(vqh_hva(&f->h, gpa), req, len);
		b[n++] = (struct vqh_buf){ gpa, (uint32_t)len, false };
	}
	if (in_len) {
		in = vqh_alloc(&f->h, in_len);
		memset(vqh_hva(&f->h, in), 0xee, in_len);
		b[n++] = (struct vqh_buf){ in, (uint32_t)in_len, true };
	}
	vqh_post(&f->h, f->dev, q, b, n);
	vqh_kick(&f->h, f->dev, q);
	return in;
}

bool canf_used(struct can_fixture *f, uint16_t q, uint32_t *len)
{
	uint32_t id;

	return vqh_used(&f->h, f->dev, q, &id, len);
}

int canf_ctrl(struct can_fixture *f, uint16_t msg_type)
{
	uint8_t req[2] = { (uint8_t)msg_type, (uint8_t)(msg_type >> 8) };
	uint64_t in = canf_request(f, VIRTIO_CAN_CTRLQ, req, sizeof(req), 1);
	uint32_t len;

	assert_true(canf_used(f, VIRTIO_CAN_CTRLQ, &len));
	assert_int_equal(len, 1);
	return *(uint8_t *)vqh_hva(&f->h, in);
}

uint64_t canf_post_rx(struct can_fixture *f, size_t len)
{
	uint64_t gpa = vqh_alloc(&f->h, len);
	struct vqh_buf b = { gpa, (uint32_t)len, true };

	memset(vqh_hva(&f->h, gpa), 0xee, len);
	vqh_post(&f->h, f->dev, VIRTIO_CAN_RXQ, &b, 1);
	vqh_kick(&f->h, f->dev, VIRTIO_CAN_RXQ);
	return gpa;
}

size_t canf_host_recv(struct can_fixture *f, void *buf, size_t len)
{
	ssize_t n = recv(f->host, buf, len, MSG_DONTWAIT);

	return n < 0 ? 0 : (size_t)n;
}

void canf_host_send(struct can_fixture *f, const void *frame, size_t size)
{
	assert_int_equal(send(f->host, frame, size, 0), (ssize_t)size);
	canf_fd_ready(f, f->frame_fd);
}

void canf_link(struct can_fixture *f, int index, bool up, bool del)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} m;

	memset(&m, 0, sizeof(m));
	m.h.nlmsg_len = sizeof(m);
	m.h.nlmsg_type = del ? RTM_DELLINK : RTM_NEWLINK;
	m.ifi.ifi_index = index;
	m.ifi.ifi_flags = up ? IFF_UP | IFF_RUNNING : 0;
	assert_int_equal(send(f->link_host, &m, sizeof(m), 0), (ssize_t)sizeof(m));
	canf_fd_ready(f, f->link_fd);
}
