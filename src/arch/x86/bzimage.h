/* Parsing and validation of a Linux x86 bzImage's setup header
 * (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header").
 * Pure: works on bytes already read from the file, touches neither KVM nor
 * guest memory, so every malformed-image case is unit-testable. */
#ifndef AVP_ARCH_X86_BZIMAGE_H
#define AVP_ARCH_X86_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The setup header starts at 0x1f1 (setup_sects) and, in protocol 2.15,
 * ends at 0x26c; its real end is 0x202 + the byte at 0x201 (boot.rst,
 * "64-bit Boot Protocol"). bzimage_parse needs this many leading bytes of
 * the file, or the whole file when it is shorter. */
#define BZIMAGE_HDR_OFFSET 0x1f1
#define BZIMAGE_PROBE_SIZE 1024

/* Oldest protocol with xloadflags and so a declared 64-bit entry point. */
#define BZIMAGE_MIN_VERSION 0x020c

/* The 64-bit entry point is this far into the protected-mode kernel. */
#define BZIMAGE_ENTRY64_OFFSET 0x200

struct bzimage_info {
	uint16_t version;	/* (major << 8) | minor */
	unsigned int setup_sects; /* after the "0 means 4" rule */
	uint64_t setup_size;	/* (setup_sects + 1) * 512: file offset of the kernel */
	uint64_t kernel_size;	/* protected-mode bytes to load: rest of the file */
	uint64_t syssize_bytes; /* syssize * 16, what the header claims */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_addr_max; /* highest byte the initrd may occupy */
	uint32_t kernel_alignment;
	bool relocatable;
	uint32_t cmdline_size;	/* max command line length without the NUL */
	uint64_t pref_address;
	uint32_t init_size;	/* bytes needed from the runtime start address */
	uint32_t kernel_info_offset; /* 2.15+, 0 otherwise */
	size_t hdr_len;		/* setup header bytes from BZIMAGE_HDR_OFFSET */
};

/* Validates the image whose first buf_len bytes are in buf and whose file
 * is file_size bytes long. name is used only in error messages. Returns 0
 * and fills *out, or -ENOEXEC (not a usable bzImage) / -EINVAL (truncated
 * or inconsistent), after an avp_err() saying what is wrong. */
int bzimage_parse(const uint8_t *buf, size_t buf_len, uint64_t file_size,
		  const char *name, struct bzimage_info *out);

/* Where the kernel will run from when its protected-mode part is loaded at
 * load_gpa: boot.rst, init_size, "runtime start address". */
uint64_t bzimage_runtime_start(const struct bzimage_info *bi, uint64_t load_gpa);

/* First byte past everything the kernel needs before it reads the memory
 * map: the loaded image and init_size bytes from the runtime start. */
uint64_t bzimage_footprint_end(const struct bzimage_info *bi, uint64_t load_gpa);

#endif
