/* --seccomp, --jail, --uid, --gid on the command line, and the jail's
 * up-front checks (jail_check). The jail itself needs root and a real VM:
 * tests/realguest/jail.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/cli.h"
#include "avp/jail.h"

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

#define PARSE(p, ...)                                                           \
	do {                                                                    \
		const char *argv_[] = { "avp", "run", "--kernel", "bz", __VA_ARGS__, NULL }; \
		parse(p, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);  \
	} while (0)

static void test_seccomp_option(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "--timing");
	assert_int_equal(p.ret, CLI_RUN);
	assert_int_equal(p.cfg.seccomp, AVP_SECCOMP_KILL); /* on by default */
	avp_config_free(&p.cfg);
	PARSE(&p, "--seccomp=log");
	assert_int_equal(p.ret, CLI_RUN);
	assert_int_equal(p.cfg.seccomp, AVP_SECCOMP_LOG);
	avp_config_free(&p.cfg);
	PARSE(&p, "--seccomp", "off");
	assert_int_equal(p.cfg.seccomp, AVP_SECCOMP_OFF);
	avp_config_free(&p.cfg);
	PARSE(&p, "--seccomp=off", "--seccomp=kill");
	assert_int_equal(p.cfg.seccomp, AVP_SECCOMP_KILL);
	avp_config_free(&p.cfg);
	PARSE(&p, "--seccomp=strict");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "--seccomp: expected kill, log or off, got 'strict'"));
	avp_config_free(&p.cfg);
}

static void test_jail_options(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "--jail", "/srv/avp/vm1", "--uid", "65534", "--gid=100");
	assert_int_equal(p.ret, CLI_RUN);
	assert_true(p.cfg.jail.enabled);
	assert_string_equal(p.cfg.jail.dir, "/srv/avp/vm1");
	assert_int_equal(p.cfg.jail.uid, 65534);
	assert_int_equal(p.cfg.jail.gid, 100);
	avp_config_free(&p.cfg);
	PARSE(&p, "--timing");
	assert_false(p.cfg.jail.enabled); /* optional */
	avp_config_free(&p.cfg);
}

static void test_jail_option_errors(void **state)
{
	static const struct {
		const char *args[4];
		const char *message_part;
	} cases[] = {
		{ { "--jail", "/j", NULL }, "--jail needs --uid and --gid" },
		{ { "--jail", "/j", "--uid", "1" }, "--jail needs --uid and --gid" },
		{ { "--uid", "1", "--gid", "1" }, "--uid and --gid only apply with --jail" },
		{ { "--jail", "", NULL }, "--jail: expected a directory path" },
		{ { "--uid", "-1", NULL }, "--uid: expected a number from 0 to 4294967294, got '-1'" },
		{ { "--gid", "4294967295", NULL }, "--gid: expected a number from 0 to 4294967294" },
		{ { "--uid", "nobody", NULL }, "--uid: expected a number" },
	};
	char *long_path = malloc(AVP_MAX_JAIL_PATH + 1);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[9] = { "avp", "run", "--kernel", "bz" };
		int argc = 4;
		struct parsed p;

		for (int k = 0; k < 4 && cases[i].args[k]; k++)
			argv[argc++] = cases[i].args[k];
		parse(&p, argc, argv);
		if (p.ret != -EINVAL || !strstr(p.err, cases[i].message_part))
			fail_msg("case %zu: ret %d, message '%s', expected '%s'", i, p.ret, p.err,
				 cases[i].message_part);
		avp_config_free(&p.cfg);
	}
	assert_non_null(long_path);
	memset(long_path, 'a', AVP_MAX_JAIL_PATH);
	long_path[AVP_MAX_JAIL_PATH] = '\0';
	{
		struct parsed p;

		PARSE(&p, "--jail", long_path, "--uid", "1", "--gid", "1");
		assert_int_equal(p.ret, -EINVAL);
		assert_non_null(strstr(p.err, "at most 4095 bytes"));
		avp_config_free(&p.cfg);
	}
	free(long_path);
}

static void jail_cfg(struct avp_config *cfg, const char *dir)
{
	avp_config_init(cfg);
	cfg->jail.enabled = true;
	snprintf(cfg->jail.dir, sizeof(cfg->jail.dir), "%s", dir);
	cfg->jail.uid = cfg->jail.gid = 65534;
	cfg->jail.uid_set = cfg->jail.gid_set = true;
}

static void test_jail_check(void **state)
{
	char tmp[] = "/tmp/avp-test-jail.XXXXXX";
	char path[128];
	struct avp_config cfg;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmp));

	/* Missing: created, 0700. */
	snprintf(path, sizeof(path), "%s/root", tmp);
	jail_cfg(&cfg, path);
	assert_int_equal(jail_check(&cfg), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Existing: fine, and left as it is. */
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(jail_check(&cfg), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(rmdir(path), 0);

	/* A file. */
	snprintf(path, sizeof(path), "%s/file", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	jail_cfg(&cfg, path);
	assert_int_equal(jail_check(&cfg), -ENOTDIR);
	assert_int_equal(unlink(path), 0);

	/* Parent missing: not created recursively. */
	snprintf(path, sizeof(path), "%s/no/such", tmp);
	jail_cfg(&cfg, path);
	assert_int_equal(jail_check(&cfg), -ENOENT);

	/* The host's root, even spelled differently. */
	jail_cfg(&cfg, "/tmp/..");
	assert_int_equal(jail_check(&cfg), -EINVAL);

	/* IDs missing (a config not made by the CLI). */
	jail_cfg(&cfg, tmp);
	cfg.jail.gid_set = false;
	assert_int_equal(jail_check(&cfg), -EINVAL);

	/* No jail: nothing to check. */
	avp_config_init(&cfg);
	assert_int_equal(jail_check(&cfg), 0);
	assert_int_equal(jail_enter(&cfg), 0);

	assert_int_equal(rmdir(tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seccomp_option),
		cmocka_unit_test(test_jail_options),
		cmocka_unit_test(test_jail_option_errors),
		cmocka_unit_test(test_jail_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
