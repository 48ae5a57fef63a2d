/* virtio-pci transport (VIRTIO 1.2, section 4.1), behind struct
 * virtio_transport_ops (avp/virtio/transport.h), beside virtio-mmio.
 *
 * BAR 0 (VIRTIO_PCI_* in avp/virtio/pci.h) carries the common
 * configuration, the ISR byte, the device configuration, one notify
 * address per queue (ioeventfd, so a kick never leaves the kernel) and
 * the MSI-X table and PBA. Interrupts: a vector per queue plus the config
 * vector, each an irqfd on a GSI KVM routes to the programmed message;
 * INTx on a GSI while the driver has MSI-X off. Register accesses come
 * from vCPU threads, queue work runs on the worker, as with mmio. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/hw/msix.h"
#include "avp/hw/pci.h"
#include "avp/le.h"
#include "avp/log.h"
#include "avp/hw/msi_routes.h"
#include "avp/virtio/pci.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/worker.h"
#include "avp/vm.h"

/* struct virtio_pci_common_cfg (4.1.4.3). */
enum common_reg {
	C_DFSELECT = 0x00,
	C_DF = 0x04,
	C_GFSELECT = 0x08,
	C_GF = 0x0c,
	C_MSIX_CONFIG = 0x10,
	C_NUMQ = 0x12,
	C_STATUS = 0x14,
	C_CFGGEN = 0x15,
	C_Q_SELECT = 0x16,
	C_Q_SIZE = 0x18,
	C_Q_MSIX = 0x1a,
	C_Q_ENABLE = 0x1c,
	C_Q_NOFF = 0x1e,
	C_Q_DESC = 0x20,
	C_Q_AVAIL = 0x28,
	C_Q_USED = 0x30,
};

#define CAP_LEN 16
#define CAP_NOTIFY_LEN 20
#define CAP_PCI_CFG_LEN 20

struct virtio_pci {
	struct virtio_dev *dev;
	struct vm *vm;
	struct platform_mmio_dev *pdev;
	struct pci_fn fn;
	struct msix msix;
	uint8_t msix_cap;
	uint8_t cfg_cap; /* VIRTIO_PCI_CAP_PCI_CFG */
	uint16_t nvec;

	/* dev->lock */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint16_t queue_sel;
	uint64_t driver_features;
	_Atomic uint16_t config_vector;
	_Atomic uint16_t queue_vector[VIRTIO_MAX_QUEUES];

	atomic_uint isr;
	atomic_bool intx; /* INTx asserted */
	atomic_bool route_warned;
	uint32_t vec_gsi[VIRTIO_MAX_QUEUES + 1];
	int vec_efd[VIRTIO_MAX_QUEUES + 1]; /* irqfd, or -1 */
	uint64_t notify_base; /* where the ioeventfds sit, 0: none */
	bool ioeventfd;
	bool irqfd_pending; /* setup_notify ran before KVM took irqfds */
	struct virtio_worker worker;
};

/* ---- interrupts ---- */

static void intx_set(struct virtio_pci *p, bool level)
{
	int ret;

	if (atomic_exchange(&p->intx, level) == level)
		return;
	ret = vm_irq_line(p->vm, p->pdev->gsi, level);
	if (ret && ret != -ENODEV)
		avp_warn("%s: INTx: %s", p->dev->ops->type, strerror(-ret));
}

static void signal_vector(struct virtio_pci *p, uint16_t vector)
{
	/* MSI-X off: INTx, unless the driver disabled it in the command
	 * register (PCI 3.0, 6.2.2); the ISR still records the cause. */
	if (msix_notify(&p->msix, vector))
		return;
	if (!(pci_fn_command(&p->fn) & PCI_COMMAND_INTX_DISABLE))
		intx_set(p, true);
}

static void pci_interrupt(struct virtio_dev *dev, uint32_t isr_bits)
{
	struct virtio_pci *p = dev->transport;

	atomic_fetch_or(&p->isr, isr_bits);
	if (isr_bits & VIRTIO_ISR_CONFIG)
		signal_vector(p, atomic_load(&p->config_vector));
	if (isr_bits & VIRTIO_ISR_QUEUE)
		for (uint16_t q = 0; q < dev->ops->num_queues; q++)
			signal_vector(p, atomic_load(&p->queue_vector[q]));
}

static void pci_queue_interrupt(struct virtio_dev *dev, uint16_t q)
{
	struct virtio_pci *p = dev->transport;

	atomic_fetch_or(&p->isr, VIRTIO_ISR_QUEUE);
	if (q < VIRTIO_MAX_QUEUES)
		signal_vector(p, atomic_load(&p->queue_vector[q]));
}

/* 0 when vector v's irqfd now sends (addr, data); otherwise the caller
 * injects the message itself. Said once per device when KVM refuses. */
static int set_route(struct virtio_pci *p, uint16_t v, uint64_t addr, uint32_t data)
{
	int ret;

	if (v >= p->nvec || p->vec_efd[v] < 0 || !p->vm->msi)
		return -ENODEV;
	ret = msi_routes_set(p->vm->msi, p->vec_gsi[v], addr, data, pci_fn_bdf(&p->fn));
	if (ret && !atomic_exchange(&p->route_warned, true))
		avp_warn("%s: MSI-X vector %u: KVM_SET_GSI_ROUTING: %s; sending its messages "
			 "with KVM_SIGNAL_MSI instead", p->dev->ops->type, v, strerror(-ret));
	return ret;
}

static void msi_route(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	set_route(opaque, v, addr, data);
}

static int msi_deliver(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct virtio_pci *p = opaque;
	uint64_t one = 1;

	/* The route was set when the vector was unmasked; this only
	 * re-checks it (no ioctl unless the message changed). */
	if (set_route(p, v, addr, data) == 0)
		return write(p->vec_efd[v], &one, sizeof(one)) < 0 ? -errno : 0;
	if (p->vm->vm_fd < 0)
		return 0; /* no KVM (tests): msix counts the delivery */
	return msi_signal(p->vm->vm_fd, p->vm->msi, addr, data, pci_fn_bdf(&p->fn));
}

static const struct msix_ops msix_ops = {
	.deliver = msi_deliver,
	.route = msi_route,
};

/* ---- common configuration ---- */

/* The transport's registers as after a reset. queue_size reads the
 * maximum until the driver picks a size (4.1.4.3: "On reset, specifies
 * the maximum queue size supported by the device"). */
static void registers_reset(struct virtio_pci *p)
{
	for (unsigned int q = 0; q < p->dev->ops->num_queues; q++)
		p->dev->vqs[q].size = p->dev->queue_max;
	p->driver_features = 0;
	p->device_features_sel = p->driver_features_sel = 0;
	p->queue_sel = 0;
	atomic_store(&p->config_vector, VIRTIO_PCI_NO_VECTOR);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		atomic_store(&p->queue_vector[q], VIRTIO_PCI_NO_VECTOR);
	atomic_store(&p->isr, 0);
	intx_set(p, false);
}

static void device_reset(struct virtio_pci *p)
{
	virtio_transport_reset_dev(p->dev);
	registers_reset(p);
}

/* 4.1.5.1.2: a vector the device cannot use reads back as NO_VECTOR. */
static uint16_t checked_vector(const struct virtio_pci *p, uint16_t v)
{
	return v < p->nvec ? v : VIRTIO_PCI_NO_VECTOR;
}

static struct virtq *selected_vq(struct virtio_pci *p)
{
	return p->queue_sel < p->dev->ops->num_queues ? &p->dev->vqs[p->queue_sel] : NULL;
}

/* The whole structure as the driver would read it now. */
static void common_image(struct virtio_pci *p, uint8_t img[VIRTIO_PCI_COMMON_LEN])
{
	struct virtio_dev *dev = p->dev;
	uint64_t features = virtio_transport_features(dev);
	const struct virtq *vq = selected_vq(p);

	memset(img, 0, VIRTIO_PCI_COMMON_LEN);
	put_le32(img + C_DFSELECT, p->device_features_sel);
	put_le32(img + C_DF, p->device_features_sel == 0   ? (uint32_t)features
			     : p->device_features_sel == 1 ? (uint32_t)(features >> 32)
							    : 0);
	put_le32(img + C_GFSELECT, p->driver_features_sel);
	put_le32(img + C_GF, p->driver_features_sel == 0   ? (uint32_t)p->driver_features
			     : p->driver_features_sel == 1 ? (uint32_t)(p->driver_features >> 32)
							   : 0);
	put_le16(img + C_MSIX_CONFIG, atomic_load(&p->config_vector));
	put_le16(img + C_NUMQ, dev->ops->num_queues);
	img[C_STATUS] = dev->status;
	img[C_CFGGEN] = (uint8_t)dev->config_generation;
	put_le16(img + C_Q_SELECT, p->queue_sel);
	/* 4.1.4.3.1: queue_size 0 for a queue that does not exist. */
	if (!vq)
		return;
	put_le16(img + C_Q_SIZE, vq->size);
	put_le16(img + C_Q_MSIX, atomic_load(&p->queue_vector[p->queue_sel]));
	put_le16(img + C_Q_ENABLE, vq->ready);
	put_le16(img + C_Q_NOFF, p->queue_sel);
	put_le64(img + C_Q_DESC, vq->desc_gpa);
	put_le64(img + C_Q_AVAIL, vq->avail_gpa);
	put_le64(img + C_Q_USED, vq->used_gpa);
}

static void set_half(uint64_t *v, uint32_t half, bool high)
{
	*v = high ? (*v & 0xffffffffull) | (uint64_t)half << 32 : (*v & ~0xffffffffull) | half;
}

static void queue_write(struct virtio_pci *p, uint64_t off, uint32_t len, uint64_t val)
{
	struct virtio_dev *dev = p->dev;
	struct virtq *vq = selected_vq(p);
	uint64_t *addr;

	if (!vq)
		return; /* queue_select out of range: nothing to configure */
	if (off == C_Q_ENABLE && len == 2) {
		/* 4.1.4.3.2: the driver writes only 1; queues are disabled
		 * by a device reset. */
		if (val == 1)
			virtio_transport_enable_queue(dev, p->queue_sel);
		return;
	}
	if (off == C_Q_MSIX && len == 2) {
		atomic_store(&p->queue_vector[p->queue_sel], checked_vector(p, (uint16_t)val));
		return;
	}
	/* 4.1.4.3.2: the rest is written while the queue is disabled. */
	if (vq->ready)
		return;
	if (off == C_Q_SIZE && len == 2) {
		/* A power of two up to the maximum (2.7.10.1), or 0. */
		vq->size = val && val <= dev->queue_max && !(val & (val - 1)) ? (uint16_t)val : 0;
		return;
	}
	if (off < C_Q_DESC || off >= C_Q_USED + 8)
		return;
	addr = off < C_Q_AVAIL ? &vq->desc_gpa : off < C_Q_USED ? &vq->avail_gpa : &vq->used_gpa;
	if (len == 8 && !(off & 7))
		*addr = val;
	else if (len == 4)
		set_half(addr, (uint32_t)val, off & 4);
}

static void common_write(struct virtio_pci *p, uint64_t off, uint32_t len, uint64_t val)
{
	struct virtio_dev *dev = p->dev;

	switch (off | (uint64_t)len << 8) {
	case C_DFSELECT | 4 << 8:
		p->device_features_sel = (uint32_t)val;
		break;
	case C_GFSELECT | 4 << 8:
		p->driver_features_sel = (uint32_t)val;
		break;
	case C_GF | 4 << 8:
		if (dev->status & VIRTIO_STATUS_FEATURES_OK)
			break; /* 2.2.2: fixed once accepted */
		if (p->driver_features_sel < 2)
			set_half(&p->driver_features, (uint32_t)val, p->driver_features_sel);
		break;
	case C_MSIX_CONFIG | 2 << 8:
		atomic_store(&p->config_vector, checked_vector(p, (uint16_t)val));
		break;
	case C_STATUS | 1 << 8:
		if ((uint8_t)val == 0)
			device_reset(p);
		else
			virtio_transport_write_status(dev, p->driver_features, (uint8_t)val);
		break;
	case C_Q_SELECT | 2 << 8:
		p->queue_sel = (uint16_t)val;
		break;
	default:
		queue_write(p, off, len, val);
		break;
	}
}

static void common_access(struct virtio_pci *p, uint64_t off, void *data, uint32_t len,
			  bool is_write)
{
	uint8_t img[VIRTIO_PCI_COMMON_LEN];
	uint64_t val = 0;

	/* 4.1.3.1: fields are accessed at their width, naturally aligned
	 * (64-bit ones also as two 32-bit halves); anything else is dropped. */
	if ((len != 1 && len != 2 && len != 4 && len != 8) || (off & (len - 1)) ||
	    off >= VIRTIO_PCI_COMMON_LEN || len > VIRTIO_PCI_COMMON_LEN - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		common_image(p, img);
		memcpy(data, img + off, len);
		return;
	}
	memcpy(&val, data, len);
	common_write(p, off, len, val);
}

/* ---- BAR 0 ---- */

static void kick(struct virtio_pci *p, uint64_t off)
{
	uint64_t q = off / VIRTIO_PCI_NOTIFY_MULT;

	if (q < p->dev->ops->num_queues)
		virtio_worker_kick(&p->worker, (uint32_t)q);
}

static void device_cfg_access(struct virtio_pci *p, uint64_t off, void *data, uint32_t len,
			      bool is_write)
{
	struct virtio_dev *dev = p->dev;

	if (off > dev->config_len || len > dev->config_len - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write)
		memcpy(data, dev->config + off, len);
	else if (dev->ops->config_write)
		dev->ops->config_write(dev, (uint32_t)off, data, len);
}

static void bar_access(void *opaque, unsigned int bar, uint64_t off, void *data, uint32_t len,
		       bool is_write)
{
	struct virtio_pci *p = opaque;
	struct virtio_dev *dev = p->dev;
	uint8_t isr;

	if (bar != 0) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	/* Lock-free, as on mmio: a kick, the interrupt path, the MSI-X
	 * table (its own lock) never wait for a device busy with I/O. */
	if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_MSIX_TABLE_OFF) {
		if (is_write)
			kick(p, off - VIRTIO_PCI_NOTIFY_OFF);
		else
			memset(data, 0, len);
		return;
	}
	if (off >= VIRTIO_PCI_MSIX_PBA_OFF) {
		msix_pba_access(&p->msix, off - VIRTIO_PCI_MSIX_PBA_OFF, data, len, is_write);
		return;
	}
	if (off >= VIRTIO_PCI_MSIX_TABLE_OFF) {
		msix_table_access(&p->msix, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len, is_write);
		return;
	}
	if (off >= VIRTIO_PCI_ISR_OFF && off < VIRTIO_PCI_DEVICE_OFF) {
		/* 4.1.4.5: reading clears the ISR and deasserts INTx. */
		if (is_write)
			return;
		memset(data, 0, len);
		if (off == VIRTIO_PCI_ISR_OFF) {
			isr = (uint8_t)atomic_exchange(&p->isr, 0);
			intx_set(p, false);
			memcpy(data, &isr, 1);
		}
		return;
	}
	pthread_mutex_lock(&dev->lock);
	if (off < VIRTIO_PCI_ISR_OFF)
		common_access(p, off - VIRTIO_PCI_COMMON_OFF, data, len, is_write);
	else
		device_cfg_access(p, off - VIRTIO_PCI_DEVICE_OFF, data, len, is_write);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- configuration space ---- */

/* struct virtio_pci_cfg_cap (4.1.4.9): bar, offset and length pick a
 * window of the BAR that pci_cfg_data reads and writes. */
static bool cfg_window(const struct virtio_pci *p, uint64_t *off, uint32_t *len)
{
	const uint8_t *c = p->fn.cfg + p->cfg_cap;

	*off = get_le32(c + 8);
	*len = get_le32(c + 12);
	/* 4.1.4.9.1: length 1, 2 or 4, offset aligned to it, inside BAR 0. */
	return c[4] == 0 && (*len == 1 || *len == 2 || *len == 4) && !(*off & (*len - 1)) &&
	       *off + *len <= VIRTIO_PCI_BAR_SIZE;
}

static bool touches(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

static void cfg_read(void *opaque, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = opaque;
	uint8_t *data = p->fn.cfg + p->cfg_cap + 16;
	uint64_t boff;
	uint32_t blen;

	if (!touches(off, len, p->cfg_cap + 16u, 4))
		return;
	memset(data, 0, 4);
	if (cfg_window(p, &boff, &blen))
		bar_access(p, 0, boff, data, blen, false);
}

static void cfg_written(void *opaque, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = opaque;
	uint64_t boff;
	uint32_t blen;

	if (touches(off, len, p->msix_cap + 2u, 2))
		msix_write_ctrl(&p->msix, get_le16(p->fn.cfg + p->msix_cap + 2));
	if (touches(off, len, p->cfg_cap + 16u, 4) && cfg_window(p, &boff, &blen))
		bar_access(p, 0, boff, p->fn.cfg + p->cfg_cap + 16, blen, true);
}

/* ioeventfds follow the notify addresses when the driver moves BAR 0
 * (or turns memory decoding off: then a write there is no kick). */
static void bar_moved(void *opaque, unsigned int bar, uint64_t base)
{
	struct virtio_pci *p = opaque;
	struct vm *vm = p->vm;

	if (bar != 0 || !p->ioeventfd)
		return;
	for (uint16_t q = 0; q < p->dev->ops->num_queues; q++) {
		int efd = virtio_worker_notify_fd(&p->worker, q);
		uint64_t off = VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;

		if (p->notify_base)
			vm_ioeventfd_deassign(vm, p->notify_base + off, 2, q, efd);
		if (base && vm_ioeventfd_assign(vm, base + off, 2, q, efd))
			avp_warn("%s: queue %u notifications take the slow path", p->dev->ops->type, q);
	}
	p->notify_base = base;
}

static const struct pci_fn_ops fn_ops = {
	.bar_access = bar_access,
	.cfg_read = cfg_read,
	.cfg_written = cfg_written,
	.bar_moved = bar_moved,
};

static uint32_t class_of(uint32_t virtio_id)
{
	switch (virtio_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* communication, other */
	default:
		return 0xff0000; /* no defined class */
	}
}

static int add_vcap(struct virtio_pci *p, uint8_t type, uint8_t len, uint32_t off, uint32_t n,
		    uint8_t *at)
{
	uint8_t *c;
	int ret = pci_fn_add_cap(&p->fn, PCI_CAP_ID_VNDR, len, at);

	if (ret)
		return ret;
	c = p->fn.cfg + *at;
	c[2] = len;
	c[3] = type;
	c[4] = 0; /* BAR 0 */
	put_le32(c + 8, off);
	put_le32(c + 12, n);
	return 0;
}

static int build_config_space(struct virtio_pci *p, uint64_t bar_base, uint8_t slot)
{
	struct virtio_dev *dev = p->dev;
	static const uint8_t ctrl_mask[2] = { 0, (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8 };
	static const uint8_t ones[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t at;
	int ret;

	pci_fn_init(&p->fn, VIRTIO_PCI_VENDOR_ID,
		    (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + dev->ops->device_id), 1,
		    class_of(dev->ops->device_id), VIRTIO_PCI_VENDOR_ID, VIRTIO_PCI_SUBSYS_ID,
		    &fn_ops, p);
	p->fn.slot = slot;
	/* As firmware would leave it: BAR assigned, memory decoding on. */
	p->fn.cfg[PCI_COMMAND] = PCI_COMMAND_MEMORY;
	p->fn.cfg[PCI_INTERRUPT_LINE] = (uint8_t)p->pdev->gsi;
	ret = pci_fn_add_bar(&p->fn, 0, bar_base, VIRTIO_PCI_BAR_SIZE);
	if (!ret)
		ret = pci_fn_add_cap(&p->fn, PCI_CAP_ID_MSIX, MSIX_CAP_LEN, &p->msix_cap);
	if (ret)
		return ret;
	msix_fill_cap(&p->msix, p->fn.cfg + p->msix_cap, 0, VIRTIO_PCI_MSIX_TABLE_OFF,
		      VIRTIO_PCI_MSIX_PBA_OFF);
	pci_fn_writable(&p->fn, p->msix_cap + 2u, ctrl_mask, 2);
	ret = add_vcap(p, VIRTIO_PCI_CAP_COMMON_CFG, CAP_LEN, VIRTIO_PCI_COMMON_OFF,
		       VIRTIO_PCI_COMMON_LEN, &at);
	if (!ret)
		ret = add_vcap(p, VIRTIO_PCI_CAP_ISR_CFG, CAP_LEN, VIRTIO_PCI_ISR_OFF, 1, &at);
	if (!ret && dev->config_len)
		ret = add_vcap(p, VIRTIO_PCI_CAP_DEVICE_CFG, CAP_LEN, VIRTIO_PCI_DEVICE_OFF,
			       dev->config_len, &at);
	if (!ret)
		ret = add_vcap(p, VIRTIO_PCI_CAP_NOTIFY_CFG, CAP_NOTIFY_LEN, VIRTIO_PCI_NOTIFY_OFF,
			       (uint32_t)dev->ops->num_queues * VIRTIO_PCI_NOTIFY_MULT, &at);
	if (!ret)
		put_le32(p->fn.cfg + at + 16, VIRTIO_PCI_NOTIFY_MULT);
	if (!ret)
		ret = add_vcap(p, VIRTIO_PCI_CAP_PCI_CFG, CAP_PCI_CFG_LEN, 0, 0, &p->cfg_cap);
	if (ret)
		return ret;
	/* bar, offset, length and pci_cfg_data are the driver's to write. */
	pci_fn_writable(&p->fn, p->cfg_cap + 4u, ones, 1);
	pci_fn_writable(&p->fn, p->cfg_cap + 8u, ones, 12);
	return 0;
}

/* ---- attach ---- */

static void pci_free(struct virtio_pci *p)
{
	virtio_worker_fini(&p->worker);
	for (unsigned int v = 0; v <= VIRTIO_MAX_QUEUES; v++)
		if (p->vec_efd[v] >= 0)
			close(p->vec_efd[v]);
	msix_fini(&p->msix);
	free(p);
}

/* A GSI, a route and an irqfd per vector where KVM has them; otherwise
 * KVM_SIGNAL_MSI per interrupt. Before the worker and the vCPUs run:
 * vec_efd is read on their threads. */
static void connect_vectors(struct virtio_pci *p)
{
	struct vm *vm = p->vm;

	p->irqfd_pending = false;
	for (uint16_t v = 0; v < p->nvec && vm->have_irqfd && vm->msi; v++) {
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (efd < 0)
			break;
		if (msi_routes_alloc(vm->msi, &p->vec_gsi[v]) ||
		    vm_irqfd_assign(vm, efd, p->vec_gsi[v])) {
			close(efd);
			break;
		}
		p->vec_efd[v] = efd;
	}
}

/* KVM takes an irqfd only once the interrupt controller is initialised
 * (arch_irqfd_ready): on arm64 after the last vCPU, while devices attach
 * before any; their vectors are then connected when they start. */
static void setup_notify(struct virtio_dev *dev)
{
	struct virtio_pci *p = dev->transport;

	p->ioeventfd = p->vm->have_ioeventfd;
	if (p->ioeventfd)
		bar_moved(p, 0, p->fn.bar_live[0]);
	p->irqfd_pending = true;
	if (arch_irqfd_ready(p->vm))
		connect_vectors(p);
}

static int pci_start(struct virtio_dev *dev)
{
	struct virtio_pci *p = dev->transport;

	if (p->irqfd_pending)
		connect_vectors(p);
	return virtio_worker_start(&p->worker);
}

static int pci_attach(struct vm *vm, struct virtio_dev *dev)
{
	struct virtio_pci *p;
	uint64_t bar_base;
	uint8_t slot;
	uint32_t gsi;
	int ret;

	if (!vm->pci) {
		avp_err("cannot attach %s: this VM has no PCI host bridge (--transport pci is not "
			"available on this architecture yet); use --transport mmio",
			dev->ops->type);
		return -ENODEV;
	}
	if (dev->ops->num_queues == 0 || dev->ops->num_queues > VIRTIO_MAX_QUEUES ||
	    dev->config_len > VIRTIO_PCI_DEVICE_MAX) {
		avp_err("cannot attach %s: %u queues and %u bytes of configuration (a device has "
			"1 to %u queues, at most %u bytes)", dev->ops->type, dev->ops->num_queues,
			dev->config_len, VIRTIO_MAX_QUEUES, VIRTIO_PCI_DEVICE_MAX);
		return -EINVAL;
	}
	if (vm->nmmio_devs >= AVP_MAX_MMIO_DEVS) {
		avp_err("cannot attach %s: a VM has at most %u virtio devices; give fewer devices",
			dev->ops->type, AVP_MAX_MMIO_DEVS);
		return -ENOSPC;
	}
	ret = pci_host_reserve(vm->pci, VIRTIO_PCI_BAR_SIZE, &slot, &bar_base);
	if (ret) {
		avp_err("cannot attach %s: the PCI host bridge has no slot or BAR space left; "
			"give fewer devices", dev->ops->type);
		return ret;
	}
	/* The INTx fallback's line; reports running out itself. */
	ret = vm_alloc_irq(vm, dev->ops->type, 1, &gsi);
	if (ret)
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p) {
		avp_err("cannot attach %s: %s", dev->ops->type, strerror(ENOMEM));
		return -ENOMEM;
	}
	for (unsigned int v = 0; v <= VIRTIO_MAX_QUEUES; v++)
		p->vec_efd[v] = -1;
	p->dev = dev;
	p->vm = vm;
	p->nvec = (uint16_t)(dev->ops->num_queues + 1);
	p->pdev = &vm->mmio_devs[vm->nmmio_devs];
	*p->pdev = (struct platform_mmio_dev){
		.type = dev->ops->type,
		.virtio_id = dev->ops->device_id,
		.base = bar_base,
		.size = VIRTIO_PCI_BAR_SIZE,
		.gsi = gsi,
		.features = virtio_transport_features(dev),
		.pci = true,
		.pci_slot = slot,
		.msix_vectors = p->nvec,
	};
	dev->vm = vm;
	dev->mem = &vm->mem;
	dev->transport = p;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vqs[q], dev->mem);
	registers_reset(p);
	ret = msix_init(&p->msix, p->nvec, &msix_ops, p);
	if (!ret)
		ret = build_config_space(p, bar_base, slot);
	if (!ret)
		ret = virtio_worker_init(&p->worker, vm, dev);
	if (ret == 0) {
		pci_host_plug(vm->pci, &p->fn);
		if (vm->vm_fd >= 0)
			setup_notify(dev);
		if (!vm->defer_device_threads)
			ret = pci_start(dev);
		if (ret)
			pci_host_unplug(vm->pci, &p->fn);
	}
	if (ret) {
		avp_err("cannot attach %s: %s", dev->ops->type, strerror(-ret));
		dev->transport = NULL;
		pci_free(p);
		return ret;
	}
	p->pdev->dev = dev;
	vm->nmmio_devs++;
	return 0;
}

static void pci_detach(struct virtio_dev *dev)
{
	struct virtio_pci *p = dev->transport;

	pci_host_unplug(p->vm->pci, &p->fn);
	pci_free(p);
	dev->transport = NULL;
}

static int pci_watch_fd(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct virtio_pci *p = dev->transport;

	return virtio_worker_watch_fd(&p->worker, fd, events);
}

static int pci_unwatch_fd(struct virtio_dev *dev, int fd)
{
	struct virtio_pci *p = dev->transport;

	return virtio_worker_unwatch_fd(&p->worker, fd);
}

static void pci_describe(const struct virtio_dev *dev, struct virtio_transport_info *out)
{
	const struct virtio_pci *p = dev->transport;

	*out = (struct virtio_transport_info){
		.transport = "virtio-pci",
		.base = p->pdev->base,
		.size = p->pdev->size,
		.irq = p->pdev->gsi,
		.features = p->pdev->features,
		.pci_slot = p->pdev->pci_slot,
		.msix_vectors = p->nvec,
	};
}

const struct virtio_transport_ops virtio_pci_transport = {
	.name = "virtio-pci",
	.attach = pci_attach,
	.detach = pci_detach,
	.setup_notify = setup_notify,
	.start = pci_start,
	.interrupt = pci_interrupt,
	.queue_interrupt = pci_queue_interrupt,
	.watch_fd = pci_watch_fd,
	.unwatch_fd = pci_unwatch_fd,
	.describe = pci_describe,
};

uint32_t virtio_pci_vector_sent(const struct virtio_dev *dev, uint16_t v)
{
	struct virtio_pci *p = dev->tops == &virtio_pci_transport ? dev->transport : NULL;
	uint32_t n;

	if (!p || v >= p->nvec)
		return 0;
	pthread_mutex_lock(&p->msix.lock);
	n = p->msix.delivered[v];
	pthread_mutex_unlock(&p->msix.lock);
	return n;
}

int virtio_pci_attach(struct vm *vm, struct virtio_dev *dev)
{
	return virtio_transport_attach(&virtio_pci_transport, vm, dev);
}
