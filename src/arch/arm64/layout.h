/* The arm64 platform's guest physical memory map and interrupt numbers.
 *
 * The low 1 GiB holds the devices, RAM starts at 1 GiB: the layout of
 * QEMU's virt machine in its main lines (GIC at 128 MiB, PL011 at 144
 * MiB, RAM at 1 GiB), chosen so that guest kernels, device trees and
 * habits made for that machine carry over, and because 32-bit DMA masters
 * then see the first 3 GiB of RAM. The device tree (fdt.c) is the only
 * description a guest gets; nothing here is fixed by Linux.
 *
 *   0x0000_0000 - 0x07ff_ffff  unused (QEMU's flash: left empty, no firmware)
 *   0x0800_0000  GICv3 distributor, 64 KiB
 *   0x0808_0000  GICv3 ITS, 128 KiB (--transport pci: MSI-X)
 *   0x080a_0000  GICv3 redistributors, 128 KiB per vCPU (AVP_MAX_CPUS: 8 MiB)
 *   0x0900_0000  PL011 UART, SPI 1    (PrimeCells: one 4 KiB window,
 *   0x0901_0000  PL031 RTC,  SPI 2     64 KiB apart)
 *   0x0902_0000  SP805 watchdog, SPI 3
 *   0x0903_0000  PL061 GPIO (power button), SPI 4
 *   0x0a00_0000  virtio-mmio slots, 4 KiB each, SPIs 16 and up
 *   0x1000_0000  PCI memory window for BARs, 256 MiB (--transport pci)
 *   0x3f00_0000  PCI ECAM, bus 0 only: 1 MiB
 *   0x4000_0000  RAM, one range up to ARM64_RAM_MAX
 *
 * In RAM: the kernel at the first 2 MiB aligned address (plus its
 * text_offset, image.c), the device tree in the last 2 MiB of RAM (its
 * own 2 MiB block, booting.rst: 8-byte aligned, at most 2 MiB, and not
 * sharing a 2 MiB block with memory that needs other attributes), the
 * initrd right below it, page aligned: all inside the same 1 GiB aligned
 * 32 GiB window as the kernel, as booting.rst requires, since RAM is one
 * range far smaller than that window (ARM64_RAM_MAX). */
#ifndef AVP_ARCH_ARM64_LAYOUT_H
#define AVP_ARCH_ARM64_LAYOUT_H

#define ARM64_GICD_BASE 0x08000000ull
#define ARM64_GICD_SIZE 0x10000ull
#define ARM64_GICR_BASE 0x080a0000ull
#define ARM64_GICR_SIZE_PER_CPU 0x20000ull /* RD_base + SGI_base frames */
/* The ITS: control and translation frames, 64 KiB each and 64 KiB
 * aligned (arm-vgic-its.rst), between the distributor and the
 * redistributors. */
#define ARM64_GITS_BASE 0x08080000ull
#define ARM64_GITS_SIZE 0x20000ull

#define ARM64_PL011_BASE 0x09000000ull
#define ARM64_PL031_BASE 0x09010000ull
#define ARM64_SP805_BASE 0x09020000ull
#define ARM64_PL061_BASE 0x09030000ull
#define ARM64_PRIMECELL_SIZE 0x1000ull
/* End of the legacy device area: the redistributors must stay below. */
#define ARM64_LEGACY_END 0x09040000ull

/* SPI numbers (INTID - 32). */
#define ARM64_PL011_SPI 1u
#define ARM64_PL031_SPI 2u
#define ARM64_SP805_SPI 3u
#define ARM64_PL061_SPI 4u
#define ARM64_VIRTIO_SPI_BASE 16u

#define ARM64_VIRTIO_MMIO_BASE 0x0a000000ull
#define ARM64_VIRTIO_MMIO_STRIDE 0x1000ull
#define ARM64_VIRTIO_MMIO_SLOTS 64u

/* --transport pci: a generic ECAM host bridge. 32-bit BARs only
 * (pci_fn_add_bar), so the window sits below 4 GiB, in the device area. */
#define ARM64_PCI_MMIO_BASE 0x10000000ull
#define ARM64_PCI_MMIO_SIZE 0x10000000ull
#define ARM64_PCI_ECAM_BASE 0x3f000000ull
#define ARM64_PCI_ECAM_SIZE 0x100000ull /* one bus: 32 devices x 8 functions x 4 KiB */

#define ARM64_RAM_BASE 0x40000000ull
/* One range: below the 48-bit limit of the placement flag by far, and
 * inside booting.rst's 32 GiB initrd window together with the kernel. */
#define ARM64_RAM_MAX (32ull << 30)

/* The device tree's 2 MiB block at the end of RAM, and its largest size. */
#define ARM64_FDT_BLOCK (2ull << 20)

#endif
