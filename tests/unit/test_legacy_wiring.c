/* The legacy-device wiring both architectures' platforms share
 * (src/arch/legacy_wiring.c), on a VM without KVM: a platform's state
 * installed once, windows claimed (those of absent devices skipped, an
 * overlap refused) and given back (only the owners' ranges), interrupt
 * lines and thread confinement doing nothing without a VM fd, and the
 * guest's kernel files (src/arch/guest_files.c): opened only when
 * regular, their head read, loaded only into guest RAM. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/guest_files.h"
#include "arch/legacy_wiring.h"
#include "avp/config.h"
#include "avp/guest_mem.h"
#include "avp/vm.h"

struct fake_platform {
	struct legacy_wiring w;
	int dev_a, dev_b;
};

static void io_nop(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)len;
	(void)is_write;
}

static void nokvm(struct vm *vm, const struct avp_config *cfg)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->vm_fd = vm->kvm_fd = -1;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	assert_true(vm->exit_efd >= 0);
}

static void test_platform_windows(void **state)
{
	struct avp_config cfg;
	struct vm vm;
	struct fake_platform *p;
	int other = 0, err = 1;

	(void)state;
	avp_config_init(&cfg);
	nokvm(&vm, &cfg);
	p = legacy_platform_new(&vm, sizeof(*p), "SPI", &err);
	assert_non_null(p);
	assert_int_equal(err, 0);
	assert_ptr_equal(vm.platform, p);
	assert_ptr_equal(p->w.vm, &vm);
	assert_null(legacy_platform_new(&vm, sizeof(*p), "SPI", &err));
	assert_int_equal(err, -EEXIST);
	assert_null(legacy_platform_new(NULL, sizeof(*p), "SPI", &err));
	assert_int_equal(err, -EINVAL);

	/* Someone else's range first; a device this VM lacks is skipped. */
	assert_int_equal(io_bus_register(&vm.mmio, 0x100, 0x10, io_nop, &other, "other"), 0);
	const struct legacy_window w[] = {
		{ 0x1000, 0x100, io_nop, &p->dev_a, "a" },
		{ 0x2000, 0x100, io_nop, NULL, "absent" },
		{ 0x3000, 0x100, io_nop, &p->dev_b, "b" },
		{ 0x4000, 0x10, io_nop, p, "platform" },
	};
	assert_int_equal(legacy_claim(&vm.mmio, w, 4, "MMIO"), 0);
	assert_int_equal(vm.mmio.nranges, 4);
	assert_false(io_bus_dispatch(&vm.mmio, 0x2000, &err, 4, false));
	/* Overlapping one already claimed: refused. */
	assert_true(legacy_claim(&vm.mmio, &w[0], 1, "MMIO") < 0);
	/* Given back: exactly the owners' ranges (NULL owns nothing). */
	legacy_forget(&vm.mmio, (const void *const[]){ &p->dev_a, NULL, p }, 3);
	assert_int_equal(vm.mmio.nranges, 2);
	assert_ptr_equal(vm.mmio.ranges[0].opaque, &other);
	assert_ptr_equal(vm.mmio.ranges[1].opaque, &p->dev_b);

	/* No VM fd: no line to drive, no thread to confine, no warning. */
	legacy_set_line(&p->w, 33, 1);
	assert_false(atomic_load(&p->w.irq_warned));
	assert_int_equal(legacy_uart_thread_start(p), 0);
	assert_int_equal(legacy_timer_thread_start(p), 0);
	assert_null(legacy_watchdog_cfg(&vm));
	free(p);
	close(vm.exit_efd);
	avp_config_free(&cfg);
}

static void test_guest_files(void **state)
{
	char dir[] = "/tmp/avp-guest-files-XXXXXX", path[64];
	static uint8_t ram[64 << 10];
	uint8_t head[16];
	struct guest_mem gm;
	uint64_t size = 0;
	size_t got = 0;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(guest_file_open("kernel", dir, &size), -EINVAL); /* a directory */
	snprintf(path, sizeof(path), "%s/k", dir);
	assert_int_equal(guest_file_open("kernel", path, &size), -ENOENT);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("0123456789", f);
	fclose(f);
	fd = guest_file_open("kernel", path, &size);
	assert_true(fd >= 0);
	assert_int_equal(size, 10);
	/* A head longer than the file: the rest zeroed. */
	memset(head, 0xee, sizeof(head));
	assert_int_equal(guest_file_head(fd, "kernel", path, head, sizeof(head), size, &got), 0);
	assert_int_equal(got, 10);
	assert_memory_equal(head, "0123456789\0\0\0\0\0\0", 16);

	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gm_add_region(&gm, 0x100000, sizeof(ram), ram), 0);
	assert_int_equal(guest_file_load(&gm, 0x100000, 6, NULL, fd, 4, "kernel", path), 0);
	assert_memory_equal(ram, "456789", 6);
	assert_int_equal(guest_file_load(&gm, 0x100010, 3, "abc", -1, 0, "kernel", path), 0);
	assert_memory_equal(ram + 0x10, "abc", 3);
	/* Past the end of guest RAM, or outside it: refused. */
	assert_int_equal(guest_file_load(&gm, 0x100000 + sizeof(ram) - 2, 6, NULL, fd, 0, "kernel",
					 path), -ENOMEM);
	assert_int_equal(guest_file_load(&gm, 0, 6, NULL, fd, 0, "kernel", path), -ENOMEM);
	close(fd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_platform_windows),
		cmocka_unit_test(test_guest_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
