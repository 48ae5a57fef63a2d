/* ARM Watchdog Module (SP805, ARM DDI 0270): AVP-WDT-1 on arm64, the
 * watchdog Linux's sp805_wdt arms and feeds. A 32-bit counter runs down
 * from LOAD at the module's clock while INTEN is set; reaching zero
 * raises the interrupt (WDOGINT) and reloads; reaching zero again with
 * the interrupt still raised and RESEN set asserts the reset output,
 * which here is the x86 watchdog's action hook (struct watchdog_ops,
 * avp/hw/watchdog.h): the platform then ends or resets the VM as
 * --watchdog says. Independent of the VM: the interrupt line and the
 * clock are callbacks. */
#ifndef AVP_HW_SP805_H
#define AVP_HW_SP805_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/hw/watchdog.h"

struct sp805;

#define SP805_MMIO_SIZE 0x1000u
#define SP805_PERIPH_ID 0x00141805u
/* The clock the platform gives it (a fixed-clock in the device tree):
 * 1 MHz lets Linux's sp805_wdt set timeouts from 1 s to 2^32 / 500000 s
 * (2.4 h) in microsecond steps. */
#define SP805_DEFAULT_HZ 1000000u

/* Register offsets (TRM table 3-1). */
#define SP805_LOAD 0x000
#define SP805_VALUE 0x004
#define SP805_CONTROL 0x008
#define SP805_INTCLR 0x00c
#define SP805_RIS 0x010
#define SP805_MIS 0x014
#define SP805_LOCK 0xc00
#define SP805_CTL_INTEN (1u << 0)
#define SP805_CTL_RESEN (1u << 1)
#define SP805_UNLOCK_KEY 0x1acce551u

struct sp805_ops {
	/* Drives WDOGINT; with the device lock held, only on changes.
	 * Optional. */
	void (*set_irq)(void *opaque, int level);
	/* A monotonic clock in nanoseconds. NULL: CLOCK_MONOTONIC and a
	 * timer thread that makes the events happen on time (it runs
	 * wdt->thread_start first). Given (a test's fake clock): no thread;
	 * call sp805_tick after moving it. */
	uint64_t (*now_ns)(void *opaque);
	void *opaque;
};

/* clock_hz: the counter's rate (0: SP805_DEFAULT_HZ). wdt: the action on
 * reset (expired() runs without the device lock, once per reset, with the
 * time since the last feed in WATCHDOG_PERIOD_MS units). */
int sp805_create(struct sp805 **out, uint64_t clock_hz, const struct sp805_ops *ops,
		 const struct watchdog_ops *wdt);
/* Stops the timer thread: no expired() call after it returns. */
void sp805_destroy(struct sp805 *s);

/* io_handler_fn for the SP805_MMIO_SIZE window; opaque is the device. */
void sp805_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* Brings the counter's events up to date with the clock. */
void sp805_tick(struct sp805 *s);

/* How many times the reset output was asserted. */
unsigned long sp805_resets(struct sp805 *s);

#endif
