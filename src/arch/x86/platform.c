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

#include "arch/legacy_wiring.h"
#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/chardev.h"
#include "avp/hw/i8042.h"
#include "avp/hw/rtc_cmos.h"
#include "avp/hw/serial_16550.h"
#include "avp/hw/watchdog.h"
#include "avp/log.h"
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
	struct legacy_wiring w; /* first: the shared callbacks' opaque */
	struct chardev *uart_chr;
	struct serial16550 *uart;
	struct rtc_cmos *rtc;
	struct i8042 *kbc;
	struct watchdog *wdt; /* --watchdog only */
	atomic_uint sleep_sts;	 /* WAK_STS latch */
	atomic_uint port_b;	 /* writable bits 0-3 of port 0x61 */
	atomic_uint port_b_reads; /* drives the toggling bits */
};

static void uart_set_irq(void *opaque, int level)
{
	legacy_set_line(opaque, X86_COM1_GSI, level);
}

static void kbc_set_irq(void *opaque, enum i8042_port port, int level)
{
	legacy_set_line(opaque, port == I8042_PORT_KBD ? ISA_IRQ_KBD : ISA_IRQ_MOUSE, level);
}

static void kbc_reset(void *opaque)
{
	struct x86_platform *p = opaque;

	avp_debug("guest pulsed the keyboard controller's reset line");
	vm_request_exit(p->w.vm, VM_EXIT_REBOOT);
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
		vm_request_exit(p->w.vm, VM_EXIT_POWEROFF);
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
			vm_request_exit(p->w.vm, VM_EXIT_REBOOT);
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

static int register_ports(struct vm *vm, struct x86_platform *p)
{
	const struct legacy_window r[] = {
		{ X86_COM1_PORT, SERIAL16550_NPORTS, serial16550_io, p->uart, "com1" },
		{ X86_RTC_PORT, RTC_CMOS_NPORTS, rtc_cmos_io, p->rtc, "rtc" },
		{ X86_I8042_DATA_PORT, 1, i8042_data_io, p->kbc, "i8042-data" },
		{ X86_I8042_CMD_PORT, 1, i8042_cmd_io, p->kbc, "i8042-cmd" },
		{ PORT_B, 1, port_b_io, p, "port-b" },
		{ POST_PORT, 1, post_io, p, "post" },
		{ X86_ACPI_SLEEP_CTL_PORT, ACPI_PM_NPORTS, acpi_pm_io, p, "acpi-pm" },
		{ X86_WDT_PORT, WATCHDOG_NPORTS, watchdog_io, p->wdt, "watchdog" },
	};

	return legacy_claim(&vm->pio, r, sizeof(r) / sizeof(r[0]), "I/O ports");
}

int arch_platform_devices_init(struct vm *vm)
{
	const struct avp_watchdog_cfg *wdt;
	struct x86_platform *p;
	int ret;

	p = legacy_platform_new(vm, sizeof(*p), "GSI", &ret);
	if (!p)
		return ret;

	ret = legacy_open_serial(vm, &p->uart_chr);
	if (!ret)
		ret = serial16550_create(&p->uart, p->uart_chr,
					 &(struct serial16550_ops){ .set_irq = uart_set_irq,
								    .output = legacy_uart_output,
								    .reader_start = legacy_uart_thread_start,
								    .opaque = p });
	if (!ret)
		ret = rtc_cmos_create(&p->rtc);
	if (!ret)
		ret = i8042_create(&p->kbc, &(struct i8042_ops){ .set_irq = kbc_set_irq,
								 .reset = kbc_reset,
								 .opaque = p });
	wdt = legacy_watchdog_cfg(vm);
	if (!ret && wdt)
		ret = watchdog_create(&p->wdt,
				      &(struct watchdog_ops){ .expired = legacy_watchdog_expired,
							     .thread_start = legacy_timer_thread_start,
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
	legacy_forget(&vm->pio, (const void *const[]){ p, p->uart, p->rtc, p->kbc, p->wdt }, 5);
	/* The UART's reader thread uses the chardev: stop it first. */
	serial16550_destroy(p->uart);
	chardev_close(p->uart_chr);
	rtc_cmos_destroy(p->rtc);
	i8042_destroy(p->kbc);
	watchdog_destroy(p->wdt); /* joins its thread: no expiry after this */
	free(p);
	vm->platform = NULL;
}
