// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics of memschedd: request counts and latency histograms per route, plus the
// cluster gauges and decision counters, written in the text exposition format. Lock-free
// (relaxed atomics); routes and status codes come from small fixed sets so labels stay bounded.
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "api/codec.h"

enum route {
        ROUTE_NODE_REPORT,
        ROUTE_NODES,
        ROUTE_NODE,
        ROUTE_PLACEMENT,
        ROUTE_EXTENDER_FILTER,
        ROUTE_EXTENDER_PRIORITIZE,
        ROUTE_EXTENDER_BIND,
        ROUTE_MIGRATIONS,
        ROUTE_METRICS,
        ROUTE_HEALTHZ,
        ROUTE_READYZ,
        ROUTE_POOLS,       /* GET /v1/pools */
        ROUTE_POOL,        /* PUT, DELETE /v1/pools/{node} */
        ROUTE_LEASES,      /* GET, POST /v1/leases */
        ROUTE_LEASE,       /* GET, DELETE /v1/leases/{id} */
        ROUTE_LEASE_RENEW, /* POST /v1/leases/{id}/renew */
        ROUTE_UNKNOWN,
        _ROUTE_MAX,
};
const char *route_to_string(enum route r);

#define METRICS_CODES   11 /* 200 201 400 404 405 409 413 415 500 503 507 */
#define METRICS_BUCKETS 14

struct metrics {
        atomic_ullong requests[_ROUTE_MAX][METRICS_CODES];
        atomic_ullong latency_buckets[_ROUTE_MAX][METRICS_BUCKETS]; /* cumulative on output */
        atomic_ullong latency_sum_usec[_ROUTE_MAX];
        atomic_ullong latency_count[_ROUTE_MAX];
        atomic_ullong filter_nodes[3]; /* passed, failed, unresolvable */
        atomic_ullong prioritized_nodes;
        atomic_ullong busy_refusals;   /* 503: the request memory budget was used up */
        atomic_ullong deadline_closes; /* connections closed for a request not in on time */
};

void metrics_observe(struct metrics *m, enum route r, unsigned status, uint64_t duration_usec);

struct cluster;
struct sched_kube_stats;
/* Appends the exposition text to b. now_usec is CLOCK_MONOTONIC, for staleness. */
void metrics_format(const struct metrics *m, struct cluster *c, uint64_t now_usec,
                    struct api_buf *b);

/* The Kubernetes API's part: requests by verb and code class, the informers' LISTs, relists,
 * events and errors, the objects they hold, the age of their last sync, the views published and
 * the binds refused for pods that are not Pending. */
void metrics_format_kube(const struct sched_kube_stats *st, uint64_t now_usec, struct api_buf *b);
