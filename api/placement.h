// SPDX-License-Identifier: Apache-2.0
// Placement hints (POST /v1/placement): "where would a pod of this shape go, and why".
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"

#define PLACEMENT_SCORE_MAX 10

/* Request: {"pod": {"request_bytes": 1073741824 or "1Gi", "limit_bytes": null, "qos":
 * "burstable", "numa_policy": "single-zone"|"any", "name", "namespace", "owner_uid"},
 * "nodes": ["w1", ...] (optional subset), "limit": 10 (optional, 0 = all)}. */
struct placement_request {
        char *name, *namespace, *owner_uid; /* optional: match reservations held for the pod */
        enum qos_class qos;                 /* default burstable */
        uint64_t request_bytes;             /* required */
        uint64_t limit_bytes;               /* API_UNLIMITED by default */
        bool single_numa;                   /* numa_policy; default: qos == guaranteed */
        char **nodes;                       /* NULL: every known node */
        size_t n_nodes;
        uint32_t limit;
};

int placement_request_decode(const struct json_object *o, struct placement_request *ret,
                             struct api_error *err);
struct json_object *placement_request_encode(const struct placement_request *r);
void placement_request_done(struct placement_request *r);

struct placement_candidate {
        char *node;
        bool fits;
        int32_t score;            /* 0..PLACEMENT_SCORE_MAX, 0 when it does not fit */
        int32_t numa_zone;        /* zone chosen for single-zone pods, -1 otherwise */
        uint64_t available_bytes; /* node memory left for new pods after reservations */
        enum pressure_level pressure;
        char *reason; /* why it fits (and how well) or why not */
        /* Bytes to lease from the memory pools for the pod to fit: 0 when it fits as it is,
         * API_UNLIMITED when a lease would not make it fit. */
        uint64_t lease_bytes;
};

/* Response: {"request_bytes", "single_numa", "pool_free_bytes", "candidates": [{"node", "fits",
 * "score", "numa_zone" (null when none), "available_bytes", "pressure", "reason", "lease_bytes"
 * (null when a lease would not help)}]}: fitting nodes first, best first. pool_free_bytes and
 * lease_bytes are optional on input (older memschedd). */
struct placement_response {
        uint64_t request_bytes;
        bool single_numa;
        uint64_t pool_free_bytes; /* free in the memory pools (both replicas of a lease count) */
        struct placement_candidate *candidates;
        size_t n_candidates;
};

int placement_response_decode(const struct json_object *o, struct placement_response *ret,
                              struct api_error *err);
struct json_object *placement_response_encode(const struct placement_response *r);
void placement_response_done(struct placement_response *r);
