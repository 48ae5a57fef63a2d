/* docs/bundle.schema.json against the bundle parser and the examples:
 *  - every example bundle (examples/ * / * /config.json) and the default
 *    config.json of `avp spec` validate against the schema, and parse;
 *  - the schema and the parser know exactly the same keys, object by
 *    object (so neither can grow a key the other lacks);
 *  - bad bundles fail both (so the validator below is not a yes-man).
 * The same for docs/system.schema.json and the system-file parser: every
 * example system (examples/ * /system.json) validates, the keys agree, bad
 * systems fail the schema (test_bundle.c has the parser's refusals).
 * The validator (tests/unit/support/json_schema.c, shared with the
 * --describe schema's test) fails on any keyword it does not know. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <glob.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/runtime/bundle.h"
#include "avp/runtime/system.h"
#include "support/json_schema.h"

#define SCHEMA "docs/bundle.schema.json"
#define SYSTEM_SCHEMA "docs/system.schema.json"

static struct json_object *schema_root;	/* the one being validated against ($ref) */
static struct json_object *bundle_schema;
static struct json_object *system_schema;

/* The schema being validated against, its "$defs" resolving $ref. */
static int validate(struct json_object *schema, struct json_object *v, const char *path, char *err,
		    size_t len)
{
	(void)path;
	return json_schema_validate(schema, v, err, len);
}

static int setup(void **state)
{
	(void)state;
	bundle_schema = json_object_from_file(SCHEMA);
	system_schema = json_object_from_file(SYSTEM_SCHEMA);
	schema_root = bundle_schema;
	return bundle_schema && system_schema ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_object_put(bundle_schema);
	json_object_put(system_schema);
	return 0;
}

static int check_text(const char *text, char *err, size_t len)
{
	struct json_object *v = json_tokener_parse(text);
	int ret;

	assert_non_null(v);
	ret = validate(schema_root, v, "", err, len);
	json_object_put(v);
	return ret;
}

static void test_examples_valid(void **state)
{
	char err[512] = "";
	glob_t g;
	size_t n = 0;

	(void)state;
	assert_int_equal(glob("examples/*/*/config.json", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct json_object *v = json_object_from_file(g.gl_pathv[i]);
		char dir[PATH_MAX], abs[PATH_MAX];
		struct avp_bundle b;
		struct jc_err e = { "" };
		const char *text;

		assert_non_null(v);
		if (validate(schema_root, v, "", err, sizeof(err)))
			fail_msg("%s does not validate: %s", g.gl_pathv[i], err);
		snprintf(dir, sizeof(dir), "%s", g.gl_pathv[i]);
		assert_non_null(realpath(dirname(dir), abs));
		text = json_object_to_json_string(v);
		if (bundle_parse(text, strlen(text), abs, &b, &e))
			fail_msg("%s validates but the parser refuses it: %s", g.gl_pathv[i], e.text);
		bundle_free(&b);
		json_object_put(v);
		n++;
	}
	globfree(&g);
	assert_true(n >= 2); /* the cockpit's two bundles at least */
	if (check_text(bundle_default_text(), err, sizeof(err)))
		fail_msg("avp spec's config.json does not validate: %s", err);
}

/* The pty and socket backends: the schema and the parser both take them. */
static void test_chardev_backends_both_accept(void **state)
{
	static const char *const good[] = {
		"{\"kernel\": \"bz\", \"serial\": \"pty\"}",
		"{\"kernel\": \"bz\", \"serial\": \"socket=s.sock\"}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"console\", \"backend\": \"pty\"}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"console\", \"backend\": \"socket=/c\"}]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char err[512] = "";
		struct avp_bundle b;
		struct jc_err e = { "" };

		if (check_text(good[i], err, sizeof(err)))
			fail_msg("the schema refuses %s: %s", good[i], err);
		if (bundle_parse(good[i], strlen(good[i]), "/b", &b, &e))
			fail_msg("the parser refuses %s: %s", good[i], e.text);
		bundle_free(&b);
	}
}

/* OCI bundles (docs/oci.md): the schema and the parser both take them,
 * and the parser maps vm onto the platform. */
static void test_oci_bundles_both_accept(void **state)
{
	static const char *const good[] = {
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"/k/bz\"}}}",
		"{\"ociVersion\": \"1.2.0\", \"process\": {\"args\": [\"sh\"]}, \"root\": "
		"{\"path\": \"rootfs\"}, \"mounts\": [], \"hostname\": \"h\", \"linux\": {}, "
		"\"annotations\": {\"a\": \"b\"}, \"vm\": {\"hypervisor\": {\"path\": "
		"\"/usr/bin/avp\"}, \"kernel\": {\"path\": \"/k/bz\", \"parameters\": "
		"[\"console=ttyS0\", \"quiet\"], \"initrd\": \"/k/initrd\"}, \"image\": "
		"{\"path\": \"/k/root.img\", \"format\": \"raw\"}}, \"memory\": {\"mib\": 256}}",
	};
	char err[512] = "";
	struct avp_bundle b;
	struct jc_err e = { "" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (check_text(good[i], err, sizeof(err)))
			fail_msg("the schema refuses %s: %s", good[i], err);
		if (bundle_parse(good[i], strlen(good[i]), "/b", &b, &e))
			fail_msg("the parser refuses %s: %s", good[i], e.text);
		assert_true(b.oci);
		assert_string_equal(b.cfg.kernel, "/k/bz");
		if (i == 1) {
			assert_string_equal(b.cfg.cmdline, "console=ttyS0 quiet");
			assert_string_equal(b.cfg.initrd, "/k/initrd");
			assert_int_equal(b.cfg.ndevices, 1); /* vm.image: a disk */
			assert_int_equal(b.cfg.memory_mib, 256);
		}
		bundle_free(&b);
	}
}

/* Bad bundles: the schema and the parser both refuse each. */
static void test_bad_bundles_fail_both(void **state)
{
	static const char *const bad_bundles[] = {
		"{}",
		"{\"kernel\": \"bz\", \"kernal\": \"bz\"}",
		"{\"kernel\": 7}",
		"{\"kernel\": \"bz\", \"cpus\": {\"count\": 0}}",
		"{\"kernel\": \"bz\", \"cpus\": {\"count\": 1, \"pin\": [0]}}",
		"{\"kernel\": \"bz\", \"memory\": {\"mib\": \"64\"}}",
		"{\"kernel\": \"bz\", \"scheduling\": {\"class\": \"batch\"}}",
		"{\"kernel\": \"bz\", \"serial\": \"tty0\"}",
		"{\"kernel\": \"bz\", \"serial\": \"socket=\"}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"console\", \"backend\": \"socket=\"}]}",
		"{\"kernel\": \"bz\", \"restart\": {\"policy\": \"sometimes\"}}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"floppy\"}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"disk\"}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"disk\", \"path\": \"a\", \"ro\": true}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\"}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"network\": \"lan\"}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"tap\": \"t\", \"mac\": \"zz\"}]}",
		"{\"kernel\": \"bz\", \"devices\": [{\"type\": \"console\", \"backend\": \"none\"}]}",
		"{\"kernel\": \"bz\", \"shutdown_timeout_s\": 99999}",
		/* OCI bundles (docs/oci.md) */
		"{\"ociVersion\": \"1.0.2\"}",
		"{\"ociVersion\": \"1.0.2\", \"kernel\": \"bz\", \"vm\": {\"kernel\": "
		"{\"path\": \"/bz\"}}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"bz\"}}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"/bz\", "
		"\"parameters\": [1]}}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}, "
		"\"image\": {\"path\": \"/i\", \"format\": \"qcow2\"}}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}, "
		"\"image\": {\"path\": \"/i\"}}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}, "
		"\"hypervisor\": {\"path\": \"/usr/bin/qemu-system-x86_64\"}}}",
		"{\"ociVersion\": \"1.0.2\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}, "
		"\"hypervisor\": {\"path\": \"/usr/bin/avp\", \"parameters\": [\"-v\"]}}}",
		"{\"ociVersion\": \"2.0.0\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad_bundles) / sizeof(bad_bundles[0]); i++) {
		char err[512] = "";
		struct avp_bundle b;
		struct jc_err e = { "" };
		const char *t = bad_bundles[i];

		if (check_text(t, err, sizeof(err)) == 0)
			fail_msg("the schema accepts a bad bundle: %s", t);
		if (bundle_parse(t, strlen(t), "/b", &b, &e) == 0) {
			bundle_free(&b);
			fail_msg("the parser accepts a bad bundle: %s", t);
		}
	}
}

/* The names of properties of one schema object, "$comment" left out. */
static void same_keys(struct json_object *props, const char *object)
{
	const char *const *keys = bundle_keys(object);
	size_t nkeys = 0, nprops = 0;

	if (!keys)
		fail_msg("the parser has no key table for '%s'", object);
	assert_non_null(props);
	for (; keys[nkeys]; nkeys++)
		if (!json_object_object_get_ex(props, keys[nkeys], NULL))
			fail_msg("'%s': the parser accepts '%s', the schema does not have it", object,
				 keys[nkeys]);
	json_object_object_foreach(props, key, val) {
		bool found = false;

		(void)val;
		if (!strcmp(key, "$comment"))
			continue;
		nprops++;
		for (size_t i = 0; keys[i]; i++)
			found |= strcmp(keys[i], key) == 0;
		if (!found)
			fail_msg("'%s': the schema has '%s', the parser refuses it", object, key);
	}
	assert_int_equal(nkeys, nprops);
}

/* Same keys, with the parser's table for `object` of the system format. */
static void same_system_keys(struct json_object *props, const char *object)
{
	const char *const *keys = system_keys(object);
	size_t nkeys = 0, nprops = 0;

	if (!keys)
		fail_msg("the system parser has no key table for '%s'", object);
	assert_non_null(props);
	for (; keys[nkeys]; nkeys++)
		if (!json_object_object_get_ex(props, keys[nkeys], NULL))
			fail_msg("system '%s': the parser accepts '%s', the schema does not have it",
				 object, keys[nkeys]);
	json_object_object_foreach(props, key, val) {
		(void)val;
		if (strcmp(key, "$comment"))
			nprops++;
	}
	assert_int_equal(nkeys, nprops);
}

static void test_system_examples_valid(void **state)
{
	char err[512] = "";
	glob_t g;

	(void)state;
	schema_root = system_schema;
	assert_int_equal(glob("examples/*/system.json", 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct json_object *v = json_object_from_file(g.gl_pathv[i]);

		assert_non_null(v);
		if (validate(system_schema, v, "", err, sizeof(err)))
			fail_msg("%s does not validate: %s", g.gl_pathv[i], err);
		json_object_put(v);
	}
	assert_true(g.gl_pathc >= 1); /* the cockpit */
	globfree(&g);
	schema_root = bundle_schema;
}

static void test_bad_systems_fail_schema(void **state)
{
	static const char *const bad_systems[] = {
		"{}",
		"{\"vms\": []}",
		"{\"vms\": [{\"id\": \"a\"}]}",
		"{\"vms\": [{\"id\": \"-a\", \"bundle\": \"a\"}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"net\": []}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"networks\": [{\"name\": \"Lan\", \"members\": []}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"links\": [{\"vsock\": [\"a\"]}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"links\": [{\"shm\": [\"a\", \"b\"]}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"links\": [[\"a\", \"b\"]]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"links\": [{\"vsock\": [\"a\", 2]}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"can\": [{\"name\": \"Body\", \"members\": []}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"can\": [{\"members\": [\"a\"]}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"can\": [{\"name\": \"b\", \"members\": [], \"bitrate\": 5}]}",
		"{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"can\": [{\"name\": \"b\", \"members\": [], \"rules\": []}]}",
	};
	const char *good = "{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}, {\"id\": \"b\", \"bundle\": \"b\"}],"
			   " \"links\": [{\"$comment\": \"x\", \"vsock\": [\"a\", \"b\"]}],"
			   " \"can\": [{\"name\": \"body\", \"interface\": \"vcan0\", \"members\": [\"a\", \"b\"],"
			   " \"rules\": {\"b\": {\"tx\": [\"0x300-0x3ff\"], \"rx\": []}}}]}";
	char err[512] = "";

	(void)state;
	schema_root = system_schema;
	if (check_text(good, err, sizeof(err)))
		fail_msg("the schema refuses a good system: %s", err);
	for (size_t i = 0; i < sizeof(bad_systems) / sizeof(bad_systems[0]); i++)
		if (check_text(bad_systems[i], err, sizeof(err)) == 0)
			fail_msg("the schema accepts a bad system: %s", bad_systems[i]);
	schema_root = bundle_schema;
}

static void test_system_schema_keys_match_parser(void **state)
{
	struct json_object *props = json_object_object_get(system_schema, "properties");
	static const char *const arrays[] = { "vms", "networks", "links", "can" };

	(void)state;
	same_system_keys(props, "");
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
		same_system_keys(json_object_object_get(
					 json_object_object_get(json_object_object_get(props, arrays[i]),
								"items"),
					 "properties"),
				 arrays[i]);
}

static void test_schema_keys_match_parser(void **state)
{
	struct json_object *props = json_object_object_get(schema_root, "properties");
	struct json_object *defs = json_object_object_get(schema_root, "$defs");
	static const char *const objects[] = { "cpus", "memory", "scheduling", "restart", "vm" };
	static const char *const vm_objects[] = { "hypervisor", "kernel", "image" };
	struct json_object *vm_props;
	size_t ntypes = 0;

	(void)state;
	same_keys(props, "");
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		same_keys(json_object_object_get(json_object_object_get(props, objects[i]),
						 "properties"), objects[i]);
	vm_props = json_object_object_get(json_object_object_get(props, "vm"), "properties");
	for (size_t i = 0; i < sizeof(vm_objects) / sizeof(vm_objects[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "vm.%s", vm_objects[i]);
		same_keys(json_object_object_get(json_object_object_get(vm_props, vm_objects[i]),
						 "properties"), name);
	}
	for (const char *const *t = bundle_device_types(); *t; t++, ntypes++) {
		char name[64];

		snprintf(name, sizeof(name), "devices.%s", *t);
		same_keys(json_object_object_get(json_object_object_get(defs, *t), "properties"),
			  name);
	}
	/* ... and the schema has no device type the parser does not know. */
	assert_int_equal(json_object_array_length(json_object_object_get(
				 json_object_object_get(json_object_object_get(props, "devices"), "items"),
				 "oneOf")),
			 ntypes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_valid),
		cmocka_unit_test(test_chardev_backends_both_accept),
		cmocka_unit_test(test_oci_bundles_both_accept),
		cmocka_unit_test(test_bad_bundles_fail_both),
		cmocka_unit_test(test_schema_keys_match_parser),
		cmocka_unit_test(test_system_examples_valid),
		cmocka_unit_test(test_bad_systems_fail_schema),
		cmocka_unit_test(test_system_schema_keys_match_parser),
	};

	return cmocka_run_group_tests_name("bundle-schema", tests, setup, teardown);
}
