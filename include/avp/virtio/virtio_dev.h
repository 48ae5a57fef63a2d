/* A VIRTIO device as the device models see it, independent of transport.
 *
 * Each device type is one file under src/devices/ that fills in a small ops
 * table. The transport (avp/virtio/transport.h; src/virtio/mmio.c) owns the
 * registers, status and feature negotiation, queue setup and reset; its
 * worker (src/virtio/worker.c) runs the device's queue work on the device's
 * own thread, never on a vCPU thread. */
#ifndef AVP_VIRTIO_DEV_H
#define AVP_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "avp/virtio/virtqueue.h"

/* Device IDs (VIRTIO 1.2, section 5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Reserved feature bits (VIRTIO 1.2, section 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* Device status bits (VIRTIO 1.2, section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* The most virtqueues of one device: virtio-net's 8 queue pairs and its
 * control queue (virtio-blk keeps to its own VIRTIO_BLK_MAX_QUEUES). */
#define VIRTIO_MAX_QUEUES 17

struct virtio_dev;
struct virtio_transport_ops;
struct vm;

struct virtio_dev_ops {
	const char *type; /* "virtio-blk": shown in --describe and logs */
	uint32_t device_id;
	uint16_t num_queues;
	/* Device-specific feature bits; the transport adds VERSION_1,
	 * EVENT_IDX and INDIRECT_DESC. */
	uint64_t (*features)(struct virtio_dev *dev);
	/* Config space: the transport bounds-checks offset+len against
	 * dev->config_len and copies from dev->config; a device with writable
	 * config fields handles writes here (optional). */
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const void *data, uint32_t len);
	/* DRIVER_OK was set: queues are configured; start backends (optional). */
	int (*activate)(struct virtio_dev *dev);
	/* The driver kicked queue q (device thread, dev->lock held). */
	void (*queue_notify)(struct virtio_dev *dev, uint16_t q);
	/* A backend fd registered with virtio_dev_watch_fd became ready
	 * (device thread, dev->lock held). */
	void (*fd_ready)(struct virtio_dev *dev, int fd, uint32_t epoll_events);
	/* Device reset: drop in-flight state (dev->lock held). */
	void (*reset)(struct virtio_dev *dev);
	/* Free the device's private state and backends; calls
	 * virtio_dev_fini before it frees the memory dev lives in. */
	void (*destroy)(struct virtio_dev *dev);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv; /* the device model's state */
	struct vm *vm;
	const struct guest_mem *mem;

	pthread_mutex_t lock; /* guards everything below and the device's state */

	uint64_t driver_features; /* accepted at FEATURES_OK */
	uint8_t status;
	uint32_t config_generation;
	uint8_t *config;
	uint32_t config_len;
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	uint16_t queue_max;

	/* The transport carrying the device (virtio_transport_attach) and
	 * its private state; the device reaches it only through the helpers
	 * below. NULL before attach and after detach. */
	const struct virtio_transport_ops *tops;
	void *transport;
};

/* True when feature bit `bit` was negotiated. */
static inline bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit)
{
	return (dev->driver_features >> bit) & 1u;
}

/* Completes a chain and interrupts the driver if it asked for it. */
void virtio_dev_complete(struct virtio_dev *dev, uint16_t q, uint16_t head, uint32_t written);
/* Completes n chains as one group (see virtq_push_many). */
void virtio_dev_complete_many(struct virtio_dev *dev, uint16_t q, const uint16_t *heads,
			      const uint32_t *written, unsigned int n);
/* Batching: puts n chains on the used ring (as one group) without
 * interrupting; virtio_dev_signal_used then interrupts once for all
 * that were pushed, if the driver asked (2.7.10). A device ends every
 * batch with virtio_dev_signal_used. */
void virtio_dev_push_used(struct virtio_dev *dev, uint16_t q, const uint16_t *heads,
			  const uint32_t *written, unsigned int n);
void virtio_dev_signal_used(struct virtio_dev *dev, uint16_t q);
/* Signals a configuration change (bumps the generation). */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* Marks the device DEVICE_NEEDS_RESET after the driver broke the ring. */
void virtio_dev_needs_reset(struct virtio_dev *dev, const char *why);
/* Backend fds to wait on in the device thread (tap, console input...). */
int virtio_dev_watch_fd(struct virtio_dev *dev, int fd, uint32_t epoll_events);
int virtio_dev_unwatch_fd(struct virtio_dev *dev, int fd);

/* Common part of device construction: zeroes dev, sets ops/priv/config. */
void virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		     void *priv, void *config, uint32_t config_len);
/* Undoes virtio_dev_init: every ops->destroy calls it before it frees the
 * memory dev lives in. The transport is gone by then, so dev forgets it
 * (a backend closed afterwards has nothing to unwatch). */
void virtio_dev_fini(struct virtio_dev *dev);

#endif
