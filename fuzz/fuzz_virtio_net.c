/* libFuzzer target: virtio-net (src/devices/virtio_net.c), both paths.
 *
 * The device's tap is one end of a SOCK_SEQPACKET socketpair, which keeps
 * a tap's framing (one frame with its 12-byte virtio_net_hdr per message).
 * The fuzzer drives the guest side through the common grammar
 * (fuzz_guest.h): TX chains the device must send or drop, RX chains it
 * must fill; and through the device op, the host side: frames of any size
 * and header injected as the tap would deliver them (including ones the
 * kernel should never send, and ones longer than any tap frame), the tap
 * hanging up, and draining what the device transmitted.
 *
 * The input's first byte picks the offload features the driver accepts
 * (bit i: offloads[i], in any combination, also ones 5.1.3.1 forbids),
 * then the common grammar follows. Its feature byte's bits 5 and 6 are
 * CTRL_VQ and MQ (also MQ alone, which 5.1.3.1 forbids); with any of bits
 * 5-7 set the device has two queue pairs, each on its own socketpair,
 * else one (so inputs from before multiqueue mean what they meant). The device op adds
 * well-formed control commands (VQ_PAIRS_SET of any count) besides the
 * grammar's arbitrary chains on the control queue.
 *
 * Beyond the sanitizers: every frame the device transmits is no longer
 * than VIRTIO_NET_MAX_TX_FRAME and carries a header a correct driver could
 * have written for the negotiated features (all zero without CSUM/HOST_*
 * features; checked here independently of the device's own checks), and
 * the tap's offloads are only ever what the driver accepted, or none; a
 * tap queue past the first is attached only while the driver has enabled
 * its pair, which it can only have done with MQ. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/devices/virtio_net.h"
#include "avp/log.h"
#include "avp/net/tap.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A tap frame can be 65535 + 18 bytes; a bit more tests the device's
 * "truncated read" check. */
#define MAX_INJECT (VIRTIO_NET_HDR_LEN + 65535 + 18 + 64)
/* Two pairs and the control queue fit the common grammar's RAM with room
 * for buffers (FG_DATA_OFF). */
#define PAIRS 2

struct net_ctx {
	int host[PAIRS]; /* our ends: "the network", a tap queue each */
	int dev_fd[PAIRS];
	unsigned int npairs;
	bool host_closed;
	const struct virtio_dev *dev;
	uint8_t buf[MAX_INJECT];
};

/* Which tap queues the fake would hand frames. */
static struct net_ctx *queue_ctx;
static bool queue_attached[PAIRS];

#define FB(bit) (1ull << VIRTIO_NET_F_##bit)
static const uint64_t offloads[] = { FB(CSUM),	    FB(HOST_TSO4),  FB(HOST_TSO6),  FB(HOST_ECN),
				     FB(GUEST_CSUM), FB(GUEST_TSO4), FB(GUEST_TSO6), FB(GUEST_ECN) };

static bool has(const struct virtio_dev *dev, uint64_t f)
{
	return (dev->driver_features & f) == f;
}

/* The fake tap control: the offloads asked for must be none, or exactly
 * the ones the driver accepted and the kernel allows (TSO only with CSUM,
 * ECN only with TSO). */
static const struct virtio_dev *offload_dev;

static int fake_set_offload(int fd, unsigned int o)
{
	const struct virtio_dev *dev = offload_dev;

	(void)fd;
	if (o == 0)
		return 0;
	FUZZ_CHECK(o & TAP_OFFLOAD_CSUM);
	FUZZ_CHECK(!(o & ~(unsigned int)(TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 |
					  TAP_OFFLOAD_TSO_ECN)));
	FUZZ_CHECK(has(dev, FB(GUEST_CSUM)));
	FUZZ_CHECK(!!(o & TAP_OFFLOAD_TSO4) == has(dev, FB(GUEST_TSO4)));
	FUZZ_CHECK(!!(o & TAP_OFFLOAD_TSO6) == has(dev, FB(GUEST_TSO6)));
	FUZZ_CHECK(!(o & TAP_OFFLOAD_TSO_ECN) ||
		   (has(dev, FB(GUEST_ECN)) && (o & (TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6))));
	return 0;
}

static int fake_set_queue(int fd, bool attach)
{
	struct net_ctx *c = queue_ctx;

	FUZZ_CHECK(c->npairs > 1);
	FUZZ_CHECK(fd != c->dev_fd[0]); /* pair 0 always receives */
	/* Attaching a second queue only on the driver's VQ_PAIRS_SET. */
	FUZZ_CHECK(!attach || has(c->dev, FB(MQ)));
	for (unsigned int i = 0; i < c->npairs; i++)
		if (fd == c->dev_fd[i])
			queue_attached[i] = attach;
	return 0;
}

static const struct virtio_net_backend_ops fake_backend = { .set_offload = fake_set_offload,
							     .set_queue = fake_set_queue };

/* What a correct driver may send (5.1.6.2.1), as the device should pass
 * it to the kernel. */
static void check_tx_hdr(const struct virtio_dev *dev, const struct virtio_net_hdr_v1 *h, size_t frame)
{
	uint8_t base = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	static const struct virtio_net_hdr_v1 zero;

	if (!(dev->driver_features & (FB(CSUM) | FB(HOST_TSO4) | FB(HOST_TSO6) | FB(HOST_ECN)))) {
		FUZZ_CHECK(memcmp(h, &zero, sizeof(zero)) == 0);
		return;
	}
	FUZZ_CHECK(h->num_buffers == 0);
	FUZZ_CHECK((h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0);
	if (h->flags) {
		FUZZ_CHECK(has(dev, FB(CSUM)));
		FUZZ_CHECK((size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 <= frame);
	} else {
		FUZZ_CHECK(h->csum_start == 0 && h->csum_offset == 0);
	}
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		FUZZ_CHECK(h->gso_size == 0 && h->hdr_len == 0);
		return;
	}
	FUZZ_CHECK(h->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
	FUZZ_CHECK((base == VIRTIO_NET_HDR_GSO_TCPV4 && has(dev, FB(HOST_TSO4))) ||
		   (base == VIRTIO_NET_HDR_GSO_TCPV6 && has(dev, FB(HOST_TSO6))));
	FUZZ_CHECK(!(h->gso_type & VIRTIO_NET_HDR_GSO_ECN) || has(dev, FB(HOST_ECN)));
	FUZZ_CHECK(h->gso_size != 0);
	FUZZ_CHECK(le16toh(h->hdr_len) <= frame);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static void drain_one(struct net_ctx *c, int host)
{
	for (;;) {
		ssize_t n = recv(host, c->buf, sizeof(c->buf), MSG_DONTWAIT | MSG_TRUNC);
		struct virtio_net_hdr_v1 h;

		if (n < 0)
			return;
		FUZZ_CHECK(n >= VIRTIO_NET_HDR_LEN);
		FUZZ_CHECK((size_t)n <= VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_TX_FRAME);
		memcpy(&h, c->buf, sizeof(h));
		check_tx_hdr(c->dev, &h, (size_t)n - VIRTIO_NET_HDR_LEN);
		if (n == 0)
			return;
	}
}

static void drain(struct net_ctx *c)
{
	for (unsigned int i = 0; i < c->npairs; i++)
		drain_one(c, c->host[i]);
}

/* A well-formed VQ_PAIRS_SET (5.1.6.5.5) of any count on the control
 * queue the features put it at (or on queue 2 when MQ came without
 * CTRL_VQ, which must not be one). */
static void ctrl_pairs_set(struct fuzz_guest *g, struct fz *z, struct net_ctx *c)
{
	uint16_t pairs = fz_u16(z) % 5;
	uint16_t q = has(c->dev, FB(MQ)) ? (uint16_t)(2 * c->npairs) : 2;
	uint32_t cmd = fg_alloc(g, 5);
	uint8_t *p = g->ram + cmd;
	struct fg_seg segs[2] = { { fg_gpa(cmd), 4, false }, { fg_gpa(cmd + 4), 1, true } };

	if (q >= g->nqueues)
		return;
	p[0] = VIRTIO_NET_CTRL_MQ;
	p[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
	p[2] = (uint8_t)pairs;
	p[3] = 0;
	p[4] = 0xee;
	fg_post(g, q, segs, 2, false, 0);
	fg_kick(g, q);
}

static void net_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct net_ctx *c = opaque;
	uint8_t sub = fz_u8(z);
	int host = c->host[(sub >> 4 & 1) % c->npairs];

	switch (sub % 4) {
	case 0: { /* a frame arrives from the network, on one tap queue */
		size_t len = fz_u32(z) % (MAX_INJECT + 1);
		size_t head = fz_u16(z);
		size_t got;

		if (c->host_closed)
			break;
		/* The input gives the header and the start of the frame; a
		 * pattern fills the rest, so big frames cost few input bytes. */
		got = fz_bytes(z, c->buf, head < len ? head : len);
		for (size_t i = got; i < len; i++)
			c->buf[i] = (uint8_t)i;
		/* Mostly a header the kernel would send with offloads off. */
		if (sub & 0x80)
			memset(c->buf, 0, len < VIRTIO_NET_HDR_LEN ? len : VIRTIO_NET_HDR_LEN);
		/* A full socket is a busy network: the frame is lost. */
		send(host, c->buf, len, MSG_DONTWAIT);
		break;
	}
	case 1:
		drain(c);
		break;
	case 2: /* the tap goes away: reads see EOF/hangup */
		if (!c->host_closed)
			for (unsigned int i = 0; i < c->npairs; i++)
				shutdown(c->host[i], SHUT_WR);
		c->host_closed = true;
		break;
	case 3:
		ctrl_pairs_set(g, z, c);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */,
					   VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_MAC,
					   VIRTIO_NET_F_STATUS, VIRTIO_NET_F_CTRL_VQ,
					   VIRTIO_NET_F_MQ };
	struct avp_net_cfg cfg = { .tap = "fuzz0" };
	struct fz z = { data, size };
	struct net_ctx *c = calloc(1, sizeof(*c));
	struct fuzz_guest g;
	struct virtio_dev *dev;
	uint64_t extra = 0;
	uint8_t obyte = fz_u8(&z);
	/* The grammar's feature byte, next: read again by fg_run_extra. */
	uint8_t fbyte = z.n ? z.p[0] : 0;
	unsigned int i;

	for (i = 0; i < 8; i++)
		if (obyte & (1u << i))
			extra |= offloads[i];

	if (!c)
		return 0;
	c->npairs = fbyte & 0xe0 ? 2 : 1;
	for (i = 0; i < c->npairs; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
			break;
		c->host[i] = sv[1];
		c->dev_fd[i] = sv[0];
		queue_attached[i] = true;
		/* Room for several of the largest frames, whatever the
		 * host's default. */
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
		setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 }, sizeof(int));
	}
	if (i < c->npairs) {
		while (i--) {
			close(c->host[i]);
			close(c->dev_fd[i]);
		}
		free(c);
		return 0;
	}
	queue_ctx = c;
	/* The device owns dev_fd[] from now on. */
	if (virtio_net_create_pairs(&dev, &cfg, c->dev_fd, c->npairs, &fake_backend) == 0) {
		c->dev = offload_dev = dev;
		if (fg_init(&g) == 0) {
			fg_run_extra(&g, dev, &z, wanted, sizeof(wanted) / sizeof(wanted[0]), extra, net_op,
				     c);
			drain(c);
			if (g.dev) /* attached */
				fg_reset(&g);
		}
		dev->ops->destroy(dev);
		fg_fini(&g);
	}
	for (i = 0; i < c->npairs; i++)
		close(c->host[i]);
	free(c);
	return 0;
}
