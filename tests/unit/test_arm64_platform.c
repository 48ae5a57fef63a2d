/* The arm64 platform behind avp/arch.h, without KVM (it runs under
 * qemu-aarch64 user emulation in `make ARCH=arm64 check`): the RAM
 * layout, the SPIs devices get and their KVM_IRQ_LINE encoding, the boot
 * plan (kernel, initrd and device tree in RAM; a bzImage, too little
 * memory, an initrd that does not fit and an overlong command line each
 * refused; an Image.gz inflated into guest RAM, one cut short refused),
 * the device tree a VM's devices make, --dump-dtb, the legacy
 * devices on the MMIO bus and their description. Built for ARCH=arm64
 * only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <libfdt.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/arm64/arm64.h"
#include "avp/arch.h"
#include "avp/config.h"
#include "avp/hw/pl061.h"
#include "avp/hw/watchdog.h"
#include "avp/le.h"
#include "avp/log.h"
#include "avp/vm.h"
#include "support/config_helper.h"

static char dir[PATH_MAX];
static char kernel[PATH_MAX + 32], bzimage[PATH_MAX + 32], initrd[PATH_MAX + 32],
	dtb[PATH_MAX + 32];

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* An Image of file_size bytes with the given header fields. */
static void write_image(const char *path, uint64_t text_offset, uint64_t image_size,
			size_t file_size)
{
	uint8_t *img = calloc(1, file_size);

	assert_non_null(img);
	put_le64(img + 8, text_offset);
	put_le64(img + 16, image_size);
	put_le64(img + 24, 0x2); /* little-endian, 4 KiB pages */
	put_le32(img + ARM64_IMAGE_MAGIC_OFFSET, ARM64_IMAGE_MAGIC);
	write_file(path, img, file_size);
	free(img);
}

static int setup(void **state)
{
	uint8_t bz[0x400] = { 0 };
	static uint8_t rd[3u << 20];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/avp-arm64-platform-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/Image", dir);
	snprintf(bzimage, sizeof(bzimage), "%s/bzImage", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(dtb, sizeof(dtb), "%s/out.dtb", dir);
	/* 8 MiB image_size, as Debian's arm64 kernels are tens of MiB. */
	write_image(kernel, 0, 8u << 20, 4096);
	memcpy(bz + 0x202, "HdrS", 4);
	write_file(bzimage, bz, sizeof(bz));
	memset(rd, 0x5a, sizeof(rd));
	write_file(initrd, rd, sizeof(rd));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(kernel);
	unlink(bzimage);
	unlink(initrd);
	unlink(dtb);
	rmdir(dir);
	return 0;
}

static void config(struct avp_config *cfg, const char *k, uint64_t mib)
{
	avp_config_init(cfg);
	cfg->kernel = strdup(k);
	cfg->memory_mib = mib;
	cfg->cpus = 2;
	cfg->serial.kind = AVP_CHR_NONE;
}

static void test_ram_and_irqs(void **state)
{
	struct arch_mem_range r[4];
	struct irq_range ir[4];
	enum irq_kind kind;

	(void)state;
	assert_int_equal(arch_ram_layout(256ull << 20, r, 4), 1);
	assert_int_equal(r[0].gpa, ARM64_RAM_BASE);
	assert_int_equal(r[0].size, 256ull << 20);
	assert_int_equal(arch_ram_layout(ARM64_RAM_MAX + (1u << 20), r, 4), -EINVAL);
	assert_int_equal(arch_ram_layout(0, r, 4), -EINVAL);

	assert_int_equal(arch_device_irqs(&kind, ir, 4), 1);
	assert_int_equal(kind, IRQ_KIND_SPI);
	assert_int_equal(ir[0].first, ARM64_VIRTIO_SPI_BASE);
	assert_int_equal(ir[0].count, ARM64_VIRTIO_MMIO_SLOTS);
	/* Below the legacy SPIs' numbers and the slots: nothing overlaps. */
	assert_true(ARM64_PL061_SPI < ARM64_VIRTIO_SPI_BASE);
	assert_int_equal(arch_mmio_dev_base(), ARM64_VIRTIO_MMIO_BASE);

	/* api.rst: irq_type SPI (1) in bits 24-27, the INTID in 0-15. */
	assert_int_equal(arch_irq_line_id(16), (1u << 24) | 48u);
	assert_int_equal(arch_irq_line_id(ARM64_PL011_SPI), (1u << 24) | 33u);
}

static void test_plan_places_everything(void **state)
{
	struct avp_config cfg;
	struct arm64_boot_plan p;

	(void)state;
	config(&cfg, kernel, 256);
	cfg.initrd = strdup(initrd);
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	assert_int_equal(p.kernel_gpa, ARM64_RAM_BASE);
	assert_int_equal(p.kernel_end, ARM64_RAM_BASE + (8u << 20));
	/* The device tree in the last 2 MiB block, the initrd right below,
	 * page aligned. */
	assert_int_equal(p.fdt_gpa, ARM64_RAM_BASE + (254ull << 20));
	assert_int_equal(p.initrd_size, 3u << 20);
	assert_int_equal(p.initrd_gpa, p.fdt_gpa - (3u << 20));
	assert_int_equal(p.initrd_gpa % 4096, 0);
	assert_true(p.kernel_fd >= 0 && p.initrd_fd >= 0);
	arm64_boot_plan_close(&p);
	assert_int_equal(p.kernel_fd, -1);
	assert_int_equal(arch_check_guest(&cfg), 0);
	avp_config_free(&cfg);
}

static void test_plan_text_offset(void **state)
{
	struct avp_config cfg;
	struct arm64_boot_plan p;

	(void)state;
	write_image(kernel, 0x80000, 8u << 20, 4096);
	config(&cfg, kernel, 64);
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	assert_int_equal(p.kernel_gpa, ARM64_RAM_BASE + 0x80000);
	arm64_boot_plan_close(&p);
	avp_config_free(&cfg);
	write_image(kernel, 0, 8u << 20, 4096);
}

static void test_plan_refuses(void **state)
{
	struct avp_config cfg;
	struct arm64_boot_plan p;
	char *longline;

	(void)state;
	/* The x86 kernel given to the arm64 avp. */
	config(&cfg, bzimage, 256);
	assert_int_equal(arm64_boot_plan(&cfg, &p), -ENOEXEC);
	avp_config_free(&cfg);

	/* The kernel needs 8 MiB, the device tree 2 MiB more. */
	config(&cfg, kernel, 8);
	assert_int_equal(arm64_boot_plan(&cfg, &p), -ENOMEM);
	avp_config_free(&cfg);
	config(&cfg, kernel, 10);
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	arm64_boot_plan_close(&p);
	/* ... but not a 3 MiB initrd as well. */
	cfg.initrd = strdup(initrd);
	assert_int_equal(arm64_boot_plan(&cfg, &p), -ENOMEM);
	assert_int_equal(p.kernel_fd, -1); /* closed again */
	cfg.memory_mib = 14; /* the device tree block at 12 MiB, the initrd below */
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	arm64_boot_plan_close(&p);
	avp_config_free(&cfg);

	/* More RAM than the platform's one range. */
	config(&cfg, kernel, (ARM64_RAM_MAX >> 20) + 1);
	assert_int_equal(arm64_boot_plan(&cfg, &p), -EINVAL);
	avp_config_free(&cfg);

	/* Linux arm64 keeps 2047 bytes of command line. */
	config(&cfg, kernel, 64);
	longline = malloc(ARM64_CMDLINE_MAX + 1);
	memset(longline, 'x', ARM64_CMDLINE_MAX);
	longline[ARM64_CMDLINE_MAX] = 0;
	cfg.cmdline = longline;
	assert_int_equal(arm64_boot_plan(&cfg, &p), -E2BIG);
	longline[ARM64_CMDLINE_MAX - 1] = 0;
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	arm64_boot_plan_close(&p);
	avp_config_free(&cfg);

	config(&cfg, "/nonexistent/Image", 64);
	assert_int_equal(arm64_boot_plan(&cfg, &p), -ENOENT);
	avp_config_free(&cfg);
}

static void vm_init_nokvm(struct vm *vm, const struct avp_config *cfg)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->ncpus = cfg->cpus;
	vm->vm_fd = vm->kvm_fd = -1;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
}

static uint32_t cell(const void *fdt, int off, const char *name, int i)
{
	int len = 0;
	const fdt32_t *v = fdt_getprop(fdt, off, name, &len);

	assert_non_null(v);
	assert_true((i + 1) * 4 <= len);
	return fdt32_to_cpu(v[i]);
}

static void test_fdt_of_a_vm(void **state)
{
	static uint8_t fdt[64 << 10];
	struct avp_config cfg;
	struct arm64_boot_plan p;
	struct platform_mmio_dev *d;
	struct vm vm;
	int off;

	(void)state;
	config(&cfg, kernel, 256);
	cfg.initrd = strdup(initrd);
	cfg.cmdline = strdup("console=ttyAMA0");
	test_add_device(&cfg, &watchdog_config, NULL);
	vm_init_nokvm(&vm, &cfg);
	assert_int_equal(vm_alloc_mmio_dev(&vm, "virtio-rng", 0x200, &d), 0);
	assert_int_equal(vm_alloc_mmio_dev(&vm, "virtio-blk", 0x200, &d), 0);
	assert_int_equal(d->gsi, ARM64_VIRTIO_SPI_BASE + 1);
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	assert_int_equal(arm64_build_fdt(&vm, &p, fdt, sizeof(fdt)), 0);
	assert_int_equal(fdt_check_header(fdt), 0);

	/* The second virtio-mmio window: its SPI, rising edge. */
	off = fdt_path_offset(fdt, "/virtio@a001000");
	assert_true(off >= 0);
	assert_int_equal(cell(fdt, off, "interrupts", 0), 0); /* GIC_SPI */
	assert_int_equal(cell(fdt, off, "interrupts", 1), ARM64_VIRTIO_SPI_BASE + 1);
	assert_int_equal(cell(fdt, off, "interrupts", 2), 1); /* edge rising */
	/* The legacy devices at layout.h's addresses; the SP805 with --watchdog. */
	assert_true(fdt_path_offset(fdt, "/serial@9000000") >= 0);
	assert_true(fdt_path_offset(fdt, "/rtc@9010000") >= 0);
	assert_true(fdt_path_offset(fdt, "/watchdog@9020000") >= 0);
	assert_true(fdt_path_offset(fdt, "/gpio@9030000") >= 0);
	assert_true(fdt_path_offset(fdt, "/gpio-keys") >= 0);
	off = fdt_path_offset(fdt, "/serial@9000000");
	assert_int_equal(cell(fdt, off, "interrupts", 2), 4); /* level high */
	/* Two redistributors for two vCPUs. */
	off = fdt_path_offset(fdt, "/interrupt-controller@8000000");
	assert_true(off >= 0);
	assert_int_equal(cell(fdt, off, "reg", 7), 2 * ARM64_GICR_SIZE_PER_CPU);
	assert_true(fdt_path_offset(fdt, "/cpus/cpu@1") >= 0);
	assert_true(fdt_path_offset(fdt, "/cpus/cpu@2") < 0);
	/* chosen: the command line and the planned initrd. */
	off = fdt_path_offset(fdt, "/chosen");
	assert_string_equal(fdt_getprop(fdt, off, "bootargs", NULL), "console=ttyAMA0");
	assert_int_equal(cell(fdt, off, "linux,initrd-start", 1), (uint32_t)p.initrd_gpa);
	assert_int_equal(cell(fdt, off, "linux,initrd-end", 1),
			 (uint32_t)(p.initrd_gpa + p.initrd_size));
	/* RAM: one range from 1 GiB. */
	off = fdt_path_offset(fdt, "/memory@40000000");
	assert_int_equal(cell(fdt, off, "reg", 3), 256u << 20);
	arm64_boot_plan_close(&p);

	/* --dump-dtb writes the same tree. */
	assert_int_equal(arch_dump_dtb(&vm, dtb), 0);
	{
		static uint8_t back[64 << 10];
		FILE *f = fopen(dtb, "rb");
		size_t n;

		assert_non_null(f);
		n = fread(back, 1, sizeof(back), f);
		fclose(f);
		assert_int_equal(n, fdt_totalsize(fdt));
		assert_memory_equal(back, fdt, n);
	}
	close(vm.exit_efd);
	avp_config_free(&cfg);
}

/* path.gz: gzip of len bytes of data (zlib's gz* file functions). */
static void write_gz(const char *path, const void *data, size_t len)
{
	gzFile f = gzopen(path, "wb6");

	assert_non_null(f);
	assert_int_equal(gzwrite(f, data, (unsigned int)len), (int)len);
	assert_int_equal(gzclose(f), Z_OK);
}

/* An Image.gz (issue 14: Debian's arm64 vmlinuz before 6.x): placed by
 * the Image inside it, and that Image, byte for byte, is what lands in
 * guest RAM at the kernel's address. */
static void test_image_gz(void **state)
{
	const size_t len = 5u << 20;
	uint8_t *img = calloc(1, len), *ram = calloc(1, 64u << 20), *gz;
	char path[PATH_MAX + 32];
	struct arm64_boot_plan p;
	struct avp_config cfg;
	struct stat st;
	struct vm vm;
	FILE *f;

	(void)state;
	assert_non_null(img);
	assert_non_null(ram);
	put_le64(img + 8, 0x80000);
	put_le64(img + 16, 6u << 20);
	put_le64(img + 24, 0x2);
	put_le32(img + ARM64_IMAGE_MAGIC_OFFSET, ARM64_IMAGE_MAGIC);
	for (size_t i = 64; i < len; i++)
		img[i] = (uint8_t)(i * 7 + (i >> 12));
	snprintf(path, sizeof(path), "%s/Image.gz", dir);
	write_gz(path, img, len);

	config(&cfg, path, 64);
	cfg.initrd = strdup(initrd);
	assert_int_equal(arm64_boot_plan(&cfg, &p), 0);
	assert_non_null(p.kernel_data);
	assert_int_equal(p.ii.file_size, len);
	assert_int_equal(p.ii.image_size, 6u << 20);
	assert_int_equal(p.kernel_gpa, ARM64_RAM_BASE + 0x80000);
	assert_memory_equal(p.kernel_data, img, len);
	arm64_boot_plan_close(&p);
	assert_null(p.kernel_data);
	assert_int_equal(arch_check_guest(&cfg), 0);

	/* Loaded: the Image (not the stream) at its address, the initrd
	 * and the device tree where the plan put them. */
	vm_init_nokvm(&vm, &cfg);
	vm.arch = calloc(1, sizeof(struct arm64_state));
	assert_non_null(vm.arch);
	((struct arm64_state *)vm.arch)->gic_fd = -1;
	assert_int_equal(gm_add_region(&vm.mem, ARM64_RAM_BASE, 64u << 20, ram), 0);
	assert_int_equal(arch_load_guest(&vm), 0);
	assert_memory_equal(ram + 0x80000, img, len);
	assert_int_equal(((struct arm64_state *)vm.arch)->entry_gpa, ARM64_RAM_BASE + 0x80000);
	assert_int_equal(fdt_check_header(ram + (62u << 20)), 0);
	arch_vm_destroy(&vm);
	close(vm.exit_efd);

	/* Cut short: refused before any VM, like a truncated Image. */
	assert_int_equal(stat(path, &st), 0);
	gz = malloc((size_t)st.st_size);
	assert_non_null(gz);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(gz, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	write_file(path, gz, (size_t)st.st_size / 2);
	assert_int_equal(arch_check_guest(&cfg), -EINVAL);
	/* More than the guest's RAM once inflated. */
	write_gz(path, img, len);
	cfg.memory_mib = 4;
	assert_int_equal(arch_check_guest(&cfg), -ENOMEM);
	unlink(path);
	free(gz);
	free(ram);
	free(img);
	avp_config_free(&cfg);
}

static void test_legacy_devices_on_the_bus(void **state)
{
	struct avp_config cfg;
	struct vm vm;
	uint32_t v = 0;

	(void)state;
	config(&cfg, kernel, 256);
	vm_init_nokvm(&vm, &cfg);
	assert_int_equal(arch_platform_devices_init(&vm), 0);
	/* UART, RTC and GPIO; no watchdog without --watchdog. */
	assert_int_equal(vm.mmio.nranges, 3);
	/* The PrimeCell part numbers Linux's AMBA bus reads at 0xfe0. */
	assert_true(io_bus_dispatch(&vm.mmio, ARM64_PL011_BASE + 0xfe0, &v, 4, false));
	assert_int_equal(v & 0xff, 0x11);
	assert_true(io_bus_dispatch(&vm.mmio, ARM64_PL031_BASE + 0xfe0, &v, 4, false));
	assert_int_equal(v & 0xff, 0x31);
	assert_true(io_bus_dispatch(&vm.mmio, ARM64_PL061_BASE + 0xfe0, &v, 4, false));
	assert_int_equal(v & 0xff, 0x61);
	assert_false(io_bus_dispatch(&vm.mmio, ARM64_SP805_BASE + 0xfe0, &v, 4, false));
	/* No VM to press the button in. */
	assert_int_equal(arch_power_button(&vm), -ENODEV);
	arch_platform_devices_destroy(&vm);
	assert_int_equal(vm.mmio.nranges, 0);
	assert_null(vm.platform);

	test_add_device(&cfg, &watchdog_config, NULL);
	assert_int_equal(arch_platform_devices_init(&vm), 0);
	assert_int_equal(vm.mmio.nranges, 4);
	assert_true(io_bus_dispatch(&vm.mmio, ARM64_SP805_BASE + 0xfe0, &v, 4, false));
	assert_int_equal(v & 0xff, 0x05);
	arch_platform_devices_destroy(&vm);
	close(vm.exit_efd);
	avp_config_free(&cfg);
}

static void test_describe_legacy(void **state)
{
	struct avp_config cfg;
	json_object *arr, *o, *v;
	bool uart = false, button = false;

	(void)state;
	avp_config_init(&cfg);
	arr = arch_describe_legacy(&cfg);
	assert_string_equal(arch_name(), "arm64");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *type;

		o = json_object_array_get_idx(arr, i);
		assert_true(json_object_object_get_ex(o, "type", &v));
		type = json_object_get_string(v);
		/* The x86 keys are there, null. */
		assert_true(json_object_object_get_ex(o, "io_port", &v));
		assert_null(v);
		assert_string_not_equal(type, "watchdog-sp805");
		if (!strcmp(type, "uart-pl011")) {
			uart = true;
			assert_true(json_object_object_get_ex(o, "address", &v));
			assert_string_equal(json_object_get_string(v), "0x9000000");
			assert_true(json_object_object_get_ex(o, "interrupt", &v));
			assert_int_equal(json_object_get_int(v), ARM64_PL011_SPI);
		}
		button |= !strcmp(type, "power-button");
	}
	assert_true(uart && button);
	json_object_put(arr);
	avp_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_and_irqs),
		cmocka_unit_test(test_plan_places_everything),
		cmocka_unit_test(test_plan_text_offset),
		cmocka_unit_test(test_plan_refuses),
		cmocka_unit_test(test_image_gz),
		cmocka_unit_test(test_fdt_of_a_vm),
		cmocka_unit_test(test_legacy_devices_on_the_bus),
		cmocka_unit_test(test_describe_legacy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
