/* virtio-blk on a raw image (src/devices/virtio_blk.c) and its option,
 * --disk PATH[,ro|rw] (src/devices/virtio_blk_opts.c). */
#ifndef AVP_DEVICES_VIRTIO_BLK_H
#define AVP_DEVICES_VIRTIO_BLK_H

#include "avp/config.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

/* Opens the image (read-only with cfg->read_only); a clear error naming
 * the file on failure (-errno). ops->destroy frees the device. */
int virtio_blk_create(struct virtio_dev **out, const struct avp_disk_cfg *cfg);
/* The same device model without opening its image: what the guest would
 * see, for --describe (no lock taken, nothing opened). Never activated. */
int virtio_blk_create_model(struct virtio_dev **out, const struct avp_disk_cfg *cfg);

/* The text of --disk: PATH[,ro|rw]; ",," is a comma in PATH. 0 or
 * -EINVAL/-ENOMEM (disk unchanged). */
int virtio_blk_parse_opt(const char *text, struct avp_disk_cfg *disk);

#endif
