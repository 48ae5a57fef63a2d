/* SP805 watchdog (include/avp/hw/sp805.h), after the ARM Watchdog Module
 * (SP805) Technical Reference Manual, ARM DDI 0270, chapter 3.
 *
 * The counter is not stored while it runs: it is a function of the
 * clock, counted in ticks of clock_hz from the moment it was last loaded
 * (LOAD write, INTCLR, INTEN going high). It takes LOAD + 1 ticks from
 * LOAD through zero to the reload, which is the arithmetic of Linux's
 * sp805_wdt (load = rate / 2 * timeout - 1; time left = VALUE, plus
 * LOAD + 1 while the interrupt is not raised yet). At each pass through
 * zero: the interrupt if it is not raised, else, with RESEN, the reset.
 * The reset calls the watchdog action once and latches until the guest
 * reloads the counter; the reset output of a real board ends the OS
 * anyway. Events are evaluated on every access and by the timer. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "avp/hw/hw_timer.h"
#include "avp/hw/primecell.h"
#include "avp/hw/sp805.h"

#define NS_PER_S 1000000000ull

struct sp805 {
	pthread_mutex_t lock;
	struct sp805_ops ops;
	struct watchdog_ops wdt;
	struct hw_timer *timer; /* NULL with a caller's clock */
	uint64_t hz;
	uint32_t load, control;
	bool ris;
	bool locked;
	uint64_t start_tick; /* counter = load - (now_tick - start_tick), while INTEN */
	uint32_t held;	     /* the counter while stopped */
	uint64_t fed_tick;   /* the last reload, for the expiry message */
	bool reset_latched;  /* asserted once since the last reload */
	unsigned int expire_pending; /* expired() calls owed after unlocking */
	uint32_t expire_count;
	unsigned long resets;
	int irq_level;
};

static uint64_t now_ns(const struct sp805 *s)
{
	struct timespec ts;

	if (s->ops.now_ns)
		return s->ops.now_ns(s->ops.opaque);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t ns_to_tick(const struct sp805 *s, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * s->hz / NS_PER_S);
}

/* The first nanosecond at which tick has begun. */
static uint64_t tick_to_ns(const struct sp805 *s, uint64_t tick)
{
	unsigned __int128 ns = ((unsigned __int128)tick * NS_PER_S + s->hz - 1) / s->hz;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static bool running(const struct sp805 *s)
{
	return s->control & SP805_CTL_INTEN;
}

static uint64_t period(const struct sp805 *s)
{
	return (uint64_t)s->load + 1;
}

static void update_irq(struct sp805 *s)
{
	int level = s->ris && running(s);

	if (level != s->irq_level && s->ops.set_irq)
		s->ops.set_irq(s->ops.opaque, level);
	s->irq_level = level;
}

static void reload(struct sp805 *s, uint64_t tick)
{
	s->start_tick = s->fed_tick = tick;
	s->reset_latched = false;
}

/* Runs the passes through zero up to now, then arms the timer for the
 * next one that matters. */
static void evaluate(struct sp805 *s, uint64_t now)
{
	uint64_t tick = ns_to_tick(s, now);

	if (running(s) && tick - s->start_tick >= period(s)) {
		uint64_t n = (tick - s->start_tick) / period(s);

		s->start_tick += n * period(s);
		if (!s->ris) {
			s->ris = true;
			n--;
		}
		if (n && (s->control & SP805_CTL_RESEN) && !s->reset_latched) {
			uint64_t ms = (uint64_t)((unsigned __int128)(tick - s->fed_tick) * 1000 / s->hz);

			s->reset_latched = true;
			s->resets++;
			s->expire_pending++;
			s->expire_count = ms / WATCHDOG_PERIOD_MS > UINT32_MAX
						  ? UINT32_MAX
						  : (uint32_t)(ms / WATCHDOG_PERIOD_MS);
		}
	}
	update_irq(s);
	if (!s->timer)
		return;
	/* Nothing to wake for: stopped, or raised with no reset to come. */
	if (!running(s) || (s->ris && (!(s->control & SP805_CTL_RESEN) || s->reset_latched))) {
		hw_timer_disarm(s->timer);
		return;
	}
	{
		uint64_t at = tick_to_ns(s, s->start_tick + period(s));

		hw_timer_arm(s->timer, at > now ? at - now : 0);
	}
}

static uint32_t value(const struct sp805 *s, uint64_t now)
{
	if (!running(s))
		return s->held;
	return (uint32_t)(s->load - (ns_to_tick(s, now) - s->start_tick));
}

/* Calls the action hook for resets evaluate() found, without the lock
 * (the hook may read the device). */
static void unlock_and_act(struct sp805 *s)
{
	unsigned int n = s->expire_pending;
	uint32_t count = s->expire_count;

	s->expire_pending = 0;
	pthread_mutex_unlock(&s->lock);
	while (n--)
		if (s->wdt.expired)
			s->wdt.expired(s->wdt.opaque, count);
}

struct access {
	struct sp805 *s;
	uint64_t now;
};

static uint32_t reg_read(void *opaque, unsigned int reg)
{
	struct access *a = opaque;
	struct sp805 *s = a->s;

	switch (reg) {
	case SP805_LOAD:
		return s->load;
	case SP805_VALUE:
		return value(s, a->now);
	case SP805_CONTROL:
		return s->control;
	case SP805_RIS:
		return s->ris;
	case SP805_MIS:
		return s->ris && running(s);
	case SP805_LOCK:
		return s->locked;
	default: /* INTCLR is write-only; integration test registers read 0 */
		return 0;
	}
}

static void reg_write(void *opaque, unsigned int reg, uint32_t val, uint32_t mask)
{
	struct access *a = opaque;
	struct sp805 *s = a->s;
	uint64_t tick = ns_to_tick(s, a->now);

	if (reg == SP805_LOCK) {
		/* Only the whole key unlocks. */
		s->locked = !(mask == 0xffffffffu && val == SP805_UNLOCK_KEY);
		return;
	}
	if (s->locked)
		return;
	switch (reg) {
	case SP805_LOAD:
		/* Writing LOAD restarts the count from it (TRM, WdogLoad). */
		s->load = primecell_merge(s->load, val, mask);
		reload(s, tick);
		s->held = s->load;
		break;
	case SP805_CONTROL: {
		uint32_t c = primecell_merge(s->control, val, mask) &
			     (SP805_CTL_INTEN | SP805_CTL_RESEN);

		if ((c & SP805_CTL_INTEN) && !running(s))
			reload(s, tick); /* enabling reloads the counter */
		else if (!(c & SP805_CTL_INTEN) && running(s))
			s->held = value(s, a->now);
		s->control = c;
		break;
	}
	case SP805_INTCLR:
		/* Any write clears the interrupt and reloads. */
		s->ris = false;
		reload(s, tick);
		s->held = s->load;
		break;
	default: /* VALUE, RIS, MIS are read-only */
		break;
	}
}

static const struct primecell_regs sp805_regs = {
	.read = reg_read,
	.write = reg_write,
	.periph_id = SP805_PERIPH_ID,
};

void sp805_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct sp805 *s = opaque;
	struct access a = { .s = s };

	if (!s || !data)
		return;
	pthread_mutex_lock(&s->lock);
	a.now = now_ns(s);
	evaluate(s, a.now);
	primecell_io(&sp805_regs, &a, offset, data, len, is_write);
	evaluate(s, a.now);
	unlock_and_act(s);
}

void sp805_tick(struct sp805 *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	evaluate(s, now_ns(s));
	unlock_and_act(s);
}

static void timer_fire(void *opaque)
{
	sp805_tick(opaque);
}

unsigned long sp805_resets(struct sp805 *s)
{
	unsigned long n;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = s->resets;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int sp805_create(struct sp805 **out, uint64_t clock_hz, const struct sp805_ops *ops,
		 const struct watchdog_ops *wdt)
{
	struct sp805 *s;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (ops)
		s->ops = *ops;
	if (wdt)
		s->wdt = *wdt;
	s->hz = clock_hz ? clock_hz : SP805_DEFAULT_HZ;
	/* Reset values (TRM table 3-1). */
	s->load = s->held = 0xffffffffu;
	/* A fake clock (tests) calls sp805_tick itself: no timer. */
	ret = hw_timer_dev_init(&s->lock, &s->timer,
				s->ops.now_ns ? NULL
					      : &(struct hw_timer_ops){
							.fire = timer_fire,
							.thread_start = s->wdt.thread_start,
							.opaque = s,
							.thread_opaque = s->wdt.opaque,
							.name = "avp-sp805" });
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void sp805_destroy(struct sp805 *s)
{
	if (!s)
		return;
	hw_timer_dev_fini(&s->lock, s->timer);
	free(s);
}
