/* Shared device-model test fixture (hw_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <time.h>

#include "support/hw_fixture.h"

void irq_log_set(void *opaque, int level)
{
	struct irq_log *l = opaque;

	assert_true(level == 0 || level == 1);
	assert_int_not_equal(level, l->level); /* changes only */
	if (level)
		l->rises++;
	else
		l->falls++;
	l->level = level;
}

void irq_log_output(void *opaque)
{
	struct irq_log *l = opaque;

	l->outputs++;
}

uint64_t fake_clock_now(void *opaque)
{
	return ((struct fake_clock *)opaque)->now;
}

void fake_clock_irq(void *opaque, int level)
{
	struct fake_clock *c = opaque;

	assert_int_not_equal(level, c->level);
	c->level = level;
	c->changes++;
}

double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint32_t hw_rd32(hw_io_fn *io, void *dev, unsigned int reg)
{
	uint32_t v = 0xdeadbeef;

	io(dev, reg, &v, 4, false);
	return v;
}

void hw_wr32(hw_io_fn *io, void *dev, unsigned int reg, uint32_t v)
{
	io(dev, reg, &v, 4, true);
}

void assert_primecell_ids(hw_io_fn *io, void *dev, uint32_t periph_id)
{
	uint32_t periph = 0, cell = 0;

	/* drivers/amba/bus.c: the low byte of each word, 8 bits apart. */
	for (unsigned int i = 0; i < 4; i++) {
		uint32_t p = hw_rd32(io, dev, 0xfe0 + 4 * i), c = hw_rd32(io, dev, 0xff0 + 4 * i);

		assert_int_equal(p >> 8, 0);
		assert_int_equal(c >> 8, 0);
		periph |= p << (8 * i);
		cell |= c << (8 * i);
	}
	assert_int_equal(periph, periph_id);
	assert_int_equal(cell, 0xb105f00d);
}
