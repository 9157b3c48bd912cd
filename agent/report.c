// SPDX-License-Identifier: Apache-2.0
#include "agent/report.h"

#include "api/codec.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

static struct json_object *psi_line(const struct psi_line *l)
{
        struct json_object *o = json_object_new_object();
        api_add(o, "avg10", json_object_new_double(l->avg10));
        api_add(o, "avg60", json_object_new_double(l->avg60));
        api_add(o, "avg300", json_object_new_double(l->avg300));
        api_add(o, "total_usec", json_object_new_uint64(l->total_usec));
        return o;
}

static const char *report_qos(enum qos_class q)
{
        /* A pod cgroup always carries its class in its path; "none" is not a wire value. */
        return q == QOS_NONE ? "burstable" : qos_to_string(q);
}

static struct json_object *node_json(const struct report_input *in)
{
        const struct node_sample *ns = in->node;
        const uint64_t total = ns->mem.total;
        struct json_object *o = json_object_new_object(), *pr = json_object_new_object();
        struct json_object *numa = json_object_new_array();

        api_add(o, "memory_total_bytes", json_object_new_uint64(total));
        api_add(o, "memory_available_bytes",
                json_object_new_uint64(min_u64(ns->mem.available, total)));
        api_add(o, "memory_free_bytes", json_object_new_uint64(min_u64(ns->mem.free, total)));
        api_add(o, "swap_total_bytes", json_object_new_uint64(ns->mem.swap_total));
        api_add(o, "swap_free_bytes",
                json_object_new_uint64(min_u64(ns->mem.swap_free, ns->mem.swap_total)));
        api_add(o, "reserved_bytes", json_object_new_uint64(min_u64(in->reserved_bytes, total)));
        if (ns->has_psi) {
                struct json_object *psi = json_object_new_object();
                api_add(psi, "some", psi_line(&ns->psi.some));
                api_add(psi, "full", ns->psi.has_full ? psi_line(&ns->psi.full) : NULL);
                api_add(o, "psi", psi);
        }
        api_add(pr, "level", json_object_new_string(pressure_level_to_string(in->level)));
        api_add(pr, "duration_ms", json_object_new_uint64(in->level_duration_ms));
        api_add(pr, "relief_exhausted", json_object_new_boolean(in->relief_exhausted));
        api_add(o, "pressure", pr);
        for (unsigned i = 0; i < ns->n_zones && i < API_NUMA_ZONES_MAX; i++) {
                const struct numa_zone *z = &ns->zones[i];
                struct json_object *zo = json_object_new_object();
                api_add(zo, "id", json_object_new_int((int)z->id));
                api_add(zo, "total_bytes", json_object_new_uint64(z->total));
                api_add(zo, "free_bytes", json_object_new_uint64(min_u64(z->free, z->total)));
                api_add(zo, "file_bytes", json_object_new_uint64(min_u64(z->file, z->total)));
                api_add(zo, "slab_reclaimable_bytes",
                        json_object_new_uint64(min_u64(z->sreclaimable, z->total)));
                json_object_array_add(numa, zo);
        }
        api_add(o, "numa", numa);
        return o;
}

struct json_object *report_build(const struct report_input *in)
{
        struct json_object *root = json_object_new_object(), *pods = json_object_new_array();
        if (!root || !pods) {
                json_object_put(root);
                json_object_put(pods);
                return NULL;
        }
        api_add(root, "node_name", json_object_new_string(in->node_name));
        api_add(root, "node", node_json(in));
        for (size_t i = 0; in->model && i < in->model->n_pods; i++) {
                const struct pod *p = &in->model->pods[i];
                const struct report_pod_meta *meta =
                    in->pod_meta ? in->pod_meta(p->uid, in->userdata) : NULL;
                struct json_object *po = json_object_new_object(), *mem = json_object_new_object();
                api_add(po, "uid", json_object_new_string(p->uid));
                api_add(po, "qos", json_object_new_string(report_qos(p->qos)));
                if (meta) {
                        if (meta->name)
                                api_add(po, "name", json_object_new_string(meta->name));
                        if (meta->namespace)
                                api_add(po, "namespace", json_object_new_string(meta->namespace));
                        if (meta->owner_uid)
                                api_add(po, "owner_uid", json_object_new_string(meta->owner_uid));
                        api_add(po, "request_bytes", json_object_new_uint64(meta->request_bytes));
                        api_add(po, "priority", json_object_new_int(meta->priority));
                        api_add(po, "protected", json_object_new_boolean(meta->protected_));
                }
                bool have = p->cg.s.have & CG_HAVE(CGF_CURRENT);
                api_add(mem, "working_set_bytes",
                        have ? json_object_new_uint64(p->cg.s.working_set) : NULL);
                api_add(po, "memory", mem);
                json_object_array_add(pods, po);
        }
        api_add(root, "pods", pods);
        return root;
}
