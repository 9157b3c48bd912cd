// SPDX-License-Identifier: Apache-2.0
// Every decision (evictions; balloon reclaim under pressure; loans, returns and stand-backs),
// with its reasons, kept in a ring for `memagent explain`.
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DECISION_RUNNERS_UP 3

struct decision_candidate {
        char name[96]; /* "namespace/name" when the API knows the pod, "pod <uid>" otherwise */
        char uid[80];  /* the pod's uid, "" for a workload */
        char namespace_[64], pod_name[254]; /* "" when the API does not know the pod */
        char cgroup[256];
        char qos[16];
        uint64_t current_bytes, working_set_bytes, request_bytes;
        char reason[256];
};

struct decision {
        uint64_t id;
        uint64_t time_realtime_usec, time_mono_usec;
        char scope[16];    /* "node", "kubepods" */
        char level[16];    /* "medium", "critical" */
        char trigger[32];  /* "psi", "memory.events", "sample" */
        char signals[192]; /* pressure_describe() of the scope */
        uint64_t available_bytes, total_bytes;
        double psi_some_pct, psi_full_pct;
        char action[16]; /* "evict" (through the API), "kill", "terminate", "none"; the balloon and
                          * vertical scaling: "reclaim", "loan", "return", "stand-back" */
        bool dry_run;
        bool has_victim;
        struct decision_candidate victim;
        struct decision_candidate runners_up[DECISION_RUNNERS_UP];
        unsigned n_runners_up;
        unsigned n_candidates, n_excluded;
        char outcome[112]; /* "killed", "exited on its own", "would kill (dry run)", ... */
        char api[256]; /* the Kubernetes API's answers for this decision, "; "-joined, "": none */
        /* an eviction the thrash signal called for: "thrashing of pod X (stall some 41.0%,
         * refaults 5210/s), relieved by evicting pod Y"; "": another signal */
        char thrash[320];
        uint64_t freed_bytes;
        /* loan, return, stand-back: the bytes lent or given back, and memory.max around it */
        uint64_t amount_bytes;
        uint64_t limit_before_bytes, limit_after_bytes; /* 0: not a limit change */
        uint64_t trigger_to_decision_usec; /* from the episode's first signal to the choice,
                                            * hysteresis (raiseSamples) included */
        uint64_t sample_to_decision_usec;  /* from the start of the deciding sample: the cost of
                                            * sampling, detecting and ranking */
        uint64_t decision_to_empty_usec;   /* from the choice to the cgroup being empty */
        bool done;                         /* outcome final */
};

struct decision_log {
        struct decision *ring;
        size_t size, count; /* count grows to size, then the oldest is overwritten */
        size_t head;        /* next slot */
        uint64_t next_id;
};

int decision_log_init(struct decision_log *l, size_t size);
void decision_log_done(struct decision_log *l);
/* Returns a zeroed record with id and times set; valid until the ring wraps over it. */
struct decision *decision_log_new(struct decision_log *l);
/* The record with this id if still in the ring, else NULL. */
struct decision *decision_log_find(struct decision_log *l, uint64_t id);
/* The last n records (newest first) as a JSON array; new reference. */
struct json_object *decision_log_json(const struct decision_log *l, size_t n);
struct json_object *decision_to_json(const struct decision *d);
