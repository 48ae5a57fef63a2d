/* What a device model waits on besides its queue notifications.
 *
 * A backend fd (tap, console input) is watched only while the device can
 * make progress with it: a readable fd the device cannot serve (no guest
 * buffers) would make the transport's level-triggered epoll wake the device
 * thread in a loop. dev_watch remembers whether the fd is registered.
 *
 * dev_resched lets a device stop early to bound the work done per wakeup
 * (so one busy queue cannot starve the other, or the vCPU waiting for
 * dev->lock) and be called back through fd_ready once the thread has
 * looked at its other events. Without it, stopping early would lose the
 * driver's kick: the driver only kicks again once we have caught up to
 * the avail_event we published (VIRTIO 1.2, 2.7.10). */
#ifndef AVP_DEVICES_DEV_WAIT_H
#define AVP_DEVICES_DEV_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/virtio/virtio_dev.h"

struct dev_watch {
	int fd;		 /* -1: nothing to watch */
	uint32_t events; /* EPOLLIN, ... */
	bool active;	 /* registered with the transport */
};

void dev_watch_init(struct dev_watch *w, int fd, uint32_t events);
/* Starts or stops waiting on w->fd. Registering again is harmless (the
 * transport modifies an existing registration), so activate() may force
 * it after a reset the device did not see. 0 or -errno. */
int dev_watch_set(struct virtio_dev *dev, struct dev_watch *w, bool on);

struct dev_resched {
	struct dev_watch watch; /* a non-blocking eventfd */
};

/* Opens the eventfd. 0 or -errno. */
int dev_resched_init(struct dev_resched *r);
void dev_resched_fini(struct dev_resched *r);
/* Asks to be called back: fd_ready(dev, r->watch.fd, EPOLLIN) follows once
 * the eventfd is watched. */
void dev_resched_request(struct dev_resched *r);
/* True when fd is this eventfd; then clears the request. */
bool dev_resched_take(struct dev_resched *r, int fd);

#endif
