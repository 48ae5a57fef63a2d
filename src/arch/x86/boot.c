/* Linux x86 boot protocol loader: bzImage, initrd, command line, zero page
 * and e820 map (Documentation/arch/x86/boot.rst and zero-page.rst). The
 * kernel is entered through the 64-bit boot protocol, so none of the
 * real-mode setup code runs and nothing of it is loaded. */
#include <asm/bootparam.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/bzimage.h"
#include "arch/x86/x86.h"
#include "avp/log.h"
#include "avp/vm.h"

/* The zero page is ABI (zero-page.rst); make sure the host's header agrees
 * with the offsets the kernel reads. */
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, hdr) == BZIMAGE_HDR_OFFSET, "hdr");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry");
_Static_assert(offsetof(struct setup_header, type_of_loader) == 0x210 - 0x1f1, "type_of_loader");
_Static_assert(offsetof(struct setup_header, cmd_line_ptr) == 0x228 - 0x1f1, "cmd_line_ptr");
_Static_assert(offsetof(struct setup_header, kernel_info_offset) == 0x268 - 0x1f1,
	       "kernel_info_offset");

#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2

#define PAGE_SIZE 0x1000ull
#define LOW_MEM_END 0xa0000ull /* start of the VGA/BIOS hole */

/* "Undefined" loader id: avp has no id assigned (boot.rst, type_of_loader). */
#define LOADER_TYPE_UNDEFINED 0xff
/* boot.rst "Sample Boot Configuration": heap_end 0xe000 for a 2.02+
 * bzImage, heap_end_ptr = heap_end - 0x200. Only the real-mode setup code
 * uses the heap, and the 64-bit entry skips it, but the field is
 * obligatory. */
#define HEAP_END_PTR (0xe000 - 0x200)

static int read_full(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank since fstat */
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Opens a regular file for reading and returns its size. */
static int open_input(const char *what, const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = -errno;
		avp_err("%s %s: cannot open: %s", what, path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		avp_err("%s %s: cannot stat: %s", what, path, strerror(-err));
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		avp_err("%s %s: not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* The RAM region holding the kernel load address: "low RAM", below the
 * MMIO hole, where the initrd has to go as well (initrd_addr_max < 4 GiB). */
static const struct guest_region *low_region(const struct guest_mem *gm)
{
	for (unsigned int i = 0; i < gm->nregions; i++) {
		const struct guest_region *r = &gm->regions[i];

		if (X86_KERNEL_GPA >= r->gpa && X86_KERNEL_GPA - r->gpa < r->size)
			return r;
	}
	return NULL;
}

static int load_kernel(struct vm *vm, struct bzimage_info *bi,
		       uint8_t hdr[BZIMAGE_PROBE_SIZE], uint64_t *kernel_end)
{
	const char *path = vm->cfg->kernel;
	const struct guest_region *low = low_region(&vm->mem);
	uint64_t size, footprint_end, runtime_start, start;
	size_t probe;
	void *dst;
	int fd, err;

	if (!path) {
		avp_err("no kernel given");
		return -EINVAL;
	}
	fd = open_input("kernel", path, &size);
	if (fd < 0)
		return fd;
	probe = size < BZIMAGE_PROBE_SIZE ? (size_t)size : BZIMAGE_PROBE_SIZE;
	memset(hdr, 0, BZIMAGE_PROBE_SIZE);
	err = read_full(fd, hdr, probe, 0);
	if (err) {
		avp_err("kernel %s: read failed: %s", path, strerror(-err));
		goto out;
	}
	err = bzimage_parse(hdr, probe, size, path, bi);
	if (err)
		goto out;

	/* The image must fit in low RAM at X86_KERNEL_GPA, and so must the
	 * init_size bytes it decompresses into from its runtime start (boot.rst,
	 * init_size). The 64-bit protocol allows any load address; 0x100000 is
	 * the traditional one, and a relocatable kernel realigns itself. */
	runtime_start = bzimage_runtime_start(bi, X86_KERNEL_GPA);
	footprint_end = bzimage_footprint_end(bi, X86_KERNEL_GPA);
	start = runtime_start < X86_KERNEL_GPA ? runtime_start : X86_KERNEL_GPA;
	if (!low || footprint_end < start || !gm_ptr(&vm->mem, start, footprint_end - start)) {
		avp_err("kernel %s: needs guest RAM [0x%llx, 0x%llx) (image %llu bytes, init_size %u), but low RAM ends at 0x%llx: give the VM more memory",
			path, (unsigned long long)start, (unsigned long long)footprint_end,
			(unsigned long long)bi->kernel_size, bi->init_size,
			low ? (unsigned long long)(low->gpa + low->size) : 0ull);
		err = -ENOMEM;
		goto out;
	}
	dst = gm_ptr(&vm->mem, X86_KERNEL_GPA, bi->kernel_size);
	err = read_full(fd, dst, (size_t)bi->kernel_size, (off_t)bi->setup_size);
	if (err) {
		avp_err("kernel %s: read failed: %s", path, strerror(-err));
		goto out;
	}
	*kernel_end = footprint_end;
out:
	close(fd);
	return err;
}

/* Puts the initrd page-aligned as high as the kernel allows in low RAM, so
 * it stays clear of the kernel's decompression area (boot.rst recommends
 * the top of memory; initrd_addr_max is the highest byte it may occupy). */
static int load_initrd(struct vm *vm, const struct bzimage_info *bi,
		       uint64_t kernel_end, uint64_t *gpa, uint64_t *len)
{
	const char *path = vm->cfg->initrd;
	const struct guest_region *low = low_region(&vm->mem);
	uint64_t size, limit, addr, lowest;
	int fd, err;

	*gpa = 0;
	*len = 0;
	if (!path)
		return 0;
	if (!low)
		return -ENOMEM; /* load_kernel has already said so */
	fd = open_input("initrd", path, &size);
	if (fd < 0)
		return fd;
	if (size == 0) {
		avp_err("initrd %s: file is empty", path);
		err = -EINVAL;
		goto out;
	}
	limit = low->gpa + low->size;
	if ((uint64_t)bi->initrd_addr_max + 1 < limit)
		limit = (uint64_t)bi->initrd_addr_max + 1;
	lowest = (kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (size > limit || ((limit - size) & ~(PAGE_SIZE - 1)) < lowest) {
		avp_err("initrd %s: %llu bytes do not fit between the kernel's end at 0x%llx and 0x%llx (end of low RAM or initrd_addr_max): give the VM more memory",
			path, (unsigned long long)size, (unsigned long long)lowest,
			(unsigned long long)limit);
		err = -ENOMEM;
		goto out;
	}
	addr = (limit - size) & ~(PAGE_SIZE - 1);
	if (!gm_ptr(&vm->mem, addr, size)) {
		avp_err("initrd %s: [0x%llx, +%llu) is not guest RAM", path,
			(unsigned long long)addr, (unsigned long long)size);
		err = -ENOMEM;
		goto out;
	}
	err = read_full(fd, gm_ptr(&vm->mem, addr, size), (size_t)size, 0);
	if (err) {
		avp_err("initrd %s: read failed: %s", path, strerror(-err));
		goto out;
	}
	*gpa = addr;
	*len = size;
out:
	close(fd);
	return err;
}

static int add_e820(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e;

	if (size == 0)
		return 0;
	if (bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE)
		return -E2BIG;
	e = &bp->e820_table[bp->e820_entries++];
	e->addr = addr;
	e->size = size;
	e->type = type;
	return 0;
}

/* Adds the part of [a, b) that lies in [lo, hi) as RAM. */
static int add_ram_clipped(struct boot_params *bp, uint64_t a, uint64_t b,
			   uint64_t lo, uint64_t hi)
{
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	return a < b ? add_e820(bp, a, b - a, E820_TYPE_RAM) : 0;
}

/* RAM is every guest region minus the legacy holes: the EBDA and VGA/BIOS
 * window below 1 MiB stay out of the map except for the two reserved ranges
 * the kernel must not use (the EBDA, and the ACPI tables it must find). */
static int build_e820(const struct guest_mem *gm, struct boot_params *bp)
{
	int err = 0;

	bp->e820_entries = 0;
	for (unsigned int i = 0; i < gm->nregions && !err; i++) {
		uint64_t a = gm->regions[i].gpa, b = a + gm->regions[i].size;

		err = add_ram_clipped(bp, a, b, 0, X86_EBDA_GPA);
		if (!err)
			err = add_ram_clipped(bp, a, b, X86_KERNEL_GPA, UINT64_MAX);
	}
	if (!err)
		err = add_e820(bp, X86_EBDA_GPA, LOW_MEM_END - X86_EBDA_GPA, E820_TYPE_RESERVED);
	if (!err)
		err = add_e820(bp, X86_ACPI_GPA, X86_BIOS_AREA_END - X86_ACPI_GPA, E820_TYPE_RESERVED);
	if (err)
		return err;

	/* Sorted by address, as firmware tables are; a handful of entries. */
	for (unsigned int i = 1; i < bp->e820_entries; i++) {
		struct boot_e820_entry e = bp->e820_table[i];
		unsigned int j = i;

		for (; j > 0 && bp->e820_table[j - 1].addr > e.addr; j--)
			bp->e820_table[j] = bp->e820_table[j - 1];
		bp->e820_table[j] = e;
	}
	return 0;
}

int x86_boot_load(struct vm *vm, uint64_t rsdp_gpa, uint64_t *entry_gpa)
{
	uint8_t hdr[BZIMAGE_PROBE_SIZE];
	struct bzimage_info bi;
	struct boot_params *bp;
	uint64_t kernel_end = 0, initrd_gpa, initrd_len;
	const char *cmdline;
	size_t cmdline_len;
	int err;

	if (!vm || !vm->cfg || !entry_gpa)
		return -EINVAL;
	err = load_kernel(vm, &bi, hdr, &kernel_end);
	if (err)
		return err;

	cmdline = vm->cfg->cmdline ? vm->cfg->cmdline : "";
	cmdline_len = strlen(cmdline);
	if (cmdline_len > bi.cmdline_size) {
		avp_err("command line is %zu bytes; kernel %s accepts at most %u (cmdline_size)",
			cmdline_len, vm->cfg->kernel, bi.cmdline_size);
		return -E2BIG;
	}
	/* The command line must lie below 0xA0000 (boot.rst, cmd_line_ptr). */
	if (X86_CMDLINE_GPA + cmdline_len + 1 > X86_EBDA_GPA ||
	    gm_write(&vm->mem, X86_CMDLINE_GPA, cmdline, cmdline_len + 1)) {
		avp_err("command line (%zu bytes) does not fit in guest RAM at 0x%x",
			cmdline_len, X86_CMDLINE_GPA);
		return -ENOMEM;
	}

	err = load_initrd(vm, &bi, kernel_end, &initrd_gpa, &initrd_len);
	if (err)
		return err;

	/* boot.rst "64-bit Boot Protocol": a zeroed boot_params with the
	 * image's setup header copied in, then the loader's fields. */
	bp = calloc(1, sizeof(*bp));
	if (!bp)
		return -ENOMEM;
	memcpy(&bp->hdr, hdr + BZIMAGE_HDR_OFFSET,
	       bi.hdr_len < sizeof(bp->hdr) ? bi.hdr_len : sizeof(bp->hdr));
	bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = HEAP_END_PTR;
	bp->hdr.cmd_line_ptr = X86_CMDLINE_GPA;
	bp->ext_cmd_line_ptr = 0;
	bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp->ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t)initrd_len;
	bp->ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	bp->acpi_rsdp_addr = rsdp_gpa;
	err = build_e820(&vm->mem, bp);
	if (err) {
		avp_err("e820 map: more than %d entries", E820_MAX_ENTRIES_ZEROPAGE);
	} else if (gm_write(&vm->mem, X86_BOOT_PARAMS_GPA, bp, sizeof(*bp))) {
		avp_err("boot_params at 0x%x is not guest RAM", X86_BOOT_PARAMS_GPA);
		err = -ENOMEM;
	}
	free(bp);
	if (err)
		return err;

	*entry_gpa = X86_KERNEL_GPA + BZIMAGE_ENTRY64_OFFSET;
	avp_debug("kernel %s: protocol %u.%02u, %llu bytes at 0x%x, initrd %llu bytes at 0x%llx",
		  vm->cfg->kernel, bi.version >> 8, bi.version & 0xff,
		  (unsigned long long)bi.kernel_size, X86_KERNEL_GPA,
		  (unsigned long long)initrd_len, (unsigned long long)initrd_gpa);
	return 0;
}
