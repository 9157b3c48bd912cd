// SPDX-License-Identifier: Apache-2.0
// memagentd's Prometheus /metrics, /healthz and /readyz on metricsAddress (plain HTTP).
//
// The server (metrics-http.c) is a small HTTP/1.1 responder on the manager's sd-event loop (the
// request parser and response head are api/http-serve.h's): the listening socket and each
// connection are io sources and one timer closes connections past their deadline, so a scrape
// runs on the loop between two steps and reads the manager's state without locks, and /healthz
// answering at all shows that the loop turns. The counters below are plain integers for the same
// reason: only the loop touches them.
//
// What is counted where: the manager calls agent_metrics_count_actions() after every act() and
// agent_metrics_observe_step() after every observation + decision; the rest (levels, lent bytes,
// balloon totals, the reporter's stats, the BPF stall histogram) is read from the manager's state
// when scraped (metrics.c).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/decide/step.h"

/* Kubernetes API verbs, as client-go names them in rest_client_requests_total; anything else
 * counts as "other". */
#define AGENT_METRICS_API_VERBS 8
/* Status codes the agent's client meets and acts on, then classes for the rest: "2xx", "3xx",
 * "4xx", "5xx", and "error" for no answer at all (code 0 or negative). */
#define AGENT_METRICS_API_CODES 17

/* Why a cgroup was killed (cgroup.kill), as memagent_kills_total's reason label. */
enum kill_reason {
        KILL_REASON_CRITICAL,          /* level critical: no grace period */
        KILL_REASON_NO_GRACE_PERIOD,   /* level medium with gracePeriod 0 */
        KILL_REASON_GRACE_PERIOD_OVER, /* SIGTERM sent, still populated when the grace ended */
        KILL_REASON_SIGNAL_FAILED,     /* nothing could be sent SIGTERM: killed at once */
        _KILL_REASON_MAX,
};

/* What woke the loop for memory (memagent_wakeups_total's source label): the sampling timer is
 * the safety net, the rest are the kernel's events (issue 13: events before polling). */
enum wake_source {
        WAKE_TIMER,           /* the sample interval elapsed */
        WAKE_PSI_NODE,        /* the node's PSI trigger (/proc/pressure/memory) */
        WAKE_PSI_KUBEPODS,    /* kubepods' PSI trigger */
        WAKE_PSI_POD,         /* one pod's own PSI trigger */
        WAKE_EVENTS_KUBEPODS, /* kubepods' memory.events changed (inotify) */
        WAKE_EVENTS_CGROUP,   /* a pod's or container's memory.events changed (inotify) */
        _WAKE_MAX,
};

#define AGENT_METRICS_DECISION_ACTIONS 9 /* decision.action values, and "other" */
#define AGENT_METRICS_STEP_BUCKETS     16

struct agent_metrics {
        /* decision records by action and level (pressure_level) */
        uint64_t decisions[AGENT_METRICS_DECISION_ACTIONS][_LEVEL_MAX];
        /* evictions decided and started (SIGTERM, a kill at once, the Eviction API; not in a
         * dry run), by scope and level */
        uint64_t evictions[_SCOPE_MAX][_LEVEL_MAX];
        uint64_t kills[_KILL_REASON_MAX];    /* kills that took processes */
        uint64_t loans_total, returns_total; /* limit changes written */
        uint64_t reclaim_steps_total;        /* balloon steps handed to the worker */
        uint64_t wakeups[_WAKE_MAX];         /* by what woke the loop */
        /* one observation + decision (observe_sample() + agent_step()), seconds histogram */
        uint64_t step_buckets[AGENT_METRICS_STEP_BUCKETS];
        uint64_t step_sum_usec;
        uint64_t last_step_usec; /* CLOCK_MONOTONIC of the last step's end, for /healthz */
        uint64_t api_requests[AGENT_METRICS_API_VERBS][AGENT_METRICS_API_CODES];
        bool ready; /* /readyz */
};

/* Counts what one act() did: l is the list it carried out; limits (n_limits) the limit writes
 * it reported (manager's limits array from the index it had before act()); after is the
 * eviction result act() left (EVICT_KILLED with counted: a kill took processes). */
void agent_metrics_count_actions(struct agent_metrics *mt, const struct action_list *l,
                                 const struct limits_result *limits, size_t n_limits,
                                 const struct evict_result *after);

/* One observation + decision took duration_usec and ended at end_usec (CLOCK_MONOTONIC). */
void agent_metrics_observe_step(struct agent_metrics *mt, uint64_t duration_usec,
                                uint64_t end_usec);

/* One Kubernetes API request: verb "get", "list", "watch", "create", "update", "patch",
 * "delete" (else counted as "other"); code the HTTP status, or 0 / a negative errno when no answer
 * came (counted as "error"). Exported as memagent_kubernetes_api_requests_total{verb,code}; only
 * the series that were counted appear (none until the Kubernetes client calls this). */
void agent_metrics_api_request(struct agent_metrics *mt, const char *verb, int code);

/* /readyz answers 200 once ready: at once when standalone (no Kubernetes API configured), else
 * once the pod watch has listed this node's pods. */
void agent_metrics_set_ready(struct agent_metrics *mt, bool ready);

struct manager;
struct api_buf;
/* Appends the exposition of m's state to b (metrics.c). now_usec is CLOCK_MONOTONIC. */
void agent_metrics_format(struct manager *m, uint64_t now_usec, struct api_buf *b);
/* Whether /healthz passes: a step ran within the last few sample intervals. */
bool agent_metrics_healthy(const struct manager *m, uint64_t now_usec);

/* metrics-http.c: the server on m's loop. address is metricsAddress ("none": no server, 0).
 * Returns 0, or a negative errno after logging an error that names the address (the caller
 * exits: an agent whose probes cannot work should not pretend to run). */
int metrics_server_start(struct manager *m, const char *address);
void metrics_server_stop(struct manager *m);
