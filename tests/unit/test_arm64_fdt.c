/* The arm64 device tree: built from a plain platform description, checked
 * through libfdt (every node found, every phandle resolving to the node
 * it means), then written to a file and decoded with dtc, which must not
 * warn, with every node and property checked in its output (skipped,
 * saying so, without dtc: Debian's device-tree-compiler). Descriptions
 * that make no bootable tree are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arm64/fdt.h"
#include "avp/hw/pl061.h"
#include "avp/log.h"

#define NCPUS 17 /* one past Aff0's 16: cpu 16 is MPIDR 0x100 */

static uint8_t buf[64 * 1024];

static const struct arm64_fdt_mem mem[] = {
	{ 0x40000000, 0x10000000 },
	{ 0x100000000ull, 0x40000000 },
};

static const struct arm64_fdt_dev devs[] = {
	{ ARM64_DEV_PL011, 0x9000000, 0x1000, 1, false },
	{ ARM64_DEV_PL031, 0x9010000, 0x1000, 2, false },
	{ ARM64_DEV_SP805, 0x9020000, 0x1000, 3, false },
	{ ARM64_DEV_PL061, 0x9030000, 0x1000, 7, false },
	{ ARM64_DEV_VIRTIO_MMIO, 0xa000000, 0x200, 16, true },
	{ ARM64_DEV_VIRTIO_MMIO, 0xa000200, 0x200, 17, false },
};

static const struct arm64_fdt_pci_intx pci_intx[] = { { 1, 20 }, { 2, 21 }, { 31, 22 } };

static const struct arm64_fdt_pci pci_host = {
	.ecam_base = 0x3f000000,
	.ecam_size = 0x100000,
	.mmio_base = 0x10000000,
	.mmio_size = 0x10000000,
	.intx = pci_intx,
	.nintx = 3,
	.msi = true,
};

static struct arm64_fdt_platform sample(void)
{
	return (struct arm64_fdt_platform){
		.mem = mem,
		.nmem = 2,
		.ncpus = NCPUS,
		.gicd_base = 0x8000000,
		.gicd_size = 0x10000,
		.gicr_base = 0x80a0000,
		.gicr_size = NCPUS * ARM64_GICR_STRIDE,
		.devs = devs,
		.ndevs = 6,
		.sp805_clock_hz = 1000000,
		.psci_1_0 = true,
		.bootargs = "console=ttyAMA0 root=/dev/vda",
		.initrd_start = 0x48000000,
		.initrd_size = 0x100000,
	};
}

static int node(const char *path)
{
	int off = fdt_path_offset(buf, path);

	if (off < 0)
		fail_msg("no node %s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(int off, const char *name, int *len)
{
	const void *v = fdt_getprop(buf, off, name, len);

	if (!v)
		fail_msg("no property %s", name);
	return v;
}

static uint32_t prop_u32(int off, const char *name, unsigned int idx)
{
	int len;
	const fdt32_t *v = prop(off, name, &len);

	assert_true((unsigned int)len >= (idx + 1) * 4);
	return fdt32_to_cpu(v[idx]);
}

static void test_tree_through_libfdt(void **state)
{
	struct arm64_fdt_platform p = sample();
	int gic, gpio, keys, len, off;
	const char *s;

	(void)state;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	assert_int_equal(fdt_check_header(buf), 0);
	assert_true(fdt_totalsize(buf) <= sizeof(buf));

	/* The root's interrupt parent is the GIC. */
	gic = node("/interrupt-controller@8000000");
	assert_int_equal(fdt_node_offset_by_phandle(buf, prop_u32(0, "interrupt-parent", 0)), gic);
	assert_int_equal(prop_u32(gic, "#interrupt-cells", 0), 3);
	assert_true(fdt_node_check_compatible(buf, gic, "arm,gic-v3") == 0);
	/* reg: distributor, then redistributors for every vCPU. */
	assert_int_equal(prop_u32(gic, "reg", 1), 0x8000000);
	assert_int_equal(prop_u32(gic, "reg", 3), 0x10000);
	assert_int_equal(prop_u32(gic, "reg", 5), 0x80a0000);
	assert_int_equal(prop_u32(gic, "reg", 7), NCPUS * ARM64_GICR_STRIDE);

	/* stdout-path leads to the PL011. */
	s = prop(node("/chosen"), "stdout-path", &len);
	off = fdt_path_offset(buf, s);
	assert_int_equal(off, node("/serial@9000000"));
	assert_true(fdt_node_check_compatible(buf, off, "arm,pl011") == 0);
	assert_true(fdt_node_check_compatible(buf, off, "arm,primecell") == 0);
	assert_int_equal(prop_u32(node("/chosen"), "linux,initrd-start", 1), 0x48000000);
	assert_int_equal(prop_u32(node("/chosen"), "linux,initrd-end", 1), 0x48100000);

	/* Every vCPU, by its MPIDR, and the 17th in cluster 1. */
	for (unsigned int i = 0; i < NCPUS; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/cpus/cpu@%x", arm64_fdt_mpidr(i));
		off = node(path);
		assert_int_equal(prop_u32(off, "reg", 0), arm64_fdt_mpidr(i));
		assert_string_equal(prop(off, "enable-method", &len), "psci");
	}
	assert_int_equal(arm64_fdt_mpidr(16), 0x100);
	node("/cpus/cpu@100");

	/* The power button's gpios point at the PL061, on its line. */
	gpio = node("/gpio@9030000");
	keys = node("/gpio-keys/button-power");
	assert_int_equal(fdt_node_offset_by_phandle(buf, prop_u32(keys, "gpios", 0)), gpio);
	assert_int_equal(prop_u32(keys, "gpios", 1), PL061_POWER_LINE);
	assert_int_equal(prop_u32(keys, "linux,code", 0), 116);
	/* Clocks resolve to fixed clocks. */
	off = fdt_node_offset_by_phandle(buf, prop_u32(node("/watchdog@9020000"), "clocks", 0));
	assert_int_equal(off, node("/wdog-clk"));
	assert_int_equal(prop_u32(off, "clock-frequency", 0), 1000000);
	off = fdt_node_offset_by_phandle(buf, prop_u32(node("/rtc@9010000"), "clocks", 0));
	assert_int_equal(off, node("/apb-pclk"));
	/* The virtio devices' interrupts. */
	assert_int_equal(prop_u32(node("/virtio@a000000"), "interrupts", 1), 16);
	assert_int_equal(prop_u32(node("/virtio@a000000"), "interrupts", 2), 1);
	assert_int_equal(prop_u32(node("/virtio@a000200"), "interrupts", 2), 4);
}

/* The dts text of one node: from "NAME {" to its closing line. */
static char *node_text(const char *dts, const char *name, char *out, size_t len)
{
	char open[96];
	const char *b, *e;
	int depth;

	snprintf(open, sizeof(open), "\t%s {\n", name);
	b = strstr(dts, open);
	if (!b)
		fail_msg("dtc output has no node %s", name);
	/* The node ends where its braces balance. */
	depth = 0;
	for (e = b; *e; e++) {
		if (*e == '{')
			depth++;
		else if (*e == '}' && --depth == 0)
			break;
	}
	assert_true(*e);
	assert_true((size_t)(e - b) < len);
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
	return out;
}

static void has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("expected \"%s\" in:\n%s", line, text);
}

static bool have_dtc(void)
{
	return system("command -v dtc >/dev/null 2>&1") == 0;
}

static void test_dtc_decodes_every_node(void **state)
{
	struct arm64_fdt_platform p = sample();
	char dir[] = "/tmp/avp-fdt-XXXXXX", dtb[64], dts[64], err[64], cmd[256];
	static char text[64 * 1024], n[8192];
	FILE *f;
	size_t got;
	int status;

	(void)state;
	p.its_base = 0x8080000;
	p.its_size = 0x20000;
	p.pci = &pci_host;
	if (!have_dtc()) {
		print_message("dtc not found (Debian package device-tree-compiler): the tree is "
			      "checked through libfdt only\n");
		skip();
	}
	p.ncpus = 2;
	p.gicr_size = 2 * ARM64_GICR_STRIDE;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(dtb, sizeof(dtb), "%s/avp.dtb", dir);
	snprintf(dts, sizeof(dts), "%s/avp.dts", dir);
	snprintf(err, sizeof(err), "%s/dtc.err", dir);
	f = fopen(dtb, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, fdt_totalsize(buf), f), fdt_totalsize(buf));
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "dtc -I dtb -O dts -o %s %s 2>%s", dts, dtb, err);
	status = system(cmd);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* dtc checks the tree as it decodes it: not one warning. */
	f = fopen(err, "r");
	assert_non_null(f);
	got = fread(text, 1, sizeof(text) - 1, f);
	text[got] = '\0';
	fclose(f);
	if (got)
		fail_msg("dtc warned:\n%s", text);
	f = fopen(dts, "r");
	assert_non_null(f);
	got = fread(text, 1, sizeof(text) - 1, f);
	text[got] = '\0';
	fclose(f);

	has(text, "compatible = \"avp,arm64-virt\";");
	has(text, "#address-cells = <0x02>;");
	has(text, "#size-cells = <0x02>;");
	has(text, "interrupt-parent = <0x01>;");

	node_text(text, "chosen", n, sizeof(n));
	has(n, "bootargs = \"console=ttyAMA0 root=/dev/vda\";");
	has(n, "stdout-path = \"/serial@9000000\";");
	has(n, "linux,initrd-start = <0x00 0x48000000>;");
	has(n, "linux,initrd-end = <0x00 0x48100000>;");

	node_text(text, "memory@40000000", n, sizeof(n));
	has(n, "device_type = \"memory\";");
	has(n, "reg = <0x00 0x40000000 0x00 0x10000000>;");
	node_text(text, "memory@100000000", n, sizeof(n));
	has(n, "reg = <0x01 0x00 0x00 0x40000000>;");

	node_text(text, "cpus", n, sizeof(n));
	has(n, "#address-cells = <0x01>;");
	has(n, "#size-cells = <0x00>;");
	node_text(text, "\tcpu@1", n, sizeof(n));
	has(n, "device_type = \"cpu\";");
	has(n, "compatible = \"arm,armv8\";");
	has(n, "reg = <0x01>;");
	has(n, "enable-method = \"psci\";");

	node_text(text, "psci", n, sizeof(n));
	has(n, "compatible = \"arm,psci-1.0\\0arm,psci-0.2\";");
	has(n, "method = \"hvc\";");

	node_text(text, "interrupt-controller@8000000", n, sizeof(n));
	has(n, "compatible = \"arm,gic-v3\";");
	has(n, "#interrupt-cells = <0x03>;");
	has(n, "interrupt-controller;");
	has(n, "reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0x40000>;");
	has(n, "phandle = <0x01>;");

	node_text(text, "timer", n, sizeof(n));
	has(n, "compatible = \"arm,armv8-timer\";");
	/* Secure and non-secure physical, virtual, hypervisor: PPIs 13,
	 * 14, 11, 10, level-high. */
	has(n, "interrupts = <0x01 0x0d 0x04 0x01 0x0e 0x04 0x01 0x0b 0x04 0x01 0x0a 0x04>;");
	has(n, "always-on;");

	node_text(text, "apb-pclk", n, sizeof(n));
	has(n, "compatible = \"fixed-clock\";");
	has(n, "clock-frequency = <0x16e3600>;"); /* 24 MHz */
	has(n, "phandle = <0x02>;");
	node_text(text, "wdog-clk", n, sizeof(n));
	has(n, "clock-frequency = <0xf4240>;"); /* 1 MHz */
	has(n, "phandle = <0x03>;");

	node_text(text, "serial@9000000", n, sizeof(n));
	has(n, "compatible = \"arm,pl011\\0arm,primecell\";");
	has(n, "reg = <0x00 0x9000000 0x00 0x1000>;");
	has(n, "interrupts = <0x00 0x01 0x04>;");
	has(n, "clocks = <0x02 0x02>;");
	has(n, "clock-names = \"uartclk\\0apb_pclk\";");

	node_text(text, "rtc@9010000", n, sizeof(n));
	has(n, "compatible = \"arm,pl031\\0arm,primecell\";");
	has(n, "reg = <0x00 0x9010000 0x00 0x1000>;");
	has(n, "interrupts = <0x00 0x02 0x04>;");
	has(n, "clock-names = \"apb_pclk\";");

	node_text(text, "watchdog@9020000", n, sizeof(n));
	has(n, "compatible = \"arm,sp805\\0arm,primecell\";");
	has(n, "reg = <0x00 0x9020000 0x00 0x1000>;");
	has(n, "interrupts = <0x00 0x03 0x04>;");
	has(n, "clocks = <0x03 0x02>;");
	has(n, "clock-names = \"wdog_clk\\0apb_pclk\";");

	node_text(text, "gpio@9030000", n, sizeof(n));
	has(n, "compatible = \"arm,pl061\\0arm,primecell\";");
	has(n, "gpio-controller;");
	has(n, "#gpio-cells = <0x02>;");
	has(n, "reg = <0x00 0x9030000 0x00 0x1000>;");
	has(n, "interrupts = <0x00 0x07 0x04>;");
	has(n, "phandle = <0x04>;");

	node_text(text, "virtio@a000000", n, sizeof(n));
	has(n, "compatible = \"virtio,mmio\";");
	has(n, "reg = <0x00 0xa000000 0x00 0x200>;");
	has(n, "interrupts = <0x00 0x10 0x01>;");
	has(n, "dma-coherent;");
	node_text(text, "virtio@a000200", n, sizeof(n));
	has(n, "interrupts = <0x00 0x11 0x04>;");

	node_text(text, "gpio-keys", n, sizeof(n));
	has(n, "compatible = \"gpio-keys\";");
	has(n, "button-power {");
	has(n, "label = \"Power\";");
	has(n, "linux,code = <0x74>;"); /* KEY_POWER */
	has(n, "gpios = <0x04 0x03 0x00>;");

	node_text(text, "msi-controller@8080000", n, sizeof(n));
	has(n, "compatible = \"arm,gic-v3-its\";");
	has(n, "msi-controller;");
	has(n, "#msi-cells = <0x01>;");
	has(n, "reg = <0x00 0x8080000 0x00 0x20000>;");
	has(n, "phandle = <0x05>;");

	node_text(text, "pci@3f000000", n, sizeof(n));
	has(n, "compatible = \"pci-host-ecam-generic\";");
	has(n, "device_type = \"pci\";");
	has(n, "reg = <0x00 0x3f000000 0x00 0x100000>;");
	has(n, "bus-range = <0x00 0x00>;");
	has(n, "ranges = <0x2000000 0x00 0x10000000 0x00 0x10000000 0x00 0x10000000>;");
	has(n, "dma-coherent;");
	has(n, "interrupt-map-mask = <0xf800 0x00 0x00 0x07>;");
	has(n, "interrupt-map = <0x800 0x00 0x00 0x01 0x01 0x00 0x00 0x00 0x14 0x04 ");
	has(n, "msi-map = <0x00 0x05 0x00 0x100>;");

	unlink(dtb);
	unlink(dts);
	unlink(err);
	rmdir(dir);
}

/* --transport pci: the generic ECAM host bridge read back through libfdt
 * as Linux reads it (host-generic-pci.yaml, pci-bus-common.yaml, pci-msi,
 * arm,gic-v3's ITS child). */
static void test_pci_host(void **state)
{
	struct arm64_fdt_platform p = sample();
	int pci, gic, its, len;
	const fdt32_t *map;

	(void)state;
	p.its_base = 0x8080000;
	p.its_size = 0x20000;
	p.pci = &pci_host;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	pci = node("/pci@3f000000");
	gic = node("/interrupt-controller@8000000");
	assert_true(fdt_node_check_compatible(buf, pci, "pci-host-ecam-generic") == 0);
	assert_string_equal(prop(pci, "device_type", &len), "pci");
	assert_int_equal(prop_u32(pci, "#address-cells", 0), 3);
	assert_int_equal(prop_u32(pci, "#size-cells", 0), 2);
	assert_int_equal(prop_u32(pci, "#interrupt-cells", 0), 1);
	/* reg: ECAM in the root's two address and two size cells. */
	prop(pci, "reg", &len);
	assert_int_equal(len, 16);
	assert_int_equal(prop_u32(pci, "reg", 1), 0x3f000000);
	assert_int_equal(prop_u32(pci, "reg", 3), 0x100000);
	assert_int_equal(prop_u32(pci, "bus-range", 0), 0);
	assert_int_equal(prop_u32(pci, "bus-range", 1), 0);
	prop(pci, "dma-coherent", &len);
	assert_int_equal(len, 0);
	/* ranges: one 32-bit memory window, 1:1, in 3 + 2 + 2 cells. */
	prop(pci, "ranges", &len);
	assert_int_equal(len, 7 * 4);
	assert_int_equal(prop_u32(pci, "ranges", 0), 0x02000000);
	assert_int_equal(prop_u32(pci, "ranges", 2), 0x10000000);
	assert_int_equal(prop_u32(pci, "ranges", 4), 0x10000000);
	assert_int_equal(prop_u32(pci, "ranges", 6), 0x10000000);
	/* interrupt-map: device number and pin select; each entry is the
	 * function's (slot << 11, 0, 0, INTA) to the GIC's level SPI. */
	assert_int_equal(prop_u32(pci, "interrupt-map-mask", 0), 0xf800);
	assert_int_equal(prop_u32(pci, "interrupt-map-mask", 3), 7);
	map = prop(pci, "interrupt-map", &len);
	assert_int_equal(len, 3 * 10 * 4);
	for (unsigned int i = 0; i < 3; i++) {
		const fdt32_t *e = map + 10 * i;

		assert_int_equal(fdt32_to_cpu(e[0]), (uint32_t)pci_intx[i].slot << 11);
		assert_int_equal(fdt32_to_cpu(e[3]), 1);
		assert_int_equal(fdt_node_offset_by_phandle(buf, fdt32_to_cpu(e[4])), gic);
		assert_int_equal(fdt32_to_cpu(e[7]), 0); /* GIC_SPI */
		assert_int_equal(fdt32_to_cpu(e[8]), pci_intx[i].spi);
		assert_int_equal(fdt32_to_cpu(e[9]), 4); /* level high */
	}
	/* MSIs: requester IDs 0-255 map 1:1 to DeviceIDs of the ITS, a
	 * child of the GIC. */
	its = node("/interrupt-controller@8000000/msi-controller@8080000");
	assert_int_equal(fdt_parent_offset(buf, its), gic);
	assert_true(fdt_node_check_compatible(buf, its, "arm,gic-v3-its") == 0);
	prop(its, "msi-controller", &len);
	assert_int_equal(prop_u32(its, "#msi-cells", 0), 1);
	assert_int_equal(prop_u32(its, "reg", 1), 0x8080000);
	assert_int_equal(prop_u32(its, "reg", 3), 0x20000);
	assert_int_equal(prop_u32(pci, "msi-map", 0), 0);
	assert_int_equal(fdt_node_offset_by_phandle(buf, prop_u32(pci, "msi-map", 1)), its);
	assert_int_equal(prop_u32(pci, "msi-map", 2), 0);
	assert_int_equal(prop_u32(pci, "msi-map", 3), 0x100);

	/* Without an ITS (an old host): INTx only, no MSI controller. */
	struct arm64_fdt_pci intx_only = pci_host;

	intx_only.msi = false;
	p.its_size = 0;
	p.pci = &intx_only;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	pci = node("/pci@3f000000");
	assert_null(fdt_getprop(buf, pci, "msi-map", NULL));
	assert_null(fdt_getprop(buf, pci, "msi-parent", NULL));
	assert_true(fdt_path_offset(buf, "/interrupt-controller@8000000/msi-controller@8080000") < 0);
	assert_int_equal(prop_u32(pci, "interrupt-map", 8), 20);
	/* And without --transport pci, no host bridge. */
	p = sample();
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	assert_true(fdt_path_offset(buf, "/pci@3f000000") < 0);
}

/* What is left out when the platform has none, and PSCI 0.2. */
static void test_optional_nodes(void **state)
{
	struct arm64_fdt_platform p = sample();
	struct arm64_fdt_dev only_virtio = devs[4];

	(void)state;
	p.devs = &only_virtio;
	p.ndevs = 1;
	p.bootargs = NULL;
	p.initrd_size = 0;
	p.psci_1_0 = false;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	assert_null(fdt_getprop(buf, node("/chosen"), "stdout-path", NULL));
	assert_null(fdt_getprop(buf, node("/chosen"), "bootargs", NULL));
	assert_null(fdt_getprop(buf, node("/chosen"), "linux,initrd-start", NULL));
	assert_true(fdt_path_offset(buf, "/gpio-keys") < 0);
	assert_true(fdt_path_offset(buf, "/wdog-clk") < 0);
	assert_true(fdt_node_check_compatible(buf, node("/psci"), "arm,psci-0.2") == 0);
	assert_true(fdt_node_check_compatible(buf, node("/psci"), "arm,psci-1.0") != 0);
}

static void test_refused(void **state)
{
	struct arm64_fdt_platform p;
	struct arm64_fdt_dev bad[2] = { devs[3], devs[3] };
	struct arm64_fdt_mem wrap = { ~0ull - 10, 100 };

	(void)state;
	p = sample();
	p.nmem = 0;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	p.mem = &wrap;
	p.nmem = 1;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	p.ncpus = 0;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	p.gicr_size = (NCPUS - 1) * ARM64_GICR_STRIDE;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	bad[0].spi = ARM64_FDT_MAX_SPI + 1;
	p.devs = bad;
	p.ndevs = 1;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	bad[0].spi = 7;
	p.ndevs = 2; /* two PL061s */
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	p.sp805_clock_hz = 0;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	p.initrd_start = ~0ull;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p = sample();
	p.devs = NULL;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(arm64_fdt_build(NULL, buf, sizeof(buf)), -EINVAL);
	/* A PCI host bridge: MSIs without an ITS, a window above 4 GiB for
	 * 32-bit BARs, a slot or an SPI out of range. */
	struct arm64_fdt_pci bad_pci = pci_host;
	struct arm64_fdt_pci_intx bad_intx = { 32, 20 };

	p = sample();
	p.pci = &bad_pci;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	p.its_base = 0x8080000;
	p.its_size = 0x20000;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), 0);
	bad_pci.mmio_base = 0xf8000000;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	bad_pci = pci_host;
	bad_pci.intx = &bad_intx;
	bad_pci.nintx = 1;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	bad_intx = (struct arm64_fdt_pci_intx){ 3, ARM64_FDT_MAX_SPI + 1 };
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	bad_pci.nintx = ARM64_FDT_PCI_SLOTS + 1;
	assert_int_equal(arm64_fdt_build(&p, buf, sizeof(buf)), -EINVAL);
	/* Too small a buffer. */
	p = sample();
	assert_int_equal(arm64_fdt_build(&p, buf, 512), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_through_libfdt),
		cmocka_unit_test(test_dtc_decodes_every_node),
		cmocka_unit_test(test_pci_host),
		cmocka_unit_test(test_optional_nodes),
		cmocka_unit_test(test_refused),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests_name("arm64_fdt", tests, NULL, NULL);
}
