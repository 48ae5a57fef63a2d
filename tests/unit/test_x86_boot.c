/* x86_boot_load against guest memory in an anonymous mapping (no KVM):
 * kernel placement, zero page, e820 map, command line, initrd placement and
 * the errors for bad inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <asm/bootparam.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/x86.h"
#include "avp/config.h"
#include "avp/log.h"
#include "avp/vm.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)
#define SETUP_SECTS 4
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define PM_SIZE (64 * 1024)
#define INIT_SIZE 0x300000 /* from the 2 MiB runtime start: needs 5 MiB */
#define RSDP_GPA 0xe0000ull

struct mapping {
	void *hva;
	size_t size;
};

struct fixture {
	char dir[64];
	char kernel[96];
	char initrd[96];
	struct avp_config cfg;
	struct vm *vm;
	struct mapping maps[AVP_MAX_MEM_REGIONS];
	unsigned int nmaps;
	uint8_t image[SETUP_SIZE + PM_SIZE];
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* Protocol 2.15 x86-64 bzImage; the protected-mode part is a byte
 * pattern so that its placement can be checked. */
static void make_image(uint8_t *img)
{
	memset(img, 0, SETUP_SIZE);
	img[0x1f1] = SETUP_SECTS;
	put32(img + 0x1f4, PM_SIZE / 16);
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01;
	put32(img + 0x22c, 0x7fffffff);
	put32(img + 0x230, 0x200000);
	img[0x234] = 1;
	put16(img + 0x236, 0x0003);
	put32(img + 0x238, 2047);
	put32(img + 0x258, 0x1000000);
	put32(img + 0x260, INIT_SIZE);
	for (size_t i = 0; i < PM_SIZE; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 7 + 3);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void write_kernel(struct fixture *f)
{
	write_file(f->kernel, f->image, sizeof(f->image));
}

static void write_initrd(struct fixture *f, size_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13 + 5);
	write_file(f->initrd, buf, len);
	free(buf);
}

/* Adds RAM [gpa, gpa + size) backed by a lazily populated mapping. */
static void add_ram(struct fixture *f, uint64_t gpa, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(p != MAP_FAILED);
	f->maps[f->nmaps++] = (struct mapping){ .hva = p, .size = size };
	assert_int_equal(gm_add_region(&f->vm->mem, gpa, size, p), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/avp-x86boot-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->kernel, sizeof(f->kernel), "%s/bzImage", f->dir);
	snprintf(f->initrd, sizeof(f->initrd), "%s/initrd", f->dir);
	make_image(f->image);
	f->vm = calloc(1, sizeof(*f->vm));
	if (!f->vm)
		return -1;
	f->vm->vm_fd = -1;
	f->vm->kvm_fd = -1;
	f->vm->cfg = &f->cfg;
	f->cfg.kernel = f->kernel;
	f->cfg.initrd = f->initrd;
	f->cfg.cmdline = "console=ttyS0 root=/dev/vda";
	avp_log_set_level(AVP_LOG_ERROR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned int i = 0; i < f->nmaps; i++)
		munmap(f->maps[i].hva, f->maps[i].size);
	unlink(f->kernel);
	unlink(f->initrd);
	rmdir(f->dir);
	free(f->vm);
	free(f);
	return 0;
}

static void read_boot_params(struct fixture *f, struct boot_params *bp)
{
	assert_int_equal(gm_read(&f->vm->mem, X86_BOOT_PARAMS_GPA, bp, sizeof(*bp)), 0);
}

static void assert_e820(const struct boot_params *bp, unsigned int i, uint64_t addr,
			uint64_t size, uint32_t type)
{
	assert_true(i < bp->e820_entries);
	assert_int_equal(bp->e820_table[i].addr, addr);
	assert_int_equal(bp->e820_table[i].size, size);
	assert_int_equal(bp->e820_table[i].type, type);
}

static void assert_initrd_bytes(struct fixture *f, uint64_t gpa, size_t len)
{
	const uint8_t *p = gm_ptr(&f->vm->mem, gpa, len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(i * 13 + 5))
			fail_msg("initrd byte %zu differs", i);
}

static void test_load_64mib(void **state)
{
	struct fixture *f = *state;
	struct boot_params *bp = calloc(1, sizeof(*bp));
	const size_t initrd_len = 10000;
	uint64_t entry = 0, rd;
	char cmdline[64];

	assert_non_null(bp);
	write_kernel(f);
	write_initrd(f, initrd_len);
	add_ram(f, 0, 64 * MIB);
	assert_int_equal(x86_boot_load(f->vm, RSDP_GPA, &entry), 0);
	assert_int_equal(entry, X86_KERNEL_GPA + 0x200);

	/* The protected-mode kernel, and nothing of the setup code, at 1 MiB. */
	assert_memory_equal(gm_ptr(&f->vm->mem, X86_KERNEL_GPA, PM_SIZE),
			    f->image + SETUP_SIZE, PM_SIZE);

	read_boot_params(f, bp);
	/* Setup header copied from the image... */
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.setup_sects, SETUP_SECTS);
	assert_int_equal(bp->hdr.syssize, PM_SIZE / 16);
	assert_int_equal(bp->hdr.cmdline_size, 2047);
	assert_int_equal(bp->hdr.init_size, INIT_SIZE);
	assert_int_equal(bp->hdr.xloadflags, 0x0003);
	/* ...with the loader's fields filled in. */
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags & (LOADED_HIGH | CAN_USE_HEAP),
			 LOADED_HIGH | CAN_USE_HEAP);
	assert_int_equal(bp->hdr.heap_end_ptr, 0xe000 - 0x200);
	assert_int_equal(bp->hdr.cmd_line_ptr, X86_CMDLINE_GPA);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->acpi_rsdp_addr, RSDP_GPA);
	/* Outside the header the zero page is zero. */
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->screen_info.orig_video_isVGA, 0);

	/* Initrd: page-aligned, at the top of RAM, clear of the kernel. */
	rd = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	assert_int_equal(bp->hdr.ramdisk_size, initrd_len);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_int_equal(rd % 4096, 0);
	assert_true(rd + initrd_len <= 64 * MIB);
	assert_true(rd + initrd_len > 64 * MIB - 4096);
	assert_true(rd >= 0x200000 + INIT_SIZE);
	assert_initrd_bytes(f, rd, initrd_len);

	/* Command line with its NUL. */
	assert_int_equal(gm_read(&f->vm->mem, X86_CMDLINE_GPA, cmdline,
				 strlen(f->cfg.cmdline) + 1), 0);
	assert_string_equal(cmdline, f->cfg.cmdline);

	/* e820: RAM minus the legacy hole, EBDA and ACPI reserved. */
	assert_int_equal(bp->e820_entries, 4);
	assert_e820(bp, 0, 0, X86_EBDA_GPA, 1);
	assert_e820(bp, 1, X86_EBDA_GPA, 0xa0000 - X86_EBDA_GPA, 2);
	assert_e820(bp, 2, X86_ACPI_GPA, 0x100000 - X86_ACPI_GPA, 2);
	assert_e820(bp, 3, 0x100000, 64 * MIB - 0x100000, 1);
	free(bp);
}

static void test_high_ram_and_initrd_addr_max(void **state)
{
	struct fixture *f = *state;
	struct boot_params *bp = calloc(1, sizeof(*bp));
	const size_t initrd_len = 3 * 4096 + 1;
	uint64_t entry = 0, rd;

	assert_non_null(bp);
	/* The kernel allows its initrd only below 32 MiB. */
	put32(f->image + 0x22c, 32 * MIB - 1);
	write_kernel(f);
	write_initrd(f, initrd_len);
	add_ram(f, 0, 3 * GIB);
	add_ram(f, X86_HIGH_RAM_START, 64 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), 0);
	read_boot_params(f, bp);
	rd = bp->hdr.ramdisk_image;
	assert_int_equal(rd % 4096, 0);
	assert_true(rd + initrd_len <= 32 * MIB);
	assert_true(rd + initrd_len > 32 * MIB - 4096);
	assert_initrd_bytes(f, rd, initrd_len);
	assert_int_equal(bp->acpi_rsdp_addr, 0);

	assert_int_equal(bp->e820_entries, 5);
	assert_e820(bp, 3, 0x100000, 3 * GIB - 0x100000, 1);
	assert_e820(bp, 4, X86_HIGH_RAM_START, 64 * MIB, 1);
	free(bp);
}

static void test_initrd_below_low_ram_end(void **state)
{
	struct fixture *f = *state;
	struct boot_params *bp = calloc(1, sizeof(*bp));
	uint64_t entry = 0;

	assert_non_null(bp);
	/* initrd_addr_max above the MMIO hole: low RAM's end decides. */
	put32(f->image + 0x22c, 0xffffffff);
	write_kernel(f);
	write_initrd(f, 8192);
	add_ram(f, 0, 3 * GIB);
	add_ram(f, X86_HIGH_RAM_START, 64 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), 0);
	read_boot_params(f, bp);
	assert_int_equal(bp->hdr.ramdisk_image, 3 * GIB - 8192);
	free(bp);
}

static void test_no_initrd(void **state)
{
	struct fixture *f = *state;
	struct boot_params *bp = calloc(1, sizeof(*bp));
	uint64_t entry = 0;
	char c = 'x';

	assert_non_null(bp);
	f->cfg.initrd = NULL;
	f->cfg.cmdline = NULL;
	write_kernel(f);
	add_ram(f, 0, 32 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), 0);
	read_boot_params(f, bp);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	/* No command line: an empty string, still pointed to. */
	assert_int_equal(bp->hdr.cmd_line_ptr, X86_CMDLINE_GPA);
	assert_int_equal(gm_read(&f->vm->mem, X86_CMDLINE_GPA, &c, 1), 0);
	assert_int_equal(c, 0);
	free(bp);
}

static void test_missing_kernel(void **state)
{
	struct fixture *f = *state;
	uint64_t entry = 0;

	add_ram(f, 0, 64 * MIB);
	write_initrd(f, 100);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -ENOENT);
	f->cfg.kernel = NULL;
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -EINVAL);
	/* A directory is not a kernel. */
	f->cfg.kernel = f->dir;
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -EINVAL);
}

static void test_missing_initrd(void **state)
{
	struct fixture *f = *state;
	uint64_t entry = 0;

	write_kernel(f);
	add_ram(f, 0, 64 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -ENOENT);
	write_initrd(f, 0);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -EINVAL);
}

static void test_not_a_kernel(void **state)
{
	struct fixture *f = *state;
	uint64_t entry = 0;

	memset(f->image, 0x5a, sizeof(f->image));
	write_kernel(f);
	write_initrd(f, 100);
	add_ram(f, 0, 64 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -ENOEXEC);
	/* Truncated by one byte. */
	make_image(f->image);
	write_file(f->kernel, f->image, sizeof(f->image) - 1);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -EINVAL);
}

static void test_memory_too_small_for_kernel(void **state)
{
	struct fixture *f = *state;
	uint64_t entry = 0;

	write_kernel(f);
	write_initrd(f, 100);
	/* init_size from 2 MiB ends at 5 MiB. */
	add_ram(f, 0, 4 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -ENOMEM);
}

static void test_memory_too_small_for_initrd(void **state)
{
	struct fixture *f = *state;
	uint64_t entry = 0;

	write_kernel(f);
	/* Kernel up to 5 MiB, 8 MiB of RAM: 3 MiB left, the initrd needs 4. */
	write_initrd(f, 4 * MIB);
	add_ram(f, 0, 8 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -ENOMEM);
	/* 3 MiB exactly fits right after the kernel's footprint. */
	write_initrd(f, 3 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), 0);
}

static void test_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	char *line = malloc(2049);
	uint64_t entry = 0;
	char last[2];

	assert_non_null(line);
	write_kernel(f);
	write_initrd(f, 100);
	add_ram(f, 0, 64 * MIB);
	memset(line, 'a', 2048);
	line[2048] = 0;
	f->cfg.cmdline = line;
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), -E2BIG);
	/* cmdline_size counts characters without the NUL: 2047 is fine. */
	line[2047] = 0;
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), 0);
	assert_int_equal(gm_read(&f->vm->mem, X86_CMDLINE_GPA + 2046, last, 2), 0);
	assert_int_equal(last[0], 'a');
	assert_int_equal(last[1], 0);
	free(line);
}

/* The pre-flight check needs no VM and no guest memory: it works out the
 * RAM layout from the configured size and gives the loader's verdicts. */
static void test_check_without_vm(void **state)
{
	struct fixture *f = *state;
	struct stat before, after;

	write_kernel(f);
	write_initrd(f, 4 * MIB);
	f->cfg.memory_mib = 64;
	assert_int_equal(x86_boot_check(&f->cfg), 0);
	/* Kernel to 5 MiB + a 4 MiB initrd do not fit in 8 MiB... */
	f->cfg.memory_mib = 8;
	assert_int_equal(x86_boot_check(&f->cfg), -ENOMEM);
	/* ...nor does the kernel's init_size in 4 MiB. */
	f->cfg.memory_mib = 4;
	assert_int_equal(x86_boot_check(&f->cfg), -ENOMEM);
	f->cfg.memory_mib = 64;
	f->cfg.initrd = "/nonexistent/initrd";
	assert_int_equal(x86_boot_check(&f->cfg), -ENOENT);
	f->cfg.initrd = f->initrd;
	/* Not a kernel: the initrd's bytes. Nothing is written to either file. */
	assert_int_equal(stat(f->initrd, &before), 0);
	f->cfg.kernel = f->initrd;
	assert_int_equal(x86_boot_check(&f->cfg), -ENOEXEC);
	assert_int_equal(stat(f->initrd, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	assert_int_equal(f->vm->mem.nregions, 0);
}

/* A distribution kernel, when one is present on this machine. */
static void test_real_kernel(void **state)
{
	struct fixture *f = *state;
	struct boot_params *bp;
	uint8_t buf[4096];
	uint64_t entry = 0;
	glob_t g;
	FILE *fp;

	if (glob("/tmp/kdeb/x/boot/vmlinuz-*", 0, NULL, &g) != 0) {
		globfree(&g);
		print_message("skipped: no kernel at /tmp/kdeb/x/boot/vmlinuz-*\n");
		skip();
	}
	bp = calloc(1, sizeof(*bp));
	assert_non_null(bp);
	f->cfg.kernel = g.gl_pathv[0];
	write_initrd(f, 1 * MIB);
	add_ram(f, 0, 256 * MIB);
	assert_int_equal(x86_boot_load(f->vm, 0, &entry), 0);
	read_boot_params(f, bp);
	assert_true(bp->hdr.ramdisk_image >= 0x200000 + bp->hdr.init_size);
	/* The first page of the protected-mode kernel landed at 1 MiB. */
	fp = fopen(g.gl_pathv[0], "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, (long)(bp->hdr.setup_sects + 1) * 512, SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	assert_memory_equal(gm_ptr(&f->vm->mem, X86_KERNEL_GPA, sizeof(buf)), buf, sizeof(buf));
	free(bp);
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_64mib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_high_ram_and_initrd_addr_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_below_low_ram_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_initrd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_initrd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_too_small_for_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_too_small_for_initrd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_without_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_kernel, setup, teardown),
	};

	return cmocka_run_group_tests_name("x86_boot", tests, NULL, NULL);
}
