/* virtio-net internals shared with its tests: feature bits, header size and
 * a constructor over any fd that behaves like our tap (one frame with its
 * 12-byte virtio_net_hdr per read and per write, e.g. a SOCK_SEQPACKET
 * socketpair), so the device can be tested without a tap. */
#ifndef AVP_DEVICES_VIRTIO_NET_H
#define AVP_DEVICES_VIRTIO_NET_H

#include "avp/config.h"
#include "avp/virtio/virtio_dev.h"

/* Feature bits (VIRTIO 1.2, 5.1.3). */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr with num_buffers: the only layout with VERSION_1
 * (5.1.6). */
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0

/* Largest frame (without header) we transmit; bigger chains are dropped. */
#define VIRTIO_NET_MAX_TX_FRAME 65550

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1

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

/* Like virtio_net_create() with fd as the host end; the device owns fd
 * from then on (closed by ops->destroy, or here on failure). The MAC comes
 * from cfg->mac, or is derived from cfg->tap (may be NULL). */
int virtio_net_create_fd(struct virtio_dev **out, const struct avp_net_cfg *cfg, int fd);

#endif
