// SPDX-License-Identifier: Apache-2.0
// Placement decisions: pure functions over a snapshot, shared by the extender (filter and
// prioritize), the placement hints endpoint and the migration planner.
//
// A pod fits a node when its memory request fits the node's allocatable memory: what the agent
// reports as available, minus the system reservation, the reservations held by migration plans
// for other pods and the pods bound but not yet reported. A pod that needs a single NUMA zone
// (Guaranteed, or annotated) must also fit within one zone's free plus reclaimable memory after
// the zone-pinned deductions; the tightest zone that fits is chosen (best fit), which keeps the
// large zones whole for the next large pod. Nodes at medium or critical pressure do not take
// pods; stale nodes and nodes that never reported fail in a way preemption cannot fix.
//
// Score (0-10) for a fitting node, a weighted sum of three terms in [0, 1]:
//   fragmentation: 1 - frag, where frag is the share of the node's free memory that lies outside
//                  its largest zone after the placement (0 for one zone: nothing is split);
//   headroom:      allocatable memory left after the placement, as a share of the total;
//   pressure:      1 at none, 0.5 at low, scaled down by the node's PSI some avg10 (percent).
// A node holding a reservation for this very pod (the replacement of a migrated pod) scores 10.
//
// With a Kubernetes API view in the snapshot (memschedd watches nodes and pods), a node is a
// placement target only if the API knows it, it is Ready, and the pod tolerates its NoSchedule
// and NoExecute taints (a cordoned node counts as tainted node.kubernetes.io/unschedulable:
// NoSchedule): otherwise it fails unresolvably (preemption would not help), whatever its agent
// reports. The pods the API shows bound to a node that its report does not count yet are
// deducted from its allocatable memory (see struct node_extra).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api/codec.h"
#include "scheduler/config.h"
#include "scheduler/model.h"

#define PLACEMENT_REASON_MAX 160

struct pod_shape {
        uint64_t request_bytes;
        bool single_numa;
        enum qos_class qos;
        /* Identity, to match reservations held for the replacement of a migrated pod. Any may be
         * NULL or "". */
        const char *namespace;
        const char *owner_uid;
        /* spec.tolerations, checked against the API's taints; NULL/0: tolerates none. */
        const struct kube_toleration *tolerations;
        size_t n_tolerations;
};

enum verdict_kind {
        VERDICT_FITS = 0,
        VERDICT_FAILED,       /* does not fit now; preemption or time may change that */
        VERDICT_UNRESOLVABLE, /* stale or unknown node: preemption would not help */
};

struct node_verdict {
        enum verdict_kind kind;
        int score;         /* 0..10; 0 unless it fits */
        int32_t numa_zone; /* chosen zone for single-zone pods, else -1 */
        uint64_t allocatable_bytes;
        enum pressure_level pressure;
        const struct migration *reservation; /* held for this pod on this node, or NULL */
        char reason[PLACEMENT_REASON_MAX];
};

/* True if plan m holds its reservation for a pod shaped like p. */
bool placement_pod_matches_plan(const struct pod_shape *p, const struct migration *m);

/* Evaluates one node (index into s->nodes, or -1 for a node the snapshot does not know, named
 * `name`). now_usec is CLOCK_MONOTONIC. Always fills *ret. Reasons are always written for
 * nodes that do not fit; for nodes that fit only with explain (formatting costs more than the
 * decision on the extender's hot path). */
void placement_evaluate(const struct sched_snapshot *s, ssize_t index, const char *name,
                        const struct pod_shape *pod, uint64_t now_usec,
                        const struct sched_config *cfg, bool explain, struct node_verdict *ret);

/* placement_evaluate() without any reason (ret->reason is ""): what prioritize needs. */
void placement_score(const struct sched_snapshot *s, ssize_t index, const char *name,
                     const struct pod_shape *pod, uint64_t now_usec, const struct sched_config *cfg,
                     struct node_verdict *ret);

/* Memory pools: bytes the pod would have to lease so that it fits the node v was evaluated on.
 * 0 when it fits as it is. When it failed only for want of memory, the shortfall, if a durable
 * lease of it (two replicas: twice the bytes) fits in pool_free_bytes; API_UNLIMITED otherwise,
 * and always when it failed for another reason (pressure, a stale node, no NUMA zone: leased
 * memory is swap, no relief for a node under pressure nor a zone) or is Guaranteed (whose
 * containers do not swap by default). */
uint64_t placement_lease_bytes(const struct node_verdict *v, const struct pod_shape *pod,
                               uint64_t pool_free_bytes);

/* Memory a new pod could get on node i, ignoring any reservation held for it. */
uint64_t placement_node_allocatable(const struct sched_snapshot *s, size_t i);
