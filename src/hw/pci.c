/* PCI configuration space and the ECAM host bridge (avp/hw/pci.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/hw/pci.h"
#include "avp/io_bus.h"
#include "avp/le.h"

void pci_fn_init(struct pci_fn *fn, uint16_t vendor, uint16_t device, uint8_t revision,
		 uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id,
		 const struct pci_fn_ops *ops, void *opaque)
{
	static const uint8_t command_mask[2] = {
		PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, PCI_COMMAND_INTX_DISABLE >> 8
	};
	static const uint8_t ff = 0xff;

	memset(fn, 0, sizeof(*fn));
	put_le16(fn->cfg + PCI_VENDOR_ID, vendor);
	put_le16(fn->cfg + PCI_DEVICE_ID, device);
	fn->cfg[PCI_REVISION_ID] = revision;
	fn->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	fn->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	fn->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	fn->cfg[PCI_HEADER_TYPE] = 0; /* type 0, single function */
	put_le16(fn->cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	put_le16(fn->cfg + PCI_SUBSYSTEM_ID, subsys_id);
	fn->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	pci_fn_writable(fn, PCI_COMMAND, command_mask, 2);
	pci_fn_writable(fn, 0x0c, &ff, 1); /* cache line size */
	pci_fn_writable(fn, PCI_INTERRUPT_LINE, &ff, 1);
	fn->next_cap = PCI_CAP_START;
	fn->last_cap_next = &fn->cfg[PCI_CAPABILITY_LIST];
	fn->ops = ops;
	fn->opaque = opaque;
}

void pci_fn_writable(struct pci_fn *fn, uint32_t off, const uint8_t *mask, uint32_t n)
{
	for (uint32_t i = 0; i < n && off + i < PCI_CFG_SPACE; i++)
		fn->wmask[off + i] = mask[i];
}

int pci_fn_add_bar(struct pci_fn *fn, unsigned int bar, uint64_t base, uint32_t size)
{
	uint32_t addr_mask;
	uint8_t mask[4];

	if (bar >= PCI_NUM_BARS || size < 16 || (size & (size - 1)) || (base & (size - 1)) ||
	    base > UINT32_MAX - (size - 1))
		return -EINVAL;
	fn->bar_size[bar] = size;
	/* Bits 3:0 (memory space, 32-bit, not prefetchable) are read-only
	 * zeros and the size's low address bits too: sizing reads back
	 * ~(size - 1) (PCI 3.0, 6.2.5.1). */
	addr_mask = ~(size - 1) & ~0xfu;
	put_le32(mask, addr_mask);
	put_le32(fn->cfg + PCI_BAR0 + 4 * bar, (uint32_t)base);
	pci_fn_writable(fn, PCI_BAR0 + 4 * bar, mask, 4);
	return 0;
}

int pci_fn_add_cap(struct pci_fn *fn, uint8_t id, uint8_t len, uint8_t *off)
{
	uint8_t at = fn->next_cap;

	if (len < 2 || at < PCI_CAP_START || (unsigned int)at + len > PCI_CFG_SPACE)
		return -ENOSPC;
	fn->cfg[at] = id;
	fn->cfg[at + 1] = 0;
	*fn->last_cap_next = at;
	fn->last_cap_next = &fn->cfg[at + 1];
	fn->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	/* Capabilities are dword aligned (PCI 3.0, 6.7). */
	fn->next_cap = (uint8_t)((at + len + 3u) & ~3u);
	if (at + len + 3u >= PCI_CFG_SPACE)
		fn->next_cap = 0;
	*off = at;
	return 0;
}

static uint32_t bar_reg(const struct pci_fn *fn, unsigned int bar)
{
	return get_le32(fn->cfg + PCI_BAR0 + 4 * bar);
}

/* Where each BAR decodes after a write to the command register or a BAR:
 * nowhere while memory decoding is off, while the driver sizes it, or when
 * it lies even partly outside the host's window. */
static void update_bars(struct pci_fn *fn, uint64_t win_base, uint64_t win_size)
{
	bool mem = pci_fn_command(fn) & PCI_COMMAND_MEMORY;

	for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t base, live = 0;

		if (!fn->bar_size[b])
			continue;
		base = bar_reg(fn, b) & ~0xfull;
		if (mem && base >= win_base && base - win_base < win_size &&
		    fn->bar_size[b] <= win_size - (base - win_base))
			live = base;
		if (live == fn->bar_live[b])
			continue;
		fn->bar_live[b] = live;
		if (fn->ops && fn->ops->bar_moved)
			fn->ops->bar_moved(fn->opaque, b, live);
	}
}

void pci_fn_cfg_access(struct pci_fn *fn, uint32_t off, void *data, uint32_t len, bool is_write,
		       uint64_t win_base, uint64_t win_size)
{
	uint8_t *bytes = data;

	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)) || off >= PCI_ECAM_FN_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	/* No extended capabilities: the rest of the 4 KiB reads as zero,
	 * which ends the (empty) extended list at 0x100. */
	if (off >= PCI_CFG_SPACE) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		if (off >= PCI_CAP_START && fn->ops && fn->ops->cfg_read)
			fn->ops->cfg_read(fn->opaque, off, len);
		memcpy(data, fn->cfg + off, len);
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		fn->cfg[off + i] = (uint8_t)((fn->cfg[off + i] & ~fn->wmask[off + i]) |
					     (bytes[i] & fn->wmask[off + i]));
	if (off < PCI_BAR0 + 4 * PCI_NUM_BARS && off + len > PCI_COMMAND)
		update_bars(fn, win_base, win_size);
	if (off >= PCI_CAP_START && fn->ops && fn->ops->cfg_written)
		fn->ops->cfg_written(fn->opaque, off, len);
}

int pci_host_create(struct io_bus *bus, uint64_t ecam_base, uint64_t win_base, uint64_t win_size,
		    struct pci_host **out)
{
	struct pci_host *h;
	int ret;

	if (!win_size || (win_base & 0xfff) || (ecam_base & (PCI_ECAM_BUS_SIZE - 1)))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ecam_base = ecam_base;
	h->win_base = win_base;
	h->win_size = win_size;
	h->win_next = win_base;
	pthread_mutex_init(&h->lock, NULL);
	ret = bus ? io_bus_register(bus, ecam_base, PCI_ECAM_BUS_SIZE, pci_host_ecam_access, h,
				    "pci-ecam")
		  : 0;
	if (!ret && bus)
		ret = io_bus_register(bus, win_base, win_size, pci_host_window_access, h,
				      "pci-bars");
	if (ret) {
		/* The bus cannot unregister; the VM is torn down after this. */
		pthread_mutex_destroy(&h->lock);
		free(h);
		return ret;
	}
	*out = h;
	return 0;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int pci_host_reserve(struct pci_host *h, uint32_t bar_bytes, uint8_t *slot, uint64_t *bar_base)
{
	uint64_t base;
	int ret = -ENOSPC;

	if (!bar_bytes || (bar_bytes & (bar_bytes - 1)))
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	base = (h->win_next + bar_bytes - 1) & ~((uint64_t)bar_bytes - 1);
	if (h->nfns + 1 < PCI_MAX_SLOTS && base >= h->win_base &&
	    base - h->win_base <= h->win_size && bar_bytes <= h->win_size - (base - h->win_base)) {
		*slot = (uint8_t)++h->nfns;
		*bar_base = base;
		h->win_next = base + bar_bytes;
		ret = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void pci_host_plug(struct pci_host *h, struct pci_fn *fn)
{
	pthread_mutex_lock(&h->lock);
	if (fn->slot > 0 && fn->slot < PCI_MAX_SLOTS) {
		h->slots[fn->slot] = fn;
		/* As firmware leaves it: BARs assigned, decoding on. */
		update_bars(fn, h->win_base, h->win_size);
	}
	pthread_mutex_unlock(&h->lock);
}

void pci_host_unplug(struct pci_host *h, struct pci_fn *fn)
{
	pthread_mutex_lock(&h->lock);
	if (fn->slot < PCI_MAX_SLOTS && h->slots[fn->slot] == fn)
		h->slots[fn->slot] = NULL;
	pthread_mutex_unlock(&h->lock);
}

void pci_host_ecam_access(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	/* ECAM address bits: 27:20 bus, 19:15 device, 14:12 function,
	 * 11:0 register. Only bus 0 is mapped. */
	unsigned int dev = (unsigned int)(off >> 15) & 0x1f;
	unsigned int func = (unsigned int)(off >> 12) & 0x7;
	struct pci_fn *fn;

	if (off >= PCI_ECAM_BUS_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&h->lock);
	fn = func == 0 ? h->slots[dev] : NULL;
	if (fn)
		pci_fn_cfg_access(fn, (uint32_t)(off & 0xfff), data, len, is_write, h->win_base,
				  h->win_size);
	else if (!is_write)
		memset(data, 0xff, len); /* no function: vendor ID reads 0xffff */
	pthread_mutex_unlock(&h->lock);
}

void pci_host_window_access(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	uint64_t addr = h->win_base + off;
	struct pci_fn *hit = NULL;
	unsigned int bar = 0;
	uint64_t boff = 0;

	/* The first enabled BAR covering the whole access wins, so
	 * overlapping BARs (a driver's mistake or malice) decode the same
	 * way every time. */
	pthread_mutex_lock(&h->lock);
	for (unsigned int s = 0; s < PCI_MAX_SLOTS && !hit; s++) {
		struct pci_fn *fn = h->slots[s];

		for (unsigned int b = 0; fn && b < PCI_NUM_BARS; b++) {
			uint64_t base = fn->bar_live[b];

			if (base && addr >= base && addr - base < fn->bar_size[b] &&
			    len <= fn->bar_size[b] - (addr - base)) {
				hit = fn;
				bar = b;
				boff = addr - base;
				break;
			}
		}
	}
	pthread_mutex_unlock(&h->lock);
	/* Called unlocked: BARs only move on configuration writes, and the
	 * functions outlive the vCPUs. */
	if (hit)
		hit->ops->bar_access(hit->opaque, bar, boff, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}
