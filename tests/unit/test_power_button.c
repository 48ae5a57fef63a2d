/* The ACPI power button (src/arch/x86/power_button.c): a VM with platform
 * devices gets \_SB.PWRB (PNP0C0C) and \_SB.GED0 (ACPI0013) whose _EVT
 * notifies the button; the bytes are checked here, and iasl (when
 * installed) must decompile them to the intended ASL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/aml.h"
#include "arch/x86/power_button.h"
#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/vm.h"

#define RAM_SIZE (1u << 20)

struct fixture {
	struct vm vm;
	uint8_t *ram;
	int platform_token;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	assert_int_equal(gm_add_region(&f->vm.mem, 0, RAM_SIZE, f->ram), 0);
	f->vm.ncpus = 1;
	f->vm.vm_fd = f->vm.kvm_fd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

/* The DSDT's AML (after its header). */
static const uint8_t *dsdt(struct fixture *f, size_t *len)
{
	uint64_t rsdp = 0, xsdt, fadt, d;
	const uint8_t *t;

	assert_int_equal(x86_acpi_build(&f->vm, &rsdp), 0);
	xsdt = le64(f->ram + rsdp + 24);
	fadt = le64(f->ram + xsdt + 36);
	assert_memory_equal(f->ram + fadt, "FACP", 4);
	d = le64(f->ram + fadt + 140);
	t = f->ram + d;
	assert_memory_equal(t, "DSDT", 4);
	*len = le32(t + 4) - 36;
	return t + 36;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

static void test_absent_without_platform(void **state)
{
	struct fixture *f = *state;
	size_t len;
	const uint8_t *aml = dsdt(f, &len);

	assert_null(find(aml, len, "ACPI0013", 8));
	assert_null(find(aml, len, "PWRB", 4));
}

static void test_ged_and_button(void **state)
{
	struct fixture *f = *state;
	size_t len;
	const uint8_t *aml, *p;
	/* Method (_EVT, 1) { Notify (\_SB.PWRB, 0x80) }: MethodOp, PkgLength,
	 * "_EVT", flags 1, NotifyOp, \ DualNamePrefix _SB_ PWRB, BytePrefix 0x80 */
	static const uint8_t evt[] = { 0x14, 0x13, '_', 'E', 'V', 'T', 0x01, 0x86, '\\', 0x2e,
				       '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', 0x0a, 0x80 };
	/* Extended Interrupt: consumer, edge, active high, one GSI (13) */
	static const uint8_t irq[] = { 0x89, 0x06, 0x00, 0x03, 0x01, X86_GED_GSI, 0, 0, 0 };
	/* EisaId("PNP0C0C") */
	static const uint8_t pnp0c0c[] = { 0x0c, 0x41, 0xd0, 0x0c, 0x0c };

	f->vm.platform = &f->platform_token;
	aml = dsdt(f, &len);
	p = find(aml, len, "PWRB", 4);
	assert_non_null(p);
	assert_non_null(find(p, len - (size_t)(p - aml), pnp0c0c, sizeof(pnp0c0c)));
	p = find(aml, len, "GED0", 4);
	assert_non_null(p);
	assert_non_null(find(p, len - (size_t)(p - aml), "ACPI0013", 9)); /* with its NUL */
	assert_non_null(find(p, len - (size_t)(p - aml), irq, sizeof(irq)));
	assert_non_null(find(p, len - (size_t)(p - aml), evt, sizeof(evt)));
}

/* iasl decompiles the DSDT back to the ASL in power_button.c. */
static void test_iasl(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/avp-pwrb.XXXXXX", cmd[512];
	size_t len;
	const uint8_t *aml;
	FILE *out;

	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		print_message("iasl not installed (Debian: acpica-tools): skipped\n");
		skip();
	}
	f->vm.platform = &f->platform_token;
	aml = dsdt(f, &len);
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/dsdt.aml", dir);
	out = fopen(cmd, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(aml - 36, 1, len + 36, out), len + 36);
	fclose(out);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d dsdt.aml >iasl.log 2>&1 && "
		 "grep -q 'Name (_HID, \"ACPI0013\"' dsdt.dsl && "
		 "grep -q 'Name (_HID, EisaId (\"PNP0C0C\")' dsdt.dsl && "
		 "grep -q 'Method (_EVT, 1, NotSerialized)' dsdt.dsl && "
		 "grep -q 'Notify (\\\\_SB.PWRB, 0x80)' dsdt.dsl && "
		 "grep -Eq 'Interrupt \\(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \\)' dsdt.dsl && "
		 "grep -A2 'Interrupt (' dsdt.dsl | grep -q '0x0000000D'",
		 dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/iasl.log %s/dsdt.dsl >&2", dir, dir);
		if (system(cmd))
			print_message("(could not show iasl's output)\n");
		fail_msg("iasl's decompilation lacks the power button");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		print_message("could not remove %s\n", dir);
}

static void test_press_needs_kvm(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(arch_power_button(&f->vm), -ENODEV);
	assert_int_equal(arch_power_button(NULL), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_absent_without_platform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ged_and_button, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iasl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_press_needs_kvm, setup, teardown),
	};

	return cmocka_run_group_tests_name("power_button", tests, NULL, NULL);
}
