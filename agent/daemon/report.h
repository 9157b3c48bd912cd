// SPDX-License-Identifier: Apache-2.0
// The node report memagentd sends to memschedd (api/node_report.h describes the format), built
// from the agent's own view: the node sample, the pod model and the pressure level. Pure: no
// I/O, so the manager calls it on every tick and the tests feed it structs built in memory.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/decide/pressure.h"
#include "agent/kernel/model.h"
#include "agent/kernel/node.h"
#include "api/node_report.h"

/* What the agent knows about a pod beyond its cgroup (from the kube API or the CRI). Strings
 * are borrowed for the duration of report_build(). Any may be NULL / 0 when unknown. */
struct report_pod_meta {
        const char *name, *namespace;
        const char *owner_uid; /* uid of the controller ownerReference */
        uint64_t request_bytes;
        int32_t priority;
        bool protected_;
};

struct report_input {
        const char *node_name;
        const struct node_sample *node;
        const struct model *model;
        enum pressure_level level;  /* the node's level (the highest of the agent's scopes) */
        uint64_t level_duration_ms; /* how long the level has been at least `level` */
        bool relief_exhausted;      /* the agent has run out of local remedies */
        uint64_t reserved_bytes;    /* kept free for the system: system/kube-reserved + eviction */
        /* Optional: returns the metadata of the pod with this uid, or NULL. */
        const struct report_pod_meta *(*pod_meta)(const char *uid, void *userdata);
        void *userdata;
};

/* Builds the report as the api's struct node_report (node_report_encode() writes it): the node's
 * memory, swap, reserve, PSI, pressure {level, duration, relief_exhausted} and NUMA zones, and
 * per pod its uid, QoS class and working set, plus name, namespace, owner, request, priority
 * and protection when pod_meta knows them. Values the decoder bounds (available/free/reserved
 * ≤ total, zone free ≤ zone total) are clamped, so a racy sample never gets the report refused.
 * seq and heartbeat_interval_ms are left 0 for the reporter to set. Returns 0 and *ret (free
 * with node_report_done()), or -ENOMEM. */
int report_build(const struct report_input *in, struct node_report *ret);
