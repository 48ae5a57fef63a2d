/* AML writer: PkgLength and integer encodings at their boundaries, name
 * strings, nesting, resource templates and the bounded output buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/aml.h"

/* Decodes a PkgLength (ACPI 6.4, section 20.2.4) independently of the
 * writer: returns the value and stores the encoding's size. */
static size_t decode_pkglength(const uint8_t *p, size_t *nbytes)
{
	unsigned int follow = p[0] >> 6;
	size_t v;

	*nbytes = 1 + follow;
	if (!follow)
		return p[0] & 0x3f;
	assert_int_equal(p[0] & 0x30, 0); /* reserved bits */
	v = p[0] & 0x0f;
	for (unsigned int i = 1; i <= follow; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

static void check_pkglength(size_t body, int want_bytes)
{
	uint8_t enc[4];
	size_t n;
	int ret = aml_encode_pkglength(body, enc);

	assert_int_equal(ret, want_bytes);
	/* The value counts the encoding itself. */
	assert_int_equal(decode_pkglength(enc, &n), body + (size_t)want_bytes);
	assert_int_equal(n, (size_t)want_bytes);
}

static void test_pkglength_boundaries(void **state)
{
	uint8_t enc[4];

	(void)state;
	check_pkglength(0, 1);
	check_pkglength(62, 1); /* 63 = 0x3f, the largest 1-byte value */
	check_pkglength(63, 2);
	check_pkglength(4093, 2); /* 4095 = 0xfff */
	check_pkglength(4094, 3);
	check_pkglength(0xfffff - 3, 3);
	check_pkglength(0xfffff - 2, 4);
	check_pkglength((1u << 28) - 1 - 4, 4);
	assert_int_equal(aml_encode_pkglength((1u << 28) - 4, enc), -EINVAL);

	/* Exact bytes for a few values. */
	assert_int_equal(aml_encode_pkglength(62, enc), 1);
	assert_int_equal(enc[0], 0x3f);
	assert_int_equal(aml_encode_pkglength(63, enc), 2);
	assert_int_equal(enc[0], 0x41); /* 65 = 0x041 */
	assert_int_equal(enc[1], 0x04);
	assert_int_equal(aml_encode_pkglength(4094, enc), 3);
	assert_int_equal(enc[0], 0x81); /* 4097 = 0x01001 */
	assert_int_equal(enc[1], 0x00);
	assert_int_equal(enc[2], 0x01);
}

static void check_integer(uint64_t v, const uint8_t *want, size_t want_len)
{
	uint8_t buf[16];
	struct aml a;
	size_t len;

	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_integer(&a, v), 0);
	assert_int_equal(aml_finish(&a, &len), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, want_len);
}

static void test_integer_encodings(void **state)
{
	(void)state;
	check_integer(0, (const uint8_t[]){ 0x00 }, 1);
	check_integer(1, (const uint8_t[]){ 0x01 }, 1);
	check_integer(2, (const uint8_t[]){ 0x0a, 0x02 }, 2);
	check_integer(0xff, (const uint8_t[]){ 0x0a, 0xff }, 2);
	check_integer(0x100, (const uint8_t[]){ 0x0b, 0x00, 0x01 }, 3);
	check_integer(0xffff, (const uint8_t[]){ 0x0b, 0xff, 0xff }, 3);
	check_integer(0x10000, (const uint8_t[]){ 0x0c, 0x00, 0x00, 0x01, 0x00 }, 5);
	check_integer(0xd0000000, (const uint8_t[]){ 0x0c, 0x00, 0x00, 0x00, 0xd0 }, 5);
	check_integer(0xffffffff, (const uint8_t[]){ 0x0c, 0xff, 0xff, 0xff, 0xff }, 5);
	check_integer(0x100000000ull,
		      (const uint8_t[]){ 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 }, 9);
	check_integer(UINT64_MAX,
		      (const uint8_t[]){ 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9);
}

static void check_name(const char *path, int want_ret, const uint8_t *want, size_t want_len)
{
	uint8_t buf[64];
	struct aml a;
	size_t len;

	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_name_string(&a, path), want_ret);
	assert_int_equal(aml_finish(&a, &len), want_ret);
	if (want_ret)
		return;
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, want_len);
}

static void test_name_strings(void **state)
{
	(void)state;
	check_name("_HID", 0, (const uint8_t *)"_HID", 4);
	check_name("_S5", 0, (const uint8_t *)"_S5_", 4);
	check_name("\\_SB", 0, (const uint8_t *)"\\_SB_", 5);
	check_name("\\", 0, (const uint8_t[]){ 0x5c, 0x00 }, 2);
	check_name("^^COM1", 0, (const uint8_t *)"^^COM1", 6);
	check_name("\\_SB.VR00", 0, (const uint8_t *)"\\\x2e_SB_VR00", 10);
	check_name("A.B.C", 0, (const uint8_t *)"\x2f\x03" "A___B___C___", 14);
	check_name("", -EINVAL, NULL, 0);
	check_name("1ABC", -EINVAL, NULL, 0);  /* leading digit */
	check_name("ABCDE", -EINVAL, NULL, 0); /* 5 characters */
	check_name("abcd", -EINVAL, NULL, 0);  /* lower case */
	check_name("AB..C", -EINVAL, NULL, 0);
	check_name("AB.", -EINVAL, NULL, 0);
}

static void test_strings_and_eisaid(void **state)
{
	uint8_t buf[64];
	struct aml a;
	size_t len;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "LNRO0005");
	aml_eisaid(&a, "PNP0A03");
	aml_eisaid(&a, "PNP0501");
	assert_int_equal(aml_finish(&a, &len), 0);
	assert_int_equal(len, 10 + 5 + 5);
	assert_memory_equal(buf, "\x0dLNRO0005", 10);
	/* Well-known encodings: PNP0A03 = 0x030AD041, PNP0501 = 0x0105D041. */
	assert_memory_equal(buf + 10, ((const uint8_t[]){ 0x0c, 0x41, 0xd0, 0x0a, 0x03 }), 5);
	assert_memory_equal(buf + 15, ((const uint8_t[]){ 0x0c, 0x41, 0xd0, 0x05, 0x01 }), 5);

	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_eisaid(&a, "pnp0501"), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_eisaid(&a, "PNP05G1"), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_string(&a, "\xc3\xa9"), -EINVAL);
}

static void test_device_and_buffer(void **state)
{
	uint8_t buf[64];
	struct aml a;
	size_t len;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_device_begin(&a, "VR00");
	aml_name(&a, "_UID");
	aml_integer(&a, 0);
	aml_end(&a);
	aml_buffer(&a, "\xaa\xbb\xcc", 3);
	assert_int_equal(aml_finish(&a, &len), 0);
	/* DefDevice := ExtOpPrefix DeviceOp PkgLength NameString TermList:
	 * body is VR00 (4) + NameOp _UID ZeroOp (6) = 10, PkgLength 11. */
	assert_int_equal(len, 13 + 7);
	assert_memory_equal(buf, "\x5b\x82\x0bVR00\x08_UID\x00", 13);
	/* DefBuffer := BufferOp PkgLength BufferSize ByteList. */
	assert_memory_equal(buf + 13, "\x11\x06\x0a\x03\xaa\xbb\xcc", 7);
}

/* A package large enough for a 2-byte PkgLength, inside a scope. */
static void test_nested_multibyte_pkglength(void **state)
{
	uint8_t buf[512];
	struct aml a;
	size_t len, n, v, body;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_scope_begin(&a, "\\_SB");
	aml_name(&a, "TBL0");
	aml_package_begin(&a, 40);
	for (int i = 0; i < 40; i++)
		aml_integer(&a, 0x1234);
	aml_end(&a);
	aml_end(&a);
	assert_int_equal(aml_finish(&a, &len), 0);

	assert_int_equal(buf[0], 0x10);
	v = decode_pkglength(buf + 1, &n);
	assert_int_equal(n, 2);
	assert_int_equal(v, len - 1); /* the scope spans the whole rest */
	body = 1 + n;
	assert_memory_equal(buf + body, "\\_SB_\x08TBL0\x12", 11);
	v = decode_pkglength(buf + body + 11, &n);
	assert_int_equal(n, 2);
	assert_int_equal(v, n + 1 + 40 * 3);
	assert_int_equal(buf[body + 11 + n], 40);
	assert_memory_equal(buf + body + 11 + n + 1, "\x0b\x34\x12", 3);
	assert_int_equal(body + 11 + v, len);
}

static void test_resource_template(void **state)
{
	uint8_t buf[128];
	struct aml a;
	size_t len;
	uint8_t sum = 0;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_restemplate_begin(&a);
	aml_res_memory32_fixed(&a, AML_MEM_READ_WRITE, 0xd0001000, 0x200);
	aml_res_ext_irq(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 6);
	aml_res_io(&a, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(&a, 1u << 4);
	aml_end(&a);
	assert_int_equal(aml_finish(&a, &len), 0);

	/* 12 + 9 + 8 + 3 + end tag 2 = 34 bytes of template. */
	assert_int_equal(len, 1 + 1 + 2 + 34);
	assert_memory_equal(buf, "\x11\x25\x0a\x22", 4);
	assert_memory_equal(buf + 4, "\x86\x09\x00\x01\x00\x10\x00\xd0\x00\x02\x00\x00", 12);
	assert_memory_equal(buf + 16, "\x89\x06\x00\x03\x01\x06\x00\x00\x00", 9);
	assert_memory_equal(buf + 25, "\x47\x01\xf8\x03\xf8\x03\x01\x08", 8);
	assert_memory_equal(buf + 33, "\x22\x10\x00", 3);
	assert_int_equal(buf[36], 0x79);
	for (size_t i = 4; i < len; i++)
		sum = (uint8_t)(sum + buf[i]);
	assert_int_equal(sum, 0);

	/* Descriptors belong inside a template. */
	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_res_io(&a, 0x70, 0x70, 1, 2), -EINVAL);
}

static void build_sample(struct aml *a)
{
	aml_scope_begin(a, "\\_SB");
	aml_device_begin(a, "VR00");
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	aml_res_memory32_fixed(a, AML_MEM_READ_WRITE, 0xd0000000, 0x200);
	aml_res_ext_irq(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 5);
	aml_end(a);
	aml_end(a);
	aml_end(a);
}

static void test_bounded_output(void **state)
{
	uint8_t big[256], small[256];
	struct aml a;
	size_t need, len;

	(void)state;
	aml_init(&a, big, sizeof(big));
	build_sample(&a);
	assert_int_equal(aml_finish(&a, &need), 0);

	/* Exactly enough room works and gives the same bytes. */
	aml_init(&a, small, need);
	build_sample(&a);
	assert_int_equal(aml_finish(&a, &len), 0);
	assert_int_equal(len, need);
	assert_memory_equal(small, big, need);

	/* Any less fails with -ENOSPC, sticky, and writes nothing past cap. */
	for (size_t cap = 0; cap < need; cap++) {
		memset(small, 0xee, sizeof(small));
		aml_init(&a, small, cap);
		build_sample(&a);
		assert_int_equal(aml_integer(&a, 7), -ENOSPC);
		assert_int_equal(aml_finish(&a, &len), -ENOSPC);
		assert_int_equal(len, 0);
		for (size_t i = cap; i < sizeof(small); i++)
			assert_int_equal(small[i], 0xee);
	}
}

static void test_unbalanced(void **state)
{
	uint8_t buf[64];
	struct aml a;
	size_t len;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	assert_int_equal(aml_end(&a), -EINVAL);

	aml_init(&a, buf, sizeof(buf));
	aml_device_begin(&a, "DEV0");
	assert_int_equal(aml_finish(&a, &len), -EINVAL);

	aml_init(&a, buf, sizeof(buf));
	for (int i = 0; i < AML_MAX_DEPTH; i++)
		assert_int_equal(aml_package_begin(&a, 1), 0);
	assert_int_equal(aml_package_begin(&a, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkglength_boundaries),
		cmocka_unit_test(test_integer_encodings),
		cmocka_unit_test(test_name_strings),
		cmocka_unit_test(test_strings_and_eisaid),
		cmocka_unit_test(test_device_and_buffer),
		cmocka_unit_test(test_nested_multibyte_pkglength),
		cmocka_unit_test(test_resource_template),
		cmocka_unit_test(test_bounded_output),
		cmocka_unit_test(test_unbalanced),
	};

	return cmocka_run_group_tests_name("aml", tests, NULL, NULL);
}
