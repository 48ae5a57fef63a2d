/* ACPI tables: built into a malloc-backed guest memory for a hand-made VM
 * (2 vCPUs, 3 virtio-mmio devices), then checked the way a guest reads
 * them: RSDP -> XSDT -> FADT -> DSDT, MADT, every checksum, and the DSDT
 * decoded by an AML walker written here (not by searching bytes). When
 * iasl is installed, it must also accept the tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86/x86.h"
#include "avp/vm.h"

#define RAM_SIZE (1u << 20) /* covers [0, 1 MiB), the ACPI window included */

struct fixture {
	struct vm vm;
	uint8_t *ram;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

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

	assert_non_null(f);
	f->ram = malloc(RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0xa5, RAM_SIZE); /* stale contents must not matter */
	assert_int_equal(gm_add_region(&f->vm.mem, 0, RAM_SIZE, f->ram), 0);
	f->vm.ncpus = 2;
	f->vm.nmmio_devs = 3;
	for (unsigned int i = 0; i < 3; i++)
		f->vm.mmio_devs[i] = (struct platform_mmio_dev){
			.type = "virtio-test",
			.base = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_STRIDE,
			.size = 0x200,
			.gsi = 5 + i,
		};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

/* A table at gpa: checks signature, length bounds and checksum. */
static const uint8_t *table_at(struct fixture *f, uint64_t gpa, const char *sig, uint32_t *len)
{
	const uint8_t *t = gm_ptr(&f->vm.mem, gpa, 36);

	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	*len = le32(t + 4);
	assert_true(*len >= 36);
	assert_true(gpa >= X86_ACPI_GPA && gpa + *len <= X86_ACPI_GPA + X86_ACPI_SIZE);
	t = gm_ptr(&f->vm.mem, gpa, *len);
	assert_non_null(t);
	assert_int_equal(sum8(t, *len), 0);
	assert_memory_equal(t + 10, "AVP   ", 6);
	assert_memory_equal(t + 16, "AVPVM   ", 8);
	return t;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
	uint32_t xsdt_len, fadt_len, madt_len, dsdt_len;
};

static void find_tables(struct fixture *f, struct tables *t)
{
	uint64_t rsdp = 0;

	memset(t, 0, sizeof(*t));
	assert_int_equal(x86_acpi_build(&f->vm, &rsdp), 0);
	assert_int_equal(rsdp, X86_ACPI_GPA);
	assert_int_equal(rsdp % 16, 0);
	t->rsdp = gm_ptr(&f->vm.mem, rsdp, 36);
	assert_non_null(t->rsdp);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum8(t->rsdp, 20), 0); /* ACPI 1.0 checksum */
	assert_int_equal(sum8(t->rsdp, 36), 0); /* extended checksum */
	assert_int_equal(t->rsdp[15], 2);
	assert_int_equal(le32(t->rsdp + 20), 36);
	assert_memory_equal(t->rsdp + 9, "AVP   ", 6);

	t->xsdt = table_at(f, le64(t->rsdp + 24), "XSDT", &t->xsdt_len);
	assert_int_equal((t->xsdt_len - 36) % 8, 0);
	for (uint32_t off = 36; off < t->xsdt_len; off += 8) {
		uint64_t gpa = le64(t->xsdt + off);
		const uint8_t *h = gm_ptr(&f->vm.mem, gpa, 4);

		assert_non_null(h);
		if (!memcmp(h, "FACP", 4))
			t->fadt = table_at(f, gpa, "FACP", &t->fadt_len);
		else if (!memcmp(h, "APIC", 4))
			t->madt = table_at(f, gpa, "APIC", &t->madt_len);
		else
			fail_msg("unexpected table %.4s in the XSDT", (const char *)h);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	assert_int_equal(le32(t->fadt + 40), 0); /* 32-bit DSDT unused */
	t->dsdt = table_at(f, le64(t->fadt + 140), "DSDT", &t->dsdt_len);
	assert_true(t->dsdt[8] >= 2); /* 64-bit integers */
}

static void check_gas_io8(const uint8_t *g, uint64_t port)
{
	assert_int_equal(g[0], 1); /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1); /* byte access */
	assert_int_equal(le64(g + 4), port);
}

static void test_fadt(void **state)
{
	struct fixture *f = *state;
	struct tables t;
	uint32_t flags;
	uint16_t boot;

	find_tables(f, &t);
	assert_int_equal(t.fadt_len, 276);
	assert_int_equal(t.fadt[8], 6);	      /* major revision */
	assert_int_equal(t.fadt[131] & 0x0f, 4); /* minor revision */
	flags = le32(t.fadt + 112);
	assert_true(flags & (1u << 20));  /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
	assert_false(flags & (1u << 8));  /* no PM timer */
	boot = le16(t.fadt + 109);
	assert_true(boot & (1u << 1));	  /* 8042 */
	assert_true(boot & (1u << 2));	  /* VGA not present */
	assert_true(boot & (1u << 3));	  /* MSI not supported */
	assert_false(boot & (1u << 5));	  /* CMOS RTC present */
	assert_int_equal(t.fadt[108], 0x32); /* CENTURY index */
	check_gas_io8(t.fadt + 116, X86_ACPI_RESET_PORT);
	assert_int_equal(t.fadt[128], X86_ACPI_RESET_VALUE);
	check_gas_io8(t.fadt + 244, X86_ACPI_SLEEP_CTL_PORT);
	check_gas_io8(t.fadt + 256, X86_ACPI_SLEEP_STS_PORT);
	assert_memory_equal(t.fadt + 268, "AVP", 3);
	/* No fixed hardware on a hardware-reduced platform. */
	for (int off = 56; off < 88; off++)
		assert_int_equal(t.fadt[off], 0);
	for (int off = 148; off < 244; off++)
		assert_int_equal(t.fadt[off], 0);
}

static void test_madt(void **state)
{
	struct fixture *f = *state;
	struct tables t;
	unsigned int nlapic = 0, nioapic = 0, niso = 0, nnmi = 0;
	uint32_t off;

	find_tables(f, &t);
	assert_int_equal(le32(t.madt + 36), X86_LAPIC_GPA);
	assert_int_equal(le32(t.madt + 40) & 1, 1); /* PCAT_COMPAT */
	for (off = 44; off < t.madt_len;) {
		const uint8_t *e = t.madt + off;

		assert_true(e[1] >= 2 && off + e[1] <= t.madt_len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], nlapic); /* UID */
			assert_int_equal(e[3], nlapic); /* APIC ID = vCPU index */
			assert_int_equal(le32(e + 4) & 1, 1);
			nlapic++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(le32(e + 4), X86_IOAPIC_GPA);
			assert_int_equal(le32(e + 8), 0);
			nioapic++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0); /* ISA */
			assert_int_equal(e[3], 0); /* IRQ 0 */
			assert_int_equal(le32(e + 4), 2);
			niso++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff); /* all processors */
			assert_int_equal(e[5], 1);    /* LINT1 */
			nnmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(off, t.madt_len);
	assert_int_equal(nlapic, 2);
	assert_int_equal(nioapic, 1);
	assert_int_equal(niso, 1);
	assert_int_equal(nnmi, 1);
}

/* ---- A small AML reader for what the DSDT may contain. ---- */

#define MAX_DEVS 32

struct aml_dev {
	char name[5];
	bool under_sb;
	bool hid_is_string;
	char hid[16];
	uint64_t hid_eisa;
	bool has_uid;
	uint64_t uid;
	const uint8_t *crs;
	size_t crs_len;
};

struct dsdt_view {
	struct aml_dev devs[MAX_DEVS];
	unsigned int ndevs;
	bool have_s5;
	uint64_t s5[4];
	unsigned int s5_count;
};

static size_t pkglength(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *start = *p;
	unsigned int follow;
	size_t v;

	assert_true(*p < end);
	follow = (*p)[0] >> 6;
	assert_true(*p + 1 + follow <= end);
	if (!follow) {
		v = (*p)[0] & 0x3f;
	} else {
		v = (*p)[0] & 0x0f;
		for (unsigned int i = 1; i <= follow; i++)
			v |= (size_t)(*p)[i] << (4 + 8 * (i - 1));
	}
	*p += 1 + follow;
	assert_true(start + v <= end);
	return v - (1 + follow); /* bytes after the encoding */
}

/* A single-segment or rooted NameString; returns the last segment. */
static void name_string(const uint8_t **p, const uint8_t *end, char out[5], bool *rooted)
{
	*rooted = false;
	if (**p == '\\') {
		*rooted = true;
		(*p)++;
	}
	assert_true(*p + 4 <= end);
	assert_true(**p != 0x2e && **p != 0x2f); /* the DSDT uses simple names */
	memcpy(out, *p, 4);
	out[4] = 0;
	*p += 4;
}

static uint64_t integer(const uint8_t **p, const uint8_t *end)
{
	unsigned int n;
	uint64_t v = 0;

	assert_true(*p < end);
	switch (*(*p)++) {
	case 0x00:
		return 0;
	case 0x01:
		return 1;
	case 0x0a:
		n = 1;
		break;
	case 0x0b:
		n = 2;
		break;
	case 0x0c:
		n = 4;
		break;
	case 0x0e:
		n = 8;
		break;
	default:
		fail_msg("not an integer: 0x%02x", (*p)[-1]);
		return 0;
	}
	assert_true(*p + n <= end);
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += n;
	return v;
}

/* Name(x, <object>) inside a device, or \_S5 at the root. */
static void parse_name(const uint8_t **p, const uint8_t *end, struct dsdt_view *v,
		       struct aml_dev *dev)
{
	char name[5];
	bool rooted;
	uint8_t op;

	name_string(p, end, name, &rooted);
	assert_true(*p < end);
	op = **p;
	if (op == 0x0d) { /* String */
		const uint8_t *s = ++*p;

		while (*p < end && **p)
			(*p)++;
		assert_true(*p < end);
		assert_non_null(dev);
		assert_string_equal(name, "_HID");
		assert_true((size_t)(*p - s) < sizeof(dev->hid));
		memcpy(dev->hid, s, (size_t)(*p - s));
		dev->hid_is_string = true;
		(*p)++;
	} else if (op == 0x11) { /* Buffer */
		const uint8_t *bend;
		size_t blen, size;

		(*p)++;
		blen = pkglength(p, end);
		bend = *p + blen;
		size = (size_t)integer(p, bend);
		assert_int_equal(size, (size_t)(bend - *p));
		assert_non_null(dev);
		assert_string_equal(name, "_CRS");
		dev->crs = *p;
		dev->crs_len = size;
		*p = bend;
	} else if (op == 0x12) { /* Package */
		const uint8_t *pend;
		size_t plen;

		(*p)++;
		plen = pkglength(p, end);
		pend = *p + plen;
		assert_null(dev);
		assert_true(rooted);
		assert_string_equal(name, "_S5_");
		v->have_s5 = true;
		v->s5_count = *(*p)++;
		for (unsigned int i = 0; i < v->s5_count && i < 4; i++)
			v->s5[i] = integer(p, pend);
		assert_ptr_equal(*p, pend);
	} else {
		uint64_t val = integer(p, end);

		assert_non_null(dev);
		if (!strcmp(name, "_HID")) {
			dev->hid_eisa = val;
		} else {
			assert_string_equal(name, "_UID");
			dev->has_uid = true;
			dev->uid = val;
		}
	}
}

static void parse_terms(const uint8_t *p, const uint8_t *end, struct dsdt_view *v,
			struct aml_dev *dev, bool in_sb)
{
	while (p < end) {
		uint8_t op = *p++;

		if (op == 0x08) {
			parse_name(&p, end, v, dev);
		} else if (op == 0x10) { /* Scope */
			const uint8_t *send;
			char name[5];
			bool rooted;
			size_t len = pkglength(&p, end);

			send = p + len;
			name_string(&p, send, name, &rooted);
			assert_true(rooted);
			assert_string_equal(name, "_SB_");
			parse_terms(p, send, v, NULL, true);
			p = send;
		} else if (op == 0x5b && p < end && *p == 0x82) { /* Device */
			const uint8_t *dend;
			struct aml_dev *d;
			bool rooted;
			size_t len;

			p++;
			len = pkglength(&p, end);
			dend = p + len;
			assert_true(v->ndevs < MAX_DEVS);
			d = &v->devs[v->ndevs++];
			d->under_sb = in_sb;
			name_string(&p, dend, d->name, &rooted);
			assert_false(rooted);
			parse_terms(p, dend, v, d, false);
			p = dend;
		} else {
			fail_msg("unexpected AML opcode 0x%02x", op);
		}
	}
	assert_ptr_equal(p, end);
}

static void parse_dsdt(const struct tables *t, struct dsdt_view *v)
{
	memset(v, 0, sizeof(*v));
	parse_terms(t->dsdt + 36, t->dsdt + t->dsdt_len, v, NULL, false);
}

static const struct aml_dev *find_dev(const struct dsdt_view *v, const char *name)
{
	for (unsigned int i = 0; i < v->ndevs; i++)
		if (!strcmp(v->devs[i].name, name))
			return &v->devs[i];
	return NULL;
}

/* Resources from a _CRS template; checks the end tag and its checksum. */
struct resources {
	unsigned int nmem, nextirq, nio, nirq;
	uint32_t mem_base, mem_len;
	uint8_t mem_info;
	uint8_t extirq_flags;
	uint32_t extirq_gsi;
	unsigned int extirq_count;
	uint16_t io_min[2], io_max[2];
	uint8_t io_len[2];
	uint16_t irq_mask;
};

static void decode_resources(const uint8_t *p, size_t len, struct resources *r)
{
	const uint8_t *end = p + len;
	const uint8_t *start = p;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		if (p[0] & 0x80) { /* large item: tag, 16-bit length */
			uint16_t ilen;

			assert_true(p + 3 <= end);
			ilen = le16(p + 1);
			assert_true(p + 3 + ilen <= end);
			if (p[0] == 0x86) {
				assert_int_equal(ilen, 9);
				r->mem_info = p[3];
				r->mem_base = le32(p + 4);
				r->mem_len = le32(p + 8);
				r->nmem++;
			} else if (p[0] == 0x89) {
				assert_true(ilen >= 2);
				r->extirq_flags = p[3];
				r->extirq_count = p[4];
				assert_int_equal(ilen, 2 + 4 * r->extirq_count);
				r->extirq_gsi = le32(p + 5);
				r->nextirq++;
			} else {
				fail_msg("unexpected large resource 0x%02x", p[0]);
			}
			p += 3 + ilen;
			continue;
		}
		/* small item: tag in bits 6-3, length in bits 2-0 */
		{
			unsigned int tag = (p[0] >> 3) & 0x0f, ilen = p[0] & 7;

			assert_true(p + 1 + ilen <= end);
			if (tag == 0x0f) {
				assert_int_equal(ilen, 1);
				assert_ptr_equal(p + 2, end);
				/* Checksum 0 would mean "not checked"; ours is real. */
				assert_int_equal(sum8(start, len), 0);
				return;
			}
			if (tag == 0x08) {
				assert_int_equal(ilen, 7);
				assert_true(r->nio < 2);
				assert_int_equal(p[1] & 1, 1); /* 16-bit decode */
				r->io_min[r->nio] = le16(p + 2);
				r->io_max[r->nio] = le16(p + 4);
				r->io_len[r->nio] = p[7];
				r->nio++;
			} else if (tag == 0x04) {
				assert_true(ilen == 2 || ilen == 3);
				r->irq_mask = le16(p + 1);
				if (ilen == 3)
					assert_int_equal(p[3] & 0x19, 0x01); /* edge, high, excl */
				r->nirq++;
			} else {
				fail_msg("unexpected small resource tag 0x%x", tag);
			}
			p += 1 + ilen;
		}
	}
	fail_msg("resource template without an end tag");
}

static void test_dsdt_devices(void **state)
{
	struct fixture *f = *state;
	struct dsdt_view v;
	struct tables t;
	struct resources r;
	const struct aml_dev *d;

	find_tables(f, &t);
	parse_dsdt(&t, &v);

	assert_true(v.have_s5);
	assert_int_equal(v.s5_count, 4);
	assert_int_equal(v.s5[0], X86_ACPI_S5_SLP_TYP);
	assert_int_equal(v.s5[1], 0);

	for (unsigned int i = 0; i < 3; i++) {
		char name[5];

		snprintf(name, sizeof(name), "VR%02u", i);
		d = find_dev(&v, name);
		assert_non_null(d);
		assert_true(d->under_sb);
		assert_true(d->hid_is_string);
		assert_string_equal(d->hid, "LNRO0005");
		assert_true(d->has_uid);
		assert_int_equal(d->uid, i);
		assert_non_null(d->crs);
		decode_resources(d->crs, d->crs_len, &r);
		assert_int_equal(r.nmem, 1);
		assert_int_equal(r.mem_base, f->vm.mmio_devs[i].base);
		assert_int_equal(r.mem_len, f->vm.mmio_devs[i].size);
		assert_int_equal(r.mem_info & 1, 1); /* read/write */
		assert_int_equal(r.nextirq, 1);
		assert_int_equal(r.extirq_count, 1);
		assert_int_equal(r.extirq_gsi, f->vm.mmio_devs[i].gsi);
		/* consumer, edge, active high, exclusive */
		assert_int_equal(r.extirq_flags & 0x0f, 0x03);
		assert_int_equal(r.nio + r.nirq, 0);
	}
	assert_null(find_dev(&v, "VR03"));

	d = find_dev(&v, "COM1");
	assert_non_null(d);
	assert_false(d->hid_is_string);
	assert_int_equal(d->hid_eisa, 0x0105d041); /* EisaId("PNP0501") */
	decode_resources(d->crs, d->crs_len, &r);
	assert_int_equal(r.nio, 1);
	assert_int_equal(r.io_min[0], 0x3f8);
	assert_int_equal(r.io_max[0], 0x3f8);
	assert_int_equal(r.io_len[0], 8);
	assert_int_equal(r.nirq, 1);
	assert_int_equal(r.irq_mask, 1u << 4);

	d = find_dev(&v, "RTC_");
	assert_non_null(d);
	assert_int_equal(d->hid_eisa, 0x000bd041); /* EisaId("PNP0B00") */
	decode_resources(d->crs, d->crs_len, &r);
	assert_int_equal(r.nio, 1);
	assert_int_equal(r.io_min[0], 0x70);
	assert_int_equal(r.io_len[0], 2);
	assert_int_equal(r.nirq, 0); /* the model raises no interrupt */

	d = find_dev(&v, "PS2K");
	assert_non_null(d);
	assert_int_equal(d->hid_eisa, 0x0303d041); /* EisaId("PNP0303") */
	decode_resources(d->crs, d->crs_len, &r);
	assert_int_equal(r.nio, 2);
	assert_int_equal(r.io_min[0], 0x60);
	assert_int_equal(r.io_min[1], 0x64);
	assert_int_equal(r.irq_mask, 1u << 1);
	assert_int_equal(v.ndevs, 3 + 3);
}

static void test_max_devices_and_cpus(void **state)
{
	struct fixture *f = *state;
	struct dsdt_view v;
	struct tables t;

	f->vm.ncpus = AVP_MAX_CPUS;
	f->vm.nmmio_devs = AVP_MAX_MMIO_DEVS;
	for (unsigned int i = 0; i < AVP_MAX_MMIO_DEVS; i++)
		f->vm.mmio_devs[i] = (struct platform_mmio_dev){
			.base = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_STRIDE,
			.size = X86_VIRTIO_MMIO_STRIDE,
			.gsi = 5 + i,
		};
	find_tables(f, &t);
	assert_int_equal(t.madt_len, 44 + 8 * AVP_MAX_CPUS + 12 + 10 + 6);
	parse_dsdt(&t, &v);
	assert_int_equal(v.ndevs, 3 + AVP_MAX_MMIO_DEVS);
	assert_non_null(find_dev(&v, "VR15"));
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct vm small = { 0 };
	uint8_t *ram = malloc(X86_ACPI_GPA + 0x1000);
	uint64_t rsdp = 0;

	/* The window is not all RAM: nothing is written, -EFAULT. */
	assert_non_null(ram);
	assert_int_equal(gm_add_region(&small.mem, 0, X86_ACPI_GPA + 0x1000, ram), 0);
	small.ncpus = 1;
	assert_int_equal(x86_acpi_build(&small, &rsdp), -EFAULT);
	free(ram);

	f->vm.ncpus = 0;
	assert_int_equal(x86_acpi_build(&f->vm, &rsdp), -EINVAL);
	f->vm.ncpus = 2;
	/* A device window above 4 GiB cannot be a Memory32Fixed. */
	f->vm.mmio_devs[1].base = 0x100000000ull;
	assert_int_equal(x86_acpi_build(&f->vm, &rsdp), -EINVAL);
	assert_int_equal(x86_acpi_build(NULL, &rsdp), -EINVAL);
}

static bool have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
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

/* iasl -d: the disassembler must accept every table, report no checksum
 * or parse error, and show our devices in the DSDT's source. */
static void test_iasl_accepts_tables(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/avp-acpi-XXXXXX";
	char cmd[1024];
	struct tables t;
	int status;

	if (!have_iasl()) {
		print_message("iasl not installed (Debian: acpica-tools): disassembly check skipped\n");
		skip();
	}
	find_tables(f, &t);
	assert_non_null(mkdtemp(dir));
	dump(dir, "dsdt.aml", t.dsdt, t.dsdt_len);
	dump(dir, "facp.dat", t.fadt, t.fadt_len);
	dump(dir, "apic.dat", t.madt, t.madt_len);
	dump(dir, "xsdt.dat", t.xsdt, t.xsdt_len);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d dsdt.aml facp.dat apic.dat xsdt.dat >iasl.log 2>&1 && "
		 "! grep -Eiq 'error|invalid|incorrect|warning' iasl.log && "
		 "! grep -Eiq 'invalid|incorrect|error' facp.dsl apic.dsl xsdt.dsl && "
		 "grep -q 'Device (VR02)' dsdt.dsl && grep -q 'LNRO0005' dsdt.dsl && "
		 "grep -q 'Memory32Fixed (ReadWrite' dsdt.dsl && "
		 "grep -q 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive' dsdt.dsl && "
		 "grep -q 'PNP0501' dsdt.dsl && grep -Eq 'Name [(].?_S5' dsdt.dsl && "
		 "grep -Eq 'Hardware Reduced .*: 1' facp.dsl && "
		 "grep -q 'Local APIC NMI' apic.dsl",
		 dir);
	status = system(cmd);
	if (status != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/iasl.log; cat %s/dsdt.dsl", dir, dir);
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
		cmocka_unit_test_setup_teardown(test_fadt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_devices_and_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iasl_accepts_tables, setup, teardown),
	};

	return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
