/* The arm64 platform's private interfaces (src/arch/arm64): the VM state
 * behind vm->arch, the boot plan shared by the pre-flight check and the
 * loader, and the device tree's description of a VM. The memory map is
 * layout.h. Built for ARCH=arm64 only: it needs arm64's <asm/kvm.h>. */
#ifndef AVP_ARCH_ARM64_H
#define AVP_ARCH_ARM64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"

struct vm;
struct avp_config;

/* The GIC's interrupt lines: SGIs and PPIs are INTIDs 0-31, SPI n is
 * INTID 32 + n. NR_IRQS (a multiple of 32) covers every SPI layout.h
 * hands out. */
#define ARM64_SPI_INTID(spi) (32u + (spi))
#define ARM64_GIC_NR_IRQS 128u
_Static_assert(ARM64_SPI_INTID(ARM64_VIRTIO_SPI_BASE + ARM64_VIRTIO_MMIO_SLOTS) <= ARM64_GIC_NR_IRQS,
	       "every virtio-mmio slot's SPI is a GIC line");

/* --transport pci: the GSIs of MSI routes start above every SPI's, which
 * keep KVM's default routes (GSI n to SPI n). */
#define ARM64_MSI_FIRST_GSI (ARM64_GIC_NR_IRQS - 32u)

/* Linux arm64's COMMAND_LINE_SIZE: longer bootargs are cut. */
#define ARM64_CMDLINE_MAX 2048u

struct arm64_state {
	int gic_fd;	      /* the in-kernel GICv3 (KVM_CREATE_DEVICE) */
	bool gic_ready;	      /* KVM_DEV_ARM_VGIC_CTRL_INIT done */
	int its_fd;	      /* --transport pci: its ITS, or -1 (none: INTx only) */
	bool guest_loaded;
	uint64_t entry_gpa;   /* the Image's first byte */
	uint64_t fdt_gpa;
};

/* Where the kernel, the initrd and the device tree go in RAM
 * [ARM64_RAM_BASE, + ram_bytes) (layout.h): worked out from the files
 * alone, so the same checks run before any VM exists and again at load. */
struct arm64_boot_plan {
	int kernel_fd;
	int initrd_fd; /* -1 without an initrd */
	struct arm64_image_info ii;
	uint8_t *kernel_data; /* an Image.gz's Image, ii.file_size bytes; else NULL */
	uint64_t kernel_gpa; /* where the Image's first byte goes */
	uint64_t kernel_end; /* kernel_gpa + image_size */
	uint64_t initrd_gpa, initrd_size;
	uint64_t fdt_gpa;
};

/* Opens and checks the files cfg names and places them: 0, or -errno
 * after one error line saying what is wrong (a wrong kernel format, too
 * little memory, ...). (boot.c) */
int arm64_boot_plan(const struct avp_config *cfg, struct arm64_boot_plan *p);
void arm64_boot_plan_close(struct arm64_boot_plan *p);

/* The device tree of vm (its config and the devices attached so far)
 * with the plan's initrd, into buf: 0 or -errno, reported. (boot.c) */
int arm64_build_fdt(const struct vm *vm, const struct arm64_boot_plan *plan, void *buf,
		    size_t len);

/* Whether the VM has an ITS for MSIs (--transport pci on a host with
 * one). (vm.c) */
bool arm64_has_its(const struct vm *vm);

/* The GIC's initialisation once every vCPU exists. (vm.c) */
int arm64_gic_finish(struct vm *vm);

#endif
