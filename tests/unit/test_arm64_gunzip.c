/* Image.gz inflation (src/arch/arm64/gunzip.c): a stream made here with
 * zlib's gzip wrapper comes back byte for byte, with its full size
 * counted past the bytes kept; a stream cut short, a corrupt one, one
 * larger than the limit and one whose trailer lies about its size are
 * each refused (or coped with) as gunzip.h says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "arch/arm64/gunzip.h"
#include "arch/arm64/image.h"
#include "avp/le.h"

#define MIB (1ull << 20)

static uint8_t *plain;
static size_t plain_len;

/* gzip (RFC 1952) of plain: deflate with zlib's gzip wrapper. */
static uint8_t *gzip_of(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs;
	size_t cap = len + len / 100 + 1024;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

/* A 3 MiB "Image": an arm64 header, then bytes that do not compress to
 * nothing (a counter), so the stream spans many deflate blocks. */
static int setup(void **state)
{
	(void)state;
	plain_len = 3 * MIB;
	plain = calloc(1, plain_len);
	assert_non_null(plain);
	put_le64(plain + 16, 4 * MIB);
	put_le64(plain + 24, 0xa);
	put_le32(plain + ARM64_IMAGE_MAGIC_OFFSET, ARM64_IMAGE_MAGIC);
	for (size_t i = 4096; i < plain_len; i += 4)
		put_le32(plain + i, (uint32_t)(i * 2654435761u));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(plain);
	return 0;
}

static void test_round_trip(void **state)
{
	uint8_t head[ARM64_IMAGE_PROBE_SIZE], *out = NULL;
	struct arm64_image_info ii;
	size_t gz_len;
	uint8_t *gz = gzip_of(plain, plain_len, &gz_len);
	uint64_t total = 0, len = 0;

	(void)state;
	assert_int_equal(arm64_image_probe(gz, gz_len), ARM64_KERNEL_GZIP);
	/* Only the head kept; the size counted to the end. */
	assert_int_equal(arm64_gunzip(gz, gz_len, head, sizeof(head), 64 * MIB, "k", &total), 0);
	assert_int_equal(total, plain_len);
	assert_memory_equal(head, plain, sizeof(head));
	assert_int_equal(arm64_image_parse(head, sizeof(head), total, "k", &ii), 0);
	assert_int_equal(ii.image_size, 4 * MIB);
	/* Nothing kept: a count alone. */
	assert_int_equal(arm64_gunzip(gz, gz_len, NULL, 0, 64 * MIB, "k", &total), 0);
	assert_int_equal(total, plain_len);
	/* The whole of it. */
	assert_int_equal(arm64_gunzip_alloc(gz, gz_len, 64 * MIB, "k", &out, &len), 0);
	assert_int_equal(len, plain_len);
	assert_memory_equal(out, plain, plain_len);
	free(out);
	/* Bytes after the stream's end (padding) are not the Image's. */
	gz = realloc(gz, gz_len + 512);
	assert_non_null(gz);
	memset(gz + gz_len, 0, 512);
	assert_int_equal(arm64_gunzip(gz, gz_len + 512, NULL, 0, 64 * MIB, "k", &total), 0);
	assert_int_equal(total, plain_len);
	free(gz);
}

static void test_cut_short(void **state)
{
	size_t gz_len;
	uint8_t *gz = gzip_of(plain, plain_len, &gz_len);
	uint64_t total = 0;

	(void)state;
	/* Cut in the data, in the trailer, in the header; nothing at all. */
	assert_int_equal(arm64_gunzip(gz, gz_len / 2, NULL, 0, 64 * MIB, "k", &total), -EINVAL);
	assert_int_equal(arm64_gunzip(gz, gz_len - 2, NULL, 0, 64 * MIB, "k", &total), -EINVAL);
	assert_int_equal(arm64_gunzip(gz, 5, NULL, 0, 64 * MIB, "k", &total), -EINVAL);
	assert_int_equal(arm64_gunzip(gz, 0, NULL, 0, 64 * MIB, "k", &total), -EINVAL);
	free(gz);
}

static void test_corrupt(void **state)
{
	uint8_t *out = (uint8_t *)1;
	size_t gz_len;
	uint8_t *gz = gzip_of(plain, plain_len, &gz_len);
	uint64_t total = 0, len = 0;

	(void)state;
	/* The CRC-32 in the trailer no longer matches. */
	gz[gz_len - 6] ^= 0xff;
	assert_int_equal(arm64_gunzip(gz, gz_len, NULL, 0, 64 * MIB, "k", &total), -EINVAL);
	assert_int_equal(arm64_gunzip_alloc(gz, gz_len, 64 * MIB, "k", &out, &len), -EINVAL);
	assert_null(out);
	gz[gz_len - 6] ^= 0xff;
	/* A deflate block type that does not exist (BTYPE 11) right after
	 * the 10-byte header. */
	gz[10] |= 0x06;
	assert_int_equal(arm64_gunzip(gz, gz_len, NULL, 0, 64 * MIB, "k", &total), -EINVAL);
	free(gz);
	assert_int_equal(arm64_gunzip(NULL, 0, NULL, 0, MIB, "k", &total), -EINVAL);
	assert_int_equal(arm64_gunzip(plain, 16, NULL, 1, MIB, "k", &total), -EINVAL);
}

/* More than the limit (the guest's RAM): stopped there, not inflated to
 * the end. 64 MiB of zeros compress to about 64 KiB. */
static void test_limit(void **state)
{
	size_t zeros_len = 64 * MIB, gz_len;
	uint8_t *zeros = calloc(1, zeros_len), *gz, *out = NULL;
	uint64_t total = 0, len = 0;

	(void)state;
	assert_non_null(zeros);
	gz = gzip_of(zeros, zeros_len, &gz_len);
	free(zeros);
	assert_true(gz_len < MIB);
	assert_int_equal(arm64_gunzip(gz, gz_len, NULL, 0, 32 * MIB, "bomb", &total), -EFBIG);
	assert_int_equal(arm64_gunzip_alloc(gz, gz_len, 32 * MIB, "bomb", &out, &len), -EFBIG);
	assert_null(out);
	assert_int_equal(arm64_gunzip(gz, gz_len, NULL, 0, 64 * MIB, "k", &total), 0);
	assert_int_equal(total, 64 * MIB);
	free(gz);
}

/* ISIZE (the file's last 4 bytes when the stream ends the file) only
 * sizes the first buffer: padding after the stream makes those bytes
 * something else (0: too small, 0xffffffff: too large), and the whole
 * Image still comes back; the limit still holds. */
static void test_isize_lies(void **state)
{
	size_t gz_len;
	uint8_t *gz = gzip_of(plain, plain_len, &gz_len), *out = NULL;
	uint64_t len = 0;

	(void)state;
	gz = realloc(gz, gz_len + 16);
	assert_non_null(gz);
	for (int fill = 0; fill <= 0xff; fill += 0xff) {
		memset(gz + gz_len, fill, 16);
		assert_int_equal(arm64_gunzip_alloc(gz, gz_len + 16, 64 * MIB, "k", &out, &len), 0);
		assert_int_equal(len, plain_len);
		assert_memory_equal(out, plain, plain_len);
		free(out);
		out = NULL;
	}
	assert_int_equal(arm64_gunzip_alloc(gz, gz_len, plain_len, "k", &out, &len), 0);
	assert_int_equal(len, plain_len);
	free(out);
	out = NULL;
	assert_int_equal(arm64_gunzip_alloc(gz, gz_len, plain_len - 1, "k", &out, &len), -EFBIG);
	assert_null(out);
	free(gz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_isize_lies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
