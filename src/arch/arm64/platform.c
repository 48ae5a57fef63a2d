/* The arm64 guest's legacy devices and their wiring to the VM: the PL011
 * UART (the console), the PL031 RTC, the SP805 watchdog (with --watchdog)
 * and the PL061 GPIO carrying the power button, each a PrimeCell window
 * on the MMIO bus at layout.h's address with its SPI.
 *
 * The device models know nothing about the VM; the callbacks here turn
 * their interrupt lines into vm_irq_line() on their SPIs (level-sensitive
 * in the device tree, boot.c), the SP805's reset output into the
 * --watchdog action, and the control socket's shutdown into a press of
 * the power button. */
#include <errno.h>
#include <stdlib.h>

#include "arch/arm64/arm64.h"
#include "arch/legacy_wiring.h"
#include "avp/arch.h"
#include "avp/chardev.h"
#include "avp/hw/pl011.h"
#include "avp/hw/pl031.h"
#include "avp/hw/pl061.h"
#include "avp/hw/sp805.h"
#include "avp/hw/watchdog.h"
#include "avp/vm.h"

struct arm64_platform {
	struct legacy_wiring w; /* first: the shared callbacks' opaque */
	struct chardev *uart_chr;
	struct pl011 *uart;
	struct pl031 *rtc;
	struct sp805 *wdt; /* --watchdog only */
	struct pl061 *gpio;
};

static void uart_set_irq(void *opaque, int level)
{
	legacy_set_line(opaque, ARM64_PL011_SPI, level);
}

static void rtc_set_irq(void *opaque, int level)
{
	legacy_set_line(opaque, ARM64_PL031_SPI, level);
}

static void wdt_set_irq(void *opaque, int level)
{
	legacy_set_line(opaque, ARM64_SP805_SPI, level);
}

static void gpio_set_irq(void *opaque, int level)
{
	legacy_set_line(opaque, ARM64_PL061_SPI, level);
}

static int register_windows(struct vm *vm, struct arm64_platform *p)
{
	const struct legacy_window r[] = {
		{ ARM64_PL011_BASE, PL011_MMIO_SIZE, pl011_io, p->uart, "pl011" },
		{ ARM64_PL031_BASE, PL031_MMIO_SIZE, pl031_io, p->rtc, "pl031" },
		{ ARM64_SP805_BASE, SP805_MMIO_SIZE, sp805_io, p->wdt, "sp805" },
		{ ARM64_PL061_BASE, PL061_MMIO_SIZE, pl061_io, p->gpio, "pl061" },
	};

	return legacy_claim(&vm->mmio, r, sizeof(r) / sizeof(r[0]), "MMIO");
}

int arch_platform_devices_init(struct vm *vm)
{
	struct arm64_platform *p;
	int ret;

	p = legacy_platform_new(vm, sizeof(*p), "SPI", &ret);
	if (!p)
		return ret;

	ret = legacy_open_serial(vm, &p->uart_chr);
	if (!ret)
		ret = pl011_create(&p->uart, p->uart_chr,
				   &(struct pl011_ops){ .set_irq = uart_set_irq,
							.output = legacy_uart_output,
							.thread_start = legacy_uart_thread_start,
							.opaque = p });
	if (!ret)
		ret = pl031_create(&p->rtc, &(struct pl031_ops){ .set_irq = rtc_set_irq,
								 .thread_start = legacy_timer_thread_start,
								 .opaque = p });
	/* The SP805's reset output runs the --watchdog action. */
	if (!ret && legacy_watchdog_cfg(vm))
		ret = sp805_create(&p->wdt, SP805_DEFAULT_HZ,
				   &(struct sp805_ops){ .set_irq = wdt_set_irq, .opaque = p },
				   &(struct watchdog_ops){ .expired = legacy_watchdog_expired,
							  .thread_start = legacy_timer_thread_start,
							  .opaque = p });
	if (!ret)
		ret = pl061_create(&p->gpio, &(struct pl061_ops){ .set_irq = gpio_set_irq,
								  .buttons = true,
								  .thread_start = legacy_timer_thread_start,
								  .opaque = p });
	if (!ret)
		ret = register_windows(vm, p);
	if (ret)
		arch_platform_devices_destroy(vm);
	return ret;
}

void arch_platform_devices_destroy(struct vm *vm)
{
	struct arm64_platform *p;

	if (!vm || !vm->platform)
		return;
	p = vm->platform;
	legacy_forget(&vm->mmio,
		      (const void *const[]){ p->uart, p->rtc, p->wdt, p->gpio }, 4);
	/* The UART's threads use the chardev: stop them first. */
	pl011_destroy(p->uart);
	chardev_close(p->uart_chr);
	pl031_destroy(p->rtc);
	sp805_destroy(p->wdt); /* joins its thread: no expiry after this */
	pl061_destroy(p->gpio);
	free(p);
	vm->platform = NULL;
}

/* The gpio-keys button on the PL061 (fdt.c): held PL061_PRESS_MS, longer
 * than gpio-keys' debounce, released by the device's thread. */
int arch_power_button(struct vm *vm)
{
	struct arm64_platform *p;

	if (!vm || vm->vm_fd < 0 || !vm->platform)
		return -ENODEV;
	p = vm->platform;
	return pl061_press(p->gpio, PL061_POWER_LINE);
}
