/* A JSON Schema (2020-12) validator for the unit tests, covering the subset
 * the project's schemas use: type (a name or a list), const, enum,
 * properties, required, additionalProperties (boolean), items, minimum,
 * maximum, minLength, maxLength, pattern (POSIX ERE), minItems, maxItems,
 * oneOf, $ref to "#/$defs/NAME", and the annotations ($schema, $id,
 * title, description, $comment, $defs). A keyword outside that set is an
 * error rather than silently ignored, so a schema cannot outgrow it
 * unnoticed. */
#ifndef AVP_TEST_JSON_SCHEMA_H
#define AVP_TEST_JSON_SCHEMA_H

#include <stddef.h>

struct json_object;

/* 0 if value validates against schema (whose "$defs" resolve $ref); -1 and
 * one line in err ("PATH: what is wrong") if not, or if the schema uses a
 * keyword the validator does not know. */
int json_schema_validate(struct json_object *schema, struct json_object *value, char *err,
			 size_t len);

#endif
