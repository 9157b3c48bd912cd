// SPDX-License-Identifier: Apache-2.0
#include "scheduler/placement.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/quantity.h"

bool placement_pod_matches_plan(const struct pod_shape *p, const struct migration *m)
{
        if (!p->owner_uid || !*p->owner_uid || !m->owner_uid)
                return false;
        if (strcmp(p->owner_uid, m->owner_uid) != 0)
                return false;
        return !m->pod_namespace || !p->namespace || strcmp(p->namespace, m->pod_namespace) == 0;
}

uint64_t placement_node_allocatable(const struct sched_snapshot *s, size_t i)
{
        const struct node_report *r = &s->nodes[i]->report;
        const struct node_extra *e = &s->extra[i];
        return sub_sat(
            sub_sat(sub_sat(r->memory_available_bytes, r->reserved_bytes), e->reservation_bytes),
            e->assumed_bytes);
}

static const struct migration *find_reservation(const struct sched_snapshot *s, const char *node,
                                                const struct pod_shape *p)
{
        for (size_t i = 0; i < s->n_plans; i++)
                if (s->plans[i].state == MIGRATION_PLANNED &&
                    strcmp(s->plans[i].target_node, node) == 0 &&
                    placement_pod_matches_plan(p, &s->plans[i]))
                        return &s->plans[i];
        return NULL;
}

static double clamp01(double v)
{
        return v < 0 ? 0 : (v > 1 ? 1 : v);
}

enum explain {
        EXPLAIN_FAILURES, /* reasons for nodes that do not fit */
        EXPLAIN_ALL,
        EXPLAIN_NONE, /* scores only (prioritize) */
};

/* snprintf into v->reason unless reasons are off. */
#define REASON(...)                                                                                \
        do {                                                                                       \
                if (explain != EXPLAIN_NONE)                                                       \
                        snprintf(v.reason, sizeof(v.reason), __VA_ARGS__);                         \
        } while (0)

/* The API's word on a node (see placement.h). False with v's kind and reason set when the node
 * is no target for this pod. */
static bool api_admits(const struct kube_view *view, const char *name, const struct pod_shape *pod,
                       bool explain, struct node_verdict *v)
{
        const struct view_node *n = kube_view_find_node(view, name);
        v->kind = VERDICT_UNRESOLVABLE;
        if (!n) {
                if (explain)
                        snprintf(v->reason, sizeof(v->reason),
                                 "memsched: node %.64s is not known to the Kubernetes API", name);
                return false;
        }
        if (!n->ready) {
                if (explain)
                        snprintf(v->reason, sizeof(v->reason),
                                 "memsched: node %.64s is not Ready (Kubernetes API)", name);
                return false;
        }
        if (n->unschedulable) {
                struct kube_taint cordon = { .key = KUBE_TAINT_UNSCHEDULABLE,
                                             .effect = KUBE_TAINT_NO_SCHEDULE };
                if (!kube_taint_tolerated(&cordon, pod->tolerations, pod->n_tolerations)) {
                        if (explain)
                                snprintf(v->reason, sizeof(v->reason),
                                         "memsched: node %.64s is cordoned (unschedulable)", name);
                        return false;
                }
        }
        for (size_t i = 0; i < n->n_taints; i++) {
                const struct kube_taint *t = &n->taints[i];
                if (kube_taint_tolerated(t, pod->tolerations, pod->n_tolerations))
                        continue;
                if (explain)
                        (void)!snprintf(
                            v->reason, sizeof(v->reason),
                            "memsched: node %.32s has taint %.40s%s%.16s:%s that the pod does "
                            "not tolerate",
                            name, t->key, t->value[0] ? "=" : "", t->value,
                            t->effect == KUBE_TAINT_NO_EXECUTE ? "NoExecute" : "NoSchedule");
                return false;
        }
        v->kind = VERDICT_FITS;
        return true;
}

static void evaluate(const struct sched_snapshot *s, ssize_t index, const char *name,
                     const struct pod_shape *pod, uint64_t now_usec, const struct sched_config *cfg,
                     enum explain explain, struct node_verdict *ret)
{
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        struct node_verdict v;

        v.kind = VERDICT_FITS;
        v.score = 0;
        v.numa_zone = -1;
        v.allocatable_bytes = 0;
        v.pressure = LEVEL_NONE;
        v.reservation = NULL;
        v.reason[0] = '\0';

        if (s->view && !api_admits(s->view, name, pod, explain != EXPLAIN_NONE, &v)) {
                *ret = v;
                return;
        }
        if (index < 0) {
                if (cfg->admit_unknown_nodes) {
                        v.kind = VERDICT_FITS;
                        REASON("no report from memagentd; admitted without memory checks");
                } else {
                        v.kind = VERDICT_UNRESOLVABLE;
                        REASON("memsched: node %.64s has sent no report (is memagentd running?)",
                               name);
                }
                *ret = v;
                return;
        }

        const struct sched_node *n = s->nodes[index];
        const struct node_report *r = &n->report;
        uint64_t age = now_usec > n->received_usec ? now_usec - n->received_usec : 0;
        v.pressure = r->pressure;
        if (age > cfg->stale_after_usec) {
                v.kind = VERDICT_UNRESOLVABLE;
                REASON("memsched: stale, last report %llu s ago (stale after %llu s)",
                       (unsigned long long)(age / 1000000),
                       (unsigned long long)(cfg->stale_after_usec / 1000000));
                *ret = v;
                return;
        }

        v.reservation = find_reservation(s, n->name, pod);
        uint64_t held = v.reservation ? v.reservation->reservation_bytes : 0;
        v.allocatable_bytes = placement_node_allocatable(s, (size_t)index) + held;
        if (v.allocatable_bytes > r->memory_total_bytes)
                v.allocatable_bytes = r->memory_total_bytes;

        if (r->pressure >= LEVEL_MEDIUM) {
                v.kind = VERDICT_FAILED;
                REASON("memsched: node under %s memory pressure",
                       pressure_level_to_string(r->pressure));
                *ret = v;
                return;
        }
        if (pod->request_bytes > v.allocatable_bytes) {
                v.kind = VERDICT_FAILED;
                REASON("memsched: insufficient memory, request %s > allocatable %s",
                       format_bytes_iec(pod->request_bytes, a, sizeof(a)),
                       format_bytes_iec(v.allocatable_bytes, b, sizeof(b)));
                *ret = v;
                return;
        }

        /* Zone view: free + reclaimable - pinned deductions (a node without NUMA data is one
         * zone holding everything allocatable). */
        uint64_t zone_avail[API_NUMA_ZONES_MAX];
        size_t nz = r->n_zones;
        uint64_t largest_zone = 0;
        for (size_t z = 0; z < nz; z++) {
                const struct report_zone *rz = &r->zones[z];
                uint64_t ded = s->extra[index].zone_deduct_bytes[rz->id];
                if (v.reservation && v.reservation->target_numa_zone == (int32_t)rz->id)
                        ded = sub_sat(ded, held);
                zone_avail[z] = sub_sat(rz->free_bytes + rz->reclaimable_bytes, ded);
                if (zone_avail[z] > largest_zone)
                        largest_zone = zone_avail[z];
        }

        int chosen = -1;
        if (pod->single_numa && nz > 0) {
                for (size_t z = 0; z < nz; z++)
                        if (zone_avail[z] >= pod->request_bytes &&
                            (chosen < 0 || zone_avail[z] < zone_avail[chosen]))
                                chosen = (int)z;
                if (chosen < 0) {
                        v.kind = VERDICT_FAILED;
                        REASON("memsched: request %s fits no single NUMA zone (largest has %s)",
                               format_bytes_iec(pod->request_bytes, a, sizeof(a)),
                               format_bytes_iec(largest_zone, b, sizeof(b)));
                        *ret = v;
                        return;
                }
                v.numa_zone = (int32_t)r->zones[chosen].id;
        }

        /* Fragmentation after placing: a single-zone pod leaves its zone smaller; any other pod
         * is spread by the kernel, so the split does not change. */
        double frag = 0;
        if (nz > 1) {
                uint64_t sum = 0, max = 0;
                for (size_t z = 0; z < nz; z++) {
                        uint64_t left = zone_avail[z];
                        if ((int)z == chosen)
                                left -= pod->request_bytes;
                        sum += left;
                        if (left > max)
                                max = left;
                }
                frag = sum ? 1.0 - (double)max / (double)sum : 0;
        }
        double headroom =
            r->memory_total_bytes
                ? (double)(v.allocatable_bytes - pod->request_bytes) / (double)r->memory_total_bytes
                : 0;
        double pressure = r->pressure == LEVEL_NONE ? 1.0 : 0.5;
        if (r->has_psi)
                pressure *= 1.0 - clamp01(r->psi_some.avg10 / 100.0);
        double score = cfg->weight_fragmentation * (1.0 - clamp01(frag)) +
                       cfg->weight_headroom * clamp01(headroom) +
                       cfg->weight_pressure * clamp01(pressure);
        v.kind = VERDICT_FITS;
        v.score = (int)lround(clamp01(score) * 10.0);
        if (v.reservation)
                v.score = 10;
        if (explain != EXPLAIN_ALL)
                v.reason[0] = '\0';
        else if (v.reservation) {
                REASON("reserved for this pod by migration %.40s", v.reservation->id);
        } else if (chosen >= 0)
                REASON("fits NUMA zone %d with %s of %s left in it; fragmentation %.0f%%, "
                       "pressure %s",
                       v.numa_zone,
                       format_bytes_iec(zone_avail[chosen] - pod->request_bytes, a, sizeof(a)),
                       format_bytes_iec(zone_avail[chosen], b, sizeof(b)), frag * 100,
                       pressure_level_to_string(r->pressure));
        else
                REASON("fits with %s of %s allocatable left; fragmentation %.0f%%, pressure %s",
                       format_bytes_iec(v.allocatable_bytes - pod->request_bytes, a, sizeof(a)),
                       format_bytes_iec(v.allocatable_bytes, b, sizeof(b)), frag * 100,
                       pressure_level_to_string(r->pressure));
        *ret = v;
}

void placement_evaluate(const struct sched_snapshot *s, ssize_t index, const char *name,
                        const struct pod_shape *pod, uint64_t now_usec,
                        const struct sched_config *cfg, bool explain, struct node_verdict *ret)
{
        evaluate(s, index, name, pod, now_usec, cfg, explain ? EXPLAIN_ALL : EXPLAIN_FAILURES, ret);
}

void placement_score(const struct sched_snapshot *s, ssize_t index, const char *name,
                     const struct pod_shape *pod, uint64_t now_usec, const struct sched_config *cfg,
                     struct node_verdict *ret)
{
        evaluate(s, index, name, pod, now_usec, cfg, EXPLAIN_NONE, ret);
}

uint64_t placement_lease_bytes(const struct node_verdict *v, const struct pod_shape *pod,
                               uint64_t pool_free_bytes)
{
        if (v->kind == VERDICT_FITS)
                return 0;
        if (v->kind != VERDICT_FAILED || v->pressure >= LEVEL_MEDIUM ||
            pod->qos == QOS_GUARANTEED || pod->request_bytes <= v->allocatable_bytes)
                return API_UNLIMITED;
        uint64_t short_bytes = pod->request_bytes - v->allocatable_bytes;
        return short_bytes <= pool_free_bytes / 2 ? short_bytes : API_UNLIMITED;
}
