/* Control-socket request parsing and reply encoding (src/api/request.c):
 * every way a line can be wrong gets -EINVAL (or -E2BIG) and a reason,
 * and good requests come out intact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/api.h"

static int parse(const char *line, struct api_request *req, char *err)
{
	return api_request_parse(line, strlen(line), req, err, 160);
}

static void expect_bad(const char *line, const char *reason_part)
{
	struct api_request req;
	char err[160] = "";

	assert_int_equal(parse(line, &req, err), -EINVAL);
	if (!strstr(err, reason_part))
		fail_msg("'%s': reason '%s' lacks '%s'", line, err, reason_part);
	assert_null(req.args);
	assert_null(req.id);
}

static void test_good_requests(void **state)
{
	struct api_request req;
	char err[160];
	json_object *v;

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"status\"}", &req, err), 0);
	assert_string_equal(req.cmd, "status");
	assert_null(req.args);
	api_request_free(&req);

	assert_int_equal(parse("  {\"cmd\":\"input\",\"args\":{\"key\":\"KEY_A\"},\"id\":7}  \r", &req,
			       err),
			 0);
	assert_string_equal(req.cmd, "input");
	assert_non_null(req.args);
	assert_true(json_object_object_get_ex(req.args, "key", &v));
	assert_string_equal(json_object_get_string(v), "KEY_A");
	assert_int_equal(json_object_get_int(req.id), 7);
	api_request_free(&req);

	/* null args is no args; string ids are fine */
	assert_int_equal(parse("{\"args\":null,\"cmd\":\"kill\",\"id\":\"x1\"}", &req, err), 0);
	assert_null(req.args);
	assert_string_equal(json_object_get_string(req.id), "x1");
	api_request_free(&req);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_bad("", "empty");
	expect_bad("   ", "empty");
	expect_bad("{", "malformed JSON");
	expect_bad("{\"cmd\":\"status\"", "malformed JSON");
	expect_bad("{cmd:\"status\"}", "malformed JSON");
	expect_bad("{'cmd':'status'}", "malformed JSON");
	expect_bad("\x01\x02garbage", "malformed JSON");
	/* json-c's strict mode or our own check: either way, a reason */
	expect_bad("{\"cmd\":\"status\"} {\"cmd\":\"kill\"}", "JSON");
	expect_bad("{\"cmd\":\"status\"}x", "JSON");
	expect_bad("[\"status\"]", "JSON object");
	expect_bad("\"status\"", "JSON object");
	expect_bad("42", "JSON object");
	/* deep nesting stops at the depth limit, not at the stack's end */
	{
		char deep[200];
		struct api_request req;
		char err[160];
		size_t n = 0;

		n += (size_t)snprintf(deep, sizeof(deep), "{\"cmd\":\"x\",\"args\":");
		for (int i = 0; i < 40; i++)
			deep[n++] = '[';
		deep[n] = 0;
		assert_int_equal(parse(deep, &req, err), -EINVAL);
		assert_non_null(strstr(err, "nested"));
	}
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_bad("{}", "missing \"cmd\"");
	expect_bad("{\"args\":{}}", "missing \"cmd\"");
	expect_bad("{\"cmd\":7}", "must be a string");
	expect_bad("{\"cmd\":null}", "must be a string");
	expect_bad("{\"cmd\":[\"status\"]}", "must be a string");
	expect_bad("{\"cmd\":\"\"}", "1 to 64");
	expect_bad("{\"cmd\":\"status now\"}", "letters, digits");
	expect_bad("{\"cmd\":\"st\\u0000atus\"}", "letters, digits");
	expect_bad("{\"cmd\":\"status\",\"args\":[1,2]}", "\"args\" must be a JSON object");
	expect_bad("{\"cmd\":\"status\",\"args\":\"x\"}", "\"args\" must be a JSON object");
	expect_bad("{\"cmd\":\"status\",\"id\":{}}", "\"id\" must be");
	expect_bad("{\"cmd\":\"status\",\"arg\":{}}", "unknown field \"arg\"");
	{
		char longcmd[100];

		memset(longcmd, 0, sizeof(longcmd));
		strcpy(longcmd, "{\"cmd\":\"");
		memset(longcmd + 8, 'a', 65);
		strcat(longcmd, "\"}");
		expect_bad(longcmd, "1 to 64");
	}
}

/* An error message goes into a one-line reply and the server's log, so a
 * field name from the client must not bring its newlines, control bytes
 * or arbitrary length along (fuzz_api_request found "\u000a" in a key:
 * fuzz/corpus/api_request/regress-invariant-1). */
static void expect_one_line(const char *line, const char *reason_part)
{
	struct api_request req;
	char err[160];

	memset(err, 0x55, sizeof(err));
	assert_int_equal(api_request_parse(line, strlen(line), &req, err, sizeof(err)), -EINVAL);
	assert_non_null(memchr(err, 0, sizeof(err)));
	if (!err[0] || strchr(err, '\n') || strchr(err, '\r'))
		fail_msg("'%s': reason '%s' is empty or not one line", line, err);
	for (const char *c = err; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			fail_msg("'%s': reason holds byte 0x%02x", line, (unsigned char)*c);
	if (!strstr(err, reason_part))
		fail_msg("'%s': reason '%s' lacks '%s'", line, err, reason_part);
	assert_null(req.args);
	assert_null(req.id);
}

static void test_messages_one_line(void **state)
{
	static const char finding[] = "{\"\\u000args\":{}}";
	static const char raw[] = "{\"a\\tb\xc3\xa9\x7f\":1}";
	char longkey[200];

	(void)state;
	expect_one_line(finding, "unknown field \"\\x0args\"");
	expect_one_line("{\"x\\r\\ny\":1}", "unknown field \"x\\x0d\\x0ay\"");
	expect_one_line(raw, "unknown field \"a\\x09b\\xc3\\xa9\\x7f\"");
	expect_one_line("{\"q\\\"\\\\\":1}", "unknown field \"q\\x22\\x5c\"");
	/* json-c cuts a key at an escaped NUL: still a message that says so */
	expect_one_line("{\"\\u0000x\":1}", "unknown field \"\"");
	/* a long name is cut, and the message says it was */
	snprintf(longkey, sizeof(longkey), "{\"%0150d\":1}", 0);
	expect_one_line(longkey, "...\" (a request");
}

static void test_sizes_and_nul(void **state)
{
	struct api_request req;
	char err[160];
	size_t n = API_MAX_REQUEST + 1;
	char *big = malloc(n + 1);
	static const char line[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"kill\"}";

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"cmd\":\"status\"}", 16);
	big[n] = 0;
	assert_int_equal(api_request_parse(big, n, &req, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "too long"));
	/* exactly the limit is fine */
	assert_int_equal(api_request_parse(big, API_MAX_REQUEST, &req, err, sizeof(err)), 0);
	api_request_free(&req);
	free(big);

	assert_int_equal(api_request_parse(line, sizeof(line) - 1, &req, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	/* NULL err is allowed */
	assert_int_equal(api_request_parse("{", 1, &req, NULL, 0), -EINVAL);
}

static void test_replies(void **state)
{
	struct api_request req;
	char err[160];
	json_object *reply, *back, *v;
	size_t len;
	char *line;

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"status\",\"id\":\"abc\"}", &req, err), 0);
	reply = api_reply_new(&req);
	json_object_object_add(reply, "text", json_object_new_string("two\nlines/slash"));
	line = api_reply_format(reply, &len);
	assert_non_null(line);
	assert_int_equal(len, strlen(line));
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one line */
	assert_int_equal(strncmp(line, "{\"ok\":true", 10), 0);
	back = json_tokener_parse(line);
	assert_true(json_object_object_get_ex(back, "id", &v));
	assert_string_equal(json_object_get_string(v), "abc");
	assert_true(json_object_object_get_ex(back, "text", &v));
	assert_string_equal(json_object_get_string(v), "two\nlines/slash");
	json_object_put(back);
	free(line);

	api_reply_fail(reply, "it broke");
	line = api_reply_format(reply, NULL);
	back = json_tokener_parse(line);
	assert_true(json_object_object_get_ex(back, "ok", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(back, "error", &v));
	assert_string_equal(json_object_get_string(v), "it broke");
	json_object_put(back);
	free(line);

	/* a handler's own message survives a NULL msg */
	json_object_object_add(reply, "error", json_object_new_string("handler says"));
	api_reply_fail(reply, NULL);
	assert_true(json_object_object_get_ex(reply, "error", &v));
	assert_string_equal(json_object_get_string(v), "handler says");
	json_object_put(reply);
	api_request_free(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_messages_one_line),
		cmocka_unit_test(test_sizes_and_nul),
		cmocka_unit_test(test_replies),
	};

	return cmocka_run_group_tests_name("api_request", tests, NULL, NULL);
}
