/* The PC legacy devices of the x86 guest and their wiring to the VM: the
 * 16550 at COM1, the CMOS RTC, the i8042, the ACPI hardware-reduced power
 * registers the FADT points at, and two ports guests poke without asking
 * (0x80 POST codes, 0x61 system control port B).
 *
 * The device models know nothing about the VM; the callbacks here turn
 * their interrupt lines into vm_irq_line() on the ISA GSIs (identity
 * mapped on the I/O APIC, DSDT IRQNoFlags = edge, active high) and their
 * reset/power requests into vm_request_exit(). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/chardev.h"
#include "avp/hw/i8042.h"
#include "avp/hw/rtc_cmos.h"
#include "avp/hw/serial_16550.h"
#include "avp/hw/watchdog.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/vm.h"

#define POST_PORT 0x80
#define PORT_B 0x61

#define ISA_IRQ_KBD 1
#define ISA_IRQ_MOUSE 12

/* Sleep control/status register bits (ACPI 6.4, sections 4.8.3.7-8). */
#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK 0x07
#define SLP_EN 0x20
#define WAK_STS 0x80

#define ACPI_PM_NPORTS (X86_ACPI_RESET_PORT - X86_ACPI_SLEEP_CTL_PORT + 1)

_Static_assert(X86_ACPI_SLEEP_STS_PORT == X86_ACPI_SLEEP_CTL_PORT + 1 &&
		       X86_ACPI_RESET_PORT == X86_ACPI_SLEEP_CTL_PORT + 2,
	       "the power registers are one contiguous range");
_Static_assert(X86_ACPI_S5_SLP_TYP <= SLP_TYP_MASK, "SLP_TYP is 3 bits");

struct x86_platform {
	struct vm *vm;
	struct chardev *uart_chr;
	struct serial16550 *uart;
	struct rtc_cmos *rtc;
	struct i8042 *kbc;
	struct watchdog *wdt; /* --watchdog only */
	atomic_uint sleep_sts;	 /* WAK_STS latch */
	atomic_uint port_b;	 /* writable bits 0-3 of port 0x61 */
	atomic_uint port_b_reads; /* drives the toggling bits */
	atomic_bool irq_warned;
};

static void set_gsi(struct x86_platform *p, uint32_t gsi, int level)
{
	int ret = vm_irq_line(p->vm, gsi, level);

	/* -ENODEV: no VM fd (unit tests, --describe); anything else is worth
	 * one warning, not one per interrupt. */
	if (ret && ret != -ENODEV && !atomic_exchange(&p->irq_warned, true))
		avp_warn("platform: cannot drive GSI %u: %s", gsi, strerror(-ret));
}

static void uart_set_irq(void *opaque, int level)
{
	set_gsi(opaque, X86_COM1_GSI, level);
}

static void uart_output(void *opaque)
{
	struct x86_platform *p = opaque;

	vm_note_console_output(p->vm);
}

/* The UART's input thread is confined before it reads host input
 * (docs/security.md); a VM without KVM (unit tests) runs no guest. */
static int uart_reader_start(void *opaque)
{
	struct x86_platform *p = opaque;
	int ret;

	if (p->vm->vm_fd < 0)
		return 0;
	ret = avp_seccomp_apply(AVP_THREAD_UART_READER, p->vm->cfg);
	if (ret)
		vm_request_exit(p->vm, VM_EXIT_HOST_ERROR);
	return ret;
}

static void kbc_set_irq(void *opaque, enum i8042_port port, int level)
{
	set_gsi(opaque, port == I8042_PORT_KBD ? ISA_IRQ_KBD : ISA_IRQ_MOUSE, level);
}

/* AVP-WDT-1: the guest stopped refreshing its watchdog. Reported here;
 * main() ends avp with status 6 or boots the VM again. */
static void wdt_expired(void *opaque, uint32_t count)
{
	struct x86_platform *p = opaque;
	const struct avp_watchdog_cfg *w =
		p->vm->cfg ? avp_config_device(p->vm->cfg, &watchdog_config, 0) : NULL;
	bool reset = w && w->action == AVP_WATCHDOG_RESET;
	uint32_t ds = count * WATCHDOG_PERIOD_MS / 100;

	avp_warn("watchdog expired: the guest did not refresh it for %u.%u s; %s", ds / 10,
		 ds % 10, reset ? "resetting the VM" : "ending the VM");
	vm_request_exit(p->vm, VM_EXIT_WATCHDOG);
}

/* Like the UART reader: confined before the guest can program it. */
static int wdt_thread_start(void *opaque)
{
	struct x86_platform *p = opaque;
	int ret;

	if (p->vm->vm_fd < 0)
		return 0;
	ret = avp_seccomp_apply(AVP_THREAD_WATCHDOG, p->vm->cfg);
	if (ret)
		vm_request_exit(p->vm, VM_EXIT_HOST_ERROR);
	return ret;
}

static void kbc_reset(void *opaque)
{
	struct x86_platform *p = opaque;

	avp_debug("guest pulsed the keyboard controller's reset line");
	vm_request_exit(p->vm, VM_EXIT_REBOOT);
}

/* Linux (acpi_hw_extended_sleep) clears WAK_STS in the status register,
 * writes SLP_TYP << 2 | SLP_EN to the control register and, for states it
 * returns from, polls WAK_STS. Only S5 is declared in the DSDT; another
 * sleep type "wakes" at once so such a guest does not spin forever. */
static void sleep_ctl_write(struct x86_platform *p, uint8_t v)
{
	unsigned int typ = (v >> SLP_TYP_SHIFT) & SLP_TYP_MASK;

	if (!(v & SLP_EN))
		return;
	if (typ == X86_ACPI_S5_SLP_TYP) {
		avp_debug("guest entered S5 (soft off)");
		vm_request_exit(p->vm, VM_EXIT_POWEROFF);
		return;
	}
	atomic_store(&p->sleep_sts, WAK_STS);
}

static void acpi_pm_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct x86_platform *p = opaque;
	uint8_t *b = data;

	for (uint32_t i = 0; i < len; i++) {
		uint64_t reg = offset + i + X86_ACPI_SLEEP_CTL_PORT;

		if (!is_write) {
			b[i] = reg == X86_ACPI_SLEEP_STS_PORT ? (uint8_t)atomic_load(&p->sleep_sts) : 0;
			continue;
		}
		if (reg == X86_ACPI_SLEEP_CTL_PORT) {
			sleep_ctl_write(p, b[i]);
		} else if (reg == X86_ACPI_SLEEP_STS_PORT) {
			if (b[i] & WAK_STS) /* write 1 to clear */
				atomic_store(&p->sleep_sts, 0);
		} else if (reg == X86_ACPI_RESET_PORT && b[i] == X86_ACPI_RESET_VALUE) {
			/* acpi_reboot() via the FADT RESET_REG. */
			avp_debug("guest wrote the ACPI reset register");
			vm_request_exit(p->vm, VM_EXIT_REBOOT);
		}
	}
}

/* Port 0x61: bit 4 is the DRAM refresh toggle and bit 5 PIT channel 2's
 * output. The PIT is in KVM, out of sight, so both toggle on every read:
 * any loop waiting for either to change, or to reach a level, ends. */
static void port_b_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct x86_platform *p = opaque;
	uint8_t *b = data;

	(void)offset;
	if (len == 0)
		return;
	if (is_write) {
		atomic_store(&p->port_b, b[0] & 0x0fu);
		return;
	}
	memset(data, 0, len);
	b[0] = (uint8_t)(atomic_load(&p->port_b) |
			 ((atomic_fetch_add(&p->port_b_reads, 1) & 1) ? 0x30 : 0));
}

/* POST diagnostic codes (and the classic I/O delay port): ignored. */
static void post_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0xff, len);
}

/* Drops the ranges whose handler state is ours, so that nothing can call
 * into freed devices; the io_bus has no unregister of its own. */
static void pio_forget(struct vm *vm, const struct x86_platform *p)
{
	struct io_bus *bus = &vm->pio;
	unsigned int n = 0;

	for (unsigned int i = 0; i < bus->nranges; i++) {
		const void *o = bus->ranges[i].opaque;

		if (o == p || (o && (o == (void *)p->uart || o == (void *)p->rtc ||
				     o == (void *)p->kbc || o == (void *)p->wdt)))
			continue;
		bus->ranges[n++] = bus->ranges[i];
	}
	bus->nranges = n;
}

static int register_ports(struct vm *vm, struct x86_platform *p)
{
	const struct {
		uint64_t base, len;
		io_handler_fn fn;
		void *opaque;
		const char *name;
	} r[] = {
		{ X86_COM1_PORT, SERIAL16550_NPORTS, serial16550_io, p->uart, "com1" },
		{ X86_RTC_PORT, RTC_CMOS_NPORTS, rtc_cmos_io, p->rtc, "rtc" },
		{ X86_I8042_DATA_PORT, 1, i8042_data_io, p->kbc, "i8042-data" },
		{ X86_I8042_CMD_PORT, 1, i8042_cmd_io, p->kbc, "i8042-cmd" },
		{ PORT_B, 1, port_b_io, p, "port-b" },
		{ POST_PORT, 1, post_io, p, "post" },
		{ X86_ACPI_SLEEP_CTL_PORT, ACPI_PM_NPORTS, acpi_pm_io, p, "acpi-pm" },
		{ X86_WDT_PORT, WATCHDOG_NPORTS, watchdog_io, p->wdt, "watchdog" },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (!r[i].opaque) /* a device this VM does not have */
			continue;
		int ret = io_bus_register(&vm->pio, r[i].base, r[i].len, r[i].fn, r[i].opaque,
					  r[i].name);

		if (ret) {
			avp_err("cannot claim I/O ports 0x%llx-0x%llx for %s: %s",
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
	struct x86_platform *p;
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
	/* With --console stdio the keyboard belongs to hvc0; the UART only prints. */
	/* A pty or socket relay confines itself like the other threads:
	 * only when there is a guest to be wary of. */
	ret = chardev_open_named(&p->uart_chr, serial_cfg,
				 serial_cfg->kind == AVP_CHR_STDIO &&
					 (!vm->cfg || !avp_config_stdio_device(vm->cfg)),
				 "serial", vm->vm_fd >= 0 ? vm->cfg : NULL);
	if (!ret)
		ret = serial16550_create(&p->uart, p->uart_chr,
					 &(struct serial16550_ops){ .set_irq = uart_set_irq,
								    .output = uart_output,
								    .reader_start = uart_reader_start,
								    .opaque = p });
	if (!ret)
		ret = rtc_cmos_create(&p->rtc);
	if (!ret)
		ret = i8042_create(&p->kbc, &(struct i8042_ops){ .set_irq = kbc_set_irq,
								 .reset = kbc_reset,
								 .opaque = p });
	wdt = vm->cfg ? avp_config_device(vm->cfg, &watchdog_config, 0) : NULL;
	if (!ret && wdt)
		ret = watchdog_create(&p->wdt,
				      &(struct watchdog_ops){ .expired = wdt_expired,
							     .thread_start = wdt_thread_start,
							     .opaque = p },
				      wdt->fired_before);
	if (!ret)
		ret = register_ports(vm, p);
	if (ret)
		arch_platform_devices_destroy(vm);
	return ret;
}

void arch_platform_devices_destroy(struct vm *vm)
{
	struct x86_platform *p;

	if (!vm || !vm->platform)
		return;
	p = vm->platform;
	pio_forget(vm, p);
	/* The UART's reader thread uses the chardev: stop it first. */
	serial16550_destroy(p->uart);
	chardev_close(p->uart_chr);
	rtc_cmos_destroy(p->rtc);
	i8042_destroy(p->kbc);
	watchdog_destroy(p->wdt); /* joins its thread: no expiry after this */
	free(p);
	vm->platform = NULL;
}
