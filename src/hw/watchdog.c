/* The WDAT watchdog model (register map in include/avp/hw/watchdog.h).
 *
 * The registers are shaped by what the WDAT instructions can express and
 * by how Linux's drivers/watchdog/wdat_wdt.c runs them:
 *  - READ_VALUE compares (register >> bit offset) & mask with a constant,
 *    so every state the OS queries (running, stopped, reboot, fired) is a
 *    plain bit it can read back.
 *  - WRITE_VALUE with PRESERVE_REGISTER is a read-modify-write, so CONTROL
 *    reads back exactly the bits that matter and nothing self-clearing:
 *    a refresh therefore has its own register, and so has the write-1-to-
 *    clear FIRED bit (a preserving write to a shared register would clear
 *    it by accident).
 *  - wdat_wdt's ping runs RESET with the timeout in *seconds* as its
 *    parameter, so RESET must not be a WRITE_COUNTDOWN: the countdown
 *    period lives in RELOAD (SET_COUNTDOWN_PERIOD, "the countdown value to
 *    be used when the watchdog timer is reset") and a refresh reloads it.
 *  - The spec's SET_RUNNING_STATE starts the countdown; Linux's watchdog
 *    core starts the device without a refresh afterwards, so starting
 *    loads RELOAD itself.
 *
 * Time is CLOCK_MONOTONIC: a host wall-clock step must neither fire nor
 * postpone a guest's watchdog. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avp/hw/hw_timer.h"
#include "avp/hw/watchdog.h"

#define NS_PER_MS 1000000ull
#define PERIOD_NS ((uint64_t)WATCHDOG_PERIOD_MS * NS_PER_MS)

struct watchdog {
	pthread_mutex_t lock;
	struct hw_timer *timer; /* fires at the deadline */
	struct watchdog_ops ops;
	bool running;
	bool fired;
	uint32_t reload;
	uint32_t armed;	   /* RELOAD value the current countdown started from */
	uint64_t deadline; /* monotonic ns; valid while running */
	unsigned long expiries;
	unsigned long refreshes;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void arm(struct watchdog *w, uint64_t now)
{
	w->armed = w->reload;
	w->deadline = now + (uint64_t)w->reload * PERIOD_NS;
	hw_timer_arm(w->timer, w->deadline - now);
}

/* The timer fired: expire unless a refresh moved the deadline since (the
 * refresh re-armed the timer then) or the guest stopped the watchdog. */
static void timer_fire(void *opaque)
{
	struct watchdog *w = opaque;
	uint32_t count;

	pthread_mutex_lock(&w->lock);
	if (!w->running || now_ns() < w->deadline) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	count = w->armed;
	/* Stop first: a refresh racing with the callback finds the watchdog
	 * stopped and cannot make it fire twice. */
	w->running = false;
	w->fired = true;
	w->expiries++;
	pthread_mutex_unlock(&w->lock);
	if (w->ops.expired)
		w->ops.expired(w->ops.opaque, count);
}

static uint32_t count_left(const struct watchdog *w, uint64_t now)
{
	if (!w->running || now >= w->deadline)
		return 0;
	return (uint32_t)((w->deadline - now + PERIOD_NS - 1) / PERIOD_NS);
}

static uint32_t reg_read(const struct watchdog *w, unsigned int reg, uint64_t now)
{
	switch (reg) {
	case WATCHDOG_REG_CONTROL:
		return (w->running ? WATCHDOG_CTL_RUNNING : 0) | WATCHDOG_CTL_REBOOT;
	case WATCHDOG_REG_RELOAD:
		return w->reload;
	case WATCHDOG_REG_COUNT:
		return count_left(w, now);
	case WATCHDOG_REG_STATUS:
		return w->fired ? WATCHDOG_STATUS_FIRED : 0;
	default: /* REFRESH is write-only */
		return 0;
	}
}

/* val/mask: the bytes the access wrote, in register position. Bytes not
 * written keep their value for the read/write registers. */
static void reg_write(struct watchdog *w, unsigned int reg, uint32_t val, uint32_t mask,
		      uint64_t now)
{
	uint32_t v;

	switch (reg) {
	case WATCHDOG_REG_CONTROL:
		v = (reg_read(w, reg, now) & ~mask) | (val & mask);
		if ((v & WATCHDOG_CTL_RUNNING) && !w->running) {
			w->running = true;
			arm(w, now);
		} else if (!(v & WATCHDOG_CTL_RUNNING) && w->running) {
			w->running = false;
			hw_timer_disarm(w->timer);
		}
		break;
	case WATCHDOG_REG_RELOAD:
		v = (w->reload & ~mask) | (val & mask);
		if (v < WATCHDOG_MIN_COUNT)
			v = WATCHDOG_MIN_COUNT;
		if (v > WATCHDOG_MAX_COUNT)
			v = WATCHDOG_MAX_COUNT;
		w->reload = v;
		break;
	case WATCHDOG_REG_REFRESH:
		if ((val & mask & WATCHDOG_REFRESH_KICK) && w->running) {
			arm(w, now);
			w->refreshes++;
		}
		break;
	case WATCHDOG_REG_STATUS:
		if (val & mask & WATCHDOG_STATUS_FIRED)
			w->fired = false;
		break;
	default:
		break;
	}
}

void watchdog_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct watchdog *w = opaque;
	uint8_t *b = data;
	uint64_t now;

	if (!w || !b)
		return;
	now = now_ns();
	pthread_mutex_lock(&w->lock);
	/* Split the access into the registers it touches (an unaligned or
	 * wide access may span two); each register sees one read or one
	 * write of the bytes that fall into it. */
	for (uint32_t i = 0; i < len;) {
		uint64_t off = offset + i;
		unsigned int lane, n;
		unsigned int reg;
		uint32_t val = 0, mask = 0;

		if (off < offset || off >= WATCHDOG_NPORTS) {
			if (!is_write)
				b[i] = 0;
			i++;
			continue;
		}
		reg = (unsigned int)(off & ~3ull);
		lane = (unsigned int)(off & 3u);
		n = 4 - lane;
		if (n > len - i)
			n = len - i;
		if (!is_write) {
			uint32_t r = reg_read(w, reg, now);

			for (unsigned int k = 0; k < n; k++)
				b[i + k] = (uint8_t)(r >> (8 * (lane + k)));
		} else {
			for (unsigned int k = 0; k < n; k++) {
				val |= (uint32_t)b[i + k] << (8 * (lane + k));
				mask |= 0xffu << (8 * (lane + k));
			}
			reg_write(w, reg, val, mask, now);
		}
		i += n;
	}
	pthread_mutex_unlock(&w->lock);
}

void watchdog_get_state(struct watchdog *wdt, struct watchdog_state *st)
{
	uint64_t now = now_ns();

	memset(st, 0, sizeof(*st));
	if (!wdt)
		return;
	pthread_mutex_lock(&wdt->lock);
	st->running = wdt->running;
	st->fired = wdt->fired;
	st->reload = wdt->reload;
	st->count = count_left(wdt, now);
	st->expiries = wdt->expiries;
	st->refreshes = wdt->refreshes;
	pthread_mutex_unlock(&wdt->lock);
}

int watchdog_create(struct watchdog **out, const struct watchdog_ops *ops, bool fired_before)
{
	struct watchdog *w;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (ops)
		w->ops = *ops;
	w->reload = WATCHDOG_DEFAULT_COUNT;
	w->fired = fired_before;
	ret = hw_timer_dev_init(&w->lock, &w->timer,
				&(struct hw_timer_ops){ .fire = timer_fire,
							.thread_start = w->ops.thread_start,
							.opaque = w,
							.thread_opaque = w->ops.opaque,
							.name = "avp-watchdog" });
	if (ret) {
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

void watchdog_destroy(struct watchdog *wdt)
{
	if (!wdt)
		return;
	hw_timer_dev_fini(&wdt->lock, wdt->timer); /* joins its thread: no expiry after this */
	free(wdt);
}
