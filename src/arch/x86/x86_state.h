/* x86 private per-VM state (what vm->arch points to) and the interfaces
 * between x86.c, vcpu.c and cpuid.c. Private to src/arch/x86. */
#ifndef AVP_ARCH_X86_STATE_H
#define AVP_ARCH_X86_STATE_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct guest_mem;
struct kvm_cpuid2;

struct x86_state {
	uint64_t entry_gpa; /* 64-bit kernel entry point, set by arch_load_guest */
	uint64_t rsdp_gpa;
	bool guest_loaded;
};

/* vm->arch as x86 state, or NULL before arch_vm_init/arch_load_guest. */
struct x86_state *x86_state_of(const struct vcpu *vcpu);

/* The x2APIC/initial APIC ID of a vCPU. KVM creates vCPU i with APIC ID i
 * (its vcpu_id), and the ACPI MADT lists the same numbers. */
static inline uint32_t x86_apic_id(unsigned int vcpu_index)
{
	return vcpu_index;
}

/* Patches the CPUID table KVM_GET_SUPPORTED_CPUID returned for vCPU index
 * of ncpus (one socket, one thread per core): APIC IDs in leaves 1, 0xB and
 * 0x1F, the hypervisor bit, and the core counts of leaves 1, 4, 0xB, 0x1F
 * (and 0x80000008 on AMD). capacity is how many entries the table can
 * hold; leaves 0xB/0x1F are rewritten and may need up to 3 entries each.
 * Returns 0 or -E2BIG. (cpuid.c) */
int x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned int capacity,
		    unsigned int index, unsigned int ncpus);

/* KVM_GET_SUPPORTED_CPUID, x86_cpuid_patch, KVM_SET_CPUID2. *has_mtrr
 * tells whether the guest sees MTRRs (CPUID.1:EDX[12]). (cpuid.c) */
int x86_cpuid_init(struct vcpu *vcpu, bool *has_mtrr);

/* Writes the boot GDT at X86_GDT_GPA and the identity page tables for
 * [0, 4 GiB) at X86_PML4_GPA/X86_PDPT_GPA/X86_PD_GPA, as the 64-bit boot
 * protocol requires (boot.rst, "64-bit Boot Protocol"). (vcpu.c) */
int x86_write_boot_tables(const struct guest_mem *mem);

/* GDT entries written by x86_write_boot_tables, indexed by selector / 8. */
#define X86_BOOT_CS 0x10
#define X86_BOOT_DS 0x18
#define X86_GDT_ENTRIES 4
#define X86_GDT_CODE64 0x00af9b000000ffffull
#define X86_GDT_DATA 0x00cf93000000ffffull

#endif
