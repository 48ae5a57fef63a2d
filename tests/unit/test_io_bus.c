#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "avp/io_bus.h"

struct probe {
	uint64_t last_offset;
	uint32_t last_len;
	bool last_write;
	unsigned int calls;
};

static void probe_handler(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct probe *p = opaque;

	p->last_offset = offset;
	p->last_len = len;
	p->last_write = is_write;
	p->calls++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void test_register_and_dispatch(void **state)
{
	struct io_bus bus = { 0 };
	struct probe p = { 0 };
	uint32_t v = 0;

	(void)state;
	assert_int_equal(io_bus_register(&bus, 0x3f8, 8, probe_handler, &p, "uart"), 0);
	assert_true(io_bus_dispatch(&bus, 0x3fd, &v, 1, false));
	assert_int_equal(p.last_offset, 5);
	assert_int_equal(v & 0xff, 0x5a);
	assert_true(io_bus_dispatch(&bus, 0x3f8, &v, 1, true));
	assert_true(p.last_write);
	assert_int_equal(p.calls, 2);
}

static void test_overlap_and_bad_ranges(void **state)
{
	struct io_bus bus = { 0 };
	struct probe p = { 0 };

	(void)state;
	assert_int_equal(io_bus_register(&bus, 0x100, 0x10, probe_handler, &p, "a"), 0);
	assert_int_equal(io_bus_register(&bus, 0x10f, 1, probe_handler, &p, "b"), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0xf8, 0x10, probe_handler, &p, "c"), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0x110, 0, probe_handler, &p, "d"), -EINVAL);
	assert_int_equal(io_bus_register(&bus, UINT64_MAX, 2, probe_handler, &p, "e"), -EINVAL);
	assert_int_equal(io_bus_register(&bus, 0x110, 1, probe_handler, &p, "f"), 0);
}

static void test_unclaimed_and_straddling(void **state)
{
	struct io_bus bus = { 0 };
	struct probe p = { 0 };
	uint32_t v = 0;

	(void)state;
	assert_int_equal(io_bus_register(&bus, 0x100, 4, probe_handler, &p, "a"), 0);
	assert_false(io_bus_dispatch(&bus, 0x200, &v, 4, false));
	assert_int_equal(v, 0xffffffffu); /* absent device reads all ones */
	v = 0;
	assert_false(io_bus_dispatch(&bus, 0x102, &v, 4, false)); /* runs past the range */
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(p.calls, 0);
}

static void test_full_bus(void **state)
{
	struct io_bus bus = { 0 };
	struct probe p = { 0 };

	(void)state;
	for (unsigned int i = 0; i < AVP_IO_BUS_MAX_RANGES; i++)
		assert_int_equal(io_bus_register(&bus, i * 16, 16, probe_handler, &p, "x"), 0);
	assert_int_equal(io_bus_register(&bus, 0x10000, 16, probe_handler, &p, "y"), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_dispatch),
		cmocka_unit_test(test_overlap_and_bad_ranges),
		cmocka_unit_test(test_unclaimed_and_straddling),
		cmocka_unit_test(test_full_bus),
	};

	return cmocka_run_group_tests_name("io_bus", tests, NULL, NULL);
}
