/* The ACPI side of --transport pci (src/arch/x86/acpi.c): an MCFG table
 * with the ECAM window, the FADT no longer forbidding MSI, and a PNP0A08
 * host bridge in the DSDT with its bus range, its BAR window in _CRS and
 * a _PRT line per function; virtio-pci functions get no LNRO0005 device.
 * When iasl is installed, it must accept the tables and show all of it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/hw/pci.h"
#include "avp/le.h"
#include "avp/vm.h"

#define RAM_SIZE (2u << 20)

struct fixture {
	struct vm vm;
	uint8_t *ram;
	const uint8_t *fadt, *dsdt, *mcfg;
	uint32_t fadt_len, dsdt_len, mcfg_len;
};

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM_SIZE);
	assert_int_equal(gm_add_region(&f->vm.mem, 0, RAM_SIZE, f->ram), 0);
	f->vm.ncpus = 1;
	f->vm.vm_fd = f->vm.kvm_fd = -1;
	assert_int_equal(arch_pci_init(&f->vm), 0);
	f->vm.nmmio_devs = 3;
	f->vm.mmio_devs[0] = (struct platform_mmio_dev){
		.type = "virtio-blk", .base = X86_PCI_MMIO_BASE, .size = 0x4000, .gsi = 5,
		.pci = true, .pci_slot = 1, .msix_vectors = 2,
	};
	f->vm.mmio_devs[1] = (struct platform_mmio_dev){
		.type = "virtio-net", .base = X86_PCI_MMIO_BASE + 0x4000, .size = 0x4000,
		.gsi = 6, .pci = true, .pci_slot = 2, .msix_vectors = 3,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	arch_vm_destroy(&f->vm);
	free(f->ram);
	free(f);
	return 0;
}

static const uint8_t *table(struct fixture *f, uint64_t gpa, uint32_t *len)
{
	const uint8_t *t = gm_ptr(&f->vm.mem, gpa, 36);

	assert_non_null(t);
	*len = get_le32(t + 4);
	t = gm_ptr(&f->vm.mem, gpa, *len);
	assert_non_null(t);
	assert_int_equal(sum8(t, *len), 0);
	return t;
}

static void build(struct fixture *f)
{
	uint64_t rsdp = 0;
	const uint8_t *r, *x;
	uint32_t xlen;

	f->vm.nmmio_devs = 2;
	assert_int_equal(x86_acpi_build(&f->vm, &rsdp), 0);
	r = gm_ptr(&f->vm.mem, rsdp, 36);
	x = table(f, get_le64(r + 24), &xlen);
	f->fadt = f->dsdt = f->mcfg = NULL;
	for (uint32_t off = 36; off < xlen; off += 8) {
		uint64_t gpa = get_le64(x + off);
		const uint8_t *h = gm_ptr(&f->vm.mem, gpa, 4);

		if (!memcmp(h, "FACP", 4))
			f->fadt = table(f, gpa, &f->fadt_len);
		else if (!memcmp(h, "MCFG", 4))
			f->mcfg = table(f, gpa, &f->mcfg_len);
	}
	assert_non_null(f->fadt);
	f->dsdt = table(f, get_le64(f->fadt + 140), &f->dsdt_len);
}

static bool contains(const uint8_t *p, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(p + i, needle, n))
			return true;
	return false;
}

static void test_mcfg_and_fadt(void **state)
{
	struct fixture *f = *state;
	const uint8_t *e;

	build(f);
	assert_non_null(f->mcfg);
	assert_int_equal(f->mcfg_len, 36 + 8 + 16);
	assert_int_equal(f->mcfg[8], 1);
	e = f->mcfg + 44;
	assert_int_equal(get_le64(e), X86_PCI_ECAM_BASE);
	assert_int_equal(get_le16(e + 8), 0); /* segment */
	assert_int_equal(e[10], 0);	       /* buses 0 */
	assert_int_equal(e[11], 0);	       /* to 0 */
	/* MSI is allowed now (IA-PC boot flags bit 3 clear). */
	assert_false(get_le16(f->fadt + 109) & (1u << 3));
}

static void test_dsdt_host_bridge(void **state)
{
	struct fixture *f = *state;
	/* EisaId("PNP0A08") as AML: DWordPrefix + the compressed ID. */
	static const uint8_t pnp0a08[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t bus0[] = { 0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t mem[26] = { 0x87, 23, 0, 0, 0x0c, 0x01 };
	uint8_t prt_slot2[5] = { 0x0c, 0xff, 0xff, 0x02, 0x00 }; /* 0x0002FFFF */

	put_le32(mem + 10, (uint32_t)X86_PCI_MMIO_BASE);
	put_le32(mem + 14, (uint32_t)(X86_PCI_MMIO_BASE + X86_PCI_MMIO_SIZE - 1));
	put_le32(mem + 22, (uint32_t)X86_PCI_MMIO_SIZE);
	build(f);
	assert_true(contains(f->dsdt, f->dsdt_len, "PCI0", 4));
	assert_true(contains(f->dsdt, f->dsdt_len, pnp0a08, sizeof(pnp0a08)));
	assert_true(contains(f->dsdt, f->dsdt_len, "_PRT", 4));
	assert_true(contains(f->dsdt, f->dsdt_len, bus0, sizeof(bus0)));
	assert_true(contains(f->dsdt, f->dsdt_len, mem, sizeof(mem)));
	assert_true(contains(f->dsdt, f->dsdt_len, prt_slot2, sizeof(prt_slot2)));
	/* virtio-pci functions are not also virtio-mmio devices. */
	assert_false(contains(f->dsdt, f->dsdt_len, "LNRO0005", 8));
}

/* A VM without --transport pci keeps its tables exactly as before. */
static void test_no_pci_no_mcfg(void **state)
{
	struct fixture *f = *state;

	arch_vm_destroy(&f->vm);
	f->vm.mmio_devs[0].pci = f->vm.mmio_devs[1].pci = false;
	f->vm.mmio_devs[0].base = X86_VIRTIO_MMIO_BASE;
	f->vm.mmio_devs[1].base = X86_VIRTIO_MMIO_BASE + X86_VIRTIO_MMIO_STRIDE;
	f->vm.mmio_devs[0].size = f->vm.mmio_devs[1].size = 0x200;
	build(f);
	assert_null(f->mcfg);
	assert_true(get_le16(f->fadt + 109) & (1u << 3));
	assert_false(contains(f->dsdt, f->dsdt_len, "PCI0", 4));
	assert_true(contains(f->dsdt, f->dsdt_len, "LNRO0005", 8));
}

static void dump(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_iasl_accepts_pci_tables(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/avp-acpi-pci-XXXXXX";
	char cmd[2048];
	int status;

	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		print_message("iasl not installed (Debian: acpica-tools): disassembly check skipped\n");
		skip();
	}
	build(f);
	assert_non_null(mkdtemp(dir));
	dump(dir, "dsdt.aml", f->dsdt, f->dsdt_len);
	dump(dir, "mcfg.dat", f->mcfg, f->mcfg_len);
	dump(dir, "facp.dat", f->fadt, f->fadt_len);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d dsdt.aml mcfg.dat facp.dat >iasl.log 2>&1 && "
		 "! grep -Eiq 'error|invalid|incorrect|warning' iasl.log && "
		 "! grep -Eiq 'invalid|incorrect|error' mcfg.dsl facp.dsl && "
		 "grep -q 'Device (PCI0)' dsdt.dsl && grep -q 'EisaId (\"PNP0A08\")' dsdt.dsl && "
		 "grep -q 'EisaId (\"PNP0A03\")' dsdt.dsl && grep -Eq 'Name [(]_SEG, Zero' dsdt.dsl && "
		 "grep -Eq 'Name [(]_BBN, Zero' dsdt.dsl && "
		 "grep -q 'WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode' dsdt.dsl && "
		 "grep -q 'DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite' dsdt.dsl && "
		 "grep -q '0xE1000000' dsdt.dsl && grep -q '0xE1FFFFFF' dsdt.dsl && "
		 "grep -Eq 'Name [(]_PRT, Package [(]0x02[)]' dsdt.dsl && "
		 "grep -q '0x0001FFFF' dsdt.dsl && grep -q '0x0002FFFF' dsdt.dsl && "
		 "! grep -q LNRO0005 dsdt.dsl && "
		 "grep -q 'EisaId (\"PNP0C02\")' dsdt.dsl && "
		 "grep -Eq 'Memory32Fixed [(]ReadWrite,' dsdt.dsl && grep -Eq '0xE0000000, +// Address Base' dsdt.dsl && "
		 "grep -Eq '0x00100000, +// Address Length' dsdt.dsl && "
		 "grep -Eq 'Base Address : 00000000E0000000' mcfg.dsl && "
		 "grep -Eq 'End Bus Number : 00' mcfg.dsl && "
		 "grep -Eq 'MSI Not Supported [(]V4[)] : 0' facp.dsl",
		 dir);
	status = system(cmd);
	if (status != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/iasl.log %s/dsdt.dsl %s/mcfg.dsl", dir, dir, dir);
		if (system(cmd) != 0)
			print_message("(could not show the iasl output)\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mcfg_and_fadt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_pci_no_mcfg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iasl_accepts_pci_tables, setup, teardown),
	};

	return cmocka_run_group_tests_name("acpi_pci", tests, NULL, NULL);
}
