/* arm64 Image header: crafted headers for every rule of booting.rst the
 * parser enforces (magic, text_offset, image_size, flags: endianness, page
 * size, placement bit; the pre-3.17 legacy form), the other formats a
 * user may give instead (x86 bzImage, Image.gz, EFI zboot) each named,
 * and placement at a 2 MiB aligned base. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/arm64/image.h"
#include "avp/le.h"
#include "avp/log.h"

#define MIB (1ull << 20)

static uint8_t img[ARM64_IMAGE_PROBE_SIZE];

/* A v3.17+ header: b stext, text_offset 0, 20 MiB effective size, LE,
 * 4 KiB pages, placement anywhere. */
static void header(uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(img, 0, sizeof(img));
	put_le32(img + 0, 0x14000010); /* b +0x40 */
	put_le64(img + 8, text_offset);
	put_le64(img + 16, image_size);
	put_le64(img + 24, flags);
	put_le32(img + 0x38, ARM64_IMAGE_MAGIC);
}

static void test_valid_header(void **state)
{
	struct arm64_image_info ii;

	(void)state;
	header(0, 20 * MIB, 0xa);
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_IMAGE);
	assert_int_equal(memcmp(img + 0x38, "ARM\x64", 4), 0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 15 * MIB, "Image", &ii), 0);
	assert_int_equal(ii.text_offset, 0);
	assert_int_equal(ii.image_size, 20 * MIB);
	assert_int_equal(ii.file_size, 15 * MIB);
	assert_int_equal(ii.page_kib, 4);
	assert_true(ii.phys_base_anywhere);
	assert_false(ii.legacy);

	/* Page sizes, and "unspecified". */
	header(0, 20 * MIB, 2 << 1);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "Image", &ii), 0);
	assert_int_equal(ii.page_kib, 16);
	assert_false(ii.phys_base_anywhere);
	header(0, 20 * MIB, 3 << 1);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "Image", &ii), 0);
	assert_int_equal(ii.page_kib, 64);
	header(0, 20 * MIB, 0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "Image", &ii), 0);
	assert_int_equal(ii.page_kib, 0);

	/* A file larger than image_size (appended data) must fit whole. */
	header(0x80000, 4 * MIB, 0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 6 * MIB, "Image", &ii), 0);
	assert_int_equal(ii.image_size, 6 * MIB);
	assert_int_equal(ii.text_offset, 0x80000);
	/* Only the header needs to be in the buffer. */
	assert_int_equal(arm64_image_parse(img, ARM64_IMAGE_HDR_SIZE, 6 * MIB, "Image", &ii), 0);
}

static void test_legacy_header(void **state)
{
	struct arm64_image_info ii;

	(void)state;
	/* image_size 0: text_offset is 0x80000 whatever the field says
	 * (it may be big-endian), and so are the flags (reserved then). */
	header(0x0000080000000000ull, 0, 0x1);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 7 * MIB, "old", &ii), 0);
	assert_true(ii.legacy);
	assert_int_equal(ii.text_offset, 0x80000);
	assert_int_equal(ii.image_size, 7 * MIB);
	assert_int_equal(ii.flags, 0);
}

static void test_rejected_headers(void **state)
{
	struct arm64_image_info ii;

	(void)state;
	/* Big-endian kernel. */
	header(0, 20 * MIB, 0x1);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "be", &ii), -ENOEXEC);
	/* No magic. */
	header(0, 20 * MIB, 0);
	img[0x3b] = 0;
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_UNKNOWN);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "nomagic", &ii), -ENOEXEC);
	/* Corrupt sizes and offsets. */
	header(1ull << 62, 20 * MIB, 0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "off", &ii), -EINVAL);
	header(0, ~0ull, 0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "size", &ii), -EINVAL);
	header(0x80004, 20 * MIB, 0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, "odd", &ii), -EINVAL);
	/* Truncated: shorter than the header, in the buffer or the file. */
	header(0, 20 * MIB, 0);
	assert_int_equal(arm64_image_parse(img, 40, 40, "short", &ii), -EINVAL);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 40, "short", &ii), -EINVAL);
	assert_int_equal(arm64_image_parse(img, 0, 0, "empty", &ii), -EINVAL);
	assert_int_equal(arm64_image_parse(NULL, 0, 0, NULL, &ii), -EINVAL);
	assert_int_equal(arm64_image_parse(img, sizeof(img), MIB, NULL, NULL), -EINVAL);
}

/* Parses img and returns what it said on stderr, which must be exactly
 * one line. */
static int parse_said(uint64_t file_size, const char *name, char *msg, size_t len)
{
	struct arm64_image_info ii;
	FILE *tmp = tmpfile();
	int saved, ret;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	ret = arm64_image_parse(img, sizeof(img), file_size, name, &ii);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(msg, 1, len - 1, tmp);
	msg[n] = '\0';
	fclose(tmp);
	assert_true(n > 0 && strchr(msg, '\n') == msg + n - 1); /* one line */
	return ret;
}

/* Every other format is named, with what to give instead. */
static void test_other_formats(void **state)
{
	struct arm64_image_info ii;
	char msg[512];

	(void)state;
	memset(img, 0, sizeof(img));
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	memcpy(img + 0x202, "HdrS", 4);
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_X86_BZIMAGE);
	assert_int_equal(arm64_image_probe(img, 0x205), ARM64_KERNEL_UNKNOWN);
	assert_int_equal(parse_said(8 * MIB, "bzImage", msg, sizeof(msg)), -ENOEXEC);
	assert_non_null(strstr(msg, "bzImage is an x86 bzImage, not an arm64 kernel"));
	assert_non_null(strstr(msg, "arch/arm64/boot/Image"));
	assert_string_equal(arm64_kernel_format_name(ARM64_KERNEL_X86_BZIMAGE), "x86 bzImage");

	memset(img, 0, sizeof(img));
	img[0] = 0x1f;
	img[1] = 0x8b;
	img[2] = 8;
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_GZIP);
	assert_int_equal(parse_said(8 * MIB, "vmlinuz", msg, sizeof(msg)), -ENOEXEC);
	assert_non_null(strstr(msg, "gzip-compressed"));
	assert_non_null(strstr(msg, "unpack it (zcat)"));
	/* Even a gzip file shorter than a header is named as one. */
	assert_int_equal(arm64_image_parse(img, 10, 10, "vmlinuz", &ii), -ENOEXEC);

	memset(img, 0, sizeof(img));
	memcpy(img, "MZ\0\0zimg", 8);
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_EFI_ZBOOT);
	assert_int_equal(parse_said(8 * MIB, "vmlinuz.efi", msg, sizeof(msg)), -ENOEXEC);
	assert_non_null(strstr(msg, "EFI zboot"));

	/* An EFI-stub Image starts with "MZ" too: the magic decides. */
	header(0, 20 * MIB, 0xa);
	img[0] = 'M';
	img[1] = 'Z';
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_IMAGE);
	assert_int_equal(arm64_image_probe(NULL, 64), ARM64_KERNEL_UNKNOWN);
	assert_int_equal(arm64_image_probe(img, 63), ARM64_KERNEL_UNKNOWN);
}

/* A vmlinux (ELF) is named as one. */
static void test_elf(void **state)
{
	char msg[512];

	(void)state;
	memset(img, 0, sizeof(img));
	memcpy(img, "\x7f" "ELF\x02\x01\x01", 7);
	assert_int_equal(arm64_image_probe(img, sizeof(img)), ARM64_KERNEL_ELF);
	assert_int_equal(arm64_image_probe(img, 3), ARM64_KERNEL_UNKNOWN);
	assert_int_equal(parse_said(8 * MIB, "vmlinux", msg, sizeof(msg)), -ENOEXEC);
	assert_non_null(strstr(msg, "vmlinux is an ELF file"));
	assert_non_null(strstr(msg, "arch/arm64/boot/Image"));
	assert_string_equal(arm64_kernel_format_name(ARM64_KERNEL_ELF), "ELF file");
}

/* An EFI-stub Image (what distributions ship): "MZ", the PE header at
 * 0x40 as Linux's efi-header.S puts it, and two sections whose raw data
 * ends at end_of_data. */
static void efi_header(uint32_t end_of_data)
{
	uint8_t *pe = img + 0x40, *sec = pe + 24 + 160;

	header(0, 40 * MIB, 0xa);
	img[0] = 'M';
	img[1] = 'Z';
	put_le32(img + 0x3c, 0x40);
	memcpy(pe, "PE\0\0", 4);
	put_le16(pe + 4, 0xaa64); /* IMAGE_FILE_MACHINE_ARM64 */
	put_le16(pe + 6, 2);
	put_le16(pe + 20, 160);
	memcpy(sec, ".text", 5);
	put_le32(sec + 16, 0x1e00000);
	put_le32(sec + 20, 0x10000);
	memcpy(sec + 40, ".data", 5);
	put_le32(sec + 40 + 16, end_of_data - 0x1e10000);
	put_le32(sec + 40 + 20, 0x1e10000);
}

static void test_truncated_efi_image(void **state)
{
	struct arm64_image_info ii;
	char msg[512];

	(void)state;
	/* Debian 12's 6.12 Image: 44282368 bytes, .data ending there. */
	efi_header(44282368);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 44282368, "Image", &ii), 0);
	assert_int_equal(ii.file_size, 44282368);
	assert_int_equal(parse_said(44282368 - 512, "Image", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "Image is truncated: 44281856 bytes"));
	assert_non_null(strstr(msg, "need 44282368"));
	/* A section table beyond the bytes read, a PE offset pointing
	 * nowhere, or no "PE" signature: nothing to check, accepted. */
	efi_header(44282368);
	assert_int_equal(arm64_image_parse(img, 0x100, 4 * MIB, "Image", &ii), 0);
	put_le32(img + 0x3c, 0xfffffff0);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 4 * MIB, "Image", &ii), 0);
	efi_header(44282368);
	img[0x41] = 'X';
	assert_int_equal(arm64_image_parse(img, sizeof(img), 4 * MIB, "Image", &ii), 0);
}

static void test_placement(void **state)
{
	struct arm64_image_info ii;
	uint64_t gpa = 0;

	(void)state;
	header(0, 20 * MIB, 0xa);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 15 * MIB, "Image", &ii), 0);
	/* RAM at 1 GiB: the kernel at its start. */
	assert_int_equal(arm64_image_place(&ii, 0x40000000, 256 * MIB, &gpa), 0);
	assert_int_equal(gpa, 0x40000000);
	/* RAM starting off 2 MiB: the next aligned base. */
	assert_int_equal(arm64_image_place(&ii, 0x40001000, 256 * MIB, &gpa), 0);
	assert_int_equal(gpa, 0x40200000);
	assert_int_equal(gpa % ARM64_IMAGE_ALIGN, 0);
	/* Too little RAM for image_size (not just the file). */
	assert_int_equal(arm64_image_place(&ii, 0x40000000, 20 * MIB, &gpa), 0);
	assert_int_equal(arm64_image_place(&ii, 0x40000000, 20 * MIB - 1, &gpa), -ENOSPC);
	assert_int_equal(arm64_image_place(&ii, 0x40001000, 20 * MIB, &gpa), -ENOSPC);
	/* text_offset counts from the aligned base. */
	header(0x80000, 20 * MIB, 0x2);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 15 * MIB, "Image", &ii), 0);
	assert_int_equal(arm64_image_place(&ii, 0x40000000, 256 * MIB, &gpa), 0);
	assert_int_equal(gpa, 0x40080000);
	/* Bit 3: the whole image below 2^48. */
	header(0, 20 * MIB, 0xa);
	assert_int_equal(arm64_image_parse(img, sizeof(img), 15 * MIB, "Image", &ii), 0);
	assert_int_equal(arm64_image_place(&ii, (1ull << 48) - 16 * MIB, 64 * MIB, &gpa), -ENOSPC);
	/* Bad ranges. */
	assert_int_equal(arm64_image_place(&ii, ~0ull - MIB, 2 * MIB, &gpa), -EINVAL);
	assert_int_equal(arm64_image_place(&ii, ~0ull - MIB, MIB, &gpa), -ENOSPC);
	assert_int_equal(arm64_image_place(&ii, 0, 0, &gpa), -EINVAL);
	assert_int_equal(arm64_image_place(NULL, 0, MIB, &gpa), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_header),
		cmocka_unit_test(test_legacy_header),
		cmocka_unit_test(test_rejected_headers),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_elf),
		cmocka_unit_test(test_truncated_efi_image),
		cmocka_unit_test(test_placement),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests_name("arm64_image", tests, NULL, NULL);
}
