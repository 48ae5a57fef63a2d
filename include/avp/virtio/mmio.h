/* virtio-mmio transport, version 2 (VIRTIO 1.2, section 4.2.2): the first
 * implementation of struct virtio_transport_ops (avp/virtio/transport.h). */
#ifndef AVP_VIRTIO_MMIO_H
#define AVP_VIRTIO_MMIO_H

#include <stdint.h>

#include "avp/virtio/transport.h"

struct vm;
struct virtio_dev;

#define VIRTIO_MMIO_SIZE 0x200
#define VIRTIO_MMIO_VENDOR_ID 0x00505641 /* "AVP" */

/* The virtio-mmio transport: one register window and one interrupt per
 * device, in attach order. */
extern const struct virtio_transport_ops virtio_mmio_transport;

/* virtio_transport_attach(&virtio_mmio_transport, vm, dev): places dev on
 * the VM's MMIO bus with a window and an interrupt, wires notifications
 * (ioeventfd) and interrupts (irqfd) where KVM offers them, and starts the
 * device's worker thread. On failure the device is not destroyed; the
 * caller still owns it. */
int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev);
/* virtio_transport_detach: stops the worker and destroys the device. */
void virtio_mmio_detach(struct virtio_dev *dev);
/* Feature bits the transport offers for dev (device bits + ring bits). */
uint64_t virtio_mmio_offered_features(struct virtio_dev *dev);

#endif
