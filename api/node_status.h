// SPDX-License-Identifier: Apache-2.0
// memschedd's view of one node (GET /v1/nodes/{name}) and of all (GET /v1/nodes).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"

struct node_status_zone {
        uint32_t id;
        uint64_t total_bytes, free_bytes, reclaimable_bytes;
};

struct node_status_pod {
        char *uid, *name, *namespace; /* name/namespace NULL when unknown */
        enum qos_class qos;
        uint64_t working_set_bytes;
        uint64_t request_bytes;
        bool protected_;
};

struct node_status {
        char *name;
        bool stale;                  /* no report within the stale timeout */
        uint64_t last_report_age_ms; /* since the last report was received */
        uint64_t seq;
        uint64_t memory_total_bytes;
        uint64_t memory_available_bytes; /* as reported */
        uint64_t system_reserved_bytes;  /* kept free for the system, as reported */
        uint64_t reservation_bytes;      /* held by migration plans for pods to come */
        uint64_t assumed_bytes;          /* bound by the extender, not yet in a report */
        uint64_t allocatable_bytes; /* what a new pod can get: available minus the three above */
        enum pressure_level pressure;
        uint64_t pressure_duration_ms;
        bool relief_exhausted;
        struct node_status_zone *zones;
        size_t n_zones;
        size_t pod_count;
        bool with_pods; /* pods[] present (single-node view) */
        struct node_status_pod *pods;
};

/* {"name", "stale", "last_report_age_ms", "seq", "memory_total_bytes", "memory_available_bytes",
 *  "system_reserved_bytes", "reservation_bytes", "assumed_bytes", "allocatable_bytes",
 *  "pressure": {"level", "duration_ms", "relief_exhausted"}, "numa": [{"id", "total_bytes",
 *  "free_bytes", "reclaimable_bytes"}], "pod_count", "pods": [...] (single-node view only)} */
struct json_object *node_status_encode(const struct node_status *s);
int node_status_decode(const struct json_object *o, const char *path, struct node_status *ret,
                       struct api_error *err);
void node_status_done(struct node_status *s);

/* {"node_count", "stale_count", "nodes": [node_status without pods]}. */
struct node_status_list {
        struct node_status *nodes;
        size_t n_nodes;
        size_t stale_count;
};
struct json_object *node_status_list_encode(const struct node_status_list *l);
int node_status_list_decode(const struct json_object *o, struct node_status_list *ret,
                            struct api_error *err);
void node_status_list_done(struct node_status_list *l);
