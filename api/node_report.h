// SPDX-License-Identifier: Apache-2.0
// The node report memagentd sends to memschedd (POST /v1/nodes/{name}/report) on change and on a
// heartbeat. It reuses the field names of `memagent status --json` (agent/kernel/status.c): node
// {memory_total_bytes, memory_available_bytes, memory_free_bytes, swap_*_bytes, psi, numa[]},
// pods[] {uid, qos, memory {working_set_bytes}}, and adds what placement and migration need:
// node.pressure {level, duration_ms, relief_exhausted}, node.reserved_bytes, and per pod the
// name, namespace, controller owner, request, limit, priority, protection and refault rate
// (refault_file_per_sec, as in status).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/codec.h"
#include "api/psi.h"

struct report_zone {
        uint32_t id;
        uint64_t total_bytes;
        uint64_t free_bytes;
        uint64_t file_bytes;             /* 0 when not sent */
        uint64_t slab_reclaimable_bytes; /* 0 when not sent */
        /* What the kernel could reclaim cheaply. When the agent does not send it, derived as
         * MemAvailable does: half the page cache and half the reclaimable slab. */
        uint64_t reclaimable_bytes;
};

/* The reclaimable_bytes of a zone whose sender did not send it: half its page cache and half its
 * reclaimable slab, at most what is in use. The decoder's default and the agent's value. */
uint64_t report_zone_reclaimable_default(const struct report_zone *z);

struct report_pod {
        char *uid;       /* required */
        char *name;      /* NULL when the agent does not know it */
        char *namespace; /* NULL when unknown */
        char *owner_uid; /* controller ownerReference uid, NULL when none or unknown */
        enum qos_class qos;
        int32_t priority;
        bool protected_;
        uint64_t working_set_bytes; /* memory.current - inactive_file */
        uint64_t request_bytes;     /* 0 when unknown */
        uint64_t limit_bytes;       /* API_UNLIMITED when none */
        int32_t numa_zone;          /* zone the pod is bound to, -1 when not bound */
        /* File pages the pod read back per second (workingset_refault_file), as in `memagent
         * status`: its page cache evicted while in use. has_ false when not sent (null). */
        bool has_refault_rate;
        double refault_file_per_sec;
};

/* A node whose pods together read back at least this many file pages per second (16 MiB/s)
 * thrashes: memschedd counts it as under pressure (at least low) whatever level it reports. */
#define NODE_REPORT_THRASH_REFAULTS_PER_SEC 4096.0

struct node_report {
        char *node_name; /* optional in the body; when present must match the URL */
        /* Increases with every report of one agent run; 0 when not sent. memschedd refuses
         * (409) a report whose seq is not above the last one it accepted for the node in the same
         * run: same run_id (or both without one) while the node is not stale. A new run_id, or a
         * node gone stale (its agent was down), starts the count again. */
        uint64_t seq;
        char *run_id; /* identifies one agent run (boot id + start time); NULL when not sent */
        uint64_t heartbeat_interval_ms; /* 0 when not sent */
        uint64_t memory_total_bytes;
        uint64_t memory_available_bytes;
        uint64_t memory_free_bytes;
        uint64_t swap_total_bytes;
        uint64_t swap_free_bytes;
        uint64_t reserved_bytes; /* kept free for the system (kube/system-reserved, eviction) */
        bool has_psi, has_psi_full;
        struct psi_avgs psi_some, psi_full;
        enum pressure_level pressure;
        uint64_t pressure_duration_ms; /* how long pressure has been at this level or above */
        bool relief_exhausted;         /* the agent ran out of local remedies */
        struct report_zone *zones;
        size_t n_zones;
        struct report_pod *pods;
        size_t n_pods;
};

/* Decodes and validates a report. Ranges: free and available ≤ total, zone ids unique and below
 * API_NUMA_ZONES_MAX, at most API_NUMA_ZONES_MAX zones, pod uids non-empty. On success *ret owns
 * its memory (node_report_done()). */
int node_report_decode(const struct json_object *o, struct node_report *ret, struct api_error *err);
struct json_object *node_report_encode(const struct node_report *r);
void node_report_done(struct node_report *r);
/* The pods' refault rates together reach NODE_REPORT_THRASH_REFAULTS_PER_SEC. */
bool node_report_thrashing(const struct node_report *r);
/* Deep copy; -ENOMEM. */
int node_report_copy(const struct node_report *src, struct node_report *ret);
