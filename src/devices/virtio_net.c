/* virtio-net (VIRTIO 1.2, section 5.1) on a Linux tap.
 *
 * queues=N queue pairs (receiveq 2p, transmitq 2p+1), each on its own fd
 * of a multi-queue tap; with N > 1 the control queue (2N) and
 * VIRTIO_NET_F_MQ, with N == 1 neither (the device is the single-pair one
 * it always was). The multi-queue tap spreads the host's frames over its
 * attached fds by flow (5.1.6.5.5's automatic receive steering is the
 * kernel's); only the pairs the driver enabled (VQ_PAIRS_SET) stay
 * attached, so no frame waits on a receive queue the driver does not
 * serve. One device thread serves every pair: see vnet_create_pairs.
 * Checksum and TCP segmentation offloads both ways (CSUM,
 * HOST_TSO4/6, HOST_ECN; GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN): the 12-byte
 * header is the tap's own (IFF_VNET_HDR), so it passes between driver and
 * kernel nearly as is, and a 64 KiB TCP segment crosses in one frame.
 *
 * TX: each chain's readable part is header + frame. A driver that
 * negotiated none of CSUM/HOST_TSO* must send an all-zero header
 * (5.1.6.2.1), so we send our own zero header and the guest never drives
 * the tap's GSO/checksum parsing. Otherwise the header is copied out of
 * guest memory once and that copy is checked (against the negotiated
 * features and the frame's length) and sent: the guest is hostile and the
 * kernel must see only headers a correct driver could have written.
 * Frames with a bad header are dropped and counted.
 *
 * RX: a frame is read from the tap into a host buffer and then copied into
 * receive chains, merged across several when it does not fit one and the
 * driver accepted VIRTIO_NET_F_MRG_RXBUF (5.1.6.3, 5.1.6.4). We take a
 * frame off the tap only once we hold a receive chain for it: while the
 * driver has posted none, frames wait in the tap's own bounded queue and
 * we stop watching the tap until the driver kicks the receive queue. The
 * one copy costs little next to the read itself and keeps the tap's writes
 * (and its header) out of guest memory. The kernel uses only the offloads
 * the driver accepted (set on the tap at DRIVER_OK, cleared at reset);
 * whatever else it hands us is dropped, never shown to a driver that did
 * not ask for it.
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
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_net.h"
#include "avp/log.h"
#include "avp/net/tap.h"

_Static_assert(VIRTIO_NET_HDR_LEN == TAP_VNET_HDR_LEN, "tap and guest headers must match");

#define ETH_HDR_LEN 14
/* Largest frame a tap can hand us: a 65535-byte MTU or a GSO frame, whose
 * length the tap's gso_max_size (64 KiB) bounds without its Ethernet and
 * VLAN headers, with room to spare as QEMU keeps (its NET_BUFSIZE). The
 * read buffer is one byte longer so that a longer (hence truncated) read
 * can be recognised and dropped. */
#define RX_MAX_FRAME (65536 + 4096)
#define RX_PKT_LEN (VIRTIO_NET_HDR_LEN + RX_MAX_FRAME + 1)
_Static_assert(RX_MAX_FRAME >= 65535 + ETH_HDR_LEN + 4, "a 64 KiB IP packet with VLAN tag fits");

#define F(bit) (1ull << (bit))
/* Driver features that make the TX header more than zeros. */
#define TX_OFFLOADS (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | \
		     F(VIRTIO_NET_F_HOST_ECN))

/* One queue pair and its tap queue: what a frame in flight needs. */
struct vnet_pair {
	int fd;
	uint16_t rxq, txq;
	struct dev_watch tap;
	bool tap_dead; /* read side failed for good: never watch it again */
	bool attached; /* the kernel hands this fd frames */
	int tx_fd;     /* fd, or pair 0's while detached (tx_work) */

	/* The frame being received: header from the tap, then the frame. */
	uint8_t *rx_pkt;
	size_t rx_len;	/* frame bytes in rx_pkt; 0 when none */
	size_t rx_off;	/* frame bytes already copied into chains */
	bool rx_have_first;
	struct virtq_chain rx_first; /* chain that gets the header */
	uint16_t rx_nbufs; /* chains holding the frame so far */
	uint16_t rx_heads[VIRTQ_MAX_SIZE];
	uint32_t rx_lens[VIRTQ_MAX_SIZE];
};

struct vnet {
	struct virtio_dev dev;
	struct virtio_dev_ops ops; /* this device's copy: num_queues is per device */
	struct virtio_net_config config;
	char name[IFNAMSIZ]; /* for messages */
	uint16_t npairs;   /* max_virtqueue_pairs */
	uint16_t cur_pairs; /* pairs the driver enabled (1 until VQ_PAIRS_SET) */
	uint32_t tx_more;  /* pairs whose TX budget ran out, for the resched */
	struct dev_resched resched;
	bool tx_err_logged;
	bool offload_logged;
	bool queue_logged;
	uint64_t tx_bad_hdr; /* frames dropped for their header */
	uint64_t ctrl_bad;   /* control commands refused */
	const struct virtio_net_backend_ops *backend;
	unsigned int tap_offloads; /* as last set on the backend */

	/* Scratch for one chain at a time, shared by the pairs (the one
	 * device thread finishes each before the next). */
	struct virtq_chain tx_chain;
	struct virtio_net_hdr_v1 tx_hdr; /* the copy that is checked and sent */
	uint8_t *tx_linear; /* for chains with more segments than writev takes */
	struct iovec tx_iov[IOV_MAX];
	struct virtq_chain rx_cur;

	/* Nearly all of a pair is its held chain, which is resident only
	 * once a pair is used (vnet_alloc). */
	struct vnet_pair pairs[VIRTIO_NET_MAX_PAIRS];
};
_Static_assert(VIRTIO_NET_MAX_PAIRS <= 32, "tx_more is a bit per pair");

/* struct vnet is 200 KiB, nearly all of it scratch (tx_iov, the chains'
 * iovecs, the pairs a device with few pairs never touches) of which a
 * frame uses the first entries. calloc would clear all
 * of it and so make it resident at creation (glibc serves it from the
 * heap's top, clearing it, whenever the top has room); a mapping of its
 * own is zero already and becomes resident page by page as it is used
 * (docs/footprint.md). Under ASan it stays on the heap, where overflows
 * past its end are caught. */
static struct vnet *vnet_alloc(void)
{
#ifdef __SANITIZE_ADDRESS__
	return calloc(1, sizeof(struct vnet));
#else
	void *p = mmap(NULL, sizeof(struct vnet), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
#endif
}

static void vnet_release(struct vnet *n)
{
#ifdef __SANITIZE_ADDRESS__
	free(n);
#else
	munmap(n, sizeof(*n));
#endif
}

static struct vnet *vnet_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t vnet_features(struct virtio_dev *dev)
{
	/* A single pair offers no control queue: the device stays the one it
	 * was before multiqueue, for drivers and for its cost. */
	uint64_t mq = vnet_of(dev)->npairs > 1 ? F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ) : 0;

	/* 5.1.3.1: each TSO bit comes with the CSUM bit it depends on, and
	 * ECN with TSO, MQ with CTRL_VQ. No UFO/USO: nothing tests them. */
	return mq | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) |
	       F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
	       F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
	       F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN);
}

/* Whether a GSO type is one the negotiated features allow: TCPV4/TCPV6
 * with their TSO bit, the ECN flag only with the ECN bit (5.1.6.2.1 for
 * the driver's frames, 5.1.6.4.2 for ours). tso4/tso6/ecn are feature
 * bits of the direction at hand. */
static bool gso_allowed(const struct virtio_dev *dev, uint8_t gso_type, unsigned int tso4,
			unsigned int tso6, unsigned int ecn)
{
	uint8_t base = gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if ((gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    (base == VIRTIO_NET_HDR_GSO_NONE || !virtio_has_feature(dev, ecn)))
		return false;
	switch (base) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_has_feature(dev, tso4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_has_feature(dev, tso6);
	default:
		return false; /* UDP, USO: never offered */
	}
}

/* ---- transmit ---- */

static void tx_error(struct vnet *n, const char *what, int err)
{
	/* A tap that is down or gone fails every write: say it once. */
	if (!n->tx_err_logged)
		avp_warn("virtio-net %s: %s: %s (dropping frames)", n->name, what, strerror(err));
	n->tx_err_logged = true;
}

/* Checks the driver's header (our copy, h) of a frame_len-byte frame and
 * trims it to what the kernel should see. NULL when it may be sent, else
 * what is wrong with it. */
static const char *tx_hdr_check(const struct virtio_dev *dev, struct virtio_net_hdr_v1 *h,
				size_t frame_len)
{
	uint32_t csum_end = (uint32_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2;
	bool gso = h->gso_type != VIRTIO_NET_HDR_GSO_NONE;

	/* 5.1.6.2.2: the device ignores flag bits it does not know, and the
	 * driver must not set DATA_VALID or RSC_INFO: pass on only NEEDS_CSUM. */
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (h->flags && !virtio_has_feature(dev, VIRTIO_NET_F_CSUM))
		return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
	/* The kernel writes the checksum at csum_start + csum_offset: both
	 * bytes must be in the frame. */
	if (h->flags && csum_end > frame_len)
		return "checksum position outside the frame";
	if (!h->flags)
		h->csum_start = h->csum_offset = 0; /* unused (5.1.6.2.2): not passed on */
	if (!gso_allowed(dev, h->gso_type, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
			 VIRTIO_NET_F_HOST_ECN))
		return "GSO type not negotiated";
	if (gso) {
		/* 5.1.6.2.1: a GSO frame has NEEDS_CSUM and its MSS. */
		if (!h->flags)
			return "GSO without NEEDS_CSUM";
		if (h->gso_size == 0)
			return "GSO with gso_size 0";
		/* A hint only (5.1.6.2.2), but the kernel refuses one past
		 * the frame. */
		if (le16toh(h->hdr_len) > frame_len)
			return "hdr_len past the frame";
	} else {
		/* Meaningless without GSO; the kernel would still look at it. */
		h->hdr_len = 0;
		h->gso_size = 0;
	}
	h->num_buffers = 0;
	return NULL;
}

/* Sends one chain's frame on fd; the chain is completed by the caller either way. */
static void tx_one(struct vnet *n, int fd)
{
	static const uint8_t zero_hdr[VIRTIO_NET_HDR_LEN];
	const struct virtq_chain *c = &n->tx_chain;
	const void *hdr = zero_hdr;
	size_t skip = VIRTIO_NET_HDR_LEN;
	size_t frame_len;
	unsigned int cnt = 1;
	ssize_t ret;

	if (c->out_bytes < VIRTIO_NET_HDR_LEN + ETH_HDR_LEN ||
	    c->out_bytes > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_TX_FRAME)
		return; /* runt or oversized: drop */
	frame_len = c->out_bytes - VIRTIO_NET_HDR_LEN;

	if (n->dev.driver_features & TX_OFFLOADS) {
		const char *bad;

		/* One fetch: the guest may rewrite its header meanwhile, but
		 * what is checked is what is sent. */
		if (virtq_chain_read(c, 0, &n->tx_hdr, sizeof(n->tx_hdr)) != sizeof(n->tx_hdr))
			return;
		bad = tx_hdr_check(&n->dev, &n->tx_hdr, frame_len);
		if (bad) {
			n->tx_bad_hdr++;
			avp_guest_warn(n, "virtio-net %s: bad transmit header (%s), frame dropped",
				       n->name, bad);
			return;
		}
		hdr = &n->tx_hdr;
	}
	n->tx_iov[0] = (struct iovec){ .iov_base = (void *)hdr, .iov_len = VIRTIO_NET_HDR_LEN };
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
	ret = writev(fd, n->tx_iov, (int)cnt);
	if (ret < 0)
		tx_error(n, "write", errno);
	else if ((size_t)ret != VIRTIO_NET_HDR_LEN + frame_len)
		tx_error(n, "write", EMSGSIZE);
}

/* Sends what the driver posted, up to the budget, and interrupts once for
 * the whole batch (the driver may have asked for one per chain). */
static void tx_work(struct vnet *n, struct vnet_pair *p)
{
	struct virtio_dev *dev = &n->dev;
	/* Locals: the calls below could, for all the compiler knows, change
	 * *p, and reloading costs on every frame (bench/datapath.c). */
	const uint16_t txq = p->txq;
	struct virtq *vq = &dev->vqs[txq];
	/* A transmit queue the driver still uses after disabling its pair
	 * (frames posted before VQ_PAIRS_SET) goes out through pair 0, the
	 * queue surely attached (every queue of the tap reaches the same
	 * interface), and the driver gets its buffers back. */
	const int fd = p->tx_fd;
	unsigned int i;

	for (i = 0; i < VIRTIO_NET_TX_BUDGET; i++) {
		int ret = virtq_pop(vq, &n->tx_chain);

		if (ret == 0)
			break; /* empty; virtq_pop asked for the next kick */
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "transmit ring is broken");
			break;
		}
		if (ret == 1)
			tx_one(n, fd);
		/* Every chain goes back, sent or dropped; nothing is written
		 * into transmit buffers. */
		if (n->tx_chain.head != UINT16_MAX) {
			static const uint32_t nothing_written;

			virtio_dev_push_used(dev, txq, &n->tx_chain.head, &nothing_written, 1);
		}
	}
	virtio_dev_signal_used(dev, txq);
	if (i == VIRTIO_NET_TX_BUDGET) {
		n->tx_more |= 1u << (p - n->pairs);
		dev_resched_request(&n->resched);
	}
}

/* ---- receive ---- */

/* Takes the next receive chain with at least min_in writable bytes;
 * unusable ones (malformed, or too small for what they must hold) go back
 * empty. 1: got one; 0: none (a kick will tell us); -EIO: ring broken. */
static int rx_pop(struct vnet *n, struct vnet_pair *p, struct virtq_chain *c, size_t min_in)
{
	struct virtio_dev *dev = &n->dev;
	const uint16_t rxq = p->rxq; /* a local, as in tx_work */
	struct virtq *vq = &dev->vqs[rxq];

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
			virtio_dev_complete(dev, rxq, c->head, 0);
	}
	return 0;
}

static void rx_forget(struct vnet_pair *p)
{
	p->rx_len = 0;
	p->rx_off = 0;
	p->rx_nbufs = 0;
}

/* Gives back every chain holding part of a frame that cannot be delivered;
 * empty, so the driver drops them (its short-packet check). */
static void rx_abort(struct vnet *n, struct vnet_pair *p)
{
	for (unsigned int i = 0; i < p->rx_nbufs; i++)
		virtio_dev_complete(&n->dev, p->rxq, p->rx_heads[i], 0);
	p->rx_have_first = false;
	rx_forget(p);
}

/* Hands the frame's chains to the driver as one group: a driver polling
 * the used ring must not see the first chain (announcing num_buffers)
 * before the rest are there. */
static void rx_publish(struct vnet *n, struct vnet_pair *p)
{
	virtio_dev_push_used(&n->dev, p->rxq, p->rx_heads, p->rx_lens, p->rx_nbufs);
}

/* Copies the pending frame into receive chains.
 * 1: delivered or dropped; 0: waiting for more chains; -EIO: ring broken. */
static int rx_place(struct vnet *n, struct vnet_pair *p)
{
	struct virtio_dev *dev = &n->dev;
	const uint8_t *frame = p->rx_pkt + VIRTIO_NET_HDR_LEN;
	struct virtio_net_hdr_v1 hdr = { 0 };
	size_t w;
	int ret;

	if (p->rx_nbufs == 0) {
		if (!p->rx_have_first) {
			/* 5.1.6.3.1: every receive buffer holds at least the header. */
			ret = rx_pop(n, p, &p->rx_first, VIRTIO_NET_HDR_LEN);
			if (ret <= 0)
				return ret;
			p->rx_have_first = true;
		}
		w = virtq_chain_write(&p->rx_first, VIRTIO_NET_HDR_LEN, frame, p->rx_len);
		if (w < p->rx_len && !virtio_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF)) {
			/* Without merging the frame must fit one chain
			 * (5.1.6.3.1 asks the driver for big enough buffers).
			 * Drop the frame; keep the chain for the next one. */
			avp_guest_warn(n, "virtio-net %s: %zu-byte frame does not fit the guest's "
				       "%zu-byte receive buffer, dropped",
				       n->name, p->rx_len, p->rx_first.in_bytes);
			rx_forget(p);
			return 1;
		}
		p->rx_heads[0] = p->rx_first.head;
		p->rx_lens[0] = (uint32_t)(VIRTIO_NET_HDR_LEN + w);
		p->rx_off = w;
		p->rx_nbufs = 1;
	}

	/* 5.1.6.4: all chains but the last are filled completely, which
	 * virtq_chain_write does by construction. */
	while (p->rx_off < p->rx_len) {
		if (p->rx_nbufs >= dev->vqs[p->rxq].size || p->rx_nbufs >= VIRTQ_MAX_SIZE) {
			/* We hold the whole ring and the frame still does not
			 * fit: no chain can ever come. */
			rx_abort(n, p);
			return 1;
		}
		ret = rx_pop(n, p, &n->rx_cur, 1);
		if (ret <= 0)
			return ret;
		w = virtq_chain_write(&n->rx_cur, 0, frame + p->rx_off, p->rx_len - p->rx_off);
		p->rx_heads[p->rx_nbufs] = n->rx_cur.head;
		p->rx_lens[p->rx_nbufs] = (uint32_t)w;
		p->rx_nbufs++;
		p->rx_off += w;
	}

	/* Without GUEST_CSUM flags and GSO stay zero (5.1.6.4.2); with it
	 * the tap's header goes on (rx_read checked it against what was
	 * negotiated), keeping only the flags the driver knows. num_buffers
	 * is 1 without MRG_RXBUF. */
	if (virtio_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM)) {
		memcpy(&hdr, p->rx_pkt, sizeof(hdr));
		hdr.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	}
	hdr.num_buffers = htole16(p->rx_nbufs);
	virtq_chain_write(&p->rx_first, 0, &hdr, sizeof(hdr));
	rx_publish(n, p);
	p->rx_have_first = false;
	rx_forget(p);
	return 1;
}

static void rx_error(struct vnet *n, struct vnet_pair *p, const char *what, int err)
{
	avp_warn("virtio-net %s: queue pair %td: %s: %s (no more receiving on it)", n->name,
		 p - n->pairs, what, strerror(err));
	p->tap_dead = true;
	dev_watch_set(&n->dev, &p->tap, false);
}

/* Whether the driver agreed to take a frame with the tap's header h
 * (5.1.6.4.2): partial checksums only with GUEST_CSUM, GSO only of the
 * negotiated kinds (and GSO always comes with a partial checksum). */
static bool rx_hdr_ok(const struct virtio_dev *dev, const uint8_t *h)
{
	uint8_t flags = h[0], gso_type = h[1];

	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !virtio_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM))
		return false;
	if (gso_type != VIRTIO_NET_HDR_GSO_NONE && !(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return false;
	return gso_allowed(dev, gso_type, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
			   VIRTIO_NET_F_GUEST_ECN);
}

/* Reads one frame from the tap. 1: got one (or dropped one, rx_len 0);
 * 0: nothing to read; -1: the tap failed. */
static int rx_read(struct vnet *n, struct vnet_pair *p)
{
	ssize_t rd;

	do
		rd = read(p->fd, p->rx_pkt, RX_PKT_LEN);
	while (rd < 0 && errno == EINTR);
	if (rd < 0) {
		if (errno == EAGAIN)
			return 0;
		rx_error(n, p, "read", errno);
		return -1;
	}
	if (rd == 0) {
		rx_error(n, p, "read", EPIPE);
		return -1;
	}
	/* Drop runts, possibly truncated reads, and anything the kernel
	 * should not have sent with the offloads we set. */
	if (rd < VIRTIO_NET_HDR_LEN + ETH_HDR_LEN || rd == RX_PKT_LEN || !rx_hdr_ok(&n->dev, p->rx_pkt))
		return 1;
	p->rx_len = (size_t)rd - VIRTIO_NET_HDR_LEN;
	return 1;
}

/* Moves frames from the tap into the guest until the tap is drained, the
 * receive queue is full or the budget is spent. hangup: the fd reported an
 * error or hangup, which a level-triggered epoll would keep reporting even
 * when a read finds nothing. */
static void rx_batch(struct vnet *n, struct vnet_pair *p, bool hangup)
{
	int ret;

	for (unsigned int i = 0; i < VIRTIO_NET_RX_BUDGET; i++) {
		if (p->rx_len == 0) {
			/* A chain first, then the frame: see the file comment. */
			if (!p->rx_have_first) {
				ret = rx_pop(n, p, &p->rx_first, VIRTIO_NET_HDR_LEN);
				if (ret == 0)
					goto no_buffers;
				if (ret < 0)
					return;
				p->rx_have_first = true;
			}
			ret = rx_read(n, p);
			if (ret == 0 && hangup)
				rx_error(n, p, "read", EIO);
			if (ret <= 0)
				return; /* drained (still watched) or dead */
			if (p->rx_len == 0)
				continue; /* dropped */
		}
		ret = rx_place(n, p);
		if (ret == 0)
			goto no_buffers;
		if (ret < 0)
			return;
	}
	return; /* budget spent; the tap is still readable and brings us back */

no_buffers:
	/* Nothing to receive into: stop watching the tap (it would stay
	 * readable and wake us in a loop) until the driver kicks receiveq. */
	dev_watch_set(&n->dev, &p->tap, false);
}

/* One interrupt for the frames of a batch, as the transmit path. */
static void rx_work(struct vnet *n, struct vnet_pair *p, bool hangup)
{
	rx_batch(n, p, hangup);
	virtio_dev_signal_used(&n->dev, p->rxq);
}

/* ---- device ops ---- */

/* The tap offloads matching what the driver accepted: the kernel then
 * hands us only frames the driver takes. 5.1.3.1: TSO needs GUEST_CSUM (as
 * the kernel's TSO needs its CSUM), ECN needs TSO. */
static unsigned int tap_offloads_for(const struct virtio_dev *dev)
{
	unsigned int o;

	if (!virtio_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o = TAP_OFFLOAD_CSUM;
	if (virtio_has_feature(dev, VIRTIO_NET_F_GUEST_TSO4))
		o |= TAP_OFFLOAD_TSO4;
	if (virtio_has_feature(dev, VIRTIO_NET_F_GUEST_TSO6))
		o |= TAP_OFFLOAD_TSO6;
	if ((o & (TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6)) && virtio_has_feature(dev, VIRTIO_NET_F_GUEST_ECN))
		o |= TAP_OFFLOAD_TSO_ECN;
	return o;
}

static void set_tap_offloads(struct vnet *n, unsigned int offloads)
{
	int ret;

	if (offloads == n->tap_offloads)
		return;
	/* The offloads are the interface's, not a queue's: pair 0's fd
	 * (always attached) sets them for all. */
	ret = n->backend->set_offload(n->pairs[0].fd, offloads);
	if (ret == 0) {
		n->tap_offloads = offloads;
		return;
	}
	/* Not fatal: rx_read drops what the driver did not agree to, and
	 * sending offloaded frames does not depend on this. */
	if (!n->offload_logged)
		avp_warn("virtio-net %s: setting tap offloads 0x%x: %s (going on without)", n->name,
			 offloads, strerror(-ret));
	n->offload_logged = true;
}

/* ---- queue pairs and the control queue ---- */

/* The control queue's index (5.1.2): 2N with MQ, else 2 (the driver took
 * CTRL_VQ alone); -1 without CTRL_VQ. */
static int ctrl_queue(const struct vnet *n)
{
	if (!virtio_has_feature(&n->dev, VIRTIO_NET_F_CTRL_VQ))
		return -1;
	return virtio_has_feature(&n->dev, VIRTIO_NET_F_MQ) ? 2 * n->npairs : 2;
}

/* Attaches or detaches pair p's tap queue. A failure is said once and
 * otherwise borne: a queue left detached gets no frames (its transmit
 * queue goes out through pair 0), one left attached gets the flows the
 * kernel steers to it, read while the pair is enabled and dropped with
 * the queue's backlog otherwise. */
static void pair_attach(struct vnet *n, struct vnet_pair *p, bool attach)
{
	int ret;

	if (p->attached == attach || !n->backend->set_queue)
		return;
	ret = n->backend->set_queue(p->fd, attach);
	if (ret == 0) {
		p->attached = attach;
		p->tx_fd = attach ? p->fd : n->pairs[0].fd;
		return;
	}
	if (!n->queue_logged)
		avp_warn("virtio-net %s: %s tap queue %td: %s", n->name,
			 attach ? "attaching" : "detaching", p - n->pairs, strerror(-ret));
	n->queue_logged = true;
}

/* Pairs 0..k-1 receive from now on (watched when running, else from
 * activation on), the others neither receive nor hold a frame (5.1.6.5.5:
 * nothing is queued on a receiveq past virtqueue_pairs once the command
 * is answered). */
static void set_pairs(struct vnet *n, uint16_t k, bool running)
{
	for (uint16_t i = 0; i < n->npairs; i++) {
		struct vnet_pair *p = &n->pairs[i];
		bool on = i < k;

		pair_attach(n, p, on);
		if (!on) {
			dev_watch_set(&n->dev, &p->tap, false);
			/* Chains holding part of a frame go back empty (the
			 * driver counts a length error); a chain holding
			 * nothing yet stays ours until the reset. */
			if (p->rx_nbufs)
				rx_abort(n, p);
			rx_forget(p);
		} else if (running && !p->tap_dead) {
			dev_watch_set(&n->dev, &p->tap, true);
		}
	}
	n->cur_pairs = k;
}

/* One command (5.1.6.5): the class and command, their data, and the ack
 * the caller writes. */
static uint8_t ctrl_command(struct vnet *n, const struct virtq_chain *c)
{
	uint8_t hdr[2];
	uint16_t pairs;

	/* Only a running device changes its pairs (the transport does not
	 * hand us kicks before DRIVER_OK; this holds if that changes). */
	if (!(n->dev.status & VIRTIO_STATUS_DRIVER_OK) || c->out_bytes < sizeof(hdr) ||
	    virtq_chain_read(c, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_NET_ERR;
	/* 5.1.6.5.5: VQ_PAIRS_SET only with MQ, its one le16 within
	 * 1..max_virtqueue_pairs. Every other command (RX mode, MAC, VLAN,
	 * announce, offloads) belongs to a feature not offered. */
	if (hdr[0] != VIRTIO_NET_CTRL_MQ || hdr[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    !virtio_has_feature(&n->dev, VIRTIO_NET_F_MQ) ||
	    c->out_bytes != sizeof(hdr) + sizeof(pairs) ||
	    virtq_chain_read(c, sizeof(hdr), &pairs, sizeof(pairs)) != sizeof(pairs))
		return VIRTIO_NET_ERR;
	pairs = le16toh(pairs);
	if (pairs < 1 || pairs > n->npairs)
		return VIRTIO_NET_ERR;
	set_pairs(n, pairs, true);
	return VIRTIO_NET_OK;
}

static void ctrl_work(struct vnet *n, uint16_t q)
{
	struct virtio_dev *dev = &n->dev;
	struct virtq_chain *c = &n->tx_chain;

	/* Commands are rare (one per ethtool -L): no budget needed beyond
	 * the ring's size, which bounds what one kick can hold. */
	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++) {
		int ret = virtq_pop(&dev->vqs[q], c);
		uint32_t written = 0;

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "control ring is broken");
			return;
		}
		if (ret == 1 && c->in_bytes >= 1) {
			uint8_t ack = ctrl_command(n, c);

			if (ack != VIRTIO_NET_OK)
				n->ctrl_bad++;
			/* The ack is the command's last byte (5.1.6.5). */
			written = (uint32_t)virtq_chain_write(c, c->in_bytes - 1, &ack, 1);
			written = written ? (uint32_t)c->in_bytes : 0;
		}
		if (c->head != UINT16_MAX)
			virtio_dev_complete(dev, q, c->head, written);
	}
}

/* ---- device ops ---- */

static void quiesce(struct vnet *n)
{
	for (uint16_t i = 0; i < n->npairs; i++)
		dev_watch_set(&n->dev, &n->pairs[i].tap, false);
	dev_watch_set(&n->dev, &n->resched.watch, false);
}

/* After the driver broke a ring, nothing runs until it resets us; stop
 * waiting on fds that would otherwise stay ready. */
static void check_broken(struct vnet *n)
{
	if (n->dev.status & VIRTIO_STATUS_NEEDS_RESET)
		quiesce(n);
}

/* The even queues: receive queues, and the control queue, which is even
 * and past the enabled pairs (2N with MQ; 2 without, when only pair 0
 * can be enabled). Out of line so that the transmit path's kick does not
 * pay for this one's stack frame (bench/datapath.c). */
__attribute__((noinline)) static void notify_even(struct vnet *n, uint16_t q)
{
	struct vnet_pair *p = &n->pairs[q / 2];

	if (q / 2 < n->cur_pairs) {
		if (!p->tap_dead) {
			if (!p->tap.active)
				dev_watch_set(&n->dev, &p->tap, true);
			rx_work(n, p, false);
		}
	} else if (q == ctrl_queue(n)) {
		ctrl_work(n, q);
	}
}

static void vnet_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vnet *n = vnet_of(dev);

	/* The transport kicks only q < num_queues: an odd one is pair
	 * q / 2's transmit queue (2N + 1 queues with N > 1, else 2). */
	if (q & 1)
		tx_work(n, &n->pairs[q / 2]);
	else
		notify_even(n, q);
	check_broken(n);
}

/* The pairs whose transmit budget ran out, once the thread looked at its
 * other events; out of line for the receive path's sake, as notify_even. */
__attribute__((noinline)) static void tx_resume(struct vnet *n)
{
	uint32_t more = n->tx_more;

	n->tx_more = 0;
	for (uint16_t i = 0; more; i++, more >>= 1)
		if (more & 1)
			tx_work(n, &n->pairs[i]);
}

static void vnet_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vnet *n = vnet_of(dev);
	uint16_t i;

	/* A tap queue first: the common case, and the eventfd is never one. */
	for (i = 0; i < n->cur_pairs && fd != n->pairs[i].fd; i++)
		;
	if (i < n->cur_pairs) {
		if (!n->pairs[i].tap_dead)
			rx_work(n, &n->pairs[i], events & (EPOLLERR | EPOLLHUP));
	} else if (dev_resched_take(&n->resched, fd)) {
		tx_resume(n);
	}
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
	set_tap_offloads(n, tap_offloads_for(dev));
	for (uint16_t i = 0; i < n->cur_pairs; i++) {
		struct vnet_pair *p = &n->pairs[i];

		if (!p->tap_dead) {
			ret = dev_watch_set(dev, &p->tap, true);
			if (ret)
				return ret;
		}
	}
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
	n->tx_more = 0;
	for (uint16_t i = 0; i < n->npairs; i++) {
		n->pairs[i].rx_have_first = false;
		rx_forget(&n->pairs[i]);
	}
	/* 5.1.6.5.5: one pair until the next driver asks for more. */
	set_pairs(n, 1, false);
	/* The next driver may accept fewer offloads. Frames the kernel
	 * offloaded meanwhile are dropped by rx_read. */
	set_tap_offloads(n, 0);
}

unsigned int virtio_net_max_pairs(const struct virtio_dev *dev)
{
	return ((const struct vnet *)dev->priv)->npairs;
}

static void vnet_free(struct vnet *n)
{
	if (n->tx_bad_hdr)
		avp_info("virtio-net %s: %llu frames with bad transmit headers dropped", n->name,
			 (unsigned long long)n->tx_bad_hdr);
	if (n->ctrl_bad)
		avp_info("virtio-net %s: %llu control commands refused", n->name,
			 (unsigned long long)n->ctrl_bad);
	for (uint16_t i = 0; i < VIRTIO_NET_MAX_PAIRS; i++) {
		if (n->pairs[i].fd >= 0)
			close(n->pairs[i].fd);
		free(n->pairs[i].rx_pkt);
	}
	dev_resched_fini(&n->resched);
	free(n->tx_linear);
	vnet_release(n);
}

static void vnet_destroy(struct virtio_dev *dev)
{
	virtio_dev_fini(dev);
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

static const struct virtio_net_backend_ops tap_backend = {
	.set_offload = tap_set_offload,
	.set_queue = tap_set_queue,
};

int virtio_net_create_fd(struct virtio_dev **out, const struct avp_net_cfg *cfg, int fd)
{
	return virtio_net_create_pairs(out, cfg, &fd, 1, &tap_backend);
}

int virtio_net_create_backend(struct virtio_dev **out, const struct avp_net_cfg *cfg, int fd,
			      const struct virtio_net_backend_ops *backend)
{
	return virtio_net_create_pairs(out, cfg, &fd, 1, backend);
}

/* A model without a backend to control (--describe): nothing to set. */
static int no_offload(int fd, unsigned int offloads)
{
	(void)fd;
	(void)offloads;
	return 0;
}

static const struct virtio_net_backend_ops no_backend = { .set_offload = no_offload };

static void close_fds(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

/* Threading: one device thread serves every pair. Per frame avp copies
 * and checks a header (about 700 instructions a frame sent, 1000 a frame
 * received, bench/datapath.c; 0.6-0.7 us of CPU with the system calls,
 * README "Network queues"); the read, the write and the copy of the
 * frame are the kernel's or the memcpy's, and on the guest's side each
 * vCPU already has its own queues, interrupts and no shared lock, which
 * is what multiqueue is for. A thread per pair would add a wake-up and a
 * thread's memory per pair without taking work off anyone on a machine
 * where the vCPUs already want every core; one thread keeps the pairs
 * fair by the per-wakeup budgets (as virtio-blk's queues, README "Disk
 * I/O"). */
int virtio_net_create_pairs(struct virtio_dev **out, const struct avp_net_cfg *cfg,
			    const int *fds, unsigned int npairs,
			    const struct virtio_net_backend_ops *backend)
{
	struct vnet *n;
	int ret;

	if (npairs < 1 || npairs > VIRTIO_NET_MAX_PAIRS) {
		close_fds(fds, npairs > VIRTIO_NET_MAX_PAIRS ? VIRTIO_NET_MAX_PAIRS : npairs);
		return -EINVAL;
	}
	/* The device thread must never block on its backend. */
	for (unsigned int i = 0; i < npairs; i++) {
		int fl = fcntl(fds[i], F_GETFL);

		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0) {
			ret = -errno;
			close_fds(fds, npairs);
			return ret;
		}
	}
	n = vnet_alloc();
	if (!n) {
		close_fds(fds, npairs);
		return -ENOMEM;
	}
	n->npairs = (uint16_t)npairs;
	n->cur_pairs = (uint16_t)npairs; /* all attached, as opened */
	n->backend = backend ? backend : &no_backend;
	snprintf(n->name, sizeof(n->name), "%s", cfg->tap ? cfg->tap : "(fd)");
	ret = 0;
	for (unsigned int i = 0; i < VIRTIO_NET_MAX_PAIRS; i++) {
		struct vnet_pair *p = &n->pairs[i];

		p->fd = i < npairs ? fds[i] : -1;
		if (i >= npairs)
			continue;
		p->rxq = VIRTIO_NET_RXQ_OF(i);
		p->txq = VIRTIO_NET_TXQ_OF(i);
		p->attached = true;
		p->tx_fd = p->fd;
		dev_watch_init(&p->tap, p->fd, EPOLLIN);
		if (!(p->rx_pkt = malloc(RX_PKT_LEN)))
			ret = -ENOMEM;
	}
	n->tx_linear = malloc(VIRTIO_NET_MAX_TX_FRAME);
	if (!n->tx_linear && !ret)
		ret = -ENOMEM;
	if (!ret)
		ret = dev_resched_init(&n->resched);
	if (ret) {
		vnet_free(n);
		return ret;
	}

	if (cfg->mac_set)
		memcpy(n->config.mac, cfg->mac, sizeof(n->config.mac));
	else
		mac_from_name(cfg->tap, n->config.mac);
	/* We cannot see the tap's carrier; the link is up for the guest. */
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->config.max_virtqueue_pairs = htole16(n->npairs);

	n->ops = vnet_ops;
	n->ops.num_queues = (uint16_t)(npairs > 1 ? 2 * npairs + 1 : 2);
	virtio_dev_init(&n->dev, &n->ops, n, &n->config, sizeof(n->config));
	/* Until a driver enables more, the tap gives pair 0 every frame. */
	set_pairs(n, 1, false);
	*out = &n->dev;
	return 0;
}

int virtio_net_create(struct virtio_dev **out, const struct avp_net_cfg *cfg)
{
	char ifname[IFNAMSIZ];
	struct avp_net_cfg named = *cfg;
	unsigned int want = cfg->queues ? cfg->queues : 1;
	int fds[VIRTIO_NET_MAX_PAIRS];
	int n;

	if (want > VIRTIO_NET_MAX_PAIRS)
		want = VIRTIO_NET_MAX_PAIRS;
	n = tap_open_queues(cfg->tap, ifname, fds, want);
	if (n < 0)
		return n;
	if ((unsigned int)n < want) {
		/* The default (a pair per vCPU) must not break a tap made
		 * without multi_queue: say it quietly then, loudly when
		 * queues= asked for more. */
		if (cfg->queues_given)
			avp_warn("virtio-net %s: the tap is not a multi-queue one: 1 queue pair, not "
				 "%u (recreate it with `ip tuntap add %s mode tap multi_queue`)",
				 ifname, want, ifname);
		else
			avp_info("virtio-net %s: single-queue tap: 1 queue pair", ifname);
	}
	/* With "%d" in the name the kernel picked one: use it for messages
	 * and for the MAC, which then still follows the interface. */
	named.tap = ifname;
	return virtio_net_create_pairs(out, &named, fds, (unsigned int)n, &tap_backend);
}
