/* A pretend driver for unit tests: guest RAM in a heap buffer, queues laid
 * out in it, and helpers to post chains and read completions the way a
 * VIRTIO driver would. No KVM needed. */
#ifndef AVP_TEST_VQ_HARNESS_H
#define AVP_TEST_VQ_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/guest_mem.h"
#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"

#define VQH_RAM_GPA 0x100000ull

struct vqh_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable; /* device-writable */
};

struct vq_harness {
	struct guest_mem mem;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t next_free; /* bump allocator, gpa */
	/* per queue driver-side state */
	uint16_t next_desc[VIRTIO_MAX_QUEUES];
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t used_seen[VIRTIO_MAX_QUEUES];
	unsigned int irqs;	       /* interrupts raised */
	uint32_t isr_bits;	       /* OR of raised bits */
	struct virtio_transport_ops tops; /* the harness as dev's transport */
};

void vqh_init(struct vq_harness *h, uint64_t ram_size);
void vqh_free(struct vq_harness *h);
/* gpa of len fresh bytes (16-byte aligned, zeroed) */
uint64_t vqh_alloc(struct vq_harness *h, uint64_t len);
void *vqh_hva(struct vq_harness *h, uint64_t gpa);

/* Binds dev to the harness (mem, and itself as the transport) and negotiates features
 * (all offered ones plus VERSION_1; event_idx/indirect per flags). */
void vqh_attach(struct vq_harness *h, struct virtio_dev *dev, bool event_idx, bool indirect);
/* Replaces the transport's fd watching (a no-op by default) with spies. */
void vqh_set_watch(struct vq_harness *h, struct virtio_dev *dev,
		   int (*watch)(struct virtio_dev *dev, int fd, uint32_t epoll_events),
		   int (*unwatch)(struct virtio_dev *dev, int fd));
/* Lays out queue q with `size` entries and marks it ready. */
void vqh_setup_queue(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint16_t size);
/* Sets DRIVER_OK and calls ops->activate; returns its result. */
int vqh_activate(struct vq_harness *h, struct virtio_dev *dev);

/* Posts a chain of n buffers (direct descriptors) and returns its head. */
uint16_t vqh_post(struct vq_harness *h, struct virtio_dev *dev, uint16_t q,
		  const struct vqh_buf *bufs, unsigned int n);
/* Posts a chain through one indirect descriptor. */
uint16_t vqh_post_indirect(struct vq_harness *h, struct virtio_dev *dev, uint16_t q,
			   const struct vqh_buf *bufs, unsigned int n);
/* Raw access for hostile tests. */
struct virtq_desc *vqh_desc(struct vq_harness *h, struct virtio_dev *dev, uint16_t q);
void vqh_publish_head(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint16_t head);

/* Kicks the device: ops->queue_notify with dev->lock held. */
void vqh_kick(struct vq_harness *h, struct virtio_dev *dev, uint16_t q);
/* Next completion, if any. */
bool vqh_used(struct vq_harness *h, struct virtio_dev *dev, uint16_t q, uint32_t *id, uint32_t *len);

#endif
