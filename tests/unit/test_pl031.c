/* PL031 model: IDs, the counter as host time plus the offset the load
 * register sets, the match interrupt on a fake clock (raised exactly when
 * the counter reaches MR, masked by IMSC, cleared by ICR), the start bit,
 * hostile accesses, and the real timer thread raising an alarm on time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avp/hw/pl031.h"
#include "support/hw_fixture.h"

#define NS 1000000000ull

static uint32_t rd(struct pl031 *r, unsigned int reg)
{
	return hw_rd32(pl031_io, r, reg);
}

static void wr(struct pl031 *r, unsigned int reg, uint32_t v)
{
	hw_wr32(pl031_io, r, reg, v);
}

static struct pl031 *make(struct fake_clock *f, uint64_t start)
{
	struct pl031 *r = NULL;
	struct pl031_ops ops = { .set_irq = fake_clock_irq, .now_ns = fake_clock_now, .opaque = f };

	memset(f, 0, sizeof(*f));
	f->now = start;
	assert_int_equal(pl031_create(&r, &ops), 0);
	return r;
}

static void test_ids_and_counter(void **state)
{
	struct fake_clock f;
	struct pl031 *r = make(&f, 1700000000ull * NS + 123);

	(void)state;
	assert_primecell_ids(pl031_io, r, 0x00041031);

	/* Host time, whole seconds. */
	assert_int_equal(rd(r, PL031_DR), 1700000000u);
	f.now += NS - 124;
	assert_int_equal(rd(r, PL031_DR), 1700000000u);
	f.now += 1;
	assert_int_equal(rd(r, PL031_DR), 1700000001u);
	assert_int_equal(pl031_offset(r), 0);

	/* LR sets the counter; it keeps counting with the host. */
	wr(r, PL031_LR, 1000);
	assert_int_equal(rd(r, PL031_DR), 1000);
	assert_int_equal(rd(r, PL031_LR), 1000);
	assert_int_equal(pl031_offset(r), 1000 - 1700000001ll);
	f.now += 5 * NS;
	assert_int_equal(rd(r, PL031_DR), 1005);
	/* DR is read-only. */
	wr(r, PL031_DR, 7);
	assert_int_equal(rd(r, PL031_DR), 1005);

	/* CR: start sticks once set. */
	assert_int_equal(rd(r, PL031_CR), 0);
	wr(r, PL031_CR, 0xffffffff);
	assert_int_equal(rd(r, PL031_CR), 1);
	wr(r, PL031_CR, 0);
	assert_int_equal(rd(r, PL031_CR), 1);
	assert_int_equal(f.changes, 0);
	pl031_destroy(r);
}

static void test_match_interrupt(void **state)
{
	struct fake_clock f;
	struct pl031 *r = make(&f, 50 * NS + NS / 2);

	(void)state;
	wr(r, PL031_LR, 100); /* counter 100 at 50.5 s host time */
	wr(r, PL031_MR, 103);
	wr(r, PL031_IMSC, 1);
	assert_int_equal(rd(r, PL031_IMSC), 1);
	assert_int_equal(rd(r, PL031_MR), 103);
	/* 102 at 52.x s: not yet. */
	f.now = 52 * NS + NS - 1;
	pl031_tick(r);
	assert_int_equal(rd(r, PL031_RIS), 0);
	assert_int_equal(f.level, 0);
	/* 103 at 53.0 s exactly. */
	f.now = 53 * NS;
	pl031_tick(r);
	assert_int_equal(f.level, 1);
	assert_int_equal(rd(r, PL031_RIS), 1);
	assert_int_equal(rd(r, PL031_MIS), 1);
	/* Masking lowers the line, RIS stays; ICR clears it. */
	wr(r, PL031_IMSC, 0);
	assert_int_equal(f.level, 0);
	assert_int_equal(rd(r, PL031_RIS), 1);
	assert_int_equal(rd(r, PL031_MIS), 0);
	wr(r, PL031_IMSC, 1);
	assert_int_equal(f.level, 1);
	wr(r, PL031_ICR, 1);
	assert_int_equal(f.level, 0);
	assert_int_equal(rd(r, PL031_RIS), 0);
	/* One match per setting: the counter passing on raises nothing. */
	f.now += 10 * NS;
	pl031_tick(r);
	assert_int_equal(rd(r, PL031_RIS), 0);

	/* A match found by a register access (no tick), even a late one. */
	wr(r, PL031_MR, rd(r, PL031_DR) + 2);
	f.now += 30 * NS;
	assert_int_equal(rd(r, PL031_RIS), 1);
	assert_int_equal(f.level, 1);
	wr(r, PL031_ICR, 1);

	/* MR equal to the counter matches at once. */
	wr(r, PL031_MR, rd(r, PL031_DR));
	assert_int_equal(rd(r, PL031_RIS), 1);
	wr(r, PL031_ICR, 1);

	/* A match in the past is not raised; moving the counter with LR
	 * before it makes it come. */
	wr(r, PL031_MR, 5000);
	wr(r, PL031_LR, 6000);
	f.now += 5 * NS;
	pl031_tick(r);
	assert_int_equal(rd(r, PL031_RIS), 0);
	wr(r, PL031_LR, 4999);
	f.now += NS;
	pl031_tick(r);
	assert_int_equal(rd(r, PL031_RIS), 1);
	pl031_destroy(r);
}

static void test_hostile_accesses(void **state)
{
	struct fake_clock f;
	struct pl031 *r = make(&f, 10 * NS);
	uint64_t q = ~0ull;
	uint32_t v;

	(void)state;
	wr(r, PL031_MR, 0x11223344);
	pl031_io(r, PL031_MR, &q, 8, false);
	assert_int_equal(q, 0);
	pl031_io(r, PL031_MR, &q, 8, true);
	v = 0xffffffff;
	pl031_io(r, PL031_MR + 2, &v, 4, true);
	v = 0xffffffff;
	pl031_io(r, 0x1000, &v, 4, false);
	assert_int_equal(v, 0);
	pl031_io(r, 0x40, &v, 4, false);
	assert_int_equal(v, 0);
	assert_int_equal(rd(r, PL031_MR), 0x11223344);
	/* Narrow writes merge. */
	{
		uint8_t b = 0xaa;

		pl031_io(r, PL031_MR + 3, &b, 1, true);
		assert_int_equal(rd(r, PL031_MR), 0xaa223344);
	}
	wr(r, PL031_RIS, 1);
	wr(r, PL031_MIS, 1);
	assert_int_equal(rd(r, PL031_RIS), 0);
	wr(r, 0xfe0, 0);
	assert_int_equal(rd(r, 0xfe0), 0x31);
	pl031_io(NULL, 0, &v, 4, false);
	pl031_io(r, 0, NULL, 4, false);
	pl031_tick(NULL);
	/* A host clock at the end of its range: a match beyond it is never
	 * raised (the arithmetic must not wrap into "now"). */
	f.now = UINT64_MAX - 2 * NS;
	wr(r, PL031_ICR, 1);
	wr(r, PL031_MR, rd(r, PL031_DR) + 100);
	pl031_tick(r);
	assert_int_equal(rd(r, PL031_RIS), 0);
	pl031_destroy(r);
}

static void real_irq(void *opaque, int level)
{
	*(volatile int *)opaque = level;
}

/* With the host clock, the timer thread raises an alarm 1-2 s ahead. */
static void test_real_timer(void **state)
{
	volatile int level = 0;
	struct pl031_ops ops = { .set_irq = real_irq, .opaque = (void *)&level };
	struct pl031 *r = NULL;
	struct timespec t0, t1;
	double waited;

	(void)state;
	assert_int_equal(pl031_create(&r, &ops), 0);
	wr(r, PL031_IMSC, 1);
	wr(r, PL031_MR, rd(r, PL031_DR) + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 500 && !level; i++)
		usleep(10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(level, 1);
	assert_true(waited <= 2.5);
	pl031_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_counter),
		cmocka_unit_test(test_match_interrupt),
		cmocka_unit_test(test_hostile_accesses),
		cmocka_unit_test(test_real_timer),
	};

	return cmocka_run_group_tests_name("pl031", tests, NULL, NULL);
}
