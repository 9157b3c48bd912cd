// SPDX-License-Identifier: Apache-2.0
#include "agent/kernel/status.h"

#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"

#define SET(obj, key, val) json_object_object_add((obj), (key), (val))

static struct json_object *u64_or_null(uint64_t v, bool have)
{
        if (!have || v == CG_UNLIMITED)
                return NULL; /* json-c serialises a NULL value as null */
        return json_object_new_uint64(v);
}

struct psi_avgs status_psi_avgs(const struct psi_line *l)
{
        return (struct psi_avgs){ l->avg10, l->avg60, l->avg300, l->total_usec };
}

static struct json_object *psi_json(const struct psi_stats *p, bool have)
{
        if (!have)
                return NULL;
        struct psi_avgs some = status_psi_avgs(&p->some), full = status_psi_avgs(&p->full);
        return psi_encode(&some, p->has_full ? &full : NULL);
}

static struct json_object *memory_json(const struct cg_sample *s)
{
        struct json_object *o = json_object_new_object();
        bool stat = s->have & CG_HAVE(CGF_STAT);
        SET(o, "current_bytes", u64_or_null(s->current, s->have & CG_HAVE(CGF_CURRENT)));
        SET(o, "working_set_bytes", u64_or_null(s->working_set, s->have & CG_HAVE(CGF_CURRENT)));
        SET(o, "anon_bytes", u64_or_null(s->stat.anon, stat));
        SET(o, "file_bytes", u64_or_null(s->stat.file, stat));
        SET(o, "inactive_file_bytes", u64_or_null(s->stat.inactive_file, stat));
        SET(o, "min_bytes", u64_or_null(s->min, s->have & CG_HAVE(CGF_MIN)));
        SET(o, "low_bytes", u64_or_null(s->low, s->have & CG_HAVE(CGF_LOW)));
        SET(o, "high_bytes", u64_or_null(s->high, s->have & CG_HAVE(CGF_HIGH)));
        SET(o, "max_bytes", u64_or_null(s->max, s->have & CG_HAVE(CGF_MAX)));
        SET(o, "swap_current_bytes",
            u64_or_null(s->swap_current, s->have & CG_HAVE(CGF_SWAP_CURRENT)));
        SET(o, "swap_max_bytes", u64_or_null(s->swap_max, s->have & CG_HAVE(CGF_SWAP_MAX)));
        SET(o, "peak_bytes", u64_or_null(s->peak, s->have & CG_HAVE(CGF_PEAK)));
        return o;
}

static struct json_object *events_json(const struct cg_sample *s)
{
        if (!(s->have & CG_HAVE(CGF_EVENTS)))
                return NULL;
        struct json_object *o = json_object_new_object();
        SET(o, "low", json_object_new_uint64(s->events.low));
        SET(o, "high", json_object_new_uint64(s->events.high));
        SET(o, "max", json_object_new_uint64(s->events.max));
        SET(o, "oom", json_object_new_uint64(s->events.oom));
        SET(o, "oom_kill", json_object_new_uint64(s->events.oom_kill));
        SET(o, "oom_group_kill", json_object_new_uint64(s->events.oom_group_kill));
        return o;
}

static struct json_object *cg_numa_json(const struct cg_sample *s)
{
        if (!(s->have & CG_HAVE(CGF_NUMA_STAT)) || !s->numa)
                return NULL;
        struct json_object *a = json_object_new_array();
        for (unsigned i = 0; i < s->numa->n_nodes; i++) {
                struct json_object *o = json_object_new_object();
                SET(o, "id", json_object_new_int((int)i));
                SET(o, "anon_bytes", json_object_new_uint64(s->numa->anon[i]));
                SET(o, "file_bytes", json_object_new_uint64(s->numa->file[i]));
                json_object_array_add(a, o);
        }
        return a;
}

/* Fields every tracked cgroup carries. */
static void add_cgroup_fields(struct json_object *o, const struct cgroup *c)
{
        SET(o, "cgroup", json_object_new_string(c->path));
        SET(o, "cgroup_id", json_object_new_uint64(c->id));
        SET(o, "memory", memory_json(&c->s));
        SET(o, "psi", psi_json(&c->s.psi, c->s.have & CG_HAVE(CGF_PRESSURE)));
        SET(o, "reclaim_stall_usec", u64_or_null(c->s.reclaim_stall_usec, c->s.has_reclaim_stall));
        /* A rate needs two samples: the daemon has them, a one-shot read does not (null). */
        SET(o, "refault_file_per_sec",
            c->has_refault_rate ? json_object_new_double(c->refault_file_per_sec) : NULL);
        SET(o, "events", events_json(&c->s));
        SET(o, "numa", cg_numa_json(&c->s));
}

static struct json_object *node_json(const struct node_sample *ns)
{
        struct json_object *o = json_object_new_object();
        SET(o, "memory_total_bytes", json_object_new_uint64(ns->mem.total));
        SET(o, "memory_available_bytes", json_object_new_uint64(ns->mem.available));
        SET(o, "memory_free_bytes", json_object_new_uint64(ns->mem.free));
        SET(o, "swap_total_bytes", json_object_new_uint64(ns->mem.swap_total));
        SET(o, "swap_free_bytes", json_object_new_uint64(ns->mem.swap_free));
        SET(o, "psi", psi_json(&ns->psi, ns->has_psi));
        struct json_object *numa = json_object_new_array();
        for (unsigned i = 0; i < ns->n_zones; i++) {
                const struct numa_zone *z = &ns->zones[i];
                struct json_object *zo = json_object_new_object();
                SET(zo, "id", json_object_new_int((int)z->id));
                SET(zo, "total_bytes", json_object_new_uint64(z->total));
                SET(zo, "free_bytes", json_object_new_uint64(z->free));
                SET(zo, "file_bytes", json_object_new_uint64(z->file));
                SET(zo, "slab_reclaimable_bytes", json_object_new_uint64(z->sreclaimable));
                struct json_object *d = json_object_new_array();
                for (unsigned j = 0; j < z->n_distance; j++)
                        json_object_array_add(d, json_object_new_int((int)z->distance[j]));
                SET(zo, "distances", d);
                json_object_array_add(numa, zo);
        }
        SET(o, "numa", numa);
        return o;
}

struct json_object *status_to_json(const struct node_sample *ns, const struct model *m)
{
        struct json_object *root = json_object_new_object();
        if (!root)
                return NULL;
        SET(root, "node", node_json(ns));

        struct json_object *kp = NULL;
        if (m->has_kubepods) {
                kp = json_object_new_object();
                add_cgroup_fields(kp, &m->kubepods);
        }
        SET(root, "kubepods", kp);

        struct json_object *pods = json_object_new_array();
        for (size_t i = 0; i < m->n_pods; i++) {
                const struct pod *p = &m->pods[i];
                struct json_object *po = json_object_new_object();
                SET(po, "uid", json_object_new_string(p->uid));
                SET(po, "qos", json_object_new_string(qos_to_string(p->qos)));
                SET(po, "driver", json_object_new_string(driver_to_string(p->driver)));
                add_cgroup_fields(po, &p->cg);
                struct json_object *cs = json_object_new_array();
                for (size_t j = 0; j < p->n_containers; j++) {
                        const struct container *c = &p->containers[j];
                        struct json_object *co = json_object_new_object();
                        SET(co, "id", json_object_new_string(c->id));
                        SET(co, "runtime", json_object_new_string(c->runtime));
                        add_cgroup_fields(co, &c->cg);
                        json_object_array_add(cs, co);
                }
                SET(po, "containers", cs);
                json_object_array_add(pods, po);
        }
        SET(root, "pods", pods);

        struct json_object *wls = json_object_new_array();
        for (size_t i = 0; i < m->n_workloads; i++) {
                const struct workload *w = &m->workloads[i];
                struct json_object *wo = json_object_new_object();
                SET(wo, "name", json_object_new_string(w->name));
                SET(wo, "qos", json_object_new_string(qos_to_string(w->qos)));
                add_cgroup_fields(wo, &w->cg);
                json_object_array_add(wls, wo);
        }
        SET(root, "workloads", wls);
        return root;
}

static const char *bytes_cell(uint64_t v, bool have, char *buf)
{
        if (!have)
                return "-";
        return format_bytes_iec(v, buf, FORMAT_BYTES_MAX);
}

static void print_row(FILE *f, const char *qos, const char *name, const struct cgroup *cg)
{
        const struct cg_sample *s = &cg->s;
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX], d[FORMAT_BYTES_MAX];
        char some[16] = "-", full[16] = "-", oom[24] = "-", stall[24] = "-", refault[24] = "-";
        if (cg->has_refault_rate)
                snprintf(refault, sizeof(refault), "%.0f", cg->refault_file_per_sec);
        if (s->has_reclaim_stall)
                snprintf(stall, sizeof(stall), "%.1f", (double)s->reclaim_stall_usec / 1000.0);
        if (s->have & CG_HAVE(CGF_PRESSURE)) {
                snprintf(some, sizeof(some), "%.2f", s->psi.some.avg10);
                if (s->psi.has_full)
                        snprintf(full, sizeof(full), "%.2f", s->psi.full.avg10);
        }
        if (s->have & CG_HAVE(CGF_EVENTS))
                snprintf(oom, sizeof(oom), "%llu", (unsigned long long)s->events.oom_kill);
        bool cur = s->have & CG_HAVE(CGF_CURRENT);
        fprintf(f, "%-11s %-46s %10s %10s %10s %10s %6s %6s %8s %7s %5s\n", qos, name,
                bytes_cell(s->current, cur, a), bytes_cell(s->working_set, cur, b),
                bytes_cell(s->high, s->have & CG_HAVE(CGF_HIGH), c),
                bytes_cell(s->max, s->have & CG_HAVE(CGF_MAX), d), some, full, stall, refault, oom);
}

void status_print_table(FILE *f, const struct node_sample *ns, const struct model *m)
{
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX], d[FORMAT_BYTES_MAX];

        fprintf(f, "NODE   memory %s total, %s available (%.0f%%), swap %s free of %s\n",
                format_bytes_iec(ns->mem.total, a, sizeof(a)),
                format_bytes_iec(ns->mem.available, b, sizeof(b)),
                ns->mem.total ? 100.0 * (double)ns->mem.available / (double)ns->mem.total : 0.0,
                format_bytes_iec(ns->mem.swap_free, c, sizeof(c)),
                format_bytes_iec(ns->mem.swap_total, d, sizeof(d)));
        if (ns->has_psi)
                fprintf(f,
                        "       pressure some %.2f %.2f %.2f  full %.2f %.2f %.2f  (%% stalled, "
                        "avg10 avg60 avg300)\n",
                        ns->psi.some.avg10, ns->psi.some.avg60, ns->psi.some.avg300,
                        ns->psi.full.avg10, ns->psi.full.avg60, ns->psi.full.avg300);
        else
                fprintf(f, "       pressure: not available (kernel without PSI)\n");
        for (unsigned i = 0; i < ns->n_zones; i++)
                fprintf(f, "       numa node%u %s total, %s free, %s file\n", ns->zones[i].id,
                        format_bytes_iec(ns->zones[i].total, a, sizeof(a)),
                        format_bytes_iec(ns->zones[i].free, b, sizeof(b)),
                        format_bytes_iec(ns->zones[i].file, c, sizeof(c)));
        /* RFLT/s: file pages refaulted per second (a cache in use being evicted). */
        fprintf(f, "\n%-11s %-46s %10s %10s %10s %10s %6s %6s %8s %7s %5s\n", "QOS",
                "POD / CONTAINER", "CURRENT", "WORKSET", "HIGH", "MAX", "SOME10", "FULL10",
                "STALLms", "RFLT/s", "OOMK");
        if (m->has_kubepods)
                print_row(f, "-", m->kubepods.path, &m->kubepods);
        static const enum qos_class order[] = { QOS_GUARANTEED, QOS_BURSTABLE, QOS_BESTEFFORT };
        for (size_t q = 0; q < 3; q++)
                for (size_t i = 0; i < m->n_pods; i++) {
                        const struct pod *p = &m->pods[i];
                        char name[128];
                        if (p->qos != order[q])
                                continue;
                        snprintf(name, sizeof(name), "pod %s", p->uid);
                        print_row(f, qos_to_string(p->qos), name, &p->cg);
                        for (size_t j = 0; j < p->n_containers; j++) {
                                const struct container *ct = &p->containers[j];
                                snprintf(name, sizeof(name), "  %s %.12s", ct->runtime, ct->id);
                                print_row(f, "", name, &ct->cg);
                        }
                }
        if (m->n_pods == 0)
                fprintf(f, "(no Kubernetes pods found)\n");
        if (m->n_workloads) {
                fprintf(f, "\n%-11s %-46s\n", "QOS", "WORKLOAD");
                for (size_t i = 0; i < m->n_workloads; i++)
                        print_row(f, qos_to_string(m->workloads[i].qos), m->workloads[i].cg.path,
                                  &m->workloads[i].cg);
        }
}
