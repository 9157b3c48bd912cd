// SPDX-License-Identifier: Apache-2.0
// memagent-policy-largest.so, policy "largest": the systemd-oomd pick, as a plugin. It is built
// against plugins/memagent-plugin.h alone (plus the byte formatter) to prove the ABI.
//
//   "largest" or "largest:size"  keys[0] = current_bytes: the biggest goes first
//   "largest:growth"             keys[0] = growth_bytes_per_sec, keys[1] = current_bytes: the
//                                fastest-growing goes first, the biggest among equals
// Protected candidates are excluded.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
#include "plugins/memagent-plugin.h"

enum largest_mode {
        LARGEST_BY_SIZE,
        LARGEST_BY_GROWTH,
};

struct largest_state {
        enum largest_mode mode;
};

static int largest_init(void **state, const char *args)
{
        enum largest_mode mode;

        if (!args || !*args || strcmp(args, "size") == 0)
                mode = LARGEST_BY_SIZE;
        else if (strcmp(args, "growth") == 0)
                mode = LARGEST_BY_GROWTH;
        else
                return -EINVAL; /* the loader names us and the arguments */

        struct largest_state *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->mode = mode;
        *state = s;
        return 0;
}

static void largest_fini(void *state)
{
        free(state);
}

static int largest_rank(void *state, const struct memagent_rank_context *ctx,
                        const struct memagent_candidate *cands, size_t n,
                        struct memagent_rank *ranks)
{
        const struct largest_state *s = state;
        (void)ctx;

        for (size_t i = 0; i < n; i++) {
                const struct memagent_candidate *c = &cands[i];
                struct memagent_rank *r = &ranks[i];
                char cur[FORMAT_BYTES_MAX], rate[FORMAT_BYTES_MAX];

                if (c->flags & MEMAGENT_CAND_PROTECTED) {
                        r->exclude = 1;
                        snprintf(r->reason, sizeof(r->reason), "protected, never killed");
                        continue;
                }
                format_bytes_iec(c->current_bytes, cur, sizeof(cur));
                if (!s || s->mode == LARGEST_BY_SIZE) {
                        r->keys[0] = (double)c->current_bytes;
                        snprintf(r->reason, sizeof(r->reason), "current usage %s", cur);
                        continue;
                }

                int64_t g = c->growth_bytes_per_sec;
                uint64_t abs_g = g < 0 ? (uint64_t)(-(g + 1)) + 1 : (uint64_t)g;
                format_bytes_iec(abs_g, rate, sizeof(rate));
                r->keys[0] = (double)g;
                r->keys[1] = (double)c->current_bytes;
                if (g == 0)
                        snprintf(r->reason, sizeof(r->reason), "not growing, current usage %s",
                                 cur);
                else
                        snprintf(r->reason, sizeof(r->reason), "%s %s/s, current usage %s",
                                 g > 0 ? "growing" : "shrinking", rate, cur);
        }
        return 0;
}

MEMAGENT_POLICY_EXPORT const struct memagent_policy memagent_policy = {
        .abi_version = MEMAGENT_POLICY_ABI_VERSION,
        .struct_size = sizeof(struct memagent_policy),
        .name = "largest",
        .description = "systemd-oomd style: the largest (\"size\", default) or the fastest-growing "
                       "(\"growth\") candidate first",
        .init = largest_init,
        .rank = largest_rank,
        .fini = largest_fini,
};
