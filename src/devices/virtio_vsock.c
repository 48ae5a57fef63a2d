/* virtio-vsock (VIRTIO 1.2, section 5.10) in user space: guest streams
 * are bridged to Unix stream sockets on the host (the convention is in
 * avp/devices/virtio_vsock.h, the limits and why they bound memory too).
 *
 * This file is the device: its queues, config space and device ops. The
 * streams' state machine is in vsock_conn.c, the host side (the listening
 * socket, the CONNECT handshake, connecting out to PATH_P and to linked
 * VMs) in vsock_mux.c; vsock_internal.h holds what they share.
 *
 * Queues: rx (0) carries our packets to the guest, tx (1) the guest's to
 * us, event (2) is only for transport resets, which we never send.
 *
 * Everything runs on the device thread under dev->lock. Replies to packets
 * of streams we do not know (RST) have no stream and wait in a small ring;
 * streams with something to send wait in a FIFO and get one packet per
 * turn, so a busy stream cannot starve the others. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/log.h"
#include "devices/vsock_internal.h"

static struct vsock *vs_of(struct virtio_dev *dev)
{
	return dev->priv;
}

/* Guest-triggered: rate-limited and counted in status (avp_guest_warn). */
static void warn_bad_packet(struct vsock *v, const char *why)
{
	avp_guest_warn(v, "virtio-vsock: dropping a malformed packet from the guest (%s)", why);
}

/* A CID that is neither the host nor linked: RST, so the guest's connect
 * fails at once (AVP-VSOCK-2: only what the configuration allows). */
static void refuse_unlinked(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	avp_guest_warn(v, "virtio-vsock: refused the guest's connection to CID %llu: not linked "
		       "to this VM (no --vsock-peer for it)",
		       (unsigned long long)le64toh(h->dst_cid));
	vsock_rst_push(v, le64toh(h->dst_cid), le32toh(h->dst_port), le32toh(h->src_port),
		       le16toh(h->type));
}

static void handle_tx_packet(struct vsock *v, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	struct vconn *c = NULL;
	const char *peer_path = NULL;
	uint64_t dst_cid;
	bool reachable;
	uint32_t len;
	uint16_t op, type;

	if (virtq_chain_read(ch, 0, &h, sizeof(h)) < sizeof(h)) {
		warn_bad_packet(v, "shorter than the header");
		return;
	}
	len = le32toh(h.len);
	op = le16toh(h.op);
	type = le16toh(h.type);
	if (len > ch->out_bytes - VSOCK_HDR_LEN) {
		warn_bad_packet(v, "payload longer than its buffers");
		return;
	}
	/* 5.10.6.4.1: the guest's own CID as source. */
	if (le64toh(h.src_cid) != v->cid) {
		warn_bad_packet(v, "wrong source CID");
		return;
	}
	/* Destinations: the host, or a VM linked to this one. */
	dst_cid = le64toh(h.dst_cid);
	if (dst_cid != VSOCK_HOST_CID)
		peer_path = vsock_route_lookup(&v->routes, dst_cid);
	reachable = dst_cid == VSOCK_HOST_CID || peer_path;
	if (reachable)
		c = vconn_find(v, dst_cid, le32toh(h.dst_port), le32toh(h.src_port));
	/* 5.10.6.4.2: RST for an unknown type (never for an RST). Seqpacket
	 * only to a linked VM: a host program's Unix stream has no records. */
	if (type != VIRTIO_VSOCK_TYPE_STREAM && (type != VIRTIO_VSOCK_TYPE_SEQPACKET || !peer_path)) {
		if (op != VIRTIO_VSOCK_OP_RST)
			vsock_rst_push(v, dst_cid, le32toh(h.dst_port), le32toh(h.src_port), type);
		return;
	}
	if (op == VIRTIO_VSOCK_OP_REQUEST) {
		if (c)
			vconn_abort(v, c); /* a stream cannot start twice */
		else if (peer_path)
			vsock_connect_peer(v, &h, peer_path);
		else if (reachable)
			vsock_connect_host(v, &h);
		else
			refuse_unlinked(v, &h);
		return;
	}
	if (!c || c->type != type) {
		if (op != VIRTIO_VSOCK_OP_RST)
			vsock_rst_push(v, dst_cid, le32toh(h.dst_port), le32toh(h.src_port), type);
		return;
	}
	vconn_guest_packet(v, c, &h, ch, len);
}

static void tx_work(struct vsock *v)
{
	struct virtio_dev *dev = &v->dev;
	struct virtq *vq = &dev->vqs[VSOCK_TXQ];

	for (unsigned int i = 0; i < VSOCK_BUDGET; i++) {
		int ret;

		if (!vq->ready)
			return;
		/* 5.10.6.1: replies we cannot place yet are held outside the
		 * queue; when that space is full, wait for the guest. */
		if (v->rst_count >= VSOCK_RST_QUEUE) {
			v->tx_stalled = true;
			return;
		}
		ret = virtq_pop(vq, &v->tx_chain);
		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "tx ring is broken");
			return;
		}
		if (ret == 1)
			handle_tx_packet(v, &v->tx_chain);
		if (v->tx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VSOCK_TXQ, v->tx_chain.head, 0);
	}
	dev_resched_request(&v->resched);
}

/* Takes an rx chain big enough for a header. 1, 0 (none) or -EIO. */
static int rx_take_chain(struct vsock *v)
{
	struct virtio_dev *dev = &v->dev;

	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++) {
		int ret = virtq_pop(&dev->vqs[VSOCK_RXQ], &v->rx_chain);

		if (ret == 0)
			return 0;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "rx ring is broken");
			return -EIO;
		}
		if (ret == 1 && v->rx_chain.in_bytes >= VSOCK_HDR_LEN)
			return 1;
		if (v->rx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VSOCK_RXQ, v->rx_chain.head, 0);
	}
	return 0;
}

static void rx_work(struct vsock *v)
{
	struct virtio_dev *dev = &v->dev;
	unsigned int sent = 0;

	if (!dev->vqs[VSOCK_RXQ].ready)
		return;
	/* Each turn sends a packet or takes a stream off the queue for
	 * good, except when a chain is too small for any data: the bound
	 * keeps such a guest from spinning us. */
	for (unsigned int turns = 0; sent < VSOCK_BUDGET && turns < 4 * VSOCK_BUDGET &&
				     (v->rst_count || v->q_head);
	     turns++) {
		struct vconn *c;
		uint32_t len;

		if (!v->rx_have) {
			int ret = rx_take_chain(v);

			if (ret <= 0)
				break; /* the guest's next rx kick brings us back */
			v->rx_have = true;
		}
		if (v->rst_count) {
			struct rst_entry *e = &v->rst[v->rst_head];
			struct virtio_vsock_hdr h = {
				.src_cid = htole64(e->peer_cid),
				.dst_cid = htole64(v->cid),
				.src_port = htole32(e->host_port),
				.dst_port = htole32(e->guest_port),
				.type = htole16(e->type),
				.op = htole16(VIRTIO_VSOCK_OP_RST),
			};

			virtq_chain_write(&v->rx_chain, 0, &h, sizeof(h));
			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_count--;
			len = VSOCK_HDR_LEN;
			c = NULL;
		} else {
			c = vconn_dequeue(v);
			len = vconn_build_packet(v, c);
		}
		if (!len && c && vconn_has_rx_work(c)) {
			/* Data waits but this chain has no room past the
			 * header (5.10.6.5 lets the driver post any size):
			 * hand it back unused. */
			virtio_dev_complete(dev, VSOCK_RXQ, v->rx_chain.head, 0);
			v->rx_have = false;
		}
		if (len) {
			virtio_dev_complete(dev, VSOCK_RXQ, v->rx_chain.head, len);
			v->rx_have = false;
			sent++;
		}
		if (c && !vconn_maybe_free(v, c)) {
			vconn_queue(v, c);
			vconn_update_watch(v, c);
		}
	}
	if (v->tx_stalled && v->rst_count < VSOCK_RST_QUEUE) {
		v->tx_stalled = false;
		dev_resched_request(&v->resched);
	}
	if (v->rst_count || v->q_head) {
		if (sent == VSOCK_BUDGET || v->rx_have)
			dev_resched_request(&v->resched);
	}
}

/* ---- device ops ---- */

static void drop_all(struct vsock *v)
{
	while (v->nconns)
		vconn_free(v, v->conns[v->nconns - 1]);
	v->q_head = v->q_tail = NULL;
	v->rst_head = v->rst_count = 0;
	v->tx_stalled = false;
	v->rx_have = false;
	vsock_timer_arm(v, false);
}

static void work(struct vsock *v)
{
	tx_work(v);
	rx_work(v);
	if (v->dev.status & VIRTIO_STATUS_NEEDS_RESET) {
		/* Nothing runs until the driver resets us. */
		drop_all(v);
		dev_watch_set(&v->dev, &v->listener, false);
		dev_watch_set(&v->dev, &v->resched.watch, false);
	}
}

static void vs_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vsock *v = vs_of(dev);

	if (q == VSOCK_TXQ || q == VSOCK_RXQ)
		work(v);
	/* The event queue only holds buffers for events we never send. */
}

static void vs_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vsock *v = vs_of(dev);
	struct vconn *c;

	if (dev_resched_take(&v->resched, fd)) {
		/* fall through to the work below */
	} else if (fd == v->listener.fd) {
		vsock_accept_clients(v);
	} else if (fd == v->timer.fd) {
		uint64_t ticks;

		if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			avp_warn("virtio-vsock: timer: %s", strerror(errno));
		vsock_timer_tick(v);
	} else if ((c = vconn_by_fd(v, fd))) {
		vsock_host_event(v, c, events);
	} else {
		/* A stale event of a stream closed meanwhile. */
		return;
	}
	work(v);
}

/* Seqpacket only where it can go: a linked VM (vsock_route.h). A VM
 * without links keeps Linux's "socket type not supported" for it. */
static uint64_t vs_features(struct virtio_dev *dev)
{
	const struct vsock *v = vs_of(dev);

	return 1ull << VIRTIO_VSOCK_F_STREAM | (v->routes.n ? 1ull << VIRTIO_VSOCK_F_SEQPACKET : 0);
}

static int vs_activate(struct virtio_dev *dev)
{
	struct vsock *v = vs_of(dev);
	int ret = dev_watch_set(dev, &v->resched.watch, true);

	if (!ret)
		ret = dev_watch_set(dev, &v->listener, true);
	return ret;
}

static void vs_reset(struct virtio_dev *dev)
{
	struct vsock *v = vs_of(dev);

	/* The driver forgot every stream: so do we; host programs see their
	 * sockets close. */
	drop_all(v);
	dev_watch_set(dev, &v->listener, false);
	dev_watch_set(dev, &v->resched.watch, false);
	dev_resched_take(&v->resched, v->resched.watch.fd);
}

static void vs_free(struct vsock *v)
{
	drop_all(v);
	vsock_listen_close(v);
	if (v->timer.fd >= 0)
		close(v->timer.fd);
	dev_resched_fini(&v->resched);
	vsock_routes_free(&v->routes);
	free(v->path);
	free(v);
}

static void vs_destroy(struct virtio_dev *dev)
{
	/* First: the transport is gone, so the streams vs_free closes have
	 * nothing to unwatch any more. */
	virtio_dev_fini(dev);
	vs_free(vs_of(dev));
}

static const struct virtio_dev_ops vs_ops = {
	.type = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.features = vs_features,
	.activate = vs_activate,
	.queue_notify = vs_queue_notify,
	.fd_ready = vs_fd_ready,
	.reset = vs_reset,
	.destroy = vs_destroy,
};

/* listen false: no host socket is made (the model --describe shows). */
static int vsock_new(struct virtio_dev **out, const struct avp_vsock_cfg *cfg, bool listen)
{
	struct vsock *v;
	char why[512];
	int ret, tfd;

	if (cfg->cid < AVP_VSOCK_MIN_CID || cfg->cid > AVP_VSOCK_MAX_CID || !cfg->socket)
		return -EINVAL;
	/* PATH_4294967295 must fit a Unix socket address too. */
	if (strlen(cfg->socket) + 11 >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		avp_err("--vsock socket=%s: too long for a Unix socket path (with _PORT appended, "
			"at most %zu bytes)",
			cfg->socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 12);
		return -ENAMETOOLONG;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = vsock_routes_init(&v->routes, cfg, why, sizeof(why));
	if (ret) {
		if (ret == -EINVAL)
			avp_err("--vsock-peer: %s", why);
		free(v);
		return ret;
	}
	dev_watch_init(&v->listener, -1, EPOLLIN);
	dev_watch_init(&v->timer, -1, EPOLLIN);
	v->resched.watch.fd = -1;
	v->cid = cfg->cid;
	v->config.guest_cid = htole64(cfg->cid);
	v->next_host_port = VSOCK_HOST_PORT_BASE;
	v->path = strdup(cfg->socket);
	if (!v->path) {
		vs_free(v);
		return -ENOMEM;
	}
	ret = dev_resched_init(&v->resched);
	if (ret) {
		avp_err("virtio-vsock: eventfd: %s", strerror(-ret));
		vs_free(v);
		return ret;
	}
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0) {
		ret = -errno;
		avp_err("virtio-vsock: timerfd: %s", strerror(-ret));
		vs_free(v);
		return ret;
	}
	dev_watch_init(&v->timer, tfd, EPOLLIN);
	ret = listen ? vsock_listen(v) : 0;
	if (ret) {
		avp_err("--vsock socket=%s: %s", cfg->socket,
			ret == -EADDRINUSE ? "another process is listening there"
			: ret == -EEXIST   ? "the path exists and is not a socket"
					   : strerror(-ret));
		vs_free(v);
		return ret;
	}
	virtio_dev_init(&v->dev, &vs_ops, v, &v->config, sizeof(v->config));
	*out = &v->dev;
	return 0;
}

int virtio_vsock_create(struct virtio_dev **out, const struct avp_vsock_cfg *cfg)
{
	return vsock_new(out, cfg, true);
}

int virtio_vsock_create_model(struct virtio_dev **out, const struct avp_vsock_cfg *cfg)
{
	return vsock_new(out, cfg, false);
}
