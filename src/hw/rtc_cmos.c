/* MC146818 CMOS RTC (Motorola MC146818A data sheet: "Address Map",
 * "Register A-D"). The time is read from CLOCK_REALTIME on every access,
 * so it never drifts from the host; a guest that sets the clock gets an
 * offset kept in the device. Updates are instantaneous, hence UIP is
 * always clear, and no interrupt is ever raised (the DSDT declares none).
 *
 * Setting the time: while register B's SET bit is 1 the time registers
 * are frozen and take the guest's writes; clearing SET converts them to
 * an offset from host time (Linux's mc146818_set_time does exactly this).
 * A write to a time register with SET clear takes effect at once. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avp/hw/rtc_cmos.h"

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS 0x04
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d

#define A_UIP 0x80
#define B_SET 0x80
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define D_VRT 0x80 /* valid RAM and time: the battery is fine */

#define HOURS_PM 0x80 /* 12-hour mode */
#define CMOS_SIZE 128

struct rtc_cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[CMOS_SIZE]; /* registers A/B and plain CMOS bytes */
	int64_t offset;		/* guest time - host time, seconds */
	bool frozen;		/* SET: the guest is writing the time */
	struct tm set_tm;	/* the time registers while frozen */
};

static bool is_time_reg(uint8_t idx)
{
	switch (idx) {
	case REG_SECONDS:
	case REG_MINUTES:
	case REG_HOURS:
	case REG_WEEKDAY:
	case REG_DAY:
	case REG_MONTH:
	case REG_YEAR:
	case RTC_CMOS_CENTURY:
		return true;
	default:
		return false;
	}
}

static void now_tm(const struct rtc_cmos *rtc, struct tm *tm)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (time_t)(ts.tv_sec + rtc->offset);
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

static uint8_t to_reg(const struct rtc_cmos *rtc, unsigned int v)
{
	v %= 100;
	if (rtc->ram[REG_B] & B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* Garbage BCD from the guest (nibbles > 9) decodes to something; timegm()
 * normalises whatever comes out, so no value can hurt. */
static unsigned int from_reg(const struct rtc_cmos *rtc, uint8_t v)
{
	if (rtc->ram[REG_B] & B_DM_BINARY)
		return v;
	return (unsigned int)(v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hours_to_reg(const struct rtc_cmos *rtc, int hour)
{
	if (rtc->ram[REG_B] & B_24H)
		return to_reg(rtc, (unsigned int)hour);
	/* 12-hour mode: 12, 1..11 with bit 7 set for PM. */
	return (uint8_t)(to_reg(rtc, (unsigned int)(hour % 12 ? hour % 12 : 12)) |
			 (hour >= 12 ? HOURS_PM : 0));
}

static int hours_from_reg(const struct rtc_cmos *rtc, uint8_t v)
{
	int h;

	if (rtc->ram[REG_B] & B_24H)
		return (int)from_reg(rtc, v);
	h = (int)from_reg(rtc, v & (uint8_t)~HOURS_PM) % 12;
	return (v & HOURS_PM) ? h + 12 : h;
}

static uint8_t time_reg_read(const struct rtc_cmos *rtc, const struct tm *tm, uint8_t idx)
{
	switch (idx) {
	case REG_SECONDS:
		return to_reg(rtc, (unsigned int)tm->tm_sec);
	case REG_MINUTES:
		return to_reg(rtc, (unsigned int)tm->tm_min);
	case REG_HOURS:
		return hours_to_reg(rtc, tm->tm_hour);
	case REG_WEEKDAY:
		return to_reg(rtc, (unsigned int)tm->tm_wday + 1); /* Sunday = 1 */
	case REG_DAY:
		return to_reg(rtc, (unsigned int)tm->tm_mday);
	case REG_MONTH:
		return to_reg(rtc, (unsigned int)tm->tm_mon + 1);
	case REG_YEAR:
		return to_reg(rtc, (unsigned int)(tm->tm_year + 1900) % 100);
	default: /* RTC_CMOS_CENTURY */
		return to_reg(rtc, (unsigned int)(tm->tm_year + 1900) / 100);
	}
}

static void time_reg_write(const struct rtc_cmos *rtc, struct tm *tm, uint8_t idx, uint8_t v)
{
	int year = tm->tm_year + 1900;

	switch (idx) {
	case REG_SECONDS:
		tm->tm_sec = (int)from_reg(rtc, v & 0x7f);
		break;
	case REG_MINUTES:
		tm->tm_min = (int)from_reg(rtc, v);
		break;
	case REG_HOURS:
		tm->tm_hour = hours_from_reg(rtc, v);
		break;
	case REG_WEEKDAY:
		break; /* derived from the date */
	case REG_DAY:
		tm->tm_mday = (int)from_reg(rtc, v);
		break;
	case REG_MONTH:
		tm->tm_mon = (int)from_reg(rtc, v) - 1;
		break;
	case REG_YEAR:
		tm->tm_year = year / 100 * 100 + (int)from_reg(rtc, v) % 100 - 1900;
		break;
	default: /* RTC_CMOS_CENTURY */
		tm->tm_year = (int)from_reg(rtc, v) * 100 + year % 100 - 1900;
		break;
	}
}

static void apply_time(struct rtc_cmos *rtc, struct tm *tm)
{
	struct timespec ts;
	time_t t;

	tm->tm_isdst = 0;
	t = timegm(tm);
	/* Years the century register cannot hold (or timegm cannot) are
	 * refused: the clock keeps its old setting. timegm normalised tm. */
	if (t == (time_t)-1 || tm->tm_year < 0 || tm->tm_year > 9999 - 1900)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	rtc->offset = (int64_t)t - (int64_t)ts.tv_sec;
}

static uint8_t data_read(struct rtc_cmos *rtc)
{
	uint8_t idx = rtc->index;
	struct tm tm;

	if (is_time_reg(idx)) {
		if (rtc->frozen)
			return time_reg_read(rtc, &rtc->set_tm, idx);
		now_tm(rtc, &tm);
		return time_reg_read(rtc, &tm, idx);
	}
	switch (idx) {
	case REG_A:
		return rtc->ram[REG_A] & (uint8_t)~A_UIP;
	case REG_C:
		return 0; /* no interrupt flags, ever */
	case REG_D:
		return D_VRT;
	default:
		return rtc->ram[idx];
	}
}

static void data_write(struct rtc_cmos *rtc, uint8_t v)
{
	uint8_t idx = rtc->index;

	if (is_time_reg(idx)) {
		struct tm tm;

		if (rtc->frozen) {
			time_reg_write(rtc, &rtc->set_tm, idx, v);
			return;
		}
		now_tm(rtc, &tm);
		time_reg_write(rtc, &tm, idx, v);
		apply_time(rtc, &tm);
		return;
	}
	switch (idx) {
	case REG_A:
		rtc->ram[REG_A] = v & (uint8_t)~A_UIP; /* UIP is read-only */
		break;
	case REG_B:
		if ((v & B_SET) && !rtc->frozen) {
			now_tm(rtc, &rtc->set_tm);
			rtc->frozen = true;
		} else if (!(v & B_SET) && rtc->frozen) {
			rtc->frozen = false;
			apply_time(rtc, &rtc->set_tm);
		}
		/* The data mode and 12/24 h bits change how the registers are
		 * read from now on; the clock itself is unaffected. */
		rtc->ram[REG_B] = v;
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		rtc->ram[idx] = v;
	}
}

void rtc_cmos_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct rtc_cmos *rtc = opaque;
	uint8_t *b = data;

	if (!rtc || !data)
		return;
	if (!is_write)
		memset(data, 0xff, len);
	pthread_mutex_lock(&rtc->lock);
	/* outw 0x70 is an index write followed by a data write, as two
	 * 8-bit ISA cycles would be. */
	for (uint32_t i = 0; i < len; i++) {
		if (offset + i == 0) {
			/* Bit 7 of the index port is the NMI mask on a PC;
			 * NMIs are not gated here. It reads back as open bus. */
			if (is_write)
				rtc->index = b[i] & 0x7f;
		} else if (offset + i == 1) {
			if (is_write)
				data_write(rtc, b[i]);
			else
				b[i] = data_read(rtc);
		}
	}
	pthread_mutex_unlock(&rtc->lock);
}

int64_t rtc_cmos_offset(struct rtc_cmos *rtc)
{
	int64_t off;

	pthread_mutex_lock(&rtc->lock);
	off = rtc->offset;
	pthread_mutex_unlock(&rtc->lock);
	return off;
}

int rtc_cmos_create(struct rtc_cmos **out)
{
	struct rtc_cmos *rtc;
	int ret;

	if (!out)
		return -EINVAL;
	rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return -ENOMEM;
	ret = pthread_mutex_init(&rtc->lock, NULL);
	if (ret) {
		free(rtc);
		return -ret;
	}
	/* What a PC BIOS leaves behind: 32.768 kHz time base with a 1024 Hz
	 * periodic rate (A = 0x26), 24-hour BCD with no interrupts (B = 0x02). */
	rtc->ram[REG_A] = 0x26;
	rtc->ram[REG_B] = B_24H;
	*out = rtc;
	return 0;
}

void rtc_cmos_destroy(struct rtc_cmos *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}
