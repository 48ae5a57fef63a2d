/* The device interrupt allocator (avp/irq_alloc.h) and the VM's use of it:
 * numbers in range order, blocks inside one range, bad ranges refused,
 * and running out of windows or interrupts reported with the cap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp/irq_alloc.h"
#include "avp/vm.h"

static void test_single_numbers_in_range_order(void **state)
{
	static const struct irq_range r[] = { { 40, 2 }, { 10, 1 }, { 20, 3 } };
	static const uint32_t want[] = { 40, 41, 10, 20, 21, 22 };
	struct irq_alloc a;
	uint32_t irq = 0;

	(void)state;
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_SPI, r, 3), 0);
	assert_int_equal(a.capacity, 6);
	for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(irq_alloc_get(&a, 1, &irq), 0);
		assert_int_equal(irq, want[i]);
	}
	assert_int_equal(a.allocated, 6);
	irq = 12345;
	assert_int_equal(irq_alloc_get(&a, 1, &irq), -ENOSPC);
	assert_int_equal(irq, 12345); /* untouched on failure */
}

static void test_blocks_stay_in_one_range(void **state)
{
	static const struct irq_range r[] = { { 0, 3 }, { 8, 8 } };
	struct irq_alloc a;
	uint32_t first = 0;

	(void)state;
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_MSI, r, 2), 0);
	assert_int_equal(irq_alloc_get(&a, 2, &first), 0);
	assert_int_equal(first, 0);
	/* 2 is left in the first range: a block of 4 goes to the second. */
	assert_int_equal(irq_alloc_get(&a, 4, &first), 0);
	assert_int_equal(first, 8);
	assert_int_equal(irq_alloc_get(&a, 4, &first), 0);
	assert_int_equal(first, 12);
	assert_int_equal(irq_alloc_get(&a, 1, &first), -ENOSPC);
	assert_int_equal(irq_alloc_get(&a, 0, &first), -EINVAL);
	/* Larger than any range. */
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_MSI, r, 2), 0);
	assert_int_equal(irq_alloc_get(&a, 9, &first), -ENOSPC);
	assert_int_equal(irq_alloc_get(&a, 8, &first), 0);
	assert_int_equal(first, 8);
}

static void test_bad_ranges(void **state)
{
	static const struct irq_range overlap[] = { { 5, 3 }, { 7, 2 } };
	static const struct irq_range empty[] = { { 5, 0 } };
	static const struct irq_range wrap[] = { { UINT32_MAX, 2 } };
	static const struct irq_range top[] = { { UINT32_MAX, 1 } };
	struct irq_range many[IRQ_ALLOC_MAX_RANGES + 1];
	struct irq_alloc a;
	uint32_t irq;

	(void)state;
	for (unsigned int i = 0; i < IRQ_ALLOC_MAX_RANGES + 1; i++)
		many[i] = (struct irq_range){ .first = 10 * i, .count = 1 };
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, overlap, 2), -EINVAL);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, empty, 1), -EINVAL);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, wrap, 1), -EINVAL);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, many, 0), -EINVAL);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, NULL, 1), -EINVAL);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, many, IRQ_ALLOC_MAX_RANGES + 1), -EINVAL);
	/* A refused feed hands out nothing. */
	assert_int_equal(irq_alloc_get(&a, 1, &irq), -ENOSPC);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, many, IRQ_ALLOC_MAX_RANGES), 0);
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, top, 1), 0);
	assert_int_equal(irq_alloc_get(&a, 1, &irq), 0);
	assert_int_equal(irq, UINT32_MAX);
}

static void test_format(void **state)
{
	static const struct irq_range r[] = { { 5, 3 }, { 9, 1 }, { 14, 10 } };
	struct irq_alloc a;
	char buf[64];
	char small[6];

	(void)state;
	assert_int_equal(irq_alloc_init(&a, IRQ_KIND_GSI, r, 3), 0);
	assert_int_equal(irq_alloc_format(&a, buf, sizeof(buf)), (int)strlen("5-7, 9, 14-23"));
	assert_string_equal(buf, "5-7, 9, 14-23");
	/* Truncated, still terminated, and the full length reported. */
	assert_int_equal(irq_alloc_format(&a, small, sizeof(small)), (int)strlen("5-7, 9, 14-23"));
	assert_string_equal(small, "5-7, ");
	assert_string_equal(irq_kind_name(IRQ_KIND_GSI), "I/O APIC input");
	assert_string_equal(irq_kind_name(IRQ_KIND_SPI), "SPI");
	assert_string_equal(irq_kind_name(IRQ_KIND_MSI), "MSI vector");
}

/* Runs vm_alloc_mmio_dev with stderr (where avp_err writes) in err. */
static int alloc_captured(struct vm *vm, const char *type, struct platform_mmio_dev **pdev,
			  char *err, size_t len)
{
	FILE *capture = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;
	int ret;

	assert_non_null(capture);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
	ret = vm_alloc_mmio_dev(vm, type, 0x200, pdev);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(capture);
	n = fread(err, 1, len - 1, capture);
	err[n] = '\0';
	fclose(capture);
	return ret;
}

/* The platform's windows and interrupts follow attach order, and the
 * 17th device is refused with both caps named (x86: I/O APIC inputs;
 * arm64: SPIs from 16, 64 of them, so only the windows run out). */
#ifdef __aarch64__
#define WINDOW_BASE 0x0a000000ull
#else
#define WINDOW_BASE 0xd0000000ull
#endif
static void test_vm_windows_and_gsis(void **state)
{
#ifdef __aarch64__
	static const uint32_t gsis[] = { 16, 17, 18, 19, 20, 21, 22, 23,
					 24, 25, 26, 27, 28, 29, 30, 31 };
#else
	static const uint32_t gsis[] = { 5, 6, 7, 9, 10, 11, 14, 15,
					 16, 17, 18, 19, 20, 21, 22, 23 };
#endif
	struct vm *vm = calloc(1, sizeof(*vm));
	struct platform_mmio_dev *pdev = NULL;
	char err[1024];

	(void)state;
	assert_non_null(vm);
	for (unsigned int i = 0; i < AVP_MAX_MMIO_DEVS; i++) {
		assert_int_equal(alloc_captured(vm, "virtio-blk", &pdev, err, sizeof(err)), 0);
		assert_ptr_equal(pdev, &vm->mmio_devs[i]);
		assert_int_equal(pdev->base, WINDOW_BASE + 0x1000ull * i);
		assert_int_equal(pdev->gsi, gsis[i]);
		assert_string_equal(err, "");
	}
	assert_int_equal(alloc_captured(vm, "virtio-vsock", &pdev, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "cannot attach virtio-vsock"));
	assert_non_null(strstr(err, "at most 16 virtio devices"));
	assert_non_null(strstr(err, "give fewer devices"));
	assert_int_equal(vm->nmmio_devs, AVP_MAX_MMIO_DEVS);

	/* With windows to spare, the interrupts are the cap on x86. */
	vm->nmmio_devs = 0;
#ifdef __aarch64__
	assert_int_equal(alloc_captured(vm, "virtio-rng", &pdev, err, sizeof(err)), 0);
	assert_int_equal(pdev->gsi, 32);
#else
	assert_int_equal(alloc_captured(vm, "virtio-rng", &pdev, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "cannot attach virtio-rng"));
	assert_non_null(strstr(err, "all 16 I/O APIC inputs"));
	assert_non_null(strstr(err, "5-7, 9-11, 14-23"));
	assert_non_null(strstr(err, "at most 16 interrupting devices"));
	assert_int_equal(vm->nmmio_devs, 0);
#endif
	free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_numbers_in_range_order),
		cmocka_unit_test(test_blocks_stay_in_one_range),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_vm_windows_and_gsis),
	};

	return cmocka_run_group_tests_name("irq_alloc", tests, NULL, NULL);
}
