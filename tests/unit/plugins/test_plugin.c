// SPDX-License-Identifier: Apache-2.0
// Test plugins, one module per TEST_PLUGIN_* definition. The broken ones exist to be refused by
// the loader, each for one reason; "nasty" loads but misbehaves while ranking (ignores the
// protected flag, writes NaN keys and an unterminated reason); "rankfail" fails to rank.
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "plugins/memagent-plugin.h"

#define EXPORT MEMAGENT_POLICY_EXPORT

__attribute__((unused)) static int test_rank(void *state, const struct memagent_rank_context *ctx,
                                             const struct memagent_candidate *cands, size_t n,
                                             struct memagent_rank *ranks)
{
        (void)state;
        (void)ctx;
#if defined(TEST_PLUGIN_RANKFAIL)
        (void)cands;
        (void)n;
        (void)ranks;
        return -EIO;
#else
        for (size_t i = 0; i < n; i++) {
                ranks[i].keys[0] = cands[i].current_bytes ? (double)cands[i].current_bytes : NAN;
                memset(ranks[i].reason, 'x', sizeof(ranks[i].reason)); /* no NUL */
        }
        return 0;
#endif
}

#if defined(TEST_PLUGIN_BROKEN_NOSYM)
/* Almost the right symbol. */
EXPORT const struct memagent_policy memagent_policy_v1 = {
#else
EXPORT const struct memagent_policy memagent_policy = {
#endif
#if defined(TEST_PLUGIN_BROKEN_ABI)
        .abi_version = 999,
#else
        .abi_version = MEMAGENT_POLICY_ABI_VERSION,
#endif
#if defined(TEST_PLUGIN_BROKEN_SIZE)
        /* As if built against a header without the spare slots. */
        .struct_size = offsetof(struct memagent_policy, spare),
#else
        .struct_size = sizeof(struct memagent_policy),
#endif
#if defined(TEST_PLUGIN_BROKEN_NONAME)
        .name = NULL,
#elif defined(TEST_PLUGIN_RANKFAIL)
        .name = "rankfail",
#elif defined(TEST_PLUGIN_NASTY)
.name = "nasty",
#else
.name = "broken",
#endif
        .description = "a test plugin",
#if !defined(TEST_PLUGIN_BROKEN_NORANK)
        .rank = test_rank,
#endif
};
