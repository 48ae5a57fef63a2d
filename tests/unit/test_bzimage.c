/* bzImage setup-header parsing on synthetic images (boot.rst header
 * layout): valid, malformed, truncated, too old, 32-bit only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/bzimage.h"
#include "avp/le.h"
#include "avp/log.h"

#define SETUP_SECTS 4
#define PM_SIZE (64 * 1024)
#define IMAGE_SIZE ((SETUP_SECTS + 1) * 512 + PM_SIZE)

/* A minimal protocol-2.15 x86-64 bzImage header, as the kernel's
 * arch/x86/boot/header.S lays it out. */
static void make_image(uint8_t *img, size_t len)
{
	memset(img, 0, len);
	img[0x1f1] = SETUP_SECTS;
	put_le32(img + 0x1f4, PM_SIZE / 16);	/* syssize */
	put_le16(img + 0x1fe, 0xaa55);		/* boot_flag */
	img[0x200] = 0xeb;			/* jmp short ... */
	img[0x201] = 0x6a;			/* ... over the header to 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, 0x020f);		/* version 2.15 */
	img[0x211] = 0x01;			/* loadflags: LOADED_HIGH */
	put_le32(img + 0x22c, 0x7fffffff);		/* initrd_addr_max */
	put_le32(img + 0x230, 0x200000);		/* kernel_alignment */
	img[0x234] = 1;				/* relocatable_kernel */
	img[0x235] = 21;			/* min_alignment */
	put_le16(img + 0x236, 0x0003);		/* XLF_KERNEL_64 | ABOVE_4G */
	put_le32(img + 0x238, 2047);		/* cmdline_size */
	put_le64(img + 0x258, 0x1000000);		/* pref_address */
	put_le32(img + 0x260, 0x300000);		/* init_size */
	put_le32(img + 0x268, 0x100);		/* kernel_info_offset */
}

struct fixture {
	uint8_t img[IMAGE_SIZE];
	struct bzimage_info bi;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	make_image(f->img, sizeof(f->img));
	/* The error cases log on purpose; keep the test output readable. */
	avp_log_set_level(AVP_LOG_ERROR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int parse(struct fixture *f, uint64_t file_size)
{
	size_t n = file_size < BZIMAGE_PROBE_SIZE ? (size_t)file_size : BZIMAGE_PROBE_SIZE;

	return bzimage_parse(f->img, n, file_size, "test-image", &f->bi);
}

static void test_valid_header(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	assert_int_equal(f->bi.version, 0x020f);
	assert_int_equal(f->bi.setup_sects, SETUP_SECTS);
	assert_int_equal(f->bi.setup_size, (SETUP_SECTS + 1) * 512);
	assert_int_equal(f->bi.kernel_size, PM_SIZE);
	assert_int_equal(f->bi.syssize_bytes, PM_SIZE);
	assert_int_equal(f->bi.loadflags, 0x01);
	assert_int_equal(f->bi.xloadflags, 0x0003);
	assert_int_equal(f->bi.initrd_addr_max, 0x7fffffff);
	assert_int_equal(f->bi.kernel_alignment, 0x200000);
	assert_true(f->bi.relocatable);
	assert_int_equal(f->bi.cmdline_size, 2047);
	assert_int_equal(f->bi.pref_address, 0x1000000);
	assert_int_equal(f->bi.init_size, 0x300000);
	assert_int_equal(f->bi.kernel_info_offset, 0x100);
	/* 0x202 + 0x6a - 0x1f1: the whole 2.15 header. */
	assert_int_equal(f->bi.hdr_len, 0x7b);
}

static void test_trailing_bytes_are_loaded(void **state)
{
	struct fixture *f = *state;

	/* A signed kernel carries bytes past syssize; they are loaded too. */
	put_le32(f->img + 0x1f4, (PM_SIZE - 4096) / 16);
	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	assert_int_equal(f->bi.kernel_size, PM_SIZE);
	assert_int_equal(f->bi.syssize_bytes, PM_SIZE - 4096);
}

static void test_setup_sects_zero_means_four(void **state)
{
	struct fixture *f = *state;

	f->img[0x1f1] = 0;
	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	assert_int_equal(f->bi.setup_sects, 4);
	assert_int_equal(f->bi.setup_size, 5 * 512);
	assert_int_equal(f->bi.kernel_size, IMAGE_SIZE - 5 * 512);
}

static void test_setup_sects_moves_kernel(void **state)
{
	struct fixture *f = *state;

	f->img[0x1f1] = 8;
	put_le32(f->img + 0x1f4, (IMAGE_SIZE - 9 * 512) / 16);
	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	assert_int_equal(f->bi.setup_size, 9 * 512);
	assert_int_equal(f->bi.kernel_size, IMAGE_SIZE - 9 * 512);
}

static void test_wrong_magic(void **state)
{
	struct fixture *f = *state;

	memcpy(f->img + 0x202, "HdrX", 4);
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
}

static void test_no_boot_flag(void **state)
{
	struct fixture *f = *state;

	put_le16(f->img + 0x1fe, 0x1234);
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
}

static void test_not_an_image_at_all(void **state)
{
	struct fixture *f = *state;

	memset(f->img, 'x', sizeof(f->img));
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
	/* Too short to even hold the header. */
	make_image(f->img, sizeof(f->img));
	assert_int_equal(parse(f, 0x200), -ENOEXEC);
	assert_int_equal(parse(f, 0), -ENOEXEC);
}

/* What parse() says on stderr for f->img. */
static void parse_said(struct fixture *f, char *err, size_t len)
{
	FILE *capture = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(capture);
	fflush(stderr);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(capture);
	n = fread(err, 1, len - 1, capture);
	err[n] = '\0';
	fclose(capture);
}

/* An arm64 Image given to the x86 loader is named as one, and so are an
 * Image.gz (or any gzip file) and a vmlinux (ELF). */
static void test_arm64_image_named(void **state)
{
	struct fixture *f = *state;
	char err[512];

	memset(f->img, 0, sizeof(f->img));
	put_le64(f->img + 16, 1u << 20);	    /* image_size */
	put_le32(f->img + 0x38, 0x644d5241); /* "ARM\x64" */
	parse_said(f, err, sizeof(err));
	assert_non_null(strstr(err, "is an arm64 Image, not an x86 kernel"));

	memset(f->img, 0, sizeof(f->img));
	memcpy(f->img, "\x1f\x8b\x08", 3);
	parse_said(f, err, sizeof(err));
	assert_non_null(strstr(err, "is gzip-compressed (an arm64 Image.gz?), not a bzImage"));

	memset(f->img, 0, sizeof(f->img));
	memcpy(f->img, "\x7f" "ELF", 4);
	parse_said(f, err, sizeof(err));
	assert_non_null(strstr(err, "is an ELF file (vmlinux?), not a bzImage"));
}

static void test_old_protocol(void **state)
{
	struct fixture *f = *state;

	put_le16(f->img + 0x206, 0x020b);
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
	put_le16(f->img + 0x206, 0x020c);
	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	/* 2.12 has no kernel_info_offset: it must be ignored. */
	assert_int_equal(f->bi.kernel_info_offset, 0);
}

static void test_no_kernel_64(void **state)
{
	struct fixture *f = *state;

	put_le16(f->img + 0x236, 0x0002);
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
}

static void test_zimage_rejected(void **state)
{
	struct fixture *f = *state;

	f->img[0x211] = 0;
	assert_int_equal(parse(f, IMAGE_SIZE), -ENOEXEC);
}

static void test_truncated_setup(void **state)
{
	struct fixture *f = *state;

	/* Header readable, but the 20 setup sectors are not all there. */
	f->img[0x1f1] = 20;
	assert_int_equal(parse(f, 21 * 512 - 1), -EINVAL);
}

static void test_truncated_kernel(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, IMAGE_SIZE - 16), -EINVAL);
	assert_int_equal(parse(f, (SETUP_SECTS + 1) * 512), -EINVAL);
}

static void test_zero_syssize(void **state)
{
	struct fixture *f = *state;

	put_le32(f->img + 0x1f4, 0);
	assert_int_equal(parse(f, IMAGE_SIZE), -EINVAL);
}

static void test_bad_alignment(void **state)
{
	struct fixture *f = *state;

	put_le32(f->img + 0x230, 0x300000);
	assert_int_equal(parse(f, IMAGE_SIZE), -EINVAL);
}

static void test_short_header_fields(void **state)
{
	struct fixture *f = *state;

	/* A header that ends before pref_address (jump displacement 0x50):
	 * pref_address and init_size read as absent. */
	f->img[0x201] = 0x50;
	put_le16(f->img + 0x206, 0x020c);
	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	assert_int_equal(f->bi.hdr_len, 0x202 + 0x50 - 0x1f1);
	assert_int_equal(f->bi.pref_address, 0);
	assert_int_equal(f->bi.init_size, 0);
	/* A header that ends before cmdline_size is not a 2.12 header. */
	f->img[0x201] = 0x30;
	assert_int_equal(parse(f, IMAGE_SIZE), -EINVAL);
}

static void test_runtime_start(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, IMAGE_SIZE), 0);
	/* Relocatable: load address rounded up to kernel_alignment. */
	assert_int_equal(bzimage_runtime_start(&f->bi, 0x100000), 0x200000);
	assert_int_equal(bzimage_runtime_start(&f->bi, 0x400000), 0x400000);
	assert_int_equal(bzimage_footprint_end(&f->bi, 0x100000), 0x200000 + 0x300000);
	/* Not relocatable: the kernel moves itself to pref_address. */
	f->bi.relocatable = false;
	assert_int_equal(bzimage_runtime_start(&f->bi, 0x100000), 0x1000000);
	assert_int_equal(bzimage_footprint_end(&f->bi, 0x100000), 0x1000000 + 0x300000);
	/* init_size smaller than the image: the image decides. */
	f->bi.relocatable = true;
	f->bi.init_size = 0x1000;
	assert_int_equal(bzimage_footprint_end(&f->bi, 0x200000), 0x200000 + PM_SIZE);
}

/* A distribution kernel, when one is present on this machine. */
static void test_real_kernel(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[BZIMAGE_PROBE_SIZE];
	glob_t g;
	FILE *fp;
	long size;
	size_t n;

	if (glob("/tmp/kdeb/x/boot/vmlinuz-*", 0, NULL, &g) != 0) {
		globfree(&g);
		print_message("skipped: no kernel at /tmp/kdeb/x/boot/vmlinuz-*\n");
		skip();
	}
	fp = fopen(g.gl_pathv[0], "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(bzimage_parse(buf, n, (uint64_t)size, g.gl_pathv[0], &f->bi), 0);
	assert_true(f->bi.version >= BZIMAGE_MIN_VERSION);
	assert_true(f->bi.xloadflags & 1);
	assert_true(f->bi.kernel_size >= f->bi.syssize_bytes);
	assert_int_equal(f->bi.setup_size + f->bi.kernel_size, (uint64_t)size);
	assert_true(f->bi.cmdline_size >= 255);
	assert_true(f->bi.init_size >= f->bi.kernel_size);
	/* Truncating the real file by one paragraph must be caught. */
	assert_int_equal(bzimage_parse(buf, n, f->bi.setup_size + f->bi.syssize_bytes - 16,
				       g.gl_pathv[0], &f->bi), -EINVAL);
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailing_bytes_are_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_zero_means_four, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_moves_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_boot_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_image_at_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arm64_image_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_kernel_64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zimage_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_syssize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_header_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_kernel, setup, teardown),
	};

	return cmocka_run_group_tests_name("bzimage", tests, NULL, NULL);
}
