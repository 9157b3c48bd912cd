// SPDX-License-Identifier: Apache-2.0
// The built-in "qos" policy: the kubelet's memory-pressure eviction order, through the plugin ABI.
//
// The kubelet (pkg/kubelet/eviction/helpers.go, rankMemoryPressure) orders pods by three keys:
// whether the working set exceeds the memory request (exceeders first), then priority (lower
// first), then working set minus request (larger first). It has no QoS key: a BestEffort pod
// (request 0) exceeds as soon as it uses anything, and a Guaranteed pod cannot exceed (its limit
// is its request). The mission statement orders by QoS class: BestEffort, Burstable over its
// request, other Burstable, Guaranteed last. The two agree once the exceeders are one tier: a
// BestEffort pod does not outrank a Burstable pod over its request by class alone, their priority
// decides first, as on the kubelet (a priority-1000 BestEffort batch job outlives a priority-0
// Burstable pod over its request). Guaranteed stays last even if it somehow exceeds (a limit
// raised behind the kubelet's back), where the kubelet would rank it with the exceeders: the
// mission asks for it, and the kubelet's own OOM score adjustment protects it the same way.
//
// keys[0] is a tier, killed from the highest:
//   3  exceeds its request: working set > request (BestEffort, Burstable over its request, a
//      pod without a class; a request of 0 is compared as 0, as the kubelet does)
//   2  does not exceed (Burstable within its request, a BestEffort pod using nothing)
//   1  Guaranteed
//   0  anything marked "avoid", whatever its class
// keys[1] is -priority, so the least important goes first; keys[2] is working set - request
// (negative within the request, as the kubelet compares it), so the one furthest over its request
// goes first. Protected candidates are excluded.
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/quantity.h"
#include "plugins/policy.h"

enum qos_tier {
        QOS_TIER_AVOID = 0,
        QOS_TIER_GUARANTEED = 1,
        QOS_TIER_WITHIN = 2,
        QOS_TIER_EXCEEDS = 3,
};

static void qos_rank_one(const struct memagent_candidate *c, struct memagent_rank *r)
{
        char ws[FORMAT_BYTES_MAX], req[FORMAT_BYTES_MAX], over[FORMAT_BYTES_MAX];
        const char *avoid = (c->flags & MEMAGENT_CAND_AVOID) ? "avoid (ranked last), " : "";
        uint64_t over_bytes =
            c->working_set_bytes > c->request_bytes ? c->working_set_bytes - c->request_bytes : 0;
        bool exceeds = c->working_set_bytes > c->request_bytes;
        enum qos_tier tier = exceeds ? QOS_TIER_EXCEEDS : QOS_TIER_WITHIN;

        if (c->flags & MEMAGENT_CAND_PROTECTED) {
                r->exclude = 1;
                snprintf(r->reason, sizeof(r->reason), "protected, never killed");
                return;
        }

        format_bytes_iec(c->working_set_bytes, ws, sizeof(ws));
        format_bytes_iec(c->request_bytes, req, sizeof(req));
        format_bytes_iec(over_bytes, over, sizeof(over));

        switch (c->qos) {
        case MEMAGENT_QOS_BESTEFFORT:
                snprintf(r->reason, sizeof(r->reason),
                         "%sbesteffort, working set %s, no request, priority %" PRId32, avoid, ws,
                         c->priority);
                break;
        case MEMAGENT_QOS_GUARANTEED:
                tier = QOS_TIER_GUARANTEED;
                if (over_bytes > 0)
                        snprintf(r->reason, sizeof(r->reason),
                                 "%sguaranteed, over request by %s (working set %s, request %s), "
                                 "priority %" PRId32,
                                 avoid, over, ws, req, c->priority);
                else
                        snprintf(r->reason, sizeof(r->reason),
                                 "%sguaranteed (working set %s, request %s), priority %" PRId32,
                                 avoid, ws, req, c->priority);
                break;
        case MEMAGENT_QOS_BURSTABLE:
        case MEMAGENT_QOS_NONE:
        default: {
                const char *cls =
                    c->qos == MEMAGENT_QOS_BURSTABLE ? "burstable" : "no qos class (as burstable)";
                if (c->request_bytes == 0) {
                        snprintf(r->reason, sizeof(r->reason),
                                 "%s%s, working set %s, no request, priority %" PRId32, avoid, cls,
                                 ws, c->priority);
                } else if (over_bytes > 0) {
                        snprintf(r->reason, sizeof(r->reason),
                                 "%s%s over request by %s (working set %s, request %s), "
                                 "priority %" PRId32,
                                 avoid, cls, over, ws, req, c->priority);
                } else {
                        snprintf(r->reason, sizeof(r->reason),
                                 "%s%s within request (working set %s, request %s), "
                                 "priority %" PRId32,
                                 avoid, cls, ws, req, c->priority);
                }
                break;
        }
        }

        if (c->flags & MEMAGENT_CAND_AVOID)
                tier = QOS_TIER_AVOID;

        r->keys[0] = (double)tier;
        r->keys[1] = -(double)c->priority;
        r->keys[2] = (double)c->working_set_bytes - (double)c->request_bytes;
}

static int qos_rank(void *state, const struct memagent_rank_context *ctx,
                    const struct memagent_candidate *cands, size_t n, struct memagent_rank *ranks)
{
        (void)state;
        (void)ctx;
        for (size_t i = 0; i < n; i++)
                qos_rank_one(&cands[i], &ranks[i]);
        return 0;
}

const struct memagent_policy policy_qos = {
        .abi_version = MEMAGENT_POLICY_ABI_VERSION,
        .struct_size = sizeof(struct memagent_policy),
        .name = "qos",
        .description = "the kubelet's memory-pressure order: over the request first (BestEffort, "
                       "Burstable over its request), then within it, Guaranteed, then \"avoid\"; "
                       "by priority, then usage over request",
        .rank = qos_rank,
};
