/* The transport-neutral entry points of avp/virtio/transport.h: what
 * machine assembly calls, whichever transport carries the device. */
#include <errno.h>
#include <stddef.h>

#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"

int virtio_transport_attach(const struct virtio_transport_ops *t, struct vm *vm,
			    struct virtio_dev *dev)
{
	int ret;

	if (!t || !dev || dev->tops)
		return -EINVAL;
	dev->tops = t;
	ret = t->attach(vm, dev);
	if (ret)
		dev->tops = NULL;
	return ret;
}

void virtio_transport_detach(struct virtio_dev *dev)
{
	if (dev->tops) {
		dev->tops->detach(dev);
		dev->tops = NULL;
		dev->transport = NULL;
	}
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
}

int virtio_transport_start(struct virtio_dev *dev)
{
	if (!dev || !dev->tops || !dev->transport)
		return -EINVAL;
	return dev->tops->start ? dev->tops->start(dev) : 0;
}

int virtio_transport_describe(const struct virtio_dev *dev, struct virtio_transport_info *out)
{
	if (!dev || !dev->tops || !dev->transport || !dev->tops->describe)
		return -EINVAL;
	dev->tops->describe(dev, out);
	return 0;
}

uint64_t virtio_transport_features(struct virtio_dev *dev)
{
	uint64_t f = dev->ops->features ? dev->ops->features(dev) : 0;

	return f | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
	       (1ull << VIRTIO_F_INDIRECT_DESC);
}

void virtio_transport_reset_dev(struct virtio_dev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vqs[q], dev->mem);
	dev->status = 0;
	dev->driver_features = 0;
}

void virtio_transport_write_status(struct virtio_dev *dev, uint64_t driver_features, uint8_t value)
{
	uint8_t old = dev->status;
	uint8_t new_status = value;

	if (new_status == 0) {
		virtio_transport_reset_dev(dev);
		return;
	}
	/* 3.1.1: FEATURES_OK sticks only when we can honour the subset the
	 * driver wrote; the driver reads status back to find out. */
	if ((new_status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t offered = virtio_transport_features(dev);

		if ((driver_features & ~offered) ||
		    !(driver_features & (1ull << VIRTIO_F_VERSION_1)))
			new_status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		else
			dev->driver_features = driver_features;
	}
	/* Bits other than NEEDS_RESET are the driver's; NEEDS_RESET is ours. */
	new_status = (uint8_t)((new_status & ~VIRTIO_STATUS_NEEDS_RESET) |
			       (old & VIRTIO_STATUS_NEEDS_RESET));
	dev->status = new_status;

	if ((new_status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(new_status & VIRTIO_STATUS_FEATURES_OK)) {
			virtio_dev_needs_reset(dev, "DRIVER_OK without FEATURES_OK");
			return;
		}
		for (unsigned int q = 0; q < dev->ops->num_queues; q++) {
			dev->vqs[q].event_idx = virtio_has_feature(dev, VIRTIO_F_EVENT_IDX);
			dev->vqs[q].indirect = virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
		}
		if (dev->ops->activate && dev->ops->activate(dev) < 0)
			virtio_dev_needs_reset(dev, "device could not start its backend");
	}
}

void virtio_transport_enable_queue(struct virtio_dev *dev, uint16_t q)
{
	struct virtq *vq = &dev->vqs[q];

	if (vq->ready)
		return;
	if (virtq_validate(vq)) {
		virtio_dev_needs_reset(dev, "queue rings are outside guest memory or misaligned");
		return;
	}
	vq->last_avail_idx = vq->used_idx = 0;
	vq->signalled_used_valid = false;
	vq->ready = true;
}
