// SPDX-License-Identifier: Apache-2.0
// Carrying migration plans out: which planned migrations may have their pod evicted now. Pure
// decision logic over the plans (no I/O, no clock); scheduler/kube.c acts on it through the
// Eviction API.
//
// A plan is active from its first eviction attempt ("evicting") until it is bound, expires or is
// cancelled: its pod is going or gone and its replacement is awaited. Limits, so that a
// cluster under pressure does not restart half its pods at once:
//   - at most max_concurrent active plans cluster-wide;
//   - at most one active plan per source node (a node sheds one pod at a time and its next
//     report says whether that was enough).
// Only plans whose pod has a controller owner and a known name are carried out: a bare pod would
// not come back (the planner never plans one; a plan decoded from elsewhere without an owner is
// left alone here too). Plans are considered in their order (the planner's: oldest first).
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "api/migration.h"

/* Whether plan m may be tried now (its backoff after a refusal is over, no request in flight);
 * the caller's memory, not the plan's. */
typedef bool (*migrate_ready_fn)(const struct migration *m, void *userdata);

/* True when m has a step that makes it active (see above). */
bool migrate_is_active(const struct migration *m);

/* Writes the indices of the plans to evict now into ret (at most max_ret) and returns their
 * count: planned plans with an owner, name and namespace, not yet evicted ("evicted"), that
 * ready accepts; an active one ("evicting": its answer was lost, e.g. a restart) always may
 * retry, a new one only within the limits above. */
size_t migrate_pick(const struct migration *plans, size_t n, unsigned max_concurrent,
                    migrate_ready_fn ready, void *userdata, size_t *ret, size_t max_ret);
