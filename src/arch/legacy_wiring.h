/* What both architectures' platforms (src/arch/x86/platform.c,
 * src/arch/arm64/platform.c) do alike to wire their legacy devices to the
 * VM: drive an interrupt line with one warning at most, confine a
 * device's thread, act on the watchdog's expiry, open the serial port's
 * host end, and claim and give back the devices' windows on a bus. The
 * chips differ (16550 or PL011, CMOS RTC or PL031, ...); this does not.
 *
 * A platform's state starts with a struct legacy_wiring, so that the
 * callbacks below can take the platform's own opaque pointer. */
#ifndef AVP_ARCH_LEGACY_WIRING_H
#define AVP_ARCH_LEGACY_WIRING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "avp/io_bus.h"

struct vm;
struct chardev;
struct avp_watchdog_cfg;

struct legacy_wiring {
	struct vm *vm;
	const char *line_kind; /* "GSI", "SPI": what the one warning calls a line */
	atomic_bool irq_warned;
};

/* A platform's state, size bytes starting with a struct legacy_wiring,
 * zeroed and installed as vm->platform: the state, or NULL and *err
 * (-EINVAL, -EEXIST when vm has one, -ENOMEM). line_kind: as above. */
void *legacy_platform_new(struct vm *vm, size_t size, const char *line_kind, int *err);

/* Level of interrupt line `line` (vm_irq_line's number). A VM without a
 * VM fd (unit tests, --describe) has no lines: silently nothing; any
 * other failure is worth one warning, not one per interrupt. */
void legacy_set_line(struct legacy_wiring *w, uint32_t line, int level);

/* Device callbacks; opaque is the platform, which starts with a struct
 * legacy_wiring. */
/* A UART's host reader (and relay) thread, and the timer threads (RTC
 * alarm, watchdog, button), confined before the guest can reach them
 * (docs/security.md); a VM without KVM runs no guest and confines
 * nothing. On failure the VM ends as a host error. */
int legacy_uart_thread_start(void *opaque);
int legacy_timer_thread_start(void *opaque);
/* The guest wrote to the console UART (the runtime's readiness clock). */
void legacy_uart_output(void *opaque);
/* AVP-WDT-1: the guest stopped refreshing its watchdog for count
 * periods: said once, and the VM ends (main() then ends avp with status 6
 * or boots the VM again, as --watchdog says). */
void legacy_watchdog_expired(void *opaque, uint32_t count);

/* --watchdog's configuration, or NULL (also without a configuration). */
const struct avp_watchdog_cfg *legacy_watchdog_cfg(const struct vm *vm);
/* The serial port's host end (--serial; none without a configuration).
 * 0 or -errno, reported. */
int legacy_open_serial(struct vm *vm, struct chardev **chr);

/* A device's window on a bus; opaque NULL: a device this VM does not have. */
struct legacy_window {
	uint64_t base, len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

/* Registers each window on bus; `space` names the bus in the one error
 * line ("MMIO", "I/O ports"). 0 or -errno. */
int legacy_claim(struct io_bus *bus, const struct legacy_window *w, size_t n, const char *space);
/* Drops every range whose handler state is one of owned[0, n) (NULL
 * entries match nothing), so that nothing can call into freed devices:
 * the io_bus has no unregister of its own. */
void legacy_forget(struct io_bus *bus, const void *const *owned, size_t n);

#endif
