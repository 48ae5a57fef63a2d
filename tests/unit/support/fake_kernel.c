/* See fake_kernel.h. Field offsets: Documentation/arch/x86/boot.rst and
 * Documentation/arch/arm64/booting.rst. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fake_kernel.h"
#include "avp/le.h"

#define PM_BYTES 65536u

#ifdef __aarch64__
/* An arm64 Image header: text_offset 0, image_size 1 MiB, 4 KiB pages,
 * placed anywhere; the "ARM\x64" magic. */
static void fill(uint8_t *img)
{
	put_le64(img + 16, 1u << 20);	/* image_size */
	put_le64(img + 24, 0xa);	/* flags: LE, 4K pages, phys base anywhere */
	put_le32(img + 0x38, 0x644d5241); /* magic */
}
#else
static void fill(uint8_t *img)
{
	img[0x1f1] = 1;				/* setup_sects: kernel at 1024 */
	put_le32(img + 0x1f4, PM_BYTES / 16);	/* syssize */
	put_le16(img + 0x1fe, 0xaa55);		/* boot_flag */
	put_le16(img + 0x200, 0x6aeb);		/* jump */
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, 0x020f);		/* protocol 2.15 */
	img[0x211] = 1;				/* loadflags: LOADED_HIGH */
	put_le32(img + 0x22c, 0x7fffffff);		/* initrd_addr_max */
	put_le32(img + 0x230, 0x200000);		/* kernel_alignment */
	img[0x234] = 1;				/* relocatable_kernel */
	img[0x235] = 21;			/* min_alignment */
	put_le16(img + 0x236, 3);			/* xloadflags: 64-bit entry, above 4G */
	put_le32(img + 0x238, 2047);		/* cmdline_size */
	put_le32(img + 0x258, 0x1000000);		/* pref_address (low half) */
	put_le32(img + 0x260, 0x300000);		/* init_size */
}
#endif

int fake_kernel_write(const char *path)
{
	static uint8_t img[1024 + PM_BYTES];
	FILE *f;
	size_t n;

	memset(img, 0, sizeof(img));
	fill(img);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	n = fwrite(img, 1, sizeof(img), f);
	if (fclose(f) != 0 || n != sizeof(img))
		return -EIO;
	return 0;
}
