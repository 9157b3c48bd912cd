// SPDX-License-Identifier: Apache-2.0
#include "agent/remote/latency.h"

static unsigned slot_of(uint64_t usec)
{
        unsigned i = 0;
        while (i + 1 < REMOTE_LATENCY_SLOTS && usec >= (2ull << i))
                i++;
        return i;
}

void remote_latency_add(struct remote_latency *l, uint64_t usec, bool ok)
{
        l->ops++;
        l->errors += !ok;
        l->sum_usec += usec;
        l->slots[slot_of(usec)]++;
}

void remote_latency_merge(struct remote_latency *into, const struct remote_latency *from)
{
        into->ops += from->ops;
        into->errors += from->errors;
        into->sum_usec += from->sum_usec;
        for (unsigned i = 0; i < REMOTE_LATENCY_SLOTS; i++)
                into->slots[i] += from->slots[i];
}

uint64_t remote_latency_slot_upper_usec(unsigned i)
{
        return i + 1 >= REMOTE_LATENCY_SLOTS ? UINT64_MAX : 2ull << i;
}

uint64_t remote_latency_quantile_usec(const struct remote_latency *l, double q)
{
        uint64_t total = 0;
        for (unsigned i = 0; i < REMOTE_LATENCY_SLOTS; i++)
                total += l->slots[i];
        if (total == 0)
                return 0;
        if (q > 1.0)
                q = 1.0;
        double rank = q * (double)total, seen = 0;
        for (unsigned i = 0; i < REMOTE_LATENCY_SLOTS; i++) {
                if (l->slots[i] == 0 || seen + (double)l->slots[i] < rank) {
                        seen += (double)l->slots[i];
                        continue;
                }
                /* The last slot has no upper bound: answer its lower one. */
                double lo = i == 0 ? 0 : (double)(1ull << i);
                if (i + 1 >= REMOTE_LATENCY_SLOTS)
                        return (uint64_t)lo;
                double hi = (double)(2ull << i);
                double frac = (rank - seen) / (double)l->slots[i];
                return (uint64_t)(lo + (hi - lo) * frac + 0.5);
        }
        return 0; /* not reached: rank <= total */
}
