#include <errno.h>
#include <string.h>

#include "arch/arm64/image.h"
#include "arch/x86/bzimage.h"
#include "avp/log.h"

/* Field offsets in the file (boot.rst, "Details of Header Fields"). Read by
 * offset rather than through a packed struct so the parser does not depend
 * on which boot_params layout the build host's headers carry. */
enum {
	OFF_SETUP_SECTS = 0x1f1,
	OFF_SYSSIZE = 0x1f4,
	OFF_BOOT_FLAG = 0x1fe,
	OFF_JUMP = 0x200,
	OFF_HEADER = 0x202,
	OFF_VERSION = 0x206,
	OFF_LOADFLAGS = 0x211,
	OFF_INITRD_ADDR_MAX = 0x22c,
	OFF_KERNEL_ALIGNMENT = 0x230,
	OFF_RELOCATABLE = 0x234,
	OFF_XLOADFLAGS = 0x236,
	OFF_CMDLINE_SIZE = 0x238,
	OFF_PREF_ADDRESS = 0x258,
	OFF_INIT_SIZE = 0x260,
	OFF_KERNEL_INFO_OFFSET = 0x268,
	HDR_END_2_15 = 0x26c, /* one past kernel_info_offset */
};

#define BOOT_FLAG 0xaa55
#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define LOADED_HIGH_FLAG 0x01
#define XLF_KERNEL_64_FLAG 0x01

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int bzimage_parse(const uint8_t *buf, size_t buf_len, uint64_t file_size,
		  const char *name, struct bzimage_info *out)
{
	struct bzimage_info bi;
	uint32_t syssize;
	size_t hdr_end;

	memset(&bi, 0, sizeof(bi));
	if (!name)
		name = "kernel";
	if (buf_len > file_size)
		buf_len = (size_t)file_size;
	/* The other architecture's kernel (its magic is in the first 64
	 * bytes), an Image.gz or a vmlinux: say so, rather than which
	 * bzImage field is missing. */
	switch (arm64_image_probe(buf, buf_len)) {
	case ARM64_KERNEL_IMAGE:
		avp_err("%s is an arm64 Image, not an x86 kernel: give the x86-64 bzImage "
			"(arch/x86/boot/bzImage)", name);
		return -ENOEXEC;
	case ARM64_KERNEL_GZIP:
		avp_err("%s is gzip-compressed (an arm64 Image.gz?), not a bzImage: give the "
			"x86-64 bzImage (arch/x86/boot/bzImage)", name);
		return -ENOEXEC;
	case ARM64_KERNEL_ELF:
		avp_err("%s is an ELF file (vmlinux?), not a bzImage: give the x86-64 bzImage "
			"made from it (arch/x86/boot/bzImage)", name);
		return -ENOEXEC;
	default:
		break;
	}
	/* Every field this loader reads lies below HDR_END_2_15, and a real
	 * bzImage has at least 5 sectors of setup code ahead of the kernel. */
	if (buf_len < HDR_END_2_15) {
		avp_err("%s: not a bzImage: only %llu bytes, too short to hold a Linux boot header",
			name, (unsigned long long)file_size);
		return -ENOEXEC;
	}
	if (le16(buf + OFF_BOOT_FLAG) != BOOT_FLAG) {
		avp_err("%s: not a bzImage: boot_flag 0xAA55 missing at offset 0x1fe (found 0x%04x)",
			name, le16(buf + OFF_BOOT_FLAG));
		return -ENOEXEC;
	}
	if (le32(buf + OFF_HEADER) != HDRS_MAGIC) {
		avp_err("%s: not a bzImage: \"HdrS\" magic missing at offset 0x202", name);
		return -ENOEXEC;
	}

	bi.version = le16(buf + OFF_VERSION);
	if (bi.version < BZIMAGE_MIN_VERSION) {
		avp_err("%s: boot protocol %u.%02u is too old: avp needs 2.12 or later (64-bit entry point, xloadflags)",
			name, bi.version >> 8, bi.version & 0xff);
		return -ENOEXEC;
	}

	bi.loadflags = buf[OFF_LOADFLAGS];
	if (!(bi.loadflags & LOADED_HIGH_FLAG)) {
		avp_err("%s: a zImage (LOADED_HIGH clear in loadflags): only bzImage kernels are supported",
			name);
		return -ENOEXEC;
	}
	bi.xloadflags = le16(buf + OFF_XLOADFLAGS);
	if (!(bi.xloadflags & XLF_KERNEL_64_FLAG)) {
		avp_err("%s: kernel has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags): build an x86-64 kernel",
			name);
		return -ENOEXEC;
	}

	/* boot.rst: "if setup_sects == 0 the real value is 4". */
	bi.setup_sects = buf[OFF_SETUP_SECTS] ? buf[OFF_SETUP_SECTS] : 4;
	bi.setup_size = ((uint64_t)bi.setup_sects + 1) * 512;
	syssize = le32(buf + OFF_SYSSIZE);
	bi.syssize_bytes = (uint64_t)syssize * 16;
	if (syssize == 0) {
		avp_err("%s: invalid bzImage: syssize is 0 (no protected-mode kernel)", name);
		return -EINVAL;
	}
	if (file_size < bi.setup_size) {
		avp_err("%s: truncated: %llu bytes, but its %u setup sectors alone need %llu",
			name, (unsigned long long)file_size, bi.setup_sects,
			(unsigned long long)bi.setup_size);
		return -EINVAL;
	}
	bi.kernel_size = file_size - bi.setup_size;
	if (bi.kernel_size < bi.syssize_bytes) {
		avp_err("%s: truncated: the header announces %llu bytes of protected-mode kernel, the file has %llu",
			name, (unsigned long long)bi.syssize_bytes,
			(unsigned long long)bi.kernel_size);
		return -EINVAL;
	}

	/* The jump at 0x200 is "EB xx": its displacement doubles as the
	 * header's length. */
	hdr_end = OFF_HEADER + (size_t)buf[OFF_JUMP + 1];
	if (hdr_end > HDR_END_2_15)
		hdr_end = HDR_END_2_15;
	if (hdr_end < OFF_CMDLINE_SIZE + 4) {
		avp_err("%s: invalid bzImage: setup header ends at 0x%zx, before fields protocol 2.12 defines",
			name, hdr_end);
		return -EINVAL;
	}
	bi.hdr_len = hdr_end - BZIMAGE_HDR_OFFSET;

	bi.initrd_addr_max = le32(buf + OFF_INITRD_ADDR_MAX);
	bi.kernel_alignment = le32(buf + OFF_KERNEL_ALIGNMENT);
	bi.relocatable = buf[OFF_RELOCATABLE] != 0;
	bi.cmdline_size = le32(buf + OFF_CMDLINE_SIZE);
	if (hdr_end >= OFF_PREF_ADDRESS + 8)
		bi.pref_address = le64(buf + OFF_PREF_ADDRESS);
	if (hdr_end >= OFF_INIT_SIZE + 4)
		bi.init_size = le32(buf + OFF_INIT_SIZE);
	if (bi.version >= 0x020f && hdr_end >= OFF_KERNEL_INFO_OFFSET + 4)
		bi.kernel_info_offset = le32(buf + OFF_KERNEL_INFO_OFFSET);

	if (bi.relocatable && bi.kernel_alignment &&
	    (bi.kernel_alignment & (bi.kernel_alignment - 1))) {
		avp_err("%s: invalid bzImage: kernel_alignment 0x%x is not a power of two",
			name, bi.kernel_alignment);
		return -EINVAL;
	}
	if (bi.kernel_info_offset && bi.kernel_info_offset >= bi.kernel_size) {
		avp_err("%s: invalid bzImage: kernel_info_offset 0x%x is beyond the kernel's %llu bytes",
			name, bi.kernel_info_offset, (unsigned long long)bi.kernel_size);
		return -EINVAL;
	}

	*out = bi;
	return 0;
}

uint64_t bzimage_runtime_start(const struct bzimage_info *bi, uint64_t load_gpa)
{
	uint64_t align = bi->kernel_alignment ? bi->kernel_alignment : 1;

	if (bi->relocatable)
		return (load_gpa + align - 1) & ~(align - 1);
	/* A non-relocatable kernel moves itself to pref_address; before 2.10
	 * there was no such field and it ran where it was loaded. */
	return bi->pref_address ? bi->pref_address : load_gpa;
}

uint64_t bzimage_footprint_end(const struct bzimage_info *bi, uint64_t load_gpa)
{
	uint64_t image_end = load_gpa + bi->kernel_size;
	uint64_t runtime_start = bzimage_runtime_start(bi, load_gpa);
	uint64_t runtime_end = runtime_start + bi->init_size;

	/* A non-relocatable image's pref_address near 2^64 wraps this; saturate
	 * so that the caller's RAM check fails instead of passing on a small
	 * end (found by fuzz/fuzz_bzimage.c). */
	if (runtime_end < runtime_start)
		return UINT64_MAX;
	return image_end > runtime_end ? image_end : runtime_end;
}
