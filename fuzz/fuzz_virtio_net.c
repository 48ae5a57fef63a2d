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
 * Beyond the sanitizers: every frame the device transmits carries an
 * all-zero header (we negotiate no offloads) and is no longer than
 * VIRTIO_NET_MAX_TX_FRAME. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/devices/virtio_net.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A tap frame can be 65535 + 18 bytes; a bit more tests the device's
 * "truncated read" check. */
#define MAX_INJECT (VIRTIO_NET_HDR_LEN + 65535 + 18 + 64)

struct net_ctx {
	int host; /* our end: "the network" */
	bool host_closed;
	uint8_t buf[MAX_INJECT];
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static void drain(struct net_ctx *c)
{
	for (;;) {
		ssize_t n = recv(c->host, c->buf, sizeof(c->buf), MSG_DONTWAIT | MSG_TRUNC);
		static const uint8_t zero[VIRTIO_NET_HDR_LEN];

		if (n < 0)
			return;
		FUZZ_CHECK(n >= VIRTIO_NET_HDR_LEN);
		FUZZ_CHECK((size_t)n <= VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_TX_FRAME);
		FUZZ_CHECK(memcmp(c->buf, zero, sizeof(zero)) == 0);
		if (n == 0)
			return;
	}
}

static void net_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct net_ctx *c = opaque;
	uint8_t sub = fz_u8(z);

	(void)g;
	switch (sub % 3) {
	case 0: { /* a frame arrives from the network */
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
		send(c->host, c->buf, len, MSG_DONTWAIT);
		break;
	}
	case 1:
		drain(c);
		break;
	case 2: /* the tap goes away: reads see EOF/hangup */
		if (!c->host_closed)
			shutdown(c->host, SHUT_WR);
		c->host_closed = true;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */,
					   VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_MAC,
					   VIRTIO_NET_F_STATUS };
	struct avp_net_cfg cfg = { .tap = "fuzz0" };
	struct fz z = { data, size };
	struct net_ctx *c = calloc(1, sizeof(*c));
	struct fuzz_guest g;
	struct virtio_dev *dev;
	int sv[2];

	if (!c)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		free(c);
		return 0;
	}
	c->host = sv[1];
	/* Room for several of the largest frames, whatever the host's
	 * default. */
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 }, sizeof(int));
	if (virtio_net_create_fd(&dev, &cfg, sv[0]) == 0) { /* owns sv[0] now */
		if (fg_init(&g) == 0) {
			fg_run(&g, dev, &z, wanted, sizeof(wanted) / sizeof(wanted[0]), net_op, c);
			drain(c);
			fg_reset(&g);
		}
		dev->ops->destroy(dev);
		fg_fini(&g);
	}
	close(c->host);
	free(c);
	return 0;
}
