/* The virtio-pci transport and its host bridge, driven the way Linux's
 * virtio_pci_modern driver does (VIRTIO 1.2, 4.1.5), through ECAM and BAR
 * accesses on the VM's MMIO bus, with an echo device and no KVM (MSI-X
 * messages are counted, kicks take the fallback path). Then a driver that
 * misbehaves: BAR sizing and moves, overlapping BARs, odd-sized and
 * misaligned accesses, vectors out of range, masked vectors, a queue
 * selector out of range, the PCI configuration access capability aimed
 * outside the BAR. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/hw/msix.h"
#include "avp/hw/pci.h"
#include "avp/le.h"
#include "avp/virtio/pci.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"

#define RAM_GPA 0x100000ull
#define RAM_SIZE (1u << 20)
#define NDEV 2

struct echo {
	struct virtio_dev dev;
	struct virtq_chain chain;
	uint8_t config[12];
	int activations;
};

static uint64_t echo_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << 5;
}

static int echo_activate(struct virtio_dev *dev)
{
	((struct echo *)dev->priv)->activations++;
	return 0;
}

static void echo_notify(struct virtio_dev *dev, uint16_t q)
{
	struct echo *e = dev->priv;
	int ret;

	while ((ret = virtq_pop(&dev->vqs[q], &e->chain)) != 0) {
		uint8_t buf[256];
		size_t n;

		if (ret < 0) {
			virtio_dev_needs_reset(dev, "test");
			return;
		}
		n = virtq_chain_read(&e->chain, 0, buf, sizeof(buf));
		n = virtq_chain_write(&e->chain, 0, buf, n);
		virtio_dev_complete(dev, q, e->chain.head, (uint32_t)n);
	}
}

static void echo_destroy(struct virtio_dev *dev)
{
	(void)dev;
}

static const struct virtio_dev_ops echo_ops = {
	.type = "echo",
	.device_id = 42,
	.num_queues = 2,
	.features = echo_features,
	.activate = echo_activate,
	.queue_notify = echo_notify,
	.destroy = echo_destroy,
};

struct fixture {
	struct vm vm;
	struct avp_config cfg;
	uint8_t *ram;
	struct echo echo[NDEV];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	avp_config_init(&f->cfg);
	f->cfg.transport = AVP_TRANSPORT_PCI;
	f->vm.cfg = &f->cfg;
	f->vm.vm_fd = f->vm.kvm_fd = -1;
	f->vm.exit_efd = eventfd(0, 0);
	f->ram = calloc(1, RAM_SIZE);
	gm_add_region(&f->vm.mem, RAM_GPA, RAM_SIZE, f->ram);
	assert_int_equal(arch_pci_init(&f->vm), 0);
	for (unsigned int i = 0; i < NDEV; i++) {
		virtio_dev_init(&f->echo[i].dev, &echo_ops, &f->echo[i], f->echo[i].config,
				sizeof(f->echo[i].config));
		memcpy(f->echo[i].config, "ABCDEFGHIJKL", 12);
		assert_int_equal(virtio_pci_attach(&f->vm, &f->echo[i].dev), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned int i = 0; i < NDEV; i++)
		virtio_transport_detach(&f->echo[i].dev);
	arch_vm_destroy(&f->vm);
	close(f->vm.exit_efd);
	free(f->ram);
	free(f);
	return 0;
}

/* ---- bus access helpers ---- */

static uint64_t bus_rd(struct fixture *f, uint64_t addr, uint32_t len)
{
	uint64_t v = 0;

	memset(&v, 0xa5, sizeof(v));
	assert_true(io_bus_dispatch(&f->vm.mmio, addr, &v, len, false));
	return len == 8 ? v : v & ((1ull << (8 * len)) - 1);
}

static void bus_wr(struct fixture *f, uint64_t addr, uint64_t v, uint32_t len)
{
	assert_true(io_bus_dispatch(&f->vm.mmio, addr, &v, len, true));
}

static uint64_t ecam(unsigned int slot, unsigned int fn, uint32_t off)
{
	return X86_PCI_ECAM_BASE + ((uint64_t)slot << 15) + ((uint64_t)fn << 12) + off;
}

static uint64_t cfg_rd(struct fixture *f, unsigned int slot, uint32_t off, uint32_t len)
{
	return bus_rd(f, ecam(slot, 0, off), len);
}

static void cfg_wr(struct fixture *f, unsigned int slot, uint32_t off, uint64_t v, uint32_t len)
{
	bus_wr(f, ecam(slot, 0, off), v, len);
}

/* Walks the capability list like pci_find_capability / virtio_pci_find_capability. */
static uint8_t find_cap(struct fixture *f, unsigned int slot, uint8_t id, int vtype)
{
	uint8_t pos = (uint8_t)cfg_rd(f, slot, PCI_CAPABILITY_LIST, 1);

	for (int guard = 0; pos && guard < 48; guard++) {
		if (cfg_rd(f, slot, pos, 1) == id &&
		    (vtype < 0 || cfg_rd(f, slot, pos + 3u, 1) == (uint64_t)vtype))
			return pos;
		pos = (uint8_t)cfg_rd(f, slot, pos + 1u, 1);
	}
	return 0;
}

static uint64_t bar0(struct fixture *f, unsigned int slot)
{
	return cfg_rd(f, slot, PCI_BAR0, 4) & ~0xfull;
}

/* A virtio structure's address: BAR 0 + the cap's offset. */
static uint64_t vstruct(struct fixture *f, unsigned int slot, int type)
{
	uint8_t cap = find_cap(f, slot, PCI_CAP_ID_VNDR, type);

	assert_int_not_equal(cap, 0);
	assert_int_equal(cfg_rd(f, slot, cap + 4u, 1), 0); /* BAR 0 */
	return bar0(f, slot) + cfg_rd(f, slot, cap + 8u, 4);
}

#define COMMON(f) vstruct(f, 1, VIRTIO_PCI_CAP_COMMON_CFG)

/* ---- the driver's sequence ---- */

#define DESC_GPA (RAM_GPA + 0x0000)
#define AVAIL_GPA (RAM_GPA + 0x1000)
#define USED_GPA (RAM_GPA + 0x2000)
#define BUF_GPA (RAM_GPA + 0x3000)
#define QSIZE 16

static void *hva(struct fixture *f, uint64_t gpa)
{
	return f->ram + (gpa - RAM_GPA);
}

static const uint64_t good_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << 5);

/* Reset, ACK, DRIVER, features, FEATURES_OK, queue 0 with vector 1, the
 * config vector 0, DRIVER_OK. The status read back. */
static uint8_t driver_init(struct fixture *f, uint64_t features)
{
	uint64_t c = COMMON(f);
	uint8_t status;

	bus_wr(f, c + 0x14, 0, 1);
	bus_wr(f, c + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bus_wr(f, c + 0x08, 0, 4);
	bus_wr(f, c + 0x0c, (uint32_t)features, 4);
	bus_wr(f, c + 0x08, 1, 4);
	bus_wr(f, c + 0x0c, (uint32_t)(features >> 32), 4);
	bus_wr(f, c + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	status = (uint8_t)bus_rd(f, c + 0x14, 1);
	if (!(status & VIRTIO_STATUS_FEATURES_OK))
		return status;
	memset(f->ram, 0, 0x3000);
	bus_wr(f, c + 0x10, 0, 2); /* config vector 0 */
	assert_int_equal(bus_rd(f, c + 0x10, 2), 0);
	bus_wr(f, c + 0x16, 0, 2); /* queue_select */
	assert_int_equal(bus_rd(f, c + 0x18, 2), VIRTQ_MAX_SIZE);
	bus_wr(f, c + 0x18, QSIZE, 2);
	bus_wr(f, c + 0x1a, 1, 2); /* queue vector 1 */
	assert_int_equal(bus_rd(f, c + 0x1a, 2), 1);
	bus_wr(f, c + 0x20, DESC_GPA, 8);
	bus_wr(f, c + 0x28, (uint32_t)AVAIL_GPA, 4); /* as two halves */
	bus_wr(f, c + 0x2c, 0, 4);
	bus_wr(f, c + 0x30, USED_GPA, 8);
	bus_wr(f, c + 0x1c, 1, 2);
	assert_int_equal(bus_rd(f, c + 0x1c, 2), 1);
	bus_wr(f, c + 0x14, status | VIRTIO_STATUS_DRIVER_OK, 1);
	return (uint8_t)bus_rd(f, c + 0x14, 1);
}

/* MSI-X on with vectors 0..n-1 programmed (mask as given). */
static void msix_on(struct fixture *f, bool mask_vec1)
{
	uint8_t cap = find_cap(f, 1, PCI_CAP_ID_MSIX, -1);
	uint32_t table = (uint32_t)cfg_rd(f, 1, cap + 4u, 4);
	uint64_t t = bar0(f, 1) + (table & ~7u);

	assert_int_not_equal(cap, 0);
	assert_int_equal(table & 7, 0); /* BIR 0 */
	cfg_wr(f, 1, cap + 2u, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK, 2);
	for (unsigned int v = 0; v < 3; v++) {
		bus_wr(f, t + 16 * v, 0xfee00000u, 4);
		bus_wr(f, t + 16 * v + 4, 0, 4);
		bus_wr(f, t + 16 * v + 8, 0x40 + v, 4);
		bus_wr(f, t + 16 * v + 12, v == 1 && mask_vec1, 4);
	}
	cfg_wr(f, 1, cap + 2u, MSIX_CTRL_ENABLE, 2);
}

/* One echo request on queue 0, kicked through the notify structure.
 * The used length, or -1 on timeout. */
static int echo_round_trip(struct fixture *f, uint16_t avail_idx, const char *msg)
{
	struct virtq_desc *d = hva(f, DESC_GPA);
	uint16_t *avail = hva(f, AVAIL_GPA);
	uint16_t *used = hva(f, USED_GPA);
	size_t len = strlen(msg);

	memcpy(hva(f, BUF_GPA), msg, len);
	d[0] = (struct virtq_desc){ BUF_GPA, (uint32_t)len, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ BUF_GPA + 0x100, 0x100, VIRTQ_DESC_F_WRITE, 0 };
	avail[2 + avail_idx % QSIZE] = 0;
	__atomic_store_n(&avail[1], (uint16_t)(avail_idx + 1), __ATOMIC_RELEASE);
	bus_wr(f, vstruct(f, 1, VIRTIO_PCI_CAP_NOTIFY_CFG) + 0, 0, 2); /* queue 0's notify_off 0 */
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == (uint16_t)(avail_idx + 1)) {
			uint32_t *elem = (uint32_t *)(used + 2) + 2 * (avail_idx % QSIZE);

			assert_memory_equal(hva(f, BUF_GPA + 0x100), msg, len);
			usleep(2000); /* the interrupt follows the used index */
			return (int)elem[1];
		}
		usleep(1000);
	}
	return -1;
}

/* ---- tests ---- */

static void test_config_header_and_capabilities(void **state)
{
	struct fixture *f = *state;
	uint8_t cap;

	assert_int_equal(cfg_rd(f, 1, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(f, 1, PCI_DEVICE_ID, 2), 0x1040 + 42);
	assert_int_equal(cfg_rd(f, 1, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_rd(f, 1, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_true(cfg_rd(f, 1, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(cfg_rd(f, 1, PCI_HEADER_TYPE, 1), 0);
	assert_true(cfg_rd(f, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg_rd(f, 1, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_rd(f, 1, PCI_INTERRUPT_LINE, 1), f->vm.mmio_devs[0].gsi);
	/* The two functions sit at 00:01.0 and 00:02.0; nothing else. */
	assert_int_equal(cfg_rd(f, 2, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(f, 0, PCI_VENDOR_ID, 2), 0xffff);
	assert_int_equal(cfg_rd(f, 3, PCI_VENDOR_ID, 4), 0xffffffff);
	assert_int_equal(bus_rd(f, ecam(1, 1, 0), 4), 0xffffffff); /* function 1 */
	/* Every capability the driver needs, at dword-aligned offsets. */
	for (int t = VIRTIO_PCI_CAP_COMMON_CFG; t <= VIRTIO_PCI_CAP_PCI_CFG; t++) {
		cap = find_cap(f, 1, PCI_CAP_ID_VNDR, t);
		assert_int_not_equal(cap, 0);
		assert_int_equal(cap & 3, 0);
	}
	cap = find_cap(f, 1, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(cfg_rd(f, 1, cap + 2u, 1), 20);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 4), VIRTIO_PCI_NOTIFY_MULT);
	cap = find_cap(f, 1, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_DEVICE_CFG);
	assert_int_equal(cfg_rd(f, 1, cap + 12u, 4), 12);
	/* MSI-X: queues + 1 vectors, table and PBA in BAR 0. */
	cap = find_cap(f, 1, PCI_CAP_ID_MSIX, -1);
	assert_int_not_equal(cap, 0);
	assert_int_equal(cfg_rd(f, 1, cap + 2u, 2) & 0x7ff, 2);
	/* The device configuration through its structure. */
	assert_int_equal(bus_rd(f, vstruct(f, 1, VIRTIO_PCI_CAP_DEVICE_CFG) + 4, 4),
			 get_le32((const uint8_t *)"EFGH"));
	/* Extended configuration space is empty, not all ones. */
	assert_int_equal(cfg_rd(f, 1, 0x100, 4), 0);
	assert_int_equal(cfg_rd(f, 1, 0xffc, 4), 0);
}

static void test_bar_sizing_and_moves(void **state)
{
	struct fixture *f = *state;
	uint64_t old = bar0(f, 1);
	uint64_t moved = X86_PCI_MMIO_BASE + 0x100000;
	uint64_t c;

	assert_int_equal(old, f->vm.mmio_devs[0].base);
	assert_int_equal(old & (VIRTIO_PCI_BAR_SIZE - 1), 0);
	/* Sizing (PCI 3.0, 6.2.5.1): all ones in, the size mask out, and
	 * memory, 32-bit, not prefetchable in the low bits. */
	cfg_wr(f, 1, PCI_BAR0, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, PCI_BAR0, 4), (uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1));
	/* While sized, the BAR is outside the window: nothing decodes. */
	assert_int_equal(bus_rd(f, old, 4), 0xffffffff);
	/* Unimplemented BARs size to 0. */
	for (uint32_t b = 1; b < 6; b++) {
		cfg_wr(f, 1, PCI_BAR0 + 4 * b, 0xffffffff, 4);
		assert_int_equal(cfg_rd(f, 1, PCI_BAR0 + 4 * b, 4), 0);
	}
	/* Expansion ROM and other read-only header fields ignore writes. */
	cfg_wr(f, 1, 0x30, 0xffffffff, 4);
	assert_int_equal(cfg_rd(f, 1, 0x30, 4), 0);
	cfg_wr(f, 1, PCI_VENDOR_ID, 0x12345678, 4);
	assert_int_equal(cfg_rd(f, 1, PCI_VENDOR_ID, 2), 0x1af4);
	/* A new address: the registers follow, the old place goes dark. */
	cfg_wr(f, 1, PCI_BAR0, moved | 0xfff, 4); /* low bits below the size are ignored */
	assert_int_equal(bar0(f, 1), moved);
	c = COMMON(f);
	assert_int_equal(c, moved);
	assert_int_equal(bus_rd(f, c + 0x12, 2), 2); /* num_queues */
	assert_int_equal(bus_rd(f, old + 0x12, 2), 0xffff);
	/* Memory decoding off: nothing answers at the BAR. */
	cfg_wr(f, 1, PCI_COMMAND, 0, 2);
	assert_int_equal(bus_rd(f, c + 0x12, 2), 0xffff);
	cfg_wr(f, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(bus_rd(f, c + 0x12, 2), 2);
	/* A BAR placed so that it sticks out of the window never decodes. */
	cfg_wr(f, 1, PCI_BAR0, (uint32_t)(X86_PCI_MMIO_BASE + X86_PCI_MMIO_SIZE), 4);
	assert_int_equal(bus_rd(f, X86_PCI_MMIO_BASE + X86_PCI_MMIO_SIZE - 4, 4), 0xffffffff);
	cfg_wr(f, 1, PCI_BAR0, old, 4);
	assert_int_equal(bus_rd(f, old + 0x12, 2), 2);
}

static void test_overlapping_bars(void **state)
{
	struct fixture *f = *state;
	uint64_t a = bar0(f, 1), b = bar0(f, 2);
	uint64_t c;

	/* Select queue 1 on the first function only: the two then differ. */
	c = COMMON(f);
	bus_wr(f, c + 0x16, 1, 2);
	/* The second function's BAR onto the first's: the lower slot wins,
	 * every time, and neither function breaks. */
	cfg_wr(f, 2, PCI_BAR0, a, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bus_rd(f, a + 0x16, 2), 1);
	assert_int_equal(bus_rd(f, b + 0x16, 2), 0xffff);
	cfg_wr(f, 2, PCI_BAR0, b, 4);
	assert_int_equal(bus_rd(f, b + 0x16, 2), 0);
	assert_int_equal(bus_rd(f, a + 0x16, 2), 1);
}

static void test_odd_accesses(void **state)
{
	struct fixture *f = *state;
	uint64_t c = COMMON(f);
	uint8_t cap = find_cap(f, 1, PCI_CAP_ID_MSIX, -1);
	uint64_t table = bar0(f, 1) + VIRTIO_PCI_MSIX_TABLE_OFF;

	/* Configuration space: misaligned and 8-byte accesses are dropped. */
	assert_int_equal(cfg_rd(f, 1, 1, 2), 0xffff);
	assert_int_equal(cfg_rd(f, 1, 2, 4), 0xffffffff);
	assert_int_equal(cfg_rd(f, 1, 0, 8), ~0ull);
	cfg_wr(f, 1, PCI_COMMAND - 1, 0, 2); /* misaligned: must not clear MEMORY */
	assert_true(cfg_rd(f, 1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	/* The vendor ID one byte at a time. */
	assert_int_equal(cfg_rd(f, 1, 0, 1), 0xf4);
	assert_int_equal(cfg_rd(f, 1, 1, 1), 0x1a);
	/* Common configuration: misaligned or straddling accesses read 0 and
	 * change nothing. */
	assert_int_equal(bus_rd(f, c + 0x13, 2), 0);
	assert_int_equal(bus_rd(f, c + 0x3e, 4), 0);
	bus_wr(f, c + 0x13, 0xffff, 2);
	bus_wr(f, c + 0x15, 0xff, 1); /* config_generation is read-only */
	assert_int_equal(bus_rd(f, c + 0x14, 1), 0);
	assert_int_equal(bus_rd(f, c + 0x12, 2), 2);
	/* A 4-byte write over num_queues + status is not a status write. */
	bus_wr(f, c + 0x12, 0x0f000000, 4);
	assert_int_equal(bus_rd(f, c + 0x14, 1), 0);
	/* The MSI-X table takes only DWORD/QWORD aligned accesses inside it. */
	bus_wr(f, table + 8, 0x1234, 2);
	assert_int_equal(bus_rd(f, table + 8, 4), 0);
	assert_int_equal(bus_rd(f, table + 2, 2), 0);
	assert_int_equal(bus_rd(f, table + 3 * 16, 4), 0); /* beyond 3 vectors */
	bus_wr(f, table + 3 * 16, 0xdead, 4);
	bus_wr(f, table + 12, 0xfffffffe, 4); /* reserved Vector Control bits */
	assert_int_equal(bus_rd(f, table + 12, 4), 0);
	bus_wr(f, table + 8, 0x1122334455667788ull, 8);
	assert_int_equal(bus_rd(f, table + 8, 4), 0x55667788);
	assert_int_equal(bus_rd(f, table + 12, 4), 0x11223344 & 1);
	/* The PBA is read-only. */
	bus_wr(f, bar0(f, 1) + VIRTIO_PCI_MSIX_PBA_OFF, ~0ull, 8);
	assert_int_equal(bus_rd(f, bar0(f, 1) + VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
	/* Message Control: only enable and function mask are writable. */
	cfg_wr(f, 1, cap + 2u, 0x3fff, 2);
	assert_int_equal(cfg_rd(f, 1, cap + 2u, 2), 2);
	/* Unused parts of the BAR read 0, writes go nowhere. */
	assert_int_equal(bus_rd(f, bar0(f, 1) + 0x800, 4), 0);
	bus_wr(f, bar0(f, 1) + 0x1004, 0xffffffff, 4);
	assert_int_equal(bus_rd(f, bar0(f, 1) + VIRTIO_PCI_DEVICE_OFF + 64, 4), 0);
}

static void test_init_echo_msix(void **state)
{
	struct fixture *f = *state;

	msix_on(f, false);
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->echo[0].activations, 1);
	assert_int_equal(echo_round_trip(f, 0, "hello"), 5);
	/* Queue 0's vector is 1: one message there, none on config. */
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 1);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 0), 0);
	assert_int_equal(echo_round_trip(f, 1, "again"), 5);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 2);
	/* A configuration change goes to vector 0. */
	virtio_dev_config_changed(&f->echo[0].dev);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 0), 1);
	assert_int_equal(bus_rd(f, COMMON(f) + 0x15, 1), 1); /* config_generation */
	/* Reset: status and queues go, vectors back to NO_VECTOR. */
	bus_wr(f, COMMON(f) + 0x14, 0, 1);
	assert_int_equal(bus_rd(f, COMMON(f) + 0x14, 1), 0);
	assert_int_equal(bus_rd(f, COMMON(f) + 0x10, 2), VIRTIO_PCI_NO_VECTOR);
	assert_int_equal(bus_rd(f, COMMON(f) + 0x1c, 2), 0);
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(echo_round_trip(f, 0, "after reset"), 11);
}

static void test_masked_vector_pends(void **state)
{
	struct fixture *f = *state;
	uint8_t cap = find_cap(f, 1, PCI_CAP_ID_MSIX, -1);
	uint64_t pba = bar0(f, 1) + VIRTIO_PCI_MSIX_PBA_OFF;
	uint64_t table = bar0(f, 1) + VIRTIO_PCI_MSIX_TABLE_OFF;

	msix_on(f, true); /* vector 1 masked */
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(echo_round_trip(f, 0, "masked"), 6);
	/* 6.8.2.9: no message, the pending bit instead. */
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 0);
	assert_int_equal(bus_rd(f, pba, 4), 1u << 1);
	/* Unmasking sends it and clears the bit. */
	bus_wr(f, table + 16 + 12, 0, 4);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 1);
	assert_int_equal(bus_rd(f, pba, 4), 0);
	/* The function mask holds every vector the same way. */
	cfg_wr(f, 1, cap + 2u, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK, 2);
	assert_int_equal(echo_round_trip(f, 1, "fmask"), 5);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 1);
	assert_int_equal(bus_rd(f, pba, 8), 1u << 1);
	cfg_wr(f, 1, cap + 2u, MSIX_CTRL_ENABLE, 2);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 2);
	assert_int_equal(bus_rd(f, pba, 8), 0);
}

static void test_vectors_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint64_t c = COMMON(f);

	/* 4.1.5.1.2: a vector the device cannot map reads back NO_VECTOR. */
	bus_wr(f, c + 0x10, 3, 2);
	assert_int_equal(bus_rd(f, c + 0x10, 2), VIRTIO_PCI_NO_VECTOR);
	bus_wr(f, c + 0x10, 0x7fff, 2);
	assert_int_equal(bus_rd(f, c + 0x10, 2), VIRTIO_PCI_NO_VECTOR);
	bus_wr(f, c + 0x16, 1, 2);
	bus_wr(f, c + 0x1a, 99, 2);
	assert_int_equal(bus_rd(f, c + 0x1a, 2), VIRTIO_PCI_NO_VECTOR);
	bus_wr(f, c + 0x1a, 2, 2);
	assert_int_equal(bus_rd(f, c + 0x1a, 2), 2);
	/* With MSI-X on and no vector for queue 0, completions send no
	 * message at all, and nothing breaks. */
	msix_on(f, false);
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	bus_wr(f, c + 0x16, 0, 2);
	bus_wr(f, c + 0x1a, VIRTIO_PCI_NO_VECTOR, 2);
	assert_int_equal(echo_round_trip(f, 0, "novec"), 5);
	for (uint16_t v = 0; v < 3; v++)
		assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, v), 0);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 3), 0);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 0xffff), 0);
}

static void test_queue_select_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint64_t c = COMMON(f);

	bus_wr(f, c + 0x16, 2, 2); /* the device has queues 0 and 1 */
	assert_int_equal(bus_rd(f, c + 0x16, 2), 2);
	assert_int_equal(bus_rd(f, c + 0x18, 2), 0); /* 4.1.4.3.1: size 0 */
	bus_wr(f, c + 0x18, 16, 2);
	bus_wr(f, c + 0x20, DESC_GPA, 8);
	bus_wr(f, c + 0x1c, 1, 2);
	assert_int_equal(bus_rd(f, c + 0x1c, 2), 0);
	assert_int_equal(bus_rd(f, c + 0x20, 8), 0);
	bus_wr(f, c + 0x16, 0xffff, 2);
	bus_wr(f, c + 0x1c, 1, 2);
	assert_int_equal(bus_rd(f, c + 0x1c, 2), 0);
	/* Kicking a queue that does not exist is ignored. */
	bus_wr(f, vstruct(f, 1, VIRTIO_PCI_CAP_NOTIFY_CFG) + 4 * 7, 7, 2);
	/* A queue size that is not a power of two is refused. */
	bus_wr(f, c + 0x16, 0, 2);
	bus_wr(f, c + 0x18, 100, 2);
	assert_int_equal(bus_rd(f, c + 0x18, 2), 0);
	bus_wr(f, c + 0x18, 1024, 2);
	assert_int_equal(bus_rd(f, c + 0x18, 2), 0);
}

static void test_intx_fallback(void **state)
{
	struct fixture *f = *state;
	uint64_t isr = vstruct(f, 1, VIRTIO_PCI_CAP_ISR_CFG);

	/* MSI-X stays off: the ISR says why, reading it clears it. */
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(echo_round_trip(f, 0, "intx"), 4);
	assert_int_equal(bus_rd(f, isr, 1), VIRTIO_ISR_QUEUE);
	assert_int_equal(bus_rd(f, isr, 1), 0);
	virtio_dev_config_changed(&f->echo[0].dev);
	assert_int_equal(bus_rd(f, isr, 1), VIRTIO_ISR_CONFIG);
	assert_int_equal(virtio_pci_vector_sent(&f->echo[0].dev, 1), 0);
	/* Writes to the ISR change nothing. */
	virtio_dev_config_changed(&f->echo[0].dev);
	bus_wr(f, isr, 0, 1);
	assert_int_equal(bus_rd(f, isr, 1), VIRTIO_ISR_CONFIG);
}

static void test_feature_negotiation(void **state)
{
	struct fixture *f = *state;
	uint64_t c = COMMON(f);

	bus_wr(f, c + 0x00, 1, 4);
	assert_true(bus_rd(f, c + 0x04, 4) & 1); /* VERSION_1 */
	bus_wr(f, c + 0x00, 0, 4);
	assert_true(bus_rd(f, c + 0x04, 4) & (1u << 5));
	bus_wr(f, c + 0x00, 9, 4);
	assert_int_equal(bus_rd(f, c + 0x04, 4), 0);
	assert_false(driver_init(f, 1ull << 5) & VIRTIO_STATUS_FEATURES_OK);
	assert_false(driver_init(f, good_features | (1ull << 40)) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_FEATURES_OK);
	/* Fixed once accepted. */
	bus_wr(f, c + 0x08, 0, 4);
	bus_wr(f, c + 0x0c, 0, 4);
	assert_int_equal(bus_rd(f, c + 0x0c, 4), (uint32_t)good_features);
}

/* 4.1.4.9: the configuration-space window onto BAR 0. */
static void test_pci_cfg_access_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t cap = find_cap(f, 1, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_PCI_CFG);

	assert_int_not_equal(cap, 0);
	cfg_wr(f, 1, cap + 4u, 0, 1);
	cfg_wr(f, 1, cap + 8u, VIRTIO_PCI_COMMON_OFF + 0x12, 4); /* num_queues */
	cfg_wr(f, 1, cap + 12u, 2, 4);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 2), 2);
	/* A write through it: queue_select. */
	cfg_wr(f, 1, cap + 8u, VIRTIO_PCI_COMMON_OFF + 0x16, 4);
	cfg_wr(f, 1, cap + 16u, 1, 2);
	assert_int_equal(bus_rd(f, COMMON(f) + 0x16, 2), 1);
	/* Hostile windows read 0 and write nothing: odd length, misaligned,
	 * past the BAR, another BAR. */
	cfg_wr(f, 1, cap + 12u, 3, 4);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 4), 0);
	cfg_wr(f, 1, cap + 12u, 2, 4);
	cfg_wr(f, 1, cap + 8u, VIRTIO_PCI_COMMON_OFF + 0x17, 4);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 4), 0);
	cfg_wr(f, 1, cap + 8u, 0xfffffffe, 4);
	cfg_wr(f, 1, cap + 16u, 0xffff, 2);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 4), 0);
	cfg_wr(f, 1, cap + 4u, 5, 1);
	cfg_wr(f, 1, cap + 8u, VIRTIO_PCI_COMMON_OFF + 0x12, 4);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 2), 0);
	/* The window onto the ISR clears it like a BAR read. */
	cfg_wr(f, 1, cap + 4u, 0, 1);
	virtio_dev_config_changed(&f->echo[0].dev);
	cfg_wr(f, 1, cap + 8u, VIRTIO_PCI_ISR_OFF, 4);
	cfg_wr(f, 1, cap + 12u, 1, 4);
	assert_int_equal(cfg_rd(f, 1, cap + 16u, 1), VIRTIO_ISR_CONFIG);
	assert_int_equal(bus_rd(f, vstruct(f, 1, VIRTIO_PCI_CAP_ISR_CFG), 1), 0);
}

static void test_platform_table_and_limits(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport_info info;

	assert_int_equal(f->vm.nmmio_devs, NDEV);
	for (unsigned int i = 0; i < NDEV; i++) {
		const struct platform_mmio_dev *d = &f->vm.mmio_devs[i];

		assert_true(d->pci);
		assert_int_equal(d->pci_slot, i + 1);
		assert_int_equal(d->msix_vectors, 3);
		assert_int_equal(d->size, VIRTIO_PCI_BAR_SIZE);
		assert_ptr_equal(d->dev, &f->echo[i].dev);
		assert_int_equal(virtio_transport_describe(&f->echo[i].dev, &info), 0);
		assert_string_equal(info.transport, "virtio-pci");
		assert_int_equal(info.base, d->base);
		assert_int_equal(info.pci_slot, i + 1);
		assert_int_equal(info.msix_vectors, 3);
	}
}

/* Without a host bridge (an architecture that has none yet) attach
 * refuses, naming the way out. */
static void test_attach_without_host(void **state)
{
	struct vm vm = { .vm_fd = -1, .kvm_fd = -1 };
	struct echo e;

	(void)state;
	virtio_dev_init(&e.dev, &echo_ops, &e, e.config, sizeof(e.config));
	assert_int_equal(virtio_pci_attach(&vm, &e.dev), -ENODEV);
	assert_null(e.dev.tops);
	virtio_dev_fini(&e.dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_header_and_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_and_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_echo_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masked_vector_pends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vectors_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_select_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_access_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_platform_table_and_limits, setup, teardown),
		cmocka_unit_test(test_attach_without_host),
	};

	return cmocka_run_group_tests_name("virtio_pci", tests, NULL, NULL);
}
