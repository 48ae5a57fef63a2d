/* The ACPI Watchdog Action Table describing the x86 guest's watchdog
 * (include/avp/hw/watchdog.h at X86_WDT_PORT). Private to src/arch/x86. */
#ifndef AVP_ARCH_X86_ACPI_WDAT_H
#define AVP_ARCH_X86_ACPI_WDAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Table layout, actions and instructions (Hardware Watchdog Timers Design
 * Specification), shared with the fuzz target that runs the table the way
 * Linux's wdat_wdt does. (tests/unit/test_acpi_wdat.c keeps its own copy
 * on purpose: it checks the table against the spec's numbers.) */
#define WDAT_ACPI_HEADER_LEN 36 /* the common ACPI table header */
#define WDAT_HEADER_LEN 32
#define WDAT_ENTRY_LEN 24

#define WDAT_FLAG_ENABLED 0x01

/* Actions (spec table "Watchdog Actions"). */
#define WDAT_RESET 0x01
#define WDAT_QUERY_CURRENT_COUNTDOWN_PERIOD 0x04
#define WDAT_QUERY_COUNTDOWN_PERIOD 0x05
#define WDAT_SET_COUNTDOWN_PERIOD 0x06
#define WDAT_QUERY_RUNNING_STATE 0x08
#define WDAT_SET_RUNNING_STATE 0x09
#define WDAT_QUERY_STOPPED_STATE 0x0a
#define WDAT_SET_STOPPED_STATE 0x0b
#define WDAT_QUERY_REBOOT 0x10
#define WDAT_SET_REBOOT 0x11
#define WDAT_QUERY_WATCHDOG_STATUS 0x20
#define WDAT_SET_WATCHDOG_STATUS 0x21

/* Instructions (spec table "Watchdog Instructions"). */
#define WDAT_READ_VALUE 0x00
#define WDAT_READ_COUNTDOWN 0x01
#define WDAT_WRITE_VALUE 0x02
#define WDAT_WRITE_COUNTDOWN 0x03
#define WDAT_PRESERVE_REGISTER 0x80

struct vm;

/* Whether this VM gets the watchdog (and so the WDAT): --watchdog. */
bool x86_wdat_enabled(const struct vm *vm);

/* Bytes of the whole table, the 36-byte ACPI header included. */
size_t x86_wdat_len(void);

/* Writes everything after the common ACPI header into t[36..len); the
 * caller fills the header ("WDAT", revision X86_WDAT_REVISION) and the
 * checksum. 0, or -EINVAL when len is not x86_wdat_len(). */
#define X86_WDAT_REVISION 1
int x86_wdat_fill(uint8_t *t, size_t len);

#endif
