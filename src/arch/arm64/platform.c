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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/arm64.h"
#include "avp/arch.h"
#include "avp/chardev.h"
#include "avp/hw/pl011.h"
#include "avp/hw/pl031.h"
#include "avp/hw/pl061.h"
#include "avp/hw/sp805.h"
#include "avp/hw/watchdog.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/vm.h"

struct arm64_platform {
	struct vm *vm;
	struct chardev *uart_chr;
	struct pl011 *uart;
	struct pl031 *rtc;
	struct sp805 *wdt; /* --watchdog only */
	struct pl061 *gpio;
	atomic_bool irq_warned;
};

static void set_spi(struct arm64_platform *p, uint32_t spi, int level)
{
	int ret = vm_irq_line(p->vm, spi, level);

	/* -ENODEV: no VM fd (unit tests); anything else is worth one
	 * warning, not one per interrupt. */
	if (ret && ret != -ENODEV && !atomic_exchange(&p->irq_warned, true))
		avp_warn("platform: cannot drive SPI %u: %s", spi, strerror(-ret));
}

static void uart_set_irq(void *opaque, int level)
{
	set_spi(opaque, ARM64_PL011_SPI, level);
}

static void rtc_set_irq(void *opaque, int level)
{
	set_spi(opaque, ARM64_PL031_SPI, level);
}

static void wdt_set_irq(void *opaque, int level)
{
	set_spi(opaque, ARM64_SP805_SPI, level);
}

static void gpio_set_irq(void *opaque, int level)
{
	set_spi(opaque, ARM64_PL061_SPI, level);
}

static void uart_output(void *opaque)
{
	struct arm64_platform *p = opaque;

	vm_note_console_output(p->vm);
}

/* Device threads are confined before the guest can reach them
 * (docs/security.md); a VM without KVM (unit tests) runs no guest. */
static int confine(struct arm64_platform *p, enum avp_thread_role role)
{
	int ret;

	if (p->vm->vm_fd < 0)
		return 0;
	ret = avp_seccomp_apply(role, p->vm->cfg);
	if (ret)
		vm_request_exit(p->vm, VM_EXIT_HOST_ERROR);
	return ret;
}

static int uart_thread_start(void *opaque)
{
	return confine(opaque, AVP_THREAD_UART_READER);
}

/* The RTC's, the watchdog's and the button's timer threads: each only
 * sleeps and moves an interrupt line. */
static int timer_thread_start(void *opaque)
{
	return confine(opaque, AVP_THREAD_WATCHDOG);
}

/* AVP-WDT-1: the SP805 asserted its reset output. Reported here; main()
 * ends avp with status 6 or boots the VM again. */
static void wdt_expired(void *opaque, uint32_t count)
{
	struct arm64_platform *p = opaque;
	const struct avp_watchdog_cfg *w =
		p->vm->cfg ? avp_config_device(p->vm->cfg, &watchdog_config, 0) : NULL;
	bool reset = w && w->action == AVP_WATCHDOG_RESET;
	uint32_t ds = count * WATCHDOG_PERIOD_MS / 100;

	avp_warn("watchdog expired: the guest did not refresh it for %u.%u s; %s", ds / 10,
		 ds % 10, reset ? "resetting the VM" : "ending the VM");
	vm_request_exit(p->vm, VM_EXIT_WATCHDOG);
}

/* Drops the ranges whose handler state is ours, so that nothing can call
 * into freed devices; the io_bus has no unregister of its own. */
static void mmio_forget(struct vm *vm, const struct arm64_platform *p)
{
	struct io_bus *bus = &vm->mmio;
	unsigned int n = 0;

	for (unsigned int i = 0; i < bus->nranges; i++) {
		const void *o = bus->ranges[i].opaque;

		if (o && (o == (void *)p->uart || o == (void *)p->rtc || o == (void *)p->wdt ||
			  o == (void *)p->gpio))
			continue;
		bus->ranges[n++] = bus->ranges[i];
	}
	bus->nranges = n;
}

static int register_windows(struct vm *vm, struct arm64_platform *p)
{
	const struct {
		uint64_t base, len;
		io_handler_fn fn;
		void *opaque;
		const char *name;
	} r[] = {
		{ ARM64_PL011_BASE, PL011_MMIO_SIZE, pl011_io, p->uart, "pl011" },
		{ ARM64_PL031_BASE, PL031_MMIO_SIZE, pl031_io, p->rtc, "pl031" },
		{ ARM64_SP805_BASE, SP805_MMIO_SIZE, sp805_io, p->wdt, "sp805" },
		{ ARM64_PL061_BASE, PL061_MMIO_SIZE, pl061_io, p->gpio, "pl061" },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		int ret;

		if (!r[i].opaque) /* a device this VM does not have */
			continue;
		ret = io_bus_register(&vm->mmio, r[i].base, r[i].len, r[i].fn, r[i].opaque,
				      r[i].name);
		if (ret) {
			avp_err("cannot claim MMIO 0x%llx-0x%llx for %s: %s",
				(unsigned long long)r[i].base,
				(unsigned long long)(r[i].base + r[i].len - 1), r[i].name,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int arch_platform_devices_init(struct vm *vm)
{
	static const struct avp_chardev_cfg no_serial = { .kind = AVP_CHR_NONE };
	const struct avp_chardev_cfg *serial_cfg;
	const struct avp_watchdog_cfg *wdt;
	struct arm64_platform *p;
	int ret;

	if (!vm)
		return -EINVAL;
	if (vm->platform)
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vm = vm;
	vm->platform = p;

	serial_cfg = vm->cfg ? &vm->cfg->serial : &no_serial;
	/* With --console stdio the keyboard belongs to hvc0; the UART only
	 * prints (as on x86). */
	ret = chardev_open_named(&p->uart_chr, serial_cfg,
				 serial_cfg->kind == AVP_CHR_STDIO &&
					 (!vm->cfg || !avp_config_stdio_device(vm->cfg)),
				 "serial", vm->vm_fd >= 0 ? vm->cfg : NULL);
	if (!ret)
		ret = pl011_create(&p->uart, p->uart_chr,
				   &(struct pl011_ops){ .set_irq = uart_set_irq,
							.output = uart_output,
							.thread_start = uart_thread_start,
							.opaque = p });
	if (!ret)
		ret = pl031_create(&p->rtc, &(struct pl031_ops){ .set_irq = rtc_set_irq,
								 .thread_start = timer_thread_start,
								 .opaque = p });
	wdt = vm->cfg ? avp_config_device(vm->cfg, &watchdog_config, 0) : NULL;
	if (!ret && wdt)
		ret = sp805_create(&p->wdt, SP805_DEFAULT_HZ,
				   &(struct sp805_ops){ .set_irq = wdt_set_irq, .opaque = p },
				   &(struct watchdog_ops){ .expired = wdt_expired,
							  .thread_start = timer_thread_start,
							  .opaque = p });
	if (!ret)
		ret = pl061_create(&p->gpio, &(struct pl061_ops){ .set_irq = gpio_set_irq,
								  .buttons = true,
								  .thread_start = timer_thread_start,
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
	mmio_forget(vm, p);
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
