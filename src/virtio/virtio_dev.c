/* Transport-independent helpers shared by every device model. */
#include <errno.h>
#include <string.h>

#include "avp/log.h"
#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"

void virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops, void *priv,
		     void *config, uint32_t config_len)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->config = config;
	dev->config_len = config_len;
	dev->queue_max = VIRTQ_MAX_SIZE;
	pthread_mutex_init(&dev->lock, NULL);
}

void virtio_dev_fini(struct virtio_dev *dev)
{
	dev->tops = NULL;
	dev->transport = NULL;
	dev->status = 0;
	pthread_mutex_destroy(&dev->lock);
}

void virtio_dev_complete(struct virtio_dev *dev, uint16_t q, uint16_t head, uint32_t written)
{
	virtio_dev_complete_many(dev, q, &head, &written, 1);
}

void virtio_dev_complete_many(struct virtio_dev *dev, uint16_t q, const uint16_t *heads,
			      const uint32_t *written, unsigned int n)
{
	virtio_dev_push_used(dev, q, heads, written, n);
	virtio_dev_signal_used(dev, q);
}

void virtio_dev_push_used(struct virtio_dev *dev, uint16_t q, const uint16_t *heads,
			  const uint32_t *written, unsigned int n)
{
	if (virtq_push_many(&dev->vqs[q], heads, written, n))
		virtio_dev_needs_reset(dev, "used ring is not in guest memory");
}

void virtio_dev_signal_used(struct virtio_dev *dev, uint16_t q)
{
	struct virtq *vq = &dev->vqs[q];

	/* Nothing new since the last check: without EVENT_IDX the driver's
	 * flag alone would otherwise ask for an interrupt. */
	if (!vq->used_unsignalled || !virtq_should_notify(vq) || !dev->tops)
		return;
	if (dev->tops->queue_interrupt)
		dev->tops->queue_interrupt(dev, q);
	else
		dev->tops->interrupt(dev, VIRTIO_ISR_QUEUE);
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	if (dev->tops)
		dev->tops->interrupt(dev, VIRTIO_ISR_CONFIG);
}

void virtio_dev_needs_reset(struct virtio_dev *dev, const char *why)
{
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* 2.1.2: tell the driver through status and a config interrupt; the
	 * queues stay quiet until it resets the device. */
	avp_guest_warn(dev, "%s: driver error, device needs reset: %s", dev->ops->type, why);
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		dev->vqs[i].ready = false;
	virtio_dev_config_changed(dev);
}

int virtio_dev_watch_fd(struct virtio_dev *dev, int fd, uint32_t epoll_events)
{
	return dev->tops && dev->tops->watch_fd ? dev->tops->watch_fd(dev, fd, epoll_events) : -ENOSYS;
}

int virtio_dev_unwatch_fd(struct virtio_dev *dev, int fd)
{
	return dev->tops && dev->tops->unwatch_fd ? dev->tops->unwatch_fd(dev, fd) : -ENOSYS;
}
