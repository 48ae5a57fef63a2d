/* libFuzzer target: the arm64 Image header parser and placement
 * (src/arch/arm64/image.c) on arbitrary bytes.
 *
 * Input: u8 mode, u32 extra, u64 RAM base, u32 RAM MiB, then the file's
 * first bytes. Mode bit 0: the file is `extra` bytes longer than the bytes
 * given (the loader read only its head); bit 1: shorter, which the parser
 * must notice rather than read past what it was given.
 *
 * Beyond the sanitizers: probe agrees with parse on what is an Image; an
 * accepted Image is self-consistent (image_size covers the file, page
 * size one of 0/4/16/64 KiB, little-endian); a placement lies text_offset
 * above a 2 MiB aligned base inside the RAM given, with image_size bytes
 * of RAM from there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/image.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_LOG_ERRORS_ONLY()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	uint8_t mode = fz_u8(&z);
	uint64_t extra = fz_u32(&z);
	uint64_t ram_base = fz_u64(&z);
	uint64_t ram_size = (uint64_t)fz_u32(&z) << 20;
	struct arm64_image_info ii;
	uint64_t file_size, gpa = 0;
	enum arm64_kernel_format f;
	uint8_t *buf;
	size_t len;
	int ret;

	buf = fz_file_head(&z, mode, extra, &len, &file_size);
	if (!buf)
		return 0;
	f = arm64_image_probe(buf, len < file_size ? len : (size_t)file_size);
	ret = arm64_image_parse(buf, len, file_size, "fuzz", &ii);
	FUZZ_CHECK(ret == 0 || ret == -ENOEXEC || ret == -EINVAL);
	FUZZ_CHECK(f == ARM64_KERNEL_IMAGE || ret != 0);
	if (ret == 0) {
		FUZZ_CHECK(f == ARM64_KERNEL_IMAGE);
		FUZZ_CHECK(ii.image_size >= ii.file_size && ii.file_size == file_size);
		FUZZ_CHECK(ii.page_kib == 0 || ii.page_kib == 4 || ii.page_kib == 16 ||
			   ii.page_kib == 64);
		FUZZ_CHECK(!(ii.flags & ARM64_IMAGE_FLAG_BE));
		FUZZ_CHECK(ii.text_offset % 8 == 0);
		if (arm64_image_place(&ii, ram_base, ram_size, &gpa) == 0) {
			uint64_t base = gpa - ii.text_offset;

			FUZZ_CHECK(gpa >= ii.text_offset);
			FUZZ_CHECK(base % ARM64_IMAGE_ALIGN == 0);
			FUZZ_CHECK(base >= ram_base);
			FUZZ_CHECK(gpa + ii.image_size >= gpa);
			FUZZ_CHECK(gpa + ii.image_size <= ram_base + ram_size);
		}
	}
	free(buf);
	return 0;
}
