// SPDX-License-Identifier: Apache-2.0
// The built-in "qos" policy: the kubelet's eviction order, through the plugin ABI.
//
// keys[0] is a tier, killed from the highest:
//   4  BestEffort
//   3  Burstable using more than its request (a request of 0 is unknown and counts as exceeded,
//      as the kubelet compares usage with a zero request)
//   2  the other Burstable (working set at or below the request)
//   1  Guaranteed
//   0  anything marked "avoid", whatever its class
// A workload without a QoS class (MEMAGENT_QOS_NONE, or a value this build does not know) ranks
// as Burstable. keys[1] is -priority, so the least important goes first; keys[2] is the usage
// over the request (working set - request, at least 0; the whole working set for BestEffort),
// so the one furthest over its request goes first. Protected candidates are excluded.
#include <inttypes.h>
#include <stdio.h>

#include "common/quantity.h"
#include "plugins/policy.h"

enum qos_tier {
        QOS_TIER_AVOID = 0,
        QOS_TIER_GUARANTEED = 1,
        QOS_TIER_BURSTABLE_WITHIN = 2,
        QOS_TIER_BURSTABLE_OVER = 3,
        QOS_TIER_BESTEFFORT = 4,
};

static void qos_rank_one(const struct memagent_candidate *c, struct memagent_rank *r)
{
        char ws[FORMAT_BYTES_MAX], req[FORMAT_BYTES_MAX], over[FORMAT_BYTES_MAX];
        const char *avoid = (c->flags & MEMAGENT_CAND_AVOID) ? "avoid (ranked last), " : "";
        uint64_t over_bytes =
            c->working_set_bytes > c->request_bytes ? c->working_set_bytes - c->request_bytes : 0;
        enum qos_tier tier;

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
                tier = QOS_TIER_BESTEFFORT;
                over_bytes = c->working_set_bytes;
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
                        tier = QOS_TIER_BURSTABLE_OVER;
                        snprintf(r->reason, sizeof(r->reason),
                                 "%s%s, working set %s, no request, priority %" PRId32, avoid, cls,
                                 ws, c->priority);
                } else if (over_bytes > 0) {
                        tier = QOS_TIER_BURSTABLE_OVER;
                        snprintf(r->reason, sizeof(r->reason),
                                 "%s%s over request by %s (working set %s, request %s), "
                                 "priority %" PRId32,
                                 avoid, cls, over, ws, req, c->priority);
                } else {
                        tier = QOS_TIER_BURSTABLE_WITHIN;
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
        r->keys[2] = (double)over_bytes;
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
        .description = "Kubernetes QoS order: BestEffort, Burstable over its request, other "
                       "Burstable, Guaranteed, then \"avoid\"; by priority and usage over request",
        .rank = qos_rank,
};
