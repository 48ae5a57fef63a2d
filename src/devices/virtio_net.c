/* virtio-net (VIRTIO 1.2, section 5.1) on a Linux tap.
 *
 * One receive queue (0) and one transmit queue (1); no control queue, no
 * multiqueue and no offloads, so frames are plain and fully checksummed in
 * both directions and the 12-byte header carries only num_buffers.
 *
 * TX: each chain's readable part is header + frame. The driver's header is
 * not handed to the kernel: without offload features it must be all zero
 * (5.1.6.2), so we send our own zero header followed by the frame, and the
 * guest never drives the tap's GSO/checksum parsing.
 *
 * RX: a frame is read from the tap into a host buffer and then copied into
 * receive chains, merged across several when it does not fit one and the
 * driver accepted VIRTIO_NET_F_MRG_RXBUF (5.1.6.3, 5.1.6.4). We take a
 * frame off the tap only once we hold a receive chain for it: while the
 * driver has posted none, frames wait in the tap's own bounded queue and
 * we stop watching the tap until the driver kicks the receive queue. The
 * one copy costs little next to the read itself and keeps the tap's writes
 * (and its header) out of guest memory.
 *
 * Work per wakeup is bounded (VIRTIO_NET_*_BUDGET). The tap is watched
 * level-triggered, so unread frames bring us back; unfinished TX work asks
 * to be called back through a self-kick eventfd (dev_wait.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "avp/devices.h"
#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_net.h"
#include "avp/log.h"
#include "avp/net/tap.h"

_Static_assert(VIRTIO_NET_HDR_LEN == TAP_VNET_HDR_LEN, "tap and guest headers must match");

#define ETH_HDR_LEN 14
/* Largest frame a tap can hand us: a 65535-byte MTU, Ethernet header and
 * one VLAN tag. The read buffer is one byte longer so that a longer (hence
 * truncated) read can be recognised and dropped. */
#define RX_MAX_FRAME (65535 + ETH_HDR_LEN + 4)
#define RX_PKT_LEN (VIRTIO_NET_HDR_LEN + RX_MAX_FRAME + 1)
#define HDR_NUM_BUFFERS_OFF 10

struct vnet {
	struct virtio_dev dev;
	struct virtio_net_config config;
	char name[IFNAMSIZ]; /* for messages */
	int fd;
	struct dev_watch tap;
	struct dev_resched resched;
	bool tap_dead; /* read side failed for good: never watch it again */
	bool tx_err_logged;
	bool rx_err_logged;

	struct virtq_chain tx_chain;
	uint8_t *tx_linear; /* for chains with more segments than writev takes */
	struct iovec tx_iov[IOV_MAX];

	/* The frame being received: header from the tap, then the frame. */
	uint8_t *rx_pkt;
	size_t rx_len;	/* frame bytes in rx_pkt; 0 when none */
	size_t rx_off;	/* frame bytes already copied into chains */
	bool rx_have_first;
	struct virtq_chain rx_first; /* chain that gets the header */
	struct virtq_chain rx_cur;
	uint16_t rx_nbufs; /* chains holding the frame so far */
	uint16_t rx_heads[VIRTQ_MAX_SIZE];
	uint32_t rx_lens[VIRTQ_MAX_SIZE];
};

static struct vnet *vnet_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t vnet_features(struct virtio_dev *dev)
{
	(void)dev;
	return (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
	       (1ull << VIRTIO_NET_F_MRG_RXBUF);
}

/* ---- transmit ---- */

static void tx_error(struct vnet *n, const char *what, int err)
{
	/* A tap that is down or gone fails every write: say it once. */
	if (!n->tx_err_logged)
		avp_warn("virtio-net %s: %s: %s (dropping frames)", n->name, what, strerror(err));
	n->tx_err_logged = true;
}

/* Sends one chain's frame; the chain is completed by the caller either way. */
static void tx_one(struct vnet *n)
{
	static const uint8_t zero_hdr[VIRTIO_NET_HDR_LEN];
	const struct virtq_chain *c = &n->tx_chain;
	size_t skip = VIRTIO_NET_HDR_LEN;
	size_t frame_len;
	unsigned int cnt = 1;
	ssize_t ret;

	if (c->out_bytes < VIRTIO_NET_HDR_LEN + ETH_HDR_LEN ||
	    c->out_bytes > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_TX_FRAME)
		return; /* runt or oversized: drop */
	frame_len = c->out_bytes - VIRTIO_NET_HDR_LEN;

	n->tx_iov[0] = (struct iovec){ .iov_base = (void *)zero_hdr, .iov_len = sizeof(zero_hdr) };
	for (unsigned int i = 0; i < c->n_out; i++) {
		const struct iovec *v = &c->iov[i];

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		if (cnt == IOV_MAX) {
			cnt = 0; /* more segments than writev takes */
			break;
		}
		n->tx_iov[cnt++] = (struct iovec){
			.iov_base = (uint8_t *)v->iov_base + skip,
			.iov_len = v->iov_len - skip,
		};
		skip = 0;
	}
	if (cnt == 0) {
		/* Rare (a 1024-segment chain): gather into one buffer. */
		if (virtq_chain_read(c, VIRTIO_NET_HDR_LEN, n->tx_linear, frame_len) != frame_len)
			return;
		n->tx_iov[1] = (struct iovec){ .iov_base = n->tx_linear, .iov_len = frame_len };
		cnt = 2;
	}

	/* The guest may rewrite the frame while the kernel copies it; that
	 * only garbles its own packet. */
	ret = writev(n->fd, n->tx_iov, (int)cnt);
	if (ret < 0)
		tx_error(n, "write", errno);
	else if ((size_t)ret != VIRTIO_NET_HDR_LEN + frame_len)
		tx_error(n, "write", EMSGSIZE);
}

static void tx_work(struct vnet *n)
{
	struct virtio_dev *dev = &n->dev;
	struct virtq *vq = &dev->vqs[VIRTIO_NET_TXQ];

	for (unsigned int i = 0; i < VIRTIO_NET_TX_BUDGET; i++) {
		int ret = virtq_pop(vq, &n->tx_chain);

		if (ret == 0)
			return; /* empty; virtq_pop asked for the next kick */
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "transmit ring is broken");
			return;
		}
		if (ret == 1)
			tx_one(n);
		/* Every chain goes back, sent or dropped; nothing is written
		 * into transmit buffers. */
		if (n->tx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_NET_TXQ, n->tx_chain.head, 0);
	}
	dev_resched_request(&n->resched);
}

/* ---- receive ---- */

/* Takes the next receive chain with at least min_in writable bytes;
 * unusable ones (malformed, or too small for what they must hold) go back
 * empty. 1: got one; 0: none (a kick will tell us); -EIO: ring broken. */
static int rx_pop(struct vnet *n, struct virtq_chain *c, size_t min_in)
{
	struct virtio_dev *dev = &n->dev;
	struct virtq *vq = &dev->vqs[VIRTIO_NET_RXQ];

	/* Bounded so that a driver posting only useless chains cannot keep
	 * us here; it then waits for its next kick, its own loss. */
	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++) {
		int ret = virtq_pop(vq, c);

		if (ret == 0)
			return 0;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "receive ring is broken");
			return -EIO;
		}
		if (ret == 1 && c->in_bytes >= min_in)
			return 1;
		if (c->head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_NET_RXQ, c->head, 0);
	}
	return 0;
}

static void rx_forget(struct vnet *n)
{
	n->rx_len = 0;
	n->rx_off = 0;
	n->rx_nbufs = 0;
}

/* Gives back every chain holding part of a frame that cannot be delivered;
 * empty, so the driver drops them (its short-packet check). */
static void rx_abort(struct vnet *n)
{
	for (unsigned int i = 0; i < n->rx_nbufs; i++)
		virtio_dev_complete(&n->dev, VIRTIO_NET_RXQ, n->rx_heads[i], 0);
	n->rx_have_first = false;
	rx_forget(n);
}

/* Hands the frame's chains to the driver as one group: a driver polling
 * the used ring must not see the first chain (announcing num_buffers)
 * before the rest are there. */
static void rx_publish(struct vnet *n)
{
	virtio_dev_complete_many(&n->dev, VIRTIO_NET_RXQ, n->rx_heads, n->rx_lens, n->rx_nbufs);
}

/* Copies the pending frame into receive chains.
 * 1: delivered or dropped; 0: waiting for more chains; -EIO: ring broken. */
static int rx_place(struct vnet *n)
{
	struct virtio_dev *dev = &n->dev;
	const uint8_t *frame = n->rx_pkt + VIRTIO_NET_HDR_LEN;
	uint8_t hdr[VIRTIO_NET_HDR_LEN] = { 0 };
	uint16_t nb;
	size_t w;
	int ret;

	if (n->rx_nbufs == 0) {
		if (!n->rx_have_first) {
			/* 5.1.6.3.1: every receive buffer holds at least the header. */
			ret = rx_pop(n, &n->rx_first, VIRTIO_NET_HDR_LEN);
			if (ret <= 0)
				return ret;
			n->rx_have_first = true;
		}
		w = virtq_chain_write(&n->rx_first, VIRTIO_NET_HDR_LEN, frame, n->rx_len);
		if (w < n->rx_len && !virtio_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF)) {
			/* Without merging the frame must fit one chain
			 * (5.1.6.3.1 asks the driver for big enough buffers).
			 * Drop the frame; keep the chain for the next one. */
			if (!n->rx_err_logged)
				avp_warn("virtio-net %s: %zu-byte frame does not fit the guest's "
					 "%zu-byte receive buffer, dropped",
					 n->name, n->rx_len, n->rx_first.in_bytes);
			n->rx_err_logged = true;
			rx_forget(n);
			return 1;
		}
		n->rx_heads[0] = n->rx_first.head;
		n->rx_lens[0] = (uint32_t)(VIRTIO_NET_HDR_LEN + w);
		n->rx_off = w;
		n->rx_nbufs = 1;
	}

	/* 5.1.6.4: all chains but the last are filled completely, which
	 * virtq_chain_write does by construction. */
	while (n->rx_off < n->rx_len) {
		if (n->rx_nbufs >= dev->vqs[VIRTIO_NET_RXQ].size || n->rx_nbufs >= VIRTQ_MAX_SIZE) {
			/* We hold the whole ring and the frame still does not
			 * fit: no chain can ever come. */
			rx_abort(n);
			return 1;
		}
		ret = rx_pop(n, &n->rx_cur, 1);
		if (ret <= 0)
			return ret;
		w = virtq_chain_write(&n->rx_cur, 0, frame + n->rx_off, n->rx_len - n->rx_off);
		n->rx_heads[n->rx_nbufs] = n->rx_cur.head;
		n->rx_lens[n->rx_nbufs] = (uint32_t)w;
		n->rx_nbufs++;
		n->rx_off += w;
	}

	/* Our own header: no offloads, so flags and GSO stay zero (5.1.6.4
	 * requires that when GUEST_CSUM is not negotiated); num_buffers is 1
	 * without MRG_RXBUF. */
	nb = htole16(n->rx_nbufs);
	memcpy(hdr + HDR_NUM_BUFFERS_OFF, &nb, sizeof(nb));
	virtq_chain_write(&n->rx_first, 0, hdr, sizeof(hdr));
	rx_publish(n);
	n->rx_have_first = false;
	rx_forget(n);
	return 1;
}

static void rx_error(struct vnet *n, const char *what, int err)
{
	avp_warn("virtio-net %s: %s: %s (no more receiving)", n->name, what, strerror(err));
	n->tap_dead = true;
	dev_watch_set(&n->dev, &n->tap, false);
}

/* Reads one frame from the tap. 1: got one (or dropped one, rx_len 0);
 * 0: nothing to read; -1: the tap failed. */
static int rx_read(struct vnet *n)
{
	ssize_t rd;
	uint16_t gso_type;

	do
		rd = read(n->fd, n->rx_pkt, RX_PKT_LEN);
	while (rd < 0 && errno == EINTR);
	if (rd < 0) {
		if (errno == EAGAIN)
			return 0;
		rx_error(n, "read", errno);
		return -1;
	}
	if (rd == 0) {
		rx_error(n, "read", EPIPE);
		return -1;
	}
	/* Drop runts, possibly truncated reads, and anything the kernel
	 * should not send with offloads off: the driver did not negotiate
	 * GSO or partial checksums and cannot take them (5.1.6.4). */
	gso_type = n->rx_pkt[1];
	if (rd < VIRTIO_NET_HDR_LEN + ETH_HDR_LEN || rd == RX_PKT_LEN ||
	    gso_type != VIRTIO_NET_HDR_GSO_NONE || (n->rx_pkt[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 1;
	n->rx_len = (size_t)rd - VIRTIO_NET_HDR_LEN;
	return 1;
}

/* hangup: the fd reported an error or hangup, which a level-triggered
 * epoll would keep reporting even when a read finds nothing. */
static void rx_work(struct vnet *n, bool hangup)
{
	int ret;

	for (unsigned int i = 0; i < VIRTIO_NET_RX_BUDGET; i++) {
		if (n->rx_len == 0) {
			/* A chain first, then the frame: see the file comment. */
			if (!n->rx_have_first) {
				ret = rx_pop(n, &n->rx_first, VIRTIO_NET_HDR_LEN);
				if (ret == 0)
					goto no_buffers;
				if (ret < 0)
					return;
				n->rx_have_first = true;
			}
			ret = rx_read(n);
			if (ret == 0 && hangup)
				rx_error(n, "read", EIO);
			if (ret <= 0)
				return; /* drained (still watched) or dead */
			if (n->rx_len == 0)
				continue; /* dropped */
		}
		ret = rx_place(n);
		if (ret == 0)
			goto no_buffers;
		if (ret < 0)
			return;
	}
	return; /* budget spent; the tap is still readable and brings us back */

no_buffers:
	/* Nothing to receive into: stop watching the tap (it would stay
	 * readable and wake us in a loop) until the driver kicks receiveq. */
	dev_watch_set(&n->dev, &n->tap, false);
}

/* ---- device ops ---- */

static void quiesce(struct vnet *n)
{
	dev_watch_set(&n->dev, &n->tap, false);
	dev_watch_set(&n->dev, &n->resched.watch, false);
}

/* After the driver broke a ring, nothing runs until it resets us; stop
 * waiting on fds that would otherwise stay ready. */
static void check_broken(struct vnet *n)
{
	if (n->dev.status & VIRTIO_STATUS_NEEDS_RESET)
		quiesce(n);
}

static void vnet_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vnet *n = vnet_of(dev);

	if (q == VIRTIO_NET_TXQ) {
		tx_work(n);
	} else if (q == VIRTIO_NET_RXQ && !n->tap_dead) {
		if (!n->tap.active)
			dev_watch_set(dev, &n->tap, true);
		rx_work(n, false);
	}
	check_broken(n);
}

static void vnet_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vnet *n = vnet_of(dev);

	if (dev_resched_take(&n->resched, fd))
		tx_work(n);
	else if (fd == n->fd && !n->tap_dead)
		rx_work(n, events & (EPOLLERR | EPOLLHUP));
	check_broken(n);
}

static int vnet_activate(struct virtio_dev *dev)
{
	struct vnet *n = vnet_of(dev);
	int ret;

	/* Registering again is harmless, and the transport may have dropped
	 * our fds without telling us. */
	ret = dev_watch_set(dev, &n->resched.watch, true);
	if (ret)
		return ret;
	if (!n->tap_dead)
		return dev_watch_set(dev, &n->tap, true);
	return 0;
}

static void vnet_reset(struct virtio_dev *dev)
{
	struct vnet *n = vnet_of(dev);

	/* The chains we held belong to the old queue; the driver reclaims
	 * them on reset. A frame not yet delivered is lost, as on a real
	 * NIC. */
	quiesce(n);
	dev_resched_take(&n->resched, n->resched.watch.fd);
	n->rx_have_first = false;
	rx_forget(n);
}

static void vnet_free(struct vnet *n)
{
	if (n->fd >= 0)
		close(n->fd);
	dev_resched_fini(&n->resched);
	free(n->rx_pkt);
	free(n->tx_linear);
	free(n);
}

static void vnet_destroy(struct virtio_dev *dev)
{
	pthread_mutex_destroy(&dev->lock);
	vnet_free(vnet_of(dev));
}

static const struct virtio_dev_ops vnet_ops = {
	.type = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.features = vnet_features,
	.activate = vnet_activate,
	.queue_notify = vnet_queue_notify,
	.fd_ready = vnet_fd_ready,
	.reset = vnet_reset,
	.destroy = vnet_destroy,
};

/* A locally administered, unicast MAC (52:54:00 prefix, 0x02 bit set in
 * the first octet) that stays the same for the same tap name, so the
 * guest keeps its DHCP lease across restarts. FNV-1a over the name. */
static void mac_from_name(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *p = name ? name : ""; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 16777619u;
	}
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

int virtio_net_create_fd(struct virtio_dev **out, const struct avp_net_cfg *cfg, int fd)
{
	struct vnet *n;
	int fl = fcntl(fd, F_GETFL);
	int ret;

	/* The device thread must never block on its backend. */
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	n->fd = fd;
	snprintf(n->name, sizeof(n->name), "%s", cfg->tap ? cfg->tap : "(fd)");
	n->rx_pkt = malloc(RX_PKT_LEN);
	n->tx_linear = malloc(VIRTIO_NET_MAX_TX_FRAME);
	ret = dev_resched_init(&n->resched);
	if (!n->rx_pkt || !n->tx_linear || ret) {
		vnet_free(n);
		return ret ? ret : -ENOMEM;
	}
	dev_watch_init(&n->tap, fd, EPOLLIN);

	if (cfg->mac_set)
		memcpy(n->config.mac, cfg->mac, sizeof(n->config.mac));
	else
		mac_from_name(cfg->tap, n->config.mac);
	/* We cannot see the tap's carrier; the link is up for the guest. */
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->config.max_virtqueue_pairs = htole16(1);

	virtio_dev_init(&n->dev, &vnet_ops, n, &n->config, sizeof(n->config));
	*out = &n->dev;
	return 0;
}

int virtio_net_create(struct virtio_dev **out, const struct avp_net_cfg *cfg)
{
	char ifname[IFNAMSIZ];
	struct avp_net_cfg named = *cfg;
	int fd = tap_open(cfg->tap, ifname);

	if (fd < 0)
		return fd;
	/* With "%d" in the name the kernel picked one: use it for messages
	 * and for the MAC, which then still follows the interface. */
	named.tap = ifname;
	return virtio_net_create_fd(out, &named, fd);
}
