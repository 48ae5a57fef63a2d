/* tests/unit/support/config_helper.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>

#include "avp/cli.h"
#include "support/config_helper.h"

int test_try_device(struct avp_config *cfg, const struct avp_config_type *t, const char *text,
		    struct avp_config_err *e)
{
	return cli_add_device(cfg, t, text, e);
}

void *test_add_device(struct avp_config *cfg, const struct avp_config_type *t, const char *text)
{
	struct avp_config_err e;
	int ret = test_try_device(cfg, t, text, &e);

	if (ret)
		fail_msg("--%s %s refused (%d): %s", t->name, text ? text : "", ret, e.text);
	return avp_config_device(cfg, t, avp_config_count(cfg, t) - 1);
}
