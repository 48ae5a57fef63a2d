/* The Linux arm64 kernel Image: its 64-byte header and where it goes in
 * guest RAM (Documentation/arch/arm64/booting.rst, "Call the kernel
 * image"). Pure: works on bytes already read from the file, touches
 * neither KVM nor guest memory, so every malformed-image case is
 * unit-testable; and it builds on any host (the x86 loader uses
 * arm64_image_probe to name an arm64 Image given to it). */
#ifndef AVP_ARCH_ARM64_IMAGE_H
#define AVP_ARCH_ARM64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARM64_IMAGE_HDR_SIZE 64
#define ARM64_IMAGE_MAGIC_OFFSET 0x38
#define ARM64_IMAGE_MAGIC 0x644d5241u /* "ARM\x64", little-endian */
/* The Image goes text_offset bytes above a 2 MiB aligned base. */
#define ARM64_IMAGE_ALIGN (2ull << 20)
/* What text_offset is when image_size is 0 (kernels before v3.17, whose
 * text_offset field may be in the kernel's byte order). */
#define ARM64_IMAGE_LEGACY_TEXT_OFFSET 0x80000ull
/* Enough of the file's head for arm64_image_probe to tell every format
 * below apart (the bzImage signature sits at 0x202), and for the EFI
 * stub's PE/COFF section table (at 0x40 + 24 + 160 in Linux's Image). */
#define ARM64_IMAGE_PROBE_SIZE 0x400

/* flags (booting.rst, "Header notes") */
#define ARM64_IMAGE_FLAG_BE (1ull << 0)
#define ARM64_IMAGE_FLAG_PAGE_SHIFT 1
#define ARM64_IMAGE_FLAG_PAGE_MASK (3ull << 1)
#define ARM64_IMAGE_FLAG_PHYS_BASE (1ull << 3)

enum arm64_kernel_format {
	ARM64_KERNEL_UNKNOWN,
	ARM64_KERNEL_IMAGE,	  /* "ARM\x64" at 0x38 */
	ARM64_KERNEL_GZIP,	  /* a gzip stream: Image.gz, Debian's arm64 vmlinuz */
	ARM64_KERNEL_EFI_ZBOOT,	  /* "MZ" and "zimg": an EFI zboot image (vmlinuz.efi) */
	ARM64_KERNEL_X86_BZIMAGE, /* "HdrS" at 0x202: an x86 kernel */
	ARM64_KERNEL_ELF,	  /* "\x7fELF": vmlinux, or any other program */
};

/* What the first len bytes of a kernel file look like; never fails. */
enum arm64_kernel_format arm64_image_probe(const uint8_t *buf, size_t len);
/* "arm64 Image", "x86 bzImage", ... for messages. */
const char *arm64_kernel_format_name(enum arm64_kernel_format f);

struct arm64_image_info {
	uint64_t text_offset; /* from the 2 MiB aligned base */
	uint64_t image_size;  /* bytes the kernel needs from its start: the
			       * header's, or the file's size when larger or
			       * when the header gives none */
	uint64_t file_size;
	uint64_t flags;
	unsigned int page_kib;	/* 4, 16, 64, or 0 when the header does not say */
	bool phys_base_anywhere; /* flags bit 3: any 2 MiB base in 48 bits */
	bool legacy;		/* image_size was 0 (before v3.17) */
};

/* Validates the Image whose first buf_len bytes are in buf and whose file
 * is file_size bytes long. name is used in messages. 0 and *out filled,
 * or -ENOEXEC (not a bootable arm64 Image: another format, big-endian)
 * or -EINVAL (truncated or inconsistent: a header cut short, or an EFI
 * stub Image whose PE/COFF sections end past the file), after one
 * avp_err() saying what is wrong and what to give instead. */
int arm64_image_parse(const uint8_t *buf, size_t buf_len, uint64_t file_size, const char *name,
		      struct arm64_image_info *out);

/* Where the Image goes in the RAM range [ram_base, ram_base + ram_size):
 * the lowest 2 MiB aligned base, plus text_offset, with image_size bytes
 * free from there (booting.rst: as close to the start of RAM as possible;
 * a kernel without the bit 3 flag cannot use memory below it). 0 and
 * *load_gpa, or -ENOSPC when the RAM is too small (no message: the caller
 * knows how much RAM it asked for), -EINVAL for a bad range. */
int arm64_image_place(const struct arm64_image_info *ii, uint64_t ram_base, uint64_t ram_size,
		      uint64_t *load_gpa);

#endif
