/* The flattened device tree an arm64 guest boots with, built with libfdt
 * from a plain description of the platform, so that it needs no VM and
 * every node is unit-testable (tests/unit/test_arm64_fdt.c decodes it
 * with dtc). Bindings: Linux's Documentation/devicetree/bindings (memory,
 * cpus with enable-method "psci", arm,psci, arm,gic-v3, arm,armv8-timer,
 * arm,pl011, arm,pl031, arm,sp805, arm,pl061, gpio-keys, virtio,mmio,
 * fixed-clock, pci-host-ecam-generic with pci-bus and pci-msi, the
 * arm,gic-v3 ITS) and the chosen node (Documentation/arch/arm64/booting.rst,
 * devicetree chosen.yaml). */
#ifndef AVP_ARCH_ARM64_FDT_H
#define AVP_ARCH_ARM64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* booting.rst: the DTB must not exceed 2 MiB. Ours is a few KiB. */
#define ARM64_FDT_MAX_SIZE (2u << 20)
/* The GIC's SPIs are 32..1019 as INTIDs, 0..987 in a device tree. */
#define ARM64_FDT_MAX_SPI 987u
/* One GICv3 redistributor (RD_base + SGI_base frames) per vCPU. */
#define ARM64_GICR_STRIDE (128u << 10)
/* The architected timer's interrupts as INTIDs (ARM BSA, as KVM wires
 * them): secure and non-secure physical, virtual, hypervisor physical.
 * A device tree names a PPI by INTID - 16. */
#define ARM64_TIMER_INTID_SEC 29u
#define ARM64_TIMER_INTID_NS 30u
#define ARM64_TIMER_INTID_VIRT 27u
#define ARM64_TIMER_INTID_HYP 26u
/* The PrimeCells' bus clock (apb_pclk, and the PL011's uartclk: the
 * baud rate divisors mean nothing to a virtual UART). */
#define ARM64_APB_CLOCK_HZ 24000000u

enum arm64_fdt_dev_kind {
	ARM64_DEV_PL011,
	ARM64_DEV_PL031,
	ARM64_DEV_SP805,
	ARM64_DEV_PL061, /* at most one: gpio-keys' power button on PL061_POWER_LINE */
	ARM64_DEV_VIRTIO_MMIO,
};

struct arm64_fdt_dev {
	enum arm64_fdt_dev_kind kind;
	uint64_t base, size;
	uint32_t spi;	/* SPI number (INTID - 32) */
	bool edge;	/* rising-edge interrupt; level-high otherwise */
};

/* --transport pci: one PCI function's legacy interrupt (INTA). */
struct arm64_fdt_pci_intx {
	uint8_t slot; /* device number on bus 0 */
	uint32_t spi; /* level-high */
};

#define ARM64_FDT_PCI_SLOTS 32u

/* The generic ECAM host bridge, bus 0 only. */
struct arm64_fdt_pci {
	uint64_t ecam_base, ecam_size;
	uint64_t mmio_base, mmio_size; /* 32-bit non-prefetchable BAR window */
	const struct arm64_fdt_pci_intx *intx;
	unsigned int nintx; /* at most ARM64_FDT_PCI_SLOTS */
	bool msi; /* MSIs through the platform's ITS (its_size != 0) */
};

struct arm64_fdt_mem {
	uint64_t base, size;
};

struct arm64_fdt_platform {
	const struct arm64_fdt_mem *mem;
	unsigned int nmem;
	unsigned int ncpus;
	uint64_t gicd_base, gicd_size; /* distributor */
	uint64_t gicr_base, gicr_size; /* redistributors: ncpus * ARM64_GICR_STRIDE */
	uint64_t its_base, its_size;   /* the GIC's ITS; size 0: none */
	const struct arm64_fdt_pci *pci; /* NULL: no PCI host bridge */
	const struct arm64_fdt_dev *devs;
	unsigned int ndevs;
	uint32_t sp805_clock_hz; /* the SP805's counter rate (its wdog_clk), not 0 */
	bool psci_1_0;		 /* else PSCI 0.2 */
	const char *bootargs;	 /* NULL: none */
	uint64_t initrd_start, initrd_size; /* size 0: no initrd */
};

/* The MPIDR affinity KVM gives vCPU i at reset (Aff0 = i & 15, Aff1 the
 * next 8 bits, Aff2 the 8 after): the cpu node's reg. */
uint32_t arm64_fdt_mpidr(unsigned int i);

/* Writes the tree into buf (len bytes, at most ARM64_FDT_MAX_SIZE used).
 * 0, -EINVAL for a description that makes no tree (no RAM, no CPU, an SPI
 * out of range, ...) after an avp_err() naming it, or -ENOSPC when len is
 * too small. The tree's size is then fdt_totalsize(buf). */
int arm64_fdt_build(const struct arm64_fdt_platform *p, void *buf, size_t len);
/* The size of a tree arm64_fdt_build wrote (its header's totalsize). */
size_t arm64_fdt_size(const void *fdt);

#endif
