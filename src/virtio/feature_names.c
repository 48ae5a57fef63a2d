/* Feature bit names as VIRTIO 1.2 spells them. Bits 0-23 (and 50-127) are
 * the device type's own; 24-40 belong to the transport and ring and mean
 * the same for every device (section 6). */
#include <stddef.h>

#include "avp/virtio/feature_names.h"
#include "avp/virtio/virtio_ids.h"

struct name_table {
	uint32_t virtio_id;
	const char *const *names; /* indexed by bit */
	unsigned int count;
};

#define TABLE(id, arr) { id, arr, sizeof(arr) / sizeof(arr[0]) }

static const char *const reserved[] = {
	[24] = "VIRTIO_F_NOTIFY_ON_EMPTY", [27] = "VIRTIO_F_ANY_LAYOUT",
	[28] = "VIRTIO_F_INDIRECT_DESC",   [29] = "VIRTIO_F_EVENT_IDX",
	[32] = "VIRTIO_F_VERSION_1",	   [33] = "VIRTIO_F_ACCESS_PLATFORM",
	[34] = "VIRTIO_F_RING_PACKED",	   [35] = "VIRTIO_F_IN_ORDER",
	[36] = "VIRTIO_F_ORDER_PLATFORM",  [37] = "VIRTIO_F_SR_IOV",
	[38] = "VIRTIO_F_NOTIFICATION_DATA", [39] = "VIRTIO_F_NOTIF_CONFIG_DATA",
	[40] = "VIRTIO_F_RING_RESET",
};

/* 5.1.3 */
static const char *const net[] = {
	[0] = "VIRTIO_NET_F_CSUM",	     [1] = "VIRTIO_NET_F_GUEST_CSUM",
	[2] = "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS", [3] = "VIRTIO_NET_F_MTU",
	[5] = "VIRTIO_NET_F_MAC",	     [7] = "VIRTIO_NET_F_GUEST_TSO4",
	[8] = "VIRTIO_NET_F_GUEST_TSO6",     [9] = "VIRTIO_NET_F_GUEST_ECN",
	[10] = "VIRTIO_NET_F_GUEST_UFO",     [11] = "VIRTIO_NET_F_HOST_TSO4",
	[12] = "VIRTIO_NET_F_HOST_TSO6",     [13] = "VIRTIO_NET_F_HOST_ECN",
	[14] = "VIRTIO_NET_F_HOST_UFO",	     [15] = "VIRTIO_NET_F_MRG_RXBUF",
	[16] = "VIRTIO_NET_F_STATUS",	     [17] = "VIRTIO_NET_F_CTRL_VQ",
	[18] = "VIRTIO_NET_F_CTRL_RX",	     [19] = "VIRTIO_NET_F_CTRL_VLAN",
	[21] = "VIRTIO_NET_F_GUEST_ANNOUNCE", [22] = "VIRTIO_NET_F_MQ",
	[23] = "VIRTIO_NET_F_CTRL_MAC_ADDR",
};

/* 5.2.3 */
static const char *const blk[] = {
	[1] = "VIRTIO_BLK_F_SIZE_MAX",	   [2] = "VIRTIO_BLK_F_SEG_MAX",
	[4] = "VIRTIO_BLK_F_GEOMETRY",	   [5] = "VIRTIO_BLK_F_RO",
	[6] = "VIRTIO_BLK_F_BLK_SIZE",	   [9] = "VIRTIO_BLK_F_FLUSH",
	[10] = "VIRTIO_BLK_F_TOPOLOGY",	   [11] = "VIRTIO_BLK_F_CONFIG_WCE",
	[12] = "VIRTIO_BLK_F_MQ",	   [13] = "VIRTIO_BLK_F_DISCARD",
	[14] = "VIRTIO_BLK_F_WRITE_ZEROES", [15] = "VIRTIO_BLK_F_LIFETIME",
	[16] = "VIRTIO_BLK_F_SECURE_ERASE",
};

/* 5.3.3 */
static const char *const console[] = {
	[0] = "VIRTIO_CONSOLE_F_SIZE",
	[1] = "VIRTIO_CONSOLE_F_MULTIPORT",
	[2] = "VIRTIO_CONSOLE_F_EMERG_WRITE",
};

/* 5.7.3 */
static const char *const gpu[] = {
	[0] = "VIRTIO_GPU_F_VIRGL",	    [1] = "VIRTIO_GPU_F_EDID",
	[2] = "VIRTIO_GPU_F_RESOURCE_UUID", [3] = "VIRTIO_GPU_F_RESOURCE_BLOB",
	[4] = "VIRTIO_GPU_F_CONTEXT_INIT",
};

/* 5.10.3 */
static const char *const vsock[] = {
	[0] = "VIRTIO_VSOCK_F_STREAM",
	[1] = "VIRTIO_VSOCK_F_SEQPACKET",
};

/* 5.14.3 (VIRTIO 1.3) */
static const char *const sound[] = {
	[0] = "VIRTIO_SND_F_CTLS",
};

/* VIRTIO 1.4, device-types/can */
static const char *const can[] = {
	[0] = "VIRTIO_CAN_F_CAN_CLASSIC",
	[1] = "VIRTIO_CAN_F_CAN_FD",
	[2] = "VIRTIO_CAN_F_RTR_FRAMES",
	[3] = "VIRTIO_CAN_F_LATE_TX_ACK",
};

static const struct name_table device_tables[] = {
	TABLE(VIRTIO_ID_NET, net),	   TABLE(VIRTIO_ID_BLOCK, blk),
	TABLE(VIRTIO_ID_CONSOLE, console), TABLE(VIRTIO_ID_GPU, gpu),
	TABLE(VIRTIO_ID_VSOCK, vsock),	   TABLE(VIRTIO_ID_SOUND, sound),
	TABLE(VIRTIO_ID_CAN, can),
};

const char *virtio_feature_name(uint32_t virtio_id, unsigned int bit)
{
	if (bit >= 24 && bit <= 40)
		return bit < sizeof(reserved) / sizeof(reserved[0]) ? reserved[bit] : NULL;
	for (size_t i = 0; i < sizeof(device_tables) / sizeof(device_tables[0]); i++) {
		const struct name_table *t = &device_tables[i];

		if (t->virtio_id == virtio_id)
			return bit < t->count ? t->names[bit] : NULL;
	}
	return NULL;
}
