/* arm64 Image header parsing and placement (src/arch/arm64/image.h), after
 * Linux's Documentation/arch/arm64/booting.rst, section 4 "Call the kernel
 * image": the 64-byte header (code0, code1, text_offset, image_size,
 * flags, three reserved words, magic, a PE/COFF offset), all fields
 * little-endian since v3.17. */
#include <errno.h>
#include <string.h>

#include "arch/arm64/image.h"
#include "avp/le.h"
#include "avp/log.h"

/* Beyond the 48-bit physical range (booting.rst, flags bit 3). */
#define PHYS_48BIT (1ull << 48)
/* No kernel is this large; a header that claims it is corrupt, and the
 * bound keeps every sum below from wrapping. */
#define MAX_IMAGE (1ull << 40)

enum arm64_kernel_format arm64_image_probe(const uint8_t *buf, size_t len)
{
	if (!buf)
		return ARM64_KERNEL_UNKNOWN;
	if (len >= ARM64_IMAGE_HDR_SIZE && get_le32(buf + ARM64_IMAGE_MAGIC_OFFSET) == ARM64_IMAGE_MAGIC)
		return ARM64_KERNEL_IMAGE;
	if (len >= 0x206 && !memcmp(buf + 0x202, "HdrS", 4))
		return ARM64_KERNEL_X86_BZIMAGE;
	if (len >= 8 && buf[0] == 'M' && buf[1] == 'Z' && !memcmp(buf + 4, "zimg", 4))
		return ARM64_KERNEL_EFI_ZBOOT;
	if (len >= 3 && buf[0] == 0x1f && buf[1] == 0x8b && buf[2] == 8)
		return ARM64_KERNEL_GZIP;
	if (len >= 4 && !memcmp(buf, "\x7f" "ELF", 4))
		return ARM64_KERNEL_ELF;
	return ARM64_KERNEL_UNKNOWN;
}

const char *arm64_kernel_format_name(enum arm64_kernel_format f)
{
	switch (f) {
	case ARM64_KERNEL_IMAGE:
		return "arm64 Image";
	case ARM64_KERNEL_GZIP:
		return "gzip-compressed file";
	case ARM64_KERNEL_EFI_ZBOOT:
		return "EFI zboot image";
	case ARM64_KERNEL_X86_BZIMAGE:
		return "x86 bzImage";
	case ARM64_KERNEL_ELF:
		return "ELF file";
	default:
		return "unknown format";
	}
}

/* One line per wrong format, saying what to give instead. */
static int wrong_format(enum arm64_kernel_format f, const char *name)
{
	switch (f) {
	case ARM64_KERNEL_X86_BZIMAGE:
		avp_err("%s is an x86 bzImage, not an arm64 kernel: give the arm64 Linux Image "
			"(arch/arm64/boot/Image)", name);
		break;
	case ARM64_KERNEL_GZIP:
		/* The loader inflates an Image.gz first (gunzip.h): this is
		 * a gzip inside it, or a caller that does not. */
		avp_err("%s is gzip-compressed: unpack it (zcat) and give the Image it holds",
			name);
		break;
	case ARM64_KERNEL_EFI_ZBOOT:
		avp_err("%s is an EFI zboot image (CONFIG_EFI_ZBOOT), which needs EFI firmware: "
			"give the plain arm64 Image (arch/arm64/boot/Image)", name);
		break;
	case ARM64_KERNEL_ELF:
		avp_err("%s is an ELF file (vmlinux?), not an arm64 Image: give the Image made "
			"from it (arch/arm64/boot/Image)", name);
		break;
	default:
		avp_err("%s is not an arm64 Linux Image: no \"ARM\\x64\" magic at offset 0x38 "
			"(give arch/arm64/boot/Image)", name);
		break;
	}
	return -ENOEXEC;
}

/* An Image built with the EFI stub starts with "MZ" and names its PE
 * header at 0x3c (booting.rst, "res5"); the PE/COFF section table
 * (Microsoft PE format, "Section Table": SizeOfRawData at +16,
 * PointerToRawData at +20 of each 40-byte entry) says how many bytes of
 * the file the kernel's .text and .data take: Linux's last section ends
 * at _edata, the end of the Image. The one truncation a header can show;
 * without an EFI stub, or with a table beyond the bytes given, there is
 * nothing to check. The bytes the sections need, or 0. */
static uint64_t pe_raw_end(const uint8_t *buf, size_t len)
{
	uint64_t pe, table, end = 0;
	unsigned int nsec;

	if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return 0;
	pe = get_le32(buf + 0x3c);
	if (pe < 0x40 || pe + 24 > len || memcmp(buf + pe, "PE\0\0", 4))
		return 0;
	nsec = get_le16(buf + pe + 6);
	table = pe + 24 + get_le16(buf + pe + 20); /* after SizeOfOptionalHeader */
	if (table + 40ull * nsec > len)
		return 0;
	for (unsigned int i = 0; i < nsec; i++) {
		const uint8_t *s = buf + table + 40ull * i;
		uint64_t raw = get_le32(s + 16), ptr = get_le32(s + 20);

		if (raw && ptr + raw > end)
			end = ptr + raw;
	}
	return end;
}

int arm64_image_parse(const uint8_t *buf, size_t buf_len, uint64_t file_size, const char *name,
		      struct arm64_image_info *out)
{
	enum arm64_kernel_format f;
	uint64_t text_offset, image_size, flags;

	if (!name)
		name = "the kernel";
	if (!buf || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (buf_len > file_size)
		buf_len = (size_t)file_size; /* bytes past the file are not the file's */
	f = arm64_image_probe(buf, buf_len);
	if (f != ARM64_KERNEL_IMAGE) {
		if (buf_len < ARM64_IMAGE_HDR_SIZE && f == ARM64_KERNEL_UNKNOWN) {
			avp_err("%s is too short for an arm64 Image (%llu bytes; the header alone "
				"is %d)", name, (unsigned long long)file_size, ARM64_IMAGE_HDR_SIZE);
			return -EINVAL;
		}
		return wrong_format(f, name);
	}
	text_offset = get_le64(buf + 8);
	image_size = get_le64(buf + 16);
	flags = get_le64(buf + 24);
	if (!image_size) {
		/* Before v3.17 text_offset's byte order was the kernel's:
		 * booting.rst says to assume 0x80000 then. */
		out->legacy = true;
		text_offset = ARM64_IMAGE_LEGACY_TEXT_OFFSET;
		flags = 0;
	}
	if (flags & ARM64_IMAGE_FLAG_BE) {
		avp_err("%s is a big-endian arm64 kernel: avp starts its vCPUs little-endian; "
			"build the kernel with CONFIG_CPU_LITTLE_ENDIAN", name);
		return -ENOEXEC;
	}
	if (text_offset >= MAX_IMAGE || image_size >= MAX_IMAGE || file_size >= MAX_IMAGE) {
		avp_err("%s: the arm64 Image header is corrupt (text_offset 0x%llx, image_size "
			"0x%llx)", name, (unsigned long long)text_offset,
			(unsigned long long)image_size);
		return -EINVAL;
	}
	if (text_offset % 8) {
		/* The kernel is entered at its first byte: an instruction. */
		avp_err("%s: the arm64 Image's text_offset 0x%llx is not 8-byte aligned",
			name, (unsigned long long)text_offset);
		return -EINVAL;
	}
	if (file_size < ARM64_IMAGE_HDR_SIZE) {
		avp_err("%s is truncated: %llu bytes, less than the arm64 Image header", name,
			(unsigned long long)file_size);
		return -EINVAL;
	}
	if (pe_raw_end(buf, buf_len) > file_size) {
		avp_err("%s is truncated: %llu bytes, and its EFI header's sections need %llu "
			"(a partial copy or download?): give the whole Image", name,
			(unsigned long long)file_size, (unsigned long long)pe_raw_end(buf, buf_len));
		return -EINVAL;
	}
	out->text_offset = text_offset;
	out->file_size = file_size;
	/* image_size covers the loaded file and the bss behind it; a file
	 * larger than that (appended data) still has to fit. */
	out->image_size = image_size > file_size ? image_size : file_size;
	out->flags = flags;
	switch ((flags & ARM64_IMAGE_FLAG_PAGE_MASK) >> ARM64_IMAGE_FLAG_PAGE_SHIFT) {
	case 1:
		out->page_kib = 4;
		break;
	case 2:
		out->page_kib = 16;
		break;
	case 3:
		out->page_kib = 64;
		break;
	default:
		out->page_kib = 0;
		break;
	}
	out->phys_base_anywhere = flags & ARM64_IMAGE_FLAG_PHYS_BASE;
	return 0;
}

int arm64_image_place(const struct arm64_image_info *ii, uint64_t ram_base, uint64_t ram_size,
		      uint64_t *load_gpa)
{
	uint64_t base, end;

	if (!ii || !load_gpa || !ram_size || ram_base > UINT64_MAX - ram_size)
		return -EINVAL;
	if (ii->text_offset >= MAX_IMAGE || ii->image_size >= MAX_IMAGE)
		return -EINVAL;
	if (ram_base > UINT64_MAX - (ARM64_IMAGE_ALIGN - 1))
		return -ENOSPC;
	base = (ram_base + ARM64_IMAGE_ALIGN - 1) & ~(ARM64_IMAGE_ALIGN - 1);
	if (base >= PHYS_48BIT)
		return -ENOSPC;
	end = base + ii->text_offset + ii->image_size; /* no wrap: all < 2^49 */
	if (end > ram_base + ram_size)
		return -ENOSPC;
	/* A kernel with bit 3 set needs its whole image below 2^48. */
	if (ii->phys_base_anywhere && end > PHYS_48BIT)
		return -ENOSPC;
	*load_gpa = base + ii->text_offset;
	return 0;
}
