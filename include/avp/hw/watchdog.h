/* A watchdog timer with just the registers that an ACPI Watchdog Action
 * Table (WDAT, Microsoft's "Hardware Watchdog Timers Design Specification")
 * needs, so that an OS's generic WDAT driver (Linux: wdat_wdt) drives it
 * with no device-specific code. A host thread counts down; when the guest
 * stops refreshing it, the expired() callback runs once.
 *
 * Five 32-bit little-endian registers; any access width works, bytes
 * outside the registers read 0 and ignore writes:
 *
 *   0x00 CONTROL  bit 0 RUNNING: write 1 starts the countdown from RELOAD,
 *                 0 stops it. bit 1 REBOOT: reads 1, writes ignored (this
 *                 watchdog always acts on expiry). Other bits read 0.
 *   0x04 RELOAD   countdown period in WATCHDOG_PERIOD_MS units, used at
 *                 start and at every refresh; writes are clamped to
 *                 [WATCHDOG_MIN_COUNT, WATCHDOG_MAX_COUNT].
 *   0x08 COUNT    read-only: periods left before expiry (rounded up), 0
 *                 while stopped.
 *   0x0c REFRESH  write with bit 0 set: restart the countdown from RELOAD
 *                 (ignored while stopped). Reads 0.
 *   0x10 STATUS   bit 0 FIRED: set when the watchdog expired (or, from
 *                 create, when the previous run of this VM ended that way);
 *                 write 1 to clear.
 *
 * Expiry clears RUNNING, sets FIRED and calls expired() once; the guest
 * has to start the watchdog again for another expiry. */
#ifndef AVP_HW_WATCHDOG_H
#define AVP_HW_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/config/options.h"

struct watchdog;

/* The per-VM watchdog (--watchdog, AVP-WDT-1; docs/devices.md): on expiry
 * avp ends with status 6 (EXIT) or boots the VM again (RESET). */
enum avp_watchdog_action { AVP_WATCHDOG_EXIT, AVP_WATCHDOG_RESET };
struct avp_watchdog_cfg {
	enum avp_watchdog_action action;
	/* Not an option: set by the restart loop when the previous run
	 * ended on expiry, so the next boot's watchdog reports it. */
	bool fired_before;
};

#define WATCHDOG_NPORTS 0x14

#define WATCHDOG_REG_CONTROL 0x00
#define WATCHDOG_REG_RELOAD 0x04
#define WATCHDOG_REG_COUNT 0x08
#define WATCHDOG_REG_REFRESH 0x0c
#define WATCHDOG_REG_STATUS 0x10

#define WATCHDOG_CTL_RUNNING (1u << 0)
#define WATCHDOG_CTL_REBOOT (1u << 1)
#define WATCHDOG_REFRESH_KICK (1u << 0)
#define WATCHDOG_STATUS_FIRED (1u << 0)

/* One count is 100 ms: fine enough for sub-second guest timeouts, and the
 * 32-bit registers never overflow. Linux's wdat_wdt turns these into
 * min_timeout = ceil(PERIOD * MIN / 1000) = 1 s and max_timeout =
 * PERIOD * MAX / 1000 = 3600 s. */
#define WATCHDOG_PERIOD_MS 100u
#define WATCHDOG_MIN_COUNT 1u
#define WATCHDOG_MAX_COUNT 36000u
#define WATCHDOG_DEFAULT_COUNT 300u /* 30 s, wdat_wdt's default timeout */

struct watchdog_ops {
	/* The countdown reached zero; count is the RELOAD value it ran
	 * from. Called on the watchdog's own thread without its lock (the
	 * callback may read the device), once per expiry. Must not call
	 * watchdog_destroy. */
	void (*expired)(void *opaque, uint32_t count);
	/* Called first on the timer thread (e.g. to confine it); non-zero
	 * means the thread must not run: the watchdog then never fires. */
	int (*thread_start)(void *opaque);
	void *opaque;
};

/* fired_before: the STATUS FIRED bit starts set, for a VM restarted
 * because its watchdog expired. Starts the timer thread. */
int watchdog_create(struct watchdog **out, const struct watchdog_ops *ops, bool fired_before);
/* Stops and joins the timer thread: no expired() call after it returns. */
void watchdog_destroy(struct watchdog *wdt);

/* --watchdog [action=exit|reset] (src/hw/watchdog_opts.c): not VIRTIO,
 * the platform builds it (arch). */
extern const struct avp_config_type watchdog_config;

/* io_handler_fn for the WATCHDOG_NPORTS registers; opaque is the device. */
void watchdog_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* A consistent snapshot, for tests and diagnostics. */
struct watchdog_state {
	bool running;
	bool fired;
	uint32_t reload;
	uint32_t count;		 /* as the COUNT register reads now */
	unsigned long expiries;	 /* expired() calls so far */
	unsigned long refreshes; /* effective refreshes so far */
};
void watchdog_get_state(struct watchdog *wdt, struct watchdog_state *st);

#endif
