/* The arm64 memory map (src/arch/arm64/layout.h): regions aligned as the
 * GIC, the PrimeCells and booting.rst want them, none overlapping, room
 * for AVP_MAX_CPUS redistributors, distinct SPIs; and the largest
 * platform it allows makes a device tree that fits its 2 MiB block. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <libfdt.h>
#include <string.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"
#include "avp/config.h"

struct region {
	const char *name;
	uint64_t base, size;
};

static void test_regions(void **state)
{
	const struct region r[] = {
		{ "gicd", ARM64_GICD_BASE, ARM64_GICD_SIZE },
		{ "its", ARM64_GITS_BASE, ARM64_GITS_SIZE },
		{ "gicr", ARM64_GICR_BASE, AVP_MAX_CPUS * ARM64_GICR_SIZE_PER_CPU },
		{ "pl011", ARM64_PL011_BASE, ARM64_PRIMECELL_SIZE },
		{ "pl031", ARM64_PL031_BASE, ARM64_PRIMECELL_SIZE },
		{ "sp805", ARM64_SP805_BASE, ARM64_PRIMECELL_SIZE },
		{ "pl061", ARM64_PL061_BASE, ARM64_PRIMECELL_SIZE },
		{ "virtio", ARM64_VIRTIO_MMIO_BASE,
		  ARM64_VIRTIO_MMIO_SLOTS * ARM64_VIRTIO_MMIO_STRIDE },
		{ "pci-mmio", ARM64_PCI_MMIO_BASE, ARM64_PCI_MMIO_SIZE },
		{ "pci-ecam", ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE },
		{ "ram", ARM64_RAM_BASE, ARM64_RAM_MAX },
	};
	const unsigned int n = sizeof(r) / sizeof(r[0]);

	(void)state;
	/* In address order, none overlapping. */
	for (unsigned int i = 0; i + 1 < n; i++)
		if (r[i].base + r[i].size > r[i + 1].base)
			fail_msg("%s overlaps %s", r[i].name, r[i + 1].name);
	assert_true(ARM64_PL061_BASE + ARM64_PRIMECELL_SIZE <= ARM64_LEGACY_END);
	/* GICv3: 64 KiB frames. */
	assert_int_equal(ARM64_GICD_BASE % 0x10000, 0);
	assert_int_equal(ARM64_GICR_BASE % 0x10000, 0);
	assert_int_equal(ARM64_GICR_SIZE_PER_CPU, ARM64_GICR_STRIDE);
	/* PrimeCells: 4 KiB windows; virtio-mmio: a page each. */
	for (unsigned int i = 3; i < 7; i++)
		assert_int_equal(r[i].base % 0x1000, 0);
	/* The ITS: 64 KiB aligned, two 64 KiB frames (arm-vgic-its.rst). */
	assert_int_equal(ARM64_GITS_BASE % 0x10000, 0);
	assert_int_equal(ARM64_GITS_SIZE, 0x20000);
	/* ECAM: 1 MiB per bus, aligned to it; the BAR window below 4 GiB
	 * (32-bit BARs). */
	assert_int_equal(ARM64_PCI_ECAM_BASE % ARM64_PCI_ECAM_SIZE, 0);
	assert_int_equal(ARM64_PCI_ECAM_SIZE, 1u << 20);
	assert_true(ARM64_PCI_MMIO_BASE + ARM64_PCI_MMIO_SIZE <= (1ull << 32));
	assert_int_equal(ARM64_VIRTIO_MMIO_BASE % ARM64_VIRTIO_MMIO_STRIDE, 0);
	assert_true(ARM64_VIRTIO_MMIO_STRIDE >= 0x200);
	/* RAM: 2 MiB aligned for the kernel, within 48 bits. */
	assert_int_equal(ARM64_RAM_BASE % ARM64_IMAGE_ALIGN, 0);
	assert_true(ARM64_RAM_BASE + ARM64_RAM_MAX <= (1ull << 48));
}

static void test_interrupts(void **state)
{
	const unsigned int spi[] = { ARM64_PL011_SPI, ARM64_PL031_SPI, ARM64_SP805_SPI,
				     ARM64_PL061_SPI };

	(void)state;
	for (unsigned int i = 0; i < 4; i++) {
		assert_true(spi[i] < ARM64_VIRTIO_SPI_BASE);
		for (unsigned int j = i + 1; j < 4; j++)
			assert_int_not_equal(spi[i], spi[j]);
	}
	assert_true(ARM64_VIRTIO_SPI_BASE + ARM64_VIRTIO_MMIO_SLOTS - 1 <= ARM64_FDT_MAX_SPI);
}

/* Every vCPU and every virtio slot: the tree still fits its block, and
 * the kernel goes at the start of RAM. */
static void test_largest_platform(void **state)
{
	static uint8_t buf[ARM64_FDT_BLOCK];
	struct arm64_fdt_dev devs[4 + ARM64_VIRTIO_MMIO_SLOTS] = {
		{ ARM64_DEV_PL011, ARM64_PL011_BASE, ARM64_PRIMECELL_SIZE, ARM64_PL011_SPI, false },
		{ ARM64_DEV_PL031, ARM64_PL031_BASE, ARM64_PRIMECELL_SIZE, ARM64_PL031_SPI, false },
		{ ARM64_DEV_SP805, ARM64_SP805_BASE, ARM64_PRIMECELL_SIZE, ARM64_SP805_SPI, false },
		{ ARM64_DEV_PL061, ARM64_PL061_BASE, ARM64_PRIMECELL_SIZE, ARM64_PL061_SPI, false },
	};
	struct arm64_fdt_mem mem = { ARM64_RAM_BASE, ARM64_RAM_MAX };
	struct arm64_fdt_platform p = {
		.mem = &mem,
		.nmem = 1,
		.ncpus = AVP_MAX_CPUS,
		.gicd_base = ARM64_GICD_BASE,
		.gicd_size = ARM64_GICD_SIZE,
		.gicr_base = ARM64_GICR_BASE,
		.gicr_size = AVP_MAX_CPUS * ARM64_GICR_SIZE_PER_CPU,
		.devs = devs,
		.ndevs = 4 + ARM64_VIRTIO_MMIO_SLOTS,
		.sp805_clock_hz = 1000000,
		.psci_1_0 = true,
		.bootargs = "console=ttyAMA0",
	};
	struct arm64_image_info ii = { .image_size = 64u << 20 };
	uint64_t gpa;

	(void)state;
	for (unsigned int i = 0; i < ARM64_VIRTIO_MMIO_SLOTS; i++)
		devs[4 + i] = (struct arm64_fdt_dev){ ARM64_DEV_VIRTIO_MMIO,
						      ARM64_VIRTIO_MMIO_BASE +
							      i * ARM64_VIRTIO_MMIO_STRIDE,
						      ARM64_VIRTIO_MMIO_STRIDE,
						      ARM64_VIRTIO_SPI_BASE + i, true };
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	assert_true(fdt_totalsize(buf) <= ARM64_FDT_BLOCK);
	assert_int_equal(arm64_image_place(&ii, ARM64_RAM_BASE, 128u << 20, &gpa), 0);
	assert_int_equal(gpa, ARM64_RAM_BASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_interrupts),
		cmocka_unit_test(test_largest_platform),
	};

	return cmocka_run_group_tests_name("arm64_layout", tests, NULL, NULL);
}
