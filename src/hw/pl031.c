/* PL031 RTC (include/avp/hw/pl031.h), after the PrimeCell RTC (PL031)
 * Technical Reference Manual, ARM DDI 0224, chapter 3.
 *
 * The counter is not stored: it is the host's UTC seconds plus the
 * offset the guest set through the load register, so it runs whatever
 * the vCPUs do and never drifts from the host (as the x86 CMOS clock,
 * src/hw/rtc_cmos.c). It runs from reset: it is the host's clock, and a
 * board's RTC is battery-backed and running before any OS starts; the CR
 * start bit reads back as the guest set it (Linux's rtc-pl031 sets it
 * when it reads 0).
 *
 * The match interrupt: the counter reaches MR d = MR - counter seconds
 * (modulo 2^32) after MR or LR was written, at the start of that second.
 * The state is a function of the clock, evaluated on every access and by
 * the timer when it fires; a match more than 2^32 s away is never seen. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "avp/hw/hw_timer.h"
#include "avp/hw/pl031.h"
#include "avp/hw/primecell.h"

#define NS_PER_S 1000000000ull

struct pl031 {
	pthread_mutex_t lock;
	struct pl031_ops ops;
	struct hw_timer *timer; /* NULL with a caller's clock */
	int64_t offset;		/* guest seconds - host seconds */
	uint32_t mr, lr, cr, imsc, ris;
	bool match_armed;  /* the counter has yet to reach MR */
	uint64_t match_ns; /* host time it does, while armed */
	int irq_level;
};

static uint64_t now_ns(const struct pl031 *rtc)
{
	struct timespec ts;

	if (rtc->ops.now_ns)
		return rtc->ops.now_ns(rtc->ops.opaque);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint32_t counter(const struct pl031 *rtc, uint64_t now)
{
	return (uint32_t)((int64_t)(now / NS_PER_S) + rtc->offset);
}

static void update_irq(struct pl031 *rtc)
{
	int level = (rtc->ris & rtc->imsc & PL031_INT) != 0;

	if (level != rtc->irq_level && rtc->ops.set_irq)
		rtc->ops.set_irq(rtc->ops.opaque, level);
	rtc->irq_level = level;
}

/* Raises the match interrupt once its time has come; (re)arms the timer
 * for a match still to come. */
static void evaluate(struct pl031 *rtc, uint64_t now)
{
	if (rtc->match_armed && now >= rtc->match_ns) {
		rtc->match_armed = false;
		rtc->ris |= PL031_INT;
	}
	if (rtc->match_armed)
		hw_timer_arm(rtc->timer, rtc->match_ns - now);
	else
		hw_timer_disarm(rtc->timer);
	update_irq(rtc);
}

/* After MR or the counter changed: when does the counter next equal MR? */
static void rearm_match(struct pl031 *rtc, uint64_t now)
{
	uint32_t d = rtc->mr - counter(rtc, now);
	uint64_t sec = now / NS_PER_S + d;

	rtc->match_armed = true;
	/* A clock near the end of time: a match it never reaches. */
	if (sec > UINT64_MAX / NS_PER_S)
		rtc->match_ns = UINT64_MAX;
	else
		rtc->match_ns = d ? sec * NS_PER_S : now;
}

static uint32_t reg_read(void *dev, unsigned int reg)
{
	struct pl031 *rtc = dev;
	uint64_t now = now_ns(rtc);

	evaluate(rtc, now);
	switch (reg) {
	case PL031_DR:
		return counter(rtc, now);
	case PL031_MR:
		return rtc->mr;
	case PL031_LR:
		return rtc->lr;
	case PL031_CR:
		return rtc->cr;
	case PL031_IMSC:
		return rtc->imsc;
	case PL031_RIS:
		return rtc->ris;
	case PL031_MIS:
		return rtc->ris & rtc->imsc;
	default: /* ICR is write-only; the rest is reserved or test */
		return 0;
	}
}

static void reg_write(void *dev, unsigned int reg, uint32_t val, uint32_t mask)
{
	struct pl031 *rtc = dev;
	uint64_t now = now_ns(rtc);

	evaluate(rtc, now);
	switch (reg) {
	case PL031_MR:
		rtc->mr = primecell_merge(rtc->mr, val, mask);
		rearm_match(rtc, now);
		break;
	case PL031_LR:
		rtc->lr = primecell_merge(rtc->lr, val, mask);
		rtc->offset = (int64_t)rtc->lr - (int64_t)(now / NS_PER_S);
		rearm_match(rtc, now);
		break;
	case PL031_CR:
		/* Once started the clock cannot be stopped (TRM, RTCCR). */
		rtc->cr |= val & mask & PL031_CR_START;
		break;
	case PL031_IMSC:
		rtc->imsc = primecell_merge(rtc->imsc, val, mask) & PL031_INT;
		break;
	case PL031_ICR:
		rtc->ris &= ~(val & mask & PL031_INT);
		break;
	default: /* DR, RIS, MIS are read-only */
		break;
	}
	evaluate(rtc, now);
}

static const struct primecell_regs pl031_regs = {
	.read = reg_read,
	.write = reg_write,
	.periph_id = PL031_PERIPH_ID,
};

void pl031_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct pl031 *rtc = opaque;

	if (!rtc || !data)
		return;
	pthread_mutex_lock(&rtc->lock);
	primecell_io(&pl031_regs, rtc, offset, data, len, is_write);
	pthread_mutex_unlock(&rtc->lock);
}

void pl031_tick(struct pl031 *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_lock(&rtc->lock);
	evaluate(rtc, now_ns(rtc));
	pthread_mutex_unlock(&rtc->lock);
}

static void timer_fire(void *opaque)
{
	pl031_tick(opaque);
}

int64_t pl031_offset(struct pl031 *rtc)
{
	int64_t off;

	if (!rtc)
		return 0;
	pthread_mutex_lock(&rtc->lock);
	off = rtc->offset;
	pthread_mutex_unlock(&rtc->lock);
	return off;
}

int pl031_create(struct pl031 **out, const struct pl031_ops *ops)
{
	struct pl031 *rtc;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return -ENOMEM;
	if (ops)
		rtc->ops = *ops;
	/* A fake clock (tests) calls pl031_tick itself: no timer. */
	ret = hw_timer_dev_init(&rtc->lock, &rtc->timer,
				rtc->ops.now_ns ? NULL
						: &(struct hw_timer_ops){
							  .fire = timer_fire,
							  .thread_start = rtc->ops.thread_start,
							  .opaque = rtc,
							  .thread_opaque = rtc->ops.opaque,
							  .name = "avp-pl031" });
	if (ret) {
		free(rtc);
		return ret;
	}
	*out = rtc;
	return 0;
}

void pl031_destroy(struct pl031 *rtc)
{
	if (!rtc)
		return;
	hw_timer_dev_fini(&rtc->lock, rtc->timer);
	free(rtc);
}
