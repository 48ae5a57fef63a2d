/* Watched backend fds and the self-kick eventfd shared by the device
 * models (include/avp/devices/dev_wait.h says why they exist). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/devices/dev_wait.h"
#include "avp/log.h"

void dev_watch_init(struct dev_watch *w, int fd, uint32_t events)
{
	w->fd = fd;
	w->events = events;
	w->active = false;
}

int dev_watch_set(struct virtio_dev *dev, struct dev_watch *w, bool on)
{
	int ret;

	if (w->fd < 0)
		return 0;
	if (on) {
		ret = virtio_dev_watch_fd(dev, w->fd, w->events);
		if (ret) {
			avp_warn("%s: cannot wait on fd %d: %s", dev->ops->type, w->fd,
				 strerror(-ret));
			return ret;
		}
		w->active = true;
		return 0;
	}
	if (!w->active)
		return 0;
	/* Whatever the transport answers, we no longer count on events from
	 * it; ENOENT only means it had already dropped the fd. */
	ret = virtio_dev_unwatch_fd(dev, w->fd);
	w->active = false;
	return ret == -ENOENT ? 0 : ret;
}

int dev_resched_init(struct dev_resched *r)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	dev_watch_init(&r->watch, fd, EPOLLIN);
	return fd < 0 ? -errno : 0;
}

void dev_resched_fini(struct dev_resched *r)
{
	if (r->watch.fd >= 0)
		close(r->watch.fd);
	r->watch.fd = -1;
	r->watch.active = false;
}

void dev_resched_request(struct dev_resched *r)
{
	uint64_t one = 1;

	/* Only EAGAIN can fail here (counter saturated), and then a request
	 * is already pending, which is all we want. */
	if (r->watch.fd >= 0 && write(r->watch.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		avp_warn("device reschedule eventfd: %s", strerror(errno));
}

bool dev_resched_take(struct dev_resched *r, int fd)
{
	uint64_t count;

	if (fd < 0 || fd != r->watch.fd)
		return false;
	/* Non-blocking: EAGAIN means a spurious wakeup, which is harmless. */
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		avp_warn("device reschedule eventfd: %s", strerror(errno));
	return true;
}
