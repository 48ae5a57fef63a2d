/* The Intel MultiProcessor Specification table (version 1.4): a floating
 * pointer and a configuration table in the EBDA, beside the ACPI tables.
 *
 * Why a 1997 table on an ACPI platform: Linux looks for it before it reads
 * ACPI (arch/x86/kernel/mpparse.c, smp_scan_config), mapping and unmapping
 * the candidate range at every 16-byte step of [0, 1 KiB), [639 KiB, 640
 * KiB) and [0xf0000, 0x100000), each map and unmap a TLB flush per page.
 * Without a table the scan runs to the end: about 70000 INVLPGs, which
 * every host without nested paging intercepts (KVM's shadow paging: 70 %
 * of the exits of a boot to init, bench/kvmstat.py). With the table at
 * 639 KiB the scan stops at its second range. Linux then uses ACPI's MADT
 * (it takes precedence when it lists the local and I/O APICs); with
 * acpi=off the table is what it boots from, so it describes the same
 * machine: every vCPU, the I/O APIC and the ISA interrupts' pins. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/x86.h"
#include "avp/le.h"
#include "avp/log.h"
#include "avp/vm.h"

/* Sizes and fields of MP spec 1.4, chapter 4. */
#define MPF_LEN 16
#define MPC_HEADER_LEN 44
#define MPC_CPU_LEN 20
#define MPC_SHORT_LEN 8 /* bus, I/O APIC, interrupt entries */
#define MP_SPEC_REV 4

#define MPC_CPU 0
#define MPC_BUS 1
#define MPC_IOAPIC 2
#define MPC_IOINT 3
#define MPC_LINT 4

#define MPC_CPU_ENABLED (1u << 0)
#define MPC_CPU_BSP (1u << 1)
#define MP_IRQ_INT 0
#define MP_IRQ_NMI 1
#define MP_IRQ_EXTINT 3
#define MP_ALL_LAPICS 0xff
#define MP_ISA_BUS 0
#define MP_LAPIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11 /* KVM's I/O APIC */
#define MP_IOAPIC_ID 0	       /* as in the MADT (acpi.c) */
#define MP_ISA_IRQS 16
#define MP_IOINT_ENTRIES (MP_ISA_IRQS - 1) /* IRQ 2 is the 8259 cascade */

/* The whole structure lives in the EBDA, [X86_EBDA_GPA, 640 KiB): a
 * region the e820 map reserves and the second place Linux looks. */
#define MP_AREA_SIZE 0x400u

static size_t mpc_len(unsigned int ncpus)
{
	return MPC_HEADER_LEN + (size_t)ncpus * MPC_CPU_LEN +
	       (1 + 1 + MP_IOINT_ENTRIES + 2) * (size_t)MPC_SHORT_LEN;
}

unsigned int x86_mptable_max_cpus(void)
{
	return (unsigned int)((MP_AREA_SIZE - MPF_LEN - mpc_len(0)) / MPC_CPU_LEN);
}

static uint8_t *put_short_entry(uint8_t *e, uint8_t type, uint8_t b1, uint16_t flags,
				uint8_t b4, uint8_t b5, uint8_t b6, uint8_t b7)
{
	e[0] = type;
	e[1] = b1;
	put_le16(e + 2, flags);
	e[4] = b4;
	e[5] = b5;
	e[6] = b6;
	e[7] = b7;
	return e + MPC_SHORT_LEN;
}

int x86_mptable_build(uint8_t *area, size_t size, unsigned int ncpus, uint32_t area_gpa)
{
	uint8_t *mpf = area, *mpc = area + MPF_LEN, *e;
	size_t len = mpc_len(ncpus);
	uint16_t entries = 0;

	if (!area || ncpus == 0 || size < MPF_LEN + len || len > UINT16_MAX)
		return -EINVAL;
	memset(area, 0, size);

	/* 4.1: the floating pointer; feature byte 1 = 0: a table follows. */
	memcpy(mpf, "_MP_", 4);
	put_le32(mpf + 4, area_gpa + MPF_LEN);
	mpf[8] = 1; /* length in 16-byte paragraphs */
	mpf[9] = MP_SPEC_REV;

	/* 4.2: the configuration table header; entries follow. */
	memcpy(mpc, "PCMP", 4);
	put_le16(mpc + 4, (uint16_t)len);
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "AVP     ", 8);
	memcpy(mpc + 16, "AVPVM       ", 12);
	put_le32(mpc + 36, (uint32_t)X86_LAPIC_GPA);

	/* 4.3.1: processors, APIC ID = vCPU index (as in the MADT and CPUID). */
	e = mpc + MPC_HEADER_LEN;
	for (unsigned int i = 0; i < ncpus; i++, entries++) {
		e[0] = MPC_CPU;
		e[1] = (uint8_t)i;
		e[2] = MP_LAPIC_VERSION;
		e[3] = (uint8_t)(MPC_CPU_ENABLED | (i == 0 ? MPC_CPU_BSP : 0));
		e += MPC_CPU_LEN;
	}
	/* 4.3.2 and 4.3.3: the ISA bus and the I/O APIC. */
	e[0] = MPC_BUS;
	e[1] = MP_ISA_BUS;
	memcpy(e + 2, "ISA   ", 6);
	e += MPC_SHORT_LEN;
	e[0] = MPC_IOAPIC;
	e[1] = MP_IOAPIC_ID;
	e[2] = MP_IOAPIC_VERSION;
	e[3] = 1; /* enabled */
	put_le32(e + 4, (uint32_t)X86_IOAPIC_GPA);
	e += MPC_SHORT_LEN;
	entries += 2;
	/* 4.3.4: ISA IRQ n on pin n, but the timer's IRQ 0 on pin 2 (the
	 * MADT's interrupt source override); flags 0 = the bus's own
	 * polarity and trigger (ISA: active high, edge). */
	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++) {
		if (irq == 2)
			continue;
		e = put_short_entry(e, MPC_IOINT, MP_IRQ_INT, 0, MP_ISA_BUS, irq, MP_IOAPIC_ID,
				    irq == 0 ? 2 : irq);
		entries++;
	}
	/* 4.3.5: LINT0 is the 8259's ExtINT, LINT1 the NMI, on every CPU. */
	e = put_short_entry(e, MPC_LINT, MP_IRQ_EXTINT, 0, MP_ISA_BUS, 0, MP_ALL_LAPICS, 0);
	e = put_short_entry(e, MPC_LINT, MP_IRQ_NMI, 0, MP_ISA_BUS, 0, MP_ALL_LAPICS, 1);
	entries += 2;

	put_le16(mpc + 34, entries);
	mpc[7] = x86_table_checksum(mpc, len);
	mpf[10] = x86_table_checksum(mpf, MPF_LEN);
	return 0;
}

int x86_mptable_write(struct vm *vm)
{
	uint8_t area[MP_AREA_SIZE];
	int err;

	if (!vm)
		return -EINVAL;
	/* More vCPUs than the EBDA holds: no table. Linux's scan then runs
	 * to the end (slower, as before), and ACPI describes the CPUs. */
	if (vm->ncpus > x86_mptable_max_cpus()) {
		avp_debug("no MP table: %u vCPUs do not fit in the EBDA (at most %u)", vm->ncpus,
			  x86_mptable_max_cpus());
		return gm_write(&vm->mem, X86_EBDA_GPA, memset(area, 0, sizeof(area)), sizeof(area));
	}
	err = x86_mptable_build(area, sizeof(area), vm->ncpus, X86_EBDA_GPA);
	if (!err)
		err = gm_write(&vm->mem, X86_EBDA_GPA, area, sizeof(area));
	return err;
}
