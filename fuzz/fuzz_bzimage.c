/* libFuzzer target: the bzImage setup-header parser (src/arch/x86/bzimage.c)
 * on arbitrary bytes.
 *
 * Input: u8 mode, then the image's first bytes. With mode bit 0 a u32
 * follows first, and the file is said to be that much longer than the
 * bytes given, as when the loader has read only the head of a big file;
 * with bit 1 it is said to be shorter, which the parser must notice rather
 * than read past what it was given.
 *
 * Beyond the sanitizers, an accepted image must be self-consistent: setup
 * and kernel add up to the file, the kernel holds what syssize announces,
 * and the addresses the loader derives from it do not wrap. */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/bzimage.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where boot.c loads the protected-mode kernel (X86_KERNEL_GPA). */
#define LOAD_GPA 0x100000ull

FUZZ_LOG_ERRORS_ONLY()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	uint8_t mode = fz_u8(&z);
	uint64_t extra = mode & 1 ? fz_u32(&z) : 0;
	uint64_t file_size;
	struct bzimage_info bi;
	uint8_t *buf;
	size_t len;

	buf = fz_file_head(&z, mode, extra, &len, &file_size);
	if (!buf)
		return 0;
	if (bzimage_parse(buf, len, file_size, "fuzz", &bi) == 0) {
		uint64_t start = bzimage_runtime_start(&bi, LOAD_GPA);
		uint64_t end = bzimage_footprint_end(&bi, LOAD_GPA);

		FUZZ_CHECK(bi.setup_size + bi.kernel_size == file_size);
		FUZZ_CHECK(bi.syssize_bytes > 0 && bi.kernel_size >= bi.syssize_bytes);
		FUZZ_CHECK(bi.version >= BZIMAGE_MIN_VERSION);
		FUZZ_CHECK(BZIMAGE_HDR_OFFSET + bi.hdr_len <= len);
		FUZZ_CHECK(bi.setup_sects >= 1 && bi.setup_sects <= 255);
		FUZZ_CHECK(!bi.kernel_info_offset || bi.kernel_info_offset < bi.kernel_size);
		FUZZ_CHECK(end >= LOAD_GPA + bi.kernel_size);
		FUZZ_CHECK(end >= start);
	}
	free(buf);
	return 0;
}
