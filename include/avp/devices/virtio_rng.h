/* virtio-rng limits, shared with its tests. */
#ifndef AVP_DEVICES_VIRTIO_RNG_H
#define AVP_DEVICES_VIRTIO_RNG_H

/* Most bytes one request gets (5.4.6.1: the device may return fewer than
 * the buffer holds). */
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024u)
/* Requests served per wakeup before yielding. */
#define VIRTIO_RNG_BUDGET 64

#endif
