/* Control-socket requests: one line of text in, a checked request out.
 * Pure (no I/O, no VM), so the fuzzers can feed it anything; the server
 * (server.c) only ever sees requests that passed through here. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/api.h"

static int reject(char *err, size_t errlen, int ret, const char *fmt, const char *detail)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, detail);
	return ret;
}

static bool cmd_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':';
}

static bool only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* The one piece of a client's text that reaches a message: a field name.
 * The message goes into a one-line reply and the log, so every byte but
 * printable ASCII (and the quote and backslash that would confuse a reader)
 * becomes \xNN, and a long name is cut with "...". */
static void quote_name(const char *key, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
		bool plain = *k >= 0x20 && *k < 0x7f && *k != '"' && *k != '\\';
		size_t need = plain ? 1 : 4;

		/* Room for this byte, or for "..." and the NUL. */
		if (n + need + 4 > outlen) {
			memcpy(out + n, "...", 4);
			return;
		}
		if (plain) {
			out[n++] = (char)*k;
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*k >> 4];
			out[n++] = hex[*k & 15];
		}
	}
	out[n] = 0;
}

/* Checks the top-level object and moves its fields into req. */
static int take_fields(struct json_object *obj, struct api_request *req, char *err, size_t errlen)
{
	struct json_object *cmd = NULL;
	bool have_cmd = false;

	json_object_object_foreach(obj, key, val)
	{
		if (strcmp(key, "cmd") == 0) {
			cmd = val;
			have_cmd = true;
		} else if (strcmp(key, "args") == 0) {
			/* null means "no arguments", as if absent. */
			if (val && !json_object_is_type(val, json_type_object))
				return reject(err, errlen, -EINVAL, "%s",
					      "\"args\" must be a JSON object");
			req->args = val ? json_object_get(val) : NULL;
		} else if (strcmp(key, "id") == 0) {
			if (val && !json_object_is_type(val, json_type_int) &&
			    !json_object_is_type(val, json_type_string))
				return reject(err, errlen, -EINVAL, "%s",
					      "\"id\" must be a number or a string");
			req->id = val ? json_object_get(val) : NULL;
		} else {
			/* A typo ("arg", "command") would otherwise be silently
			 * ignored; say so instead. */
			char name[48];

			quote_name(key, name, sizeof(name));
			return reject(err, errlen, -EINVAL,
				      "unknown field \"%s\" (a request has cmd, args and id)", name);
		}
	}
	if (!have_cmd)
		return reject(err, errlen, -EINVAL, "%s", "missing \"cmd\" (e.g. {\"cmd\":\"status\"})");
	if (!cmd || !json_object_is_type(cmd, json_type_string))
		return reject(err, errlen, -EINVAL, "%s", "\"cmd\" must be a string");
	{
		const char *s = json_object_get_string(cmd);
		int n = json_object_get_string_len(cmd);

		if (n <= 0 || n > API_MAX_CMD_LEN)
			return reject(err, errlen, -EINVAL, "%s",
				      "\"cmd\" must be 1 to 64 characters long");
		for (int i = 0; i < n; i++)
			if (!cmd_char_ok(s[i]))
				return reject(err, errlen, -EINVAL, "%s",
					      "\"cmd\" may only hold letters, digits and _-.:");
		memcpy(req->cmd, s, (size_t)n);
		req->cmd[n] = 0;
	}
	return 0;
}

int api_request_parse(const char *line, size_t len, struct api_request *req, char *err,
		      size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;
	int ret;

	memset(req, 0, sizeof(*req));
	if (!line || len > API_MAX_REQUEST)
		return reject(err, errlen, -E2BIG, "request too long (at most %s bytes)", "65536");
	if (only_space(line, len))
		return reject(err, errlen, -EINVAL, "%s", "empty request");
	/* json-c would stop at a NUL and call the rest trailing garbage; be
	 * explicit. */
	if (memchr(line, 0, len))
		return reject(err, errlen, -EINVAL, "%s", "request contains a NUL byte");
	tok = json_tokener_new_ex(API_MAX_DEPTH);
	if (!tok)
		return reject(err, errlen, -ENOMEM, "%s", "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!obj && jerr == json_tokener_continue) {
		/* The line is all there is: a top-level number ends here. */
		obj = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		if (jerr == json_tokener_continue)
			return reject(err, errlen, -EINVAL, "%s",
				      "malformed JSON: the request ends in the middle of a value");
		if (jerr == json_tokener_error_depth)
			return reject(err, errlen, -EINVAL,
				      "malformed JSON: nested deeper than %s levels", "16");
		return reject(err, errlen, -EINVAL, "malformed JSON: %s",
			      json_tokener_error_desc(jerr));
	}
	if (end > len || !only_space(line + end, len - end)) {
		json_object_put(obj);
		return reject(err, errlen, -EINVAL, "%s",
			      "one JSON object per line: text follows the request");
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return reject(err, errlen, -EINVAL, "%s",
			      "a request is a JSON object, e.g. {\"cmd\":\"status\"}");
	}
	ret = take_fields(obj, req, err, errlen);
	json_object_put(obj);
	if (ret)
		api_request_free(req);
	return ret;
}

void api_request_free(struct api_request *req)
{
	json_object_put(req->args);
	json_object_put(req->id);
	req->args = req->id = NULL;
}

struct json_object *api_reply_new(const struct api_request *req)
{
	struct json_object *reply = json_object_new_object();

	if (!reply)
		return NULL;
	/* "ok" first, so a human reading the line sees it at once. */
	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	if (req && req->id)
		json_object_object_add(reply, "id", json_object_get(req->id));
	return reply;
}

void api_reply_fail(struct json_object *reply, const char *msg)
{
	struct json_object *have;

	if (!reply)
		return;
	json_object_object_add(reply, "ok", json_object_new_boolean(0));
	if (msg || !json_object_object_get_ex(reply, "error", &have) ||
	    !json_object_is_type(have, json_type_string))
		json_object_object_add(reply, "error", json_object_new_string(msg ? msg : "failed"));
}

char *api_reply_format(struct json_object *reply, size_t *len)
{
	const char *text;
	size_t n;
	char *line;

	if (!reply)
		return NULL;
	/* PLAIN: no newlines inside; strings escape theirs. */
	text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return NULL;
	n = strlen(text);
	line = malloc(n + 2);
	if (!line)
		return NULL;
	memcpy(line, text, n);
	line[n] = '\n';
	line[n + 1] = 0;
	if (len)
		*len = n + 1;
	return line;
}
