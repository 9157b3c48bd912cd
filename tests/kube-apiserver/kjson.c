// SPDX-License-Identifier: Apache-2.0
#include "kjson.h"

#include <errno.h>
#include <stddef.h>

struct json_object *kjson_get(struct json_object *o, const char *a, const char *b, const char *c)
{
        const char *keys[] = { a, b, c };
        for (size_t i = 0; i < 3 && keys[i]; i++)
                if (!json_object_is_type(o, json_type_object) ||
                    !json_object_object_get_ex(o, keys[i], &o))
                        return NULL;
        return o;
}

const char *kjson_get_string(struct json_object *o, const char *a, const char *b, const char *c)
{
        struct json_object *x = kjson_get(o, a, b, c);
        return json_object_is_type(x, json_type_string) ? json_object_get_string(x) : NULL;
}

int kjson_set_string(struct json_object *o, const char *key, const char *value)
{
        struct json_object *s = json_object_new_string(value);
        if (!s || json_object_object_add(o, key, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

struct json_object *kjson_ensure_object(struct json_object *o, const char *key)
{
        struct json_object *x;
        if (json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_object))
                return x;
        x = json_object_new_object();
        if (!x || json_object_object_add(o, key, x) < 0) {
                json_object_put(x);
                return NULL;
        }
        return x;
}
