/* The WDAT watchdog model on its own: registers after create, start and
 * expiry (exactly once, not before the countdown), refreshes that keep it
 * alive, stop, the FIRED status bit, RELOAD clamping, partial and
 * unaligned accesses, garbage, and destroy with a countdown running.
 * Timing checks use 100-500 ms countdowns and generous upper bounds so a
 * loaded machine (or ASan) does not make them flaky; the lower bounds are
 * exact because the model never fires before its deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avp/hw/watchdog.h"

struct events {
	atomic_uint expiries;
	atomic_uint last_count;
	_Atomic uint64_t fired_at_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void on_expired(void *opaque, uint32_t count)
{
	struct events *e = opaque;

	atomic_store(&e->last_count, count);
	atomic_store(&e->fired_at_ns, now_ns());
	atomic_fetch_add(&e->expiries, 1);
}

static struct watchdog *make(struct events *e, bool fired_before)
{
	struct watchdog_ops ops = { .expired = on_expired, .opaque = e };
	struct watchdog *w = NULL;

	memset(e, 0, sizeof(*e));
	assert_int_equal(watchdog_create(&w, &ops, fired_before), 0);
	assert_non_null(w);
	return w;
}

static uint32_t rd32(struct watchdog *w, unsigned int reg)
{
	uint8_t b[4] = { 0xaa, 0xaa, 0xaa, 0xaa };

	watchdog_io(w, reg, b, 4, false);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr32(struct watchdog *w, unsigned int reg, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	watchdog_io(w, reg, b, 4, true);
}

static void wr8(struct watchdog *w, unsigned int port, uint8_t v)
{
	watchdog_io(w, port, &v, 1, true);
}

/* Waits up to ms for n expiries in total. */
static bool wait_expiries(struct events *e, unsigned int n, unsigned int ms)
{
	for (unsigned int t = 0; t < ms; t += 5) {
		if (atomic_load(&e->expiries) >= n)
			return true;
		sleep_ms(5);
	}
	return atomic_load(&e->expiries) >= n;
}

static void test_registers_after_create(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);
	struct watchdog_state st;

	(void)state;
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL), WATCHDOG_CTL_REBOOT);
	assert_int_equal(rd32(w, WATCHDOG_REG_RELOAD), WATCHDOG_DEFAULT_COUNT);
	assert_int_equal(rd32(w, WATCHDOG_REG_COUNT), 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_REFRESH), 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), 0);
	watchdog_get_state(w, &st);
	assert_false(st.running);
	assert_false(st.fired);
	/* Stopped: nothing ever fires, however long we wait. */
	sleep_ms(150);
	assert_int_equal(atomic_load(&e.expiries), 0);
	watchdog_destroy(w);

	/* A VM restarted by its watchdog reports it at the next boot. */
	w = make(&e, true);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), WATCHDOG_STATUS_FIRED);
	watchdog_destroy(w);

	assert_int_equal(watchdog_create(NULL, NULL, false), -EINVAL);
	watchdog_destroy(NULL);
}

static void test_arm_and_expire_once(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);
	uint64_t t0;
	uint32_t c;

	(void)state;
	wr32(w, WATCHDOG_REG_RELOAD, 2); /* 200 ms */
	assert_int_equal(rd32(w, WATCHDOG_REG_RELOAD), 2);
	t0 = now_ns();
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL) & WATCHDOG_CTL_RUNNING,
			 WATCHDOG_CTL_RUNNING);
	c = rd32(w, WATCHDOG_REG_COUNT);
	assert_true(c >= 1 && c <= 2);

	assert_true(wait_expiries(&e, 1, 3000));
	/* Not one moment before the countdown ran out. */
	assert_true(atomic_load(&e.fired_at_ns) - t0 >= 2 * WATCHDOG_PERIOD_MS * 1000000ull);
	assert_int_equal(atomic_load(&e.last_count), 2);
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL) & WATCHDOG_CTL_RUNNING, 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), WATCHDOG_STATUS_FIRED);
	assert_int_equal(rd32(w, WATCHDOG_REG_COUNT), 0);

	/* Once: no second call, and a refresh of the fired watchdog does
	 * not re-arm it. */
	wr32(w, WATCHDOG_REG_REFRESH, WATCHDOG_REFRESH_KICK);
	sleep_ms(500);
	assert_int_equal(atomic_load(&e.expiries), 1);

	/* The guest may start it again; that is a new, separate expiry. */
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	assert_true(wait_expiries(&e, 2, 3000));
	sleep_ms(300);
	assert_int_equal(atomic_load(&e.expiries), 2);
	watchdog_destroy(w);
}

static void test_refresh_keeps_it_alive(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);
	struct watchdog_state st;
	uint64_t last;

	(void)state;
	wr32(w, WATCHDOG_REG_RELOAD, 5); /* 500 ms */
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	/* 1.5 s, three countdowns' worth, refreshed every 50 ms. */
	for (int i = 0; i < 30; i++) {
		sleep_ms(50);
		wr32(w, WATCHDOG_REG_REFRESH, WATCHDOG_REFRESH_KICK);
	}
	last = now_ns();
	assert_int_equal(atomic_load(&e.expiries), 0);
	watchdog_get_state(w, &st);
	assert_true(st.running);
	assert_int_equal(st.refreshes, 30);
	assert_true(st.count >= 4 && st.count <= 5);

	/* Feeding stops: it fires, a full countdown after the last refresh. */
	assert_true(wait_expiries(&e, 1, 3000));
	assert_true(atomic_load(&e.fired_at_ns) - last >= 5 * WATCHDOG_PERIOD_MS * 1000000ull - 1000000ull);
	watchdog_destroy(w);
}

static void test_refresh_takes_new_reload(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);
	uint64_t t0;

	(void)state;
	/* As Linux's WDIOC_SETTIMEOUT does: a running watchdog gets a new
	 * period, then a ping. The shorter period applies from the ping. */
	wr32(w, WATCHDOG_REG_RELOAD, 100); /* 10 s */
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	assert_true(rd32(w, WATCHDOG_REG_COUNT) > 90);
	wr32(w, WATCHDOG_REG_RELOAD, 2);
	assert_true(rd32(w, WATCHDOG_REG_COUNT) > 90); /* not yet */
	t0 = now_ns();
	wr32(w, WATCHDOG_REG_REFRESH, WATCHDOG_REFRESH_KICK);
	assert_true(rd32(w, WATCHDOG_REG_COUNT) <= 2);
	assert_true(wait_expiries(&e, 1, 3000));
	assert_true(atomic_load(&e.fired_at_ns) - t0 >= 2 * WATCHDOG_PERIOD_MS * 1000000ull);
	assert_int_equal(atomic_load(&e.last_count), 2);
	watchdog_destroy(w);
}

static void test_stop(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);

	(void)state;
	wr32(w, WATCHDOG_REG_RELOAD, 2);
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	sleep_ms(50);
	wr32(w, WATCHDOG_REG_CONTROL, 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL), WATCHDOG_CTL_REBOOT);
	assert_int_equal(rd32(w, WATCHDOG_REG_COUNT), 0);
	sleep_ms(500);
	assert_int_equal(atomic_load(&e.expiries), 0);
	/* Refreshing a stopped watchdog does not start it. */
	wr32(w, WATCHDOG_REG_REFRESH, WATCHDOG_REFRESH_KICK);
	sleep_ms(300);
	assert_int_equal(atomic_load(&e.expiries), 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), 0);
	watchdog_destroy(w);
}

static void test_status_and_reload_rules(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, true);

	(void)state;
	/* FIRED is write-1-to-clear. */
	wr32(w, WATCHDOG_REG_STATUS, 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), WATCHDOG_STATUS_FIRED);
	wr32(w, WATCHDOG_REG_STATUS, WATCHDOG_STATUS_FIRED);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), 0);

	/* RELOAD stays within [MIN, MAX]. */
	wr32(w, WATCHDOG_REG_RELOAD, 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_RELOAD), WATCHDOG_MIN_COUNT);
	wr32(w, WATCHDOG_REG_RELOAD, 0xffffffffu);
	assert_int_equal(rd32(w, WATCHDOG_REG_RELOAD), WATCHDOG_MAX_COUNT);
	/* A byte write changes that byte only. */
	wr32(w, WATCHDOG_REG_RELOAD, 0x1234);
	wr8(w, WATCHDOG_REG_RELOAD, 0x56);
	assert_int_equal(rd32(w, WATCHDOG_REG_RELOAD), 0x1256);
	wr8(w, WATCHDOG_REG_RELOAD + 1, 0x01);
	assert_int_equal(rd32(w, WATCHDOG_REG_RELOAD), 0x0156);

	/* REBOOT is fixed; COUNT is read-only; REFRESH reads 0. */
	wr32(w, WATCHDOG_REG_CONTROL, 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL), WATCHDOG_CTL_REBOOT);
	wr32(w, WATCHDOG_REG_COUNT, 1234);
	assert_int_equal(rd32(w, WATCHDOG_REG_COUNT), 0);
	assert_int_equal(rd32(w, WATCHDOG_REG_REFRESH), 0);

	/* A preserving read-modify-write of CONTROL, as WDAT's
	 * SET_RUNNING_STATE with PRESERVE_REGISTER does, starts it and keeps
	 * REBOOT. */
	wr32(w, WATCHDOG_REG_RELOAD, WATCHDOG_MAX_COUNT);
	wr32(w, WATCHDOG_REG_CONTROL, rd32(w, WATCHDOG_REG_CONTROL) | WATCHDOG_CTL_RUNNING);
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL), WATCHDOG_CTL_RUNNING | WATCHDOG_CTL_REBOOT);
	wr32(w, WATCHDOG_REG_CONTROL, rd32(w, WATCHDOG_REG_CONTROL) & ~WATCHDOG_CTL_RUNNING);
	assert_int_equal(rd32(w, WATCHDOG_REG_CONTROL), WATCHDOG_CTL_REBOOT);
	watchdog_destroy(w);
}

static void test_wide_and_unaligned_access(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, true);
	struct watchdog_state st;
	uint8_t b[8];

	(void)state;
	wr32(w, WATCHDOG_REG_RELOAD, 0x0a0b);
	/* 8 bytes from 0: CONTROL then RELOAD. */
	memset(b, 0xcc, sizeof(b));
	watchdog_io(w, 0, b, 8, false);
	assert_memory_equal(b, ((uint8_t[]){ 0x02, 0, 0, 0, 0x0b, 0x0a, 0, 0 }), 8);
	/* 2 bytes at 3: CONTROL's top byte and RELOAD's bottom one. */
	memset(b, 0xcc, sizeof(b));
	watchdog_io(w, 3, b, 2, false);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 0x0b);
	/* Past the last register: reads 0, writes go nowhere. */
	memset(b, 0xcc, sizeof(b));
	watchdog_io(w, WATCHDOG_REG_STATUS + 2, b, 4, false);
	assert_memory_equal(b, ((uint8_t[]){ 0, 0, 0, 0 }), 4);
	memset(b, 0xff, sizeof(b));
	watchdog_io(w, WATCHDOG_NPORTS, b, 4, true);
	watchdog_io(w, UINT64_MAX - 1, b, 4, true);
	watchdog_io(w, UINT64_MAX - 1, b, 4, false);
	/* 2 bytes at 0x0f: REFRESH's top byte (bit 0 of the register not
	 * written: no refresh) and STATUS's low byte (clears FIRED). */
	wr32(w, WATCHDOG_REG_RELOAD, WATCHDOG_MAX_COUNT);
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), WATCHDOG_STATUS_FIRED);
	watchdog_io(w, 0x0f, (uint8_t[]){ 0x01, 0x01 }, 2, true);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), 0);
	watchdog_get_state(w, &st);
	assert_int_equal(st.refreshes, 0);
	watchdog_io(NULL, 0, b, 4, false);
	watchdog_io(w, 0, NULL, 4, false);
	watchdog_destroy(w);
}

/* Garbage of every width at every offset: no crash, no hang, and the
 * device still works afterwards. */
static void test_garbage(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);
	unsigned int seed = 12345;
	uint8_t b[8];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		static const uint32_t widths[] = { 1, 2, 4, 8 };
		uint32_t len = widths[rand_r(&seed) % 4];
		uint64_t off = (uint64_t)(rand_r(&seed) % (WATCHDOG_NPORTS + 4));

		for (uint32_t k = 0; k < len; k++)
			b[k] = (uint8_t)rand_r(&seed);
		watchdog_io(w, off, b, len, (rand_r(&seed) & 1) != 0);
	}
	/* Whatever state that left: stop, clear, and do a clean cycle. */
	wr32(w, WATCHDOG_REG_CONTROL, 0);
	wr32(w, WATCHDOG_REG_STATUS, WATCHDOG_STATUS_FIRED);
	sleep_ms(50);
	atomic_store(&e.expiries, 0);
	wr32(w, WATCHDOG_REG_RELOAD, 1);
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	assert_true(wait_expiries(&e, 1, 3000));
	assert_int_equal(atomic_load(&e.last_count), 1);
	assert_int_equal(rd32(w, WATCHDOG_REG_STATUS), WATCHDOG_STATUS_FIRED);
	watchdog_destroy(w);
}

static void test_destroy_while_running(void **state)
{
	struct events e;
	struct watchdog *w = make(&e, false);
	uint64_t t0;

	(void)state;
	wr32(w, WATCHDOG_REG_RELOAD, WATCHDOG_MAX_COUNT);
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	t0 = now_ns();
	watchdog_destroy(w); /* must not wait for the hour-long countdown */
	assert_true(now_ns() - t0 < 2000000000ull);
	assert_int_equal(atomic_load(&e.expiries), 0);

	/* And with a countdown about to run out: no call after destroy. */
	w = make(&e, false);
	wr32(w, WATCHDOG_REG_RELOAD, 1);
	wr32(w, WATCHDOG_REG_CONTROL, WATCHDOG_CTL_RUNNING);
	sleep_ms(95);
	watchdog_destroy(w);
	{
		unsigned int n = atomic_load(&e.expiries);

		sleep_ms(200);
		assert_int_equal(atomic_load(&e.expiries), n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers_after_create),
		cmocka_unit_test(test_arm_and_expire_once),
		cmocka_unit_test(test_refresh_keeps_it_alive),
		cmocka_unit_test(test_refresh_takes_new_reload),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_status_and_reload_rules),
		cmocka_unit_test(test_wide_and_unaligned_access),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_destroy_while_running),
	};

	return cmocka_run_group_tests_name("watchdog", tests, NULL, NULL);
}
