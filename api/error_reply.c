// SPDX-License-Identifier: Apache-2.0
#include "api/error_reply.h"

struct json_object *error_reply_encode(const struct error_reply *e)
{
        struct json_object *o = json_object_new_object();
        api_add(o, "error", json_object_new_string(e->message ? e->message : ""));
        api_add(o, "field", e->field && *e->field ? json_object_new_string(e->field) : NULL);
        return o;
}

int error_reply_decode(const struct json_object *o, struct error_reply *ret, struct api_error *err)
{
        struct error_reply e = {};
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "", "must be a JSON object (error)");
        if ((r = api_get_string(o, "", "error", true, false, &e.message, err)) < 0 ||
            (r = api_get_string(o, "", "field", false, false, &e.field, err)) < 0)
                return r;
        *ret = e;
        return 0;
}
