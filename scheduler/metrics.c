// SPDX-License-Identifier: Apache-2.0
#include "scheduler/metrics.h"

#include "scheduler/cluster.h"
#include "scheduler/pools-service.h"

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

void metrics_format(const struct metrics *m, struct cluster *c, uint64_t now_usec,
                    struct api_buf *b)
{
        api_buf_puts(b, "# HELP memsched_http_requests_total HTTP requests served, by route and "
                        "status code.\n# TYPE memsched_http_requests_total counter\n");
        for (int r = 0; r < _ROUTE_MAX; r++)
                for (size_t i = 0; i < METRICS_CODES; i++) {
                        unsigned long long v = LOAD(m->requests[r][i]);
                        if (v)
                                api_buf_printf(
                                    b,
                                    "memsched_http_requests_total{route=\"%s\",code=\"%u\"} "
                                    "%llu\n",
                                    route_names[r], codes[i], v);
                }
        api_buf_puts(b, "# HELP memsched_http_request_duration_seconds Time to answer an HTTP "
                        "request, by route.\n# TYPE memsched_http_request_duration_seconds "
                        "histogram\n");
        for (int r = 0; r < _ROUTE_MAX; r++) {
                unsigned long long count = LOAD(m->latency_count[r]), cum = 0;
                if (!count)
                        continue;
                for (size_t i = 0; i < METRICS_BUCKETS; i++) {
                        cum += LOAD(m->latency_buckets[r][i]);
                        if (i < METRICS_BUCKETS - 1)
                                api_buf_printf(
                                    b,
                                    "memsched_http_request_duration_seconds_bucket{route="
                                    "\"%s\",le=\"%g\"} %llu\n",
                                    route_names[r], (double)bucket_usec[i] / 1e6, cum);
                        else
                                api_buf_printf(
                                    b,
                                    "memsched_http_request_duration_seconds_bucket{route="
                                    "\"%s\",le=\"+Inf\"} %llu\n",
                                    route_names[r], cum);
                }
                api_buf_printf(b, "memsched_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                               route_names[r], (double)LOAD(m->latency_sum_usec[r]) / 1e6);
                api_buf_printf(b,
                               "memsched_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                               route_names[r], count);
        }

        _cleanup_snapshot_ struct sched_snapshot *s = snapshot_acquire(&c->slot);
        size_t stale = 0, active = 0;
        for (size_t i = 0; i < s->n_nodes; i++)
                if (now_usec - s->nodes[i]->received_usec > c->cfg.stale_after_usec)
                        stale++;
        for (size_t i = 0; i < s->n_plans; i++)
                active += s->plans[i].state == MIGRATION_PLANNED;
        api_buf_printf(b,
                       "# HELP memsched_nodes Nodes known from agent reports.\n"
                       "# TYPE memsched_nodes gauge\nmemsched_nodes %zu\n"
                       "# HELP memsched_nodes_stale Known nodes whose reports stopped.\n"
                       "# TYPE memsched_nodes_stale gauge\nmemsched_nodes_stale %zu\n"
                       "# HELP memsched_reservations Migration reservations currently held.\n"
                       "# TYPE memsched_reservations gauge\nmemsched_reservations %zu\n"
                       "# HELP memsched_snapshot_generation Generation of the published cluster "
                       "snapshot.\n# TYPE memsched_snapshot_generation gauge\n"
                       "memsched_snapshot_generation %llu\n",
                       s->n_nodes, stale, active, (unsigned long long)s->generation);
        api_buf_printf(b,
                       "# HELP memsched_reports_total Node reports ingested.\n"
                       "# TYPE memsched_reports_total counter\nmemsched_reports_total %llu\n"
                       "# HELP memsched_bind_decisions_total Bind decisions recorded.\n"
                       "# TYPE memsched_bind_decisions_total counter\n"
                       "memsched_bind_decisions_total %llu\n"
                       "# HELP memsched_migrations_planned_total Migrations planned.\n"
                       "# TYPE memsched_migrations_planned_total counter\n"
                       "memsched_migrations_planned_total %llu\n"
                       "# HELP memsched_migrations_expired_total Reservations that expired "
                       "unused.\n# TYPE memsched_migrations_expired_total counter\n"
                       "memsched_migrations_expired_total %llu\n",
                       LOAD(c->reports_total), LOAD(c->binds_total),
                       LOAD(c->migrations_planned_total), LOAD(c->migrations_expired_total));
        api_buf_printf(b,
                       "# HELP memsched_filter_decisions_total Per-node filter decisions, by "
                       "result.\n# TYPE memsched_filter_decisions_total counter\n"
                       "memsched_filter_decisions_total{result=\"passed\"} %llu\n"
                       "memsched_filter_decisions_total{result=\"failed\"} %llu\n"
                       "memsched_filter_decisions_total{result=\"unresolvable\"} %llu\n"
                       "# HELP memsched_prioritize_decisions_total Nodes scored by prioritize.\n"
                       "# TYPE memsched_prioritize_decisions_total counter\n"
                       "memsched_prioritize_decisions_total %llu\n",
                       LOAD(m->filter_nodes[0]), LOAD(m->filter_nodes[1]), LOAD(m->filter_nodes[2]),
                       LOAD(m->prioritized_nodes));
        api_buf_printf(b,
                       "# HELP memsched_leader 1 on the replica that plans and expires "
                       "reservations (the only one on SQLite), 0 on the others.\n"
                       "# TYPE memsched_leader gauge\nmemsched_leader %d\n"
                       "# HELP memsched_store_revision State store revision this replica's plans "
                       "are current to.\n# TYPE memsched_store_revision gauge\n"
                       "memsched_store_revision %llu\n",
                       !atomic_load(&c->follower), LOAD(c->store_revision));
        api_buf_printf(b,
                       "# HELP memsched_http_busy_refusals_total Requests refused with 503 because "
                       "the bodies being decoded used up the request memory budget.\n"
                       "# TYPE memsched_http_busy_refusals_total counter\n"
                       "memsched_http_busy_refusals_total %llu\n"
                       "# HELP memsched_http_deadline_closes_total Connections closed because "
                       "their request was not in within the client timeout.\n"
                       "# TYPE memsched_http_deadline_closes_total counter\n"
                       "memsched_http_deadline_closes_total %llu\n",
                       LOAD(m->busy_refusals), LOAD(m->deadline_closes));
        pool_service_metrics(c->pools, b);
}
