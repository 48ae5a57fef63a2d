/* The ACPI Watchdog Action Table describing the x86 guest's watchdog
 * (include/avp/hw/watchdog.h at X86_WDT_PORT). Private to src/arch/x86. */
#ifndef AVP_ARCH_X86_ACPI_WDAT_H
#define AVP_ARCH_X86_ACPI_WDAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
