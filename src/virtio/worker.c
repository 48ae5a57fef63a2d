/* The per-device worker thread and its wait set (avp/virtio/worker.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/virtio/worker.h"
#include "avp/vm.h"

#define EP_TAG_FD (1ull << 62)
#define EP_TAG_QUEUE (1ull << 61)
#define EP_TAG_STOP (1ull << 60)

/* The thread's stack (docs/footprint.md): the deepest device path takes
 * about 10 KiB (gcc -fstack-usage, glibc's formatting included), glibc's
 * default reserves 8 MiB; this leaves twenty-fold room. ASan's red zones
 * and fake frames multiply frame sizes, so its builds keep more. */
#ifdef __SANITIZE_ADDRESS__
#define WORKER_STACK (2u << 20)
#else
#define WORKER_STACK (256u << 10)
#endif

static int add_epoll(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int virtio_worker_init(struct virtio_worker *w, struct vm *vm, struct virtio_dev *dev)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->vm = vm;
	w->epfd = w->stop_efd = -1;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		w->notify_efd[q] = -1;
	if (dev->ops->num_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stop_efd = eventfd(0, EFD_CLOEXEC);
	if (w->epfd < 0 || w->stop_efd < 0)
		return -errno;
	ret = add_epoll(w->epfd, w->stop_efd, EP_TAG_STOP);
	if (ret)
		return ret;
	for (uint16_t q = 0; q < dev->ops->num_queues; q++) {
		w->notify_efd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->notify_efd[q] < 0)
			return -errno;
		ret = add_epoll(w->epfd, w->notify_efd[q], EP_TAG_QUEUE | q);
		if (ret)
			return ret;
	}
	return 0;
}

static bool device_live(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void *worker_thread(void *arg)
{
	struct virtio_worker *w = arg;
	struct virtio_dev *dev = w->dev;
	struct epoll_event events[16];
	const char *type = dev->ops->type;
	char name[16];

	/* "avp-blk", "avp-vsock": what ps -L and the jail test look for.
	 * Named by the thread itself (prctl), because naming another thread
	 * goes through /proc, which a jail does not have. */
	if (strncmp(type, "virtio-", 7) == 0)
		type += 7;
	snprintf(name, sizeof(name), "avp-%s", type);
	pthread_setname_np(pthread_self(), name);

	/* Confined before the first request reaches the device
	 * (docs/security.md). Without a KVM VM (unit tests) no guest can
	 * reach it, and tests keep the freedom to do what they like. */
	if (w->vm->vm_fd >= 0 && avp_seccomp_apply(AVP_THREAD_DEVICE, w->vm->cfg)) {
		vm_request_exit(w->vm, VM_EXIT_HOST_ERROR);
		return NULL;
	}
	for (;;) {
		int n = epoll_wait(w->epfd, events, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			avp_err("%s: epoll_wait: %s", dev->ops->type, strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			uint64_t count;

			if (tag & EP_TAG_STOP)
				return NULL;
			if (tag & EP_TAG_QUEUE) {
				uint16_t q = (uint16_t)(tag & 0xffff);

				if (read(w->notify_efd[q], &count, sizeof(count)) < 0)
					continue;
				pthread_mutex_lock(&dev->lock);
				if (device_live(dev) && dev->vqs[q].ready && dev->ops->queue_notify)
					dev->ops->queue_notify(dev, q);
				pthread_mutex_unlock(&dev->lock);
			} else if (tag & EP_TAG_FD) {
				int fd = (int)(uint32_t)tag;

				pthread_mutex_lock(&dev->lock);
				if (device_live(dev) && dev->ops->fd_ready)
					dev->ops->fd_ready(dev, fd, events[i].events);
				else
					/* A ready backend fd of a stopped device would
					 * wake us forever; activate() watches it again. */
					epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
				pthread_mutex_unlock(&dev->lock);
			}
		}
	}
}

int virtio_worker_start(struct virtio_worker *w)
{
	int ret;

	pthread_attr_t attr;

	if (w->started)
		return 0;
	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	ret = pthread_attr_setstacksize(&attr, WORKER_STACK);
	if (!ret)
		ret = pthread_create(&w->thread, &attr, worker_thread, w);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	w->started = true;
	return 0;
}

void virtio_worker_fini(struct virtio_worker *w)
{
	uint64_t one = 1;

	if (w->started) {
		if (write(w->stop_efd, &one, sizeof(one)) < 0)
			avp_warn("%s: stop eventfd: %s", w->dev->ops->type, strerror(errno));
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (w->notify_efd[q] >= 0)
			close(w->notify_efd[q]);
	if (w->stop_efd >= 0)
		close(w->stop_efd);
	if (w->epfd >= 0)
		close(w->epfd);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		w->notify_efd[q] = -1;
	w->stop_efd = w->epfd = -1;
}

void virtio_worker_kick(struct virtio_worker *w, uint32_t q)
{
	uint64_t one = 1;

	if (q >= w->dev->ops->num_queues)
		return;
	if (write(w->notify_efd[q], &one, sizeof(one)) < 0)
		avp_warn("%s: notify eventfd: %s", w->dev->ops->type, strerror(errno));
}

int virtio_worker_notify_fd(const struct virtio_worker *w, uint16_t q)
{
	return q < VIRTIO_MAX_QUEUES ? w->notify_efd[q] : -1;
}

int virtio_worker_watch_fd(struct virtio_worker *w, int fd, uint32_t epoll_events)
{
	struct epoll_event ev = { .events = epoll_events, .data.u64 = EP_TAG_FD | (uint32_t)fd };

	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int virtio_worker_unwatch_fd(struct virtio_worker *w, int fd)
{
	if (epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) && errno != ENOENT)
		return -errno;
	return 0;
}
