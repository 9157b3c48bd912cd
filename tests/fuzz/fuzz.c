// SPDX-License-Identifier: Apache-2.0
// See fuzz.h.
#include "tests/fuzz/fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"

struct json_object *fuzz_parse_json(const uint8_t *data, size_t size)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        if (api_parse((const char *)data, size, &o, &err) < 0)
                return NULL;
        return o;
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

void fuzz_fail(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("fuzz: property violated: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        abort();
}
