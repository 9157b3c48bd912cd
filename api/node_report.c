// SPDX-License-Identifier: Apache-2.0
#include "api/node_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reports describe real machines; anything larger is a unit mix-up. */
#define BYTES_MAX ((uint64_t)1 << 60)
#define PODS_MAX  100000

uint64_t report_zone_reclaimable_default(const struct report_zone *z)
{
        uint64_t rec = z->file_bytes / 2 + z->slab_reclaimable_bytes / 2;
        uint64_t used = z->total_bytes > z->free_bytes ? z->total_bytes - z->free_bytes : 0;
        return rec < used ? rec : used;
}

static void pod_done(struct report_pod *p)
{
        free(p->uid);
        free(p->name);
        free(p->namespace);
        free(p->owner_uid);
}

void node_report_done(struct node_report *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_pods; i++)
                pod_done(&r->pods[i]);
        free(r->pods);
        free(r->zones);
        free(r->node_name);
        free(r->run_id);
        *r = (struct node_report){};
}

static int decode_psi_line(const struct json_object *psi, const char *path, const char *key,
                           bool *ret_has, struct psi_avgs *ret, struct api_error *err)
{
        char lpath[API_FIELD_MAX];
        struct json_object *l = NULL;
        struct psi_avgs a = {};
        int r = api_get_object(psi, path, key, false, false, &l, err);
        if (r <= 0)
                return r;
        api_path(lpath, path, key);
        if ((r = api_get_double(l, lpath, "avg10", true, 0, 100, &a.avg10, err)) < 0 ||
            (r = api_get_double(l, lpath, "avg60", true, 0, 100, &a.avg60, err)) < 0 ||
            (r = api_get_double(l, lpath, "avg300", true, 0, 100, &a.avg300, err)) < 0 ||
            (r = api_get_u64(l, lpath, "total_usec", false, UINT64_MAX, &a.total_usec, err)) < 0)
                return r;
        *ret = a;
        *ret_has = true;
        return 1;
}

static int decode_zone(const struct json_object *o, const char *path, struct report_zone *z,
                       struct api_error *err)
{
        uint64_t id = 0, rec = UINT64_MAX;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        if ((r = api_get_u64(o, path, "id", true, API_NUMA_ZONES_MAX - 1, &id, err)) < 0 ||
            (r = api_get_u64(o, path, "total_bytes", true, BYTES_MAX, &z->total_bytes, err)) < 0 ||
            (r = api_get_u64(o, path, "free_bytes", true, z->total_bytes, &z->free_bytes, err)) <
                0 ||
            (r = api_get_u64(o, path, "file_bytes", false, z->total_bytes, &z->file_bytes, err)) <
                0 ||
            (r = api_get_u64(o, path, "slab_reclaimable_bytes", false, z->total_bytes,
                             &z->slab_reclaimable_bytes, err)) < 0 ||
            (r = api_get_u64(o, path, "reclaimable_bytes", false, z->total_bytes, &rec, err)) < 0)
                return r;
        z->id = (uint32_t)id;
        z->reclaimable_bytes = rec != UINT64_MAX ? rec : report_zone_reclaimable_default(z);
        if (z->reclaimable_bytes > z->total_bytes - z->free_bytes)
                z->reclaimable_bytes = z->total_bytes - z->free_bytes;
        return 0;
}

static int decode_pod(const struct json_object *o, const char *path, struct report_pod *p,
                      struct api_error *err)
{
        struct json_object *mem = NULL;
        char mpath[API_FIELD_MAX];
        int64_t prio = 0, zone = -1;
        int qos = QOS_NONE, r;

        *p = (struct report_pod){ .limit_bytes = API_UNLIMITED, .numa_zone = -1 };
        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, path, "must be an object");
        api_path(mpath, path, "memory");
        if ((r = api_get_strdup(o, path, "uid", true, &p->uid, err)) < 0 ||
            (r = api_get_strdup(o, path, "name", false, &p->name, err)) < 0 ||
            (r = api_get_strdup(o, path, "namespace", false, &p->namespace, err)) < 0 ||
            (r = api_get_strdup(o, path, "owner_uid", false, &p->owner_uid, err)) < 0 ||
            (r = api_get_enum(o, path, "qos", true, qos_from_string, &qos, err)) < 0 ||
            (r = api_get_i64(o, path, "priority", false, INT32_MIN, INT32_MAX, &prio, err)) < 0 ||
            (r = api_get_bool(o, path, "protected", false, &p->protected_, err)) < 0 ||
            (r = api_get_u64(o, path, "request_bytes", false, BYTES_MAX, &p->request_bytes, err)) <
                0 ||
            (r = api_get_bytes_or_null(o, path, "limit_bytes", false, &p->limit_bytes, err)) < 0 ||
            (r = api_get_i64(o, path, "numa_zone", false, -1, API_NUMA_ZONES_MAX - 1, &zone, err)) <
                0 ||
            (r = api_get_object(o, path, "memory", true, false, &mem, err)) < 0)
                goto fail;
        /* null or absent: not known (one sample only, or an older agent) */
        struct json_object *rf = NULL;
        if (json_object_object_get_ex(o, "refault_file_per_sec", &rf) && rf) {
                if ((r = api_get_double(o, path, "refault_file_per_sec", false, 0, 1e12,
                                        &p->refault_file_per_sec, err)) < 0)
                        goto fail;
                p->has_refault_rate = true;
        }
        /* status.c writes null when the kernel has no memory.current: treat as unknown (0). */
        r = api_get_bytes_or_null(mem, mpath, "working_set_bytes", true, &p->working_set_bytes,
                                  err);
        if (r < 0)
                goto fail;
        if (p->working_set_bytes == API_UNLIMITED)
                p->working_set_bytes = 0;
        p->qos = (enum qos_class)qos;
        p->priority = (int32_t)prio;
        p->numa_zone = (int32_t)zone;
        return 0;
fail:
        pod_done(p);
        *p = (struct report_pod){};
        return r;
}

static int uid_cmp(const void *a, const void *b)
{
        const struct report_pod *const *x = a, *const *y = b;
        int c = strcmp((*x)->uid, (*y)->uid);
        /* Ties in report order, so that the later copy is the one named. */
        return c ? c : (*x < *y ? -1 : *x > *y);
}

/* A pod reported twice would count its memory twice in every placement. */
static int check_unique_uids(const struct node_report *rep, struct api_error *err)
{
        char field[API_FIELD_MAX], idx[API_FIELD_MAX];
        if (rep->n_pods < 2)
                return 0;
        _cleanup_free_ const struct report_pod **v = malloc(rep->n_pods * sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < rep->n_pods; i++)
                v[i] = &rep->pods[i];
        qsort(v, rep->n_pods, sizeof(*v), uid_cmp);
        for (size_t i = 1; i < rep->n_pods; i++)
                if (strcmp(v[i - 1]->uid, v[i]->uid) == 0)
                        return api_error_set(
                            err, -EINVAL,
                            api_path(field, api_path_index(idx, "pods", (size_t)(v[i] - rep->pods)),
                                     "uid"),
                            "pod uid \"%.64s\" appears twice (also pods[%zu])", v[i]->uid,
                            (size_t)(v[i - 1] - rep->pods));
        return 0;
}

int node_report_decode(const struct json_object *o, struct node_report *ret, struct api_error *err)
{
        _cleanup_(node_report_done) struct node_report rep = {};
        struct json_object *node = NULL, *psi = NULL, *pressure = NULL, *numa = NULL, *pods = NULL;
        char field[API_FIELD_MAX];
        int level = LEVEL_NONE, r;

        if (!json_object_is_type(o, json_type_object))
                return api_error_set(err, -EINVAL, "", "body must be a JSON object (node report)");
        if ((r = api_get_strdup(o, "", "node_name", false, &rep.node_name, err)) < 0 ||
            (r = api_get_u64(o, "", "seq", false, UINT64_MAX, &rep.seq, err)) < 0 ||
            (r = api_get_strdup(o, "", "run_id", false, &rep.run_id, err)) < 0 ||
            (r = api_get_u64(o, "", "heartbeat_interval_ms", false, 86400000,
                             &rep.heartbeat_interval_ms, err)) < 0 ||
            (r = api_get_object(o, "", "node", true, false, &node, err)) < 0 ||
            (r = api_get_array(o, "", "pods", false, false, &pods, err)) < 0)
                return r;
        if ((r = api_get_u64(node, "node", "memory_total_bytes", true, BYTES_MAX,
                             &rep.memory_total_bytes, err)) < 0 ||
            (r = api_get_u64(node, "node", "memory_available_bytes", true, rep.memory_total_bytes,
                             &rep.memory_available_bytes, err)) < 0 ||
            (r = api_get_u64(node, "node", "memory_free_bytes", false, rep.memory_total_bytes,
                             &rep.memory_free_bytes, err)) < 0 ||
            (r = api_get_u64(node, "node", "swap_total_bytes", false, BYTES_MAX,
                             &rep.swap_total_bytes, err)) < 0 ||
            (r = api_get_u64(node, "node", "swap_free_bytes", false, rep.swap_total_bytes,
                             &rep.swap_free_bytes, err)) < 0 ||
            (r = api_get_u64(node, "node", "reserved_bytes", false, rep.memory_total_bytes,
                             &rep.reserved_bytes, err)) < 0 ||
            (r = api_get_object(node, "node", "psi", false, false, &psi, err)) < 0 ||
            (r = api_get_object(node, "node", "pressure", false, false, &pressure, err)) < 0 ||
            (r = api_get_array(node, "node", "numa", false, false, &numa, err)) < 0)
                return r;
        if (psi) {
                if ((r = decode_psi_line(psi, "node.psi", "some", &rep.has_psi, &rep.psi_some,
                                         err)) < 0 ||
                    (r = decode_psi_line(psi, "node.psi", "full", &rep.has_psi_full, &rep.psi_full,
                                         err)) < 0)
                        return r;
        }
        if (pressure) {
                if ((r = api_get_enum(pressure, "node.pressure", "level", true,
                                      pressure_level_from_string, &level, err)) < 0 ||
                    (r = api_get_u64(pressure, "node.pressure", "duration_ms", false, UINT64_MAX,
                                     &rep.pressure_duration_ms, err)) < 0 ||
                    (r = api_get_bool(pressure, "node.pressure", "relief_exhausted", false,
                                      &rep.relief_exhausted, err)) < 0)
                        return r;
                rep.pressure = (enum pressure_level)level;
        }
        if (numa) {
                size_t n = json_object_array_length(numa);
                uint64_t seen = 0;
                if (n > API_NUMA_ZONES_MAX)
                        return api_error_set(err, -ERANGE, "node.numa",
                                             "at most %d zones are supported", API_NUMA_ZONES_MAX);
                rep.zones = calloc(n ? n : 1, sizeof(*rep.zones));
                if (!rep.zones)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        api_path_index(field, "node.numa", i);
                        r = decode_zone(json_object_array_get_idx(numa, i), field, &rep.zones[i],
                                        err);
                        if (r < 0)
                                return r;
                        rep.n_zones++;
                        if (seen & (UINT64_C(1) << rep.zones[i].id)) {
                                char idf[API_FIELD_MAX];
                                return api_error_set(err, -EINVAL, api_path(idf, field, "id"),
                                                     "zone %u appears twice", rep.zones[i].id);
                        }
                        seen |= UINT64_C(1) << rep.zones[i].id;
                }
        }
        if (pods) {
                size_t n = json_object_array_length(pods);
                if (n > PODS_MAX)
                        return api_error_set(err, -ERANGE, "pods", "at most %d pods", PODS_MAX);
                rep.pods = calloc(n ? n : 1, sizeof(*rep.pods));
                if (!rep.pods)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        api_path_index(field, "pods", i);
                        r = decode_pod(json_object_array_get_idx(pods, i), field, &rep.pods[i],
                                       err);
                        if (r < 0)
                                return r;
                        rep.n_pods++;
                }
                r = check_unique_uids(&rep, err);
                if (r < 0)
                        return r;
        }
        *ret = rep;
        rep = (struct node_report){};
        return 0;
}

struct json_object *node_report_encode(const struct node_report *r)
{
        struct json_object *o = json_object_new_object();
        struct json_object *node = json_object_new_object();
        struct json_object *numa = json_object_new_array();
        struct json_object *pods = json_object_new_array();

        if (r->node_name)
                api_add(o, "node_name", json_object_new_string(r->node_name));
        api_add(o, "seq", json_object_new_uint64(r->seq));
        if (r->run_id)
                api_add(o, "run_id", json_object_new_string(r->run_id));
        if (r->heartbeat_interval_ms)
                api_add(o, "heartbeat_interval_ms",
                        json_object_new_uint64(r->heartbeat_interval_ms));
        api_add(node, "memory_total_bytes", json_object_new_uint64(r->memory_total_bytes));
        api_add(node, "memory_available_bytes", json_object_new_uint64(r->memory_available_bytes));
        api_add(node, "memory_free_bytes", json_object_new_uint64(r->memory_free_bytes));
        api_add(node, "swap_total_bytes", json_object_new_uint64(r->swap_total_bytes));
        api_add(node, "swap_free_bytes", json_object_new_uint64(r->swap_free_bytes));
        api_add(node, "reserved_bytes", json_object_new_uint64(r->reserved_bytes));
        api_add(node, "psi",
                r->has_psi ? psi_encode(&r->psi_some, r->has_psi_full ? &r->psi_full : NULL)
                           : NULL);
        struct json_object *pr = json_object_new_object();
        api_add(pr, "level", json_object_new_string(pressure_level_to_string(r->pressure)));
        api_add(pr, "duration_ms", json_object_new_uint64(r->pressure_duration_ms));
        api_add(pr, "relief_exhausted", json_object_new_boolean(r->relief_exhausted));
        api_add(node, "pressure", pr);
        for (size_t i = 0; i < r->n_zones; i++) {
                const struct report_zone *z = &r->zones[i];
                struct json_object *zo = json_object_new_object();
                api_add(zo, "id", json_object_new_int((int)z->id));
                api_add(zo, "total_bytes", json_object_new_uint64(z->total_bytes));
                api_add(zo, "free_bytes", json_object_new_uint64(z->free_bytes));
                api_add(zo, "file_bytes", json_object_new_uint64(z->file_bytes));
                api_add(zo, "slab_reclaimable_bytes",
                        json_object_new_uint64(z->slab_reclaimable_bytes));
                api_add(zo, "reclaimable_bytes", json_object_new_uint64(z->reclaimable_bytes));
                json_object_array_add(numa, zo);
        }
        api_add(node, "numa", numa);
        api_add(o, "node", node);
        for (size_t i = 0; i < r->n_pods; i++) {
                const struct report_pod *p = &r->pods[i];
                struct json_object *po = json_object_new_object();
                struct json_object *mem = json_object_new_object();
                api_add(po, "uid", json_object_new_string(p->uid));
                if (p->name)
                        api_add(po, "name", json_object_new_string(p->name));
                if (p->namespace)
                        api_add(po, "namespace", json_object_new_string(p->namespace));
                if (p->owner_uid)
                        api_add(po, "owner_uid", json_object_new_string(p->owner_uid));
                api_add(po, "qos", json_object_new_string(qos_to_string(p->qos)));
                api_add(po, "priority", json_object_new_int(p->priority));
                api_add(po, "protected", json_object_new_boolean(p->protected_));
                api_add(po, "request_bytes", json_object_new_uint64(p->request_bytes));
                api_add(po, "limit_bytes", api_new_bytes_or_null(p->limit_bytes));
                api_add(po, "numa_zone",
                        p->numa_zone >= 0 ? json_object_new_int(p->numa_zone) : NULL);
                api_add(po, "refault_file_per_sec",
                        p->has_refault_rate ? json_object_new_double(p->refault_file_per_sec)
                                            : NULL);
                api_add(mem, "working_set_bytes", json_object_new_uint64(p->working_set_bytes));
                api_add(po, "memory", mem);
                json_object_array_add(pods, po);
        }
        api_add(o, "pods", pods);
        return o;
}

static int dup_or_null(const char *s, char **ret)
{
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int node_report_copy(const struct node_report *src, struct node_report *ret)
{
        _cleanup_(node_report_done) struct node_report c = *src;
        c.node_name = NULL;
        c.run_id = NULL;
        c.zones = NULL;
        c.pods = NULL;
        c.n_pods = 0;
        if (dup_or_null(src->node_name, &c.node_name) < 0 ||
            dup_or_null(src->run_id, &c.run_id) < 0)
                return -ENOMEM;
        c.zones = calloc(src->n_zones ? src->n_zones : 1, sizeof(*c.zones));
        c.pods = calloc(src->n_pods ? src->n_pods : 1, sizeof(*c.pods));
        if (!c.zones || !c.pods)
                return -ENOMEM;
        if (src->n_zones) /* a report without zones has none to copy (zones NULL) */
                memcpy(c.zones, src->zones, src->n_zones * sizeof(*c.zones));
        for (size_t i = 0; i < src->n_pods; i++) {
                struct report_pod *d = &c.pods[i];
                *d = src->pods[i];
                d->uid = d->name = d->namespace = d->owner_uid = NULL;
                c.n_pods++;
                if (dup_or_null(src->pods[i].uid, &d->uid) < 0 ||
                    dup_or_null(src->pods[i].name, &d->name) < 0 ||
                    dup_or_null(src->pods[i].namespace, &d->namespace) < 0 ||
                    dup_or_null(src->pods[i].owner_uid, &d->owner_uid) < 0)
                        return -ENOMEM;
        }
        *ret = c;
        c = (struct node_report){};
        return 0;
}

bool node_report_thrashing(const struct node_report *r)
{
        double sum = 0;
        for (size_t i = 0; i < r->n_pods; i++)
                if (r->pods[i].has_refault_rate)
                        sum += r->pods[i].refault_file_per_sec;
        return sum >= NODE_REPORT_THRASH_REFAULTS_PER_SEC;
}
