/* The per-device worker thread, shared by every transport.
 *
 * Queue work runs here, woken by one eventfd per queue (which KVM writes
 * itself when the transport wired it as an ioeventfd), so a slow backend
 * never stalls a vCPU. Backend fds a device watches (tap, sockets, timers)
 * wake the same thread; everything the device does runs under dev->lock. */
#ifndef AVP_VIRTIO_WORKER_H
#define AVP_VIRTIO_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "avp/virtio/virtio_dev.h"

struct vm;

struct virtio_worker {
	struct virtio_dev *dev;
	struct vm *vm;
	int epfd;
	int stop_efd;
	int notify_efd[VIRTIO_MAX_QUEUES]; /* one per queue the device has */
	pthread_t thread;
	bool started;
};

/* Creates the wait set and the queue eventfds for dev's queues; the
 * thread does not run yet. 0 or -errno; on failure call
 * virtio_worker_fini. */
int virtio_worker_init(struct virtio_worker *w, struct vm *vm, struct virtio_dev *dev);
/* Starts the thread; a no-op when it runs already. 0 or -errno. */
int virtio_worker_start(struct virtio_worker *w);
/* Stops and joins the thread (if it ran) and closes every fd. Safe on a
 * zeroed or half-initialised worker whose fds are -1. */
void virtio_worker_fini(struct virtio_worker *w);
/* Wakes the worker for queue q, as a QueueNotify does; ignored for a
 * queue the device does not have. */
void virtio_worker_kick(struct virtio_worker *w, uint32_t q);
/* The eventfd the transport hands KVM for queue q's notifications. */
int virtio_worker_notify_fd(const struct virtio_worker *w, uint16_t q);
/* Backend fds to wait on (EPOLL_CTL_MOD when watched already). */
int virtio_worker_watch_fd(struct virtio_worker *w, int fd, uint32_t epoll_events);
int virtio_worker_unwatch_fd(struct virtio_worker *w, int fd);

#endif
