#include <stdlib.h>
#include <string.h>

#include "avp/virtio/transport.h"
#include "vq_harness.h"

static struct vq_harness *harness_of(struct virtio_dev *dev)
{
	return dev->transport;
}

static void harness_raise_irq(struct virtio_dev *dev, uint32_t isr_bits)
{
	struct vq_harness *h = harness_of(dev);

	h->irqs++;
	h->isr_bits |= isr_bits;
}

static int harness_watch_fd(struct virtio_dev *dev, int fd, uint32_t events)
{
	(void)dev;
	(void)fd;
	(void)events;
	return 0;
}

static int harness_unwatch_fd(struct virtio_dev *dev, int fd)
{
	(void)dev;
	(void)fd;
	return 0;
}

/* The harness is the device's transport: it counts interrupts. */
static const struct virtio_transport_ops harness_transport = {
	.name = "vq-harness",
	.interrupt = harness_raise_irq,
	.watch_fd = harness_watch_fd,
	.unwatch_fd = harness_unwatch_fd,
};

void vqh_init(struct vq_harness *h, uint64_t ram_size)
{
	memset(h, 0, sizeof(*h));
	h->ram = calloc(1, ram_size);
	h->ram_size = ram_size;
	h->next_free = VQH_RAM_GPA;
	gm_add_region(&h->mem, VQH_RAM_GPA, ram_size, h->ram);
}

void vqh_free(struct vq_harness *h)
{
	free(h->ram);
	h->ram = NULL;
}

uint64_t vqh_alloc(struct vq_harness *h, uint64_t len)
{
	uint64_t gpa = (h->next_free + 15) & ~15ull;

	if (gpa + len > VQH_RAM_GPA + h->ram_size)
		abort(); /* test bug: give the harness more RAM */
	h->next_free = gpa + len;
	memset(vqh_hva(h, gpa), 0, len);
	return gpa;
}

void *vqh_hva(struct vq_harness *h, uint64_t gpa)
{
	return h->ram + (gpa - VQH_RAM_GPA);
}

void vqh_attach(struct vq_harness *h, struct virtio_dev *dev, bool event_idx, bool indirect)
{
	uint64_t f = dev->ops->features ? dev->ops->features(dev) : 0;

	f |= 1ull << VIRTIO_F_VERSION_1;
	if (event_idx)
		f |= 1ull << VIRTIO_F_EVENT_IDX;
	if (indirect)
		f |= 1ull << VIRTIO_F_INDIRECT_DESC;
	dev->mem = &h->mem;
	dev->transport = h;
	h->tops = harness_transport;
	dev->tops = &h->tops;
	dev->driver_features = f;
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
}

void vqh_set_watch(struct vq_harness *h, struct virtio_dev *dev,
		   int (*watch)(struct virtio_dev *dev, int fd, uint32_t epoll_events),
		   int (*unwatch)(struct virtio_dev *dev, int fd))
{
	h->tops.watch_fd = watch;
	h->tops.unwatch_fd = unwatch;
	dev->tops = &h->tops;
}

void vqh_setup_queue(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint16_t size)
{
	struct virtq *vq = &dev->vqs[q];

	virtq_reset(vq, &h->mem);
	vq->size = size;
	vq->desc_gpa = vqh_alloc(h, 16ull * size);
	vq->avail_gpa = vqh_alloc(h, 6 + 2ull * size);
	vq->used_gpa = vqh_alloc(h, 6 + 8ull * size);
	vq->event_idx = virtio_has_feature(dev, VIRTIO_F_EVENT_IDX);
	vq->indirect = virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
	vq->ready = true;
	h->next_desc[q] = 0;
	h->avail_idx[q] = 0;
	h->used_seen[q] = 0;
}

int vqh_activate(struct vq_harness *h, struct virtio_dev *dev)
{
	(void)h;
	dev->status |= VIRTIO_STATUS_DRIVER_OK;
	return dev->ops->activate ? dev->ops->activate(dev) : 0;
}

struct virtq_desc *vqh_desc(struct vq_harness *h, struct virtio_dev *dev, uint16_t q)
{
	return vqh_hva(h, dev->vqs[q].desc_gpa);
}

void vqh_publish_head(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint16_t head)
{
	struct virtq *vq = &dev->vqs[q];
	uint16_t *avail = vqh_hva(h, vq->avail_gpa);

	avail[2 + h->avail_idx[q] % vq->size] = head;
	h->avail_idx[q]++;
	__atomic_store_n(&avail[1], h->avail_idx[q], __ATOMIC_RELEASE);
}

uint16_t vqh_post(struct vq_harness *h, struct virtio_dev *dev, uint16_t q,
		  const struct vqh_buf *bufs, unsigned int n)
{
	struct virtq *vq = &dev->vqs[q];
	struct virtq_desc *table = vqh_desc(h, dev, q);
	uint16_t head = h->next_desc[q] % vq->size;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t idx = (head + i) % vq->size;

		table[idx] = (struct virtq_desc){
			.addr = bufs[i].gpa,
			.len = bufs[i].len,
			.flags = (uint16_t)((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
			.next = (uint16_t)((idx + 1) % vq->size),
		};
	}
	h->next_desc[q] = (uint16_t)(h->next_desc[q] + n);
	vqh_publish_head(h, dev, q, head);
	return head;
}

uint16_t vqh_post_indirect(struct vq_harness *h, struct virtio_dev *dev, uint16_t q,
			   const struct vqh_buf *bufs, unsigned int n)
{
	struct virtq *vq = &dev->vqs[q];
	uint64_t table_gpa = vqh_alloc(h, 16ull * n);
	struct virtq_desc *table = vqh_hva(h, table_gpa);
	uint16_t head = h->next_desc[q] % vq->size;

	for (unsigned int i = 0; i < n; i++) {
		table[i] = (struct virtq_desc){
			.addr = bufs[i].gpa,
			.len = bufs[i].len,
			.flags = (uint16_t)((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
			.next = (uint16_t)(i + 1),
		};
	}
	vqh_desc(h, dev, q)[head] = (struct virtq_desc){
		.addr = table_gpa, .len = (uint32_t)(16 * n), .flags = VIRTQ_DESC_F_INDIRECT,
	};
	h->next_desc[q]++;
	vqh_publish_head(h, dev, q, head);
	return head;
}

void vqh_kick(struct vq_harness *h, struct virtio_dev *dev, uint16_t q)
{
	(void)h;
	pthread_mutex_lock(&dev->lock);
	dev->ops->queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

bool vqh_used(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint32_t *id, uint32_t *len)
{
	struct virtq *vq = &dev->vqs[q];
	uint16_t *used = vqh_hva(h, vq->used_gpa);
	uint32_t *elem;

	if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == h->used_seen[q])
		return false;
	elem = (uint32_t *)(used + 2) + 2u * (h->used_seen[q] % vq->size);
	*id = elem[0];
	*len = elem[1];
	h->used_seen[q]++;
	return true;
}
