/* Reading hand-written JSON files (bundles, system files) strictly: syntax
 * errors with line and column, unknown keys refused, every value's type and
 * range checked, and every message naming the JSON path of the bad value
 * ("devices[2].path: file not found"). */
#ifndef AVP_RUNTIME_JSONCHECK_H
#define AVP_RUNTIME_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* The first error of a parse; later ones would only be consequences. */
struct jc_err {
	char text[512];
};

/* Longest JSON path we build ("devices[12].backend" and the like). */
#define JC_PATH_MAX 128

/* Records "PATH: MESSAGE" (or just MESSAGE for an empty path) unless an
 * error is already there. Always returns -EINVAL, to be returned. */
int jc_fail(struct jc_err *e, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* PARENT.KEY (KEY alone at the top) and PARENT[INDEX] into buf. */
void jc_path_key(char *buf, size_t len, const char *parent, const char *key);
void jc_path_index(char *buf, size_t len, const char *parent, size_t index);

/* Parses text (one JSON value, nothing after it). Syntax errors read
 * "NAME:LINE:COLUMN: JSON syntax error: ...". *out is owned by the caller
 * (json_object_put). 0 or -EINVAL. */
int jc_parse_text(const char *text, size_t len, const char *name, struct json_object **out,
		  struct jc_err *e);
/* Reads a whole regular file of at most 1 MiB into a malloc'd,
 * NUL-terminated *text; name is used in messages. */
int jc_read_file(const char *file, const char *name, char **text, size_t *len, struct jc_err *e);
/* The whole of the regular file open on fd, NUL-terminated, if it is at
 * most max bytes: 0, -EFBIG (not a regular file, or larger), -ENOMEM. */
int jc_read_fd(int fd, size_t max, char **text, size_t *len);
/* Reads and parses a whole file (at most 1 MiB); name is used in messages. */
int jc_parse_file(const char *file, const char *name, struct json_object **out, struct jc_err *e);

/* Refuses a non-object and any key of obj not in keys (NULL-terminated).
 * Keys named "$comment" are always allowed and ignored: JSON has no
 * comments, so files carry their explanations in such keys. */
int jc_check_object(struct json_object *obj, const char *path, const char *const *keys,
		    struct jc_err *e);

/* Typed members of an object at path. A missing member gives -ENOENT
 * without an error when !required (the caller keeps its default), and
 * "PATH.KEY: missing (required)" when required. */
int jc_get_string(struct json_object *obj, const char *path, const char *key, bool required,
		  const char **out, struct jc_err *e);
int jc_get_int(struct json_object *obj, const char *path, const char *key, bool required,
	       int64_t min, int64_t max, int64_t *out, struct jc_err *e);
int jc_get_bool(struct json_object *obj, const char *path, const char *key, bool required,
		bool *out, struct jc_err *e);
/* Objects and arrays are returned borrowed (owned by obj). */
int jc_get_object(struct json_object *obj, const char *path, const char *key, bool required,
		  struct json_object **out, struct jc_err *e);
int jc_get_array(struct json_object *obj, const char *path, const char *key, bool required,
		 struct json_object **out, struct jc_err *e);
/* An array element that must be an integer in [min, max]. */
int jc_int_value(struct json_object *v, const char *path, int64_t min, int64_t max, int64_t *out,
		 struct jc_err *e);

/* JSON's name for v's type, for messages ("string", "array", ...). */
const char *jc_type_name(struct json_object *v);

#endif
