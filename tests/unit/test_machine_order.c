/* Device addresses follow declaration order (docs/devices.md): whatever
 * order the devices are declared in, the i-th gets the i-th MMIO window
 * and interrupt; a bundle's devices come first, then the command line's.
 * Machines are built for --describe, so no KVM is needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/irq_alloc.h"
#include "avp/cli.h"
#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_rng.h"
#include "avp/log.h"
#include "avp/vmm/machine.h"
#include "support/fake_kernel.h"

static char tmpdir[PATH_MAX];
static char disk_a[PATH_MAX + 16], disk_b[PATH_MAX + 16], console_log[PATH_MAX + 16];
static char kernel[PATH_MAX + 16];

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 1 << 20), 0);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	avp_log_set_level(AVP_LOG_ERROR);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/avp-order.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(disk_a, sizeof(disk_a), "%s/a.img", tmpdir);
	snprintf(disk_b, sizeof(disk_b), "%s/b.img", tmpdir);
	snprintf(console_log, sizeof(console_log), "%s/hvc0.log", tmpdir);
	snprintf(kernel, sizeof(kernel), "%s/bzImage", tmpdir);
	touch(disk_a);
	touch(disk_b);
	return fake_kernel_write(kernel);
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* One device declaration: an option and its value, and the transport type
 * the device shows up as. */
struct decl {
	const char *option;
	const char *value;
	const char *type;
};

/* Parses `avp run --kernel k --describe` plus decls[order[i]] in order. */
static void parse_in_order(const struct decl *decls, const unsigned int *order, unsigned int n,
			   struct avp_config *cfg)
{
	char *argv[64] = { "avp", "run", "--kernel", "k", "--describe" };
	int argc = 5;
	char err[512] = "";
	FILE *e = fmemopen(err, sizeof(err) - 1, "w");
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		argv[argc++] = (char *)decls[order[i]].option;
		if (decls[order[i]].value)
			argv[argc++] = (char *)decls[order[i]].value;
	}
	avp_config_init(cfg);
	ret = cli_parse(argc, argv, cfg, e);
	fclose(e);
	if (ret != CLI_RUN)
		fail_msg("cli_parse: %d: %s", ret, err);
}

/* The i-th interrupt the architecture hands to devices, one each. */
static uint32_t nth_device_irq(unsigned int i)
{
	struct irq_range r[IRQ_ALLOC_MAX_RANGES];
	enum irq_kind kind;
	int n = arch_device_irqs(&kind, r, IRQ_ALLOC_MAX_RANGES);

	assert_true(n > 0);
	for (int k = 0; k < n; k++) {
		if (i < r[k].count)
			return r[k].first + i;
		i -= r[k].count;
	}
	fail_msg("device %u has no interrupt left", i);
	return 0;
}

static void test_shuffled_orders(void **state)
{
	const struct decl decls[] = {
		{ "--disk", disk_a, "virtio-blk" },
		{ "--rng", NULL, "virtio-rng" },
		{ "--console", NULL, "virtio-console" }, /* value set below */
		{ "--gpu", "on", "virtio-gpu" },
		{ "--input", "keyboard", "virtio-input" },
		{ "--disk", disk_b, "virtio-blk" },
	};
	char console_value[PATH_MAX + 32];
	struct decl d[sizeof(decls) / sizeof(decls[0])];
	const unsigned int n = sizeof(decls) / sizeof(decls[0]);
	unsigned int order[sizeof(decls) / sizeof(decls[0])];
	unsigned int seed = 11;

	(void)state;
	memcpy(d, decls, sizeof(d));
	snprintf(console_value, sizeof(console_value), "file:%s", console_log);
	d[2].value = console_value;
	for (unsigned int round = 0; round < 24; round++) {
		struct avp_config cfg;
		struct vm vm;

		for (unsigned int i = 0; i < n; i++)
			order[i] = i;
		for (unsigned int i = n - 1; i > 0; i--) { /* Fisher-Yates, fixed seed */
			unsigned int j = (unsigned int)rand_r(&seed) % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		parse_in_order(d, order, n, &cfg);
		assert_int_equal(cfg.ndevices, n);
		assert_int_equal(vm_create(&vm, &cfg), 0);
		assert_int_equal(machine_add_devices(&vm, &cfg), 0);
		assert_int_equal(vm.nmmio_devs, n);
		for (unsigned int i = 0; i < n; i++) {
			const struct platform_mmio_dev *m = &vm.mmio_devs[i];

			if (strcmp(m->type, d[order[i]].type) != 0)
				fail_msg("round %u: device %u is %s, declared %s %s", round, i, m->type,
					 d[order[i]].option, d[order[i]].value ? d[order[i]].value : "");
			assert_int_equal(m->base, arch_mmio_dev_base() + i * arch_mmio_dev_stride());
			assert_int_equal(m->gsi, nth_device_irq(i));
		}
		/* The two disks keep their own order too. */
		for (unsigned int i = 0, k = 0; i < n; i++)
			if (strcmp(d[order[i]].type, "virtio-blk") == 0)
				assert_string_equal(((const struct avp_disk_cfg *)avp_config_device(
							     &cfg, &virtio_blk_config, k++))->path,
						    d[order[i]].value);
		machine_detach_devices(&vm);
		for (unsigned int i = 0; i < vm.nmmio_devs; i++)
			assert_null(vm.mmio_devs[i].dev);
		vm_destroy(&vm);
		avp_config_free(&cfg);
	}
}

/* `avp run --describe` on argv; returns the JSON text (caller frees). */
static char *describe(char **argv, int argc)
{
	struct avp_config cfg;
	enum vm_exit_reason reason;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	avp_config_init(&cfg);
	assert_int_equal(cli_parse(argc, argv, &cfg, stderr), CLI_RUN);
	assert_int_equal(machine_run(&cfg, out, &reason), 0);
	fclose(out);
	avp_config_free(&cfg);
	return text;
}

/* The address printed right after "type":"TYPE" in a description. */
static unsigned long address_of(const char *json, const char *type)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	p = strstr(json, want);
	if (!p)
		fail_msg("no %s in %s", type, json);
	p = strstr(p, "\"address\":\"");
	assert_non_null(p);
	return strtoul(p + strlen("\"address\":\""), NULL, 16);
}

static void test_describe_shows_the_order(void **state)
{
	char *disk_first[] = { "avp", "run", "--kernel", kernel, "--describe", "--disk", disk_a,
			       "--rng" };
	char *rng_first[] = { "avp", "run", "--kernel", kernel, "--describe", "--rng", "--disk",
			      disk_a };
	char *a, *b;
	unsigned long base = (unsigned long)arch_mmio_dev_base();
	unsigned long stride = (unsigned long)arch_mmio_dev_stride();

	(void)state;
	a = describe(disk_first, 8);
	b = describe(rng_first, 8);
	assert_int_equal(address_of(a, "virtio-blk"), base);
	assert_int_equal(address_of(a, "virtio-rng"), base + stride);
	assert_int_equal(address_of(b, "virtio-rng"), base);
	assert_int_equal(address_of(b, "virtio-blk"), base + stride);
	/* Each entry names the option that declared it (the registry's). */
	assert_non_null(strstr(strstr(a, "\"type\":\"virtio-blk\""), "\"declared_as\":\"disk\""));
	assert_non_null(strstr(strstr(b, "\"type\":\"virtio-rng\""), "\"declared_as\":\"rng\""));
	free(a);
	free(b);
}

/* --bundle's devices first, in the bundle's order, then the command
 * line's; an option before --bundle is refused, not dropped. */
static void test_bundle_then_command_line(void **state)
{
	char dir[PATH_MAX + 16], file[PATH_MAX + 32], err[512] = "";
	char *argv[] = { "avp", "run", "--bundle", dir, "--input", "keyboard", "--disk", disk_b };
	char *before[] = { "avp", "run", "--rng", "--bundle", dir };
	struct avp_config cfg;
	FILE *f, *e;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/bundle", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/bz", dir);
	touch(file);
	snprintf(file, sizeof(file), "%s/config.json", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"rng\"}, {\"type\": \"disk\", "
		   "\"path\": \"%s\"}, {\"type\": \"gpu\"}]}", disk_a);
	fclose(f);

	avp_config_init(&cfg);
	assert_int_equal(cli_parse(8, argv, &cfg, stderr), CLI_RUN);
	assert_int_equal(cfg.ndevices, 5);
	assert_ptr_equal(cfg.devices[0].type, &virtio_rng_config);
	assert_ptr_equal(cfg.devices[1].type, &virtio_blk_config);
	assert_ptr_equal(cfg.devices[2].type, &virtio_gpu_config);
	assert_ptr_equal(cfg.devices[3].type, &virtio_input_config);
	assert_ptr_equal(cfg.devices[4].type, &virtio_blk_config);
	assert_string_equal(((const struct avp_disk_cfg *)cfg.devices[4].opts)->path, disk_b);
	avp_config_free(&cfg);

	avp_config_init(&cfg);
	e = fmemopen(err, sizeof(err) - 1, "w");
	assert_int_equal(cli_parse(5, before, &cfg, e), -EINVAL);
	fclose(e);
	assert_non_null(strstr(err, "--bundle must come first"));
	avp_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shuffled_orders),
		cmocka_unit_test(test_describe_shows_the_order),
		cmocka_unit_test(test_bundle_then_command_line),
	};

	return cmocka_run_group_tests_name("machine_order", tests, setup, teardown);
}
