/* libFuzzer target: virtio-can (src/devices/virtio_can.c) with its
 * acceptance rules, and the link-message parser (src/net/socketcan.c).
 *
 * The CAN socket is one end of a SOCK_SEQPACKET socketpair (one frame per
 * message, as CAN_RAW gives), the link monitor another. The fuzzer drives
 * the guest through the common grammar (fuzz_guest.h) and through the
 * device op: TX and control requests built from header fields (so deep
 * states are near), Rx buffers, frames of any size and content put on the
 * "bus", link messages well-formed or raw, the bus hanging up, and
 * draining what the device sent.
 *
 * The input's first byte picks the device: bit 0 an FD-capable interface,
 * bit 1 the rules below, bits 2-3 fd=auto|on|off; then the common grammar.
 * The device's socket has a send buffer of a few frames, so a burst the
 * bus does not drain exercises the held frame and its retry timer (a
 * FG_OP_WAKE of it, or a POLL once it expired).
 *
 * Beyond the sanitizers: every frame the device puts on the bus is 16 or
 * 72 bytes, of a kind the driver negotiated (FD only with CAN_FD, RTR only
 * classic with RTR_FRAMES), its length in range and its ID within the tx
 * rules; the config status has no bit but BUSOFF. */
#include <endian.h>
#include <errno.h>
#include <linux/can.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/devices/virtio_can.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_LOG_ERRORS_ONLY()

#define IFINDEX 5

struct can_ctx {
	int host, link_host;
	bool host_closed;
	const struct virtio_dev *dev;
	const struct avp_can_cfg *cfg;
	uint8_t buf[256];
};

static bool has(const struct virtio_dev *dev, unsigned int bit)
{
	return virtio_has_feature(dev, bit);
}

static void check_frame(const struct can_ctx *c, const uint8_t *buf, ssize_t n)
{
	struct canfd_frame f;
	bool ext, rtr;
	uint32_t id;

	FUZZ_CHECK(n == (ssize_t)CAN_MTU || n == (ssize_t)CANFD_MTU);
	memcpy(&f, buf, (size_t)n);
	ext = f.can_id & CAN_EFF_FLAG;
	rtr = f.can_id & CAN_RTR_FLAG;
	id = f.can_id & (ext ? CAN_EFF_MASK : CAN_SFF_MASK);
	FUZZ_CHECK(!(f.can_id & CAN_ERR_FLAG));
	FUZZ_CHECK(ext || (f.can_id & CAN_EFF_MASK & ~CAN_SFF_MASK) == 0);
	if (n == (ssize_t)CANFD_MTU) {
		FUZZ_CHECK(has(c->dev, VIRTIO_CAN_F_CAN_FD));
		FUZZ_CHECK(!rtr);
		FUZZ_CHECK(f.len <= 64);
	} else {
		FUZZ_CHECK(has(c->dev, VIRTIO_CAN_F_CAN_CLASSIC));
		FUZZ_CHECK(!rtr || has(c->dev, VIRTIO_CAN_F_RTR_FRAMES));
		FUZZ_CHECK(f.len <= 8);
	}
	FUZZ_CHECK(avp_can_rules_allow(&c->cfg->tx, id, ext));
}

static void drain(struct can_ctx *c)
{
	for (;;) {
		ssize_t n = recv(c->host, c->buf, sizeof(c->buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n <= 0)
			return;
		check_frame(c, c->buf, n);
	}
}

/* A request on queue q: readable part req[len], writable part in_len. */
static void request(struct fuzz_guest *g, uint16_t q, const void *req, uint32_t len, uint32_t in_len)
{
	struct fg_seg segs[2];
	unsigned int n = 0;

	if (len) {
		uint32_t off = fg_alloc(g, len);

		memcpy(fg_hva(g, fg_gpa(off), len), req, len);
		segs[n++] = (struct fg_seg){ fg_gpa(off), len, false };
	}
	if (in_len)
		segs[n++] = (struct fg_seg){ fg_gpa(fg_alloc(g, in_len)), in_len, true };
	if (n) {
		fg_post(g, q, segs, n, false, 0);
		fg_kick(g, q);
	}
}

static void link_msg(struct can_ctx *c, struct fz *z, uint8_t sub)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} m;
	size_t len = sizeof(m);

	memset(&m, 0, sizeof(m));
	if (sub & 0x40) { /* raw bytes, as a hostile parser test */
		len = fz_bytes(z, &m, fz_u8(z) % (sizeof(m) + 1));
	} else {
		m.h.nlmsg_len = sizeof(m);
		m.h.nlmsg_type = (sub & 0x10) ? RTM_DELLINK : RTM_NEWLINK;
		m.ifi.ifi_index = (sub & 0x20) ? IFINDEX + 1 : IFINDEX;
		m.ifi.ifi_flags = (sub & 0x80) ? IFF_UP | IFF_RUNNING : 0;
	}
	send(c->link_host, &m, len, MSG_DONTWAIT);
}

static void can_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct can_ctx *c = opaque;
	uint8_t sub = fz_u8(z);

	switch (sub % 8) {
	case 0: { /* TX request from fields; sub bits: no result room, short */
		uint8_t req[16 + 64] = { 0 };
		uint16_t len = fz_u16(z);
		uint8_t sdu = fz_u8(z) % 65;

		req[0] = 1; /* VIRTIO_CAN_TX, unless the input says otherwise */
		if (sub & 0x80)
			fz_bytes(z, req, 2);
		memcpy(req + 2, &len, 2);
		fz_bytes(z, req + 4, 12);
		fz_bytes(z, req + 16, sdu);
		request(g, VIRTIO_CAN_TXQ, req, 16u + sdu - ((sub & 0x40) ? 8u : 0u),
			(sub & 0x20) ? 0 : 1);
		break;
	}
	case 1: { /* control request */
		uint16_t type = (sub & 0x80) ? fz_u16(z)
					     : ((sub & 0x40) ? VIRTIO_CAN_SET_CTRL_MODE_STOP
							     : VIRTIO_CAN_SET_CTRL_MODE_START);

		request(g, VIRTIO_CAN_CTRLQ, &type, (sub & 0x20) ? 1 : 2, (sub & 0x10) ? 0 : 1);
		break;
	}
	case 2: /* an Rx buffer of 16 + 64 bytes, or of the input's size */
		request(g, VIRTIO_CAN_RXQ, NULL, 0, (sub & 0x80) ? fz_u8(z) : 80);
		break;
	case 3: { /* a frame on the bus */
		size_t len = (sub & 0x80) ? fz_u8(z) : ((sub & 0x40) ? CANFD_MTU : CAN_MTU);
		size_t got = fz_bytes(z, c->buf, len < sizeof(c->buf) ? len : sizeof(c->buf));

		if (!c->host_closed)
			send(c->host, c->buf, got, MSG_DONTWAIT);
		break;
	}
	case 4:
		drain(c);
		break;
	case 5:
		link_msg(c, z, sub);
		break;
	case 6: /* the bus goes away */
		if (!c->host_closed)
			shutdown(c->host, SHUT_WR);
		c->host_closed = true;
		break;
	default: { /* the parser alone, on raw bytes */
		uint8_t raw[128] __attribute__((aligned(4)));
		size_t n = fz_bytes(z, raw, fz_u8(z) % sizeof(raw));
		bool up = false, gone = false;

		socketcan_link_parse(raw, n, IFINDEX, &up, &gone);
		FUZZ_CHECK(!(up && gone));
		break;
	}
	}
	FUZZ_CHECK((le16toh(*(uint16_t *)g->dev->config) & ~VIRTIO_CAN_S_CTRL_BUSOFF) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */,
					   VIRTIO_CAN_F_CAN_CLASSIC, VIRTIO_CAN_F_CAN_FD,
					   VIRTIO_CAN_F_RTR_FRAMES, VIRTIO_CAN_F_LATE_TX_ACK };
	struct fz z = { data, size };
	uint8_t shape = fz_u8(&z);
	struct avp_can_cfg cfg = { .fd_mode = (shape >> 2) % 3 };
	struct socketcan sc = { .ifindex = IFINDEX, .up = true, .fd_capable = shape & 1 };
	struct can_ctx c = { 0 };
	struct fuzz_guest g;
	struct virtio_dev *dev;
	char why[160];
	int sv[2], lv[2];

	if (shape & 2) {
		avp_can_rules_parse("std:0x100-0x1ff+ext:0x18000000-0x18ffffff", &cfg.tx, why,
				    sizeof(why));
		avp_can_rules_parse("0x300-0x3ff", &cfg.rx, why, sizeof(why));
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, lv)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	c.host = sv[1];
	c.link_host = lv[1];
	/* A host queue of a few frames: a burst the bus does not drain makes
	 * the device hold a frame and wait for its retry timer. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 }, sizeof(int));
	c.cfg = &cfg;
	sc.fd = sv[0];
	sc.link_fd = lv[0];
	snprintf(sc.name, sizeof(sc.name), "fuzzcan0");
	if (virtio_can_create_backend(&dev, &cfg, &sc) == 0) { /* owns sv[0], lv[0] */
		c.dev = dev;
		if (fg_init(&g) == 0) {
			fg_run(&g, dev, &z, wanted, sizeof(wanted) / sizeof(wanted[0]), can_op, &c);
			drain(&c);
			fg_reset(&g);
		}
		dev->ops->destroy(dev);
		fg_fini(&g);
	}
	close(c.host);
	close(c.link_host);
	return 0;
}
