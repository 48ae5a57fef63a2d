/* Strict, path-reporting access to hand-written JSON (see jsoncheck.h).
 * json-c does the parsing; this file adds the checks and the messages. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/runtime/jsoncheck.h"

#define JC_MAX_FILE (1 << 20)

int jc_fail(struct jc_err *e, const char *path, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;

	if (!e || e->text[0])
		return -EINVAL;
	if (path && *path)
		n = (size_t)snprintf(e->text, sizeof(e->text), "%s: ", path);
	if (n >= sizeof(e->text))
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(e->text + n, sizeof(e->text) - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void jc_path_key(char *buf, size_t len, const char *parent, const char *key)
{
	if (parent && *parent)
		snprintf(buf, len, "%s.%s", parent, key);
	else
		snprintf(buf, len, "%s", key);
}

void jc_path_index(char *buf, size_t len, const char *parent, size_t index)
{
	snprintf(buf, len, "%s[%zu]", parent ? parent : "", index);
}

const char *jc_type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "unknown";
}

/* 1-based line and column of byte offset in text, as editors count them. */
static void line_col(const char *text, size_t offset, unsigned int *line, unsigned int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int jc_parse_text(const char *text, size_t len, const char *name, struct json_object **out,
		  struct jc_err *e)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	enum json_tokener_error jerr;
	unsigned int line, col;
	size_t end;

	*out = NULL;
	if (!tok)
		return -ENOMEM;
	if (len > INT32_MAX) {
		json_tokener_free(tok);
		return jc_fail(e, "", "%s: too large", name);
	}
	/* STRICT refuses what JSON does not allow (single quotes, trailing
	 * text inside a value...), so files stay portable to other tools. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!obj) {
		const char *why = jerr == json_tokener_continue ? "unexpected end of file"
								: json_tokener_error_desc(jerr);

		/* The tokener stops at the offending character. */
		line_col(text, end, &line, &col);
		json_tokener_free(tok);
		return jc_fail(e, "", "%s:%u:%u: JSON syntax error: %s", name, line, col, why);
	}
	json_tokener_free(tok);
	/* text[end] first: strchr also finds the set's own NUL, which would
	 * let NUL bytes after the value pass as whitespace. */
	while (end < len && text[end] && strchr(" \t\r\n", text[end]))
		end++;
	if (end < len) {
		line_col(text, end, &line, &col);
		json_object_put(obj);
		return jc_fail(e, "", "%s:%u:%u: JSON syntax error: unexpected text after the "
			       "JSON value", name, line, col);
	}
	*out = obj;
	return 0;
}

int jc_read_fd(int fd, size_t max, char **text, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;

	*text = NULL;
	*len = 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shrank since fstat: what was there */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

int jc_read_file(const char *file, const char *name, char **text, size_t *len, struct jc_err *e)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	int ret;

	*text = NULL;
	*len = 0;
	if (fd < 0) {
		int err = errno;

		jc_fail(e, "", "%s: cannot open: %s", name, strerror(err));
		return -err;
	}
	ret = jc_read_fd(fd, JC_MAX_FILE, text, len);
	close(fd);
	if (ret == -EFBIG)
		return jc_fail(e, "", "%s: not a regular file of at most 1 MiB", name);
	return ret;
}

int jc_parse_file(const char *file, const char *name, struct json_object **out, struct jc_err *e)
{
	char *text;
	size_t len;
	int ret = jc_read_file(file, name, &text, &len, e);

	*out = NULL;
	if (ret)
		return ret;
	ret = jc_parse_text(text, len, name, out, e);
	free(text);
	return ret;
}

int jc_check_object(struct json_object *obj, const char *path, const char *const *keys,
		    struct jc_err *e)
{
	if (!json_object_is_type(obj, json_type_object))
		return jc_fail(e, path && *path ? path : "(top level)", "expected an object, got %s",
			       jc_type_name(obj));
	json_object_object_foreach(obj, key, val) {
		bool known = strcmp(key, "$comment") == 0;
		char where[JC_PATH_MAX];
		char expected[256] = "";
		size_t n = 0;

		(void)val;
		for (size_t i = 0; keys[i] && !known; i++)
			known = strcmp(keys[i], key) == 0;
		if (known)
			continue;
		for (size_t i = 0; keys[i] && n < sizeof(expected); i++)
			n += (size_t)snprintf(expected + n, sizeof(expected) - n, "%s%s",
					      i ? ", " : "", keys[i]);
		jc_path_key(where, sizeof(where), path, key);
		return jc_fail(e, where, "unknown key (expected one of: %s)", expected);
	}
	return 0;
}

/* The member, -ENOENT when absent (an error only if required). */
static int member(struct json_object *obj, const char *path, const char *key, bool required,
		  struct json_object **out, char *where, struct jc_err *e)
{
	jc_path_key(where, JC_PATH_MAX, path, key);
	if (!json_object_object_get_ex(obj, key, out) || !*out) {
		if (required)
			return jc_fail(e, where, "missing (required)");
		return -ENOENT;
	}
	return 0;
}

int jc_get_string(struct json_object *obj, const char *path, const char *key, bool required,
		  const char **out, struct jc_err *e)
{
	char where[JC_PATH_MAX];
	struct json_object *v;
	int ret = member(obj, path, key, required, &v, where, e);

	if (ret)
		return ret;
	if (!json_object_is_type(v, json_type_string))
		return jc_fail(e, where, "expected a string, got %s", jc_type_name(v));
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return jc_fail(e, where, "contains a NUL character");
	return 0;
}

int jc_int_value(struct json_object *v, const char *path, int64_t min, int64_t max, int64_t *out,
		 struct jc_err *e)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return jc_fail(e, path, "expected an integer, got %s", jc_type_name(v));
	/* json-c keeps numbers above INT64_MAX as unsigned and saturates
	 * int64 reads of them: look at both. */
	n = json_object_get_int64(v);
	if (n < min || n > max || (n > 0 && json_object_get_uint64(v) > (uint64_t)INT64_MAX))
		return jc_fail(e, path, "%s is out of range (%lld to %lld)",
			       json_object_to_json_string(v), (long long)min, (long long)max);
	*out = n;
	return 0;
}

int jc_get_int(struct json_object *obj, const char *path, const char *key, bool required,
	       int64_t min, int64_t max, int64_t *out, struct jc_err *e)
{
	char where[JC_PATH_MAX];
	struct json_object *v;
	int ret = member(obj, path, key, required, &v, where, e);

	return ret ? ret : jc_int_value(v, where, min, max, out, e);
}

int jc_get_bool(struct json_object *obj, const char *path, const char *key, bool required,
		bool *out, struct jc_err *e)
{
	char where[JC_PATH_MAX];
	struct json_object *v;
	int ret = member(obj, path, key, required, &v, where, e);

	if (ret)
		return ret;
	if (!json_object_is_type(v, json_type_boolean))
		return jc_fail(e, where, "expected true or false, got %s", jc_type_name(v));
	*out = json_object_get_boolean(v);
	return 0;
}

int jc_get_object(struct json_object *obj, const char *path, const char *key, bool required,
		  struct json_object **out, struct jc_err *e)
{
	char where[JC_PATH_MAX];
	int ret = member(obj, path, key, required, out, where, e);

	if (ret)
		return ret;
	if (!json_object_is_type(*out, json_type_object))
		return jc_fail(e, where, "expected an object, got %s", jc_type_name(*out));
	return 0;
}

int jc_get_array(struct json_object *obj, const char *path, const char *key, bool required,
		 struct json_object **out, struct jc_err *e)
{
	char where[JC_PATH_MAX];
	int ret = member(obj, path, key, required, out, where, e);

	if (ret)
		return ret;
	if (!json_object_is_type(*out, json_type_array))
		return jc_fail(e, where, "expected an array, got %s", jc_type_name(*out));
	return 0;
}
