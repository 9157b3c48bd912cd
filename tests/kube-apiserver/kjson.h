// SPDX-License-Identifier: Apache-2.0
// The few json-c accessors every part of the test API server uses, in one place.
#pragma once

#include <json-c/json.h>

/* o.a[.b[.c]] (b, c may be NULL), or NULL when a step is missing or not an object. */
struct json_object *kjson_get(struct json_object *o, const char *a, const char *b, const char *c);
/* The same when it is a string, else NULL. */
const char *kjson_get_string(struct json_object *o, const char *a, const char *b, const char *c);
/* o[key] = value. Returns 0 or -ENOMEM. */
int kjson_set_string(struct json_object *o, const char *key, const char *value);
/* o[key] when it is an object, else a new empty object put there. NULL on OOM. */
struct json_object *kjson_ensure_object(struct json_object *o, const char *key);
