/* A device is one file plus one registry entry (README, "Adding a
 * device"): this file defines a throw-away device type, a thermometer,
 * and nothing else in the tree knows it. Registered through the test
 * seam, it gets its command-line option, its usage text, its bundle
 * entry with the bundle's key and type checks, its limits and duplicate
 * rule, and its place in --describe, all from its key table, its check
 * and its constructor. */
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
#include <unistd.h>

#include "avp/cli.h"
#include "avp/config/options.h"
#include "avp/log.h"
#include "avp/runtime/bundle.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"
#include "avp/vmm/machine.h"
#include "avp/vmm/registry.h"
#include "support/fake_kernel.h"

/* ---- the device: its options, keys, rules and model ---- */

#define THERMO_VIRTIO_ID 63 /* no VIRTIO device has it */

enum thermo_unit { THERMO_CELSIUS, THERMO_KELVIN };
struct thermo_cfg {
	char *sensor;
	uint32_t rate;
	enum thermo_unit unit;
};

static const char *const units[] = { "celsius", "kelvin", NULL };
static const struct avp_key thermo_keys[] = {
	{ .name = "sensor", .type = AVP_KEY_PATH, .offset = offsetof(struct thermo_cfg, sensor),
	  .flags = AVP_KEY_POSITIONAL | AVP_KEY_REQUIRED, .twice = "sensor \"%s\" is given twice" },
	{ .name = "rate", .type = AVP_KEY_UINT, .offset = offsetof(struct thermo_cfg, rate),
	  .min = 1, .max = 100, .def = "10" },
	{ .name = "unit", .type = AVP_KEY_ENUM, .offset = offsetof(struct thermo_cfg, unit),
	  .words = units, .def = "celsius" },
	{ 0 },
};

/* A rule between its keys, for the check hook to show. */
static int thermo_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	const struct thermo_cfg *t = opts;

	if (t->unit == THERMO_KELVIN && !(given & AVP_KEY_BIT(1)))
		return avp_config_fail(e, "rate", "kelvin needs a rate of its own");
	return 0;
}

static const struct avp_config_type thermo_config = {
	.name = "thermo",
	.keys = thermo_keys,
	.opts_size = sizeof(struct thermo_cfg),
	.max = 2,
	.too_many = "at most 2 thermometers",
	.virtio = true,
	.syntax = "SENSOR[,rate=HZ][,unit=celsius|kelvin]",
	.help = "a thermometer that exists only in a test",
	.check = thermo_check,
};

static uint64_t thermo_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0;
}

static void thermo_destroy(struct virtio_dev *dev)
{
	virtio_dev_fini(dev);
	free(dev);
}

static const struct virtio_dev_ops thermo_ops = {
	.type = "virtio-thermo",
	.device_id = THERMO_VIRTIO_ID,
	.num_queues = 1,
	.features = thermo_features,
	.destroy = thermo_destroy,
};

static int thermo_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	struct virtio_dev *dev = malloc(sizeof(*dev));

	(void)cfg;
	(void)opts;
	if (!dev)
		return -ENOMEM;
	virtio_dev_init(dev, &thermo_ops, NULL, NULL, 0);
	*out = dev;
	return 0;
}

/* Its one registry entry. */
static const struct avp_device_type thermo_type = {
	&thermo_config, THERMO_VIRTIO_ID, thermo_create, NULL,
};

/* ---- the tests ---- */

static char tmpdir[PATH_MAX];
static char kernel[PATH_MAX + 16];

static int setup(void **state)
{
	(void)state;
	avp_log_set_level(AVP_LOG_ERROR);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/avp-registry.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/bzImage", tmpdir);
	if (fake_kernel_write(kernel))
		return -1;
	return avp_device_type_register(&thermo_type);
}

static int teardown(void **state)
{
	(void)state;
	unlink(kernel);
	return rmdir(tmpdir);
}

struct parsed {
	struct avp_config cfg;
	int ret;
	char err[512];
};

static void parse(struct parsed *p, int argc, char **argv)
{
	FILE *err = fmemopen(p->err, sizeof(p->err) - 1, "w");

	memset(p->err, 0, sizeof(p->err));
	avp_config_init(&p->cfg);
	p->ret = cli_parse(argc, argv, &p->cfg, err);
	fclose(err);
}

#define PARSE(p, ...)                                                         \
	do {                                                                  \
		char *argv_[] = { "avp", "run", "--kernel", "k", __VA_ARGS__, NULL }; \
		parse(p, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_); \
	} while (0)

static const struct thermo_cfg *thermo(const struct avp_config *cfg, unsigned int i)
{
	return avp_config_device(cfg, &thermo_config, i);
}

static void refused(struct parsed *p, const char *want)
{
	assert_int_equal(p->ret, -EINVAL);
	if (!strstr(p->err, want))
		fail_msg("'%s' does not say '%s'", p->err, want);
	avp_config_free(&p->cfg);
}

static void test_command_line(void **state)
{
	struct parsed p;
	char usage[8192] = "";
	FILE *out = fmemopen(usage, sizeof(usage) - 1, "w");

	(void)state;
	PARSE(&p, "--thermo", "a,,b.dat,rate=5,unit=kelvin", "--rng", "--thermo", "c.dat");
	assert_int_equal(p.ret, CLI_RUN);
	assert_int_equal(avp_config_count(&p.cfg, &thermo_config), 2);
	assert_string_equal(thermo(&p.cfg, 0)->sensor, "a,b.dat");
	assert_int_equal(thermo(&p.cfg, 0)->rate, 5);
	assert_int_equal(thermo(&p.cfg, 0)->unit, THERMO_KELVIN);
	assert_string_equal(thermo(&p.cfg, 1)->sensor, "c.dat");
	assert_int_equal(thermo(&p.cfg, 1)->rate, 10); /* the key's default */
	assert_int_equal(thermo(&p.cfg, 1)->unit, THERMO_CELSIUS);
	/* declared in order, between the others */
	assert_ptr_equal(p.cfg.devices[0].type, &thermo_config);
	assert_ptr_equal(p.cfg.devices[2].type, &thermo_config);
	avp_config_free(&p.cfg);

	/* the grammar and the key types: the option's syntax */
	PARSE(&p, "--thermo", "a.dat,rate=0");
	refused(&p, "--thermo: expected SENSOR[,rate=HZ][,unit=celsius|kelvin], got 'a.dat,rate=0'");
	PARSE(&p, "--thermo", "a.dat,unit=fahrenheit");
	refused(&p, "--thermo: expected SENSOR");
	PARSE(&p, "--thermo", "a.dat,colour=red");
	refused(&p, "--thermo: expected SENSOR");
	/* its check, its duplicate rule and its limit */
	PARSE(&p, "--thermo", "a.dat,unit=kelvin");
	refused(&p, "--thermo: kelvin needs a rate of its own");
	PARSE(&p, "--thermo", "a.dat", "--thermo", "a.dat");
	refused(&p, "--thermo: sensor \"a.dat\" is given twice");
	PARSE(&p, "--thermo", "a.dat", "--thermo", "b.dat", "--thermo", "c.dat");
	refused(&p, "--thermo: at most 2 thermometers");
	/* no mistaken prefix either */
	PARSE(&p, "--therm", "a.dat");
	refused(&p, "did you mean --thermo?");

	cli_run_usage(out);
	fclose(out);
	assert_non_null(strstr(usage, "  --thermo SENSOR[,rate=HZ][,unit=celsius|kelvin]\n"
				      "                       a thermometer that exists only in a test\n"));
}

static int bundle(const char *text, struct avp_bundle *b, struct jc_err *e)
{
	memset(e, 0, sizeof(*e));
	return bundle_parse(text, strlen(text), "/b", b, e);
}

static void bundle_refused(const char *devices, const char *want)
{
	char text[512];
	struct avp_bundle b;
	struct jc_err e;

	snprintf(text, sizeof(text), "{\"kernel\": \"bz\", \"devices\": [%s]}", devices);
	assert_int_equal(bundle(text, &b, &e), -EINVAL);
	if (!strstr(e.text, want))
		fail_msg("'%s' does not say '%s'", e.text, want);
}

static void test_bundle(void **state)
{
	struct avp_bundle b;
	struct jc_err e;
	const char *const *keys = bundle_keys("devices.thermo");

	(void)state;
	assert_int_equal(bundle("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"rng\"},"
				" {\"type\": \"thermo\", \"sensor\": \"s.dat\", \"rate\": 7}]}",
				&b, &e),
			 0);
	assert_string_equal(thermo(&b.cfg, 0)->sensor, "/b/s.dat"); /* the bundle's */
	assert_int_equal(thermo(&b.cfg, 0)->rate, 7);
	assert_int_equal(thermo(&b.cfg, 0)->unit, THERMO_CELSIUS);
	assert_int_equal(bundle_device_index(&b, &thermo_config, 0), 1);
	bundle_free(&b);

	assert_non_null(keys);
	assert_string_equal(keys[0], "type");
	assert_string_equal(keys[1], "sensor");
	assert_string_equal(keys[2], "rate");
	assert_string_equal(keys[3], "unit");
	assert_null(keys[4]);
	assert_true(bundle_device_supported("thermo"));

	bundle_refused("{\"type\": \"thermo\"}", "devices[0].sensor: missing");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"s\", \"colour\": 1}",
		       "devices[0].colour: unknown key (expected one of: type, sensor, rate, unit)");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"s\", \"rate\": \"5\"}",
		       "devices[0].rate: expected an integer, got string");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"s\", \"rate\": 101}",
		       "devices[0].rate: 101 is out of range (1 to 100)");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"s\", \"unit\": \"f\"}",
		       "devices[0].unit: expected \"celsius\" or \"kelvin\", got \"f\"");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"s\", \"unit\": \"kelvin\"}",
		       "devices[0].rate: kelvin needs a rate of its own");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"s\"}, {\"type\": \"thermo\", \"sensor\": \"/b/s\"}",
		       "devices[1].sensor: sensor \"/b/s\" is given twice");
	bundle_refused("{\"type\": \"thermo\", \"sensor\": \"a\"}, {\"type\": \"thermo\", \"sensor\": \"b\"},"
		       " {\"type\": \"thermo\", \"sensor\": \"c\"}",
		       "devices[2]: at most 2 thermometers");
}

/* Its window and interrupt in declaration order, and its entry in the
 * platform description, named by the option that declared it. */
static void test_describe(void **state)
{
	char *argv[] = { "avp", "run", "--kernel", kernel, "--describe", "--rng", "--thermo", "t.dat" };
	struct avp_config cfg;
	enum vm_exit_reason reason;
	char *text = NULL, *entry;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	avp_config_init(&cfg);
	assert_int_equal(cli_parse(8, argv, &cfg, stderr), CLI_RUN);
	assert_int_equal(machine_run(&cfg, out, &reason), 0);
	fclose(out);
	avp_config_free(&cfg);
	entry = strstr(text, "\"type\":\"virtio-thermo\"");
	if (!entry)
		fail_msg("no thermometer in %s", text);
	assert_non_null(strstr(entry, "\"declared_as\":\"thermo\""));
	assert_non_null(strstr(entry, "\"virtio_id\":63"));
	/* after the rng, declared first */
	assert_true(strstr(text, "\"type\":\"virtio-rng\"") < entry);
	free(text);
}

/* The template `avp spec` writes names every device type the build has,
 * with its bundle keys and the names of an enum key. */
static void test_bundle_template(void **state)
{
	const char *text = bundle_default_text();

	(void)state;
	if (!strstr(text, "thermo {sensor, rate, unit: celsius or kelvin}"))
		fail_msg("the template does not list the thermometer: %s", text);
	assert_non_null(strstr(text, "disk {path, read_only, aio: io_uring or sync, cache: writeback or none, queues}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_line),
		cmocka_unit_test(test_bundle),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_bundle_template),
	};

	return cmocka_run_group_tests_name("device_registry", tests, setup, teardown);
}
