/* The MP spec 1.4 table (src/arch/x86/mptable.c), read back the way
 * Linux's mpparse.c reads it: the floating pointer's checks, then the
 * configuration table entry by entry by type and length, which must use
 * up exactly the table's declared length. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86.h"
#include "avp/le.h"
#include "avp/vm.h"

#define AREA 0x400u

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

struct parsed {
	unsigned int cpus, bsp_flags, buses, ioapics, lints;
	int pin_of_irq[16]; /* -1: no entry */
	uint8_t apic_ids[64];
	uint32_t ioapic_addr;
	uint8_t lint_type[2];
};

/* Checks the pointer and the table as Linux does; fills P. */
static void parse(const uint8_t *area, uint32_t area_gpa, struct parsed *p)
{
	const uint8_t *mpf = area, *mpc, *e, *end;
	uint16_t len, count;

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 16; i++)
		p->pin_of_irq[i] = -1;
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(sum8(mpf, 16), 0);
	assert_int_equal(mpf[11], 0); /* a configuration table follows */
	assert_int_equal(get_le32(mpf + 4), area_gpa + 16);

	mpc = area + (get_le32(mpf + 4) - area_gpa);
	assert_memory_equal(mpc, "PCMP", 4);
	len = get_le16(mpc + 4);
	assert_true(16u + len <= AREA);
	assert_int_equal(mpc[6], 4);
	assert_int_equal(sum8(mpc, len), 0);
	assert_int_equal(get_le32(mpc + 36), X86_LAPIC_GPA);
	count = get_le16(mpc + 34);

	e = mpc + 44;
	end = mpc + len;
	for (unsigned int n = 0; n < count; n++) {
		assert_true(e < end);
		switch (e[0]) {
		case 0:
			assert_true(e[3] & 1);
			p->apic_ids[p->cpus++] = e[1];
			if (e[3] & 2)
				p->bsp_flags |= 1u << (p->cpus - 1);
			e += 20;
			break;
		case 1:
			assert_memory_equal(e + 2, "ISA   ", 6);
			p->buses++;
			e += 8;
			break;
		case 2:
			assert_true(e[3] & 1);
			p->ioapic_addr = get_le32(e + 4);
			p->ioapics++;
			e += 8;
			break;
		case 3:
			assert_int_equal(e[1], 0); /* a vectored interrupt */
			assert_int_equal(e[4], 0); /* from the ISA bus */
			assert_true(e[5] < 16);
			assert_int_equal(p->pin_of_irq[e[5]], -1);
			p->pin_of_irq[e[5]] = e[7];
			e += 8;
			break;
		case 4:
			assert_int_equal(e[6], 0xff);
			assert_true(e[7] < 2);
			p->lint_type[e[7]] = e[1];
			p->lints++;
			e += 8;
			break;
		default:
			fail_msg("unknown entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
}

static void test_two_cpus(void **state)
{
	uint8_t area[AREA];
	struct parsed p;

	(void)state;
	memset(area, 0xa5, sizeof(area));
	assert_int_equal(x86_mptable_build(area, sizeof(area), 2, X86_EBDA_GPA), 0);
	parse(area, X86_EBDA_GPA, &p);
	assert_int_equal(p.cpus, 2);
	assert_int_equal(p.apic_ids[0], 0);
	assert_int_equal(p.apic_ids[1], 1);
	assert_int_equal(p.bsp_flags, 1); /* vCPU 0 only */
	assert_int_equal(p.buses, 1);
	assert_int_equal(p.ioapics, 1);
	assert_int_equal(p.ioapic_addr, X86_IOAPIC_GPA);
	/* The timer on pin 2, as the MADT's override says; no IRQ 2. */
	assert_int_equal(p.pin_of_irq[0], 2);
	assert_int_equal(p.pin_of_irq[2], -1);
	for (int irq = 1; irq < 16; irq++)
		if (irq != 2)
			assert_int_equal(p.pin_of_irq[irq], irq);
	assert_int_equal(p.pin_of_irq[X86_COM1_GSI], X86_COM1_GSI);
	assert_int_equal(p.lints, 2);
	assert_int_equal(p.lint_type[0], 3); /* ExtINT on LINT0 */
	assert_int_equal(p.lint_type[1], 1); /* NMI on LINT1 */
	/* Nothing stale after the table. */
	for (size_t i = 16 + get_le16(area + 16 + 4); i < sizeof(area); i++)
		assert_int_equal(area[i], 0);
}

static void test_most_cpus_that_fit(void **state)
{
	uint8_t area[AREA];
	struct parsed p;
	unsigned int max = x86_mptable_max_cpus();

	(void)state;
	assert_true(max >= 32);
	assert_true(max < 64);
	assert_int_equal(x86_mptable_build(area, sizeof(area), max, X86_EBDA_GPA), 0);
	parse(area, X86_EBDA_GPA, &p);
	assert_int_equal(p.cpus, max);
	assert_int_equal(p.apic_ids[max - 1], max - 1);
	assert_int_equal(x86_mptable_build(area, sizeof(area), max + 1, X86_EBDA_GPA), -EINVAL);
	assert_int_equal(x86_mptable_build(area, sizeof(area), 0, X86_EBDA_GPA), -EINVAL);
	assert_int_equal(x86_mptable_build(NULL, sizeof(area), 1, X86_EBDA_GPA), -EINVAL);
}

/* Through the VM's guest memory: the table lands at the EBDA; with more
 * vCPUs than fit, the EBDA is cleared so no stale table is found. */
static void test_write_into_guest(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	uint8_t *ram = malloc(1u << 20);
	struct parsed p;

	(void)state;
	assert_non_null(vm);
	assert_non_null(ram);
	memset(ram, 0xa5, 1u << 20);
	assert_int_equal(gm_add_region(&vm->mem, 0, 1u << 20, ram), 0);
	vm->ncpus = 4;
	assert_int_equal(x86_mptable_write(vm), 0);
	parse(ram + X86_EBDA_GPA, X86_EBDA_GPA, &p);
	assert_int_equal(p.cpus, 4);

	vm->ncpus = x86_mptable_max_cpus() + 1;
	assert_int_equal(x86_mptable_write(vm), 0);
	for (uint32_t i = 0; i < AREA; i++)
		assert_int_equal(ram[X86_EBDA_GPA + i], 0);
	free(ram);
	free(vm);
}

static void test_no_ram_at_the_ebda(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	uint8_t *ram = malloc(0x1000);

	(void)state;
	assert_non_null(vm);
	assert_non_null(ram);
	assert_int_equal(gm_add_region(&vm->mem, 0, 0x1000, ram), 0);
	vm->ncpus = 1;
	assert_true(x86_mptable_write(vm) < 0);
	free(ram);
	free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_cpus),
		cmocka_unit_test(test_most_cpus_that_fit),
		cmocka_unit_test(test_write_into_guest),
		cmocka_unit_test(test_no_ram_at_the_ebda),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
