/* The unit tests' JSON Schema validator: see json_schema.h. */
#include <json-c/json.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "support/json_schema.h"

struct ctx {
	struct json_object *root; /* for $ref */
	char *err;
	size_t len;
};

static int bad(struct ctx *c, const char *path, const char *fmt, const char *what)
{
	snprintf(c->err, c->len, "%s: ", path[0] ? path : "(top)");
	snprintf(c->err + strlen(c->err), c->len - strlen(c->err), fmt, what);
	return -1;
}

/* 1 if v is of the named type, 0 if not, -1 for a name JSON Schema lacks. */
static int is_type(struct json_object *v, const char *type)
{
	enum json_type t = json_object_get_type(v);

	if (!strcmp(type, "object"))
		return t == json_type_object;
	if (!strcmp(type, "array"))
		return t == json_type_array;
	if (!strcmp(type, "string"))
		return t == json_type_string;
	if (!strcmp(type, "integer"))
		return t == json_type_int;
	if (!strcmp(type, "number"))
		return t == json_type_int || t == json_type_double;
	if (!strcmp(type, "boolean"))
		return t == json_type_boolean;
	if (!strcmp(type, "null"))
		return t == json_type_null;
	return -1;
}

static int check_type(struct ctx *c, struct json_object *s, struct json_object *v,
		      const char *path)
{
	bool list = json_object_is_type(s, json_type_array);
	size_t n = list ? json_object_array_length(s) : 1;

	for (size_t i = 0; i < n; i++) {
		struct json_object *t = list ? json_object_array_get_idx(s, i) : s;
		int m = is_type(v, json_object_get_string(t));

		if (m < 0)
			return bad(c, path, "the schema names an unknown type %s",
				   json_object_get_string(t));
		if (m)
			return 0;
	}
	return bad(c, path, "not of type %s", json_object_to_json_string(s));
}

static int validate(struct ctx *c, struct json_object *s, struct json_object *v,
		    const char *path);

static int validate_object(struct ctx *c, struct json_object *s, struct json_object *v,
			   const char *path)
{
	struct json_object *props = json_object_object_get(s, "properties");
	struct json_object *req = json_object_object_get(s, "required");
	struct json_object *addl = json_object_object_get(s, "additionalProperties");

	if (!json_object_is_type(v, json_type_object))
		return 0;
	if (addl && !json_object_is_type(addl, json_type_boolean))
		return bad(c, path, "%s", "additionalProperties other than a boolean is not supported");
	for (size_t i = 0; req && i < json_object_array_length(req); i++) {
		const char *k = json_object_get_string(json_object_array_get_idx(req, i));

		if (!json_object_object_get_ex(v, k, NULL))
			return bad(c, path, "missing required key %s", k);
	}
	json_object_object_foreach(v, key, val) {
		struct json_object *ps = props ? json_object_object_get(props, key) : NULL;
		char sub[256];

		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
		if (ps) {
			if (validate(c, ps, val, sub))
				return -1;
		} else if (addl && !json_object_get_boolean(addl)) {
			return bad(c, path, "key %s not allowed", key);
		}
	}
	return 0;
}

static int validate_scalar_limits(struct ctx *c, struct json_object *s, struct json_object *v,
				  const char *path)
{
	struct json_object *k;

	if (json_object_is_type(v, json_type_int)) {
		if ((k = json_object_object_get(s, "minimum")) &&
		    json_object_get_int64(v) < json_object_get_int64(k))
			return bad(c, path, "below the minimum %s", json_object_to_json_string(k));
		if ((k = json_object_object_get(s, "maximum")) &&
		    json_object_get_int64(v) > json_object_get_int64(k))
			return bad(c, path, "above the maximum %s", json_object_to_json_string(k));
	}
	if (json_object_is_type(v, json_type_string)) {
		int n = json_object_get_string_len(v);

		if ((k = json_object_object_get(s, "minLength")) && n < json_object_get_int(k))
			return bad(c, path, "shorter than %s", json_object_to_json_string(k));
		if ((k = json_object_object_get(s, "maxLength")) && n > json_object_get_int(k))
			return bad(c, path, "longer than %s", json_object_to_json_string(k));
		if ((k = json_object_object_get(s, "pattern"))) {
			regex_t re;
			int m;

			if (regcomp(&re, json_object_get_string(k), REG_EXTENDED | REG_NOSUB))
				return bad(c, path, "the schema's pattern %s is not a POSIX ERE",
					   json_object_get_string(k));
			m = regexec(&re, json_object_get_string(v), 0, NULL, 0);
			regfree(&re);
			if (m)
				return bad(c, path, "does not match %s", json_object_get_string(k));
		}
	}
	if (json_object_is_type(v, json_type_array)) {
		int n = (int)json_object_array_length(v);

		if ((k = json_object_object_get(s, "minItems")) && n < json_object_get_int(k))
			return bad(c, path, "fewer items than %s", json_object_to_json_string(k));
		if ((k = json_object_object_get(s, "maxItems")) && n > json_object_get_int(k))
			return bad(c, path, "more items than %s", json_object_to_json_string(k));
	}
	return 0;
}

static int validate(struct ctx *c, struct json_object *s, struct json_object *v,
		    const char *path)
{
	static const char *const known[] = {
		"$schema", "$id",   "title",   "$comment",   "$defs",	  "description",
		"$ref",	   "type",  "enum",    "const",	     "properties", "required",
		"additionalProperties", "items", "minimum", "maximum", "minLength", "maxLength",
		"pattern", "oneOf", "minItems", "maxItems", NULL,
	};
	struct json_object *k;

	if (!json_object_is_type(s, json_type_object))
		return bad(c, path, "%s", "a schema that is not an object is not supported");
	json_object_object_foreach(s, kw, arg) {
		bool ok = false;

		(void)arg;
		for (size_t i = 0; known[i]; i++)
			ok |= strcmp(known[i], kw) == 0;
		if (!ok)
			return bad(c, path, "the schema uses keyword %s, which this validator does not know",
				   kw);
	}
	if ((k = json_object_object_get(s, "$ref"))) {
		const char *ref = json_object_get_string(k);
		struct json_object *defs = json_object_object_get(c->root, "$defs");
		struct json_object *target = NULL;

		if (strncmp(ref, "#/$defs/", 8) == 0 && defs)
			target = json_object_object_get(defs, ref + 8);
		if (!target)
			return bad(c, path, "unresolved $ref %s", ref);
		if (validate(c, target, v, path))
			return -1;
	}
	if ((k = json_object_object_get(s, "type")) && check_type(c, k, v, path))
		return -1;
	if ((k = json_object_object_get(s, "const")) && !json_object_equal(k, v))
		return bad(c, path, "not %s", json_object_to_json_string(k));
	if ((k = json_object_object_get(s, "enum"))) {
		bool found = false;

		for (size_t i = 0; i < json_object_array_length(k); i++)
			found |= json_object_equal(json_object_array_get_idx(k, i), v);
		if (!found)
			return bad(c, path, "not one of %s", json_object_to_json_string(k));
	}
	if (validate_scalar_limits(c, s, v, path))
		return -1;
	if ((k = json_object_object_get(s, "items")) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			char sub[256];

			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (validate(c, k, json_object_array_get_idx(v, i), sub))
				return -1;
		}
	if (validate_object(c, s, v, path))
		return -1;
	if ((k = json_object_object_get(s, "oneOf"))) {
		int matches = 0;
		char first[512] = "", scratch[512];
		struct ctx sub = { c->root, scratch, sizeof(scratch) };

		for (size_t i = 0; i < json_object_array_length(k); i++) {
			if (validate(&sub, json_object_array_get_idx(k, i), v, path) == 0)
				matches++;
			else if (!first[0])
				snprintf(first, sizeof(first), "%s", scratch);
		}
		if (matches != 1) {
			snprintf(c->err, c->len, "%s: matches %d of oneOf (%s)", path[0] ? path : "(top)",
				 matches, first);
			return -1;
		}
	}
	return 0;
}

int json_schema_validate(struct json_object *schema, struct json_object *value, char *err,
			 size_t len)
{
	struct ctx c = { schema, err, len };

	if (len)
		err[0] = '\0';
	return validate(&c, schema, value, "");
}
