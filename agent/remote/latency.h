// SPDX-License-Identifier: Apache-2.0
// How long transfers to one donor take, for `memagent status` and /metrics: a log2 histogram of
// microseconds with the count of transfers and of failed ones. Log2 slots cost nothing to keep
// on the I/O path and still tell 0.3 ms from 40 ms, which is what a person comparing donors (or
// RDMA with TCP) needs; quantiles come out interpolated within a slot, so within a factor of two.
// Counted since the lease began (not decaying): the p99 of a donor that stalled once stays visible.
// Pure, no locks: the owner (the device's worker) adds, and hands copies to readers.
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Slot 0: under 2 usec; slot i (1..SLOTS-2): [2^i, 2^(i+1)) usec; the last slot: 2^(SLOTS-1)
 * usec (about 8.4 s) and above. */
#define REMOTE_LATENCY_SLOTS 24

struct remote_latency {
        uint64_t ops;    /* transfers, failed ones included */
        uint64_t errors; /* transfers that failed (the replica's link, the donor's refusal) */
        uint64_t sum_usec;
        uint64_t slots[REMOTE_LATENCY_SLOTS];
};

/* Counts one transfer that took usec; ok false for a failed one. */
void remote_latency_add(struct remote_latency *l, uint64_t usec, bool ok);
/* Adds every count of from into into. */
void remote_latency_merge(struct remote_latency *into, const struct remote_latency *from);
/* The q-quantile (0 < q <= 1) in usec, interpolated linearly within its slot; 0 when nothing
 * was counted. */
uint64_t remote_latency_quantile_usec(const struct remote_latency *l, double q);
/* The upper bound of slot i in usec (2^(i+1)); UINT64_MAX for the last slot. */
uint64_t remote_latency_slot_upper_usec(unsigned i);
