/* The x86 guest layout without KVM: RAM split around the MMIO hole,
 * the interrupts devices get, the boot GDT and identity page
 * tables, and the per-vCPU CPUID patching. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86.h"
#include "arch/x86/x86_state.h"
#include "avp/arch.h"
#include "avp/guest_mem.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)

static void test_ram_512mib(void **state)
{
	struct arch_mem_range r[AVP_MAX_MEM_REGIONS];

	(void)state;
	memset(r, 0xff, sizeof(r));
	assert_int_equal(arch_ram_layout(512 * MIB, r, AVP_MAX_MEM_REGIONS), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, 512 * MIB);
}

static void test_ram_exactly_3gib(void **state)
{
	struct arch_mem_range r[AVP_MAX_MEM_REGIONS];

	(void)state;
	/* Fills low RAM up to the hole and not one byte above 4 GiB. */
	assert_int_equal(arch_ram_layout(3 * GIB, r, AVP_MAX_MEM_REGIONS), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, X86_MMIO_HOLE_START);
	assert_int_equal(arch_ram_layout(3 * GIB + 4096, r, AVP_MAX_MEM_REGIONS), 2);
	assert_int_equal(r[1].gpa, X86_HIGH_RAM_START);
	assert_int_equal(r[1].size, 4096);
}

static void test_ram_8gib(void **state)
{
	struct arch_mem_range r[AVP_MAX_MEM_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_layout(8 * GIB, r, AVP_MAX_MEM_REGIONS), 2);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, 3 * GIB);
	assert_int_equal(r[1].gpa, 4 * GIB);
	assert_int_equal(r[1].size, 5 * GIB);
	/* Nothing of the RAM lands in the hole. */
	assert_true(r[0].gpa + r[0].size <= X86_MMIO_HOLE_START);
	assert_true(r[1].gpa >= X86_HIGH_RAM_START);
}

static void test_ram_bad_args(void **state)
{
	struct arch_mem_range r[AVP_MAX_MEM_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_layout(0, r, AVP_MAX_MEM_REGIONS), -EINVAL);
	assert_int_equal(arch_ram_layout(8 * GIB, r, 1), -EINVAL);
	assert_int_equal(arch_ram_layout(512 * MIB, r, 0), -EINVAL);
	assert_int_equal(arch_ram_layout(512 * MIB, NULL, 2), -EINVAL);
}

static void test_mmio_gsis(void **state)
{
	static const int expected[] = { 5, 6, 7, 9, 10, 11, 14, 15,
					16, 17, 18, 19, 20, 21, 22, 23 };
	unsigned int n = sizeof(expected) / sizeof(expected[0]);
	struct irq_range ranges[IRQ_ALLOC_MAX_RANGES];
	struct irq_alloc a;
	enum irq_kind kind;
	uint32_t gsi;
	int nranges;

	(void)state;
	/* Devices get their interrupts from an allocator fed by the
	 * architecture's ranges, in this order. */
	nranges = arch_device_irqs(&kind, ranges, IRQ_ALLOC_MAX_RANGES);
	assert_true(nranges > 0);
	assert_int_equal(kind, IRQ_KIND_GSI);
	assert_int_equal(irq_alloc_init(&a, kind, ranges, (unsigned int)nranges), 0);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(irq_alloc_get(&a, 1, &gsi), 0);
		assert_int_equal(gsi, expected[i]);
		/* Legacy PC interrupts stay with their devices. */
		assert_true(gsi != 0 && gsi != 1 && gsi != 2 && gsi != 3 && gsi != 4 &&
			    gsi != 8 && gsi != 12 && gsi != 13);
	}
	assert_int_equal(irq_alloc_get(&a, 1, &gsi), -ENOSPC);
	assert_int_equal(irq_alloc_get(&a, 1, &gsi), -ENOSPC);
}

static void test_mmio_window(void **state)
{
	(void)state;
	assert_int_equal(arch_mmio_dev_base(), X86_VIRTIO_MMIO_BASE);
	assert_int_equal(arch_mmio_dev_stride(), X86_VIRTIO_MMIO_STRIDE);
	/* Every device window is in the hole, below the I/O APIC. */
	assert_true(arch_mmio_dev_base() >= X86_MMIO_HOLE_START);
	assert_true(arch_mmio_dev_base() + 16 * arch_mmio_dev_stride() <= X86_IOAPIC_GPA);
}

static uint64_t rd64(const struct guest_mem *gm, uint64_t gpa)
{
	uint64_t v = 0;

	assert_int_equal(gm_read(gm, gpa, &v, sizeof(v)), 0);
	return v;
}

static void test_boot_tables(void **state)
{
	struct guest_mem gm;
	uint8_t *ram = calloc(1, 1 * MIB);
	uint64_t pml4, pdpt;

	(void)state;
	assert_non_null(ram);
	memset(&gm, 0, sizeof(gm));
	memset(ram, 0xcc, 1 * MIB); /* the tables must not rely on zeroed RAM */
	assert_int_equal(gm_add_region(&gm, 0, 1 * MIB, ram), 0);
	assert_int_equal(x86_write_boot_tables(&gm), 0);

	/* GDT: null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data). */
	assert_int_equal(rd64(&gm, X86_GDT_GPA + 0), 0);
	assert_int_equal(rd64(&gm, X86_GDT_GPA + 8), 0);
	assert_int_equal(rd64(&gm, X86_GDT_GPA + 0x10), 0x00af9b000000ffffull);
	assert_int_equal(rd64(&gm, X86_GDT_GPA + 0x18), 0x00cf93000000ffffull);

	/* PML4[0] -> PDPT, PDPT[0..3] -> the four PDs, the rest empty. */
	pml4 = rd64(&gm, X86_PML4_GPA);
	assert_int_equal(pml4 & ~0xfffull, X86_PDPT_GPA);
	assert_int_equal(pml4 & 3, 3); /* present, writable */
	for (unsigned int i = 1; i < 512; i++)
		assert_int_equal(rd64(&gm, X86_PML4_GPA + 8 * i), 0);
	for (unsigned int i = 0; i < 512; i++) {
		pdpt = rd64(&gm, X86_PDPT_GPA + 8 * i);
		if (i < 4)
			assert_int_equal(pdpt, X86_PD_GPA + i * 4096ull + 3);
		else
			assert_int_equal(pdpt, 0);
	}
	/* Walk a few addresses through the tables: identity, 2 MiB pages. */
	{
		static const uint64_t probes[] = { 0, 0x100000, 0x7ffff000, 0xbfe00000,
						   X86_LAPIC_GPA, 0xffffffffull };

		for (unsigned int i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			uint64_t va = probes[i];
			uint64_t pdpte = rd64(&gm, X86_PDPT_GPA + 8 * (va >> 30));
			uint64_t pde = rd64(&gm, (pdpte & ~0xfffull) + 8 * ((va >> 21) & 511));

			assert_int_equal(pde & 0x83, 0x83); /* present, writable, 2 MiB */
			assert_int_equal((pde & ~0x1fffffull) | (va & 0x1fffff), va);
		}
	}
	free(ram);
}

static void test_boot_tables_need_ram(void **state)
{
	struct guest_mem gm;
	uint8_t *ram = calloc(1, 0x8000);

	(void)state;
	assert_non_null(ram);
	memset(&gm, 0, sizeof(gm));
	/* RAM ends below the page tables. */
	assert_int_equal(gm_add_region(&gm, 0, 0x8000, ram), 0);
	assert_int_equal(x86_write_boot_tables(&gm), -EFAULT);
	free(ram);
}

/* A CPUID table shaped like KVM_GET_SUPPORTED_CPUID's on an Intel host. */
struct cpuid_table {
	struct kvm_cpuid2 *c;
	unsigned int cap;
};

static void add_leaf(struct cpuid_table *t, uint32_t fn, uint32_t idx, uint32_t eax,
		     uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e;

	assert_true(t->c->nent < t->cap);
	e = &t->c->entries[t->c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c, uint32_t fn,
						uint32_t idx)
{
	const struct kvm_cpuid_entry2 *found = NULL;

	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function == fn && c->entries[i].index == idx) {
			assert_null(found); /* no duplicates */
			found = &c->entries[i];
		}
	}
	return found;
}

static void make_cpuid(struct cpuid_table *t, unsigned int cap, const char *vendor)
{
	uint32_t v[3];

	t->cap = cap;
	t->c = calloc(1, sizeof(*t->c) + cap * sizeof(t->c->entries[0]));
	assert_non_null(t->c);
	memcpy(v, vendor, 12);
	add_leaf(t, 0, 0, 0x1f, v[0], v[2], v[1]);
	/* Host values: APIC ID 0x22, 16 logical CPUs, HTT. */
	add_leaf(t, 1, 0, 0x906ea, 0x22100800, 0x7ffafbbf, 0xbfebfbff);
	add_leaf(t, 4, 0, 0x1c004121, 0x1c0003f, 0x3f, 0);	/* L1d */
	add_leaf(t, 4, 1, 0x1c004122, 0x1c0003f, 0x3f, 0);	/* L1i */
	add_leaf(t, 4, 2, 0x1c004143, 0x3c0003f, 0x3ff, 0);	/* L2 */
	add_leaf(t, 4, 3, 0x1c03c163, 0x3c0003f, 0x3fff, 6);	/* L3 */
	add_leaf(t, 4, 4, 0, 0, 0, 0);				/* end */
	add_leaf(t, 0xb, 0, 1, 2, 0x100, 0x22);
	add_leaf(t, 0xb, 1, 4, 16, 0x201, 0x22);
	add_leaf(t, 0x1f, 0, 1, 2, 0x100, 0x22);
	add_leaf(t, 0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	add_leaf(t, 0x80000008, 0, 0x3027, 0, 0, 0);
}

static void test_cpuid_patch_intel(void **state)
{
	struct cpuid_table t;
	const struct kvm_cpuid_entry2 *e;

	(void)state;
	make_cpuid(&t, 32, "GenuineIntel");
	assert_int_equal(x86_cpuid_patch(t.c, t.cap, 3, 6), 0);

	e = find_leaf(t.c, 1, 0);
	assert_non_null(e);
	assert_int_equal(e->ebx >> 24, 3);		/* initial APIC ID */
	assert_int_equal((e->ebx >> 16) & 0xff, 8);	/* 6 CPUs: 3 ID bits */
	assert_int_equal(e->ebx & 0xffff, 0x0800);	/* CLFLUSH etc. kept */
	assert_true(e->ecx & (1u << 31));		/* hypervisor */
	assert_true(e->edx & (1u << 28));		/* HTT: EBX[23:16] valid */

	/* Leaf 4: 8 addressable core IDs; L1/L2 per core, L3 shared. */
	e = find_leaf(t.c, 4, 0);
	assert_int_equal(e->eax >> 26, 7);
	assert_int_equal((e->eax >> 14) & 0xfff, 0);
	assert_int_equal(e->eax & 0x3fff, 0x0121);
	e = find_leaf(t.c, 4, 2);
	assert_int_equal((e->eax >> 14) & 0xfff, 0);
	e = find_leaf(t.c, 4, 3);
	assert_int_equal((e->eax >> 14) & 0xfff, 7);
	assert_int_equal(find_leaf(t.c, 4, 4)->eax, 0);

	/* Leaf 0xB: SMT level (1 thread), core level (6 CPUs, shift 3),
	 * terminator; x2APIC ID everywhere. */
	e = find_leaf(t.c, 0xb, 0);
	assert_non_null(e);
	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 1);
	assert_int_equal(e->ecx, 0x100);
	assert_int_equal(e->edx, 3);
	assert_true(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	e = find_leaf(t.c, 0xb, 1);
	assert_int_equal(e->eax, 3);
	assert_int_equal(e->ebx, 6);
	assert_int_equal(e->ecx, 0x201);
	assert_int_equal(e->edx, 3);
	e = find_leaf(t.c, 0xb, 2);
	assert_non_null(e);
	assert_int_equal(e->ebx, 0);
	assert_int_equal((e->ecx >> 8) & 0xff, 0);
	assert_int_equal(e->edx, 3);
	/* 0x1F mirrors 0xB. */
	e = find_leaf(t.c, 0x1f, 1);
	assert_non_null(e);
	assert_int_equal(e->ebx, 6);
	assert_int_equal(e->edx, 3);
	assert_non_null(find_leaf(t.c, 0x1f, 2));

	/* KVM's signature leaf passes through. */
	e = find_leaf(t.c, 0x40000000, 0);
	assert_non_null(e);
	assert_memory_equal(&e->ebx, "KVMK", 4);
	/* Intel: 0x80000008 ECX is reserved and left alone. */
	assert_int_equal(find_leaf(t.c, 0x80000008, 0)->ecx, 0);
	free(t.c);
}

static void test_cpuid_patch_single_cpu(void **state)
{
	struct cpuid_table t;
	const struct kvm_cpuid_entry2 *e;

	(void)state;
	make_cpuid(&t, 32, "GenuineIntel");
	assert_int_equal(x86_cpuid_patch(t.c, t.cap, 0, 1), 0);
	e = find_leaf(t.c, 1, 0);
	assert_int_equal(e->ebx >> 24, 0);
	assert_int_equal((e->ebx >> 16) & 0xff, 1);
	assert_false(e->edx & (1u << 28));
	assert_int_equal(find_leaf(t.c, 4, 3)->eax >> 14, 0); /* 1 core, nothing shared */
	assert_int_equal(find_leaf(t.c, 0xb, 1)->eax, 0);
	assert_int_equal(find_leaf(t.c, 0xb, 1)->ebx, 1);
	free(t.c);
}

static void test_cpuid_patch_amd(void **state)
{
	struct cpuid_table t;

	(void)state;
	make_cpuid(&t, 32, "AuthenticAMD");
	add_leaf(&t, 0x8000001e, 0, 0x22, 0x101, 0, 0);
	assert_int_equal(x86_cpuid_patch(t.c, t.cap, 5, 8), 0);
	/* NC = 7, ApicIdCoreIdSize = 3. */
	assert_int_equal(find_leaf(t.c, 0x80000008, 0)->ecx, 0x3007);
	assert_int_equal(find_leaf(t.c, 0x8000001e, 0)->eax, 5);
	assert_int_equal(find_leaf(t.c, 0x8000001e, 0)->ebx, 5);
	assert_int_equal(find_leaf(t.c, 1, 0)->ebx >> 24, 5);
	free(t.c);
}

static void test_cpuid_patch_errors(void **state)
{
	struct cpuid_table t;
	uint32_t nent;

	(void)state;
	make_cpuid(&t, 32, "GenuineIntel");
	nent = t.c->nent;
	/* 0xB and 0x1F grow from 3 to 6 entries: no room, nothing changed. */
	assert_int_equal(x86_cpuid_patch(t.c, nent + 2, 0, 2), -E2BIG);
	assert_int_equal(t.c->nent, nent);
	assert_int_equal(find_leaf(t.c, 1, 0)->ebx >> 24, 0x22);
	assert_int_equal(x86_cpuid_patch(t.c, t.cap, 2, 2), -EINVAL);
	assert_int_equal(x86_cpuid_patch(t.c, t.cap, 0, 0), -EINVAL);
	assert_int_equal(x86_cpuid_patch(NULL, t.cap, 0, 1), -EINVAL);
	free(t.c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_512mib),
		cmocka_unit_test(test_ram_exactly_3gib),
		cmocka_unit_test(test_ram_8gib),
		cmocka_unit_test(test_ram_bad_args),
		cmocka_unit_test(test_mmio_gsis),
		cmocka_unit_test(test_mmio_window),
		cmocka_unit_test(test_boot_tables),
		cmocka_unit_test(test_boot_tables_need_ram),
		cmocka_unit_test(test_cpuid_patch_intel),
		cmocka_unit_test(test_cpuid_patch_single_cpu),
		cmocka_unit_test(test_cpuid_patch_amd),
		cmocka_unit_test(test_cpuid_patch_errors),
	};

	return cmocka_run_group_tests_name("x86_layout", tests, NULL, NULL);
}
