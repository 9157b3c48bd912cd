// SPDX-License-Identifier: Apache-2.0
// The body of every 4xx/5xx answer of memschedd: {"error": "...", "field": "pods[2].uid" | null}.
#pragma once

#include "api/codec.h"

struct error_reply {
        const char *message;
        const char *field; /* NULL or "" when the error is not about one field */
};

struct json_object *error_reply_encode(const struct error_reply *e);
/* Strings borrow from o. */
int error_reply_decode(const struct json_object *o, struct error_reply *ret, struct api_error *err);
