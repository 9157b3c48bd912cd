// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/placement.h"

void placement_response_done(struct placement_response *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_candidates; i++) {
                free(r->candidates[i].node);
                free(r->candidates[i].reason);
        }
        free(r->candidates);
        *r = (struct placement_response){};
}

struct json_object *placement_response_encode(const struct placement_response *r)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        api_add(o, "request_bytes", json_object_new_uint64(r->request_bytes));
        api_add(o, "single_numa", json_object_new_boolean(r->single_numa));
        api_add(o, "pool_free_bytes", json_object_new_uint64(r->pool_free_bytes));
        for (size_t i = 0; i < r->n_candidates; i++) {
                const struct placement_candidate *c = &r->candidates[i];
                struct json_object *co = json_object_new_object();
                api_add(co, "node", json_object_new_string(c->node));
                api_add(co, "fits", json_object_new_boolean(c->fits));
                api_add(co, "score", json_object_new_int(c->score));
                api_add(co, "numa_zone",
                        c->numa_zone >= 0 ? json_object_new_int(c->numa_zone) : NULL);
                api_add(co, "available_bytes", json_object_new_uint64(c->available_bytes));
                api_add(co, "pressure",
                        json_object_new_string(pressure_level_to_string(c->pressure)));
                api_add(co, "reason", json_object_new_string(c->reason ? c->reason : ""));
                api_add(co, "lease_bytes", api_new_bytes_or_null(c->lease_bytes));
                json_object_array_add(a, co);
        }
        api_add(o, "candidates", a);
        return o;
}

int placement_response_decode(const struct json_object *o, struct placement_response *ret,
                              struct api_error *err)
{
        _cleanup_(placement_response_done) struct placement_response p = {};
        struct json_object *a = NULL;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "",
                                     "must be a JSON object (placement response)");
        if ((r = api_get_u64(o, "", "request_bytes", true, INT64_MAX, &p.request_bytes, err)) < 0 ||
            (r = api_get_bool(o, "", "single_numa", true, &p.single_numa, err)) < 0 ||
            (r = api_get_u64(o, "", "pool_free_bytes", false, INT64_MAX, &p.pool_free_bytes, err)) <
                0 ||
            (r = api_get_array(o, "", "candidates", true, false, &a, err)) < 0)
                return r;
        size_t n = json_object_array_length(a);
        p.candidates = calloc(n ? n : 1, sizeof(*p.candidates));
        if (!p.candidates)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char path[API_FIELD_MAX];
                struct json_object *co = json_object_array_get_idx(a, i);
                struct placement_candidate *c = &p.candidates[i];
                int64_t score = 0, zone = -1;
                int pressure = 0;
                api_path_index(path, "candidates", i);
                p.n_candidates++;
                c->numa_zone = -1;
                c->lease_bytes = API_UNLIMITED;
                if (!json_object_is_type(co, json_type_object))
                        return api_error_set(err, -EINVAL, path, "must be an object");
                if ((r = api_get_strdup(co, path, "node", true, &c->node, err)) < 0 ||
                    (r = api_get_bool(co, path, "fits", true, &c->fits, err)) < 0 ||
                    (r = api_get_i64(co, path, "score", true, 0, PLACEMENT_SCORE_MAX, &score,
                                     err)) < 0 ||
                    (r = api_get_i64(co, path, "numa_zone", false, 0, API_NUMA_ZONES_MAX - 1, &zone,
                                     err)) < 0 ||
                    (r = api_get_u64(co, path, "available_bytes", true, INT64_MAX,
                                     &c->available_bytes, err)) < 0 ||
                    (r = api_get_enum(co, path, "pressure", true, pressure_level_from_string,
                                      &pressure, err)) < 0 ||
                    (r = api_get_strdup(co, path, "reason", true, &c->reason, err)) < 0 ||
                    (r = api_get_bytes_or_null(co, path, "lease_bytes", false, &c->lease_bytes,
                                               err)) < 0)
                        return r;
                c->score = (int32_t)score;
                c->numa_zone = (int32_t)zone;
                c->pressure = (enum pressure_level)pressure;
        }
        *ret = p;
        p = (struct placement_response){};
        return 0;
}
