/* Bundles, system files and the runtime's bookkeeping: every accepted form
 * fills the config, every bad one is refused with the JSON path of the
 * offending value in the message. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/hw/watchdog.h"
#include "avp/runtime/bundle.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/policy.h"
#include "avp/runtime/state.h"
#include "avp/runtime/system.h"

/* The config's devices, by type. */
#define COUNT(c, t) avp_config_count(&(c), &(t))
#define DEV(type, c, t, i) ((const type *)avp_config_device(&(c), &(t), (i)))

static int parse(const char *text, struct avp_bundle *b, struct jc_err *e)
{
	memset(e, 0, sizeof(*e));
	return bundle_parse(text, strlen(text), "/b", b, e);
}

/* The text must be refused with a message containing want. */
static void refused(const char *text, const char *want)
{
	struct avp_bundle b;
	struct jc_err e;
	int ret = parse(text, &b, &e);

	if (ret != -EINVAL || !strstr(e.text, want))
		fail_msg("expected -EINVAL with '%s', got %d '%s' for %s", want, ret, e.text, text);
}

static void test_minimal(void **state)
{
	struct avp_bundle b;
	struct jc_err e;

	(void)state;
	assert_int_equal(parse("{\"kernel\": \"vmlinuz\"}", &b, &e), 0);
	assert_string_equal(b.cfg.kernel, "/b/vmlinuz");
	assert_null(b.cfg.initrd);
	assert_int_equal(b.cfg.cpus, 1);
	assert_int_equal(b.cfg.memory_mib, 256);
	assert_false(b.cfg.affinity_set);
	assert_int_equal(b.cfg.sched_class, AVP_SCHED_NORMAL);
	assert_false(b.cfg.mem_reserve);
	assert_int_equal(b.restart, AVP_RESTART_NEVER);
	assert_int_equal(b.shutdown_timeout_s, 10);
	bundle_free(&b);
}

static void test_full(void **state)
{
	struct avp_bundle b;
	struct jc_err e;
	const char *text =
		"{\"$comment\": \"ignored\", \"kernel\": \"/abs/bz\", \"initrd\": \"i.img\","
		" \"cmdline\": \"console=ttyS0\", \"critical\": true,"
		" \"cpus\": {\"count\": 2, \"affinity\": [1, 3], \"$comment\": \"x\"},"
		" \"memory\": {\"mib\": 128, \"reserve\": true},"
		" \"scheduling\": {\"class\": \"fifo\", \"priority\": 50},"
		" \"serial\": \"file:serial.log\","
		" \"devices\": [{\"type\": \"disk\", \"path\": \"root.img\", \"read_only\": true},"
		"  {\"type\": \"net\", \"tap\": \"tap7\", \"mac\": \"52:54:00:12:34:56\"},"
		"  {\"type\": \"net\", \"network\": \"backbone\", \"mac\": \"52:54:00:00:00:0a\"},"
		"  {\"type\": \"rng\"}, {\"type\": \"console\", \"backend\": \"file:hvc0.log\"}],"
		" \"restart\": {\"policy\": \"on-failure\", \"max_restarts\": 3, \"backoff_ms\": 250},"
		" \"shutdown_timeout_s\": 7}";

	(void)state;
	assert_int_equal(parse(text, &b, &e), 0);
	assert_string_equal(b.cfg.kernel, "/abs/bz");
	assert_string_equal(b.cfg.initrd, "/b/i.img");
	assert_string_equal(b.cfg.cmdline, "console=ttyS0");
	assert_true(b.critical);
	assert_int_equal(b.cfg.cpus, 2);
	assert_true(b.cfg.affinity_set);
	assert_int_equal(b.cfg.cpu_affinity[0], 1);
	assert_int_equal(b.cfg.cpu_affinity[1], 3);
	assert_int_equal(b.cfg.memory_mib, 128);
	assert_true(b.cfg.mem_reserve);
	assert_int_equal(b.cfg.sched_class, AVP_SCHED_FIFO);
	assert_int_equal(b.cfg.sched_priority, 50);
	assert_int_equal(b.cfg.serial.kind, AVP_CHR_FILE);
	assert_string_equal(b.cfg.serial.path, "/b/serial.log");
	assert_int_equal(COUNT(b.cfg, virtio_blk_config), 1);
	assert_string_equal(DEV(struct avp_disk_cfg, b.cfg, virtio_blk_config, 0)->path, "/b/root.img");
	assert_true(DEV(struct avp_disk_cfg, b.cfg, virtio_blk_config, 0)->read_only);
	assert_int_equal(COUNT(b.cfg, virtio_net_config), 2);
	assert_string_equal(DEV(struct avp_net_cfg, b.cfg, virtio_net_config, 0)->tap, "tap7");
	assert_null(DEV(struct avp_net_cfg, b.cfg, virtio_net_config, 0)->network);
	assert_true(DEV(struct avp_net_cfg, b.cfg, virtio_net_config, 0)->mac_set);
	/* On a network the tap is named after the MAC. */
	assert_string_equal(DEV(struct avp_net_cfg, b.cfg, virtio_net_config, 1)->network, "backbone");
	assert_string_equal(DEV(struct avp_net_cfg, b.cfg, virtio_net_config, 1)->tap, "avp52540000000a");
	assert_int_equal(bundle_device_index(&b, &virtio_net_config, 1), 2);
	assert_int_equal(COUNT(b.cfg, virtio_rng_config), 1);
	assert_int_equal(DEV(struct avp_chardev_cfg, b.cfg, virtio_console_config, 0)->kind, AVP_CHR_FILE);
	assert_string_equal(DEV(struct avp_chardev_cfg, b.cfg, virtio_console_config, 0)->path, "/b/hvc0.log");
	assert_int_equal(b.restart, AVP_RESTART_ON_FAILURE);
	assert_int_equal(b.max_restarts, 3);
	assert_int_equal(b.backoff_ms, 250);
	assert_int_equal(b.shutdown_timeout_s, 7);
	bundle_free(&b);
}

/* The pty and socket backends (issue 13 item 14): a relative socket path
 * is the bundle's, like a file's. */
static void test_pty_and_socket(void **state)
{
	struct avp_bundle b;
	struct jc_err e;

	(void)state;
	assert_int_equal(parse("{\"kernel\": \"bz\", \"serial\": \"socket=serial.sock\","
			       " \"devices\": [{\"type\": \"console\", \"backend\": \"pty\"}]}",
			       &b, &e),
			 0);
	assert_int_equal(b.cfg.serial.kind, AVP_CHR_SOCKET);
	assert_string_equal(b.cfg.serial.path, "/b/serial.sock");
	assert_int_equal(DEV(struct avp_chardev_cfg, b.cfg, virtio_console_config, 0)->kind, AVP_CHR_PTY);
	assert_null(DEV(struct avp_chardev_cfg, b.cfg, virtio_console_config, 0)->path);
	bundle_free(&b);
	assert_int_equal(parse("{\"kernel\": \"bz\", \"serial\": \"pty\","
			       " \"devices\": [{\"type\": \"console\", \"backend\": \"socket=/run/c.sock\"}]}",
			       &b, &e),
			 0);
	assert_int_equal(b.cfg.serial.kind, AVP_CHR_PTY);
	assert_int_equal(DEV(struct avp_chardev_cfg, b.cfg, virtio_console_config, 0)->kind, AVP_CHR_SOCKET);
	assert_string_equal(DEV(struct avp_chardev_cfg, b.cfg, virtio_console_config, 0)->path, "/run/c.sock");
	bundle_free(&b);
}

static void test_missing_kernel(void **state)
{
	(void)state;
	refused("{\"cpus\": {\"count\": 1}}", "config.json: kernel: missing (required)");
	refused("{\"kernel\": \"\"}", "kernel: empty path");
	refused("{\"kernel\": null}", "kernel: missing");
}

static void test_syntax_line_column(void **state)
{
	(void)state;
	refused("{\n  \"kernel\": \"bz\",\n  oops\n}", "config.json:3:3: JSON syntax error");
	refused("{\"kernel\": \"bz\",}", "config.json:1:17: JSON syntax error");
	refused("{\"kernel\": \"bz\",\n\"cpus\": {\"count\": 1 2}}", "config.json:2:21: JSON syntax error");
	refused("{\"kernel\": \"bz\"", "unexpected end of file");
	refused("{\"kernel\": \"bz\"} {}", "config.json:1:18: JSON syntax error");
	refused("", "config.json:1:1: JSON syntax error");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	refused("{\"kernel\": \"bz\", \"kernal\": 1}", "config.json: kernal: unknown key (expected one of: kernel,");
	refused("{\"kernel\": \"bz\", \"cpus\": {\"count\": 1, \"cont\": 2}}", "cpus.cont: unknown key");
	refused("{\"kernel\": \"bz\", \"memory\": {\"mib\": 64, \"lock\": true}}", "memory.lock: unknown key");
	refused("{\"kernel\": \"bz\", \"restart\": {\"policy\": \"never\", \"tries\": 1}}",
		"restart.tries: unknown key");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"rng\"}, {\"type\": \"disk\", "
		"\"path\": \"a\", \"sise\": 1}]}", "devices[1].sise: unknown key (expected one of: type, path, read_only)");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"floppy\"}]}",
		"devices[0].type: unknown device type \"floppy\"");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"path\": \"x\"}]}", "devices[0].type: missing");
}

static void test_wrong_types(void **state)
{
	(void)state;
	refused("[]", "(top level): expected an object, got array");
	refused("{\"kernel\": 5}", "kernel: expected a string, got integer");
	refused("{\"kernel\": \"bz\", \"memory\": {\"mib\": \"128\"}}", "memory.mib: expected an integer, got string");
	refused("{\"kernel\": \"bz\", \"memory\": {\"mib\": 1.5}}", "memory.mib: expected an integer, got a fractional number");
	refused("{\"kernel\": \"bz\", \"memory\": {\"mib\": 8}}", "memory.mib: 8 is out of range (32 to 1048576)");
	refused("{\"kernel\": \"bz\", \"memory\": {\"mib\": 99999999999999999999}}", "memory.mib:");
	refused("{\"kernel\": \"bz\", \"memory\": {\"mib\": 64, \"reserve\": \"yes\"}}", "memory.reserve: expected true or false");
	refused("{\"kernel\": \"bz\", \"cpus\": 2}", "cpus: expected an object, got integer");
	refused("{\"kernel\": \"bz\", \"cpus\": {\"count\": 0}}", "cpus.count: 0 is out of range (1 to 64)");
	refused("{\"kernel\": \"bz\", \"cpus\": {\"count\": 2, \"affinity\": [0, \"1\"]}}", "cpus.affinity[1]: expected an integer");
	refused("{\"kernel\": \"bz\", \"cpus\": {\"count\": 2, \"affinity\": [0]}}", "cpus.affinity: 1 host CPUs for 2 vCPUs");
	refused("{\"kernel\": \"bz\", \"devices\": {}}", "devices: expected an array, got object");
	refused("{\"kernel\": \"bz\", \"devices\": [\"rng\"]}", "devices[0]: expected an object, got string");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"disk\", \"path\": \"a\", \"read_only\": 1}]}",
		"devices[0].read_only: expected true or false, got integer");
	refused("{\"kernel\": \"bz\", \"shutdown_timeout_s\": -1}", "shutdown_timeout_s: -1 is out of range");
	refused("{\"kernel\": \"bz\", \"critical\": \"yes\"}", "critical: expected true or false");
}

static void test_bad_values(void **state)
{
	(void)state;
	refused("{\"kernel\": \"bz\", \"scheduling\": {\"class\": \"rr\"}}", "scheduling.class: expected \"normal\" or \"fifo\"");
	refused("{\"kernel\": \"bz\", \"scheduling\": {\"class\": \"fifo\"}}", "scheduling.priority: missing (required with class \"fifo\"");
	refused("{\"kernel\": \"bz\", \"scheduling\": {\"class\": \"normal\", \"priority\": 5}}", "scheduling.priority: only meaningful");
	refused("{\"kernel\": \"bz\", \"scheduling\": {\"class\": \"fifo\", \"priority\": 100}}", "scheduling.priority: 100 is out of range (1 to 99)");
	refused("{\"kernel\": \"bz\", \"critical\": true}", "critical: a critical VM must pin its vCPUs");
	refused("{\"kernel\": \"bz\", \"restart\": {\"policy\": \"sometimes\"}}", "restart.policy: expected \"never\", \"on-failure\" or \"always\"");
	refused("{\"kernel\": \"bz\", \"restart\": {\"max_restarts\": 1}}", "restart.policy: missing");
	refused("{\"kernel\": \"bz\", \"serial\": \"tty\"}", "serial: expected \"stdio\", \"none\", \"file:PATH\", \"pty\" or \"socket=PATH\"");
	refused("{\"kernel\": \"bz\", \"serial\": \"socket=\"}", "serial: expected");
	refused("{\"kernel\": \"bz\", \"serial\": \"socket=c.sock\", \"devices\": [{\"type\": \"console\", \"backend\": \"socket=c.sock\"}]}",
		"serial: the serial port and the console cannot listen on the same socket");
	refused("{\"kernel\": \"bz\", \"serial\": \"file:x\", \"devices\": [{\"type\": \"console\", \"backend\": \"file:x\"}]}",
		"serial: the serial port and the console cannot write the same file");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"console\", \"backend\": \"none\"}]}", "devices[0].backend: a console device needs");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"rng\"}, {\"type\": \"rng\"}]}", "devices[1]: only one rng device");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\"}]}", "devices[0]: give either \"tap\"");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"tap\": \"t\", \"network\": \"n\"}]}", "not both");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"network\": \"n\"}]}", "devices[0].mac: missing (required)");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"tap\": \"t\", \"mac\": \"01:00:00:00:00:01\"}]}",
		"devices[0].mac: expected a unicast MAC");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"tap\": \"waytoolongtapname\"}]}", "devices[0].tap: tap name \"waytoolongtapname\" is not an interface name");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"net\", \"tap\": \"t\"}, {\"type\": \"net\", \"tap\": \"t\"}]}",
		"devices[1].tap: tap \"t\" is already used");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"disk\", \"path\": \"a\"}, {\"type\": \"disk\", \"path\": \"/b/a\"}]}",
		"devices[1].path: \"/b/a\" is already used by another disk");
}

/* Known device types whose device this build lacks are refused by name,
 * never silently dropped. */
static void test_unsupported_device(void **state)
{
	(void)state;
	for (const char *const *t = bundle_device_types(); *t; t++) {
		char text[256], want[128];

		if (bundle_device_supported(*t))
			continue;
		snprintf(text, sizeof(text), "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"%s\"}]}", *t);
		snprintf(want, sizeof(want), "devices[0].type: this build of avp has no %s device", *t);
		refused(text, want);
	}
	assert_true(bundle_device_supported("disk"));
	assert_false(bundle_device_supported("floppy"));
}

static void test_other_devices(void **state)
{
	struct avp_bundle b;
	struct jc_err e;
	const char *text =
		"{\"kernel\": \"bz\", \"devices\": ["
		" {\"type\": \"vsock\", \"cid\": 42, \"socket\": \"v.sock\"},"
		" {\"type\": \"gpu\", \"width\": 800, \"height\": 480},"
		" {\"type\": \"input\", \"kind\": \"keyboard\"},"
		" {\"type\": \"input\", \"kind\": \"touch\", \"width\": 800, \"height\": 480},"
		" {\"type\": \"sound\", \"out\": \"out.wav\"},"
		" {\"type\": \"watchdog\", \"action\": \"reset\"}]}";

	(void)state;
	assert_int_equal(parse(text, &b, &e), 0);
	assert_int_equal(DEV(struct avp_vsock_cfg, b.cfg, virtio_vsock_config, 0)->cid, 42);
	assert_string_equal(DEV(struct avp_vsock_cfg, b.cfg, virtio_vsock_config, 0)->socket, "/b/v.sock");
	assert_int_equal(COUNT(b.cfg, virtio_gpu_config), 1);
	assert_int_equal(DEV(struct avp_gpu_cfg, b.cfg, virtio_gpu_config, 0)->width, 800);
	assert_int_equal(COUNT(b.cfg, virtio_input_config), 2);
	assert_int_equal(DEV(struct avp_input_cfg, b.cfg, virtio_input_config, 1)->kind, AVP_INPUT_TOUCH);
	assert_int_equal(DEV(struct avp_input_cfg, b.cfg, virtio_input_config, 1)->height, 480);
	assert_int_equal(COUNT(b.cfg, virtio_snd_config), 1);
	assert_string_equal(DEV(struct avp_sound_cfg, b.cfg, virtio_snd_config, 0)->out_path, "/b/out.wav");
	assert_null(DEV(struct avp_sound_cfg, b.cfg, virtio_snd_config, 0)->in_path);
	assert_int_equal(COUNT(b.cfg, watchdog_config), 1);
	assert_int_equal(DEV(struct avp_watchdog_cfg, b.cfg, watchdog_config, 0)->action, AVP_WATCHDOG_RESET);
	bundle_free(&b);

	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"vsock\", \"cid\": 2, \"socket\": \"s\"}]}",
		"devices[0].cid: 2 is out of range");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"vsock\", \"cid\": 3}]}", "devices[0].socket: missing");
	/* The one rule for display sizes (docs/devices.md): a size left out
	 * is the default, as on the command line. */
	assert_int_equal(parse("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"gpu\", \"width\": 800},"
			       " {\"type\": \"input\", \"kind\": \"touch\", \"height\": 600}]}", &b, &e), 0);
	assert_int_equal(DEV(struct avp_gpu_cfg, b.cfg, virtio_gpu_config, 0)->width, 800);
	assert_int_equal(DEV(struct avp_gpu_cfg, b.cfg, virtio_gpu_config, 0)->height, 720);
	assert_int_equal(DEV(struct avp_input_cfg, b.cfg, virtio_input_config, 0)->width, 1280);
	assert_int_equal(DEV(struct avp_input_cfg, b.cfg, virtio_input_config, 0)->height, 600);
	bundle_free(&b);
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"gpu\", \"width\": 8, \"height\": 8}]}", "devices[0]: display size out of range");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"input\", \"kind\": \"mouse\"}]}", "devices[0].kind: expected \"keyboard\" or \"touch\"");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"input\", \"kind\": \"keyboard\", \"width\": 5, \"height\": 5}]}",
		"devices[0]: width and height are for touch only");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"input\", \"kind\": \"keyboard\"}, {\"type\": \"input\", \"kind\": \"keyboard\"}]}",
		"devices[1].kind: a second keyboard");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"sound\"}]}", "devices[0]: give \"out\"");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"sound\", \"out\": \"a\", \"in\": \"a\"}]}", "must be different files");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"watchdog\", \"action\": \"bark\"}]}", "devices[0].action: expected \"exit\" or \"reset\"");
	refused("{\"kernel\": \"bz\", \"devices\": [{\"type\": \"watchdog\"}, {\"type\": \"watchdog\"}]}", "devices[1]: only one watchdog");
}

static void test_relative_bundle_dir_refused(void **state)
{
	struct avp_bundle b;
	struct jc_err e = { "" };

	(void)state;
	assert_int_equal(bundle_parse("{\"kernel\":\"bz\"}", 15, "rel", &b, &e), -EINVAL);
	assert_non_null(strstr(e.text, "not an absolute path"));
}

static void test_default_spec_parses(void **state)
{
	const char *text = bundle_default_text();
	struct avp_bundle b;
	struct jc_err e;

	(void)state;
	assert_int_equal(parse(text, &b, &e), 0);
	assert_string_equal(b.cfg.kernel, "/b/vmlinuz");
	assert_int_equal(COUNT(b.cfg, virtio_rng_config), 1);
	assert_int_equal(b.restart, AVP_RESTART_ON_FAILURE);
	bundle_free(&b);
}

/* ---- on disk: files, bundles, systems --------------------------------- */

static char tmpdir[PATH_MAX];

static void write_file(const char *rel, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/avp-test-bundle.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown_tmp(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void load_refused(const char *rel, const char *want)
{
	char dir[PATH_MAX + 64];
	struct avp_bundle b;
	struct jc_err e = { "" };
	int ret;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, rel);
	ret = bundle_load(dir, &b, &e);
	if (ret == 0 || !strstr(e.text, want))
		fail_msg("bundle %s: expected '%s', got %d '%s'", rel, want, ret, e.text);
}

static void test_load_checks_host(void **state)
{
	struct avp_bundle b;
	struct jc_err e = { "" };
	char dir[PATH_MAX + 64];

	(void)state;
	make_dir("b1");
	write_file("b1/bz", "not really a kernel");
	write_file("b1/config.json", "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"rng\"}, "
				     "{\"type\": \"disk\", \"path\": \"missing.img\"}]}");
	load_refused("b1", "config.json: devices[1].path: file not found");
	write_file("b1/config.json", "{\"kernel\": \"nokernel\"}");
	load_refused("b1", "config.json: kernel: file not found");
	write_file("b1/config.json", "{\"kernel\": \"bz\", \"cpus\": {\"count\": 1, \"affinity\": [1000]}}");
	load_refused("b1", "config.json: cpus.affinity[0]: host CPU 1000 does not exist");
	load_refused("nosuchdir", "No such file");
	make_dir("b2");
	load_refused("b2", "config.json: cannot open");
	write_file("b1/config.json", "{\"kernel\": \"bz\"}");
	snprintf(dir, sizeof(dir), "%s/b1", tmpdir);
	assert_int_equal(bundle_load(dir, &b, &e), 0);
	assert_non_null(strstr(b.cfg.kernel, "/b1/bz"));
	assert_int_equal(b.cfg.kernel[0], '/');
	bundle_free(&b);
}

/* avp run --bundle: the bundle replaces the platform given before it. */
static void test_run_bundle_config(void **state)
{
	char dir[PATH_MAX + 64], errbuf[512] = "";
	struct avp_config cfg;
	FILE *err;

	(void)state;
	make_dir("runb");
	write_file("runb/bz", "kernel");
	write_file("runb/config.json", "{\"kernel\": \"bz\", \"cpus\": {\"count\": 2, \"affinity\": [0, 0]},"
				       " \"scheduling\": {\"class\": \"fifo\", \"priority\": 10}}");
	snprintf(dir, sizeof(dir), "%s/runb", tmpdir);
	avp_config_init(&cfg);
	cfg.memory_mib = 999;
	cfg.cmdline = strdup("replaced");
	err = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	assert_int_equal(bundle_load_config(dir, 0, &cfg, err), 0);
	assert_non_null(strstr(cfg.kernel, "/runb/bz"));
	assert_null(cfg.cmdline);
	assert_int_equal(cfg.memory_mib, 256);
	assert_int_equal(cfg.cpus, 2);
	assert_true(cfg.affinity_set);
	assert_int_equal(cfg.sched_class, AVP_SCHED_FIFO);
	avp_config_free(&cfg);
	avp_config_init(&cfg);
	write_file("runb/config.json", "{\"kernel\": \"bz\", \"memory\": {\"mib\": \"lots\"}}");
	assert_int_equal(bundle_load_config(dir, 0, &cfg, err), -EINVAL);
	fclose(err);
	assert_non_null(strstr(errbuf, "avp run: --bundle "));
	assert_non_null(strstr(errbuf, "config.json: memory.mib: expected an integer"));
	avp_config_free(&cfg);
}

static void test_spec_writes_once(void **state)
{
	struct jc_err e = { "" };
	char dir[PATH_MAX + 64];

	(void)state;
	make_dir("spec");
	snprintf(dir, sizeof(dir), "%s/spec", tmpdir);
	assert_int_equal(bundle_write_default(dir, &e), 0);
	assert_int_equal(bundle_write_default(dir, &e), -EEXIST);
	assert_non_null(strstr(e.text, "exists already"));
}

/* Two bundles under sys/ for system-file tests. */
static void make_system_bundles(const char *cpu_a, const char *cpu_b)
{
	char text[1024];

	make_dir("sys");
	make_dir("sys/a");
	make_dir("sys/b");
	write_file("sys/bz", "kernel");
	snprintf(text, sizeof(text),
		 "{\"kernel\": \"../bz\", \"critical\": true, \"cpus\": {\"count\": 1, \"affinity\": [%s]},"
		 " \"devices\": [{\"type\": \"net\", \"network\": \"lan\", \"mac\": \"52:54:00:00:00:01\"}]}",
		 cpu_a);
	write_file("sys/a/config.json", text);
	snprintf(text, sizeof(text),
		 "{\"kernel\": \"../bz\", \"critical\": true, \"cpus\": {\"count\": 2, \"affinity\": [%s]},"
		 " \"devices\": [{\"type\": \"net\", \"network\": \"lan\", \"mac\": \"52:54:00:00:00:02\"}]}",
		 cpu_b);
	write_file("sys/b/config.json", text);
}

static void sys_refused(const char *text, const char *want)
{
	char dir[PATH_MAX + 64];
	struct avp_system s;
	struct jc_err e = { "" };
	int ret;

	snprintf(dir, sizeof(dir), "%s/sys", tmpdir);
	ret = system_parse(text, strlen(text), dir, &s, &e);
	if (ret == 0 || !strstr(e.text, want))
		fail_msg("expected '%s', got %d '%s' for %s", want, ret, e.text, text);
}

static void test_system(void **state)
{
	const char *good = "{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}, {\"id\": \"b\", \"bundle\": \"b\"}],"
			   " \"networks\": [{\"name\": \"lan\", \"members\": [\"a\", \"b\"]}]}";
	char dir[PATH_MAX + 64];
	struct avp_system s;
	struct jc_err e = { "" };

	(void)state;
	make_system_bundles("0", "0, 0");
	/* Both critical and both on host CPU 0. */
	sys_refused(good, "vms[1].bundle: cpus.affinity[0]: host CPU 0 is reserved by critical VM \"a\" (vms[0])");
	write_file("sys/b/config.json",
		   "{\"kernel\": \"../bz\", \"cpus\": {\"count\": 1, \"affinity\": [0]},"
		   " \"devices\": [{\"type\": \"net\", \"network\": \"lan\", \"mac\": \"52:54:00:00:00:02\"}]}");
	/* A non-critical VM may share a critical VM's CPU. */
	snprintf(dir, sizeof(dir), "%s/sys", tmpdir);
	assert_int_equal(system_parse(good, strlen(good), dir, &s, &e), 0);
	assert_int_equal(s.nvms, 2);
	assert_int_equal(s.nnets, 1);
	assert_string_equal(s.nets[0].bridge, "avpbr-lan");
	assert_int_equal(s.nets[0].nmembers, 2);
	assert_string_equal(DEV(struct avp_net_cfg, s.vms[1].bundle.cfg, virtio_net_config, 0)->tap, "avp525400000002");
	system_free(&s);

	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}, {\"id\": \"a\", \"bundle\": \"b\"}]}",
		    "vms[1].id: duplicate ID \"a\" (vms[0] has it already)");
	sys_refused("{\"vms\": [{\"id\": \"-x\", \"bundle\": \"a\"}]}", "vms[0].id: \"-x\" is not a valid ID");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"nope\"}]}", "vms[0].bundle: nope:");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\", \"cpu\": 1}]}", "vms[0].cpu: unknown key");
	sys_refused("{\"vms\": []}", "vms: expected 1 to");
	sys_refused("{\"vm\": []}", "vm: unknown key");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"networks\": [{\"name\": \"lan\", \"members\": [\"a\", \"c\"]}]}",
		    "networks[0].members[1]: no VM \"c\" in vms");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"networks\": [{\"name\": \"lan\", \"members\": [\"a\", \"a\"]}]}",
		    "networks[0].members[1]: \"a\" is listed twice");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"networks\": [{\"name\": \"other\", \"members\": [\"a\"]}]}",
		    "networks[0].members[0]: VM \"a\" has no net device on \"other\"");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}], \"networks\": [{\"name\": \"Bad_Name\", \"members\": []}]}",
		    "networks[0].name: \"Bad_Name\"");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}]}",
		    "vms[0].bundle: devices[0].network: VM \"a\" is not a member of a network \"lan\"");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"}, {\"id\": \"a2\", \"bundle\": \"a\"}],"
		    " \"networks\": [{\"name\": \"lan\", \"members\": [\"a\", \"a2\"]}]}",
		    "vms[1].bundle: devices[0]: tap \"avp525400000001\" is also used by VM \"a\"");
	sys_refused("{\"vms\": [{\"id\": \"a\", \"bundle\": \"a\"},]}", "system file:1:");
}

/* sys/NAME: a bundle with the given devices (JSON array contents). */
static void devices_bundle(const char *name, const char *devices)
{
	char rel[64], text[512];

	snprintf(rel, sizeof(rel), "sys/%s", name);
	make_dir(rel);
	snprintf(rel, sizeof(rel), "sys/%s/config.json", name);
	snprintf(text, sizeof(text), "{\"kernel\": \"../bz\", \"devices\": [%s]}", devices);
	write_file(rel, text);
}

/* CAN buses (docs/can.md): members with a can device on the bus, each
 * with its own rules; mistakes named by JSON path, nothing started. */
static void test_system_can_buses(void **state)
{
	const char *two = "{\"vms\": [{\"id\": \"ca\", \"bundle\": \"ca\"}, {\"id\": \"cb\", \"bundle\": \"cb\"}],"
			  " \"can\": [%s]}";
	char dir[PATH_MAX + 64], text[2048];
	struct rt_can_bus buses[AVP_MAX_CANS];
	struct avp_system s;
	struct jc_err e = { "" };

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sys", tmpdir);
	mkdir(dir, 0755);
	write_file("sys/bz", "kernel");
	devices_bundle("ca", "{\"type\": \"can\", \"bus\": \"body\"}");
	devices_bundle("cb", "{\"type\": \"can\", \"bus\": \"body\", \"fd\": \"off\"}");
	devices_bundle("cn", "{\"type\": \"can\", \"if\": \"vcan9\"}");
	devices_bundle("c2", "{\"type\": \"can\", \"bus\": \"body\"}, {\"type\": \"can\", \"bus\": \"body\"}");

	snprintf(text, sizeof(text), two,
		 "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"], \"rules\": {\"cb\": "
		 "{\"tx\": [\"0x300-0x3ff\"], \"rx\": [\"std:0x100-0x1ff\", \"ext:0x18000000-0x18ffffff\"]}}}");
	assert_int_equal(system_parse(text, strlen(text), dir, &s, &e), 0);
	assert_int_equal(s.ncans, 1);
	assert_true(s.cans[0].create);
	assert_string_equal(s.cans[0].ifname, "avpcan-body");
	/* A member without rules sends and receives every ID. */
	assert_int_equal(system_can_buses(&s, 0, buses), 1);
	assert_string_equal(buses[0].bus, "body");
	assert_string_equal(buses[0].ifname, "avpcan-body");
	assert_string_equal(buses[0].tx, "");
	assert_string_equal(buses[0].rx, "");
	assert_int_equal(system_can_buses(&s, 1, buses), 1);
	assert_string_equal(buses[0].tx, "both:0x300-0x3ff");
	assert_string_equal(buses[0].rx, "std:0x100-0x1ff+ext:0x18000000-0x18ffffff");
	system_free(&s);

	/* A named interface is used as is; [] is no ID at all. */
	snprintf(text, sizeof(text), two,
		 "{\"name\": \"body\", \"interface\": \"can0\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"ca\": {\"tx\": []}}}");
	assert_int_equal(system_parse(text, strlen(text), dir, &s, &e), 0);
	assert_false(s.cans[0].create);
	assert_int_equal(system_can_buses(&s, 0, buses), 1);
	assert_string_equal(buses[0].ifname, "can0");
	assert_string_equal(buses[0].tx, "none");
	system_free(&s);

	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cx\"]}");
	sys_refused(text, "can[0].members[1]: no VM \"cx\" in vms");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"ca\"]}");
	sys_refused(text, "can[0].members[1]: \"ca\" is listed twice");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"infotainment\": {\"tx\": [\"0x1\"]}}}");
	sys_refused(text, "can[0].rules.infotainment: \"infotainment\" is not a member of CAN bus \"body\"");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"cb\": {\"tx\": [\"0x300-0x3ff\", \"std:0x350\"]}}}");
	sys_refused(text, "can[0].rules.cb.tx: \"std:0x350\" overlaps range 1");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"cb\": {\"rx\": [\"0x100\", \"0x2zz\"]}}}");
	sys_refused(text, "can[0].rules.cb.rx[1]: \"0x2zz\" is not a range");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"cb\": {\"rx\": [\"std:0x800\"]}}}");
	sys_refused(text, "can[0].rules.cb.rx[0]: \"std:0x800\": beyond the largest 11-bit");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"cb\": {\"tx\": [\"0x1+0x2\"]}}}");
	sys_refused(text, "can[0].rules.cb.tx[0]: \"0x1+0x2\": one range per entry");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"cb\": {\"send\": []}}}");
	sys_refused(text, "can[0].rules.cb.send: unknown key");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"],"
		 " \"rules\": {\"cb\": {\"tx\": [256]}}}");
	sys_refused(text, "can[0].rules.cb.tx[0]: expected a range string");
	snprintf(text, sizeof(text), two, "{\"name\": \"Body\", \"members\": []}");
	sys_refused(text, "can[0].name: \"Body\"");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"interface\": \"a/b\", \"members\": []}");
	sys_refused(text, "can[0].interface: \"a/b\" is not an interface name");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\", \"cb\"]},"
		 " {\"name\": \"body\", \"members\": []}");
	sys_refused(text, "can[1].name: duplicate CAN bus \"body\"");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"interface\": \"can0\", \"members\": [\"ca\", \"cb\"]},"
		 " {\"name\": \"chassis\", \"interface\": \"can0\", \"members\": []}");
	sys_refused(text, "can[1].interface: interface can0 is also CAN bus \"body\"'s");
	snprintf(text, sizeof(text), two, "{\"name\": \"body\", \"members\": [\"ca\"]}");
	sys_refused(text, "vms[1].bundle: devices[0].bus: VM \"cb\" is not a member of a CAN bus \"body\"");
	snprintf(text, sizeof(text), two, "{\"name\": \"chassis\", \"members\": [\"ca\"]}");
	sys_refused(text, "can[0].members[0]: VM \"ca\" has no can device on bus \"chassis\"");
	sys_refused("{\"vms\": [{\"id\": \"c2\", \"bundle\": \"c2\"}], \"can\": [{\"name\": \"body\","
		    " \"members\": [\"c2\"]}]}", "bus \"body\" is already used by another can device");
	sys_refused("{\"vms\": [{\"id\": \"ca\", \"bundle\": \"ca\"}], \"can\": {}}", "can: expected an array");
	/* A VM's own interface (no bus) needs no system. */
	snprintf(text, sizeof(text), "{\"vms\": [{\"id\": \"cn\", \"bundle\": \"cn\"}]}");
	if (system_parse(text, strlen(text), dir, &s, &e))
		fail_msg("%s", e.text);
	assert_int_equal(system_can_buses(&s, 0, buses), 0);
	system_free(&s);
}

/* sys/NAME: a bundle whose only device is vsock with cid and socket
 * (cid 0: no vsock device at all). */
static void vsock_bundle(const char *name, unsigned int cid, const char *socket)
{
	char rel[64], text[512];

	snprintf(rel, sizeof(rel), "sys/%s", name);
	make_dir(rel);
	snprintf(rel, sizeof(rel), "sys/%s/config.json", name);
	if (cid)
		snprintf(text, sizeof(text),
			 "{\"kernel\": \"../bz\", \"devices\": [{\"type\": \"rng\"},"
			 " {\"type\": \"vsock\", \"cid\": %u, \"socket\": \"%s\"}]}", cid, socket);
	else
		snprintf(text, sizeof(text), "{\"kernel\": \"../bz\"}");
	write_file(rel, text);
}

/* AVP-VSOCK-2: "links" give exactly the linked VMs routes to each other,
 * both ways; mistakes are named by JSON path. */
static void test_system_vsock_links(void **state)
{
	const char *three = "{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vb\", \"bundle\": \"vb\"},"
			    " {\"id\": \"vc\", \"bundle\": \"vc\"}], \"links\": [%s]}";
	char dir[PATH_MAX + 64], text[1024], want[PATH_MAX + 128];
	struct rt_vsock_peer peers[AVP_VSOCK_MAX_PEERS];
	struct avp_system s;
	struct jc_err e = { "" };

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sys", tmpdir);
	mkdir(dir, 0755); /* test_system may have made it */
	write_file("sys/bz", "kernel");
	vsock_bundle("va", 3, "va.sock");
	vsock_bundle("vb", 4, "vb.sock");
	vsock_bundle("vc", 5, "vc.sock");
	vsock_bundle("vn", 0, NULL);
	vsock_bundle("vdup", 3, "other.sock");
	vsock_bundle("vsame", 6, "../va/va.sock");
	/* Host port 1234 of va's guest would reach this VM (PATH_port). */
	vsock_bundle("vport", 7, "../va/va.sock_1234");

	/* a and b linked, c alone */
	snprintf(text, sizeof(text), three, "{\"$comment\": \"x\", \"vsock\": [\"va\", \"vb\"]}");
	assert_int_equal(system_parse(text, strlen(text), dir, &s, &e), 0);
	assert_true(s.vsock_link[0][1]);
	assert_true(s.vsock_link[1][0]);
	assert_false(s.vsock_link[0][2] || s.vsock_link[2][0] || s.vsock_link[1][2] ||
		     s.vsock_link[2][1] || s.vsock_link[0][0]);
	assert_int_equal(system_vsock_peers(&s, 0, peers), 1);
	assert_string_equal(peers[0].id, "vb");
	assert_int_equal(peers[0].cid, 4);
	snprintf(want, sizeof(want), "%s/vb/vb.sock", dir);
	assert_string_equal(peers[0].socket, want);
	assert_int_equal(system_vsock_peers(&s, 1, peers), 1);
	assert_string_equal(peers[0].id, "va");
	assert_int_equal(peers[0].cid, 3);
	assert_int_equal(system_vsock_peers(&s, 2, peers), 0);
	system_free(&s);

	/* one link of three: each reaches the two others; no links: nobody */
	snprintf(text, sizeof(text), three, "{\"vsock\": [\"vc\", \"va\", \"vb\"]}");
	assert_int_equal(system_parse(text, strlen(text), dir, &s, &e), 0);
	for (unsigned int v = 0; v < 3; v++)
		assert_int_equal(system_vsock_peers(&s, v, peers), 2);
	system_free(&s);
	snprintf(text, sizeof(text), three, "");
	assert_int_equal(system_parse(text, strlen(text), dir, &s, &e), 0);
	for (unsigned int v = 0; v < 3; v++)
		assert_int_equal(system_vsock_peers(&s, v, peers), 0);
	system_free(&s);

	snprintf(text, sizeof(text), three, "{\"vsock\": [\"va\", \"x\"]}");
	sys_refused(text, "links[0].vsock[1]: no VM \"x\" in vms");
	snprintf(text, sizeof(text), three, "{\"vsock\": [\"va\", \"vb\"]}, {\"vsock\": [\"vb\", \"vb\"]}");
	sys_refused(text, "links[1].vsock[1]: \"vb\" is listed twice");
	snprintf(text, sizeof(text), three, "{\"vsock\": [\"va\"]}");
	sys_refused(text, "links[0].vsock: a link joins at least 2 VMs");
	snprintf(text, sizeof(text), three, "{\"vsock\": [\"va\", 4]}");
	sys_refused(text, "links[0].vsock[1]: expected a VM ID string, got");
	snprintf(text, sizeof(text), three, "{\"shm\": [\"va\", \"vb\"]}");
	sys_refused(text, "links[0].shm: unknown key (expected one of: vsock)");
	snprintf(text, sizeof(text), three, "{}");
	sys_refused(text, "links[0].vsock: missing");
	snprintf(text, sizeof(text), three, "[\"va\", \"vb\"]");
	sys_refused(text, "links[0]: expected an object");
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}], \"links\": {}}",
		    "links: expected an array");
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vn\", \"bundle\": \"vn\"}],"
		    " \"links\": [{\"vsock\": [\"va\", \"vn\"]}]}",
		    "links[0].vsock[1]: VM \"vn\" has no vsock device");
	/* CIDs and sockets are unique in a system, linked or not */
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vd\", \"bundle\": \"vdup\"}]}",
		    "vms[1].bundle: devices[1].cid: CID 3 is also VM \"va\"'s (vms[0])");
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vs\", \"bundle\": \"vsame\"}]}",
		    "vms[1].bundle: devices[1].socket: ");
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vs\", \"bundle\": \"vsame\"}]}",
		    "is also VM \"va\"'s (vms[0])");
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vp\", \"bundle\": \"vport\"}]}",
		    "vms[1].bundle: devices[1].socket: ");
	sys_refused("{\"vms\": [{\"id\": \"va\", \"bundle\": \"va\"}, {\"id\": \"vp\", \"bundle\": \"vport\"}]}",
		    "is VM \"va\"'s socket (vms[0]) with _1234 appended: that guest's connections to host port 1234");
	sys_refused("{\"vms\": [{\"id\": \"vp\", \"bundle\": \"vport\"}, {\"id\": \"va\", \"bundle\": \"va\"}]}",
		    "with _1234 appended is VM \"vp\"'s socket (vms[0]): this guest's connections to host port 1234");
}

/* ---- runtime bookkeeping ----------------------------------------------- */

static void test_ids(void **state)
{
	(void)state;
	assert_int_equal(rt_id_valid("cluster"), 0);
	assert_int_equal(rt_id_valid("vm_1.a-b"), 0);
	assert_int_equal(rt_id_valid(""), -EINVAL);
	assert_int_equal(rt_id_valid(".hidden"), -EINVAL);
	assert_int_equal(rt_id_valid("-opt"), -EINVAL);
	assert_int_equal(rt_id_valid("a/b"), -EINVAL);
	assert_int_equal(rt_id_valid("a b"), -EINVAL);
	assert_int_equal(rt_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -EINVAL);
}

static void test_policy(void **state)
{
	struct rt_exit ex;

	(void)state;
	rt_exit_describe(0, &ex);
	assert_string_equal(ex.reason, "poweroff");
	assert_int_equal(ex.outcome, RT_OUT_CLEAN);
	rt_exit_describe(3 << 8, &ex);
	assert_string_equal(ex.reason, "reboot");
	assert_int_equal(ex.outcome, RT_OUT_FAILURE);
	rt_exit_describe(2 << 8, &ex);
	assert_string_equal(ex.reason, "crash");
	rt_exit_describe(1 << 8, &ex);
	assert_string_equal(ex.reason, "config-error");
	assert_int_equal(ex.outcome, RT_OUT_FATAL);
	rt_exit_describe(5 << 8, &ex);
	assert_string_equal(ex.reason, "signal");
	rt_exit_describe(6 << 8, &ex);
	assert_string_equal(ex.reason, "watchdog");
	rt_exit_describe(42 << 8, &ex);
	assert_string_equal(ex.reason, "exit-42");
	rt_exit_describe(9, &ex); /* died of SIGKILL */
	assert_string_equal(ex.reason, "killed");
	assert_int_equal(ex.outcome, RT_OUT_FAILURE);
	rt_exit_describe(15, &ex);
	assert_string_equal(ex.reason, "signal");

	assert_false(rt_should_restart(AVP_RESTART_NEVER, 0, RT_OUT_FAILURE, 0, false));
	assert_true(rt_should_restart(AVP_RESTART_ON_FAILURE, 0, RT_OUT_FAILURE, 0, false));
	assert_false(rt_should_restart(AVP_RESTART_ON_FAILURE, 0, RT_OUT_CLEAN, 0, false));
	assert_true(rt_should_restart(AVP_RESTART_ALWAYS, 0, RT_OUT_CLEAN, 0, false));
	assert_false(rt_should_restart(AVP_RESTART_ALWAYS, 0, RT_OUT_FATAL, 0, false));
	assert_false(rt_should_restart(AVP_RESTART_ALWAYS, 0, RT_OUT_FAILURE, 0, true));
	assert_true(rt_should_restart(AVP_RESTART_ON_FAILURE, 2, RT_OUT_FAILURE, 1, false));
	assert_false(rt_should_restart(AVP_RESTART_ON_FAILURE, 2, RT_OUT_FAILURE, 2, false));
	assert_true(rt_should_restart(AVP_RESTART_ALWAYS, 0, RT_OUT_FAILURE, 1000, false));

	assert_int_equal(rt_backoff_ms(100, 0), 100);
	assert_int_equal(rt_backoff_ms(100, 1), 200);
	assert_int_equal(rt_backoff_ms(100, 3), 800);
	assert_int_equal(rt_backoff_ms(1000, 10), 60000);
	assert_int_equal(rt_backoff_ms(1000, 4000000000u), 60000);
	assert_int_equal(rt_backoff_ms(0, 5), 0);
}

static void test_state_roundtrip(void **state)
{
	char root[PATH_MAX + 64], dir[PATH_MAX + 80];
	struct rt_state st, back;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	mkdir(root, 0755);
	snprintf(dir, sizeof(dir), "%s/vm1", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	memset(&st, 0, sizeof(st));
	strcpy(st.id, "vm1");
	strcpy(st.bundle, "/some/bundle");
	st.status = RT_RESTARTING;
	st.vm.pid = 1234;
	st.vm.start = 99;
	st.created = 1700000000;
	st.started = 1700000005;
	st.restarts = 2;
	strcpy(st.last_exit_reason, "reboot");
	st.restart = AVP_RESTART_ON_FAILURE;
	st.max_restarts = 3;
	st.backoff_ms = 250;
	st.shutdown_timeout_s = 4;
	st.critical = true;
	st.cpus = 2;
	st.affinity_set = true;
	st.affinity[0] = 1;
	st.affinity[1] = 0;
	st.sched_class = AVP_SCHED_FIFO;
	st.sched_priority = 50;
	st.memory_mib = 128;
	st.mem_reserve = true;
	st.nnets = 1;
	strcpy(st.taps[0], "avp525400000001");
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_int_equal(rt_state_read(root, "vm1", &back), 0);
	assert_string_equal(back.id, "vm1");
	assert_string_equal(back.bundle, "/some/bundle");
	assert_int_equal(back.status, RT_RESTARTING);
	assert_int_equal(back.vm.pid, 1234);
	assert_int_equal(back.vm.start, 99);
	assert_int_equal(back.created, 1700000000);
	assert_int_equal(back.started, 1700000005);
	assert_int_equal(back.stopped, 0);
	assert_int_equal(back.restarts, 2);
	assert_string_equal(back.last_exit_reason, "reboot");
	assert_int_equal(back.restart, AVP_RESTART_ON_FAILURE);
	assert_int_equal(back.max_restarts, 3);
	assert_int_equal(back.backoff_ms, 250);
	assert_int_equal(back.shutdown_timeout_s, 4);
	assert_true(back.critical);
	assert_true(back.affinity_set);
	assert_int_equal(back.affinity[0], 1);
	assert_int_equal(back.sched_class, AVP_SCHED_FIFO);
	assert_int_equal(back.sched_priority, 50);
	assert_int_equal(back.memory_mib, 128);
	assert_true(back.mem_reserve);
	assert_int_equal(back.nnets, 1);
	assert_string_equal(back.taps[0], "avp525400000001");
	/* No monitor and no VM process: the truth is "stopped". */
	assert_true(rt_state_reconcile(&back));
	assert_int_equal(back.status, RT_STOPPED);
	assert_string_equal(back.last_exit_reason, "vanished");
	assert_int_equal(rt_state_read(root, "nope", &back), -ENOENT);
}

static void test_proc_identity(void **state)
{
	struct rt_proc me, fake;
	pid_t child;
	int wstatus;

	(void)state;
	assert_int_equal(rt_proc_get(getpid(), &me), 0);
	assert_true(rt_proc_alive(&me));
	/* Same pid, other start time: a recycled pid is not ours. */
	fake = me;
	fake.start++;
	assert_false(rt_proc_alive(&fake));
	child = fork();
	if (child == 0)
		_exit(0);
	assert_true(child > 0);
	waitpid(child, &wstatus, 0);
	fake.pid = child;
	assert_false(rt_proc_alive(&fake));
}

/* The routes `avp system up` gives a VM survive state.json. */
static void test_state_vsock_peers(void **state)
{
	char root[PATH_MAX + 64], dir[PATH_MAX + 80];
	struct rt_state st, back;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	mkdir(root, 0755);
	snprintf(dir, sizeof(dir), "%s/vm2", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	memset(&st, 0, sizeof(st));
	strcpy(st.id, "vm2");
	st.npeers = 2;
	strcpy(st.peers[0].id, "b");
	st.peers[0].cid = 4;
	strcpy(st.peers[0].socket, "/srv/b/v.sock");
	strcpy(st.peers[1].id, "c");
	st.peers[1].cid = 4294967294u;
	strcpy(st.peers[1].socket, "/srv/c/v.sock");
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_int_equal(rt_state_read(root, "vm2", &back), 0);
	assert_int_equal(back.npeers, 2);
	assert_string_equal(back.peers[0].id, "b");
	assert_int_equal(back.peers[0].cid, 4);
	assert_string_equal(back.peers[0].socket, "/srv/b/v.sock");
	assert_int_equal(back.peers[1].cid, 4294967294u);
	assert_string_equal(back.peers[1].socket, "/srv/c/v.sock");
	/* and a state without any reads back as none */
	st.npeers = 0;
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_int_equal(rt_state_read(root, "vm2", &back), 0);
	assert_int_equal(back.npeers, 0);
}

/* Routes need a vsock device to route from; refused before anything is
 * made. */
static void test_create_linked_needs_vsock(void **state)
{
	char root[PATH_MAX + 64], bundle[PATH_MAX + 64], dir[PATH_MAX + 80];
	struct rt_vsock_peer peer = { "b", 4, "/srv/b/v.sock" };
	struct jc_err e = { "" };

	(void)state;
	make_dir("novs");
	write_file("novs/bz", "kernel");
	write_file("novs/config.json", "{\"kernel\": \"bz\"}");
	snprintf(root, sizeof(root), "%s/rtroot2", tmpdir);
	snprintf(bundle, sizeof(bundle), "%s/novs", tmpdir);
	assert_int_equal(rt_create_linked(root, "vm-n", bundle, &peer, 1, &e), -EINVAL);
	assert_non_null(strstr(e.text, "vsock links need a vsock device"));
	snprintf(dir, sizeof(dir), "%s/vm-n", root);
	assert_int_not_equal(access(dir, F_OK), 0);
}

/* VMs under one runtime root: no two share a vsock CID, and no socket is
 * another's PATH_port (its guest's host-port connections would reach the
 * other VM), in either order. */
static void test_create_vsock_collisions(void **state)
{
	char root[PATH_MAX + 64], bundle[PATH_MAX + 64], text[512];
	const char *cases[][3] = {
		/* bundle, its config's vsock, what the refusal says */
		{ "vport", "\"cid\": 4, \"socket\": \"../vbase/v.sock_52\"",
		  "is VM 'vm-base''s socket with _52 appended" },
		{ "vprefix", "\"cid\": 5, \"socket\": \"v\"",
		  "" },
		{ "vcid", "\"cid\": 3, \"socket\": \"w.sock\"", "CID 3 is also VM 'vm-base''s" },
		{ "vsame", "\"cid\": 6, \"socket\": \"../vbase/v.sock\"", "is also VM 'vm-base''s socket" },
	};
	struct jc_err e = { "" };

	(void)state;
	snprintf(root, sizeof(root), "%s/rtroot3", tmpdir);
	make_dir("vbase");
	write_file("vbase/bz", "kernel");
	write_file("vbase/config.json", "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"vsock\", "
				       "\"cid\": 3, \"socket\": \"v.sock\"}]}");
	snprintf(bundle, sizeof(bundle), "%s/vbase", tmpdir);
	assert_int_equal(rt_create(root, "vm-base", bundle, &e), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "%s", cases[i][0]);
		make_dir(rel);
		snprintf(rel, sizeof(rel), "%s/bz", cases[i][0]);
		write_file(rel, "kernel");
		snprintf(rel, sizeof(rel), "%s/config.json", cases[i][0]);
		snprintf(text, sizeof(text), "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"vsock\", %s}]}",
			 cases[i][1]);
		write_file(rel, text);
		snprintf(bundle, sizeof(bundle), "%s/%s", tmpdir, cases[i][0]);
		e.text[0] = '\0';
		if (!cases[i][2][0]) {
			/* "v" is no prefix of "v.sock" in the PATH_port sense. */
			assert_int_equal(rt_create(root, cases[i][0], bundle, &e), 0);
			assert_int_equal(rt_delete(root, cases[i][0], true, &e), 0);
			continue;
		}
		assert_int_equal(rt_create(root, cases[i][0], bundle, &e), -EINVAL);
		if (!strstr(e.text, cases[i][2]))
			fail_msg("%s: got '%s', want '%s'", cases[i][0], e.text, cases[i][2]);
	}
	/* The other way round: the new VM's socket with _8 is the old one's. */
	make_dir("vq");
	write_file("vq/bz", "kernel");
	write_file("vq/config.json", "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"vsock\", "
				   "\"cid\": 9, \"socket\": \"q.sock_8\"}]}");
	snprintf(bundle, sizeof(bundle), "%s/vq", tmpdir);
	assert_int_equal(rt_create(root, "vm-q", bundle, &e), 0);
	make_dir("vq2");
	write_file("vq2/bz", "kernel");
	write_file("vq2/config.json", "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"vsock\", "
				    "\"cid\": 10, \"socket\": \"../vq/q.sock\"}]}");
	snprintf(bundle, sizeof(bundle), "%s/vq2", tmpdir);
	e.text[0] = '\0';
	assert_int_equal(rt_create(root, "vm-q2", bundle, &e), -EINVAL);
	if (!strstr(e.text, "with _8 appended is VM 'vm-q''s socket"))
		fail_msg("vq2: got '%s'", e.text);
	assert_int_equal(rt_delete(root, "vm-q", true, &e), 0);
	assert_int_equal(rt_delete(root, "vm-base", true, &e), 0);
}

/* create (a real detached monitor, no VM is booted) -> a second create
 * with the same ID is refused -> kill before start -> delete. */
static void test_create_duplicate_kill_delete(void **state)
{
	char root[PATH_MAX + 64], bundle[PATH_MAX + 64];
	struct jc_err e = { "" };
	struct rt_state st;
	char **ids;
	size_t n;

	(void)state;
	make_dir("life");
	write_file("life/bz", "kernel");
	write_file("life/config.json", "{\"kernel\": \"bz\", \"restart\": {\"policy\": \"always\"}}");
	snprintf(root, sizeof(root), "%s/rtroot", tmpdir);
	snprintf(bundle, sizeof(bundle), "%s/life", tmpdir);
	assert_int_equal(rt_create(root, "vm-a", bundle, &e), 0);
	assert_int_equal(rt_state_get(root, "vm-a", &st, &e), 0);
	assert_int_equal(st.status, RT_CREATED);
	assert_true(rt_proc_alive(&st.monitor));
	assert_int_equal(st.vm.pid, 0);
	assert_int_equal(st.restart, AVP_RESTART_ALWAYS);

	e.text[0] = '\0';
	assert_int_equal(rt_create(root, "vm-a", bundle, &e), -EEXIST);
	assert_non_null(strstr(e.text, "a VM with ID 'vm-a' exists already"));
	e.text[0] = '\0';
	assert_int_equal(rt_create(root, "bad/id", bundle, &e), -EINVAL);
	assert_non_null(strstr(e.text, "ID 'bad/id' is not valid"));
	e.text[0] = '\0';
	assert_int_not_equal(rt_create(root, "vm-b", tmpdir, &e), 0);
	assert_non_null(strstr(e.text, "config.json: cannot open"));

	assert_int_equal(rt_list_ids(root, &ids, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "vm-a");
	free(ids[0]);
	free(ids);

	e.text[0] = '\0';
	assert_int_equal(rt_delete(root, "vm-a", false, &e), -EBUSY);
	assert_non_null(strstr(e.text, "is created"));
	assert_int_equal(rt_kill(root, "vm-a", "KILL", 5, &e), 0);
	assert_int_equal(rt_state_get(root, "vm-a", &st, &e), 0);
	assert_int_equal(st.status, RT_STOPPED);
	assert_string_equal(st.last_exit_reason, "never-started");
	assert_string_equal(st.stop_requested, "KILL");
	e.text[0] = '\0';
	assert_int_equal(rt_start(root, "vm-a", 0, &e), -EBUSY);
	assert_non_null(strstr(e.text, "only a created VM can be started"));
	e.text[0] = '\0';
	assert_int_equal(rt_kill(root, "vm-a", "TERM", 0, &e), -ESRCH);
	assert_int_equal(rt_delete(root, "vm-a", false, &e), 0);
	e.text[0] = '\0';
	assert_int_equal(rt_state_get(root, "vm-a", &st, &e), -ENOENT);
	assert_non_null(strstr(e.text, "no VM with ID 'vm-a'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_pty_and_socket),
		cmocka_unit_test(test_missing_kernel),
		cmocka_unit_test(test_syntax_line_column),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unsupported_device),
		cmocka_unit_test(test_other_devices),
		cmocka_unit_test(test_relative_bundle_dir_refused),
		cmocka_unit_test(test_default_spec_parses),
		cmocka_unit_test(test_load_checks_host),
		cmocka_unit_test(test_run_bundle_config),
		cmocka_unit_test(test_spec_writes_once),
		cmocka_unit_test(test_system),
		cmocka_unit_test(test_system_vsock_links),
		cmocka_unit_test(test_system_can_buses),
		cmocka_unit_test(test_state_vsock_peers),
		cmocka_unit_test(test_create_linked_needs_vsock),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_proc_identity),
		cmocka_unit_test(test_create_vsock_collisions),
		cmocka_unit_test(test_create_duplicate_kill_delete),
	};

	return cmocka_run_group_tests_name("bundle", tests, setup_tmp, teardown_tmp);
}
