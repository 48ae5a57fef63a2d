/* Constructors of the VIRTIO device models (one file each under
 * src/devices/). Each opens its host backend, reports a clear error naming
 * the user's input on failure (-errno), and returns a device ready to be
 * attached to a transport. ops->destroy frees it. */
#ifndef AVP_DEVICES_H
#define AVP_DEVICES_H

#include "avp/config.h"
#include "avp/virtio/virtio_dev.h"

int virtio_blk_create(struct virtio_dev **out, const struct avp_disk_cfg *cfg);
int virtio_net_create(struct virtio_dev **out, const struct avp_net_cfg *cfg);
int virtio_console_create(struct virtio_dev **out, const struct avp_chardev_cfg *cfg);
int virtio_rng_create(struct virtio_dev **out);

#endif
