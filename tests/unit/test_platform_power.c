/* The x86 legacy platform on a hand-made VM (no KVM): the ACPI power
 * registers request POWEROFF only for SLP_EN with the S5 type and REBOOT
 * only for the reset value; the i8042 reset line reboots; ports 0x61 and
 * 0x80 are claimed; garbage is ignored; destroy releases the ports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/vm.h"

struct fixture {
	struct avp_config cfg;
	struct vm vm;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.cfg.cpus = 1;
	f.cfg.serial.kind = AVP_CHR_NONE;
	f.vm.cfg = &f.cfg;
	f.vm.kvm_fd = f.vm.vm_fd = -1;
	f.vm.exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f.vm.exit_efd >= 0);
	assert_int_equal(arch_platform_devices_init(&f.vm), 0);
	assert_non_null(f.vm.platform);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	arch_platform_devices_destroy(&f->vm);
	assert_null(f->vm.platform);
	assert_int_equal(f->vm.pio.nranges, 0);
	close(f->vm.exit_efd);
	return 0;
}

static void outb(struct vm *vm, uint16_t port, uint8_t v)
{
	assert_true(io_bus_dispatch(&vm->pio, port, &v, 1, true));
}

static uint8_t inb(struct vm *vm, uint16_t port)
{
	uint8_t v = 0;

	assert_true(io_bus_dispatch(&vm->pio, port, &v, 1, false));
	return v;
}

static bool exit_signalled(struct vm *vm)
{
	struct pollfd p = { .fd = vm->exit_efd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void test_poweroff_only_for_s5(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = &f->vm;

	/* SLP_TYP = S5 without SLP_EN, every other sleep type with it, and
	 * assorted garbage: nothing. */
	outb(vm, X86_ACPI_SLEEP_CTL_PORT, X86_ACPI_S5_SLP_TYP << 2);
	for (unsigned int typ = 0; typ < 8; typ++)
		if (typ != X86_ACPI_S5_SLP_TYP)
			outb(vm, X86_ACPI_SLEEP_CTL_PORT, (uint8_t)(typ << 2 | 0x20));
	outb(vm, X86_ACPI_SLEEP_CTL_PORT, 0x00);
	outb(vm, X86_ACPI_SLEEP_CTL_PORT, 0xdf); /* everything but SLP_EN */
	for (unsigned int v = 0; v < 256; v++)
		outb(vm, X86_ACPI_SLEEP_STS_PORT, (uint8_t)v);
	assert_int_equal(atomic_load(&vm->exit_reason), VM_EXIT_NONE);
	assert_false(exit_signalled(vm));

	/* A sleep state we do not implement "wakes" at once: WAK_STS is set
	 * (so Linux's wait loop ends) and write-1-to-clear. */
	outb(vm, X86_ACPI_SLEEP_CTL_PORT, 3 << 2 | 0x20);
	assert_int_equal(inb(vm, X86_ACPI_SLEEP_STS_PORT), 0x80);
	outb(vm, X86_ACPI_SLEEP_STS_PORT, 0x80);
	assert_int_equal(inb(vm, X86_ACPI_SLEEP_STS_PORT), 0x00);

	/* acpi_hw_extended_sleep for S5: clear WAK_STS, then SLP_TYP | SLP_EN. */
	outb(vm, X86_ACPI_SLEEP_STS_PORT, 0x80);
	outb(vm, X86_ACPI_SLEEP_CTL_PORT, X86_ACPI_S5_SLP_TYP << 2 | 0x20);
	assert_int_equal(atomic_load(&vm->exit_reason), VM_EXIT_POWEROFF);
	assert_true(exit_signalled(vm));
}

static void test_s5_with_other_bits(void **state)
{
	struct fixture *f = *state;

	/* Reserved bits around the fields do not hide the request. */
	outb(&f->vm, X86_ACPI_SLEEP_CTL_PORT, 0xc0 | X86_ACPI_S5_SLP_TYP << 2 | 0x20 | 0x03);
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_POWEROFF);
}

static void test_reboot_only_for_reset_value(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = &f->vm;

	for (unsigned int v = 0; v < 256; v++)
		if (v != X86_ACPI_RESET_VALUE)
			outb(vm, X86_ACPI_RESET_PORT, (uint8_t)v);
	(void)inb(vm, X86_ACPI_RESET_PORT);
	assert_int_equal(atomic_load(&vm->exit_reason), VM_EXIT_NONE);
	outb(vm, X86_ACPI_RESET_PORT, X86_ACPI_RESET_VALUE);
	assert_int_equal(atomic_load(&vm->exit_reason), VM_EXIT_REBOOT);
	assert_true(exit_signalled(vm));
}

static void test_wide_access(void **state)
{
	struct fixture *f = *state;
	uint16_t w = (uint16_t)(X86_ACPI_RESET_VALUE << 8 | 0x00);

	/* outw 0x601: the second byte lands on the reset register. */
	assert_true(io_bus_dispatch(&f->vm.pio, X86_ACPI_SLEEP_STS_PORT, &w, 2, true));
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_REBOOT);
}

static void test_keyboard_reset(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(&f->vm, X86_I8042_CMD_PORT) & 0x02, 0);
	outb(&f->vm, X86_I8042_CMD_PORT, 0xfe);
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_REBOOT);
}

static void test_legacy_ports(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = &f->vm;
	uint8_t a, b;

	/* Port 0x61: the refresh bit toggles, the gate bits stick. */
	outb(vm, 0x61, 0x03);
	a = inb(vm, 0x61);
	b = inb(vm, 0x61);
	assert_int_equal(a & 0x0f, 0x03);
	assert_int_equal((a ^ b) & 0x10, 0x10);
	/* POST codes are swallowed. */
	outb(vm, 0x80, 0x55);
	/* COM1 answers like a 16550 and the RTC says its time is valid. */
	assert_int_equal(inb(vm, X86_COM1_PORT + 5) & 0x60, 0x60);
	outb(vm, X86_RTC_PORT, 0x0d);
	assert_int_equal(inb(vm, X86_RTC_PORT + 1), 0x80);
	/* An unclaimed COM2 floats high, so the 8250 probe finds nothing. */
	{
		uint8_t v = 0;

		assert_false(io_bus_dispatch(&vm->pio, 0x2f8 + 5, &v, 1, false));
		assert_int_equal(v, 0xff);
	}
	assert_int_equal(atomic_load(&vm->exit_reason), VM_EXIT_NONE);
}

static void test_init_failure_releases_ports(void **state)
{
	struct fixture *f = *state;
	struct vm vm;

	memset(&vm, 0, sizeof(vm));
	vm.cfg = &f->cfg;
	vm.vm_fd = -1;
	vm.exit_efd = -1;
	/* Someone else owns the RTC ports: init fails and leaves only that
	 * range behind. */
	assert_int_equal(io_bus_register(&vm.pio, X86_RTC_PORT, 2, f->vm.pio.ranges[0].fn,
					 NULL, "other"),
			 0);
	assert_int_equal(arch_platform_devices_init(&vm), -EEXIST);
	assert_null(vm.platform);
	assert_int_equal(vm.pio.nranges, 1);
	assert_string_equal(vm.pio.ranges[0].name, "other");
	/* Twice on the same VM is refused. */
	assert_int_equal(arch_platform_devices_init(&f->vm), -EEXIST);
	arch_platform_devices_destroy(&vm); /* harmless when nothing is there */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_poweroff_only_for_s5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s5_with_other_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reboot_only_for_reset_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_failure_releases_ports, setup, teardown),
	};

	return cmocka_run_group_tests_name("platform_power", tests, NULL, NULL);
}
