/* virtio-mmio transport (VIRTIO 1.2, section 4.2.2) and the per-device
 * worker thread.
 *
 * Register accesses arrive on vCPU threads; queue work runs on the device's
 * own thread, woken by an ioeventfd per queue, so a slow backend never
 * stalls a vCPU. Interrupts leave through an irqfd. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/virtio/mmio.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"

enum mmio_reg {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define MMIO_MAGIC 0x74726976 /* "virt" */
#define EP_TAG_FD (1ull << 62)
#define EP_TAG_QUEUE (1ull << 61)
#define EP_TAG_STOP (1ull << 60)

struct virtio_mmio {
	struct virtio_dev *dev;
	struct vm *vm;
	struct platform_mmio_dev *pdev;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint64_t driver_features; /* as written, accepted at FEATURES_OK */
	atomic_uint isr;
	int irq_efd;
	bool irqfd;
	int notify_efd[VIRTIO_MAX_QUEUES];
	bool ioeventfd;
	int epfd;
	int stop_efd;
	pthread_t thread;
	bool thread_started;
};

uint64_t virtio_mmio_offered_features(struct virtio_dev *dev)
{
	uint64_t f = dev->ops->features ? dev->ops->features(dev) : 0;

	return f | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
	       (1ull << VIRTIO_F_INDIRECT_DESC);
}

static void mmio_raise_irq(struct virtio_dev *dev, uint32_t isr_bits)
{
	struct virtio_mmio *m = dev->transport;
	uint64_t one = 1;

	atomic_fetch_or(&m->isr, isr_bits);
	if (m->irqfd) {
		if (write(m->irq_efd, &one, sizeof(one)) < 0)
			avp_warn("%s: interrupt eventfd: %s", dev->ops->type, strerror(errno));
	} else {
		vm_irq_pulse(m->vm, m->pdev->gsi);
	}
}

static int mmio_watch_fd(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct virtio_mmio *m = dev->transport;
	struct epoll_event ev = { .events = events, .data.u64 = EP_TAG_FD | (uint32_t)fd };

	if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int mmio_unwatch_fd(struct virtio_dev *dev, int fd)
{
	struct virtio_mmio *m = dev->transport;

	if (epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL) && errno != ENOENT)
		return -errno;
	return 0;
}

static void device_reset(struct virtio_mmio *m)
{
	struct virtio_dev *dev = m->dev;

	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vqs[q], dev->mem);
	dev->status = 0;
	dev->driver_features = 0;
	m->driver_features = 0;
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	atomic_store(&m->isr, 0);
}

static void status_write(struct virtio_mmio *m, uint32_t value)
{
	struct virtio_dev *dev = m->dev;
	uint8_t old = dev->status;
	uint8_t new_status = (uint8_t)value;

	if (new_status == 0) {
		device_reset(m);
		return;
	}
	/* 3.1.1: FEATURES_OK sticks only when we can honour the subset the
	 * driver wrote; the driver reads status back to find out. */
	if ((new_status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t offered = virtio_mmio_offered_features(dev);

		if ((m->driver_features & ~offered) ||
		    !(m->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
			new_status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		} else {
			dev->driver_features = m->driver_features;
		}
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

static void set_addr_half(uint64_t *addr, uint32_t value, bool high)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | ((uint64_t)value << 32);
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

static void queue_write(struct virtio_mmio *m, uint64_t reg, uint32_t value)
{
	struct virtio_dev *dev = m->dev;
	struct virtq *vq;

	if (m->queue_sel >= dev->ops->num_queues)
		return;
	vq = &dev->vqs[m->queue_sel];
	if (reg == REG_QUEUE_READY) {
		if (!value) {
			vq->ready = false;
			return;
		}
		if (vq->ready)
			return;
		if (virtq_validate(vq)) {
			virtio_dev_needs_reset(dev, "queue rings are outside guest memory or misaligned");
			return;
		}
		vq->last_avail_idx = vq->used_idx = 0;
		vq->signalled_used_valid = false;
		vq->ready = true;
		return;
	}
	/* 4.2.2.3: the other queue registers are written while not ready. */
	if (vq->ready)
		return;
	switch (reg) {
	case REG_QUEUE_NUM:
		vq->size = value <= dev->queue_max ? (uint16_t)value : 0;
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		set_addr_half(&vq->desc_gpa, value, reg == REG_QUEUE_DESC_HIGH);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		set_addr_half(&vq->avail_gpa, value, reg == REG_QUEUE_DRIVER_HIGH);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		set_addr_half(&vq->used_gpa, value, reg == REG_QUEUE_DEVICE_HIGH);
		break;
	default:
		break;
	}
}

static uint32_t queue_read(struct virtio_mmio *m, uint64_t reg)
{
	struct virtio_dev *dev = m->dev;
	const struct virtq *vq;

	if (m->queue_sel >= dev->ops->num_queues)
		return 0;
	vq = &dev->vqs[m->queue_sel];
	switch (reg) {
	case REG_QUEUE_NUM_MAX:
		return dev->queue_max;
	case REG_QUEUE_NUM:
		return vq->size;
	case REG_QUEUE_READY:
		return vq->ready;
	case REG_QUEUE_DESC_LOW:
		return (uint32_t)vq->desc_gpa;
	case REG_QUEUE_DESC_HIGH:
		return (uint32_t)(vq->desc_gpa >> 32);
	case REG_QUEUE_DRIVER_LOW:
		return (uint32_t)vq->avail_gpa;
	case REG_QUEUE_DRIVER_HIGH:
		return (uint32_t)(vq->avail_gpa >> 32);
	case REG_QUEUE_DEVICE_LOW:
		return (uint32_t)vq->used_gpa;
	case REG_QUEUE_DEVICE_HIGH:
		return (uint32_t)(vq->used_gpa >> 32);
	default:
		return 0;
	}
}

static void kick_queue(struct virtio_mmio *m, uint32_t q)
{
	uint64_t one = 1;

	if (q >= m->dev->ops->num_queues)
		return;
	if (write(m->notify_efd[q], &one, sizeof(one)) < 0)
		avp_warn("%s: notify eventfd: %s", m->dev->ops->type, strerror(errno));
}

static uint32_t reg_read(struct virtio_mmio *m, uint64_t reg)
{
	struct virtio_dev *dev = m->dev;
	uint64_t features;

	switch (reg) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return 2; /* AVP-TRANS-1: modern devices only */
	case REG_DEVICE_ID:
		return dev->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR_ID;
	case REG_DEVICE_FEATURES:
		features = virtio_mmio_offered_features(dev);
		return m->device_features_sel == 0   ? (uint32_t)features
		       : m->device_features_sel == 1 ? (uint32_t)(features >> 32)
						     : 0;
	case REG_INTERRUPT_STATUS:
		return atomic_load(&m->isr);
	case REG_STATUS:
		return dev->status;
	case REG_CONFIG_GENERATION:
		return dev->config_generation;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		return 0xffffffff; /* 4.2.2: no shared memory region */
	default:
		return queue_read(m, reg);
	}
}

static void reg_write(struct virtio_mmio *m, uint64_t reg, uint32_t value)
{
	struct virtio_dev *dev = m->dev;

	switch (reg) {
	case REG_DEVICE_FEATURES_SEL:
		m->device_features_sel = value;
		break;
	case REG_DRIVER_FEATURES_SEL:
		m->driver_features_sel = value;
		break;
	case REG_DRIVER_FEATURES:
		if (dev->status & VIRTIO_STATUS_FEATURES_OK)
			break; /* 2.2.2: features are fixed once accepted */
		if (m->driver_features_sel == 0)
			m->driver_features = (m->driver_features & ~0xffffffffull) | value;
		else if (m->driver_features_sel == 1)
			m->driver_features = (m->driver_features & 0xffffffffull) | ((uint64_t)value << 32);
		break;
	case REG_QUEUE_SEL:
		m->queue_sel = value;
		break;
	case REG_QUEUE_NOTIFY:
		kick_queue(m, value);
		break;
	case REG_INTERRUPT_ACK:
		atomic_fetch_and(&m->isr, ~value);
		break;
	case REG_STATUS:
		status_write(m, value);
		break;
	case REG_SHM_SEL:
		break;
	default:
		queue_write(m, reg, value);
		break;
	}
}

static void config_access(struct virtio_mmio *m, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct virtio_dev *dev = m->dev;

	if (off > dev->config_len || len > dev->config_len - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		memcpy(data, dev->config + off, len);
		return;
	}
	if (dev->ops->config_write)
		dev->ops->config_write(dev, (uint32_t)off, data, len);
}

static void mmio_access(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *dev = m->dev;
	uint32_t value = 0;

	/* The interrupt path must not wait for a device busy with I/O. */
	if (!is_write && off == REG_INTERRUPT_STATUS && len == 4) {
		value = atomic_load(&m->isr);
		memcpy(data, &value, 4);
		return;
	}
	if (is_write && off == REG_QUEUE_NOTIFY && len == 4) {
		memcpy(&value, data, 4);
		kick_queue(m, value);
		return;
	}

	pthread_mutex_lock(&dev->lock);
	if (off >= REG_CONFIG) {
		config_access(m, off - REG_CONFIG, data, len, is_write);
	} else if (len != 4 || (off & 3)) {
		/* 4.2.2.2: registers are 32-bit wide and aligned. */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&value, data, 4);
		reg_write(m, off, value);
	} else {
		value = reg_read(m, off);
		memcpy(data, &value, 4);
	}
	pthread_mutex_unlock(&dev->lock);
}

static bool device_live(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void *device_thread(void *arg)
{
	struct virtio_mmio *m = arg;
	struct virtio_dev *dev = m->dev;
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
	if (m->vm->vm_fd >= 0 && avp_seccomp_apply(AVP_THREAD_DEVICE, m->vm->cfg)) {
		vm_request_exit(m->vm, VM_EXIT_HOST_ERROR);
		return NULL;
	}
	for (;;) {
		int n = epoll_wait(m->epfd, events, 16, -1);

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

				if (read(m->notify_efd[q], &count, sizeof(count)) < 0)
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
					epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
				pthread_mutex_unlock(&dev->lock);
			}
		}
	}
}

static void mmio_free(struct virtio_mmio *m)
{
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (m->notify_efd[q] >= 0)
			close(m->notify_efd[q]);
	if (m->irq_efd >= 0)
		close(m->irq_efd);
	if (m->stop_efd >= 0)
		close(m->stop_efd);
	if (m->epfd >= 0)
		close(m->epfd);
	free(m);
}

static int add_epoll(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup_fds(struct virtio_mmio *m)
{
	struct virtio_dev *dev = m->dev;
	int ret;

	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->stop_efd = eventfd(0, EFD_CLOEXEC);
	m->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->epfd < 0 || m->stop_efd < 0 || m->irq_efd < 0)
		return -errno;
	ret = add_epoll(m->epfd, m->stop_efd, EP_TAG_STOP);
	if (ret)
		return ret;
	for (uint16_t q = 0; q < dev->ops->num_queues; q++) {
		m->notify_efd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->notify_efd[q] < 0)
			return -errno;
		ret = add_epoll(m->epfd, m->notify_efd[q], EP_TAG_QUEUE | q);
		if (ret)
			return ret;
	}
	return 0;
}

/* Lets KVM complete QueueNotify writes and inject interrupts without a
 * trip through user space; without the capabilities the same eventfds are
 * driven from the MMIO handler instead. */
static void wire_kvm_eventfds(struct virtio_mmio *m)
{
	struct virtio_dev *dev = m->dev;

	m->irqfd = m->vm->have_irqfd && vm_irqfd_assign(m->vm, m->irq_efd, m->pdev->gsi) == 0;
	m->ioeventfd = m->vm->have_ioeventfd;
	for (uint16_t q = 0; q < dev->ops->num_queues && m->ioeventfd; q++)
		if (vm_ioeventfd_assign(m->vm, m->pdev->base + REG_QUEUE_NOTIFY, 4, q, m->notify_efd[q]))
			m->ioeventfd = false;
}

static int start_thread(struct virtio_mmio *m)
{
	int ret = pthread_create(&m->thread, NULL, device_thread, m);

	if (ret)
		return -ret;
	m->thread_started = true;
	return 0;
}

int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev)
{
	struct virtio_mmio *m;
	struct platform_mmio_dev *pdev;
	int ret;

	if (dev->ops->num_queues == 0 || dev->ops->num_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	ret = vm_alloc_mmio_dev(vm, dev->ops->type, VIRTIO_MMIO_SIZE, &pdev);
	if (ret)
		return ret;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->epfd = m->stop_efd = m->irq_efd = -1;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->notify_efd[q] = -1;
	m->dev = dev;
	m->vm = vm;
	m->pdev = pdev;

	dev->vm = vm;
	dev->mem = &vm->mem;
	dev->transport = m;
	dev->raise_irq = mmio_raise_irq;
	dev->watch_fd = mmio_watch_fd;
	dev->unwatch_fd = mmio_unwatch_fd;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vqs[q], dev->mem);

	ret = setup_fds(m);
	if (ret)
		goto fail;
	ret = io_bus_register(&vm->mmio, pdev->base, pdev->size, mmio_access, m, dev->ops->type);
	if (ret)
		goto fail;
	if (vm->vm_fd >= 0)
		wire_kvm_eventfds(m);
	if (!vm->defer_device_threads) {
		ret = start_thread(m);
		if (ret)
			goto fail;
	}
	pdev->virtio_id = dev->ops->device_id;
	pdev->features = virtio_mmio_offered_features(dev);
	pdev->dev = dev;
	return 0;
fail:
	/* The bus registration cannot be undone, but the VM is being torn
	 * down after any attach failure, so the range is never used. */
	dev->transport = NULL;
	mmio_free(m);
	return ret;
}

int virtio_mmio_start(struct virtio_dev *dev)
{
	struct virtio_mmio *m = dev ? dev->transport : NULL;

	if (!m)
		return -EINVAL;
	return m->thread_started ? 0 : start_thread(m);
}

void virtio_mmio_detach(struct virtio_dev *dev)
{
	struct virtio_mmio *m = dev->transport;
	uint64_t one = 1;

	if (m) {
		if (m->thread_started) {
			if (write(m->stop_efd, &one, sizeof(one)) < 0)
				avp_warn("%s: stop eventfd: %s", dev->ops->type, strerror(errno));
			pthread_join(m->thread, NULL);
		}
		mmio_free(m);
		dev->transport = NULL;
	}
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
}
