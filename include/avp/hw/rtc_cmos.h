/* MC146818-compatible CMOS real-time clock: index port + data port, the
 * time registers derived from the host's UTC clock plus a guest-set
 * offset, and 128 bytes of CMOS RAM. Raises no interrupts. */
#ifndef AVP_HW_RTC_CMOS_H
#define AVP_HW_RTC_CMOS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct rtc_cmos;

#define RTC_CMOS_NPORTS 2
#define RTC_CMOS_CENTURY 0x32 /* CMOS index of the century byte (FADT CENTURY) */

int rtc_cmos_create(struct rtc_cmos **out);
void rtc_cmos_destroy(struct rtc_cmos *rtc);

/* io_handler_fn for ports 0x70-0x71; opaque is the device. */
void rtc_cmos_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* Seconds the guest moved its clock away from host UTC by setting the
 * time registers (0 until it does). */
int64_t rtc_cmos_offset(struct rtc_cmos *rtc);

#endif
