// SPDX-License-Identifier: Apache-2.0
// Migration plans (GET /v1/migrations): a pod to move off a node under sustained pressure, the
// target chosen for it, and the reservation held there for its replacement.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"

enum migration_state {
        MIGRATION_PLANNED = 0, /* reservation held on the target, waiting for the replacement */
        MIGRATION_BOUND,       /* the replacement was bound to the target: done */
        MIGRATION_EXPIRED,     /* no replacement arrived in time; reservation released */
        MIGRATION_CANCELLED,   /* source recovered or target went away before the move */
        _MIGRATION_STATE_MAX,
};
const char *migration_state_to_string(enum migration_state s);
int migration_state_from_string(const char *s);

struct migration {
        char *id;
        enum migration_state state;
        char *source_node, *target_node;
        char *pod_uid;       /* the pod to move */
        char *pod_name;      /* NULL when unknown */
        char *pod_namespace; /* NULL when unknown */
        char *owner_uid;     /* its controller; replacements share it. NULL when none */
        enum qos_class qos;
        uint64_t working_set_bytes;
        uint64_t reservation_bytes; /* held on the target while PLANNED */
        int32_t target_numa_zone;   /* -1 when any */
        char *reason;
        uint64_t created_at_usec; /* CLOCK_REALTIME */
        uint64_t expires_at_usec; /* CLOCK_REALTIME; reservation dropped after */
        char *replacement_pod;    /* "namespace/name" once bound, else NULL */
        /* Carrying it out (memschedd with a Kubernetes API): the last step, one of "evicting"
         * (the Eviction is sent), "evicted" (accepted; the replacement is awaited), "pending"
         * (refused for now, e.g. 429 by a PodDisruptionBudget: retried with backoff),
         * "cancelled"; NULL before any. step_message says why, for people. */
        char *step;
        char *step_message;
        uint32_t eviction_attempts;
        uint64_t evicted_at_usec; /* CLOCK_REALTIME the Eviction was accepted; 0 not yet */
};

/* {"id", "state", "source_node", "target_node", "pod": {"uid", "name", "namespace", "owner_uid",
 *  "qos", "working_set_bytes"}, "reservation_bytes", "target_numa_zone" (null for any),
 *  "reason", "created_at_usec", "expires_at_usec", "replacement_pod" (null until bound),
 *  "step" and "step_message" (null before any), "eviction_attempts", "evicted_at_usec" (null
 *  until evicted); the last four optional on input} */
struct json_object *migration_encode(const struct migration *m);
int migration_decode(const struct json_object *o, const char *path, struct migration *ret,
                     struct api_error *err);
void migration_done(struct migration *m);
int migration_copy(const struct migration *src, struct migration *ret);

/* {"migrations": [...]} */
struct json_object *migration_list_encode(const struct migration *list, size_t n);
int migration_list_decode(const struct json_object *o, struct migration **ret_list, size_t *ret_n,
                          struct api_error *err);
void migration_list_free(struct migration *list, size_t n);
