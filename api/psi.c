// SPDX-License-Identifier: Apache-2.0
#include "api/psi.h"

#include <stdio.h>

#include "api/codec.h"

static struct json_object *percent(double v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%.2f", v);
        return json_object_new_double_s(v, buf);
}

static struct json_object *psi_line(const struct psi_avgs *a)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        api_add(o, "avg10", percent(a->avg10));
        api_add(o, "avg60", percent(a->avg60));
        api_add(o, "avg300", percent(a->avg300));
        api_add(o, "total_usec", json_object_new_uint64(a->total_usec));
        return o;
}

struct json_object *psi_encode(const struct psi_avgs *some, const struct psi_avgs *full)
{
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        api_add(o, "some", psi_line(some));
        api_add(o, "full", full ? psi_line(full) : NULL);
        return o;
}
