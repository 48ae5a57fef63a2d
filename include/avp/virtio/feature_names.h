/* The VIRTIO specification's names of feature bits (VIRTIO 1.2, 6
 * "Reserved Feature Bits" and each device's "Feature bits" section), for
 * the platform description. (src/virtio/feature_names.c) */
#ifndef AVP_VIRTIO_FEATURE_NAMES_H
#define AVP_VIRTIO_FEATURE_NAMES_H

#include <stdint.h>

/* The name of bit of a device with VIRTIO ID virtio_id, e.g.
 * "VIRTIO_BLK_F_FLUSH" or "VIRTIO_F_VERSION_1"; NULL for a bit the
 * specification does not name for that device. */
const char *virtio_feature_name(uint32_t virtio_id, unsigned int bit);

#endif
