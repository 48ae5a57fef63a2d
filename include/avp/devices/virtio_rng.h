/* virtio-rng (src/devices/virtio_rng.c): constructor and limits. */
#ifndef AVP_DEVICES_VIRTIO_RNG_H
#define AVP_DEVICES_VIRTIO_RNG_H

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

/* --rng, a bundle's {"type": "rng"}: no keys
 * (src/devices/virtio_rng_opts.c). */
extern const struct avp_config_type virtio_rng_config;

/* virtio-rng fed by the host's getrandom(); ops->destroy frees it. */
int virtio_rng_create(struct virtio_dev **out);

/* Most bytes one request gets (5.4.6.1: the device may return fewer than
 * the buffer holds). The fuzz build (Makefile, FUZZ_LIMITS) sets a smaller
 * one: the kernel's getrandom was nearly all of a fuzz run's time. */
#ifndef VIRTIO_RNG_MAX_REQUEST
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024u)
#endif
/* Requests served per wakeup before yielding. */
#define VIRTIO_RNG_BUDGET 64

#endif
