/* libFuzzer target: the control socket's request parser and reply encoder
 * (src/api/request.c), the only code that sees a client's bytes before a
 * command runs.
 *
 * The input is what a client sends: it is cut into lines at '\n' and a
 * trailing '\r' is dropped, as the server does, and each line, copied into
 * an allocation of exactly its length (no terminating NUL, as in the
 * server's buffer), goes through api_request_parse. Then the reply is
 * built the way the server's dispatch builds it: a failure with the
 * parser's reason, or, for a request, a pretend handler that succeeds,
 * fails with its own "error", or fails without one (the command's name
 * picks which), and the reply is formatted as the line sent back.
 *
 * Beyond the sanitizers: the parser returns 0, -EINVAL, -E2BIG or -ENOMEM;
 * a refusal carries a one-line reason and no args or id; an accepted
 * request has a 1-64 character command of the allowed characters, object
 * args (or none) and an integer or string id (or none). The reply is one
 * line of JSON that parses back to an object with a boolean "ok" (false
 * with a string "error" on failure) and the request's id. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "avp/api.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool cmd_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > API_MAX_CMD_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:",
			    s[i]))
			return false;
	return true;
}

static void check_reply(json_object *reply, const struct api_request *req, bool ok)
{
	size_t len = 0;
	char *line = api_reply_format(reply, &len);
	json_object *back, *v;

	FUZZ_CHECK(line && len > 0 && strlen(line) == len);
	FUZZ_CHECK(line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL);
	back = json_tokener_parse(line);
	FUZZ_CHECK(back && json_object_is_type(back, json_type_object));
	FUZZ_CHECK(json_object_object_get_ex(back, "ok", &v) &&
		   json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v) == ok);
	if (!ok)
		FUZZ_CHECK(json_object_object_get_ex(back, "error", &v) &&
			   json_object_is_type(v, json_type_string));
	if (req && req->id)
		FUZZ_CHECK(json_object_object_get_ex(back, "id", &v) &&
			   json_object_equal(v, req->id));
	else
		FUZZ_CHECK(!json_object_object_get_ex(back, "id", &v));
	json_object_put(back);
	free(line);
}

static void one_line(const uint8_t *p, size_t len)
{
	char *line = malloc(len ? len : 1);
	struct api_request req;
	char err[160];
	json_object *reply;
	int ret;

	if (!line)
		return;
	memcpy(line, p, len);
	memset(err, 0x55, sizeof(err));
	ret = api_request_parse(line, len, &req, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -E2BIG || ret == -ENOMEM);
	if (ret) {
		FUZZ_CHECK(memchr(err, 0, sizeof(err)) && err[0] && !strchr(err, '\n'));
		FUZZ_CHECK(!req.args && !req.id);
		reply = api_reply_new(NULL);
		api_reply_fail(reply, err);
		check_reply(reply, NULL, false);
		json_object_put(reply);
		free(line);
		return;
	}
	FUZZ_CHECK(cmd_ok(req.cmd));
	FUZZ_CHECK(!req.args || json_object_is_type(req.args, json_type_object));
	FUZZ_CHECK(!req.id || json_object_is_type(req.id, json_type_int) ||
		   json_object_is_type(req.id, json_type_string));
	reply = api_reply_new(&req);
	FUZZ_CHECK(reply);
	/* A pretend handler: adds a result, maybe an "error" of its own. */
	switch (req.cmd[0] % 3) {
	case 0:
		json_object_object_add(reply, "echo",
				       req.args ? json_object_get(req.args) : json_object_new_null());
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
		check_reply(reply, &req, true);
		break;
	case 1:
		json_object_object_add(reply, "error", json_object_new_string(req.cmd));
		api_reply_fail(reply, NULL);
		check_reply(reply, &req, false);
		break;
	default:
		api_reply_fail(reply, NULL);
		check_reply(reply, &req, false);
		break;
	}
	json_object_put(reply);
	api_request_free(&req);
	FUZZ_CHECK(!req.args && !req.id);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0;

	for (size_t i = 0; i <= size; i++) {
		size_t len;

		if (i < size && data[i] != '\n')
			continue;
		len = i - start;
		if (len && data[start + len - 1] == '\r')
			len--;
		/* The server skips empty lines. */
		if (len)
			one_line(data + start, len);
		start = i + 1;
	}
	return 0;
}
