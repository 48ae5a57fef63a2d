/* AML byte-code writer; section numbers refer to ACPI 6.5. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "avp/le.h"

/* Opcodes and prefixes (section 20.3, "AML Byte Stream Byte Values"). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after ExtOpPrefix */
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX 0x5e
#define AML_NULL_NAME 0x00

/* Resource descriptor tags (sections 6.4.2, 6.4.3). */
#define RES_IRQ_NOFLAGS 0x22 /* small item 0x04, length 2 */
#define RES_IO 0x47	     /* small item 0x08, length 7 */
#define RES_END_TAG 0x79     /* small item 0x0f, length 1 */
#define RES_MEMORY32_FIXED 0x86
#define RES_EXT_IRQ 0x89
#define RES_DWORD_ADDRESS 0x87
#define RES_WORD_ADDRESS 0x88

#define PKGLENGTH_MAX ((1u << 28) - 1)

static int fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
	return a->err;
}

void aml_init(struct aml *a, void *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = buf ? cap : 0;
}

int aml_finish(struct aml *a, size_t *len)
{
	if (!a->err && a->depth)
		fail(a, -EINVAL);
	if (len)
		*len = a->err ? 0 : a->len;
	return a->err;
}

int aml_bytes(struct aml *a, const void *data, size_t len)
{
	if (a->err)
		return a->err;
	if (len > a->cap - a->len)
		return fail(a, -ENOSPC);
	if (len)
		memcpy(a->buf + a->len, data, len);
	a->len += len;
	return 0;
}

static int aml_byte(struct aml *a, uint8_t b)
{
	return aml_bytes(a, &b, 1);
}

/* Opens a gap of n bytes at pos, for lengths known only after the body. */
static int aml_insert(struct aml *a, size_t pos, const uint8_t *data, size_t n)
{
	if (a->err)
		return a->err;
	if (pos > a->len)
		return fail(a, -EINVAL);
	if (n > a->cap - a->len)
		return fail(a, -ENOSPC);
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, data, n);
	a->len += n;
	return 0;
}

/* Section 20.2.4: bits 7-6 of the lead byte count the bytes that follow.
 * With followers, the lead byte keeps only 4 length bits (5-4 are
 * reserved) and each follower adds 8 more, so the value — which includes
 * the encoding's own bytes — must fit 6, 12, 20 or 28 bits. */
int aml_encode_pkglength(size_t body_len, uint8_t out[4])
{
	static const size_t limit[4] = { 0x3f, 0xfff, 0xfffff, PKGLENGTH_MAX };

	for (unsigned int n = 1; n <= 4; n++) {
		size_t v;

		if (body_len > limit[n - 1] - n)
			continue;
		v = body_len + n;
		if (n == 1) {
			out[0] = (uint8_t)v;
			return 1;
		}
		out[0] = (uint8_t)(((n - 1) << 6) | (v & 0x0f));
		for (unsigned int i = 1; i < n; i++)
			out[i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
		return (int)n;
	}
	return -EINVAL;
}

static int encode_integer(uint64_t v, uint8_t out[9])
{
	unsigned int n;

	if (v == 0 || v == 1) {
		out[0] = v ? AML_ONE_OP : AML_ZERO_OP;
		return 1;
	}
	if (v <= UINT8_MAX) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= UINT16_MAX) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= UINT32_MAX) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (unsigned int i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return (int)(n + 1);
}

int aml_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[9];

	return aml_bytes(a, enc, (size_t)encode_integer(v, enc));
}

int aml_string(struct aml *a, const char *s)
{
	/* Section 20.2.3: AsciiCharList is 0x01-0x7f, then NullChar. */
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x7f)
			return fail(a, -EINVAL);
	aml_byte(a, AML_STRING_PREFIX);
	return aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Section 6.1.5 (_HID) and 19.6.42 (EISAID): three letters as 5-bit codes
 * ('A' = 1) packed big-endian into 16 bits, then the product number as 4
 * hex digits, also big-endian; the DWord holds those four bytes in order. */
int aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	uint16_t vendor = 0;

	if (strlen(id) != 7)
		return fail(a, -EINVAL);
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return fail(a, -EINVAL);
		vendor = (uint16_t)((vendor << 5) | (id[i] - 0x40));
	}
	for (int i = 3; i < 7; i++)
		if (hex_digit(id[i]) < 0)
			return fail(a, -EINVAL);
	b[0] = (uint8_t)(vendor >> 8);
	b[1] = (uint8_t)vendor;
	b[2] = (uint8_t)((hex_digit(id[3]) << 4) | hex_digit(id[4]));
	b[3] = (uint8_t)((hex_digit(id[5]) << 4) | hex_digit(id[6]));
	return aml_integer(a, (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
				      (uint64_t)b[3] << 24);
}

static bool name_char_ok(char c, bool lead)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!lead && c >= '0' && c <= '9');
}

int aml_name_string(struct aml *a, const char *path)
{
	uint8_t segs[255][4];
	unsigned int nsegs = 0;
	const char *p = path;
	bool prefixed = false;

	if (a->err)
		return a->err;
	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
		prefixed = true;
	} else {
		while (*p == '^') {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
			prefixed = true;
		}
	}
	while (*p) {
		unsigned int n = 0;

		if (nsegs == 255)
			return fail(a, -EINVAL);
		while (p[n] && p[n] != '.') {
			if (n == 4 || !name_char_ok(p[n], n == 0))
				return fail(a, -EINVAL);
			segs[nsegs][n] = (uint8_t)p[n];
			n++;
		}
		if (n == 0)
			return fail(a, -EINVAL);
		for (unsigned int i = n; i < 4; i++)
			segs[nsegs][i] = '_';
		nsegs++;
		p += n;
		if (*p == '.' && !*++p)
			return fail(a, -EINVAL); /* trailing dot */
	}
	/* Section 20.2.2: NamePath is NameSeg | DualNamePath | MultiNamePath
	 * | NullName; only a prefix may stand alone. */
	if (nsegs == 0) {
		if (!prefixed)
			return fail(a, -EINVAL);
		return aml_byte(a, AML_NULL_NAME);
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nsegs);
	}
	return aml_bytes(a, segs, 4 * (size_t)nsegs);
}

static int aml_open(struct aml *a, enum aml_open_kind kind)
{
	if (a->err)
		return a->err;
	if (a->depth == AML_MAX_DEPTH)
		return fail(a, -EINVAL);
	a->open[a->depth].kind = kind;
	a->open[a->depth].body = a->len;
	a->depth++;
	return 0;
}

int aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	return aml_name_string(a, path);
}

int aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, AML_OPEN_PKG);
	return aml_name_string(a, path);
}

int aml_device_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_open(a, AML_OPEN_PKG);
	return aml_name_string(a, path);
}

int aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, AML_OPEN_PKG);
	return aml_byte(a, nelems);
}

static int aml_buffer_begin(struct aml *a, enum aml_open_kind kind)
{
	aml_byte(a, AML_BUFFER_OP);
	return aml_open(a, kind);
}

int aml_buffer(struct aml *a, const void *data, size_t len)
{
	aml_buffer_begin(a, AML_OPEN_BUFFER);
	aml_bytes(a, data, len);
	return aml_end(a);
}

int aml_restemplate_begin(struct aml *a)
{
	return aml_buffer_begin(a, AML_OPEN_RESTEMPLATE);
}

int aml_end(struct aml *a)
{
	uint8_t enc[9];
	size_t body;
	int n;

	if (a->err)
		return a->err;
	if (a->depth == 0)
		return fail(a, -EINVAL);
	a->depth--;
	body = a->open[a->depth].body;
	if (a->open[a->depth].kind == AML_OPEN_RESTEMPLATE) {
		/* Section 6.4.2.9: the checksum makes the template's bytes,
		 * end tag included, sum to zero. */
		uint8_t sum = RES_END_TAG;

		for (size_t i = body; i < a->len; i++)
			sum = (uint8_t)(sum + a->buf[i]);
		aml_byte(a, RES_END_TAG);
		aml_byte(a, (uint8_t)-sum);
	}
	if (a->open[a->depth].kind != AML_OPEN_PKG) {
		/* DefBuffer := BufferOp PkgLength BufferSize ByteList; the
		 * size is a TermArg, here an Integer, inside the PkgLength. */
		n = encode_integer(a->len - body, enc);
		aml_insert(a, body, enc, (size_t)n);
	}
	if (a->err)
		return a->err;
	n = aml_encode_pkglength(a->len - body, enc);
	if (n < 0)
		return fail(a, n);
	return aml_insert(a, body, enc, (size_t)n);
}

static int res_put(struct aml *a, const uint8_t *d, size_t n)
{
	if (a->err)
		return a->err;
	if (a->depth == 0 || a->open[a->depth - 1].kind != AML_OPEN_RESTEMPLATE)
		return fail(a, -EINVAL);
	return aml_bytes(a, d, n);
}

/* Section 6.4.3.4: tag, length 9, information (bit 0: writeable), base,
 * range length. */
int aml_res_memory32_fixed(struct aml *a, int rw, uint32_t base, uint32_t size)
{
	uint8_t d[12] = { RES_MEMORY32_FIXED, 9, 0, (uint8_t)(rw ? 1 : 0) };

	put_le32(d + 4, base);
	put_le32(d + 8, size);
	return res_put(a, d, sizeof(d));
}

/* Section 6.4.3.6: tag, length, flags, interrupt table length, then the
 * table; no ResourceSource, so the length is 2 + 4 * count. */
int aml_res_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi)
{
	uint8_t d[9] = { RES_EXT_IRQ, 6, 0, (uint8_t)(flags & 0x1f), 1 };

	put_le32(d + 5, gsi);
	return res_put(a, d, sizeof(d));
}

/* Section 6.4.2.5: information bit 0 set = the device decodes 16 bits. */
int aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { RES_IO, 1 };

	put_le16(d + 2, min);
	put_le16(d + 4, max);
	d[6] = align;
	d[7] = len;
	return res_put(a, d, sizeof(d));
}

/* Section 6.4.2.1: the 2-byte form (no information byte) means
 * edge-triggered, active high, not shared. */
int aml_res_irq_noflags(struct aml *a, uint16_t mask)
{
	uint8_t d[3] = { RES_IRQ_NOFLAGS };

	put_le16(d + 1, mask);
	return res_put(a, d, sizeof(d));
}

int aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	/* Word Address Space Descriptor (6.4.3.5.3), resource type 2 (bus
	 * number range); general flags: producer, min and max fixed. */
	uint8_t d[16] = { RES_WORD_ADDRESS, 13, 0, 2, 0x0c, 0 };

	if (max < min)
		return fail(a, -EINVAL);
	put_le16(d + 6, 0);			/* granularity */
	put_le16(d + 8, min);
	put_le16(d + 10, max);
	put_le16(d + 12, 0);			/* translation */
	put_le16(d + 14, (uint16_t)(max - min + 1));
	return res_put(a, d, sizeof(d));
}

int aml_res_dword_memory(struct aml *a, uint32_t base, uint32_t size)
{
	/* DWord Address Space Descriptor (6.4.3.5.2), resource type 0
	 * (memory); producer, min and max fixed; read-write, non-cacheable. */
	uint8_t d[26] = { RES_DWORD_ADDRESS, 23, 0, 0, 0x0c, 0x01 };

	if (size == 0 || base > UINT32_MAX - (size - 1))
		return fail(a, -EINVAL);
	put_le32(d + 6, 0);			/* granularity */
	put_le32(d + 10, base);
	put_le32(d + 14, base + (size - 1));
	put_le32(d + 18, 0);			/* translation */
	put_le32(d + 22, size);
	return res_put(a, d, sizeof(d));
}
