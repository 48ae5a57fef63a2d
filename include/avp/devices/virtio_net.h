/* virtio-net internals shared with its tests: feature bits, header layout
 * and a constructor over any fd that behaves like our tap (one frame with
 * its 12-byte virtio_net_hdr per read and per write, e.g. a SOCK_SEQPACKET
 * socketpair) with the tap's one control (its offloads) replaceable, so
 * the device can be tested without a tap. */
#ifndef AVP_DEVICES_VIRTIO_NET_H
#define AVP_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

#define AVP_MAX_NETS 4

/* --net tap=NAME[,mac=MAC]; a bundle's {"type": "net", "tap" or
 * "network", "mac"}. */
struct avp_net_cfg {
	char *tap;
	uint8_t mac[6];
	bool mac_set; /* otherwise derived from the tap name, stable per name */
	/* A bundle's device on a system file's network (then tap is
	 * virtio_net_network_tap(mac), made by `avp system up`), or NULL. */
	char *network;
	/* Queue pairs (1..VIRTIO_NET_MAX_PAIRS); 0: the registry's default,
	 * one per vCPU (capped). */
	uint32_t queues;
	bool queues_given; /* queues= was written, not the default */
};

/* virtio-net on an existing or new tap; a clear error naming the tap on
 * failure (-errno). ops->destroy frees the device. */
int virtio_net_create(struct virtio_dev **out, const struct avp_net_cfg *cfg);

/* The net device's keys and rules (src/devices/virtio_net_opts.c). */
extern const struct avp_config_type virtio_net_config;

/* The tap of a net device on a system file's network: "avp" and the MAC's
 * 12 hex digits (15 characters, the longest interface name Linux takes),
 * so the system that makes the tap and every start of the VM agree. */
void virtio_net_network_tap(const uint8_t mac[6], char *buf, size_t len);

/* Feature bits (VIRTIO 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22

#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr with num_buffers: the only layout with VERSION_1
 * (5.1.6). */
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

/* Little-endian, as VERSION_1 has it. */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/* Largest frame (without header) we transmit; bigger chains are dropped. */
#define VIRTIO_NET_MAX_TX_FRAME 65550

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
/* Queue pair p is receiveq 2p and transmitq 2p+1 (5.1.2). */
#define VIRTIO_NET_RXQ_OF(p) (2 * (p))
#define VIRTIO_NET_TXQ_OF(p) (2 * (p) + 1)

/* Queue pairs of one device (queues=N): with the control queue 2N+1
 * virtqueues, within the transport's VIRTIO_MAX_QUEUES. */
#define VIRTIO_NET_MAX_PAIRS 8
_Static_assert(2 * VIRTIO_NET_MAX_PAIRS + 1 <= VIRTIO_MAX_QUEUES, "pairs and controlq fit");

/* The control queue (5.1.6.5): a command is class, command and data
 * (device-readable), then a one-byte ack (device-writable). */
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0

/* Chains taken from one queue per wakeup: past these the device lets the
 * other queue (and the vCPUs waiting for dev->lock) have a turn. */
#define VIRTIO_NET_TX_BUDGET 128
#define VIRTIO_NET_RX_BUDGET 64

/* Device config layout (5.1.4), little-endian. */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
} __attribute__((packed));

/* What the device asks of its backend besides reading and writing frames.
 * set_offload: which offloads (TAP_OFFLOAD_* of avp/net/tap.h) the kernel
 * may use in frames it hands us; 0 or -errno. Called at DRIVER_OK with
 * what the driver negotiated, and with 0 at reset. A failure is not fatal:
 * the device goes on with whatever the backend does, dropping any frame
 * the driver did not agree to. */
struct virtio_net_backend_ops {
	int (*set_offload)(int fd, unsigned int offloads);
	/* Multi-queue backends only: whether the kernel hands frames to
	 * queue fd (attach) or none (detach, its waiting frames dropped).
	 * 0 or -errno; NULL: every fd always gets frames. */
	int (*set_queue)(int fd, bool attach);
};

/* Like virtio_net_create() with fd as the host end; the device owns fd
 * from then on (closed by ops->destroy, or here on failure). The MAC comes
 * from cfg->mac, or is derived from cfg->tap (may be NULL). The fd's
 * offloads are set as a tap's (tap_set_offload). */
int virtio_net_create_fd(struct virtio_dev **out, const struct avp_net_cfg *cfg, int fd);
/* The same with the backend's controls given; ops must outlive the device. */
int virtio_net_create_backend(struct virtio_dev **out, const struct avp_net_cfg *cfg, int fd,
			      const struct virtio_net_backend_ops *ops);
/* n queue pairs (1..VIRTIO_NET_MAX_PAIRS), fds[p] the host end of pair p
 * (one queue of a multi-queue tap each), all owned by the device from
 * then on. With n > 1 the device offers CTRL_VQ and MQ; with n == 1 it is
 * virtio_net_create_backend's device. ops NULL: a model whose backend is
 * not controlled (--describe's, on stand-in fds). */
int virtio_net_create_pairs(struct virtio_dev **out, const struct avp_net_cfg *cfg,
			    const int *fds, unsigned int n, const struct virtio_net_backend_ops *ops);

/* A net device's queue pairs (its max_virtqueue_pairs), for --describe. */
unsigned int virtio_net_max_pairs(const struct virtio_dev *dev);

#endif
