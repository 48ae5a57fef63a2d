/* virtio-can against the pretend driver (vq_harness.h), with SOCK_SEQPACKET
 * socketpairs standing in for the raw CAN socket (one frame per message,
 * as CAN_RAW gives) and for the route netlink socket (the test writes
 * link messages into it). Shared by test_virtio_can.c and
 * test_can_layout.c. */
#ifndef AVP_TEST_CAN_FIXTURE_H
#define AVP_TEST_CAN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avp/devices/virtio_can.h"
#include "vq_harness.h"

#define CANF_QSIZE 64
#define CANF_IFINDEX 7

struct can_fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int host;      /* our end of the frame socketpair ("the bus") */
	int link_host; /* our end of the link socketpair ("the kernel") */
	int frame_fd, link_fd, resched_fd; /* the device's fds */
	int timer_fd; /* its retry timer, once watched (-1 before) */
	bool frames_watched, timer_watched;
};

/* A device on a fake interface (up, FD-capable unless fd_capable is
 * false) with cfg's rules; the driver accepted every offered feature but
 * those in drop (a mask of 1 << VIRTIO_CAN_F_*). Queues set up, DRIVER_OK. */
struct can_fixture *canf_new(const struct avp_can_cfg *cfg, uint64_t drop, bool fd_capable);
void canf_free(struct can_fixture *f);

/* The device's fd_ready for one of its fds, with dev->lock held. */
void canf_fd_ready(struct can_fixture *f, int fd);

/* A request of raw bytes on queue q (readable part req[len], then a
 * writable part of in_len bytes); kicks q. Returns the gpa of the
 * writable part. */
uint64_t canf_request(struct can_fixture *f, uint16_t q, const void *req, size_t len, size_t in_len);
/* The next completion of q: true with its length in *len. */
bool canf_used(struct can_fixture *f, uint16_t q, uint32_t *len);
/* A control message (START/STOP/anything) and its result byte. */
int canf_ctrl(struct can_fixture *f, uint16_t msg_type);
/* Posts an Rx buffer of len bytes and kicks Rxq; its gpa. */
uint64_t canf_post_rx(struct can_fixture *f, size_t len);
/* The next frame the device sent to the bus: its size (16 or 72), 0: none. */
size_t canf_host_recv(struct can_fixture *f, void *buf, size_t len);
/* Puts a frame of size bytes on the bus and lets the device read. */
void canf_host_send(struct can_fixture *f, const void *frame, size_t size);
/* The kernel reporting the fake interface (or another, index) up or down,
 * or deleted (del). */
void canf_link(struct can_fixture *f, int index, bool up, bool del);

#endif
