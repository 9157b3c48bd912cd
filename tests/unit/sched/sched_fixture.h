// SPDX-License-Identifier: Apache-2.0
// Builds clusters in memory for the scheduler tests.
#pragma once

#include "scheduler/model.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

struct fx_pod {
        const char *uid;
        enum qos_class qos;
        uint64_t working_set_bytes;
        uint64_t request_bytes;
        int32_t priority;
        bool protected_;
        const char *owner_uid;       /* NULL: none */
        double refault_file_per_sec; /* 0: not sent */
};

struct fx_node {
        const char *name;
        uint64_t total_bytes, available_bytes;
        size_t n_zones;
        uint64_t zone_free_bytes[4]; /* zone total is total_bytes / n_zones */
        enum pressure_level pressure;
        uint64_t pressure_duration_ms;
        bool relief_exhausted;
        uint64_t age_usec; /* report received this long before FX_NOW */
        const struct fx_pod *pods;
        size_t n_pods;
};

#define FX_NOW (100000ULL * 1000000)

/* Adds/replaces a node in b. */
void fx_put(struct snapshot_builder *b, const struct fx_node *n);
/* Builds a snapshot of the nodes (and plans, may be NULL). */
struct sched_snapshot *fx_snapshot(const struct fx_node *nodes, size_t n,
                                   const struct migration *plans, size_t n_plans);
