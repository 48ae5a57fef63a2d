/* SP805 model on a fake clock: IDs and reset values, the countdown at the
 * given rate, the first pass through zero raising the interrupt, the
 * second (not cleared, RESEN) calling the watchdog action once, feeding
 * with INTCLR, the lock, Linux's sp805_wdt sequences, hostile accesses;
 * and the timer thread firing on time with the host clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avp/hw/sp805.h"
#include "support/hw_fixture.h"

#define MS 1000000ull
#define HZ 1000u /* one tick per ms keeps the arithmetic readable */

/* The clock and interrupt line (clk), the watchdog action's calls. */
struct fake {
	struct fake_clock clk;
	unsigned int expiries;
	uint32_t count;
	struct sp805 *s;
};

static uint32_t rd(struct sp805 *s, unsigned int reg)
{
	return hw_rd32(sp805_io, s, reg);
}

static void wr(struct sp805 *s, unsigned int reg, uint32_t v)
{
	hw_wr32(sp805_io, s, reg, v);
}

static void fake_expired(void *opaque, uint32_t count)
{
	struct fake *f = opaque;

	f->expiries++;
	f->count = count;
	/* Called without the device lock: reading it must not deadlock. */
	(void)rd(f->s, SP805_RIS);
}

static struct sp805 *make(struct fake *f)
{
	struct sp805_ops ops = { .set_irq = fake_clock_irq, .now_ns = fake_clock_now, .opaque = &f->clk };
	struct watchdog_ops w = { .expired = fake_expired, .opaque = f };

	memset(f, 0, sizeof(*f));
	f->clk.now = 1000 * MS;
	assert_int_equal(sp805_create(&f->s, HZ, &ops, &w), 0);
	return f->s;
}

static void advance(struct fake *f, uint64_t ms)
{
	f->clk.now += ms * MS;
	sp805_tick(f->s);
}

static void test_ids_and_reset(void **state)
{
	struct fake f;
	struct sp805 *s = make(&f);

	(void)state;
	assert_primecell_ids(sp805_io, s, 0x00141805);
	assert_int_equal(rd(s, SP805_LOAD), 0xffffffff);
	assert_int_equal(rd(s, SP805_VALUE), 0xffffffff);
	assert_int_equal(rd(s, SP805_CONTROL), 0);
	assert_int_equal(rd(s, SP805_RIS), 0);
	assert_int_equal(rd(s, SP805_MIS), 0);
	assert_int_equal(rd(s, SP805_LOCK), 0);
	/* Stopped: time passes, nothing counts. */
	advance(&f, 100000);
	assert_int_equal(rd(s, SP805_VALUE), 0xffffffff);
	sp805_destroy(s);
}

static void test_interrupt_then_reset(void **state)
{
	struct fake f;
	struct sp805 *s = make(&f);

	(void)state;
	wr(s, SP805_LOAD, 99); /* 100 ticks a pass: 100 ms */
	assert_int_equal(rd(s, SP805_VALUE), 99);
	wr(s, SP805_CONTROL, SP805_CTL_INTEN | SP805_CTL_RESEN);
	advance(&f, 40);
	assert_int_equal(rd(s, SP805_VALUE), 59);
	advance(&f, 59);
	assert_int_equal(rd(s, SP805_VALUE), 0);
	assert_int_equal(rd(s, SP805_RIS), 0);
	/* First pass through zero: the interrupt, and the count reloads. */
	advance(&f, 1);
	assert_int_equal(rd(s, SP805_RIS), 1);
	assert_int_equal(rd(s, SP805_MIS), 1);
	assert_int_equal(f.clk.level, 1);
	assert_int_equal(rd(s, SP805_VALUE), 99);
	assert_int_equal(f.expiries, 0);
	/* Second, not cleared: the reset, once. */
	advance(&f, 99);
	assert_int_equal(f.expiries, 0);
	advance(&f, 1);
	assert_int_equal(f.expiries, 1);
	assert_int_equal(f.count, 2); /* 200 ms since the last feed */
	assert_int_equal(sp805_resets(s), 1);
	advance(&f, 1000);
	assert_int_equal(f.expiries, 1);
	/* A reload re-arms it. */
	wr(s, SP805_INTCLR, 0);
	assert_int_equal(f.clk.level, 0);
	advance(&f, 200);
	assert_int_equal(f.expiries, 2);
	sp805_destroy(s);
}

static void test_feeding_and_resen(void **state)
{
	struct fake f;
	struct sp805 *s = make(&f);

	(void)state;
	wr(s, SP805_LOAD, 99);
	wr(s, SP805_CONTROL, SP805_CTL_INTEN | SP805_CTL_RESEN);
	/* Fed every 150 ms (after the interrupt, before the reset). */
	for (int i = 0; i < 20; i++) {
		advance(&f, 150);
		assert_int_equal(f.clk.level, 1);
		wr(s, SP805_INTCLR, 1);
		assert_int_equal(f.clk.level, 0);
	}
	assert_int_equal(f.expiries, 0);
	/* Without RESEN the counter keeps cycling with the interrupt up. */
	wr(s, SP805_CONTROL, SP805_CTL_INTEN);
	advance(&f, 10000);
	assert_int_equal(f.expiries, 0);
	assert_int_equal(f.clk.level, 1);
	/* MIS follows INTEN; stopping holds the counter. */
	advance(&f, 30);
	wr(s, SP805_CONTROL, 0);
	assert_int_equal(f.clk.level, 0);
	assert_int_equal(rd(s, SP805_MIS), 0);
	assert_int_equal(rd(s, SP805_RIS), 1);
	{
		uint32_t held = rd(s, SP805_VALUE);

		advance(&f, 5000);
		assert_int_equal(rd(s, SP805_VALUE), held);
	}
	/* Re-enabling reloads from LOAD. */
	wr(s, SP805_CONTROL, SP805_CTL_INTEN | SP805_CTL_RESEN);
	assert_int_equal(rd(s, SP805_VALUE), 99);
	/* The interrupt is still raised: the next pass resets. */
	advance(&f, 100);
	assert_int_equal(f.expiries, 1);
	sp805_destroy(s);
}

/* What drivers/watchdog/sp805_wdt.c does: unlock, LOAD, INTCLR, CONTROL,
 * lock; ping the same way; stop with CONTROL 0. Its arithmetic: a 2 s
 * timeout at HZ is LOAD = HZ / 2 * 2 - 1. */
static void test_linux_sequences_and_lock(void **state)
{
	struct fake f;
	struct sp805 *s = make(&f);
	uint32_t load = HZ / 2 * 2 - 1;

	(void)state;
	wr(s, SP805_LOCK, SP805_UNLOCK_KEY);
	assert_int_equal(rd(s, SP805_LOCK), 0);
	wr(s, SP805_LOAD, load);
	wr(s, SP805_INTCLR, 0);
	wr(s, SP805_CONTROL, SP805_CTL_INTEN | SP805_CTL_RESEN);
	wr(s, SP805_LOCK, 0);
	assert_int_equal(rd(s, SP805_LOCK), 1);
	/* Locked: writes do nothing. */
	wr(s, SP805_LOAD, 5);
	wr(s, SP805_CONTROL, 0);
	wr(s, SP805_INTCLR, 0);
	assert_int_equal(rd(s, SP805_LOAD), load);
	assert_int_equal(rd(s, SP805_CONTROL), SP805_CTL_INTEN | SP805_CTL_RESEN);
	/* Only the whole key unlocks. */
	{
		uint16_t half = (uint16_t)SP805_UNLOCK_KEY;

		sp805_io(s, SP805_LOCK, &half, 2, true);
		assert_int_equal(rd(s, SP805_LOCK), 1);
	}
	/* Time left as sp805_wdt computes it, VALUE + LOAD + 1 before the
	 * interrupt: 1.5 s after 0.5 s, less the tick the counter shows 0. */
	advance(&f, 500);
	assert_int_equal(rd(s, SP805_VALUE) + load + 1, 1499);
	/* Not fed: the action after 2 s, not before. */
	advance(&f, 1499);
	assert_int_equal(f.expiries, 0);
	advance(&f, 1);
	assert_int_equal(f.expiries, 1);
	assert_int_equal(f.count, 2000 / WATCHDOG_PERIOD_MS);
	/* Stop. */
	wr(s, SP805_LOCK, SP805_UNLOCK_KEY);
	wr(s, SP805_CONTROL, 0);
	wr(s, SP805_LOCK, 1);
	wr(s, SP805_INTCLR, 0); /* locked again: ignored */
	advance(&f, 100000);
	assert_int_equal(f.expiries, 1);
	sp805_destroy(s);
}

static void test_hostile_accesses(void **state)
{
	struct fake f;
	struct sp805 *s = make(&f);
	uint64_t q = ~0ull;
	uint32_t v = 0;

	(void)state;
	wr(s, SP805_LOAD, 0); /* the shortest period: one tick */
	wr(s, SP805_CONTROL, SP805_CTL_INTEN | SP805_CTL_RESEN);
	advance(&f, 1);
	assert_int_equal(rd(s, SP805_RIS), 1);
	advance(&f, 1);
	assert_int_equal(f.expiries, 1);
	/* A clock jump of years is one expiry, not a storm. */
	wr(s, SP805_INTCLR, 0);
	advance(&f, 100ull * 365 * 24 * 3600 * 1000);
	assert_int_equal(f.expiries, 2);
	sp805_io(s, SP805_LOAD, &q, 8, false);
	assert_int_equal(q, 0);
	sp805_io(s, SP805_LOAD, &q, 8, true);
	sp805_io(s, 0x1000, &v, 4, false);
	assert_int_equal(v, 0);
	v = 0xffffffff;
	sp805_io(s, SP805_LOAD + 2, &v, 4, true);
	assert_int_equal(rd(s, SP805_LOAD), 0);
	wr(s, SP805_RIS, 0);
	wr(s, SP805_VALUE, 7);
	wr(s, 0xf00, 1); /* integration test control: ignored */
	assert_int_equal(rd(s, 0xf00), 0);
	sp805_io(NULL, 0, &v, 4, false);
	sp805_io(s, 0, NULL, 4, false);
	sp805_tick(NULL);
	sp805_destroy(s);
}

static void real_expired(void *opaque, uint32_t count)
{
	(void)count;
	(*(volatile unsigned int *)opaque)++;
}

/* The host clock and the timer thread: a 20 ms pass resets after about
 * 40 ms with no access in between. */
static void test_real_timer(void **state)
{
	volatile unsigned int fired = 0;
	struct watchdog_ops w = { .expired = real_expired, .opaque = (void *)&fired };
	struct sp805 *s = NULL;

	(void)state;
	assert_int_equal(sp805_create(&s, 1000000, NULL, &w), 0);
	wr(s, SP805_LOAD, 20000 - 1);
	wr(s, SP805_CONTROL, SP805_CTL_INTEN | SP805_CTL_RESEN);
	for (int i = 0; i < 500 && !fired; i++)
		usleep(10000);
	assert_int_equal(fired, 1);
	assert_int_equal(rd(s, SP805_RIS), 1);
	sp805_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_reset),
		cmocka_unit_test(test_interrupt_then_reset),
		cmocka_unit_test(test_feeding_and_resen),
		cmocka_unit_test(test_linux_sequences_and_lock),
		cmocka_unit_test(test_hostile_accesses),
		cmocka_unit_test(test_real_timer),
	};

	return cmocka_run_group_tests_name("sp805", tests, NULL, NULL);
}
