/* Linux x86 boot protocol loader: bzImage, initrd, command line, zero page
 * and e820 map (Documentation/arch/x86/boot.rst and zero-page.rst). The
 * kernel is entered through the 64-bit boot protocol, so none of the
 * real-mode setup code runs and nothing of it is loaded. */
#include <asm/bootparam.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/guest_files.h"
#include "arch/x86/bzimage.h"
#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/config.h"
#include "avp/fdio.h"
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

/* Where kernel, command line and initrd go in "low RAM", the RAM range
 * holding the kernel load address below the MMIO hole (the initrd must go
 * there too: initrd_addr_max < 4 GiB). Worked out from the files and the
 * RAM layout alone, so the same checks run before any VM exists (pre-flight)
 * and again when the VM is loaded (the files may have changed since). */
struct boot_plan {
	uint8_t hdr[BZIMAGE_PROBE_SIZE];
	struct bzimage_info bi;
	int kernel_fd;
	int initrd_fd; /* -1 without an initrd */
	uint64_t kernel_end; /* first byte past the kernel's footprint */
	uint64_t initrd_gpa;
	uint64_t initrd_len;
};

static void plan_close(struct boot_plan *p)
{
	if (p->kernel_fd >= 0)
		close(p->kernel_fd);
	if (p->initrd_fd >= 0)
		close(p->initrd_fd);
	p->kernel_fd = p->initrd_fd = -1;
}

static int plan_kernel(const struct avp_config *cfg, uint64_t low_gpa, uint64_t low_end,
		       struct boot_plan *p)
{
	const char *path = cfg->kernel;
	uint64_t size, footprint_end, runtime_start, start;
	char name[64 + PATH_MAX];
	size_t probe;
	int err;

	if (!path) {
		avp_err("no kernel given");
		return -EINVAL;
	}
	p->kernel_fd = guest_file_open("kernel", path, &size);
	if (p->kernel_fd < 0)
		return p->kernel_fd;
	err = guest_file_head(p->kernel_fd, "kernel", path, p->hdr, BZIMAGE_PROBE_SIZE, size, &probe);
	if (err)
		return err;
	snprintf(name, sizeof(name), "kernel %s", path);
	err = bzimage_parse(p->hdr, probe, size, name, &p->bi);
	if (err)
		return err;

	/* The image must fit in low RAM at X86_KERNEL_GPA, and so must the
	 * init_size bytes it decompresses into from its runtime start (boot.rst,
	 * init_size). The 64-bit protocol allows any load address; 0x100000 is
	 * the traditional one, and a relocatable kernel realigns itself. */
	runtime_start = bzimage_runtime_start(&p->bi, X86_KERNEL_GPA);
	footprint_end = bzimage_footprint_end(&p->bi, X86_KERNEL_GPA);
	start = runtime_start < X86_KERNEL_GPA ? runtime_start : X86_KERNEL_GPA;
	if (low_end <= low_gpa || footprint_end < start || start < low_gpa ||
	    footprint_end > low_end) {
		avp_err("kernel %s: needs guest RAM [0x%llx, 0x%llx) (image %llu bytes, init_size %u), but low RAM ends at 0x%llx: give the VM more memory",
			path, (unsigned long long)start, (unsigned long long)footprint_end,
			(unsigned long long)p->bi.kernel_size, p->bi.init_size,
			(unsigned long long)low_end);
		return -ENOMEM;
	}
	p->kernel_end = footprint_end;
	return 0;
}

static int plan_cmdline(const struct avp_config *cfg, const struct boot_plan *p)
{
	size_t len = cfg->cmdline ? strlen(cfg->cmdline) : 0;

	if (len > p->bi.cmdline_size) {
		avp_err("command line is %zu bytes; kernel %s accepts at most %u (cmdline_size)",
			len, cfg->kernel, p->bi.cmdline_size);
		return -E2BIG;
	}
	/* The command line must lie below 0xA0000 (boot.rst, cmd_line_ptr). */
	if (X86_CMDLINE_GPA + len + 1 > X86_EBDA_GPA) {
		avp_err("command line (%zu bytes) does not fit in guest RAM at 0x%x",
			len, X86_CMDLINE_GPA);
		return -ENOMEM;
	}
	return 0;
}

/* Puts the initrd page-aligned as high as the kernel allows in low RAM, so
 * it stays clear of the kernel's decompression area (boot.rst recommends
 * the top of memory; initrd_addr_max is the highest byte it may occupy). */
static int plan_initrd(const struct avp_config *cfg, uint64_t low_end, struct boot_plan *p)
{
	const char *path = cfg->initrd;
	uint64_t size, limit, lowest;

	if (!path)
		return 0;
	p->initrd_fd = guest_file_open("initrd", path, &size);
	if (p->initrd_fd < 0)
		return p->initrd_fd;
	if (size == 0) {
		avp_err("initrd %s: file is empty", path);
		return -EINVAL;
	}
	limit = low_end;
	if ((uint64_t)p->bi.initrd_addr_max + 1 < limit)
		limit = (uint64_t)p->bi.initrd_addr_max + 1;
	lowest = (p->kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (size > limit || ((limit - size) & ~(PAGE_SIZE - 1)) < lowest) {
		avp_err("initrd %s: %llu bytes do not fit between the kernel's end at 0x%llx and 0x%llx (end of low RAM or initrd_addr_max): give the VM more memory",
			path, (unsigned long long)size, (unsigned long long)lowest,
			(unsigned long long)limit);
		return -ENOMEM;
	}
	p->initrd_gpa = (limit - size) & ~(PAGE_SIZE - 1);
	p->initrd_len = size;
	return 0;
}

/* Fills *p for low RAM [low_gpa, low_end); on failure everything it opened
 * is closed again and the error has been reported. */
static int plan_boot(const struct avp_config *cfg, uint64_t low_gpa, uint64_t low_end,
		     struct boot_plan *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->kernel_fd = p->initrd_fd = -1;
	err = plan_kernel(cfg, low_gpa, low_end, p);
	if (!err)
		err = plan_cmdline(cfg, p);
	if (!err)
		err = plan_initrd(cfg, low_end, p);
	if (err)
		plan_close(p);
	return err;
}

int x86_boot_check(const struct avp_config *cfg)
{
	struct arch_mem_range ranges[AVP_MAX_MEM_REGIONS];
	struct boot_plan plan;
	int n = arch_ram_layout(cfg->memory_mib << 20, ranges, AVP_MAX_MEM_REGIONS);
	uint64_t low_gpa = 0, low_end = 0;
	int err;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (X86_KERNEL_GPA >= ranges[i].gpa && X86_KERNEL_GPA - ranges[i].gpa < ranges[i].size) {
			low_gpa = ranges[i].gpa;
			low_end = ranges[i].gpa + ranges[i].size;
		}
	err = plan_boot(cfg, low_gpa, low_end, &plan);
	if (!err)
		plan_close(&plan);
	return err;
}

/* The RAM region holding the kernel load address. */
static const struct guest_region *low_region(const struct guest_mem *gm)
{
	for (unsigned int i = 0; i < gm->nregions; i++) {
		const struct guest_region *r = &gm->regions[i];

		if (X86_KERNEL_GPA >= r->gpa && X86_KERNEL_GPA - r->gpa < r->size)
			return r;
	}
	return NULL;
}

/* Reads the planned images into guest RAM. Every range goes through the
 * checked accessor once more: the plan comes from file sizes, the
 * destination must be guest RAM whatever they said. */
static int load_planned(struct vm *vm, const struct boot_plan *p)
{
	const struct avp_config *cfg = vm->cfg;
	size_t cmdline_len = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	int err = guest_file_load(&vm->mem, X86_KERNEL_GPA, p->bi.kernel_size, NULL, p->kernel_fd,
				  (off_t)p->bi.setup_size, "kernel", cfg->kernel);

	if (err)
		return err;
	if (gm_write(&vm->mem, X86_CMDLINE_GPA, cfg->cmdline ? cfg->cmdline : "", cmdline_len + 1)) {
		avp_err("command line (%zu bytes) does not fit in guest RAM at 0x%x",
			cmdline_len, X86_CMDLINE_GPA);
		return -ENOMEM;
	}
	if (p->initrd_fd < 0)
		return 0;
	return guest_file_load(&vm->mem, p->initrd_gpa, p->initrd_len, NULL, p->initrd_fd, 0,
			       "initrd", cfg->initrd);
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
static int build_e820(const struct guest_mem *gm, bool pci, struct boot_params *bp)
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
	/* Linux uses the MCFG's ECAM only where firmware reserved it
	 * (arch/x86/pci/mmconfig-shared.c: "not reserved in ACPI
	 * motherboard resources" / E820). The BAR window stays out: a
	 * reserved range would be cut out of the host bridge's window. */
	if (!err && pci)
		err = add_e820(bp, X86_PCI_ECAM_BASE, 0x100000, E820_TYPE_RESERVED);
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
	const struct guest_region *low;
	struct boot_plan plan;
	struct boot_params *bp;
	int err;

	if (!vm || !vm->cfg || !entry_gpa)
		return -EINVAL;
	low = low_region(&vm->mem);
	err = plan_boot(vm->cfg, low ? low->gpa : 0, low ? low->gpa + low->size : 0, &plan);
	if (err)
		return err;
	err = load_planned(vm, &plan);
	plan_close(&plan);
	if (err)
		return err;

	/* boot.rst "64-bit Boot Protocol": a zeroed boot_params with the
	 * image's setup header copied in, then the loader's fields. */
	bp = calloc(1, sizeof(*bp));
	if (!bp)
		return -ENOMEM;
	memcpy(&bp->hdr, plan.hdr + BZIMAGE_HDR_OFFSET,
	       plan.bi.hdr_len < sizeof(bp->hdr) ? plan.bi.hdr_len : sizeof(bp->hdr));
	bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = HEAP_END_PTR;
	bp->hdr.cmd_line_ptr = X86_CMDLINE_GPA;
	bp->ext_cmd_line_ptr = 0;
	bp->hdr.ramdisk_image = (uint32_t)plan.initrd_gpa;
	bp->ext_ramdisk_image = (uint32_t)(plan.initrd_gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t)plan.initrd_len;
	bp->ext_ramdisk_size = (uint32_t)(plan.initrd_len >> 32);
	bp->acpi_rsdp_addr = rsdp_gpa;
	err = build_e820(&vm->mem, vm->pci != NULL, bp);
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
		  vm->cfg->kernel, plan.bi.version >> 8, plan.bi.version & 0xff,
		  (unsigned long long)plan.bi.kernel_size, X86_KERNEL_GPA,
		  (unsigned long long)plan.initrd_len, (unsigned long long)plan.initrd_gpa);
	return 0;
}
