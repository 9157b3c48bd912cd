// SPDX-License-Identifier: Apache-2.0
#include "scheduler/planner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
#include "scheduler/placement.h"

bool planner_node_qualifies(const struct sched_snapshot *s, size_t i,
                            const struct sched_config *cfg)
{
        const struct node_report *r = &s->nodes[i]->report;
        if (r->pressure < LEVEL_MEDIUM || !r->relief_exhausted ||
            r->pressure_duration_ms < cfg->sustained_pressure_ms)
                return false;
        for (size_t k = 0; k < s->n_plans; k++)
                if (s->plans[k].state == MIGRATION_PLANNED &&
                    strcmp(s->plans[k].source_node, s->nodes[i]->name) == 0)
                        return false;
        return true;
}

static int qos_rank(enum qos_class q)
{
        return q == QOS_BESTEFFORT ? 0 : 1;
}

static int candidate_cmp(const void *a, const void *b)
{
        const struct report_pod *x = *(const struct report_pod *const *)a;
        const struct report_pod *y = *(const struct report_pod *const *)b;
        if (qos_rank(x->qos) != qos_rank(y->qos))
                return qos_rank(x->qos) - qos_rank(y->qos);
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        if (x->working_set_bytes != y->working_set_bytes)
                return x->working_set_bytes < y->working_set_bytes ? -1 : 1;
        return strcmp(x->uid, y->uid);
}

static bool movable(const struct report_pod *p)
{
        return p->qos != QOS_GUARANTEED && p->qos != QOS_NONE && !p->protected_ && p->owner_uid &&
               *p->owner_uid;
}

static char *dup_opt(const char *s)
{
        return s ? strdup(s) : NULL;
}

int planner_plan(const struct sched_snapshot *s, size_t src, uint64_t now_usec,
                 uint64_t now_real_usec, const char *id_prefix, const struct sched_config *cfg,
                 struct migration **ret, size_t *ret_n)
{
        const struct sched_node *node = s->nodes[src];
        const struct node_report *r = &node->report;
        const struct report_pod **cand = NULL;
        struct migration *plans = NULL;
        uint64_t *extra_res = NULL; /* per node: reserved earlier in this round */
        size_t n_cand = 0, n_plans = 0;
        int ret_r = -ENOMEM;

        cand = calloc(r->n_pods ? r->n_pods : 1, sizeof(*cand));
        plans =
            calloc(cfg->max_migrations_per_plan ? cfg->max_migrations_per_plan : 1, sizeof(*plans));
        extra_res = calloc(s->n_nodes ? s->n_nodes : 1, sizeof(*extra_res));
        if (!cand || !plans || !extra_res)
                goto out;
        for (size_t i = 0; i < r->n_pods; i++)
                if (movable(&r->pods[i]))
                        cand[n_cand++] = &r->pods[i];
        qsort(cand, n_cand, sizeof(*cand), candidate_cmp);

        uint64_t target_avail =
            (uint64_t)((double)r->memory_total_bytes * cfg->relief_target_ratio);
        uint64_t need = sub_sat(target_avail, r->memory_available_bytes);
        uint64_t freed = 0;

        for (size_t c = 0; c < n_cand && n_plans < cfg->max_migrations_per_plan; c++) {
                const struct report_pod *p = cand[c];
                if (n_plans > 0 && freed >= need)
                        break;
                uint64_t bytes = p->request_bytes > p->working_set_bytes ? p->request_bytes
                                                                         : p->working_set_bytes;
                struct pod_shape shape = { .request_bytes = bytes, .qos = p->qos };
                ssize_t best = -1;
                struct node_verdict bestv = {};
                for (size_t t = 0; t < s->n_nodes; t++) {
                        struct node_verdict v;
                        if (t == src)
                                continue;
                        shape.request_bytes = bytes + extra_res[t];
                        placement_evaluate(s, (ssize_t)t, s->nodes[t]->name, &shape, now_usec, cfg,
                                           false, &v);
                        if (v.kind != VERDICT_FITS)
                                continue;
                        if (best < 0 || v.score > bestv.score ||
                            (v.score == bestv.score &&
                             v.allocatable_bytes > bestv.allocatable_bytes)) {
                                best = (ssize_t)t;
                                bestv = v;
                        }
                }
                if (best < 0)
                        continue;
                extra_res[best] += bytes;

                char id[128], why[256], a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX],
                    w[FORMAT_BYTES_MAX];
                snprintf(id, sizeof(id), "%s-%zu", id_prefix, n_plans);
                snprintf(why, sizeof(why),
                         "%s pressure on %s for %llu s with local relief exhausted; %s "
                         "available of %s; moving %s pod with working set %s",
                         pressure_level_to_string(r->pressure), node->name,
                         (unsigned long long)(r->pressure_duration_ms / 1000),
                         format_bytes_iec(r->memory_available_bytes, a, sizeof(a)),
                         format_bytes_iec(r->memory_total_bytes, b, sizeof(b)),
                         qos_to_string(p->qos),
                         format_bytes_iec(p->working_set_bytes, w, sizeof(w)));
                struct migration *m = &plans[n_plans];
                *m = (struct migration){
                        .state = MIGRATION_PLANNED,
                        .qos = p->qos,
                        .working_set_bytes = p->working_set_bytes,
                        .reservation_bytes = bytes,
                        .target_numa_zone = -1,
                        .created_at_usec = now_real_usec,
                        .expires_at_usec = now_real_usec + cfg->reservation_ttl_usec,
                };
                n_plans++;
                m->id = strdup(id);
                m->source_node = strdup(node->name);
                m->target_node = strdup(s->nodes[best]->name);
                m->pod_uid = strdup(p->uid);
                m->pod_name = dup_opt(p->name);
                m->pod_namespace = dup_opt(p->namespace);
                m->owner_uid = dup_opt(p->owner_uid);
                m->reason = strdup(why);
                if (!m->id || !m->source_node || !m->target_node || !m->pod_uid || !m->reason ||
                    (p->name && !m->pod_name) || (p->namespace && !m->pod_namespace) ||
                    (p->owner_uid && !m->owner_uid))
                        goto out;
                freed += p->working_set_bytes;
        }
        *ret = plans;
        *ret_n = n_plans;
        plans = NULL;
        ret_r = (int)*ret_n;
out:
        migration_list_free(plans, n_plans);
        free(cand);
        free(extra_res);
        return ret_r;
}
