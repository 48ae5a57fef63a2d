/* tests/unit/support/rt_fixture.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "avp/runtime/lifecycle.h"
#include "avp/runtime/monitor.h"
#include "support/rt_fixture.h"

char rtfx_tmpdir[256];
char rtfx_root[300];

int rtfx_setup(void **state)
{
	(void)state;
	snprintf(rtfx_tmpdir, sizeof(rtfx_tmpdir), "/tmp/avp-test-rt.XXXXXX");
	if (!mkdtemp(rtfx_tmpdir))
		return -1;
	snprintf(rtfx_root, sizeof(rtfx_root), "%s/root", rtfx_tmpdir);
	return 0;
}

int rtfx_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rtfx_tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

void rtfx_write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

void rtfx_create_vm(const char *id, const char *config, const char *body, unsigned long long cap)
{
	static char script[PATH_MAX + 32];
	char bundle[PATH_MAX], path[PATH_MAX + 32], text[8192];
	struct jc_err e = { "" };

	snprintf(bundle, sizeof(bundle), "%s/b-%s", rtfx_tmpdir, id);
	assert_int_equal(mkdir(bundle, 0755), 0);
	snprintf(path, sizeof(path), "%s/bz", bundle);
	rtfx_write_text(path, "kernel", 0644);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	rtfx_write_text(path, config, 0644);
	/* The bundle directory doubles as the script's scratch space. */
	snprintf(script, sizeof(script), "%s/vmm.sh", bundle);
	snprintf(text, sizeof(text), "#!/bin/sh\ncd '%s'\n%s", bundle, body);
	rtfx_write_text(script, text, 0755);
	/* The monitor is forked from this process: it inherits this. */
	rt_vmm_program = script;
	assert_int_equal(rt_create_capped(rtfx_root, id, bundle, NULL, 0, cap, &e), 0);
}
