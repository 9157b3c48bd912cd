// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/placement.h"

void placement_request_done(struct placement_request *r)
{
        if (!r)
                return;
        free(r->name);
        free(r->namespace);
        free(r->owner_uid);
        for (size_t i = 0; i < r->n_nodes; i++)
                free(r->nodes[i]);
        free(r->nodes);
        *r = (struct placement_request){};
}

static int numa_policy_from_string(const char *s)
{
        if (strcmp(s, "any") == 0)
                return 0;
        if (strcmp(s, "single-zone") == 0)
                return 1;
        return -EINVAL;
}

int placement_request_decode(const struct json_object *o, struct placement_request *ret,
                             struct api_error *err)
{
        _cleanup_(placement_request_done) struct placement_request q = {
                .qos = QOS_BURSTABLE, .limit_bytes = API_UNLIMITED, .single_numa = false
        };
        struct json_object *pod = NULL, *nodes = NULL, *req = NULL;
        uint64_t limit = 0;
        int qos = QOS_BURSTABLE, numa = -1, r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "",
                                     "body must be a JSON object (placement request)");
        if ((r = api_get_object(o, "", "pod", true, false, &pod, err)) < 0 ||
            (r = api_get_array(o, "", "nodes", false, false, &nodes, err)) < 0 ||
            (r = api_get_u64(o, "", "limit", false, 100000, &limit, err)) < 0 ||
            (r = api_get_strdup(pod, "pod", "name", false, &q.name, err)) < 0 ||
            (r = api_get_strdup(pod, "pod", "namespace", false, &q.namespace, err)) < 0 ||
            (r = api_get_strdup(pod, "pod", "owner_uid", false, &q.owner_uid, err)) < 0 ||
            (r = api_get_enum(pod, "pod", "qos", false, qos_from_string, &qos, err)) < 0 ||
            (r = api_get_enum(pod, "pod", "numa_policy", false, numa_policy_from_string, &numa,
                              err)) < 0 ||
            (r = api_get_bytes_or_null(pod, "pod", "limit_bytes", false, &q.limit_bytes, err)) < 0)
                return r;
        req = api_lookup(pod, "request_bytes", false);
        if (!req)
                return api_error_set(err, -EINVAL, "pod.request_bytes",
                                     "required field is missing");
        if ((r = api_quantity_bytes(req, "pod.request_bytes", &q.request_bytes, err)) < 0)
                return r;
        q.qos = (enum qos_class)qos;
        q.single_numa = numa >= 0 ? numa == 1 : q.qos == QOS_GUARANTEED;
        q.limit = (uint32_t)limit;
        if (nodes) {
                size_t n = json_object_array_length(nodes);
                q.nodes = calloc(n ? n : 1, sizeof(char *));
                if (!q.nodes)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        char field[API_FIELD_MAX];
                        struct json_object *v = json_object_array_get_idx(nodes, i);
                        if (!json_object_is_type(v, json_type_string) ||
                            json_object_get_string_len(v) == 0)
                                return api_error_set(err, -EINVAL,
                                                     api_path_index(field, "nodes", i),
                                                     "must be a non-empty string");
                        const char *s;
                        r = api_string_value(v, field, &s, err);
                        if (r < 0)
                                return r;
                        q.nodes[i] = strdup(s);
                        if (!q.nodes[i])
                                return -ENOMEM;
                        q.n_nodes++;
                }
        }
        *ret = q;
        q = (struct placement_request){};
        return 0;
}

struct json_object *placement_request_encode(const struct placement_request *r)
{
        struct json_object *o = json_object_new_object(), *pod = json_object_new_object();
        if (r->name)
                api_add(pod, "name", json_object_new_string(r->name));
        if (r->namespace)
                api_add(pod, "namespace", json_object_new_string(r->namespace));
        if (r->owner_uid)
                api_add(pod, "owner_uid", json_object_new_string(r->owner_uid));
        api_add(pod, "qos", json_object_new_string(qos_to_string(r->qos)));
        api_add(pod, "request_bytes", json_object_new_uint64(r->request_bytes));
        api_add(pod, "limit_bytes", api_new_bytes_or_null(r->limit_bytes));
        api_add(pod, "numa_policy", json_object_new_string(r->single_numa ? "single-zone" : "any"));
        api_add(o, "pod", pod);
        if (r->nodes) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < r->n_nodes; i++)
                        json_object_array_add(a, json_object_new_string(r->nodes[i]));
                api_add(o, "nodes", a);
        }
        api_add(o, "limit", json_object_new_int((int)r->limit));
        return o;
}
