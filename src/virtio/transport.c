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
