/* The strict JSON reader of bundles and system files (src/runtime/
 * jsoncheck.c): what may follow the value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "avp/runtime/jsoncheck.h"

static int parse(const char *text, size_t len, struct jc_err *e)
{
	struct json_object *o = NULL;
	int ret;

	memset(e, 0, sizeof(*e));
	ret = jc_parse_text(text, len, "f.json", &o, e);
	json_object_put(o);
	return ret;
}

/* Whitespace may follow the value; NUL bytes may not: they are not JSON
 * whitespace (strchr finds the terminating NUL of its set, so they used
 * to pass as such; noticed while writing fuzz_bundle). */
static void test_only_whitespace_after_value(void **state)
{
	static const char ws[] = "{\"a\":1} \t\r\n";
	static const char nul[] = "{\"a\":1}\0\0";
	static const char nul_ws[] = "{\"a\":1} \0";
	struct jc_err e;

	(void)state;
	assert_int_equal(parse(ws, sizeof(ws) - 1, &e), 0);
	assert_int_equal(parse(nul, sizeof(nul) - 1, &e), -EINVAL);
	assert_non_null(strstr(e.text, "f.json:1:8: JSON syntax error: unexpected text after"));
	assert_int_equal(parse(nul_ws, sizeof(nul_ws) - 1, &e), -EINVAL);
	assert_non_null(strstr(e.text, "f.json:1:9:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_whitespace_after_value),
	};

	return cmocka_run_group_tests_name("jsoncheck", tests, NULL, NULL);
}
