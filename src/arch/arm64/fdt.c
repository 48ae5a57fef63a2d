/* The arm64 guest's device tree (src/arch/arm64/fdt.h), written with
 * libfdt's sequential-write API: nodes in the order Linux reads them
 * does not matter, but one writer pass needs no fix-ups, since every
 * phandle is a constant chosen here. */
#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/fdt.h"
#include "avp/hw/pl061.h"
#include "avp/log.h"

/* Phandles: fixed, so nodes may refer to ones written later. */
#define PH_GIC 1
#define PH_APB_CLK 2
#define PH_WDOG_CLK 3
#define PH_GPIO 4
#define PH_ITS 5

/* The GIC binding's interrupt specifier: type, number, flags. */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH 4

#define GPIO_ACTIVE_HIGH 0

/* The PCI bus binding's phys.hi cell (IEEE 1275 PCI bus binding, 2.2.1.1;
 * Linux's devicetree/bindings/pci/pci.txt): space code 32-bit memory, and
 * the device number at bits 11-15. */
#define PCI_SS_MEM32 0x02000000u
#define PCI_PHYS_DEV_SHIFT 11
#define PCI_INTA 1u

uint32_t arm64_fdt_mpidr(unsigned int i)
{
	return (i & 0xf) | (((i >> 4) & 0xff) << 8) | (((i >> 12) & 0xff) << 16);
}

/* The writer: every helper does nothing once a libfdt call failed, so
 * that the first error is the one reported. */
struct w {
	void *fdt;
	int err;
};

static void begin(struct w *w, const char *name)
{
	if (!w->err)
		w->err = fdt_begin_node(w->fdt, name);
}

static void begin_at(struct w *w, const char *name, uint64_t addr)
{
	char n[64];

	snprintf(n, sizeof(n), "%s@%" PRIx64, name, addr);
	begin(w, n);
}

static void end(struct w *w)
{
	if (!w->err)
		w->err = fdt_end_node(w->fdt);
}

static void prop(struct w *w, const char *name, const void *val, size_t len)
{
	if (!w->err)
		w->err = fdt_property(w->fdt, name, val, (int)len);
}

static void prop_u32(struct w *w, const char *name, uint32_t v)
{
	fdt32_t be = cpu_to_fdt32(v);

	prop(w, name, &be, sizeof(be));
}

static void prop_u64(struct w *w, const char *name, uint64_t v)
{
	fdt64_t be = cpu_to_fdt64(v);

	prop(w, name, &be, sizeof(be));
}

static void prop_str(struct w *w, const char *name, const char *v)
{
	prop(w, name, v, strlen(v) + 1);
}

static void prop_cells(struct w *w, const char *name, const uint32_t *cells, unsigned int n)
{
	fdt32_t be[16];

	for (unsigned int i = 0; i < n && i < 16; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	prop(w, name, be, (n < 16 ? n : 16) * sizeof(be[0]));
}

/* A long cell array (interrupt-map): nothing is cut. */
static void prop_cells_n(struct w *w, const char *name, const uint32_t *cells, unsigned int n)
{
	fdt32_t *be;

	if (w->err)
		return;
	be = calloc(n ? n : 1, sizeof(*be));
	if (!be) {
		w->err = -FDT_ERR_INTERNAL;
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	prop(w, name, be, n * sizeof(*be));
	free(be);
}

/* reg = <base size>... with two address and two size cells. */
static void prop_reg(struct w *w, const uint64_t *pairs, unsigned int npairs)
{
	fdt64_t be[8];

	for (unsigned int i = 0; i < 2 * npairs && i < 8; i++)
		be[i] = cpu_to_fdt64(pairs[i]);
	prop(w, "reg", be, (npairs < 4 ? 2 * npairs : 8) * sizeof(be[0]));
}

/* A stringlist: the strings back to back, each with its NUL. */
static void prop_strings(struct w *w, const char *name, const char *const *s, unsigned int n)
{
	char buf[128];
	size_t len = 0;

	for (unsigned int i = 0; i < n; i++) {
		size_t l = strlen(s[i]) + 1;

		if (len + l > sizeof(buf)) {
			w->err = w->err ? w->err : -FDT_ERR_INTERNAL;
			return;
		}
		memcpy(buf + len, s[i], l);
		len += l;
	}
	prop(w, name, buf, len);
}

static void prop_empty(struct w *w, const char *name)
{
	prop(w, name, NULL, 0);
}

static void add_cpus(struct w *w, const struct arm64_fdt_platform *p)
{
	begin(w, "cpus");
	prop_u32(w, "#address-cells", 1);
	prop_u32(w, "#size-cells", 0);
	for (unsigned int i = 0; i < p->ncpus && !w->err; i++) {
		uint32_t mpidr = arm64_fdt_mpidr(i);

		begin_at(w, "cpu", mpidr);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,armv8");
		prop_u32(w, "reg", mpidr);
		prop_str(w, "enable-method", "psci");
		end(w);
	}
	end(w);
}

static void add_psci(struct w *w, const struct arm64_fdt_platform *p)
{
	static const char *const v1[] = { "arm,psci-1.0", "arm,psci-0.2" };
	static const char *const v02[] = { "arm,psci-0.2" };

	begin(w, "psci");
	if (p->psci_1_0)
		prop_strings(w, "compatible", v1, 2);
	else
		prop_strings(w, "compatible", v02, 1);
	/* KVM implements PSCI as hypervisor calls. */
	prop_str(w, "method", "hvc");
	end(w);
}

static void add_gic(struct w *w, const struct arm64_fdt_platform *p)
{
	uint64_t reg[] = { p->gicd_base, p->gicd_size, p->gicr_base, p->gicr_size };

	begin_at(w, "interrupt-controller", p->gicd_base);
	prop_str(w, "compatible", "arm,gic-v3");
	prop_u32(w, "#interrupt-cells", 3);
	/* Room for ITS children, which the binding puts in our space. */
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop_empty(w, "ranges");
	prop_empty(w, "interrupt-controller");
	prop_reg(w, reg, 2);
	prop_u32(w, "#redistributor-regions", 1);
	prop_u32(w, "phandle", PH_GIC);
	if (p->its_size) {
		uint64_t its[] = { p->its_base, p->its_size };

		/* arm,gic-v3.yaml: the ITS is a child of the GIC; its one
		 * msi-cell is the DeviceID, which a PCI host's msi-map gives. */
		begin_at(w, "msi-controller", p->its_base);
		prop_str(w, "compatible", "arm,gic-v3-its");
		prop_empty(w, "msi-controller");
		prop_u32(w, "#msi-cells", 1);
		prop_reg(w, its, 1);
		prop_u32(w, "phandle", PH_ITS);
		end(w);
	}
	end(w);
}

static void add_timer(struct w *w)
{
	static const uint32_t irqs[] = {
		GIC_PPI, ARM64_TIMER_INTID_SEC - 16,  IRQ_LEVEL_HIGH,
		GIC_PPI, ARM64_TIMER_INTID_NS - 16,   IRQ_LEVEL_HIGH,
		GIC_PPI, ARM64_TIMER_INTID_VIRT - 16, IRQ_LEVEL_HIGH,
		GIC_PPI, ARM64_TIMER_INTID_HYP - 16,  IRQ_LEVEL_HIGH,
	};

	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", irqs, 12);
	/* The counter runs in every power state a guest can enter. */
	prop_empty(w, "always-on");
	end(w);
}

static void add_clock(struct w *w, const char *node, const char *output, uint32_t hz,
		      uint32_t phandle)
{
	begin(w, node);
	prop_str(w, "compatible", "fixed-clock");
	prop_u32(w, "#clock-cells", 0);
	prop_u32(w, "clock-frequency", hz);
	prop_str(w, "clock-output-names", output);
	prop_u32(w, "phandle", phandle);
	end(w);
}

static const char *dev_node_name(enum arm64_fdt_dev_kind k)
{
	switch (k) {
	case ARM64_DEV_PL011:
		return "serial";
	case ARM64_DEV_PL031:
		return "rtc";
	case ARM64_DEV_SP805:
		return "watchdog";
	case ARM64_DEV_PL061:
		return "gpio";
	default:
		return "virtio";
	}
}

static void add_dev(struct w *w, const struct arm64_fdt_dev *d)
{
	uint64_t reg[] = { d->base, d->size };
	uint32_t irq[] = { GIC_SPI, d->spi, d->edge ? IRQ_EDGE_RISING : IRQ_LEVEL_HIGH };

	begin_at(w, dev_node_name(d->kind), d->base);
	switch (d->kind) {
	case ARM64_DEV_PL011: {
		static const char *const compat[] = { "arm,pl011", "arm,primecell" };
		static const char *const clocks[] = { "uartclk", "apb_pclk" };
		uint32_t ph[] = { PH_APB_CLK, PH_APB_CLK };

		prop_strings(w, "compatible", compat, 2);
		prop_cells(w, "clocks", ph, 2);
		prop_strings(w, "clock-names", clocks, 2);
		break;
	}
	case ARM64_DEV_PL031: {
		static const char *const compat[] = { "arm,pl031", "arm,primecell" };

		prop_strings(w, "compatible", compat, 2);
		prop_u32(w, "clocks", PH_APB_CLK);
		prop_str(w, "clock-names", "apb_pclk");
		break;
	}
	case ARM64_DEV_SP805: {
		static const char *const compat[] = { "arm,sp805", "arm,primecell" };
		static const char *const clocks[] = { "wdog_clk", "apb_pclk" };
		uint32_t ph[] = { PH_WDOG_CLK, PH_APB_CLK };

		prop_strings(w, "compatible", compat, 2);
		prop_cells(w, "clocks", ph, 2);
		prop_strings(w, "clock-names", clocks, 2);
		break;
	}
	case ARM64_DEV_PL061: {
		static const char *const compat[] = { "arm,pl061", "arm,primecell" };

		prop_strings(w, "compatible", compat, 2);
		prop_empty(w, "gpio-controller");
		prop_u32(w, "#gpio-cells", 2);
		prop_u32(w, "clocks", PH_APB_CLK);
		prop_str(w, "clock-names", "apb_pclk");
		prop_u32(w, "phandle", PH_GPIO);
		break;
	}
	case ARM64_DEV_VIRTIO_MMIO:
		prop_str(w, "compatible", "virtio,mmio");
		/* avp reads and writes guest RAM through the host's caches:
		 * the guest needs no cache maintenance around DMA. */
		prop_empty(w, "dma-coherent");
		break;
	}
	prop_reg(w, reg, 1);
	prop_cells(w, "interrupts", irq, 3);
	end(w);
}

/* The generic ECAM host bridge (bindings/pci/host-generic-pci.yaml,
 * pci-bus-common.yaml), bus 0 only. */
static void add_pci(struct w *w, const struct arm64_fdt_pci *pci)
{
	uint64_t reg[] = { pci->ecam_base, pci->ecam_size };
	uint32_t bus_range[] = { 0, 0 };
	/* ranges: child address (3 cells), parent address (2), size (2):
	 * the BAR window at the same address on both sides. */
	uint32_t ranges[] = {
		PCI_SS_MEM32, (uint32_t)(pci->mmio_base >> 32), (uint32_t)pci->mmio_base,
		(uint32_t)(pci->mmio_base >> 32), (uint32_t)pci->mmio_base,
		(uint32_t)(pci->mmio_size >> 32), (uint32_t)pci->mmio_size,
	};
	/* Only the device number and the pin select a legacy interrupt. */
	uint32_t map_mask[] = { 0x1fu << PCI_PHYS_DEV_SHIFT, 0, 0, 7 };
	/* interrupt-map entries: child unit address (3 cells) and pin (1),
	 * the GIC's phandle, its unit address (#address-cells 2, unused)
	 * and its specifier (3). Every function uses INTA; bus 0 has no
	 * bridge, so no swizzling. */
	uint32_t map[ARM64_FDT_PCI_SLOTS * 10];
	unsigned int n = 0;

	for (unsigned int i = 0; i < pci->nintx; i++) {
		const uint32_t e[] = { (uint32_t)pci->intx[i].slot << PCI_PHYS_DEV_SHIFT, 0, 0,
				       PCI_INTA, PH_GIC, 0, 0, GIC_SPI, pci->intx[i].spi,
				       IRQ_LEVEL_HIGH };

		memcpy(map + n, e, sizeof(e));
		n += 10;
	}
	begin_at(w, "pci", pci->ecam_base);
	prop_str(w, "compatible", "pci-host-ecam-generic");
	prop_str(w, "device_type", "pci");
	prop_u32(w, "#address-cells", 3);
	prop_u32(w, "#size-cells", 2);
	prop_u32(w, "#interrupt-cells", 1);
	prop_reg(w, reg, 1);
	prop_cells(w, "bus-range", bus_range, 2);
	prop_u32(w, "linux,pci-domain", 0);
	prop_cells(w, "ranges", ranges, 7);
	/* As virtio-mmio: avp's devices reach guest RAM through the host's
	 * caches. */
	prop_empty(w, "dma-coherent");
	if (n) {
		prop_cells(w, "interrupt-map-mask", map_mask, 4);
		prop_cells_n(w, "interrupt-map", map, n);
	}
	if (pci->msi) {
		/* pci-msi.txt: requester IDs 0-0xff (bus 0) map to the same
		 * DeviceIDs at the ITS. Not msi-parent: Linux (of_msi_get_domain)
		 * takes a PCI bus's msi-parent only to a controller without
		 * #msi-cells, and the ITS binding has one. */
		uint32_t msi_map[] = { 0, PH_ITS, 0, 0x100 };

		prop_cells(w, "msi-map", msi_map, 4);
	}
	end(w);
}

/* gpio-keys: the power button the platform presses on the PL061. */
static void add_gpio_keys(struct w *w)
{
	uint32_t gpios[] = { PH_GPIO, PL061_POWER_LINE, GPIO_ACTIVE_HIGH };

	begin(w, "gpio-keys");
	prop_str(w, "compatible", "gpio-keys");
	begin(w, "button-power");
	prop_str(w, "label", "Power");
	prop_u32(w, "linux,code", PL061_KEY_POWER);
	prop_cells(w, "gpios", gpios, 3);
	end(w);
	end(w);
}

static void add_chosen(struct w *w, const struct arm64_fdt_platform *p,
		       const struct arm64_fdt_dev *uart)
{
	begin(w, "chosen");
	if (p->bootargs)
		prop_str(w, "bootargs", p->bootargs);
	if (uart) {
		char path[64];

		snprintf(path, sizeof(path), "/serial@%" PRIx64, uart->base);
		prop_str(w, "stdout-path", path);
	}
	if (p->initrd_size) {
		prop_u64(w, "linux,initrd-start", p->initrd_start);
		prop_u64(w, "linux,initrd-end", p->initrd_start + p->initrd_size);
	}
	end(w);
}

static void add_memory(struct w *w, const struct arm64_fdt_platform *p)
{
	for (unsigned int i = 0; i < p->nmem && !w->err; i++) {
		uint64_t reg[] = { p->mem[i].base, p->mem[i].size };

		begin_at(w, "memory", p->mem[i].base);
		prop_str(w, "device_type", "memory");
		prop_reg(w, reg, 1);
		end(w);
	}
}

static unsigned int count_kind(const struct arm64_fdt_platform *p, enum arm64_fdt_dev_kind k)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < p->ndevs; i++)
		n += p->devs[i].kind == k;
	return n;
}

static bool range_ok(uint64_t base, uint64_t size)
{
	return size && base <= UINT64_MAX - size;
}

/* The description must make a tree Linux can boot from. */
static int check(const struct arm64_fdt_platform *p)
{
	if (!p->nmem || !p->mem) {
		avp_err("device tree: no RAM to describe");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->nmem; i++)
		if (!range_ok(p->mem[i].base, p->mem[i].size)) {
			avp_err("device tree: RAM range %u is empty or wraps", i);
			return -EINVAL;
		}
	/* Aff0-Aff2 of arm64_fdt_mpidr fit 24 bits: plenty. */
	if (!p->ncpus || p->ncpus > (1u << 20)) {
		avp_err("device tree: %u vCPUs", p->ncpus);
		return -EINVAL;
	}
	if (!range_ok(p->gicd_base, p->gicd_size) || !range_ok(p->gicr_base, p->gicr_size) ||
	    p->gicr_size / ARM64_GICR_STRIDE < p->ncpus) {
		avp_err("device tree: the GIC's regions do not hold %u redistributors", p->ncpus);
		return -EINVAL;
	}
	if (p->initrd_size && p->initrd_start > UINT64_MAX - p->initrd_size) {
		avp_err("device tree: the initrd's range wraps");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->ndevs; i++) {
		const struct arm64_fdt_dev *d = &p->devs[i];

		if (d->kind > ARM64_DEV_VIRTIO_MMIO || !range_ok(d->base, d->size) ||
		    d->spi > ARM64_FDT_MAX_SPI) {
			avp_err("device tree: device %u (%s at 0x%" PRIx64 ", SPI %u) is out of "
				"range", i, dev_node_name(d->kind), d->base, d->spi);
			return -EINVAL;
		}
	}
	/* One power button, one phandle for its controller. */
	if (count_kind(p, ARM64_DEV_PL061) > 1) {
		avp_err("device tree: more than one PL061");
		return -EINVAL;
	}
	if (p->its_size && !range_ok(p->its_base, p->its_size)) {
		avp_err("device tree: the ITS's region wraps");
		return -EINVAL;
	}
	if (p->pci) {
		const struct arm64_fdt_pci *pci = p->pci;

		if (!range_ok(pci->ecam_base, pci->ecam_size) ||
		    !range_ok(pci->mmio_base, pci->mmio_size) ||
		    pci->mmio_base + pci->mmio_size > (1ull << 32) ||
		    pci->nintx > ARM64_FDT_PCI_SLOTS || (pci->nintx && !pci->intx) ||
		    (pci->msi && !p->its_size)) {
			avp_err("device tree: the PCI host bridge's windows, interrupts or MSI "
				"controller are out of range");
			return -EINVAL;
		}
		for (unsigned int i = 0; i < pci->nintx; i++)
			if (pci->intx[i].slot >= ARM64_FDT_PCI_SLOTS ||
			    pci->intx[i].spi > ARM64_FDT_MAX_SPI) {
				avp_err("device tree: PCI device %u's interrupt (SPI %u) is out "
					"of range", pci->intx[i].slot, pci->intx[i].spi);
				return -EINVAL;
			}
	}
	if (count_kind(p, ARM64_DEV_SP805) && !p->sp805_clock_hz) {
		avp_err("device tree: the SP805 needs its clock rate");
		return -EINVAL;
	}
	return 0;
}

int arm64_fdt_build(const struct arm64_fdt_platform *p, void *buf, size_t len)
{
	const struct arm64_fdt_dev *uart = NULL;
	struct w w = { .fdt = buf };
	int err, ret;

	if (!p || !buf || (p->ndevs && !p->devs))
		return -EINVAL;
	ret = check(p);
	if (ret)
		return ret;
	if (len > ARM64_FDT_MAX_SIZE)
		len = ARM64_FDT_MAX_SIZE;
	for (unsigned int i = 0; i < p->ndevs && !uart; i++)
		if (p->devs[i].kind == ARM64_DEV_PL011)
			uart = &p->devs[i];

	w.err = fdt_create(buf, (int)len);
	if (!w.err)
		w.err = fdt_finish_reservemap(buf);
	begin(&w, "");
	prop_str(&w, "compatible", "avp,arm64-virt");
	prop_str(&w, "model", "avp arm64 virtual platform");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_u32(&w, "interrupt-parent", PH_GIC);
	add_chosen(&w, p, uart);
	add_memory(&w, p);
	add_cpus(&w, p);
	add_psci(&w, p);
	add_gic(&w, p);
	add_timer(&w);
	add_clock(&w, "apb-pclk", "clk24mhz", ARM64_APB_CLOCK_HZ, PH_APB_CLK);
	if (count_kind(p, ARM64_DEV_SP805))
		add_clock(&w, "wdog-clk", "wdogclk", p->sp805_clock_hz, PH_WDOG_CLK);
	for (unsigned int i = 0; i < p->ndevs; i++)
		add_dev(&w, &p->devs[i]);
	if (count_kind(p, ARM64_DEV_PL061))
		add_gpio_keys(&w);
	if (p->pci)
		add_pci(&w, p->pci);
	end(&w);
	if (!w.err)
		w.err = fdt_finish(buf);
	err = w.err;
	if (err == -FDT_ERR_NOSPACE)
		return -ENOSPC;
	if (err) {
		avp_err("device tree: libfdt: %s", fdt_strerror(err));
		return -EINVAL;
	}
	return 0;
}

size_t arm64_fdt_size(const void *fdt)
{
	return fdt_totalsize(fdt);
}
