/* Command-line parsing: accepted forms fill the config; everything else is
 * refused with a one-line message naming the option. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"
#include "avp/config/options.h"
#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"

/* The config's devices, by type. */
#define DISK(c, i) ((const struct avp_disk_cfg *)avp_config_device(&(c), &virtio_blk_config, (i)))
#define NET(c, i) ((const struct avp_net_cfg *)avp_config_device(&(c), &virtio_net_config, (i)))
#define CONSOLE(c) ((const struct avp_chardev_cfg *)avp_config_device(&(c), &virtio_console_config, 0))
#define COUNT(c, t) avp_config_count(&(c), &(t))

struct parsed {
	struct avp_config cfg;
	int ret;
	char err[512];
};

static void parse(struct parsed *p, int argc, const char **argv)
{
	FILE *err = fmemopen(p->err, sizeof(p->err) - 1, "w");

	memset(p->err, 0, sizeof(p->err));
	avp_config_init(&p->cfg);
	p->ret = cli_parse(argc, (char **)argv, &p->cfg, err);
	fclose(err);
}

#define PARSE(p, ...)                                                   \
	do {                                                            \
		const char *argv_[] = { "avp", __VA_ARGS__, NULL };     \
		parse(p, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_); \
	} while (0)

static void test_full_run_line(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "bz", "--initrd", "init.img", "--cmdline", "console=ttyS0",
	      "--cpus", "2", "--memory", "512", "--disk", "root.img", "--disk", "data.img,ro",
	      "--net", "tap=avp0,mac=52:54:00:12:34:56", "--rng", "--console", "file:/tmp/c",
	      "--serial", "none", "--on-reboot", "restart", "--timing", "--transport", "pci");
	assert_int_equal(p.ret, CLI_RUN);
	assert_string_equal(p.cfg.kernel, "bz");
	assert_string_equal(p.cfg.initrd, "init.img");
	assert_string_equal(p.cfg.cmdline, "console=ttyS0");
	assert_int_equal(p.cfg.cpus, 2);
	assert_int_equal(p.cfg.memory_mib, 512);
	assert_int_equal(COUNT(p.cfg, virtio_blk_config), 2);
	assert_false(DISK(p.cfg, 0)->read_only);
	assert_true(DISK(p.cfg, 1)->read_only);
	assert_string_equal(DISK(p.cfg, 1)->path, "data.img");
	assert_int_equal(COUNT(p.cfg, virtio_net_config), 1);
	assert_string_equal(NET(p.cfg, 0)->tap, "avp0");
	assert_true(NET(p.cfg, 0)->mac_set);
	assert_int_equal(NET(p.cfg, 0)->mac[5], 0x56);
	assert_int_equal(COUNT(p.cfg, virtio_rng_config), 1);
	assert_int_equal(CONSOLE(p.cfg)->kind, AVP_CHR_FILE);
	assert_string_equal(CONSOLE(p.cfg)->path, "/tmp/c");
	assert_int_equal(p.cfg.serial.kind, AVP_CHR_NONE);
	assert_int_equal(p.cfg.on_reboot, AVP_REBOOT_RESTART);
	assert_true(p.cfg.timing);
	assert_int_equal(p.cfg.transport, AVP_TRANSPORT_PCI);
	avp_config_free(&p.cfg);
}

static void test_defaults_help_version(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "bz");
	assert_int_equal(p.ret, CLI_RUN);
	assert_int_equal(p.cfg.cpus, 1);
	assert_int_equal(p.cfg.memory_mib, 256);
	assert_int_equal(p.cfg.serial.kind, AVP_CHR_STDIO);
	assert_null(CONSOLE(p.cfg));
	assert_int_equal(p.cfg.transport, AVP_TRANSPORT_MMIO);
	avp_config_free(&p.cfg);
	PARSE(&p, "--help");
	assert_int_equal(p.ret, CLI_HELP);
	PARSE(&p, "--version");
	assert_int_equal(p.ret, CLI_VERSION);
	PARSE(&p, "run", "--help");
	assert_int_equal(p.ret, CLI_RUN_HELP);
	avp_config_free(&p.cfg);
}

struct bad_case {
	const char *argv[8];
	const char *message_part;
};

static void test_rejections(void **state)
{
	static const struct bad_case cases[] = {
		{ { "run" }, "--kernel is required" },
		{ { "run", "--kernel", "k", "--cpus", "0" }, "--cpus" },
		{ { "run", "--kernel", "k", "--cpus", "65" }, "--cpus" },
		{ { "run", "--kernel", "k", "--cpus", "two" }, "--cpus" },
		{ { "run", "--kernel", "k", "--cpus", "-1" }, "--cpus" },
		{ { "run", "--kernel", "k", "--memory", "16" }, "--memory" },
		{ { "run", "--kernel", "k", "--memory", "99999999999999999999" }, "--memory" },
		{ { "run", "--kernel", "k", "--disk", ",ro" }, "--disk" },
		{ { "run", "--kernel", "k", "--disk", "a,rx" }, "--disk" },
		{ { "run", "--kernel", "k", "--disk", "a", "--disk", "a" }, "twice" },
		{ { "run", "--kernel", "k", "--net", "avp0" }, "--net" },
		{ { "run", "--kernel", "k", "--net", "tap=a,mac=zz:54:00:12:34:56" }, "--net" },
		{ { "run", "--kernel", "k", "--net", "tap=a,mac=01:00:00:00:00:01" }, "--net" },
		{ { "run", "--kernel", "k", "--net", "tap=a,mac=52:54:00:12:34" }, "--net" },
		{ { "run", "--kernel", "k", "--serial", "tcp:1" }, "--serial" },
		{ { "run", "--kernel", "k", "--on-reboot", "maybe" }, "--on-reboot" },
		{ { "run", "--kernel", "k", "--transport", "virtio" }, "--transport: expected mmio or pci" },
		{ { "run", "--kernel", "k", "--bogus" }, "unknown option" },
		{ { "run", "--kernel" }, "needs a value" },
		{ { "run", "--kernel", "k", "extra" }, "unexpected argument" },
		{ { "frobnicate" }, "unknown command" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[10] = { "avp" };
		int argc = 1;
		struct parsed p;
		FILE *err;

		while (cases[i].argv[argc - 1]) {
			argv[argc] = cases[i].argv[argc - 1];
			argc++;
		}
		memset(p.err, 0, sizeof(p.err));
		err = fmemopen(p.err, sizeof(p.err) - 1, "w");
		avp_config_init(&p.cfg);
		p.ret = cli_parse(argc, (char **)argv, &p.cfg, err);
		fclose(err);
		if (p.ret != -EINVAL || !strstr(p.err, cases[i].message_part))
			fail_msg("case %zu (%s): ret %d, message '%s'", i, cases[i].message_part, p.ret, p.err);
		/* Exactly one line. */
		assert_non_null(strchr(p.err, '\n'));
		assert_null(strchr(strchr(p.err, '\n') + 1, '\n'));
		avp_config_free(&p.cfg);
	}
}

static void test_long_cmdline(void **state)
{
	struct parsed p;
	char *line = malloc(1 << 20);

	(void)state;
	memset(line, 'a', (1 << 20) - 1);
	line[(1 << 20) - 1] = 0;
	PARSE(&p, "run", "--kernel", "k", "--cmdline", line);
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "too long"));
	avp_config_free(&p.cfg);
	free(line);
}

static void test_mac_parser(void **state)
{
	uint8_t mac[6];

	(void)state;
	assert_int_equal(avp_parse_mac("52:54:00:ab:CD:ef", mac), 0);
	assert_int_equal(mac[3], 0xab);
	assert_int_equal(mac[4], 0xcd);
	assert_int_equal(avp_parse_mac("52:54:00:ab:CD:ef:", mac), -EINVAL);
	assert_int_equal(avp_parse_mac("52:54:00:ab:CD: f", mac), -EINVAL);
	assert_int_equal(avp_parse_mac("52-54-00-ab-cd-ef", mac), -EINVAL);
	assert_int_equal(avp_parse_mac("", mac), -EINVAL);
}

/* getopt_long would take any unambiguous prefix: --cpu 2 as --cpus 2. */
static void test_exact_names(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "k", "--cpu", "2");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "unknown option '--cpu': did you mean --cpus?"));
	avp_config_free(&p.cfg);
	PARSE(&p, "run", "--kern=k");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "'--kern'"));
	avp_config_free(&p.cfg);
	PARSE(&p, "run", "--kernel=k", "--cpus=2", "--dis", "a.img");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "did you mean --disk?"));
	avp_config_free(&p.cfg);
	PARSE(&p, "run", "--kernel=k", "--cpus=2", "-v", "--rng");
	assert_int_equal(p.ret, CLI_RUN);
	assert_int_equal(p.cfg.cpus, 2);
	assert_int_equal(COUNT(p.cfg, virtio_rng_config), 1);
	avp_config_free(&p.cfg);
}

/* The shared device-option grammar: ",," is a comma, empty items and
 * repeated keys are mistakes, one message per refusal. */
static void test_option_grammar(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "k", "--disk", "a,,b.img,ro", "--disk", "c,,");
	assert_int_equal(p.ret, CLI_RUN);
	assert_string_equal(DISK(p.cfg, 0)->path, "a,b.img");
	assert_true(DISK(p.cfg, 0)->read_only);
	assert_string_equal(DISK(p.cfg, 1)->path, "c,");
	assert_false(DISK(p.cfg, 1)->read_only);
	avp_config_free(&p.cfg);
	const char *bad[] = { "a.img,", ",a.img", "a.img,,,", "a.img,ro,ro", "a.img,ro,rw", "",
			      "a.img,rx" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&p, "run", "--kernel", "k", "--disk", bad[i]);
		if (p.ret != -EINVAL || !strstr(p.err, "--disk: expected PATH[,ro]"))
			fail_msg("--disk '%s': %d '%s'", bad[i], p.ret, p.err);
		avp_config_free(&p.cfg);
	}
	PARSE(&p, "run", "--kernel", "k", "--net", "tap=t0,tap=t1");
	assert_int_equal(p.ret, -EINVAL);
	avp_config_free(&p.cfg);
	PARSE(&p, "run", "--kernel", "k", "--rng", "--rng");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "--rng: only one rng device"));
	avp_config_free(&p.cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_run_line),
		cmocka_unit_test(test_defaults_help_version),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_long_cmdline),
		cmocka_unit_test(test_mac_parser),
		cmocka_unit_test(test_exact_names),
		cmocka_unit_test(test_option_grammar),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
