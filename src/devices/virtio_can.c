/* virtio-can (VIRTIO 1.4, device-types/can/description.tex; device ID 36)
 * on a host SocketCAN interface (avp/net/socketcan.h).
 *
 * Three queues: Txq (0), Rxq (1), Controlq (2). Features CAN_CLASSIC,
 * RTR_FRAMES, and CAN_FD when the interface carries FD frames (its MTU is
 * 72). LATE_TX_ACK is not offered: a raw socket's write only says the
 * frame was queued, not that it went out on the bus, which is exactly the
 * early acknowledgement the spec allows without it.
 *
 * TX: each request's 16-byte header and payload are copied out of guest
 * memory once and that copy is checked (message type, flags, ID and
 * length against what was negotiated, the payload really there) and sent;
 * then the acceptance rules (tx=) decide. Anything wrong is answered
 * VIRTIO_CAN_RESULT_NOT_OK and counted, never sent. When the host's
 * queue is full (a busy real bus) the request waits, and Txq behind it,
 * until a retry 1 ms later gets it out: the guest's driver sees its ring
 * fill and stops, as with a real controller. STOP and bus-off cancel the
 * waiting request with NOT_OK ("Controller Mode").
 *
 * RX: a frame is taken off the socket only once we hold an Rx buffer for
 * it; with none posted we stop watching the socket, and frames wait in the
 * socket's own bounded queue, whose drops the kernel counts for us
 * (SO_RXQ_OVFL). The guest's buffers are the only buffer. Frames the
 * driver did not negotiate (FD, RTR) or the rules (rx=) refuse are counted
 * and dropped. While STOPPED the socket is drained and frames dropped, so
 * a START does not deliver stale ones.
 *
 * Bus-off: the interface going down (the link monitor, or ENETDOWN from
 * the socket) or a bus-off error frame of a real controller stops a
 * started controller and sets VIRTIO_CAN_S_CTRL_BUSOFF with a
 * configuration-change interrupt ("BusOff Indication"). A START succeeds
 * again once the interface is up, and clears the bit. */
#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/can.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "avp/api_cmd.h"
#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_can.h"
#include "avp/log.h"

#define F(bit) (1ull << (bit))
#define STD_MAX 0x7ffu
#define EXT_MAX 0x1fffffffu
#define KNOWN_FLAGS (VIRTIO_CAN_FLAGS_FD | VIRTIO_CAN_FLAGS_EXTENDED | VIRTIO_CAN_FLAGS_RTR)

_Static_assert(sizeof(struct virtio_can_hdr) == VIRTIO_CAN_HDR_LEN, "16-byte header");

struct vcan {
	struct virtio_dev dev;
	struct virtio_can_config config;
	struct socketcan sc;
	bool fd_offered;
	bool started;	/* the controller's mode: STOPPED initially */
	bool sock_dead; /* the frame socket failed for good */
	bool tx_err_logged;
	struct avp_can_rules tx_rules, rx_rules;
	struct dev_watch frames, link;
	struct dev_resched resched;
	uint32_t ovfl_seen; /* the kernel's drop count, last read */
	struct virtio_can_stats st;

	struct virtq_chain chain;    /* Controlq requests */
	struct virtq_chain tx_chain; /* the Txq request at hand */
	/* The host's queue was full (EAGAIN, ENOBUFS): tx_chain's frame
	 * (tx_frame, tx_size bytes) waits, and Txq with it, for the timer. */
	bool tx_pending;
	union {
		struct can_frame cc;
		struct canfd_frame fd;
	} tx_frame;
	size_t tx_size;
	struct dev_watch timer;
	struct virtq_chain rx_chain;
	bool rx_have; /* rx_chain holds a buffer not yet used */
	union {
		struct can_frame cc;
		struct canfd_frame fd;
	} frame;
	uint8_t sdu[VIRTIO_CAN_MAX_FD];
	struct vcan *next; /* the next device of the "can" command */
};

static struct vcan *vcan_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t vcan_features(struct virtio_dev *dev)
{
	struct vcan *c = vcan_of(dev);

	return F(VIRTIO_CAN_F_CAN_CLASSIC) | F(VIRTIO_CAN_F_RTR_FRAMES) |
	       (c->fd_offered ? F(VIRTIO_CAN_F_CAN_FD) : 0);
}

static void watch_frames(struct vcan *c);
static void tx_cancel(struct vcan *c);

/* ---- bus-off ---- */

/* "BusOff Indication": an unsolicited change from started to stopped. */
static void bus_off(struct vcan *c, const char *why)
{
	if (!c->started)
		return;
	c->started = false;
	tx_cancel(c);
	c->st.busoff++;
	c->config.status = htole16(le16toh(c->config.status) | VIRTIO_CAN_S_CTRL_BUSOFF);
	avp_info("virtio-can %s: bus-off (%s): controller stopped", c->sc.name, why);
	virtio_dev_config_changed(&c->dev);
	/* Stopped: the socket is drained from now on (the watch may be off
	 * for want of Rx buffers), so a START sees only new frames. */
	watch_frames(c);
}

static void link_event(struct vcan *c)
{
	int ret = socketcan_link_update(&c->sc);

	if (ret < 0) {
		avp_warn("virtio-can %s: link monitor: %s (no more link events)", c->sc.name,
			 strerror(-ret));
		dev_watch_set(&c->dev, &c->link, false);
		c->link.fd = -1;
		return;
	}
	if (!c->sc.up)
		bus_off(c, c->sc.gone ? "interface deleted" : "interface down");
}

/* ---- transmit ---- */

static void tx_failed(struct vcan *c, int err)
{
	c->st.tx_failed++;
	if (err == ENETDOWN) {
		c->sc.up = false;
		bus_off(c, "interface down");
		return;
	}
	/* A failing interface fails every write: say it once. */
	if (!c->tx_err_logged)
		avp_warn("virtio-can %s: write: %s (frames answered NOT_OK)", c->sc.name,
			 strerror(err));
	c->tx_err_logged = true;
}

static uint8_t tx_invalid(struct vcan *c, const char *why)
{
	c->st.tx_invalid++;
	avp_guest_warn(c, "virtio-can %s: transmit request refused: %s", c->sc.name, why);
	return VIRTIO_CAN_RESULT_NOT_OK;
}

/* tx_one's answer when the frame must wait for room in the host's queue. */
#define TX_WAIT 0xff
#define TX_RETRY_NS 1000000 /* 1 ms: a CAN frame takes 0.1-0.3 ms on the wire */

static void tx_retry_later(struct vcan *c)
{
	struct itimerspec its = { .it_value = { .tv_nsec = TX_RETRY_NS } };

	if (c->timer.fd < 0 || timerfd_settime(c->timer.fd, 0, &its, NULL) < 0)
		return; /* cannot happen with a valid timerfd; the next kick retries */
	dev_watch_set(&c->dev, &c->timer, true);
}

/* Writes the frame in c->tx_frame. Its result, or TX_WAIT. */
static uint8_t tx_send(struct vcan *c)
{
	ssize_t n;

	do
		n = write(c->sc.fd, &c->tx_frame, c->tx_size);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)c->tx_size) {
		c->st.tx_frames++;
		return VIRTIO_CAN_RESULT_OK;
	}
	if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
		return TX_WAIT;
	tx_failed(c, n < 0 ? errno : EMSGSIZE);
	return VIRTIO_CAN_RESULT_NOT_OK;
}

/* Checks and sends the request in c->tx_chain; its result, or TX_WAIT. */
static uint8_t tx_one(struct vcan *c)
{
	const struct virtq_chain *ch = &c->tx_chain;
	struct virtio_dev *dev = &c->dev;
	struct virtio_can_hdr h;
	uint32_t flags, id;
	bool fd, ext, rtr;
	uint16_t len;

	if (virtq_chain_read(ch, 0, &h, sizeof(h)) != sizeof(h))
		return tx_invalid(c, "shorter than its 16-byte header");
	flags = le32toh(h.flags);
	id = le32toh(h.can_id);
	len = le16toh(h.length);
	fd = flags & VIRTIO_CAN_FLAGS_FD;
	ext = flags & VIRTIO_CAN_FLAGS_EXTENDED;
	rtr = flags & VIRTIO_CAN_FLAGS_RTR;
	if (le16toh(h.msg_type) != VIRTIO_CAN_TX)
		return tx_invalid(c, "not a VIRTIO_CAN_TX message");
	/* "A CAN frame with an undefined bit set in flags is treated like a
	 * CAN frame for which support has not been negotiated." */
	if (flags & ~KNOWN_FLAGS)
		return tx_invalid(c, "undefined flag bits");
	if (fd ? !virtio_has_feature(dev, VIRTIO_CAN_F_CAN_FD)
	       : !virtio_has_feature(dev, VIRTIO_CAN_F_CAN_CLASSIC))
		return tx_invalid(c, fd ? "CAN FD frame without VIRTIO_CAN_F_CAN_FD"
					: "classic frame without VIRTIO_CAN_F_CAN_CLASSIC");
	/* RTR frames are classic only ("Feature bits"). */
	if (rtr && (fd || !virtio_has_feature(dev, VIRTIO_CAN_F_RTR_FRAMES)))
		return tx_invalid(c, fd ? "RTR with FD" : "RTR frame without VIRTIO_CAN_F_RTR_FRAMES");
	if (id > (ext ? EXT_MAX : STD_MAX))
		return tx_invalid(c, "can_id out of range for its ID type");
	if (len > (fd ? VIRTIO_CAN_MAX_FD : VIRTIO_CAN_MAX_CLASSIC))
		return tx_invalid(c, "length beyond the frame type's payload");
	/* An RTR frame's length is the requested DLC: it carries no data. */
	if (!rtr && virtq_chain_read(ch, VIRTIO_CAN_HDR_LEN, c->sdu, len) != len)
		return tx_invalid(c, "length beyond the payload the request holds");
	/* "...or the CAN controller is in an invalid state": STOPPED. */
	if (!c->started) {
		c->st.tx_failed++;
		return VIRTIO_CAN_RESULT_NOT_OK;
	}
	if (!avp_can_rules_allow(&c->tx_rules, id, ext)) {
		c->st.tx_refused++;
		return VIRTIO_CAN_RESULT_NOT_OK;
	}

	memset(&c->tx_frame, 0, sizeof(c->tx_frame));
	if (fd) {
		c->tx_frame.fd.can_id = id | (ext ? CAN_EFF_FLAG : 0);
		c->tx_frame.fd.len = (uint8_t)len;
		c->tx_frame.fd.flags = CANFD_FDF;
		memcpy(c->tx_frame.fd.data, c->sdu, len);
		c->tx_size = CANFD_MTU;
	} else {
		c->tx_frame.cc.can_id = id | (ext ? CAN_EFF_FLAG : 0) | (rtr ? CAN_RTR_FLAG : 0);
		c->tx_frame.cc.len = (uint8_t)len;
		/* "If CAN classic length = 8 then DLC can be 8..15"; any other
		 * value there is reserved and ignored. */
		if (len == 8 && h.reserved_classic_dlc > 8 && h.reserved_classic_dlc <= 15)
			c->tx_frame.cc.len8_dlc = h.reserved_classic_dlc;
		if (!rtr)
			memcpy(c->tx_frame.cc.data, c->sdu, len);
		c->tx_size = CAN_MTU;
	}
	return tx_send(c);
}

/* Answers the request in c->tx_chain. */
static void tx_complete(struct vcan *c, uint8_t result)
{
	uint32_t written = (uint32_t)virtq_chain_write(&c->tx_chain, 0, &result, 1);

	virtio_dev_complete(&c->dev, VIRTIO_CAN_TXQ, c->tx_chain.head, written);
}

/* A STOP or bus-off cancels the frame waiting for the host's queue. */
static void tx_cancel(struct vcan *c)
{
	if (!c->tx_pending)
		return;
	c->tx_pending = false;
	c->st.tx_failed++;
	tx_complete(c, VIRTIO_CAN_RESULT_NOT_OK);
}

/* ---- control ---- */

static uint8_t ctrl_one(struct vcan *c)
{
	uint16_t type;

	if (virtq_chain_read(&c->chain, 0, &type, sizeof(type)) != sizeof(type))
		return VIRTIO_CAN_RESULT_NOT_OK;
	switch (le16toh(type)) {
	case VIRTIO_CAN_SET_CTRL_MODE_START:
		/* Ask the link monitor first: its news may still be queued. */
		if (c->link.fd >= 0)
			link_event(c);
		if (c->sock_dead || !c->sc.up)
			return VIRTIO_CAN_RESULT_NOT_OK;
		c->started = true;
		c->config.status = htole16(le16toh(c->config.status) & ~VIRTIO_CAN_S_CTRL_BUSOFF);
		return VIRTIO_CAN_RESULT_OK;
	case VIRTIO_CAN_SET_CTRL_MODE_STOP:
		/* "...cancels all CAN messages already pending for
		 * transmission and marks them as used with NOT_OK". */
		c->started = false;
		tx_cancel(c);
		return VIRTIO_CAN_RESULT_OK;
	default:
		avp_guest_warn(c, "virtio-can %s: unknown control message 0x%04x", c->sc.name,
			       le16toh(type));
		return VIRTIO_CAN_RESULT_NOT_OK;
	}
}

/* Txq and Controlq: each request gets its one-byte result. */
static void request_work(struct vcan *c, uint16_t q)
{
	struct virtio_dev *dev = &c->dev;
	struct virtq_chain *ch = q == VIRTIO_CAN_TXQ ? &c->tx_chain : &c->chain;

	for (unsigned int i = 0; i < VIRTIO_CAN_BUDGET; i++) {
		uint8_t result = VIRTIO_CAN_RESULT_NOT_OK;
		uint32_t written = 0;
		int ret;

		/* In order: nothing passes a frame that waits. */
		if (q == VIRTIO_CAN_TXQ && c->tx_pending)
			return;
		ret = virtq_pop(&dev->vqs[q], ch);
		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, q == VIRTIO_CAN_TXQ ? "Txq is broken"
									 : "Controlq is broken");
			return;
		}
		if (ch->head == UINT16_MAX)
			continue;
		/* Without room for the result the request is malformed: it
		 * goes back unread, and no frame leaves. */
		if (ret == 1 && ch->in_bytes == 0)
			ret = -EINVAL;
		if (ret == 1) {
			result = q == VIRTIO_CAN_TXQ ? tx_one(c) : ctrl_one(c);
			if (result == TX_WAIT) {
				c->tx_pending = true;
				tx_retry_later(c);
				return;
			}
			written = (uint32_t)virtq_chain_write(ch, 0, &result, 1);
		} else if (q == VIRTIO_CAN_TXQ) {
			c->st.tx_invalid++;
		}
		virtio_dev_complete(dev, q, ch->head, written);
	}
	dev_resched_request(&c->resched);
}

/* The retry timer: the waiting frame again, then the rest of Txq. */
static void tx_timer(struct vcan *c)
{
	uint64_t expirations;
	uint8_t result;

	if (read(c->timer.fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	dev_watch_set(&c->dev, &c->timer, false);
	if (!c->tx_pending)
		return; /* cancelled meanwhile */
	result = tx_send(c);
	if (result == TX_WAIT) {
		tx_retry_later(c);
		return;
	}
	c->tx_pending = false;
	tx_complete(c, result);
	request_work(c, VIRTIO_CAN_TXQ);
}

/* ---- receive ---- */

/* The least an Rx buffer holds ("Device Initialization": at least struct
 * virtio_can_rx with the largest payload negotiated). */
static size_t rx_min(const struct vcan *c)
{
	return VIRTIO_CAN_HDR_LEN + (virtio_has_feature(&c->dev, VIRTIO_CAN_F_CAN_FD)
					     ? VIRTIO_CAN_MAX_FD : VIRTIO_CAN_MAX_CLASSIC);
}

/* 1: c->rx_chain holds a buffer; 0: none posted; -EIO: ring broken. */
static int rx_take(struct vcan *c)
{
	struct virtio_dev *dev = &c->dev;

	/* Bounded: a driver posting only useless buffers waits for its kick. */
	for (unsigned int i = 0; !c->rx_have && i < VIRTQ_MAX_SIZE; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_CAN_RXQ], &c->rx_chain);

		if (ret == 0)
			return 0;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "Rxq is broken");
			return -EIO;
		}
		if (ret == 1 && c->rx_chain.in_bytes >= rx_min(c)) {
			c->rx_have = true;
			break;
		}
		if (c->rx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_CAN_RXQ, c->rx_chain.head, 0);
	}
	return c->rx_have;
}

static void rx_ovfl(struct vcan *c, struct msghdr *m)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		uint32_t total;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL ||
		    cm->cmsg_len < CMSG_LEN(sizeof(total)))
			continue;
		memcpy(&total, CMSG_DATA(cm), sizeof(total));
		/* Cumulative, and wraps: the difference is what is new. */
		c->st.rx_dropped += (uint32_t)(total - c->ovfl_seen);
		c->ovfl_seen = total;
	}
}

/* One frame off the socket into c->frame. Its size (CAN_MTU or
 * CANFD_MTU; 1 for anything else, to be dropped), 0 when there is none,
 * -1 when the socket failed for good (or hung up: a socketpair's peer
 * gone; a raw CAN socket never hangs up). */
static ssize_t rx_read(struct vcan *c, bool hangup)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(uint32_t))];
	} ctl;
	struct iovec iov = { &c->frame, sizeof(c->frame) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;

	do
		n = recvmsg(c->sc.fd, &m, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 0) { /* a raw socket never reads 0 bytes; a closed socketpair does */
		n = -1;
		errno = EPIPE;
	}
	if (n < 0) {
		switch (errno) {
		case EAGAIN:
			if (!hangup)
				return 0;
			errno = EPIPE;
			break;
		case ENETDOWN:
			/* Reported once; the socket works again when it is up. */
			c->sc.up = false;
			bus_off(c, "interface down");
			return 0;
		default:
			break;
		}
		avp_warn("virtio-can %s: receive: %s (no more frames)", c->sc.name, strerror(errno));
		c->sock_dead = true;
		c->sc.up = false;
		dev_watch_set(&c->dev, &c->frames, false);
		bus_off(c, "socket failed");
		return -1;
	}
	rx_ovfl(c, &m);
	if ((m.msg_flags & MSG_TRUNC) || (n != (ssize_t)CAN_MTU && n != (ssize_t)CANFD_MTU))
		return 1;
	return n;
}

/* Checks a frame read off the socket against what the driver negotiated
 * and the rx rules, and writes it into c->rx_chain. true: delivered. */
static bool rx_deliver(struct vcan *c, size_t size)
{
	struct virtio_dev *dev = &c->dev;
	bool fd = size == CANFD_MTU;
	uint32_t cid = fd ? c->frame.fd.can_id : c->frame.cc.can_id;
	uint8_t len = fd ? c->frame.fd.len : c->frame.cc.len;
	bool ext = cid & CAN_EFF_FLAG;
	bool rtr = !fd && (cid & CAN_RTR_FLAG);
	uint32_t id = cid & (ext ? CAN_EFF_MASK : CAN_SFF_MASK);
	struct virtio_can_hdr h = { 0 };
	size_t sdu_len = rtr ? 0 : len;

	if (cid & CAN_ERR_FLAG) {
		if (socketcan_is_busoff(&c->frame, size))
			bus_off(c, "bus-off error frame");
		return false;
	}
	if ((fd ? !virtio_has_feature(dev, VIRTIO_CAN_F_CAN_FD)
		: !virtio_has_feature(dev, VIRTIO_CAN_F_CAN_CLASSIC)) ||
	    (rtr && !virtio_has_feature(dev, VIRTIO_CAN_F_RTR_FRAMES)) ||
	    len > (fd ? VIRTIO_CAN_MAX_FD : VIRTIO_CAN_MAX_CLASSIC)) {
		c->st.rx_dropped++;
		return false;
	}
	if (!avp_can_rules_allow(&c->rx_rules, id, ext)) {
		c->st.rx_refused++;
		return false;
	}
	h.msg_type = htole16(VIRTIO_CAN_RX);
	h.length = htole16(len);
	if (!fd && len == 8 && c->frame.cc.len8_dlc > 8 && c->frame.cc.len8_dlc <= 15)
		h.reserved_classic_dlc = c->frame.cc.len8_dlc;
	h.flags = htole32((fd ? VIRTIO_CAN_FLAGS_FD : 0) | (ext ? VIRTIO_CAN_FLAGS_EXTENDED : 0) |
			  (rtr ? VIRTIO_CAN_FLAGS_RTR : 0));
	h.can_id = htole32(id);
	/* rx_take made sure the buffer holds the largest frame. */
	virtq_chain_write(&c->rx_chain, 0, &h, sizeof(h));
	virtq_chain_write(&c->rx_chain, sizeof(h), fd ? c->frame.fd.data : c->frame.cc.data, sdu_len);
	virtio_dev_complete(dev, VIRTIO_CAN_RXQ, c->rx_chain.head,
			    (uint32_t)(VIRTIO_CAN_HDR_LEN + sdu_len));
	c->rx_have = false;
	c->st.rx_frames++;
	return true;
}

static void rx_work(struct vcan *c, bool hangup)
{
	for (unsigned int i = 0; i < VIRTIO_CAN_BUDGET && !c->sock_dead; i++) {
		ssize_t n;

		if (c->started) {
			int ret = rx_take(c);

			if (ret < 0)
				return;
			if (ret == 0) {
				/* Nothing to receive into: the socket's queue holds
				 * (and counts what it drops) until the driver kicks. */
				dev_watch_set(&c->dev, &c->frames, false);
				return;
			}
		}
		n = rx_read(c, hangup);
		if (n <= 0)
			return;
		if (n == 1)
			c->st.rx_dropped++;
		else if (!c->started)
			c->st.rx_dropped += !(c->frame.cc.can_id & CAN_ERR_FLAG);
		else
			rx_deliver(c, (size_t)n);
	}
}

/* ---- device ops ---- */

static void quiesce(struct vcan *c)
{
	dev_watch_set(&c->dev, &c->frames, false);
	dev_watch_set(&c->dev, &c->link, false);
	dev_watch_set(&c->dev, &c->timer, false);
	dev_watch_set(&c->dev, &c->resched.watch, false);
}

static void check_broken(struct vcan *c)
{
	if (c->dev.status & VIRTIO_STATUS_NEEDS_RESET)
		quiesce(c);
}

static void watch_frames(struct vcan *c)
{
	if (!c->sock_dead && !c->frames.active)
		dev_watch_set(&c->dev, &c->frames, true);
}

static void vcan_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vcan *c = vcan_of(dev);
	bool was_started = c->started;

	if (q == VIRTIO_CAN_TXQ || q == VIRTIO_CAN_CTRLQ)
		request_work(c, q);
	/* A STOP answers what waits in Txq at once (NOT_OK), rather than at
	 * the driver's next kick. */
	if (q == VIRTIO_CAN_CTRLQ && was_started && !c->started)
		request_work(c, VIRTIO_CAN_TXQ);
	/* New Rx buffers, or a START that needs them filled. */
	if (q == VIRTIO_CAN_RXQ || c->started != was_started) {
		watch_frames(c);
		rx_work(c, false);
	}
	check_broken(c);
}

static void vcan_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vcan *c = vcan_of(dev);

	if (dev_resched_take(&c->resched, fd)) {
		request_work(c, VIRTIO_CAN_CTRLQ);
		request_work(c, VIRTIO_CAN_TXQ);
	} else if (fd == c->link.fd) {
		link_event(c);
	} else if (fd == c->timer.fd) {
		tx_timer(c);
	} else if (fd == c->sc.fd && !c->sock_dead) {
		/* Not EPOLLERR: a socket error (ENETDOWN) is read, and may
		 * already have been, by a write; only a hangup is final. */
		rx_work(c, events & EPOLLHUP);
	}
	check_broken(c);
}

static int vcan_activate(struct virtio_dev *dev)
{
	struct vcan *c = vcan_of(dev);
	int ret = dev_watch_set(dev, &c->resched.watch, true);

	if (!ret)
		ret = dev_watch_set(dev, &c->link, true);
	if (!ret && !c->sock_dead)
		ret = dev_watch_set(dev, &c->frames, true);
	return ret;
}

static void vcan_reset(struct virtio_dev *dev)
{
	struct vcan *c = vcan_of(dev);

	quiesce(c);
	dev_resched_take(&c->resched, c->resched.watch.fd);
	/* "Initially the CAN controller is in the STOPPED state." */
	c->started = false;
	c->config.status = 0;
	c->rx_have = false;
	/* The driver reclaims its buffers on reset; a timer still armed
	 * finds nothing pending. */
	c->tx_pending = false;
}

static void vcan_free(struct vcan *c)
{
	if (c->timer.fd >= 0)
		close(c->timer.fd);
	socketcan_close(&c->sc);
	dev_resched_fini(&c->resched);
	free(c);
}

static void vcan_destroy(struct virtio_dev *dev)
{
	struct vcan *c = vcan_of(dev);

	if (c->st.tx_refused || c->st.rx_refused)
		avp_info("virtio-can %s: refused by the rules: %llu sent, %llu received", c->sc.name,
			 (unsigned long long)c->st.tx_refused, (unsigned long long)c->st.rx_refused);
	virtio_dev_fini(dev);
	vcan_free(c);
}

static const struct virtio_dev_ops vcan_ops = {
	.type = "virtio-can",
	.device_id = VIRTIO_ID_CAN,
	.num_queues = 3,
	.features = vcan_features,
	.activate = vcan_activate,
	.queue_notify = vcan_queue_notify,
	.fd_ready = vcan_fd_ready,
	.reset = vcan_reset,
	.destroy = vcan_destroy,
};

static int build(struct virtio_dev **out, const struct avp_can_cfg *cfg, struct socketcan *sc,
		 bool model)
{
	struct vcan *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		socketcan_close(sc);
		return -ENOMEM;
	}
	/* Nothing of ours is open yet: vcan_free must not close fd 0. */
	dev_watch_init(&c->resched.watch, -1, EPOLLIN);
	dev_watch_init(&c->timer, -1, EPOLLIN);
	c->sc = *sc;
	c->tx_rules = cfg->tx;
	c->rx_rules = cfg->rx;
	switch (cfg->fd_mode) {
	case AVP_CAN_FD_ON:
		if (!model && !sc->fd_capable) {
			avp_err("can %s: fd=on, but the interface carries only classic frames (MTU "
				"16): `ip link set %s mtu 72` (vcan), or the controller's fd on",
				sc->name, sc->name);
			vcan_free(c);
			return -EINVAL;
		}
		c->fd_offered = true;
		break;
	case AVP_CAN_FD_OFF:
		c->fd_offered = false;
		break;
	default:
		/* --describe cannot look: it shows what an FD interface gets. */
		c->fd_offered = model || sc->fd_capable;
		break;
	}
	ret = dev_resched_init(&c->resched);
	dev_watch_init(&c->timer, model ? -1 : timerfd_create(CLOCK_MONOTONIC,
								TFD_NONBLOCK | TFD_CLOEXEC), EPOLLIN);
	if (!ret && !model && c->timer.fd < 0)
		ret = -errno;
	if (ret) {
		vcan_free(c);
		return ret;
	}
	dev_watch_init(&c->frames, c->sc.fd, EPOLLIN);
	dev_watch_init(&c->link, c->sc.link_fd, EPOLLIN);
	virtio_dev_init(&c->dev, &vcan_ops, c, &c->config, sizeof(c->config));
	*out = &c->dev;
	return 0;
}

int virtio_can_create_backend(struct virtio_dev **out, const struct avp_can_cfg *cfg,
			      struct socketcan *sc)
{
	return build(out, cfg, sc, false);
}

int virtio_can_create_model(struct virtio_dev **out, const struct avp_can_cfg *cfg)
{
	struct socketcan sc = { .fd = -1, .link_fd = -1 };

	snprintf(sc.name, sizeof(sc.name), "%s", cfg->ifname ? cfg->ifname : "");
	return build(out, cfg, &sc, true);
}

int virtio_can_create(struct virtio_dev **out, const struct avp_can_cfg *cfg)
{
	struct socketcan sc;
	int ret = socketcan_open(cfg->ifname, &sc);

	return ret ? ret : build(out, cfg, &sc, false);
}

void virtio_can_get_stats(struct virtio_dev *dev, struct virtio_can_stats *out)
{
	pthread_mutex_lock(&dev->lock);
	*out = vcan_of(dev)->st;
	pthread_mutex_unlock(&dev->lock);
}

/* ---- the control socket's "can" command ---- */

static json_object *rules_json(const struct avp_can_rules *r)
{
	char buf[AVP_CAN_MAX_RANGES * 32];

	avp_can_rules_format(r, buf, sizeof(buf));
	return json_object_new_string(buf);
}

#define U64(v) json_object_new_uint64(v)

static int can_command(void *opaque, json_object *args, json_object *reply)
{
	json_object *arr = json_object_new_array();

	(void)args;
	for (struct vcan *c = opaque; c; c = c->next) {
		json_object *o = json_object_new_object();

		pthread_mutex_lock(&c->dev.lock);
		json_object_object_add(o, "interface", json_object_new_string(c->sc.name));
		json_object_object_add(o, "started", json_object_new_boolean(c->started));
		json_object_object_add(o, "busoff", json_object_new_boolean(
				le16toh(c->config.status) & VIRTIO_CAN_S_CTRL_BUSOFF));
		json_object_object_add(o, "link_up", json_object_new_boolean(c->sc.up));
		json_object_object_add(o, "fd", json_object_new_boolean(c->fd_offered));
		json_object_object_add(o, "tx_rules", rules_json(&c->tx_rules));
		json_object_object_add(o, "rx_rules", rules_json(&c->rx_rules));
		json_object_object_add(o, "tx_frames", U64(c->st.tx_frames));
		json_object_object_add(o, "tx_refused", U64(c->st.tx_refused));
		json_object_object_add(o, "tx_invalid", U64(c->st.tx_invalid));
		json_object_object_add(o, "tx_failed", U64(c->st.tx_failed));
		json_object_object_add(o, "rx_frames", U64(c->st.rx_frames));
		json_object_object_add(o, "rx_refused", U64(c->st.rx_refused));
		json_object_object_add(o, "rx_dropped", U64(c->st.rx_dropped));
		json_object_object_add(o, "busoff_events", U64(c->st.busoff));
		pthread_mutex_unlock(&c->dev.lock);
		json_object_array_add(arr, o);
	}
	json_object_object_add(reply, "can", arr);
	return 0;
}

int virtio_can_register_api(struct vm *vm, struct virtio_dev *dev)
{
	struct vcan *c = vcan_of(dev);
	const struct api_command *cmd = vm_api_find(vm, "can");
	struct vcan *last;

	if (!cmd)
		return vm_api_register(vm, "can", can_command, c);
	if (cmd->fn != can_command)
		return -EEXIST;
	/* Registration happens before the VM starts: no lock needed. */
	for (last = cmd->opaque; last->next; last = last->next)
		;
	last->next = c;
	return 0;
}
