/* CMOS RTC: what Linux's rtc_cmos/mc146818 code reads (registers A-D, the
 * time in BCD or binary, 12/24 h), the time set by a guest, CMOS RAM and
 * garbage on the ports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avp/hw/rtc_cmos.h"

static uint8_t cmos_read(struct rtc_cmos *rtc, uint8_t idx)
{
	uint8_t v = 0;

	rtc_cmos_io(rtc, 0, &idx, 1, true);
	rtc_cmos_io(rtc, 1, &v, 1, false);
	return v;
}

static void cmos_write(struct rtc_cmos *rtc, uint8_t idx, uint8_t v)
{
	rtc_cmos_io(rtc, 0, &idx, 1, true);
	rtc_cmos_io(rtc, 1, &v, 1, true);
}

static unsigned int bcd(uint8_t v)
{
	assert_true((v & 0x0f) <= 9 && (v >> 4) <= 9);
	return (v >> 4) * 10u + (v & 0x0f);
}

/* Reads the clock the way mc146818_get_time does: retry when the seconds
 * changed underneath, then decode per register B. */
static time_t read_clock(struct rtc_cmos *rtc, struct tm *out)
{
	uint8_t r[10], century, b;
	struct tm tm = { 0 };
	bool binary;
	int hour;

	do {
		for (uint8_t i = 0; i < 10; i++)
			r[i] = cmos_read(rtc, i);
		century = cmos_read(rtc, 0x32);
	} while (r[0] != cmos_read(rtc, 0));
	b = cmos_read(rtc, 0x0b);
	binary = b & 0x04;
#define DEC(x) (binary ? (unsigned int)(x) : bcd(x))
	tm.tm_sec = (int)DEC(r[0]);
	tm.tm_min = (int)DEC(r[2]);
	if (b & 0x02) {
		hour = (int)DEC(r[4]);
	} else {
		hour = (int)DEC(r[4] & 0x7f) % 12;
		assert_true(DEC(r[4] & 0x7f) >= 1 && DEC(r[4] & 0x7f) <= 12);
		if (r[4] & 0x80)
			hour += 12;
	}
	tm.tm_hour = hour;
	tm.tm_mday = (int)DEC(r[7]);
	tm.tm_mon = (int)DEC(r[8]) - 1;
	tm.tm_year = (int)(DEC(century) * 100 + DEC(r[9])) - 1900;
	assert_true(DEC(r[6]) >= 1 && DEC(r[6]) <= 7);
#undef DEC
	if (out)
		*out = tm;
	{
		struct tm copy = tm;
		time_t t = timegm(&copy);

		/* The day of week agrees with the date (Sunday = 1). */
		assert_int_equal((binary ? r[6] : bcd(r[6])) - 1, copy.tm_wday);
		return t;
	}
}

static void assert_near_host(time_t t, long offset)
{
	time_t host = time(NULL) + offset;

	assert_true(t >= host - 2 && t <= host + 2);
}

static void test_status_registers(void **state)
{
	struct rtc_cmos *rtc;

	(void)state;
	assert_int_equal(rtc_cmos_create(&rtc), 0);
	assert_int_equal(cmos_read(rtc, 0x0a) & 0x80, 0); /* UIP clear */
	assert_int_equal(cmos_read(rtc, 0x0a) & 0x70, 0x20); /* 32.768 kHz base */
	assert_int_equal(cmos_read(rtc, 0x0b), 0x02); /* 24 h, BCD, no IRQs */
	assert_int_equal(cmos_read(rtc, 0x0c), 0x00);
	/* rtc_cmos probe: VRT set, bit 6 clear or "not accessible". */
	assert_int_equal(cmos_read(rtc, 0x0d), 0x80);
	/* A, C, D: UIP, flags and VRT are not writable. */
	cmos_write(rtc, 0x0a, 0xa6);
	assert_int_equal(cmos_read(rtc, 0x0a), 0x26);
	cmos_write(rtc, 0x0c, 0xff);
	cmos_write(rtc, 0x0d, 0x00);
	assert_int_equal(cmos_read(rtc, 0x0c), 0x00);
	assert_int_equal(cmos_read(rtc, 0x0d), 0x80);
	rtc_cmos_destroy(rtc);
}

static void test_bcd_time_matches_host(void **state)
{
	struct rtc_cmos *rtc;

	(void)state;
	assert_int_equal(rtc_cmos_create(&rtc), 0);
	assert_near_host(read_clock(rtc, NULL), 0);
	assert_int_equal(rtc_cmos_offset(rtc), 0);
	rtc_cmos_destroy(rtc);
}

static void test_binary_and_12h(void **state)
{
	struct rtc_cmos *rtc;
	struct tm tm;

	(void)state;
	assert_int_equal(rtc_cmos_create(&rtc), 0);
	cmos_write(rtc, 0x0b, 0x06); /* binary, 24 h */
	assert_near_host(read_clock(rtc, NULL), 0);
	assert_true(cmos_read(rtc, 0x32) == 20 || cmos_read(rtc, 0x32) == 21);
	cmos_write(rtc, 0x0b, 0x00); /* BCD, 12 h */
	assert_near_host(read_clock(rtc, &tm), 0);
	cmos_write(rtc, 0x0b, 0x04); /* binary, 12 h */
	assert_near_host(read_clock(rtc, &tm), 0);
	assert_int_equal(rtc_cmos_offset(rtc), 0); /* format changes keep the time */
	rtc_cmos_destroy(rtc);
}

/* mc146818_set_time: SET, the fields, SET cleared. */
static void test_guest_sets_time(void **state)
{
	struct rtc_cmos *rtc;
	struct tm want = { .tm_year = 2031 - 1900, .tm_mon = 4, .tm_mday = 17,
			   .tm_hour = 21, .tm_min = 42, .tm_sec = 7 };
	time_t t_want = timegm(&want), t;
	struct tm got;
	int64_t off;

	(void)state;
	assert_int_equal(rtc_cmos_create(&rtc), 0);
	cmos_write(rtc, 0x0b, 0x82);
	cmos_write(rtc, 0x09, 0x31);
	cmos_write(rtc, 0x08, 0x05);
	cmos_write(rtc, 0x07, 0x17);
	cmos_write(rtc, 0x04, 0x21);
	cmos_write(rtc, 0x02, 0x42);
	cmos_write(rtc, 0x00, 0x07);
	cmos_write(rtc, 0x32, 0x20);
	/* Frozen while SET: reads return what was written. */
	assert_int_equal(cmos_read(rtc, 0x04), 0x21);
	cmos_write(rtc, 0x0b, 0x02);
	t = read_clock(rtc, &got);
	assert_true(t >= t_want && t <= t_want + 2);
	off = rtc_cmos_offset(rtc);
	assert_true(off >= (int64_t)(t_want - time(NULL)) - 2 &&
		    off <= (int64_t)(t_want - time(NULL)) + 2);

	/* A write without SET takes effect at once: back to 2026's year. */
	cmos_write(rtc, 0x09, 0x26);
	read_clock(rtc, &got);
	assert_int_equal(got.tm_year, 2026 - 1900);
	assert_int_equal(got.tm_mon, 4);
	rtc_cmos_destroy(rtc);
}

static void test_cmos_ram(void **state)
{
	struct rtc_cmos *rtc;

	(void)state;
	assert_int_equal(rtc_cmos_create(&rtc), 0);
	for (unsigned int i = 0x0e; i < 0x80; i++)
		if (i != 0x32)
			cmos_write(rtc, (uint8_t)i, (uint8_t)(i ^ 0x5a));
	for (unsigned int i = 0x0e; i < 0x80; i++)
		if (i != 0x32)
			assert_int_equal(cmos_read(rtc, (uint8_t)i), i ^ 0x5a);
	/* Bit 7 of the index (NMI mask) does not select another byte. */
	assert_int_equal(cmos_read(rtc, 0x80 | 0x40), 0x40 ^ 0x5a);
	/* A 16-bit write to 0x70 sets the index and then the data. */
	{
		uint16_t w = 0x7741; /* little endian: index 0x41, then 0x77 */

		rtc_cmos_io(rtc, 0, &w, 2, true);
		assert_int_equal(cmos_read(rtc, 0x41), 0x77);
	}
	rtc_cmos_destroy(rtc);
}

static void test_garbage(void **state)
{
	struct rtc_cmos *rtc;
	uint32_t seed = 99;

	(void)state;
	assert_int_equal(rtc_cmos_create(&rtc), 0);
	for (int i = 0; i < 100000; i++) {
		uint32_t v;

		seed = seed * 1103515245u + 12345u;
		v = seed >> 7;
		rtc_cmos_io(rtc, (seed >> 3) & 1, &v, 1u << ((seed >> 5) % 3), (seed >> 9) & 1);
	}
	/* Whatever the guest did, the device still answers sanely. */
	cmos_write(rtc, 0x0b, 0x02);
	assert_int_equal(cmos_read(rtc, 0x0d), 0x80);
	(void)read_clock(rtc, NULL);
	rtc_cmos_io(NULL, 0, NULL, 1, false);
	rtc_cmos_destroy(rtc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_registers),
		cmocka_unit_test(test_bcd_time_matches_host),
		cmocka_unit_test(test_binary_and_12h),
		cmocka_unit_test(test_guest_sets_time),
		cmocka_unit_test(test_cmos_ram),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests_name("rtc", tests, NULL, NULL);
}
