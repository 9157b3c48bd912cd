// SPDX-License-Identifier: Apache-2.0
#include "scheduler/migrate.h"

#include <string.h>

static bool step_is(const struct migration *m, const char *step)
{
        return m->step && strcmp(m->step, step) == 0;
}

bool migrate_is_active(const struct migration *m)
{
        return m->state == MIGRATION_PLANNED && (step_is(m, "evicting") || step_is(m, "evicted"));
}

static bool carried_out(const struct migration *m)
{
        return m->owner_uid && *m->owner_uid && m->pod_name && *m->pod_name && m->pod_namespace &&
               *m->pod_namespace;
}

/* Whether another active plan (not m itself) moves a pod off m's source node. */
static bool source_busy(const struct migration *plans, size_t n, const struct migration *m)
{
        for (size_t i = 0; i < n; i++)
                if (&plans[i] != m && migrate_is_active(&plans[i]) &&
                    strcmp(plans[i].source_node, m->source_node) == 0)
                        return true;
        return false;
}

size_t migrate_pick(const struct migration *plans, size_t n, unsigned max_concurrent,
                    migrate_ready_fn ready, void *userdata, size_t *ret, size_t max_ret)
{
        size_t active = 0, k = 0;
        for (size_t i = 0; i < n; i++)
                active += migrate_is_active(&plans[i]);
        /* Picked in this call: they count as active from now on. */
        const struct migration *picked_sources[64];
        size_t n_picked = 0;

        for (size_t i = 0; i < n && k < max_ret; i++) {
                const struct migration *m = &plans[i];
                if (m->state != MIGRATION_PLANNED || step_is(m, "evicted") ||
                    step_is(m, "cancelled") || !carried_out(m) || (ready && !ready(m, userdata)))
                        continue;
                if (!step_is(m, "evicting")) {
                        bool busy = source_busy(plans, n, m);
                        for (size_t p = 0; p < n_picked && !busy; p++)
                                busy = strcmp(picked_sources[p]->source_node, m->source_node) == 0;
                        if (busy || active >= max_concurrent ||
                            n_picked == sizeof(picked_sources) / sizeof(picked_sources[0]))
                                continue;
                        active++;
                        picked_sources[n_picked++] = m;
                }
                ret[k++] = i;
        }
        return k;
}
