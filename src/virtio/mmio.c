/* virtio-mmio transport (VIRTIO 1.2, section 4.2.2): the register
 * interface, behind struct virtio_transport_ops (avp/virtio/transport.h).
 *
 * Register accesses arrive on vCPU threads; queue work runs on the device's
 * worker (src/virtio/worker.c), woken by an ioeventfd per queue, so a slow
 * backend never stalls a vCPU. Interrupts leave through an irqfd. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/log.h"
#include "avp/virtio/mmio.h"
#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/worker.h"
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
	bool irqfd_pending; /* setup_notify ran before KVM took irqfds */
	bool ioeventfd;
	struct virtio_worker worker;
};

uint64_t virtio_mmio_offered_features(struct virtio_dev *dev)
{
	return virtio_transport_features(dev);
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

	return virtio_worker_watch_fd(&m->worker, fd, events);
}

static int mmio_unwatch_fd(struct virtio_dev *dev, int fd)
{
	struct virtio_mmio *m = dev->transport;

	return virtio_worker_unwatch_fd(&m->worker, fd);
}

static void device_reset(struct virtio_mmio *m)
{
	virtio_transport_reset_dev(m->dev);
	m->driver_features = 0;
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	atomic_store(&m->isr, 0);
}

static void status_write(struct virtio_mmio *m, uint32_t value)
{
	if ((uint8_t)value == 0) {
		device_reset(m);
		return;
	}
	virtio_transport_write_status(m->dev, m->driver_features, (uint8_t)value);
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
		virtio_transport_enable_queue(dev, (uint16_t)m->queue_sel);
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

/* Without an ioeventfd (no KVM, or KVM refused it) a QueueNotify write
 * lands here and wakes the worker the way KVM would have. */
static void kick_queue(struct virtio_mmio *m, uint32_t q)
{
	virtio_worker_kick(&m->worker, q);
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

static void mmio_free(struct virtio_mmio *m)
{
	virtio_worker_fini(&m->worker);
	if (m->irq_efd >= 0)
		close(m->irq_efd);
	free(m);
}

/* Gives the interrupt eventfd to KVM as an irqfd, or leaves the device on
 * KVM_IRQ_LINE (mmio_raise_irq) when KVM has none or refuses it. Before
 * the worker and the vCPUs run: m->irqfd is read on their threads. */
static void mmio_connect_irq(struct virtio_mmio *m)
{
	const char *type = m->dev->ops->type;
	int err = m->vm->have_irqfd ? vm_irqfd_assign(m->vm, m->irq_efd, m->pdev->gsi) : -ENOSYS;

	m->irqfd_pending = false;
	m->irqfd = err == 0;
	if (err)
		avp_debug("%s: no irqfd for gsi %u (%s): its interrupts go through KVM_IRQ_LINE",
			  type, m->pdev->gsi, strerror(-err));
	else
		avp_debug("%s: interrupts on gsi %u through an irqfd", type, m->pdev->gsi);
}

/* Lets KVM complete QueueNotify writes and inject interrupts without a
 * trip through user space; without the capabilities the same eventfds are
 * driven from the MMIO handler instead. KVM takes an irqfd only once the
 * VM's interrupt controller is initialised (kvm_irqfd_assign in
 * virt/kvm/eventfd.c answers EAGAIN before): on arm64 that is after the
 * last vCPU (arch_irqfd_ready), so a device attached earlier gets its
 * irqfd when it starts (mmio_start). */
static void mmio_setup_notify(struct virtio_dev *dev)
{
	struct virtio_mmio *m = dev->transport;

	m->irqfd_pending = true;
	if (arch_irqfd_ready(m->vm))
		mmio_connect_irq(m);
	m->ioeventfd = m->vm->have_ioeventfd;
	for (uint16_t q = 0; q < dev->ops->num_queues && m->ioeventfd; q++)
		if (vm_ioeventfd_assign(m->vm, m->pdev->base + REG_QUEUE_NOTIFY, 4, q,
					virtio_worker_notify_fd(&m->worker, q)))
			m->ioeventfd = false;
}

static int mmio_start(struct virtio_dev *dev)
{
	struct virtio_mmio *m = dev->transport;

	if (m->irqfd_pending)
		mmio_connect_irq(m);
	return virtio_worker_start(&m->worker);
}

static int mmio_attach(struct vm *vm, struct virtio_dev *dev)
{
	struct virtio_mmio *m;
	struct platform_mmio_dev *pdev;
	int ret;

	if (dev->ops->num_queues == 0 || dev->ops->num_queues > VIRTIO_MAX_QUEUES) {
		avp_err("cannot attach %s: %u queues (a device has 1 to %u)", dev->ops->type,
			dev->ops->num_queues, VIRTIO_MAX_QUEUES);
		return -EINVAL;
	}
	/* Reports running out of windows or interrupts itself, naming the cap. */
	ret = vm_alloc_mmio_dev(vm, dev->ops->type, VIRTIO_MMIO_SIZE, &pdev);
	if (ret)
		return ret;
	m = calloc(1, sizeof(*m));
	if (!m) {
		avp_err("cannot attach %s: %s", dev->ops->type, strerror(ENOMEM));
		return -ENOMEM;
	}
	m->irq_efd = -1;
	m->dev = dev;
	m->vm = vm;
	m->pdev = pdev;

	dev->vm = vm;
	dev->mem = &vm->mem;
	dev->transport = m;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vqs[q], dev->mem);

	ret = virtio_worker_init(&m->worker, vm, dev);
	if (ret == 0) {
		m->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->irq_efd < 0)
			ret = -errno;
	}
	if (ret == 0)
		ret = io_bus_register(&vm->mmio, pdev->base, pdev->size, mmio_access, m, dev->ops->type);
	if (ret == 0 && vm->vm_fd >= 0)
		mmio_setup_notify(dev);
	if (ret == 0 && !vm->defer_device_threads)
		ret = mmio_start(dev);
	if (ret) {
		avp_err("cannot attach %s: %s", dev->ops->type, strerror(-ret));
		/* The bus registration cannot be undone, but the VM is being
		 * torn down after any attach failure, so the range is never
		 * used. */
		dev->transport = NULL;
		mmio_free(m);
		return ret;
	}
	pdev->virtio_id = dev->ops->device_id;
	pdev->features = virtio_mmio_offered_features(dev);
	pdev->dev = dev;
	return 0;
}

static void mmio_detach(struct virtio_dev *dev)
{
	struct virtio_mmio *m = dev->transport;

	mmio_free(m);
	dev->transport = NULL;
}

static void mmio_describe(const struct virtio_dev *dev, struct virtio_transport_info *out)
{
	const struct virtio_mmio *m = dev->transport;

	*out = (struct virtio_transport_info){
		.transport = "virtio-mmio",
		.base = m->pdev->base,
		.size = m->pdev->size,
		.irq = m->pdev->gsi,
		.features = m->pdev->features,
	};
}

const struct virtio_transport_ops virtio_mmio_transport = {
	.name = "virtio-mmio",
	.attach = mmio_attach,
	.detach = mmio_detach,
	.setup_notify = mmio_setup_notify,
	.start = mmio_start,
	.interrupt = mmio_raise_irq,
	.watch_fd = mmio_watch_fd,
	.unwatch_fd = mmio_unwatch_fd,
	.describe = mmio_describe,
};

int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev)
{
	return virtio_transport_attach(&virtio_mmio_transport, vm, dev);
}

void virtio_mmio_detach(struct virtio_dev *dev)
{
	virtio_transport_detach(dev);
}
