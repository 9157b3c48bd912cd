// SPDX-License-Identifier: Apache-2.0
#include "api/node_status.h"

#include <errno.h>
#include <stdlib.h>

#define BYTES_MAX ((uint64_t)INT64_MAX)

void node_status_done(struct node_status *s)
{
        if (!s)
                return;
        free(s->name);
        free(s->zones);
        for (size_t i = 0; s->pods && i < s->pod_count; i++) {
                free(s->pods[i].uid);
                free(s->pods[i].name);
                free(s->pods[i].namespace);
        }
        free(s->pods);
        *s = (struct node_status){};
}

struct json_object *node_status_encode(const struct node_status *s)
{
        struct json_object *o = json_object_new_object(), *pr = json_object_new_object(),
                           *numa = json_object_new_array();
        api_add(o, "name", json_object_new_string(s->name));
        api_add(o, "stale", json_object_new_boolean(s->stale));
        api_add(o, "last_report_age_ms", json_object_new_uint64(s->last_report_age_ms));
        api_add(o, "seq", json_object_new_uint64(s->seq));
        api_add(o, "memory_total_bytes", json_object_new_uint64(s->memory_total_bytes));
        api_add(o, "memory_available_bytes", json_object_new_uint64(s->memory_available_bytes));
        api_add(o, "system_reserved_bytes", json_object_new_uint64(s->system_reserved_bytes));
        api_add(o, "reservation_bytes", json_object_new_uint64(s->reservation_bytes));
        api_add(o, "assumed_bytes", json_object_new_uint64(s->assumed_bytes));
        api_add(o, "allocatable_bytes", json_object_new_uint64(s->allocatable_bytes));
        api_add(pr, "level", json_object_new_string(pressure_level_to_string(s->pressure)));
        api_add(pr, "duration_ms", json_object_new_uint64(s->pressure_duration_ms));
        api_add(pr, "relief_exhausted", json_object_new_boolean(s->relief_exhausted));
        api_add(o, "pressure", pr);
        for (size_t i = 0; i < s->n_zones; i++) {
                struct json_object *z = json_object_new_object();
                api_add(z, "id", json_object_new_int((int)s->zones[i].id));
                api_add(z, "total_bytes", json_object_new_uint64(s->zones[i].total_bytes));
                api_add(z, "free_bytes", json_object_new_uint64(s->zones[i].free_bytes));
                api_add(z, "reclaimable_bytes",
                        json_object_new_uint64(s->zones[i].reclaimable_bytes));
                json_object_array_add(numa, z);
        }
        api_add(o, "numa", numa);
        api_add(o, "pod_count", json_object_new_uint64(s->pod_count));
        if (s->with_pods) {
                struct json_object *pods = json_object_new_array();
                for (size_t i = 0; i < s->pod_count; i++) {
                        const struct node_status_pod *p = &s->pods[i];
                        struct json_object *po = json_object_new_object();
                        api_add(po, "uid", json_object_new_string(p->uid));
                        api_add(po, "name", p->name ? json_object_new_string(p->name) : NULL);
                        api_add(po, "namespace",
                                p->namespace ? json_object_new_string(p->namespace) : NULL);
                        api_add(po, "qos", json_object_new_string(qos_to_string(p->qos)));
                        api_add(po, "working_set_bytes",
                                json_object_new_uint64(p->working_set_bytes));
                        api_add(po, "request_bytes", json_object_new_uint64(p->request_bytes));
                        api_add(po, "protected", json_object_new_boolean(p->protected_));
                        json_object_array_add(pods, po);
                }
                api_add(o, "pods", pods);
        }
        return o;
}

int node_status_decode(const struct json_object *o, const char *path, struct node_status *ret,
                       struct api_error *err)
{
        _cleanup_(node_status_done) struct node_status s = {};
        struct json_object *pr = NULL, *numa = NULL, *pods = NULL;
        char field[API_FIELD_MAX], prpath[API_FIELD_MAX];
        uint64_t count = 0;
        int level = 0, r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        api_path(prpath, path, "pressure");
        if ((r = api_get_strdup(o, path, "name", true, &s.name, err)) < 0 ||
            (r = api_get_bool(o, path, "stale", true, &s.stale, err)) < 0 ||
            (r = api_get_u64(o, path, "last_report_age_ms", true, UINT64_MAX, &s.last_report_age_ms,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "seq", true, UINT64_MAX, &s.seq, err)) < 0 ||
            (r = api_get_u64(o, path, "memory_total_bytes", true, BYTES_MAX, &s.memory_total_bytes,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "memory_available_bytes", true, BYTES_MAX,
                             &s.memory_available_bytes, err)) < 0 ||
            (r = api_get_u64(o, path, "system_reserved_bytes", true, BYTES_MAX,
                             &s.system_reserved_bytes, err)) < 0 ||
            (r = api_get_u64(o, path, "reservation_bytes", true, BYTES_MAX, &s.reservation_bytes,
                             err)) < 0 ||
            (r = api_get_u64(o, path, "assumed_bytes", true, BYTES_MAX, &s.assumed_bytes, err)) <
                0 ||
            (r = api_get_u64(o, path, "allocatable_bytes", true, BYTES_MAX, &s.allocatable_bytes,
                             err)) < 0 ||
            (r = api_get_object(o, path, "pressure", true, false, &pr, err)) < 0 ||
            (r = api_get_enum(pr, prpath, "level", true, pressure_level_from_string, &level, err)) <
                0 ||
            (r = api_get_u64(pr, prpath, "duration_ms", true, UINT64_MAX, &s.pressure_duration_ms,
                             err)) < 0 ||
            (r = api_get_bool(pr, prpath, "relief_exhausted", true, &s.relief_exhausted, err)) <
                0 ||
            (r = api_get_array(o, path, "numa", true, false, &numa, err)) < 0 ||
            (r = api_get_u64(o, path, "pod_count", true, UINT32_MAX, &count, err)) < 0 ||
            (r = api_get_array(o, path, "pods", false, false, &pods, err)) < 0)
                return r;
        s.pressure = (enum pressure_level)level;
        size_t nz = json_object_array_length(numa);
        if (nz > API_NUMA_ZONES_MAX)
                return api_error_set(err, -ERANGE, api_path(field, path, "numa"), "too many zones");
        s.zones = calloc(nz ? nz : 1, sizeof(*s.zones));
        if (!s.zones)
                return -ENOMEM;
        for (size_t i = 0; i < nz; i++) {
                char zp[API_FIELD_MAX];
                struct json_object *z = json_object_array_get_idx(numa, i);
                uint64_t id = 0;
                api_path_index(zp, api_path(field, path, "numa"), i);
                if ((r = api_get_u64(z, zp, "id", true, API_NUMA_ZONES_MAX - 1, &id, err)) < 0 ||
                    (r = api_get_u64(z, zp, "total_bytes", true, BYTES_MAX, &s.zones[i].total_bytes,
                                     err)) < 0 ||
                    (r = api_get_u64(z, zp, "free_bytes", true, BYTES_MAX, &s.zones[i].free_bytes,
                                     err)) < 0 ||
                    (r = api_get_u64(z, zp, "reclaimable_bytes", true, BYTES_MAX,
                                     &s.zones[i].reclaimable_bytes, err)) < 0)
                        return r;
                s.zones[i].id = (uint32_t)id;
                s.n_zones++;
        }
        s.pod_count = count;
        if (pods) {
                size_t n = json_object_array_length(pods);
                if (n != count)
                        return api_error_set(err, -EINVAL, api_path(field, path, "pods"),
                                             "has %zu entries but pod_count is %zu", n,
                                             s.pod_count);
                s.with_pods = true;
                s.pods = calloc(n ? n : 1, sizeof(*s.pods));
                if (!s.pods)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        char pp[API_FIELD_MAX];
                        struct json_object *po = json_object_array_get_idx(pods, i);
                        struct node_status_pod *p = &s.pods[i];
                        int qos = 0;
                        api_path_index(pp, api_path(field, path, "pods"), i);
                        if ((r = api_get_strdup(po, pp, "uid", true, &p->uid, err)) < 0 ||
                            (r = api_get_strdup(po, pp, "name", false, &p->name, err)) < 0 ||
                            (r = api_get_strdup(po, pp, "namespace", false, &p->namespace, err)) <
                                0 ||
                            (r = api_get_enum(po, pp, "qos", true, qos_from_string, &qos, err)) <
                                0 ||
                            (r = api_get_u64(po, pp, "working_set_bytes", true, BYTES_MAX,
                                             &p->working_set_bytes, err)) < 0 ||
                            (r = api_get_u64(po, pp, "request_bytes", true, BYTES_MAX,
                                             &p->request_bytes, err)) < 0 ||
                            (r = api_get_bool(po, pp, "protected", true, &p->protected_, err)) < 0)
                                return r;
                        p->qos = (enum qos_class)qos;
                }
        } else
                s.pod_count = count;
        *ret = s;
        s = (struct node_status){};
        return 0;
}

void node_status_list_done(struct node_status_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_nodes; i++)
                node_status_done(&l->nodes[i]);
        free(l->nodes);
        *l = (struct node_status_list){};
}

struct json_object *node_status_list_encode(const struct node_status_list *l)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        api_add(o, "node_count", json_object_new_uint64(l->n_nodes));
        api_add(o, "stale_count", json_object_new_uint64(l->stale_count));
        for (size_t i = 0; i < l->n_nodes; i++)
                json_object_array_add(a, node_status_encode(&l->nodes[i]));
        api_add(o, "nodes", a);
        return o;
}

int node_status_list_decode(const struct json_object *o, struct node_status_list *ret,
                            struct api_error *err)
{
        _cleanup_(node_status_list_done) struct node_status_list l = {};
        struct json_object *a = NULL;
        uint64_t count = 0, stale = 0;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "", "must be a JSON object (node list)");
        if ((r = api_get_u64(o, "", "node_count", true, UINT32_MAX, &count, err)) < 0 ||
            (r = api_get_u64(o, "", "stale_count", true, count, &stale, err)) < 0 ||
            (r = api_get_array(o, "", "nodes", true, false, &a, err)) < 0)
                return r;
        size_t n = json_object_array_length(a);
        if (n != count)
                return api_error_set(err, -EINVAL, "nodes",
                                     "has %zu entries but node_count is %llu", n,
                                     (unsigned long long)count);
        l.nodes = calloc(n ? n : 1, sizeof(*l.nodes));
        if (!l.nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char path[API_FIELD_MAX];
                api_path_index(path, "nodes", i);
                r = node_status_decode(json_object_array_get_idx(a, i), path, &l.nodes[i], err);
                if (r < 0)
                        return r;
                l.n_nodes++;
        }
        l.stale_count = stale;
        *ret = l;
        l = (struct node_status_list){};
        return 0;
}
