/* virtio-blk on a raw image (src/devices/virtio_blk.c) and its option,
 * --disk PATH[,ro|rw][,aio=io_uring|sync][,cache=writeback|none][,queues=N]
 * (src/devices/virtio_blk_opts.c). */
#ifndef AVP_DEVICES_VIRTIO_BLK_H
#define AVP_DEVICES_VIRTIO_BLK_H

#include <stdbool.h>

#include "avp/config/options.h"
#include "avp/disk.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

#define AVP_MAX_DISKS 8

/* --disk PATH[,ro|rw][,aio=..][,cache=..][,queues=N], a bundle's
 * {"type": "disk", "path", "read_only", "aio", "cache", "queues"}. */
struct avp_disk_cfg {
	char *path;
	bool read_only;
	enum disk_aio aio;
	enum disk_cache cache;
	/* Request queues; 0: the registry's default, one per vCPU (capped
	 * at VIRTIO_BLK_MAX_QUEUES). */
	uint32_t queues;
};

/* queues=N's limit (README "Disk I/O"), below the transport's. */
#define VIRTIO_BLK_MAX_QUEUES 8
_Static_assert(VIRTIO_BLK_MAX_QUEUES <= VIRTIO_MAX_QUEUES, "blk queues fit the transport");

/* The disk's keys and rules (src/devices/virtio_blk_opts.c). */
extern const struct avp_config_type virtio_blk_config;

/* Opens the image (read-only with cfg->read_only); a clear error naming
 * the file on failure (-errno). ops->destroy frees the device. */
int virtio_blk_create(struct virtio_dev **out, const struct avp_disk_cfg *cfg);
/* The same device model without opening its image: what the guest would
 * see, for --describe (no lock taken, nothing opened). Never activated. */
int virtio_blk_create_model(struct virtio_dev **out, const struct avp_disk_cfg *cfg);

#endif
