/* libFuzzer target: virtio-pci (src/virtio/pci.c) on its host bridge
 * (src/hw/pci.c) with MSI-X (src/hw/msix.c), as a hostile guest's vCPU
 * would drive them: configuration space through ECAM at any offset and
 * width (BAR sizing and moves, command register, MSI-X control, the PCI
 * configuration access capability), and BAR 0 at any offset and width
 * (common configuration, ISR, notify, device configuration, MSI-X table
 * and PBA), with device interrupts between them. Two echo devices on
 * slots 1 and 2 so that BARs can overlap. No KVM, and the device workers
 * never start (vm->defer_device_threads): a kick only marks an eventfd,
 * so every run is deterministic; the queue work itself is fuzz_mmio's and
 * the device fuzzers' subject.
 *
 * Input: operations until the input ends:
 *   0 cfg    u8 slot, u16 off, u8 len, u8 dir, u64 value  ECAM access
 *   1 bar    u16 off, u8 hi, u8 len, u8 dir, u64 value    window access
 *   2 irq    u8 what                                      a device interrupt
 *   3 init   u8 features, u8 vec                          Linux's probe
 * Invariants: read-only identity never changes, the extended space reads
 * zero, MSI-X never sends for a vector the function does not have. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/hw/msix.h"
#include "avp/hw/pci.h"
#include "avp/virtio/pci.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
FUZZ_LOG_ERRORS_ONLY()

#define RAM_GPA 0x100000ull
#define RAM_SIZE (64u * 1024)
#define NDEV 2

struct echo {
	struct virtio_dev dev;
	uint8_t config[12];
};

static uint64_t echo_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << 5;
}

static void echo_destroy(struct virtio_dev *dev)
{
	(void)dev;
}

static const struct virtio_dev_ops echo_ops = {
	.type = "echo",
	.device_id = 42,
	.num_queues = 3,
	.features = echo_features,
	.destroy = echo_destroy,
};

struct ctx {
	struct vm vm;
	struct avp_config cfg;
	uint8_t *ram;
	struct echo echo[NDEV];
};

static const uint32_t lens[] = { 1, 2, 4, 8 };

static uint64_t cfg_rw(struct ctx *c, unsigned int slot, uint32_t off, uint64_t v, uint32_t len,
		       bool is_write)
{
	uint64_t addr = X86_PCI_ECAM_BASE + ((uint64_t)slot << 15) + off;

	FUZZ_CHECK(io_bus_dispatch(&c->vm.mmio, addr, &v, len, is_write));
	return v;
}

static uint64_t bar_rw(struct ctx *c, uint64_t off, uint64_t v, uint32_t len, bool is_write)
{
	FUZZ_CHECK(io_bus_dispatch(&c->vm.mmio, X86_PCI_MMIO_BASE + off, &v, len, is_write));
	return v;
}

static void cfg_op(struct ctx *c, struct fz *z)
{
	unsigned int slot = fz_u8(z) % 4;
	uint32_t off = fz_u16(z) % PCI_ECAM_FN_SIZE;
	uint32_t len = lens[fz_u8(z) % 4];
	bool is_write = fz_u8(z) & 1;
	uint64_t v = fz_u64(z);

	if (off + len > PCI_ECAM_FN_SIZE)
		off = PCI_ECAM_FN_SIZE - len;
	v = cfg_rw(c, slot, off, v, len, is_write);
	/* The extended space of a function that exists reads as zeros. */
	if (!is_write && slot >= 1 && slot <= NDEV && off >= PCI_CFG_SPACE && len < 8 &&
	    !(off & (len - 1)))
		FUZZ_CHECK((v & ((1ull << (8 * len)) - 1)) == 0);
}

static void bar_op(struct ctx *c, struct fz *z)
{
	uint64_t off = fz_u16(z) | (uint64_t)(fz_u8(z) % 4) << 16;
	uint32_t len = lens[fz_u8(z) % 4];
	bool is_write = fz_u8(z) & 1;

	bar_rw(c, off, fz_u64(z), len, is_write);
}

/* Linux's virtio_pci_modern probe on slot 1 at wherever BAR 0 is now,
 * with MSI-X on and vectors for config and each queue. */
static void init_op(struct ctx *c, struct fz *z)
{
	uint8_t fsel = fz_u8(z);
	uint8_t vec = fz_u8(z);
	uint64_t bar = cfg_rw(c, 1, PCI_BAR0, 0, 4, false) & ~0xfull;
	uint64_t common = bar + VIRTIO_PCI_COMMON_OFF, table = bar + VIRTIO_PCI_MSIX_TABLE_OFF;
	uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (fsel & 1 ? 1ull << 5 : 0) |
			    (fsel & 2 ? 1ull << 40 : 0);
	uint64_t v;

	if (bar < X86_PCI_MMIO_BASE || bar - X86_PCI_MMIO_BASE >= 0x40000 - VIRTIO_PCI_BAR_SIZE)
		return;
	cfg_rw(c, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2, true);
	for (unsigned int i = 0; i < 4; i++) {
		bar_rw(c, table - X86_PCI_MMIO_BASE + 16 * i, 0xfee00000u, 4, true);
		bar_rw(c, table - X86_PCI_MMIO_BASE + 16 * i + 8, 0x30 + i, 4, true);
		bar_rw(c, table - X86_PCI_MMIO_BASE + 16 * i + 12, (vec >> i) & 1, 4, true);
	}
	v = MSIX_CTRL_ENABLE;
	/* The MSI-X capability comes first in the list (pci.c). */
	cfg_rw(c, 1, PCI_CAP_START + 2, v, 2, true);
	common -= X86_PCI_MMIO_BASE;
	bar_rw(c, common + 0x14, 0, 1, true);
	bar_rw(c, common + 0x14, 3, 1, true);
	bar_rw(c, common + 0x08, 0, 4, true);
	bar_rw(c, common + 0x0c, (uint32_t)features, 4, true);
	bar_rw(c, common + 0x08, 1, 4, true);
	bar_rw(c, common + 0x0c, features >> 32, 4, true);
	bar_rw(c, common + 0x14, 11, 1, true);
	bar_rw(c, common + 0x10, vec % 5, 2, true);
	for (unsigned int q = 0; q < 3; q++) {
		bar_rw(c, common + 0x16, q, 2, true);
		bar_rw(c, common + 0x18, 16, 2, true);
		bar_rw(c, common + 0x1a, (vec + q + 1) % 6, 2, true);
		bar_rw(c, common + 0x20, RAM_GPA + 0x1000 * q, 8, true);
		bar_rw(c, common + 0x28, RAM_GPA + 0x4000 + 0x1000 * q, 8, true);
		bar_rw(c, common + 0x30, RAM_GPA + 0x8000 + 0x1000 * q, 8, true);
		bar_rw(c, common + 0x1c, 1, 2, true);
	}
	bar_rw(c, common + 0x14, 15, 1, true);
}

static void irq_op(struct ctx *c, struct fz *z)
{
	uint8_t what = fz_u8(z);
	struct virtio_dev *dev = &c->echo[what & 1].dev;
	uint32_t before[MSIX_MAX_VECTORS + 1];

	for (uint16_t v = 0; v <= MSIX_MAX_VECTORS; v++)
		before[v] = virtio_pci_vector_sent(dev, v);
	if (what & 2)
		virtio_dev_config_changed(dev);
	else
		dev->tops->queue_interrupt(dev, (uint16_t)((what >> 2) % 8));
	/* Only the function's own vectors (queues + 1) ever send. */
	for (uint16_t v = 4; v <= MSIX_MAX_VECTORS; v++)
		FUZZ_CHECK(virtio_pci_vector_sent(dev, v) == before[v]);
}

static void check_identity(struct ctx *c)
{
	for (unsigned int s = 1; s <= NDEV; s++) {
		FUZZ_CHECK(cfg_rw(c, s, PCI_VENDOR_ID, 0, 4, false) == (0x1040u + 42) << 16 | 0x1af4);
		FUZZ_CHECK(cfg_rw(c, s, PCI_HEADER_TYPE, 0, 1, false) == 0);
	}
	FUZZ_CHECK(cfg_rw(c, 0, PCI_VENDOR_ID, 0, 2, false) == 0xffff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct fz z = { data, size };
	unsigned int attached = 0;

	if (!c)
		return 0;
	avp_config_init(&c->cfg);
	c->cfg.transport = AVP_TRANSPORT_PCI;
	c->vm.cfg = &c->cfg;
	c->vm.vm_fd = c->vm.kvm_fd = c->vm.exit_efd = -1;
	c->vm.defer_device_threads = true;
	c->ram = calloc(1, RAM_SIZE);
	if (!c->ram || gm_add_region(&c->vm.mem, RAM_GPA, RAM_SIZE, c->ram) ||
	    arch_pci_init(&c->vm))
		goto out;
	for (; attached < NDEV; attached++) {
		struct echo *e = &c->echo[attached];

		virtio_dev_init(&e->dev, &echo_ops, e, e->config, sizeof(e->config));
		memcpy(e->config, "ABCDEFGHIJKL", 12);
		if (virtio_pci_attach(&c->vm, &e->dev)) {
			virtio_dev_fini(&e->dev);
			goto out;
		}
	}
	for (unsigned int i = 0; i < 2048 && !fz_empty(&z); i++) {
		switch (fz_u8(&z) % 4) {
		case 0:
			cfg_op(c, &z);
			break;
		case 1:
			bar_op(c, &z);
			break;
		case 2:
			irq_op(c, &z);
			break;
		case 3:
			init_op(c, &z);
			break;
		}
	}
	check_identity(c);
out:
	while (attached-- > 0)
		virtio_transport_detach(&c->echo[attached].dev);
	arch_vm_destroy(&c->vm);
	free(c->ram);
	free(c);
	return 0;
}
