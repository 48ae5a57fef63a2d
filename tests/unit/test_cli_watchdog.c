/* --watchdog on the command line: alone, with action= as its value or as
 * the next word, the rejections, and the help text's exit status 6. */
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
#include "avp/hw/watchdog.h"
#include "avp/vm.h"
#include "avp/vmm/machine.h"

#define WDT(c) ((const struct avp_watchdog_cfg *)avp_config_device(&(c), &watchdog_config, 0))

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

#define PARSE(p, ...)                                                         \
	do {                                                                  \
		const char *argv_[] = { "avp", __VA_ARGS__, NULL };           \
		parse(p, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_); \
	} while (0)

static void test_off_by_default(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "bz");
	assert_int_equal(p.ret, CLI_RUN);
	assert_null(WDT(p.cfg));
	avp_config_free(&p.cfg);
}

static void test_accepted_forms(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--watchdog", "--kernel", "bz");
	assert_int_equal(p.ret, CLI_RUN);
	assert_non_null(WDT(p.cfg));
	assert_int_equal(WDT(p.cfg)->action, AVP_WATCHDOG_EXIT);
	assert_string_equal(p.cfg.kernel, "bz");
	avp_config_free(&p.cfg);

	PARSE(&p, "run", "--kernel", "bz", "--watchdog");
	assert_int_equal(p.ret, CLI_RUN);
	assert_non_null(WDT(p.cfg));
	avp_config_free(&p.cfg);

	PARSE(&p, "run", "--kernel", "bz", "--watchdog=action=reset", "--cpus", "2");
	assert_int_equal(p.ret, CLI_RUN);
	assert_non_null(WDT(p.cfg));
	assert_int_equal(WDT(p.cfg)->action, AVP_WATCHDOG_RESET);
	assert_int_equal(p.cfg.cpus, 2);
	avp_config_free(&p.cfg);

	/* The value as the next word, then more options. */
	PARSE(&p, "run", "--watchdog", "action=reset", "--kernel", "bz", "--cpus", "3");
	assert_int_equal(p.ret, CLI_RUN);
	assert_int_equal(WDT(p.cfg)->action, AVP_WATCHDOG_RESET);
	assert_string_equal(p.cfg.kernel, "bz");
	assert_int_equal(p.cfg.cpus, 3);
	avp_config_free(&p.cfg);

	PARSE(&p, "run", "--kernel", "bz", "--watchdog", "action=exit");
	assert_int_equal(p.ret, CLI_RUN);
	assert_non_null(WDT(p.cfg));
	assert_int_equal(WDT(p.cfg)->action, AVP_WATCHDOG_EXIT);
	avp_config_free(&p.cfg);
}

static void test_rejections(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "bz", "--watchdog", "action=poweroff");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "--watchdog"));
	assert_non_null(strstr(p.err, "action=poweroff"));
	{
		/* One line, as every rejection. */
		char *nl = strchr(p.err, '\n');

		assert_non_null(nl);
		assert_string_equal(nl, "\n");
	}
	avp_config_free(&p.cfg);

	PARSE(&p, "run", "--kernel", "bz", "--watchdog=5");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "--watchdog"));
	avp_config_free(&p.cfg);

	/* A next word that is not action=... is not the option's value. */
	PARSE(&p, "run", "--kernel", "bz", "--watchdog", "reset");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "unexpected argument 'reset'"));
	avp_config_free(&p.cfg);
}

static void test_help_mentions_status_6(void **state)
{
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	(void)state;
	memset(buf, 0, sizeof(buf));
	cli_run_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "--watchdog"));
	assert_non_null(strstr(buf, "6 watchdog expired"));
	assert_int_equal(AVP_EXIT_WATCHDOG, 6);
}

/* The restart loop (src/cli/main.c through machine_boot_again): a reset
 * on expiry boots again with FIRED set, a reboot with it clear, anything
 * else ends. */
static void test_boot_again(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "run", "--kernel", "bz", "--watchdog", "action=reset", "--on-reboot", "restart");
	assert_int_equal(p.ret, CLI_RUN);
	assert_true(machine_boot_again(&p.cfg, VM_EXIT_WATCHDOG));
	assert_true(WDT(p.cfg)->fired_before);
	assert_true(machine_boot_again(&p.cfg, VM_EXIT_REBOOT));
	assert_false(WDT(p.cfg)->fired_before);
	assert_false(machine_boot_again(&p.cfg, VM_EXIT_POWEROFF));
	assert_false(machine_boot_again(&p.cfg, VM_EXIT_CRASH));
	avp_config_free(&p.cfg);

	PARSE(&p, "run", "--kernel", "bz", "--watchdog");
	assert_false(machine_boot_again(&p.cfg, VM_EXIT_WATCHDOG)); /* action=exit */
	assert_false(machine_boot_again(&p.cfg, VM_EXIT_REBOOT));   /* --on-reboot exit */
	avp_config_free(&p.cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_accepted_forms),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_help_mentions_status_6),
		cmocka_unit_test(test_boot_again),
	};

	return cmocka_run_group_tests_name("cli-watchdog", tests, NULL, NULL);
}
