/* docs/describe.schema.json against `avp run --describe` (AVP-BOOT-4):
 *  - a format-1 document as the schema documents it validates, and each of
 *    a set of broken copies of it does not (so the validator and the
 *    schema refuse what they should);
 *  - avp's own output, for a platform with every kind of VIRTIO device
 *    but net (a tap needs privileges), is self-consistent: each device's
 *    feature mask equals its list of bits (and its named features, where
 *    present), addresses are distinct;
 *  - that output validates against the schema. The schema is ahead of
 *    the code (a format number, feature names, null for absent values):
 *    until avp prints "format", this one is skipped with that reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/json_schema.h"

#define SCHEMA "docs/describe.schema.json"

static struct json_object *schema;
static struct json_object *described; /* avp's output, parsed once */
static char workdir[] = "/tmp/avp-describe.XXXXXX";

/* A format-1 description: the shape the schema documents. */
static const char example[] =
	"{\"format\": 1, \"avp_version\": \"0.9.0\", \"avp_commit\": \"ad9ae5f\","
	" \"arch\": \"x86_64\", \"cpus\": 2, \"memory_mib\": 512,"
	" \"memory_map\": [{\"type\": \"ram\", \"address\": \"0x0\", \"size\": \"0x20000000\"}],"
	" \"firmware\": \"ACPI (RSDP, XSDT, FADT hardware-reduced, MADT, DSDT); MP table (up to 40 vCPUs)\","
	" \"legacy_devices\": ["
	"  {\"type\": \"uart-16550a\", \"acpi_hid\": \"PNP0501\", \"io_port\": \"0x3f8\", \"io_ports\": 8, \"interrupt\": 4},"
	"  {\"type\": \"rtc-mc146818\", \"acpi_hid\": \"PNP0B00\", \"io_port\": \"0x70\", \"io_ports\": 2, \"interrupt\": null},"
	"  {\"type\": \"acpi-power\", \"acpi_hid\": null, \"io_port\": \"0x600\", \"io_ports\": 3, \"interrupt\": null},"
	"  {\"type\": \"acpi-ged\", \"acpi_hid\": \"ACPI0013\", \"io_port\": null, \"io_ports\": null, \"interrupt\": 13},"
	"  {\"type\": \"power-button\", \"acpi_hid\": \"PNP0C0C\", \"io_port\": null, \"io_ports\": null, \"interrupt\": null}],"
	" \"virtio_devices\": ["
	"  {\"type\": \"virtio-vsock\", \"declared_as\": \"vsock\", \"transport\": \"virtio-mmio\", \"virtio_id\": 19,"
	"   \"address\": \"0xd0000000\", \"size\": \"0x200\", \"interrupt\": 5,"
	"   \"features\": \"0x130000001\", \"feature_bits\": [0, 28, 29, 32],"
	"   \"feature_names\": [{\"bit\": 0, \"name\": \"VIRTIO_VSOCK_F_STREAM\"},"
	"    {\"bit\": 28, \"name\": \"VIRTIO_F_INDIRECT_DESC\"}, {\"bit\": 29, \"name\": \"VIRTIO_F_EVENT_IDX\"},"
	"    {\"bit\": 32, \"name\": \"VIRTIO_F_VERSION_1\"}]}]}";

static int setup(void **state)
{
	(void)state;
	schema = json_object_from_file(SCHEMA);
	if (!schema)
		return -1;
	return mkdtemp(workdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	json_object_put(schema);
	json_object_put(described);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_example_validates(void **state)
{
	struct json_object *v = json_tokener_parse(example);
	char err[512];

	(void)state;
	assert_non_null(v);
	if (json_schema_validate(schema, v, err, sizeof(err)))
		fail_msg("the schema's own example does not validate: %s", err);
	json_object_put(v);
}

static struct json_object *at(struct json_object *o, const char *list, size_t i)
{
	return json_object_array_get_idx(json_object_object_get(o, list), i);
}

/* Each case breaks one thing in a copy of the example. */
static void break_example(struct json_object *v, int which)
{
	struct json_object *dev = at(v, "virtio_devices", 0);
	struct json_object *feat = json_object_array_get_idx(json_object_object_get(dev, "feature_names"), 0);

	switch (which) {
	case 0: json_object_object_del(v, "format"); break;
	case 1: json_object_object_add(v, "format", json_object_new_int(2)); break;
	case 2: json_object_object_add(v, "frobs", json_object_new_int(1)); break;
	case 3: json_object_object_add(at(v, "legacy_devices", 2), "acpi_hid", json_object_new_string("")); break;
	case 4: json_object_object_add(at(v, "legacy_devices", 1), "interrupt", json_object_new_string("none")); break;
	case 5: json_object_object_add(at(v, "legacy_devices", 3), "io_ports", json_object_new_int(0)); break;
	case 6: json_object_object_add(feat, "bit", json_object_new_int(64)); break;
	case 7: json_object_object_add(feat, "name", json_object_new_string("stream")); break;
	case 8: json_object_object_del(feat, "name"); break;
	case 9: json_object_object_del(dev, "feature_names"); break;
	case 10: json_object_object_add(dev, "features", json_object_new_string("0x13000000G")); break;
	case 11: json_object_object_add(dev, "transport", json_object_new_string("isa")); break;
	case 12: json_object_object_add(v, "memory_map", json_object_new_array()); break;
	case 13: json_object_object_add(v, "cpus", json_object_new_int(0)); break;
	case 14: json_object_object_add(v, "avp_version", json_object_new_string("ad9ae5f")); break;
	case 15: json_object_object_add(v, "avp_commit", json_object_new_string("")); break;
	default: fail_msg("no case %d", which);
	}
}

static void test_broken_examples_fail(void **state)
{
	(void)state;
	for (int i = 0; i < 16; i++) {
		struct json_object *v = json_tokener_parse(example);
		char err[512];

		assert_non_null(v);
		break_example(v, i);
		if (json_schema_validate(schema, v, err, sizeof(err)) == 0)
			fail_msg("case %d: the schema accepts %s", i, json_object_to_json_string(v));
		json_object_put(v);
	}
}

/* The avp next to this test binary (BUILD/tests/ -> BUILD/avp), so that
 * `make check SAN=1` runs its own. */
static void avp_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	snprintf(buf, len, "%s/../avp", dirname(self));
}

static void write_file(const char *name, const void *data, size_t len, off_t size)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A bzImage header that passes avp's checks, with an empty 64 KiB kernel
 * after it: --describe reads no further. */
static void write_kernel(void)
{
	uint8_t h[1024] = { 0 };

	h[0x1f1] = 1; /* setup_sects: the kernel starts at 1024 */
	put_le32(h + 0x1f4, 65536 / 16);
	h[0x1fe] = 0x55, h[0x1ff] = 0xaa;
	h[0x200] = 0xeb, h[0x201] = 0x6a;
	memcpy(h + 0x202, "HdrS", 4);
	h[0x206] = 0x0f, h[0x207] = 0x02; /* protocol 2.15 */
	h[0x211] = 1;			  /* LOADED_HIGH */
	put_le32(h + 0x22c, 0x7fffffff);  /* initrd_addr_max */
	put_le32(h + 0x230, 0x200000);	  /* kernel_alignment */
	h[0x234] = 1;			  /* relocatable */
	h[0x235] = 21;			  /* min_alignment */
	h[0x236] = 3;			  /* xloadflags: 64-bit entry, above 4G */
	put_le32(h + 0x238, 2047);	  /* cmdline_size */
	put_le32(h + 0x258, 0x1000000);	  /* pref_address (low half) */
	put_le32(h + 0x260, 0x300000);	  /* init_size */
	write_file("bzImage", h, sizeof(h), 1024 + 65536);
}

/* avp run --describe for a platform with one of every device kind that
 * needs no privileges, parsed; the test fails if avp does. (The CAN
 * device's interface must exist: "lo" does, and --describe opens no
 * socket on it.) */
static struct json_object *describe_with(const char *transport);

static struct json_object *describe(void)
{
	if (!described)
		described = describe_with("mmio");
	return described;
}

static struct json_object *describe_with(const char *transport)
{
	char avp[PATH_MAX], cmd[4 * PATH_MAX + 1024], *text = NULL;
	size_t cap = 0, len = 0;
	struct json_object *out;
	FILE *p;
	int status;

	avp_path(avp, sizeof(avp));
	write_kernel();
	write_file("a.img", "", 0, 1 << 20);
	write_file("b.img", "", 0, 1 << 20);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && '%s' run --kernel bzImage --cpus 2 --memory 512 --disk a.img --disk b.img,ro"
		 " --rng --gpu on --console file:con.log --input keyboard --input touch"
		 " --sound out=out.wav --vsock cid=3,socket=%s/v.sock --watchdog --transport %s"
		 " --can if=lo,tx=0x300-0x3ff,rx=std:0x100-0x1ff+ext:0x18000000 --describe 2>err.txt",
		 workdir, avp, workdir, transport);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			text = realloc(text, cap);
			assert_non_null(text);
		}
		size_t n = fread(text + len, 1, cap - len - 1, p);

		if (n == 0)
			break;
		len += n;
	}
	text[len] = '\0';
	status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("avp run --describe failed (status 0x%x; see %s/err.txt)", status, workdir);
	out = json_tokener_parse(text);
	if (!out)
		fail_msg("avp run --describe printed no JSON: %.200s", text);
	free(text);
	return out;
}

static uint64_t hex_value(struct json_object *o, const char *key)
{
	const char *s = json_object_get_string(json_object_object_get(o, key));
	char *end;
	uint64_t v;

	assert_non_null(s);
	v = strtoull(s, &end, 16);
	if (strncmp(s, "0x", 2) != 0 || *end)
		fail_msg("%s is not a 0x number: %s", key, s);
	return v;
}

/* What any description must hold whatever its format. */
static void test_describe_consistent(void **state)
{
	struct json_object *d = describe();
	struct json_object *devs = json_object_object_get(d, "virtio_devices");
	static const char *const types[] = { "virtio-blk",   "virtio-rng",   "virtio-gpu",
					     "virtio-console", "virtio-input", "virtio-sound",
					     "virtio-vsock", "virtio-can", NULL };

	(void)state;
	assert_non_null(devs);
	assert_int_equal(json_object_array_length(devs), 10); /* two disks, two inputs */
	for (size_t t = 0; types[t]; t++) {
		bool found = false;

		for (size_t i = 0; i < json_object_array_length(devs); i++)
			found |= strcmp(json_object_get_string(json_object_object_get(
						json_object_array_get_idx(devs, i), "type")),
					types[t]) == 0;
		if (!found)
			fail_msg("no %s in the description", types[t]);
	}
	/* The CAN device's rules, as given (docs/can.md). */
	{
		struct json_object *can = json_object_array_get_idx(json_object_object_get(d, "can"), 0);

		assert_non_null(can);
		assert_string_equal(json_object_get_string(json_object_object_get(can, "interface")), "lo");
		assert_string_equal(json_object_get_string(json_object_object_get(can, "tx")),
				    "both:0x300-0x3ff");
		assert_string_equal(json_object_get_string(json_object_object_get(can, "rx")),
				    "std:0x100-0x1ff+ext:0x18000000-0x18000000");
	}
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *dev = json_object_array_get_idx(devs, i);
		struct json_object *bits = json_object_object_get(dev, "feature_bits");
		struct json_object *names = json_object_object_get(dev, "feature_names");
		uint64_t mask = 0;
		int last = -1;

		assert_non_null(bits);
		for (size_t b = 0; b < json_object_array_length(bits); b++) {
			int bit = json_object_get_int(json_object_array_get_idx(bits, b));

			assert_true(bit > last && bit < 64);
			mask |= 1ull << bit;
			last = bit;
		}
		if (mask != hex_value(dev, "features"))
			fail_msg("device %zu: features %s, feature_bits %s", i,
				 json_object_get_string(json_object_object_get(dev, "features")),
				 json_object_to_json_string(bits));
		if (names) {
			assert_int_equal(json_object_array_length(names), json_object_array_length(bits));
			for (size_t b = 0; b < json_object_array_length(names); b++)
				assert_int_equal(json_object_get_int(json_object_object_get(
							 json_object_array_get_idx(names, b), "bit")),
						 json_object_get_int(json_object_array_get_idx(bits, b)));
		}
		for (size_t j = 0; j < i; j++)
			if (hex_value(dev, "address") ==
			    hex_value(json_object_array_get_idx(devs, j), "address"))
				fail_msg("devices %zu and %zu share an address", j, i);
	}
}

static void test_describe_validates(void **state)
{
	struct json_object *d = describe();
	char err[512];

	(void)state;
	if (!json_object_object_get_ex(d, "format", NULL)) {
		print_message("describe output lacks format/feature names (pending the describe change)\n");
		skip();
	}
	if (json_schema_validate(schema, d, err, sizeof(err)))
		fail_msg("avp run --describe does not validate against %s: %s", SCHEMA, err);
}

/* --transport pci: the same devices as PCI functions, each with its BDF
 * (00:01.0 on, in declaration order) and MSI-X vectors; still valid. */
static void test_describe_pci_validates(void **state)
{
	struct json_object *d = describe_with("pci");
	struct json_object *devs = json_object_object_get(d, "virtio_devices");
	char err[512], bdf[16];

	(void)state;
	assert_int_equal(json_object_array_length(devs), 10); /* 9 kinds and the CAN device */
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *dev = json_object_array_get_idx(devs, i);

		assert_string_equal(json_object_get_string(json_object_object_get(dev, "transport")),
				    "virtio-pci");
		snprintf(bdf, sizeof(bdf), "0000:00:%02x.0", (unsigned int)(i + 1) & 0x1f);
		assert_string_equal(json_object_get_string(json_object_object_get(dev, "pci_bdf")), bdf);
		assert_true(json_object_get_int(json_object_object_get(dev, "msix_vectors")) >= 2);
	}
	if (json_schema_validate(schema, d, err, sizeof(err)))
		fail_msg("avp run --transport pci --describe does not validate against %s: %s", SCHEMA,
			 err);
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_validates),
		cmocka_unit_test(test_broken_examples_fail),
		cmocka_unit_test(test_describe_consistent),
		cmocka_unit_test(test_describe_validates),
		cmocka_unit_test(test_describe_pci_validates),
	};

	return cmocka_run_group_tests_name("describe_schema", tests, setup, teardown);
}
