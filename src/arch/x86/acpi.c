/* ACPI tables for the x86 guest: RSDP, XSDT, FADT, MADT and DSDT, laid out
 * in [X86_ACPI_GPA, +X86_ACPI_SIZE). Section numbers refer to ACPI 6.4.
 *
 * The platform is "hardware-reduced" (section 4.1): there is no PM1/GPE
 * fixed hardware and no SCI; power-off and reset go through the FADT's
 * SLEEP_CONTROL_REG and RESET_REG, which platform.c implements as I/O
 * ports. Linux finds the virtio-mmio devices only through the DSDT
 * (_HID "LNRO0005", a Memory32Fixed and an Interrupt in _CRS), so every
 * vm->mmio_devs entry gets a device there. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi_wdat.h"
#include "arch/x86/aml.h"
#include "arch/x86/power_button.h"
#include "arch/x86/x86.h"
#include "arch/x86/x86_state.h"
#include "avp/hw/pci.h"
#include "avp/le.h"
#include "avp/vm.h"

#define ACPI_OEM_ID "AVP   "	   /* 6 bytes */
#define ACPI_OEM_TABLE_ID "AVPVM   " /* 8 bytes */
#define ACPI_CREATOR_ID "AVP "
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_REVISION 1

#define ACPI_HEADER_LEN 36
#define RSDP_LEN 36
#define RSDP_V1_LEN 20
#define FADT_LEN 276 /* FADT major version 6 (section 5.2.9, Table 5.9) */
#define FADT_REVISION 6
#define FADT_MINOR_REVISION 4
#define MADT_REVISION 5 /* ACPI 6.3+: "Online Capable" is defined */
#define DSDT_REVISION 2 /* >= 2: AML integers are 64 bits (section 5.2.11.1) */
#define XSDT_REVISION 1
#define MCFG_REVISION 1
#define MCFG_LEN (ACPI_HEADER_LEN + 8 + 16) /* one allocation: segment 0, bus 0 */

/* FADT offsets (Table 5.9). */
#define FADT_CENTURY 108
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VERSION 131
#define FADT_X_DSDT 140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG 256
#define FADT_HYPERVISOR_ID 268

/* FADT Flags (Table 5.10). PWR_BUTTON/SLP_BUTTON set mean "no fixed
 * feature button"; HW_REDUCED_ACPI makes OSPM ignore all fixed hardware. */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4)
#define FADT_F_SLP_BUTTON (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/* IA-PC Boot Architecture Flags (Table 5.11): ISA devices (COM1, RTC) and
 * an 8042 exist; there is no VGA and, without PCI, no MSI. Bit 5 (CMOS
 * RTC not present) stays clear: rtc_cmos.c answers at 0x70. */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_MSI_NOT_SUPPORTED (1u << 3)

/* Generic Address Structure (section 5.2.3.2). */
#define GAS_LEN 12
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* CMOS index of the century register, reported in the FADT. */
#define CMOS_CENTURY_INDEX 0x32

/* MADT (section 5.2.12). */
#define MADT_PCAT_COMPAT (1u << 0)
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_ALL_PROCESSORS 0xff
/* KVM's in-kernel I/O APIC resets its ID register to 0; with xAPIC the
 * I/O APIC IDs no longer share the (serial APIC bus) namespace of the
 * local APIC IDs, so 0 is both valid and what the guest reads back. */
#define MADT_IOAPIC_ID 0

#define ACPI_TABLE_ALIGN 16

struct acpi_image {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

/* Reserves len zeroed bytes at the next aligned offset. */
static int image_alloc(struct acpi_image *img, size_t len, size_t *off)
{
	size_t start = (img->len + ACPI_TABLE_ALIGN - 1) & ~(size_t)(ACPI_TABLE_ALIGN - 1);

	if (start > img->cap || len > img->cap - start)
		return -ENOSPC;
	memset(img->buf + start, 0, len);
	img->len = start + len;
	*off = start;
	return 0;
}

static uint64_t image_gpa(size_t off)
{
	return X86_ACPI_GPA + off;
}

/* Common table header (section 5.2.6); the checksum is set by
 * table_finish once the length is final. */
static void table_header(uint8_t *t, const char sig[4], uint8_t revision)
{
	memcpy(t, sig, 4);
	t[8] = revision;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put_le32(t + 24, ACPI_OEM_REVISION);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put_le32(t + 32, ACPI_CREATOR_REVISION);
}

static void table_finish(uint8_t *t, size_t len)
{
	put_le32(t + 4, (uint32_t)len);
	t[9] = 0;
	t[9] = x86_table_checksum(t, len);
}

static void put_gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = 8; /* register bit width */
	p[2] = 0; /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	put_le64(p + 4, port);
}

/* Fills the FADT slot reserved by build_image. */
static void fill_fadt(uint8_t *t, uint64_t dsdt_gpa, bool pci)
{
	uint16_t boot_arch = IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT;

	table_header(t, "FACP", FADT_REVISION);
	/* FIRMWARE_CTRL/X_FIRMWARE_CTRL stay 0: a hardware-reduced platform
	 * need not have a FACS (section 5.2.10). The 32-bit DSDT field must
	 * be 0 when X_DSDT is used (Table 5.9). */
	t[FADT_CENTURY] = CMOS_CENTURY_INDEX;
	/* Linux turns MSI off for good when this bit is set
	 * (acpi_pci_init: "MSI not supported"); virtio-pci needs MSI-X. */
	if (!pci)
		boot_arch |= IAPC_MSI_NOT_SUPPORTED;
	put_le16(t + FADT_IAPC_BOOT_ARCH, boot_arch);
	put_le32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
					 FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
					 FADT_F_HW_REDUCED_ACPI);
	put_gas_io8(t + FADT_RESET_REG, X86_ACPI_RESET_PORT);
	t[FADT_RESET_VALUE] = X86_ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
	put_le64(t + FADT_X_DSDT, dsdt_gpa);
	/* Section 4.8.3.7: OSPM writes SLP_TYPx << 2 | SLP_EN (bit 5) to the
	 * sleep control register and polls WAK_STS in the status register. */
	put_gas_io8(t + FADT_SLEEP_CONTROL_REG, X86_ACPI_SLEEP_CTL_PORT);
	put_gas_io8(t + FADT_SLEEP_STATUS_REG, X86_ACPI_SLEEP_STS_PORT);
	memcpy(t + FADT_HYPERVISOR_ID, "AVP\0\0\0\0\0", 8);
	table_finish(t, FADT_LEN);
}

static int build_madt(struct acpi_image *img, unsigned int ncpus, size_t *off)
{
	size_t len = ACPI_HEADER_LEN + 8 + 8 * (size_t)ncpus + 12 + 10 + 6;
	uint8_t *t, *e;
	int ret;

	/* Processor UIDs and APIC IDs are one byte in these entries. */
	if (ncpus == 0 || ncpus > 255)
		return -EINVAL;
	ret = image_alloc(img, len, off);
	if (ret)
		return ret;
	t = img->buf + *off;
	table_header(t, "APIC", MADT_REVISION);
	put_le32(t + 36, (uint32_t)X86_LAPIC_GPA);
	put_le32(t + 40, MADT_PCAT_COMPAT);
	e = t + 44;
	for (unsigned int i = 0; i < ncpus; i++, e += 8) {
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = (uint8_t)i;		/* ACPI Processor UID */
		e[3] = (uint8_t)x86_apic_id(i); /* as KVM numbers the vCPU */
		put_le32(e + 4, MADT_LAPIC_ENABLED);
	}
	e[0] = MADT_IOAPIC;
	e[1] = 12;
	e[2] = MADT_IOAPIC_ID;
	put_le32(e + 4, (uint32_t)X86_IOAPIC_GPA);
	put_le32(e + 8, 0); /* GSI base */
	e += 12;
	/* The PIT's ISA IRQ 0 is wired to I/O APIC input 2, as on every PC
	 * and in KVM's irqchip routing; flags 0 = ISA conventions (edge,
	 * active high). */
	e[0] = MADT_ISO;
	e[1] = 10;
	e[2] = 0; /* bus: ISA */
	e[3] = 0; /* source IRQ */
	put_le32(e + 4, 2);
	put_le16(e + 8, 0);
	e += 10;
	/* LINT1 of every local APIC is the NMI input (section 5.2.12.7). */
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = MADT_ALL_PROCESSORS;
	put_le16(e + 3, 0);
	e[5] = 1;
	table_finish(t, len);
	return 0;
}

static void dsdt_legacy_devices(struct aml *a)
{
	/* COM1: 8250_pnp binds to PNP0501 and takes the interrupt from here,
	 * which on a hardware-reduced platform (no legacy PIC) is how the
	 * guest learns that GSI 4 carries it. */
	aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_io(a, X86_COM1_PORT, X86_COM1_PORT, 1, 8);
	aml_res_irq_noflags(a, 1u << X86_COM1_GSI);
	aml_end(a);
	aml_end(a);

	/* The RTC raises no interrupt (rtc_cmos.c), so none is declared:
	 * Linux's rtc_cmos then knows it has no update/alarm IRQ instead of
	 * waiting for one that never comes. */
	aml_device_begin(a, "RTC");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0B00");
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_io(a, X86_RTC_PORT, X86_RTC_PORT, 1, 2);
	aml_end(a);
	aml_end(a);

	/* The i8042's keyboard port. With PNP0303 and no PS/2 mouse device
	 * (PNP0F13), Linux's i8042 takes IRQ 1 from here and skips the AUX
	 * port probe entirely. */
	aml_device_begin(a, "PS2K");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0303");
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_io(a, X86_I8042_DATA_PORT, X86_I8042_DATA_PORT, 1, 1);
	aml_res_io(a, X86_I8042_CMD_PORT, X86_I8042_CMD_PORT, 1, 1);
	aml_res_irq_noflags(a, 1u << 1);
	aml_end(a);
	aml_end(a);
}

static int dsdt_mmio_device(struct aml *a, unsigned int index, const struct platform_mmio_dev *d)
{
	char name[5];

	/* Memory32Fixed describes a 32-bit window. */
	if (d->base > UINT32_MAX || d->size == 0 || d->size > UINT32_MAX ||
	    d->base + d->size - 1 > UINT32_MAX || index > 99)
		return -EINVAL;
	snprintf(name, sizeof(name), "VR%02u", index);
	aml_device_begin(a, name);
	/* drivers/virtio/virtio_mmio.c matches this ACPI ID and takes the
	 * first memory and interrupt resource of the platform device. */
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_UID");
	aml_integer(a, index);
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_memory32_fixed(a, AML_MEM_READ_WRITE, (uint32_t)d->base, (uint32_t)d->size);
	aml_res_ext_irq(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, d->gsi);
	aml_end(a);
	return aml_end(a);
}

/* MCFG (PCI Firmware Specification 3.0, 4.1.2): ECAM for segment 0,
 * bus 0. */
static int build_mcfg(struct acpi_image *img, const struct pci_host *h, size_t *off)
{
	uint8_t *t, *e;
	int ret = image_alloc(img, MCFG_LEN, off);

	if (ret)
		return ret;
	t = img->buf + *off;
	table_header(t, "MCFG", MCFG_REVISION);
	e = t + ACPI_HEADER_LEN + 8; /* 8 reserved bytes */
	put_le64(e, h->ecam_base);
	put_le16(e + 8, 0); /* segment */
	e[10] = 0;	    /* start bus */
	e[11] = 0;	    /* end bus */
	table_finish(t, MCFG_LEN);
	return 0;
}

/* The PCI host bridge (ACPI 6.4, 6.1.1 and 6.5.5; PCI Firmware 3.0,
 * 4.1.5): PNP0A08 with the bus range and the BAR window it forwards in
 * _CRS, and _PRT telling the guest which GSI each slot's INTA# drives
 * (a GSI, not a link device: source 0). */
static int dsdt_pci_host(struct aml *a, const struct vm *vm)
{
	const struct pci_host *h = vm->pci;

	if (h->win_base > UINT32_MAX || h->win_size > UINT32_MAX ||
	    h->win_base + h->win_size - 1 > UINT32_MAX ||
	    h->ecam_base > UINT32_MAX - (PCI_ECAM_BUS_SIZE - 1))
		return -EINVAL;
	aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_word_bus(a, 0, 0);
	aml_res_dword_memory(a, (uint32_t)h->win_base, (uint32_t)h->win_size);
	aml_end(a);
	aml_name(a, "_PRT");
	{
		unsigned int n = 0;

		for (unsigned int i = 0; i < vm->nmmio_devs && i < AVP_MAX_MMIO_DEVS; i++)
			n += vm->mmio_devs[i].pci;
		aml_package_begin(a, (uint8_t)n);
		for (unsigned int i = 0; i < vm->nmmio_devs && i < AVP_MAX_MMIO_DEVS; i++) {
			const struct platform_mmio_dev *d = &vm->mmio_devs[i];

			if (!d->pci)
				continue;
			aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)d->pci_slot << 16 | 0xffff); /* any function */
			aml_integer(a, 0);				     /* INTA# */
			aml_integer(a, 0);				     /* source: a GSI */
			aml_integer(a, d->gsi);
			aml_end(a);
		}
		aml_end(a);
	}
	aml_end(a);

	/* PCI Firmware 3.0, 4.1.2: the ECAM range is a motherboard
	 * resource. Linux accepts an MCFG region it finds here
	 * (arch/x86/pci/mmconfig-shared.c, "reserved as ACPI motherboard
	 * resource"), whatever the E820 map says. */
	aml_device_begin(a, "PRES");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 0x50434945); /* "PCIE": unique among PNP0C02 devices */
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_memory32_fixed(a, AML_MEM_READ_WRITE, (uint32_t)h->ecam_base, PCI_ECAM_BUS_SIZE);
	aml_end(a);
	return aml_end(a);
}

static int build_dsdt(struct acpi_image *img, const struct vm *vm, size_t *off)
{
	struct aml a;
	size_t aml_len;
	uint8_t *t;
	int ret;

	/* The DSDT is the last table: it may use the rest of the window. */
	ret = image_alloc(img, ACPI_HEADER_LEN, off);
	if (ret)
		return ret;
	t = img->buf + *off;
	aml_init(&a, t + ACPI_HEADER_LEN, img->cap - img->len);

	/* \_S5: SLP_TYPa is what OSPM writes to SLEEP_CONTROL_REG for soft
	 * off (section 7.4.2); the other fields are reserved. */
	aml_name(&a, "\\_S5");
	aml_package_begin(&a, 4);
	aml_integer(&a, X86_ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);

	aml_scope_begin(&a, "\\_SB");
	dsdt_legacy_devices(&a);
	for (unsigned int i = 0; i < vm->nmmio_devs && i < AVP_MAX_MMIO_DEVS; i++) {
		if (vm->mmio_devs[i].pci)
			continue; /* found by enumerating the host bridge */
		ret = dsdt_mmio_device(&a, i, &vm->mmio_devs[i]);
		if (ret)
			return ret;
	}
	if (vm->pci) {
		ret = dsdt_pci_host(&a, vm);
		if (ret)
			return ret;
	}
	/* The power button belongs to the platform devices (platform.c); a
	 * VM built without them (the table unit tests) gets none. */
	if (vm->platform)
		x86_power_button_dsdt(&a);
	aml_end(&a);

	ret = aml_finish(&a, &aml_len);
	if (ret)
		return ret;
	img->len += aml_len;
	table_header(t, "DSDT", DSDT_REVISION);
	table_finish(t, ACPI_HEADER_LEN + aml_len);
	return 0;
}

static int build_image(struct acpi_image *img, const struct vm *vm)
{
	size_t rsdp, xsdt, fadt, madt, dsdt, wdat = 0, mcfg = 0;
	/* FADT, MADT[, WDAT][, MCFG] */
	size_t nxsdt = 2 + (x86_wdat_enabled(vm) ? 1 : 0) + (vm->pci ? 1 : 0);
	size_t nx = 2;
	uint8_t *p;
	int ret;

	/* The RSDP comes first so that it is 16-byte aligned inside the BIOS
	 * area that legacy scans search (section 5.2.5.1); boot_params points
	 * to it anyway. The FADT needs the DSDT's address and the DSDT is the
	 * only variable-sized table, so the DSDT goes last and the FADT slot
	 * is filled in once the DSDT is placed. */
	ret = image_alloc(img, RSDP_LEN, &rsdp);
	if (!ret)
		ret = image_alloc(img, ACPI_HEADER_LEN + nxsdt * 8, &xsdt);
	if (!ret)
		ret = build_madt(img, vm->ncpus, &madt);
	/* --watchdog: the WDAT describing it (acpi_wdat.c, AVP-WDT-1). */
	if (!ret && x86_wdat_enabled(vm) && !(ret = image_alloc(img, x86_wdat_len(), &wdat))) {
		table_header(img->buf + wdat, "WDAT", X86_WDAT_REVISION);
		ret = x86_wdat_fill(img->buf + wdat, x86_wdat_len());
		table_finish(img->buf + wdat, x86_wdat_len());
	}
	if (!ret && vm->pci)
		ret = build_mcfg(img, vm->pci, &mcfg);
	if (!ret)
		ret = image_alloc(img, FADT_LEN, &fadt);
	if (!ret)
		ret = build_dsdt(img, vm, &dsdt);
	if (ret)
		return ret;
	fill_fadt(img->buf + fadt, image_gpa(dsdt), vm->pci != NULL);

	p = img->buf + xsdt;
	table_header(p, "XSDT", XSDT_REVISION);
	put_le64(p + ACPI_HEADER_LEN, image_gpa(fadt));
	put_le64(p + ACPI_HEADER_LEN + 8, image_gpa(madt));
	if (wdat)
		put_le64(p + ACPI_HEADER_LEN + 8 * nx++, image_gpa(wdat));
	if (mcfg)
		put_le64(p + ACPI_HEADER_LEN + 8 * nx++, image_gpa(mcfg));
	table_finish(p, ACPI_HEADER_LEN + nxsdt * 8);

	/* RSDP (section 5.2.5.3): the checksum covers the ACPI 1.0 part, the
	 * extended checksum the whole structure. No RSDT: revision 2 OSPMs
	 * use the XSDT. */
	p = img->buf + rsdp;
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2;
	put_le32(p + 20, RSDP_LEN);
	put_le64(p + 24, image_gpa(xsdt));
	p[8] = x86_table_checksum(p, RSDP_V1_LEN);
	p[32] = x86_table_checksum(p, RSDP_LEN);
	return 0;
}

int x86_acpi_build(struct vm *vm, uint64_t *rsdp_gpa)
{
	struct acpi_image img = { .cap = X86_ACPI_SIZE };
	int ret;

	if (!vm || !rsdp_gpa)
		return -EINVAL;
	/* The whole window must be guest RAM before anything is built. */
	if (!gm_ptr(&vm->mem, X86_ACPI_GPA, X86_ACPI_SIZE))
		return -EFAULT;
	img.buf = calloc(1, img.cap);
	if (!img.buf)
		return -ENOMEM;
	ret = build_image(&img, vm);
	/* Writing the whole window also clears tables of an earlier boot. */
	if (!ret)
		ret = gm_write(&vm->mem, X86_ACPI_GPA, img.buf, img.cap);
	free(img.buf);
	if (!ret)
		*rsdp_gpa = X86_ACPI_GPA;
	return ret;
}
