/* WDAT, the Watchdog Action Table of Microsoft's "Hardware Watchdog Timers
 * Design Specification" (ACPI signature "WDAT", revision 1; the layout is
 * that of ACPICA's struct acpi_table_wdat / acpi_wdat_entry). It tells the
 * OS how to drive the watchdog as a list of register instructions per
 * action, so a generic driver (Linux drivers/watchdog/wdat_wdt.c, found by
 * drivers/acpi/acpi_watchdog.c at boot) needs no device-specific code.
 *
 * Layout after the 36-byte ACPI header (offsets from the table start):
 *   36 u32 watchdog header length (32: from here to the entry count)
 *   40 u16 PCI segment, 42 u8 bus, 43 u8 device, 44 u8 function
 *      (0xff each: not a PCI device; Linux ignores a WDAT with anything
 *      else, and compares the 16-bit segment with 0xff, not 0xffff)
 *   45 3 reserved
 *   48 u32 timer period in ms, 52 u32 max count, 56 u32 min count
 *   60 u8 flags (bit 0 enabled, bit 7 stopped in sleep states), 61 3 rsvd
 *   64 u32 number of instruction entries, then the 24-byte entries:
 *      u8 action, u8 instruction, u16 reserved, 12-byte Generic Address
 *      Structure, u32 value, u32 mask.
 *
 * How Linux runs an action: the entries of that action in table order;
 * READ_VALUE yields ((reg >> bit_offset) & mask) == value, READ_COUNTDOWN
 * yields (reg >> bit_offset) & mask, WRITE_VALUE writes value & mask,
 * WRITE_COUNTDOWN writes the action's parameter & mask, and with
 * PRESERVE_REGISTER a write keeps the register's bits outside the mask.
 * At probe it runs QUERY_WATCHDOG_STATUS (-> WDIOF_CARDRESET),
 * SET_WATCHDOG_STATUS (clear), QUERY_RUNNING_STATE, SET_REBOOT and
 * SET_COUNTDOWN_PERIOD; then start = SET_RUNNING_STATE, stop =
 * SET_STOPPED_STATE, ping = RESET, set_timeout = SET_COUNTDOWN_PERIOD with
 * timeout * 1000 / period, get_timeleft = QUERY_CURRENT_COUNTDOWN_PERIOD.
 * Every register here is one 32-bit port register with bit offset 0; the
 * masks select the bits in place. */
#include <errno.h>
#include <string.h>

#include "arch/x86/acpi_wdat.h"
#include "arch/x86/x86.h"
#include "avp/hw/watchdog.h"
#include "avp/le.h"
#include "avp/vm.h"

/* Generic Address Structure (ACPI 6.4, section 5.2.3.2). */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_DWORD 3

#define ALL_BITS 0xffffffffu

static const struct wdat_entry {
	uint8_t action;
	uint8_t instruction;
	uint16_t reg; /* WATCHDOG_REG_* */
	uint32_t value;
	uint32_t mask;
} entries[] = {
	/* A ping: restart the countdown from RELOAD. Not WRITE_COUNTDOWN:
	 * wdat_wdt passes the timeout in seconds, not counts, to RESET. */
	{ WDAT_RESET, WDAT_WRITE_VALUE, WATCHDOG_REG_REFRESH, WATCHDOG_REFRESH_KICK,
	  WATCHDOG_REFRESH_KICK },
	{ WDAT_QUERY_CURRENT_COUNTDOWN_PERIOD, WDAT_READ_COUNTDOWN, WATCHDOG_REG_COUNT, 0,
	  ALL_BITS },
	{ WDAT_QUERY_COUNTDOWN_PERIOD, WDAT_READ_COUNTDOWN, WATCHDOG_REG_RELOAD, 0, ALL_BITS },
	{ WDAT_SET_COUNTDOWN_PERIOD, WDAT_WRITE_COUNTDOWN, WATCHDOG_REG_RELOAD, 0, ALL_BITS },
	/* Running and stopped are the two values of one bit, so each query
	 * gives the same answer from either state, as the spec requires. */
	{ WDAT_QUERY_RUNNING_STATE, WDAT_READ_VALUE, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING,
	  WATCHDOG_CTL_RUNNING },
	{ WDAT_SET_RUNNING_STATE, WDAT_WRITE_VALUE | WDAT_PRESERVE_REGISTER, WATCHDOG_REG_CONTROL,
	  WATCHDOG_CTL_RUNNING, WATCHDOG_CTL_RUNNING },
	{ WDAT_QUERY_STOPPED_STATE, WDAT_READ_VALUE, WATCHDOG_REG_CONTROL, 0,
	  WATCHDOG_CTL_RUNNING },
	{ WDAT_SET_STOPPED_STATE, WDAT_WRITE_VALUE | WDAT_PRESERVE_REGISTER, WATCHDOG_REG_CONTROL,
	  0, WATCHDOG_CTL_RUNNING },
	/* REBOOT is hard-wired on: the spec requires a watchdog to reset
	 * the system when it fires; the host's --watchdog action decides
	 * what that means for this VM. */
	{ WDAT_QUERY_REBOOT, WDAT_READ_VALUE, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_REBOOT,
	  WATCHDOG_CTL_REBOOT },
	{ WDAT_SET_REBOOT, WDAT_WRITE_VALUE | WDAT_PRESERVE_REGISTER, WATCHDOG_REG_CONTROL,
	  WATCHDOG_CTL_REBOOT, WATCHDOG_CTL_REBOOT },
	/* FIRED is write-1-to-clear in a register of its own: no PRESERVE,
	 * the write is the clear. */
	{ WDAT_QUERY_WATCHDOG_STATUS, WDAT_READ_VALUE, WATCHDOG_REG_STATUS, WATCHDOG_STATUS_FIRED,
	  WATCHDOG_STATUS_FIRED },
	{ WDAT_SET_WATCHDOG_STATUS, WDAT_WRITE_VALUE, WATCHDOG_REG_STATUS, WATCHDOG_STATUS_FIRED,
	  WATCHDOG_STATUS_FIRED },
};

#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

_Static_assert(X86_WDT_PORT + WATCHDOG_NPORTS <= 0x10000, "an I/O port range");
_Static_assert(X86_WDT_PORT + WATCHDOG_NPORTS <= X86_ACPI_SLEEP_CTL_PORT ||
		       X86_WDT_PORT > X86_ACPI_RESET_PORT,
	       "the watchdog does not overlap the power registers");

bool x86_wdat_enabled(const struct vm *vm)
{
	return vm && vm->cfg && avp_config_count(vm->cfg, &watchdog_config) > 0;
}

size_t x86_wdat_len(void)
{
	return WDAT_ACPI_HEADER_LEN + WDAT_HEADER_LEN + NENTRIES * WDAT_ENTRY_LEN;
}

int x86_wdat_fill(uint8_t *t, size_t len)
{
	uint8_t *p;

	if (!t || len != x86_wdat_len())
		return -EINVAL;
	memset(t + WDAT_ACPI_HEADER_LEN, 0, len - WDAT_ACPI_HEADER_LEN);
	p = t + WDAT_ACPI_HEADER_LEN;
	put_le32(p, WDAT_HEADER_LEN);
	put_le16(p + 4, 0xff); /* PCI segment */
	p[6] = 0xff;	    /* bus */
	p[7] = 0xff;	    /* device */
	p[8] = 0xff;	    /* function */
	put_le32(p + 12, WATCHDOG_PERIOD_MS);
	put_le32(p + 16, WATCHDOG_MAX_COUNT);
	put_le32(p + 20, WATCHDOG_MIN_COUNT);
	/* Enabled. Not "stopped in sleep states": the VM has none (S5
	 * only), and Linux stops the watchdog itself for suspend-to-idle. */
	p[24] = WDAT_FLAG_ENABLED;
	put_le32(p + 28, (uint32_t)NENTRIES);

	p = t + WDAT_ACPI_HEADER_LEN + WDAT_HEADER_LEN;
	for (size_t i = 0; i < NENTRIES; i++, p += WDAT_ENTRY_LEN) {
		const struct wdat_entry *e = &entries[i];

		p[0] = e->action;
		p[1] = e->instruction;
		/* The register: 32 bits at bit 0, accessed as a dword. */
		p[4] = GAS_SYSTEM_IO;
		p[5] = 32;
		p[6] = 0;
		p[7] = GAS_ACCESS_DWORD;
		put_le32(p + 8, X86_WDT_PORT + e->reg);
		put_le32(p + 16, e->value);
		put_le32(p + 20, e->mask);
	}
	return 0;
}
