/* The checked guest-memory accessor: the one gate between guest addresses
 * and host pointers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "avp/guest_mem.h"

static uint8_t low[4096], high[8192];

static void setup_mem(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
	assert_int_equal(gm_add_region(gm, 0x0, sizeof(low), low), 0);
	assert_int_equal(gm_add_region(gm, 0x100000000ull, sizeof(high), high), 0);
}

static void test_inside_regions(void **state)
{
	struct guest_mem gm;

	(void)state;
	setup_mem(&gm);
	assert_ptr_equal(gm_ptr(&gm, 0, 4096), low);
	assert_ptr_equal(gm_ptr(&gm, 4095, 1), low + 4095);
	assert_ptr_equal(gm_ptr(&gm, 0x100000000ull + 10, 100), high + 10);
	assert_ptr_equal(gm_ptr(&gm, 4000, 0), low + 4000);
	assert_int_equal(gm.total_bytes, sizeof(low) + sizeof(high));
}

static void test_outside_and_straddling(void **state)
{
	struct guest_mem gm;
	uint8_t buf[16] = { 0 };

	(void)state;
	setup_mem(&gm);
	assert_null(gm_ptr(&gm, 4096, 1));		/* just past the end */
	assert_null(gm_ptr(&gm, 4090, 7));		/* straddles the end */
	assert_null(gm_ptr(&gm, 0x100000000ull - 1, 2)); /* straddles the gap */
	assert_null(gm_ptr(&gm, 0x100000000ull, 8193));
	assert_null(gm_ptr(&gm, UINT64_MAX, 1));
	assert_null(gm_ptr(&gm, 8, UINT64_MAX));	/* length that would wrap */
	assert_null(gm_ptr(&gm, 0x100000000ull + 8, UINT64_MAX - 4));
	assert_int_equal(gm_read(&gm, 4090, buf, 16), -EFAULT);
	assert_int_equal(gm_write(&gm, 0x200000000ull, buf, 1), -EFAULT);
}

static void test_copy_helpers(void **state)
{
	struct guest_mem gm;
	char out[6];

	(void)state;
	setup_mem(&gm);
	assert_int_equal(gm_write(&gm, 0x100000000ull + 100, "hello", 6), 0);
	assert_int_equal(gm_read(&gm, 0x100000000ull + 100, out, 6), 0);
	assert_string_equal(out, "hello");
	assert_memory_equal(high + 100, "hello", 6);
}

static void test_add_region_rules(void **state)
{
	struct guest_mem gm;
	static uint8_t extra[4096];

	(void)state;
	setup_mem(&gm);
	assert_int_equal(gm_add_region(&gm, 0x800, 4096, extra), -EINVAL); /* overlaps */
	assert_int_equal(gm_add_region(&gm, 0x10000, 0, extra), -EINVAL);
	assert_int_equal(gm_add_region(&gm, UINT64_MAX - 100, 4096, extra), -EINVAL);
	assert_int_equal(gm_add_region(&gm, 0x10000, 4096, NULL), -EINVAL);
	assert_int_equal(gm_add_region(&gm, 0x10000, 4096, extra), 0);
	assert_int_equal(gm_add_region(&gm, 0x20000, 4096, extra), 0);
	assert_int_equal(gm_add_region(&gm, 0x30000, 4096, extra), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inside_regions),
		cmocka_unit_test(test_outside_and_straddling),
		cmocka_unit_test(test_copy_helpers),
		cmocka_unit_test(test_add_region_rules),
	};

	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
