/* x86-64 platform layout and the interfaces between the x86 files. Private
 * to src/arch/x86. */
#ifndef AVP_ARCH_X86_H
#define AVP_ARCH_X86_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Guest physical layout (low memory follows the Linux x86 boot protocol,
 * Documentation/arch/x86/boot.rst, and the PC memory map). */
#define X86_GDT_GPA 0x500
#define X86_BOOT_PARAMS_GPA 0x7000 /* the "zero page" */
#define X86_PML4_GPA 0x9000
#define X86_PDPT_GPA 0xa000
#define X86_PD_GPA 0xb000	/* 4 pages: identity map of the first 4 GiB */
#define X86_CMDLINE_GPA 0x20000
#define X86_EBDA_GPA 0x9fc00
#define X86_ACPI_GPA 0xe0000	/* RSDP and tables, reserved in e820 */
#define X86_ACPI_SIZE 0x1f000
#define X86_BIOS_AREA_END 0x100000 /* [X86_ACPI_GPA, here) is reserved in e820 */
/* The real-mode reset vector (f000:fff0), inside the same reserved range. */
#define X86_RESET_VECTOR_GPA 0xffff0
#define X86_KERNEL_GPA 0x100000 /* protected-mode kernel */
#define X86_MMIO_HOLE_START 0xc0000000ull /* RAM above this moves to 4 GiB */
#define X86_HIGH_RAM_START 0x100000000ull
#define X86_VIRTIO_MMIO_BASE 0xd0000000ull
#define X86_VIRTIO_MMIO_STRIDE 0x1000ull
/* --transport pci: ECAM for bus 0 (E820-reserved, as Linux wants for
 * MMCONFIG) and the window the host bridge places BARs in. */
#define X86_PCI_ECAM_BASE 0xe0000000ull
#define X86_PCI_MMIO_BASE 0xe1000000ull
#define X86_PCI_MMIO_SIZE 0x01000000ull
/* KVM's I/O APIC has 24 pins, GSIs 0-23; MSI routes start after them. */
#define X86_MSI_FIRST_GSI 24
#define X86_IOAPIC_GPA 0xfec00000ull
#define X86_LAPIC_GPA 0xfee00000ull
#define X86_TSS_GPA 0xfffbd000ull	   /* KVM_SET_TSS_ADDR, 3 pages */
#define X86_IDENTITY_MAP_GPA 0xfffbc000ull /* KVM_SET_IDENTITY_MAP_ADDR */

/* Legacy devices. */
#define X86_COM1_PORT 0x3f8
#define X86_COM1_GSI 4
#define X86_RTC_PORT 0x70
#define X86_RTC_GSI 8
#define X86_I8042_DATA_PORT 0x60
#define X86_I8042_CMD_PORT 0x64

/* ACPI hardware-reduced power registers (FADT SLEEP_CONTROL_REG,
 * SLEEP_STATUS_REG, RESET_REG), one byte each. */
#define X86_ACPI_SLEEP_CTL_PORT 0x600
#define X86_ACPI_SLEEP_STS_PORT 0x601
#define X86_ACPI_RESET_PORT 0x602
#define X86_ACPI_RESET_VALUE 0x1
/* SLP_TYP for S5 as declared by the DSDT's \_S5 package. */
#define X86_ACPI_S5_SLP_TYP 5

/* The WDAT watchdog's registers (include/avp/hw/watchdog.h, WATCHDOG_NPORTS
 * of them), with --watchdog. Away from the RTC's 0x70-0x73, which Linux
 * refuses in a WDAT (drivers/acpi/acpi_watchdog.c). (acpi_wdat.c) */
#define X86_WDT_PORT 0x610

/* Builds RSDP, XSDT, FADT, MADT and DSDT (every vm->mmio_devs entry as a
 * LNRO0005 device) in [X86_ACPI_GPA, +X86_ACPI_SIZE). Returns 0 and the
 * RSDP's address, or -errno. (acpi.c) */
int x86_acpi_build(struct vm *vm, uint64_t *rsdp_gpa);

/* The byte that makes LEN bytes sum to 0 mod 256: the checksum of the
 * ACPI tables (ACPI 6.4, 5.2.5.3) and of the MP spec's structures. */
static inline uint8_t x86_table_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

/* The MP spec 1.4 floating pointer and configuration table (every vCPU,
 * the I/O APIC, the ISA interrupts) in AREA of SIZE bytes, to be placed at
 * guest address AREA_GPA; -EINVAL when they do not fit. (mptable.c) */
int x86_mptable_build(uint8_t *area, size_t size, unsigned int ncpus, uint32_t area_gpa);
/* How many vCPUs the table at X86_EBDA_GPA can list. (mptable.c) */
unsigned int x86_mptable_max_cpus(void);
/* Writes the table at X86_EBDA_GPA (zeroes there when the vCPUs do not
 * fit, and Linux finds none). (mptable.c) */
int x86_mptable_write(struct vm *vm);

/* Places the firmware's reset-vector stub at X86_RESET_VECTOR_GPA. (reset_vector.c) */
int x86_write_reset_vector(struct vm *vm);

/* Loads bzImage, initrd and command line, fills the zero page and the e820
 * map. rsdp_gpa goes into boot_params.acpi_rsdp_addr. (boot.c) */
int x86_boot_load(struct vm *vm, uint64_t rsdp_gpa, uint64_t *entry_gpa);
/* The same checks as x86_boot_load against cfg's RAM size, before any VM
 * exists: kernel, initrd and command line are opened, parsed and found to
 * fit, or one error says why not. Reads only. (boot.c) */
struct avp_config;
int x86_boot_check(const struct avp_config *cfg);

#endif
