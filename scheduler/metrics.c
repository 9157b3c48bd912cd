// SPDX-License-Identifier: Apache-2.0
#include "scheduler/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/prom.h"
#include "common/macro.h"
#include "scheduler/cluster.h"
#include "scheduler/kube.h"
#include "scheduler/pools-service.h"
#include "scheduler/store-replica.h"

static const char *const route_names[_ROUTE_MAX] = {
        [ROUTE_NODE_REPORT] = "node_report",
        [ROUTE_NODES] = "nodes",
        [ROUTE_NODE] = "node",
        [ROUTE_PLACEMENT] = "placement",
        [ROUTE_EXTENDER_FILTER] = "extender_filter",
        [ROUTE_EXTENDER_PRIORITIZE] = "extender_prioritize",
        [ROUTE_EXTENDER_BIND] = "extender_bind",
        [ROUTE_MIGRATIONS] = "migrations",
        [ROUTE_METRICS] = "metrics",
        [ROUTE_HEALTHZ] = "healthz",
        [ROUTE_READYZ] = "readyz",
        [ROUTE_POOLS] = "pools",
        [ROUTE_POOL] = "pool",
        [ROUTE_LEASES] = "leases",
        [ROUTE_LEASE] = "lease",
        [ROUTE_LEASE_RENEW] = "lease_renew",
        [ROUTE_UNKNOWN] = "unknown",
};

static const unsigned codes[METRICS_CODES] = {
        200, 201, 400, 404, 405, 409, 413, 415, 500, 503, 507
};
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bucket_usec[METRICS_BUCKETS - 1] = { 100,    250,    500,    1000,  2500,
                                                           5000,   10000,  25000,  50000, 100000,
                                                           250000, 500000, 1000000 };

const char *route_to_string(enum route r)
{
        return (unsigned)r < _ROUTE_MAX ? route_names[r] : "unknown";
}

void metrics_observe(struct metrics *m, enum route r, unsigned status, uint64_t duration_usec)
{
        size_t ci = METRICS_CODES;
        for (size_t i = 0; i < METRICS_CODES; i++)
                if (codes[i] == status)
                        ci = i;
        if (ci == METRICS_CODES)
                ci = status >= 500 ? 8 : 2; /* count unexpected codes as 500 / 400 */
        atomic_fetch_add_explicit(&m->requests[r][ci], 1, memory_order_relaxed);
        size_t b = 0;
        while (b < METRICS_BUCKETS - 1 && duration_usec > bucket_usec[b])
                b++;
        atomic_fetch_add_explicit(&m->latency_buckets[r][b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->latency_sum_usec[r], duration_usec, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->latency_count[r], 1, memory_order_relaxed);
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

static void counter(struct api_buf *b, const char *name, const char *help, unsigned long long v)
{
        prom_family(b, name, PROM_COUNTER, help);
        prom_sample_u64(b, name, NULL, 0, v);
}

static void gauge(struct api_buf *b, const char *name, const char *help, unsigned long long v)
{
        prom_family(b, name, PROM_GAUGE, help);
        prom_sample_u64(b, name, NULL, 0, v);
}

void metrics_format(const struct metrics *m, struct cluster *c, uint64_t now_usec,
                    struct api_buf *b)
{
        prom_family(b, "memsched_http_requests_total", PROM_COUNTER,
                    "HTTP requests served, by route and status code.");
        for (int r = 0; r < _ROUTE_MAX; r++)
                for (size_t i = 0; i < METRICS_CODES; i++) {
                        unsigned long long v = LOAD(m->requests[r][i]);
                        char code[8];
                        snprintf(code, sizeof(code), "%u", codes[i]);
                        const struct prom_label l[] = { { "route", route_names[r] },
                                                        { "code", code } };
                        if (v)
                                prom_sample_u64(b, "memsched_http_requests_total", l, ELEMENTSOF(l),
                                                v);
                }
        prom_family(b, "memsched_http_request_duration_seconds", PROM_HISTOGRAM,
                    "Time to answer an HTTP request, by route.");
        double bounds[METRICS_BUCKETS - 1];
        for (size_t i = 0; i < METRICS_BUCKETS - 1; i++)
                bounds[i] = (double)bucket_usec[i] / 1e6;
        for (int r = 0; r < _ROUTE_MAX; r++) {
                if (!LOAD(m->latency_count[r]))
                        continue;
                uint64_t counts[METRICS_BUCKETS];
                for (size_t i = 0; i < METRICS_BUCKETS; i++)
                        counts[i] = LOAD(m->latency_buckets[r][i]);
                const struct prom_label l[] = { { "route", route_names[r] } };
                prom_histogram(b, "memsched_http_request_duration_seconds", l, ELEMENTSOF(l),
                               bounds, counts, METRICS_BUCKETS,
                               (double)LOAD(m->latency_sum_usec[r]) / 1e6);
        }

        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&c->slot);
        size_t stale = 0, active = 0;
        for (size_t i = 0; i < s->n_nodes; i++)
                if (now_usec - s->nodes[i]->received_usec > c->cfg.stale_after_usec)
                        stale++;
        for (size_t i = 0; i < s->n_plans; i++)
                active += s->plans[i].state == MIGRATION_PLANNED;
        gauge(b, "memsched_nodes", "Nodes known from agent reports.", s->n_nodes);
        gauge(b, "memsched_nodes_stale", "Known nodes whose reports stopped.", stale);
        gauge(b, "memsched_reservations", "Migration reservations currently held.", active);
        gauge(b, "memsched_snapshot_generation", "Generation of the published cluster snapshot.",
              (unsigned long long)s->generation);
        counter(b, "memsched_reports_total", "Node reports ingested.", LOAD(c->reports_total));
        counter(b, "memsched_bind_decisions_total", "Bind decisions recorded.",
                LOAD(c->binds_total));
        counter(b, "memsched_migrations_planned_total", "Migrations planned.",
                LOAD(c->migrations_planned_total));
        counter(b, "memsched_migrations_expired_total", "Reservations that expired unused.",
                LOAD(c->migrations_expired_total));
        prom_family(b, "memsched_filter_decisions_total", PROM_COUNTER,
                    "Per-node filter decisions, by result.");
        static const char *const results[] = { "passed", "failed", "unresolvable" };
        for (size_t i = 0; i < ELEMENTSOF(results); i++) {
                const struct prom_label l[] = { { "result", results[i] } };
                prom_sample_u64(b, "memsched_filter_decisions_total", l, ELEMENTSOF(l),
                                LOAD(m->filter_nodes[i]));
        }
        counter(b, "memsched_prioritize_decisions_total", "Nodes scored by prioritize.",
                LOAD(m->prioritized_nodes));
        gauge(b, "memsched_leader",
              "1 on the replica that plans and expires reservations (the only one on SQLite), 0 "
              "on the others.",
              !atomic_load(&c->follower));
        gauge(b, "memsched_store_revision",
              "State store revision this replica's plans are current to.", LOAD(c->store_revision));
        prom_family(b, "memsched_store_lag_seconds", PROM_GAUGE,
                    "How far this replica's model may be behind the state store (0 on SQLite).");
        prom_sample_double(b, "memsched_store_lag_seconds", NULL, 0,
                           (double)replica_lag_usec(c->replica) / 1e6);
        counter(b, "memsched_http_busy_refusals_total",
                "Requests refused with 503 because the bodies being decoded used up the request "
                "memory budget.",
                LOAD(m->busy_refusals));
        counter(b, "memsched_http_deadline_closes_total",
                "Connections closed because their request was not in within the client timeout.",
                LOAD(m->deadline_closes));
        pool_service_metrics(c->pools, b);
}

/* memsched_kubernetes_*: the family names and label values follow memagentd's
 * memagent_kubernetes_api_requests_total (verb get/create/patch/other, code by class 2xx..5xx
 * or error when no answer came); memschedd counts by class, from its client's own counters. */
void metrics_format_kube(const struct sched_kube_stats *st, uint64_t now_usec, struct api_buf *b)
{
        static const char *const verbs[_KUBE_VERB_MAX] = { "get", "create", "patch", "other" };
        static const char *const classes[6] = { "error", "1xx", "2xx", "3xx", "4xx", "5xx" };
        static const char *const req = "memsched_kubernetes_api_requests_total";
        prom_family(b, req, PROM_COUNTER,
                    "Requests to the Kubernetes API server, by verb and status code class (error "
                    "when no answer came).");
        for (size_t v = 0; v < _KUBE_VERB_MAX; v++)
                for (size_t c = 0; c < 6; c++) {
                        if (!st->client.by_verb_class[v][c])
                                continue;
                        const struct prom_label l[] = { { "verb", verbs[v] },
                                                        { "code", classes[c] } };
                        prom_sample_u64(b, req, l, 2, st->client.by_verb_class[v][c]);
                }

        const struct {
                const char *resource;
                const struct kube_informer_stats *s;
                size_t n;
                bool synced;
        } inf[] = { { "nodes", &st->nodes, st->n_nodes, st->nodes_synced },
                    { "pods", &st->pods, st->n_pods, st->pods_synced } };
        const struct {
                const char *name, *help;
                size_t offset;
        } counters[] = {
                { "memsched_kubernetes_watch_lists_total", "LISTs that succeeded, by resource.",
                  offsetof(struct kube_informer_stats, lists) },
                { "memsched_kubernetes_watch_relists_total",
                  "LISTs again because the watch's resourceVersion expired (410), by resource.",
                  offsetof(struct kube_informer_stats, relists) },
                { "memsched_kubernetes_watch_events_total",
                  "Watch events applied (ADDED, MODIFIED, DELETED, BOOKMARK), by resource.",
                  offsetof(struct kube_informer_stats, events) },
                { "memsched_kubernetes_watch_errors_total",
                  "Failed LISTs and WATCHes and objects that could not be decoded, by resource.",
                  offsetof(struct kube_informer_stats, errors) },
        };
        for (size_t k = 0; k < ELEMENTSOF(counters); k++) {
                prom_family(b, counters[k].name, PROM_COUNTER, counters[k].help);
                for (size_t i = 0; i < ELEMENTSOF(inf); i++) {
                        const struct prom_label l[] = { { "resource", inf[i].resource } };
                        uint64_t v;
                        memcpy(&v, (const char *)inf[i].s + counters[k].offset, sizeof(v));
                        prom_sample_u64(b, counters[k].name, l, 1, v);
                }
        }
        static const char *const objs = "memsched_kubernetes_informer_objects";
        prom_family(b, objs, PROM_GAUGE, "Objects the informer holds, by resource.");
        for (size_t i = 0; i < ELEMENTSOF(inf); i++) {
                const struct prom_label l[] = { { "resource", inf[i].resource } };
                prom_sample_u64(b, objs, l, 1, inf[i].n);
        }
        /* Seconds since the informer last applied a LIST or an event; absent until its first
         * LIST (a series that is missing says "never synced" better than a made-up age). */
        static const char *const age = "memsched_kubernetes_informer_last_sync_age_seconds";
        prom_family(b, age, PROM_GAUGE,
                    "Seconds since the informer last applied a LIST or a watch event (bookmarks "
                    "included), by resource.");
        for (size_t i = 0; i < ELEMENTSOF(inf); i++) {
                if (!inf[i].synced || !inf[i].s->synced_usec)
                        continue;
                const struct prom_label l[] = { { "resource", inf[i].resource } };
                uint64_t d =
                    now_usec > inf[i].s->synced_usec ? now_usec - inf[i].s->synced_usec : 0;
                prom_sample_double(b, age, l, 1, (double)d / 1e6);
        }
        counter(b, "memsched_kubernetes_views_published_total",
                "Views of the API's nodes and pods handed to placement.",
                (unsigned long long)st->view_publications);
        counter(b, "memsched_kubernetes_bind_refusals_total",
                "Binds refused before any Binding because the API does not show the pod Pending "
                "and unbound with that uid.",
                (unsigned long long)st->bind_refusals);
}
