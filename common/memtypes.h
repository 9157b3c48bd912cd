// SPDX-License-Identifier: Apache-2.0
// The vocabulary shared by the agent, the wire API and the scheduler: a pod's QoS class and a
// memory-pressure level. One enum each, with their names; the plugin ABI
// (plugins/memagent-plugin.h) keeps its own frozen values and converts in plugins/policy.c.
#pragma once

enum qos_class {
        QOS_NONE = 0, /* not a Kubernetes class: a workload without one, or not yet known */
        QOS_GUARANTEED,
        QOS_BURSTABLE,
        QOS_BESTEFFORT,
        _QOS_MAX,
};
/* "guaranteed", "burstable", "besteffort"; "none" for QOS_NONE or an out-of-range value. */
const char *qos_to_string(enum qos_class q);
/* "guaranteed", "burstable", "besteffort" (any case) → the class; -EINVAL otherwise. */
int qos_from_string(const char *s);

enum pressure_level {
        LEVEL_NONE = 0,
        LEVEL_LOW = 1,      /* reclaim cold memory (balloon) */
        LEVEL_MEDIUM = 2,   /* graceful eviction */
        LEVEL_CRITICAL = 3, /* immediate kill */
        _LEVEL_MAX,
};
/* "none", "low", "medium", "critical"; "none" for an out-of-range value. */
const char *pressure_level_to_string(enum pressure_level l);
/* The exact lower-case name → the level; -EINVAL otherwise. */
int pressure_level_from_string(const char *s);
