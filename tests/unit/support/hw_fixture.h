/* What the device-model tests (16550, PL011, PL031, PL061, SP805) share:
 * an interrupt line that records its changes, an output counter, a fake
 * clock for the clocked PrimeCells, 32-bit register access through a
 * model's io handler, and the PrimeCell ID check Linux's AMBA bus makes.
 * The callbacks assert with cmocka, so they fail the test that runs them. */
#ifndef AVP_TEST_HW_FIXTURE_H
#define AVP_TEST_HW_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

/* The fields are volatile: a device thread (PL061 release, UART writer)
 * may call back while the test polls the device. */
struct irq_log {
	volatile int level;
	volatile unsigned int rises, falls, outputs;
};

/* set_irq: asserts a 0/1 level that differs from the last (a model
 * signals changes only) and counts the edges. opaque is a struct irq_log. */
void irq_log_set(void *opaque, int level);
/* output: counts the notifications. opaque is a struct irq_log. */
void irq_log_output(void *opaque);

/* A clock the test moves by hand, and an interrupt line that counts its
 * changes (asserting, like irq_log_set, that each is one). */
struct fake_clock {
	uint64_t now;
	int level;
	unsigned int changes;
};

uint64_t fake_clock_now(void *opaque);
void fake_clock_irq(void *opaque, int level);

/* CLOCK_MONOTONIC in seconds, for the tests' deadlines. */
double mono_s(void);

typedef void hw_io_fn(void *dev, uint64_t offset, void *data, uint32_t len, bool is_write);

/* A 32-bit read (0xdeadbeef if the model leaves it untouched) and write. */
uint32_t hw_rd32(hw_io_fn *io, void *dev, unsigned int reg);
void hw_wr32(hw_io_fn *io, void *dev, unsigned int reg, uint32_t v);

/* The eight ID registers: periph_id and the PrimeCell cell ID 0xb105f00d,
 * a byte per register with the upper 24 bits zero. */
void assert_primecell_ids(hw_io_fn *io, void *dev, uint32_t periph_id);

#endif
