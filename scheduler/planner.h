// SPDX-License-Identifier: Apache-2.0
// Migration planner: pure decision logic over a snapshot.
//
// A node qualifies when its agent reports pressure at medium or above for at least
// sustained_pressure_ms and says its local remedies are exhausted, and no plan from it is still
// pending. The planner then picks pods to move until the memory they free would lift the
// node's available memory to relief_target_ratio of its total (at least one pod, at most
// max_migrations_per_plan):
//   - never Guaranteed pods, pods annotated protected, or pods without a controller (nothing
//     would recreate them);
//   - cheapest to restart first: BestEffort before Burstable, lower priority first, then the
//     smallest working set (least state to rebuild).
// Each chosen pod gets the best-scoring target among the other fresh nodes, by the same
// placement rules the extender applies, counting the reservations planned earlier in the same
// round; a pod with no target is skipped. The reservation is the larger of the pod's request
// and its working set.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "api/migration.h"
#include "scheduler/config.h"
#include "scheduler/model.h"

/* True if node i should get a plan now. */
bool planner_node_qualifies(const struct sched_snapshot *s, size_t i,
                            const struct sched_config *cfg);

/* Plans migrations off node src. now_usec is CLOCK_MONOTONIC (staleness), now_real_usec
 * CLOCK_REALTIME (created/expires). Plans get ids "<prefix>-<n>" from id_prefix. Returns the
 * number of plans (0 when nothing can move) and a malloc'ed array in *ret (free with
 * migration_list_free), or -ENOMEM. */
int planner_plan(const struct sched_snapshot *s, size_t src, uint64_t now_usec,
                 uint64_t now_real_usec, const char *id_prefix, const struct sched_config *cfg,
                 struct migration **ret, size_t *ret_n);
