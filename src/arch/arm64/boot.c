/* Loading an arm64 guest (Documentation/arch/arm64/booting.rst): the Image
 * at its 2 MiB aligned base plus text_offset, the device tree in the last
 * 2 MiB block of RAM, the initrd right below it (layout.h says why), and
 * the device tree itself, built from the VM's devices (fdt.c). The same
 * plan runs before any VM exists (pre-flight, --describe) and at load. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arm64/arm64.h"
#include "arch/arm64/gunzip.h"
#include "arch/guest_files.h"
#include "avp/arch.h"
#include "avp/config.h"
#include "avp/fdio.h"
#include "avp/guest_mem.h"
#include "avp/hw/pl011.h"
#include "avp/hw/pl031.h"
#include "avp/hw/pl061.h"
#include "avp/hw/sp805.h"
#include "avp/hw/watchdog.h"
#include "avp/log.h"
#include "avp/vm.h"

#define PAGE 0x1000ull
/* The tree avp builds is a few KiB; this leaves room for every device. */
#define FDT_BUF_SIZE (64u << 10)

void arm64_boot_plan_close(struct arm64_boot_plan *p)
{
	if (p->kernel_fd >= 0)
		close(p->kernel_fd);
	if (p->initrd_fd >= 0)
		close(p->initrd_fd);
	p->kernel_fd = p->initrd_fd = -1;
	free(p->kernel_data);
	p->kernel_data = NULL;
}

/* An Image.gz (Debian's arm64 vmlinuz before 6.x, `make Image.gz`): the
 * Image's size is known only at the stream's end, so it is inflated whole
 * into p->kernel_data, which arch_load_guest copies into guest RAM; *size
 * becomes the Image's and hdr gets its head. Nothing larger than the
 * guest's RAM is inflated (limit). */
static int inflate_kernel(const char *path, uint64_t gz_size, uint64_t ram_size,
			  struct arm64_boot_plan *p, uint8_t *hdr, size_t *probe, uint64_t *size)
{
	char name[16 + PATH_MAX];
	uint8_t *gz;
	int err;

	snprintf(name, sizeof(name), "kernel %s", path);
	/* Refused before it is read into memory: deflate grows data by 5
	 * bytes in 64 KiB at worst (stored blocks, RFC 1951), so a stream
	 * larger than the RAM holds an Image that leaves no room for the
	 * device tree's 2 MiB block beside it. */
	if (gz_size > ram_size) {
		avp_err("%s is a %llu MiB Image.gz, more than --memory %llu: give the VM more "
			"memory", name, (unsigned long long)(gz_size >> 20),
			(unsigned long long)(ram_size >> 20));
		return -ENOMEM;
	}
	gz = malloc(gz_size ? (size_t)gz_size : 1);
	if (!gz)
		return -ENOMEM;
	err = avp_pread_all(p->kernel_fd, gz, (size_t)gz_size, 0);
	if (err)
		avp_err("%s: read failed: %s", name, strerror(-err));
	else
		err = arm64_gunzip_alloc(gz, (size_t)gz_size, ram_size, name, &p->kernel_data, size);
	free(gz);
	if (err)
		return err == -EFBIG ? -ENOMEM : err;
	*probe = *size < ARM64_IMAGE_PROBE_SIZE ? (size_t)*size : ARM64_IMAGE_PROBE_SIZE;
	memset(hdr, 0, ARM64_IMAGE_PROBE_SIZE);
	memcpy(hdr, p->kernel_data, *probe);
	return 0;
}

static int plan_kernel(const struct avp_config *cfg, uint64_t ram_size, struct arm64_boot_plan *p)
{
	uint8_t hdr[ARM64_IMAGE_PROBE_SIZE] = { 0 };
	char name[16 + PATH_MAX];
	uint64_t size;
	size_t probe;
	int err;

	if (!cfg->kernel) {
		avp_err("no kernel given");
		return -EINVAL;
	}
	p->kernel_fd = guest_file_open("kernel", cfg->kernel, &size);
	if (p->kernel_fd < 0)
		return p->kernel_fd;
	err = guest_file_head(p->kernel_fd, "kernel", cfg->kernel, hdr, sizeof(hdr), size, &probe);
	if (err)
		return err;
	snprintf(name, sizeof(name), "kernel %s", cfg->kernel);
	if (arm64_image_probe(hdr, probe) == ARM64_KERNEL_GZIP) {
		err = inflate_kernel(cfg->kernel, size, ram_size, p, hdr, &probe, &size);
		if (err)
			return err;
		snprintf(name, sizeof(name), "kernel %s (an Image.gz)", cfg->kernel);
	}
	err = arm64_image_parse(hdr, probe, size, name, &p->ii);
	if (err)
		return err;
	err = arm64_image_place(&p->ii, ARM64_RAM_BASE, ram_size, &p->kernel_gpa);
	if (err == -ENOSPC) {
		avp_err("kernel %s needs %llu MiB of guest RAM from its load address (text_offset "
			"0x%llx, image_size %llu bytes), more than --memory %llu: give the VM more "
			"memory", cfg->kernel,
			(unsigned long long)((p->ii.text_offset + p->ii.image_size + (1ull << 20) - 1) >> 20),
			(unsigned long long)p->ii.text_offset, (unsigned long long)p->ii.image_size,
			(unsigned long long)cfg->memory_mib);
		return -ENOMEM;
	}
	if (err)
		return err;
	p->kernel_end = p->kernel_gpa + p->ii.image_size;
	return 0;
}

/* The device tree's block, then the initrd below it, both clear of the
 * kernel's image_size. */
static int plan_rest(const struct avp_config *cfg, uint64_t ram_size, struct arm64_boot_plan *p)
{
	uint64_t ram_end = ARM64_RAM_BASE + ram_size;
	uint64_t kernel_top = (p->kernel_end + PAGE - 1) & ~(PAGE - 1);
	size_t cmdline_len = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	uint64_t size = 0;

	if (cmdline_len >= ARM64_CMDLINE_MAX) {
		avp_err("command line is %zu bytes; an arm64 Linux kernel takes at most %u",
			cmdline_len, ARM64_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	p->fdt_gpa = (ram_end - ARM64_FDT_BLOCK) & ~(ARM64_FDT_BLOCK - 1);
	if (ram_size < ARM64_FDT_BLOCK || p->fdt_gpa < kernel_top) {
		avp_err("kernel %s ends at 0x%llx, and the device tree needs the 2 MiB block "
			"below the end of RAM at 0x%llx: --memory %llu is too little, give the VM "
			"more memory", cfg->kernel, (unsigned long long)p->kernel_end,
			(unsigned long long)ram_end, (unsigned long long)cfg->memory_mib);
		return -ENOMEM;
	}
	if (!cfg->initrd)
		return 0;
	p->initrd_fd = guest_file_open("initrd", cfg->initrd, &size);
	if (p->initrd_fd < 0)
		return p->initrd_fd;
	if (size == 0) {
		avp_err("initrd %s: file is empty", cfg->initrd);
		return -EINVAL;
	}
	if (size > p->fdt_gpa - kernel_top ||
	    ((p->fdt_gpa - size) & ~(PAGE - 1)) < kernel_top) {
		avp_err("initrd %s: %llu bytes do not fit between the kernel's end at 0x%llx and "
			"the device tree at 0x%llx: --memory %llu is too little, give the VM more "
			"memory", cfg->initrd, (unsigned long long)size,
			(unsigned long long)kernel_top, (unsigned long long)p->fdt_gpa,
			(unsigned long long)cfg->memory_mib);
		return -ENOMEM;
	}
	p->initrd_gpa = (p->fdt_gpa - size) & ~(PAGE - 1);
	p->initrd_size = size;
	return 0;
}

int arm64_boot_plan(const struct avp_config *cfg, struct arm64_boot_plan *p)
{
	uint64_t ram_size = cfg->memory_mib << 20;
	int err;

	memset(p, 0, sizeof(*p));
	p->kernel_fd = p->initrd_fd = -1;
	if (ram_size == 0 || ram_size > ARM64_RAM_MAX) {
		avp_err("--memory %llu: the arm64 platform has 1 to %llu MiB of RAM (one range "
			"from 0x%llx)", (unsigned long long)cfg->memory_mib,
			(unsigned long long)(ARM64_RAM_MAX >> 20), (unsigned long long)ARM64_RAM_BASE);
		return -EINVAL;
	}
	err = plan_kernel(cfg, ram_size, p);
	if (!err)
		err = plan_rest(cfg, ram_size, p);
	if (err)
		arm64_boot_plan_close(p);
	return err;
}

int arch_check_guest(const struct avp_config *cfg)
{
	struct arm64_boot_plan plan;
	int err = arm64_boot_plan(cfg, &plan);

	if (!err)
		arm64_boot_plan_close(&plan);
	return err;
}

int arm64_build_fdt(const struct vm *vm, const struct arm64_boot_plan *plan, void *buf, size_t len)
{
	const struct avp_config *cfg = vm->cfg;
	struct arm64_fdt_dev devs[4 + AVP_MAX_MMIO_DEVS];
	struct arm64_fdt_mem mem = { .base = ARM64_RAM_BASE, .size = cfg->memory_mib << 20 };
	struct arm64_fdt_pci_intx intx[ARM64_FDT_PCI_SLOTS];
	struct arm64_fdt_pci pci = {
		.ecam_base = ARM64_PCI_ECAM_BASE,
		.ecam_size = ARM64_PCI_ECAM_SIZE,
		.mmio_base = ARM64_PCI_MMIO_BASE,
		.mmio_size = ARM64_PCI_MMIO_SIZE,
		.intx = intx,
	};
	unsigned int n = 0;
	struct arm64_fdt_platform p = {
		.mem = &mem,
		.nmem = 1,
		.ncpus = cfg->cpus,
		.gicd_base = ARM64_GICD_BASE,
		.gicd_size = ARM64_GICD_SIZE,
		.gicr_base = ARM64_GICR_BASE,
		.gicr_size = (uint64_t)cfg->cpus * ARM64_GICR_SIZE_PER_CPU,
		.devs = devs,
		.sp805_clock_hz = SP805_DEFAULT_HZ,
		/* Linux asks the firmware for its PSCI version and uses what
		 * KVM offers beyond 0.2. */
		.psci_1_0 = false,
		.bootargs = cfg->cmdline,
		.initrd_start = plan ? plan->initrd_gpa : 0,
		.initrd_size = plan ? plan->initrd_size : 0,
	};

	devs[n++] = (struct arm64_fdt_dev){ ARM64_DEV_PL011, ARM64_PL011_BASE, PL011_MMIO_SIZE,
					    ARM64_PL011_SPI, false };
	devs[n++] = (struct arm64_fdt_dev){ ARM64_DEV_PL031, ARM64_PL031_BASE, PL031_MMIO_SIZE,
					    ARM64_PL031_SPI, false };
	if (avp_config_device(cfg, &watchdog_config, 0))
		devs[n++] = (struct arm64_fdt_dev){ ARM64_DEV_SP805, ARM64_SP805_BASE,
						    SP805_MMIO_SIZE, ARM64_SP805_SPI, false };
	devs[n++] = (struct arm64_fdt_dev){ ARM64_DEV_PL061, ARM64_PL061_BASE, PL061_MMIO_SIZE,
					    ARM64_PL061_SPI, false };
	/* Rising edge: virtio-mmio interrupts leave as irqfd pulses (or an
	 * assert-deassert pair), which a level-sensitive line would drop
	 * before the guest saw it. The driver reads InterruptStatus on each. */
	for (unsigned int i = 0; i < vm->nmmio_devs; i++)
		if (!vm->mmio_devs[i].pci)
			devs[n++] = (struct arm64_fdt_dev){ ARM64_DEV_VIRTIO_MMIO,
							    vm->mmio_devs[i].base,
							    vm->mmio_devs[i].size,
							    vm->mmio_devs[i].gsi, true };
	p.ndevs = n;
	if (vm->pci) {
		for (unsigned int i = 0; i < vm->nmmio_devs && pci.nintx < ARM64_FDT_PCI_SLOTS; i++)
			if (vm->mmio_devs[i].pci)
				intx[pci.nintx++] = (struct arm64_fdt_pci_intx){
					vm->mmio_devs[i].pci_slot, vm->mmio_devs[i].gsi
				};
		if (arm64_has_its(vm)) {
			p.its_base = ARM64_GITS_BASE;
			p.its_size = ARM64_GITS_SIZE;
			pci.msi = true;
		}
		p.pci = &pci;
	}
	return arm64_fdt_build(&p, buf, len);
}

int arch_load_guest(struct vm *vm)
{
	struct arm64_state *st = vm->arch;
	struct arm64_boot_plan plan;
	void *fdt = NULL;
	int err;

	if (!st)
		return -EINVAL;
	err = arm64_boot_plan(vm->cfg, &plan);
	if (err)
		return err;
	err = guest_file_load(&vm->mem, plan.kernel_gpa, plan.ii.file_size, plan.kernel_data,
			      plan.kernel_fd, 0, "kernel", vm->cfg->kernel);
	if (!err && plan.initrd_fd >= 0)
		err = guest_file_load(&vm->mem, plan.initrd_gpa, plan.initrd_size, NULL,
				      plan.initrd_fd, 0, "initrd", vm->cfg->initrd);
	if (err)
		goto out;
	fdt = calloc(1, FDT_BUF_SIZE);
	if (!fdt) {
		err = -ENOMEM;
		goto out;
	}
	err = arm64_build_fdt(vm, &plan, fdt, FDT_BUF_SIZE);
	if (!err && gm_write(&vm->mem, plan.fdt_gpa, fdt, arm64_fdt_size(fdt))) {
		avp_err("device tree: [0x%llx, +%zu) is not guest RAM",
			(unsigned long long)plan.fdt_gpa, arm64_fdt_size(fdt));
		err = -ENOMEM;
	}
	if (!err) {
		st->entry_gpa = plan.kernel_gpa;
		st->fdt_gpa = plan.fdt_gpa;
		st->guest_loaded = true;
	}
out:
	free(fdt);
	arm64_boot_plan_close(&plan);
	return err;
}

int arch_dump_dtb(const struct vm *vm, const char *path)
{
	struct arm64_boot_plan plan;
	void *fdt;
	int fd, err;

	err = arm64_boot_plan(vm->cfg, &plan);
	if (err)
		return err;
	fdt = calloc(1, FDT_BUF_SIZE);
	if (!fdt) {
		arm64_boot_plan_close(&plan);
		return -ENOMEM;
	}
	err = arm64_build_fdt(vm, &plan, fdt, FDT_BUF_SIZE);
	arm64_boot_plan_close(&plan);
	if (err)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err = -errno;
		avp_err("--dump-dtb %s: cannot create: %s", path, strerror(-err));
		goto out;
	}
	err = avp_write_all(fd, fdt, arm64_fdt_size(fdt));
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		avp_err("--dump-dtb %s: write failed: %s", path, strerror(-err));
out:
	free(fdt);
	return err;
}
