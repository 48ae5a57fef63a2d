/* PL061 model: IDs and reset, GPIODATA's address mask on reads and
 * writes, outputs against inputs, edge (rising, falling, both) and level
 * interrupts, GPIOIC, the power button as Linux's pl061 + gpio-keys drive
 * it (both edges), and hostile accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avp/hw/pl061.h"
#include "support/hw_fixture.h"

static uint32_t rd(struct pl061 *g, unsigned int reg)
{
	return hw_rd32(pl061_io, g, reg);
}

static void wr(struct pl061 *g, unsigned int reg, uint32_t v)
{
	hw_wr32(pl061_io, g, reg, v);
}

/* GPIODATA at the address that unmasks exactly `mask`. */
static unsigned int data_at(uint8_t mask)
{
	return PL061_DATA + ((unsigned int)mask << 2);
}

static struct pl061 *make(struct irq_log *l)
{
	struct pl061 *g = NULL;
	struct pl061_ops ops = { .set_irq = irq_log_set, .opaque = l };

	memset(l, 0, sizeof(*l));
	assert_int_equal(pl061_create(&g, &ops), 0);
	return g;
}

static void test_ids_and_reset(void **state)
{
	struct irq_log l;
	struct pl061 *g = make(&l);

	(void)state;
	assert_primecell_ids(pl061_io, g, 0x00041061);
	for (unsigned int r = PL061_DIR; r <= PL061_AFSEL; r += 4)
		assert_int_equal(rd(g, r), 0);
	assert_int_equal(rd(g, data_at(0xff)), 0);
	pl061_destroy(g);
}

static void test_data_mask(void **state)
{
	struct irq_log l;
	struct pl061 *g = make(&l);

	(void)state;
	wr(g, PL061_DIR, 0x0f); /* lines 0-3 out, 4-7 in */
	assert_int_equal(rd(g, PL061_DIR), 0x0f);
	/* A write reaches only the lines its address unmasks. */
	wr(g, data_at(0xff), 0xff);
	assert_int_equal(rd(g, data_at(0xff)), 0x0f); /* inputs read their pins: 0 */
	wr(g, data_at(0x02), 0x00);
	assert_int_equal(rd(g, data_at(0xff)), 0x0d);
	wr(g, data_at(0x00), 0x00); /* masks everything: no change */
	assert_int_equal(rd(g, data_at(0xff)), 0x0d);
	/* A read returns 0 for the lines its address masks. */
	assert_int_equal(rd(g, data_at(0x04)), 0x04);
	assert_int_equal(rd(g, data_at(0x02)), 0x00);
	assert_int_equal(rd(g, data_at(0xf0)), 0x00);
	/* Inputs read what the platform drives; writes do not reach them. */
	assert_int_equal(pl061_set_input(g, 6, 1), 0);
	assert_int_equal(rd(g, data_at(0xff)), 0x4d);
	wr(g, data_at(0x40), 0x00);
	assert_int_equal(rd(g, data_at(0x40)), 0x40);
	/* Turning a line to output shows the value written before. */
	wr(g, PL061_DIR, 0x4f);
	assert_int_equal(rd(g, data_at(0x40)), 0x00);
	assert_int_equal(pl061_set_input(g, 8, 1), -EINVAL);
	assert_int_equal(pl061_set_input(NULL, 0, 1), -EINVAL);
	pl061_destroy(g);
}

static void test_edge_interrupts(void **state)
{
	struct irq_log l;
	struct pl061 *g = make(&l);

	(void)state;
	/* Line 0 rising, line 1 falling, line 2 both edges. */
	wr(g, PL061_IEV, 0x01);
	wr(g, PL061_IBE, 0x04);
	wr(g, PL061_IE, 0x07);
	pl061_set_input(g, 0, 1);
	assert_int_equal(rd(g, PL061_RIS), 0x01);
	assert_int_equal(l.level, 1);
	pl061_set_input(g, 0, 0); /* falling on a rising line: nothing new */
	assert_int_equal(rd(g, PL061_RIS), 0x01);
	wr(g, PL061_IC, 0x01);
	assert_int_equal(rd(g, PL061_RIS), 0);
	assert_int_equal(l.level, 0);
	pl061_set_input(g, 1, 1);
	assert_int_equal(rd(g, PL061_RIS), 0);
	pl061_set_input(g, 1, 0);
	assert_int_equal(rd(g, PL061_RIS), 0x02);
	wr(g, PL061_IC, 0x02);
	pl061_set_input(g, 2, 1);
	assert_int_equal(rd(g, PL061_RIS), 0x04);
	wr(g, PL061_IC, 0x04);
	pl061_set_input(g, 2, 0);
	assert_int_equal(rd(g, PL061_RIS), 0x04);
	wr(g, PL061_IC, 0xff);
	assert_int_equal(l.level, 0);
	/* Masked: RIS latches, MIS and the line do not. */
	wr(g, PL061_IE, 0x00);
	pl061_set_input(g, 0, 1);
	assert_int_equal(rd(g, PL061_RIS), 0x01);
	assert_int_equal(rd(g, PL061_MIS), 0x00);
	assert_int_equal(l.level, 0);
	wr(g, PL061_IE, 0x01);
	assert_int_equal(rd(g, PL061_MIS), 0x01);
	assert_int_equal(l.level, 1);
	/* An output's own edges count too. */
	wr(g, PL061_IC, 0xff);
	wr(g, PL061_DIR, 0x80);
	wr(g, PL061_IEV, 0x80);
	wr(g, PL061_IE, 0x80);
	wr(g, data_at(0x80), 0x80);
	assert_int_equal(rd(g, PL061_MIS), 0x80);
	pl061_destroy(g);
}

static void test_level_interrupts(void **state)
{
	struct irq_log l;
	struct pl061 *g = make(&l);

	(void)state;
	wr(g, PL061_IS, 0x30); /* lines 4, 5 level */
	wr(g, PL061_IEV, 0x10); /* 4 high-active, 5 low-active */
	assert_int_equal(rd(g, PL061_RIS), 0x20); /* line 5 is low now */
	wr(g, PL061_IE, 0x30);
	assert_int_equal(l.level, 1);
	/* GPIOIC does not clear a level that persists. */
	wr(g, PL061_IC, 0x20);
	assert_int_equal(rd(g, PL061_RIS), 0x20);
	pl061_set_input(g, 5, 1);
	assert_int_equal(rd(g, PL061_RIS), 0x00);
	assert_int_equal(l.level, 0);
	pl061_set_input(g, 4, 1);
	assert_int_equal(rd(g, PL061_MIS), 0x10);
	pl061_set_input(g, 4, 0);
	assert_int_equal(rd(g, PL061_MIS), 0x00);
	assert_int_equal(l.rises, 2);
	pl061_destroy(g);
}

/* drivers/gpio/gpio-pl061.c for gpio-keys' IRQ_TYPE_EDGE_BOTH: IS 0,
 * IBE 1, IE 1 on the line; gpio-keys then reads the line's value. */
static void test_power_button_as_linux_sees_it(void **state)
{
	struct irq_log l;
	struct pl061 *g = make(&l);
	uint8_t bit = 1u << PL061_POWER_LINE;
	uint8_t b = 0;

	(void)state;
	wr(g, PL061_DIR, rd(g, PL061_DIR) & ~bit);
	wr(g, PL061_IS, rd(g, PL061_IS) & ~bit);
	wr(g, PL061_IBE, rd(g, PL061_IBE) | bit);
	wr(g, PL061_IE, rd(g, PL061_IE) | bit);
	/* Press: an interrupt, the line reads 1 through its own mask. */
	pl061_set_input(g, PL061_POWER_LINE, 1);
	assert_int_equal(l.level, 1);
	assert_int_equal(rd(g, PL061_MIS), bit);
	pl061_io(g, data_at(bit), &b, 1, false);
	assert_int_equal(b, bit);
	wr(g, PL061_IC, bit);
	assert_int_equal(l.level, 0);
	/* Release: another interrupt, the line reads 0. */
	pl061_set_input(g, PL061_POWER_LINE, 0);
	assert_int_equal(l.level, 1);
	assert_int_equal(rd(g, data_at(bit)), 0);
	wr(g, PL061_IC, bit);
	assert_int_equal(l.rises, 2);
	pl061_destroy(g);
}

/* pl061_press: down at once, released by the device's thread after
 * PL061_PRESS_MS, long enough for gpio-keys' debounce to read it down. */
static void test_press_releases(void **state)
{
	struct irq_log l = { 0 };
	struct pl061_ops ops = { .set_irq = irq_log_set, .buttons = true, .opaque = &l };
	struct pl061 *g = NULL;
	uint8_t bit = 1u << PL061_POWER_LINE;
	double t0, held;

	(void)state;
	/* Without ops->buttons there is no thread to release a press. */
	g = make(&l);
	assert_int_equal(pl061_press(g, PL061_POWER_LINE), -ENOTSUP);
	assert_int_equal(rd(g, data_at(bit)), 0);
	pl061_destroy(g);
	assert_int_equal(pl061_create(&g, &ops), 0);
	wr(g, PL061_IBE, bit);
	wr(g, PL061_IE, bit);
	t0 = mono_s();
	assert_int_equal(pl061_press(g, PL061_POWER_LINE), 0);
	assert_int_equal(rd(g, data_at(bit)), bit);
	assert_int_equal(l.rises, 1);
	wr(g, PL061_IC, bit);
	while (rd(g, data_at(bit)) && mono_s() - t0 < 10)
		usleep(1000);
	held = mono_s() - t0;
	assert_int_equal(rd(g, data_at(bit)), 0);
	assert_true(held >= PL061_PRESS_MS / 1000.0 * 0.9);
	/* The release is an edge too. */
	assert_int_equal(rd(g, PL061_MIS), bit);
	assert_int_equal(l.rises, 2);
	assert_int_equal(pl061_press(g, PL061_NLINES), -EINVAL);
	assert_int_equal(pl061_press(NULL, 0), -EINVAL);
	/* Destroyed while held down: no release after it. */
	assert_int_equal(pl061_press(g, 0), 0);
	pl061_destroy(g);
}

static void test_hostile_accesses(void **state)
{
	struct irq_log l;
	struct pl061 *g = make(&l);
	uint64_t q = ~0ull;
	uint32_t v;

	(void)state;
	wr(g, PL061_DIR, 0x12);
	pl061_io(g, PL061_DIR, &q, 8, false);
	assert_int_equal(q, 0);
	pl061_io(g, PL061_DIR, &q, 8, true);
	v = 0xffffffff;
	pl061_io(g, PL061_DIR + 2, &v, 4, true);
	v = 0xffffffff;
	pl061_io(g, PL061_DIR + 1, &v, 1, true); /* a byte lane with no bits */
	assert_int_equal(rd(g, PL061_DIR), 0x12);
	wr(g, PL061_DIR, 0xabcdef12);
	assert_int_equal(rd(g, PL061_DIR), 0x12); /* 8 bits wide */
	pl061_io(g, 0x1000, &v, 4, false);
	assert_int_equal(v, 0);
	pl061_io(g, 0x800, &v, 4, false);
	assert_int_equal(v, 0);
	wr(g, PL061_RIS, 0xff);
	wr(g, PL061_MIS, 0xff);
	assert_int_equal(rd(g, PL061_RIS), 0);
	pl061_io(NULL, 0, &v, 4, false);
	pl061_io(g, 0, NULL, 4, true);
	pl061_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_reset),
		cmocka_unit_test(test_data_mask),
		cmocka_unit_test(test_edge_interrupts),
		cmocka_unit_test(test_level_interrupts),
		cmocka_unit_test(test_power_button_as_linux_sees_it),
		cmocka_unit_test(test_press_releases),
		cmocka_unit_test(test_hostile_accesses),
	};

	return cmocka_run_group_tests_name("pl061", tests, NULL, NULL);
}
