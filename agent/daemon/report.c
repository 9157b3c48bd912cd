// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kernel/status.h"
#include "common/macro.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

/* A pod cgroup always carries its class in its path; "none" is not a wire value. */
static enum qos_class report_qos(enum qos_class q)
{
        return q == QOS_NONE ? QOS_BURSTABLE : q;
}

/* strdup that keeps NULL; -ENOMEM. */
static int dup_opt(const char *s, char **ret)
{
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

static void node_fill(const struct report_input *in, struct node_report *r)
{
        const struct node_sample *ns = in->node;
        const uint64_t total = ns->mem.total;

        r->memory_total_bytes = total;
        r->memory_available_bytes = min_u64(ns->mem.available, total);
        r->memory_free_bytes = min_u64(ns->mem.free, total);
        r->swap_total_bytes = ns->mem.swap_total;
        r->swap_free_bytes = min_u64(ns->mem.swap_free, ns->mem.swap_total);
        r->reserved_bytes = min_u64(in->reserved_bytes, total);
        r->has_psi = ns->has_psi;
        if (ns->has_psi) {
                r->psi_some = status_psi_avgs(&ns->psi.some);
                r->has_psi_full = ns->psi.has_full;
                if (ns->psi.has_full)
                        r->psi_full = status_psi_avgs(&ns->psi.full);
        }
        r->pressure = in->level;
        r->pressure_duration_ms = in->level_duration_ms;
        r->relief_exhausted = in->relief_exhausted;
}

int report_build(const struct report_input *in, struct node_report *ret)
{
        _cleanup_(node_report_done) struct node_report r = {};
        const struct node_sample *ns = in->node;
        size_t n_zones = ns->n_zones < API_NUMA_ZONES_MAX ? ns->n_zones : API_NUMA_ZONES_MAX;
        size_t n_pods = in->model ? in->model->n_pods : 0;

        if (dup_opt(in->node_name, &r.node_name) < 0)
                return -ENOMEM;
        node_fill(in, &r);
        r.zones = calloc(n_zones ? n_zones : 1, sizeof(*r.zones));
        r.pods = calloc(n_pods ? n_pods : 1, sizeof(*r.pods));
        if (!r.zones || !r.pods)
                return -ENOMEM;
        for (size_t i = 0; i < n_zones; i++) {
                const struct numa_zone *z = &ns->zones[i];
                struct report_zone *rz = &r.zones[r.n_zones++];
                *rz = (struct report_zone){
                        .id = z->id,
                        .total_bytes = z->total,
                        .free_bytes = min_u64(z->free, z->total),
                        .file_bytes = min_u64(z->file, z->total),
                        .slab_reclaimable_bytes = min_u64(z->sreclaimable, z->total),
                };
                /* What memschedd would derive were it not sent: one rule, in the api. */
                rz->reclaimable_bytes = report_zone_reclaimable_default(rz);
        }
        for (size_t i = 0; i < n_pods; i++) {
                const struct pod *p = &in->model->pods[i];
                const struct report_pod_meta *meta =
                    in->pod_meta ? in->pod_meta(p->uid, in->userdata) : NULL;
                struct report_pod *rp = &r.pods[r.n_pods++];
                *rp = (struct report_pod){
                        .qos = report_qos(p->qos),
                        /* memory.current missing: 0, which memschedd reads as unknown */
                        .working_set_bytes =
                            p->cg.s.have & CG_HAVE(CGF_CURRENT) ? p->cg.s.working_set : 0,
                        .limit_bytes = API_UNLIMITED,
                        .numa_zone = -1,
                        .has_refault_rate = p->cg.has_refault_rate,
                        .refault_file_per_sec = p->cg.refault_file_per_sec,
                };
                if (dup_opt(p->uid, &rp->uid) < 0)
                        return -ENOMEM;
                if (!meta)
                        continue;
                if (dup_opt(meta->name, &rp->name) < 0 ||
                    dup_opt(meta->namespace, &rp->namespace) < 0 ||
                    dup_opt(meta->owner_uid, &rp->owner_uid) < 0)
                        return -ENOMEM;
                rp->request_bytes = meta->request_bytes;
                rp->priority = meta->priority;
                rp->protected_ = meta->protected_;
        }
        *ret = r;
        r = (struct node_report){};
        return 0;
}
