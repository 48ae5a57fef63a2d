/* KVM GSI routing for MSI vectors (src/hw/msi_routes.c) without KVM: GSIs
 * handed out in order from the first one, a bounded table, and the table
 * committed only when a route really changes (each KVM_SET_GSI_ROUTING
 * costs the guest an SRCU grace period). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>

#include "avp/hw/msi_routes.h"

static void test_alloc_and_commit(void **state)
{
	struct kvm_irq_routing_entry base[2] = {
		{ .gsi = 0, .type = KVM_IRQ_ROUTING_IRQCHIP },
		{ .gsi = 1, .type = KVM_IRQ_ROUTING_IRQCHIP },
	};
	struct msi_routes *r;
	uint32_t gsi;

	(void)state;
	assert_int_equal(msi_routes_create(-1, base, 2, 24, 3, &r), 0);
	assert_int_equal(msi_routes_alloc(r, &gsi), 0);
	assert_int_equal(gsi, 24);
	assert_int_equal(msi_routes_alloc(r, &gsi), 0);
	assert_int_equal(gsi, 25);
	/* A route for a GSI never handed out is refused. */
	assert_int_equal(msi_routes_set(r, 26, 0xfee00000, 0x41, 0), -EINVAL);
	assert_int_equal(msi_routes_set(r, 23, 0xfee00000, 0x41, 0), -EINVAL);
	assert_int_equal(msi_routes_commits(r), 0);
	assert_int_equal(msi_routes_set(r, 24, 0xfee00000, 0x41, 0), 0);
	assert_int_equal(msi_routes_commits(r), 1);
	/* The same message again: no commit. Another one: a commit. */
	assert_int_equal(msi_routes_set(r, 24, 0xfee00000, 0x41, 0), 0);
	assert_int_equal(msi_routes_commits(r), 1);
	assert_int_equal(msi_routes_set(r, 24, 0xfee01000, 0x41, 0), 0);
	assert_int_equal(msi_routes_commits(r), 2);
	assert_int_equal(msi_routes_set(r, 25, 0xfee00000, 0x42, 0), 0);
	assert_int_equal(msi_routes_commits(r), 3);
	/* The table is bounded. */
	assert_int_equal(msi_routes_alloc(r, &gsi), 0);
	assert_int_equal(msi_routes_alloc(r, &gsi), -ENOSPC);
	msi_routes_destroy(r);
}

static void test_create_errors(void **state)
{
	struct msi_routes *r;

	(void)state;
	assert_int_equal(msi_routes_create(-1, NULL, 0, 24, 0, &r), -EINVAL);
	assert_int_equal(msi_routes_create(-1, NULL, 0, 24, MSI_ROUTES_MAX + 1, &r), -EINVAL);
	assert_int_equal(msi_routes_create(-1, NULL, 3, 24, 4, &r), -EINVAL);
	assert_int_equal(msi_routes_create(-1, NULL, 0, UINT32_MAX - 1, 4, &r), -EINVAL);
	assert_int_equal(msi_signal(-1, NULL, 0xfee00000, 0, 0), -ENODEV);
	msi_routes_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_and_commit),
		cmocka_unit_test(test_create_errors),
	};

	return cmocka_run_group_tests_name("msi_routes", tests, NULL, NULL);
}
